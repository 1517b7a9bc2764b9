// Exit codes of `xlnet`, one meaning each, so scripts can tell a refused
// request from a daemon that is not running. Documented in `xlnet help`,
// man/xlnet.8 and checked by the tests.
export const EXIT = {
  /** Done, or nothing needed doing. */
  OK: 0,
  /** The operation failed: xlnetd refused it, a check found errors, a write failed. */
  FAILED: 1,
  /** Bad command line: unknown verb or flag, missing or extra argument. */
  USAGE: 2,
  /** xlnetd is not reachable (no socket, refused, permission, no answer in time). */
  UNREACHABLE: 3,
  /** Not permitted: the operation needs root. */
  PERMISSION: 4,
  /** xlnetd answered, but speaks another protocol version or sent garbage. */
  INCOMPATIBLE: 5,
  /** Interrupted by the user (Ctrl-C in a prompt). */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_DOCS: readonly (readonly [number, string])[] = [
  [EXIT.OK, 'success (also: nothing to change)'],
  [EXIT.FAILED, 'the operation failed: xlnetd refused it, a check found errors, a write failed'],
  [EXIT.USAGE, 'usage error: unknown verb or flag, missing or extra argument'],
  [EXIT.UNREACHABLE, 'xlnetd unreachable: no socket, connection refused, permission denied or no answer'],
  [EXIT.PERMISSION, 'needs root'],
  [EXIT.INCOMPATIBLE, 'xlnetd speaks another protocol version (update xlnet or xlnetd)'],
  [EXIT.INTERRUPTED, 'interrupted (Ctrl-C)'],
];
