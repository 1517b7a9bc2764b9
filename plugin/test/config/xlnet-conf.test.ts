import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ini from 'ini';
import { ConfigError, type ConfigErrorCode } from '../../src/config/config-error.js';
import { SCHEMA as SCHEMA_TABLE, keysOf, type KeySpec } from '../../src/config/schema.js';

const SCHEMA: readonly KeySpec[] = SCHEMA_TABLE;
import { parseDuration, parseSize } from '../../src/config/units.js';
import {
  builtinConfig,
  checkXlnetConf,
  domainRuleFor,
  loadXlnetConf,
  parseXlnetConf,
  resolveLocalack,
} from '../../src/config/xlnet-conf.js';

const FILE = '/etc/xen/xlnet.conf';

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    assert.instance(e, ConfigError);
    return e as ConfigError;
  }
  assert.unreachable('expected a ConfigError');
  throw new Error('unreachable');
}

function confError(text: string): ConfigError {
  return errorOf(() => parseXlnetConf(text, FILE));
}

test('an empty file gives the built-in defaults', () => {
  const cfg = parseXlnetConf('', FILE);
  assert.is(cfg.daemon.socket, '/run/xlnet/xlnetd.sock');
  assert.is(cfg.daemon.state_dir, '/run/xlnet');
  assert.is(cfg.daemon.log_level, 'info');
  assert.is(cfg.daemon.max_flows, 65536);
  assert.is(cfg.daemon.listen_port, 0);
  assert.is(cfg.defaults.profile, 'default');
  assert.is(cfg.defaults.required, false);
  assert.equal([...cfg.profiles.keys()], ['default']);
  const p = cfg.profiles.get('default');
  assert.ok(p);
  assert.is(p.engine, 'auto');
  assert.is(p.buffer, 4 * 1024 * 1024);
  assert.is(p.idle_timeout, 3600);
  assert.is(p.connect_timeout, 30);
  assert.is(p.keepalive, true);
  assert.is(p.keepalive_idle, 60);
  assert.is(p.keepalive_interval, 10);
  assert.is(p.keepalive_count, 6);
  assert.is(p.guest_cc, 'cubic');
  assert.is(p.wan_cc, 'bbr');
  assert.is(p.wan_sndbuf, 0);
  assert.is(p.wan_initcwnd, 0);
  assert.equal(p.exclude_ports, [{ from: 22, to: 22 }]);
  assert.equal(p.exclude_cidrs, []);
  assert.equal(cfg.domains, []);
  assert.is(cfg.source, FILE);
  assert.equal({ ...cfg, source: 'x', file: 'x', found: false }, { ...builtinConfig(), source: 'x', file: 'x', found: false });
});

test('every schema default parses and lies within its own bounds', () => {
  for (const spec of SCHEMA) {
    const text = spec.section === 'profile' ? `[profile p]\n${spec.key} = ${spec.default}\n`
      : spec.section === 'domain' ? `[domain d]\n${spec.key} = ${spec.default}\n`
        : `[${spec.section}]\n${spec.key} = ${spec.default}\n`;
    parseXlnetConf(text, FILE);
    // The hand-written `allowed` text must name the bounds the validator uses.
    if (spec.min !== undefined && spec.max !== undefined) assert.ok(spec.allowed.includes(`${spec.min}..${spec.max}`), spec.key);
  }
});

test('a full file: values, comments (; and #), whitespace, quotes, inline comments', () => {
  const cfg = parseXlnetConf(
    [
      '; xlnet configuration',
      '# another comment style',
      '',
      '[daemon]',
      '  socket   =   /run/x/ctl.sock   ; inline comment',
      'log_level=debug',
      'max_flows = 1000 # inline hash comment',
      'listen_port = 15001',
      'state_dir = "/var/run/xlnet"',
      '',
      '  [defaults]   ; comment after a header',
      'profile = sat',
      'required = yes',
      '',
      '[profile default]',
      'exclude_ports = 22,3389',
      '',
      '[profile sat]',
      'buffer = 32m',
      'wan_sndbuf = 64M',
      'idle_timeout = 0',
      'keepalive = no',
      'exclude_cidrs = 10.0.0.0/8, fd00::/8',
      'wan_initcwnd = 40',
    ].join('\n'),
    FILE,
  );
  assert.is(cfg.daemon.socket, '/run/x/ctl.sock');
  assert.is(cfg.daemon.log_level, 'debug');
  assert.is(cfg.daemon.max_flows, 1000);
  assert.is(cfg.daemon.listen_port, 15001);
  assert.is(cfg.daemon.state_dir, '/var/run/xlnet');
  assert.is(cfg.defaults.profile, 'sat');
  assert.is(cfg.defaults.required, true);
  const sat = cfg.profiles.get('sat');
  assert.ok(sat);
  assert.is(sat.name, 'sat');
  assert.is(sat.buffer, 32 * 1024 * 1024);
  assert.is(sat.wan_sndbuf, 64 * 1024 * 1024);
  assert.is(sat.idle_timeout, 0);
  assert.is(sat.keepalive, false);
  assert.is(sat.wan_initcwnd, 40);
  assert.equal(sat.exclude_cidrs.map((c) => `${c.address}/${c.prefix}`), ['10.0.0.0/8', 'fd00::/8']);
  // Not set in [profile sat]: inherited from the user's [profile default].
  assert.equal(sat.exclude_ports, [{ from: 22, to: 22 }, { from: 3389, to: 3389 }]);
  assert.is(sat.engine, 'auto');
});

test('values read exactly as ini.parse reads them (quotes, escapes, comments)', () => {
  const text = [
    '[daemon]',
    'socket = "/run/x;y.sock"',
    "state_dir = '/run/a b'",
    'log_level = warn ; trailing',
    '[profile p]',
    'exclude_cidrs =',
    'guest_cc = reno # c',
  ].join('\n');
  const viaIni = ini.parse(text);
  const cfg = parseXlnetConf(text, FILE);
  assert.is(cfg.daemon.socket, viaIni.daemon.socket);
  assert.is(cfg.daemon.state_dir, viaIni.daemon.state_dir);
  assert.is(cfg.daemon.log_level, viaIni.daemon.log_level);
  assert.is(cfg.profiles.get('p')?.guest_cc, viaIni['profile p'].guest_cc);
  assert.equal(cfg.profiles.get('p')?.exclude_cidrs, []);
});

test('booleans accept yes/no and the usual synonyms', () => {
  for (const [w, v] of [['yes', true], ['YES', true], ['true', true], ['on', true], ['1', true], ['no', false], ['false', false], ['off', false], ['0', false]] as const) {
    assert.is(parseXlnetConf(`[defaults]\nrequired = ${w}\n`, FILE).defaults.required, v, w);
  }
});

test('CRLF files and files without a final newline keep correct line numbers', () => {
  const e = confError('[daemon]\r\n\r\nlog_level = loud\r\n');
  assert.is(e.line, 3);
  const e2 = confError('[daemon]\n\n\nmax_flows = 0');
  assert.is(e2.line, 4);
});

// One case per error code, with the whole message a user would see.
const ERROR_CASES: { name: string; text: string; code: ConfigErrorCode; message: string }[] = [
  {
    name: 'bad size',
    text: '[daemon]\nlog_level = info\n\n[profile sat]\n' + '\n'.repeat(7) + 'buffer = 12q\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:12: [profile sat] buffer = 12q: not a size (allowed: bytes with k, m or g suffix, 64k..1g)',
  },
  {
    name: 'size below minimum',
    text: '[profile sat]\nbuffer = 32k\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [profile sat] buffer = 32k: below the minimum 64k (allowed: bytes with k, m or g suffix, 64k..1g)',
  },
  {
    name: 'size above maximum',
    text: '[profile default]\nwan_sndbuf = 2g\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [profile default] wan_sndbuf = 2g: above the maximum 1g (2g) (allowed: 0 (kernel autotuning) or bytes with k, m or g suffix, 4k..1g)',
  },
  {
    name: 'bad enum',
    text: '[daemon]\nlog_level = verbose\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [daemon] log_level = verbose: not one of the choices (allowed: error, warn, info or debug)',
  },
  {
    name: 'bad bool',
    text: '[defaults]\nrequired = maybe\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [defaults] required = maybe: not yes or no (allowed: yes or no)',
  },
  {
    name: 'bad duration',
    text: '[profile p]\nidle_timeout = forever\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [profile p] idle_timeout = forever: not a duration (allowed: 0 (never) or a duration with s, m, h or d suffix, 1s..30d)',
  },
  {
    name: 'duration 0 where 0 means nothing',
    text: '[profile p]\nconnect_timeout = 0\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [profile p] connect_timeout = 0: below the minimum 1s (allowed: a duration with s, m or h suffix, 1s..10m)',
  },
  {
    name: 'keepalive beyond the Linux limit',
    text: '[profile p]\nkeepalive_idle = 10h\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [profile p] keepalive_idle = 10h: above the maximum 32767s (10h) (allowed: a duration with s, m or h suffix, 1s..32767s (Linux TCP_KEEPIDLE limit))',
  },
  {
    name: 'count not a number',
    text: '[daemon]\nmax_flows = lots\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [daemon] max_flows = lots: not a whole number (allowed: a whole number, 1..524288)',
  },
  {
    name: 'port out of range',
    text: '[daemon]\nlisten_port = 70000\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [daemon] listen_port = 70000: above the maximum 65535 (70000) (allowed: 0 (pick a free port) or a port, 1..65535)',
  },
  {
    name: 'relative path',
    text: '[daemon]\nsocket = run/xlnetd.sock\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [daemon] socket = run/xlnetd.sock: not an absolute path (allowed: an absolute path of at most 107 bytes)',
  },
  {
    name: 'socket path too long for sun_path',
    text: `[daemon]\nsocket = /${'s'.repeat(107)}\n`,
    code: 'E_BAD_VALUE',
    message: `/etc/xen/xlnet.conf:2: [daemon] socket = /${'s'.repeat(107)}: longer than 107 bytes (allowed: an absolute path of at most 107 bytes)`,
  },
  {
    name: 'congestion control name',
    text: '[profile p]\nwan_cc = BBR!\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [profile p] wan_cc = BBR!: not a congestion control name (allowed: a congestion control name (a-z, 0-9, _; at most 15 characters), e.g. cubic, reno, bbr)',
  },
  {
    name: 'port list',
    text: '[profile p]\nexclude_ports = 22,ssh\n',
    code: 'E_BAD_VALUE',
    message: "/etc/xen/xlnet.conf:2: [profile p] exclude_ports = 22,ssh: `ssh' is not a port or a port range (allowed: a comma list of ports or ranges, e.g. 22,5900-5999 (empty: none))",
  },
  {
    name: 'CIDR list',
    text: '[profile p]\nexclude_cidrs = 10.1.2.3/8\n',
    code: 'E_BAD_VALUE',
    message: "/etc/xen/xlnet.conf:2: [profile p] exclude_cidrs = 10.1.2.3/8: `10.1.2.3/8' has host bits set (did you mean 10.0.0.0/8?) (allowed: a comma list of IPv4/IPv6 addresses or CIDRs, e.g. 10.0.0.0/8,fd00::/8 (empty: none))",
  },
  {
    name: 'domain localack syntax',
    text: '[domain web]\nlocalack = on please\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [domain web] localack = on please: not 0, 1, required or a profile name (A-Z a-z 0-9 _ -, at most 32 characters) (allowed: 0, 1, required or a profile name)',
  },
  {
    name: 'domain localack that looks like a boolean',
    text: '[domain web]\nlocalack = Yes\n',
    code: 'E_BAD_VALUE',
    message: '/etc/xen/xlnet.conf:2: [domain web] localack = Yes: use 1 to enable or 0 to disable (allowed: 0, 1, required or a profile name)',
  },
  {
    name: 'boolean word as profile name',
    text: '[profile on]\n',
    code: 'E_BAD_SECTION_NAME',
    message: "/etc/xen/xlnet.conf:1: [profile on]: bad profile name `on' (allowed: [profile NAME], NAME of 1-32 characters A-Z a-z 0-9 _ -, not 0, 1, required or yes/no/true/false/on/off/y/n)",
  },
  {
    name: 'domain vifs',
    text: '[domain web]\nvifs = 0,eth1\n',
    code: 'E_BAD_VALUE',
    message: "/etc/xen/xlnet.conf:2: [domain web] vifs = 0,eth1: `eth1' is not a vif devid (allowed: `all` or a comma list of vif devids, e.g. 0,1)",
  },
  {
    name: 'unknown key with suggestion',
    text: '[daemon]\nsokcet = /run/x.sock\n',
    code: 'E_UNKNOWN_KEY',
    message: '/etc/xen/xlnet.conf:2: [daemon] sokcet = /run/x.sock: unknown key; did you mean socket? (allowed: socket, state_dir, log_level, max_flows, listen_port)',
  },
  {
    name: 'key from another section',
    text: '[defaults]\nbuffer = 4m\n',
    code: 'E_UNKNOWN_KEY',
    message: '/etc/xen/xlnet.conf:2: [defaults] buffer = 4m: unknown key (allowed: profile, required)',
  },
  {
    name: 'unknown section with suggestion',
    text: '[deamon]\nsocket = /x\n',
    code: 'E_UNKNOWN_SECTION',
    message: '/etc/xen/xlnet.conf:1: [deamon]: unknown section; did you mean daemon? (allowed: [daemon], [defaults], [profile NAME], [domain NAME])',
  },
  {
    name: 'bad profile name',
    text: '[profile sat!]\n',
    code: 'E_BAD_SECTION_NAME',
    message: "/etc/xen/xlnet.conf:1: [profile sat!]: bad profile name `sat!' (allowed: [profile NAME], NAME of 1-32 characters A-Z a-z 0-9 _ -, not 0, 1, required or yes/no/true/false/on/off/y/n)",
  },
  {
    name: 'reserved profile name',
    text: '[profile required]\n',
    code: 'E_BAD_SECTION_NAME',
    message: "/etc/xen/xlnet.conf:1: [profile required]: bad profile name `required' (allowed: [profile NAME], NAME of 1-32 characters A-Z a-z 0-9 _ -, not 0, 1, required or yes/no/true/false/on/off/y/n)",
  },
  {
    name: 'profile without a name',
    text: '[profile]\nbuffer = 4m\n',
    code: 'E_BAD_SECTION_NAME',
    message: '/etc/xen/xlnet.conf:1: [profile]: profile without a name (allowed: [profile NAME], NAME of 1-32 characters A-Z a-z 0-9 _ -, not 0, 1, required or yes/no/true/false/on/off/y/n)',
  },
  {
    name: 'daemon with a name',
    text: '[daemon main]\n',
    code: 'E_BAD_SECTION_NAME',
    message: '/etc/xen/xlnet.conf:1: [daemon main]: [daemon] takes no name (allowed: [daemon])',
  },
  {
    name: 'domain name with a space',
    text: '[domain web 1]\n',
    code: 'E_BAD_SECTION_NAME',
    message: '/etc/xen/xlnet.conf:1: [domain web 1]: a domain name cannot contain spaces (allowed: [domain NAME], NAME an xl domain name or a glob such as web-*)',
  },
  {
    name: 'duplicate key',
    text: '[profile p]\nbuffer = 4m\nwan_cc = bbr\nbuffer = 8m\n',
    code: 'E_DUPLICATE',
    message: '/etc/xen/xlnet.conf:4: [profile p] buffer = 8m: already set at line 2 (allowed: each key once per section)',
  },
  {
    name: 'duplicate section',
    text: '[profile p]\nbuffer = 4m\n\n[profile p]\nwan_cc = bbr\n',
    code: 'E_DUPLICATE',
    message: '/etc/xen/xlnet.conf:4: [profile p]: section already defined at line 1 (allowed: each section once; merge the two)',
  },
  {
    name: 'unknown profile in [defaults]',
    text: '[profile satellite]\n[defaults]\nprofile = satelite\n',
    code: 'E_UNKNOWN_PROFILE',
    message: '/etc/xen/xlnet.conf:3: [defaults] profile = satelite: no [profile satelite] section; did you mean satellite? (allowed: default, satellite)',
  },
  {
    name: 'unknown profile in a domain rule',
    text: '[domain web-*]\nvifs = 0\nlocalack = fast\n',
    code: 'E_UNKNOWN_PROFILE',
    message: '/etc/xen/xlnet.conf:3: [domain web-*] localack = fast: no [profile fast] section (allowed: 0, 1, required or a profile: default)',
  },
  {
    name: 'line that is neither section nor key',
    text: '[daemon]\n= value\n',
    code: 'E_SYNTAX',
    message: '/etc/xen/xlnet.conf:2: = value: expected `[section]` or `key = value`',
  },
  {
    name: 'section header without its closing bracket',
    text: '[profile sat\nbuffer = 4m\n',
    code: 'E_SYNTAX',
    message: '/etc/xen/xlnet.conf:1: [profile sat: expected `[section]` or `key = value`',
  },
  {
    name: 'key without a value',
    text: '[profile p]\nkeepalive\n',
    code: 'E_SYNTAX',
    message: '/etc/xen/xlnet.conf:2: keepalive: expected `[section]` or `key = value`',
  },
  {
    name: 'key before any section',
    text: '# comment\nsocket = /run/x.sock\n[daemon]\n',
    code: 'E_NO_SECTION',
    message: '/etc/xen/xlnet.conf:2: socket = /run/x.sock: key outside any [section]',
  },
];

for (const c of ERROR_CASES) {
  test(`ConfigError ${c.code}: ${c.name}`, () => {
    const e = confError(c.text);
    assert.is(e.code, c.code);
    assert.is(e.message, c.message);
    assert.is(e.file, FILE);
  });
}

test('ConfigError carries file, line, section, key, value and what is allowed', () => {
  const e = confError('[profile sat]\nbuffer = 12q\n');
  assert.is(e.line, 2);
  assert.is(e.section, 'profile sat');
  assert.is(e.key, 'buffer');
  assert.is(e.value, '12q');
  assert.is(e.problem, 'not a size');
  assert.is(e.allowed, 'bytes with k, m or g suffix, 64k..1g');
  assert.is(e.name, 'ConfigError');
});

test('checkXlnetConf reports every problem in line order; parse throws the first', () => {
  const text = '[daemon]\nlog_level = loud\n[wat]\nx = 1\n[profile p]\nbufer = 1m\nbuffer = 1k\n';
  const r = checkXlnetConf(text, FILE);
  assert.is(r.config, undefined);
  assert.equal(r.errors.map((e) => [e.line, e.code]), [
    [2, 'E_BAD_VALUE'],
    [3, 'E_UNKNOWN_SECTION'],
    [6, 'E_UNKNOWN_KEY'],
    [7, 'E_BAD_VALUE'],
  ]);
  assert.is(confError(text).line, 2);
  const ok = checkXlnetConf('[daemon]\n', FILE);
  assert.equal(ok.errors, []);
  assert.ok(ok.config);
});

test('duplicate keys are found even with comments and blank lines between them', () => {
  const e = confError('[daemon]\nmax_flows = 10\n; max_flows = 20\n\n  max_flows   =   30   # again\n');
  assert.is(e.code, 'E_DUPLICATE');
  assert.is(e.line, 5);
  assert.match(e.message, /already set at line 2/);
});

test('section names with dots (domain names) stay whole, unlike ini.parse', () => {
  const cfg = parseXlnetConf('[domain web.example.com]\nlocalack = 1\n[domain web]\nlocalack = 0\n', FILE);
  assert.equal(cfg.domains.map((d) => [d.pattern, d.localack, d.line]), [['web.example.com', '1', 1], ['web', '0', 3]]);
});

test('profiles inherit from [profile default]; `default` may be overridden', () => {
  const cfg = parseXlnetConf('[profile fast]\nwan_cc = reno\n[profile default]\nbuffer = 1m\nwan_cc = cubic\n', FILE);
  assert.equal([...cfg.profiles.keys()], ['default', 'fast']);
  assert.is(cfg.profiles.get('default')?.buffer, 1024 * 1024);
  assert.is(cfg.profiles.get('default')?.wan_cc, 'cubic');
  assert.is(cfg.profiles.get('fast')?.buffer, 1024 * 1024);
  assert.is(cfg.profiles.get('fast')?.wan_cc, 'reno');
});

test('resolveLocalack: 0, 1, required and profile names', () => {
  const cfg = parseXlnetConf('[defaults]\nprofile = sat\n[profile sat]\nbuffer = 32m\n[profile lossy]\n', FILE);
  assert.equal(resolveLocalack('0', cfg), { enabled: false, required: false });
  assert.equal(resolveLocalack('1', cfg), { enabled: true, required: false, profile: 'sat' });
  assert.equal(resolveLocalack('required', cfg), { enabled: true, required: true, profile: 'sat' });
  assert.equal(resolveLocalack('lossy', cfg), { enabled: true, required: false, profile: 'lossy' });
  assert.equal(resolveLocalack('default', cfg), { enabled: true, required: false, profile: 'default' });
  const strict = parseXlnetConf('[defaults]\nrequired = yes\n', FILE);
  assert.equal(resolveLocalack('1', strict), { enabled: true, required: true, profile: 'default' });
  assert.equal(resolveLocalack('default', strict), { enabled: true, required: true, profile: 'default' });
});

test('resolveLocalack: an unknown profile names it and the known ones', () => {
  const cfg = parseXlnetConf('[profile satellite]\n[profile lossy]\n', FILE);
  const e = errorOf(() => resolveLocalack('satelite', cfg));
  assert.is(e.code, 'E_UNKNOWN_PROFILE');
  assert.is(e.message, '/etc/xen/xlnet.conf: localack = satelite: no profile named satelite; did you mean satellite? (allowed: 0, 1, required or a profile: default, satellite, lossy)');
  const bad = errorOf(() => resolveLocalack('yes please', cfg, { file: 'guest.cfg', line: 7, key: 'vif 0 localack' }));
  assert.is(bad.code, 'E_BAD_VALUE');
  assert.is(bad.message, 'guest.cfg:7: vif 0 localack = yes please: not 0, 1, required or a profile name (A-Z a-z 0-9 _ -, at most 32 characters) (allowed: 0, 1, required or a profile: default, satellite, lossy)');
  assert.is(errorOf(() => resolveLocalack('', cfg)).code, 'E_BAD_VALUE');
  assert.is(errorOf(() => resolveLocalack('x'.repeat(33), cfg)).code, 'E_BAD_VALUE');
});

test('domainRuleFor: exact name beats globs, first glob wins, vifs filter devids', () => {
  const cfg = parseXlnetConf(
    [
      '[profile sat]',
      '[domain web-*]',
      'localack = sat',
      '[domain web-?]',
      'localack = required',
      '[domain web-1]',
      'localack = 0',
      '[domain db]',
      'vifs = 1, 2',
      '[domain *.example.com]',
      'localack = 1',
    ].join('\n'),
    FILE,
  );
  assert.is(domainRuleFor(cfg, 'web-1', 0)?.localack, '0');
  assert.is(domainRuleFor(cfg, 'web-2', 0)?.localack, 'sat');
  assert.is(domainRuleFor(cfg, 'web-20', 5)?.localack, 'sat');
  assert.is(domainRuleFor(cfg, 'web-', 0)?.pattern, 'web-*');
  assert.is(domainRuleFor(cfg, 'db', 0), undefined);
  assert.is(domainRuleFor(cfg, 'db', 1)?.pattern, 'db');
  assert.is(domainRuleFor(cfg, 'db', 2)?.pattern, 'db');
  assert.is(domainRuleFor(cfg, 'db2', 1), undefined);
  assert.is(domainRuleFor(cfg, 'mail.example.com', 0)?.pattern, '*.example.com');
  // `.` in a pattern is a literal dot, not "any character".
  assert.is(domainRuleFor(cfg, 'mailXexampleYcom', 0), undefined);
  assert.is(domainRuleFor(cfg, 'other', 0), undefined);
  assert.equal(cfg.domains.find((d) => d.pattern === 'db')?.vifs, [1, 2]);
  assert.is(cfg.domains.find((d) => d.pattern === 'web-*')?.vifs, 'all');
});

test('loadXlnetConf: a missing file means built-in defaults, and says so', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xlnet-conf-'));
  try {
    const missing = join(dir, 'xlnet.conf');
    const cfg = loadXlnetConf(missing);
    assert.is(cfg.found, false);
    assert.is(cfg.file, missing);
    assert.is(cfg.source, `built-in defaults (${missing} does not exist)`);
    assert.equal([...cfg.profiles.keys()], ['default']);

    writeFileSync(missing, '[daemon]\nlog_level = debug\n');
    const real = loadXlnetConf(missing);
    assert.is(real.found, true);
    assert.is(real.source, missing);
    assert.is(real.daemon.log_level, 'debug');

    writeFileSync(missing, '[daemon]\nlog_level = shout\n');
    assert.is(errorOf(() => loadXlnetConf(missing)).message.split(':').slice(0, 2).join(':'), `${missing}:2`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loadXlnetConf: a file that exists but cannot be read is an error, not the defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xlnet-conf-'));
  try {
    // A directory where the file should be: readFileSync fails with EISDIR.
    const e = errorOf(() => loadXlnetConf(dir));
    assert.is(e.code, 'E_READ');
    assert.match(e.message, new RegExp(`^${dir}: cannot read: EISDIR`));
    assert.match(e.message, /or no file for built-in defaults/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the schema table is complete and consistent', () => {
  const keys = SCHEMA.map((k) => `${k.section}.${k.key}`);
  assert.is(new Set(keys).size, keys.length, 'no key twice');
  assert.equal(keysOf('daemon').map((k) => k.key), ['socket', 'state_dir', 'log_level', 'max_flows', 'listen_port']);
  assert.equal(keysOf('defaults').map((k) => k.key), ['profile', 'required']);
  assert.equal(keysOf('domain').map((k) => k.key), ['localack', 'vifs']);
  assert.equal(keysOf('profile').map((k) => k.key), [
    'engine', 'buffer', 'idle_timeout', 'connect_timeout', 'keepalive', 'keepalive_idle', 'keepalive_interval',
    'keepalive_count', 'guest_cc', 'guest_sndbuf', 'guest_rcvbuf', 'guest_nodelay', 'wan_cc', 'wan_sndbuf',
    'wan_rcvbuf', 'wan_nodelay', 'wan_notsent_lowat', 'wan_initcwnd', 'exclude_ports', 'exclude_cidrs',
  ]);
  for (const k of SCHEMA) {
    assert.ok(k.doc.length > 0 && k.allowed.length > 0, k.key);
    if (k.type === 'size' && k.min !== undefined) assert.ok(parseSize(k.min) <= parseSize(k.max ?? k.min), k.key);
    if (k.type === 'duration' && k.min !== undefined) assert.ok(parseDuration(k.min) <= parseDuration(k.max ?? k.min), k.key);
  }
});

test.run();
