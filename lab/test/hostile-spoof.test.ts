// Hostile guests against the steering: a guest that forges its source address
// must not be able to divert, break or borrow another guest's connections.
//
//   guest 1 (A)  bridged, attached     the attacker
//   guest 5 (E)  routed, attached      a second attacker
//   guest 2 (B)  bridged, not attached
//   guest 3 (C)  bridged, attached, with port 7017 excluded (its connections there stay direct)
//   guest 4 (D)  routed, not attached
//
// The attackers forge SYNs with lab/synspray (a raw socket: Xen filters no
// source address on a bridged vif, and none that xlnet's diversion sees on a
// routed one). What each case checks is the victim's own view: its
// connections keep their bytes flowing, IPv4 and IPv6.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, NET, REPO, type Guest } from '../lab.js';
import { run, sh, sleep } from '../exec.js';
import { controller } from './support.js';
import type { AttachmentInfo } from '../../plugin/src/daemon/protocol.js';

const SYNSPRAY = join(REPO, 'lab/synspray/build/synspray');
const ECHO = 7007;
/** a port guest C's profile excludes: its connections there are never split */
const EXCLUDED = 7017;
/** the ephemeral ports of the victims, narrowed so that a sweep of all of them is quick */
const EPHEMERAL: [number, number] = [45000, 45999];

let lab: Lab;
let socket = '';
const ctl = controller(() => socket);
let A: Guest, B: Guest, C: Guest, D: Guest, E: Guest;

test.before(async () => {
  try {
    if (!existsSync(SYNSPRAY)) throw new Error(`${SYNSPRAY} is not built (make build-lab)`);
    lab = await Lab.up({ prefix: 'hs', link: 'lan' });
    A = await lab.addGuest({ domid: 1 });
    B = await lab.addGuest({ domid: 2 });
    C = await lab.addGuest({ domid: 3 });
    D = await lab.addGuest({ domid: 4, mode: 'route' });
    E = await lab.addGuest({ domid: 5, mode: 'route' });
    for (const port of [ECHO, EXCLUDED]) {
      await lab.serve(`echo-${port}`, lab.ns.remote, ['node', join(REPO, 'lab/tools/probe.mjs'), 'serve-echo', String(port)], port);
    }
    socket = (await lab.startDaemon(`[daemon]\nlog_level = debug\n[profile spared]\nexclude_ports = 22,${EXCLUDED}\n`)).socket;
    await ctl({ op: 'attach', vif: A.vif });
    await ctl({ op: 'attach', vif: C.vif, profile: 'spared' });
    await ctl({ op: 'attach', vif: E.vif });
    for (const g of [B, C, D]) {
      await run(['sysctl', '-qw', `net.ipv4.ip_local_port_range=${EPHEMERAL[0]} ${EPHEMERAL[1]}`], { ns: g.ns });
    }
  } catch (e) { console.error('setup failed:', e); throw e; }
});

test.after(async () => { await lab?.down(); });

const remote = (v6: boolean) => (v6 ? NET.remote6 : NET.remote4);
const addr = (g: Guest, v6: boolean) => (v6 ? g.ip6 : g.ip4);

/** The attacker sends SYNs from `src` (not its own address) on source ports from..to towards dst:dport. */
async function spray(attacker: Guest, src: string, dst: string, dport: number, from: number, to = from): Promise<void> {
  const r = await run([SYNSPRAY, src, dst, String(dport), String(from), String(to)], { ns: attacker.ns });
  const out = JSON.parse(r.stdout.trim()) as { sent?: number; error?: string };
  assert.is(out.sent, to - from + 1, `synspray: ${r.stdout}`);
}

async function flowsTotal(g: Guest): Promise<number> {
  return (await ctl<AttachmentInfo[]>({ op: 'list' })).find((x) => x.vif === g.vif)!.flowsTotal;
}

test('a forged SYN with another guest\'s address and port leaves that guest\'s direct connection working (IPv4, IPv6)', async () => {
  // Victims' connections that are not split: an unattached bridged guest, an
  // attached guest's excluded port, an unattached routed guest.
  const victims: Array<{ g: Guest; port: number; v6: boolean; lport: number }> = [];
  let lport = 41000;
  for (const v6 of [false, true]) {
    victims.push({ g: B, port: ECHO, v6, lport: ++lport }, { g: C, port: EXCLUDED, v6, lport: ++lport }, { g: D, port: ECHO, v6, lport: ++lport });
  }
  const holds = victims.map((v) => lab.probe(v.g.ns, ['hold', remote(v.v6), String(v.port), '9', String(v.lport)], 30_000));
  await sleep(3500); // the holds are connected and have echoed a line or two
  for (const v of victims) {
    for (const attacker of [A, E]) await spray(attacker, addr(v.g, v.v6), remote(v.v6), v.port, v.lport);
  }
  const results = await Promise.all(holds);
  const broken = results.flatMap((r, i) => {
    const v = victims[i]!;
    const ok = r.error === null && (r.sent as number) >= 6 && r.echoed === r.sent;
    return ok ? [] : [`guest ${v.g.domid} ${addr(v.g, v.v6)}:${v.lport} -> ${v.port}: ${JSON.stringify(r)}`];
  });
  assert.equal(broken, [], `connections that stopped echoing:\n${broken.join('\n')}`);
});

test('a blind sweep of forged SYNs over another guest\'s ephemeral ports leaves its new connections working (IPv4, IPv6)', async () => {
  for (const v6 of [false, true]) {
    await spray(A, addr(B, v6), remote(v6), ECHO, ...EPHEMERAL);
    await spray(A, addr(D, v6), remote(v6), ECHO, ...EPHEMERAL);
    await spray(E, addr(D, v6), remote(v6), ECHO, ...EPHEMERAL);
  }
  const tries: Array<{ g: Guest; v6: boolean }> = [];
  for (const g of [B, D]) for (const v6 of [false, true]) for (let i = 0; i < 4; i++) tries.push({ g, v6 });
  const results = await Promise.all(tries.map((t, i) => lab.probe(t.g.ns, ['connect', remote(t.v6), String(ECHO), `new${i}`])));
  const failed = results.flatMap((r, i) => {
    const t = tries[i]!;
    return r.received === `new${i}` ? [] : [`guest ${t.g.domid} ${t.v6 ? 'IPv6' : 'IPv4'}: ${JSON.stringify(r)}`];
  });
  assert.equal(failed, [], `new connections that failed:\n${failed.join('\n')}`);
});

test('after a sweep of an attached guest\'s ports its new connections are still split and work (IPv4, IPv6)', async () => {
  for (const v6 of [false, true]) {
    await spray(A, addr(C, v6), remote(v6), ECHO, ...EPHEMERAL);
    await spray(E, addr(C, v6), remote(v6), ECHO, ...EPHEMERAL);
  }
  const before = await flowsTotal(C);
  const tries = [false, false, false, false, true, true, true, true];
  const results = await Promise.all(tries.map((v6, i) => lab.probe(C.ns, ['connect', remote(v6), String(ECHO), `mine${i}`])));
  const failed = results.flatMap((r, i) => (r.received === `mine${i}` ? [] : [`${tries[i] ? 'IPv6' : 'IPv4'}: ${JSON.stringify(r)}`]));
  assert.equal(failed, [], `new connections that failed:\n${failed.join('\n')}`);
  assert.is(await flowsTotal(C), before + tries.length, 'every one of them was split');
});

test('a guest that Dom0 wrongly believes at another guest\'s address (a poisoned neighbour entry) gets no split connection as that guest (IPv4, IPv6)', async () => {
  // What a forged ARP reply or neighbour advertisement leaves in Dom0: B's
  // addresses at A's MAC. The attacker holds B's addresses on its loopback
  // (so it accepts Dom0's answers to them) without answering ARP/ND for them
  // on the LAN: the gateway still reaches B at B's own MAC.
  await sh(`sysctl -qw net.ipv4.conf.all.arp_ignore=1
    ip addr add ${B.ip4}/32 dev lo
    ip -6 addr add ${B.ip6}/128 dev lo nodad`, { ns: A.ns });
  await sh(`ip neigh replace ${B.ip4} lladdr ${A.mac} dev xenbr0 nud permanent
    ip -6 neigh replace ${B.ip6} lladdr ${A.mac} dev xenbr0 nud permanent`, { ns: lab.ns.dom0 });
  try {
    const borrowed: string[] = [];
    for (const v6 of [false, true]) {
      const r = await lab.probe(A.ns, ['connect', remote(v6), String(ECHO), 'borrowed', '0', addr(B, v6)]);
      if (r.received === 'borrowed') borrowed.push(`${v6 ? 'IPv6' : 'IPv4'}: ${JSON.stringify(r)}`);
    }
    assert.equal(borrowed, [], `the attacker talked to the remote as guest 2 through Dom0:\n${borrowed.join('\n')}`);
  } finally {
    await sh(`ip neigh del ${B.ip4} dev xenbr0 || true
      ip -6 neigh del ${B.ip6} dev xenbr0 || true`, { ns: lab.ns.dom0 });
    await sh(`ip addr del ${B.ip4}/32 dev lo || true
      ip -6 addr del ${B.ip6}/128 dev lo || true`, { ns: A.ns });
  }
  // B itself still gets through afterwards.
  for (const v6 of [false, true]) {
    const r = await lab.probe(B.ns, ['connect', remote(v6), String(ECHO), 'own']);
    assert.is(r.received, 'own', JSON.stringify(r));
  }
});

test.run();
