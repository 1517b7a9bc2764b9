// What `xlnet top` does (its flags and help are in top.ts): a live view of
// xlnetd (summary, attached vifs, busiest flows), redrawn every second on a
// terminal; q or Ctrl-C quits. Not on a terminal (or with --json) it prints
// one snapshot, like `top -b -n 1`.
import type { AttachmentInfo, FlowInfo, StatusInfo } from '../../daemon/protocol.js';
import type { ControlClient } from '../../daemon/client.js';
import { connect, request } from '../daemon-call.js';
import { usageError } from '../cli-error.js';
import { EXIT } from '../exit-codes.js';
import { renderAttachments, renderFlows } from '../format/daemon-views.js';
import { formatBytes, formatRate, formatUptime } from '../format/units.js';
import type { Ctx } from '../verb.js';

interface Snapshot {
  status: StatusInfo;
  attachments: AttachmentInfo[];
  flows: FlowInfo[];
}

async function snapshot(client: ControlClient, socket: string): Promise<Snapshot> {
  const status = await request<StatusInfo>(client, socket, { op: 'status' }, 'top');
  const attachments = await request<AttachmentInfo[]>(client, socket, { op: 'list' }, 'top');
  const flows = await request<FlowInfo[]>(client, socket, { op: 'flows' }, 'top');
  // Busiest first: that is what a live view is for.
  flows.sort((a, b) => b.rateUpBps + b.rateDownBps - (a.rateUpBps + a.rateDownBps) || a.id - b.id);
  return { status, attachments, flows };
}

/** The screen, at most `rows` lines of at most `cols` characters (0: unlimited). */
export function renderTop(s: Snapshot, socket: string, cols: number, rows: number): string {
  const up = s.flows.reduce((n, f) => n + f.rateUpBps, 0);
  const down = s.flows.reduce((n, f) => n + f.rateDownBps, 0);
  const head = [
    `xlnetd ${s.status.version} pid ${s.status.pid} up ${formatUptime(s.status.uptimeSec)}  socket ${socket}`,
    `vifs ${s.status.attachments}  flows ${s.status.flows} open, ${s.status.flowsTotal} total  ` +
      `rate up ${formatRate(up)}, down ${formatRate(down)}  bytes up ${formatBytes(s.status.bytesUp)}, down ${formatBytes(s.status.bytesDown)}`,
    '',
  ];
  const vifs = renderAttachments(s.attachments, cols).trimEnd().split('\n');
  const flows = s.flows.length ? renderFlows(s.flows, cols).trimEnd().split('\n') : ['no split connections'];
  let lines = [...head, ...vifs, '', ...flows];
  if (rows > 0 && lines.length > rows - 1) {
    const hidden = lines.length - (rows - 2);
    lines = [...lines.slice(0, rows - 2), `... ${hidden} more lines (make the terminal taller)`];
  }
  const cut = (l: string): string => (cols > 0 && l.length > cols ? l.slice(0, cols) : l);
  return lines.map(cut).join('\n') + '\n';
}

export async function runTop(ctx: Ctx): Promise<number> {
  const raw = (ctx.values.interval as string | undefined) ?? '1';
  const interval = Number(raw);
  if (!Number.isFinite(interval) || interval < 0.1 || interval > 3600) {
    throw usageError(`xlnet top: --interval ${raw}: expected seconds between 0.1 and 3600`, 'top');
  }
  const { client, socket } = await connect(ctx);
  try {
    const first = await snapshot(client, socket);
    if (ctx.json) {
      ctx.io.out(JSON.stringify({ socket, daemon: first.status, attachments: first.attachments, flows: first.flows }, null, 2) + '\n');
      return EXIT.OK;
    }
    if (!ctx.io.stdoutTty || !ctx.io.stdinTty) {
      ctx.io.out(renderTop(first, socket, 0, 0));
      return EXIT.OK;
    }
    return await live(ctx, client, socket, first, interval * 1000);
  } finally {
    client.close();
  }
}

async function live(ctx: Ctx, client: ControlClient, socket: string, first: Snapshot, intervalMs: number): Promise<number> {
  const { io } = ctx;
  const stdin = io.stdin as NodeJS.ReadStream;
  // Alternate screen and hidden cursor, restored on every way out.
  io.out('\x1b[?1049h\x1b[?25l');
  let stop: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => { stop = resolve; });
  const onKey = (d: Buffer): void => {
    const k = d.toString('utf8');
    if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x1b') stop();
  };
  const onSignal = (): void => stop();
  stdin.setRawMode?.(true);
  stdin.on('data', onKey);
  stdin.resume();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let failure: Error | undefined;
  try {
    const draw = (s: Snapshot, note = ''): void => {
      io.out(`\x1b[H\x1b[2J${renderTop(s, socket, io.columns, io.rows)}${note}`);
    };
    draw(first);
    for (;;) {
      const tick = new Promise<'tick'>((r) => setTimeout(() => r('tick'), intervalMs).unref());
      if ((await Promise.race([tick, stopped.then(() => 'stop' as const)])) === 'stop') break;
      try {
        draw(await snapshot(client, socket));
      } catch (e) {
        // The daemon went away: say so on the last picture and quit with its code.
        failure = e as Error;
        break;
      }
    }
  } finally {
    stdin.off('data', onKey);
    stdin.setRawMode?.(false);
    stdin.pause();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    io.out('\x1b[?25h\x1b[?1049l');
  }
  if (failure) throw failure;
  return EXIT.OK;
}
