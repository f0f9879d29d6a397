#include "kt_otlp_wire.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kt_otlp_schema.h"
#include "kt_pb.h"
#include "kt_utf8.h"

/* ------------------------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------------------------ */

#define MAX_ANY_DEPTH KT_OTLP_MAX_ANY_DEPTH

struct vctx {
    const uint8_t *base;
    bool no_nul;     /* KT_OTLP_VALIDATE_NO_NUL */
    bool structure;  /* KT_OTLP_VALIDATE_STRUCTURE */
    uint64_t max_kv; /* struct kt_otlp_limits, UINT64_MAX for none */
    uint64_t max_str;
    size_t n_items;
    bool in_span;             /* a Span is being walked */
    bool span_kv_walked;      /* a KeyValue in a span was walked field by field: no
                                 KT_OTLP_FOUND_SPAN_KV_SHORT */
    const uint8_t *span_from; /* the Span about to be walked was passed by span_fast up
                                 to here (NULL: not); span_kv attributes in that part */
    uint64_t span_kv;
    struct kt_otlp_vcache *cache; /* NULL: none */
    struct kt_err *err;
    int depth;     /* of the message being walked */
    int err_depth; /* of the message where the error was found */
};

/* A path through deep AnyValue trees would not fit an error message: the outer levels
 * (up to an attribute's value) and the innermost ones are kept, the middle becomes [...]. */
#define PATH_KEEP_OUTER 8
#define PATH_KEEP_INNER 4

static const char *wt_name(uint32_t wt)
{
    switch (wt) {
    case KT_PB_VARINT: return "varint";
    case KT_PB_FIXED64: return "fixed64";
    case KT_PB_LEN: return "length-delimited";
    case KT_PB_SGROUP: return "start group";
    case KT_PB_EGROUP: return "end group";
    case KT_PB_FIXED32: return "fixed32";
    default: return "invalid";
    }
}

/* Records an error (code) about field f (number num when f is unknown) of the message being
 * walked. Errors about the message itself start with ':' so the caller's prefixing joins
 * "spans[3]" + ": ..." without a dot. */
static int verr(struct vctx *c, int code, const struct kt_otlp_field *f, uint32_t num,
                const uint8_t *at, const char *fmt, va_list ap)
    __attribute__((format(printf, 6, 0)));

static int verr(struct vctx *c, int code, const struct kt_otlp_field *f, uint32_t num,
                const uint8_t *at, const char *fmt, va_list ap)
{
    char detail[256];
    vsnprintf(detail, sizeof(detail), fmt, ap);
    size_t off = (size_t)(at - c->base);
    c->err_depth = c->depth;
    if (f != NULL)
        return kt_err_set(c->err, code, "%s: %s (offset %zu)", f->name, detail, off);
    if (num != 0)
        return kt_err_set(c->err, code, ": field %u: %s (offset %zu)", num, detail, off);
    return kt_err_set(c->err, code, ": %s (offset %zu)", detail, off);
}

static int vfail(struct vctx *c, const struct kt_otlp_field *f, uint32_t num, const uint8_t *at,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6), cold));

static int vfail(struct vctx *c, const struct kt_otlp_field *f, uint32_t num, const uint8_t *at,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verr(c, KT_EINVAL, f, num, at, fmt, ap);
    va_end(ap);
    return rc;
}

/* A bound of struct kt_otlp_limits passed: as vfail, with KT_ETOOBIG. */
static int vlimit(struct vctx *c, const struct kt_otlp_field *f, uint32_t num, const uint8_t *at,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6), cold));

static int vlimit(struct vctx *c, const struct kt_otlp_field *f, uint32_t num, const uint8_t *at,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = verr(c, KT_ETOOBIG, f, num, at, fmt, ap);
    va_end(ap);
    return rc;
}

static __attribute__((cold)) int wrong_wt(struct vctx *c, const struct kt_otlp_field *f,
                                          uint32_t num, const uint8_t *at, uint32_t wt)
{
    uint32_t want;
    switch (f->kind) {
    case KT_OTLP_K_VARINT: want = KT_PB_VARINT; break;
    case KT_OTLP_K_I64: want = KT_PB_FIXED64; break;
    case KT_OTLP_K_I32: want = KT_PB_FIXED32; break;
    case KT_OTLP_K_PACKED_I64: want = KT_PB_FIXED64; break;
    case KT_OTLP_K_PACKED_VARINT: want = KT_PB_VARINT; break;
    default: want = KT_PB_LEN; break;
    }
    if (f->kind == KT_OTLP_K_PACKED_I64 || f->kind == KT_OTLP_K_PACKED_VARINT)
        return vfail(c, f, num, at, "wire type %u (%s), want %u (%s) or 2 (packed)", wt,
                     wt_name(wt), want, wt_name(want));
    return vfail(c, f, num, at, "wire type %u (%s), want %u (%s)", wt, wt_name(wt), want,
                 wt_name(want));
}

/* Adds "name[i]" in front of a nested error. The index is found by counting earlier
 * occurrences again, so the happy path keeps no per-field counters. */
static __attribute__((cold)) int vprefix(struct vctx *c, int depth, const struct kt_otlp_field *f,
                                         uint32_t num, const uint8_t *msg_start,
                                         const uint8_t *field_start)
{
    const char *sep = c->err->msg[0] == ':' ? "" : ".";
    int inner = c->err_depth - PATH_KEEP_INNER;
    if (depth >= PATH_KEEP_OUTER && depth < inner)
        return depth == inner - 1 ? kt_err_prefix(c->err, "[...]%s", sep) : c->err->code;
    if (!f->repeated)
        return kt_err_prefix(c->err, "%s%s", f->name, sep);
    size_t idx = 0;
    const uint8_t *p = msg_start;
    struct kt_pb_field fl;
    while (p < field_start && kt_pb_field(&p, field_start, &fl) == 1) {
        if (fl.num == num)
            idx++;
    }
    return kt_err_prefix(c->err, "%s[%zu]%s", f->name, idx, sep);
}

/* Two bytes as a little-endian number: a tag and a one-byte length in one comparison. */
static inline unsigned ld16(const uint8_t *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* Whether [p, end) is exactly one varint as kt_pb_varint reads it: at most 10 bytes, each
 * but the last with its high bit set, and no bits past 64. */
static inline bool varint_fills(const uint8_t *p, const uint8_t *end)
{
    size_t n = (size_t)(end - p);
    if (n == 0 || n > 10 || end[-1] >= 0x80 || (n == 10 && end[-1] > 1))
        return false;
    for (; p < end - 1; p++)
        if (*p < 0x80)
            return false;
    return true;
}

/* The common attribute shape, checked without recursion: key (field 1, short string) then
 * value (field 2) holding one short string, bool, int or double. Returns false for anything
 * else, valid or not, and the generic walker takes over (and reports errors). Inlined into
 * the span's attribute loop, where it runs ten times per span. */
static inline __attribute__((always_inline)) bool kv_fast(const uint8_t *p, const uint8_t *end)
{
    size_t n = (size_t)(end - p);
    /* tag 0x0a (key), a one-byte length (below 0x80) */
    if (n < 2 || (ld16(p) & 0x80ff) != 0x0a || p[1] > n - 2)
        return false;
    const uint8_t *k = p + 2;
    size_t kl = p[1];
    const uint8_t *q = k + kl;
    size_t vl = (size_t)(end - q) - 2; /* the value's payload; huge when under 2 bytes are left */
    if (q == end)
        return kt_utf8_valid(k, kl);
    /* tag 0x12 (value) with a one-byte length reaching the end */
    if (vl >= 0x80 || ld16(q) != (0x12 | vl << 8))
        return false;
    if (vl == 0)
        return kt_utf8_valid(k, kl);
    switch (q[2]) {
    case 0x0a: /* string_value with a one-byte length reaching the end */
        if (vl < 2 || q[3] != vl - 2)
            return false;
        /* Key, value and the tag and length bytes between them (all below 0x80) in one
         * check when all is ASCII, as most attributes are. */
        return kt_utf8_is_ascii(k, (size_t)(end - k)) ||
               (kt_utf8_valid(k, kl) && kt_utf8_valid(q + 4, vl - 2));
    case 0x10: /* bool_value */
    case 0x18: /* int_value */ return varint_fills(q + 3, end) && kt_utf8_valid(k, kl);
    case 0x21: /* double_value */ return vl == 9 && kt_utf8_valid(k, kl);
    default: return false;
    }
}

/* Helpers of the fast checks below: each steps *pp over what it reads, or returns false
 * (malformed) and leaves the bytes to the generic walker, which reports them.
 *
 * The length of a length-delimited field, as the walker accepts it. */
static inline bool fast_len(const uint8_t **pp, const uint8_t *end, size_t *len)
{
    const uint8_t *p = *pp, *lp = p;
    uint64_t v;
    if (p < end && *p < 0x80)
        v = *p++;
    else if (kt_pb_varint(&p, end, &v) != 0 || p - lp > KT_PB_MAX_VARINT32_BYTES)
        return false;
    if (v > (uint64_t)(end - p))
        return false;
    *len = (size_t)v;
    *pp = p;
    return true;
}

/* Steps over a length-delimited field with a one-byte tag at *pp, setting [*val, *pp) to
 * its payload; false when malformed. */
static inline bool fast_ld(const uint8_t **pp, const uint8_t *end, const uint8_t **val)
{
    const uint8_t *q = *pp + 1;
    size_t n;
    if (!fast_len(&q, end, &n))
        return false;
    *val = q;
    *pp = q + n;
    return true;
}

/* A varint field with a one-byte tag. */
static inline bool fast_varint(const uint8_t **pp, const uint8_t *end)
{
    const uint8_t *q = *pp + 1;
    uint64_t v;
    if (kt_pb_varint(&q, end, &v) != 0)
        return false;
    *pp = q;
    return true;
}

/* A fixed64 field with a one-byte tag. */
static inline bool fast_fixed64(const uint8_t **pp, const uint8_t *end)
{
    if (end - *pp < 9)
        return false;
    *pp += 9;
    return true;
}

#define AT(p, end, tag) ((p) < (end) && *(p) == (tag))

/* A valid string within the bound. */
static inline bool fast_str(const uint8_t *v, const uint8_t *end, uint64_t max_str)
{
    return (uint64_t)(end - v) <= max_str && kt_utf8_valid(v, (size_t)(end - v));
}

/* Status { message = 2; code = 3 } */
static bool status_fast(const uint8_t *p, const uint8_t *end, uint64_t max_str)
{
    const uint8_t *v;
    if (AT(p, end, 0x12) && !(fast_ld(&p, end, &v) && fast_str(v, p, max_str)))
        return false;
    if (AT(p, end, 0x18) && !fast_varint(&p, end))
        return false;
    return p == end;
}

/* Event { time_unix_nano = 1; name = 2; attributes = 3; dropped_attributes_count = 4 } */
static bool event_fast(const uint8_t *p, const uint8_t *end, uint64_t max_str, uint64_t max_kv)
{
    const uint8_t *v;
    uint64_t n_kv = 0;
    if (AT(p, end, 0x09) && !fast_fixed64(&p, end))
        return false;
    if (AT(p, end, 0x12) && !(fast_ld(&p, end, &v) && fast_str(v, p, max_str)))
        return false;
    while (AT(p, end, 0x1a))
        if (!(++n_kv <= max_kv && fast_ld(&p, end, &v) && kv_fast(v, p)))
            return false;
    if (AT(p, end, 0x20) && !fast_varint(&p, end))
        return false;
    return p == end;
}

/* The span shape exporters write, checked with one test per field in field-number order
 * instead of the walker's dispatch per field (the branches predict far better): ids,
 * trace_state, name, kind, times, attributes, events, status, flags and the dropped
 * counts, each optional. Returns where the walker must take over: at the first field this
 * does not handle (a link, an unknown field, one out of order, anything not valid or past
 * a bound) or at end. What it passes over is valid exactly as the walker would find it;
 * *n_kv is the number of attributes it passed over. kv_fast's strings are shorter than
 * 128 bytes: the caller ensures max_str is not below that. */
static const uint8_t *span_fast(const uint8_t *p, const uint8_t *end, uint64_t max_str,
                                uint64_t max_kv, uint64_t *n_kv)
{
    const uint8_t *q, *v;
#define TAKE(ok)                                                                                   \
    do {                                                                                           \
        q = p;                                                                                     \
        if (!(ok))                                                                                 \
            return p;                                                                              \
        p = q;                                                                                     \
    } while (0)
    if (AT(p, end, 0x0a)) /* trace_id */
        TAKE(fast_ld(&q, end, &v) && (q - v == 0 || q - v == 16));
    if (AT(p, end, 0x12)) /* span_id */
        TAKE(fast_ld(&q, end, &v) && (q - v == 0 || q - v == 8));
    if (AT(p, end, 0x1a)) /* trace_state */
        TAKE(fast_ld(&q, end, &v) && fast_str(v, q, max_str));
    if (AT(p, end, 0x22)) /* parent_span_id */
        TAKE(fast_ld(&q, end, &v) && (q - v == 0 || q - v == 8));
    if (AT(p, end, 0x2a)) /* name */
        TAKE(fast_ld(&q, end, &v) && fast_str(v, q, max_str));
    if (AT(p, end, 0x30)) /* kind */
        TAKE(fast_varint(&q, end));
    if (AT(p, end, 0x39)) /* start_time_unix_nano */
        TAKE(fast_fixed64(&q, end));
    if (AT(p, end, 0x41)) /* end_time_unix_nano */
        TAKE(fast_fixed64(&q, end));
    /* attributes: those under 128 bytes (one-byte length) in a tight loop, then any longer */
    while (end - p >= 2 && (ld16(p) & 0x80ff) == 0x4a && p[1] <= end - p - 2) {
        q = p + 2 + p[1];
        if (*n_kv >= max_kv || !kv_fast(p + 2, q))
            return p;
        ++*n_kv;
        p = q;
    }
    while (AT(p, end, 0x4a)) {
        TAKE(*n_kv < max_kv && fast_ld(&q, end, &v) && kv_fast(v, q));
        ++*n_kv;
    }
    if (AT(p, end, 0x50)) /* dropped_attributes_count */
        TAKE(fast_varint(&q, end));
    while (AT(p, end, 0x5a)) /* events */
        TAKE(fast_ld(&q, end, &v) && event_fast(v, q, max_str, max_kv));
    if (AT(p, end, 0x60)) /* dropped_events_count */
        TAKE(fast_varint(&q, end));
    if (AT(p, end, 0x70)) /* dropped_links_count */
        TAKE(fast_varint(&q, end));
    if (AT(p, end, 0x7a)) /* status */
        TAKE(fast_ld(&q, end, &v) && status_fast(v, q, max_str));
    if (end - p >= 6 && p[0] == 0x85 && p[1] == 0x01) /* flags: field 16, fixed32 */
        p += 6;
#undef TAKE
    return p;
}

#undef AT

/* Whether an AnyValue payload sets its value (any of its oneof fields 1..8). */
static bool any_has_value(const uint8_t *p, const uint8_t *end)
{
    struct kt_pb_field f;
    while (kt_pb_field(&p, end, &f) == 1) {
        if (f.num <= 8)
            return true;
    }
    return false;
}

/* Whether [start, end) is a message of type mt that the cache holds. */
static bool vcache_has(const struct kt_otlp_vcache *vc, enum kt_otlp_msg mt, const uint8_t *start,
                       const uint8_t *end)
{
    size_t n = (size_t)(end - start);
    for (unsigned i = 0; i < KT_OTLP_VCACHE_SLOTS; i++)
        if (vc->type[i] == mt && vc->len[i] == n && memcmp(vc->bytes[i], start, n) == 0)
            return true;
    return false;
}

static void vcache_put(struct kt_otlp_vcache *vc, enum kt_otlp_msg mt, const uint8_t *start,
                       const uint8_t *end)
{
    size_t n = (size_t)(end - start);
    if (n > KT_OTLP_VCACHE_BYTES)
        return;
    unsigned i = vc->next;
    vc->next = (i + 1) % KT_OTLP_VCACHE_SLOTS;
    vc->type[i] = (uint8_t)mt;
    vc->len[i] = (uint16_t)n;
    memcpy(vc->bytes[i], start, n);
}

_Static_assert(KT_OTLP_M_RESOURCE != 0 && KT_OTLP_M_SCOPE != 0 && KT_OTLP_M_SCOPE < 256,
               "kt_otlp_vcache's type: 0 marks an empty slot, and a type fits a byte");

/* Resources and scopes: what kt_otlp_vcache keeps. Neither holds an item, and an AnyValue
 * in them starts its nesting at 0, so whether they are valid depends on their bytes and
 * the flags and limits alone. */
static inline bool cacheable(const struct vctx *c, enum kt_otlp_msg mt)
{
    return c->cache != NULL && (mt == KT_OTLP_M_RESOURCE || mt == KT_OTLP_M_SCOPE);
}

static int walk_msg(struct vctx *c, enum kt_otlp_msg mt, const uint8_t *start, const uint8_t *end,
                    int depth, int any_depth);

static int walk(struct vctx *c, enum kt_otlp_msg mt, const uint8_t *start, const uint8_t *end,
                int depth, int any_depth)
{
    if (!cacheable(c, mt))
        return walk_msg(c, mt, start, end, depth, any_depth);
    if (vcache_has(c->cache, mt, start, end))
        return 0;
    int rc = walk_msg(c, mt, start, end, depth, any_depth);
    if (rc == 0)
        vcache_put(c->cache, mt, start, end);
    return rc;
}

static int walk_msg(struct vctx *c, enum kt_otlp_msg mt, const uint8_t *start, const uint8_t *end,
                    int depth, int any_depth)
{
    const struct kt_otlp_msgdesc *m = &kt_otlp_schema[mt];
    c->depth = depth;
    if (m->item) {
        c->n_items++;
        if (c->structure)
            return 0;
    }
    if (mt == KT_OTLP_M_ANY_VALUE && ++any_depth > MAX_ANY_DEPTH)
        return vlimit(c, NULL, 0, start, "AnyValue nested deeper than %d levels", MAX_ANY_DEPTH);

    bool any_seen = false;
    uint64_t n_kv = 0; /* key-value pairs in this message's list (one list per message) */
    /* The fast checks do not look for NUL: with no_nul the walker sees every string. Their
     * key-value shortcut (kv_fast) passes strings shorter than 128 bytes unchecked. */
    bool fast = !c->no_nul && c->max_str >= 128;
    c->in_span |= mt == KT_OTLP_M_SPAN;
    /* A Span comes here from its scope's run when span_fast left it partway, or with the
     * fast checks off: only the first goes on from where span_fast stopped. */
    const uint8_t *p = start;
    if (mt == KT_OTLP_M_SPAN && c->span_from != NULL) {
        p = c->span_from;
        n_kv = c->span_kv;
        c->span_from = NULL;
    }
    while (p < end) {
        const uint8_t *fstart = p;
        uint64_t tag, v;
        int rc;
        if (*p < 0x80) {
            tag = *p++;
        } else if ((rc = kt_pb_varint(&p, end, &tag)) != 0 ||
                   p - fstart > KT_PB_MAX_VARINT32_BYTES) {
            return vfail(c, NULL, 0, fstart, "%s tag varint",
                         rc == KT_PB_TRUNCATED ? "truncated" : "over-long");
        }
        if (tag > UINT32_MAX || tag < 8)
            return vfail(c, NULL, 0, fstart, "invalid field number %llu",
                         (unsigned long long)(tag >> 3));
        uint32_t num = (uint32_t)(tag >> 3);
        uint32_t wt = (uint32_t)(tag & 7);
        const struct kt_otlp_field *f =
            num < m->nf && m->f[num].kind != KT_OTLP_K_UNKNOWN ? &m->f[num] : NULL;

        /* Ordered by frequency; if-chains predict better here than a jump table. */
        if (wt == KT_PB_LEN) {
            const uint8_t *lp = p;
            if (p < end && *p < 0x80) {
                v = *p++;
            } else if ((rc = kt_pb_varint(&p, end, &v)) != 0 || p - lp > KT_PB_MAX_VARINT32_BYTES) {
                return vfail(c, f, num, fstart, "%s length varint",
                             rc == KT_PB_TRUNCATED ? "truncated" : "over-long");
            }
            if (v > (uint64_t)(end - p))
                return vfail(c, f, num, fstart,
                             "length %llu past the end of the enclosing message (%zu bytes left)",
                             (unsigned long long)v, (size_t)(end - p));
            const uint8_t *val = p;
            size_t len = (size_t)v;
            p += len;
            if (f == NULL)
                continue;
            uint8_t kind = f->kind;
            if (kind == KT_OTLP_K_MSG && c->structure && kt_otlp_schema[f->msg].item) {
                /* Structure only: an item is counted where it lies, and so is the run of
                 * items right after it (a scope's spans), without a call for each. A length
                 * that does not fit ends the run; the loop above then reports it. */
                c->n_items++;
                while (tag < 0x80 && p < end && *p == tag) {
                    const uint8_t *q = p + 1;
                    if (q < end && *q < 0x80) {
                        v = *q++;
                    } else if (kt_pb_varint(&q, end, &v) != 0 ||
                               q - (p + 1) > KT_PB_MAX_VARINT32_BYTES) {
                        break;
                    }
                    if (v > (uint64_t)(end - q))
                        break;
                    p = q + v;
                    c->n_items++;
                }
                continue;
            }
            if (kind == KT_OTLP_K_MSG && f->msg == KT_OTLP_M_SPAN && fast) {
                /* A scope's spans, one after another: each that span_fast passes whole is
                 * counted here, without the walker's call for it; any other is walked. A
                 * length that does not fit ends the run; the loop above then reports it. */
                for (;;) {
                    uint64_t span_kv = 0;
                    const uint8_t *from = span_fast(val, p, c->max_str, c->max_kv, &span_kv);
                    if (from == p) {
                        c->n_items++;
                    } else {
                        /* The walker goes on from where span_fast stopped. */
                        c->span_from = from;
                        c->span_kv = span_kv;
                        if (walk(c, KT_OTLP_M_SPAN, val, p, depth + 1, any_depth) != 0)
                            return vprefix(c, depth, f, num, start, fstart);
                        c->depth = depth;
                    }
                    const uint8_t *q = p + 1;
                    if (tag >= 0x80 || p >= end || *p != tag || !fast_len(&q, end, &len))
                        break;
                    fstart = p;
                    val = q;
                    p = q + len;
                }
                continue;
            }
            if (kind == KT_OTLP_K_MSG) {
                if (f->msg == KT_OTLP_M_KEY_VALUE && f->repeated && ++n_kv > c->max_kv)
                    return vlimit(c, f, num, fstart,
                                  "more than %llu key-value pairs in one list ([receiver] "
                                  "max_attributes)",
                                  (unsigned long long)c->max_kv);
                if (f->msg == KT_OTLP_M_KEY_VALUE) {
                    if (any_depth < MAX_ANY_DEPTH && fast && kv_fast(val, p))
                        continue;
                    c->span_kv_walked |= c->in_span;
                }
                /* A singular AnyValue given again is merged into the first; protobuf-c
                 * cannot decode the message when a later one sets no value. */
                if (f->msg == KT_OTLP_M_ANY_VALUE && !f->repeated) {
                    if (any_seen && !any_has_value(val, p))
                        return vfail(c, f, num, fstart,
                                     "given again without a value (protobuf-c cannot "
                                     "decode that)");
                    any_seen = true;
                }
                if (walk(c, (enum kt_otlp_msg)f->msg, val, p, depth + 1, any_depth) != 0)
                    return vprefix(c, depth, f, num, start, fstart);
                c->depth = depth;
            } else if ((kind == KT_OTLP_K_STRING || kind == KT_OTLP_K_BYTES) && len > c->max_str) {
                return vlimit(c, f, num, fstart,
                              "%zu bytes, more than %llu ([receiver] max_string_bytes)", len,
                              (unsigned long long)c->max_str);
            } else if (kind == KT_OTLP_K_STRING) {
                if (!kt_utf8_valid(val, len)) {
                    size_t bad = kt_utf8_check(val, len);
                    return vfail(c, f, num, val + bad, "invalid UTF-8 at byte %zu of %zu", bad,
                                 len);
                }
                const uint8_t *nul = c->no_nul ? memchr(val, 0, len) : NULL;
                if (nul != NULL)
                    return vfail(c, f, num, nul,
                                 "NUL byte at byte %zu of %zu (OTLP/JSON is written from "
                                 "decoded strings, which end at a NUL)",
                                 (size_t)(nul - val), len);
            } else if (kind == KT_OTLP_K_ID16) {
                if (len != 0 && len != 16)
                    return vfail(c, f, num, fstart, "length %zu, want 16", len);
            } else if (kind == KT_OTLP_K_ID8) {
                if (len != 0 && len != 8)
                    return vfail(c, f, num, fstart, "length %zu, want 8", len);
            } else if (kind == KT_OTLP_K_PACKED_I64) {
                if (len % 8 != 0)
                    return vfail(c, f, num, fstart, "packed length %zu is not a multiple of 8",
                                 len);
            } else if (kind == KT_OTLP_K_PACKED_VARINT) {
                const uint8_t *q = val;
                while (q < p) {
                    if (kt_pb_varint(&q, p, &v) != 0)
                        return vfail(c, f, num, q, "malformed varint in packed field");
                }
            } else if (kind != KT_OTLP_K_BYTES) {
                return wrong_wt(c, f, num, fstart, wt);
            }
        } else if (wt == KT_PB_VARINT) {
            if ((rc = kt_pb_varint(&p, end, &v)) != 0)
                return vfail(c, f, num, fstart, "%s varint",
                             rc == KT_PB_TRUNCATED ? "truncated" : "over-long");
            if (f != NULL && f->kind != KT_OTLP_K_VARINT && f->kind != KT_OTLP_K_PACKED_VARINT)
                return wrong_wt(c, f, num, fstart, wt);
        } else if (wt == KT_PB_FIXED64) {
            if (end - p < 8)
                return vfail(c, f, num, fstart, "truncated fixed64: %zu bytes left, want 8",
                             (size_t)(end - p));
            p += 8;
            if (f != NULL && f->kind != KT_OTLP_K_I64 && f->kind != KT_OTLP_K_PACKED_I64)
                return wrong_wt(c, f, num, fstart, wt);
        } else if (wt == KT_PB_FIXED32) {
            if (end - p < 4)
                return vfail(c, f, num, fstart, "truncated fixed32: %zu bytes left, want 4",
                             (size_t)(end - p));
            p += 4;
            if (f != NULL && f->kind != KT_OTLP_K_I32)
                return wrong_wt(c, f, num, fstart, wt);
        } else if (wt == KT_PB_SGROUP || wt == KT_PB_EGROUP) {
            return vfail(c, f, num, fstart, "wire type %u (%s): groups are not supported", wt,
                         wt_name(wt));
        } else {
            return vfail(c, f, num, fstart, "invalid wire type %u", wt);
        }
    }
    if (mt == KT_OTLP_M_SPAN)
        c->in_span = false;
    return 0;
}

int kt_otlp_validate_cached(enum kt_signal sig, struct kt_slice msg, unsigned flags,
                            const struct kt_otlp_limits *lim, struct kt_otlp_vcache *cache,
                            size_t *n_items, unsigned *found, struct kt_err *err)
{
    struct kt_err local = {0};
    struct vctx c = {
        .base = msg.p,
        .no_nul = (flags & KT_OTLP_VALIDATE_NO_NUL) != 0,
        .structure = (flags & KT_OTLP_VALIDATE_STRUCTURE) != 0,
        .max_kv = lim != NULL && lim->max_attributes != 0 ? lim->max_attributes : UINT64_MAX,
        .max_str = lim != NULL && lim->max_string_bytes != 0 ? lim->max_string_bytes : UINT64_MAX,
        .cache = cache,
        .err = err != NULL ? err : &local,
    };
    /* Resources are checked the same way with or without STRUCTURE: only NO_NUL and the
     * limits change what is valid. */
    unsigned rules = flags & KT_OTLP_VALIDATE_NO_NUL;
    if (cache != NULL &&
        (cache->flags != rules || cache->max_kv != c.max_kv || cache->max_str != c.max_str)) {
        memset(cache->type, 0, sizeof(cache->type));
        cache->flags = rules;
        cache->max_kv = c.max_kv;
        cache->max_str = c.max_str;
    }
    if ((unsigned)sig >= KT_SIGNAL_COUNT)
        return kt_err_set(err, KT_EINVAL, "unknown signal %d", (int)sig);
    if (msg.n > 0 && msg.p == NULL)
        return kt_err_set(err, KT_EINVAL, "NULL message of %zu bytes", msg.n);
    if (found != NULL)
        *found = 0;
    if (msg.n == 0) {
        if (n_items != NULL)
            *n_items = 0;
        return 0;
    }
    int rc = walk(&c, kt_otlp_root[sig], msg.p, msg.p + msg.n, 0, 0);
    if (rc != 0) {
        /* An error in the top-level message itself has no path to hang on. */
        if (c.err->msg[0] == ':') {
            size_t n = strlen(c.err->msg);
            size_t skip = c.err->msg[1] == ' ' ? 2 : 1;
            memmove(c.err->msg, c.err->msg + skip, n - skip + 1);
        }
        return c.err->code;
    }
    if (n_items != NULL)
        *n_items = c.n_items;
    /* A KeyValue in a span that kv_fast did not pass was walked field by field, and NO_NUL
     * turns kv_fast off: with neither, every span's KeyValues passed kv_fast, whose shape is
     * the one promised. */
    if (found != NULL && !c.structure && !c.no_nul && !c.span_kv_walked)
        *found |= KT_OTLP_FOUND_SPAN_KV_SHORT;
    return 0;
}

int kt_otlp_validate_limits(enum kt_signal sig, struct kt_slice msg, unsigned flags,
                            const struct kt_otlp_limits *lim, size_t *n_items, struct kt_err *err)
{
    return kt_otlp_validate_cached(sig, msg, flags, lim, NULL, n_items, NULL, err);
}

int kt_otlp_validate_flags(enum kt_signal sig, struct kt_slice msg, unsigned flags, size_t *n_items,
                           struct kt_err *err)
{
    return kt_otlp_validate_limits(sig, msg, flags, NULL, n_items, err);
}

int kt_otlp_validate(enum kt_signal sig, struct kt_slice msg, size_t *n_items, struct kt_err *err)
{
    return kt_otlp_validate_flags(sig, msg, 0, n_items, err);
}
