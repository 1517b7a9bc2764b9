// The lab by hand:
//   node --import tsx lab/cli.ts up [--prefix xln] [--link geo] [--legacy 1] [--modern 1] [--service]
//       builds the lab and keeps it until Ctrl-C (then removes everything). With
//       --service, xlnetd runs in Dom0 and the guests' vifs use script=vif-localack.
//   node --import tsx lab/cli.ts down [--prefix xln]
//       removes a lab left by a process that was killed.
import { parseArgs } from 'node:util';
import { Lab, NET } from './lab.js';
import { LINK_PROFILES } from './profiles.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    prefix: { type: 'string', default: 'xln' },
    link: { type: 'string', default: 'geo' },
    legacy: { type: 'string', default: '1' },
    modern: { type: 'string', default: '1' },
    service: { type: 'boolean', default: false },
  },
  strict: true,
});

const say = (s: string) => process.stdout.write(`${s}\n`);

async function up(): Promise<void> {
  if (!LINK_PROFILES[values.link!]) throw new Error(`unknown link '${values.link}' (known: ${Object.keys(LINK_PROFILES).join(', ')})`);
  const lab = await Lab.up({ prefix: values.prefix!, link: values.link! });
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    say('\nremoving the lab ...');
    await lab.down();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await lab.startRemoteServer();
    if (values.service) {
      const d = await lab.startDaemon('');
      say(`xlnetd in ${lab.ns.dom0}: XLNET_SOCKET=${d.socket}`);
    }
    let domid = 1;
    for (const [profile, n] of [['legacy', Number(values.legacy)], ['modern', Number(values.modern)]] as const) {
      for (let i = 0; i < n; i++) {
        const g = await lab.addGuest({ domid: domid++, profile, script: values.service ? 'vif-localack' : undefined });
        say(`guest ${g.name} (${profile}): ip netns exec ${g.ns} bash   # ${g.ip4} / ${g.ip6} via ${g.vif}`);
      }
    }
    say(`Dom0: ip netns exec ${lab.ns.dom0} bash   # xenbr0 ${NET.dom0_4}, XENSTORED_PATH=${lab.xenstored!.socketPath}`);
    say(`remote: ip netns exec ${lab.ns.remote} bash   # ${NET.remote4} / ${NET.remote6}, transfer server on port 5001`);
    say(`link '${lab.link.name}' between ${lab.ns.gw} and ${lab.ns.remote}. Ctrl-C removes everything.`);
  } catch (e) {
    await lab.down();
    throw e;
  }
  await new Promise(() => undefined);
}

async function main(): Promise<void> {
  const verb = positionals[0];
  if (verb === 'up') return up();
  if (verb === 'down') { await Lab.down(values.prefix!); say(`lab '${values.prefix}' removed`); return; }
  process.stderr.write('usage: lab/cli.ts up|down [--prefix P] [--link NAME] [--legacy N] [--modern N] [--service]\n');
  process.exitCode = 2;
}

main().catch((e) => { process.stderr.write(`lab: ${(e as Error).message}\n`); process.exitCode = 1; });
