// What `xlnet version` does (its help is in version.ts): this xlnet's
// version and protocol, and the running xlnetd's when it answers (not
// answering is not an error here).
import { ControlError } from '../../daemon/client.js';
import { PROTOCOL_VERSION } from '../../daemon/protocol.js';
import { connect, request } from '../daemon-call.js';
import { CliError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import type { Ctx } from '../verb.js';
import { packageVersion } from '../version-info.js';

export async function runVersion(ctx: Ctx): Promise<number> {
  let daemon: Record<string, unknown> | null = null;
  let daemonError: string | undefined;
  try {
    const { client, socket } = await connect(ctx);
    try {
      daemon = await request<Record<string, unknown>>(client, socket, { op: 'hello' }, 'version');
    } finally {
      client.close();
    }
  } catch (e) {
    if (!(e instanceof CliError || e instanceof ControlError)) throw e;
    daemonError = e.message;
  }
  const info = { xlnet: packageVersion(), protocol: PROTOCOL_VERSION, node: process.versions.node, daemon, ...(daemonError ? { daemonError } : {}) };
  if (ctx.json) {
    ctx.io.out(JSON.stringify(info, null, 2) + '\n');
  } else {
    ctx.io.out(`xlnet ${info.xlnet} (control protocol ${info.protocol}, node ${info.node})\n`);
    if (daemon) {
      const v = daemon.version ?? '?';
      const p = daemon.protocol ?? daemon.v ?? '?';
      ctx.io.out(`xlnetd ${String(v)} (control protocol ${String(p)})\n`);
    } else {
      ctx.io.out(`xlnetd: not reachable (${daemonError})\n`);
    }
  }
  return EXIT.OK;
}
