#include "kt_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_err.h"

size_t kt_buf_grown_cap(const struct kt_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return b->cap;
    size_t need = b->len + extra;
    if (need < b->len)
        return SIZE_MAX;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return need;
        cap *= 2;
    }
    return cap;
}

int kt_buf_reserve(struct kt_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (b->len + extra < b->len)
        return KT_ENOMEM;
    size_t cap = kt_buf_grown_cap(b, extra);
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL)
        return KT_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

int kt_array_grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return KT_ENOMEM;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return KT_ENOMEM;
    void *old;
    memcpy(&old, arrp, sizeof(old));
    void *p = realloc(old, n * elem);
    if (p == NULL)
        return KT_ENOMEM;
    memcpy(arrp, &p, sizeof(p));
    *cap = n;
    return 0;
}

int kt_buf_append(struct kt_buf *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int rc = kt_buf_reserve(b, n);
    if (rc != 0)
        return rc;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

int kt_buf_printf(struct kt_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return KT_EINVAL;
    /* vsnprintf writes the NUL too: room for it, though it is not kept. */
    int rc = kt_buf_reserve(b, (size_t)n + 1);
    if (rc != 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int kt_buf_append_byte(struct kt_buf *b, uint8_t c)
{
    int rc = kt_buf_reserve(b, 1);
    if (rc != 0)
        return rc;
    b->p[b->len++] = c;
    return 0;
}

int kt_buf_append_varint(struct kt_buf *b, uint64_t v)
{
    int rc = kt_buf_reserve(b, 10);
    if (rc != 0)
        return rc;
    b->len += kt_varint_put(b->p + b->len, v);
    return 0;
}

void kt_buf_free(struct kt_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

uint8_t *kt_buf_take(struct kt_buf *b, size_t *len)
{
    uint8_t *p = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}
