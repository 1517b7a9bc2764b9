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
 * Attached (BPF_SK_SKB_STREAM_VERDICT, no parser) to xlnet_relay_sources: the
 * daemon pauses a direction by deleting its source socket from that map.
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
