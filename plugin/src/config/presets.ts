// Profile presets for typical long or lossy paths. They are not built in
// (only `default` is): the template ships them as ready [profile] sections
// and the setup wizard offers them. Each value carries its reasoning, which
// the template prints above it.
import type { ProfileKey } from './schema.js';

export interface ProfilePreset {
  name: string;
  /** One line: what path this is for. */
  summary: string;
  /** Why these values, printed above the [profile NAME] header. */
  why: readonly string[];
  /** Key -> value as written in the ini file, differences from `default`. */
  settings: Readonly<Partial<Record<ProfileKey, string>>>;
  /** Key -> one-line reason, printed above the key. */
  notes: Readonly<Partial<Record<ProfileKey, string>>>;
}

// Arithmetic conventions: 1 MiB = 1048576 bytes, rates in decimal bits, the
// default Linux autotuning ceiling is net.ipv4.tcp_wmem max = 4 MiB.
export const PROFILE_PRESETS: readonly ProfilePreset[] = [
  {
    name: 'satellite',
    summary: 'Geostationary satellite: ~600 ms RTT, up to ~500 Mbit/s',
    why: [
      'GEO is 35786 km up: ground-satellite-ground twice is >= 477 ms, ~600 ms with',
      'ground segments. BDP at 500 Mbit/s: 500e6/8 * 0.6 s = 37.5 MB. Kernel',
      'autotuning stops at 4 MiB, i.e. 4 MiB * 8 / 0.6 s = 56 Mbit/s per connection.',
    ],
    settings: {
      wan_sndbuf: '64m',
      wan_rcvbuf: '64m',
      buffer: '32m',
      wan_cc: 'cubic',
      wan_initcwnd: '300',
      idle_timeout: '4h',
      connect_timeout: '60s',
      keepalive_idle: '5m',
      keepalive_interval: '30s',
    },
    notes: {
      wan_sndbuf: '64 MiB = 67 MB: one BDP of 895 Mbit/s at 600 ms, or BBR\'s 2x BDP of ~450 Mbit/s',
      wan_rcvbuf: 'same for the download direction',
      buffer: 'lets the guest run ahead 0.5 s at 500 Mbit/s (31 MB) while the WAN leg drains',
      wan_cc: 'measured on the geo lab link (one-BDP queue): BBR startup overshot to ~2.8 BDP, lost packets and an RTO (10 MB up 12.8 s); CUBIC 11.3 s (bound 9.0 s)',
      wan_initcwnd: 'measured on the geo lab link (legacy guest, 10 MB up, stock remote): IW40 11.27 s, IW300 10.97 s (bound 8.98 s); from IW300 on, the remote\'s receive window is the limit, not ours',
      idle_timeout: 'sessions over satellite idle long; a new TCP+TLS handshake costs ~3 RTT = 1.8 s',
      connect_timeout: 'SYN retries back off 1, 2, 4, 8, 16 s: 60 s covers 5 of them through a fade',
      keepalive_idle: 'probes cost metered airtime; 5 min still finds dead peers well before idle_timeout',
      keepalive_interval: '6 unanswered probes 30 s apart: a peer is declared dead after 3 minutes',
    },
  },
  {
    name: 'transcontinental',
    summary: 'Long terrestrial path: 150-200 ms RTT at 1 Gbit/s',
    why: [
      'BDP at 1 Gbit/s and 200 ms: 1e9/8 * 0.2 s = 25 MB; BBR probes with up to 2x BDP',
      '= 50 MB in flight. Kernel autotuning stops at 4 MiB, i.e. 4 MiB * 8 / 0.2 s =',
      '168 Mbit/s per connection.',
    ],
    settings: {
      wan_sndbuf: '64m',
      wan_rcvbuf: '64m',
      buffer: '16m',
      wan_cc: 'bbr',
      wan_initcwnd: '20',
    },
    notes: {
      wan_sndbuf: '64 MiB = 67 MB holds 2x BDP (50 MB) with room for retransmissions',
      wan_rcvbuf: 'same for the download direction',
      buffer: '16 MiB lets the guest run ahead 134 ms at 1 Gbit/s, about one RTT',
      wan_cc: 'BBR reaches 1 Gbit/s in a few RTTs and does not back off on stray loss',
      wan_initcwnd: 'IW20 (29 KB) saves one 200 ms round trip of slow start; harmless at 1 Gbit/s',
    },
  },
  {
    name: 'lossy',
    summary: 'Radio/LTE-like path: ~100 ms RTT, ~50 Mbit/s, around 1% random loss',
    why: [
      'Loss-based CUBIC/Reno read random loss as congestion: by the Mathis formula',
      'rate = MSS/RTT * 1.22/sqrt(p) = 1448*8/0.1 s * 1.22/0.1 = 1.4 Mbit/s at 1% loss.',
      'BBR models bandwidth and RTT instead. BDP: 50e6/8 * 0.1 s = 625 KB.',
    ],
    settings: {
      wan_cc: 'bbr',
      wan_sndbuf: '4m',
      wan_rcvbuf: '4m',
      buffer: '4m',
      keepalive_idle: '30s',
      keepalive_interval: '5s',
    },
    notes: {
      wan_cc: 'BBR keeps its rate through random loss that would cut CUBIC to ~1.4 Mbit/s',
      wan_sndbuf: '4 MiB = 6.7x BDP: 2x BDP in flight plus unacknowledged data held during SACK recovery',
      wan_rcvbuf: 'out-of-order segments wait here while a hole is repaired',
      buffer: 'moderate: the WAN leg, not the relay, is the bottleneck on such paths',
      keepalive_idle: 'radio peers vanish silently (handover, coverage): probe after 30 s idle',
      keepalive_interval: '6 probes 5 s apart: a dead peer is found within a minute',
    },
  },
];

export function presetByName(name: string): ProfilePreset | undefined {
  return PROFILE_PRESETS.find((p) => p.name === name);
}
