// ffi/: the libbpf calls the datapath needs (libbpf.so.1, Debian 12 ships 1.1):
// open/load BPF objects, find programs and maps, attach to cgroups, and map
// element operations with Buffer keys and values. libbpf >= 1.0 returns
// -errno from int functions and NULL + errno from pointer functions; both
// become a SysError naming the call and the errno. Nothing else in the plugin
// imports ffi-rs (libc.ts is the sibling for socket calls).
import { open, define, load, isNullPointer, DataType, type JsExternal } from 'ffi-rs';
import { SysError } from './libc.js';

open({ library: 'libbpf', path: 'libbpf.so.1' });

const I32 = DataType.I32;
const U32 = DataType.U32;
const U64 = DataType.U64;
const BUF = DataType.U8Array;
const PTR = DataType.External;
const VOID = DataType.Void;
const L = 'libbpf';

const lib = define({
  bpf_object__open_file: { library: L, retType: PTR, paramsType: [BUF, U64], errno: true },
  bpf_object__load: { library: L, retType: I32, paramsType: [PTR] },
  bpf_object__close: { library: L, retType: VOID, paramsType: [PTR] },
  bpf_object__find_program_by_name: { library: L, retType: PTR, paramsType: [PTR, BUF] },
  bpf_object__find_map_by_name: { library: L, retType: PTR, paramsType: [PTR, BUF] },
  bpf_program__fd: { library: L, retType: I32, paramsType: [PTR] },
  bpf_program__attach_cgroup: { library: L, retType: PTR, paramsType: [PTR, I32], errno: true },
  bpf_link__destroy: { library: L, retType: I32, paramsType: [PTR] },
  bpf_map__fd: { library: L, retType: I32, paramsType: [PTR] },
  bpf_map__reuse_fd: { library: L, retType: I32, paramsType: [PTR, I32] },
  bpf_map__key_size: { library: L, retType: U32, paramsType: [PTR] },
  bpf_map__value_size: { library: L, retType: U32, paramsType: [PTR] },
  bpf_prog_attach: { library: L, retType: I32, paramsType: [I32, I32, I32, U32] },
  bpf_prog_detach2: { library: L, retType: I32, paramsType: [I32, I32, I32] },
  bpf_map_update_elem: { library: L, retType: I32, paramsType: [I32, BUF, BUF, U64] },
  bpf_map_lookup_elem: { library: L, retType: I32, paramsType: [I32, BUF, BUF] },
  bpf_map_delete_elem: { library: L, retType: I32, paramsType: [I32, BUF] },
  bpf_map_get_next_key: { library: L, retType: I32, paramsType: [I32, BUF, BUF] },
});

/** <linux/bpf.h> enum bpf_attach_type values the datapath uses. */
export const BPF_CGROUP_INET_INGRESS = 0, BPF_CGROUP_INET_EGRESS = 1, BPF_CGROUP_SOCK_OPS = 3, BPF_SK_SKB_STREAM_VERDICT = 5;
/** bpf_map_update_elem flags (<linux/bpf.h>). */
export const BPF_ANY = 0, BPF_NOEXIST = 1, BPF_EXIST = 2;
/** Flag for bpf_prog_attach: other programs may stay attached next to ours. */
export const BPF_F_ALLOW_MULTI = 1 << 1;

const ENOENT = 2;

/** An opened (maybe loaded) struct bpf_object; programs and maps point into it. */
export interface BpfObject { readonly ptr: JsExternal; readonly path: string }
export interface BpfProgram { readonly ptr: JsExternal; readonly name: string }
export interface BpfMap { readonly ptr: JsExternal; readonly name: string }
export interface BpfLink { readonly ptr: JsExternal }

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`);
}

/** libbpf int result: >= 0 is a value, < 0 is -errno. */
function check(call: string, r: number, detail?: string): number {
  if (r < 0) throw new SysError(call, -r, detail);
  return r;
}

export function objectOpen(path: string): BpfObject {
  const r = lib.bpf_object__open_file([cstr(path), 0]) as { value: JsExternal; errnoCode: number };
  if (isNullPointer(r.value)) throw new SysError('bpf_object__open_file', r.errnoCode, path);
  return { ptr: r.value, path };
}

/** Creates the maps and verifies and loads the programs into the kernel. */
export function objectLoad(obj: BpfObject): void {
  check('bpf_object__load', lib.bpf_object__load([obj.ptr]) as number,
    `${obj.path}; libbpf printed the verifier log on stderr`);
}

/** Closes the object: its programs and maps go away once no fd or link holds them. */
export function objectClose(obj: BpfObject): void {
  lib.bpf_object__close([obj.ptr]);
}

export function findProgram(obj: BpfObject, name: string): BpfProgram {
  const p = lib.bpf_object__find_program_by_name([obj.ptr, cstr(name)]) as JsExternal;
  if (isNullPointer(p)) throw new SysError('bpf_object__find_program_by_name', ENOENT, `${name} in ${obj.path}`);
  return { ptr: p, name };
}

export function findMap(obj: BpfObject, name: string): BpfMap {
  const p = lib.bpf_object__find_map_by_name([obj.ptr, cstr(name)]) as JsExternal;
  if (isNullPointer(p)) throw new SysError('bpf_object__find_map_by_name', ENOENT, `${name} in ${obj.path}`);
  return { ptr: p, name };
}

/** The program's fd (valid after load). */
export function programFd(prog: BpfProgram): number {
  return check('bpf_program__fd', lib.bpf_program__fd([prog.ptr]) as number, prog.name);
}

/** The map's fd (valid after load, or after reuseMapFd). */
export function mapFd(map: BpfMap): number {
  return check('bpf_map__fd', lib.bpf_map__fd([map.ptr]) as number, map.name);
}

/** Before load: make this object use an existing map instead of creating its own. */
export function reuseMapFd(map: BpfMap, fd: number): void {
  check('bpf_map__reuse_fd', lib.bpf_map__reuse_fd([map.ptr, fd]) as number, map.name);
}

export function mapKeySize(map: BpfMap): number {
  return lib.bpf_map__key_size([map.ptr]) as number;
}

export function mapValueSize(map: BpfMap): number {
  return lib.bpf_map__value_size([map.ptr]) as number;
}

/** Attaches through a bpf_link: detached when the link is destroyed or the process dies. */
export function attachCgroup(prog: BpfProgram, cgroupFd: number): BpfLink {
  const r = lib.bpf_program__attach_cgroup([prog.ptr, cgroupFd]) as { value: JsExternal; errnoCode: number };
  if (isNullPointer(r.value)) throw new SysError('bpf_program__attach_cgroup', r.errnoCode, prog.name);
  return { ptr: r.value };
}

export function linkDestroy(link: BpfLink): void {
  check('bpf_link__destroy', lib.bpf_link__destroy([link.ptr]) as number);
}

/** Legacy attach (survives the process until detached): prefer attachCgroup. */
export function progAttach(progFd: number, targetFd: number, type: number, flags = 0): void {
  check('bpf_prog_attach', lib.bpf_prog_attach([progFd, targetFd, type, flags]) as number);
}

export function progDetach(progFd: number, targetFd: number, type: number): void {
  check('bpf_prog_detach2', lib.bpf_prog_detach2([progFd, targetFd, type]) as number);
}

export function mapUpdate(fd: number, key: Buffer, value: Buffer, flags = BPF_ANY): void {
  check('bpf_map_update_elem', lib.bpf_map_update_elem([fd, key, value, flags]) as number);
}

/** The value for key, or undefined when there is none. */
export function mapLookup(fd: number, key: Buffer, valueSize: number): Buffer | undefined {
  const out = Buffer.alloc(valueSize);
  const r = lib.bpf_map_lookup_elem([fd, key, out]) as number;
  if (r === -ENOENT) return undefined;
  check('bpf_map_lookup_elem', r);
  return out;
}

/** True when the key existed. */
export function mapDelete(fd: number, key: Buffer): boolean {
  const r = lib.bpf_map_delete_elem([fd, key]) as number;
  if (r === -ENOENT) return false;
  check('bpf_map_delete_elem', r);
  return true;
}

/** The key after `key` (the first key when key is null), or undefined at the end. */
export function mapNextKey(fd: number, key: Buffer | null, keySize: number): Buffer | undefined {
  const next = Buffer.alloc(keySize);
  const r = key === null
    // A NULL key asks for the first one: pass the pointer as a 0 integer.
    ? load({ library: L, funcName: 'bpf_map_get_next_key', retType: I32, paramsType: [I32, U64, BUF], paramsValue: [fd, 0, next] }) as number
    : lib.bpf_map_get_next_key([fd, key, next]) as number;
  if (r === -ENOENT) return undefined;
  check('bpf_map_get_next_key', r);
  return next;
}

/** Every key of a map. Not atomic: entries may come and go while it runs, and a
 * key deleted under the walk restarts it from the first key (hash maps), so
 * keys already seen end the walk instead of looping. */
export function mapKeys(fd: number, keySize: number): Buffer[] {
  const seen = new Set<string>();
  const keys: Buffer[] = [];
  for (let k = mapNextKey(fd, null, keySize); k; k = mapNextKey(fd, k, keySize)) {
    const hex = k.toString('hex');
    if (seen.has(hex)) break;
    seen.add(hex);
    keys.push(k);
  }
  return keys;
}
