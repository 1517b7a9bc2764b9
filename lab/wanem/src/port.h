/* An AF_PACKET socket bound to one interface: it receives every frame that
 * arrives there (not the ones sent from it) and sends raw frames out of it.
 * Frames carry a virtio-net header in front, so checksum-offload state
 * (CHECKSUM_PARTIAL) passes through the emulator intact. */
#ifndef WANEM_PORT_H
#define WANEM_PORT_H

#include <stddef.h>
#include <stdint.h>

struct port {
	const char *name;
	int ifindex;
	int fd;
	uint64_t kernel_drops; /* accumulated PACKET_STATISTICS tp_drops */
};

/* Opens the port; on failure returns -1 with a message in err. */
int port_open(struct port *p, const char *ifname, char *err, size_t errlen);

/* Adds the kernel's receive drops since the last call to p->kernel_drops. */
void port_update_drops(struct port *p);

#endif
