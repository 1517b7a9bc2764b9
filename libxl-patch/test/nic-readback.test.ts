// test-timeout: 1800 (image or Xen tools builds from an empty cache, QEMU under TCG)
// libxl reads localack back when it rebuilds a running domain's vifs from
// xenstore (what `xl list -l` and save/migrate use), and frees it exactly
// once. The vif is given as libxl itself writes it (/libxl/<domid>/device/
// vif/<devid>, mirrored from the backend dir); nohv-preload.so serves that
// tree read-only. Reading the string with the gc instead of NOGC makes
// nic-readback abort with "double free detected" (checked by hand against a
// libxenlight patched that way: exit 134), as upstream's first `vlan` did.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from './xl-dryrun.ts';

const DOMID = 7;

function vifNodes(devid: number, extra: Record<string, string>): string[] {
  const dir = `/libxl/${DOMID}/device/vif/${devid}`;
  const nodes: Record<string, string> = {
    frontend: `/local/domain/${DOMID}/device/vif/${devid}`,
    backend: `/local/domain/0/backend/vif/${DOMID}/${devid}`,
    handle: String(devid),
    mac: `00:16:3e:00:00:0${devid}`,
    bridge: 'xenbr0',
    type: 'vif',
    script: '/etc/xen/scripts/vif-bridge',
    ...extra,
  };
  return Object.entries(nodes).map(([k, v]) => `${dir}/${k}=${v}`);
}

function readBack(tree: string[], program: (b: ReturnType<typeof ensureBuilt>) => string[]) {
  const b = ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'localack-xs-'));
  try {
    const file = join(dir, 'tree');
    writeFileSync(file, [`/local/domain/${DOMID}/name=guest`, ...tree, ''].join('\n'));
    const [cmd, ...args] = program(b);
    return spawnSync(cmd, args, {
      encoding: 'utf8',
      env: {
        ...process.env,
        NOHV_XENSTORE: file,
        LD_PRELOAD: b.preload,
        LD_LIBRARY_PATH: join(b.root, 'usr/lib/x86_64-linux-gnu'),
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('libxl lists a vif with its localack and frees the list cleanly', () => {
  const r = readBack(
    [...vifNodes(0, { localack: 'required' }), ...vifNodes(1, {}), ...vifNodes(2, { localack: 'bulk' })],
    (b) => [join(b.out, 'test/nic-readback'), String(DOMID)],
  );
  assert.is(r.status, 0, `exit ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
  assert.not.match(r.stderr, /double free|corrupted|Aborted/);
  const nics = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
  assert.equal(
    nics.map((n) => [n.devid, n.bridge, n.localack]),
    [
      [0, 'xenbr0', 'required'],
      [1, 'xenbr0', undefined],
      [2, 'xenbr0', 'bulk'],
    ],
  );
});

test('`xl network-list` over vifs with localack exits cleanly', () => {
  const r = readBack(
    [...vifNodes(0, { localack: '1' }), ...vifNodes(1, { localack: 'satellite' })],
    (b) => [join(b.root, 'usr/lib/xen-4.17/bin/xl'), 'network-list', String(DOMID)],
  );
  assert.is(r.status, 0, `exit ${r.status} ${r.signal ?? ''}: ${r.stderr}`);
  assert.not.match(r.stderr, /double free|corrupted/);
  assert.match(r.stdout, /\/local\/domain\/0\/backend\/vif\/7\/0/);
  assert.match(r.stdout, /\/local\/domain\/0\/backend\/vif\/7\/1/);
});

test.run();
