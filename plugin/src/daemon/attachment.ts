// VifAttachment: the service chain attached to one guest vif. The chain is
// ordered; today it holds the flow selector (which connections are split) and
// local acknowledgement (how they are terminated and relayed), and more
// services can be arranged next to them later.
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';
import type { Profile } from '../config/index.js';
import type { AttachmentSteering } from '../steering/rules.js';
import { ROUTED_SCOPE, type RouteScope } from '../steering/routes.js';
import type { Options, VifMode } from './protocol.js';

export interface ChainElement {
  service: 'selector' | 'localack';
  settings: Record<string, unknown>;
}

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
  flows = 0;
  flowsTotal = 0;
  flowsRefused = 0;
  bytesUp = 0;
  bytesDown = 0;
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

  /** The ordered service chain of this vif. */
  chain(): ChainElement[] {
    return [
      { service: 'selector', settings: { exclude_ports: this.profile.exclude_ports, exclude_cidrs: this.profile.exclude_cidrs } },
      { service: 'localack', settings: { profile: this.profile.name, engine: this.profile.engine } },
    ];
  }

  steering(maxFlows: number): AttachmentSteering {
    const p = this.profile;
    return {
      id: this.id,
      vif: this.vif,
      mode: this.placement.mode,
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
