#include "payload.h"

#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* splitmix64 (Vigna): the usual way to seed xorshift lanes from one seed;
 * any seed, 0 included, gives well-mixed, distinct lane states. */
static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void payload_init(struct payload *p, uint64_t seed)
{
	uint64_t sm = seed;
	for (int j = 0; j < PAYLOAD_LANES; j++) {
		p->lane[j] = splitmix64(&sm);
		if (p->lane[j] == 0) /* xorshift's one fixed point: it would emit zeros forever */
			p->lane[j] = 0x9E3779B97F4A7C15ull;
	}
	p->carry_pos = PAYLOAD_BLOCK;
}

/* xorshift64* (Vigna), shifts 12/25/27 and its published multiplier. */
static inline uint64_t next_word(uint64_t *state)
{
	uint64_t x = *state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Words are laid out little-endian whatever the host, so the stream is the
 * same on every machine (the README documents it). */
static inline void store_le64(uint8_t *b, uint64_t w)
{
	w = htole64(w);
	memcpy(b, &w, sizeof w); /* one unaligned store, not eight byte stores */
}

static inline void next_block(struct payload *p, uint8_t *out)
{
	for (int j = 0; j < PAYLOAD_LANES; j++)
		store_le64(out + 8 * j, next_word(&p->lane[j]));
}

void payload_fill(struct payload *p, uint8_t *buf, size_t n)
{
	while (n > 0 && p->carry_pos < PAYLOAD_BLOCK) {
		*buf++ = p->carry[p->carry_pos++];
		n--;
	}
	if (n >= PAYLOAD_BLOCK) {
		/* Lanes in locals: through p the compiler must assume buf may alias
		 * them and reloads each state from memory, serialising the lanes. */
		uint64_t s0 = p->lane[0], s1 = p->lane[1], s2 = p->lane[2], s3 = p->lane[3];
		_Static_assert(PAYLOAD_LANES == 4, "the loop below is written for 4 lanes");
		while (n >= PAYLOAD_BLOCK) {
			store_le64(buf, next_word(&s0));
			store_le64(buf + 8, next_word(&s1));
			store_le64(buf + 16, next_word(&s2));
			store_le64(buf + 24, next_word(&s3));
			buf += PAYLOAD_BLOCK;
			n -= PAYLOAD_BLOCK;
		}
		p->lane[0] = s0;
		p->lane[1] = s1;
		p->lane[2] = s2;
		p->lane[3] = s3;
	}
	if (n > 0) {
		next_block(p, p->carry);
		memcpy(buf, p->carry, n);
		p->carry_pos = (unsigned)n;
	}
}

void payload_check_init(struct payload_check *c, uint64_t seed)
{
	payload_init(&c->expect, seed);
	c->offset = 0;
	c->first_bad = UINT64_MAX;
	c->seed = seed;
	c->dump_fd = -1;
	c->dump_left = 0;
}

/* How much a diagnosis dump holds: enough to see where a bad run ends. */
#define DUMP_BYTES (8u << 20)

static void dump_write(struct payload_check *c, const uint8_t *buf, size_t n)
{
	if (c->dump_fd < 0 || c->dump_left == 0)
		return;
	if (n > c->dump_left)
		n = (size_t)c->dump_left;
	if (write(c->dump_fd, buf, n) != (ssize_t)n) {
		close(c->dump_fd);
		c->dump_fd = -1;
		return;
	}
	c->dump_left -= n;
	if (c->dump_left == 0) {
		close(c->dump_fd);
		c->dump_fd = -1;
	}
}

static void dump_open(struct payload_check *c, uint64_t offset)
{
	const char *prefix = getenv("XFER_DUMP_BAD");
	char path[4096];

	if (!prefix || !*prefix)
		return;
	snprintf(path, sizeof path, "%s.%llu.%llu", prefix, (unsigned long long)c->seed,
		 (unsigned long long)offset);
	c->dump_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	c->dump_left = DUMP_BYTES;
}

/* Compare in slices of this size: big enough for memcmp to run at memory
 * speed, small enough to live on the stack. */
#define CHECK_SLICE 16384

void payload_check_feed(struct payload_check *c, const uint8_t *buf, size_t n)
{
	uint8_t exp[CHECK_SLICE];

	if (c->first_bad != UINT64_MAX)
		dump_write(c, buf, n);

	/* After the first difference the rest carries no more information
	 * (everything after a lost byte differs), so stop paying for it. */
	while (n > 0 && c->first_bad == UINT64_MAX) {
		size_t k = n < sizeof exp ? n : sizeof exp;
		payload_fill(&c->expect, exp, k);
		if (memcmp(exp, buf, k) != 0) {
			size_t i = 0;
			while (exp[i] == buf[i])
				i++;
			c->first_bad = c->offset + i;
			dump_open(c, c->offset);
			dump_write(c, buf, n);
		}
		c->offset += k;
		buf += k;
		n -= k;
	}
	c->offset += n;
}
