#!/usr/bin/env node
// xlnet-keeper: holds xlnetd's sockets and steering across its restarts (keeper.ts).
//   xlnet-keeper --socket PATH [--grace SECONDS] [--cgroup PATH]
// xlnetd starts it when none answers on its socket. It moves itself out of
// xlnetd's cgroup (the datapath's cgroup must hold xlnetd alone, and a service
// manager stopping xlnetd's cgroup must not take the keeper with it).
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { Keeper } from './keeper.js';
import { enterCgroup } from '../datapath/cgroup.js';
import { daemonCgroupRoot, ownCgroupName } from '../datapath/daemon-cgroup.js';

const USAGE = 'usage: xlnet-keeper --socket PATH [--grace SECONDS] [--cgroup own|none|PATH]\n';

async function main(): Promise<number> {
  let a;
  try {
    a = parseArgs({ options: { socket: { type: 'string' }, grace: { type: 'string' }, cgroup: { type: 'string' } }, strict: true }).values;
  } catch (e) {
    process.stderr.write(`xlnet-keeper: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!a.socket) { process.stderr.write(`xlnet-keeper: --socket is required\n${USAGE}`); return 2; }
  const grace = Number(a.grace ?? '60');
  if (!(grace > 0)) { process.stderr.write(`xlnet-keeper: --grace '${a.grace}' is not a positive number of seconds\n`); return 2; }
  const cg = a.cgroup ?? 'own';
  if (cg !== 'none') {
    try {
      const root = daemonCgroupRoot();
      enterCgroup(join(root, cg === 'own' ? join('xlnet.slice', ownCgroupName().replace('xlnetd', 'xlnet-keeper')) : cg));
    } catch (e) {
      process.stderr.write(`xlnet-keeper: staying in its cgroup: ${(e as Error).message}\n`);
    }
  }
  const k = new Keeper({ socket: a.socket, graceMs: grace * 1000 });
  await k.listen();
  process.on('SIGTERM', () => { k.giveUp('SIGTERM').catch(() => undefined); });
  process.on('SIGINT', () => { k.giveUp('SIGINT').catch(() => undefined); });
  await k.finished;
  // The last answer (to 'bye') is flushed by now; do not wait for the client to hang up.
  setTimeout(() => process.exit(0), 100).unref();
  return 0;
}

main().then((code) => { process.exitCode = code; }, (e) => {
  process.stderr.write(`xlnet-keeper: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
