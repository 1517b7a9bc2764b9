// Dom0's routing as xlnetd depends on it, and the watch that follows it:
//  - the policy routes that deliver diverted (marked) packets locally;
//  - Dom0's own addresses, which no guest connection is ever split towards
//    (they join the steering's never-split sets, and the accept-time check);
//  - the route scope of bridged attachments (steering/routes.ts): what a
//    bridged guest may be split towards follows Dom0's routes.
// Changes are found by polling every WATCH_INTERVAL_MS; a netlink watch of
// routes, addresses and links belongs here too.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { NftSession } from '../steering/nft-session.js';
import { MARK_BASE, MARK_MASK, ROUTE_TABLE, RULE_PRIORITY, localAddressRules } from '../steering/rules.js';
import { routeScope, type RouteScope } from '../steering/routes.js';
import { localAddresses } from '../service/policy.js';
import type { VifAttachment } from './attachment.js';
import type { Logger } from './log.js';

const run = promisify(execFile);
const WATCH_INTERVAL_MS = 5000;

/** What the watch needs from the attachments: the bridged ones, and a way to give one a new scope. */
export interface ScopedAttachments {
  all(): Iterable<VifAttachment>;
  rescope(att: VifAttachment, scope: RouteScope): Promise<void>;
}

export class Routing {
  /** Dom0's own addresses (all of them, loopback included), for the accept-time check */
  local = new Set<string>();
  /** set once this instance owns the policy routes (a refused second instance must not remove the first's) */
  private installed = false;
  private timer?: NodeJS.Timeout;

  constructor(private readonly nft: NftSession, private readonly log: Logger) {}

  /** Families the policy routes are for: IPv6 only when Dom0's loopback has it. */
  private families: Array<'-4' | '-6'> = ['-4', '-6'];

  /**
   * The policy routes: diverted packets (marked) are delivered locally; but
   * Dom0's own packets on the split connections carry the SYN's mark too
   * (tcp_fwmark_accept), and those must be routed normally, hence the
   * higher-priority `iif lo` rule.
   */
  private rules(): string[][] {
    const mark = `0x${MARK_BASE.toString(16)}/0x${MARK_MASK.toString(16)}`;
    return [
      ['iif', 'lo', 'fwmark', mark, 'lookup', 'main', 'priority', String(RULE_PRIORITY - 1)],
      ['fwmark', mark, 'lookup', String(ROUTE_TABLE), 'priority', String(RULE_PRIORITY)],
    ];
  }

  /** Whether a family's policy routes are there, each rule once (left by a previous xlnetd whose flows were kept). */
  private async present(fam: string): Promise<boolean> {
    const shown = await run('ip', [fam, 'rule', 'show']).then((r) => r.stdout, () => '');
    const table = await run('ip', [fam, 'route', 'show', 'table', String(ROUTE_TABLE)]).then((r) => r.stdout, () => '');
    const once = (prio: string) => shown.split('\n').filter((l) => l.startsWith(`${prio}:`)).length === 1;
    return once(String(RULE_PRIORITY - 1)) && once(String(RULE_PRIORITY)) && /^local /m.test(table);
  }

  private async policyRoutes(action: 'add' | 'del'): Promise<void> {
    const rules = this.rules();
    for (const fam of ['-4', '-6']) {
      const wanted = action === 'add' && this.families.includes(fam as '-4');
      // Taken over as they are: the kept flows' packets must not lose their route for a moment.
      if (wanted && await this.present(fam)) continue;
      // Remove leftovers of a crashed run first, so each rule exists once.
      for (const r of rules) {
        for (let i = 0; i < 10; i++) {
          const ok = await run('ip', [fam, 'rule', 'del', ...r]).catch(() => undefined);
          if (!ok) break;
        }
      }
      await run('ip', [fam, 'route', 'flush', 'table', String(ROUTE_TABLE)]).catch(() => undefined);
      if (wanted) {
        for (const r of rules) await run('ip', [fam, 'rule', 'add', ...r]);
        await run('ip', [fam, 'route', 'add', 'local', fam === '-4' ? '0.0.0.0/0' : '::/0', 'dev', 'lo', 'table', String(ROUTE_TABLE)]);
      }
    }
  }

  /** `ipv6` false: Dom0's loopback has no IPv6, only IPv4 is routed. */
  async install(ipv6 = true): Promise<void> {
    this.families = ipv6 ? ['-4', '-6'] : ['-4'];
    await this.refreshLocalAddresses();
    this.installed = true;
    await this.policyRoutes('add');
  }

  /** The commands that remove the policy routes (what the keeper runs when it lets the last kept flow go). */
  removeCommands(): string[][] {
    const out: string[][] = [];
    for (const fam of this.families) {
      for (const r of this.rules()) out.push(['ip', fam, 'rule', 'del', ...r]);
      out.push(['ip', fam, 'route', 'flush', 'table', String(ROUTE_TABLE)]);
    }
    return out;
  }

  /** Starts following Dom0's addresses and routes. */
  watch(attachments: ScopedAttachments): void {
    this.timer = setInterval(() => {
      this.refreshLocalAddresses().catch((e) => this.log.warn(`local addresses: ${e.message}`));
      this.refreshScopes(attachments).catch((e) => this.log.warn(`route scope: ${e.message}`));
    }, WATCH_INTERVAL_MS);
  }

  unwatch(): void { clearInterval(this.timer); }

  /** Removes the policy routes (when this instance installed them). */
  async remove(): Promise<void> {
    this.unwatch();
    if (this.installed) await this.policyRoutes('del').catch(() => undefined);
  }

  private async refreshLocalAddresses(): Promise<void> {
    const now = localAddresses().filter((a) => !a.startsWith('127.') && a !== '::1');
    const fresh = now.filter((a) => !this.local.has(a));
    this.local = new Set(localAddresses());
    if (fresh.length && this.nft.alive) await this.nft.runAll(localAddressRules(fresh));
  }

  /** Follows Dom0's routes: what a bridged guest may be split towards (steering/routes.ts). */
  private async refreshScopes(attachments: ScopedAttachments): Promise<void> {
    for (const att of attachments.all()) {
      if (att.placement.mode !== 'bridge' || att.state !== 'active' || !this.nft.alive) continue;
      const sc = await routeScope(att.placement.bridge!);
      if (JSON.stringify(sc) === JSON.stringify(att.scope)) continue;
      await attachments.rescope(att, sc);
      this.log.info(`${att.vif}: Dom0's routes changed; split towards ${[...sc.allow4, ...sc.allow6].join(' ') || 'nothing'}${sc.deny4.length + sc.deny6.length ? ` except ${[...sc.deny4, ...sc.deny6].join(' ')}` : ''}`);
    }
  }
}
