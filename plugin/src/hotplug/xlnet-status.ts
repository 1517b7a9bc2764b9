// The `xlnet-status` key xlnet writes into a vif's backend directory, so an
// operator can see with `xenstore-read` what became of the vif:
//   attached:<profile>      the service is on for this vif
//   unavailable:<reason>    the vif asked for it but runs unsplit (or failed, if required)
//   disabled                xlnet looked at the vif and it does not ask for the service
//   detached                offline: the attachment was removed (drain)
// The backend directory belongs to the backend domain (Dom0), so writing
// there needs no permissions the hotplug script does not already have.

export const XLNET_STATUS_KEY = 'xlnet-status';

/** Longest reason kept: xenstore values are small and this is for one line of output. */
const REASON_MAX = 200;

export type XlnetStatus =
  | { state: 'attached'; profile: string }
  | { state: 'unavailable'; reason: string }
  | { state: 'disabled' }
  | { state: 'detached' };

/** One line, no control characters, at most REASON_MAX characters. */
export function oneLine(text: string, max = REASON_MAX): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 3)}...`;
}

export function formatXlnetStatus(s: XlnetStatus): string {
  switch (s.state) {
    case 'attached':
      return `attached:${s.profile}`;
    case 'unavailable':
      return `unavailable:${oneLine(s.reason)}`;
    case 'disabled':
    case 'detached':
      return s.state;
  }
}

export function parseXlnetStatus(value: string | undefined): XlnetStatus | undefined {
  if (value === undefined) return undefined;
  if (value === 'disabled' || value === 'detached') return { state: value };
  if (value.startsWith('attached:')) return { state: 'attached', profile: value.slice('attached:'.length) };
  if (value.startsWith('unavailable:')) return { state: 'unavailable', reason: value.slice('unavailable:'.length) };
  return undefined;
}
