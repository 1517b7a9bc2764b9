/* Sockets for both ends: addresses, congestion control, and reads and
 * writes on non-blocking sockets bounded by an absolute deadline, so that
 * no peer (dead, frozen or a misbehaving proxy) can hang a transfer. */
#ifndef XFER_NETIO_H
#define XFER_NETIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* CLOCK_MONOTONIC in nanoseconds: comparable across network namespaces of
 * one machine, which is how client and server timestamps are combined. */
uint64_t now_ns(void);

/* "1.2.3.4:5001" or "[::1]:5001"; numeric only. Returns 0 or -1 with err. */
int addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *len,
	       char *err, size_t errlen);
/* Same syntax back; IPv4-mapped IPv6 addresses are shown as plain IPv4 so
 * a dual-stack server reports what an IPv4 client sees as its own. */
void addr_format(const struct sockaddr *sa, char *out, size_t outlen);
void sock_local(int fd, char *out, size_t outlen);
void sock_peer(int fd, char *out, size_t outlen);

/* setsockopt(TCP_CONGESTION). Returns 0 or -errno. */
int set_cc(int fd, const char *cc);
void get_cc(int fd, char *out, size_t outlen);
/* Checks that `cc` can be set on a socket of this namespace; on failure
 * writes a message naming the available algorithms and returns -1. */
int check_cc(const char *cc, char *err, size_t errlen);

/* "ECONNRESET"; strerror's text for errnos without a short name here. */
const char *errno_name(int err);

#define IO_EOF 1 /* positive: not an errno */

/* Reads up to n bytes: 0 with *got > 0, IO_EOF, or -errno (-ETIMEDOUT when
 * the deadline passes). */
int io_read_some(int fd, void *buf, size_t n, uint64_t deadline, size_t *got);
/* Reads exactly n bytes; *got says how many arrived if it fails. */
int io_read_exact(int fd, void *buf, size_t n, uint64_t deadline, size_t *got);
/* Writes all n bytes; *sent says how many went out if it fails. */
int io_write_all(int fd, const void *buf, size_t n, uint64_t deadline, size_t *sent);
/* Non-blocking connect, finished within the deadline. 0 or -errno. */
int io_connect(int fd, const struct sockaddr *sa, socklen_t len, uint64_t deadline);

#endif
