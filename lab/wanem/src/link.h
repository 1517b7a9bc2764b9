/* The emulated link of one direction: a tail-drop queue in front of a
 * serializer running at the rate, then a fixed propagation delay.
 *
 *   arrival --loss--> [queue <= limit] --rate--> [delay] --> release
 *
 * The serializer is exact, not a token bucket: frame i finishes at
 *   end_i = max(arrival_i, end_{i-1}) + bytes_i * 8 / rate
 * and leaves the emulator at release_i = end_i + delay. The queue holds the
 * bytes not yet serialized, which is (end_last - now) * rate / 8, so it is
 * known without per-frame bookkeeping. Sizes are "packet bytes": the frame
 * without its 14-byte Ethernet header, as an IP link counts them. */
#ifndef WANEM_LINK_H
#define WANEM_LINK_H

#include <stdint.h>

#include "loss.h"
#include "spec.h"

enum verdict { ADMIT, DROP_LOSS, DROP_QUEUE };

struct link {
	struct link_spec spec;
	struct loss_model loss;
	uint64_t end_ns;    /* when the serializer finishes its last frame */
	uint64_t end_carry; /* sub-nanosecond remainder of end_ns, in 1/rate ns units */
	uint64_t held;      /* packet bytes admitted and not yet sent (no-rate queue) */
	uint64_t max_queue; /* high-water mark of the queue, packet bytes */
};

void link_init(struct link *l, const struct link_spec *spec, uint64_t seed);

/* Decides one frame arriving at now_ns; on ADMIT sets *release_ns. */
enum verdict link_offer(struct link *l, uint64_t now_ns, uint32_t bytes, uint64_t *release_ns);

/* The frame of that size has left the emulator. */
void link_sent(struct link *l, uint32_t bytes);

/* Queue occupancy at now_ns, packet bytes. */
uint64_t link_queue(const struct link *l, uint64_t now_ns);

#endif
