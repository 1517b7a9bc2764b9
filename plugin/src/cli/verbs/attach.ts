// `xlnet attach`, `xlnet detach`, `xlnet set`, `xlnet reload`: the verbs that
// change what xlnetd does. Each prints one line saying what happened.
import type { AttachmentInfo, DetachMode, Request } from '../../daemon/protocol.js';
import { callDaemon } from '../daemon-call.js';
import { usageError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import type { Ctx, OptionSpec, Verb } from '../verb.js';
import { checkVifName, parseOptions } from './vif-args.js';

const PROFILE_FLAGS: Record<string, OptionSpec> = {
  profile: { type: 'string', short: 'p', value: 'NAME', doc: 'profile to use (a [profile NAME] of xlnet.conf; default: [defaults] profile)' },
  option: { type: 'string', short: 'o', value: 'KEY=VALUE', multiple: true, doc: 'override one profile setting for this vif, e.g. buffer=16m' },
};

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

export const attachVerb: Verb = {
  name: 'attach',
  summary: 'give a vif the service now (what the hotplug script does when a guest starts)',
  synopsis: ['attach VIF [--profile NAME] [--option KEY=VALUE ...] [--required]'],
  description: [
    'Steers the vif\'s new TCP connections through xlnetd. The vif must exist in Dom0 (vifDOMID.DEVID).',
  ],
  options: {
    ...PROFILE_FLAGS,
    domain: { type: 'string', value: 'NAME', doc: 'the guest\'s domain name, shown by status' },
    required: { type: 'boolean', doc: 'mark the attachment as required (as localack=required does)' },
  },
  json: true,
  daemon: true,
  args: { min: 1, max: 1 },
  async run(ctx) {
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
  },
};

export const detachVerb: Verb = {
  name: 'detach',
  summary: 'take the service off a vif (existing flows drain, or are reset)',
  synopsis: ['detach VIF [--drain | --reset]'],
  description: [
    '--drain (the default): new connections go direct at once, split ones finish normally. --reset: split connections are reset now.',
  ],
  options: {
    drain: { type: 'boolean', doc: 'let split connections finish (default)' },
    reset: { type: 'boolean', doc: 'reset split connections now' },
  },
  json: true,
  daemon: true,
  args: { min: 1, max: 1 },
  async run(ctx) {
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
  },
};

export const setVerb: Verb = {
  name: 'set',
  summary: 'change the profile or options of an attached vif (new flows use them)',
  synopsis: ['set VIF [--profile NAME] [--option KEY=VALUE ...]'],
  description: ['Existing split connections keep their settings; new ones use the new ones.'],
  options: PROFILE_FLAGS,
  json: true,
  daemon: true,
  args: { min: 1, max: 1 },
  async run(ctx) {
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
  },
};

export const reloadVerb: Verb = {
  name: 'reload',
  summary: 'make xlnetd re-read xlnet.conf (profiles; attached vifs keep running)',
  synopsis: ['reload'],
  description: ['Check the file first with: xlnet config check. xlnetd keeps its old settings if the new file has errors.'],
  options: {},
  json: true,
  daemon: true,
  args: { min: 0, max: 0 },
  async run(ctx) {
    const result = await callDaemon<unknown>(ctx, { op: 'reload' });
    return print(ctx, result, 'xlnetd reloaded its configuration');
  },
};
