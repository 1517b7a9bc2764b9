// `xlnet status`: is xlnetd up, what is attached, how much went through.
import type { AttachmentInfo, StatusInfo } from '../../daemon/protocol.js';
import { connect, request } from '../daemon-call.js';
import { EXIT } from '../exit-codes.js';
import { renderAttachments, renderStatus } from '../format/daemon-views.js';
import type { Verb } from '../verb.js';

export const statusVerb: Verb = {
  name: 'status',
  summary: 'xlnetd\'s health, the attached vifs with their profiles, flow counts and bytes',
  synopsis: ['status [--json]'],
  description: [
    'Asks xlnetd for its status and the list of attached vifs. Exit code 3 when xlnetd cannot be reached.',
    'JSON: {"socket": PATH, "daemon": {version, pid, uptimeSec, flows, ...}, "attachments": [{vif, profile, state, flows, bytesUp, ...}]}',
  ],
  options: {},
  json: true,
  daemon: true,
  args: { min: 0, max: 0 },
  async run(ctx) {
    const { client, socket } = await connect(ctx);
    try {
      const status = await request<StatusInfo>(client, socket, { op: 'status' }, 'status');
      const attachments = await request<AttachmentInfo[]>(client, socket, { op: 'list' }, 'status');
      if (ctx.json) {
        ctx.io.out(JSON.stringify({ socket, daemon: status, attachments }, null, 2) + '\n');
      } else {
        ctx.io.out(renderStatus(status, socket) + '\n' + renderAttachments(attachments));
      }
      return EXIT.OK;
    } finally {
      client.close();
    }
  },
};
