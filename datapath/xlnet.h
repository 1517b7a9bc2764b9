/* Layouts shared by the xlnet BPF programs and the loader
 * (plugin/src/datapath/layout.ts encodes/decodes the same bytes; the loader
 * checks every map's key and value size at load, so a change here that is not
 * made there fails loudly instead of reading garbage).
 *
 * Keys: a socket is identified by its socket cookie (a 64-bit id the kernel
 * never reuses while the machine runs). Every per-socket map is keyed by it:
 * the flow table and the kernel relay's maps (relay.bpf.c: SOCKHASHes and
 * control blocks, one entry per leg), so each finds the other's entry for a
 * socket without another key scheme.
 */
#ifndef XLNET_H
#define XLNET_H

#include <linux/types.h>

/* Which side of a split connection a socket is. */
#define XLNET_LEG_GUEST 1 /* accepted from the transparent listener (passive) */
#define XLNET_LEG_WAN   2 /* connected by xlnetd to the real destination (active) */

#define XLNET_CC_NAME_MAX 16 /* TCP_CA_NAME_MAX in include/net/tcp.h */

/* Limits the maps are sized for; plugin/src/datapath/layout.ts has the same
 * numbers (plugin/test/datapath/header-constants.test.ts compares them). */
#define XLNET_MAX_VIFS 4096     /* attachments xlnetd runs at once (ids 1..4096 fit the fwmark's 16 bits) */
#define XLNET_MAX_PROFILES 256  /* tuning slots: every xlnet.conf profile plus per-vif overrides */

/* Per-socket registration: socket local storage written by the daemon through
 * the socket's fd (before connect(), or on a listener: accepted sockets inherit
 * a copy because the map is BPF_F_CLONE). Freed by the kernel with the socket. */
struct xlnet_sk {
	__u32 attachment; /* the daemon's attachment (vif) id */
	__u32 profile;    /* index into xlnet_profiles */
	__u64 cookie;     /* set by BPF at establishment: maps the daemon's fd to its flow */
	__u32 tune_failed; /* XLNET_TUNE_* bits of settings the kernel refused */
	__u32 flags;       /* XLNET_SK_* set by the daemon */
};

/* The socket is a WAN leg of a kernel-relayed connection: relay.bpf.c puts it
 * into the relay maps at establishment, before any data can arrive. */
#define XLNET_SK_RELAY (1U << 0)

/* Tuning profile, filled by the daemon. A zero field means "kernel default". */
struct xlnet_tuning {
	__u32 initcwnd;   /* segments (TCP_BPF_IW) */
	__u32 cwnd_clamp; /* segments (TCP_BPF_SNDCWND_CLAMP) */
	__u32 sndbuf;     /* bytes, as for setsockopt(SO_SNDBUF): the kernel doubles it
	                     and caps it at net.core.wmem_max */
	__u32 rcvbuf;     /* bytes, as for setsockopt(SO_RCVBUF), capped at net.core.rmem_max */
	char cc[XLNET_CC_NAME_MAX]; /* congestion control name, NUL-terminated */
};

#define XLNET_TUNE_CC       (1U << 0)
#define XLNET_TUNE_IW       (1U << 1)
#define XLNET_TUNE_CLAMP    (1U << 2)
#define XLNET_TUNE_SNDBUF   (1U << 3)
#define XLNET_TUNE_RCVBUF   (1U << 4)
#define XLNET_TUNE_NOPROFILE (1U << 5) /* profile index out of range */

/* One registered TCP socket, keyed by cookie. Counters are the kernel's own
 * tcp_sock counters: refreshed on every packet of the socket while it lives
 * (cgroup_skb), final once `closed` is set (state change to TCP_CLOSE). */
struct xlnet_flow {
	__u32 attachment;
	__u32 profile;
	__u8 leg;         /* XLNET_LEG_* */
	__u8 closed;      /* 1: the socket reached TCP_CLOSE, counters are final */
	__u8 family;      /* 4 or 6 */
	__u8 pad;
	__u16 local_port;  /* host byte order */
	__u16 remote_port; /* host byte order */
	__u32 local_addr[4];  /* network byte order; IPv4 in [0] */
	__u32 remote_addr[4];
	__u64 established_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 bytes_acked;    /* payload bytes sent and acknowledged by the peer */
	__u64 bytes_received; /* payload bytes received in sequence */
	__u32 segs_out;       /* all segments sent, ACKs and retransmissions included */
	__u32 segs_in;
	__u32 data_segs_out;
	__u32 data_segs_in;
	__u32 total_retrans;
	__u32 pad2;
};

/* Totals of the flows of one attachment and leg that have closed; the live
 * flows of that attachment are added by the reader (no per-packet atomics). */
struct xlnet_vif_key {
	__u32 attachment;
	__u32 leg;
};

struct xlnet_vif_totals {
	__u64 bytes_acked;
	__u64 bytes_received;
	__u64 segs_out;
	__u64 segs_in;
	__u64 flows;
};

/* The kernel relay engine (relay.bpf.c). One entry per direction of a
 * relayed connection, keyed by the cookie of the direction's SOURCE socket.
 *
 * xlnet_relay_ctl is written by the daemon only, xlnet_relay_stat by BPF only
 * (after the daemon created it zeroed), so neither side's update can undo the
 * other's. The kernel holds, for a direction,
 *   redirected + forwarded - (target's bytes_acked now - base_acked)
 * bytes: the redirect queue (which no socket accounting sees) plus the
 * target's send queue. The verdict keeps that at or below `limit`; above it
 * the data is passed to the daemon, where it stays in the source socket's
 * receive queue, charged to it, so TCP's own window stops the sender. */
struct xlnet_relay_ctl {
	__u64 peer;       /* cookie of the target socket (its key in xlnet_relay_targets) */
	__u64 limit;      /* bytes the kernel may hold for this direction */
	__u64 base_acked; /* the target's bytes_acked (xlnet_flows) when the relay started */
	__u64 forwarded;  /* passed bytes the daemon has written into the target */
};

struct xlnet_relay_stat {
	__u64 redirected; /* bytes the verdict handed to the target */
	__u64 passed;     /* bytes the verdict gave to the daemon instead */
	__u32 passing;    /* 1: the direction runs through the daemon until it caught up */
	__u32 no_target;  /* times the target or its flow record was missing */
	__u64 trimmed;    /* bytes cut off the front of skbs that repeated handed-on data */
	__u32 next_seq;   /* TCP sequence number of the next byte to hand on */
	__u32 seq_known;  /* 1: next_seq is set (at establishment, or by the first skb) */
	__u32 gaps;       /* skbs that started after next_seq (never expected: see relay.bpf.c) */
	__u32 faults;     /* skbs that could not be examined or cut: the daemon resets the connection */
};

#endif
