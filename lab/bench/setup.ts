// The lab every scenario starts from: remote server, xlnetd with the chosen
// default profile, and guests that are the paths (direct guests come up with
// Xen's plain vif-bridge, local acknowledgement guests with vif-localack, the
// hotplug path a host uses).
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, NET, REPO, XFER_PORT } from '../lab.js';
import { call } from '../../plugin/src/daemon/client.js';
import type { AttachmentInfo, StatusInfo } from '../../plugin/src/daemon/protocol.js';
import { PROFILE_PRESETS, presetSettings, renderXlnetConf } from '../../plugin/src/config/index.js';
import { watchWanLeg, type Probe, type Watcher } from './measure.js';
import { traceWanLeg } from './trace.js';

export const SATELLITE = PROFILE_PRESETS.find((p) => p.name === 'satellite')!;

/** xlnet.conf with the satellite preset available and `profile` as [defaults]. */
export function benchConf(profile: string): string {
  return renderXlnetConf({
    defaults: { profile },
    profiles: new Map([['satellite', presetSettings(SATELLITE)]]),
  }, { comments: false });
}

export interface BenchLab {
  lab: Lab;
  socket: string;
  daemonPid: number;
  conf: string;
  /** connections xlnetd has split so far (all vifs) */
  flowsTotal(): Promise<number>;
  /** a probe of flows split, to prove which path a sample took */
  splitProbe(): Probe;
  attachments(): Promise<AttachmentInfo[]>;
  /** the code and datapath the numbers were measured with */
  daemonInfo(): Promise<Record<string, unknown>>;
  /** watches the localack path's WAN leg: initial cwnd, engine; with `trace`, tcp_info every 100 ms */
  wanWatcher(trace?: boolean): Watcher;
  /** profile options set on every localack vif (`--set`), e.g. { wan_cc: 'cubic' } */
  options: Record<string, string>;
}

/** Labs that are up, for the signal handler: a killed benchmark must not leave namespaces behind. */
export const activeLabs = new Set<Lab>();

export async function benchLab(prefix: string, link: string, profile: string, options: Record<string, string> = {}): Promise<BenchLab> {
  const lab = await Lab.up({ prefix, link });
  activeLabs.add(lab);
  const down = lab.down.bind(lab);
  lab.down = async () => { activeLabs.delete(lab); await down(); };
  try {
    await lab.startRemoteServer();
    const conf = benchConf(profile);
    const d = await lab.startDaemon(conf);
    const flowsTotal = async () => (await call<StatusInfo>({ op: 'status' }, { socket: d.socket })).flowsTotal;
    return {
      lab, socket: d.socket, daemonPid: d.pid, conf, flowsTotal, options,
      splitProbe: () => ({ name: 'split', read: flowsTotal }),
      attachments: () => call<AttachmentInfo[]>({ op: 'list' }, { socket: d.socket }),
      daemonInfo: async () => {
        const st = await call<StatusInfo>({ op: 'status' }, { socket: d.socket });
        const git = (args: string[]) => { try { return execFileSync('git', ['-C', REPO, ...args], { encoding: 'utf8' }).trim(); } catch { return 'unknown'; } };
        return {
          version: st.version, datapath: st.datapath ?? 'not reported by this xlnetd',
          commit: git(['rev-parse', '--short', 'HEAD']), pluginChanges: git(['status', '--porcelain', 'plugin/src']) || 'none',
          distBuilt: statSync(join(REPO, 'plugin/dist/daemon/main.js')).mtime.toISOString(),
        };
      },
      wanWatcher: (trace = false) => (p) => {
        if (p.name !== 'localack') return undefined;
        const w = watchWanLeg(lab.ns.dom0, d.socket, NET.remote4, XFER_PORT);
        if (!trace) return w;
        return Promise.all([w, traceWanLeg(lab.ns.dom0, NET.remote4, XFER_PORT)]).then(([a, tcpInfo]) => ({ ...a, tcpInfo }));
      },
    };
  } catch (e) {
    await lab.down().catch(() => undefined);
    throw e;
  }
}

/** Adds guests and checks that exactly the local-acknowledgement ones were attached by their hotplug. */
export async function addGuests(b: BenchLab, guests: Array<{ domid: number; profile: 'legacy' | 'modern'; localack: boolean }>): Promise<void> {
  for (const g of guests) await b.lab.addGuest({ domid: g.domid, profile: g.profile, script: g.localack ? 'vif-localack' : 'vif-bridge' });
  const attached = new Set((await b.attachments()).map((a) => a.vif));
  for (const g of guests) {
    const vif = `vif${g.domid}.0`;
    if (attached.has(vif) !== g.localack) {
      throw new Error(`${vif} is ${attached.has(vif) ? '' : 'not '}attached after its hotplug; expected ${g.localack ? 'attached (vif-localack)' : 'direct (vif-bridge)'}`);
    }
  }
  if (Object.keys(b.options).length) {
    for (const g of guests.filter((x) => x.localack)) await call({ op: 'set', vif: `vif${g.domid}.0`, options: b.options }, { socket: b.socket });
  }
  // Warm-up, not measured: the first packets across the emulator wait for ARP
  // through it (one RTT on geo), which would land on whichever sample ran first.
  for (const g of guests) {
    const r = await b.lab.transfer(g.domid, { dir: 'up', size: 1, timeoutSec: 30 });
    if (!r.transfers[0]?.ok) throw new Error(`warm-up transfer from guest ${g.domid} failed: ${r.transfers[0]?.error ?? 'no report'}`);
  }
}
