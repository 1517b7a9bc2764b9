// Runs the patched and the stock xl in dry-run mode (`xl -N`) on a machine
// without Xen. Shared by the libxl-patch tests.
//
// `xl -N create` parses a domain config and prints the libxl domain config as
// JSON; `xl -N network-attach 0 <spec>...` parses a vif spec and prints
// `vif: <json>`. Neither touches a domain, but xl still opens the hypervisor
// and xenstore at start-up (libxl_ctx_alloc) and asks for physinfo while
// parsing, so without Xen both die before parsing ("cannot open libxc
// handle"). nohv-preload.so (built by build.sh from nohv-preload.c) answers
// those few calls as a small idle host would; the parsing and JSON output are
// the real xl and libxl code.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PATCH_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
/** xen-utils-4.17's xl binary (/usr/sbin/xl is a wrapper that needs a running Xen). */
export const STOCK_XL = '/usr/lib/xen-4.17/bin/xl';

export interface Build {
  root: string; // the install tree
  out: string; // its cache dir (src/, build.log, test/)
  preload: string; // nohv-preload.so
}

let built: Build | undefined;

/** Runs build.sh (seconds when cached) and returns where the tree is. */
export function ensureBuilt(): Build {
  if (built) return built;
  const r = spawnSync('bash', [join(PATCH_DIR, 'build.sh')], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.status !== 0) {
    throw new Error(`libxl-patch/build.sh failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  }
  const lines = r.stdout.trim().split('\n');
  const root = lines[lines.length - 1];
  const out = dirname(root);
  built = { root, out, preload: join(out, 'test', 'nohv-preload.so') };
  return built;
}

export interface XlResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the patched xl (patched libxenlight/libxlutil, the host's other Xen libs). */
export function patchedXl(args: string[]): XlResult {
  const b = ensureBuilt();
  return runXl(join(b.root, 'usr/lib/xen-4.17/bin/xl'), args, {
    LD_LIBRARY_PATH: join(b.root, 'usr/lib/x86_64-linux-gnu'),
    LD_PRELOAD: b.preload,
  });
}

/** Runs xen-utils-4.17's xl with the host's libraries only. */
export function stockXl(args: string[]): XlResult {
  const b = ensureBuilt();
  return runXl(STOCK_XL, args, { LD_PRELOAD: b.preload });
}

function runXl(xl: string, args: string[], extraEnv: Record<string, string>): XlResult {
  const env: Record<string, string | undefined> = { ...process.env, ...extraEnv };
  if (!('LD_LIBRARY_PATH' in extraEnv)) delete env.LD_LIBRARY_PATH;
  const r = spawnSync(xl, ['-N', ...args], { encoding: 'utf8', env, input: '' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A minimal PV domain config with the given vif list entries. */
export function domainConfig(vifs: string[]): string {
  const list = vifs.map((v) => `'${v}'`).join(', ');
  return [
    'name = "localack-dryrun"',
    'type = "pv"',
    'kernel = "/nonexistent/vmlinuz"',
    'memory = 64',
    `vif = [ ${list} ]`,
    '',
  ].join('\n');
}

/** `xl -N create` on a temporary config file holding `text`. */
export function createDryRun(text: string, xl: (a: string[]) => XlResult = patchedXl): XlResult {
  const dir = mkdtempSync(join(tmpdir(), 'localack-cfg-'));
  try {
    const cfg = join(dir, 'guest.cfg');
    writeFileSync(cfg, text);
    return xl(['create', cfg]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The nics of the JSON that `xl -N create` printed. */
export function nicsOf(r: XlResult): Array<Record<string, unknown>> {
  const cfg = JSON.parse(r.stdout) as { nics?: Array<Record<string, unknown>> };
  return cfg.nics ?? [];
}

/** The nic of the `vif: {...}` that `xl -N network-attach` printed. */
export function attachedNic(r: XlResult): Record<string, unknown> {
  const m = /^vif: ([\s\S]*)$/.exec(r.stdout.trim());
  if (!m) throw new Error(`no "vif:" line in xl output: ${r.stdout}`);
  return JSON.parse(m[1]) as Record<string, unknown>;
}
