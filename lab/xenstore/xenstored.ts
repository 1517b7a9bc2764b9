// Starts the real Xen 4.17 C xenstored on a machine without Xen, for tests.
//
// xenstored runs under LD_PRELOAD=build/libxsshim.so (xsshim.c), which fakes
// the hypervisor handles and Dom0's ring, so the daemon serves its unix
// socket with the real store, transactions, watches and permissions.
// Every instance lives in its own directory:
//   <dir>/socket         the socket (XENSTORED_PATH)
//   <dir>/xenstored.pid  pid file (-F)
//   <dir>/xenstored.log  the daemon's stdout/stderr
//   <dir>/trace.log      full request trace (-T), only with { trace: true }
//   <dir>/tdb            the store, only with { onDiskStore: true }
//                        (XENSTORED_RUNDIR=<dir>; 4.17 keeps it in memory
//                        by default)
// Clients reach it with env XENSTORED_PATH=<socketPath> (libxenstore 4.17 and
// the xenstore-* tools honour it; XENSTORED_RUNDIR=<dir> works too, it
// resolves to <dir>/socket).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync, readFileSync, readdirSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LabXenstored {
  socketPath: string;
  pid: number;
  dir: string;
  /** Environment that points libxenstore clients (xenstore-*) at this instance. */
  env: { XENSTORED_PATH: string };
  stop(): Promise<void>;
}

export interface LabXenstoredOptions {
  /** Write every request/reply to <dir>/trace.log (xenstored -T). Verbose. */
  trace?: boolean;
  /** Keep the store in <dir>/tdb instead of memory (--internal-db=off). */
  onDiskStore?: boolean;
  /** How long to wait for the socket to answer. Default 10 s. */
  startTimeoutMs?: number;
}

const HERE = dirname(fileURLToPath(import.meta.url));
const SHIM = join(HERE, 'build', 'libxsshim.so');
// Linux sockaddr_un.sun_path is 108 bytes including the final NUL.
const SUN_PATH_MAX = 107;
// xs_wire.h: XS_DIRECTORY, and the 16-byte header {type, req_id, tx_id, len}.
const XS_DIRECTORY = 1;
const XS_ERROR = 16;
const XS_HEADER = 16;
const STOP_GRACE_MS = 3000;

/** The xenstored binary of Xen 4.17 (/usr/sbin/xenstored is a wrapper that
 * needs a running hypervisor). Override with env LAB_XENSTORED. */
export function findXenstored(): string {
  const forced = process.env.LAB_XENSTORED;
  if (forced) return forced;
  const want = '/usr/lib/xen-4.17/bin/xenstored';
  if (existsSync(want)) return want;
  let found: string | undefined;
  try {
    found = readdirSync('/usr/lib')
      .filter((d) => d.startsWith('xen-'))
      .map((d) => join('/usr/lib', d, 'bin', 'xenstored'))
      .find((p) => existsSync(p));
  } catch {
    found = undefined;
  }
  if (!found) {
    throw new Error(
      'xenstored not found (looked for /usr/lib/xen-4.17/bin/xenstored): install the Debian package xen-utils-4.17, or set LAB_XENSTORED',
    );
  }
  return found;
}

let shimBuild: Promise<void> | undefined;

/** Builds build/libxsshim.so once per process (make is idempotent; the
 * Makefile renames into place, so concurrent builds never load a half file). */
export function buildShim(): Promise<void> {
  shimBuild ??= run('make', ['-s', '-C', HERE], { encoding: 'utf8' }).then(
    () => undefined,
    (err: unknown) => {
      shimBuild = undefined;
      const e = err as { stderr?: string; message?: string };
      throw new Error(
        `building ${SHIM} failed (needs gcc, make and libxen-dev): ${e.stderr?.trim() || e.message}`,
      );
    },
  );
  return shimBuild;
}

/** One DIRECTORY "/" round trip on the raw socket: true when xenstored answers. */
function probe(socketPath: string, timeoutMs: number): Promise<boolean> {
  return new Promise((done) => {
    const sock = connect(socketPath);
    let got = Buffer.alloc(0);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      done(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    sock.on('error', () => finish(false));
    sock.on('connect', () => {
      const payload = Buffer.from('/\0');
      const hdr = Buffer.alloc(XS_HEADER);
      hdr.writeUInt32LE(XS_DIRECTORY, 0);
      hdr.writeUInt32LE(1, 4);
      hdr.writeUInt32LE(0, 8);
      hdr.writeUInt32LE(payload.length, 12);
      sock.write(Buffer.concat([hdr, payload]));
    });
    sock.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length < XS_HEADER) return;
      const type = got.readUInt32LE(0);
      finish(type === XS_DIRECTORY || type === XS_ERROR);
    });
  });
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().slice(-2000);
  } catch {
    return '';
  }
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      done(false);
    }, ms);
    const onExit = () => {
      clearTimeout(timer);
      done(true);
    };
    child.once('exit', onExit);
  });
}

/** The pid in a xenstored pid file, if that process still runs. */
function runningPid(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && alive(pid) ? pid : undefined;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts an independent xenstored in `dir` (created if missing; removed by
 * stop()). Resolves once the socket answers a request; throws with the
 * daemon's log otherwise. The daemon dies with this process (PDEATHSIG), so
 * a crashed test never leaks one.
 */
export async function startLabXenstored(
  dir: string,
  opts: LabXenstoredOptions = {},
): Promise<LabXenstored> {
  dir = resolve(dir);
  const socketPath = join(dir, 'socket');
  if (Buffer.byteLength(socketPath) > SUN_PATH_MAX) {
    throw new Error(
      `lab xenstored: socket path ${socketPath} is longer than ${SUN_PATH_MAX} bytes (unix socket limit); use a shorter directory`,
    );
  }
  const binary = findXenstored();
  await buildShim();
  const pidFile = join(dir, 'xenstored.pid');
  const logFile = join(dir, 'xenstored.log');
  const owner = runningPid(pidFile);
  if (owner !== undefined) {
    throw new Error(
      `lab xenstored: ${dir} is in use by xenstored pid ${owner} (its pid file ${pidFile} is live); stop it or use another directory`,
    );
  }
  const createdDir = !existsSync(dir);
  await mkdir(dir, { recursive: true });
  // A stale socket from a killed instance would answer nothing, or worse, a
  // different daemon: only the one we start may create it.
  await rm(socketPath, { force: true });
  const args = ['--no-fork', '--pid-file', pidFile];
  if (opts.trace) args.push('--trace-file', join(dir, 'trace.log'));
  if (opts.onDiskStore) args.push('--internal-db=off');

  const logFd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(binary, args, {
      cwd: dir,
      stdio: ['ignore', logFd, logFd],
      env: {
        ...process.env,
        LD_PRELOAD: SHIM,
        XENSTORED_RUNDIR: dir,
        XENSTORED_PATH: socketPath,
        XSSHIM_PARENT_PID: String(process.pid),
      },
    });
  } finally {
    closeSync(logFd);
  }
  // Let the test process exit even if someone forgets stop(); the daemon then
  // follows via PDEATHSIG.
  child.unref();
  const spawnError = new Promise<Error>((done) => child.once('error', done));
  if (child.pid === undefined) {
    if (createdDir) await rm(dir, { recursive: true, force: true });
    throw new Error(`lab xenstored: cannot run ${binary}: ${(await spawnError).message}`);
  }

  const stopChild = async (): Promise<void> => {
    child.ref();
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      if (!(await waitExit(child, STOP_GRACE_MS))) {
        child.kill('SIGKILL');
        await waitExit(child, STOP_GRACE_MS);
      }
    }
    child.unref();
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 10_000);
  let ready = false;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (existsSync(socketPath) && (await probe(socketPath, 1000))) {
      ready = true;
      break;
    }
    const failed = await Promise.race([
      spawnError,
      new Promise<undefined>((done) => setTimeout(done, 20)),
    ]);
    if (failed) {
      throw new Error(`lab xenstored: cannot run ${binary}: ${failed.message}`);
    }
  }
  if (!ready) {
    const how =
      child.exitCode !== null
        ? `exited with status ${child.exitCode}` +
          (child.exitCode === 0 ? ' (another xenstored holds the pid file lock in this directory?)' : '')
        : child.signalCode !== null
          ? `was killed by ${child.signalCode}`
          : `did not answer on ${socketPath} in time`;
    await stopChild();
    const log = readLog(logFile);
    if (createdDir) await rm(dir, { recursive: true, force: true });
    throw new Error(
      `lab xenstored in ${dir} ${how}.` + (log ? `\nIts log:\n${log}` : ' Its log was empty.'),
    );
  }

  const pid = child.pid as number;
  let stopped: Promise<void> | undefined;
  return {
    socketPath,
    pid,
    dir,
    env: { XENSTORED_PATH: socketPath },
    stop() {
      stopped ??= (async () => {
        await stopChild();
        if (alive(pid)) {
          throw new Error(`lab xenstored pid ${pid} did not exit after SIGKILL`);
        }
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
