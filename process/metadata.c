#include "metadata.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>

#include "consumer.h"
#include "kt_pb.h"

/* Field numbers shared by the three signals' *Data -> Resource* -> Resource -> KeyValue. */
#define F_RESOURCE_X 1
#define F_RESOURCE 1
#define F_ATTRIBUTES 1
#define F_KV_KEY 1
#define F_KV_VALUE 2
#define F_ANY_STRING 1
#define TAG_LEN(num) ((uint8_t)((num) << 3 | 2))
#define MAX_ATTRS 64

static int put_len_field(struct kt_buf *b, uint32_t num, const uint8_t *p, size_t n)
{
    uint8_t tag = TAG_LEN(num);
    if (kt_buf_append(b, &tag, 1) != 0 || kt_buf_append_varint(b, n) != 0 ||
        (n > 0 && kt_buf_append(b, p, n) != 0))
        return KT_ENOMEM;
    return 0;
}

/* KeyValue{key, value: AnyValue{string_value}} as attribute field of a Resource. */
static int put_attr(struct kt_buf *b, const struct metadata_attr *a)
{
    size_t any = 1 + kt_varint_size(a->value.n) + a->value.n;
    size_t kv = 1 + kt_varint_size(a->key.n) + a->key.n + 1 + kt_varint_size(any) + any;
    uint8_t tag = TAG_LEN(F_ATTRIBUTES), vtag = TAG_LEN(F_KV_VALUE);
    if (kt_buf_append(b, &tag, 1) != 0 || kt_buf_append_varint(b, kv) != 0 ||
        put_len_field(b, F_KV_KEY, a->key.p, a->key.n) != 0 || kt_buf_append(b, &vtag, 1) != 0 ||
        kt_buf_append_varint(b, any) != 0 ||
        put_len_field(b, F_ANY_STRING, a->value.p, a->value.n) != 0)
        return KT_ENOMEM;
    return 0;
}

static bool kv_key(struct kt_slice kv, struct kt_slice *key)
{
    struct kt_pb b = kt_pb_of(kv);
    struct kt_pb_field f;
    bool found = false;
    while (kt_pb_next(&b, &f))
        if (f.num == F_KV_KEY && f.wt == KT_PB_LEN) {
            *key = f.bytes; /* the last one wins, as protobuf parsers read it */
            found = true;
        }
    return found;
}

/* Appends to out the fields of one Resource (the bytes of every occurrence, which protobuf
 * merges), then the attributes not set in place. */
static int rewrite_resource(const struct kt_slice *parts, size_t n_parts,
                            const struct metadata_attr *attrs, size_t n, struct kt_buf *out)
{
    bool done[MAX_ATTRS] = {false};
    for (size_t i = 0; i < n_parts; i++) {
        struct kt_pb b = kt_pb_of(parts[i]);
        struct kt_pb_field f;
        const uint8_t *at = b.p;
        while (kt_pb_next(&b, &f)) {
            struct kt_slice key;
            size_t hit = n;
            if (f.num == F_ATTRIBUTES && f.wt == KT_PB_LEN && kv_key(f.bytes, &key))
                for (size_t k = 0; k < n; k++)
                    if (!done[k] && key.n == attrs[k].key.n &&
                        memcmp(key.p, attrs[k].key.p, key.n) == 0) {
                        hit = k;
                        break;
                    }
            int rc;
            if (hit < n) {
                done[hit] = true;
                rc = put_attr(out, &attrs[hit]);
            } else {
                rc = kt_buf_append(out, at, (size_t)(b.p - at));
            }
            if (rc != 0)
                return KT_ENOMEM;
            at = b.p;
        }
        if (b.p != b.end)
            return KT_EINVAL;
    }
    for (size_t k = 0; k < n; k++)
        if (!done[k] && put_attr(out, &attrs[k]) != 0)
            return KT_ENOMEM;
    return 0;
}

int metadata_set_resource_attrs(struct kt_slice in, const struct metadata_attr *attrs, size_t n,
                                struct metadata_scratch *s, struct kt_buf *out)
{
    if (n > MAX_ATTRS)
        return KT_EINVAL;
    kt_buf_reset(out);
    struct kt_pb top = kt_pb_of(in);
    struct kt_pb_field f;
    const uint8_t *at = top.p;
    while (kt_pb_next(&top, &f)) {
        if (f.num != F_RESOURCE_X || f.wt != KT_PB_LEN) {
            if (kt_buf_append(out, at, (size_t)(top.p - at)) != 0)
                return KT_ENOMEM;
            at = top.p;
            continue;
        }
        at = top.p;
        /* The Resource's occurrences first (rarely more than one), then the other fields. */
        struct kt_slice parts[8];
        size_t n_parts = 0;
        kt_buf_reset(&s->outer);
        struct kt_pb rx = kt_pb_of(f.bytes);
        struct kt_pb_field g;
        const uint8_t *gat = rx.p;
        while (kt_pb_next(&rx, &g)) {
            if (g.num == F_RESOURCE && g.wt == KT_PB_LEN) {
                if (n_parts == sizeof(parts) / sizeof(parts[0]))
                    return KT_EINVAL;
                parts[n_parts++] = g.bytes;
            } else if (kt_buf_append(&s->outer, gat, (size_t)(rx.p - gat)) != 0) {
                return KT_ENOMEM;
            }
            gat = rx.p;
        }
        if (rx.p != rx.end)
            return KT_EINVAL;
        kt_buf_reset(&s->resource);
        int rc = rewrite_resource(parts, n_parts, attrs, n, &s->resource);
        if (rc != 0)
            return rc;
        size_t rlen = s->resource.len;
        size_t inner = 1 + kt_varint_size(rlen) + rlen + s->outer.len;
        uint8_t tag = TAG_LEN(F_RESOURCE_X);
        if (kt_buf_append(out, &tag, 1) != 0 || kt_buf_append_varint(out, inner) != 0 ||
            put_len_field(out, F_RESOURCE, s->resource.p, rlen) != 0 ||
            (s->outer.len > 0 && kt_buf_append(out, s->outer.p, s->outer.len) != 0))
            return KT_ENOMEM;
    }
    return top.p == top.end ? 0 : KT_EINVAL;
}

void metadata_scratch_free(struct metadata_scratch *s)
{
    kt_buf_free(&s->resource);
    kt_buf_free(&s->outer);
}

bool metadata_header(const struct consumer_msg *m, const char *name, bool nocase,
                     struct kt_slice *out)
{
    rd_kafka_headers_t *hdrs = NULL;
    if (m->rkm == NULL || rd_kafka_message_headers((const rd_kafka_message_t *)m->rkm, &hdrs) != 0)
        return false;
    const char *hn;
    const void *v;
    size_t n;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &hn, &v, &n) == 0; i++)
        if (nocase ? strcasecmp(hn, name) == 0 : strcmp(hn, name) == 0) {
            *out = (struct kt_slice){v != NULL ? v : (const uint8_t *)"", v != NULL ? n : 0};
            return true;
        }
    return false;
}
