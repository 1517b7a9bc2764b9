// Every path `xlnet setup` reads or writes, under a root prefix (`--root
// DIR`, default /) so the whole setup runs against a scratch tree in tests.
import { join, resolve } from 'node:path';

export interface SetupPaths {
  /** The prefix every path below lives under. */
  root: string;
  /** Directory with the domain configs offered (default ROOT/etc/xen). */
  xenDir: string;
  xlConf: string;
  conf: string;
  scriptsDir: string;
  sysctlDropin: string;
  unit: string;
  manifest: string;
}

export const SYSTEM_PATHS = {
  xlConf: '/etc/xen/xl.conf',
  scriptsDir: '/etc/xen/scripts',
  sysctlDropin: '/etc/sysctl.d/60-xlnet.conf',
  unit: '/etc/systemd/system/xlnetd.service',
  manifest: '/var/lib/xlnet/setup-manifest.json',
} as const;

/** `/etc/x` under the root. */
export function under(root: string, abs: string): string {
  return root === '/' ? abs : join(root, abs);
}

/** The path as the host will see it once the root is its /: for messages and the manifest. */
export function hostPath(root: string, real: string): string {
  if (root === '/') return real;
  const r = resolve(root);
  return real.startsWith(r + '/') ? real.slice(r.length) : real;
}

export function setupPaths(root: string, confPath: string, xenDir?: string): SetupPaths {
  const r = resolve(root);
  return {
    root: r,
    xenDir: xenDir ? resolve(xenDir) : under(r, '/etc/xen'),
    xlConf: under(r, SYSTEM_PATHS.xlConf),
    conf: under(r, confPath),
    scriptsDir: under(r, SYSTEM_PATHS.scriptsDir),
    sysctlDropin: under(r, SYSTEM_PATHS.sysctlDropin),
    unit: under(r, SYSTEM_PATHS.unit),
    manifest: under(r, SYSTEM_PATHS.manifest),
  };
}
