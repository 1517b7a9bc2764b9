// xlnetd's own cgroup v2: where the datapath's cgroup programs attach. A
// cgroup program sees every socket of every process in the cgroup and below,
// so the daemon gets a cgroup of its own and the loader refuses one that holds
// anyone else.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatapathError } from './datapath-error.js';

/** Where xlnetd puts itself unless told otherwise (relative to the v2 root). */
export const DEFAULT_CGROUP = 'xlnet.slice/xlnetd';

/** The cgroup v2 mount point: /sys/fs/cgroup on a pure v2 system,
 * /sys/fs/cgroup/unified in systemd's hybrid layout. */
export function cgroup2Root(mountinfo = '/proc/self/mountinfo'): string {
  for (const line of readFileSync(mountinfo, 'utf8').split('\n')) {
    // "id parent maj:min root mountpoint opts [optional...] - fstype source superopts"
    const [left, right] = line.split(' - ');
    if (!left || !right || right.split(' ')[0] !== 'cgroup2') continue;
    const mountPoint = left.split(' ')[4];
    if (mountPoint) return mountPoint.replace(/\\040/g, ' ');
  }
  throw new DatapathError('E_CGROUP', 'no cgroup v2 hierarchy is mounted: mount one (mount -t cgroup2 none /sys/fs/cgroup) or boot with systemd.unified_cgroup_hierarchy=1');
}

/** The cgroup v2 directory a process is in. */
export function cgroupOf(pid: number | 'self' = 'self', root = cgroup2Root()): string {
  const text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  if (line === undefined) throw new DatapathError('E_CGROUP', `process ${pid} is in no cgroup v2 (no "0::" line in /proc/${pid}/cgroup)`);
  return join(root, line.slice(3));
}

/** Pids in a cgroup and every cgroup below it. */
export function cgroupPids(path: string): number[] {
  const pids = readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.isDirectory()) pids.push(...cgroupPids(join(path, e.name)));
  }
  return pids;
}

/** Moves a process (default: this one) into the cgroup, creating it if needed. */
export function enterCgroup(path: string, pid: number = process.pid): string {
  if (!existsSync(path)) mkdirSync(path, { recursive: true });
  try {
    writeFileSync(join(path, 'cgroup.procs'), `${pid}\n`);
  } catch (e) {
    throw new DatapathError('E_CGROUP', `cannot move process ${pid} into ${path}: ${(e as Error).message}` +
      ' (a cgroup with enabled controllers cannot hold processes itself: use a leaf cgroup)', { cause: e });
  }
  return path;
}

/** xlnetd's start-up step: put this process into a cgroup of its own
 * (<v2 root>/xlnet.slice/xlnetd by default) and return its path. */
export function enterOwnCgroup(relative = DEFAULT_CGROUP, root = cgroup2Root()): string {
  const path = join(root, relative);
  enterCgroup(path);
  checkOwnCgroup(path);
  return path;
}

/** Throws unless `path` is a non-root cgroup v2 directory whose processes
 * (its own and its descendants') are at most this process. */
export function checkOwnCgroup(path: string, root = cgroup2Root()): void {
  let isDir = false;
  try { isDir = statSync(path).isDirectory(); } catch { /* reported below */ }
  if (!isDir || !existsSync(join(path, 'cgroup.procs'))) {
    throw new DatapathError('E_CGROUP', `cgroup ${path} does not exist or is not a cgroup v2 directory (v2 root: ${root}); ` +
      'create it and move xlnetd into it (enterOwnCgroup)');
  }
  if (statSync(path).ino === statSync(root).ino) {
    throw new DatapathError('E_CGROUP', `refusing to attach to the root cgroup ${path}: it holds every process; give xlnetd its own cgroup`);
  }
  const others = cgroupPids(path).filter((p) => p !== process.pid);
  if (others.length > 0) {
    throw new DatapathError('E_CGROUP_SHARED', `cgroup ${path} holds other processes (${others.slice(0, 5).join(', ')}${others.length > 5 ? ', ...' : ''}): ` +
      'the datapath would tune and count their sockets too; give xlnetd a cgroup of its own');
  }
}

/** Removes a cgroup created for xlnetd or a test (it must hold no process). */
export function removeCgroup(path: string): void {
  for (const e of readdirSync(path, { withFileTypes: true })) {
    if (e.isDirectory()) removeCgroup(join(path, e.name));
  }
  rmdirSync(path);
}
