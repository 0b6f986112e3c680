/*
 * buf.h - a growable byte buffer for encoding, and a bounded reader for
 * decoding.  All integers are big-endian on the wire.  The reader never
 * reads past its end: every getter fails with -1 instead and leaves its
 * out-parameter untouched.
 */
#ifndef CHATD_BUF_H
#define CHATD_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
	uint8_t	*b_data;
	size_t	 b_len;
	size_t	 b_cap;
	int	 b_err;		/* allocation failed; later adds do nothing */
};

struct rd {
	const uint8_t	*r_p;
	size_t		 r_left;
};

/* A string inside a received frame: not NUL-terminated, lives as long as
 * the frame does. */
struct str {
	const char	*s;
	size_t		 len;
};

void	buf_init(struct buf *);
void	buf_free(struct buf *);
void	buf_reset(struct buf *);
int	buf_reserve(struct buf *, size_t more);
void	buf_add(struct buf *, const void *, size_t);
void	buf_add_u8(struct buf *, uint8_t);
void	buf_add_u16(struct buf *, uint16_t);
void	buf_add_u32(struct buf *, uint32_t);
void	buf_add_u64(struct buf *, uint64_t);
void	buf_add_str(struct buf *, const char *, size_t);	/* u32 len + bytes */
void	buf_add_cstr(struct buf *, const char *);		/* NULL = "" */
void	buf_put_u32_at(struct buf *, size_t off, uint32_t);

void	rd_init(struct rd *, const void *, size_t);
int	rd_u8(struct rd *, uint8_t *);
int	rd_u16(struct rd *, uint16_t *);
int	rd_u32(struct rd *, uint32_t *);
int	rd_u64(struct rd *, uint64_t *);
int	rd_str(struct rd *, struct str *);
size_t	rd_left(const struct rd *);

/* Copy a received string into a NUL-terminated heap string; NULL on ENOMEM. */
char	*str_dup(const struct str *);

#endif
