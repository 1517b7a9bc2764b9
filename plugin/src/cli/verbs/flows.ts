// `xlnet flows [VIF]`: the split connections, one line each.
import type { FlowInfo } from '../../daemon/protocol.js';
import { callDaemon } from '../daemon-call.js';
import { EXIT } from '../exit-codes.js';
import { renderFlows } from '../format/daemon-views.js';
import type { Verb } from '../verb.js';
import { checkVifName } from './vif-args.js';

export const flowsVerb: Verb = {
  name: 'flows',
  summary: 'list the split connections (all, or of one vif)',
  synopsis: ['flows [VIF] [--json]'],
  description: [
    'One line per split connection: the guest\'s and the remote end, state, age, bytes each way and current rates.',
    'JSON: an array of {id, vif, guest, remote, wanLocal, state, ageMs, bytesUp, bytesDown, rateUpBps, rateDownBps, engine}.',
  ],
  options: {},
  json: true,
  daemon: true,
  args: { min: 0, max: 1 },
  async run(ctx) {
    const vif = ctx.positionals[0];
    if (vif !== undefined) checkVifName(vif, 'flows');
    const flows = await callDaemon<FlowInfo[]>(ctx, vif === undefined ? { op: 'flows' } : { op: 'flows', vif });
    if (ctx.json) ctx.io.out(JSON.stringify(flows, null, 2) + '\n');
    else if (flows.length === 0) ctx.io.out(`no split connections${vif ? ` on ${vif}` : ''}\n`);
    else ctx.io.out(renderFlows(flows));
    return EXIT.OK;
  },
};
