import * as assert from 'uvu/assert';
// Shared by the xenlab tests: run a command in its own process group with a
// time limit, collect its output, and never leave it running if the test
// process dies (run.sh kills its QEMU when it gets SIGTERM).
import { spawn } from 'node:child_process';

export interface Run { code: number | null; signal: string | null; out: string; secs: number }

/** Process groups still running, killed when the test process exits. */
export const children = new Set<number>();
process.on('exit', () => { for (const pid of children) { try { process.kill(-pid, 'SIGTERM'); } catch { /* gone */ } } });

export function runChild(cmd: string, args: string[], limitS: number, opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Run> {
  return new Promise((done) => {
    const t0 = Date.now();
    const child = spawn(cmd, args, { env: opts.env, cwd: opts.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const pid = child.pid!;
    children.add(pid);
    let out = '';
    child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
    const timer = setTimeout(() => { try { process.kill(-pid, 'SIGTERM'); } catch { /* gone */ } }, limitS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(pid);
      done({ code, signal, out, secs: (Date.now() - t0) / 1000 });
    });
  });
}

/**
 * What every xenlab scenario test checks of a run.sh run: collects its
 * XLAB-RESULT lines into `results` and its timing line into `timings`, and
 * asserts that Dom0 booted, the scenario finished and run.sh exited 0 or 1
 * (1 = some check failed, reported one by one by the caller; 2/3 = hang,
 * crash, usage). `excerpt` explains a failure.
 */
export function readLabRun(run: Run, results: Map<string, { ok: boolean; detail: string }>,
  timings: Record<string, string>, excerpt: () => string): void {
  for (const m of run.out.matchAll(/^XLAB-RESULT name=(\S+) ok=(\d) detail=(.*)$/gm)) {
    results.set(m[1]!, { ok: m[2] === '1', detail: m[3]! });
  }
  const t = /XLAB-TIMING (.*)/.exec(run.out)?.[1];
  if (t) timings['lab run (run.sh)'] = t;
  assert.ok(t, `run.sh printed no timing line (exit ${run.code}):\n${excerpt()}`);
  assert.not.match(t, /boot=-/, `Dom0 never reported XLAB-BOOTED:\n${excerpt()}`);
  assert.not.match(t, /scenario=-/, `the scenario never reached XLAB-DONE:\n${excerpt()}`);
  assert.ok(run.code === 0 || run.code === 1, `run.sh exited ${run.code ?? run.signal}:\n${excerpt()}`);
}
