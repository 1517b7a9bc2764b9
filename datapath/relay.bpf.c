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
 *  - a zero-length skb (FIN) redirected breaks the target with EPIPE: passed,
 *    the daemon sees the end of stream and forwards the FIN itself once
 *    everything redirected before it left the redirect queue.
 *  - a redirect that fails (target gone) would drop: such data is passed.
 * Attached (BPF_SK_SKB_STREAM_VERDICT, no parser) to xlnet_relay_sources.
 * No socket leaves that map while data may still arrive: with the verdict
 * detached mid-read the kernel drops the rest of that read; flow control is
 * the pass described above, never a removal.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
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
#define XLNET_MAX_VIFS 65536
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
	struct xlnet_relay_stat zero = {};
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

/* The verdict of one socket runs serialized (under that socket's lock), so
 * its stat entry needs no atomics; the daemon only reads it. */
SEC("sk_skb/stream_verdict")
int xlnet_relay_verdict(struct __sk_buff *skb)
{
	struct xlnet_relay_stat *st;
	struct xlnet_relay_ctl *ctl;
	struct xlnet_flow *target;
	__u64 cookie = bpf_get_socket_cookie(skb);
	__u32 len = skb->len;
	__s64 held;

	ctl = bpf_map_lookup_elem(&xlnet_relay_ctl, &cookie);
	st = bpf_map_lookup_elem(&xlnet_relay_stat, &cookie);
	if (!ctl || !st)
		return SK_PASS; /* not (or no longer) relayed: the daemon reads it */
	if (len == 0)
		return SK_PASS;
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
	st->passed += len;
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
