// The man page and the bash completion against the verb table: every verb
// and every flag documented and completed, the man page valid groff, and
// the completion working in a real bash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXIT_DOCS } from '../../src/cli/exit-codes.js';
import { allOptions } from '../../src/cli/verb.js';
import { VERBS } from '../../src/cli/verbs/index.js';
import { PROFILE_OPTION_KEYS } from '../../src/cli/verbs/vif-args.js';
import { REPO } from './helpers.js';

const MAN = join(REPO, 'man/xlnet.8');
const COMPLETION = join(REPO, 'completion/xlnet.bash');
const man = readFileSync(MAN, 'utf8');
const rendered = spawnSync('man', ['-l', MAN], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '200', MAN_KEEP_FORMATTING: '0' } }).stdout
  .replace(/.\x08/g, '');

test('the man page is valid groff (no warnings)', () => {
  const r = spawnSync('groff', ['-man', '-ww', '-z', MAN], { encoding: 'utf8' });
  assert.is(r.status, 0);
  assert.is(r.stderr, '');
});

test('the man page documents every verb, every flag, every exit code and every profile option', () => {
  for (const v of VERBS) {
    assert.ok(new RegExp(`^ {7}${v.name}\\b`, 'm').test(rendered), `verb ${v.name} has an entry`);
    for (const [name, o] of Object.entries(allOptions(v))) {
      assert.ok(rendered.includes(`--${name}`), `--${name} (${v.name}) is in the man page`);
      if (o.short) assert.ok(rendered.includes(`-${o.short}, --${name}`) || rendered.includes(`-${o.short} `), `-${o.short} is in the man page`);
    }
  }
  for (const [code] of EXIT_DOCS) assert.match(rendered, new RegExp(`^ {7}${code}\\s`, 'm'));
  for (const k of PROFILE_OPTION_KEYS) assert.ok(man.includes(k), `profile option ${k}`);
});

function complete(line: string): string[] {
  // COMP_WORDS as bash splits the line; the cursor at its end.
  const words = line.split(' ');
  const script = `source ${COMPLETION}
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}
_xlnet; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script], { encoding: 'utf8', env: { ...process.env, XLNET_CONF: '/nonexistent' } });
  assert.is(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l !== '');
}

test('bash completion: verbs, then each verb\'s flags exactly as the parser knows them', () => {
  assert.equal(complete('xlnet '), ['status', 'flows', 'top', 'attach', 'detach', 'set', 'reload', 'check', 'config', 'setup', 'hotplug', 'version', 'help', '--help', '--version', '--socket', '--config']);
  const verbs = complete('xlnet ').filter((w) => !w.startsWith('-'));
  assert.equal(verbs.sort(), VERBS.map((v) => v.name).sort());
  for (const v of VERBS) {
    const got = complete(`xlnet ${v.name} --`).sort();
    const want = Object.keys(allOptions(v)).map((n) => `--${n}`).sort();
    assert.equal(got, want, `flags of ${v.name}`);
  }
});

test('bash completion: values of flags and arguments', () => {
  assert.equal(complete('xlnet setup --method '), ['hook', 'script', 'xl']);
  assert.equal(complete('xlnet setup --mode r'), ['route']);
  assert.equal(complete('xlnet attach vif1.0 --profile s'), ['satellite']);
  assert.ok(complete('xlnet set vif1.0 --option wan_').includes('wan_cc='));
  assert.equal(complete('xlnet hotplug o'), ['online', 'offline']);
  assert.equal(complete('xlnet config '), ['check']);
  assert.equal(complete('xlnet help se'), ['set', 'setup']);
  assert.equal(complete('xlnet --socket /x st'), ['status']);
  assert.equal(complete('xlnet check --xl '), ['patched', 'stock']);
});

test.run();
