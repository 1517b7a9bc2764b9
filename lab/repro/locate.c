/* locate: where did the bytes of a corrupted transfer come from?
 *
 *   locate SEED DUMP DUMP_OFFSET
 *
 * DUMP holds received bytes whose first one should have been stream byte
 * DUMP_OFFSET (xfer writes such files with XFER_DUMP_BAD=PREFIX). Prints the
 * dump as runs: "dump[a,b) = stream[c,d) (shift s)" or "foreign" when the
 * bytes are nowhere in the stream within +-WINDOW of where they belong
 * (another connection's data, zeros, ...). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../xfer/src/payload.h"

#define WINDOW (192ull << 20) /* how far from its place a run is looked for */
#define PROBE 32              /* bytes that must match to call a location found */
#define MAX_RUNS 400

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: locate SEED DUMP DUMP_OFFSET\n");
		return 2;
	}
	uint64_t seed = strtoull(argv[1], NULL, 10), off = strtoull(argv[3], NULL, 10);
	FILE *f = fopen(argv[2], "rb");
	if (!f) { perror(argv[2]); return 1; }
	fseek(f, 0, SEEK_END);
	long dlen = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *d = malloc(dlen);
	if (fread(d, 1, dlen, f) != (size_t)dlen) { perror("read"); return 1; }
	uint64_t s0 = off > WINDOW ? off - WINDOW : 0, s1 = off + dlen + WINDOW;
	uint8_t *s = malloc(s1 - s0);
	struct payload p;
	payload_init(&p, seed);
	uint8_t junk[1 << 16];
	for (uint64_t skip = s0; skip > 0;) {
		size_t k = skip < sizeof junk ? skip : sizeof junk;
		payload_fill(&p, junk, k);
		skip -= k;
	}
	payload_fill(&p, s, s1 - s0);
	printf("dump %ld bytes at stream offset %llu; window [%llu,%llu)\n", dlen, (unsigned long long)off,
	       (unsigned long long)s0, (unsigned long long)s1);
	long cur = 0;
	int64_t guess = (int64_t)(off - s0); /* where dump[cur] is expected in s */
	long foreign_from = -1;
	for (int runs = 0; cur + PROBE <= dlen && runs < MAX_RUNS;) {
		int64_t at = -1;
		if (guess >= 0 && guess + PROBE <= (int64_t)(s1 - s0) && !memcmp(s + guess, d + cur, PROBE))
			at = guess;
		else {
			uint8_t *m = memmem(s, s1 - s0, d + cur, PROBE);
			if (m) at = m - s;
		}
		if (at < 0) {
			if (foreign_from < 0) foreign_from = cur;
			cur += 1;
			continue;
		}
		if (foreign_from >= 0) {
			printf("dump[%ld,%ld) foreign (%ld bytes); first bytes:", foreign_from, cur, cur - foreign_from);
			for (int i = 0; i < 16 && foreign_from + i < cur; i++) printf(" %02x", d[foreign_from + i]);
			printf("\n");
			foreign_from = -1;
			runs++;
		}
		long n = 0;
		while (cur + n < dlen && at + n < (int64_t)(s1 - s0) && d[cur + n] == s[at + n]) n++;
		printf("dump[%ld,%ld) = stream[%llu,%llu) shift %+lld\n", cur, cur + n,
		       (unsigned long long)(s0 + at), (unsigned long long)(s0 + at + n),
		       (long long)((int64_t)(s0 + at) - (int64_t)(off + cur)));
		cur += n;
		guess = at + n;
		runs++;
	}
	if (foreign_from >= 0) printf("dump[%ld,%ld) foreign to the end\n", foreign_from, cur);
	return 0;
}
