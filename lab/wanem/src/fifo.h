/* A byte ring of frames waiting for their release time, in arrival order
 * (release times never decrease: the delay is fixed and the serializer is
 * FIFO). One thread pushes and pops, so there is no locking. */
#ifndef WANEM_FIFO_H
#define WANEM_FIFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct frame {
	uint64_t release_ns;
	uint32_t len;   /* bytes in data[] (virtio-net header + Ethernet frame) */
	uint32_t bytes; /* packet bytes charged to the link */
	uint8_t data[];
};

struct fifo {
	uint8_t *buf;
	size_t cap;
	uint64_t head, tail; /* byte offsets, growing forever; index = off % cap */
};

int fifo_init(struct fifo *f, size_t cap);
/* Room for a frame of len data bytes right now? */
bool fifo_fits(const struct fifo *f, uint32_t len);
/* Copies the frame in; false (nothing stored) when the ring is full. */
bool fifo_push(struct fifo *f, uint64_t release_ns, uint32_t bytes, const void *data, uint32_t len);
/* Walk: *cursor starts at f->head; returns NULL at the end. */
struct frame *fifo_at(struct fifo *f, uint64_t *cursor);
void fifo_advance(struct fifo *f, uint64_t *cursor);
/* Drops the oldest frame. */
void fifo_pop(struct fifo *f);
static inline bool fifo_empty(const struct fifo *f) { return f->head == f->tail; }

#endif
