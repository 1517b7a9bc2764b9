// What `xlnet attach`, `detach`, `set` and `reload` do (their flags and help
// are in attach.ts): each sends xlnetd one request and prints one line
// saying what happened.
import type { AttachmentInfo, DetachMode, Request } from '../../daemon/protocol.js';
import { callDaemon } from '../daemon-call.js';
import { usageError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import type { Ctx } from '../verb.js';
import { checkVifName, parseOptions } from './vif-args.js';

function describe(result: unknown, fallback: { vif: string; profile?: string }): string {
  const a = (result ?? {}) as Partial<AttachmentInfo>;
  const profile = a.profile ?? fallback.profile;
  const opts = Object.entries(a.options ?? {}).map(([k, v]) => `${k}=${v}`);
  return `${a.vif ?? fallback.vif}${profile ? ` (profile ${profile}${opts.length ? `, ${opts.join(' ')}` : ''})` : ''}`;
}

function print(ctx: Ctx, result: unknown, line: string): number {
  ctx.io.out(ctx.json ? JSON.stringify(result ?? null, null, 2) + '\n' : line + '\n');
  return EXIT.OK;
}

export async function runAttach(ctx: Ctx): Promise<number> {
  const vif = ctx.positionals[0];
  checkVifName(vif, 'attach');
  const req: Request = { op: 'attach', vif };
  const profile = ctx.values.profile as string | undefined;
  const options = parseOptions(ctx.values.option as string[] | undefined, 'attach');
  if (profile !== undefined) req.profile = profile;
  if (options) req.options = options;
  if (ctx.values.domain !== undefined) req.domain = ctx.values.domain as string;
  if (ctx.values.required) req.required = true;
  const result = await callDaemon<AttachmentInfo>(ctx, req, `attach ${vif}`);
  return print(ctx, result, `attached ${describe(result, { vif, profile })}`);
}

export async function runDetach(ctx: Ctx): Promise<number> {
  const vif = ctx.positionals[0];
  checkVifName(vif, 'detach');
  if (ctx.values.drain && ctx.values.reset) throw usageError('xlnet detach: --drain and --reset exclude each other', 'detach');
  const mode: DetachMode = ctx.values.reset ? 'reset' : 'drain';
  const result = await callDaemon<unknown>(ctx, { op: 'detach', vif, mode }, `detach ${vif}`);
  const flows = (result as Partial<AttachmentInfo> | null)?.flows;
  const tail = mode === 'reset' ? 'split connections reset'
    : flows === undefined ? 'draining'
    : flows === 0 ? 'no split connections to drain'
    : `${flows} split connection${flows > 1 ? 's' : ''} draining`;
  return print(ctx, result, `detached ${vif} (${tail})`);
}

export async function runSet(ctx: Ctx): Promise<number> {
  const vif = ctx.positionals[0];
  checkVifName(vif, 'set');
  const profile = ctx.values.profile as string | undefined;
  const options = parseOptions(ctx.values.option as string[] | undefined, 'set');
  if (profile === undefined && !options) {
    throw usageError('xlnet set: nothing to change: give --profile NAME and/or --option KEY=VALUE', 'set');
  }
  const req: Request = { op: 'set', vif };
  if (profile !== undefined) req.profile = profile;
  if (options) req.options = options;
  const result = await callDaemon<AttachmentInfo>(ctx, req, `set ${vif}`);
  return print(ctx, result, `updated ${describe(result, { vif, profile })}`);
}

export async function runReload(ctx: Ctx): Promise<number> {
  const result = await callDaemon<unknown>(ctx, { op: 'reload' });
  return print(ctx, result, 'xlnetd reloaded its configuration');
}
