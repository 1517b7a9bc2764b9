// The comparator of shared/docs/benchmarks.md: HAProxy (Debian's package) as a
// generic transparent split-TCP proxy in the lab's Dom0, in place of xlnetd.
//
// Steering follows xlnet's own pattern (plugin/src/steering/rules.ts,
// shared/docs/platform.md) in a table of its own (`xbench`):
//   - bridge prerouting (-300): a guest's SYN to the remote's transfer port,
//     from one of the steered vifs, is remembered in a flow set; its frames
//     and every later frame of a remembered flow get the bridge's MAC,
//     pkttype host and a mark, so they leave the bridge for IP;
//   - the remote's replies to HAProxy's spoofed upstream sockets (usesrc
//     clientip: they are addressed to the guest's IP, from a port HAProxy
//     picked, so xlnet's exact-tuple match cannot find them) are diverted the
//     same way: only from the uplink, only from the remote's transfer port,
//     only to the steered guests' addresses (all of whose connections to that
//     port are split);
//   - inet prerouting: packets of transparent sockets are marked for local
//     delivery, new diverted connections go to HAProxy's port (TPROXY);
//   - policy routing: marked packets are delivered locally, except Dom0's own
//     (the accepted socket carries the SYN's mark: tcp_fwmark_accept).
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { NET, XFER_PORT, type Lab } from '../lab.js';
import { run, sh } from '../exec.js';

export const HAPROXY_TABLE = 'xbench';
export const HAPROXY_PORT = 7440;
/** fwmark of diverted packets: 0x5842 ("XB") in the upper half, distinct from xlnet's 0x584e */
const MARK = 0x58420000;
const MARK_NEW = MARK | 1;
const ROUTE_TABLE = 0x5842;
const RULE_PRIORITY = 9100;

const hex = (n: number) => `0x${n.toString(16)}`;

export interface SteeredGuest { vif: string; ip4: string }

export function steeringRules(guests: SteeredGuest[], bridgeMac = NET.bridgeMac, port = HAPROXY_PORT): string {
  const t = HAPROXY_TABLE;
  const ifs = `{ ${guests.map((g) => `"${g.vif}"`).join(', ')} }`;
  const ips = `{ ${guests.map((g) => g.ip4).join(', ')} }`;
  const tuple = 'ip saddr . tcp sport . ip daddr . tcp dport';
  const divert = (mark: number) => `ether daddr set ${bridgeMac} meta pkttype set host meta mark set ${hex(mark)} accept`;
  return [
    `table bridge ${t} {`,
    `  set flows4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; size 65536; flags dynamic,timeout; timeout 1h; }`,
    `  chain pre {`,
    `    type filter hook prerouting priority -300; policy accept;`,
    `    iifname ${ifs} meta l4proto tcp ${tuple} @flows4 update @flows4 { ${tuple} } ${divert(MARK_NEW)}`,
    `    iifname ${ifs} meta l4proto tcp tcp flags syn / syn,ack ip daddr ${NET.remote4} tcp dport ${XFER_PORT} update @flows4 { ${tuple} } ${divert(MARK_NEW)}`,
    `    iifname "uplink0" ip daddr ${ips} ip saddr ${NET.remote4} tcp sport ${XFER_PORT} ${divert(MARK)}`,
    `  }`,
    `}`,
    `table inet ${t} {`,
    `  chain pre {`,
    `    type filter hook prerouting priority mangle; policy accept;`,
    `    meta l4proto tcp socket transparent 1 meta mark set ${hex(MARK)} accept`,
    `    meta mark ${hex(MARK_NEW)} meta nfproto ipv4 meta l4proto tcp tproxy ip to 127.0.0.1:${port} accept`,
    `  }`,
    `}`,
  ].join('\n');
}

const ipRules = [
  ['iif', 'lo', 'fwmark', `${hex(MARK)}/0xffff0000`, 'lookup', 'main', 'priority', String(RULE_PRIORITY - 1)],
  ['fwmark', `${hex(MARK)}/0xffff0000`, 'lookup', String(ROUTE_TABLE), 'priority', String(RULE_PRIORITY)],
];

export function haproxyConfig(port: number, statsSocket: string): string {
  // Stock settings except what transparency needs; TCP mode forwards half-closes.
  return `global
  # the soft fd limit here is 20000; haproxy needs ~2 fds per connection
  maxconn 8000
  stats socket ${statsSocket} mode 600 level admin

defaults
  mode tcp
  timeout connect 60s
  timeout client 1h
  timeout server 1h

frontend split
  bind 127.0.0.1:${port} transparent
  default_backend original_destination

backend original_destination
  # connect from the guest's own address, to the address and port the guest asked for
  source 0.0.0.0 usesrc clientip
  server orig 0.0.0.0
`;
}

export interface HaproxyHandle {
  pid: number;
  statsSocket: string;
  config: string;
  /** connections the frontend has accepted so far */
  sessions(): Promise<number>;
  stop(): Promise<void>;
}

/** Installs the steering for `vifs` in the lab's Dom0 and starts HAProxy there. */
export async function startHaproxy(lab: Lab, guests: SteeredGuest[], port = HAPROXY_PORT): Promise<HaproxyHandle> {
  const dom0 = lab.ns.dom0;
  const statsSocket = join(lab.dir, 'haproxy.sock');
  const cfgPath = join(lab.dir, 'haproxy.cfg');
  const config = haproxyConfig(port, statsSocket);
  writeFileSync(cfgPath, config);
  const rules = steeringRules(guests, NET.bridgeMac, port);
  await removeSteering(lab);
  await run(['nft', '-f', '-'], { ns: dom0, input: rules });
  for (const r of ipRules) await run(['ip', '-4', 'rule', 'add', ...r], { ns: dom0 });
  await run(['ip', '-4', 'route', 'add', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', String(ROUTE_TABLE)], { ns: dom0 });
  await sh(`sysctl -qw net.ipv4.tcp_fwmark_accept=1`, { ns: dom0 });
  // -db: foreground, no daemon mode, so the lab owns the process (its pid file makes `lab down` stop it)
  const pid = await lab.serve('haproxy', dom0, ['haproxy', '-db', '-f', cfgPath], port);
  return {
    pid, statsSocket, config,
    sessions: async () => {
      const csv = await statsCommand(statsSocket, 'show stat\n');
      const lines = csv.split('\n');
      const head = lines[0]!.replace(/^# /, '').split(',');
      const row = lines.find((l) => l.startsWith('split,FRONTEND,'));
      if (!row) throw new Error(`HAProxy's stats have no 'split' frontend:\n${csv.slice(0, 500)}`);
      return Number(row.split(',')[head.indexOf('stot')]);
    },
    stop: async () => {
      await run(['kill', String(pid)], { allowFail: true });
      await removeSteering(lab);
    },
  };
}

/** Removes the tables, rules and route of the comparator (idempotent). */
export async function removeSteering(lab: Lab): Promise<void> {
  const dom0 = lab.ns.dom0;
  for (const fam of ['bridge', 'inet']) await run(['nft', 'delete', 'table', fam, HAPROXY_TABLE], { ns: dom0, allowFail: true });
  for (const r of ipRules) {
    for (let i = 0; i < 10; i++) {
      const res = await run(['ip', '-4', 'rule', 'del', ...r], { ns: dom0, allowFail: true });
      if (res.code !== 0) break;
    }
  }
  await run(['ip', '-4', 'route', 'flush', 'table', String(ROUTE_TABLE)], { ns: dom0, allowFail: true });
}

function statsCommand(path: string, cmd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(path);
    let out = '';
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`HAProxy's stats socket ${path} did not answer`)); }, 5000);
    s.setEncoding('utf8');
    s.on('connect', () => s.write(cmd));
    s.on('data', (d: string) => { out += d; });
    s.on('end', () => { clearTimeout(timer); resolve(out); });
    s.on('error', (e) => { clearTimeout(timer); reject(new Error(`HAProxy's stats socket ${path}: ${e.message}`)); });
  });
}
