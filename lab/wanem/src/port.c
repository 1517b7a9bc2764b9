#include "port.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/* Socket buffers: ~100 ms of 1 Gbit/s of full-size frames (kernel truesize
 * is roughly twice the frame), so a receive thread that the scheduler
 * holds off for a while does not make the kernel drop. */
#define PORT_RCVBUF (64 * 1024 * 1024)
#define PORT_SNDBUF (8 * 1024 * 1024)

static int opt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof value);
}

int port_open(struct port *p, const char *ifname, char *err, size_t errlen)
{
	struct sockaddr_ll sll;
	struct packet_mreq mr;
	const char *what;

	memset(p, 0, sizeof *p);
	p->name = ifname;
	p->fd = -1;
	p->ifindex = (int)if_nametoindex(ifname);
	if (p->ifindex == 0) {
		snprintf(err, errlen, "no interface '%s' in this network namespace: name an existing interface "
			 "(run wanem inside the namespace that holds it, e.g. with ip netns exec)", ifname);
		return -2;
	}
	/* Protocol 0: receive nothing until bound to the interface, so no
	 * frame from another interface slips in between socket() and bind(). */
	p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (p->fd < 0) {
		what = "socket(AF_PACKET) (needs CAP_NET_RAW)";
		goto fail;
	}
	what = "PACKET_VNET_HDR";
	if (opt(p->fd, SOL_PACKET, PACKET_VNET_HDR, 1))
		goto fail;
	what = "PACKET_IGNORE_OUTGOING";
	if (opt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1))
		goto fail;
	/* Sends go straight to the driver: the emulator is the queue. */
	what = "PACKET_QDISC_BYPASS";
	if (opt(p->fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1))
		goto fail;
	what = "SO_RCVBUFFORCE (needs CAP_NET_ADMIN)";
	if (opt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, PORT_RCVBUF))
		goto fail;
	what = "SO_SNDBUFFORCE (needs CAP_NET_ADMIN)";
	if (opt(p->fd, SOL_SOCKET, SO_SNDBUFFORCE, PORT_SNDBUF))
		goto fail;

	memset(&sll, 0, sizeof sll);
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = p->ifindex;
	/* Kernel receive timestamps: the arrival time does not depend on
	 * when the forwarding thread gets the CPU. */
	what = "SO_TIMESTAMPNS";
	if (opt(p->fd, SOL_SOCKET, SO_TIMESTAMPNS, 1))
		goto fail;
	what = "bind";
	if (bind(p->fd, (struct sockaddr *)&sll, sizeof sll))
		goto fail;
	/* A bump in the wire forwards frames for any destination MAC. */
	memset(&mr, 0, sizeof mr);
	mr.mr_ifindex = p->ifindex;
	mr.mr_type = PACKET_MR_PROMISC;
	what = "PACKET_ADD_MEMBERSHIP promiscuous";
	if (setsockopt(p->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof mr))
		goto fail;
	port_update_drops(p); /* start counting from zero */
	p->kernel_drops = 0;
	return 0;
fail:
	snprintf(err, errlen, "cannot open interface '%s': %s failed: %s", ifname, what, strerror(errno));
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	return -1;
}

void port_update_drops(struct port *p)
{
	struct tpacket_stats st;
	socklen_t len = sizeof st;
	/* Reading the statistics resets them in the kernel. */
	if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) == 0)
		__atomic_fetch_add(&p->kernel_drops, st.tp_drops, __ATOMIC_RELAXED);
}
