/* Wire format between `xfer run` and `xfer serve` (see README.md).
 * All integers are big-endian; text fields are NUL-padded ASCII. */
#ifndef XFER_PROTO_H
#define XFER_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

#define XFER_MAGIC 0x58465231u         /* "XFR1": request header */
#define XFER_TRAILER_MAGIC 0x58465254u /* "XFRT": server's trailer */
#define XFER_VERSION 1

enum xfer_dir { XFER_UP = 1, XFER_DOWN = 2 };

/* magic 4, version 2, dir 1, reserved 1, id 4, reserved 4, size 8, seed 8 */
#define XFER_HEADER_LEN 32

struct xfer_header {
	uint8_t dir;
	uint32_t id;
	uint64_t size;
	uint64_t seed;
};

/* Trailer status: what the server concluded about the transfer. */
enum xfer_status {
	XFER_ST_OK = 0,
	XFER_ST_BAD_HEADER = 1, /* magic, version or dir not understood */
	XFER_ST_SHORT = 2,      /* upload: EOF before `size` bytes */
	XFER_ST_EXTRA = 3,      /* upload: bytes after `size` before EOF */
	XFER_ST_IO = 4,         /* upload: read error or timeout on the server */
};

#define XFER_ADDR_LEN 64 /* "[v6 address]:port" fits in 48; room to spare */
#define XFER_CC_LEN 16   /* TCP_CA_NAME_MAX in the kernel */
#define XFER_MSG_LEN 112

/* magic 4, version 2, status 2, bytes 8, t_last_ns 8, first_bad 8,
 * sha256 32, peer 64, cc 16, msg 112 */
#define XFER_TRAILER_LEN 256

struct xfer_trailer {
	uint16_t status;
	uint64_t bytes;     /* upload: payload bytes received; download: sent */
	uint64_t t_last_ns; /* upload: server CLOCK_MONOTONIC at the last byte; download: 0 */
	uint64_t first_bad; /* upload: offset of the first byte off the stream, UINT64_MAX if none */
	uint8_t sha[HASH_LEN]; /* upload: of bytes received; download: of bytes sent */
	char peer[XFER_ADDR_LEN]; /* getpeername() as the server saw it */
	char cc[XFER_CC_LEN];     /* congestion control of the server's socket */
	char msg[XFER_MSG_LEN];   /* human detail when status != OK */
};

void header_encode(const struct xfer_header *h, uint8_t out[XFER_HEADER_LEN]);
/* Returns an xfer_status: OK, or BAD_HEADER with a reason in err. */
int header_decode(const uint8_t in[XFER_HEADER_LEN], struct xfer_header *h,
		  char *err, size_t errlen);

void trailer_encode(const struct xfer_trailer *t, uint8_t out[XFER_TRAILER_LEN]);
/* Returns 0, or -1 if the bytes are not a trailer (bad magic or version). */
int trailer_decode(const uint8_t in[XFER_TRAILER_LEN], struct xfer_trailer *t);

#endif
