// Line-level reading of xlnet.conf with line numbers.
//
// Why not ini.parse() alone: it returns no line numbers, silently lets the
// last of two equal keys win, merges a section written twice, turns
// `[domain web.example.com]` into nested objects (dots split sections), reads
// `  [daemon] ; comment` as a key named "[daemon]", and turns `key` without
// `=` into `true`. Every one of those would hide a mistake in a file that
// decides whether a guest gets network. So lines are split here with the
// grammar ini uses (`[section]`, `key = value`, `;`/`#` comments), and every
// key and value goes through ini.unsafe(), the function ini.parse() itself
// uses for quotes, escapes and inline comments, so values read exactly as
// ini.parse() would read them.
import ini from 'ini';

export interface IniEntry {
  key: string;
  value: string;
  line: number;
}

export interface IniSection {
  /** The text between the brackets, trimmed, e.g. "profile sat". */
  header: string;
  line: number;
  entries: IniEntry[];
}

export interface IniProblem {
  code: 'E_SYNTAX' | 'E_NO_SECTION';
  line: number;
  text: string;
  problem: string;
}

export interface IniScan {
  sections: IniSection[];
  problems: IniProblem[];
}

const SECTION_RE = /^\[([^\]]*)\]\s*(?:[;#].*)?$/;
// ini's own key line grammar: everything up to the first `=` is the key.
const KEY_RE = /^([^=]+)(=(.*))?$/;

export function scanIni(text: string): IniScan {
  const sections: IniSection[] = [];
  const problems: IniProblem[] = [];
  let current: IniSection | undefined;
  const lines = text.split(/\r\n|\r|\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t === '' || t.startsWith(';') || t.startsWith('#')) return;
    const s = SECTION_RE.exec(t);
    if (s) {
      current = { header: ini.unsafe(s[1]).trim(), line, entries: [] };
      sections.push(current);
      return;
    }
    const k = KEY_RE.exec(t);
    if (!k || k[2] === undefined) {
      problems.push({ code: 'E_SYNTAX', line, text: t, problem: 'expected `[section]` or `key = value`' });
      return;
    }
    const key = ini.unsafe(k[1]);
    if (key === '') {
      problems.push({ code: 'E_SYNTAX', line, text: t, problem: 'no key before `=`' });
      return;
    }
    if (!current) {
      problems.push({ code: 'E_NO_SECTION', line, text: t, problem: 'key outside any [section]' });
      return;
    }
    current.entries.push({ key, value: ini.unsafe(k[3] ?? ''), line });
  });
  return { sections, problems };
}
