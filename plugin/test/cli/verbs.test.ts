// Every daemon verb: usage errors (exit 2), xlnetd unreachable (exit 3,
// naming the socket), and - against a canned protocol server, tests named
// "formatting: ..." - how results and daemon errors are printed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AttachmentInfo, FlowInfo, StatusInfo } from '../../src/daemon/protocol.js';
import { MAIN, cannedServer, tempDir, xlnet, xlnetProcess } from './helpers.js';

const STATUS: StatusInfo = {
  version: '0.1.0', protocol: 1, pid: 4242, uptimeSec: 7440, listenPort: 40123, configFile: '/etc/xen/xlnet.conf',
  attachments: 2, flows: 3, flowsTotal: 120, bytesUp: 1288490, bytesDown: 47185920,
  memory: { rss: 62914560, heapUsed: 12582912, bufferedBytes: 3145728 }, profiles: ['default', 'satellite'],
};
const ATTACHMENTS: AttachmentInfo[] = [
  { vif: 'vif3.0', id: 1, domain: 'web', mode: 'bridge', bridge: 'xenbr0', profile: 'satellite', options: {}, state: 'active',
    attachedAt: '2025-01-01T00:00:00Z', flows: 3, bytesUp: 1288490, bytesDown: 47185920, flowsTotal: 118, flowsRefused: 0 },
  { vif: 'vif12.1', id: 2, mode: 'route', profile: 'default', options: { buffer: '16m' }, state: 'draining',
    attachedAt: '2025-01-01T00:00:00Z', flows: 0, bytesUp: 0, bytesDown: 0, flowsTotal: 2, flowsRefused: 1 },
];
const FLOWS: FlowInfo[] = [
  { id: 7, vif: 'vif3.0', guest: '10.0.0.2:41000', remote: '192.0.2.9:443', wanLocal: '10.0.0.2:41000', state: 'open', ageMs: 185_000,
    bytesUp: 2048, bytesDown: 47185920, rateUpBps: 1000, rateDownBps: 62_500_000, engine: 'user' },
  { id: 9, vif: 'vif3.0', guest: '10.0.0.2:41002', remote: '192.0.2.9:80', wanLocal: '10.0.0.2:41002', state: 'half-closed', ageMs: 900,
    bytesUp: 10, bytesDown: 0, rateUpBps: 0, rateDownBps: 0, engine: 'kernel' },
];

const { dir, cleanup } = tempDir();
const NOWHERE = join(dir, 'no-daemon.sock');

const DAEMON_VERBS: string[][] = [
  ['status'], ['flows'], ['flows', 'vif3.0'], ['top'], ['attach', 'vif3.0'], ['detach', 'vif3.0'],
  ['set', 'vif3.0', '--profile', 'satellite'], ['reload'],
];

test('daemon unreachable: every daemon verb exits 3 and names the socket', async () => {
  for (const args of DAEMON_VERBS) {
    const r = await xlnet([...args, '--socket', NOWHERE]);
    assert.is(r.code, 3, `${args.join(' ')}: ${r.err}`);
    assert.ok(r.err.includes(NOWHERE), `${args.join(' ')} names the socket: ${r.err}`);
    assert.ok(r.err.includes('is xlnetd running?'), r.err);
    assert.ok(r.err.includes('systemctl start xlnetd'), 'says what to do');
    assert.is(r.out, '');
  }
});

test('daemon unreachable: XLNET_SOCKET is used and named', async () => {
  const r = await xlnet(['status'], { XLNET_SOCKET: NOWHERE });
  assert.is(r.code, 3);
  assert.ok(r.err.includes(NOWHERE));
});

test('an empty XLNET_SOCKET counts as unset; an empty --socket is a usage error', async () => {
  // The real process: `XLNET_SOCKET= xlnet status` crashed with ERR_SOCKET_BAD_PORT.
  for (const args of [['status'], ['version']]) {
    const r = xlnetProcess(args, { XLNET_SOCKET: '', XLNET_CONF: NOWHERE });
    assert.ok(!r.err.includes('internal error'), `${args.join(' ')}: ${r.err}`);
    assert.ok((r.err + r.out).includes('/run/xlnet/xlnetd.sock'), `${args.join(' ')} names the default socket: ${r.err}${r.out}`);
  }
  const e = await xlnet(['status', '--socket', '']);
  assert.is(e.code, 2);
  assert.match(e.err, /--socket needs a path/);
});

test('daemon unreachable: --json verbs still exit 3 with nothing on stdout', async () => {
  const r = await xlnet(['status', '--json', '--socket', NOWHERE]);
  assert.is(r.code, 3);
  assert.is(r.out, '');
});

test('the [daemon] socket of --config is used when no --socket is given', async () => {
  const sock = join(dir, 'from-config.sock');
  const conf = join(dir, 'socket.conf');
  writeFileSync(conf, `[daemon]\nsocket = ${sock}\n`);
  const r = await xlnet(['status', '--config', conf]);
  assert.is(r.code, 3);
  assert.ok(r.err.includes(sock), r.err);
});

test('usage errors exit 2 with what was wrong and where to look', async () => {
  const cases: [string[], string][] = [
    [[], 'no verb given'],
    [['stauts'], "unknown verb 'stauts' (did you mean status?)"],
    [['status', 'extra'], "unexpected argument 'extra'"],
    [['status', '--bogus'], "Unknown option '--bogus'"],
    [['flows', 'a', 'b'], "unexpected argument 'b'"],
    [['flows', 'bad/name'], 'is not an interface name'],
    [['attach'], 'missing argument'],
    [['attach', 'vif1.0', '--option', 'buffer'], 'expected KEY=VALUE'],
    [['attach', 'vif1.0', '--option', 'bufer=4m'], 'did you mean buffer?'],
    [['attach', 'vif1.0', '--option', 'buffer=4m', '--option', 'buffer=8m'], 'given twice'],
    [['attach', 'vif1.0', '--profile'], "argument missing"],
    [['detach', 'vif1.0', '--drain', '--reset'], 'exclude each other'],
    [['set', 'vif1.0'], 'nothing to change'],
    [['top', '--interval', '0'], '--interval 0'],
    [['top', '--interval', 'soon'], 'expected seconds'],
    [['check'], 'missing argument'],
    [['check', 'a.cfg', '--xl', 'maybe'], 'not one of patched, stock'],
    [['config'], 'missing argument'],
    [['config', 'show'], "unknown subcommand 'show'"],
    [['hotplug'], 'missing argument'],
    [['hotplug', 'sideways'], 'is not online or offline'],
    [['help', 'nope'], "unknown verb 'nope'"],
    [['setup', '--mode', 'tunnel'], 'not one of bridge, route'],
    [['version', 'now'], "unexpected argument 'now'"],
  ];
  for (const [args, msg] of cases) {
    const r = await xlnet(args);
    assert.is(r.code, 2, `${args.join(' ')}: exit ${r.code}, ${r.err}`);
    assert.ok(r.err.includes(msg), `${args.join(' ')}: expected "${msg}" in: ${r.err}`);
    assert.ok(r.err.includes('xlnet help'), `${args.join(' ')}: points at help: ${r.err}`);
  }
});

test('--help on every verb and `xlnet help VERB` show its flags', async () => {
  const { VERBS } = await import('../../src/cli/verbs/index.js');
  for (const v of VERBS) {
    const a = await xlnet([v.name, '--help']);
    const b = await xlnet(['help', v.name]);
    assert.is(a.code, 0);
    assert.is(a.out, b.out);
    assert.ok(a.out.startsWith(`Usage: xlnet ${v.name}`), a.out);
    assert.ok(a.out.includes('--config FILE'));
    if (v.json) assert.ok(a.out.includes('--json'), `${v.name} lists --json`);
  }
});

test('xlnet help lists every verb and the exit codes', async () => {
  const r = await xlnet(['help']);
  assert.is(r.code, 0);
  for (const v of ['status', 'flows', 'top', 'attach', 'detach', 'set', 'check', 'config', 'setup', 'hotplug', 'version']) {
    assert.match(r.out, new RegExp(`^  ${v} `, 'm'));
  }
  assert.match(r.out, /^ {4}3 {2}xlnetd unreachable/m);
  assert.is((await xlnet(['--help'])).out, r.out);
});

test('version works without a daemon and says it is not reachable', async () => {
  const r = await xlnet(['version', '--socket', NOWHERE]);
  assert.is(r.code, 0);
  assert.match(r.out, /^xlnet \d+\.\d+\.\d+ \(control protocol 1, node /);
  assert.ok(r.out.includes(`xlnetd: not reachable (cannot reach xlnetd at ${NOWHERE}`));
  const j = JSON.parse((await xlnet(['version', '--json', '--socket', NOWHERE])).out);
  assert.is(j.protocol, 1);
  assert.is(j.daemon, null);
  assert.ok(j.daemonError.includes(NOWHERE));
});

test('the binary: shebang entry, exit codes and streams as a shell sees them', () => {
  const r = xlnetProcess(['status', '--socket', NOWHERE]);
  assert.is(r.code, 3);
  assert.is(r.out, '');
  assert.ok(r.err.startsWith(`xlnet: cannot reach xlnetd at ${NOWHERE}`), r.err);
  const u = xlnetProcess(['frobnicate']);
  assert.is(u.code, 2);
  assert.ok(readFileSync(MAIN, 'utf8').startsWith('#!/usr/bin/env node\n'));
});

test('formatting: status shows the daemon, the attachments as an aligned table, sizes human-readable', async () => {
  const srv = await cannedServer(dir, { status: { result: STATUS }, list: { result: ATTACHMENTS } });
  try {
    const r = await xlnet(['status', '--socket', srv.socket]);
    assert.is(r.code, 0, r.err);
    assert.ok(r.out.startsWith('xlnetd 0.1.0 running (pid 4242, up 2h04m, protocol 1)\n'), r.out);
    assert.match(r.out, /^ {2}flows +3 open, 120 since start$/m);
    assert.match(r.out, /^ {2}traffic +up 1\.2 MiB, down 45\.0 MiB$/m);
    assert.match(r.out, /^ {2}socket +.*canned\.sock$/m);
    const lines = r.out.split('\n');
    const h = lines.findIndex((l) => l.startsWith('VIF '));
    assert.ok(h > 0, r.out);
    assert.match(lines[h], /^VIF +DOMAIN +MODE +BRIDGE +PROFILE +STATE +FLOWS +TOTAL +REFUSED +UP +DOWN$/);
    assert.match(lines[h + 1], /^vif3\.0 +web +bridge +xenbr0 +satellite +active +3 +118 +0 +1\.2 MiB +45\.0 MiB$/);
    assert.match(lines[h + 2], /^vif12\.1 +- +route +- +default \+1 option +draining +0 +2 +1 +0 B +0 B$/);
    // Right-aligned numbers: the columns end at the same place.
    assert.is(lines[h].indexOf('FLOWS') + 5, lines[h + 1].indexOf(' 3 ') + 2);
  } finally {
    await srv.close();
  }
});

test('formatting: status --json parses and holds daemon and attachments', async () => {
  const srv = await cannedServer(dir, { status: { result: STATUS }, list: { result: ATTACHMENTS } });
  try {
    const r = await xlnet(['status', '--json', '--socket', srv.socket]);
    assert.is(r.code, 0);
    const j = JSON.parse(r.out);
    assert.equal(j.daemon, STATUS);
    assert.equal(j.attachments, ATTACHMENTS);
    assert.is(j.socket, srv.socket);
  } finally {
    await srv.close();
  }
});

test('formatting: status with nothing attached says how vifs get attached', async () => {
  const srv = await cannedServer(dir, { status: { result: { ...STATUS, attachments: 0 } }, list: { result: [] } });
  try {
    const r = await xlnet(['status', '--socket', srv.socket]);
    assert.ok(r.out.includes('no vifs attached'), r.out);
  } finally {
    await srv.close();
  }
});

test('formatting: flows table, flows VIF sends the vif, --json is the array', async () => {
  const srv = await cannedServer(dir, { flows: (req) => ({ result: req.vif === 'vif9.0' ? [] : FLOWS }) });
  try {
    const r = await xlnet(['flows', '--socket', srv.socket]);
    assert.is(r.code, 0);
    const lines = r.out.trimEnd().split('\n');
    assert.match(lines[0], /^ID +VIF +GUEST +REMOTE +STATE +AGE +UP +DOWN +RATE UP +RATE DOWN +ENGINE$/);
    assert.match(lines[1], /^ 7 +vif3\.0 +10\.0\.0\.2:41000 +192\.0\.2\.9:443 +open +3m05s +2\.0 KiB +45\.0 MiB +8\.0 kbit\/s +500\.0 Mbit\/s +user$/);
    assert.match(lines[2], /half-closed +900ms +10 B +0 B +0 bit\/s +0 bit\/s +kernel$/);
    const none = await xlnet(['flows', 'vif9.0', '--socket', srv.socket]);
    assert.is(none.out, 'no split connections on vif9.0\n');
    assert.equal(srv.requests.at(-1), { v: 1, id: 1, op: 'flows', vif: 'vif9.0' });
    const j = JSON.parse((await xlnet(['flows', '--json', '--socket', srv.socket])).out);
    assert.equal(j, FLOWS);
  } finally {
    await srv.close();
  }
});

test('formatting: top without a terminal prints one snapshot, busiest flow first', async () => {
  const srv = await cannedServer(dir, { status: { result: STATUS }, list: { result: ATTACHMENTS }, flows: { result: [FLOWS[1], FLOWS[0]] } });
  try {
    const r = await xlnet(['top', '--socket', srv.socket]);
    assert.is(r.code, 0, r.err);
    assert.ok(r.out.startsWith('xlnetd 0.1.0 pid 4242 up 2h04m'), r.out);
    assert.ok(r.out.includes('rate up 8.0 kbit/s, down 500.0 Mbit/s'), r.out);
    assert.ok(r.out.indexOf('192.0.2.9:443') < r.out.indexOf('192.0.2.9:80'), 'sorted by rate');
    assert.ok(!r.out.includes('\x1b['), 'no escape codes off a terminal');
    const j = JSON.parse((await xlnet(['top', '--json', '--socket', srv.socket])).out);
    assert.is(j.flows[0].id, 7);
    assert.is(j.attachments.length, 2);
  } finally {
    await srv.close();
  }
});

test('formatting: attach, set, detach send the right requests and say what happened', async () => {
  const srv = await cannedServer(dir, {
    attach: (req) => ({ result: { ...ATTACHMENTS[0], vif: req.vif, profile: req.profile ?? 'default', options: req.options ?? {} } }),
    set: (req) => ({ result: { ...ATTACHMENTS[0], vif: req.vif, profile: req.profile ?? 'satellite', options: req.options ?? {} } }),
    detach: { result: { ...ATTACHMENTS[0], state: 'draining' } },
    reload: { result: { profiles: ['default'] } },
  });
  try {
    let r = await xlnet(['attach', 'vif3.0', '--profile', 'satellite', '-o', 'buffer=16m', '--option', 'wan_cc=cubic', '--domain', 'web', '--required', '--socket', srv.socket]);
    assert.is(r.code, 0, r.err);
    assert.is(r.out, 'attached vif3.0 (profile satellite, buffer=16m wan_cc=cubic)\n');
    const { v: _v, id: _id, ...req } = srv.requests.at(-1)!;
    assert.equal(req, { op: 'attach', vif: 'vif3.0', profile: 'satellite', options: { buffer: '16m', wan_cc: 'cubic' }, domain: 'web', required: true });

    r = await xlnet(['set', 'vif3.0', '--option', 'buffer=8m', '--socket', srv.socket]);
    assert.is(r.out, 'updated vif3.0 (profile satellite, buffer=8m)\n');
    assert.equal(srv.requests.at(-1)!.options, { buffer: '8m' });

    r = await xlnet(['detach', 'vif3.0', '--socket', srv.socket]);
    assert.is(r.out, 'detached vif3.0 (3 split connections draining)\n');
    assert.is(srv.requests.at(-1)!.mode, 'drain');
    r = await xlnet(['detach', 'vif3.0', '--reset', '--socket', srv.socket]);
    assert.is(r.out, 'detached vif3.0 (split connections reset)\n');
    assert.is(srv.requests.at(-1)!.mode, 'reset');

    r = await xlnet(['attach', 'vif3.0', '--json', '--socket', srv.socket]);
    assert.is(JSON.parse(r.out).vif, 'vif3.0');
    r = await xlnet(['reload', '--socket', srv.socket]);
    assert.is(r.out, 'xlnetd reloaded its configuration\n');
  } finally {
    await srv.close();
  }
});

test('formatting: a refusal by xlnetd exits 1 with its message, code and a hint', async () => {
  const srv = await cannedServer(dir, {
    attach: { error: { code: 'E_NO_VIF', message: 'no interface vif9.0 in Dom0' } },
    detach: { error: { code: 'E_NOT_ATTACHED', message: 'vif9.0 is not attached' } },
    set: { error: { code: 'E_UNKNOWN_PROFILE', message: 'no profile sat' } },
  });
  try {
    let r = await xlnet(['attach', 'vif9.0', '--socket', srv.socket]);
    assert.is(r.code, 1);
    assert.ok(r.err.includes('attach vif9.0: no interface vif9.0 in Dom0 (E_NO_VIF)'), r.err);
    assert.ok(r.err.includes('ip -br link show type vif'), r.err);
    r = await xlnet(['detach', 'vif9.0', '--socket', srv.socket]);
    assert.is(r.code, 1);
    assert.ok(r.err.includes('xlnet status'), r.err);
    r = await xlnet(['set', 'vif9.0', '-p', 'sat', '--socket', srv.socket]);
    assert.is(r.code, 1);
    assert.ok(r.err.includes('(E_UNKNOWN_PROFILE)'));
  } finally {
    await srv.close();
  }
});

test('formatting: a daemon of another protocol version exits 5', async () => {
  const srv = await cannedServer(dir, {
    status: { error: { code: 'E_VERSION', message: 'protocol 1 is not supported (this xlnetd speaks 2)' } },
    flows: { raw: 'this is not json' },
  });
  try {
    let r = await xlnet(['status', '--socket', srv.socket]);
    assert.is(r.code, 5, r.err);
    assert.ok(r.err.includes('same version of both'), r.err);
    r = await xlnet(['flows', '--socket', srv.socket]);
    assert.is(r.code, 5, r.err);
    assert.ok(r.err.includes('not JSON'), r.err);
  } finally {
    await srv.close();
  }
});

test.after(cleanup);
test.run();
