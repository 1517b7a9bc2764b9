#include "payload.h"

#include <string.h>

/* splitmix64 turns any seed (0 included) into a well-mixed xorshift state. */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

void payload_init(struct payload *p, uint64_t seed)
{
	p->state = splitmix64(seed);
	if (p->state == 0) /* xorshift's one fixed point: it would emit zeros forever */
		p->state = 0x9E3779B97F4A7C15ull;
	p->carry_pos = sizeof p->carry;
}

/* xorshift64* (Vigna), shifts 12/25/27 and its published multiplier. */
static uint64_t next_word(struct payload *p)
{
	uint64_t x = p->state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	p->state = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Words are laid out little-endian whatever the host, so the stream is the
 * same on every machine (the README documents it). */
static void store_le64(uint8_t *b, uint64_t w)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(w >> (8 * i));
}

void payload_fill(struct payload *p, uint8_t *buf, size_t n)
{
	while (n > 0 && p->carry_pos < sizeof p->carry) {
		*buf++ = p->carry[p->carry_pos++];
		n--;
	}
	while (n >= 8) {
		store_le64(buf, next_word(p));
		buf += 8;
		n -= 8;
	}
	if (n > 0) {
		store_le64(p->carry, next_word(p));
		memcpy(buf, p->carry, n);
		p->carry_pos = (unsigned)n;
	}
}

void payload_check_init(struct payload_check *c, uint64_t seed)
{
	payload_init(&c->expect, seed);
	c->offset = 0;
	c->first_bad = UINT64_MAX;
}

/* Compare in slices of this size: big enough for memcmp to run at memory
 * speed, small enough to live on the stack. */
#define CHECK_SLICE 16384

void payload_check_feed(struct payload_check *c, const uint8_t *buf, size_t n)
{
	uint8_t exp[CHECK_SLICE];

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
		}
		c->offset += k;
		buf += k;
		n -= k;
	}
	c->offset += n;
}
