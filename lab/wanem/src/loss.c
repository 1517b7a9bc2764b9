/* Loss models. Random numbers come from xoshiro256** seeded through
 * splitmix64, so a --seed reproduces the exact loss pattern. */
#include "loss.h"

#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t next(uint64_t s[4])
{
	uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Maps probability f to a threshold: P(draw < threshold) = f, with f = 1
 * always true (threshold UINT64_MAX and the draw compared with <=). */
static uint64_t threshold(double f)
{
	if (f >= 1)
		return UINT64_MAX;
	if (f <= 0)
		return 0;
	return (uint64_t)(f * 18446744073709551616.0); /* 2^64 */
}

static bool chance(struct loss_model *m, uint64_t thr)
{
	if (thr == 0)
		return false;
	if (thr == UINT64_MAX)
		return true;
	return next(m->rng) < thr;
}

void loss_init(struct loss_model *m, const struct loss_spec *spec, uint64_t seed)
{
	memset(m, 0, sizeof *m);
	for (int i = 0; i < 4; i++)
		m->rng[i] = splitmix64(&seed);
	m->kind = spec->kind;
	m->uniform = threshold(spec->uniform);
	m->p = threshold(spec->p);
	m->r = threshold(spec->r);
	m->lose_bad = threshold(1 - spec->h);
	m->lose_good = threshold(1 - spec->k);
}

bool loss_drop(struct loss_model *m)
{
	bool drop;
	switch (m->kind) {
	case LOSS_UNIFORM:
		return chance(m, m->uniform);
	case LOSS_GE:
		/* The frame's fate depends on the state it arrives in; then the
		 * chain steps. So with h = 0 a loss burst lasts 1/r frames on
		 * average and the mean loss is p / (p + r). */
		drop = chance(m, m->bad ? m->lose_bad : m->lose_good);
		if (m->bad) {
			if (chance(m, m->r))
				m->bad = false;
		} else if (chance(m, m->p)) {
			m->bad = true;
		}
		return drop;
	default:
		return false;
	}
}
