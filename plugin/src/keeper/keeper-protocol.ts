// The keeper's requests (keeper.ts). One client (xlnetd) at a time; fds are
// numbers in the sender's process, copied by the receiver with pidfd_getfd(2).

export interface HeldItem {
  /** 'listener/4', 'listener/6', 'flow/<id>/guest', 'flow/<id>/wan' */
  name: string;
  fd: number;
  /** what xlnetd needs to take the item over again (a flow's endpoints, profile, counters) */
  meta?: unknown;
}

export interface KeeperCleanup {
  /** commands run when the keeper gives up (e.g. `ip rule del ...`) */
  argv: string[][];
  /** files written when the keeper gives up (sysctls given their previous value back) */
  files: Array<{ path: string; value: string }>;
}

export type KeeperRequest =
  | { op: 'hello' }
  | { op: 'nft' }
  | { op: 'keep'; items: HeldItem[] }
  | { op: 'drop'; names: string[] }
  | { op: 'meta'; name: string; meta: unknown }
  /** nft commands the keeper runs if xlnetd goes without 'bye' (stop diverting new connections) */
  | { op: 'on-exit'; nft: string[] }
  | { op: 'cleanup'; cleanup: KeeperCleanup }
  /** xlnetd leaves: with handover the keeper waits for the next one, else it gives up now */
  | { op: 'bye'; handover: boolean };

export interface HelloResult {
  pid: number;
  held: HeldItem[];
  /** the nft session's pipe ends in the keeper, when one runs */
  nft: { stdin: number; stderr: number } | null;
}
