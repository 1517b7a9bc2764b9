// SPDX-License-Identifier: GPL-2.0
/* wan_tune: applies a tuning profile to each socket xlnetd registered.
 *
 * A sockops program attached to xlnetd's own cgroup. It acts only on sockets
 * that carry an xlnet_sk registration (written by the daemon through the fd
 * before connect(), or on the transparent listener so accepted sockets inherit
 * it), so the daemon's other sockets and every other process are untouched.
 *
 *   TCP_CONNECT_CB (WAN leg, before the SYN): buffers, so SO_RCVBUF shapes
 *                  the window scale announced in the SYN
 *   ACTIVE/PASSIVE_ESTABLISHED_CB: congestion control, initial cwnd, cwnd clamp
 *                  (tcp_init_transfer() resets cwnd just before these run, so
 *                  an earlier TCP_BPF_IW would be lost); buffers for the guest leg
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <asm-generic/socket.h>
#include <bpf/bpf_helpers.h>
#include "xlnet.h"
#include "maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XLNET_MAX_PROFILES);
	__type(key, __u32);
	__type(value, struct xlnet_tuning);
} xlnet_profiles SEC(".maps");

static __always_inline __u32 set_int(struct bpf_sock_ops *skops, int level, int opt, __u32 val, __u32 bit)
{
	int v = (int)val;

	if (!val)
		return 0;
	return bpf_setsockopt(skops, level, opt, &v, sizeof(v)) ? bit : 0;
}

static __always_inline __u32 set_buffers(struct bpf_sock_ops *skops, const struct xlnet_tuning *t)
{
	return set_int(skops, SOL_SOCKET, SO_SNDBUF, t->sndbuf, XLNET_TUNE_SNDBUF) |
	       set_int(skops, SOL_SOCKET, SO_RCVBUF, t->rcvbuf, XLNET_TUNE_RCVBUF);
}

static __always_inline __u32 set_transfer(struct bpf_sock_ops *skops, const struct xlnet_tuning *t)
{
	char cc[XLNET_CC_NAME_MAX];
	__u32 failed = 0;

	if (t->cc[0]) {
		__builtin_memcpy(cc, t->cc, sizeof(cc));
		cc[sizeof(cc) - 1] = '\0';
		if (bpf_setsockopt(skops, IPPROTO_TCP, TCP_CONGESTION, cc, sizeof(cc)))
			failed |= XLNET_TUNE_CC;
	}
	/* After the congestion control: its init may touch cwnd state. */
	failed |= set_int(skops, IPPROTO_TCP, TCP_BPF_IW, t->initcwnd, XLNET_TUNE_IW);
	failed |= set_int(skops, IPPROTO_TCP, TCP_BPF_SNDCWND_CLAMP, t->cwnd_clamp, XLNET_TUNE_CLAMP);
	return failed;
}

SEC("sockops")
int xlnet_wan_tune(struct bpf_sock_ops *skops)
{
	struct xlnet_tuning *t;
	struct xlnet_sk *reg;
	struct bpf_sock *sk;
	__u32 op = skops->op;

	if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	sk = skops->sk;
	if (!sk)
		return 1;
	reg = bpf_sk_storage_get(&xlnet_sk, sk, 0, 0);
	if (!reg)
		return 1; /* not registered: kernel defaults */
	t = bpf_map_lookup_elem(&xlnet_profiles, &reg->profile);
	if (!t) {
		reg->tune_failed |= XLNET_TUNE_NOPROFILE;
		return 1;
	}
	switch (op) {
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		reg->tune_failed |= set_buffers(skops, t);
		break;
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		reg->tune_failed |= set_transfer(skops, t);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		reg->tune_failed |= set_buffers(skops, t) | set_transfer(skops, t);
		break;
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
