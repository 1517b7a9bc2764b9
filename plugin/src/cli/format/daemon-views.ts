// Human views of what xlnetd reports (status, attachments, flows), shared by
// `xlnet status`, `xlnet flows` and `xlnet top`.
import type { AttachmentInfo, FlowInfo, StatusInfo } from '../../daemon/protocol.js';
import { renderFields, renderTable, type Column } from './table.js';
import { formatAge, formatBytes, formatRate, formatUptime } from './units.js';

export function renderStatus(s: StatusInfo, socket: string): string {
  return (
    `xlnetd ${s.version} running (pid ${s.pid}, up ${formatUptime(s.uptimeSec)}, protocol ${s.protocol})\n` +
    renderFields([
      ['socket', socket],
      ['config', s.configFile],
      ['listener', `port ${s.listenPort}`],
      ['vifs', `${s.attachments} attached`],
      ['flows', `${s.flows} open, ${s.flowsTotal} since start`],
      ['traffic', `up ${formatBytes(s.bytesUp)}, down ${formatBytes(s.bytesDown)}`],
      ['memory', `rss ${formatBytes(s.memory.rss)}, heap ${formatBytes(s.memory.heapUsed)}, relay buffers ${formatBytes(s.memory.bufferedBytes)}`],
      ['profiles', s.profiles.join(', ')],
      ...(s.datapath ? [['datapath', datapathText(s.datapath)] as [string, string]] : []),
    ]).trimEnd().replace(/^/gm, '  ') + '\n'
  );
}

function datapathText(d: NonNullable<StatusInfo['datapath']>): string {
  const state = d.state === 'loaded' ? `BPF loaded${d.cgroup ? ` (cgroup ${d.cgroup})` : ''}`
    : d.state === 'off' ? 'off' : `unavailable: ${d.reason ?? 'unknown'} (no WAN-leg tuning or kernel counters)`;
  return `${state}; relay engine for auto: ${d.autoEngine}`;
}

const ATTACHMENT_COLUMNS: Column[] = [
  { header: 'VIF' }, { header: 'DOMAIN' }, { header: 'MODE' }, { header: 'BRIDGE' }, { header: 'PROFILE' },
  { header: 'STATE' }, { header: 'FLOWS', align: 'right' }, { header: 'TOTAL', align: 'right' },
  { header: 'REFUSED', align: 'right' }, { header: 'UP', align: 'right' }, { header: 'DOWN', align: 'right' },
];

function profileText(a: AttachmentInfo): string {
  const n = Object.keys(a.options ?? {}).length;
  return n ? `${a.profile} +${n} option${n > 1 ? 's' : ''}` : a.profile;
}

export function renderAttachments(list: readonly AttachmentInfo[], maxWidth = 0): string {
  if (list.length === 0) {
    return 'no vifs attached (a guest\'s vif is attached when it comes up; check a guest with: xlnet check GUEST.cfg)\n';
  }
  return renderTable(ATTACHMENT_COLUMNS, list.map((a) => [
    a.vif, a.domain ?? '-', a.mode, a.bridge ?? '-', profileText(a), a.state,
    String(a.flows), String(a.flowsTotal), String(a.flowsRefused), formatBytes(a.bytesUp), formatBytes(a.bytesDown),
  ]), maxWidth);
}

const FLOW_COLUMNS: Column[] = [
  { header: 'ID', align: 'right' }, { header: 'VIF' }, { header: 'GUEST' }, { header: 'REMOTE' }, { header: 'STATE' },
  { header: 'AGE', align: 'right' }, { header: 'UP', align: 'right' }, { header: 'DOWN', align: 'right' },
  { header: 'RATE UP', align: 'right' }, { header: 'RATE DOWN', align: 'right' }, { header: 'ENGINE' },
];

export function renderFlows(flows: readonly FlowInfo[], maxWidth = 0): string {
  return renderTable(FLOW_COLUMNS, flows.map((f) => [
    String(f.id), f.vif, f.guest, f.remote, f.state, formatAge(f.ageMs),
    formatBytes(f.bytesUp), formatBytes(f.bytesDown), formatRate(f.rateUpBps), formatRate(f.rateDownBps), f.engine,
  ]), maxWidth);
}
