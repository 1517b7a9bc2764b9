// `xlnet hotplug online|offline`: the part of a vif's hotplug that talks to
// xlnetd. Started by vif-post.d/xlnet.hook (directly, or for vif-localack)
// inside libxl's hotplug script, so it must be quick, must never hang, and
// must let the guest's network come up unless the service is `required`.
//
// Output contract with the scripts:
//   stdout  exactly one line: what happened to the vif (the script logs it,
//           or passes it to `fatal`, which stores it as hotplug-error)
//   stderr  the details (the scripts' stderr is /var/log/xen/xen-hotplug.log)
//   exit    0  the vif may come up (attached, or unsplit with a warning)
//           10 online only: the service is required and could not attach;
//              the script fails the vif with stdout as hotplug-error
//           2  xlnet could not even tell (bad environment, no xenstore)
// 10 is deliberately not 1: node exits 1 on a crash (an uncaught error, a
// module missing from a half-installed build) and `xlnet` uses 1-5 for its
// own failures (cli/exit-codes.ts). Only this deliberate answer may fail a
// guest's network; any other status is a tool failure, which the scripts
// log and survive unless the backend itself says localack=required.
import { ControlClient, ControlError, DEFAULT_SOCKET } from '../daemon/client.js';
import type { AttachmentInfo } from '../daemon/protocol.js';
import { ConfigError, DEFAULT_CONF_PATH, loadXlnetConf, type XlnetConfig } from '../config/index.js';
import { XenstoreClient } from '../xen/xenstore.js';
import { domainName, readVifBackend, type VifBackend } from '../xen/vif-backend.js';
import { decideLocalack, type HotplugDecision } from './decision.js';
import { HotplugEnvError, readHotplugEnv, type HotplugEnv } from './hotplug-env.js';
import { XLNET_STATUS_KEY, formatXlnetStatus, oneLine, type XlnetStatus } from './xlnet-status.js';

export type HotplugAction = 'online' | 'offline';

export const EXIT_OK = 0;
export const EXIT_REQUIRED_FAILED = 10;
export const EXIT_CANNOT_TELL = 2;

// libxl kills the hotplug script after 40 s and the scripts give
// `xlnet hotplug` 10 s; these leave room for Xen's own part of the script.
export const DAEMON_TIMEOUT_MS = 6000;
/** libxl waits for offline before it finishes removing the vif; a detach
 * that does not come back quickly is logged and left to xlnetd. */
export const OFFLINE_DAEMON_TIMEOUT_MS = 3000;
export const XENSTORE_TIMEOUT_MS = 2000;
export const DEADLINE_MS = 8000;

export interface HotplugOptions {
  /** xlnet.conf; default $XLNET_CONF, else /etc/xen/xlnet.conf. */
  confPath?: string;
  /** xlnetd's control socket; default $XLNET_SOCKET, else [daemon] socket. */
  socket?: string;
  /** xenstored socket; default $XENSTORED_PATH, $XENSTORED_RUNDIR/socket, libxenstore's defaults. */
  xenstorePath?: string;
  daemonTimeoutMs?: number;
  xenstoreTimeoutMs?: number;
  /** Whole run; past it the vif is let up (or failed, if required). */
  deadlineMs?: number;
  /** Detail lines (default: stderr). */
  log?: (line: string) => void;
  /** The one summary line (default: stdout). */
  out?: (line: string) => void;
}

export interface HotplugResult {
  code: number;
  /** The summary line printed on stdout. */
  summary: string;
  decision?: HotplugDecision;
  /** What was written to the backend's xlnet-status, if anything. */
  status?: XlnetStatus;
}

/** Runs the hotplug step and returns the exit code (see the header). */
export async function runHotplug(action: HotplugAction, env: NodeJS.ProcessEnv, opts: HotplugOptions = {}): Promise<number> {
  return (await hotplug(action, env, opts)).code;
}

/** Same as runHotplug, with the details (for tests and `--json` callers). */
export async function hotplug(action: HotplugAction, env: NodeJS.ProcessEnv, opts: HotplugOptions = {}): Promise<HotplugResult> {
  const run = new HotplugRun(action, env, opts);
  const deadlineMs = opts.deadlineMs ?? DEADLINE_MS;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<HotplugResult>((resolve) => {
    timer = setTimeout(() => resolve(run.gaveUp(deadlineMs)), deadlineMs);
  });
  try {
    const result = await Promise.race([run.execute(), deadline]);
    (opts.out ?? ((l: string) => process.stdout.write(`${l}\n`)))(result.summary);
    return result;
  } finally {
    clearTimeout(timer);
    await run.close();
  }
}


class HotplugRun {
  private readonly log: (line: string) => void;
  private prefix: string;
  private vif = 'vif';
  private xs?: XenstoreClient;
  private daemon?: ControlClient;
  private decision?: HotplugDecision;
  private finished = false;

  constructor(
    private readonly action: HotplugAction,
    private readonly env: NodeJS.ProcessEnv,
    private readonly opts: HotplugOptions,
  ) {
    const sink = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
    this.log = (l) => sink(`${this.prefix}: ${l}`);
    this.prefix = `xlnet hotplug ${action}`;
  }

  async execute(): Promise<HotplugResult> {
    let henv: HotplugEnv;
    try {
      henv = readHotplugEnv(this.env);
    } catch (err) {
      if (!(err instanceof HotplugEnvError)) throw err;
      return this.done({ code: this.action === 'online' ? EXIT_CANNOT_TELL : EXIT_OK, summary: `xlnet hotplug: ${err.message}` });
    }
    this.vif = henv.vif;
    this.prefix = `xlnet hotplug ${this.action} ${henv.vif}`;
    return this.action === 'online' ? this.online(henv) : this.offline(henv);
  }

  /** The deadline passed: let the vif up, unless it is known to be required. */
  gaveUp(ms: number): HotplugResult {
    const reason = `gave up after ${ms / 1000} s (xenstored or xlnetd not answering)`;
    this.log(reason);
    if (this.action === 'offline') return this.done({ code: EXIT_OK, summary: `${this.vifLabel()}: detach ${reason}` });
    if (this.decision?.required) {
      return this.done({ code: EXIT_REQUIRED_FAILED, summary: `${this.vifLabel()}: local acknowledgement is required but xlnet ${reason}`, decision: this.decision });
    }
    return this.done({ code: this.decision ? EXIT_OK : EXIT_CANNOT_TELL, summary: `${this.vifLabel()}: xlnet ${reason}; running without local acknowledgement` });
  }

  async close(): Promise<void> {
    this.finished = true;
    if (this.daemon) this.daemon.close();
    await this.xs?.close().catch(() => undefined);
  }

  private vifLabel(): string {
    return this.vif;
  }

  private done(r: HotplugResult): HotplugResult {
    this.finished = true;
    return r;
  }

  private async online(henv: HotplugEnv): Promise<HotplugResult> {
    let backend: VifBackend;
    let name: string | undefined;
    try {
      this.xs = await this.connectXenstore();
      backend = await readVifBackend(this.xs, await this.absoluteBackendPath(henv));
      name = await domainName(this.xs, backend.domid);
    } catch (err) {
      const why = `cannot read the vif's backend from xenstore: ${(err as Error).message}`;
      this.log(why);
      return this.done({ code: EXIT_CANNOT_TELL, summary: `${henv.vif}: ${why}` });
    }
    const vif = backend.vifname ?? henv.vif;
    this.vif = vif;

    const cfg = this.loadConf();
    const decision = decideLocalack(
      { devid: backend.devid, localack: backend.localack, script: henv.localackScript ?? backend.script ?? henv.script, domainName: name },
      cfg,
    );
    this.decision = decision;
    for (const w of decision.warnings) this.log(`warning: ${w}`);
    this.log(
      `domain ${name ?? `#${backend.domid}`} devid ${backend.devid}: ${decision.enabled ? 'on' : 'off'} (${decision.why})` +
        (decision.enabled ? `, profile ${decision.profile ?? '?'}, ${decision.required ? 'required' : 'not required'}` : ''),
    );

    if (!decision.enabled) {
      await this.writeStatus(backend.path, { state: 'disabled' });
      return this.done({ code: EXIT_OK, summary: `${vif}: no local acknowledgement (${decision.why})`, decision, status: { state: 'disabled' } });
    }

    let failure: string;
    if (decision.problem !== undefined) {
      failure = decision.problem;
    } else {
      try {
        const socket = this.socketPath(cfg);
        this.log(`attaching (profile ${decision.profile}) via ${socket}`);
        const info = await this.call<AttachmentInfo>(socket, {
          op: 'attach', vif, profile: decision.profile, domain: name, required: decision.required,
          // If this process gives up (deadline) or is killed (the hook's timeout)
          // before the answer, xlnet-status says "unavailable": xlnetd must not
          // keep the attachment then.
          undoIfGone: true,
        });
        const profile = info?.profile ?? decision.profile ?? 'default';
        return this.attached(backend.path, vif, profile, decision);
      } catch (err) {
        failure = this.daemonFailure(err);
        if (err instanceof ControlError && err.code === 'E_ALREADY_ATTACHED') {
          // Online run twice, or xlnetd restored the vif from its state: an
          // active attachment is what we wanted; one still draining from a
          // detach is not.
          const existing = await this.existingAttachment(this.socketPath(cfg), vif);
          if (existing?.state === 'active') {
            this.log(`xlnetd already has ${vif} attached (profile ${existing.profile}); keeping that attachment`);
            return this.attached(backend.path, vif, existing.profile, decision);
          }
        }
      }
    }

    const status: XlnetStatus = { state: 'unavailable', reason: failure };
    await this.writeStatus(backend.path, status);
    if (decision.required) {
      this.log(`required (${decision.why}): failing the vif: ${failure}`);
      return this.done({
        code: EXIT_REQUIRED_FAILED,
        summary: oneLine(`${vif}: local acknowledgement is required (${decision.why}) but ${failure}`, 400),
        decision, status,
      });
    }
    this.log(`warning: ${failure}; ${vif} comes up without local acknowledgement`);
    return this.done({
      code: EXIT_OK,
      summary: oneLine(`${vif}: running without local acknowledgement: ${failure}`, 400),
      decision, status,
    });
  }

  private async attached(path: string, vif: string, profile: string, decision: HotplugDecision): Promise<HotplugResult> {
    const status: XlnetStatus = { state: 'attached', profile };
    await this.writeStatus(path, status);
    return this.done({ code: EXIT_OK, summary: `${vif}: local acknowledgement on (profile ${profile}; ${decision.why})`, decision, status });
  }

  /** Offline never fails: the vif is already gone and libxl is tearing down. */
  private async offline(henv: HotplugEnv): Promise<HotplugResult> {
    let vif = henv.vif;
    let backendPath: string | undefined;
    let cfg: XlnetConfig | ConfigError | undefined;
    try {
      this.xs = await this.connectXenstore();
      backendPath = await this.absoluteBackendPath(henv);
      const backend = await readVifBackend(this.xs, backendPath);
      vif = backend.vifname ?? vif;
    } catch (err) {
      this.log(`cannot read the vif's backend (${(err as Error).message}); detaching ${vif} by its netback name`);
    }
    cfg = this.loadConf();
    try {
      await this.call(this.socketPath(cfg), { op: 'detach', vif, mode: 'drain' });
      this.log(`detached ${vif} (drain: flows already acknowledged finish)`);
      if (backendPath !== undefined) await this.writeStatus(backendPath, { state: 'detached' }, true);
      return this.done({ code: EXIT_OK, summary: `${vif}: local acknowledgement detached (drain)` });
    } catch (err) {
      if (err instanceof ControlError && err.code === 'E_NOT_ATTACHED') {
        return this.done({ code: EXIT_OK, summary: `${vif}: was not attached to xlnet` });
      }
      const failure = this.daemonFailure(err);
      this.log(`detach not done: ${failure}`);
      return this.done({ code: EXIT_OK, summary: oneLine(`${vif}: detach not done: ${failure}`, 400) });
    }
  }

  private async existingAttachment(socket: string, vif: string): Promise<AttachmentInfo | undefined> {
    try {
      return (await this.call<AttachmentInfo[]>(socket, { op: 'list' })).find((a) => a.vif === vif);
    } catch {
      return undefined;
    }
  }

  private daemonFailure(err: unknown): string {
    if (err instanceof ControlError) {
      if (err.code === 'E_UNREACHABLE' || err.code === 'E_TIMEOUT' || err.code === 'E_PROTOCOL') return err.message;
      return `xlnetd refused: ${err.code}: ${err.message}`;
    }
    return `xlnet failed: ${(err as Error).message}`;
  }

  private loadConf(): XlnetConfig | ConfigError {
    const file = this.opts.confPath ?? this.env.XLNET_CONF ?? DEFAULT_CONF_PATH;
    try {
      return loadXlnetConf(file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.log(`warning: ${err.message}`);
      return err;
    }
  }

  private socketPath(cfg: XlnetConfig | ConfigError): string {
    return this.opts.socket ?? this.env.XLNET_SOCKET ?? (cfg instanceof ConfigError ? DEFAULT_SOCKET : cfg.daemon.socket);
  }

  private async call<T>(socket: string, req: Parameters<ControlClient['request']>[0]): Promise<T> {
    const fallback = this.action === 'online' ? DAEMON_TIMEOUT_MS : OFFLINE_DAEMON_TIMEOUT_MS;
    this.daemon = await ControlClient.connect({ socket, timeoutMs: this.opts.daemonTimeoutMs ?? fallback });
    if (this.finished) throw new ControlError('E_TIMEOUT', 'gave up before the request was sent');
    try {
      return await this.daemon.request<T>(req);
    } finally {
      this.daemon.close();
      this.daemon = undefined;
    }
  }

  private async connectXenstore(): Promise<XenstoreClient> {
    const path = this.opts.xenstorePath ?? this.env.XENSTORED_PATH ?? (this.env.XENSTORED_RUNDIR ? `${this.env.XENSTORED_RUNDIR}/socket` : undefined);
    return XenstoreClient.connect({ path, timeoutMs: this.opts.xenstoreTimeoutMs ?? XENSTORE_TIMEOUT_MS });
  }

  /** XENBUS_PATH is relative to the backend domain's home (/local/domain/<self>). */
  private async absoluteBackendPath(henv: HotplugEnv): Promise<string> {
    if (henv.xenbusPath.startsWith('/')) return henv.xenbusPath;
    const xs = this.xs as XenstoreClient;
    // Relative reads resolve against our own domain's home; `domid` is
    // written there by xen-init-dom0 / libxl. Dom0 when it is missing.
    const self = await xs.tryRead('domid');
    const id = self !== undefined && /^\d+$/.test(self) ? self : '0';
    return `/local/domain/${id}/${henv.xenbusPath}`;
  }

  /** Best effort; `onlyIfPresent` keeps a late offline write from recreating a removed backend dir. */
  private async writeStatus(backendPath: string, status: XlnetStatus, onlyIfPresent = false): Promise<void> {
    const xs = this.xs;
    if (!xs || this.finished) return;
    const key = `${backendPath}/${XLNET_STATUS_KEY}`;
    try {
      await xs.transaction(async (tx) => {
        if (onlyIfPresent && (await xs.tryRead(backendPath, tx)) === undefined) return;
        await xs.write(key, formatXlnetStatus(status), tx);
      });
    } catch (err) {
      this.log(`warning: cannot write ${key}: ${(err as Error).message}`);
    }
  }
}
