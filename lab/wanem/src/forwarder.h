/* One direction of the emulator: a thread that receives frames on one port,
 * runs them through the link model and sends them out of the other port at
 * their release time. */
#ifndef WANEM_FORWARDER_H
#define WANEM_FORWARDER_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fifo.h"
#include "link.h"
#include "port.h"

/* Frames per recvmmsg/sendmmsg call. */
#define FWD_BATCH 64

/* Written only by the direction's thread, read by anyone with
 * __atomic_load_n(..., __ATOMIC_RELAXED). */
struct fwd_counters {
	uint64_t received;         /* frames read from the in port */
	uint64_t frames, bytes;    /* forwarded; bytes are Ethernet frame bytes */
	uint64_t dropped_loss;     /* emulated loss */
	uint64_t dropped_queue;    /* emulated tail drop: queue limit reached */
	uint64_t dropped_overrun;  /* the emulator's own memory ring was full */
	uint64_t dropped_oversize; /* larger than the receive buffer (64 KiB) */
	uint64_t dropped_malformed;/* shorter than an Ethernet header */
	uint64_t tx_errors;        /* send failed; frame dropped */
	uint64_t gso_frames;       /* offload super-frames seen (offloads left on) */
	uint64_t max_queue_bytes;  /* high-water mark, packet bytes */
	uint64_t rx_untimed;       /* no usable kernel timestamp: arrival = read time */
};

struct forwarder {
	char name[8];
	struct port *in, *out;
	struct link link;
	struct fifo fifo;
	struct fwd_counters c;
	int timer_fd;
	uint64_t retry_ns; /* after ENOBUFS: do not send before this time */
	pthread_t thread;
	uint8_t *scratch;
	struct mmsghdr rx_msgs[FWD_BATCH], tx_msgs[FWD_BATCH];
	struct iovec rx_iov[FWD_BATCH], tx_iov[FWD_BATCH];
	/* Room for one SCM_TIMESTAMPNS control message per received frame. */
	uint64_t rx_cmsg[FWD_BATCH][8];
};

/* Sets up (memory, timer) without starting; -1 with message in err. */
int forwarder_init(struct forwarder *f, const char *name, struct port *in, struct port *out,
		   const struct link_spec *spec, uint64_t seed, char *err, size_t errlen);
int forwarder_start(struct forwarder *f);

#endif
