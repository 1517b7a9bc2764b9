#include "forwarder.h"

#include <errno.h>
#include <linux/if_ether.h>
#include <linux/virtio_net.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define VNET_LEN ((uint32_t)sizeof(struct virtio_net_hdr))
/* Receive slot: a virtio-net header plus the largest frame AF_PACKET can
 * hand over without GSO-size tweaks (64 KiB IP packet + Ethernet header). */
#define SLOT_LEN (VNET_LEN + ETH_HLEN + 65536)
/* Frames due this soon are sent now, up to 50 us early: a sleep shorter than
 * the wake-up cost buys no accuracy, and at 1 Gbit/s one wake-up then sends
 * ~4 frames instead of 1 (measured: +25 % throughput on a busy 2-core box). */
#define EARLY_NS 50000
/* After the driver refused a frame (ENOBUFS), retry this much later. */
#define RETRY_NS 50000
/* Memory ring: twice the bytes the link can hold. Each frame is stored
 * with a 16-byte record header, its 10-byte virtio-net header and its
 * 14-byte Ethernet header, so 2x covers any packet of 48 bytes or more
 * (a bare TCP ACK is 52). */
#define RING_FACTOR 2
#define RING_SLACK (1024 * 1024)
#define NS_PER_S 1000000000ULL
/* A receive timestamp older than this is not trusted (see arrival_ns). */
#define MAX_RX_AGE_NS NS_PER_S

#define BUMP(f, field, n) __atomic_store_n(&(f)->c.field, (f)->c.field + (n), __ATOMIC_RELAXED)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* The frame's arrival on the monotonic clock, from the kernel's receive
 * timestamp (wall clock). Falls back to now if there is none or it is
 * implausible (a clock step, or a timestamp that is not a receive time). */
static uint64_t arrival_ns(struct forwarder *f, struct msghdr *mh, uint64_t mono_now, uint64_t real_now)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			uint64_t real;
			memcpy(&ts, CMSG_DATA(c), sizeof ts);
			real = (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
			if (real <= real_now && real_now - real < MAX_RX_AGE_NS)
				return mono_now - (real_now - real);
			break;
		}
	}
	BUMP(f, rx_untimed, 1);
	return mono_now;
}

int forwarder_init(struct forwarder *f, const char *name, struct port *in, struct port *out,
		   const struct link_spec *spec, uint64_t seed, char *err, size_t errlen)
{
	/* Bytes the link holds at most: the queue, plus what is on the wire
	 * (rate x delay); with no rate the queue limit bounds both. */
	uint64_t line = spec->rate_bps
		? (uint64_t)((unsigned __int128)spec->rate_bps * spec->delay_ns / 8 / NS_PER_S) : 0;
	size_t cap = (size_t)(RING_FACTOR * (spec->queue_bytes + line) + RING_SLACK);

	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%s", name);
	f->in = in;
	f->out = out;
	link_init(&f->link, spec, seed);
	if (fifo_init(&f->fifo, cap)) {
		snprintf(err, errlen, "%s: cannot allocate %zu bytes for the frame ring: lower queue= or delay=", name, cap);
		return -1;
	}
	f->scratch = malloc((size_t)SLOT_LEN * FWD_BATCH);
	f->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (!f->scratch || f->timer_fd < 0) {
		snprintf(err, errlen, "%s: cannot allocate receive buffers or timer: %s", name, strerror(errno));
		return -1;
	}
	for (int i = 0; i < FWD_BATCH; i++) {
		f->rx_iov[i].iov_base = f->scratch + (size_t)i * SLOT_LEN;
		f->rx_iov[i].iov_len = SLOT_LEN;
		f->rx_msgs[i].msg_hdr.msg_iov = &f->rx_iov[i];
		f->rx_msgs[i].msg_hdr.msg_iovlen = 1;
		f->rx_msgs[i].msg_hdr.msg_control = f->rx_cmsg[i];
		f->rx_msgs[i].msg_hdr.msg_controllen = sizeof f->rx_cmsg[i];
		f->tx_msgs[i].msg_hdr.msg_iov = &f->tx_iov[i];
		f->tx_msgs[i].msg_hdr.msg_iovlen = 1;
	}
	return 0;
}

static void warn_gso(struct forwarder *f, uint32_t len)
{
	if (f->c.gso_frames == 1)
		fprintf(stderr, "wanem: %s: received a %u-byte offload super-frame on %s: turn GRO/GSO/TSO off "
			"(see lab/wanem/README.md); forwarding it whole, so loss and queue treat it as one frame\n",
			f->name, len, f->in->name);
}

static void receive_batch(struct forwarder *f, int n)
{
	uint64_t mono = now_ns(), real = realtime_ns(), release;

	BUMP(f, received, n);
	for (int i = 0; i < n; i++) {
		uint8_t *buf = f->rx_iov[i].iov_base;
		uint32_t len = f->rx_msgs[i].msg_len;
		const struct virtio_net_hdr *vh = (const void *)buf;
		uint64_t now = arrival_ns(f, &f->rx_msgs[i].msg_hdr, mono, real);

		f->rx_msgs[i].msg_hdr.msg_controllen = sizeof f->rx_cmsg[i];

		if (f->rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			BUMP(f, dropped_oversize, 1);
			continue;
		}
		if (len < VNET_LEN + ETH_HLEN) {
			BUMP(f, dropped_malformed, 1);
			continue;
		}
		if (vh->gso_type != VIRTIO_NET_HDR_GSO_NONE) {
			BUMP(f, gso_frames, 1);
			warn_gso(f, len - VNET_LEN);
		}
		if (!fifo_fits(&f->fifo, len)) {
			BUMP(f, dropped_overrun, 1);
			continue;
		}
		switch (link_offer(&f->link, now, len - VNET_LEN - ETH_HLEN, &release)) {
		case DROP_LOSS:
			BUMP(f, dropped_loss, 1);
			break;
		case DROP_QUEUE:
			BUMP(f, dropped_queue, 1);
			break;
		case ADMIT:
			fifo_push(&f->fifo, release, len - VNET_LEN - ETH_HLEN, buf, len);
			break;
		}
	}
	__atomic_store_n(&f->c.max_queue_bytes, f->link.max_queue, __ATOMIC_RELAXED);
}

static void sent(struct forwarder *f, int n)
{
	for (int i = 0; i < n; i++) {
		struct frame *fr = fifo_at(&f->fifo, &f->fifo.head);
		BUMP(f, frames, 1);
		BUMP(f, bytes, fr->len - VNET_LEN);
		link_sent(&f->link, fr->bytes);
		fifo_pop(&f->fifo);
	}
}

/* Sends every frame that is due. Returns true when the socket would block. */
static bool transmit_due(struct forwarder *f, uint64_t now)
{
	if (now < f->retry_ns)
		return false;
	for (;;) {
		uint64_t cur = f->fifo.head;
		struct frame *fr;
		int n = 0, done;

		while (n < FWD_BATCH && (fr = fifo_at(&f->fifo, &cur)) && fr->release_ns <= now + EARLY_NS) {
			f->tx_iov[n].iov_base = fr->data;
			f->tx_iov[n].iov_len = fr->len;
			n++;
			fifo_advance(&f->fifo, &cur);
		}
		if (n == 0)
			return false;
		done = sendmmsg(f->out->fd, f->tx_msgs, n, MSG_DONTWAIT);
		if (done < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return true;
			if (errno == ENOBUFS) {
				f->retry_ns = now + RETRY_NS;
				return false;
			}
			/* Interface down, frame too big for it...: drop that
			 * frame so one bad frame cannot stall the direction. */
			BUMP(f, tx_errors, 1);
			link_sent(&f->link, fifo_at(&f->fifo, &f->fifo.head)->bytes);
			fifo_pop(&f->fifo);
			continue;
		}
		sent(f, done);
		if (done == n && n < FWD_BATCH)
			return false;
	}
}

static void wait_for_work(struct forwarder *f, bool blocked)
{
	struct pollfd pfd[3] = { { .fd = f->in->fd, .events = POLLIN } };
	int nfds = 1;
	uint64_t cur = f->fifo.head, wake = 0;
	struct frame *head = fifo_at(&f->fifo, &cur);

	if (blocked)
		pfd[nfds++] = (struct pollfd){ .fd = f->out->fd, .events = POLLOUT };
	else if (head)
		wake = head->release_ns - EARLY_NS;
	if (f->retry_ns > wake)
		wake = f->retry_ns;
	if (wake) {
		/* A timerfd, not a poll timeout: poll's timeout gets slack of
		 * 0.1 % of its length (325 us on a 325 ms wait); an absolute
		 * timerfd fires on time. */
		struct itimerspec its = { .it_value = { .tv_sec = (time_t)(wake / NS_PER_S),
							.tv_nsec = (long)(wake % NS_PER_S) } };
		if (wake <= now_ns())
			return;
		timerfd_settime(f->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
		pfd[nfds++] = (struct pollfd){ .fd = f->timer_fd, .events = POLLIN };
	}
	if (poll(pfd, nfds, -1) < 0 && errno != EINTR) {
		fprintf(stderr, "wanem: %s: poll failed: %s\n", f->name, strerror(errno));
		exit(1);
	}
}

static void *run(void *arg)
{
	struct forwarder *f = arg;
	char tname[16];

	snprintf(tname, sizeof tname, "wanem-%s", f->name);
	pthread_setname_np(pthread_self(), tname);
	/* Timer slack 1 ns: the default 50 us would blur every release. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	for (;;) {
		bool blocked = transmit_due(f, now_ns());
		int n = recvmmsg(f->in->fd, f->rx_msgs, FWD_BATCH, MSG_DONTWAIT, NULL);

		if (n > 0) {
			receive_batch(f, n);
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			/* ENETDOWN and the like: the interface went away or down;
			 * keep going, it may come back. */
			struct timespec pause = { 0, 10 * 1000 * 1000 };
			nanosleep(&pause, NULL);
			continue;
		}
		wait_for_work(f, blocked);
	}
	return NULL;
}

int forwarder_start(struct forwarder *f)
{
	return pthread_create(&f->thread, NULL, run, f);
}
