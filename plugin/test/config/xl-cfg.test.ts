// The xl config file grammar (libxlu_cfg_l.l / libxlu_cfg_y.y / libxlu_cfg.c).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { XlConfigError, parseXlDomainConfig, readXlConfigText, type XlValue } from '../../src/config/xl-cfg.js';

function str(text: string, name: string): string | undefined {
  const v = readXlConfigText(text).settings.get(name)?.value;
  return v?.kind === 'string' ? v.value : undefined;
}

function plain(v: XlValue | undefined): unknown {
  if (!v) return undefined;
  return v.kind === 'string' ? v.value : v.items.map(plain);
}

function errorsOf(text: string): string[] {
  return readXlConfigText(text).errors.map((e) => `${e.line}: ${e.message}`);
}

test('a typical guest config: numbers, quotes, multi-line list with comments and a trailing comma', () => {
  const text = [
    '# PV guest',
    'name = "web-1"',
    "kernel = '/boot/vmlinuz'",
    'memory = 512',
    'vcpus = 2',
    'vif = [ \'bridge=xenbr0,mac=00:16:3e:00:00:01\',   # first',
    '',
    '        "bridge=xenbr1",',
    '      ]',
    "disk = [ 'phy:/dev/vg/web,xvda,w' ]",
  ].join('\n') + '\n';
  assert.equal(errorsOf(text), []);
  const d = parseXlDomainConfig(text, 'web.cfg');
  assert.is(d.name, 'web-1');
  assert.equal(d.vifs, ['bridge=xenbr0,mac=00:16:3e:00:00:01', 'bridge=xenbr1']);
  assert.equal(d.vifLines, [6, 8]);
  assert.equal(d.warnings, []);
  assert.is(str(text, 'memory'), '512');
});

test('lists: empty, newline right after [, trailing comma, newlines before commas, nested', () => {
  const r = readXlConfigText([
    'a = []',
    'b = [',
    ']',
    "c = [ 'x', ]",
    "d = [ 'x'",
    "  , 'y'",
    '  ]',
    "e = [ [ 'p', 'q' ], 'r' ]",
    'f = [ 1, 0x1f, 07 ]',
  ].join('\n') + '\n');
  assert.equal(r.errors, []);
  const get = (n: string): unknown => plain(r.settings.get(n)?.value);
  assert.equal(get('a'), []);
  assert.equal(get('b'), []);
  assert.equal(get('c'), ['x']);
  assert.equal(get('d'), ['x', 'y']);
  assert.equal(get('e'), [['p', 'q'], 'r']);
  assert.equal(get('f'), ['1', '0x1f', '07']);
});

test('the last assignment wins; `+=` appends strings and lists', () => {
  const text = "vif = [ 'a' ]\nvif = [ 'b' ]\nvif += [ 'c', 'd' ]\nextra = 'x'\nextra += 'y'\nnew += [ 'n' ]\n";
  const r = readXlConfigText(text);
  assert.equal(r.errors, []);
  assert.equal(plain(r.settings.get('vif')?.value), ['b', 'c', 'd']);
  assert.is(str(text, 'extra'), 'xy');
  assert.equal(plain(r.settings.get('new')?.value), ['n']);
  assert.equal(parseXlDomainConfig(text, 'g.cfg').vifs, ['b', 'c', 'd']);
  assert.equal(errorsOf("a = 'x'\na += [ 'y' ]\n"), ['2: config parsing error: can\'t add [list] to "string" or vice versa']);
});

test('several statements per line with `;`, and a last line without newline', () => {
  const text = "name = 'x'; memory = 256;\nvcpus = 1";
  assert.equal(errorsOf(text), []);
  assert.is(str(text, 'memory'), '256');
  assert.is(str(text, 'vcpus'), '1');
});

test('string escapes as libxlu decodes them', () => {
  assert.is(str(String.raw`s = 'it\'s'` + '\n', 's'), "it's");
  assert.is(str(String.raw`s = "a\"b\\c"` + '\n', 's'), 'a"b\\c');
  assert.is(str(String.raw`s = 'tab\there\n'` + '\n', 's'), 'tab\there\n');
  assert.is(str(`s = 'a"b'\n`, 's'), 'a"b');
  assert.is(str(`s = "a'b"\n`, 's'), "a'b");
  assert.is(str(`s = 'a # not a comment'\n`, 's'), 'a # not a comment');
  // libxlu parses octal escapes but never stores the character.
  assert.is(str(String.raw`s = 'A\101B'` + '\n', 's'), 'AB');
  assert.equal(errorsOf(String.raw`s = 'A\x41'` + '\n'), [
    "1: config parsing error near `'A\\x41'': invalid digit after backslash hex numerical character escape in quoted string",
  ]);
  assert.equal(errorsOf(String.raw`s = 'A\1'` + '\n'), [
    "1: config parsing error near `'A\\1'': invalid digit after backslash octal numerical character escape in quoted string",
  ]);
  assert.equal(errorsOf(String.raw`s = 'A\q'` + '\n'), [
    "1: config parsing error near `'A\\q'': invalid character after backlash in quoted string",
  ]);
});

test('lexical errors: upper case names, units after numbers, unquoted words, CRLF, unterminated strings', () => {
  assert.equal(errorsOf('Name = "x"\n'), ["1: config parsing error near `Name': lexical error"]);
  assert.equal(errorsOf('memory = 512M\n'), ["1: config parsing error near `M': lexical error"]);
  assert.equal(errorsOf("name = 'x'\r\nmemory = 1\r\n"), [
    "1: config parsing error near `\r': lexical error (DOS line ends: xl needs \\n, not \\r\\n)",
    "2: config parsing error near `\r': lexical error (DOS line ends: xl needs \\n, not \\r\\n)",
  ]);
  assert.equal(errorsOf("name = 'web-1\n"), ["1: config parsing error near `'web-1': lexical error"]);
  assert.equal(errorsOf('_x = 1\n'), ["1: config parsing error near `_x': lexical error"]);
});

test('syntax errors: unquoted value, missing value, double comma, two statements on a line', () => {
  assert.equal(errorsOf('bridge = xenbr0\n'), [
    "1: config parsing error near `xenbr0': syntax error, unexpected IDENT, expecting a string, a number or '['",
  ]);
  assert.equal(errorsOf('name =\nmemory = 1\n'), [
    "1: config parsing error near <newline>: syntax error, unexpected NEWLINE, expecting a string, a number or '['",
  ]);
  assert.equal(errorsOf("vif = [ 'a',, 'b' ]\n"), [
    "1: config parsing error near `,': syntax error, unexpected ',', expecting a string, a number or '['",
  ]);
  assert.equal(errorsOf("a = 1 b = 2\nc = 3\n"), [
    "1: config parsing error near `b': syntax error, unexpected IDENT, expecting newline or ';'",
  ]);
  assert.equal(errorsOf("vif = [ 'a' 'b' ]\n"), [
    "1: config parsing error near `'b'': syntax error, unexpected STRING, expecting ',' or ']'",
  ]);
  assert.equal(errorsOf("vif = [ 'a'\n"), [
    "2: config parsing error near end of file: syntax error, unexpected end of file, expecting ',' or ']'",
  ]);
  assert.equal(errorsOf('= 1\n'), [
    "1: config parsing error near `=': syntax error, unexpected '=', expecting a setting (name = value)",
  ]);
});

test('errors on later lines are all reported, one per line', () => {
  const errs = readXlConfigText("a = 1\nb = x\nc = 2\nD = 3\ne = [,]\n").errors;
  assert.equal(errs.map((e) => e.line), [2, 4, 5]);
});

test('a comment on the last line needs a newline (xl: lexical error)', () => {
  assert.equal(errorsOf("name = 'x'\n# end"), [
    "2: config parsing error near `#': lexical error (a comment on the last line needs a newline after it)",
  ]);
  assert.equal(errorsOf("name = 'x'\n# end\n"), []);
  assert.equal(errorsOf("name = 'x' # end\n"), []);
});

test('Python-style configs get libxlu\'s hint', () => {
  const errs = errorsOf("vif = [ 'a' ] + [ 'b' ]\nmemory = 1.5\n");
  assert.ok(errs.some((e) => e.includes('Config file looks like it contains Python code')), errs.join('\n'));
  assert.ok(errs.some((e) => e.startsWith("2: config parsing error near `.5': lexical error")), errs.join('\n'));
});

test('parseXlDomainConfig throws every problem with file:line', () => {
  try {
    parseXlDomainConfig("name = 'x'\nmemory = 512M\nvif = [ bridge=xenbr0 ]\n", '/etc/xen/web.cfg');
    assert.unreachable('should throw');
  } catch (e) {
    assert.instance(e, XlConfigError);
    const err = e as XlConfigError;
    assert.is(err.file, '/etc/xen/web.cfg');
    assert.equal(err.problems.map((p) => p.line), [2, 3]);
    assert.is(err.message.split('\n')[0], "/etc/xen/web.cfg:2: config parsing error near `M': lexical error");
    assert.match(err.message.split('\n')[1], /^\/etc\/xen\/web\.cfg:3: config parsing error near `bridge': syntax error/);
  }
});

test('vif given as a single string is ignored by xl, with its warning', () => {
  const d = parseXlDomainConfig("name = 'x'\nvif = 'bridge=xenbr0'\n", 'g.cfg');
  assert.equal(d.vifs, []);
  assert.equal(d.warnings, ["g.cfg:2: warning: parameter `vif' is a single value but should be a list"]);
});

test('a nested list inside vif ends the list for xl', () => {
  const d = parseXlDomainConfig("name = 'x'\nvif = [ 'a', [ 'b' ], 'c' ]\n", 'g.cfg');
  assert.equal(d.vifs, ['a']);
  assert.equal(d.warnings, ['g.cfg:2: vif entry 1 is a list, not a string: xl ignores it and every vif after it']);
});

test('name: a number is a name; a list is not; missing is allowed here', () => {
  assert.is(parseXlDomainConfig('name = 42\n', 'g.cfg').name, '42');
  const d = parseXlDomainConfig("name = [ 'x' ]\n", 'g.cfg');
  assert.is(d.name, undefined);
  assert.equal(d.warnings, ["g.cfg:1: warning: parameter `name' is a list but should be a single value"]);
  assert.is(parseXlDomainConfig('memory = 1\n', 'g.cfg').name, undefined);
});

test.run();
