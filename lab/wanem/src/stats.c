#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

static void direction(FILE *out, const char *name, struct forwarder *f, const char *sep)
{
	const struct link_spec *s = &f->link.spec;
	port_update_drops(f->in);
	fprintf(out,
		"  \"%s\": {\n"
		"    \"frames\": %llu,\n"
		"    \"bytes\": %llu,\n"
		"    \"dropped_queue\": %llu,\n"
		"    \"dropped_loss\": %llu,\n"
		"    \"max_queue_bytes\": %llu,\n"
		"    \"received\": %llu,\n"
		"    \"dropped_overrun\": %llu,\n"
		"    \"dropped_oversize\": %llu,\n"
		"    \"dropped_malformed\": %llu,\n"
		"    \"tx_errors\": %llu,\n"
		"    \"rx_kernel_drops\": %llu,\n"
		"    \"gso_frames\": %llu,\n"
		"    \"rx_untimed\": %llu,\n"
		"    \"rate_bps\": %llu,\n"
		"    \"delay_ns\": %llu,\n"
		"    \"queue_limit_bytes\": %llu\n"
		"  }%s\n",
		name,
		(unsigned long long)LOAD(f->c.frames), (unsigned long long)LOAD(f->c.bytes),
		(unsigned long long)LOAD(f->c.dropped_queue), (unsigned long long)LOAD(f->c.dropped_loss),
		(unsigned long long)LOAD(f->c.max_queue_bytes), (unsigned long long)LOAD(f->c.received),
		(unsigned long long)LOAD(f->c.dropped_overrun), (unsigned long long)LOAD(f->c.dropped_oversize),
		(unsigned long long)LOAD(f->c.dropped_malformed), (unsigned long long)LOAD(f->c.tx_errors),
		(unsigned long long)LOAD(f->in->kernel_drops), (unsigned long long)LOAD(f->c.gso_frames),
		(unsigned long long)LOAD(f->c.rx_untimed),
		(unsigned long long)s->rate_bps, (unsigned long long)s->delay_ns,
		(unsigned long long)s->queue_bytes, sep);
}

int stats_write(const char *path, struct forwarder *a2b, struct forwarder *b2a, uint64_t seed)
{
	size_t len = strlen(path) + sizeof ".tmp";
	char *tmp = malloc(len);
	FILE *out;
	int rc = -1;

	if (!tmp)
		return -1;
	snprintf(tmp, len, "%s.tmp", path);
	out = fopen(tmp, "w");
	if (out) {
		fprintf(out, "{\n  \"seed\": %llu,\n", (unsigned long long)seed);
		direction(out, "a2b", a2b, ",");
		direction(out, "b2a", b2a, "");
		fprintf(out, "}\n");
		if (fclose(out) == 0 && rename(tmp, path) == 0)
			rc = 0;
		else
			unlink(tmp);
	}
	free(tmp);
	return rc;
}
