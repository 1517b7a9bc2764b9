// What `xlnet flows [VIF]` does (its flags and help are in flows.ts).
import type { FlowInfo } from '../../daemon/protocol.js';
import { callDaemon } from '../daemon-call.js';
import { EXIT } from '../exit-codes.js';
import { renderFlows } from '../format/daemon-views.js';
import type { Ctx } from '../verb.js';
import { checkVifName } from './vif-args.js';

export async function runFlows(ctx: Ctx): Promise<number> {
  const vif = ctx.positionals[0];
  if (vif !== undefined) checkVifName(vif, 'flows');
  const flows = await callDaemon<FlowInfo[]>(ctx, vif === undefined ? { op: 'flows' } : { op: 'flows', vif });
  if (ctx.json) ctx.io.out(JSON.stringify(flows, null, 2) + '\n');
  else if (flows.length === 0) ctx.io.out(`no split connections${vif ? ` on ${vif}` : ''}\n`);
  else ctx.io.out(renderFlows(flows));
  return EXIT.OK;
}
