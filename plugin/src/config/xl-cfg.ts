// The xl domain config file grammar, as libxlutil reads it (Xen 4.17
// tools/libs/util: libxlu_cfg_l.l, libxlu_cfg_y.y, libxlu_cfg.c), so that
// `xlnet check guest.cfg` accepts and rejects what `xl create` does:
//
//   file       := (assignment? (NEWLINE | ';'))* assignment?
//   assignment := IDENT ('=' | '+=') value
//   value      := STRING | NUMBER | '[' NL* (value NL* (',' NL* value NL*)* (',' NL*)?)? ']'
//   IDENT      := [a-z][_0-9a-z]*          (lower case only)
//   NUMBER     := [0-9][0-9a-fx]*          (kept as text)
//   STRING     := '...' or "..." on one line, backslash escapes
//   NEWLINE    := \n, or # comment up to and including \n
//
// The last assignment of a name wins; `+=` appends to the previous value
// (string to string, list to list). Any lexical or syntax error makes xl
// refuse the whole file. Faithfully odd details: a comment on the last line
// without a final newline is a lexical error, so is a \r (DOS line ends), and
// `\x..` or octal escapes in strings are errors or vanish (libxlu's
// NUMERIC_CHAR never stores the character it parses).

export type XlValue =
  | { kind: 'string'; value: string; line: number }
  | { kind: 'list'; items: XlValue[]; line: number };

export interface XlSetting {
  name: string;
  op: '=' | '+=';
  value: XlValue;
  line: number;
}

export interface XlProblem {
  line: number;
  message: string;
}

export interface XlConfigText {
  /** Effective settings: last assignment wins, `+=` already applied. */
  settings: Map<string, XlSetting>;
  /** Lexical and syntax errors; xl refuses the file when there is any. */
  errors: XlProblem[];
}

type TokType = 'IDENT' | 'NUMBER' | 'STRING' | 'NEWLINE' | ',' | '[' | ']' | '=' | '+=' | ';' | 'EOF';

interface Token {
  type: TokType;
  text: string;
  /** Decoded STRING contents, or IDENT/NUMBER text. */
  value: string;
  line: number;
}

const STRING_RE = /'(?:[^'\\\n]|\\[^\n])*'|"(?:[^"\\\n]|\\[^\n])*"/y;
const IDENT_RE = /[a-z][_0-9a-z]*/y;
const NUMBER_RE = /[0-9][0-9a-fx]*/y;
const COMMENT_RE = /#[^\n]*\n/y;
/** What flex's <lexerr> state swallows after a bad character. */
const LEXERR_REST_RE = /[^ \t\n]*/y;

function stickyMatch(re: RegExp, text: string, at: number): string | undefined {
  re.lastIndex = at;
  const m = re.exec(text);
  return m && m[0].length > 0 ? m[0] : undefined;
}

interface LexResult {
  tokens: Token[];
  errors: XlProblem[];
  likelyPython: boolean;
}

function lex(text: string): LexResult {
  const tokens: Token[] = [];
  const errors: XlProblem[] = [];
  let likelyPython = false;
  let line = 1;
  let i = 0;
  const lexError = (bad: string, msg: string, at: number, start: number): void => {
    const shown = bad.replace(/[ \t\n]+$/, '');
    const hint = shown.includes('\r')
      ? ' (DOS line ends: xl needs \\n, not \\r\\n)'
      : shown.startsWith('#') && !text.includes('\n', start)
        ? ' (a comment on the last line needs a newline after it)'
        : '';
    errors.push({ line: at, message: `config parsing error near \`${shown}': ${msg}${hint}` });
  };
  while (i < text.length) {
    const c = text[i];
    if (c === ' ' || c === '\t') { i++; continue; }
    // flex takes the longest match; of equal ones, the earlier rule.
    const ident = stickyMatch(IDENT_RE, text, i);
    if (ident) { tokens.push({ type: 'IDENT', text: ident, value: ident, line }); i += ident.length; continue; }
    const num = stickyMatch(NUMBER_RE, text, i);
    if (num) { tokens.push({ type: 'NUMBER', text: num, value: num, line }); i += num.length; continue; }
    if (c === '\n') { tokens.push({ type: 'NEWLINE', text: c, value: '', line }); line++; i++; continue; }
    const comment = c === '#' ? stickyMatch(COMMENT_RE, text, i) : undefined;
    if (comment) { tokens.push({ type: 'NEWLINE', text: comment, value: '', line }); line++; i += comment.length; continue; }
    if (text.startsWith('+=', i)) { tokens.push({ type: '+=', text: '+=', value: '', line }); i += 2; continue; }
    if (c === ',' || c === '[' || c === ']' || c === '=' || c === ';') {
      tokens.push({ type: c, text: c, value: '', line });
      i++;
      continue;
    }
    const str = c === '"' || c === "'" ? stickyMatch(STRING_RE, text, i) : undefined;
    if (str) {
      const d = dequote(str);
      if (d.error) lexError(str, d.error, line, i);
      tokens.push({ type: 'STRING', text: str, value: d.value, line });
      i += str.length;
      continue;
    }
    // A character no rule takes (`.` or `[+-.():]`, the latter hinting at
    // the Python syntax xm used to accept): flex enters <lexerr>, swallows
    // the rest of the word, reports it, and produces no token.
    if ('+,-.():'.includes(c)) likelyPython = true;
    const start = i;
    i++;
    const rest = stickyMatch(LEXERR_REST_RE, text, i);
    if (rest) i += rest.length;
    else if (text[i] === ' ' || text[i] === '\t') i++;
    lexError(text.slice(start, i), 'lexical error', line, start);
  }
  tokens.push({ type: 'EOF', text: '', value: '', line });
  return { tokens, errors, likelyPython };
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"', "'": "'", '\\': '\\', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
};

/** xlu__cfgl_dequote, including its handling of numeric escapes. */
function dequote(src: string): { value: string; error?: string } {
  let out = '';
  let p = 1;
  const end = src.length - 1;
  while (p < end) {
    const c = src[p++];
    if (c !== '\\') { out += c; continue; }
    const nc = src[p++];
    const simple = SIMPLE_ESCAPES[nc];
    if (simple !== undefined) { out += simple; continue; }
    if (nc === 'x') {
      // libxlu skips one more character, then needs more than 2 of at most 2
      // characters to convert: every \x escape is an error.
      p++;
      return { value: out, error: 'invalid digit after backslash hex numerical character escape in quoted string' };
    }
    if (nc >= '0' && nc <= '7') {
      // strtoul(base 10) over the next 3 characters must consume at least 2;
      // the parsed value is then dropped, never stored.
      const used = strtoulLength(src.slice(p, Math.min(p + 3, end + 1)));
      if (used <= 1) return { value: out, error: 'invalid digit after backslash octal numerical character escape in quoted string' };
      p += used;
      continue;
    }
    return { value: out, error: 'invalid character after backlash in quoted string' };
  }
  return { value: out };
}

/** How many characters strtoul(s, &end, 10) consumes (0 if no digits). */
function strtoulLength(s: string): number {
  const m = /^[ \t\n\v\f\r]*[+-]?\d+/.exec(s);
  return m ? m[0].length : 0;
}

class Parser {
  private pos = 0;
  readonly errors: XlProblem[] = [];
  readonly settings = new Map<string, XlSetting>();

  constructor(private readonly tokens: Token[]) {}

  // A method, not a getter: TypeScript would otherwise keep narrowing the
  // token type across this.pos++.
  private cur(): Token {
    return this.tokens[this.pos];
  }

  private fail(expecting: string): never {
    const t = this.cur();
    const near = t.type === 'EOF' ? 'end of file' : t.type === 'NEWLINE' ? '<newline>' : `\`${t.text}'`;
    throw new SyntaxProblem(t.line, `config parsing error near ${near}: syntax error, unexpected ${describe(t)}, expecting ${expecting}`);
  }

  parseFile(): void {
    while (this.cur().type !== 'EOF') {
      try {
        if (this.cur().type === 'NEWLINE' || this.cur().type === ';') { this.pos++; continue; }
        if (this.cur().type !== 'IDENT') this.fail('a setting (name = value)');
        this.assignment();
        const t = this.cur().type;
        if (t === 'NEWLINE' || t === ';') this.pos++;
        else if (t !== 'EOF') this.fail("newline or ';'");
      } catch (e) {
        if (!(e instanceof SyntaxProblem)) throw e;
        this.errors.push({ line: e.line, message: e.message });
        // bison's `error NEWLINE`: drop tokens up to the end of the line.
        while (this.cur().type !== 'NEWLINE' && this.cur().type !== 'EOF') this.pos++;
        if (this.cur().type === 'NEWLINE') this.pos++;
      }
    }
  }

  private assignment(): void {
    const name = this.cur();
    this.pos++;
    const op = this.cur().type;
    if (op !== '=' && op !== '+=') this.fail("'=' or '+='");
    this.pos++;
    const value = this.value();
    // libxlu stops storing after the first error (ctx->err); xl fails anyway.
    if (this.errors.length) return;
    this.store({ name: name.value, op, value, line: value.line });
  }

  private store(s: XlSetting): void {
    const prev = this.settings.get(s.name);
    if (s.op === '+=' && prev) {
      if (prev.value.kind !== s.value.kind) {
        throw new SyntaxProblem(s.line, 'config parsing error: can\'t add [list] to "string" or vice versa');
      }
      const value: XlValue = prev.value.kind === 'string' && s.value.kind === 'string'
        ? { kind: 'string', value: prev.value.value + s.value.value, line: s.value.line }
        : { kind: 'list', items: [...listItems(prev.value), ...listItems(s.value)], line: s.value.line };
      s = { ...s, value };
    }
    this.settings.set(s.name, s);
  }

  private value(): XlValue {
    const t = this.cur();
    if (t.type === 'STRING' || t.type === 'NUMBER') {
      this.pos++;
      return { kind: 'string', value: t.value, line: t.line };
    }
    if (t.type !== '[') this.fail("a string, a number or '['");
    this.pos++;
    const items: XlValue[] = [];
    this.newlines();
    while (this.cur().type !== ']') {
      items.push(this.value());
      this.newlines();
      if (this.cur().type === ',') {
        this.pos++;
        this.newlines();
      } else if (this.cur().type !== ']') {
        this.fail("',' or ']'");
      }
    }
    this.pos++;
    return { kind: 'list', items, line: t.line };
  }

  private newlines(): void {
    while (this.cur().type === 'NEWLINE') this.pos++;
  }
}

function listItems(v: XlValue): XlValue[] {
  return v.kind === 'list' ? v.items : [];
}

function describe(t: Token): string {
  switch (t.type) {
    case 'EOF': return 'end of file';
    case 'IDENT': case 'NUMBER': case 'STRING': case 'NEWLINE': return t.type;
    case '+=': return 'OP_ADD';
    default: return `'${t.type}'`;
  }
}

class SyntaxProblem extends Error {
  constructor(readonly line: number, message: string) {
    super(message);
  }
}

/** Reads xl config text the way libxlutil does. Never throws for bad input. */
export function readXlConfigText(text: string): XlConfigText {
  const lexed = lex(text);
  const parser = new Parser(lexed.tokens);
  parser.parseFile();
  // libxlu reports nothing more for a line that already had a lexical error
  // (xlu__cfg_yyerror: lineno <= lexerrlineno).
  const lexLines = new Set(lexed.errors.map((e) => e.line));
  const syntax = parser.errors.filter((e) => !lexLines.has(e.line));
  const errors = [...lexed.errors, ...syntax].sort((a, b) => a.line - b.line);
  if (errors.length && lexed.likelyPython) {
    errors.push({
      line: errors[0].line,
      message: 'warning: Config file looks like it contains Python code; arbitrary Python is no longer supported (see https://wiki.xen.org/wiki/PythonInXlConfig)',
    });
  }
  return { settings: parser.settings, errors };
}

/** An xl config that xl would refuse to read; `problems` holds every error. */
export class XlConfigError extends Error {
  constructor(readonly file: string, readonly problems: readonly XlProblem[]) {
    super(problems.map((p) => `${file}:${p.line}: ${p.message}`).join('\n'));
    this.name = 'XlConfigError';
  }
}

export interface XlDomainConfig {
  name?: string;
  /** The raw `vif = [...]` entries, in order. */
  vifs: string[];
  /** Line of each vif entry. */
  vifLines: number[];
  /** What xl would warn about while reading name and vif (text as xl prints it). */
  warnings: string[];
}

/**
 * The domain name and raw vif entries of an xl domain config. Throws
 * XlConfigError (every problem with its line) when xl would refuse the file.
 */
export function parseXlDomainConfig(text: string, file: string): XlDomainConfig {
  const r = readXlConfigText(text);
  if (r.errors.length) throw new XlConfigError(file, r.errors);
  const out: XlDomainConfig = { vifs: [], vifLines: [], warnings: [] };

  const name = r.settings.get('name');
  if (name?.value.kind === 'string') out.name = name.value.value;
  else if (name) out.warnings.push(`${file}:${name.line}: warning: parameter \`name' is a list but should be a single value`);

  const vif = r.settings.get('vif');
  if (vif?.value.kind === 'list') {
    // xlu_cfg_get_listitem() returns NULL for a nested list, which ends xl's
    // loop: entries after it are ignored.
    for (const item of vif.value.items) {
      if (item.kind !== 'string') {
        out.warnings.push(`${file}:${item.line}: vif entry ${out.vifs.length} is a list, not a string: xl ignores it and every vif after it`);
        break;
      }
      out.vifs.push(item.value);
      out.vifLines.push(item.line);
    }
  } else if (vif) {
    out.warnings.push(`${file}:${vif.line}: warning: parameter \`vif' is a single value but should be a list`);
  }
  return out;
}
