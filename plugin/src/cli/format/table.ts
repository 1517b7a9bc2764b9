// Aligned text tables like `ip -br` and `systemctl list-units`: a header
// row, two spaces between columns, numbers right-aligned, no trailing blanks.

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

/** Display width of a cell (no colour codes are used in tables). */
function width(s: string): number {
  return [...s].length;
}

export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[], maxWidth = 0): string {
  const widths = columns.map((c, i) => Math.max(width(c.header), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]): string => {
    const parts = columns.map((c, i) => {
      const cell = cells[i] ?? '';
      const pad = ' '.repeat(widths[i] - width(cell));
      return c.align === 'right' ? pad + cell : cell + pad;
    });
    const text = parts.join('  ').trimEnd();
    // A live view must not wrap: cut at the terminal's edge.
    return maxWidth > 0 && width(text) > maxWidth ? [...text].slice(0, maxWidth).join('') : text;
  };
  return [line(columns.map((c) => c.header)), ...rows.map(line)].join('\n') + '\n';
}

/** "key   value" lines with the keys padded to one width. */
export function renderFields(fields: readonly (readonly [string, string])[]): string {
  const w = Math.max(0, ...fields.map(([k]) => width(k)));
  return fields.map(([k, v]) => `${k}${' '.repeat(w - width(k))}  ${v}`.trimEnd()).join('\n') + '\n';
}
