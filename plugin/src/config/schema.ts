// The xlnet.conf schema: ONE table of every key (section, name, type,
// default, allowed values, doc). The validator (xlnet-conf.ts), the renderer
// and templates/xlnet.conf (render.ts) and the setup wizard are all driven by
// it, and the TypeScript types of the parsed settings are derived from it, so
// adding a key here is the whole job.
import type { Cidr } from './cidr-list.js';
import type { PortRange } from './port-list.js';

export type SectionKind = 'daemon' | 'defaults' | 'profile' | 'domain';

export type ValueKind =
  | 'path' //        absolute path
  | 'enum' //        one of `values`
  | 'bool' //        yes|no
  | 'size' //        bytes, k/m/g suffixes (parseSize)
  | 'duration' //    seconds, s/m/h/d suffixes (parseDuration)
  | 'count' //       whole number
  | 'cc' //          TCP congestion control algorithm name
  | 'ports' //       port list (parsePortList)
  | 'cidrs' //       CIDR list (parseCidrList)
  | 'profile-ref' // name of a [profile NAME]
  | 'localack' //    0|1|required|<profile name>
  | 'devids'; //     `all` or a list of vif devids

export interface KeySpec {
  readonly section: SectionKind;
  readonly key: string;
  readonly type: ValueKind;
  /** The default, written as in the ini file. */
  readonly default: string;
  /** What a user may write, for error messages and the template. */
  readonly allowed: string;
  /** One-line explanation for the template and the wizard. */
  readonly doc: string;
  readonly values?: readonly string[];
  /** Bounds (inclusive) in the key's own notation, e.g. '64k', '30s'. */
  readonly min?: string;
  readonly max?: string;
  /** 0 is accepted outside min..max and means this. */
  readonly zeroMeans?: string;
  /** Longest value in bytes (sun_path limit for sockets). */
  readonly maxBytes?: number;
}

// Linux limits quoted below are from include/net/tcp.h (MAX_TCP_KEEPIDLE,
// MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT) and include/net/tcp.h TCP_CA_NAME_MAX.
export const SCHEMA = [
  // [daemon]
  {
    section: 'daemon', key: 'socket', type: 'path', default: '/run/xlnet/xlnetd.sock',
    allowed: 'an absolute path of at most 107 bytes', maxBytes: 107, // sockaddr_un.sun_path is 108 incl. NUL
    doc: 'control socket of xlnetd (created 0600, root only)',
  },
  {
    section: 'daemon', key: 'state_dir', type: 'path', default: '/run/xlnet',
    allowed: 'an absolute path', doc: 'runtime state of xlnetd (attachments, pid)',
  },
  {
    section: 'daemon', key: 'log_level', type: 'enum', default: 'info', values: ['error', 'warn', 'info', 'debug'],
    allowed: 'error, warn, info or debug', doc: 'how much xlnetd logs',
  },
  {
    // Each split flow holds two sockets; a process may not open more than
    // fs.nr_open (1048576 by default) files, so 524288 flows is the ceiling.
    section: 'daemon', key: 'max_flows', type: 'count', default: '65536', min: '1', max: '524288',
    allowed: 'a whole number, 1..524288',
    doc: 'split connections at once across all vifs; beyond it new flows go direct (not split)',
  },
  {
    section: 'daemon', key: 'listen_port', type: 'count', default: '0', min: '1', max: '65535',
    zeroMeans: 'pick a free port', allowed: '0 (pick a free port) or a port, 1..65535',
    doc: 'the TPROXY listener port',
  },
  // [defaults]
  {
    section: 'defaults', key: 'profile', type: 'profile-ref', default: 'default',
    allowed: 'the name of a [profile NAME] section (or the built-in `default`)',
    doc: 'profile used by `localack=1` and `localack=required`',
  },
  {
    section: 'defaults', key: 'required', type: 'bool', default: 'no', allowed: 'yes or no',
    doc: 'yes: if xlnet cannot attach to a vif, fail the vif\'s hotplug (the guest gets no network rather than an unsplit one)',
  },
  // [profile NAME]
  {
    section: 'profile', key: 'engine', type: 'enum', default: 'auto', values: ['user', 'kernel', 'auto'],
    allowed: 'user, kernel or auto',
    doc: 'relay engine: user = bounded copy in xlnetd, kernel = BPF sockmap splice, auto = the one that measured faster (user)',
  },
  {
    section: 'profile', key: 'buffer', type: 'size', default: '4m', min: '64k', max: '1g',
    allowed: 'bytes with k, m or g suffix, 64k..1g',
    doc: 'relay buffer bound per connection per direction: data acknowledged to the sender but not yet sent on',
  },
  {
    section: 'profile', key: 'idle_timeout', type: 'duration', default: '1h', min: '1s', max: '30d',
    zeroMeans: 'never', allowed: '0 (never) or a duration with s, m, h or d suffix, 1s..30d',
    doc: 'close a split connection after this long without data',
  },
  {
    section: 'profile', key: 'connect_timeout', type: 'duration', default: '30s', min: '1s', max: '10m',
    allowed: 'a duration with s, m or h suffix, 1s..10m',
    doc: 'give up connecting the WAN leg after this long (the guest then sees a reset)',
  },
  {
    section: 'profile', key: 'keepalive', type: 'bool', default: 'yes', allowed: 'yes or no',
    doc: 'TCP keepalive on both legs, so dead peers do not pin relay buffers forever',
  },
  {
    section: 'profile', key: 'keepalive_idle', type: 'duration', default: '60s', min: '1s', max: '32767s',
    allowed: 'a duration with s, m or h suffix, 1s..32767s (Linux TCP_KEEPIDLE limit)',
    doc: 'idle time before the first keepalive probe',
  },
  {
    section: 'profile', key: 'keepalive_interval', type: 'duration', default: '10s', min: '1s', max: '32767s',
    allowed: 'a duration with s, m or h suffix, 1s..32767s (Linux TCP_KEEPINTVL limit)',
    doc: 'time between keepalive probes',
  },
  {
    section: 'profile', key: 'keepalive_count', type: 'count', default: '6', min: '1', max: '127',
    allowed: 'a whole number, 1..127 (Linux TCP_KEEPCNT limit)',
    doc: 'unanswered probes before the connection is dropped',
  },
  {
    section: 'profile', key: 'guest_cc', type: 'cc', default: 'cubic',
    allowed: 'a congestion control name (a-z, 0-9, _; at most 15 characters), e.g. cubic, reno, bbr',
    doc: 'congestion control on the guest leg (Dom0 <-> guest)',
  },
  {
    section: 'profile', key: 'guest_sndbuf', type: 'size', default: '0', min: '4k', max: '1g',
    zeroMeans: 'kernel autotuning', allowed: '0 (kernel autotuning) or bytes with k, m or g suffix, 4k..1g',
    doc: 'SO_SNDBUF of the guest-leg socket; a fixed size turns autotuning off',
  },
  {
    section: 'profile', key: 'guest_rcvbuf', type: 'size', default: '0', min: '4k', max: '1g',
    zeroMeans: 'kernel autotuning', allowed: '0 (kernel autotuning) or bytes with k, m or g suffix, 4k..1g',
    doc: 'SO_RCVBUF of the guest-leg socket; a fixed size turns autotuning off',
  },
  {
    section: 'profile', key: 'guest_nodelay', type: 'bool', default: 'yes', allowed: 'yes or no',
    doc: 'TCP_NODELAY on the guest leg',
  },
  {
    section: 'profile', key: 'wan_cc', type: 'cc', default: 'bbr',
    allowed: 'a congestion control name (a-z, 0-9, _; at most 15 characters), e.g. cubic, reno, bbr',
    doc: 'congestion control on the WAN leg',
  },
  {
    section: 'profile', key: 'wan_sndbuf', type: 'size', default: '0', min: '4k', max: '1g',
    zeroMeans: 'kernel autotuning', allowed: '0 (kernel autotuning) or bytes with k, m or g suffix, 4k..1g',
    doc: 'SO_SNDBUF of the WAN-leg socket; must hold one bandwidth-delay product for full speed',
  },
  {
    section: 'profile', key: 'wan_rcvbuf', type: 'size', default: '0', min: '4k', max: '1g',
    zeroMeans: 'kernel autotuning', allowed: '0 (kernel autotuning) or bytes with k, m or g suffix, 4k..1g',
    doc: 'SO_RCVBUF of the WAN-leg socket; must hold one bandwidth-delay product for full speed',
  },
  {
    section: 'profile', key: 'wan_nodelay', type: 'bool', default: 'yes', allowed: 'yes or no',
    doc: 'TCP_NODELAY on the WAN leg',
  },
  {
    section: 'profile', key: 'wan_notsent_lowat', type: 'size', default: '0', min: '1', max: '1g',
    zeroMeans: 'unset', allowed: '0 (unset) or bytes with k, m or g suffix, 1..1g',
    doc: 'TCP_NOTSENT_LOWAT on the WAN leg: keep unsent data in the relay buffer, not the socket',
  },
  {
    // TCP_BPF_IW has no upper bound in the kernel; 1000 segments (~1.4 MB
    // in the first round trip) is already a burst no sane path absorbs.
    section: 'profile', key: 'wan_initcwnd', type: 'count', default: '0', min: '1', max: '1000',
    zeroMeans: 'kernel default', allowed: '0 (kernel default, 10) or segments, 1..1000',
    doc: 'initial congestion window of the WAN leg in segments (set by the BPF sockops program)',
  },
  {
    section: 'profile', key: 'exclude_ports', type: 'ports', default: '22',
    allowed: 'a comma list of ports or ranges, e.g. 22,5900-5999 (empty: none)',
    doc: 'destination ports never split (interactive protocols gain nothing from it)',
  },
  {
    section: 'profile', key: 'exclude_cidrs', type: 'cidrs', default: '',
    allowed: 'a comma list of IPv4/IPv6 addresses or CIDRs, e.g. 10.0.0.0/8,fd00::/8 (empty: none)',
    doc: 'destination networks never split',
  },
  // [domain NAME]
  {
    section: 'domain', key: 'localack', type: 'localack', default: '1',
    allowed: '0, 1, required or a profile name',
    doc: '0 = off, 1 = on with [defaults] profile, required = on and fail the hotplug if it cannot attach, NAME = on with that profile',
  },
  {
    section: 'domain', key: 'vifs', type: 'devids', default: 'all',
    allowed: '`all` or a comma list of vif devids, e.g. 0,1',
    doc: 'which of the domain\'s vifs the rule covers',
  },
] as const satisfies readonly KeySpec[];

export type SchemaEntry = (typeof SCHEMA)[number];

interface TypeOfKind {
  path: string;
  enum: string;
  bool: boolean;
  size: number;
  duration: number;
  count: number;
  cc: string;
  ports: PortRange[];
  cidrs: Cidr[];
  'profile-ref': string;
  localack: string;
  devids: 'all' | number[];
}

type ValueOf<K extends SchemaEntry> = K extends { type: 'enum'; values: readonly (infer V)[] }
  ? V
  : TypeOfKind[K['type']];

/** The parsed settings of one section: key name -> typed value. */
export type SettingsOf<S extends SectionKind> = {
  [K in Extract<SchemaEntry, { section: S }> as K['key']]: ValueOf<K>;
};

export type DaemonSettings = SettingsOf<'daemon'>;
export type Defaults = SettingsOf<'defaults'>;
export type ProfileSettings = SettingsOf<'profile'>;
export type ProfileKey = keyof ProfileSettings;
export type Profile = { name: string } & ProfileSettings;
export type LogLevel = DaemonSettings['log_level'];
export type Engine = ProfileSettings['engine'];

export interface DomainRule {
  /** xl domain name, or a glob with `*` and `?`. */
  pattern: string;
  /** 0|1|required|<profile name>, checked against the profiles. */
  localack: string;
  vifs: 'all' | number[];
  /** Line of the [domain NAME] header, when it came from a file. */
  line?: number;
}

export const SECTION_KINDS: readonly SectionKind[] = ['daemon', 'defaults', 'profile', 'domain'];

export function keysOf(section: SectionKind): readonly KeySpec[] {
  return SCHEMA.filter((k) => k.section === section);
}

export function keySpec(section: SectionKind, key: string): KeySpec | undefined {
  return SCHEMA.find((k) => k.section === section && k.key === key);
}

/** Profile and domain names: also used in xenstore keys and nft set names. */
export const NAME_RE = /^[A-Za-z0-9_-]{1,32}$/;

/** localack values with a meaning of their own; they cannot name a profile. */
export const RESERVED_PROFILE_NAMES: readonly string[] = ['0', '1', 'required'];

/**
 * Words the patched xl refuses as localack values (any case), so that
 * `localack=yes` is not silently a profile called "yes"; they cannot name a
 * profile either. Same list as check_vif_localack() in libxl-patch 0003.
 */
export const BOOLEAN_WORDS: readonly string[] = ['yes', 'no', 'true', 'false', 'on', 'off', 'y', 'n'];

export function isBooleanWord(v: string): boolean {
  return BOOLEAN_WORDS.includes(v.toLowerCase());
}
