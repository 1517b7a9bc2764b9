#!/usr/bin/env node
// xlnetd: the xlnet daemon. Usage:
//   xlnetd [--config /etc/xen/xlnet.conf] [--socket PATH] [--state-dir DIR] [--log-level LEVEL]
import { parseArgs } from 'node:util';
import { Daemon, VERSION } from './daemon.js';
import { Logger, type Level } from './log.js';

const USAGE = `usage: xlnetd [--config FILE] [--socket PATH] [--state-dir DIR] [--cgroup own|current|none|PATH] [--log-level error|warn|info|debug]
  --config FILE     xlnet.conf (default $XLNET_CONF or /etc/xen/xlnet.conf)
  --socket PATH     control socket (default from the config: /run/xlnet/xlnetd.sock)
  --state-dir DIR   where attachments are remembered across restarts (default /run/xlnet)
  --cgroup WHERE    where the BPF datapath attaches: own (a cgroup of its own, default),
                    current (the cgroup xlnetd runs in, e.g. its systemd unit's), none, or a
                    path below the cgroup v2 root (default $XLNET_CGROUP or own)
`;

async function main(): Promise<number> {
  let args;
  try {
    args = parseArgs({
      options: {
        config: { type: 'string' }, socket: { type: 'string' }, 'state-dir': { type: 'string' },
        'log-level': { type: 'string' }, cgroup: { type: 'string' }, help: { type: 'boolean' }, version: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (e) {
    process.stderr.write(`xlnetd: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) { process.stdout.write(USAGE); return 0; }
  if (args.version) { process.stdout.write(`xlnetd ${VERSION}\n`); return 0; }
  if (process.getuid?.() !== 0) {
    process.stderr.write('xlnetd: must run as root (it installs nftables rules and opens transparent sockets)\n');
    return 1;
  }
  const level = args['log-level'];
  if (level && !['error', 'warn', 'info', 'debug'].includes(level)) {
    process.stderr.write(`xlnetd: --log-level '${level}' is not one of error, warn, info, debug\n`);
    return 2;
  }
  let daemon: Daemon;
  try {
    daemon = new Daemon({
      configFile: args.config ?? process.env.XLNET_CONF ?? '/etc/xen/xlnet.conf',
      socket: args.socket, stateDir: args['state-dir'], cgroup: args.cgroup,
      logger: level ? new Logger(level as Level) : undefined,
    });
  } catch (e) {
    process.stderr.write(`xlnetd: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    await daemon.start();
  } catch (e) {
    process.stderr.write(`xlnetd: cannot start: ${(e as Error).message}\n`);
    await daemon.stop().catch(() => undefined);
    return 1;
  }
  await new Promise<void>((resolve) => {
    const bye = (sig: string) => { daemon.log.info(`${sig}: stopping`); daemon.stop().finally(resolve); };
    process.once('SIGTERM', () => bye('SIGTERM'));
    process.once('SIGINT', () => bye('SIGINT'));
    process.on('SIGHUP', () => {
      try { daemon.reload(); } catch (e) { daemon.log.error(`reload failed, keeping the old configuration: ${(e as Error).message}`); }
    });
  });
  return 0;
}

// Exit explicitly: the sockets handed over to the keeper stay open in this process until it ends.
main().then((code) => { process.exit(code); }, (e) => {
  process.stderr.write(`xlnetd: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
