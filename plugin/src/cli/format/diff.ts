// A unified diff of two texts, for `xlnet setup` to show each change before
// making it (and for --dry-run). Files here are configuration files of at
// most a few hundred lines, so the plain LCS table is fast enough.

type Op = { kind: ' ' | '-' | '+'; line: string };

function lines(text: string): string[] {
  if (text === '') return [];
  const l = text.split('\n');
  if (l[l.length - 1] === '') l.pop();
  return l;
}

function diffOps(a: string[], b: string[]): Op[] {
  const n = a.length;
  const m = b.length;
  // lcs[i][j] = length of the longest common subsequence of a[i..], b[j..].
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) { ops.push({ kind: ' ', line: a[i] }); i++; j++; }
    else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) { ops.push({ kind: '-', line: a[i] }); i++; }
    else { ops.push({ kind: '+', line: b[j] }); j++; }
  }
  return ops;
}

/**
 * `--- old` / `+++ new` and @@ hunks with `context` lines around each change.
 * Empty string when the texts are equal. `oldText` undefined means a new file.
 */
export function unifiedDiff(oldText: string | undefined, newText: string | undefined, path: string, context = 3): string {
  if (oldText === newText) return '';
  const a = lines(oldText ?? '');
  const b = lines(newText ?? '');
  const ops = diffOps(a, b);
  const out = [`--- ${oldText === undefined ? '/dev/null' : path}`, `+++ ${newText === undefined ? '/dev/null' : path}`];
  // Positions (in ops) of changed lines, grouped into hunks.
  const changed = ops.map((o, k) => (o.kind === ' ' ? -1 : k)).filter((k) => k >= 0);
  let h = 0;
  while (h < changed.length) {
    let start = Math.max(0, changed[h] - context);
    let end = changed[h];
    while (h < changed.length && changed[h] <= end + 2 * context + 1) { end = changed[h]; h++; }
    end = Math.min(ops.length - 1, end + context);
    let aLine = 1;
    let bLine = 1;
    for (let k = 0; k < start; k++) {
      if (ops[k].kind !== '+') aLine++;
      if (ops[k].kind !== '-') bLine++;
    }
    const hunk = ops.slice(start, end + 1);
    const aCount = hunk.filter((o) => o.kind !== '+').length;
    const bCount = hunk.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${aCount === 0 ? aLine - 1 : aLine},${aCount} +${bCount === 0 ? bLine - 1 : bLine},${bCount} @@`);
    for (const o of hunk) out.push(`${o.kind}${o.line}`);
    start = end + 1;
  }
  return out.join('\n') + '\n';
}
