// Running commands for the lab, optionally inside a network namespace, with
// errors that show the command and what it printed.
import { execFile, spawn, type ChildProcess } from 'node:child_process';

export class CommandError extends Error {
  constructor(readonly cmd: string[], readonly code: number | null, readonly stdout: string, readonly stderr: string) {
    super(`command failed (exit ${code}): ${cmd.join(' ')}\n${stderr.trim() || stdout.trim()}`);
  }
}

export function nsArgv(ns: string | undefined, argv: string[]): string[] {
  return ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
}

export interface RunOptions {
  ns?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
  /** do not throw on a non-zero exit */
  allowFail?: boolean;
}

export interface RunResult { code: number; stdout: string; stderr: string }

export function run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const full = nsArgv(opts.ns, argv);
  return new Promise((resolve, reject) => {
    const child = execFile(full[0]!, full.slice(1), {
      env: opts.env ?? process.env,
      timeout: opts.timeoutMs ?? 120_000,
      maxBuffer: 64 * 1024 * 1024,
      encoding: 'utf8',
    }, (err, stdout, stderr) => {
      // execFile's error carries the exit status as a number in `code` (or an errno name when it could not run).
      const raw = err ? (err as unknown as { code?: unknown }).code : 0;
      const code = typeof raw === 'number' ? raw : err ? -1 : 0;
      if (err && !opts.allowFail) return reject(new CommandError(full, code, stdout, stderr));
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Runs a shell script (bash -e) in a namespace: for multi-line setup. */
export function sh(script: string, opts: RunOptions = {}): Promise<RunResult> {
  return run(['bash', '-euo', 'pipefail', '-c', script], opts);
}

/** Starts a long-running process; the caller owns it (kill by pid). */
export function start(argv: string[], opts: { ns?: string; env?: NodeJS.ProcessEnv; logFile?: number } = {}): ChildProcess {
  const full = nsArgv(opts.ns, argv);
  const io = opts.logFile ?? 'ignore';
  return spawn(full[0]!, full.slice(1), { env: opts.env ?? process.env, stdio: ['ignore', io, io], detached: false });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until fn returns a truthy value or the deadline passes. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { lastErr = e; }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
    }
    await sleep(everyMs);
  }
}
