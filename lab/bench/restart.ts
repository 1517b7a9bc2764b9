// Restart figures (issue 11, "stop and restart without harm"), measured in the
// namespace lab:
//  - syn-gap: from the signal to xlnetd (SIGTERM: it removes them itself;
//    SIGKILL: the keeper does) until no vif chain diverts SYNs any more,
//    polled every 2 ms in Dom0's ruleset;
//  - restart: from SIGTERM until the next xlnetd has taken the flows over
//    (held flows are not relayed meanwhile: the kernel buffers them);
//  - kill loss: xlnetd SIGKILLed at a random moment of LAN-speed transfers
//    (the relay busiest: the chance of a kill between a read and its write
//    highest), restarted; flows adopted vs. reset (a hole), transfers intact.
//
//   node --import tsx lab/bench/restart.ts [--runs 5] [--engine user|kernel] [--prefix hr2]
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, NET, REPO } from '../lab.js';
import { run, sleep, waitFor } from '../exec.js';
import { call } from '../../plugin/src/daemon/client.js';
import type { FlowInfo } from '../../plugin/src/daemon/protocol.js';

const a = parseArgs({ options: { runs: { type: 'string' }, engine: { type: 'string' }, prefix: { type: 'string' } } }).values;
const RUNS = Number(a.runs ?? '5');
if (a.engine) process.env.XLNET_TEST_ENGINE = a.engine;
const CONF = '[daemon]\nlog_level = info\n';

const median = (xs: number[]) => { const s = [...xs].sort((x, y) => x - y); return s.length ? s[Math.floor(s.length / 2)]! : NaN; };
const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} min ${Math.min(...xs).toFixed(1)} max ${Math.max(...xs).toFixed(1)} (n=${xs.length})`;

async function synRules(lab: Lab): Promise<boolean> {
  const r = await run(['nft', 'list', 'ruleset'], { ns: lab.ns.dom0, allowFail: true });
  return /tcp flags/.test(r.stdout);
}

async function main(): Promise<void> {
  const lab = await Lab.up({ prefix: a.prefix ?? 'hr2', link: 'lan' });
  const stop = async () => { await lab.down().catch(() => undefined); };
  process.on('SIGINT', () => { stop().finally(() => process.exit(130)); });
  try {
    await lab.addGuest({ domid: 1 });
    await lab.startRemoteServer();
    await lab.serve('stall', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-stall', '7010'], 7010);
    let socket = (await lab.startDaemon(CONF)).socket;
    await call({ op: 'attach', vif: 'vif1.0' }, { socket });
    const gaps: Record<string, number[]> = { SIGTERM: [], SIGKILL: [] };
    const restarts: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
        // A stalled flow open, so the keeper keeps the steering.
        const stalled = lab.probe(lab.guest(1).ns, ['push', NET.remote4, '7010', '8'], 30_000).catch(() => undefined);
        await waitFor('the stalled flow', async () => (await call<FlowInfo[]>({ op: 'flows' }, { socket })).length > 0, 10_000, 50);
        const pid = Number(readFileSync(join(lab.dir, 'pids', 'xlnetd.pid'), 'utf8'));
        const t0 = performance.now();
        process.kill(pid, sig);
        while (await synRules(lab)) await sleep(2);
        gaps[sig]!.push(performance.now() - t0);
        await lab.stopDaemon('SIGTERM');
        const t1 = performance.now();
        socket = (await lab.startDaemon(CONF)).socket;
        if (sig === 'SIGTERM') restarts.push(performance.now() - t1);
        await stalled;
      }
    }
    console.log(`SYN rules gone after SIGTERM: ms ${fmt(gaps.SIGTERM!)}`);
    console.log(`SYN rules gone after SIGKILL (keeper): ms ${fmt(gaps.SIGKILL!)}`);
    console.log(`start of the next xlnetd until it took the flows over: ms ${fmt(restarts)}`);

    // Kill loss at LAN speed.
    let adopted = 0, reset = 0, okTransfers = 0, badTransfers = 0;
    for (let i = 0; i < RUNS; i++) {
      const t = lab.transfer(1, { dir: i % 2 ? 'down' : 'up', size: '300m', count: 8, parallel: 8, timeoutSec: 120 });
      await sleep(1000 + Math.random() * 2000);
      const from = readFileSync(join(lab.dir, 'logs', 'xlnetd.log'), 'utf8').length;
      await lab.stopDaemon('SIGKILL');
      socket = (await lab.startDaemon(CONF)).socket;
      const log = readFileSync(join(lab.dir, 'logs', 'xlnetd.log'), 'utf8').slice(from);
      const m = /adopted (\d+) flow\(s\) from the previous xlnetd(?:, reset (\d+))?/.exec(log);
      adopted += Number(m?.[1] ?? 0);
      reset += Number(m?.[2] ?? 0);
      for (const line of log.split('\n').filter((l) => l.includes('not taken over'))) console.log(`  ${line.slice(0, 300)}`);
      const r = await t.catch(() => undefined);
      for (const x of r?.transfers ?? []) { if (x.ok && x.sha256_sender === x.sha256_receiver) okTransfers++; else badTransfers++; }
    }
    console.log(`SIGKILL during 8 LAN-speed transfers, ${RUNS} times: flows adopted ${adopted}, reset ${reset}; transfers intact ${okTransfers}, failed ${badTransfers}`);
  } finally {
    await stop();
  }
}

main().catch((e) => { console.error(e); process.exitCode = 1; });
