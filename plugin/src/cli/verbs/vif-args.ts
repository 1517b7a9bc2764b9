// Arguments shared by the verbs that change an attachment: the vif name and
// `--option key=value` (keys of a [profile] section), checked before asking
// xlnetd so a typo is a usage error with a suggestion, not a daemon error.
import { keysOf } from '../../config/index.js';
import { isVifName, VIF_NAME_RULE } from '../../config/vif-name.js';
import { closest } from '../../config/suggest.js';
import { usageError } from '../cli-error.js';
import type { Options } from '../../daemon/protocol.js';

export function checkVifName(vif: string, verb: string): void {
  if (!isVifName(vif)) {
    throw usageError(`xlnet ${verb}: '${vif}' is not an interface name xlnet takes (${VIF_NAME_RULE}; a vif is named like vif3.0)`, verb);
  }
}

export const PROFILE_OPTION_KEYS: readonly string[] = keysOf('profile').map((k) => k.key);

export function parseOptions(given: string[] | undefined, verb: string): Options | undefined {
  if (!given || given.length === 0) return undefined;
  const out: Options = {};
  for (const kv of given) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw usageError(`xlnet ${verb}: --option ${kv}: expected KEY=VALUE, e.g. --option buffer=16m`, verb);
    const key = kv.slice(0, eq).trim();
    const value = kv.slice(eq + 1).trim();
    if (!PROFILE_OPTION_KEYS.includes(key)) {
      const near = closest(key, PROFILE_OPTION_KEYS);
      throw usageError(
        `xlnet ${verb}: --option ${kv}: unknown option '${key}'${near ? ` (did you mean ${near}?)` : ''}; options are: ${PROFILE_OPTION_KEYS.join(', ')}`,
        verb,
      );
    }
    if (key in out) throw usageError(`xlnet ${verb}: --option ${key} given twice`, verb);
    out[key] = value;
  }
  return out;
}
