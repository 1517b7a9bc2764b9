#include "link.h"

#include <string.h>

#define NS_PER_S 1000000000ULL
#define BITS_PER_BYTE 8

void link_init(struct link *l, const struct link_spec *spec, uint64_t seed)
{
	memset(l, 0, sizeof *l);
	l->spec = *spec;
	loss_init(&l->loss, &spec->loss, seed);
}

uint64_t link_queue(const struct link *l, uint64_t now_ns)
{
	if (l->spec.rate_bps == 0)
		/* Nothing waits for a serializer; the limit then bounds the
		 * bytes travelling through the delay line. */
		return l->held;
	if (l->end_ns <= now_ns)
		return 0;
	return (uint64_t)((unsigned __int128)(l->end_ns - now_ns) * l->spec.rate_bps
			  / (BITS_PER_BYTE * NS_PER_S));
}

enum verdict link_offer(struct link *l, uint64_t now_ns, uint32_t bytes, uint64_t *release_ns)
{
	uint64_t queued;

	/* Loss acts on the wire side, before the queue: a lost frame takes
	 * no queue room (as netem does). */
	if (loss_drop(&l->loss))
		return DROP_LOSS;
	queued = link_queue(l, now_ns) + bytes;
	if (queued > l->spec.queue_bytes)
		return DROP_QUEUE;
	if (queued > l->max_queue)
		l->max_queue = queued;
	l->held += bytes;

	if (l->spec.rate_bps == 0) {
		*release_ns = now_ns + l->spec.delay_ns;
		return ADMIT;
	}
	if (l->end_ns < now_ns) {
		l->end_ns = now_ns;
		l->end_carry = 0;
	}
	/* Serialization time in ns = bytes * 8e9 / rate, kept exact by
	 * carrying the remainder to the next frame. */
	unsigned __int128 num = (unsigned __int128)bytes * BITS_PER_BYTE * NS_PER_S + l->end_carry;
	l->end_ns += (uint64_t)(num / l->spec.rate_bps);
	l->end_carry = (uint64_t)(num % l->spec.rate_bps);
	*release_ns = l->end_ns + l->spec.delay_ns;
	return ADMIT;
}

void link_sent(struct link *l, uint32_t bytes)
{
	l->held -= bytes;
}
