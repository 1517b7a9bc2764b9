/* `xfer serve`: the remote end. One thread per connection; each connection
 * carries exactly one transfer (request header, payload, trailer). */
#include <errno.h>
#include <netinet/in.h>
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

/* Per-connection threads only need room for a few small frames; payload
 * buffers are on the heap. Keeps hundreds of connections cheap. */
#define CONN_STACK (256 * 1024)

struct conn {
	int fd;
	const struct serve_opts *o;
	char peer[XFER_ADDR_LEN];
};

static uint64_t idle_deadline(const struct serve_opts *o)
{
	return now_ns() + o->idle_ns;
}

__attribute__((format(printf, 3, 4)))
static void log_conn(const struct conn *c, const struct xfer_header *h, const char *fmt, ...)
{
	char msg[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (h)
		fprintf(stderr, "xfer serve: %s id %u: %s\n", c->peer, h->id, msg);
	else
		fprintf(stderr, "xfer serve: %s: %s\n", c->peer, msg);
}

static void fill_trailer_common(const struct conn *c, struct xfer_trailer *t)
{
	snprintf(t->peer, sizeof t->peer, "%s", c->peer);
	get_cc(c->fd, t->cc, sizeof t->cc);
}

static int send_trailer(const struct conn *c, const struct xfer_trailer *t)
{
	uint8_t buf[XFER_TRAILER_LEN];
	size_t sent;
	trailer_encode(t, buf);
	return io_write_all(c->fd, buf, sizeof buf, idle_deadline(c->o), &sent);
}

/* Reads to EOF so that close() sends a FIN, not a RST that could destroy
 * the trailer still in flight. Returns the number of bytes discarded. */
static uint64_t drain_to_eof(const struct conn *c)
{
	uint8_t buf[4096];
	uint64_t extra = 0;
	for (;;) {
		size_t k;
		int r = io_read_some(c->fd, buf, sizeof buf, idle_deadline(c->o), &k);
		if (r != 0)
			return extra;
		extra += k;
	}
}

static void serve_upload(const struct conn *c, const struct xfer_header *h)
{
	struct xfer_trailer t = { .status = XFER_ST_OK };
	struct payload_check check;
	struct hash hash;
	uint64_t received = 0, extra = 0;
	uint8_t *buf = malloc(IO_CHUNK);

	if (!buf || hash_init(&hash) < 0) {
		log_conn(c, h, "out of memory");
		free(buf);
		return;
	}
	payload_check_init(&check, h->seed);
	if (h->size == 0)
		t.t_last_ns = now_ns(); /* nothing to wait for: the request is the last byte */
	for (;;) {
		size_t k;
		int r = io_read_some(c->fd, buf, IO_CHUNK, idle_deadline(c->o), &k);
		if (r == IO_EOF)
			break;
		if (r < 0) {
			t.status = XFER_ST_IO;
			snprintf(t.msg, sizeof t.msg, "%s after %llu bytes", errno_name(-r),
				 (unsigned long long)(received + extra));
			log_conn(c, h, "upload: %s after %llu bytes received", errno_name(-r),
				 (unsigned long long)(received + extra));
			break;
		}
		uint64_t now = now_ns();
		size_t in = k;
		if (received + k > h->size) {
			in = (size_t)(h->size - received);
			extra += k - in;
		}
		hash_update(&hash, buf, in);
		payload_check_feed(&check, buf, in);
		received += in;
		if (in > 0 && received == h->size)
			t.t_last_ns = now;
	}
	free(buf);
	hash_final(&hash, t.sha);
	hash_free(&hash);
	if (t.status == XFER_ST_IO)
		return; /* the connection is broken: no one to tell */
	if (received < h->size) {
		t.status = XFER_ST_SHORT;
		snprintf(t.msg, sizeof t.msg, "EOF after %llu of %llu bytes",
			 (unsigned long long)received, (unsigned long long)h->size);
	} else if (extra > 0) {
		t.status = XFER_ST_EXTRA;
		snprintf(t.msg, sizeof t.msg, "%llu bytes beyond the announced size",
			 (unsigned long long)extra);
	}
	t.bytes = received + extra;
	t.first_bad = check.first_bad;
	fill_trailer_common(c, &t);
	int r = send_trailer(c, &t);
	if (r < 0)
		log_conn(c, h, "upload: %s sending the trailer", errno_name(-r));
}

static void serve_download(const struct conn *c, const struct xfer_header *h)
{
	struct xfer_trailer t = { .status = XFER_ST_OK, .first_bad = UINT64_MAX };
	struct payload gen;
	struct hash hash;
	uint64_t sent = 0;
	uint8_t *buf = malloc(IO_CHUNK);

	if (!buf || hash_init(&hash) < 0) {
		log_conn(c, h, "out of memory");
		free(buf);
		return;
	}
	payload_init(&gen, h->seed);
	while (sent < h->size) {
		size_t k = h->size - sent < IO_CHUNK ? (size_t)(h->size - sent) : IO_CHUNK;
		size_t w;
		payload_fill(&gen, buf, k);
		hash_update(&hash, buf, k);
		int r = io_write_all(c->fd, buf, k, idle_deadline(c->o), &w);
		if (r < 0) {
			log_conn(c, h, "download: %s after %llu bytes sent", errno_name(-r),
				 (unsigned long long)(sent + w));
			free(buf);
			hash_free(&hash);
			return;
		}
		sent += k;
	}
	free(buf);
	hash_final(&hash, t.sha);
	hash_free(&hash);
	t.bytes = sent;
	fill_trailer_common(c, &t);
	int r = send_trailer(c, &t);
	if (r < 0) {
		log_conn(c, h, "download: %s sending the trailer", errno_name(-r));
		return;
	}
	shutdown(c->fd, SHUT_WR);
	uint64_t extra = drain_to_eof(c);
	if (extra > 0)
		log_conn(c, h, "download: client sent %llu bytes after its request",
			 (unsigned long long)extra);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	uint8_t hb[XFER_HEADER_LEN];
	struct xfer_header h;
	size_t got;
	char err[XFER_MSG_LEN];

	sock_peer(c->fd, c->peer, sizeof c->peer);
	int r = io_read_exact(c->fd, hb, sizeof hb, idle_deadline(c->o), &got);
	if (r != 0) {
		log_conn(c, NULL, "no complete request header (%s after %llu bytes)",
			 r == IO_EOF ? "EOF" : errno_name(-r), (unsigned long long)got);
	} else if (header_decode(hb, &h, err, sizeof err) != XFER_ST_OK) {
		struct xfer_trailer t = { .status = XFER_ST_BAD_HEADER, .first_bad = UINT64_MAX };
		snprintf(t.msg, sizeof t.msg, "%s", err);
		fill_trailer_common(c, &t);
		log_conn(c, NULL, "rejected request: %s", err);
		send_trailer(c, &t);
		shutdown(c->fd, SHUT_WR);
		drain_to_eof(c);
	} else if (h.dir == XFER_UP) {
		serve_upload(c, &h);
	} else {
		serve_download(c, &h);
	}
	close(c->fd);
	free(c);
	return NULL;
}

static void on_term(int sig)
{
	(void)sig;
	_exit(0); /* nothing to flush: each transfer's state lives and dies with its socket */
}

static int write_ready_file(const char *path, const char *addr)
{
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", addr);
	if (fclose(f) != 0)
		return -1;
	/* rename: a watcher never sees a half-written file */
	return rename(tmp, path);
}

static void set_bufs(int fd, int sndbuf, int rcvbuf)
{
	if (sndbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
}

int serve_main(const struct serve_opts *o)
{
	char addr[XFER_ADDR_LEN];
	int one = 1;

	signal(SIGPIPE, SIG_IGN);
	hash_warmup();
	struct sigaction sa = { .sa_handler = on_term };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int lfd = socket(o->listen.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0) {
		fprintf(stderr, "xfer serve: socket: %s\n", strerror(errno));
		return EXIT_TRANSFER_FAILED;
	}
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* Accepted sockets inherit the listener's congestion control and buffers;
	 * they are set again on each accepted socket below to be explicit. */
	if (o->cc && set_cc(lfd, o->cc) < 0) {
		fprintf(stderr, "xfer serve: cannot set --cc %s on the listener\n", o->cc);
		return EXIT_USAGE;
	}
	set_bufs(lfd, o->sndbuf, o->rcvbuf);
	addr_format((const struct sockaddr *)&o->listen, addr, sizeof addr);
	if (bind(lfd, (const struct sockaddr *)&o->listen, o->listen_len) < 0) {
		fprintf(stderr, "xfer serve: cannot listen on %s: %s (%s)\n", addr,
			strerror(errno), errno_name(errno));
		return EXIT_TRANSFER_FAILED;
	}
	if (listen(lfd, SOMAXCONN) < 0) {
		fprintf(stderr, "xfer serve: listen on %s: %s\n", addr, strerror(errno));
		return EXIT_TRANSFER_FAILED;
	}
	sock_local(lfd, addr, sizeof addr); /* the real port when --listen gave port 0 */
	if (o->ready_file && write_ready_file(o->ready_file, addr) < 0) {
		fprintf(stderr, "xfer serve: cannot write --ready-file %s: %s\n", o->ready_file,
			strerror(errno));
		return EXIT_TRANSFER_FAILED;
	}
	fprintf(stderr, "xfer serve: listening on %s\n", addr);

	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, CONN_STACK);
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				fprintf(stderr, "xfer serve: accept: %s; retrying\n", strerror(errno));
				usleep(10000); /* let some connections finish */
			}
			continue; /* EINTR, ECONNABORTED and the like: next one */
		}
		if (o->cc)
			set_cc(fd, o->cc);
		set_bufs(fd, o->sndbuf, o->rcvbuf);
		struct conn *c = calloc(1, sizeof *c);
		pthread_t tid;
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->o = o;
		if (pthread_create(&tid, &attr, conn_main, c) != 0) {
			fprintf(stderr, "xfer serve: cannot start a thread; dropping a connection\n");
			close(fd);
			free(c);
		}
	}
}
