// Repeats the local-ack suite's half-close case (guest sends 200 KB to an echo
// server, shuts its write side, must get all 200 KB back) through one engine.
//   node --import tsx lab/repro/halfclose-loop.ts [--runs 100] [--engine kernel]
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Lab, NET, REPO } from '../lab.js';
import { call } from '../../plugin/src/daemon/client.js';
import { run } from '../exec.js';

const { values: a } = parseArgs({ options: { runs: { type: 'string', default: '100' }, engine: { type: 'string', default: 'kernel' }, size: { type: 'string', default: '200000' } } });
const lab = await Lab.up({ prefix: 'xhc', link: 'lan' });
try {
  await lab.addGuest({ domid: 1, profile: 'modern' });
  await lab.serve('echo', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', '7007'], 7007);
  const d = await lab.startDaemon(`[daemon]\nlog_level = debug\n[profile default]\nengine = ${a.engine}\n`);
  await call({ op: 'attach', vif: 'vif1.0' }, { socket: d.socket });
  let bad = 0;
  const failedIds: number[] = [];
  for (let i = 0; i < Number(a.runs); i++) {
    const r = await lab.probe(lab.guest(1).ns, ['connect', NET.remote4, '7007', `@${a.size}`]);
    const got = typeof r.received === 'string' ? r.received.length : -1;
    if (r.error !== null || got !== Number(a.size)) {
      bad++;
      failedIds.push(i + 1);
      const flows = await call({ op: 'flows' }, { socket: d.socket });
      console.log('  flows:', JSON.stringify(flows).slice(0, 1500));
      const ss = await run(['ss', '-tnmie', 'dport = :7007 or sport = :7007'], { ns: lab.ns.dom0 });
      console.log('  dom0 ss:', ss.stdout.replace(/\s+/g, ' ').slice(0, 2500));
      const gs = await run(['ss', '-tnmi', 'dport = :7007'], { ns: lab.guest(1).ns });
      console.log('  guest ss:', gs.stdout.replace(/\s+/g, ' ').slice(0, 1200));
      console.log(`run ${i}: error=${String(r.error)} received=${got}`, JSON.stringify(r).slice(0, 300));
    }
  }
  console.log(`${bad} of ${a.runs} failed`);
  const log = readFileSync(d.logPath, 'utf8').split('\n');
  for (const id of failedIds) console.log(log.filter((l) => l.includes(`flow ${id}:`) || l.includes(`flow ${id} `)).join('\n'));
} finally { await lab.down(); }
