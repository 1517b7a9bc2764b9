// SPDX-License-Identifier: GPL-2.0
/* counters: per-flow and per-vif byte and packet counters for registered
 * sockets, readable from the maps with no per-packet work in user space.
 *
 * The numbers are the kernel's own tcp_sock counters (payload bytes acked and
 * received in sequence, segments in and out), copied, not recomputed:
 *   sockops ESTABLISHED  creates the flow record (cookie -> xlnet_flow) and asks
 *                        for state callbacks on that socket only
 *   cgroup_skb egress    refreshes it on each packet the socket sends: received
 *                        data is answered by an ACK, so bytes_received is current
 *   cgroup_skb ingress   refreshes it on each packet the socket receives. TCP
 *                        processes the packet after this hook, so the hook adds
 *                        what the packet's ACK number newly acknowledges: the
 *                        last ACK of a burst is counted although nothing follows it
 *   sockops STATE_CB     at TCP_CLOSE writes the exact final numbers, marks the
 *                        flow closed and adds it to its attachment's closed totals
 * Live values only grow (a snapshot older than the record is ignored); segment
 * counts may trail by one packet until the socket's next packet.
 *
 * Like tcp_info (and `ss -ti`), the byte counters count sequence space: the
 * payload, plus 1 for the SYN on the active side and 1 for each FIN.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xlnet.h"
#include "maps.h"

#define XLNET_AF_INET6 10 /* AF_INET6 in <sys/socket.h> */

/* One entry per (attachment, leg). */
#define XLNET_MAX_VIF_KEYS (2 * XLNET_MAX_VIFS)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XLNET_MAX_VIF_KEYS);
	__type(key, struct xlnet_vif_key);
	__type(value, struct xlnet_vif_totals);
} xlnet_vif_closed SEC(".maps");

static __always_inline void copy_counters(struct xlnet_flow *f, struct bpf_sock_ops *skops)
{
	f->bytes_acked = skops->bytes_acked;
	f->bytes_received = skops->bytes_received;
	f->segs_out = skops->segs_out;
	f->segs_in = skops->segs_in;
	f->data_segs_out = skops->data_segs_out;
	f->data_segs_in = skops->data_segs_in;
	f->total_retrans = skops->total_retrans;
}

/* A guest leg is established under the listener's registration (attachment
 * 0: the listener serves every vif); the daemon re-registers the accepted
 * socket with its vif, and the flow record follows on the next packet. */
static __always_inline void follow_registration(struct xlnet_flow *f, struct xlnet_sk *reg)
{
	if (reg && reg->attachment != f->attachment) {
		f->attachment = reg->attachment;
		f->profile = reg->profile;
	}
}

static __always_inline void flow_open(struct bpf_sock_ops *skops, __u8 leg)
{
	struct xlnet_flow f = {};
	struct xlnet_sk *reg;
	struct bpf_sock *sk = skops->sk;
	__u64 cookie;

	if (!sk)
		return;
	reg = bpf_sk_storage_get(&xlnet_sk, sk, 0, 0);
	if (!reg)
		return;
	cookie = bpf_get_socket_cookie(skops);
	reg->cookie = cookie;
	f.attachment = reg->attachment;
	f.profile = reg->profile;
	f.leg = leg;
	if (skops->family == XLNET_AF_INET6) {
		f.family = 6;
		f.local_addr[0] = skops->local_ip6[0];
		f.local_addr[1] = skops->local_ip6[1];
		f.local_addr[2] = skops->local_ip6[2];
		f.local_addr[3] = skops->local_ip6[3];
		f.remote_addr[0] = skops->remote_ip6[0];
		f.remote_addr[1] = skops->remote_ip6[1];
		f.remote_addr[2] = skops->remote_ip6[2];
		f.remote_addr[3] = skops->remote_ip6[3];
	} else {
		f.family = 4;
		f.local_addr[0] = skops->local_ip4;
		f.remote_addr[0] = skops->remote_ip4;
	}
	f.local_port = (__u16)skops->local_port;
	/* remote_port is the network-order port in the upper half (see bpf.h) */
	f.remote_port = (__u16)bpf_ntohl(skops->remote_port);
	f.established_ns = bpf_ktime_get_ns();
	copy_counters(&f, skops);
	bpf_map_update_elem(&xlnet_flows, &cookie, &f, BPF_ANY);
	/* For this socket only: see it close. */
	bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags | BPF_SOCK_OPS_STATE_CB_FLAG);
}

static __always_inline void flow_close(struct bpf_sock_ops *skops)
{
	struct xlnet_vif_totals zero = {}, *tot;
	struct xlnet_vif_key key = {};
	struct xlnet_flow *f;
	__u64 cookie;

	if (skops->args[1] != BPF_TCP_CLOSE)
		return;
	cookie = bpf_get_socket_cookie(skops);
	f = bpf_map_lookup_elem(&xlnet_flows, &cookie);
	if (!f || f->closed)
		return;
	if (skops->sk)
		follow_registration(f, bpf_sk_storage_get(&xlnet_sk, skops->sk, 0, 0));
	copy_counters(f, skops);
	f->closed = 1;
	key.attachment = f->attachment;
	key.leg = f->leg;
	tot = bpf_map_lookup_elem(&xlnet_vif_closed, &key);
	if (!tot) {
		bpf_map_update_elem(&xlnet_vif_closed, &key, &zero, BPF_NOEXIST);
		tot = bpf_map_lookup_elem(&xlnet_vif_closed, &key);
		if (!tot)
			return; /* table full: the daemon forgot to drop detached vifs */
	}
	/* Sockets of one vif close on any CPU: atomic adds. */
	__sync_fetch_and_add(&tot->bytes_acked, f->bytes_acked);
	__sync_fetch_and_add(&tot->bytes_received, f->bytes_received);
	__sync_fetch_and_add(&tot->segs_out, f->segs_out);
	__sync_fetch_and_add(&tot->segs_in, f->segs_in);
	__sync_fetch_and_add(&tot->flows, 1);
}

SEC("sockops")
int xlnet_flow_events(struct bpf_sock_ops *skops)
{
	switch (skops->op) {
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		flow_open(skops, XLNET_LEG_WAN);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		flow_open(skops, XLNET_LEG_GUEST);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		flow_close(skops);
		break;
	}
	return 1;
}

#define XLNET_MAX(field, v) do { if ((v) > f->field) f->field = (v); } while (0)

/* Copies the socket's counters into its flow record; NULL if not registered. */
static __always_inline struct bpf_tcp_sock *refresh(struct __sk_buff *skb, struct xlnet_flow **flow)
{
	struct bpf_tcp_sock *tp;
	struct xlnet_flow *f;
	struct bpf_sock *sk;
	__u64 cookie;

	sk = skb->sk;
	if (!sk)
		return 0;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_TCP)
		return 0;
	cookie = bpf_get_socket_cookie(skb);
	f = bpf_map_lookup_elem(&xlnet_flows, &cookie);
	if (!f || f->closed)
		return 0;
	tp = bpf_tcp_sock(sk);
	if (!tp)
		return 0;
	follow_registration(f, bpf_sk_storage_get(&xlnet_sk, sk, 0, 0));
	XLNET_MAX(bytes_acked, tp->bytes_acked);
	XLNET_MAX(bytes_received, tp->bytes_received);
	XLNET_MAX(segs_out, tp->segs_out);
	XLNET_MAX(segs_in, tp->segs_in);
	XLNET_MAX(data_segs_out, tp->data_segs_out);
	XLNET_MAX(data_segs_in, tp->data_segs_in);
	XLNET_MAX(total_retrans, tp->total_retrans);
	*flow = f;
	return tp;
}

#define XLNET_IPV6_HDR_LEN 40 /* fixed IPv6 header; extension headers are not followed */
#define XLNET_TCP_ACK_OFF 8   /* ack_seq in struct tcphdr */
#define XLNET_TCP_FLAGS_OFF 13 /* the byte holding FIN..CWR */
#define XLNET_TCP_FLAG_ACK 0x10

/* The packet's acknowledgment number (host order); -1 if it carries none.
 * cgroup_skb sees the packet from its network header on. */
static __always_inline int packet_ack(struct __sk_buff *skb, __u32 *ack)
{
	__u8 first, flags;
	__u32 l4, seq;

	if (bpf_skb_load_bytes(skb, 0, &first, 1))
		return -1;
	if (first >> 4 == 4) {
		l4 = (first & 0xf) * 4; /* IHL counts 32-bit words */
	} else if (first >> 4 == 6) {
		__u8 next;

		if (bpf_skb_load_bytes(skb, 6, &next, 1) || next != IPPROTO_TCP)
			return -1; /* offset 6: next header */
		l4 = XLNET_IPV6_HDR_LEN;
	} else {
		return -1;
	}
	if (bpf_skb_load_bytes(skb, l4 + XLNET_TCP_FLAGS_OFF, &flags, 1) || !(flags & XLNET_TCP_FLAG_ACK))
		return -1;
	if (bpf_skb_load_bytes(skb, l4 + XLNET_TCP_ACK_OFF, &seq, sizeof(seq)))
		return -1;
	*ack = bpf_ntohl(seq);
	return 0;
}

/* cgroup_skb programs decide whether a packet passes: 1 lets it through. */
#define XLNET_SKB_PASS 1

SEC("cgroup_skb/egress")
int xlnet_count_egress(struct __sk_buff *skb)
{
	struct xlnet_flow *f;

	refresh(skb, &f);
	return XLNET_SKB_PASS;
}

SEC("cgroup_skb/ingress")
int xlnet_count_ingress(struct __sk_buff *skb)
{
	struct bpf_tcp_sock *tp;
	struct xlnet_flow *f = 0;
	__u32 ack, una, nxt;
	__u64 acked, window;

	tp = refresh(skb, &f);
	if (!tp || !f || packet_ack(skb, &ack))
		return XLNET_SKB_PASS;
	/* TCP adds to bytes_acked before it moves snd_una: read in the other
	 * order, a concurrent update makes us undercount (fixed by the next
	 * packet), never overcount. */
	acked = tp->bytes_acked;
	asm volatile("" ::: "memory");
	una = tp->snd_una;
	nxt = tp->snd_nxt;
	/* An ACK TCP will accept acknowledges more than snd_una and at most what
	 * was sent. On a fast path the ACK can arrive while the sender is still
	 * between transmitting and advancing snd_nxt, so allow one congestion
	 * window beyond it: a lying peer can inflate a live count by at most that
	 * much, and the close callback writes the kernel's exact numbers. */
	window = (__u64)tp->snd_cwnd * tp->mss_cache;
	if ((__s32)(ack - una) > 0 && (__s64)(__s32)(ack - nxt) <= (__s64)window)
		XLNET_MAX(bytes_acked, acked + (ack - una));
	return XLNET_SKB_PASS;
}

char LICENSE[] SEC("license") = "GPL";
