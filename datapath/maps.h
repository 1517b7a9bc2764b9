/* Maps used by more than one xlnet BPF object. Each object declares them; the
 * loader creates them once (first object) and hands the same fds to the
 * others (bpf_map__reuse_fd), so all programs see one registration table and
 * one flow table. */
#ifndef XLNET_MAPS_H
#define XLNET_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "xlnet.h"

/* Live and recently closed flows. LRU: closed flows the daemon has not
 * deleted age out first (they are never touched again). 65536 sockets is
 * 32768 split connections, ~6.5 MiB of preallocated entries. */
#define XLNET_MAX_FLOWS 65536

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	/* NO_PREALLOC is mandatory for socket storage; CLONE copies a listener's
	 * registration into every socket it accepts. */
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct xlnet_sk);
} xlnet_sk SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XLNET_MAX_FLOWS);
	__type(key, __u64);
	__type(value, struct xlnet_flow);
} xlnet_flows SEC(".maps");

#endif
