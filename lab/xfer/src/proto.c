#include "proto.h"

#include <stdio.h>
#include <string.h>

static void put16(uint8_t **p, uint16_t v)
{
	(*p)[0] = (uint8_t)(v >> 8);
	(*p)[1] = (uint8_t)v;
	*p += 2;
}

static void put32(uint8_t **p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		(*p)[i] = (uint8_t)(v >> (24 - 8 * i));
	*p += 4;
}

static void put64(uint8_t **p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		(*p)[i] = (uint8_t)(v >> (56 - 8 * i));
	*p += 8;
}

static void put_bytes(uint8_t **p, const void *src, size_t n)
{
	memcpy(*p, src, n);
	*p += n;
}

/* Copies a C string into a fixed field, NUL-padded, always terminated. */
static void put_text(uint8_t **p, const char *s, size_t field)
{
	size_t n = strnlen(s, field - 1);
	memcpy(*p, s, n);
	memset(*p + n, 0, field - n);
	*p += field;
}

static uint16_t get16(const uint8_t **p)
{
	uint16_t v = (uint16_t)((*p)[0] << 8 | (*p)[1]);
	*p += 2;
	return v;
}

static uint32_t get32(const uint8_t **p)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | (*p)[i];
	*p += 4;
	return v;
}

static uint64_t get64(const uint8_t **p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | (*p)[i];
	*p += 8;
	return v;
}

/* Reads a fixed text field, forcing termination whatever the peer sent. */
static void get_text(const uint8_t **p, char *dst, size_t field)
{
	memcpy(dst, *p, field);
	dst[field - 1] = '\0';
	*p += field;
}

void header_encode(const struct xfer_header *h, uint8_t out[XFER_HEADER_LEN])
{
	uint8_t *p = out;
	put32(&p, XFER_MAGIC);
	put16(&p, XFER_VERSION);
	*p++ = h->dir;
	*p++ = 0;
	put32(&p, h->id);
	put32(&p, 0);
	put64(&p, h->size);
	put64(&p, h->seed);
}

int header_decode(const uint8_t in[XFER_HEADER_LEN], struct xfer_header *h,
		  char *err, size_t errlen)
{
	const uint8_t *p = in;
	uint32_t magic = get32(&p);
	uint16_t version = get16(&p);
	if (magic != XFER_MAGIC) {
		snprintf(err, errlen, "bad magic 0x%08x, not an xfer client", magic);
		return XFER_ST_BAD_HEADER;
	}
	if (version != XFER_VERSION) {
		snprintf(err, errlen, "protocol version %u, server speaks %u", version,
			 XFER_VERSION);
		return XFER_ST_BAD_HEADER;
	}
	h->dir = *p++;
	p++;
	h->id = get32(&p);
	p += 4;
	h->size = get64(&p);
	h->seed = get64(&p);
	if (h->dir != XFER_UP && h->dir != XFER_DOWN) {
		snprintf(err, errlen, "unknown direction %u", h->dir);
		return XFER_ST_BAD_HEADER;
	}
	return XFER_ST_OK;
}

void trailer_encode(const struct xfer_trailer *t, uint8_t out[XFER_TRAILER_LEN])
{
	uint8_t *p = out;
	put32(&p, XFER_TRAILER_MAGIC);
	put16(&p, XFER_VERSION);
	put16(&p, t->status);
	put64(&p, t->bytes);
	put64(&p, t->t_last_ns);
	put64(&p, t->first_bad);
	put_bytes(&p, t->sha, HASH_LEN);
	put_text(&p, t->peer, XFER_ADDR_LEN);
	put_text(&p, t->cc, XFER_CC_LEN);
	put_text(&p, t->msg, XFER_MSG_LEN);
}

int trailer_decode(const uint8_t in[XFER_TRAILER_LEN], struct xfer_trailer *t)
{
	const uint8_t *p = in;
	if (get32(&p) != XFER_TRAILER_MAGIC || get16(&p) != XFER_VERSION)
		return -1;
	t->status = get16(&p);
	t->bytes = get64(&p);
	t->t_last_ns = get64(&p);
	t->first_bad = get64(&p);
	memcpy(t->sha, p, HASH_LEN);
	p += HASH_LEN;
	get_text(&p, t->peer, XFER_ADDR_LEN);
	get_text(&p, t->cc, XFER_CC_LEN);
	get_text(&p, t->msg, XFER_MSG_LEN);
	return 0;
}

_Static_assert(XFER_HEADER_LEN == 4 + 2 + 1 + 1 + 4 + 4 + 8 + 8, "header layout");
_Static_assert(XFER_TRAILER_LEN == 4 + 2 + 2 + 8 + 8 + 8 + HASH_LEN + XFER_ADDR_LEN +
			   XFER_CC_LEN + XFER_MSG_LEN, "trailer layout");
