// Reproduces the kernel relay engine's corruption of large downloads and keeps
// what is needed to diagnose it: xfer's dump of the bad bytes (lab/repro/locate
// tells where they came from) and the kernel engine's statistics per flow.
//
//   node --import tsx lab/repro/kernel-download.ts [--runs 4] [--size 500m] [--dir down] [--engine kernel]
//
// Not a test: a tool for working on datapath/relay.bpf.c and kernel-relay.ts.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Lab, REPO } from '../lab.js';
import { call } from '../../plugin/src/daemon/client.js';

const { values: a } = parseArgs({ options: {
  runs: { type: 'string', default: '4' }, size: { type: 'string', default: '500m' },
  dir: { type: 'string', default: 'down' }, engine: { type: 'string', default: 'kernel' },
  prefix: { type: 'string', default: 'xkr' }, profile: { type: 'string', default: 'modern' },
  extra: { type: 'string', default: '' },
  ackloss: { type: 'boolean', default: false },
  dataloss: { type: 'string', default: '0' },
} });
const out = join('/tmp', `xlnet-repro-${a.prefix}`);
mkdirSync(out, { recursive: true });
process.env.XFER_DUMP_BAD = join(out, 'bad');
execFileSync('make', ['-s', '-C', join(REPO, 'lab/repro')], { stdio: 'inherit' });

/** Drops Dom0's pure ACKs towards the remote in the gateway, 150 ms of every 600: the
 * remote's retransmission timer fires and it sends again what Dom0 already has. */
function ackLoss(ns: string): () => void {
  const nft = (cmd: string) => { try { execFileSync('ip', ['netns', 'exec', ns, 'nft', cmd]); } catch { /* ignore */ } };
  nft('add table inet xrepro; add chain inet xrepro f { type filter hook forward priority 0; }');
  let on = false;
  const t = setInterval(() => {
    on = !on;
    nft(on ? 'add rule inet xrepro f tcp sport != 5001 tcp dport 5001 meta length < 120 drop' : 'flush chain inet xrepro f');
  }, 300);
  return () => { clearInterval(t); nft('delete table inet xrepro'); };
}

/** Drops this many per mille of the remote's data packets in the gateway. */
function dataLoss(ns: string, permille: number): () => void {
  const nft = (cmd: string) => execFileSync('ip', ['netns', 'exec', ns, 'nft', cmd]);
  nft(`add table inet xrepro; add chain inet xrepro f { type filter hook forward priority 0; }; add rule inet xrepro f tcp sport 5001 meta length > 200 numgen random mod 1000 < ${permille} drop`);
  return () => { try { nft('delete table inet xrepro'); } catch { /* gone */ } };
}

const lab = await Lab.up({ prefix: a.prefix!, link: 'lan' });
try {
  await lab.addGuest({ domid: 1, profile: a.profile as 'modern' | 'legacy' });
  await lab.startRemoteServer();
  const d = await lab.startDaemon(`[daemon]\nlog_level = debug\n[profile k]\nengine = ${a.engine}\n${a.extra.replace(/;/g, '\n')}\n[defaults]\nprofile = k\n`);
  await call({ op: 'attach', vif: 'vif1.0' }, { socket: d.socket });
  let bad = 0;
  const nstat = () => {
    const o = execFileSync('ip', ['netns', 'exec', lab.ns.dom0, 'nstat', '-a', '-z', '-j'], { encoding: 'utf8' });
    const j = JSON.parse(o) as { kernel: Record<string, number> };
    return j.kernel;
  };
  const WATCH = ['TcpRetransSegs', 'TcpExtTCPDSACKOldSent', 'TcpExtTCPDSACKOfoSent', 'TcpExtTCPOFOQueue', 'TcpExtTCPOFOMerge', 'TcpExtTCPRcvCoalesce', 'TcpExtTCPBacklogDrop', 'TcpExtTCPRcvQDrop', 'TcpExtTCPZeroWindowDrop', 'IpExtInNoECTPkts'];
  for (let i = 0; i < Number(a.runs); i++) {
    const n0 = nstat();
    const stop = a.ackloss ? ackLoss(lab.ns.gw) : Number(a.dataloss) > 0 ? dataLoss(lab.ns.gw, Number(a.dataloss)) : undefined;
    const r = await lab.transfer(1, { dir: a.dir as 'up' | 'down', size: a.size!, timeoutSec: 300 }).finally(() => stop?.());
    const t = r.transfers[0]! as unknown as Record<string, unknown>;
    if (!t.ok || t.sha256_sender !== t.sha256_receiver) bad++;
    const n1 = nstat();
    console.log('  ' + WATCH.map((k) => `${k.replace(/^TcpExt|^Tcp/, '')}=${(n1[k] ?? 0) - (n0[k] ?? 0)}`).join(' '));
    console.log(`run ${i + 1}: ok=${t.ok} goodput=${t.goodput_mbps} first_bad=${t.first_bad_offset ?? '-'} ${t.error ?? ''}`);
  }
  const log = readFileSync(d.logPath, 'utf8').split('\n').filter((l) => /kernel|relay|engine/i.test(l)).slice(-12);
  console.log(log.join('\n'));
  console.log(`${bad} of ${a.runs} corrupted; dumps in ${out}:`, readdirSync(out).join(' '));
} finally {
  await lab.down();
}
