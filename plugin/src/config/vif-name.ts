// The interface names xlnet takes for a vif, in the CLI and in xlnetd alike.
// Linux takes 1-15 bytes (IFNAMSIZ - 1), not '.' or '..', without '/', ':'
// or whitespace (dev_valid_name in net/core/dev.c). xlnet narrows that to
// letters, digits, '.', '-' and '_', because the name is written into
// nftables rules ("vif3.0" : jump ...) and sysfs paths unescaped. Xen's own
// names (vif<domid>.<devid>, vif<domid>.<devid>-emu) fit, and so do the usual
// vifname= choices.
export const MAX_IFNAME_BYTES = 15;
export const VIF_NAME_RULE = "1-15 letters, digits, '.', '-' or '_'";

export function isVifName(name: string): boolean {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(name) && name !== '.' && name !== '..';
}
