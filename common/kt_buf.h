/* kt_buf: a growable byte buffer, and kt_slice: a borrowed view of bytes.
 *
 * A kt_slice never owns memory: it is valid only while the buffer it points into is alive
 * and unmodified. kt_buf owns its storage; reset keeps the capacity so hot paths can reuse
 * one buffer instead of allocating per item. */
#ifndef KT_BUF_H
#define KT_BUF_H

#include <stddef.h>
#include <stdint.h>

struct kt_slice {
    const uint8_t *p;
    size_t n;
};

struct kt_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
};

#define KT_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* The capacity kt_buf_reserve(b, extra) would leave b with (b->cap when it fits already),
 * so that a caller can check a memory budget before the allocation happens. */
size_t kt_buf_grown_cap(const struct kt_buf *b, size_t extra);
/* Ensures room for `extra` more bytes. Returns 0 or KT_ENOMEM. */
int kt_buf_reserve(struct kt_buf *b, size_t extra);
int kt_buf_append(struct kt_buf *b, const void *p, size_t n);
int kt_buf_append_byte(struct kt_buf *b, uint8_t c);
/* Appends printf-formatted text (no NUL). Returns 0 or KT_ENOMEM. */
int kt_buf_printf(struct kt_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a protobuf base-128 varint. */
int kt_buf_append_varint(struct kt_buf *b, uint64_t v);
/* Keeps the storage, forgets the contents. */
static inline void kt_buf_reset(struct kt_buf *b)
{
    b->len = 0;
}
/* Releases the storage; the buffer is empty and reusable afterwards. */
void kt_buf_free(struct kt_buf *b);
/* Hands the storage to the caller (who frees it with free()); the buffer becomes empty. */
uint8_t *kt_buf_take(struct kt_buf *b, size_t *len);

/* Grows the array whose pointer is at arrp (any element type; the pointer is read and
 * written through memcpy) to hold at least need elements of elem bytes, doubling from 16.
 * *cap is in elements. Returns 0 or KT_ENOMEM (the array is then as it was). KT_GROW is the
 * usual call: KT_GROW(v, n + 1, cap) before storing v[n]. */
int kt_array_grow(void *arrp, size_t *cap, size_t need, size_t elem);
#define KT_GROW(arr, n, cap) ((n) <= (cap) ? 0 : kt_array_grow(&(arr), &(cap), (n), sizeof(*(arr))))

static inline struct kt_slice kt_buf_slice(const struct kt_buf *b)
{
    struct kt_slice s = {b->p, b->len};
    return s;
}

/* Bytes a varint encoding of v takes (1..10). */
static inline size_t kt_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v as a varint at p (room for 10 bytes assumed); returns bytes written. */
static inline size_t kt_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

#endif
