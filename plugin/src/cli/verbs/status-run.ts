// What `xlnet status` does (its flags and help are in status.ts): asks
// xlnetd for its status and attachments and prints them.
import type { AttachmentInfo, StatusInfo } from '../../daemon/protocol.js';
import { connect, request } from '../daemon-call.js';
import { EXIT } from '../exit-codes.js';
import { renderAttachments, renderStatus } from '../format/daemon-views.js';
import type { Ctx } from '../verb.js';

export async function runStatus(ctx: Ctx): Promise<number> {
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
}
