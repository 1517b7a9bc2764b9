// vif specs as xl 4.17 parse_nic_config reads them, and `xlnet check`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseVifRate } from '../../src/config/vif-rate.js';
import { XL_VIF_KEYS, checkDomainConfig, parseVifSpec, parseXlMac, type VifSpec } from '../../src/config/vif-spec.js';
import { parseXlnetConf } from '../../src/config/xlnet-conf.js';

interface Row {
  spec: string;
  expect: Partial<Omit<VifSpec, 'warnings' | 'errors' | 'unrecognized'>>;
  warnings?: string[];
  errors?: string[];
  unrecognized?: string[];
}

// Real-world vif lines and the corner cases of xl's strtok/prefix parsing.
const TABLE: Row[] = [
  { spec: 'bridge=xenbr0', expect: { bridge: 'xenbr0', keys: { bridge: 'xenbr0' } } },
  { spec: '', expect: { keys: {} } },
  {
    spec: 'mac=00:16:3e:5f:48:e4,bridge=xenbr0',
    expect: { mac: '00:16:3e:5f:48:e4', bridge: 'xenbr0', keys: { mac: '00:16:3e:5f:48:e4', bridge: 'xenbr0' } },
  },
  { spec: 'bridge=xenbr0,,mac=00:16:3E:00:00:01', expect: { bridge: 'xenbr0', mac: '00:16:3e:00:00:01' } },
  { spec: ',,bridge=xenbr0,', expect: { bridge: 'xenbr0' } },
  { spec: '  bridge=xenbr0,   script=vif-bridge', expect: { bridge: 'xenbr0', script: 'vif-bridge' } },
  {
    spec: 'bridge=xenbr0 ,mac=00:16:3e:00:00:01',
    expect: { bridge: 'xenbr0 ' },
    warnings: ["`bridge=xenbr0 ': the value ends in whitespace, which xl keeps as part of it"],
  },
  { spec: 'bridge=xenbr0, ,mac=00:16:3e:00:00:01', expect: { bridge: 'xenbr0' }, warnings: ["unrecognized argument `'"], unrecognized: [''] },
  { spec: 'mac = 00:16:3e:00:00:01', expect: { keys: {} }, warnings: ["unrecognized argument `mac = 00:16:3e:00:00:01'"], unrecognized: ['mac = 00:16:3e:00:00:01'] },
  { spec: '\tbridge=xenbr0', expect: { keys: {} }, warnings: ["unrecognized argument `\tbridge=xenbr0'"], unrecognized: ['\tbridge=xenbr0'] },
  { spec: 'BRIDGE=xenbr0', expect: { keys: {} }, warnings: ["unrecognized argument `BRIDGE=xenbr0'"], unrecognized: ['BRIDGE=xenbr0'] },
  { spec: 'bridge', expect: { keys: {} }, warnings: ["unrecognized argument `bridge'"], unrecognized: ['bridge'] },
  {
    spec: 'bridge=xenbr0,bridge=xenbr1',
    expect: { bridge: 'xenbr1', keys: { bridge: 'xenbr1' } },
    warnings: ["`bridge' given more than once; xl uses the last: `xenbr1'"],
  },
  { spec: 'bridge=a=b', expect: { bridge: 'a=b' } },
  { spec: 'ip=10.0.0.2 10.0.0.3,script=vif-route', expect: { ip: '10.0.0.2 10.0.0.3', script: 'vif-route' } },
  { spec: 'ip=192.0.2.10/24', expect: { ip: '192.0.2.10/24' } },
  { spec: 'script=vif-localack,bridge=xenbr0', expect: { script: 'vif-localack', bridge: 'xenbr0' } },
  { spec: 'script=/etc/xen/scripts/vif-localack', expect: { script: '/etc/xen/scripts/vif-localack' } },
  { spec: 'localack=1', expect: { localack: '1', keys: { localack: '1' } } },
  { spec: 'localack=0', expect: { localack: '0' } },
  { spec: 'localack=required', expect: { localack: 'required' } },
  { spec: 'localack=satellite,bridge=xenbr0', expect: { localack: 'satellite', bridge: 'xenbr0' } },
  // The patched xl's check_vif_localack(), message for message.
  { spec: 'localack=yes please', expect: { localack: undefined }, errors: ["Invalid localack value `yes please': character ` ' is not allowed; allowed are 0, 1, required or a profile name of 1-32 characters from A-Z a-z 0-9 _ -"] },
  { spec: 'localack=', expect: { localack: undefined }, errors: ["Invalid localack value `': it is empty; allowed are 0, 1, required or a profile name of 1-32 characters from A-Z a-z 0-9 _ -"] },
  { spec: 'localack=YES', expect: { localack: undefined }, errors: ["Invalid localack value `YES': use 1 to enable or 0 to disable; allowed are 0, 1, required or a profile name of 1-32 characters from A-Z a-z 0-9 _ -"] },
  { spec: 'localack=n', expect: { localack: undefined }, errors: ["Invalid localack value `n': use 1 to enable or 0 to disable; allowed are 0, 1, required or a profile name of 1-32 characters from A-Z a-z 0-9 _ -"] },
  { spec: 'localack=sat.ellite', expect: { localack: undefined }, errors: ["Invalid localack value `sat.ellite': character `.' is not allowed; allowed are 0, 1, required or a profile name of 1-32 characters from A-Z a-z 0-9 _ -"] },
  { spec: 'localack=a\x01', expect: { localack: undefined }, errors: ["Invalid localack value `a\x01': byte 0x01 is not allowed; allowed are 0, 1, required or a profile name of 1-32 characters from A-Z a-z 0-9 _ -"] },
  { spec: `localack=${'p'.repeat(33)}`, expect: { localack: undefined }, errors: [`Invalid localack value \`${'p'.repeat(33)}': it is longer than 32 characters; allowed are 0, 1, required or a profile name of 1-32 characters from A-Z a-z 0-9 _ -`] },
  { spec: `localack=${'p'.repeat(32)}`, expect: { localack: 'p'.repeat(32) } },
  { spec: 'localack=web_fast-2', expect: { localack: 'web_fast-2' } },
  { spec: 'type=ioemu,model=e1000', expect: { type: 'ioemu', keys: { type: 'ioemu', model: 'e1000' } } },
  { spec: 'type=vif', expect: { type: 'vif' } },
  { spec: 'type=netfront', expect: { type: undefined }, warnings: ["Invalid parameter `type'."] },
  {
    spec: 'netdev=eth0',
    expect: { gatewaydev: 'eth0', keys: { netdev: 'eth0' } },
    warnings: ['the netdev parameter is deprecated, please use gatewaydev instead'],
  },
  { spec: 'gatewaydev=eth1,vifname=web0', expect: { gatewaydev: 'eth1', vifname: 'web0' } },
  {
    spec: 'vifname=a-very-long-vif-name',
    expect: { vifname: 'a-very-long-vif-name' },
    warnings: ["vifname `a-very-long-vif-name' is longer than 15 characters; Linux cannot name an interface so"],
  },
  { spec: 'accel=netfront', expect: { keys: { accel: 'netfront' } }, warnings: ['the accel parameter for vifs is currently not supported'] },
  { spec: 'devid=3,bridge=xenbr0', expect: { devid: 3 } },
  { spec: 'devid=2x', expect: { devid: 2 }, warnings: ["xl reads `2x' as 2 and ignores `x'"] },
  { spec: 'devid=abc', expect: { devid: 7 }, errors: ['xl: failed to convert "abc" to number'] },
  { spec: 'devid=-1', expect: { devid: 7 }, errors: ['xl: failed to convert "-1" to number'] },
  { spec: 'devid=-2', expect: { devid: 7 }, errors: ["`-2' is out of range 0..2147483647; xl would wrap it"] },
  { spec: 'devid=4294967296', expect: { devid: 7 }, errors: ["`4294967296' is out of range 0..2147483647; xl would wrap it"] },
  { spec: 'mtu=9000', expect: { mtu: 9000 } },
  { spec: 'mtu=', expect: { mtu: undefined }, errors: ['xl: failed to convert "" to number'] },
  { spec: 'trusted', expect: { trusted: true } },
  { spec: 'untrusted,bridge=xenbr0', expect: { trusted: false, bridge: 'xenbr0' } },
  { spec: 'trusted,untrusted', expect: { trusted: false } },
  { spec: ' untrusted', expect: { trusted: false } },
  { spec: 'trusted=1', expect: { trusted: undefined }, warnings: ["unrecognized argument `trusted=1'"], unrecognized: ['trusted=1'] },
  { spec: 'vlan=10', expect: { keys: {} }, warnings: ["unrecognized argument `vlan=10'"], unrecognized: ['vlan=10'] },
  { spec: 'colo_sock_mirror_id=1,colo_checkpoint_port=9000', expect: { keys: { colo_sock_mirror_id: '1', colo_checkpoint_port: '9000' } } },
  { spec: 'colo_bogus=1', expect: { keys: {} }, warnings: ["unrecognized argument `colo_bogus=1'"], unrecognized: ['colo_bogus=1'] },
  { spec: 'backend=driverdom,forwarddev=eth0', expect: { keys: { backend: 'driverdom', forwarddev: 'eth0' } } },
  {
    spec: 'rate=10Mb/s@20ms',
    expect: { rate: { bytesPerSecond: 1250000, intervalUsecs: 20000, bytesPerInterval: 25000 } },
  },
  { spec: 'rate=100MB/s', expect: { rate: { bytesPerSecond: 100000000, intervalUsecs: 50000, bytesPerInterval: 5000000 } } },
  { spec: 'rate=10Mb/s', expect: { rate: { bytesPerSecond: 1250000, intervalUsecs: 50000, bytesPerInterval: 62500 } } },
  { spec: 'rate=10Mb', expect: { rate: undefined }, errors: ["config parsing error in vif: invalid rate in `10Mb'"] },
  { spec: 'script=vif-bridge,script=', expect: { script: '' }, warnings: ["`script' given more than once; xl uses the last: `'", "`script=' is empty; libxl would use it as given"] },
];

TABLE.forEach((row, i) => {
  test(`vif spec ${i}: ${JSON.stringify(row.spec)}`, () => {
    const got = parseVifSpec(row.spec, 7);
    const expectDevid = row.expect.devid ?? 7;
    assert.is(got.devid, expectDevid, 'devid');
    for (const [k, v] of Object.entries(row.expect)) {
      if (k === 'devid') continue;
      if (k === 'keys') {
        const want = v as Record<string, string>;
        for (const [kk, vv] of Object.entries(want)) assert.is(got.keys[kk], vv, `keys.${kk}`);
        if (Object.keys(want).length === 0) assert.equal(got.keys, {}, 'no recognised keys');
        continue;
      }
      assert.equal((got as unknown as Record<string, unknown>)[k], v, k);
    }
    assert.equal(got.warnings, row.warnings ?? [], 'warnings');
    assert.equal(got.errors, row.errors ?? [], 'errors');
    assert.equal(got.unrecognized, row.unrecognized ?? [], 'unrecognized');
  });
});

test('with stock xl, localack= is an unrecognized argument and dropped', () => {
  const v = parseVifSpec('bridge=xenbr0,localack=1', 0, { patchedXl: false });
  assert.is(v.localack, undefined);
  assert.equal(v.keys, { bridge: 'xenbr0' });
  assert.equal(v.warnings, ["unrecognized argument `localack=1'"]);
  assert.equal(v.unrecognized, ['localack=1']);
});

test('the 4.17 key list: 12 plain keys, 48 colo_* keys, accel, devid, mtu', () => {
  assert.is(XL_VIF_KEYS.length, 63);
  assert.is(XL_VIF_KEYS.filter((k) => k.startsWith('colo_')).length, 48);
  for (const k of XL_VIF_KEYS) {
    const v = parseVifSpec(`${k}=1`, 0);
    assert.equal(v.unrecognized, [], k);
  }
});

test('mac: six hex bytes, any separator, as strtoul(base 16) reads them', () => {
  const ok: [string, string, string][] = [
    ['00:16:3e:00:00:01', '00:16:3e:00:00:01', ''],
    ['00-16-3E-0A-0B-0C', '00:16:3e:0a:0b:0c', ''],
    ['0:16:3e:0:0:1', '00:16:3e:00:00:01', ''],
    ['0x00:0x16:0x3e:0:0:1', '00:16:3e:00:00:01', ''],
    ['00:16:3e:00:00:01:ff', '00:16:3e:00:00:01', 'ff'],
    ['00:16:3e:00:00:01 ', '00:16:3e:00:00:01', ''],
    ['00 16 3e 00 00 01', '00:16:3e:00:00:01', ''],
  ];
  for (const [input, mac, ignored] of ok) assert.equal(parseXlMac(input), { mac, ignored }, input);
  assert.equal(parseXlMac('00:16:3e:00:00:100'), { error: "Invalid parameter `mac'." });
  assert.equal(parseXlMac('zz:16:3e:00:00:01'), { error: "Invalid parameter `mac'." });
  assert.equal(parseXlMac('-1:16:3e:00:00:01'), { error: "Invalid parameter `mac'." });
  assert.equal(parseXlMac('00:16:3e:00:00:'), { error: "Invalid parameter `mac'." });
  assert.equal(parseXlMac('00:16:3e:00:01'), { error: "Invalid parameter `mac': `00:16:3e:00:01' has 5 of 6 bytes" });
  assert.equal(parseXlMac(''), { error: "Invalid parameter `mac'." });
  const v = parseVifSpec('mac=01:00:5e:00:00:01', 0);
  assert.equal(v.warnings, ['mac 01:00:5e:00:00:01 is a multicast address; guests cannot use it']);
  assert.equal(parseVifSpec('mac=00:16:3e:00:00:01:ff', 0).warnings, ["mac: xl ignores `ff' after the sixth byte"]);
  assert.equal(parseVifSpec('mac=00:16:3e', 0).errors, ["Invalid parameter `mac': `00:16:3e' has 3 of 6 bytes"]);
});

test('rate: units, bits vs bytes, intervals, strtoull octal, every error', () => {
  const ok: [string, number, number][] = [
    ['10Mb/s@20ms', 1250000, 20000],
    ['10MB/s', 10000000, 50000],
    ['1Gb/s@1s', 125000000, 1000000],
    ['1GB/s@1', 1000000000, 1000000],
    ['100Kb/s@500us', 12500, 500],
    ['100Kb/s@500u', 12500, 500],
    ['8b/s', 1, 50000],
    ['1000B/s@100m', 1000, 100000],
    ['010Kb/s', 1000, 50000], // 010 is octal 8: 8000 bit/s
    ['4294967295B/s@1us', 4294967295, 1],
  ];
  for (const [rate, bps, us] of ok) {
    const r = parseVifRate(rate);
    assert.ok(!('error' in r), rate);
    if (!('error' in r)) {
      assert.is(r.bytesPerSecond, bps, rate);
      assert.is(r.intervalUsecs, us, rate);
      assert.is(r.bytesPerInterval, Math.floor((bps * us) / 1e6), rate);
    }
  }
  const bad: [string, string][] = [
    ['', "config parsing error in vif: no rate specified in `'"],
    ['@20ms', "config parsing error in vif: no rate specified in `@20ms'"],
    ['10Mb', "config parsing error in vif: invalid rate in `10Mb'"],
    ['10mb/s', "config parsing error in vif: invalid rate in `10mb/s'"],
    ['1.5Mb/s', "config parsing error in vif: invalid rate in `1.5Mb/s'"],
    ['0Mb/s', "config parsing error in vif: rate overflow in `0Mb/s'"],
    ['08Mb/s', "config parsing error in vif: rate overflow in `08Mb/s'"],
    ['4294967296B/s', "config parsing error in vif: rate overflow in `4294967296B/s'"],
    ['10Mb/s@', "config parsing error in vif: invalid replenishment interval in `'"],
    ['10Mb/s@20 ms', "config parsing error in vif: invalid replenishment interval in `20 ms'"],
    ['10Mb/s@0ms', "config parsing error in vif: replenishment interval overflow in `0ms'"],
    ['10Mb/s@5000s', "config parsing error in vif: replenishment interval overflow in `5000s'"],
    ['4294967295GB/s@4294s', "config parsing error in vif: rate overflow in `4294967295GB/s@4294s'"],
  ];
  for (const [rate, error] of bad) assert.equal(parseVifRate(rate), { error }, rate);
  // xl exits on a bad rate: the spec reports it as an error.
  assert.equal(parseVifSpec('rate=10Mb/s@0ms', 0).errors, ["config parsing error in vif: replenishment interval overflow in `0ms'"]);
});

// ---- xlnet check ---------------------------------------------------------

const CONF = parseXlnetConf(
  [
    '[profile satellite]',
    'wan_sndbuf = 64m',
    '[profile lossy]',
    '[domain web-*]',
    'localack = satellite',
    'vifs = 0',
    '[domain db]',
    'localack = 0',
    '[domain strict]',
    'localack = required',
  ].join('\n'),
  '/etc/xen/xlnet.conf',
);

function guest(name: string, ...vifs: string[]): string {
  return `name = "${name}"\nmemory = 512\nvif = [\n${vifs.map((v) => `  '${v}',`).join('\n')}\n]\n`;
}

test('check, patched xl: localack on the vif decides, resolved against the profiles', () => {
  const r = checkDomainConfig(guest('app', 'bridge=xenbr0,localack=1', 'bridge=xenbr1,localack=lossy', 'localack=0', 'bridge=xenbr0'), 'app.cfg', CONF, { patchedXl: true });
  assert.ok(r.ok);
  assert.is(r.name, 'app');
  assert.equal(r.vifs.map((v) => [v.devid, v.line, v.bridge, v.mode, v.activation, v.enabled, v.profile]), [
    [0, 4, 'xenbr0', 'bridge', 'localack-key', true, 'default'],
    [1, 5, 'xenbr1', 'bridge', 'localack-key', true, 'lossy'],
    [2, 6, 'xenbr0', 'bridge', 'localack-key', false, undefined],
    [3, 7, 'xenbr0', 'bridge', 'none', false, undefined],
  ]);
  assert.is(r.vifs[0].script, 'vif-bridge');
});

test('check, patched xl: an unknown profile is an error naming it and the known ones', () => {
  const r = checkDomainConfig(guest('app', 'localack=satelite'), 'app.cfg', CONF, { patchedXl: true });
  assert.not.ok(r.ok);
  assert.equal(r.vifs[0].errors, [
    'app.cfg:4: vif 0 localack = satelite: no profile named satelite; did you mean satellite? (allowed: 0, 1, required or a profile: default, satellite, lossy)',
  ]);
});

test('check, stock xl: localack= is dropped, with xl\'s text and what to do instead', () => {
  const r = checkDomainConfig(guest('app', 'bridge=xenbr0,localack=1'), 'app.cfg', CONF, { patchedXl: false });
  assert.ok(r.ok);
  const v = r.vifs[0];
  assert.is(v.activation, 'none');
  assert.is(v.enabled, false);
  assert.equal(v.warnings, [
    "unrecognized argument `localack=1'",
    "`localack=1' has no effect with stock xl (it is dropped); use script=vif-localack, a [domain app] section in /etc/xen/xlnet.conf, or the patched xl",
  ]);
});

test('check, stock xl: script=vif-localack turns it on with the [defaults] profile', () => {
  const r = checkDomainConfig(guest('app', 'bridge=xenbr0,script=vif-localack', 'script=/etc/xen/scripts/vif-localack'), 'app.cfg', CONF, { patchedXl: false });
  assert.equal(r.vifs.map((v) => [v.activation, v.enabled, v.profile, v.mode]), [
    ['script', true, 'default', 'bridge'],
    ['script', true, 'default', 'bridge'],
  ]);
});

test('check: [domain] rules by glob and exact name, per devid', () => {
  const web = checkDomainConfig(guest('web-3', 'bridge=xenbr0', 'ip=10.0.0.5,script=vif-route'), 'web.cfg', CONF, { patchedXl: false });
  assert.equal(web.vifs.map((v) => [v.activation, v.enabled, v.profile, v.mode]), [
    ['domain-rule', true, 'satellite', 'bridge'],
    ['none', false, undefined, 'route'],
  ]);
  assert.equal(web.vifs[1].warnings, ['[domain web-*] matches this domain but not devid 1 (vifs = 0)']);
  const db = checkDomainConfig(guest('db', 'bridge=xenbr0'), 'db.cfg', CONF, { patchedXl: false });
  assert.equal([db.vifs[0].activation, db.vifs[0].enabled], ['domain-rule', false]);
  const strict = checkDomainConfig(guest('strict', 'bridge=xenbr0'), 's.cfg', CONF, { patchedXl: false });
  assert.equal([strict.vifs[0].enabled, strict.vifs[0].required, strict.vifs[0].profile], [true, true, 'default']);
});

test('check: the vif\'s own setting beats a [domain] rule', () => {
  const patched = checkDomainConfig(guest('web-1', 'localack=lossy'), 'w.cfg', CONF, { patchedXl: true });
  assert.equal([patched.vifs[0].activation, patched.vifs[0].profile], ['localack-key', 'lossy']);
  const script = checkDomainConfig(guest('db', 'script=vif-localack'), 'db.cfg', CONF, { patchedXl: false });
  assert.equal([script.vifs[0].activation, script.vifs[0].enabled], ['script', true]);
  assert.equal(script.vifs[0].warnings, ['script=vif-localack turns xlnet on although [domain db] says localack = 0; the script wins']);
  const scriptWithRule = checkDomainConfig(guest('web-1', 'script=vif-localack'), 'w.cfg', CONF, { patchedXl: false });
  assert.equal([scriptWithRule.vifs[0].activation, scriptWithRule.vifs[0].profile], ['script', 'satellite']);
});

test('check: xl.conf defaults (vif.default.script / bridge) apply to vifs that do not say', () => {
  const r = checkDomainConfig(guest('app', 'mac=00:16:3e:00:00:01', 'bridge=xenbr9'), 'app.cfg', CONF, {
    patchedXl: false,
    xlDefaults: { script: 'vif-localack', bridge: 'br-lan' },
  });
  assert.equal(r.vifs.map((v) => [v.script, v.bridge, v.activation]), [
    ['vif-localack', 'br-lan', 'script'],
    ['vif-localack', 'xenbr9', 'script'],
  ]);
});

test('check: unsupported scripts, duplicate devids, xl-fatal values, missing name', () => {
  const r = checkDomainConfig(
    guest('app', 'script=vif-nat,localack=required', 'script=vif-openvswitch,localack=1', 'devid=0', 'rate=fast'),
    'app.cfg', CONF, { patchedXl: true },
  );
  assert.not.ok(r.ok);
  assert.equal(r.vifs[0].errors, ['xlnet supports vif-bridge and vif-route setups, not script vif-nat; localack is required, so the hotplug would fail']);
  assert.equal(r.vifs[1].warnings, ['xlnet supports vif-bridge and vif-route setups, not script vif-openvswitch; the vif would run unsplit']);
  assert.equal(r.vifs[2].errors, ['devid 0 is also used by vif entry 0; libxl cannot add both']);
  assert.equal(r.vifs[3].errors, ["config parsing error in vif: invalid rate in `fast'"]);
  const noName = checkDomainConfig("vif = [ 'bridge=xenbr0' ]\n", 'x.cfg', CONF, { patchedXl: false });
  assert.not.ok(noName.ok);
  assert.equal(noName.errors, ["x.cfg: no `name = \"...\"' (xl: Domain name must be specified.)"]);
});

test('check: a file xl cannot read is reported with its lines, not thrown', () => {
  const r = checkDomainConfig("name = 'x'\nvif = [ bridge=xenbr0 ]\n", 'bad.cfg', CONF, { patchedXl: true });
  assert.not.ok(r.ok);
  assert.equal(r.vifs, []);
  assert.equal(r.errors, ["bad.cfg:2: config parsing error near `bridge': syntax error, unexpected IDENT, expecting a string, a number or '['"]);
});

test('check: no vif list is a warning, not an error', () => {
  const r = checkDomainConfig("name = 'x'\n", 'x.cfg', CONF, { patchedXl: true });
  assert.ok(r.ok);
  assert.equal(r.warnings, ['x.cfg: no vif = [ ... ] list: the domain has no network interfaces']);
});

test.run();
