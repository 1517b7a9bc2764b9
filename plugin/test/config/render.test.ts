import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PROFILE_PRESETS } from '../../src/config/presets.js';
import { presetSettings, renderTemplate, renderXlnetConf, templateConfig } from '../../src/config/render.js';
import { keysOf, type ProfileKey } from '../../src/config/schema.js';
import { parseSize } from '../../src/config/units.js';
import { builtinConfig, parseXlnetConf, type XlnetConfig } from '../../src/config/xlnet-conf.js';

const TEMPLATE_PATH = fileURLToPath(new URL('../../../templates/xlnet.conf', import.meta.url));

/** A config without where it came from, for comparing settings. */
function settingsOf(cfg: XlnetConfig): unknown {
  return {
    daemon: cfg.daemon,
    defaults: cfg.defaults,
    profiles: [...cfg.profiles.entries()],
    domains: cfg.domains.map(({ line: _line, ...d }) => d),
  };
}

test('templates/xlnet.conf is exactly what the schema renders', () => {
  const committed = readFileSync(TEMPLATE_PATH, 'utf8');
  const rendered = renderTemplate();
  if (committed !== rendered) {
    assert.fixture(
      committed,
      rendered,
      'templates/xlnet.conf is stale; regenerate it with: node --import tsx -e "import(\'./plugin/src/config/render.ts\').then(m=>process.stdout.write(m.renderTemplate()))" > templates/xlnet.conf',
    );
  }
});

test('the template parses, documents every key, and ships the presets', () => {
  const text = renderTemplate();
  const cfg = parseXlnetConf(text, 'templates/xlnet.conf');
  assert.equal([...cfg.profiles.keys()], ['default', ...PROFILE_PRESETS.map((p) => p.name)]);
  for (const section of ['daemon', 'defaults', 'profile'] as const) {
    for (const spec of keysOf(section)) {
      assert.match(text, new RegExp(`^${spec.key} =`, 'm'), spec.key);
      assert.ok(text.includes(`# ${spec.doc}`), `doc of ${spec.key}`);
    }
  }
  // Defaults stay written the way the schema writes them (60s, not 1m).
  assert.match(text, /^keepalive_idle = 60s$/m);
  assert.match(text, /^exclude_cidrs =$/m);
  // Parsing the template gives the built-in defaults for daemon/defaults/default.
  const b = builtinConfig();
  assert.equal(cfg.daemon, b.daemon);
  assert.equal(cfg.defaults, b.defaults);
  assert.equal(cfg.profiles.get('default'), b.profiles.get('default'));
});

test('presets: their values land in the parsed profiles, each with its reason', () => {
  const text = renderTemplate();
  const cfg = parseXlnetConf(text, 'templates/xlnet.conf');
  for (const preset of PROFILE_PRESETS) {
    const p = cfg.profiles.get(preset.name);
    assert.ok(p, preset.name);
    const typed = presetSettings(preset);
    for (const key of Object.keys(preset.settings) as ProfileKey[]) {
      assert.equal(p[key], typed[key], `${preset.name}.${key}`);
      const note = preset.notes[key];
      assert.ok(note, `${preset.name}.${key} has a reason`);
      assert.ok(text.includes(`# ${note}\n${key} = `), `${preset.name}.${key} reason printed above the key`);
    }
    for (const line of preset.why) assert.ok(text.includes(`# ${line}\n`), line);
  }
  // The BDP arithmetic the comments rely on.
  const sat = cfg.profiles.get('satellite');
  assert.ok(sat && Math.round(sat.wan_sndbuf * 8 / 0.6 / 1e6) === 895);
  const tc = cfg.profiles.get('transcontinental');
  assert.ok(tc && tc.wan_sndbuf >= 2 * (1e9 / 8) * 0.2);
  // satellite: cubic, measured faster than BBR's startup overshoot on a one-BDP queue (lab/bench)
  assert.ok(sat.wan_cc === 'cubic' && tc.wan_cc === 'bbr' && cfg.profiles.get('lossy')?.wan_cc === 'bbr');
  assert.is(parseSize('4m') / ((50e6 / 8) * 0.1) > 6.7, true);
});

test('round trip: a full custom configuration renders and parses back identical', () => {
  const text = [
    '[daemon]',
    'socket = /run/xl/ctl;1.sock',
    'state_dir = /var/lib/xlnet',
    'log_level = debug',
    'max_flows = 1234',
    'listen_port = 15001',
    '[defaults]',
    'profile = sat',
    'required = yes',
    '[profile default]',
    'exclude_ports = 22,3389,5900-5999',
    'exclude_cidrs = 10.0.0.0/8,fd00::/8,192.0.2.7',
    'keepalive_idle = 90s',
    '[profile sat]',
    'buffer = 3m',
    'idle_timeout = 0',
    'keepalive = no',
    'wan_notsent_lowat = 128k',
    '[profile plain]',
    '[domain web-*]',
    'localack = sat',
    'vifs = 0,2',
    '[domain db.example.com]',
    'localack = required',
    '[domain off]',
    'localack = 0',
  ].join('\n');
  const cfg = parseXlnetConf(text, 'in.conf');
  const rendered = renderXlnetConf(cfg);
  const again = parseXlnetConf(rendered, 'out.conf');
  assert.equal(settingsOf(again), settingsOf(cfg));
  // And it is stable: rendering the re-read config gives the same text.
  assert.is(renderXlnetConf(again), rendered);
  // Without comments too.
  const bare = renderXlnetConf(cfg, { comments: false });
  assert.not.match(bare, /^#/m);
  assert.equal(settingsOf(parseXlnetConf(bare, 'bare.conf')), settingsOf(cfg));
});

test('non-default profiles list only what differs from [profile default]', () => {
  const cfg = parseXlnetConf('[profile a]\nbuffer = 8m\nwan_cc = bbr\n', 'in.conf');
  const text = renderXlnetConf(cfg, { comments: false });
  const section = text.slice(text.indexOf('[profile a]'));
  assert.is(section, '[profile a]\nbuffer = 8m\n');
});

test('a partial configuration (what the wizard builds) renders with defaults filled in', () => {
  const partial = {
    daemon: { log_level: 'warn' as const },
    defaults: { profile: 'satellite', required: true },
    profiles: new Map([
      ['satellite', presetSettings(PROFILE_PRESETS[0])],
      ['default', { buffer: 2 * 1024 * 1024 }],
    ]),
    domains: [{ pattern: 'web-*', localack: 'satellite', vifs: 'all' as const }],
  };
  const cfg = parseXlnetConf(renderXlnetConf(partial), 'wizard.conf');
  assert.is(cfg.daemon.log_level, 'warn');
  assert.is(cfg.daemon.max_flows, 65536);
  assert.is(cfg.defaults.profile, 'satellite');
  assert.is(cfg.defaults.required, true);
  assert.is(cfg.profiles.get('default')?.buffer, 2 * 1024 * 1024);
  assert.is(cfg.profiles.get('satellite')?.buffer, 32 * 1024 * 1024);
  assert.is(cfg.profiles.get('satellite')?.wan_sndbuf, 64 * 1024 * 1024);
  assert.is(cfg.profiles.get('satellite')?.exclude_ports[0].from, 22);
  assert.equal(cfg.domains.map((d) => [d.pattern, d.localack, d.vifs]), [['web-*', 'satellite', 'all']]);
});

test('a profile named like a preset but with other values gets no misleading reasons', () => {
  const partial = { profiles: new Map([['satellite', { wan_sndbuf: 8 * 1024 * 1024 }]]) };
  const text = renderXlnetConf(partial);
  const section = text.slice(text.indexOf('[profile satellite]'));
  assert.not.ok(section.includes('64 MiB'));
  assert.match(section, /wan_sndbuf = 8m/);
});

test('templateConfig holds exactly the presets', () => {
  assert.equal([...(templateConfig().profiles?.keys() ?? [])], PROFILE_PRESETS.map((p) => p.name));
});

test.run();
