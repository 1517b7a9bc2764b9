// The destinations no guest connection is ever split towards, whatever a
// profile says: unspecified, loopback, link-local and multicast addresses, and
// IPv4-mapped IPv6 (a guest reaches none of them through Dom0 by itself).
// Dom0's own addresses join them at run time. The steering's never-split sets
// (steering/rules.ts) and the accept-time check (service/policy.ts) both read
// this one list.
export const NEVER_SPLIT_V4: readonly string[] = ['0.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16', '224.0.0.0/3'];
export const NEVER_SPLIT_V6: readonly string[] = ['::/127', '::ffff:0:0/96', 'fe80::/10', 'ff00::/8'];
