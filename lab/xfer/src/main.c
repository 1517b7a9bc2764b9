/* xfer: a transfer tool that measures flow completion time at the receiver
 * and checks every byte, for measuring (and catching bugs in) a split-TCP
 * proxy. Parses the command line and hands over to serve.c or run.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "netio.h"
#include "xfer.h"

#define DEFAULT_TIMEOUT_S 900 /* a 100 MB upload at 2 Mbit/s (geo-small) takes 400 s */
#define DEFAULT_IDLE_S 300    /* server: longer than any stall a profile can cause */
#define DEFAULT_SEED 1
#define MAX_COUNT 1000000     /* results are kept in memory until the end */
#define MAX_PARALLEL 4096     /* one thread each */

static const char usage_text[] =
	"usage:\n"
	"  xfer serve --listen ADDR:PORT [--ready-file PATH] [--cc NAME]\n"
	"             [--sndbuf B] [--rcvbuf B] [--idle-timeout SEC]\n"
	"  xfer run --to ADDR:PORT --dir up|down --size BYTES[k|m|g|ki|mi|gi]\n"
	"           [--count N] [--parallel K] [--cc NAME] [--sndbuf B] [--rcvbuf B]\n"
	"           [--timeout SEC] [--seed N] [--json]\n"
	"\n"
	"ADDR:PORT is numeric: 10.198.0.2:5001 or [fd00:198::2]:5001.\n"
	"Sizes: k/m/g are powers of 1000, ki/mi/gi powers of 1024.\n"
	"run exits 0 if every transfer arrived whole (sizes and SHA-256 match),\n"
	"1 if any failed, 2 on bad arguments. See lab/xfer/README.md.\n";

static void usage_error(const char *verb, const char *fmt, const char *arg)
{
	fprintf(stderr, "xfer%s%s: ", verb ? " " : "", verb ? verb : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n(run 'xfer --help' for usage)\n");
	exit(EXIT_USAGE);
}

/* "100k" -> 100000, "1mi" -> 1048576. Returns 0 or -1. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = {
		{ "", 1 },
		{ "k", 1000ull }, { "m", 1000000ull }, { "g", 1000000000ull },
		{ "ki", 1ull << 10 }, { "mi", 1ull << 20 }, { "gi", 1ull << 30 },
	};
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		if (strcasecmp(end, units[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / units[i].mult)
			return -1;
		*out = v * units[i].mult;
		return 0;
	}
	return -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, uint64_t *ns)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	/* a year is long enough for any transfer here and keeps ns in range */
	if (errno || *end || end == s || !(v > 0) || v > 365.0 * 24 * 3600)
		return -1;
	*ns = (uint64_t)(v * 1e9);
	return 0;
}

static int parse_buf(const char *verb, const char *s)
{
	uint64_t v;
	if (parse_size(s, &v) < 0 || v == 0 || v > INT_MAX)
		usage_error(verb, "buffer size '%s' is not a size between 1 and 2g", s);
	return (int)v;
}

/* Iterates "--name value" and "--name=value" pairs. */
struct argi {
	int argc, i;
	char **argv;
	const char *verb;
	const char *name;  /* current option, without its value */
	const char *value; /* its value, NULL for flags */
	char buf[64];
};

static int next_opt(struct argi *a)
{
	if (a->i >= a->argc)
		return 0;
	const char *arg = a->argv[a->i++];
	if (strncmp(arg, "--", 2) != 0)
		usage_error(a->verb, "unexpected argument '%s'", arg);
	const char *eq = strchr(arg, '=');
	a->value = NULL;
	if (eq) {
		size_t n = (size_t)(eq - arg);
		if (n >= sizeof a->buf)
			usage_error(a->verb, "unknown option '%s'", arg);
		memcpy(a->buf, arg, n);
		a->buf[n] = '\0';
		a->name = a->buf;
		a->value = eq + 1;
	} else {
		a->name = arg;
	}
	return 1;
}

static const char *need_value(struct argi *a)
{
	if (a->value)
		return a->value;
	if (a->i >= a->argc)
		usage_error(a->verb, "option %s needs a value", a->name);
	return a->argv[a->i++];
}

static void parse_addr(const char *verb, const char *s, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	char err[256];
	if (addr_parse(s, ss, len, err, sizeof err) < 0)
		usage_error(verb, "%s", err);
}

static void require_cc(const char *verb, const char *cc)
{
	char err[512];
	if (check_cc(cc, err, sizeof err) < 0)
		usage_error(verb, "%s", err);
}

static int cmd_serve(int argc, char **argv)
{
	struct serve_opts o = { .idle_ns = DEFAULT_IDLE_S * 1000000000ull };
	struct argi a = { .argc = argc, .argv = argv, .i = 0, .verb = "serve" };
	int have_listen = 0;

	while (next_opt(&a)) {
		if (!strcmp(a.name, "--listen")) {
			parse_addr(a.verb, need_value(&a), &o.listen, &o.listen_len);
			have_listen = 1;
		} else if (!strcmp(a.name, "--ready-file")) {
			o.ready_file = need_value(&a);
		} else if (!strcmp(a.name, "--cc")) {
			o.cc = need_value(&a);
		} else if (!strcmp(a.name, "--sndbuf")) {
			o.sndbuf = parse_buf(a.verb, need_value(&a));
		} else if (!strcmp(a.name, "--rcvbuf")) {
			o.rcvbuf = parse_buf(a.verb, need_value(&a));
		} else if (!strcmp(a.name, "--idle-timeout")) {
			const char *v = need_value(&a);
			if (parse_seconds(v, &o.idle_ns) < 0)
				usage_error(a.verb, "--idle-timeout '%s' is not a positive number of seconds", v);
		} else if (!strcmp(a.name, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else {
			usage_error(a.verb, "unknown option '%s'", a.name);
		}
	}
	if (!have_listen)
		usage_error(a.verb, "%s", "--listen ADDR:PORT is required");
	if (o.cc)
		require_cc(a.verb, o.cc);
	return serve_main(&o);
}

static int cmd_run(int argc, char **argv)
{
	struct run_opts o = {
		.count = 1,
		.parallel = 1,
		.timeout_ns = DEFAULT_TIMEOUT_S * 1000000000ull,
		.seed = DEFAULT_SEED,
	};
	struct argi a = { .argc = argc, .argv = argv, .i = 0, .verb = "run" };
	int have_size = 0;
	uint64_t v;

	while (next_opt(&a)) {
		if (!strcmp(a.name, "--to")) {
			o.to_text = need_value(&a);
			parse_addr(a.verb, o.to_text, &o.to, &o.to_len);
		} else if (!strcmp(a.name, "--dir")) {
			const char *d = need_value(&a);
			if (!strcmp(d, "up"))
				o.dir = XFER_UP;
			else if (!strcmp(d, "down"))
				o.dir = XFER_DOWN;
			else
				usage_error(a.verb, "--dir '%s': use up (guest to remote) or down", d);
		} else if (!strcmp(a.name, "--size")) {
			const char *s = need_value(&a);
			if (parse_size(s, &o.size) < 0)
				usage_error(a.verb, "--size '%s' is not a size like 0, 1500, 100k, 10m, 1g", s);
			have_size = 1;
		} else if (!strcmp(a.name, "--count")) {
			const char *s = need_value(&a);
			if (parse_u64(s, &v) < 0 || v < 1 || v > MAX_COUNT)
				usage_error(a.verb, "--count '%s' must be between 1 and 1000000", s);
			o.count = (uint32_t)v;
		} else if (!strcmp(a.name, "--parallel")) {
			const char *s = need_value(&a);
			if (parse_u64(s, &v) < 0 || v < 1 || v > MAX_PARALLEL)
				usage_error(a.verb, "--parallel '%s' must be between 1 and 4096", s);
			o.parallel = (uint32_t)v;
		} else if (!strcmp(a.name, "--cc")) {
			o.cc = need_value(&a);
		} else if (!strcmp(a.name, "--sndbuf")) {
			o.sndbuf = parse_buf(a.verb, need_value(&a));
		} else if (!strcmp(a.name, "--rcvbuf")) {
			o.rcvbuf = parse_buf(a.verb, need_value(&a));
		} else if (!strcmp(a.name, "--timeout")) {
			const char *s = need_value(&a);
			if (parse_seconds(s, &o.timeout_ns) < 0)
				usage_error(a.verb, "--timeout '%s' is not a positive number of seconds", s);
		} else if (!strcmp(a.name, "--seed")) {
			const char *s = need_value(&a);
			if (parse_u64(s, &o.seed) < 0)
				usage_error(a.verb, "--seed '%s' is not an unsigned integer", s);
		} else if (!strcmp(a.name, "--json")) {
			if (a.value)
				usage_error(a.verb, "%s", "--json takes no value");
			o.json = 1;
		} else if (!strcmp(a.name, "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else {
			usage_error(a.verb, "unknown option '%s'", a.name);
		}
	}
	if (!o.to_text)
		usage_error(a.verb, "%s", "--to ADDR:PORT is required");
	if (!o.dir)
		usage_error(a.verb, "%s", "--dir up|down is required");
	if (!have_size)
		usage_error(a.verb, "%s", "--size BYTES is required");
	if (o.cc)
		require_cc(a.verb, o.cc);
	if (o.parallel > o.count)
		o.parallel = o.count;
	return run_main(&o);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 2, argv + 2);
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	usage_error(NULL, "unknown command '%s': use serve or run", argv[1]);
	return EXIT_USAGE;
}
