/* One direction's link settings, parsed from a SPEC string such as
 * "rate=10mbit,delay=325ms,queue=406250,loss=1%". */
#ifndef WANEM_SPEC_H
#define WANEM_SPEC_H

#include <stddef.h>
#include <stdint.h>

enum loss_kind { LOSS_NONE, LOSS_UNIFORM, LOSS_GE };

/* Probabilities are fractions in [0, 1]. Gilbert-Elliott as in netem's
 * "gemodel": p = P(good -> bad), r = P(bad -> good), h = P(frame delivered
 * while bad), k = P(frame delivered while good). */
struct loss_spec {
	enum loss_kind kind;
	double uniform;
	double p, r, h, k;
};

struct link_spec {
	uint64_t rate_bps;    /* 0 = unlimited */
	uint64_t delay_ns;    /* one way */
	uint64_t queue_bytes; /* always set after spec_parse (default filled in) */
	struct loss_spec loss;
};

/* Parses text into *out. On error returns -1 and writes one sentence naming
 * the bad value and what is allowed into err. */
int spec_parse(const char *text, struct link_spec *out, char *err, size_t errlen);

/* The queue used when the SPEC names none: one bandwidth-delay product
 * (rate x 2 x delay), at least QUEUE_MIN_BYTES; with no rate QUEUE_NO_RATE_BYTES. */
uint64_t spec_default_queue(uint64_t rate_bps, uint64_t delay_ns);

#define QUEUE_MIN_BYTES     (64ULL * 1024)
#define QUEUE_NO_RATE_BYTES (64ULL * 1024 * 1024)

#endif
