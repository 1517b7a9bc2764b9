// Where xlnetd's BPF programs attach: a cgroup holding xlnetd alone.
//
//   own      (default) <v2 root>/xlnet.slice/xlnetd; outside the initial network
//            namespace xlnet.slice/xlnetd-net<inode>, so daemons of different
//            namespaces (test labs) never share one
//   current  the cgroup xlnetd was started in, e.g. its systemd unit's
//   none     no datapath: no BPF tuning, counters or kernel relay
//   <path>   that cgroup, relative to the v2 root
//
// Start order is what keeps the cgroup xlnetd's alone: the datapath is loaded
// (and the "holds another process" check made) before xlnetd spawns any helper.
// Its helpers (the persistent `nft -i`, `ip`) then run in the same cgroup; the
// programs only act on sockets xlnetd registered, and the helpers make no TCP
// sockets, so they are left alone.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { cgroup2Root, cgroupOf, cgroupPids, enterCgroup } from './cgroup.js';
import { DatapathError } from './datapath-error.js';

export type CgroupChoice = 'own' | 'current' | 'none' | string;

const SLICE = 'xlnet.slice';

/** xlnetd's own cgroup name for this network namespace. */
export function ownCgroupName(): string {
  let mine = '', init = '';
  try { mine = readlinkSync('/proc/self/ns/net'); init = readlinkSync('/proc/1/ns/net'); } catch { /* no /proc: default */ }
  const ino = /\[(\d+)\]/.exec(mine)?.[1];
  return mine === init || !ino ? 'xlnetd' : `xlnetd-net${ino}`;
}

/** Empty per-namespace cgroups left by daemons that are gone (rmdir fails on busy ones). */
function sweep(root: string): void {
  const slice = join(root, SLICE);
  let names: string[] = [];
  try { names = readdirSync(slice); } catch { return; }
  for (const n of names) {
    if (!n.startsWith('xlnetd-net')) continue;
    try {
      if (cgroupPids(join(slice, n)).length === 0) rmdirSync(join(slice, n));
    } catch { /* in use, or raced with another daemon */ }
  }
}

/**
 * The cgroup v2 root. `ip netns exec` runs its command in a mount namespace
 * of its own with a fresh /sys, where no cgroup hierarchy is mounted: then
 * (nothing at all mounted at or below /sys/fs/cgroup) cgroup2 is mounted on
 * that empty /sys/fs/cgroup, in that private namespace only. A host whose
 * cgroups are v1 only has mounts there and is left alone (no datapath).
 */
export function daemonCgroupRoot(): string {
  try {
    return cgroup2Root();
  } catch (e) {
    let empty = false;
    try {
      empty = !readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
        .some((l) => { const mp = l.split(' ')[4] ?? ''; return mp === '/sys/fs/cgroup' || mp.startsWith('/sys/fs/cgroup/'); });
    } catch { /* no /proc: leave it */ }
    if (!empty) throw e;
    try {
      execFileSync('mount', ['-t', 'cgroup2', 'none', '/sys/fs/cgroup'], { stdio: 'ignore' });
    } catch {
      throw e;
    }
    return cgroup2Root();
  }
}

export interface DaemonCgroup {
  path: string;
  /** moves xlnetd back where it came from and removes its own cgroup (best effort) */
  leave(): void;
}

/** Puts xlnetd into the chosen cgroup; undefined for 'none'. Throws a DatapathError. */
export function enterDaemonCgroup(choice: CgroupChoice): DaemonCgroup | undefined {
  if (choice === 'none') return undefined;
  const root = daemonCgroupRoot();
  const from = cgroupOf('self', root);
  if (choice === 'current') return { path: from, leave: () => undefined };
  if (choice === 'own') sweep(root);
  const rel = choice === 'own' ? join(SLICE, ownCgroupName()) : choice;
  if (rel.split('/').includes('..')) throw new DatapathError('E_CGROUP', `cgroup '${choice}' must stay below the cgroup v2 root`);
  const path = enterCgroup(join(root, rel));
  return {
    path,
    leave: () => {
      try {
        enterCgroup(from);
        if (path !== from && cgroupPids(path).length === 0) rmdirSync(path);
      } catch { /* the process is exiting anyway; sweep() removes it next time */ }
    },
  };
}
