#include "span_edit.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kt_err.h"
#include "kt_pb.h"

/* Field numbers of the path down to a span's attributes (trace.proto, common.proto). */
#define F_TRACES_RESOURCE_SPANS 1
#define F_RESOURCE_SCOPE_SPANS 2
#define F_SCOPE_SPANS 2
#define F_SPAN_ATTRIBUTES 9
#define F_KV_KEY 1
#define F_KV_VALUE 2
#define F_ANY_STRING 1
#define F_ANY_BOOL 2
#define F_ANY_INT 3
#define F_ANY_DOUBLE 4
#define F_ANY_LAST 8 /* string_value_strindex, the last member of the value oneof */

#define TAG(num, wt) ((uint8_t)((num) << 3 | (wt)))

struct edit {
    bool del;
    const char *key; /* borrowed from the statement */
    size_t keylen;
    /* set: in kvs (offsets: kvs grows), the KeyValue it appends, which ends in the value
     * field whose AnyValue fields (any_at) it writes into an existing one */
    size_t kv_at, kv_len, any_at;
};

/* One attribute of the span being edited: one it had, or one a set appends. */
struct attr {
    const uint8_t *kv; /* its KeyValue's serialization */
    size_t kv_len;
    const uint8_t *key; /* its key as the decoded data has it: the last given, up to a NUL */
    size_t keylen;
    /* A set's AnyValue fields, to replace the value kv holds, or NULL. As a set on the
     * decoded data, the KeyValue keeps its other fields and the AnyValue its unknown ones. */
    const uint8_t *any;
    size_t any_len;
    const uint8_t *field, *field_end; /* one the span had: its field in the span's bytes */
    bool kept;                        /* still there after the edits */
};

struct span_edits {
    struct edit *v;
    size_t n, cap;
    /* What an edit's key may be by its first byte (bit 0: any edit's), so most attributes
     * are passed over on one load (skip_untouched). */
    struct kt_pb_key_firsts firsts;
    struct kt_buf kvs;
    /* Scratch, reused span after span: the span's attributes and then those sets append,
     * and the edits' working list, indexes into attrs. */
    struct attr *attrs;
    size_t attrs_cap;
    size_t *list;
    size_t list_cap;
};

int span_edits_new(struct span_edits **out)
{
    *out = calloc(1, sizeof(**out));
    return *out != NULL ? 0 : KT_ENOMEM;
}

/* Appends a length-delimited field. */
static int put_len(struct kt_buf *b, uint8_t tag, const void *p, size_t n)
{
    return kt_buf_append_byte(b, tag) != 0 || kt_buf_append_varint(b, n) != 0 ||
                   kt_buf_append(b, p, n) != 0
               ? KT_ENOMEM
               : 0;
}

/* Appends the fields of the AnyValue a set edit writes. */
static int put_any(struct kt_buf *b, const struct ottl_attr_edit *e)
{
    uint8_t d[8];
    uint64_t bits;
    switch (e->kind) {
    case OTTL_EDIT_SET_STR: return put_len(b, TAG(F_ANY_STRING, KT_PB_LEN), e->s.p, e->s.n);
    case OTTL_EDIT_SET_BOOL:
        return kt_buf_append_byte(b, TAG(F_ANY_BOOL, KT_PB_VARINT)) != 0 ||
                       kt_buf_append_byte(b, e->b ? 1 : 0) != 0
                   ? KT_ENOMEM
                   : 0;
    case OTTL_EDIT_SET_INT:
        return kt_buf_append_byte(b, TAG(F_ANY_INT, KT_PB_VARINT)) != 0 ||
                       kt_buf_append_varint(b, (uint64_t)e->i) != 0
                   ? KT_ENOMEM
                   : 0;
    case OTTL_EDIT_SET_DOUBLE:
        memcpy(&bits, &e->d, sizeof(bits));
        for (int i = 0; i < 8; i++)
            d[i] = (uint8_t)(bits >> (8 * i));
        return kt_buf_append_byte(b, TAG(F_ANY_DOUBLE, KT_PB_FIXED64)) != 0 ||
                       kt_buf_append(b, d, sizeof(d)) != 0
                   ? KT_ENOMEM
                   : 0;
    case OTTL_EDIT_DELETE: break;
    }
    return KT_EINVAL;
}

int span_edits_add(struct span_edits *se, const struct ottl_attr_edit *e)
{
    if (KT_GROW(se->v, se->n + 1, se->cap) != 0)
        return KT_ENOMEM;
    struct edit *ed = &se->v[se->n];
    *ed = (struct edit){.del = e->kind == OTTL_EDIT_DELETE, .key = e->key, .keylen = e->keylen};
    kt_pb_key_firsts_add(&se->firsts, e->key, e->keylen, 0);
    if (!ed->del) {
        struct kt_buf any = KT_BUF_INIT;
        int rc = put_any(&any, e);
        ed->kv_at = se->kvs.len;
        if (rc == 0)
            rc = put_len(&se->kvs, TAG(F_KV_KEY, KT_PB_LEN), e->key, e->keylen);
        if (rc == 0)
            rc = put_len(&se->kvs, TAG(F_KV_VALUE, KT_PB_LEN), any.p, any.len);
        ed->any_at = se->kvs.len - any.len;
        kt_buf_free(&any);
        if (rc != 0)
            return rc;
        ed->kv_len = se->kvs.len - ed->kv_at;
    }
    se->n++;
    return 0;
}

static bool key_is(const struct attr *a, const struct edit *e)
{
    return a->keylen == e->keylen && memcmp(a->key, e->key, e->keylen) == 0;
}

/* The attribute a KeyValue's bytes make. */
static int attr_of(struct kt_slice kv, struct attr *out)
{
    *out = (struct attr){.kv = kv.p, .kv_len = kv.n, .key = (const uint8_t *)""};
    struct kt_slice key = {NULL, 0}, value;
    struct kt_pb b = kt_pb_of(kv);
    struct kt_pb_field f;
    if (kt_pb_short_pair(kv, &key, &value))
        b.p = b.end; /* key and value, nothing else: read already */
    while (kt_pb_next(&b, &f))
        if (f.num == F_KV_KEY && f.wt == KT_PB_LEN)
            key = f.bytes; /* the last one counts */
    if (b.p != b.end)
        return KT_EINVAL;
    if (key.p != NULL) {
        /* The decoded key is a C string: it ends at a NUL. */
        const uint8_t *nul = memchr(key.p, '\0', key.n);
        out->key = key.p;
        out->keylen = nul != NULL ? (size_t)(nul - key.p) : key.n;
    }
    return 0;
}

/* Whether no edit can touch the attribute kv: a KeyValue of the usual shape
 * (kt_pb_short_pair: one key, so the decoded data has that one) whose key no edit's can be,
 * by its length or its first byte. Most attributes of a span are told apart so, and only the
 * others go through attr_of and run_edits: an edit touches only attributes of its key, so
 * the rest are kept as they came, wherever they are. */
static bool untouched(const struct span_edits *se, struct kt_slice kv)
{
    struct kt_slice k, v;
    if (!kt_pb_short_first(kv, &k))
        return false;
    for (size_t i = 0; i < se->n; i++) {
        const struct edit *e = &se->v[i];
        if (kt_pb_key_may_be(k, e->key, e->keylen))
            return false;
    }
    return kt_pb_short_second(kv, k, &v);
}

/* Steps over the run of attributes at p that untouched passes over by their key's first
 * byte (or emptiness) alone, each a field with a one-byte length: the run of the usual span
 * holds all of its attributes, and most are passed so at a few instructions each instead of
 * a field read and untouched. Stops at any other field or attribute. */
static const uint8_t *skip_untouched(const struct span_edits *se, const uint8_t *p,
                                     const uint8_t *end)
{
    struct kt_slice k, v;
    while (kt_pb_at_short(p, end, TAG(F_SPAN_ATTRIBUTES, KT_PB_LEN))) {
        struct kt_slice kv = {p + 2, p[1]};
        if (!kt_pb_short_pair(kv, &k, &v) || kt_pb_key_firsts_of(&se->firsts, k) != 0)
            break;
        p = kv.p + kv.n;
    }
    return p;
}

/* Runs the edits over the n attributes of the span they may touch (se->attrs) in order, then
 * marks those left kept. Returns how many attributes there are now in se->attrs (those the
 * span had first), or 0 when out of memory (*rc then says so). */
static size_t run_edits(struct span_edits *se, size_t n, int *rc)
{
    if (KT_GROW(se->attrs, n + se->n, se->attrs_cap) != 0 ||
        KT_GROW(se->list, n + se->n, se->list_cap) != 0) {
        *rc = KT_ENOMEM;
        return 0;
    }
    size_t total = n, len = n;
    for (size_t i = 0; i < n; i++)
        se->list[i] = i;
    for (size_t k = 0; k < se->n; k++) {
        const struct edit *e = &se->v[k];
        if (e->del) {
            size_t j = 0;
            for (size_t i = 0; i < len; i++)
                if (!key_is(&se->attrs[se->list[i]], e))
                    se->list[j++] = se->list[i];
            len = j;
            continue;
        }
        size_t i = 0;
        while (i < len && !key_is(&se->attrs[se->list[i]], e))
            i++;
        if (i == len) {
            se->attrs[total] = (struct attr){.kv = se->kvs.p + e->kv_at,
                                             .kv_len = e->kv_len,
                                             .key = (const uint8_t *)e->key,
                                             .keylen = e->keylen};
            se->list[len++] = total++;
        } else {
            se->attrs[se->list[i]].any = se->kvs.p + e->any_at;
            se->attrs[se->list[i]].any_len = e->kv_at + e->kv_len - e->any_at;
        }
    }
    for (size_t i = 0; i < len; i++)
        se->attrs[se->list[i]].kept = true;
    return total;
}

/* The unknown fields of the AnyValue in kv's last value field (protobuf-c, merging a value
 * given twice, keeps the last one's: so does the decoded data): appended to out, or counted
 * in *n when out is NULL. */
static int value_unknowns(struct kt_slice kv, struct kt_buf *out, size_t *n)
{
    struct kt_pb b = kt_pb_of(kv);
    struct kt_pb_field f, g;
    struct kt_slice last = {NULL, 0};
    while (kt_pb_next(&b, &f))
        if (f.num == F_KV_VALUE && f.wt == KT_PB_LEN)
            last = f.bytes;
    if (last.p == NULL)
        return 0;
    struct kt_pb v = kt_pb_of(last);
    for (const uint8_t *at = v.p; kt_pb_next(&v, &g); at = v.p) {
        if (g.num <= F_ANY_LAST)
            continue;
        if (out == NULL)
            *n += (size_t)(v.p - at);
        else if (kt_buf_append(out, at, (size_t)(v.p - at)) != 0)
            return KT_ENOMEM;
    }
    return 0;
}

/* Appends a's KeyValue as a span attribute field. */
static int put_attr(struct kt_buf *out, const struct attr *a)
{
    struct kt_slice kv = {a->kv, a->kv_len};
    if (a->any == NULL)
        return put_len(out, TAG(F_SPAN_ATTRIBUTES, KT_PB_LEN), kv.p, kv.n);
    size_t vlen = a->any_len, value_bytes = 0;
    value_unknowns(kv, NULL, &vlen);
    struct kt_pb b = kt_pb_of(kv);
    struct kt_pb_field f;
    for (const uint8_t *at = b.p; kt_pb_next(&b, &f); at = b.p)
        if (f.num == F_KV_VALUE)
            value_bytes += (size_t)(b.p - at);
    size_t len = kv.n - value_bytes + 1 + kt_varint_size(vlen) + vlen;
    if (kt_buf_append_byte(out, TAG(F_SPAN_ATTRIBUTES, KT_PB_LEN)) != 0 ||
        kt_buf_append_varint(out, len) != 0)
        return KT_ENOMEM;
    b = kt_pb_of(kv);
    const uint8_t *at = b.p;
    while (kt_pb_next(&b, &f)) {
        if (f.num != F_KV_VALUE && kt_buf_append(out, at, (size_t)(b.p - at)) != 0)
            return KT_ENOMEM;
        at = b.p;
    }
    if (kt_buf_append_byte(out, TAG(F_KV_VALUE, KT_PB_LEN)) != 0 ||
        kt_buf_append_varint(out, vlen) != 0 || value_unknowns(kv, out, NULL) != 0)
        return KT_ENOMEM;
    return kt_buf_append(out, a->any, a->any_len) != 0 ? KT_ENOMEM : 0;
}

/* Copies span to out with its attributes edited in place: what the edits leave alone is
 * copied as it came, in runs as long as they go; attributes sets append go last. Only the
 * attributes an edit may touch (not untouched) are listed in se->attrs. */
static int edit_span(struct span_edits *se, struct kt_slice span, struct kt_buf *out)
{
    size_t n = 0;
    struct kt_pb b = kt_pb_of(span);
    struct kt_pb_field f;
    for (;;) {
        b.p = skip_untouched(se, b.p, b.end);
        const uint8_t *at = b.p;
        if (!kt_pb_next(&b, &f))
            break;
        if (f.num == F_SPAN_ATTRIBUTES && f.wt == KT_PB_LEN && !untouched(se, f.bytes)) {
            if (KT_GROW(se->attrs, n + 1, se->attrs_cap) != 0)
                return KT_ENOMEM;
            if (attr_of(f.bytes, &se->attrs[n]) != 0)
                return KT_EINVAL;
            se->attrs[n].field = at;
            se->attrs[n++].field_end = b.p;
        }
    }
    if (b.p != b.end)
        return KT_EINVAL;
    int rc = 0;
    size_t total = run_edits(se, n, &rc);
    if (rc != 0)
        return rc;
    const uint8_t *run = span.p;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct attr *a = &se->attrs[i];
        if (a->kept && a->any == NULL)
            continue;
        if (kt_buf_append(out, run, (size_t)(a->field - run)) != 0)
            return KT_ENOMEM;
        if (a->kept)
            rc = put_attr(out, a);
        run = a->field_end;
    }
    if (rc == 0 && kt_buf_append(out, run, (size_t)(span.p + span.n - run)) != 0)
        rc = KT_ENOMEM;
    for (size_t i = n; i < total && rc == 0; i++)
        if (se->attrs[i].kept)
            rc = put_attr(out, &se->attrs[i]);
    return rc;
}

/* Writes the length of what was appended after out->p[at + room], in the room left for
 * it, moving those bytes when its varint needs more or less. */
static int close_len(struct kt_buf *out, size_t at, size_t room)
{
    size_t start = at + room, len = out->len - start, need = kt_varint_size(len);
    if (need != room) {
        if (need > room && kt_buf_reserve(out, need - room) != 0)
            return KT_ENOMEM;
        memmove(out->p + at + need, out->p + start, len);
        out->len = at + need + len;
    }
    kt_varint_put(out->p + at, len);
    return 0;
}

/* Copies msg, a message at depth (0 TracesData, 1 ResourceSpans, 2 ScopeSpans), to out with
 * the spans under it edited. */
static int copy_level(struct span_edits *se, struct kt_slice msg, int depth, struct kt_buf *out)
{
    static const uint32_t down[] = {F_TRACES_RESOURCE_SPANS, F_RESOURCE_SCOPE_SPANS, F_SCOPE_SPANS};
    struct kt_pb b = kt_pb_of(msg);
    struct kt_pb_field f;
    const uint8_t *run = b.p, *at = b.p;
    int rc = 0;
    while (rc == 0 && kt_pb_next(&b, &f)) {
        if (f.num == down[depth] && f.wt == KT_PB_LEN) {
            /* The length as it came usually fits the edited one. */
            size_t room = kt_varint_size(f.bytes.n);
            if (kt_buf_append(out, run, (size_t)(at - run)) != 0 ||
                kt_buf_append_byte(out, TAG(down[depth], KT_PB_LEN)) != 0 ||
                kt_buf_reserve(out, room + f.bytes.n) != 0)
                return KT_ENOMEM;
            size_t len_at = out->len;
            out->len += room;
            rc = depth == 2 ? edit_span(se, f.bytes, out) : copy_level(se, f.bytes, depth + 1, out);
            if (rc == 0)
                rc = close_len(out, len_at, room);
            run = b.p;
        }
        at = b.p;
    }
    if (rc != 0)
        return rc;
    if (b.p != b.end)
        return KT_EINVAL;
    return kt_buf_append(out, run, (size_t)(b.end - run)) != 0 ? KT_ENOMEM : 0;
}

int span_edits_apply(struct span_edits *se, struct kt_slice msg, struct kt_buf *out)
{
    kt_buf_reset(out);
    return copy_level(se, msg, 0, out);
}

void span_edits_free(struct span_edits *se)
{
    if (se == NULL)
        return;
    free(se->v);
    kt_buf_free(&se->kvs);
    free(se->attrs);
    free(se->list);
    free(se);
}
