#include "kt_attrhash.h"

#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "kt_err.h"
#include "kt_pb.h"

enum {
    F_EXTRA = 0xf3,
    F_KEY = 0xf4,
    F_EMPTY = 0xf5,
    F_BYTES = 0xf6,
    F_STR = 0xf7,
    F_TRUE = 0xf8,
    F_FALSE = 0xf9,
    F_INT = 0xfa,
    F_DOUBLE = 0xfb,
    F_MAP = 0xfc,
    F_MAP_END = 0xfd,
    F_SLICE = 0xfe,
    F_SLICE_END = 0xff,
};

/* One KeyValue of a map being written: its key and its AnyValue payload (NULL: none). */
struct kt_attrhash_kv {
    const uint8_t *key, *val;
    size_t key_len, val_len;
};

void kt_attrhash_init(struct kt_attrhash *h)
{
    memset(h, 0, sizeof(*h));
    h->form = (struct kt_buf)KT_BUF_INIT;
}

void kt_attrhash_free(struct kt_attrhash *h)
{
    kt_buf_free(&h->form);
    free(h->kvs);
    memset(h, 0, sizeof(*h));
}

void kt_attrhash_begin(struct kt_attrhash *h)
{
    h->n_kvs = 0;
    kt_buf_reset(&h->form);
}

static int push_kv(struct kt_attrhash *h, const uint8_t *p, const uint8_t *end)
{
    if (KT_GROW(h->kvs, h->n_kvs + 1, h->cap_kvs) != 0)
        return KT_ENOMEM;
    struct kt_attrhash_kv *kv = &h->kvs[h->n_kvs];
    memset(kv, 0, sizeof(*kv));
    struct kt_pb_field f;
    int rc;
    while ((rc = kt_pb_field(&p, end, &f)) == 1) {
        if (f.wt != KT_PB_LEN)
            continue;
        if (f.num == 1) {
            kv->key = f.bytes.p;
            kv->key_len = f.bytes.n;
        } else if (f.num == 2) {
            kv->val = f.bytes.p;
            kv->val_len = f.bytes.n;
        }
    }
    if (rc < 0)
        return KT_EINVAL;
    h->n_kvs++;
    return 0;
}

/* Collects the entries of field `field` of [p, end) above h->kvs[h->n_kvs]. */
static int collect(struct kt_attrhash *h, const uint8_t *p, const uint8_t *end, uint32_t field)
{
    struct kt_pb_field f;
    int rc;
    while ((rc = kt_pb_field(&p, end, &f)) == 1) {
        if (f.num == field && f.wt == KT_PB_LEN &&
            (rc = push_kv(h, f.bytes.p, f.bytes.p + f.bytes.n)) != 0)
            return rc;
    }
    return rc < 0 ? KT_EINVAL : 0;
}

static int key_cmp(const struct kt_attrhash_kv *a, const struct kt_attrhash_kv *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int r = n ? memcmp(a->key, b->key, n) : 0;
    if (r != 0)
        return r;
    return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

static int put_len_prefixed(struct kt_buf *b, uint8_t tag, const uint8_t *p, size_t n)
{
    if (kt_buf_append_byte(b, tag) != 0 || kt_buf_append_varint(b, n) != 0 ||
        kt_buf_append(b, p, n) != 0)
        return KT_ENOMEM;
    return 0;
}

static int put_u64(struct kt_buf *b, uint8_t tag, uint64_t v)
{
    uint8_t le[9] = {tag};
    for (int i = 0; i < 8; i++)
        le[1 + i] = (uint8_t)(v >> (8 * i));
    return kt_buf_append(b, le, sizeof(le)) != 0 ? KT_ENOMEM : 0;
}

static int write_map(struct kt_attrhash *h, size_t first, int depth);

/* Writes the AnyValue payload [p, end) (NULL: no AnyValue at all). */
static int write_value(struct kt_attrhash *h, const uint8_t *p, const uint8_t *end, int depth)
{
    struct kt_buf *b = &h->form;
    if (depth > KT_ATTRHASH_MAX_DEPTH)
        return KT_EINVAL;
    struct kt_pb_field f, last = {0};
    int rc = 0;
    while (p != NULL && (rc = kt_pb_field(&p, end, &f)) == 1) {
        if (f.num >= 1 && f.num <= 7)
            last = f;
    }
    if (rc < 0)
        return KT_EINVAL;
    switch (last.num) {
    case 0: return kt_buf_append_byte(b, F_EMPTY) != 0 ? KT_ENOMEM : 0;
    case 1: return put_len_prefixed(b, F_STR, last.bytes.p, last.bytes.n);
    case 2: return kt_buf_append_byte(b, last.v != 0 ? F_TRUE : F_FALSE) != 0 ? KT_ENOMEM : 0;
    case 3: return put_u64(b, F_INT, last.v);
    case 4: return put_u64(b, F_DOUBLE, last.v);
    case 5: {
        /* ArrayValue: its values in order. */
        if (kt_buf_append_byte(b, F_SLICE) != 0)
            return KT_ENOMEM;
        const uint8_t *q = last.bytes.p, *qend = last.bytes.p + last.bytes.n;
        while ((rc = kt_pb_field(&q, qend, &f)) == 1) {
            if (f.num == 1 && f.wt == KT_PB_LEN &&
                (rc = write_value(h, f.bytes.p, f.bytes.p + f.bytes.n, depth + 1)) != 0)
                return rc;
        }
        if (rc < 0)
            return KT_EINVAL;
        return kt_buf_append_byte(b, F_SLICE_END) != 0 ? KT_ENOMEM : 0;
    }
    case 6: {
        /* KeyValueList: a map of its own, collected above the entries being written. */
        size_t first = h->n_kvs;
        if (kt_buf_append_byte(b, F_MAP) != 0)
            return KT_ENOMEM;
        if ((rc = collect(h, last.bytes.p, last.bytes.p + last.bytes.n, 1)) != 0 ||
            (rc = write_map(h, first, depth + 1)) != 0)
            return rc;
        h->n_kvs = first;
        return kt_buf_append_byte(b, F_MAP_END) != 0 ? KT_ENOMEM : 0;
    }
    default: /* 7 */ return put_len_prefixed(b, F_BYTES, last.bytes.p, last.bytes.n);
    }
}

/* Sorts h->kvs[first, n_kvs) by key and writes them. Entries are read by index: writing a
 * nested map collects more entries, which may move the array. */
static int write_map(struct kt_attrhash *h, size_t first, int depth)
{
    size_t n = h->n_kvs;
    /* Insertion sort: stable (equal keys keep their order, as the Collector's sort of a
     * small map does) and quickest for the handful of attributes a resource carries. */
    for (size_t i = first + 1; i < n; i++) {
        struct kt_attrhash_kv t = h->kvs[i];
        size_t j = i;
        while (j > first && key_cmp(&h->kvs[j - 1], &t) > 0) {
            h->kvs[j] = h->kvs[j - 1];
            j--;
        }
        h->kvs[j] = t;
    }
    for (size_t i = first; i < n; i++) {
        struct kt_attrhash_kv kv = h->kvs[i];
        int rc = put_len_prefixed(&h->form, F_KEY, kv.key, kv.key_len);
        if (rc == 0)
            rc = write_value(h, kv.val, kv.val + kv.val_len, depth);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int kt_attrhash_add(struct kt_attrhash *h, const uint8_t *p, const uint8_t *end, uint32_t field)
{
    return collect(h, p, end, field);
}

int kt_attrhash_end(struct kt_attrhash *h, uint8_t out[KT_ATTRHASH_LEN])
{
    memset(out, 0, KT_ATTRHASH_LEN);
    if (h->n_kvs == 0)
        return 0;
    int rc = write_map(h, 0, 0);
    if (rc != 0)
        return rc;
    uint64_t a = XXH64(h->form.p, h->form.len, 0);
    if (kt_buf_append_byte(&h->form, F_EXTRA) != 0)
        return KT_ENOMEM;
    uint64_t b = XXH64(h->form.p, h->form.len, 0);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(a >> (8 * i));
        out[8 + i] = (uint8_t)(b >> (8 * i));
    }
    return 0;
}
