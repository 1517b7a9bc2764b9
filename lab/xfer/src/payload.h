/* Deterministic payload: the bytes of a transfer are a pseudo-random stream
 * keyed by the transfer's seed, so both ends know them without storing them,
 * content is never all-zeros, and any loss, reordering or corruption shows
 * up as a byte that differs from the stream at a known offset.
 *
 * The stream is made of 32-byte blocks; block k is four little-endian
 * 64-bit words, word j being output k of xorshift64* lane j. Four
 * independent lanes let the CPU compute them in parallel (one lane is
 * bound by its serial shift-xor chain to ~3 GB/s; four reach memory speed). */
#ifndef XFER_PAYLOAD_H
#define XFER_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#define PAYLOAD_LANES 4
#define PAYLOAD_BLOCK (PAYLOAD_LANES * 8)

struct payload {
	uint64_t lane[PAYLOAD_LANES];
	uint8_t carry[PAYLOAD_BLOCK]; /* the last generated block */
	unsigned carry_pos;           /* next byte of carry to hand out; PAYLOAD_BLOCK = none */
};

void payload_init(struct payload *p, uint64_t seed);
/* The next n bytes of the stream. */
void payload_fill(struct payload *p, uint8_t *buf, size_t n);

/* Checks received bytes against the stream as they arrive. */
struct payload_check {
	struct payload expect;
	uint64_t offset;    /* stream offset of the next byte to check */
	uint64_t first_bad; /* offset of the first differing byte, UINT64_MAX if none */
	/* Diagnosis (XFER_DUMP_BAD=PREFIX in the environment): the received bytes
	 * from the slice holding the first bad byte on, up to DUMP_BYTES, go to
	 * PREFIX.<seed>.<stream offset of the dump's first byte> for
	 * lab/repro/locate to tell where they came from. */
	uint64_t seed;
	int dump_fd;
	uint64_t dump_left;
};

void payload_check_init(struct payload_check *c, uint64_t seed);
void payload_check_feed(struct payload_check *c, const uint8_t *buf, size_t n);

#endif
