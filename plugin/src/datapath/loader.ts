// Loads xlnet's BPF objects (datapath/build) into the kernel, attaches their
// programs to xlnetd's cgroup (and the relay verdict to its sockmap), checks
// every shared map against layout.ts, and unloads it all again. Datapath
// (datapath.ts) owns what this returns and does the work on the maps.
import { closeSync, existsSync, openSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as bpf from '../ffi/libbpf.js';
import { checkOwnCgroup } from './cgroup.js';
import { DatapathError } from './datapath-error.js';
import * as L from './layout.js';

/** datapath/build of this checkout or package (same depth from src/ and dist/). */
export const DEFAULT_OBJECT_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../datapath/build');

/** Objects in load order, with the programs each attaches to the cgroup. The
 * first object to declare a map creates it; later ones reuse it by name. */
const OBJECTS = [
  { file: 'wan_tune.bpf.o', programs: ['xlnet_wan_tune'] },
  { file: 'counters.bpf.o', programs: ['xlnet_flow_events', 'xlnet_count_egress', 'xlnet_count_ingress'] },
] as const;

/** The kernel relay engine: optional (a kernel without sockmap stream
 * verdicts still gets tuning and counters). Its verdict attaches to a map. */
const RELAY = {
  file: 'relay.bpf.o', program: 'xlnet_relay_verdict', attachMap: 'xlnet_relay_sources',
  /** puts relayed sockets into the maps at establishment (cgroup sockops) */
  sockops: 'xlnet_relay_splice',
} as const;

/** Maps the loader touches, with their key and value sizes from layout.ts. */
const MAPS = {
  xlnet_sk: [L.SIZES.fd, L.SIZES.sk],
  xlnet_profiles: [L.SIZES.u32, L.SIZES.tuning],
  xlnet_flows: [L.SIZES.cookie, L.SIZES.flow],
  xlnet_vif_closed: [L.SIZES.vifKey, L.SIZES.vifTotals],
} as const;
export type MapName = keyof typeof MAPS;

const RELAY_MAPS = {
  xlnet_relay_targets: [L.SIZES.cookie, L.SIZES.u32],
  xlnet_relay_sources: [L.SIZES.cookie, L.SIZES.u32],
  xlnet_relay_ctl: [L.SIZES.cookie, L.SIZES.relayCtl],
  xlnet_relay_stat: [L.SIZES.cookie, L.SIZES.relayStat],
  xlnet_relay_vifs: [L.SIZES.u32, L.SIZES.u32],
} as const;
export type RelayMapName = keyof typeof RELAY_MAPS;

export interface DatapathOptions {
  /** cgroup v2 directory holding xlnetd only (see enterOwnCgroup). */
  cgroup: string;
  /** Where the *.bpf.o files are; default datapath/build. */
  objectDir?: string;
  /** Load the kernel relay engine (default true); its failure is not fatal:
   * see Datapath.relayError. */
  relay?: boolean;
}

export interface Loaded {
  objects: bpf.BpfObject[];
  links: bpf.BpfLink[];
  maps: Record<MapName, number>;
  relay?: { maps: Record<RelayMapName, number>; progFd: number };
}

/** Opens, loads and attaches the objects; on any failure nothing stays in the kernel. */
export function loadObjects(opts: DatapathOptions): { loaded: Loaded; relayError?: string } {
  const dir = opts.objectDir ?? DEFAULT_OBJECT_DIR;
  for (const o of OBJECTS) {
    const path = join(dir, o.file);
    if (!existsSync(path)) {
      throw new DatapathError('E_NO_OBJECT', `BPF object ${path} is missing: build it with \`make -C datapath\``);
    }
  }
  checkOwnCgroup(opts.cgroup);
  const loaded: Loaded = { objects: [], links: [], maps: {} as Record<MapName, number> };
  let cgroupFd = -1;
  try {
    cgroupFd = openSync(opts.cgroup, 'r');
    const shared = new Map<string, number>();
    const programs: bpf.BpfProgram[] = [];
    for (const o of OBJECTS) {
      const path = join(dir, o.file);
      let obj: bpf.BpfObject;
      try {
        obj = bpf.objectOpen(path);
      } catch (e) {
        throw new DatapathError('E_LOAD', `cannot open BPF object ${path}: ${(e as Error).message}`, { cause: e });
      }
      loaded.objects.push(obj);
      for (const name of shared.keys()) {
        const m = tryFindMap(obj, name);
        if (m) bpf.reuseMapFd(m, shared.get(name)!);
      }
      try {
        bpf.objectLoad(obj);
      } catch (e) {
        throw new DatapathError('E_LOAD', `the kernel refused ${path}: ${(e as Error).message}`, { cause: e });
      }
      for (const name of Object.keys(MAPS) as MapName[]) {
        const m = tryFindMap(obj, name);
        if (!m || shared.has(name)) continue;
        checkLayout(path, m, MAPS[name]);
        shared.set(name, bpf.mapFd(m));
        loaded.maps[name] = bpf.mapFd(m);
      }
      for (const p of o.programs) programs.push(bpf.findProgram(obj, p));
    }
    for (const name of Object.keys(MAPS) as MapName[]) {
      if (loaded.maps[name] === undefined) throw new DatapathError('E_LAYOUT', `no object declares map ${name}`);
    }
    for (const p of programs) {
      try {
        loaded.links.push(bpf.attachCgroup(p, cgroupFd));
      } catch (e) {
        throw new DatapathError('E_ATTACH', `cannot attach ${p.name} to cgroup ${opts.cgroup}: ${(e as Error).message}`, { cause: e });
      }
    }
  } catch (e) {
    unload(loaded);
    throw e;
  } finally {
    if (cgroupFd >= 0) closeSync(cgroupFd);
  }
  let relayError: string | undefined;
  if (opts.relay === false) relayError = 'not requested';
  else {
    try {
      loadRelay(dir, loaded, opts.cgroup);
    } catch (e) {
      relayError = (e as Error).message;
    }
  }
  return { loaded, relayError };
}

/** Loads relay.bpf.o next to the loaded objects (sharing xlnet_flows) and
 * attaches its verdict to xlnet_relay_sources. Throws a DatapathError;
 * leaves nothing behind on failure. */
function loadRelay(dir: string, loaded: Loaded, cgroup: string): void {
  const path = join(dir, RELAY.file);
  if (!existsSync(path)) throw new DatapathError('E_NO_OBJECT', `BPF object ${path} is missing: build it with \`make -C datapath\``);
  let obj: bpf.BpfObject;
  try {
    obj = bpf.objectOpen(path);
  } catch (e) {
    throw new DatapathError('E_LOAD', `cannot open BPF object ${path}: ${(e as Error).message}`, { cause: e });
  }
  try {
    for (const name of Object.keys(MAPS) as MapName[]) {
      const m = tryFindMap(obj, name);
      if (m) bpf.reuseMapFd(m, loaded.maps[name]);
    }
    try {
      bpf.objectLoad(obj);
    } catch (e) {
      throw new DatapathError('E_LOAD', `the kernel refused ${path} (sockmap stream verdicts): ${(e as Error).message}`, { cause: e });
    }
    const maps = {} as Record<RelayMapName, number>;
    for (const name of Object.keys(RELAY_MAPS) as RelayMapName[]) {
      const m = tryFindMap(obj, name);
      if (!m) throw new DatapathError('E_LAYOUT', `${path} declares no map ${name}`);
      checkLayout(path, m, RELAY_MAPS[name]);
      maps[name] = bpf.mapFd(m);
    }
    const progFd = bpf.programFd(bpf.findProgram(obj, RELAY.program));
    let link: bpf.BpfLink | undefined;
    const cgroupFd = openSync(cgroup, 'r');
    try {
      link = bpf.attachCgroup(bpf.findProgram(obj, RELAY.sockops), cgroupFd);
    } catch (e) {
      throw new DatapathError('E_ATTACH', `cannot attach ${RELAY.sockops} to cgroup ${cgroup}: ${(e as Error).message}`, { cause: e });
    } finally {
      closeSync(cgroupFd);
    }
    try {
      bpf.progAttach(progFd, maps[RELAY.attachMap], bpf.BPF_SK_SKB_STREAM_VERDICT);
    } catch (e) {
      bpf.linkDestroy(link);
      throw new DatapathError('E_ATTACH', `cannot attach ${RELAY.program} to ${RELAY.attachMap}: ${(e as Error).message}`, { cause: e });
    }
    loaded.links.push(link);
    loaded.objects.push(obj);
    loaded.relay = { maps, progFd };
  } catch (e) {
    bpf.objectClose(obj);
    throw e;
  }
}

function tryFindMap(obj: bpf.BpfObject, name: string): bpf.BpfMap | undefined {
  try { return bpf.findMap(obj, name); } catch { return undefined; }
}

function checkLayout(path: string, m: bpf.BpfMap, [key, value]: readonly [number, number]): void {
  const k = bpf.mapKeySize(m), v = bpf.mapValueSize(m);
  if (k !== key || v !== value) {
    throw new DatapathError('E_LAYOUT', `map ${m.name} in ${path} has key/value sizes ${k}/${v}, layout.ts expects ${key}/${value}: ` +
      'datapath/xlnet.h and plugin/src/datapath/layout.ts changed apart');
  }
}

export function unload(l: Loaded): void {
  if (l.relay) {
    try { bpf.progDetach(l.relay.progFd, l.relay.maps[RELAY.attachMap], bpf.BPF_SK_SKB_STREAM_VERDICT); } catch { /* freed with the map below */ }
    l.relay = undefined;
  }
  for (const link of l.links.splice(0)) {
    try { bpf.linkDestroy(link); } catch { /* the object close below still drops the fds */ }
  }
  for (const obj of l.objects.splice(0).reverse()) bpf.objectClose(obj);
}
