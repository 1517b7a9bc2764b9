// VifAttachment: the service attached to one guest vif (its profile and
// per-vif options), where the vif sits in Dom0, and what its steering looks
// like (steering/rules.ts renders it). Its flow counts belong to the flow
// table (flow-table.ts), which alone changes them.
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { Profile } from '../config/index.js';
import type { AttachmentSteering } from '../steering/rules.js';
import { ROUTED_SCOPE, type RouteScope } from '../steering/routes.js';
import type { Options, VifMode } from './protocol.js';
import { newVifFlowCounts, type VifFlowCounts } from './flow-table.js';

export interface VifPlacement { mode: VifMode; bridge?: string; bridgeMac?: string }

/** Where a vif sits in Dom0: enslaved to a bridge (vif-bridge) or routed (vif-route). */
export function vifPlacement(vif: string, sysfs = '/sys/class/net'): VifPlacement | undefined {
  if (!existsSync(`${sysfs}/${vif}`)) return undefined;
  const master = `${sysfs}/${vif}/master`;
  if (existsSync(master)) {
    const bridge = basename(readlinkSync(master));
    if (existsSync(`${sysfs}/${bridge}/bridge`)) {
      const mac = readFileSync(`${sysfs}/${bridge}/address`, 'utf8').trim();
      return { mode: 'bridge', bridge, bridgeMac: mac };
    }
  }
  return { mode: 'route' };
}

export class VifAttachment {
  state: 'active' | 'draining' = 'active';
  readonly attachedAt = new Date();
  readonly counts: VifFlowCounts = newVifFlowCounts();
  /** where new connections may be split to (bridged vifs: Dom0's routes through the bridge) */
  scope: RouteScope = ROUTED_SCOPE;

  constructor(
    readonly id: number,
    readonly vif: string,
    readonly placement: VifPlacement,
    public profile: Profile,
    public options: Options,
    readonly domain: string | undefined,
    readonly required: boolean,
  ) {}

  /** What names the vif's flow sets (steering/rules.ts flowElement). */
  flowSet(): { id: number; mode: VifMode } {
    return { id: this.id, mode: this.placement.mode };
  }

  steering(maxFlows: number): AttachmentSteering {
    const p = this.profile;
    return {
      id: this.id,
      vif: this.vif,
      mode: this.placement.mode,
      bridge: this.placement.bridge,
      bridgeMac: this.placement.bridgeMac,
      maxFlows,
      // The flow set forgets a flow that stayed idle longer than the profile
      // allows (plus a margin: the daemon closes it first). 0 = never: 7 days.
      flowTimeoutSec: p.idle_timeout > 0 ? p.idle_timeout + 60 : 7 * 86400,
      selector: {
        excludePorts: p.exclude_ports.map((r) => [r.from, r.to] as [number, number]),
        excludeCidrs: p.exclude_cidrs.map((c) => `${c.address}/${c.prefix}`),
      },
      scope: this.scope,
    };
  }
}
