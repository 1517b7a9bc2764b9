// datapath/ - loads xlnet's BPF objects (datapath/build), attaches them to xlnetd's own cgroup, and reads and writes their maps: tuning profiles, socket registrations, per-flow and per-vif counters.
import { Datapath, type DatapathOptions } from './datapath.js';

export { MAX_PROFILES, MAX_VIFS } from './layout.js';
export { Datapath, DEFAULT_OBJECT_DIR, type DatapathOptions, type Tuning, type Registration, type VifCounters } from './datapath.js';
export { DatapathError, type DatapathErrorCode } from './datapath-error.js';
export { cgroup2Root, cgroupOf, cgroupPids, checkOwnCgroup, enterCgroup, enterOwnCgroup, removeCgroup, DEFAULT_CGROUP } from './cgroup.js';
export type { FlowCounters, SocketState, Leg, Counters, Endpoint, TuningValues, RelayCtl, RelayStat } from './layout.js';

/** Opens the BPF objects, loads them and attaches them to `opts.cgroup`. */
export async function loadDatapath(opts: DatapathOptions): Promise<Datapath> {
  return Datapath.load(opts);
}
export { enterDaemonCgroup, ownCgroupName, type CgroupChoice, type DaemonCgroup } from './daemon-cgroup.js';
export { TuningSlots } from './tuning-slots.js';
