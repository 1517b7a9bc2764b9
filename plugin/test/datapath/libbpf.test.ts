// ffi/libbpf.ts: the libbpf calls behind the datapath, with their errors, and
// a stress run of map operations (ffi-rs's synchronous path is suspected of
// returning garbage under load: every result is checked).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import * as bpf from '../../src/ffi/libbpf.js';
import { SysError } from '../../src/ffi/libc.js';
import { REPO, TestCgroup, buildObjects, sh } from './lab.js';

const OBJ = join(REPO, 'datapath/build/wan_tune.bpf.o');

function sysError(call: string, code: string) {
  return (e: unknown) => e instanceof SysError && e.syscall === call && e.code === code;
}

test.before(() => buildObjects());

test('open, load, find and close; unknown names and files are ENOENT errors naming them', () => {
  assert.throws(() => bpf.objectOpen('/nonexistent/x.bpf.o'),
    (e: unknown) => sysError('bpf_object__open_file', 'ENOENT')(e) && /\/nonexistent\/x\.bpf\.o/.test((e as Error).message));
  const obj = bpf.objectOpen(OBJ);
  try {
    bpf.objectLoad(obj);
    assert.ok(bpf.programFd(bpf.findProgram(obj, 'xlnet_wan_tune')) > 0);
    const m = bpf.findMap(obj, 'xlnet_profiles');
    assert.ok(bpf.mapFd(m) > 0);
    assert.is(bpf.mapKeySize(m), 4);
    assert.is(bpf.mapValueSize(m), 32);
    assert.throws(() => bpf.findProgram(obj, 'nope'), (e: unknown) => sysError('bpf_object__find_program_by_name', 'ENOENT')(e) && /nope/.test(String(e)));
    assert.throws(() => bpf.findMap(obj, 'nope'), sysError('bpf_object__find_map_by_name', 'ENOENT'));
  } finally { bpf.objectClose(obj); }
});

test('legacy attach/detach to a cgroup, and their errors', async () => {
  const cg = new TestCgroup();
  const obj = bpf.objectOpen(OBJ);
  const cgFd = openSync(cg.path, 'r');
  const fileFd = openSync(OBJ, 'r');
  try {
    bpf.objectLoad(obj);
    const prog = bpf.programFd(bpf.findProgram(obj, 'xlnet_wan_tune'));
    bpf.progAttach(prog, cgFd, bpf.BPF_CGROUP_SOCK_OPS, bpf.BPF_F_ALLOW_MULTI);
    assert.match(sh('bpftool', ['cgroup', 'show', cg.path]), /sock_ops\s+multi\s+xlnet_wan_tune/);
    bpf.progDetach(prog, cgFd, bpf.BPF_CGROUP_SOCK_OPS);
    assert.is(sh('bpftool', ['cgroup', 'show', cg.path]).trim(), '');
    assert.throws(() => bpf.progDetach(prog, cgFd, bpf.BPF_CGROUP_SOCK_OPS), sysError('bpf_prog_detach2', 'ENOENT'));
    assert.throws(() => bpf.progAttach(prog, fileFd, bpf.BPF_CGROUP_SOCK_OPS), (e: unknown) => e instanceof SysError && e.syscall === 'bpf_prog_attach');
    // A link detaches when destroyed.
    const link = bpf.attachCgroup(bpf.findProgram(obj, 'xlnet_wan_tune'), cgFd);
    assert.match(sh('bpftool', ['cgroup', 'show', cg.path]), /sock_ops/);
    bpf.linkDestroy(link);
    assert.is(sh('bpftool', ['cgroup', 'show', cg.path]).trim(), '');
  } finally {
    closeSync(fileFd);
    closeSync(cgFd);
    bpf.objectClose(obj);
    await cg.remove();
  }
});

test('map element operations with Buffer keys and values; a missing key is undefined/false', () => {
  const obj = bpf.objectOpen(join(REPO, 'datapath/build/counters.bpf.o'));
  try {
    bpf.objectLoad(obj);
    const fd = bpf.mapFd(bpf.findMap(obj, 'xlnet_flows'));
    const key = Buffer.from('0102030405060708', 'hex');
    const value = Buffer.alloc(96, 7);
    assert.is(bpf.mapLookup(fd, key, 96), undefined);
    assert.is(bpf.mapNextKey(fd, null, 8), undefined, 'empty map: no first key');
    bpf.mapUpdate(fd, key, value, bpf.BPF_NOEXIST);
    assert.throws(() => bpf.mapUpdate(fd, key, value, bpf.BPF_NOEXIST), sysError('bpf_map_update_elem', 'EEXIST'));
    assert.equal(bpf.mapLookup(fd, key, 96), value);
    assert.equal(bpf.mapNextKey(fd, null, 8), key);
    assert.is(bpf.mapNextKey(fd, key, 8), undefined);
    assert.throws(() => bpf.mapUpdate(fd, Buffer.alloc(8), value, 99), sysError('bpf_map_update_elem', 'EINVAL'));
    assert.ok(bpf.mapDelete(fd, key));
    assert.not.ok(bpf.mapDelete(fd, key));
    assert.throws(() => bpf.mapLookup(-1, key, 96), sysError('bpf_map_lookup_elem', 'EBADF'));
  } finally { bpf.objectClose(obj); }
});

test('FFI stress: 30000 map operations return exactly what was stored', () => {
  const obj = bpf.objectOpen(join(REPO, 'datapath/build/counters.bpf.o'));
  try {
    bpf.objectLoad(obj);
    const fd = bpf.mapFd(bpf.findMap(obj, 'xlnet_flows'));
    const COUNT = 10_000;
    const key = (i: number) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(i) * 0x1_0000_0001n); return b; };
    const value = (i: number) => { const b = Buffer.alloc(96); for (let j = 0; j < 96; j += 4) b.writeUInt32LE((i * 2654435761 + j) >>> 0, j); return b; };
    for (let i = 0; i < COUNT; i++) bpf.mapUpdate(fd, key(i), value(i));
    for (let i = 0; i < COUNT; i++) {
      const got = bpf.mapLookup(fd, key(i), 96);
      if (!got || !got.equals(value(i))) assert.unreachable(`lookup ${i} returned ${got?.toString('hex').slice(0, 32)}`);
    }
    assert.is(bpf.mapKeys(fd, 8).length, COUNT);
    for (let i = 0; i < COUNT; i++) if (!bpf.mapDelete(fd, key(i))) assert.unreachable(`delete ${i} found nothing`);
    assert.is(bpf.mapKeys(fd, 8).length, 0);
  } finally { bpf.objectClose(obj); }
});

test.run();
