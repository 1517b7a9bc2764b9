// Stop and restart without harm (issue 11): xlnetd stopped or restarted in the
// middle of split transfers, for an upgrade (SIGTERM) or by a crash (SIGKILL),
// loses no byte it acknowledged to a guest and resets nothing; while it stops
// with a stalled flow open, a guest's new connection goes direct at once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, NET, REPO } from '../lab.js';
import { allOk, controller, TEST_ENGINE } from './support.js';
import type { FlowInfo, StatusInfo } from '../../plugin/src/daemon/protocol.js';
import { run, sleep, waitFor } from '../exec.js';

// hr: user engine, hr3: kernel engine (restart-kernel.test.ts)
const PREFIX = TEST_ENGINE === 'kernel' ? 'hr3' : 'hr';
const CONF = '[daemon]\nlog_level = debug\n';
let lab: Lab;
let socket = '';
const ctl = controller(() => socket);
const status = () => ctl<StatusInfo>({ op: 'status' });
const log = () => readFileSync(join(lab.dir, 'logs', 'xlnetd.log'), 'utf8');

test.before(async () => {
  try {
    // geo: 10 Mbit/s up, 50 down, 650 ms RTT. Dom0 acknowledges the guest's
    // data at LAN speed and holds up to a buffer of it: a restart a few
    // seconds in finds acknowledged bytes in Dom0 in both directions.
    lab = await Lab.up({ prefix: PREFIX, link: 'geo' });
    await lab.addGuest({ domid: 1, profile: 'modern' });
    await lab.addGuest({ domid: 2, profile: 'legacy' });
    await lab.startRemoteServer();
    await lab.serve('echo', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', '7007'], 7007);
    await lab.serve('stall', lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-stall', '7010'], 7010);
    socket = (await lab.startDaemon(CONF)).socket;
    for (const vif of ['vif1.0', 'vif2.0']) await ctl({ op: 'attach', vif });
  } catch (e) { console.error('setup failed:', e); throw e; }
});

test.after(async () => {
  // XLNET_KEEP_LOG=FILE keeps the daemon's log (the lab's directory goes with it).
  if (process.env.XLNET_KEEP_LOG && lab) { try { writeFileSync(process.env.XLNET_KEEP_LOG, log()); } catch { /* no log */ } }
  await lab?.down();
});

/** Starts xlnetd unless one answers (a failed test may have left none). */
async function ensureDaemon(): Promise<void> {
  if (await status().then(() => true, () => false)) return;
  socket = (await lab.startDaemon(CONF)).socket;
}

/** Waits until xlnetd relays `n` flows that moved bytes (the transfers are under way). */
async function flowsMoving(n: number): Promise<void> {
  await waitFor(`${n} split flows moving bytes`, async () => {
    const f = await ctl<FlowInfo[]>({ op: 'flows' });
    return f.filter((x) => x.bytesUp + x.bytesDown > 200_000).length >= n;
  }, 20_000, 200);
}

/** Uploads and downloads, v4 and v6, from a modern and a legacy guest, with a restart in the middle. */
async function restartDuring(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  await ensureDaemon();
  const transfers = Promise.allSettled([
    lab.transfer(1, { dir: 'up', size: '6m', timeoutSec: 90 }),
    lab.transfer(1, { dir: 'down', size: '20m', ipv6: true, timeoutSec: 90 }),
    lab.transfer(2, { dir: 'up', size: '4m', ipv6: true, timeoutSec: 90 }),
    lab.transfer(2, { dir: 'down', size: '12m', timeoutSec: 90 }),
  ]);
  let stopped = '';
  try {
    await flowsMoving(4);
    await lab.stopDaemon(signal);
    stopped = log();
    await sleep(500); // the guests keep sending meanwhile
  } finally {
    socket = (await lab.startDaemon(CONF)).socket;
  }
  if (signal === 'SIGTERM') assert.match(stopped, 'xlnetd stopped', 'xlnetd stopped by itself within the grace time');
  // Byte-exact at the receiver, and no reset: every transfer ok.
  for (const r of await transfers) {
    if (r.status === 'rejected') assert.unreachable(`a transfer gave no report: ${(r.reason as Error).message}`);
    else allOk(r.value);
  }
  assert.match(log(), /adopted \d+ flow/, 'the new xlnetd took the running flows over');
}

test('restart for an upgrade (SIGTERM) in the middle of transfers: byte-exact, no reset', async () => {
  await restartDuring('SIGTERM');
});

test('xlnetd killed (SIGKILL) in the middle of transfers and restarted: byte-exact, no reset', async () => {
  await restartDuring('SIGKILL');
});

test('the new xlnetd splits new connections after a restart', async () => {
  await ensureDaemon();
  const before = (await status()).flowsTotal;
  allOk(await lab.transfer(1, { dir: 'up', size: '200k' }));
  assert.is((await status()).flowsTotal - before, 1);
});

test('stopping with a stalled flow open: a guest\'s new connection goes direct at once', async () => {
  await ensureDaemon();
  const stalled = lab.probe(lab.guest(1).ns, ['push', NET.remote4, '7010', '12'], 30_000)
    .catch((e: Error) => ({ error: e.message }));
  await waitFor('the stalled upload to be split', async () =>
    (await ctl<FlowInfo[]>({ op: 'flows' })).some((f) => f.remote === `${NET.remote4}:7010` && f.bytesUp > 0), 10_000, 100);
  await sleep(1000); // its buffers fill: the remote reads nothing
  const pid = Number(readFileSync(join(lab.dir, 'pids', 'xlnetd.pid'), 'utf8'));
  process.kill(pid, 'SIGTERM');
  // No waiting for xlnetd: the connection is made while it stops.
  const fresh = await lab.probe(lab.guest(1).ns, ['connect', NET.remote4, '7007', 'direct']);
  assert.is(fresh.error, null, `the new connection failed while xlnetd stopped: ${JSON.stringify(fresh)}`);
  assert.is(fresh.received, 'direct');
  await lab.stopDaemon('SIGTERM');
  assert.match(log(), 'xlnetd stopped');
  socket = (await lab.startDaemon(CONF)).socket;
  const s = await stalled;
  assert.is(s.error, null, 'the stalled flow was kept across the restart (no reset)');
});

test('fail-open: xlnetd killed and not restarted, guests\' new connections go direct', async () => {
  await ensureDaemon();
  await lab.stopDaemon('SIGKILL');
  await sleep(200);
  const r = await lab.probe(lab.guest(2).ns, ['connect', NET.remote4, '7007', 'alone']);
  assert.is(r.error, null);
  assert.is(r.received, 'alone');
  allOk(await lab.transfer(2, { dir: 'up', size: '300k' }));
  // Kept flows keep their steering; no new connection is diverted.
  const rules = await run(['nft', 'list', 'ruleset'], { ns: lab.ns.dom0 });
  assert.not.match(rules.stdout, /tcp flags syn \/ syn,ack/, 'no SYN rule is left'); // (the SYN-ACK ownership rules of the base chains may stay)
  socket = (await lab.startDaemon(CONF)).socket;
});

test.run();
