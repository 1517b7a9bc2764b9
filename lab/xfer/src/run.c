/* `xfer run`: the guest end. Runs `count` transfers, at most `parallel` at
 * a time, each on its own connection, and reports what the receiver saw. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netio.h"
#include "payload.h"
#include "xfer.h"

#define NS_PER_S 1e9
#define WORKER_STACK (256 * 1024)

struct xfer_ctx {
	const struct run_opts *o;
	struct result *res;
	int fd;
	uint64_t t0;       /* CLOCK_MONOTONIC just before connect() */
	uint64_t deadline; /* t0 + --timeout */
	uint8_t *buf;      /* IO_CHUNK bytes, allocated before t0 */
	struct hash hash;  /* set up before t0, finalised by do_upload/do_download */
};

__attribute__((format(printf, 2, 3)))
static void fail(struct xfer_ctx *x, const char *fmt, ...)
{
	va_list ap;
	if (x->res->error[0])
		return; /* keep the first cause */
	va_start(ap, fmt);
	vsnprintf(x->res->error, sizeof x->res->error, fmt, ap);
	va_end(ap);
}

/* Reports an I/O error r during `phase`, with how far the transfer got. */
static void fail_io(struct xfer_ctx *x, int r, uint64_t bytes, const char *what)
{
	if (r == -ETIMEDOUT && now_ns() >= x->deadline)
		fail(x, "timeout after %.3g s (--timeout) with %llu of %llu bytes %s",
		     (double)x->o->timeout_ns / NS_PER_S, (unsigned long long)bytes,
		     (unsigned long long)x->o->size, what);
	else
		fail(x, "%s after %llu bytes %s", errno_name(-r), (unsigned long long)bytes, what);
}

static int read_trailer(struct xfer_ctx *x, struct xfer_trailer *t, const char *when)
{
	uint8_t buf[XFER_TRAILER_LEN];
	size_t got;
	int r = io_read_exact(x->fd, buf, sizeof buf, x->deadline, &got);
	if (r == IO_EOF) {
		fail(x, "connection closed %s, %zu of %d trailer bytes received", when, got,
		     XFER_TRAILER_LEN);
		return -1;
	}
	if (r < 0) {
		if (r == -ETIMEDOUT && now_ns() >= x->deadline)
			fail(x, "timeout after %.3g s (--timeout) waiting for the server's trailer",
			     (double)x->o->timeout_ns / NS_PER_S);
		else
			fail(x, "%s waiting for the server's trailer", errno_name(-r));
		return -1;
	}
	if (trailer_decode(buf, t) < 0) {
		fail(x, "the server's reply is not an xfer trailer (stream corrupted, or not an "
			"xfer server at %s)", x->o->to_text);
		return -1;
	}
	snprintf(x->res->peer_saw, sizeof x->res->peer_saw, "%s", t->peer);
	snprintf(x->res->peer_cc, sizeof x->res->peer_cc, "%s", t->cc);
	if (t->status == XFER_ST_BAD_HEADER) {
		fail(x, "the server rejected the request: %s", t->msg);
		return -1;
	}
	return 0;
}

/* After the trailer the server closes: anything else is a protocol error,
 * and a reset instead of a FIN means half-close semantics were broken. */
static void expect_eof(struct xfer_ctx *x)
{
	uint8_t buf[4096];
	uint64_t extra = 0;
	for (;;) {
		size_t k;
		int r = io_read_some(x->fd, buf, sizeof buf, x->deadline, &k);
		if (r == IO_EOF)
			break;
		if (r < 0) {
			if (r == -ETIMEDOUT && now_ns() >= x->deadline)
				fail(x, "timeout after %.3g s (--timeout) waiting for the server to "
					"close after its trailer",
				     (double)x->o->timeout_ns / NS_PER_S);
			else
				fail(x, "%s after the trailer (expected a clean close)",
				     errno_name(-r));
			return;
		}
		extra += k;
	}
	if (extra > 0)
		fail(x, "%llu unexpected bytes after the server's trailer",
		     (unsigned long long)extra);
}

static void do_upload(struct xfer_ctx *x)
{
	struct result *res = x->res;
	struct payload gen;
	struct xfer_trailer t;
	uint64_t sent = 0;
	uint8_t *buf = x->buf;

	payload_init(&gen, res->seed);
	while (sent < res->size) {
		size_t k = res->size - sent < IO_CHUNK ? (size_t)(res->size - sent) : IO_CHUNK;
		size_t w;
		payload_fill(&gen, buf, k);
		hash_update(&x->hash, buf, k);
		int r = io_write_all(x->fd, buf, k, x->deadline, &w);
		if (r < 0) {
			fail_io(x, r, sent + w, "sent");
			break;
		}
		sent += k;
	}
	hash_final(&x->hash, res->sha_sender);
	if (sent < res->size)
		return;
	res->have_sha_sender = 1;
	/* Half-close: the server learns the end of the payload from our FIN and
	 * must still be able to answer on the other half. */
	shutdown(x->fd, SHUT_WR);
	if (read_trailer(x, &t, "before the server's trailer (after all bytes were sent)") < 0)
		return;
	expect_eof(x);
	res->have_bytes = 1;
	res->bytes_received = t.bytes;
	res->first_bad = t.first_bad;
	if (t.status == XFER_ST_IO) {
		fail(x, "the server failed while receiving: %s", t.msg);
		return;
	}
	memcpy(res->sha_receiver, t.sha, HASH_LEN);
	res->have_sha_receiver = 1;
	if (t.status == XFER_ST_OK && t.t_last_ns >= x->t0) {
		res->have_fct = 1;
		res->fct_ns = t.t_last_ns - x->t0;
	}
	if (t.status == XFER_ST_SHORT)
		fail(x, "the server got %s: bytes lost", t.msg);
	else if (t.status == XFER_ST_EXTRA)
		fail(x, "the server got %s: bytes added", t.msg);
	else if (t.status != XFER_ST_OK)
		fail(x, "the server reported status %u: %s", t.status, t.msg);
	else if (t.t_last_ns < x->t0)
		fail(x, "the server's last-byte time is before our connect(): the two ends do "
			"not share CLOCK_MONOTONIC (different machines or time namespaces?)");
}

static void do_download(struct xfer_ctx *x)
{
	struct result *res = x->res;
	struct payload_check check;
	struct xfer_trailer t;
	uint64_t got = 0, t_last = 0;
	uint8_t *buf = x->buf;

	/* Half-close right after the request: the server must keep sending on
	 * the other half (a proxy that closes both halves fails here). */
	shutdown(x->fd, SHUT_WR);
	payload_check_init(&check, res->seed);
	while (got < res->size) {
		size_t want = res->size - got < IO_CHUNK ? (size_t)(res->size - got) : IO_CHUNK;
		size_t k;
		int r = io_read_some(x->fd, buf, want, x->deadline, &k);
		if (r == IO_EOF) {
			fail(x, "EOF after %llu of %llu bytes received (the sender closed early)",
			     (unsigned long long)got, (unsigned long long)res->size);
			break;
		}
		if (r < 0) {
			fail_io(x, r, got, "received");
			break;
		}
		uint64_t now = now_ns();
		hash_update(&x->hash, buf, k);
		payload_check_feed(&check, buf, k);
		got += k;
		if (got == res->size)
			t_last = now;
	}
	hash_final(&x->hash, res->sha_receiver);
	res->have_bytes = 1;
	res->bytes_received = got;
	res->first_bad = check.first_bad;
	if (got < res->size)
		return;
	res->have_sha_receiver = 1;
	if (read_trailer(x, &t, "after the payload, before the server's trailer") < 0)
		return;
	if (res->size == 0)
		t_last = now_ns(); /* no payload byte: the trailer is what completes it */
	memcpy(res->sha_sender, t.sha, HASH_LEN);
	res->have_sha_sender = 1;
	res->have_fct = 1;
	res->fct_ns = t_last - x->t0;
	expect_eof(x);
	if (t.bytes != res->size)
		fail(x, "the server says it sent %llu bytes, %llu were asked for",
		     (unsigned long long)t.bytes, (unsigned long long)res->size);
}

void run_one(const struct run_opts *o, uint32_t id, struct result *res)
{
	struct xfer_ctx x = { .o = o, .res = res, .fd = -1 };
	uint8_t hb[XFER_HEADER_LEN];
	size_t sent;

	memset(res, 0, sizeof *res);
	res->id = id;
	res->size = o->size;
	res->seed = o->seed + id;
	res->first_bad = UINT64_MAX;
	snprintf(res->remote, sizeof res->remote, "%s", o->to_text);

	x.fd = socket(o->to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (x.fd < 0) {
		fail(&x, "socket: %s", strerror(errno));
		goto out;
	}
	if (o->cc) {
		int r = set_cc(x.fd, o->cc);
		if (r < 0) {
			fail(&x, "cannot set --cc %s: %s", o->cc, errno_name(-r));
			goto out;
		}
	}
	if (o->sndbuf > 0)
		setsockopt(x.fd, SOL_SOCKET, SO_SNDBUF, &o->sndbuf, sizeof o->sndbuf);
	if (o->rcvbuf > 0)
		setsockopt(x.fd, SOL_SOCKET, SO_RCVBUF, &o->rcvbuf, sizeof o->rcvbuf);
	get_cc(x.fd, res->cc, sizeof res->cc);
	x.buf = malloc(IO_CHUNK);
	if (!x.buf || hash_init(&x.hash) < 0) {
		fail(&x, "out of memory");
		goto out;
	}
	memset(x.buf, 0, IO_CHUNK); /* fault the pages in now, not inside the timed part */

	x.t0 = now_ns();
	x.deadline = x.t0 + o->timeout_ns;
	int r = io_connect(x.fd, (const struct sockaddr *)&o->to, o->to_len, x.deadline);
	if (r < 0) {
		if (r == -ETIMEDOUT && now_ns() >= x.deadline)
			fail(&x, "timeout after %.3g s (--timeout) connecting to %s",
			     (double)o->timeout_ns / NS_PER_S, o->to_text);
		else if (r == -ECONNREFUSED)
			fail(&x, "ECONNREFUSED: connection to %s refused (is xfer serve running "
				 "there?)", o->to_text);
		else
			fail(&x, "%s: cannot connect to %s", errno_name(-r), o->to_text);
		goto out;
	}
	res->have_connect = 1;
	res->connect_ns = now_ns() - x.t0;
	sock_local(x.fd, res->local, sizeof res->local);

	struct xfer_header h = { .dir = o->dir, .id = id, .size = o->size, .seed = res->seed };
	header_encode(&h, hb);
	r = io_write_all(x.fd, hb, sizeof hb, x.deadline, &sent);
	if (r < 0) {
		fail_io(&x, r, 0, "sent (writing the request header)");
		goto out;
	}
	if (o->dir == XFER_UP)
		do_upload(&x);
	else
		do_download(&x);

	if (res->first_bad != UINT64_MAX)
		fail(&x, "payload corrupted: first byte off the seeded stream at offset %llu",
		     (unsigned long long)res->first_bad);
	if (res->have_sha_sender && res->have_sha_receiver &&
	    memcmp(res->sha_sender, res->sha_receiver, HASH_LEN) != 0)
		fail(&x, "SHA-256 mismatch between sender and receiver");
	if (res->have_bytes && res->bytes_received != res->size)
		fail(&x, "received %llu bytes, expected %llu",
		     (unsigned long long)res->bytes_received, (unsigned long long)res->size);
out:
	if (x.fd >= 0)
		close(x.fd);
	free(x.buf);
	if (x.hash.ctx)
		hash_free(&x.hash);
	res->ok = res->error[0] == '\0' && res->have_fct && res->have_sha_sender &&
		  res->have_sha_receiver;
	if (!res->ok && !res->error[0])
		fail(&x, "incomplete transfer (internal: no error recorded)");
}

struct pool {
	const struct run_opts *o;
	struct result *results;
	uint32_t next; /* next transfer id to start; taken atomically */
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	for (;;) {
		uint32_t id = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED);
		if (id >= p->o->count)
			return NULL;
		run_one(p->o, id, &p->results[id]);
	}
}

int run_main(const struct run_opts *o)
{
	struct pool p = { .o = o, .next = 0 };
	uint32_t nthreads = o->parallel < o->count ? o->parallel : o->count;
	pthread_t *tids = calloc(nthreads, sizeof *tids);

	signal(SIGPIPE, SIG_IGN);
	hash_warmup();
	p.results = calloc(o->count, sizeof *p.results);
	if (!p.results || !tids) {
		fprintf(stderr, "xfer run: out of memory for %u transfers\n", o->count);
		return EXIT_TRANSFER_FAILED;
	}
	/* Workers keep only small frames on the stack (buffers are on the
	 * heap), so a small stack lets --parallel 4096 stay cheap. */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	uint64_t t0 = now_ns();
	uint32_t started = 0;
	for (; started < nthreads; started++)
		if (pthread_create(&tids[started], &attr, worker, &p) != 0)
			break;
	pthread_attr_destroy(&attr);
	if (started == 0)
		worker(&p); /* no threads to be had: run them one by one here */
	for (uint32_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	uint64_t wall = now_ns() - t0;

	report_print(o, p.results, wall);
	int all_ok = 1;
	for (uint32_t i = 0; i < o->count; i++)
		all_ok &= p.results[i].ok;
	free(p.results);
	free(tids);
	return all_ok ? 0 : EXIT_TRANSFER_FAILED;
}
