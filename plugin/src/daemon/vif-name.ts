// The vif names xlnetd accepts.
import { RequestError } from './request-error.js';

/** Linux interface names: 1-15 bytes, no '/', no whitespace, not '.' or '..'. */
export function checkVifName(vif: string): void {
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(vif) || vif === '.' || vif === '..') {
    throw new RequestError('E_BAD_REQUEST', `'${vif}' is not a network interface name (1-15 letters, digits, '.', '-', '_', ':')`);
  }
}
