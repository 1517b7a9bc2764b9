// Newline-delimited framing, as the control socket and the keeper speak it
// (one JSON document per line): chunks of a stream in, whole lines out. The
// one place that splits lines, for the server and client of both protocols.
export class LineBuffer {
  private buf = '';

  push(chunk: string): void { this.buf += chunk; }

  /** The next whole line without its newline; undefined while none is complete. */
  next(): string | undefined {
    const i = this.buf.indexOf('\n');
    if (i < 0) return undefined;
    const line = this.buf.slice(0, i);
    this.buf = this.buf.slice(i + 1);
    return line;
  }

  /** Characters held, complete lines and the unfinished rest. */
  get length(): number { return this.buf.length; }

  hasLine(): boolean { return this.buf.includes('\n'); }

  clear(): void { this.buf = ''; }
}
