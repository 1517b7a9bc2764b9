// A profile as an attachment runs it: a [profile] of xlnet.conf with the
// attachment's own options (`--option key=value`) applied on top, each
// checked against the profile keys of config/schema.ts.
import { keySpec, type Profile, type XlnetConfig } from '../config/index.js';
import { parseValue } from '../config/values.js';
import { didYouMean } from '../config/suggest.js';
import { RequestError } from './request-error.js';
import type { Options } from './protocol.js';

export function profileFor(config: XlnetConfig, name: string | undefined, options: Options | undefined): Profile {
  const pname = name ?? config.defaults.profile;
  const base = config.profiles.get(pname);
  if (!base) {
    throw new RequestError('E_UNKNOWN_PROFILE', `unknown profile '${pname}' (known: ${[...config.profiles.keys()].join(', ')})`);
  }
  const p: Profile = { ...base };
  for (const [k, v] of Object.entries(options ?? {})) {
    const spec = keySpec('profile', k);
    if (!spec) {
      const keys = profileKeys(config);
      throw new RequestError('E_BAD_OPTION', `unknown option '${k}'${didYouMean(k, keys)} (profile keys: ${keys.join(', ')})`);
    }
    if (typeof v !== 'string') throw new RequestError('E_BAD_OPTION', `option '${k}' must be a string value`);
    try {
      (p as Record<string, unknown>)[k] = parseValue(spec, v);
    } catch (e) {
      throw new RequestError('E_BAD_OPTION', `option ${k}=${v}: ${(e as Error).message}${spec.allowed ? ` (allowed: ${spec.allowed})` : ''}`);
    }
  }
  return p;
}

function profileKeys(config: XlnetConfig): string[] {
  return Object.keys(config.profiles.get('default') ?? {}).filter((k) => k !== 'name');
}
