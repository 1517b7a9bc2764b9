#include "fifo.h"

#include <stdlib.h>
#include <string.h>

/* Marks "the rest of the ring is unused, continue at offset 0". */
#define WRAP_LEN UINT32_MAX
#define ALIGN 8

static size_t rec_size(uint32_t len)
{
	return (sizeof(struct frame) + len + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

int fifo_init(struct fifo *f, size_t cap)
{
	cap = (cap + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	memset(f, 0, sizeof *f);
	/* malloc of this size is an mmap: pages become resident only as the
	 * ring first cycles through them. */
	f->buf = malloc(cap);
	if (!f->buf)
		return -1;
	f->cap = cap;
	return 0;
}

/* Bytes the push of a len-byte frame consumes, including the skipped tail
 * end of the ring when the record does not fit there. */
static size_t cost(const struct fifo *f, uint32_t len, size_t *waste)
{
	size_t need = rec_size(len), pos = f->tail % f->cap, contig = f->cap - pos;
	*waste = contig < need ? contig : 0;
	return *waste + need;
}

bool fifo_fits(const struct fifo *f, uint32_t len)
{
	size_t waste;
	return f->tail + cost(f, len, &waste) - f->head <= f->cap;
}

bool fifo_push(struct fifo *f, uint64_t release_ns, uint32_t bytes, const void *data, uint32_t len)
{
	size_t waste, total = cost(f, len, &waste);
	struct frame *fr;
	if (f->tail + total - f->head > f->cap)
		return false;
	if (waste) {
		if (waste >= sizeof(struct frame))
			((struct frame *)(f->buf + f->tail % f->cap))->len = WRAP_LEN;
		f->tail += waste;
	}
	fr = (struct frame *)(f->buf + f->tail % f->cap);
	fr->release_ns = release_ns;
	fr->len = len;
	fr->bytes = bytes;
	memcpy(fr->data, data, len);
	f->tail += rec_size(len);
	return true;
}

struct frame *fifo_at(struct fifo *f, uint64_t *cursor)
{
	struct frame *fr;
	if (*cursor == f->tail)
		return NULL;
	size_t pos = *cursor % f->cap, contig = f->cap - pos;
	if (contig < sizeof(struct frame) ||
	    ((struct frame *)(f->buf + pos))->len == WRAP_LEN) {
		*cursor += contig;
		if (*cursor == f->tail)
			return NULL;
	}
	fr = (struct frame *)(f->buf + *cursor % f->cap);
	return fr;
}

void fifo_advance(struct fifo *f, uint64_t *cursor)
{
	struct frame *fr = fifo_at(f, cursor); /* normalizes a wrap */
	if (fr)
		*cursor += rec_size(fr->len);
}

void fifo_pop(struct fifo *f)
{
	fifo_advance(f, &f->head);
}
