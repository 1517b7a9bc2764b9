#include "netio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int parse_port(const char *s, uint16_t *port)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len,
	       char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port_s;
	uint16_t port;

	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
			goto bad;
		memcpy(host, s + 1, (size_t)(close - s - 1));
		host[close - s - 1] = '\0';
		port_s = close + 2;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1 || parse_port(port_s, &port))
			goto bad;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof *a6;
		return 0;
	}
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof host || strchr(s, ':') != colon)
		goto bad;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port_s = colon + 1;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) != 1 || parse_port(port_s, &port))
		goto bad;
	a4->sin_family = AF_INET;
	a4->sin_port = htons(port);
	*len = sizeof *a4;
	return 0;
bad:
	snprintf(err, errlen,
		 "'%s' is not a numeric address with a port: use 10.0.0.2:5001 or [fd00::2]:5001",
		 s);
	return -1;
}

void addr_format(const struct sockaddr *sa, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *a4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
		snprintf(out, outlen, "%s:%u", host, ntohs(a4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
			/* the IPv4 address is the last 4 of the 16 bytes */
			inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], host, sizeof host);
			snprintf(out, outlen, "%s:%u", host, ntohs(a6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
			snprintf(out, outlen, "[%s]:%u", host, ntohs(a6->sin6_port));
		}
	} else {
		snprintf(out, outlen, "?");
	}
}

void sock_local(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		addr_format((struct sockaddr *)&ss, out, outlen);
	else
		snprintf(out, outlen, "?");
}

void sock_peer(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
		addr_format((struct sockaddr *)&ss, out, outlen);
	else
		snprintf(out, outlen, "?");
}

int set_cc(int fd, const char *cc)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, cc, (socklen_t)strlen(cc)) < 0)
		return -errno;
	return 0;
}

void get_cc(int fd, char *out, size_t outlen)
{
	char buf[64] = "";
	socklen_t len = sizeof buf - 1;
	if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, buf, &len) < 0)
		buf[0] = '\0';
	snprintf(out, outlen, "%s", buf);
}

static void read_available_cc(char *out, size_t outlen)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_available_congestion_control", "r");
	out[0] = '\0';
	if (!f)
		return;
	if (fgets(out, (int)outlen, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

int check_cc(const char *cc, char *err, size_t errlen)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open a TCP socket to check --cc: %s", strerror(errno));
		return -1;
	}
	int r = set_cc(fd, cc);
	close(fd);
	if (r == 0)
		return 0;
	char avail[256];
	read_available_cc(avail, sizeof avail);
	if (r == -ENOENT)
		snprintf(err, errlen,
			 "--cc %s: no such congestion control in this kernel; available: %s",
			 cc, avail[0] ? avail : "(unknown)");
	else if (r == -EPERM)
		snprintf(err, errlen,
			 "--cc %s: not allowed here (EPERM); run as root or add it to "
			 "net.ipv4.tcp_allowed_congestion_control",
			 cc);
	else
		snprintf(err, errlen, "--cc %s: %s", cc, strerror(-r));
	return -1;
}

const char *errno_name(int err)
{
	switch (err) {
	case ECONNRESET: return "ECONNRESET";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNABORTED: return "ECONNABORTED";
	case ETIMEDOUT: return "ETIMEDOUT";
	case EPIPE: return "EPIPE";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ENETUNREACH: return "ENETUNREACH";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case EADDRINUSE: return "EADDRINUSE";
	case ENOBUFS: return "ENOBUFS";
	case ENOMEM: return "ENOMEM";
	case EMFILE: return "EMFILE";
	case EACCES: return "EACCES";
	case EPERM: return "EPERM";
	case EINVAL: return "EINVAL";
	default: return strerror(err);
	}
}

/* Waits for `events` until the deadline: 0, or -ETIMEDOUT / -errno. */
static int wait_for(int fd, short events, uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		uint64_t left_ms = (deadline - now + NS_PER_MS - 1) / NS_PER_MS;
		struct pollfd p = { .fd = fd, .events = events };
		int r = poll(&p, 1, left_ms > INT32_MAX ? INT32_MAX : (int)left_ms);
		if (r > 0)
			return 0; /* errors (POLLERR/POLLHUP) surface in the next read/write */
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

int io_read_some(int fd, void *buf, size_t n, uint64_t deadline, size_t *got)
{
	*got = 0;
	for (;;) {
		ssize_t r = read(fd, buf, n);
		if (r > 0) {
			*got = (size_t)r;
			return 0;
		}
		if (r == 0)
			return IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int w = wait_for(fd, POLLIN, deadline);
		if (w < 0)
			return w;
	}
}

int io_read_exact(int fd, void *buf, size_t n, uint64_t deadline, size_t *got)
{
	*got = 0;
	while (*got < n) {
		size_t k;
		int r = io_read_some(fd, (uint8_t *)buf + *got, n - *got, deadline, &k);
		if (r != 0)
			return r;
		*got += k;
	}
	return 0;
}

int io_write_all(int fd, const void *buf, size_t n, uint64_t deadline, size_t *sent)
{
	*sent = 0;
	while (*sent < n) {
		/* MSG_NOSIGNAL: a reset peer must be an error, not a SIGPIPE */
		ssize_t r = send(fd, (const uint8_t *)buf + *sent, n - *sent, MSG_NOSIGNAL);
		if (r > 0) {
			*sent += (size_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int w = wait_for(fd, POLLOUT, deadline);
		if (w < 0)
			return w;
	}
	return 0;
}

int io_connect(int fd, const struct sockaddr *sa, socklen_t len, uint64_t deadline)
{
	if (connect(fd, sa, len) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	int w = wait_for(fd, POLLOUT, deadline);
	if (w < 0)
		return w;
	int soerr = 0;
	socklen_t sl = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return -errno;
	return soerr ? -soerr : 0;
}
