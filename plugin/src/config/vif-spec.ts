// xl vif specs (`vif = [ 'bridge=xenbr0,mac=...,localack=1' ]`) read the way
// Xen 4.17's xl does (tools/xl/xl_parse.c: the vif loop in
// parse_config_data, parse_nic_config, parse_vif_rate), plus `localack`, our
// extension understood by the patched xl, and `xlnet check`'s per-vif verdict
// on how (and whether) xlnet would serve each vif.
//
// xl's rules mirrored here: the entry is split on `,` like strtok (empty
// tokens vanish, so a value can never contain a comma); only leading SPACES
// (not tabs) are skipped; a key matches as the prefix `key=` (so `mac = x`
// with spaces is not `mac`); later keys overwrite earlier ones; trailing
// spaces stay part of a value; `trusted`/`untrusted` are bare words; an
// unknown key prints ``unrecognized argument `foo=1'`` and is dropped while
// the domain still starts; devid/mtu/rate errors make xl exit.
//
// One file (just over 400 lines): the parser and the verdict read the same
// per-key table, and the parser follows xl's single loop step by step.
import { ConfigError } from './config-error.js';
import { isBooleanWord } from './schema.js';
import { parseVifRate, type VifRate } from './vif-rate.js';
import { MAX_IFNAME_BYTES } from './vif-name.js';
import { XlConfigError, parseXlDomainConfig } from './xl-cfg.js';
import { domainRuleFor, domainRuleForName, resolveLocalack, type XlnetConfig } from './xlnet-conf.js';

export { parseXlDomainConfig, XlConfigError } from './xl-cfg.js';
export type { XlDomainConfig } from './xl-cfg.js';

const COLO_KEYS = [
  'colo_sock_mirror_id', 'colo_sock_mirror_ip', 'colo_sock_mirror_port',
  'colo_sock_compare_sec_in_id', 'colo_sock_compare_sec_in_ip', 'colo_sock_compare_sec_in_port',
  'colo_sock_redirector0_id', 'colo_sock_redirector0_ip', 'colo_sock_redirector0_port',
  'colo_sock_redirector1_id', 'colo_sock_redirector1_ip', 'colo_sock_redirector1_port',
  'colo_sock_redirector2_id', 'colo_sock_redirector2_ip', 'colo_sock_redirector2_port',
  'colo_sock_compare_pri_in_id', 'colo_sock_compare_pri_in_ip', 'colo_sock_compare_pri_in_port',
  'colo_sock_compare_notify_id', 'colo_sock_compare_notify_ip', 'colo_sock_compare_notify_port',
  'colo_filter_mirror_queue', 'colo_filter_mirror_outdev',
  'colo_filter_redirector0_queue', 'colo_filter_redirector0_indev', 'colo_filter_redirector0_outdev',
  'colo_filter_redirector1_queue', 'colo_filter_redirector1_indev', 'colo_filter_redirector1_outdev',
  'colo_compare_pri_in', 'colo_compare_sec_in', 'colo_compare_out', 'colo_compare_notify_dev',
  'colo_sock_sec_redirector0_id', 'colo_sock_sec_redirector0_ip', 'colo_sock_sec_redirector0_port',
  'colo_sock_sec_redirector1_id', 'colo_sock_sec_redirector1_ip', 'colo_sock_sec_redirector1_port',
  'colo_filter_sec_redirector0_queue', 'colo_filter_sec_redirector0_indev', 'colo_filter_sec_redirector0_outdev',
  'colo_filter_sec_redirector1_queue', 'colo_filter_sec_redirector1_indev', 'colo_filter_sec_redirector1_outdev',
  'colo_filter_sec_rewriter0_queue', 'colo_checkpoint_host', 'colo_checkpoint_port',
] as const;

/** Every `key=` parse_nic_config knows in 4.17, in its order. */
export const XL_VIF_KEYS: readonly string[] = [
  'type', 'mac', 'bridge', 'netdev', 'gatewaydev', 'ip', 'script', 'backend', 'vifname', 'model', 'rate',
  'forwarddev', ...COLO_KEYS, 'accel', 'devid', 'mtu',
];

/** Linux IFNAMSIZ is 16 bytes including the NUL. */
/** libxl keeps devids and MTUs in C ints / unsigned ints. */
const INT_MAX = 2147483647;
const UINT_MAX = 4294967295;

export interface VifSpec {
  /** The list index, or the value of `devid=`. */
  devid: number;
  /** Recognised `key=value` settings, last one wins (like xl). */
  keys: Record<string, string>;
  localack?: string;
  script?: string;
  bridge?: string;
  mac?: string;
  ip?: string;
  gatewaydev?: string;
  vifname?: string;
  type?: 'vif' | 'ioemu';
  mtu?: number;
  rate?: VifRate;
  trusted?: boolean;
  /** Tokens xl drops with ``unrecognized argument `...'``. */
  unrecognized: string[];
  /** xl's own warnings (same text) and ours; the domain still starts. */
  warnings: string[];
  /** xl exits, or the vif cannot work as written. */
  errors: string[];
}

export interface VifParseOptions {
  /** true (default): xl carries the localack patch and knows `localack=`. */
  patchedXl?: boolean;
}

export function parseVifSpec(spec: string, devid: number, opts: VifParseOptions = {}): VifSpec {
  const patched = opts.patchedXl ?? true;
  const out: VifSpec = { devid, keys: {}, unrecognized: [], warnings: [], errors: [] };
  const seen = new Set<string>();
  for (const raw of spec.split(',')) {
    if (raw === '') continue; // strtok: empty tokens vanish
    const token = raw.replace(/^ +/, '');
    if (token === 'trusted' || token === 'untrusted') {
      out.trusted = token === 'trusted';
      continue;
    }
    const known = [...XL_VIF_KEYS, ...(patched ? ['localack'] : [])];
    const key = known.find((k) => token.startsWith(`${k}=`));
    if (key === undefined) {
      out.unrecognized.push(token);
      out.warnings.push(`unrecognized argument \`${token}'`);
      continue;
    }
    const value = token.slice(key.length + 1);
    if (seen.has(key)) out.warnings.push(`\`${key}' given more than once; xl uses the last: \`${value}'`);
    seen.add(key);
    out.keys[key] = value;
    if (value !== value.trimEnd()) {
      out.warnings.push(`\`${key}=${value}': the value ends in whitespace, which xl keeps as part of it`);
    }
    applyKey(out, key, value);
  }
  return out;
}

function applyKey(out: VifSpec, key: string, value: string): void {
  switch (key) {
    case 'type':
      if (value === 'vif' || value === 'ioemu') out.type = value;
      else out.warnings.push("Invalid parameter `type'.");
      return;
    case 'mac': {
      const mac = parseXlMac(value);
      if ('error' in mac) out.errors.push(mac.error);
      else {
        out.mac = mac.mac;
        if (mac.ignored) out.warnings.push(`mac: xl ignores \`${mac.ignored}' after the sixth byte`);
        if (parseInt(mac.mac.slice(0, 2), 16) & 1) out.warnings.push(`mac ${mac.mac} is a multicast address; guests cannot use it`);
      }
      return;
    }
    case 'netdev':
      out.warnings.push('the netdev parameter is deprecated, please use gatewaydev instead');
      out.gatewaydev = value;
      return;
    case 'gatewaydev': out.gatewaydev = value; return;
    case 'bridge': out.bridge = value; nonEmpty(out, key, value); return;
    case 'script': out.script = value; nonEmpty(out, key, value); return;
    case 'ip': out.ip = value; return;
    case 'vifname':
      out.vifname = value;
      if (Buffer.byteLength(value) > MAX_IFNAME_BYTES) {
        out.warnings.push(`vifname \`${value}' is longer than ${MAX_IFNAME_BYTES} characters; Linux cannot name an interface so`);
      }
      return;
    case 'rate': {
      const r = parseVifRate(value);
      if ('error' in r) out.errors.push(r.error);
      else out.rate = r;
      return;
    }
    case 'accel':
      out.warnings.push('the accel parameter for vifs is currently not supported');
      return;
    case 'devid': {
      const n = parseXlUlong(value, INT_MAX, out);
      if (n !== undefined) out.devid = n;
      return;
    }
    case 'mtu': {
      const n = parseXlUlong(value, UINT_MAX, out);
      if (n !== undefined) out.mtu = n;
      return;
    }
    case 'localack': {
      // The patched xl exits on a bad value (like a bad rate=).
      const problem = patchedXlLocalackProblem(value);
      if (problem) out.errors.push(problem);
      else out.localack = value;
      return;
    }
    default:
      return; // model, backend, forwarddev, colo_*: taken as they are
  }
}

const LOCALACK_ALLOWED = 'allowed are 0, 1, required or a profile name of 1-32 characters from A-Z a-z 0-9 _ -';
const LOCALACK_MAX = 32;

/** check_vif_localack() of the patched xl (libxl-patch 0003), same messages. */
function patchedXlLocalackProblem(val: string): string | undefined {
  const bytes = Buffer.from(val, 'utf8');
  if (bytes.length === 0) return `Invalid localack value \`': it is empty; ${LOCALACK_ALLOWED}`;
  if (bytes.length > LOCALACK_MAX) {
    return `Invalid localack value \`${val}': it is longer than ${LOCALACK_MAX} characters; ${LOCALACK_ALLOWED}`;
  }
  for (const c of bytes) {
    const ch = String.fromCharCode(c);
    if (/[A-Za-z0-9_-]/.test(ch)) continue;
    return c >= 0x20 && c < 0x7f
      ? `Invalid localack value \`${val}': character \`${ch}' is not allowed; ${LOCALACK_ALLOWED}`
      : `Invalid localack value \`${val}': byte 0x${c.toString(16).padStart(2, '0')} is not allowed; ${LOCALACK_ALLOWED}`;
  }
  if (isBooleanWord(val)) return `Invalid localack value \`${val}': use 1 to enable or 0 to disable; ${LOCALACK_ALLOWED}`;
  return undefined;
}

function nonEmpty(out: VifSpec, key: string, value: string): void {
  if (value.trim() === '') out.warnings.push(`\`${key}=' is empty; libxl would use it as given`);
}

/**
 * parse_ulong(): strtoul base 10, fatal when nothing converts or the result
 * is ULONG_MAX (so `-1`); trailing text is silently ignored.
 */
function parseXlUlong(value: string, max: number, out: VifSpec): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?)(\d+)/.exec(value);
  if (!m) {
    out.errors.push(`xl: failed to convert "${value}" to number`);
    return undefined;
  }
  const n = Number(m[2]);
  // strtoul negates: "-1" is ULONG_MAX (fatal), "-2" a huge number xl wraps.
  if (m[1] === '-' && n === 1) {
    out.errors.push(`xl: failed to convert "${value}" to number`);
    return undefined;
  }
  if ((m[1] === '-' && n !== 0) || n > max) {
    out.errors.push(`\`${value}' is out of range 0..${max}; xl would wrap it`);
    return undefined;
  }
  if (m[0].length < value.length) out.warnings.push(`xl reads \`${value}' as ${n} and ignores \`${value.slice(m[0].length)}'`);
  return n;
}

/**
 * The mac loop of parse_nic_config: six times strtoul(base 16), each byte
 * <= 255, skipping exactly one character (any) after each. Separators are
 * not checked and text after the sixth byte is ignored.
 */
export function parseXlMac(value: string): { mac: string; ignored: string } | { error: string } {
  const bytes: number[] = [];
  let p = 0;
  for (let i = 0; i < 6; i++) {
    if (p > value.length) {
      // xl would read past the end of the value into whatever follows.
      return { error: `Invalid parameter \`mac': \`${value}' has ${i} of 6 bytes` };
    }
    const m = /^[ \t\n\v\f\r]*([+-]?)(?:0[xX](?=[0-9a-fA-F]))?([0-9a-fA-F]+)/.exec(value.slice(p));
    if (!m) return { error: "Invalid parameter `mac'." };
    const v = parseInt(m[2], 16);
    if (m[1] === '-' ? v !== 0 : v > 255) return { error: "Invalid parameter `mac'." };
    bytes.push(v);
    p += m[0].length + 1;
  }
  const mac = bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
  return { mac, ignored: value.slice(p) };
}

export type VifMode = 'bridge' | 'route' | 'other';
export type Activation = 'localack-key' | 'script' | 'domain-rule' | 'none';

export interface VifCheck {
  /** Position in the vif list. */
  index: number;
  devid: number;
  line?: number;
  spec: string;
  bridge: string;
  /** Effective script (xl.conf default or libxl's vif-bridge when not given). */
  script: string;
  mode: VifMode;
  /** How xlnet would be turned on for this vif. */
  activation: Activation;
  enabled: boolean;
  required: boolean;
  profile?: string;
  warnings: string[];
  errors: string[];
}

export interface CheckReport {
  file: string;
  name?: string;
  vifs: VifCheck[];
  /** Problems not tied to one vif. */
  warnings: string[];
  errors: string[];
  /** No errors anywhere. */
  ok: boolean;
}

export interface CheckOptions {
  /** xl carries the localack patch (`localack=` reaches the backend). */
  patchedXl: boolean;
  /** vif.default.script / vif.default.bridge from /etc/xen/xl.conf, if set. */
  xlDefaults?: { script?: string; bridge?: string };
}

const LIBXL_DEFAULT_SCRIPT = 'vif-bridge';
const LIBXL_DEFAULT_BRIDGE = 'xenbr0';
const LOCALACK_SCRIPT = 'vif-localack';
/** The same script installed under this name runs vif-route (hotplug-scripts/README.md). */
const LOCALACK_ROUTE_SCRIPT = 'vif-localack-route';

function isLocalackScript(script: string): boolean {
  const base = script.slice(script.lastIndexOf('/') + 1);
  return base === LOCALACK_SCRIPT || base === LOCALACK_ROUTE_SCRIPT;
}

function scriptMode(script: string): VifMode {
  const base = script.slice(script.lastIndexOf('/') + 1);
  if (base === 'vif-bridge' || base === LOCALACK_SCRIPT) return 'bridge';
  if (base === 'vif-route' || base === LOCALACK_ROUTE_SCRIPT) return 'route';
  return 'other';
}

/** What `xlnet check guest.cfg` reports: per vif, whether and how xlnet serves it. */
export function checkDomainConfig(text: string, file: string, cfg: XlnetConfig, opts: CheckOptions): CheckReport {
  const report: CheckReport = { file, vifs: [], warnings: [], errors: [], ok: false };
  let dom;
  try {
    dom = parseXlDomainConfig(text, file);
  } catch (e) {
    if (!(e instanceof XlConfigError)) throw e;
    report.errors.push(...e.problems.map((p) => `${file}:${p.line}: ${p.message}`));
    return report;
  }
  report.name = dom.name;
  report.warnings.push(...dom.warnings);
  if (dom.name === undefined) report.errors.push(`${file}: no \`name = "..."' (xl: Domain name must be specified.)`);
  if (dom.vifs.length === 0) report.warnings.push(`${file}: no vif = [ ... ] list: the domain has no network interfaces`);

  const byDevid = new Map<number, number>();
  dom.vifs.forEach((spec, index) => {
    const v = checkVif(spec, index, dom.vifLines[index], dom.name, cfg, opts, file);
    const other = byDevid.get(v.devid);
    if (other !== undefined) v.errors.push(`devid ${v.devid} is also used by vif entry ${other}; libxl cannot add both`);
    byDevid.set(v.devid, index);
    report.vifs.push(v);
  });
  report.ok = report.errors.length === 0 && report.vifs.every((v) => v.errors.length === 0);
  return report;
}

function checkVif(
  spec: string,
  index: number,
  line: number | undefined,
  domainName: string | undefined,
  cfg: XlnetConfig,
  opts: CheckOptions,
  file: string,
): VifCheck {
  const parsed = parseVifSpec(spec, index, { patchedXl: opts.patchedXl });
  const script = parsed.script ?? opts.xlDefaults?.script ?? LIBXL_DEFAULT_SCRIPT;
  const v: VifCheck = {
    index,
    devid: parsed.devid,
    line,
    spec,
    bridge: parsed.bridge ?? opts.xlDefaults?.bridge ?? LIBXL_DEFAULT_BRIDGE,
    script,
    mode: scriptMode(script),
    activation: 'none',
    enabled: false,
    required: false,
    warnings: [...parsed.warnings],
    errors: [...parsed.errors],
  };
  const resolve = (value: string, origin: Parameters<typeof resolveLocalack>[2]): void => {
    try {
      const r = resolveLocalack(value, cfg, origin);
      v.enabled = r.enabled;
      v.required = r.required;
      v.profile = r.profile;
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      v.errors.push(e.message);
    }
  };
  const rule = domainName === undefined ? undefined : domainRuleFor(cfg, domainName, v.devid);
  const ruleOrigin = (): Parameters<typeof resolveLocalack>[2] =>
    ({ file: cfg.source, line: rule?.line, section: `domain ${rule?.pattern}`, key: 'localack' });

  const dropped = parsed.unrecognized.find((t) => t.startsWith('localack='));
  if (dropped !== undefined) {
    v.warnings.push(
      `\`${dropped}' has no effect with stock xl (it is dropped); use script=${LOCALACK_SCRIPT}, ` +
        `a [domain ${domainName ?? 'NAME'}] section in ${cfg.file}, or the patched xl`,
    );
  }

  if (parsed.localack !== undefined) {
    v.activation = 'localack-key';
    resolve(parsed.localack, { file, line, key: `vif ${index} localack` });
  } else if (isLocalackScript(script)) {
    v.activation = 'script';
    if (rule && rule.localack === '0') {
      v.warnings.push(`script=${LOCALACK_SCRIPT} turns xlnet on although [domain ${rule.pattern}] says localack = 0; the script wins`);
    }
    if (rule && rule.localack !== '0') resolve(rule.localack, ruleOrigin());
    else resolve('1', { file: cfg.source });
  } else if (rule) {
    v.activation = 'domain-rule';
    resolve(rule.localack, ruleOrigin());
  } else if (domainName !== undefined && domainRuleForName(cfg, domainName)) {
    const r = domainRuleForName(cfg, domainName);
    v.warnings.push(`[domain ${r?.pattern}] matches this domain but not devid ${v.devid} (vifs = ${String(r?.vifs)})`);
  }

  if (v.enabled && v.mode === 'other') {
    const msg = `xlnet supports vif-bridge and vif-route setups, not script ${script}`;
    if (v.required) v.errors.push(`${msg}; localack is required, so the hotplug would fail`);
    else v.warnings.push(`${msg}; the vif would run unsplit`);
  }
  return v;
}
