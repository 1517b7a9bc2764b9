// Talking to xlnetd for a verb: finds the socket, sends requests through the
// project's one control client, and turns its errors into messages that say
// what to do, with the exit code that fits.
import { existsSync, readFileSync } from 'node:fs';
import { ControlClient, ControlError, DEFAULT_SOCKET } from '../daemon/client.js';
import type { Request } from '../daemon/protocol.js';
import { CliError, usageError } from './cli-error.js';
import { EXIT } from './exit-codes.js';
import type { Ctx } from './verb.js';

const TIMEOUT_MS = 10_000;

/** --socket, else $XLNET_SOCKET, else the config's [daemon] socket, else the default. */
export async function resolveSocket(ctx: Ctx): Promise<string> {
  const flag = ctx.values.socket as string | undefined;
  if (flag === '') throw usageError(`xlnet ${ctx.verb.name}: --socket needs a path (got an empty one)`, ctx.verb.name);
  if (flag !== undefined) return flag;
  // An empty XLNET_SOCKET counts as unset, as in the daemon's client.
  if (ctx.io.env.XLNET_SOCKET) return ctx.io.env.XLNET_SOCKET;
  return (await configuredSocket(ctx.configPath)) || DEFAULT_SOCKET;
}

async function configuredSocket(file: string): Promise<string | undefined> {
  // A broken or unreadable config must not stop `xlnet status` from asking
  // the daemon; `xlnet config check` is where its errors are reported.
  if (!existsSync(file)) return undefined;
  // Loaded only when there is a file to read: without one, status and
  // version start without the config module.
  const { checkXlnetConf } = await import('../config/index.js');
  try {
    return checkXlnetConf(readFileSync(file, 'utf8'), file).config?.daemon.socket;
  } catch {
    return undefined;
  }
}

const HINTS: Partial<Record<string, string>> = {
  E_NO_VIF: 'list the vifs of running guests with: ip -br link show type vif (or xl network-list DOMAIN)',
  E_NOT_ATTACHED: 'see what is attached with: xlnet status',
  E_ALREADY_ATTACHED: 'change it with: xlnet set VIF --profile P, or detach it first: xlnet detach VIF',
  E_UNKNOWN_PROFILE: 'profiles are [profile NAME] sections of xlnet.conf; list them with: xlnet status',
  E_BAD_OPTION: 'options are the keys of a [profile] section; see: man xlnet (PROFILE OPTIONS)',
  E_STEERING: 'see xlnetd\'s log (journalctl -u xlnetd) and check nftables with: xlnet setup --dry-run',
  E_LIMIT: 'see what is attached and running with: xlnet status, xlnet flows',
  E_INTERNAL: 'this is a bug in xlnetd; its log has the details (journalctl -u xlnetd)',
};

const INCOMPATIBLE = new Set(['E_VERSION', 'E_PROTOCOL', 'E_PARSE', 'E_UNKNOWN_OP']);

export function controlErrorToCli(e: ControlError, socket: string, what: string): CliError {
  if (e.code === 'E_UNREACHABLE' || e.code === 'E_TIMEOUT') {
    return new CliError(
      EXIT.UNREACHABLE,
      e.message.includes(socket) ? e.message : `${e.message} (socket ${socket})`,
      'start it with: systemctl start xlnetd (or run xlnetd --config FILE); another socket: --socket PATH or XLNET_SOCKET',
    );
  }
  if (INCOMPATIBLE.has(e.code)) {
    return new CliError(EXIT.INCOMPATIBLE, `${what}: xlnetd at ${socket} does not understand this xlnet: ${e.message} (${e.code})`,
      'xlnet and xlnetd come from the same package: install the same version of both and restart xlnetd');
  }
  return new CliError(EXIT.FAILED, `${what}: ${e.message} (${e.code})`, HINTS[e.code]);
}

/** A connection for several requests (status, top); errors become CliErrors. */
export async function connect(ctx: Ctx): Promise<{ client: ControlClient; socket: string }> {
  const socket = await resolveSocket(ctx);
  try {
    return { client: await ControlClient.connect({ socket, timeoutMs: TIMEOUT_MS }), socket };
  } catch (e) {
    if (e instanceof ControlError) throw controlErrorToCli(e, socket, ctx.verb.name);
    throw e;
  }
}

export async function request<T>(client: ControlClient, socket: string, req: Request, what: string): Promise<T> {
  try {
    return await client.request<T>(req);
  } catch (e) {
    if (e instanceof ControlError) throw controlErrorToCli(e, socket, what);
    throw e;
  }
}

/** Connects, sends one request, closes. */
export async function callDaemon<T>(ctx: Ctx, req: Request, what: string = ctx.verb.name): Promise<T> {
  const { client, socket } = await connect(ctx);
  try {
    return await request<T>(client, socket, req, what);
  } finally {
    client.close();
  }
}
