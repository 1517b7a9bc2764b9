// Handover: what xlnetd does so that a restart (an upgrade, a crash, an OOM
// kill) keeps the split connections. At start it finds or starts the keeper
// (keeper.ts) and takes back what a previous xlnetd left there: the
// transparent listener, the nft session with its tables, the flows' sockets.
// While it runs it gives the keeper a copy of every flow's two sockets and
// keeps the keeper's "if xlnetd dies" batch current (every vif's SYN rules
// out: new connections go direct). At a stop it either hands the flows over
// (the keeper waits for the next xlnetd) or lets everything go now.
//
// Without a keeper (it could not be started) xlnetd runs as before: its own
// nft session, and a restart resets the split connections.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as libc from '../ffi/libc.js';
import type { NftSession } from '../steering/nft-session.js';
import type { Endpoint, SplitConnection } from '../service/split-connection.js';
import type { Options } from '../daemon/protocol.js';
import { KeeperClient } from './keeper-client.js';
import type { HelloResult } from './keeper-protocol.js';

/** Seconds kept flows wait for the next xlnetd. */
export const KEEP_GRACE_SEC = 60;

export interface FlowMeta {
  id: number;
  vif: string;
  attachmentId: number;
  guest: Endpoint;
  dst: Endpoint;
  wanLocal: Endpoint;
  profile: string;
  options: Options;
}

export interface KeptFlow { meta: FlowMeta; guestFd: number; wanFd: number }

interface Log { info(m: string): void; warn(m: string): void; error(m: string): void }

const names = (id: number) => [`flow/${id}/guest`, `flow/${id}/wan`];

export class Handover {
  /** flows adopted under a new id: new id -> the id the keeper knows them by */
  private keptAs = new Map<number, number>();
  private sysctls: Record<string, string> = {};

  private constructor(
    private readonly keeper: KeeperClient | undefined,
    private readonly hello: HelloResult | undefined,
    private readonly stateDir: string,
    private readonly log: Log,
  ) {
    keeper && (keeper.onClose = () => log.error('the keeper went away: a restart of xlnetd now resets its split connections'));
  }

  static async open(stateDir: string, log: Log): Promise<Handover> {
    try {
      const { keeper, hello } = await KeeperClient.open(join(stateDir, 'keeper.sock'), { graceSec: KEEP_GRACE_SEC });
      if (hello.held.length) log.info(`the keeper holds ${hello.held.length} item(s) from the previous xlnetd`);
      return new Handover(keeper, hello, stateDir, log);
    } catch (e) {
      log.warn(`no keeper (${(e as Error).message}): a restart of xlnetd will reset its split connections`);
      return new Handover(undefined, undefined, stateDir, log);
    }
  }

  get alive(): boolean { return this.keeper?.alive === true; }

  private sysctlFile(): string { return join(this.stateDir, 'sysctl.json'); }

  /**
   * Sets a sysctl, remembering the value it had before xlnet (kept in the
   * state directory: a predecessor that did not stop cleanly already changed it).
   */
  setSysctl(path: string, value: string): void {
    let saved: Record<string, string> = {};
    try { saved = JSON.parse(readFileSync(this.sysctlFile(), 'utf8')) as Record<string, string>; } catch { /* none yet */ }
    if (saved[path] === undefined) {
      saved[path] = readFileSync(path, 'utf8').trim();
      mkdirSync(this.stateDir, { recursive: true });
      const tmp = `${this.sysctlFile()}.tmp`;
      writeFileSync(tmp, JSON.stringify(saved));
      renameSync(tmp, this.sysctlFile());
    }
    this.sysctls = saved;
    writeFileSync(path, value);
  }

  private restoreSysctls(): void {
    for (const [path, value] of Object.entries(this.sysctls)) {
      try { writeFileSync(path, value); } catch (e) { this.log.warn(`cannot give ${path} back its value ${value}: ${(e as Error).message}`); }
    }
    try { if (existsSync(this.sysctlFile())) writeFileSync(this.sysctlFile(), '{}'); } catch { /* state dir gone */ }
  }

  /** The transparent listener a previous xlnetd opened, as fds of this process. */
  listenerFds(): number[] | undefined {
    const held = this.hello?.held.filter((h) => h.name.startsWith('listener/')).sort((a, b) => a.name.localeCompare(b.name)) ?? [];
    if (!held.length || !this.keeper) return undefined;
    return held.map((h) => this.keeper!.take(h.fd));
  }

  keepListener(fds: number[]): void {
    this.keeper?.keep(fds.map((fd, i) => ({ name: `listener/${i === 0 ? 4 : 6}`, fd })))
      .catch((e: Error) => this.log.warn(`the keeper did not take the listener: ${e.message}`));
  }

  /** Starts the nft session: the keeper's (kept across restarts) or, without a keeper, xlnetd's own. */
  async startNft(nft: NftSession): Promise<void> {
    if (!this.keeper) { nft.start(); return; }
    const [stdin, stderr] = this.hello?.nft ? [this.keeper.take(this.hello.nft.stdin), this.keeper.take(this.hello.nft.stderr)] : await this.keeper.nftPipes();
    nft.attach(stdin, stderr);
  }

  /** The flows the previous xlnetd left, with this process's own fds of their sockets. */
  keptFlows(): KeptFlow[] {
    if (!this.keeper || !this.hello) return [];
    const out: KeptFlow[] = [];
    for (const h of this.hello.held) {
      const m = /^flow\/(\d+)\/guest$/.exec(h.name);
      if (!m) continue;
      const wan = this.hello.held.find((x) => x.name === `flow/${m[1]}/wan`);
      if (!wan || !h.meta) continue;
      out.push({ meta: h.meta as FlowMeta, guestFd: this.keeper.take(h.fd), wanFd: this.keeper.take(wan.fd) });
    }
    return out;
  }

  /** An adopted flow goes on under a new id. */
  renameFlow(oldId: number, flow: SplitConnection): void { this.keptAs.set(flow.id, oldId); }

  /** A kept flow that cannot go on: reset (the last of the copies to close sends it). */
  resetFlow(k: KeptFlow): void {
    for (const fd of [k.guestFd, k.wanFd]) {
      try { libc.setResetOnClose(fd); } catch { /* closed */ }
      libc.close(fd);
    }
    this.keeper?.drop(names(k.meta.id)).catch(() => undefined);
  }

  /** Gives the keeper its copies of a new flow's sockets. */
  keepFlow(f: SplitConnection, guestFd: number, wanFd: number, extra: { profile: string; options: Options }): void {
    if (!this.alive) return;
    // The keeper copies the fds when it reads the request: keep them open until then.
    const g = libc.dup(guestFd), w = libc.dup(wanFd);
    const meta: FlowMeta = { id: f.id, vif: f.vif, attachmentId: f.attachmentId, guest: f.guest, dst: f.dst, wanLocal: f.wanLocal, ...extra };
    this.keeper!.keep([{ name: names(f.id)[0]!, fd: g, meta }, { name: names(f.id)[1]!, fd: w }])
      .catch((e: Error) => this.log.warn(`flow ${f.id}: the keeper did not take its sockets (${e.message}); a restart resets it`))
      .finally(() => { libc.close(g); libc.close(w); });
  }

  dropFlow(id: number): void {
    if (!this.alive) return;
    const kept = this.keptAs.get(id) ?? id;
    this.keptAs.delete(id);
    this.keeper!.drop(names(kept)).catch(() => undefined);
  }

  /** The batch the keeper runs if xlnetd dies: new connections go direct. */
  onExit(nft: string[]): void {
    this.keeper?.onExit(nft).catch((e: Error) => this.log.warn(`the keeper did not take the on-exit rules: ${e.message}`));
  }

  /** Tells the keeper how to clean up after the last kept flow (policy routes, sysctls). */
  async ready(cleanupArgv: string[][]): Promise<void> {
    if (!this.keeper) return;
    const files = Object.entries(this.sysctls).map(([path, value]) => ({ path, value }));
    await this.keeper.cleanup({ argv: [...cleanupArgv, ['rm', '-f', this.sysctlFile()]], files });
  }

  /**
   * Leaves: with `handover` the keeper keeps the flows for the next xlnetd;
   * otherwise it lets everything go now and this process gives the sysctls back.
   */
  async leave(handover: boolean): Promise<void> {
    if (!handover) this.restoreSysctls();
    if (!this.keeper?.alive) return;
    try {
      // Without a handover xlnetd has removed its routes itself: the keeper only lets go.
      if (!handover) await this.keeper.cleanup({ argv: [], files: [] });
      await this.keeper.bye(handover);
    } catch (e) {
      this.log.warn(`keeper: ${(e as Error).message}`);
    }
  }
}
