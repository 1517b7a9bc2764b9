// The demo (`make demo`): a Xen host modelled in namespaces, one legacy guest
// (an old OS: 64 KiB window, reno, no SACK) and one modern guest, behind a
// geostationary satellite link (`geo`: 10/50 Mbit/s up/down, 650 ms RTT).
// Both guests' vifs come up through the real hotplug path with
// `script=vif-localack`; then 2 MB and 10 MB uploads and downloads run direct
// (service detached) and through local acknowledgement, next to the physical
// bound. Results: a table here, JSON in a file whose path is printed.
//
//   node --import tsx lab/demo.ts [--link geo] [--runs 1] [--sizes 2000000,10000000] [--out DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Lab, REPO } from './lab.js';
import { linkProfile } from './profiles.js';
import { call } from '../plugin/src/daemon/client.js';
import type { AttachmentInfo } from '../plugin/src/daemon/protocol.js';
import { PROFILE_PRESETS, presetSettings, renderXlnetConf } from '../plugin/src/config/index.js';
import { fmtMs, fmtSize, physicalBoundMs, runCase, table, windowBoundMs, type CaseResult, type CaseSpec } from './scenario.js';

const { values: args } = parseArgs({
  options: {
    link: { type: 'string', default: 'geo' },
    runs: { type: 'string', default: '1' },
    sizes: { type: 'string', default: '2000000,10000000' },
    out: { type: 'string', default: join(REPO, 'demo-results') },
    prefix: { type: 'string', default: 'xdemo' },
  },
  strict: true,
});

const say = (s: string) => process.stdout.write(`${s}\n`);
const link = linkProfile(args.link!);
const runs = Number(args.runs);
const sizes = args.sizes!.split(',').map(Number);
if (!(runs >= 1) || sizes.some((s) => !(s >= 0))) throw new Error('--runs must be >= 1 and --sizes a comma list of byte counts');

const GUESTS = [{ domid: 1, profile: 'legacy' as const }, { domid: 2, profile: 'modern' as const }];
const satellite = PROFILE_PRESETS.find((p) => p.name === 'satellite')!;
const conf = renderXlnetConf({
  defaults: { profile: 'satellite' },
  profiles: new Map([['satellite', presetSettings(satellite)]]),
}, { comments: false });

async function main(): Promise<void> {
  say(`xlnet demo: link '${link.name}' (up ${link.up.rateBps / 1e6} Mbit/s, down ${link.down.rateBps / 1e6} Mbit/s, RTT ${link.up.delayMs + link.down.delayMs} ms)`);
  say('bringing the lab up: Dom0 with xenbr0, real xenstored, WAN emulator, remote server ...');
  const lab = await Lab.up({ prefix: args.prefix!, link: link.name });
  try {
    await lab.startRemoteServer();
    const d = await lab.startDaemon(conf);
    say(`xlnetd running in Dom0 (pid ${d.pid}), default profile 'satellite'`);
    for (const g of GUESTS) {
      // xl create with vif = ['bridge=xenbr0,script=vif-localack']
      await lab.addGuest({ domid: g.domid, profile: g.profile, script: 'vif-localack' });
    }
    const attached = await call<AttachmentInfo[]>({ op: 'list' }, { socket: d.socket });
    say(`guests up through hotplug; attached by vif-localack: ${attached.map((a) => `${a.vif} (${a.profile})`).join(', ') || 'none'}`);
    if (attached.length !== GUESTS.length) throw new Error('the hotplug path did not attach every guest vif; see the lab logs');

    const cases: CaseSpec[] = [];
    for (const g of GUESTS) for (const dir of ['up', 'down'] as const) for (const size of sizes) cases.push({ guest: g.profile, dir, size });
    const results: CaseResult[] = [];
    const domidOf = (c: CaseSpec) => GUESTS.find((g) => g.profile === c.guest)!.domid;
    for (const c of cases) {
      say(`  local acknowledgement: ${c.guest} ${c.dir} ${fmtSize(c.size)} ...`);
      results.push(await runCase(lab, domidOf(c), c, 'localack', runs));
    }
    for (const g of GUESTS) await call({ op: 'detach', vif: `vif${g.domid}.0`, mode: 'drain' }, { socket: d.socket });
    for (const c of cases) {
      say(`  direct: ${c.guest} ${c.dir} ${fmtSize(c.size)} ...`);
      results.push(await runCase(lab, domidOf(c), c, 'direct', runs));
    }

    const rows = cases.map((c) => {
      const get = (p: string) => results.find((r) => r.path === p && r.guest === c.guest && r.dir === c.dir && r.size === c.size)!;
      const direct = get('direct'), lack = get('localack');
      const bound = physicalBoundMs(link, c.dir, c.size);
      const speedup = direct.medianMs && lack.medianMs ? `${(direct.medianMs / lack.medianMs).toFixed(1)}x` : '-';
      const vsBound = lack.medianMs ? `${(lack.medianMs / bound).toFixed(2)}x` : '-';
      return [c.guest, c.dir, fmtSize(c.size), fmtMs(direct.medianMs), fmtMs(lack.medianMs), fmtMs(bound), speedup, vsBound];
    });
    say('');
    say(`Flow completion time at the receiver${runs > 1 ? ` (median of ${runs})` : ''}, link '${link.name}':`);
    say(table(['guest', 'dir', 'size', 'direct', 'localack', 'bound', 'speedup', 'localack/bound'], rows));
    say(`(bound = handshake RTT + size/rate + RTT/2; a legacy guest alone is also capped at 64 KiB per RTT: ${fmtMs(windowBoundMs(link, sizes[sizes.length - 1]!))} for ${fmtSize(sizes[sizes.length - 1]!)})`);
    const bad = results.flatMap((r) => r.runs.filter((x) => !x.ok).map((x) => `${r.path} ${r.guest} ${r.dir} ${r.size}: ${x.error}`));
    for (const b of bad) say(`FAILED: ${b}`);

    mkdirSync(args.out!, { recursive: true });
    const file = join(args.out!, `demo-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, JSON.stringify({
      link: link.name, linkProfile: link, runs, profile: 'satellite', profileSettings: satellite.settings,
      results: results.map((r) => ({ ...r, boundMs: physicalBoundMs(link, r.dir, r.size) })),
    }, null, 2));
    say(`\nresults written to ${file}`);
    if (bad.length) process.exitCode = 1;
  } finally {
    say('bringing the lab down ...');
    await lab.down();
  }
}

main().catch((e) => { process.stderr.write(`demo failed: ${(e as Error).stack ?? e}\n`); process.exitCode = 1; });
