/*
 * buf.c - byte buffers with explicit big-endian encoding.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
buf_free(struct buf *b)
{
	free(b->b_data);
	memset(b, 0, sizeof(*b));
}

void
buf_reset(struct buf *b)
{
	b->b_len = 0;
	b->b_err = 0;
}

int
buf_reserve(struct buf *b, size_t more)
{
	size_t	 cap;
	uint8_t	*p;

	if (b->b_err)
		return -1;
	if (b->b_cap - b->b_len >= more)
		return 0;
	if (more > SIZE_MAX / 2 - b->b_len) {
		b->b_err = 1;
		return -1;
	}
	cap = b->b_cap ? b->b_cap : 256;
	while (cap - b->b_len < more)
		cap *= 2;
	if ((p = realloc(b->b_data, cap)) == NULL) {
		b->b_err = 1;
		return -1;
	}
	b->b_data = p;
	b->b_cap = cap;
	return 0;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	/* The room is nearly always there: test before calling. */
	if (n == 0 || b->b_err ||
	    (b->b_cap - b->b_len < n && buf_reserve(b, n) == -1))
		return;
	memcpy(b->b_data + b->b_len, p, n);
	b->b_len += n;
}

void
buf_add_u8(struct buf *b, uint8_t v)
{
	buf_add(b, &v, 1);
}

void
buf_add_u16(struct buf *b, uint16_t v)
{
	v = htobe16(v);
	buf_add(b, &v, sizeof(v));
}

void
buf_add_u32(struct buf *b, uint32_t v)
{
	v = htobe32(v);
	buf_add(b, &v, sizeof(v));
}

void
buf_add_u64(struct buf *b, uint64_t v)
{
	v = htobe64(v);
	buf_add(b, &v, sizeof(v));
}

void
buf_add_str(struct buf *b, const char *s, size_t n)
{
	if (n > UINT32_MAX) {
		b->b_err = 1;
		return;
	}
	buf_add_u32(b, (uint32_t)n);
	buf_add(b, s, n);
}

void
buf_add_cstr(struct buf *b, const char *s)
{
	buf_add_str(b, s ? s : "", s ? strlen(s) : 0);
}

void
buf_put_u32_at(struct buf *b, size_t off, uint32_t v)
{
	if (b->b_err || off + 4 > b->b_len)
		return;
	b->b_data[off] = v >> 24;
	b->b_data[off + 1] = v >> 16;
	b->b_data[off + 2] = v >> 8;
	b->b_data[off + 3] = v;
}

void
rd_init(struct rd *r, const void *p, size_t n)
{
	r->r_p = p;
	r->r_left = n;
}

size_t
rd_left(const struct rd *r)
{
	return r->r_left;
}

/* Take n bytes (checked by the caller) into the n-byte object at v:
 * memcpy, since frame fields have no alignment. */
static void
rd_take(struct rd *r, void *v, size_t n)
{
	memcpy(v, r->r_p, n);
	r->r_p += n;
	r->r_left -= n;
}

int
rd_u8(struct rd *r, uint8_t *out)
{
	if (r->r_left < 1)
		return -1;
	rd_take(r, out, 1);
	return 0;
}

int
rd_u16(struct rd *r, uint16_t *out)
{
	uint16_t	v;

	if (r->r_left < 2)
		return -1;
	rd_take(r, &v, 2);
	*out = be16toh(v);
	return 0;
}

int
rd_u32(struct rd *r, uint32_t *out)
{
	uint32_t	v;

	if (r->r_left < 4)
		return -1;
	rd_take(r, &v, 4);
	*out = be32toh(v);
	return 0;
}

int
rd_u64(struct rd *r, uint64_t *out)
{
	uint64_t	v;

	if (r->r_left < 8)
		return -1;
	rd_take(r, &v, 8);
	*out = be64toh(v);
	return 0;
}

int
rd_str(struct rd *r, struct str *out)
{
	struct rd	save = *r;
	uint32_t	n;

	if (rd_u32(r, &n) == -1)
		return -1;
	if (n > r->r_left) {
		*r = save;
		return -1;
	}
	out->s = (const char *)r->r_p;
	out->len = n;
	r->r_p += n;
	r->r_left -= n;
	return 0;
}

char *
str_dup(const struct str *s)
{
	char	*p;

	if ((p = malloc(s->len + 1)) == NULL)
		return NULL;
	memcpy(p, s->s, s->len);
	p[s->len] = '\0';
	return p;
}
