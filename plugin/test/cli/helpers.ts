// Test helpers for the CLI: running `xlnet` in-process (the same runCli the
// binary runs, with captured output) or as a real process, and a unix-socket
// server that answers the control protocol with canned results - used ONLY
// by the tests named "formatting: ...", which check how xlnet prints what a
// daemon says. Behaviour against the real daemon is in daemon.test.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { Io } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/run.js';

export const REPO = new URL('../../../', import.meta.url).pathname;
export const MAIN = join(REPO, 'plugin/src/cli/main.ts');

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

export async function xlnet(args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  let out = '';
  let err = '';
  const io: Io = {
    out: (t) => { out += t; },
    err: (t) => { err += t; },
    stdoutTty: false,
    stdinTty: false,
    columns: 0,
    rows: 0,
    env: { PATH: process.env.PATH, ...env },
    stdin: new PassThrough(),
    stdout: new PassThrough(),
  };
  const code = await runCli(args, io);
  return { code, out, err };
}

/** The real binary entry, as a process (exit code and streams as a shell sees them). */
export function xlnetProcess(args: string[], env: NodeJS.ProcessEnv = {}): RunResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: REPO, encoding: 'utf8', env: { ...process.env, XLNET_SOCKET: '', ...env, FORCE_COLOR: '0' }, timeout: 60_000,
  });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

export function tempDir(prefix = 'xlnet-cli-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CannedServer {
  socket: string;
  /** Every request line received, parsed. */
  requests: Record<string, unknown>[];
  close(): Promise<void>;
}

type Answer = { result: unknown } | { error: { code: string; message: string } } | { raw: string };

/** A protocol-speaking server for formatting tests: `answers[op]` is what it replies. */
export async function cannedServer(dir: string, answers: Record<string, Answer | ((req: Record<string, unknown>) => Answer)>): Promise<CannedServer> {
  const socket = join(dir, 'canned.sock');
  const requests: Record<string, unknown>[] = [];
  const conns = new Set<net.Socket>();
  const server = net.createServer((c) => {
    conns.add(c);
    c.on('close', () => conns.delete(c));
    let buf = '';
    c.setEncoding('utf8');
    c.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const req = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
        buf = buf.slice(i + 1);
        requests.push(req);
        const a0 = answers[req.op as string];
        const a = typeof a0 === 'function' ? a0(req) : a0;
        if (a === undefined) c.write(JSON.stringify({ v: 1, id: req.id, ok: false, error: { code: 'E_UNKNOWN_OP', message: `no canned answer for ${String(req.op)}` } }) + '\n');
        else if ('raw' in a) c.write(a.raw + '\n');
        else if ('result' in a) c.write(JSON.stringify({ v: 1, id: req.id, ok: true, result: a.result }) + '\n');
        else c.write(JSON.stringify({ v: 1, id: req.id, ok: false, error: a.error }) + '\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  // Closing drops open connections too, as a daemon that exits does.
  return {
    socket, requests,
    close: () => new Promise<void>((r) => { for (const c of conns) c.destroy(); server.close(() => r()); }),
  };
}
