/* udpseq: numbered UDP datagrams, to see exactly which ones a link lost
 * (wanem's loss tests). Small and in C so that neither end drops anything
 * on a busy machine.
 *   udpseq send HOST PORT COUNT PPS   sends 0..COUNT-1, paced at PPS
 *   udpseq recv PORT COUNT            prints {"received":N,"runs":[[first,length],...]}
 *                                     (runs of consecutive lost numbers) once
 *                                     IDLE_MS pass without a datagram after the first */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAYLOAD 64          /* bytes: small, so the sender is never the bottleneck */
#define IDLE_MS 1000
#define RCVBUF (16 << 20)   /* ~250k datagrams of truesize: a stalled reader loses none */
#define BATCH 64
#define NS_PER_S 1000000000LL

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr, "usage: udpseq send HOST PORT COUNT PPS | udpseq recv PORT COUNT\n");
	return 2;
}

static int do_send(const char *host, int port, long count, long pps)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	unsigned char buf[PAYLOAD] = { 0 };
	long long t0 = now_ns();
	if (fd < 0 || inet_pton(AF_INET, host, &to.sin_addr) != 1)
		return usage();
	for (long seq = 0; seq < count;) {
		long due = (long)((now_ns() - t0) * pps / NS_PER_S) + 1;
		if (due > count)
			due = count;
		while (seq < due) {
			uint32_t n = htonl((uint32_t)seq);
			memcpy(buf, &n, sizeof n);
			/* Blocking send: the socket waits rather than drops. */
			if (sendto(fd, buf, sizeof buf, 0, (struct sockaddr *)&to, sizeof to) < 0) {
				if (errno == ENOBUFS || errno == EINTR)
					continue;
				perror("udpseq: sendto");
				return 1;
			}
			seq++;
		}
		struct timespec pause = { 0, 200 * 1000 };
		nanosleep(&pause, NULL);
	}
	return 0;
}

static int do_recv(int port, long count)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), size = RCVBUF, started = 0;
	unsigned char *seen = calloc((size_t)count, 1);
	long received = 0;
	if (fd < 0 || !seen)
		return 1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	if (bind(fd, (struct sockaddr *)&me, sizeof me)) {
		perror("udpseq: bind");
		return 1;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		unsigned char buf[BATCH][PAYLOAD];
		struct mmsghdr m[BATCH];
		struct iovec iov[BATCH];
		int n;
		if (poll(&p, 1, started ? IDLE_MS : -1) == 0)
			break;
		memset(m, 0, sizeof m);
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ buf[i], PAYLOAD };
			m[i].msg_hdr.msg_iov = &iov[i];
			m[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL);
		for (int i = 0; i < n; i++) {
			uint32_t s;
			if (m[i].msg_len < sizeof s)
				continue;
			memcpy(&s, buf[i], sizeof s);
			s = ntohl(s);
			if (s < count && !seen[s]) {
				seen[s] = 1;
				received++;
			}
			started = 1;
		}
	}
	printf("{\"received\":%ld,\"runs\":[", received);
	for (long i = 0, first = 1; i < count; i++) {
		long j = i;
		if (seen[i])
			continue;
		while (j < count && !seen[j])
			j++;
		printf("%s[%ld,%ld]", first ? "" : ",", i, j - i);
		first = 0;
		i = j;
	}
	printf("]}\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "send"))
		return do_send(argv[2], atoi(argv[3]), atol(argv[4]), atol(argv[5]));
	if (argc == 4 && !strcmp(argv[1], "recv"))
		return do_recv(atoi(argv[2]), atol(argv[3]));
	return usage();
}
