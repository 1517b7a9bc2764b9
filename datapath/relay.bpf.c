// SPDX-License-Identifier: GPL-2.0
/* relay: the kernel relay engine. A split connection's two sockets are spliced
 * in the kernel: an sk_skb stream verdict on each socket redirects what it
 * receives to the egress of the other socket, with no copy through xlnetd.
 *
 * What the kernel does not do by itself, and how this program and the daemon
 * (plugin/src/service/kernel-relay.ts) make up for it (shared/docs/platform.md):
 *  - no backpressure: a redirect consumes the data and reopens the source's
 *    window at once, and the redirect queue is unbounded and unaccounted.
 *    Each direction keeps a byte count here; once the kernel would hold more
 *    than the direction's limit (see struct xlnet_relay_ctl) the verdict
 *    PASSES instead: the data stays on the source socket, charged to its
 *    receive buffer, so the sender's window closes. The daemon reads passed
 *    data and writes it to the target like the user-space engine, and the
 *    verdict redirects again only once the daemon has written every passed
 *    byte (order is kept) and the target drained below the limit.
 *  - a zero-length skb (FIN) redirected breaks the target with EPIPE. Passed,
 *    it breaks the SOURCE whenever the source's own queue (psock->ingress_skb)
 *    holds redirected data for it: a passed skb then waits in that queue, and
 *    the backlog worker takes its 0-byte delivery for a hard error (EPIPE) and
 *    stops the socket's transmit, so the other direction's data stalls there
 *    (lab: 2-5 % of echo exchanges with a half-close hung). So it is dropped:
 *    TCP has already marked the socket done (RCV_SHUTDOWN), which is how a
 *    reader sees the end of stream; the daemon forwards the FIN itself once
 *    everything redirected before it left the redirect queue.
 *  - a redirect that fails (target gone) would drop: such data is passed.
 *  - repeated bytes: TCP may queue an skb whose front repeats data already
 *    queued (a retransmission that partly overlaps what arrived, counted as
 *    TcpExtTCPDSACKOldSent); its readers skip that front by sequence number,
 *    but the verdict path (tcp_read_skb) hands over whole skbs, so the target
 *    got those bytes twice (lan lab: 500 MB downloads corrupted 4 times in 4,
 *    the dumps showing 1448*k bytes repeated). The verdict keeps the sequence
 *    number of the next byte per source and cuts any repeated front off
 *    before the skb goes anywhere (trim_repeated).
 * Attached (BPF_SK_SKB_STREAM_VERDICT, no parser) to xlnet_relay_sources.
 * No socket leaves that map while data may still arrive: with the verdict
 * detached mid-read the kernel drops the rest of that read; flow control is
 * the pass described above, never a removal.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "xlnet.h"
#include "maps.h"

/* Every relayed socket, as a redirect target. No program: membership only
 * gives the socket the psock a redirect needs. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, XLNET_MAX_FLOWS);
	__type(key, __u64);   /* socket cookie */
	__type(value, __u32); /* fd, from user space */
} xlnet_relay_targets SEC(".maps");

/* The sockets whose received data the verdict handles (the program is
 * attached to this map). Deleting a socket hands its data back to TCP. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, XLNET_MAX_FLOWS);
	__type(key, __u64);
	__type(value, __u32);
} xlnet_relay_sources SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLNET_MAX_FLOWS);
	__type(key, __u64); /* source socket cookie */
	__type(value, struct xlnet_relay_ctl);
} xlnet_relay_ctl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLNET_MAX_FLOWS);
	__type(key, __u64);
	__type(value, struct xlnet_relay_stat);
} xlnet_relay_stat SEC(".maps");

/* Attachments (keyed by the mark their guests' connections carry, the
 * steering's MARK_BASE | attachment id) whose connections use this engine. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLNET_MAX_VIFS);
	__type(key, __u32);
	__type(value, __u32); /* unused: presence is the flag */
} xlnet_relay_vifs SEC(".maps");

/* A socket goes into the maps at establishment, while it surely is open both
 * ways: a peer that sends its last bytes and FIN at once (a client's request,
 * a server's banner) would otherwise be gone from ESTABLISHED by the time
 * xlnetd gets to it, and sockmap takes established sockets only. Until xlnetd
 * adopts it (sets its control block), its data is passed (no peer, limit 0)
 * and waits on the socket, charged to it. */
static __always_inline void splice_early(struct bpf_sock_ops *skops)
{
	struct xlnet_relay_stat zero = {
		/* at establishment nothing was received yet: the next byte is rcv_nxt */
		.next_seq = skops->rcv_nxt,
		.seq_known = 1,
	};
	struct xlnet_relay_ctl ctl = {};
	__u64 cookie = bpf_get_socket_cookie(skops);

	/* The daemon takes "has statistics" as "spliced": all or nothing. */
	if (bpf_map_update_elem(&xlnet_relay_stat, &cookie, &zero, BPF_NOEXIST))
		return;
	if (bpf_map_update_elem(&xlnet_relay_ctl, &cookie, &ctl, BPF_NOEXIST))
		goto undo_stat;
	if (bpf_sock_hash_update(skops, &xlnet_relay_targets, &cookie, BPF_NOEXIST))
		goto undo_ctl;
	if (bpf_sock_hash_update(skops, &xlnet_relay_sources, &cookie, BPF_NOEXIST))
		goto undo_target;
	return;
undo_target:
	bpf_map_delete_elem(&xlnet_relay_targets, &cookie);
undo_ctl:
	bpf_map_delete_elem(&xlnet_relay_ctl, &cookie);
undo_stat:
	bpf_map_delete_elem(&xlnet_relay_stat, &cookie);
}

SEC("sockops")
int xlnet_relay_splice(struct bpf_sock_ops *skops)
{
	struct xlnet_sk *reg;
	struct bpf_sock *sk;
	__u32 mark;

	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	reg = bpf_sk_storage_get(&xlnet_sk, sk, 0, 0);
	if (!reg)
		return 1;
	if (skops->op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		if (reg->flags & XLNET_SK_RELAY)
			splice_early(skops);
		return 1;
	}
	/* Guest leg: the registration is the listener's (every vif); the mark
	 * of the guest's SYN (tcp_fwmark_accept) names the attachment. */
	mark = sk->mark;
	if (bpf_map_lookup_elem(&xlnet_relay_vifs, &mark))
		splice_early(skops);
	return 1;
}

/* The kernel's struct sk_buff, only the field read here. CO-RE: libbpf
 * relocates the offset of `cb` against the running kernel's BTF (the one
 * relocation in the datapath; 6.1 and later have BTF). The TCP control block
 * (struct tcp_skb_cb, include/net/tcp.h) starts with the skb's sequence
 * number, unchanged since Linux 2.6. */
struct sk_buff___xlnet {
	char cb[48];
} __attribute__((preserve_access_index));

/* bpf_skb_adjust_room on an sk_skb shrinks the front by at most 0xfff bytes
 * per call (net/core/filter.c sk_skb_adjust_room). */
#define ADJUST_ROOM_MAX 0xfff
/* A GRO skb holds at most 64 KiB: 17 cuts of 0xfff cover any repeated front. */
#define TRIM_STEPS 17

/* Cuts off the front of the skb that repeats bytes already handed on and
 * moves next_seq past the skb. Returns the skb's remaining length (0: it
 * held nothing new), or -1 if it could not be examined or cut. */
static __always_inline int trim_repeated(struct __sk_buff *skb, struct xlnet_relay_stat *st)
{
	struct sk_buff___xlnet *kskb = (void *)skb;
	__u32 seq, len = skb->len;
	__s32 repeated;

	if (bpf_core_read(&seq, sizeof(seq), &kskb->cb[0]))
		return -1;
	if (!st->seq_known) {
		/* inserted by the daemon after establishment, before it read anything */
		st->next_seq = seq;
		st->seq_known = 1;
	}
	repeated = (__s32)(st->next_seq - seq);
	if (repeated < 0) {
		/* Data missing before this skb: TCP queues in order, so this is not
		 * expected; counted, and the sequence follows the skb. */
		st->gaps++;
		repeated = 0;
	}
	if ((__u32)repeated > len)
		repeated = len; /* nothing new at all (TCP drops those before queueing) */
	for (int i = 0; i < TRIM_STEPS && repeated > 0; i++) {
		__s32 cut = repeated > ADJUST_ROOM_MAX ? ADJUST_ROOM_MAX : repeated;

		if (bpf_skb_adjust_room(skb, -cut, 0, 0))
			return -1;
		repeated -= cut;
		st->trimmed += cut;
	}
	if (repeated > 0)
		return -1;
	if ((__s32)(seq + len - st->next_seq) > 0)
		st->next_seq = seq + len;
	return skb->len;
}

/* The verdict of one socket runs serialized (under that socket's lock), so
 * its stat entry needs no atomics; the daemon only reads it. */
SEC("sk_skb/stream_verdict")
int xlnet_relay_verdict(struct __sk_buff *skb)
{
	struct xlnet_relay_stat *st;
	struct xlnet_relay_ctl *ctl;
	struct xlnet_flow *target;
	__u64 cookie = bpf_get_socket_cookie(skb);
	__s64 held;
	int len;

	st = bpf_map_lookup_elem(&xlnet_relay_stat, &cookie);
	if (!st)
		return SK_PASS; /* not (or no longer) relayed: the daemon reads it */
	if (skb->len == 0)
		return SK_DROP; /* FIN: never queued (see the top); readers see RCV_SHUTDOWN */
	len = trim_repeated(skb, st);
	if (len == 0)
		return SK_DROP; /* only repeated bytes, all cut: freed, nothing counted twice */
	if (len < 0) {
		/* Could not be examined or cut. Passed, the daemon would read the
		 * repeated bytes too, so nothing can deliver this skb correctly:
		 * the daemon sees the fault and resets both legs (the connection
		 * fails visibly instead of corrupting quietly). */
		st->faults++;
		return SK_DROP;
	}
	ctl = bpf_map_lookup_elem(&xlnet_relay_ctl, &cookie);
	if (!ctl)
		goto pass_unadopted;
	/* Passed bytes not yet written to the target must go first. */
	if (st->passing && ctl->forwarded < st->passed)
		goto pass;
	target = bpf_map_lookup_elem(&xlnet_flows, &ctl->peer);
	if (!target)
		goto lost_target;
	held = (__s64)(st->redirected + ctl->forwarded) - (__s64)(target->bytes_acked - ctl->base_acked);
	if (held + len > (__s64)ctl->limit)
		goto pass;
	if (bpf_sk_redirect_hash(skb, &xlnet_relay_targets, &ctl->peer, 0) != SK_PASS)
		goto lost_target;
	st->passing = 0;
	st->redirected += len;
	return SK_PASS;
lost_target:
	st->no_target++;
pass:
	st->passing = 1;
pass_unadopted:
	st->passed += len;
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
