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
