// Where a command's output goes. The binary uses the process's streams;
// tests run the same verbs in-process with captured text. Human text goes to
// stdout, errors and progress to stderr, so `xlnet status --json | jq` works.
import type { Readable, Writable } from 'node:stream';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal: tables may be sized to it, colours and live views allowed. */
  readonly stdoutTty: boolean;
  /** stdin is a terminal: the wizard may ask questions. */
  readonly stdinTty: boolean;
  /** Terminal width, or 0 when not a terminal. */
  readonly columns: number;
  readonly rows: number;
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: Readable;
  readonly stdout: Writable;
}

export function processIo(): Io {
  return {
    out: (t) => process.stdout.write(t),
    err: (t) => process.stderr.write(t),
    stdoutTty: process.stdout.isTTY === true,
    stdinTty: process.stdin.isTTY === true,
    get columns() { return process.stdout.isTTY ? process.stdout.columns : 0; },
    get rows() { return process.stdout.isTTY ? process.stdout.rows : 0; },
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
  };
}

/** Spinners and prompts only where a person watches: a terminal, not CI, not hotplug. */
export function interactiveTerminal(io: Io): boolean {
  return io.stdoutTty && io.stdinTty && !io.env.CI;
}
