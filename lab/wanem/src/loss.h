/* Per-frame loss decision: none, uniform, or Gilbert-Elliott bursts. */
#ifndef WANEM_LOSS_H
#define WANEM_LOSS_H

#include <stdbool.h>
#include <stdint.h>

#include "spec.h"

struct loss_model {
	enum loss_kind kind;
	/* Probabilities as thresholds on a uniform 64-bit draw (see chance()). */
	uint64_t uniform, p, r, lose_bad, lose_good;
	bool bad; /* Gilbert-Elliott state */
	uint64_t rng[4];
};

void loss_init(struct loss_model *m, const struct loss_spec *spec, uint64_t seed);

/* Decides the fate of one frame and advances the model. */
bool loss_drop(struct loss_model *m);

#endif
