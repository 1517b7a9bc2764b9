/* SPEC parsing: comma-separated key=value, every key optional. */
#include "spec.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Upper bounds that keep the 64/128-bit schedule arithmetic far from
 * overflow and catch typos (a delay of an hour is not a WAN). */
#define RATE_MAX_BPS   100e9
#define DELAY_MAX_NS   3600e9
#define QUEUE_MAX      (4ULL << 30)
/* A queue smaller than one full-size Ethernet payload would drop every
 * large frame. */
#define QUEUE_MIN_SET  1500

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Reads a finite non-negative decimal number; *rest points after it. */
static int number(const char *s, double *v, const char **rest)
{
	char *end;
	if (*s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	*v = strtod(s, &end);
	if (end == s || !isfinite(*v) || *v < 0)
		return -1;
	/* strtod accepts hex and "inf"; only plain decimals are allowed. */
	for (const char *c = s; c < end; c++)
		if (!((*c >= '0' && *c <= '9') || *c == '.' || *c == 'e' || *c == 'E'))
			return -1;
	*rest = end;
	return 0;
}

static int parse_rate(const char *s, uint64_t *bps)
{
	static const struct { const char *unit; double mult; } units[] = {
		{ "", 1 }, { "bit", 1 }, { "kbit", 1e3 }, { "mbit", 1e6 }, { "gbit", 1e9 },
	};
	double v;
	const char *unit;
	if (number(s, &v, &unit))
		return -1;
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(unit, units[i].unit) == 0) {
			double r = v * units[i].mult;
			if (r > RATE_MAX_BPS || (r > 0 && r < 1))
				return -1;
			*bps = (uint64_t)llround(r);
			return 0;
		}
	}
	return -1;
}

static int parse_delay(const char *s, uint64_t *ns)
{
	static const struct { const char *unit; double mult; } units[] = {
		{ "s", 1e9 }, { "ms", 1e6 }, { "us", 1e3 },
	};
	double v;
	const char *unit;
	if (number(s, &v, &unit))
		return -1;
	if (*unit == '\0' && v == 0) {
		*ns = 0;
		return 0;
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(unit, units[i].unit) == 0) {
			double d = v * units[i].mult;
			if (d > DELAY_MAX_NS)
				return -1;
			*ns = (uint64_t)llround(d);
			return 0;
		}
	}
	return -1;
}

static int parse_queue(const char *s, uint64_t *bytes)
{
	double v;
	const char *unit;
	double mult;
	if (number(s, &v, &unit))
		return -1;
	if (*unit == '\0')
		mult = 1;
	else if (strcasecmp(unit, "k") == 0)
		mult = 1024;
	else if (strcasecmp(unit, "m") == 0)
		mult = 1024 * 1024;
	else
		return -1;
	v *= mult;
	if (v < QUEUE_MIN_SET || v > (double)QUEUE_MAX || v != floor(v))
		return -1;
	*bytes = (uint64_t)v;
	return 0;
}

/* "N%" with 0 <= N <= 100, as a fraction. */
static int parse_percent(const char *s, size_t len, double *frac)
{
	char buf[64];
	double v;
	const char *rest;
	if (len == 0 || len >= sizeof buf)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (number(buf, &v, &rest) || strcmp(rest, "%") != 0 || v > 100)
		return -1;
	*frac = v / 100;
	return 0;
}

#define GE_USAGE "use loss=ge:p=P%[:r=R%][:h=H%][:k=K%] (p = good->bad, r = bad->good, " \
	"h = delivery probability in bad state, k = in good state; defaults r=100%-p, h=0%, k=100%)"

static int parse_ge(const char *s, struct loss_spec *l, char *err, size_t errlen)
{
	int have_p = 0, have_r = 0;
	const char *c = s;
	l->h = 0;
	l->k = 1;
	while (*c) {
		const char *end = strchr(c, ':');
		size_t len = end ? (size_t)(end - c) : strlen(c);
		double *dst;
		if (len > 2 && c[1] == '=' && (c[0] == 'p' || c[0] == 'r' || c[0] == 'h' || c[0] == 'k')) {
			dst = c[0] == 'p' ? &l->p : c[0] == 'r' ? &l->r : c[0] == 'h' ? &l->h : &l->k;
			if (parse_percent(c + 2, len - 2, dst))
				return fail(err, errlen, "bad Gilbert-Elliott parameter '%.*s': values are percentages 0%%..100%%; %s",
					    (int)len, c, GE_USAGE);
			have_p |= c[0] == 'p';
			have_r |= c[0] == 'r';
		} else {
			return fail(err, errlen, "bad Gilbert-Elliott parameter '%.*s': %s", (int)len, c, GE_USAGE);
		}
		c += len;
		if (*c == ':')
			c++;
	}
	if (!have_p)
		return fail(err, errlen, "bad loss 'ge:%s': p is required; %s", s, GE_USAGE);
	if (!have_r)
		l->r = 1 - l->p;
	if (l->p == 0 && l->r == 0)
		return fail(err, errlen, "bad loss 'ge:%s': p and r cannot both be 0%%; %s", s, GE_USAGE);
	l->kind = LOSS_GE;
	return 0;
}

static int parse_loss(const char *s, struct loss_spec *l, char *err, size_t errlen)
{
	memset(l, 0, sizeof *l);
	if (strncmp(s, "ge:", 3) == 0)
		return parse_ge(s + 3, l, err, errlen);
	if (parse_percent(s, strlen(s), &l->uniform))
		return fail(err, errlen, "bad loss '%s': use a percentage 0%%..100%% (e.g. loss=1%%) or %s", s, GE_USAGE);
	l->kind = l->uniform > 0 ? LOSS_UNIFORM : LOSS_NONE;
	return 0;
}

uint64_t spec_default_queue(uint64_t rate_bps, uint64_t delay_ns)
{
	if (rate_bps == 0)
		return QUEUE_NO_RATE_BYTES;
	/* bytes = rate [bit/s] * 2 * delay [ns] / 8 / 1e9 */
	unsigned __int128 bdp = (unsigned __int128)rate_bps * 2 * delay_ns / 8 / 1000000000ULL;
	if (bdp < QUEUE_MIN_BYTES)
		return QUEUE_MIN_BYTES;
	if (bdp > QUEUE_MAX)
		return QUEUE_MAX;
	return (uint64_t)bdp;
}

int spec_parse(const char *text, struct link_spec *out, char *err, size_t errlen)
{
	char *copy = strdup(text), *save = NULL;
	int have_queue = 0, seen = 0, rc = 0;
	memset(out, 0, sizeof *out);
	if (!copy)
		return fail(err, errlen, "out of memory");
	for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(item, '=');
		const char *key = item, *val;
		int bit;
		if (!eq) {
			rc = fail(err, errlen, "bad item '%s': use key=value with keys rate, delay, queue, loss", item);
			break;
		}
		*eq = '\0';
		val = eq + 1;
		bit = !strcmp(key, "rate") ? 1 : !strcmp(key, "delay") ? 2 : !strcmp(key, "queue") ? 4
			: !strcmp(key, "loss") ? 8 : 0;
		if (!bit) {
			rc = fail(err, errlen, "unknown key '%s': allowed keys are rate, delay, queue, loss", key);
			break;
		}
		if (seen & bit) {
			rc = fail(err, errlen, "key '%s' given twice: give each key at most once", key);
			break;
		}
		seen |= bit;
		if (bit == 1 && parse_rate(val, &out->rate_bps)) {
			rc = fail(err, errlen, "bad rate '%s': use bit/s as a number with optional suffix kbit, mbit or gbit, "
				  "up to 100gbit (e.g. rate=10mbit; 0 = unlimited)", val);
			break;
		}
		if (bit == 2 && parse_delay(val, &out->delay_ns)) {
			rc = fail(err, errlen, "bad delay '%s': use a number with unit s, ms or us, up to 3600s "
				  "(e.g. delay=325ms, delay=0.5ms)", val);
			break;
		}
		if (bit == 4) {
			if (parse_queue(val, &out->queue_bytes)) {
				rc = fail(err, errlen, "bad queue '%s': use whole bytes with optional suffix k or m (x1024), "
					  "from 1500 to 4096m (e.g. queue=406250, queue=512k)", val);
				break;
			}
			have_queue = 1;
		}
		if (bit == 8 && (rc = parse_loss(val, &out->loss, err, errlen)))
			break;
	}
	free(copy);
	if (rc)
		return rc;
	if (!have_queue)
		out->queue_bytes = spec_default_queue(out->rate_bps, out->delay_ns);
	return 0;
}
