/* tcpcraft: a user-space TCP peer on a TUN device that sends crafted segments
 * to a kernel socket. It exists to put the kernel into states that a normal
 * TCP sender reaches only by chance: segments whose front repeats bytes the
 * receiver already has (partial overlaps), an out-of-order segment that a
 * later in-order one overlaps, and a full duplicate.
 *
 *   tcpcraft TUNNAME LOCAL_IP REMOTE_IP PORT
 *
 * The TUN device must exist and be up with REMOTE_IP's route on it (the test
 * makes it: `ip tuntap add mode tun name TUNNAME`, an address, `up`).
 * tcpcraft connects from LOCAL_IP:40000 to REMOTE_IP:PORT and sends the byte
 * stream b[i] = (i * 131 + (i >> 8)) & 0xff, i in [0, STREAM_LEN), in the
 * segments of PLAN below, then a FIN. On stdout, one JSON line:
 *   {"ok":true,"sent_bytes":N,"overlap_bytes":M}   or {"ok":false,"error":"..."}
 * Exit status 0 when every byte was acknowledged and the FIN was acked. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define STREAM_LEN 65000u
#define LOCAL_PORT 40000
#define OUR_ISN 1000000u
#define OUR_MSS 1400       /* announced in the SYN; our own segments are what PLAN says */
#define ACK_WAIT_MS 3000   /* how long an in-order segment may wait for its ACK */
#define OFO_SETTLE_MS 50   /* time the kernel gets to queue an out-of-order segment */
#define SPLICE_WAIT_MS 500 /* after the handshake: time for the receiving side to set up (splice) the socket */

struct seg { uint32_t from, to; int wait_ack; };

/* [from, to) stream offsets. wait_ack = 0 for segments the receiver cannot
 * acknowledge yet (out of order) or at all (a full duplicate). */
static const struct seg PLAN[] = {
	{ 0, 1000, 1 }, { 1000, 2000, 1 },
	{ 1500, 3500, 1 },        /* repeats 500 bytes already received */
	{ 5000, 6000, 0 },        /* out of order: goes to the out-of-order queue */
	{ 3500, 5500, 1 },        /* fills the hole; the queued [5000,6000) now repeats 500 */
	{ 6000, 12000, 1 },
	{ 7000, 20000, 1 },       /* repeats 5000 bytes: more than one 0xfff cut */
	{ 0, 1000, 0 },           /* a full duplicate: TCP drops it */
	{ 20000, 30000, 1 }, { 29000, 40000, 1 }, { 40000, 52000, 1 },
	{ 51999, 58000, 1 },      /* repeats one byte */
	{ 58000, 65000, 1 },
};

static int tun_fd = -1;
static uint32_t local_ip, remote_ip;
static uint16_t remote_port;
static uint32_t peer_isn;      /* the kernel's ISN, from its SYN-ACK (0: none yet) */
static uint32_t ack_field;     /* what our segments acknowledge: the kernel's ISN + 1 */
static uint32_t kernel_acked;  /* the highest ACK the kernel sent us (0: none yet) */

static void die(const char *fmt, const char *arg)
{
	printf("{\"ok\":false,\"error\":\"");
	printf(fmt, arg);
	printf("\"}\n");
	exit(1);
}

static uint8_t stream_byte(uint32_t i) { return (uint8_t)((i * 131u + (i >> 8)) & 0xff); }

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static long now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One IPv4+TCP packet to the kernel. */
static void send_tcp(uint32_t seq, uint8_t flags, const uint8_t *data, size_t len, int syn_opts)
{
	uint8_t pkt[20 + 24 + 65536];
	struct iphdr *ip = (void *)pkt;
	struct tcphdr *th = (void *)(pkt + 20);
	size_t optlen = syn_opts ? 4 : 0, tlen = 20 + optlen + len;

	memset(pkt, 0, 20 + 20 + optlen);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)(20 + tlen));
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->saddr = local_ip;
	ip->daddr = remote_ip;
	ip->check = htons(csum_fold(csum_add(0, ip, 20)));
	th->source = htons(LOCAL_PORT);
	th->dest = remote_port;
	th->seq = htonl(seq);
	th->ack_seq = htonl(flags & TH_ACK ? ack_field : 0);
	th->doff = (uint16_t)((20 + optlen) / 4);
	((uint8_t *)th)[13] = flags;
	th->window = htons(65535);
	if (syn_opts) {
		uint8_t *o = pkt + 40;
		o[0] = 2; o[1] = 4; o[2] = OUR_MSS >> 8; o[3] = OUR_MSS & 0xff;
	}
	if (len)
		memcpy(pkt + 20 + 20 + optlen, data, len);
	uint8_t pseudo[12];
	memcpy(pseudo, &ip->saddr, 4);
	memcpy(pseudo + 4, &ip->daddr, 4);
	pseudo[8] = 0; pseudo[9] = IPPROTO_TCP;
	pseudo[10] = (uint8_t)(tlen >> 8); pseudo[11] = (uint8_t)tlen;
	th->check = htons(csum_fold(csum_add(csum_add(0, pseudo, 12), th, tlen)));
	if (write(tun_fd, pkt, 20 + tlen) != (ssize_t)(20 + tlen))
		die("write to the tun device: %s", strerror(errno));
}

/* Reads the kernel's packets for up to `ms`, or until it acknowledged `want`
 * (want = 0: just read). Returns 1 when `want` is acknowledged. */
static int pump(long ms, uint32_t want)
{
	long end = now_ms() + ms;
	uint8_t pkt[70000];

	for (;;) {
		if (want && kernel_acked && (int32_t)(kernel_acked - want) >= 0)
			return 1;
		long left = end - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = tun_fd, .events = POLLIN };
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		ssize_t n = read(tun_fd, pkt, sizeof pkt);
		if (n < 40)
			continue;
		struct iphdr *ip = (void *)pkt;
		if (ip->version != 4 || ip->protocol != IPPROTO_TCP || ip->saddr != remote_ip)
			continue;
		struct tcphdr *th = (void *)(pkt + ip->ihl * 4);
		if (th->dest != htons(LOCAL_PORT))
			continue;
		if (th->rst)
			die("the kernel reset the connection%s", "");
		if (th->syn && th->ack)
			peer_isn = ntohl(th->seq);
		if (th->ack) {
			uint32_t a = ntohl(th->ack_seq);
			if (!kernel_acked || (int32_t)(a - kernel_acked) > 0)
				kernel_acked = a;
		}
	}
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: tcpcraft TUNNAME LOCAL_IP REMOTE_IP PORT\n");
		return 2;
	}
	struct ifreq ifr = { 0 };
	tun_fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (tun_fd < 0)
		die("open /dev/net/tun: %s", strerror(errno));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", argv[1]);
	if (ioctl(tun_fd, TUNSETIFF, &ifr) < 0)
		die("TUNSETIFF: %s", strerror(errno));
	if (inet_pton(AF_INET, argv[2], &local_ip) != 1 || inet_pton(AF_INET, argv[3], &remote_ip) != 1)
		die("bad address %s", argv[2]);
	remote_port = htons((uint16_t)atoi(argv[4]));

	/* Handshake (we are the active side; the kernel's socket listens). */
	const uint32_t base = OUR_ISN + 1; /* sequence number of stream byte 0 */
	send_tcp(OUR_ISN, TH_SYN, NULL, 0, 1);
	for (long t0 = now_ms(); !peer_isn && now_ms() - t0 < ACK_WAIT_MS;)
		pump(100, 0);
	if (!peer_isn)
		die("no SYN-ACK from the kernel%s", "");
	ack_field = peer_isn + 1;
	send_tcp(base, TH_ACK, NULL, 0, 0);
	pump(SPLICE_WAIT_MS, 0);

	uint8_t buf[65536];
	uint64_t sent = 0, overlap = 0;
	uint32_t high = 0; /* highest stream offset sent so far */
	for (size_t k = 0; k < sizeof PLAN / sizeof PLAN[0]; k++) {
		const struct seg *s = &PLAN[k];
		for (uint32_t i = s->from; i < s->to; i++)
			buf[i - s->from] = stream_byte(i);
		if (s->from < high)
			overlap += (s->to < high ? s->to : high) - s->from;
		if (s->to > high)
			high = s->to;
		send_tcp(base + s->from, TH_ACK | TH_PUSH, buf, s->to - s->from, 0);
		sent += s->to - s->from;
		int acked = pump(s->wait_ack ? ACK_WAIT_MS : OFO_SETTLE_MS, s->wait_ack ? base + s->to : 0);
		if (s->wait_ack && !acked) {
			char m[64];
			snprintf(m, sizeof m, "[%u,%u)", s->from, s->to);
			die("segment %s was not acknowledged", m);
		}
	}
	if (high != STREAM_LEN)
		die("the plan does not cover the stream%s", "");
	send_tcp(base + STREAM_LEN, TH_ACK | TH_FIN, NULL, 0, 0);
	if (!pump(ACK_WAIT_MS, base + STREAM_LEN + 1))
		die("our FIN was not acknowledged%s", "");
	printf("{\"ok\":true,\"sent_bytes\":%llu,\"overlap_bytes\":%llu,\"stream_len\":%u}\n",
	       (unsigned long long)sent, (unsigned long long)overlap, STREAM_LEN);
	return 0;
}
