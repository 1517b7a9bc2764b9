// A vif's backend directory, as libxl 4.17 writes it
// (/local/domain/<backend-domid>/backend/vif/<domid>/<devid>), read into a
// typed object; and the writer the lab uses to fake what libxl does when it
// adds a vif (libxl_device.c libxl__device_add_async + generic_add,
// libxl_nic.c libxl__set_xenstore_nic).
import type { XenstoreClient, XenstorePermission } from './xenstore.js';
import { XenstoreError } from './xenstore-error.js';

/** enum xenbus_state (xen/include/public/io/xenbus.h). */
export const XenbusState = {
  Unknown: 0,
  Initialising: 1,
  InitWait: 2,
  Initialised: 3,
  Connected: 4,
  Closing: 5,
  Closed: 6,
  Reconfiguring: 7,
  Reconfigured: 8,
} as const;
export type XenbusState = (typeof XenbusState)[keyof typeof XenbusState];

export type VifType = 'vif' | 'vif_ioemu';

/** libxl's `rate`: "<bytes per interval>,<interval in microseconds>". */
export interface VifRate {
  bytesPerInterval: number;
  intervalUsecs: number;
}

export interface VifBackend {
  /** The backend directory this was read from. */
  path: string;
  backendDomid: number;
  domid: number;
  devid: number;
  /** Frontend directory, /local/domain/<domid>/device/vif/<devid>. */
  frontend: string;
  frontendId: number;
  online: boolean;
  state: number;
  /** Absolute hotplug script path. */
  script?: string;
  /** "00:16:3e:xx:xx:xx", lower case as libxl writes it. */
  mac: string;
  bridge?: string;
  handle: number;
  type: VifType;
  /** "" until the hotplug script reports "connected" or "error". */
  hotplugStatus?: string;
  hotplugError?: string;
  vifname?: string;
  /** Addresses from `ip=` (space separated in xenstore). */
  ip?: string[];
  gatewaydev?: string;
  rate?: VifRate;
  /** 1500 when absent: libxl only writes a non-default mtu. */
  mtu: number;
  /** xlnet's key (written by the patched libxl or by configuration). */
  localack?: string;
  /** Every other key (forwarddev, colo_*, vlan, ...), verbatim. */
  other: Record<string, string>;
}

export const DEFAULT_MTU = 1500;
export const XEN_SCRIPT_DIR = '/etc/xen/scripts';
const BACKEND_PATH = /^\/local\/domain\/(\d+)\/backend\/vif\/(\d+)\/(\d+)$/;
const KNOWN_KEYS = new Set([
  'frontend', 'frontend-id', 'online', 'state', 'script', 'mac', 'bridge', 'handle', 'type',
  'hotplug-status', 'hotplug-error', 'vifname', 'ip', 'gatewaydev', 'rate', 'mtu', 'localack',
]);

export function vifBackendPath(backendDomid: number, domid: number, devid: number): string {
  return `/local/domain/${backendDomid}/backend/vif/${domid}/${devid}`;
}

export function vifFrontendPath(domid: number, devid: number): string {
  return `/local/domain/${domid}/device/vif/${devid}`;
}

export function vifLibxlPath(domid: number, devid: number): string {
  return `/libxl/${domid}/device/vif/${devid}`;
}

function invalid(path: string, key: string, value: string, want: string): XenstoreError {
  return new XenstoreError('EINVAL', `vif backend ${path}: ${key} = ${JSON.stringify(value)} is not ${want}`, `${path}/${key}`);
}

function parseUint(path: string, key: string, value: string): number {
  if (!/^\d+$/.test(value)) throw invalid(path, key, value, 'a non-negative integer');
  return Number(value);
}

function required(path: string, kv: Map<string, string>, key: string): string {
  const v = kv.get(key);
  if (v === undefined) {
    throw new XenstoreError('ENOENT', `vif backend ${path} has no ${key} (not written by libxl, or being removed)`, `${path}/${key}`);
  }
  return v;
}

/**
 * Reads a vif backend directory. Every value is read in one transaction, so
 * the result is a consistent snapshot. ENOENT if the directory or one of the
 * keys libxl always writes (frontend, frontend-id, state, mac, handle) is
 * missing; EINVAL if a value is malformed.
 */
export async function readVifBackend(client: XenstoreClient, backendPath: string): Promise<VifBackend> {
  const path = backendPath.replace(/\/+$/, '');
  const m = BACKEND_PATH.exec(path);
  if (!m) {
    throw new XenstoreError('EINVAL', `${backendPath} is not a vif backend path (/local/domain/<backend-domid>/backend/vif/<domid>/<devid>)`, backendPath);
  }
  const kv = await client.transaction(async (tx) => {
    const names = await client.directory(path, tx);
    const values = await Promise.all(names.map((n) => client.tryRead(`${path}/${n}`, tx)));
    const out = new Map<string, string>();
    names.forEach((n, i) => {
      const v = values[i];
      if (v !== undefined) out.set(n, v);
    });
    return out;
  });

  const type = kv.get('type') ?? 'vif';
  if (type !== 'vif' && type !== 'vif_ioemu') throw invalid(path, 'type', type, '"vif" or "vif_ioemu"');
  const mac = required(path, kv, 'mac');
  if (!/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) throw invalid(path, 'mac', mac, 'a MAC address');
  const online = kv.get('online');

  const vif: VifBackend = {
    path,
    backendDomid: Number(m[1]),
    domid: Number(m[2]),
    devid: Number(m[3]),
    frontend: required(path, kv, 'frontend'),
    frontendId: parseUint(path, 'frontend-id', required(path, kv, 'frontend-id')),
    online: online === '1',
    state: parseUint(path, 'state', required(path, kv, 'state')),
    mac,
    handle: parseUint(path, 'handle', required(path, kv, 'handle')),
    type,
    mtu: kv.has('mtu') ? parseUint(path, 'mtu', kv.get('mtu') as string) : DEFAULT_MTU,
    other: {},
  };
  const script = kv.get('script');
  if (script !== undefined) vif.script = script;
  const bridge = kv.get('bridge');
  if (bridge !== undefined) vif.bridge = bridge;
  const hotplugStatus = kv.get('hotplug-status');
  if (hotplugStatus !== undefined) vif.hotplugStatus = hotplugStatus;
  const hotplugError = kv.get('hotplug-error');
  if (hotplugError !== undefined) vif.hotplugError = hotplugError;
  const vifname = kv.get('vifname');
  if (vifname !== undefined) vif.vifname = vifname;
  const gatewaydev = kv.get('gatewaydev');
  if (gatewaydev !== undefined) vif.gatewaydev = gatewaydev;
  const localack = kv.get('localack');
  if (localack !== undefined) vif.localack = localack;
  const ip = kv.get('ip');
  if (ip !== undefined) vif.ip = ip.split(/\s+/).filter((a) => a !== '');
  const rate = kv.get('rate');
  if (rate !== undefined) {
    const r = /^(\d+),(\d+)$/.exec(rate);
    if (!r) throw invalid(path, 'rate', rate, '"<bytes>,<usecs>"');
    vif.rate = { bytesPerInterval: Number(r[1]), intervalUsecs: Number(r[2]) };
  }
  for (const [k, v] of kv) if (!KNOWN_KEYS.has(k)) vif.other[k] = v;
  return vif;
}

/** The guest's name (/local/domain/<domid>/name), undefined if unset. */
export async function domainName(client: XenstoreClient, domid: number): Promise<string | undefined> {
  return client.tryRead(`${await client.getDomainPath(domid)}/name`);
}

export interface VifSpec {
  domid: number;
  devid: number;
  /** Default 0 (Dom0). */
  backendDomid?: number;
  mac: string;
  /** Default "xenbr0" (libxl's default). */
  bridge?: string;
  /** Script name or path; relative names go under /etc/xen/scripts.
   * Default "vif-bridge". */
  script?: string;
  /** Default "vif" (PV/PVH guests). */
  type?: VifType;
  vifname?: string;
  ip?: string[];
  gatewaydev?: string;
  rate?: VifRate;
  /** Default 1500; written to the backend only when different. */
  mtu?: number;
  /** Written after libxl's keys, as xlnet's patched libxl does. */
  localack?: string;
  /** Frontend `trusted`, default true. */
  trusted?: boolean;
}

/** The backend keys libxl writes, in libxl's order. */
export function vifBackendEntries(spec: VifSpec): Array<[string, string]> {
  const mac = spec.mac.toLowerCase();
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) {
    throw new XenstoreError('EINVAL', `vif mac ${JSON.stringify(spec.mac)} is not a MAC address (xx:xx:xx:xx:xx:xx)`);
  }
  const script = spec.script ?? 'vif-bridge';
  const mtu = spec.mtu ?? DEFAULT_MTU;
  const e: Array<[string, string]> = [
    // libxl__device_add_async
    ['frontend-id', String(spec.domid)],
    ['online', '1'],
    ['state', String(XenbusState.Initialising)],
    // libxl__set_xenstore_nic
    ['script', script.startsWith('/') ? script : `${XEN_SCRIPT_DIR}/${script}`],
  ];
  if (spec.vifname) e.push(['vifname', spec.vifname]);
  e.push(['mac', mac]);
  if (spec.ip && spec.ip.length > 0) e.push(['ip', spec.ip.join(' ')]);
  if (spec.gatewaydev) e.push(['gatewaydev', spec.gatewaydev]);
  if (spec.rate && spec.rate.intervalUsecs > 0) {
    e.push(['rate', `${spec.rate.bytesPerInterval},${spec.rate.intervalUsecs}`]);
  }
  if (mtu !== DEFAULT_MTU) e.push(['mtu', String(mtu)]);
  e.push(['bridge', spec.bridge ?? 'xenbr0']);
  e.push(['handle', String(spec.devid)]);
  e.push(['type', spec.type ?? 'vif']);
  e.push(['hotplug-status', '']);
  if (spec.localack !== undefined) e.push(['localack', spec.localack]);
  return e;
}

/** libxl ignores ENOENT here (libxl__xs_rm_checked, unchecked xs_rm):
 * xenstored answers it when the parent does not exist either. */
async function rmIfPresent(client: XenstoreClient, path: string, tx: number): Promise<void> {
  try {
    await client.rm(path, tx);
  } catch (err) {
    if (!(err instanceof XenstoreError) || err.code !== 'ENOENT') throw err;
  }
}

/**
 * Writes a vif the way libxl_device.c libxl__device_generic_add does, in one
 * transaction: the /libxl/<domid>/device/vif/<devid> mirror (frontend,
 * backend, then the backend's keys), the frontend directory (backend,
 * backend-id, state, handle, mac, trusted; mtu read-only for the guest) and
 * the backend directory (frontend, then the keys above), with libxl's
 * permissions. Returns the backend path.
 */
export async function writeVifBackend(client: XenstoreClient, spec: VifSpec): Promise<string> {
  const backendDomid = spec.backendDomid ?? 0;
  const backend = vifBackendPath(backendDomid, spec.domid, spec.devid);
  const frontend = vifFrontendPath(spec.domid, spec.devid);
  const libxl = vifLibxlPath(spec.domid, spec.devid);
  const bents = vifBackendEntries(spec);
  const mac = spec.mac.toLowerCase();
  const fents: Array<[string, string]> = [
    ['backend-id', String(backendDomid)],
    ['state', String(XenbusState.Initialising)],
    ['handle', String(spec.devid)],
    ['mac', mac],
    ['trusted', spec.trusted === false ? '0' : '1'],
  ];
  const roFents: Array<[string, string]> = [['mtu', String(spec.mtu ?? DEFAULT_MTU)]];
  // The guest owns its frontend, the backend may read it; the backend owns
  // its directory, the guest may read it.
  const frontendPerms: XenstorePermission[] = [`n${spec.domid}`, `r${backendDomid}`];
  const backendPerms: XenstorePermission[] = [`n${backendDomid}`, `r${spec.domid}`];

  await client.transaction(async (tx) => {
    await rmIfPresent(client, libxl, tx);
    await client.write(`${libxl}/frontend`, frontend, tx);
    await client.write(`${libxl}/backend`, backend, tx);

    await rmIfPresent(client, frontend, tx);
    await client.mkdir(frontend, tx);
    await client.setPermissions(frontend, frontendPerms, tx);
    await client.write(`${frontend}/backend`, backend, tx);
    for (const [k, v] of fents) {
      await client.write(`${frontend}/${k}`, v, tx);
      await client.setPermissions(`${frontend}/${k}`, frontendPerms, tx);
    }
    for (const [k, v] of roFents) {
      await client.write(`${frontend}/${k}`, v, tx);
      await client.setPermissions(`${frontend}/${k}`, backendPerms, tx);
    }

    await rmIfPresent(client, backend, tx);
    await client.mkdir(backend, tx);
    await client.setPermissions(backend, backendPerms, tx);
    await client.write(`${backend}/frontend`, frontend, tx);
    for (const [k, v] of bents) await client.write(`${backend}/${k}`, v, tx);

    for (const [k, v] of bents) await client.write(`${libxl}/${k}`, v, tx);
  });
  return backend;
}
