// Where xlnetd's time goes per new connection: runs N empty uploads through a
// lan lab with xlnetd under `node --cpu-prof`, then prints the functions with
// the most self time (and their files). A tool for work on connection setup.
//
//   node --import tsx lab/repro/conn-profile.ts [--count 3000] [--parallel 16] [--engine user]
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Lab } from '../lab.js';
import { call } from '../../plugin/src/daemon/client.js';

const { values: a } = parseArgs({ options: {
  count: { type: 'string', default: '3000' }, parallel: { type: 'string', default: '16' },
  engine: { type: 'string', default: 'user' }, prefix: { type: 'string', default: 'xcp' }, top: { type: 'string', default: '30' },
} });
const dir = `/tmp/xlnet-conn-profile-${a.prefix}`;
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

const lab = await Lab.up({ prefix: a.prefix!, link: 'lan' });
try {
  await lab.addGuest({ domid: 1, profile: 'modern' });
  await lab.startRemoteServer();
  process.env.NODE_OPTIONS = `--import ${join(import.meta.dirname, 'cpu-prof-preload.mjs')}`;
  process.env.XLNET_CPU_PROF_DIR = dir;
  const d = await lab.startDaemon(`[profile default]\nengine = ${a.engine}\n`);
  delete process.env.NODE_OPTIONS;
  await call({ op: 'attach', vif: 'vif1.0' }, { socket: d.socket });
  const cpu = () => { const f = readFileSync(`/proc/${d.pid}/stat`, 'utf8'); const x = f.slice(f.lastIndexOf(')') + 2).split(' '); return (Number(x[11]) + Number(x[12])) / 100; };
  const c0 = cpu();
  const t0 = Date.now();
  const r = await lab.transfer(1, { dir: 'up', size: 0, count: Number(a.count), parallel: Number(a.parallel), timeoutSec: 300 });
  const ms = Date.now() - t0;
  const ok = r.transfers.filter((t) => t.ok).length;
  const c1 = cpu();
  console.log(`${ok}/${r.transfers.length} ok, ${((r.transfers.length * 1000) / ms).toFixed(0)} conn/s (wall, incl. xfer start), xlnetd CPU ${(((c1 - c0) * 1000) / r.transfers.length).toFixed(3)} ms per connection`);
  process.kill(d.pid, 'SIGUSR2');
  for (let i = 0; i < 50 && !readdirSync(dir).some((f) => f.endsWith('.cpuprofile')); i++) await new Promise((r) => setTimeout(r, 100));
  await lab.stopDaemon();
} finally {
  await lab.down();
}

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
for (const f of files) {
  const p = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number };
  const total = p.samples.length;
  const self = new Map<string, number>();
  for (const n of p.nodes) {
    const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.replace(/^file:\/\/.*\/(plugin|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;
    self.set(k, (self.get(k) ?? 0) + (n.hitCount ?? 0));
  }
  console.log(`${f}: ${total} samples over ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s`);
  for (const [k, v] of [...self].sort((x, y) => y[1] - x[1]).slice(0, Number(a.top))) {
    console.log(`${((100 * v) / total).toFixed(1).padStart(5)} %  ${k}`);
  }
}
