/* wanem: a user-space L2 WAN emulator ("bump in the wire") for xlnet's lab.
 * Forwards Ethernet frames between two interfaces with, per direction, a
 * rate, a one-way delay, a tail-drop queue and loss. See README.md. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "forwarder.h"
#include "port.h"
#include "spec.h"
#include "stats.h"

#define EXIT_USAGE 2
#define ERR_LEN 512
/* Default seeds stay below 2^53 so JSON readers (JavaScript) read them exactly. */
#define SEED_MASK ((1ULL << 53) - 1)

static const char usage[] =
	"usage: wanem --if-a IFNAME --if-b IFNAME [--a2b SPEC] [--b2a SPEC]\n"
	"             [--ready-file PATH] [--stats-file PATH] [--seed N]\n"
	"SPEC: comma-separated, all optional: rate=10mbit delay=325ms queue=406250 loss=1%\n"
	"      loss=ge:p=1%:r=30%:h=0%:k=100%   (see lab/wanem/README.md)\n";

static void usage_error(const char *fmt, const char *a, const char *b)
{
	fprintf(stderr, "wanem: ");
	fprintf(stderr, fmt, a, b);
	fprintf(stderr, "\n");
	exit(EXIT_USAGE);
}

static int write_pid_file(const char *path)
{
	char tmp[4096];
	FILE *f;
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "if-a", required_argument, NULL, 'a' },
		{ "if-b", required_argument, NULL, 'b' },
		{ "a2b", required_argument, NULL, 'A' },
		{ "b2a", required_argument, NULL, 'B' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "stats-file", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *if_a = NULL, *if_b = NULL, *a2b_text = "", *b2a_text = "";
	const char *ready_file = NULL, *stats_file = NULL;
	struct link_spec a2b_spec, b2a_spec;
	static struct port pa, pb;
	static struct forwarder a2b, b2a;
	char err[ERR_LEN];
	uint64_t seed = ((uint64_t)time(NULL) * 1000003ULL ^ (uint64_t)getpid()) & SEED_MASK;
	sigset_t sigs;
	int c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 'a': if_a = optarg; break;
		case 'b': if_b = optarg; break;
		case 'A': a2b_text = optarg; break;
		case 'B': b2a_text = optarg; break;
		case 'r': ready_file = optarg; break;
		case 's': stats_file = optarg; break;
		case 'S':
			errno = 0;
			seed = strtoull(optarg, &end, 10);
			if (errno || *optarg == '\0' || *end != '\0' || *optarg == '-')
				usage_error("bad --seed '%s': use a non-negative decimal integer%s", optarg, "");
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			usage_error("option '%s' is unknown or lacks its value%s; run wanem --help",
				    argv[optind - 1], "");
		}
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'%s: all settings are --options; run wanem --help", argv[optind], "");
	if (!if_a || !if_b)
		usage_error("missing %s%s: both --if-a IFNAME and --if-b IFNAME are required",
			    !if_a ? "--if-a" : "--if-b", "");
	if (strcmp(if_a, if_b) == 0)
		usage_error("--if-a and --if-b are both '%s'%s: name two different interfaces", if_a, "");
	if (spec_parse(a2b_text, &a2b_spec, err, sizeof err))
		usage_error("--a2b: %s%s", err, "");
	if (spec_parse(b2a_text, &b2a_spec, err, sizeof err))
		usage_error("--b2a: %s%s", err, "");

	if ((rc = port_open(&pa, if_a, err, sizeof err)) || (rc = port_open(&pb, if_b, err, sizeof err))) {
		fprintf(stderr, "wanem: %s\n", err);
		return rc == -2 ? EXIT_USAGE : 1;
	}
	if (forwarder_init(&a2b, "a2b", &pa, &pb, &a2b_spec, seed, err, sizeof err) ||
	    forwarder_init(&b2a, "b2a", &pb, &pa, &b2a_spec, seed ^ 0x5deece66dULL, err, sizeof err)) {
		fprintf(stderr, "wanem: %s\n", err);
		return 1;
	}

	/* Signals are taken synchronously by this thread only; the forwarding
	 * threads inherit the blocked mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if (forwarder_start(&a2b) || forwarder_start(&b2a)) {
		fprintf(stderr, "wanem: cannot start forwarding threads\n");
		return 1;
	}
	if (ready_file && write_pid_file(ready_file)) {
		fprintf(stderr, "wanem: cannot write ready file '%s': %s\n", ready_file, strerror(errno));
		return 1;
	}
	for (;;) {
		int sig = sigwaitinfo(&sigs, NULL);
		if (sig < 0)
			continue;
		if (stats_file && stats_write(stats_file, &a2b, &b2a, seed))
			fprintf(stderr, "wanem: cannot write stats file '%s': %s\n", stats_file, strerror(errno));
		if (sig != SIGUSR1)
			/* Forwarding threads end with the process; frames still
			 * held are dropped, as a link that goes away drops them. */
			return 0;
	}
}
