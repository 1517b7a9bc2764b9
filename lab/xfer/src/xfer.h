/* The two verbs and their options. */
#ifndef XFER_H
#define XFER_H

#include <stdint.h>
#include <sys/socket.h>

#include "hash.h"
#include "proto.h"

/* Exit codes: 0 every transfer ok; 1 some transfer failed (or the server
 * could not start); 2 bad arguments. */
#define EXIT_TRANSFER_FAILED 1
#define EXIT_USAGE 2

/* Payload moves through buffers of this size: large enough that syscalls
 * and hashing calls are amortised, small enough to stay in L2. */
#define IO_CHUNK (256 * 1024)

struct serve_opts {
	struct sockaddr_storage listen;
	socklen_t listen_len;
	const char *ready_file;
	const char *cc;
	int sndbuf, rcvbuf;  /* 0 = kernel default */
	uint64_t idle_ns;    /* drop a connection silent for this long */
};

struct run_opts {
	struct sockaddr_storage to;
	socklen_t to_len;
	const char *to_text;
	uint8_t dir;
	uint64_t size;
	uint32_t count;
	uint32_t parallel;
	const char *cc;
	int sndbuf, rcvbuf;
	uint64_t timeout_ns; /* per transfer, from connect() to the close */
	uint64_t seed;       /* transfer i uses seed + i */
	int json;
};

/* One transfer as the client saw it. */
struct result {
	uint32_t id;
	uint64_t size;
	uint64_t seed;
	int ok;
	char error[256];
	int have_fct;
	uint64_t fct_ns;
	int have_connect;
	uint64_t connect_ns;
	int have_sha_sender, have_sha_receiver;
	uint8_t sha_sender[HASH_LEN], sha_receiver[HASH_LEN];
	int have_bytes;
	uint64_t bytes_received;
	uint64_t first_bad; /* UINT64_MAX: none seen (or not checked) */
	char local[XFER_ADDR_LEN], remote[XFER_ADDR_LEN], peer_saw[XFER_ADDR_LEN];
	char cc[XFER_CC_LEN], peer_cc[XFER_CC_LEN];
};

int serve_main(const struct serve_opts *o);
int run_main(const struct run_opts *o);
void run_one(const struct run_opts *o, uint32_t id, struct result *res);
void report_print(const struct run_opts *o, const struct result *res, uint64_t wall_ns);

#endif
