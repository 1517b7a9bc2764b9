/* Output of `xfer run`: JSON for the lab (--json), a table for people. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfer.h"

#define NS_PER_MS 1e6
#define NS_PER_US 1e3

static double fct_ms(const struct result *r)
{
	return (double)r->fct_ns / NS_PER_MS;
}

/* Mbit/s = bits per microsecond. Zero bytes move at no rate at all. */
static double goodput_mbps(const struct result *r)
{
	if (r->fct_ns == 0)
		return 0;
	return (double)r->size * 8 / ((double)r->fct_ns / NS_PER_US);
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void json_hash(int have, const uint8_t sha[HASH_LEN])
{
	char hex[HASH_HEX_LEN];
	if (!have) {
		fputs("null", stdout);
		return;
	}
	hash_hex(sha, hex);
	printf("\"%s\"", hex);
}

static void json_text_or_null(const char *s)
{
	if (s[0])
		json_string(s);
	else
		fputs("null", stdout);
}

static const char *dir_name(uint8_t dir)
{
	return dir == XFER_UP ? "up" : "down";
}

static void json_transfer(const struct run_opts *o, const struct result *r)
{
	printf("{\"id\":%u,\"dir\":\"%s\",\"size\":%llu,\"seed\":%llu,\"ok\":%s", r->id,
	       dir_name(o->dir), (unsigned long long)r->size, (unsigned long long)r->seed,
	       r->ok ? "true" : "false");
	if (r->have_fct)
		printf(",\"fct_ms\":%.3f,\"goodput_mbps\":%.3f", fct_ms(r), goodput_mbps(r));
	else
		fputs(",\"fct_ms\":null,\"goodput_mbps\":null", stdout);
	if (r->have_connect)
		printf(",\"connect_ms\":%.3f", (double)r->connect_ns / NS_PER_MS);
	else
		fputs(",\"connect_ms\":null", stdout);
	fputs(",\"sha256_sender\":", stdout);
	json_hash(r->have_sha_sender, r->sha_sender);
	fputs(",\"sha256_receiver\":", stdout);
	json_hash(r->have_sha_receiver, r->sha_receiver);
	if (r->have_bytes)
		printf(",\"bytes_received\":%llu", (unsigned long long)r->bytes_received);
	else
		fputs(",\"bytes_received\":null", stdout);
	fputs(",\"local\":", stdout);
	json_text_or_null(r->local);
	fputs(",\"remote\":", stdout);
	json_text_or_null(r->remote);
	fputs(",\"peer_saw\":", stdout);
	json_text_or_null(r->peer_saw);
	fputs(",\"cc\":", stdout);
	json_text_or_null(r->cc);
	fputs(",\"peer_cc\":", stdout);
	json_text_or_null(r->peer_cc);
	if (r->first_bad != UINT64_MAX)
		printf(",\"first_bad_offset\":%llu", (unsigned long long)r->first_bad);
	if (!r->ok) {
		fputs(",\"error\":", stdout);
		json_string(r->error);
	}
	putchar('}');
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median of a sorted array; the mean of the middle two for an even count. */
static double median(const double *v, size_t n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct stats {
	size_t n;
	double med, min, max;
};

static struct stats stats_of(double *v, size_t n)
{
	struct stats s = { .n = n };
	if (n == 0)
		return s;
	qsort(v, n, sizeof *v, cmp_double);
	s.med = median(v, n);
	s.min = v[0];
	s.max = v[n - 1];
	return s;
}

static void json_stats(const char *name, struct stats s)
{
	if (s.n == 0)
		printf(",\"%s_median\":null,\"%s_min\":null,\"%s_max\":null", name, name, name);
	else
		printf(",\"%s_median\":%.3f,\"%s_min\":%.3f,\"%s_max\":%.3f", name, s.med, name,
		       s.min, name, s.max);
}

void report_print(const struct run_opts *o, const struct result *res, uint64_t wall_ns)
{
	double *fct = calloc(o->count, sizeof *fct);
	double *gp = calloc(o->count, sizeof *gp);
	size_t n_ok = 0;
	uint64_t bytes_ok = 0;

	for (uint32_t i = 0; i < o->count; i++) {
		if (!res[i].ok)
			continue;
		if (fct && gp) {
			fct[n_ok] = fct_ms(&res[i]);
			gp[n_ok] = goodput_mbps(&res[i]);
		}
		n_ok++;
		bytes_ok += res[i].size;
	}
	struct stats sf = fct ? stats_of(fct, n_ok) : (struct stats){ 0 };
	struct stats sg = gp ? stats_of(gp, n_ok) : (struct stats){ 0 };
	double wall_ms = (double)wall_ns / NS_PER_MS;
	double aggregate = wall_ns ? (double)bytes_ok * 8 / ((double)wall_ns / NS_PER_US) : 0;

	if (o->json) {
		fputs("{\"transfers\":[", stdout);
		for (uint32_t i = 0; i < o->count; i++) {
			fputs(i ? ",\n" : "\n", stdout);
			json_transfer(o, &res[i]);
		}
		printf("\n],\"summary\":{\"count\":%u,\"ok\":%zu,\"failed\":%zu,\"dir\":\"%s\","
		       "\"size\":%llu,\"parallel\":%u",
		       o->count, n_ok, (size_t)o->count - n_ok, dir_name(o->dir),
		       (unsigned long long)o->size, o->parallel);
		json_stats("fct_ms", sf);
		json_stats("goodput_mbps", sg);
		printf(",\"wall_ms\":%.3f,\"aggregate_goodput_mbps\":%.3f}}\n", wall_ms, aggregate);
	} else {
		printf("%-5s %-4s %12s %10s %12s %-3s %s\n", "id", "dir", "size", "fct_ms",
		       "goodput_mbps", "ok", "peer_saw / error");
		for (uint32_t i = 0; i < o->count; i++) {
			const struct result *r = &res[i];
			char f[32] = "-", g[32] = "-";
			if (r->have_fct) {
				snprintf(f, sizeof f, "%.3f", fct_ms(r));
				snprintf(g, sizeof g, "%.1f", goodput_mbps(r));
			}
			printf("%-5u %-4s %12llu %10s %12s %-3s %s\n", r->id, dir_name(o->dir),
			       (unsigned long long)r->size, f, g, r->ok ? "yes" : "NO",
			       r->ok ? r->peer_saw : r->error);
		}
		printf("%zu of %u ok", n_ok, o->count);
		if (n_ok)
			printf("; fct_ms median %.3f (min %.3f, max %.3f); goodput_mbps median %.1f",
			       sf.med, sf.min, sf.max, sg.med);
		printf("; wall %.1f ms, aggregate %.1f Mbit/s\n", wall_ms, aggregate);
	}
	fflush(stdout);
	free(fct);
	free(gp);
}
