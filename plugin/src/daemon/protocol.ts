// The control protocol between `xlnet` and xlnetd: JSON lines over a Unix
// socket that only root can use (0600). One request per line, one response per
// line, matched by `id`. Versioned: a request names the version it speaks; the
// daemon answers E_VERSION for versions it does not know.
//
//   -> {"v":1,"id":7,"op":"attach","vif":"vif3.0","profile":"satellite"}
//   <- {"v":1,"id":7,"ok":true,"result":{...}}
//   <- {"v":1,"id":7,"ok":false,"error":{"code":"E_NO_VIF","message":"..."}}

export const PROTOCOL_VERSION = 1;
/** A request line longer than this is refused (E_TOO_LARGE) and the connection closed. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export type DetachMode = 'drain' | 'reset';
export type VifMode = 'bridge' | 'route';

/** Per-attachment overrides of profile settings (same keys as [profile] in xlnet.conf). */
export type Options = Record<string, string>;

export type Request =
  | { op: 'hello' }
  | { op: 'status' }
  | { op: 'list' }
  /** undoIfGone: if the requester's connection is gone by the time the attach
   * is done (it gave up waiting, or was killed), xlnetd detaches again, so it
   * never keeps an attachment its requester reported as failed (the hotplug
   * path sets it: libxl's scripts run it under a timeout). */
  | { op: 'attach'; vif: string; profile?: string; options?: Options; domain?: string; required?: boolean; undoIfGone?: boolean }
  | { op: 'detach'; vif: string; mode?: DetachMode }
  | { op: 'set'; vif: string; profile?: string; options?: Options }
  | { op: 'flows'; vif?: string }
  | { op: 'reload' };

export type Op = Request['op'];
export const OPS: readonly Op[] = ['hello', 'status', 'list', 'attach', 'detach', 'set', 'flows', 'reload'];

export type RequestEnvelope = Request & { v: number; id: number | string };

export interface ErrorBody {
  code: ErrorCode;
  message: string;
}

export type ErrorCode =
  | 'E_PARSE'        // the line is not JSON
  | 'E_TOO_LARGE'    // the line is longer than MAX_REQUEST_BYTES
  | 'E_BUSY'         // every control connection is busy with a request
  | 'E_VERSION'      // unknown protocol version
  | 'E_BAD_REQUEST'  // missing/invalid fields; message names the field
  | 'E_UNKNOWN_OP'
  | 'E_NO_VIF'       // the vif does not exist in Dom0
  | 'E_NOT_ATTACHED'
  | 'E_ALREADY_ATTACHED'
  | 'E_UNKNOWN_PROFILE'
  | 'E_BAD_OPTION'   // an option key or value is invalid; message says what is allowed
  | 'E_STEERING'     // nftables refused the rules
  | 'E_LIMIT'        // a limit of xlnetd is reached; the message names it
  | 'E_INTERNAL';

export type Response =
  | { v: number; id: number | string | null; ok: true; result: unknown }
  | { v: number; id: number | string | null; ok: false; error: ErrorBody };

export interface AttachmentInfo {
  vif: string;
  id: number;
  domain?: string;
  mode: VifMode;
  bridge?: string;
  profile: string;
  options: Options;
  state: 'active' | 'draining';
  attachedAt: string;
  flows: number;
  bytesUp: number;
  bytesDown: number;
  flowsTotal: number;
  flowsRefused: number;
  /** The kernel's TCP counters of this vif's sockets (closed and live), per
   * leg, when the BPF datapath runs. Sequence space, like `ss -ti`: a flow's
   * SYN (WAN leg) and each FIN count one byte. */
  kernelCounters?: Record<'guest' | 'wan', { bytesAcked: number; bytesReceived: number; flows: number }>;
}

export interface FlowInfo {
  id: number;
  vif: string;
  guest: string;     // ip:port as the guest sees itself
  remote: string;    // ip:port of the real destination
  wanLocal: string;  // ip:port Dom0's WAN-leg socket uses (normally = guest)
  state: 'connecting' | 'open' | 'half-closed' | 'closing';
  ageMs: number;
  bytesUp: number;   // guest -> remote, delivered to the WAN leg
  bytesDown: number; // remote -> guest
  rateUpBps: number; // over the last few seconds
  rateDownBps: number;
  engine: 'user' | 'kernel';
  /** where bytesUp/bytesDown come from: 'kernel' = the WAN leg's TCP counters
   * (bytesUp = acknowledged by the remote, bytesDown = received from it),
   * 'relay' = the relay's own counts (no BPF datapath) */
  counters?: 'kernel' | 'relay';
  /** bytes the relay handed to the other leg (user-space copy + kernel splice) */
  relayedUp?: number;
  relayedDown?: number;
  /** kernel engine: bytes in the kernel's redirect queues (memory no socket accounting shows) */
  kernelQueued?: number;
}

/** The BPF datapath as this xlnetd runs it. */
export interface DatapathInfo {
  /** loaded; unavailable (failed to load: see reason, xlnetd runs without it); off (cgroup = none) */
  state: 'loaded' | 'unavailable' | 'off';
  reason?: string;
  cgroup?: string;
  /** the kernel relay engine can be used */
  kernelEngine: boolean;
  kernelEngineReason?: string;
  /** what engine = auto uses here */
  autoEngine: 'user' | 'kernel';
  kernelFlows?: number;
}

export interface StatusInfo {
  version: string;
  protocol: number;
  pid: number;
  uptimeSec: number;
  listenPort: number;
  configFile: string;
  attachments: number;
  flows: number;
  flowsTotal: number;
  bytesUp: number;
  bytesDown: number;
  memory: { rss: number; heapUsed: number; bufferedBytes: number };
  profiles: string[];
  datapath?: DatapathInfo;
}
