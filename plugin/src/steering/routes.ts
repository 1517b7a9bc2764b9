// Which destinations a bridged guest's connections may be split towards.
//
// A split connection's WAN leg is Dom0's own socket, routed by Dom0's routing
// table. A guest on a bridge reaches, by itself, only what lies beyond that
// bridge; so a connection is split only towards destinations Dom0 routes out
// of the same bridge (its addresses on the bridge, the default route when it
// goes through the bridge), and never towards prefixes Dom0 routes through
// another interface (a management network on a second NIC, say). Without a
// route through the bridge nothing is split: the guest's connections stay
// end to end.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RouteScope {
  allow4: string[];
  allow6: string[];
  deny4: string[];
  deny6: string[];
}

interface IpRoute { dst: string; dev?: string; type?: string }

/** Route types that carry unicast traffic out of an interface. */
function usable(r: IpRoute): boolean {
  return r.type === undefined || r.type === 'unicast';
}

function prefix(dst: string, v6: boolean): string {
  if (dst === 'default') return v6 ? '::/0' : '0.0.0.0/0';
  return dst.includes('/') ? dst : `${dst}/${v6 ? 128 : 32}`;
}

export function scopeFromRoutes(bridge: string, v4: IpRoute[], v6: IpRoute[]): RouteScope {
  const pick = (routes: IpRoute[], isV6: boolean) => {
    const allow: string[] = [], deny: string[] = [];
    for (const r of routes) {
      if (!usable(r) || !r.dev) continue;
      // fe80::/64 exists on every interface and is never split anyway.
      if (isV6 && r.dst.startsWith('fe80:')) continue;
      if (r.dev === bridge) allow.push(prefix(r.dst, isV6));
      else if (r.dst !== 'default') deny.push(prefix(r.dst, isV6));
    }
    return { allow, deny };
  };
  const a = pick(v4, false), b = pick(v6, true);
  return { allow4: a.allow, allow6: b.allow, deny4: a.deny, deny6: b.deny };
}

/** Reads Dom0's main routing table (ip -j) and derives the bridge's scope. */
export async function routeScope(bridge: string): Promise<RouteScope> {
  const read = async (fam: string): Promise<IpRoute[]> => {
    const { stdout } = await run('ip', ['-j', fam, 'route', 'show', 'table', 'main']);
    return stdout.trim() ? JSON.parse(stdout) as IpRoute[] : [];
  };
  return scopeFromRoutes(bridge, await read('-4'), await read('-6'));
}

/** A routed vif's traffic is Dom0's to route anyway: everything is in scope. */
export const ROUTED_SCOPE: RouteScope = { allow4: ['0.0.0.0/0'], allow6: ['::/0'], deny4: [], deny6: [] };
