#include "kt_otlp_wire.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_codec.h"

/* ------------------------------------------------------------------------------------------
 * Wire primitives
 * ------------------------------------------------------------------------------------------ */

enum {
    WT_VARINT = 0,
    WT_I64 = 1,
    WT_LEN = 2,
    WT_SGROUP = 3,
    WT_EGROUP = 4,
    WT_I32 = 5,
};

#define VARINT_TRUNCATED (-1)
#define VARINT_OVERLONG (-2)

/* Tags and lengths are 32-bit varints: protobuf-c, and so every consumer downstream, refuses
 * them in more than 5 bytes, however they are padded. */
#define MAX_VARINT32_BYTES 5

/* Reads a varint at *pp. Returns 0, VARINT_TRUNCATED (ran past end) or VARINT_OVERLONG
 * (more than 10 bytes, or a value over 64 bits). */
static inline int read_varint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    if (p < end && *p < 0x80) {
        *v = *p;
        *pp = p + 1;
        return 0;
    }
    uint64_t r = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= end)
            return VARINT_TRUNCATED;
        uint8_t b = *p++;
        if (shift == 63 && b > 1)
            return VARINT_OVERLONG;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = r;
            *pp = p;
            return 0;
        }
    }
    return VARINT_OVERLONG;
}

/* One field as found on the wire. */
struct field {
    uint32_t num;
    uint32_t wt;
    const uint8_t *start; /* first byte of the tag */
    const uint8_t *val;   /* payload of a length-delimited field */
    size_t len;           /* its length */
    const uint8_t *end;   /* first byte after the field */
};

/* Steps over one field. Returns 1 with *f filled, 0 at the end of the message, -1 when the
 * bytes are malformed. The splitter uses it on validated input, but it stays bounds-checked
 * so that a caller skipping validation gets KT_EINVAL rather than a crash. */
static inline int next_field(const uint8_t **pp, const uint8_t *end, struct field *f)
{
    const uint8_t *p = *pp;
    if (p >= end)
        return 0;
    f->start = p;
    uint64_t tag, v;
    if (read_varint(&p, end, &tag) != 0 || tag > UINT32_MAX || (tag >> 3) == 0 ||
        p - f->start > MAX_VARINT32_BYTES)
        return -1;
    f->num = (uint32_t)(tag >> 3);
    f->wt = (uint32_t)(tag & 7);
    f->val = NULL;
    f->len = 0;
    switch (f->wt) {
    case WT_VARINT:
        if (read_varint(&p, end, &v) != 0)
            return -1;
        break;
    case WT_I64:
        if (end - p < 8)
            return -1;
        p += 8;
        break;
    case WT_I32:
        if (end - p < 4)
            return -1;
        p += 4;
        break;
    case WT_LEN: {
        const uint8_t *lp = p;
        if (read_varint(&p, end, &v) != 0 || v > (uint64_t)(end - p) || p - lp > MAX_VARINT32_BYTES)
            return -1;
        f->val = p;
        f->len = (size_t)v;
        p += v;
        break;
    }
    default: return -1;
    }
    f->end = p;
    *pp = p;
    return 1;
}

/* Encoded size of a length-delimited field with a one-byte tag around n payload bytes. */
static inline size_t ld_size(size_t n)
{
    return 1 + kt_varint_size(n) + n;
}

/* Index of the first byte that breaks UTF-8 (RFC 3629: no overlongs, surrogates or code
 * points past U+10FFFF), or n when s is valid. */
static size_t utf8_check(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* Attribute keys and most values are ASCII: eight bytes per step. */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL)
                break;
            i += 8;
        }
        while (i < n && s[i] < 0x80)
            i++;
        if (i >= n)
            break;
        uint8_t c = s[i];
        if (c < 0xc2 || c > 0xf4)
            return i;
        if (c < 0xe0) {
            if (n - i < 2 || (s[i + 1] & 0xc0) != 0x80)
                return i;
            i += 2;
        } else if (c < 0xf0) {
            if (n - i < 3 || (s[i + 1] & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80)
                return i;
            if ((c == 0xe0 && s[i + 1] < 0xa0) || (c == 0xed && s[i + 1] > 0x9f))
                return i;
            i += 3;
        } else {
            if (n - i < 4 || (s[i + 1] & 0xc0) != 0x80 || (s[i + 2] & 0xc0) != 0x80 ||
                (s[i + 3] & 0xc0) != 0x80)
                return i;
            if ((c == 0xf0 && s[i + 1] < 0x90) || (c == 0xf4 && s[i + 1] > 0x8f))
                return i;
            i += 4;
        }
    }
    return n;
}

/* True when s is all ASCII. Overlapping word loads keep short strings (most attribute keys
 * and values) free of per-byte loops. */
static inline bool is_ascii(const uint8_t *s, size_t n)
{
    const uint64_t hi = 0x8080808080808080ULL;
    uint64_t a, b;
    if (n >= 8) {
        uint64_t acc = 0;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            memcpy(&a, s + i, 8);
            acc |= a;
        }
        memcpy(&b, s + n - 8, 8);
        return ((acc | b) & hi) == 0;
    }
    if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        return ((x | y) & 0x80808080u) == 0;
    }
    if (n == 0)
        return true;
    return ((s[0] | s[n / 2] | s[n - 1]) & 0x80) == 0;
}

static inline bool utf8_ok(const uint8_t *s, size_t n)
{
    return is_ascii(s, n) || utf8_check(s, n) == n;
}

/* ------------------------------------------------------------------------------------------
 * The OTLP schema, as far as the wire needs it
 * ------------------------------------------------------------------------------------------ */

enum msg_type {
    M_TRACES_DATA,
    M_RESOURCE_SPANS,
    M_SCOPE_SPANS,
    M_SPAN,
    M_EVENT,
    M_LINK,
    M_STATUS,
    M_METRICS_DATA,
    M_RESOURCE_METRICS,
    M_SCOPE_METRICS,
    M_METRIC,
    M_GAUGE,
    M_SUM,
    M_HISTOGRAM,
    M_EXP_HISTOGRAM,
    M_SUMMARY,
    M_NUMBER_DP,
    M_HISTOGRAM_DP,
    M_EXP_HISTOGRAM_DP,
    M_BUCKETS,
    M_SUMMARY_DP,
    M_QUANTILE,
    M_EXEMPLAR,
    M_LOGS_DATA,
    M_RESOURCE_LOGS,
    M_SCOPE_LOGS,
    M_LOG_RECORD,
    M_RESOURCE,
    M_SCOPE,
    M_KEY_VALUE,
    M_ANY_VALUE,
    M_ARRAY_VALUE,
    M_KVLIST,
    M_ENTITY_REF,
    M_COUNT
};

enum field_kind {
    K_UNKNOWN = 0,
    K_VARINT, /* int32/64, uint32/64, sint32, bool, enum */
    K_I64,    /* fixed64, sfixed64, double */
    K_I32,    /* fixed32 */
    K_STRING, /* UTF-8 checked */
    K_BYTES,
    K_ID16, /* trace ID: empty or 16 bytes */
    K_ID8,  /* span ID: empty or 8 bytes */
    K_MSG,
    K_PACKED_I64,    /* repeated fixed64/double: packed or one element per field */
    K_PACKED_VARINT, /* repeated uint64: packed or one element per field */
};

struct fdesc {
    uint8_t kind;
    uint8_t msg;
    uint8_t repeated;
    const char *name;
};

struct mdesc {
    const struct fdesc *f; /* indexed by field number */
    uint8_t nf;
    bool item; /* one span / data point / log record */
};

#define F(k, n)                                                                                    \
    {                                                                                              \
        k, 0, 0, n                                                                                 \
    }
#define R(k, n)                                                                                    \
    {                                                                                              \
        k, 0, 1, n                                                                                 \
    }
#define FM(m, n)                                                                                   \
    {                                                                                              \
        K_MSG, m, 0, n                                                                             \
    }
#define RM(m, n)                                                                                   \
    {                                                                                              \
        K_MSG, m, 1, n                                                                             \
    }

static const struct fdesc f_traces_data[] = {[1] = RM(M_RESOURCE_SPANS, "resource_spans")};
static const struct fdesc f_resource_spans[] = {
    [1] = FM(M_RESOURCE, "resource"),
    [2] = RM(M_SCOPE_SPANS, "scope_spans"),
    [3] = F(K_STRING, "schema_url"),
};
static const struct fdesc f_scope_spans[] = {
    [1] = FM(M_SCOPE, "scope"),
    [2] = RM(M_SPAN, "spans"),
    [3] = F(K_STRING, "schema_url"),
};
static const struct fdesc f_span[] = {
    [1] = F(K_ID16, "trace_id"),
    [2] = F(K_ID8, "span_id"),
    [3] = F(K_STRING, "trace_state"),
    [4] = F(K_ID8, "parent_span_id"),
    [5] = F(K_STRING, "name"),
    [6] = F(K_VARINT, "kind"),
    [7] = F(K_I64, "start_time_unix_nano"),
    [8] = F(K_I64, "end_time_unix_nano"),
    [9] = RM(M_KEY_VALUE, "attributes"),
    [10] = F(K_VARINT, "dropped_attributes_count"),
    [11] = RM(M_EVENT, "events"),
    [12] = F(K_VARINT, "dropped_events_count"),
    [13] = RM(M_LINK, "links"),
    [14] = F(K_VARINT, "dropped_links_count"),
    [15] = FM(M_STATUS, "status"),
    [16] = F(K_I32, "flags"),
};
static const struct fdesc f_event[] = {
    [1] = F(K_I64, "time_unix_nano"),
    [2] = F(K_STRING, "name"),
    [3] = RM(M_KEY_VALUE, "attributes"),
    [4] = F(K_VARINT, "dropped_attributes_count"),
};
static const struct fdesc f_link[] = {
    [1] = F(K_ID16, "trace_id"),
    [2] = F(K_ID8, "span_id"),
    [3] = F(K_STRING, "trace_state"),
    [4] = RM(M_KEY_VALUE, "attributes"),
    [5] = F(K_VARINT, "dropped_attributes_count"),
    [6] = F(K_I32, "flags"),
};
static const struct fdesc f_status[] = {
    [2] = F(K_STRING, "message"),
    [3] = F(K_VARINT, "code"),
};
static const struct fdesc f_metrics_data[] = {[1] = RM(M_RESOURCE_METRICS, "resource_metrics")};
static const struct fdesc f_resource_metrics[] = {
    [1] = FM(M_RESOURCE, "resource"),
    [2] = RM(M_SCOPE_METRICS, "scope_metrics"),
    [3] = F(K_STRING, "schema_url"),
};
static const struct fdesc f_scope_metrics[] = {
    [1] = FM(M_SCOPE, "scope"),
    [2] = RM(M_METRIC, "metrics"),
    [3] = F(K_STRING, "schema_url"),
};
static const struct fdesc f_metric[] = {
    [1] = F(K_STRING, "name"),
    [2] = F(K_STRING, "description"),
    [3] = F(K_STRING, "unit"),
    [5] = FM(M_GAUGE, "gauge"),
    [7] = FM(M_SUM, "sum"),
    [9] = FM(M_HISTOGRAM, "histogram"),
    [10] = FM(M_EXP_HISTOGRAM, "exponential_histogram"),
    [11] = FM(M_SUMMARY, "summary"),
    [12] = RM(M_KEY_VALUE, "metadata"),
};
static const struct fdesc f_gauge[] = {[1] = RM(M_NUMBER_DP, "data_points")};
static const struct fdesc f_sum[] = {
    [1] = RM(M_NUMBER_DP, "data_points"),
    [2] = F(K_VARINT, "aggregation_temporality"),
    [3] = F(K_VARINT, "is_monotonic"),
};
static const struct fdesc f_histogram[] = {
    [1] = RM(M_HISTOGRAM_DP, "data_points"),
    [2] = F(K_VARINT, "aggregation_temporality"),
};
static const struct fdesc f_exp_histogram[] = {
    [1] = RM(M_EXP_HISTOGRAM_DP, "data_points"),
    [2] = F(K_VARINT, "aggregation_temporality"),
};
static const struct fdesc f_summary[] = {[1] = RM(M_SUMMARY_DP, "data_points")};
static const struct fdesc f_number_dp[] = {
    [2] = F(K_I64, "start_time_unix_nano"),
    [3] = F(K_I64, "time_unix_nano"),
    [4] = F(K_I64, "as_double"),
    [5] = RM(M_EXEMPLAR, "exemplars"),
    [6] = F(K_I64, "as_int"),
    [7] = RM(M_KEY_VALUE, "attributes"),
    [8] = F(K_VARINT, "flags"),
};
static const struct fdesc f_histogram_dp[] = {
    [2] = F(K_I64, "start_time_unix_nano"),
    [3] = F(K_I64, "time_unix_nano"),
    [4] = F(K_I64, "count"),
    [5] = F(K_I64, "sum"),
    [6] = R(K_PACKED_I64, "bucket_counts"),
    [7] = R(K_PACKED_I64, "explicit_bounds"),
    [8] = RM(M_EXEMPLAR, "exemplars"),
    [9] = RM(M_KEY_VALUE, "attributes"),
    [10] = F(K_VARINT, "flags"),
    [11] = F(K_I64, "min"),
    [12] = F(K_I64, "max"),
};
static const struct fdesc f_exp_histogram_dp[] = {
    [1] = RM(M_KEY_VALUE, "attributes"),
    [2] = F(K_I64, "start_time_unix_nano"),
    [3] = F(K_I64, "time_unix_nano"),
    [4] = F(K_I64, "count"),
    [5] = F(K_I64, "sum"),
    [6] = F(K_VARINT, "scale"),
    [7] = F(K_I64, "zero_count"),
    [8] = FM(M_BUCKETS, "positive"),
    [9] = FM(M_BUCKETS, "negative"),
    [10] = F(K_VARINT, "flags"),
    [11] = RM(M_EXEMPLAR, "exemplars"),
    [12] = F(K_I64, "min"),
    [13] = F(K_I64, "max"),
    [14] = F(K_I64, "zero_threshold"),
};
static const struct fdesc f_buckets[] = {
    [1] = F(K_VARINT, "offset"),
    [2] = R(K_PACKED_VARINT, "bucket_counts"),
};
static const struct fdesc f_summary_dp[] = {
    [2] = F(K_I64, "start_time_unix_nano"),
    [3] = F(K_I64, "time_unix_nano"),
    [4] = F(K_I64, "count"),
    [5] = F(K_I64, "sum"),
    [6] = RM(M_QUANTILE, "quantile_values"),
    [7] = RM(M_KEY_VALUE, "attributes"),
    [8] = F(K_VARINT, "flags"),
};
static const struct fdesc f_quantile[] = {
    [1] = F(K_I64, "quantile"),
    [2] = F(K_I64, "value"),
};
static const struct fdesc f_exemplar[] = {
    [2] = F(K_I64, "time_unix_nano"), [3] = F(K_I64, "as_double"),
    [4] = F(K_ID8, "span_id"),        [5] = F(K_ID16, "trace_id"),
    [6] = F(K_I64, "as_int"),         [7] = RM(M_KEY_VALUE, "filtered_attributes"),
};
static const struct fdesc f_logs_data[] = {[1] = RM(M_RESOURCE_LOGS, "resource_logs")};
static const struct fdesc f_resource_logs[] = {
    [1] = FM(M_RESOURCE, "resource"),
    [2] = RM(M_SCOPE_LOGS, "scope_logs"),
    [3] = F(K_STRING, "schema_url"),
};
static const struct fdesc f_scope_logs[] = {
    [1] = FM(M_SCOPE, "scope"),
    [2] = RM(M_LOG_RECORD, "log_records"),
    [3] = F(K_STRING, "schema_url"),
};
static const struct fdesc f_log_record[] = {
    [1] = F(K_I64, "time_unix_nano"),
    [2] = F(K_VARINT, "severity_number"),
    [3] = F(K_STRING, "severity_text"),
    [5] = FM(M_ANY_VALUE, "body"),
    [6] = RM(M_KEY_VALUE, "attributes"),
    [7] = F(K_VARINT, "dropped_attributes_count"),
    [8] = F(K_I32, "flags"),
    [9] = F(K_ID16, "trace_id"),
    [10] = F(K_ID8, "span_id"),
    [11] = F(K_I64, "observed_time_unix_nano"),
    [12] = F(K_STRING, "event_name"),
};
static const struct fdesc f_resource[] = {
    [1] = RM(M_KEY_VALUE, "attributes"),
    [2] = F(K_VARINT, "dropped_attributes_count"),
    [3] = RM(M_ENTITY_REF, "entity_refs"),
};
static const struct fdesc f_scope[] = {
    [1] = F(K_STRING, "name"),
    [2] = F(K_STRING, "version"),
    [3] = RM(M_KEY_VALUE, "attributes"),
    [4] = F(K_VARINT, "dropped_attributes_count"),
};
static const struct fdesc f_key_value[] = {
    [1] = F(K_STRING, "key"),
    [2] = FM(M_ANY_VALUE, "value"),
    [3] = F(K_VARINT, "key_strindex"),
};
static const struct fdesc f_any_value[] = {
    [1] = F(K_STRING, "string_value"),      [2] = F(K_VARINT, "bool_value"),
    [3] = F(K_VARINT, "int_value"),         [4] = F(K_I64, "double_value"),
    [5] = FM(M_ARRAY_VALUE, "array_value"), [6] = FM(M_KVLIST, "kvlist_value"),
    [7] = F(K_BYTES, "bytes_value"),        [8] = F(K_VARINT, "string_value_strindex"),
};
static const struct fdesc f_array_value[] = {[1] = RM(M_ANY_VALUE, "values")};
static const struct fdesc f_kvlist[] = {[1] = RM(M_KEY_VALUE, "values")};
static const struct fdesc f_entity_ref[] = {
    [1] = F(K_STRING, "schema_url"),
    [2] = F(K_STRING, "type"),
    [3] = R(K_STRING, "id_keys"),
    [4] = R(K_STRING, "description_keys"),
};

#define MD(tab, it)                                                                                \
    {                                                                                              \
        tab, (uint8_t)(sizeof(tab) / sizeof(tab[0])), it                                           \
    }

static const struct mdesc schema[M_COUNT] = {
    [M_TRACES_DATA] = MD(f_traces_data, false),
    [M_RESOURCE_SPANS] = MD(f_resource_spans, false),
    [M_SCOPE_SPANS] = MD(f_scope_spans, false),
    [M_SPAN] = MD(f_span, true),
    [M_EVENT] = MD(f_event, false),
    [M_LINK] = MD(f_link, false),
    [M_STATUS] = MD(f_status, false),
    [M_METRICS_DATA] = MD(f_metrics_data, false),
    [M_RESOURCE_METRICS] = MD(f_resource_metrics, false),
    [M_SCOPE_METRICS] = MD(f_scope_metrics, false),
    [M_METRIC] = MD(f_metric, false),
    [M_GAUGE] = MD(f_gauge, false),
    [M_SUM] = MD(f_sum, false),
    [M_HISTOGRAM] = MD(f_histogram, false),
    [M_EXP_HISTOGRAM] = MD(f_exp_histogram, false),
    [M_SUMMARY] = MD(f_summary, false),
    [M_NUMBER_DP] = MD(f_number_dp, true),
    [M_HISTOGRAM_DP] = MD(f_histogram_dp, true),
    [M_EXP_HISTOGRAM_DP] = MD(f_exp_histogram_dp, true),
    [M_BUCKETS] = MD(f_buckets, false),
    [M_SUMMARY_DP] = MD(f_summary_dp, true),
    [M_QUANTILE] = MD(f_quantile, false),
    [M_EXEMPLAR] = MD(f_exemplar, false),
    [M_LOGS_DATA] = MD(f_logs_data, false),
    [M_RESOURCE_LOGS] = MD(f_resource_logs, false),
    [M_SCOPE_LOGS] = MD(f_scope_logs, false),
    [M_LOG_RECORD] = MD(f_log_record, true),
    [M_RESOURCE] = MD(f_resource, false),
    [M_SCOPE] = MD(f_scope, false),
    [M_KEY_VALUE] = MD(f_key_value, false),
    [M_ANY_VALUE] = MD(f_any_value, false),
    [M_ARRAY_VALUE] = MD(f_array_value, false),
    [M_KVLIST] = MD(f_kvlist, false),
    [M_ENTITY_REF] = MD(f_entity_ref, false),
};

/* Deeper AnyValue trees are refused: they bound the validator's recursion, and no real
 * attribute needs them. */
#define MAX_ANY_DEPTH 32

static const enum msg_type root_of[KT_SIGNAL_COUNT] = {
    [KT_SIGNAL_TRACES] = M_TRACES_DATA,
    [KT_SIGNAL_METRICS] = M_METRICS_DATA,
    [KT_SIGNAL_LOGS] = M_LOGS_DATA,
};

/* ------------------------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------------------------ */

struct vctx {
    const uint8_t *base;
    size_t n_items;
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
    case WT_VARINT: return "varint";
    case WT_I64: return "fixed64";
    case WT_LEN: return "length-delimited";
    case WT_SGROUP: return "start group";
    case WT_EGROUP: return "end group";
    case WT_I32: return "fixed32";
    default: return "invalid";
    }
}

/* Records an error about field f (number num when f is unknown) of the message being
 * walked. Errors about the message itself start with ':' so the caller's prefixing joins
 * "spans[3]" + ": ..." without a dot. */
static int vfail(struct vctx *c, const struct fdesc *f, uint32_t num, const uint8_t *at,
                 const char *fmt, ...) __attribute__((format(printf, 5, 6), cold));

static int vfail(struct vctx *c, const struct fdesc *f, uint32_t num, const uint8_t *at,
                 const char *fmt, ...)
{
    char detail[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    size_t off = (size_t)(at - c->base);
    c->err_depth = c->depth;
    if (f != NULL)
        return kt_err_set(c->err, KT_EINVAL, "%s: %s (offset %zu)", f->name, detail, off);
    if (num != 0)
        return kt_err_set(c->err, KT_EINVAL, ": field %u: %s (offset %zu)", num, detail, off);
    return kt_err_set(c->err, KT_EINVAL, ": %s (offset %zu)", detail, off);
}

static __attribute__((cold)) int wrong_wt(struct vctx *c, const struct fdesc *f, uint32_t num,
                                          const uint8_t *at, uint32_t wt)
{
    uint32_t want;
    switch (f->kind) {
    case K_VARINT: want = WT_VARINT; break;
    case K_I64: want = WT_I64; break;
    case K_I32: want = WT_I32; break;
    case K_PACKED_I64: want = WT_I64; break;
    case K_PACKED_VARINT: want = WT_VARINT; break;
    default: want = WT_LEN; break;
    }
    if (f->kind == K_PACKED_I64 || f->kind == K_PACKED_VARINT)
        return vfail(c, f, num, at, "wire type %u (%s), want %u (%s) or 2 (packed)", wt,
                     wt_name(wt), want, wt_name(want));
    return vfail(c, f, num, at, "wire type %u (%s), want %u (%s)", wt, wt_name(wt), want,
                 wt_name(want));
}

/* Adds "name[i]" in front of a nested error. The index is found by counting earlier
 * occurrences again, so the happy path keeps no per-field counters. */
static __attribute__((cold)) int vprefix(struct vctx *c, int depth, const struct fdesc *f,
                                         uint32_t num, const uint8_t *msg_start,
                                         const uint8_t *field_start)
{
    const char *sep = c->err->msg[0] == ':' ? "" : ".";
    int inner = c->err_depth - PATH_KEEP_INNER;
    if (depth >= PATH_KEEP_OUTER && depth < inner)
        return depth == inner - 1 ? kt_err_prefix(c->err, "[...]%s", sep) : KT_EINVAL;
    if (!f->repeated)
        return kt_err_prefix(c->err, "%s%s", f->name, sep);
    size_t idx = 0;
    const uint8_t *p = msg_start;
    struct field fl;
    while (p < field_start && next_field(&p, field_start, &fl) == 1) {
        if (fl.num == num)
            idx++;
    }
    return kt_err_prefix(c->err, "%s[%zu]%s", f->name, idx, sep);
}

/* The common attribute shape, checked without recursion: key (field 1, short string) then
 * value (field 2) holding one short string, bool, int or double. Returns false for anything
 * else, valid or not, and the generic walker takes over (and reports errors). */
static inline bool kv_fast(const uint8_t *p, const uint8_t *end)
{
    if (end - p < 2 || p[0] != 0x0a || p[1] >= 0x80 || p[1] > end - p - 2)
        return false;
    size_t kl = p[1];
    p += 2;
    if (!utf8_ok(p, kl))
        return false;
    p += kl;
    if (p == end)
        return true;
    if (end - p < 2 || p[0] != 0x12 || p[1] >= 0x80 || p[1] != end - p - 2)
        return false;
    p += 2;
    if (p == end)
        return true;
    size_t vl = (size_t)(end - p);
    switch (p[0]) {
    case 0x0a: /* string_value */ return vl >= 2 && p[1] == vl - 2 && utf8_ok(p + 2, vl - 2);
    case 0x10: /* bool_value */
    case 0x18: /* int_value */ {
        uint64_t v;
        const uint8_t *q = p + 1;
        return read_varint(&q, end, &v) == 0 && q == end;
    }
    case 0x21: /* double_value */ return vl == 9;
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
    else if (read_varint(&p, end, &v) != 0 || p - lp > MAX_VARINT32_BYTES)
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
    if (read_varint(&q, end, &v) != 0)
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

/* Status { message = 2; code = 3 } */
static bool status_fast(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *v;
    if (AT(p, end, 0x12) && !(fast_ld(&p, end, &v) && utf8_ok(v, (size_t)(p - v))))
        return false;
    if (AT(p, end, 0x18) && !fast_varint(&p, end))
        return false;
    return p == end;
}

/* Event { time_unix_nano = 1; name = 2; attributes = 3; dropped_attributes_count = 4 } */
static bool event_fast(const uint8_t *p, const uint8_t *end)
{
    const uint8_t *v;
    if (AT(p, end, 0x09) && !fast_fixed64(&p, end))
        return false;
    if (AT(p, end, 0x12) && !(fast_ld(&p, end, &v) && utf8_ok(v, (size_t)(p - v))))
        return false;
    while (AT(p, end, 0x1a))
        if (!(fast_ld(&p, end, &v) && kv_fast(v, p)))
            return false;
    if (AT(p, end, 0x20) && !fast_varint(&p, end))
        return false;
    return p == end;
}

/* The span shape exporters write, checked with one test per field in field-number order
 * instead of the walker's dispatch per field (the branches predict far better): ids,
 * trace_state, name, kind, times, attributes, events, status, flags and the dropped
 * counts, each optional. Returns where the walker must take over: at the first field this
 * does not handle (a link, an unknown field, one out of order, anything not valid) or at
 * end. What it passes over is valid exactly as the walker would find it. */
static const uint8_t *span_fast(const uint8_t *p, const uint8_t *end)
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
        TAKE(fast_ld(&q, end, &v) && utf8_ok(v, (size_t)(q - v)));
    if (AT(p, end, 0x22)) /* parent_span_id */
        TAKE(fast_ld(&q, end, &v) && (q - v == 0 || q - v == 8));
    if (AT(p, end, 0x2a)) /* name */
        TAKE(fast_ld(&q, end, &v) && utf8_ok(v, (size_t)(q - v)));
    if (AT(p, end, 0x30)) /* kind */
        TAKE(fast_varint(&q, end));
    if (AT(p, end, 0x39)) /* start_time_unix_nano */
        TAKE(fast_fixed64(&q, end));
    if (AT(p, end, 0x41)) /* end_time_unix_nano */
        TAKE(fast_fixed64(&q, end));
    while (AT(p, end, 0x4a)) /* attributes */
        TAKE(fast_ld(&q, end, &v) && kv_fast(v, q));
    if (AT(p, end, 0x50)) /* dropped_attributes_count */
        TAKE(fast_varint(&q, end));
    while (AT(p, end, 0x5a)) /* events */
        TAKE(fast_ld(&q, end, &v) && event_fast(v, q));
    if (AT(p, end, 0x60)) /* dropped_events_count */
        TAKE(fast_varint(&q, end));
    if (AT(p, end, 0x70)) /* dropped_links_count */
        TAKE(fast_varint(&q, end));
    if (AT(p, end, 0x7a)) /* status */
        TAKE(fast_ld(&q, end, &v) && status_fast(v, q));
    if (end - p >= 6 && p[0] == 0x85 && p[1] == 0x01) /* flags: field 16, fixed32 */
        p += 6;
#undef TAKE
    return p;
}

#undef AT

/* Whether an AnyValue payload sets its value (any of its oneof fields 1..8). */
static bool any_has_value(const uint8_t *p, const uint8_t *end)
{
    struct field f;
    while (next_field(&p, end, &f) == 1) {
        if (f.num <= 8)
            return true;
    }
    return false;
}

static int walk(struct vctx *c, enum msg_type mt, const uint8_t *start, const uint8_t *end,
                int depth, int any_depth)
{
    const struct mdesc *m = &schema[mt];
    c->depth = depth;
    if (m->item)
        c->n_items++;
    if (mt == M_ANY_VALUE && ++any_depth > MAX_ANY_DEPTH)
        return vfail(c, NULL, 0, start, "AnyValue nested deeper than %d levels", MAX_ANY_DEPTH);

    bool any_seen = false;
    const uint8_t *p = mt == M_SPAN ? span_fast(start, end) : start;
    while (p < end) {
        const uint8_t *fstart = p;
        uint64_t tag, v;
        int rc;
        if (*p < 0x80) {
            tag = *p++;
        } else if ((rc = read_varint(&p, end, &tag)) != 0 || p - fstart > MAX_VARINT32_BYTES) {
            return vfail(c, NULL, 0, fstart, "%s tag varint",
                         rc == VARINT_TRUNCATED ? "truncated" : "over-long");
        }
        if (tag > UINT32_MAX || tag < 8)
            return vfail(c, NULL, 0, fstart, "invalid field number %llu",
                         (unsigned long long)(tag >> 3));
        uint32_t num = (uint32_t)(tag >> 3);
        uint32_t wt = (uint32_t)(tag & 7);
        const struct fdesc *f = num < m->nf && m->f[num].kind != K_UNKNOWN ? &m->f[num] : NULL;

        /* Ordered by frequency; if-chains predict better here than a jump table. */
        if (wt == WT_LEN) {
            const uint8_t *lp = p;
            if (p < end && *p < 0x80) {
                v = *p++;
            } else if ((rc = read_varint(&p, end, &v)) != 0 || p - lp > MAX_VARINT32_BYTES) {
                return vfail(c, f, num, fstart, "%s length varint",
                             rc == VARINT_TRUNCATED ? "truncated" : "over-long");
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
            if (kind == K_MSG) {
                if (f->msg == M_KEY_VALUE && any_depth < MAX_ANY_DEPTH && kv_fast(val, p))
                    continue;
                /* A singular AnyValue given again is merged into the first; protobuf-c
                 * cannot decode the message when a later one sets no value. */
                if (f->msg == M_ANY_VALUE && !f->repeated) {
                    if (any_seen && !any_has_value(val, p))
                        return vfail(c, f, num, fstart,
                                     "given again without a value (protobuf-c cannot "
                                     "decode that)");
                    any_seen = true;
                }
                if (walk(c, (enum msg_type)f->msg, val, p, depth + 1, any_depth) != 0)
                    return vprefix(c, depth, f, num, start, fstart);
                c->depth = depth;
            } else if (kind == K_STRING) {
                if (!utf8_ok(val, len)) {
                    size_t bad = utf8_check(val, len);
                    return vfail(c, f, num, val + bad, "invalid UTF-8 at byte %zu of %zu", bad,
                                 len);
                }
            } else if (kind == K_ID16) {
                if (len != 0 && len != 16)
                    return vfail(c, f, num, fstart, "length %zu, want 16", len);
            } else if (kind == K_ID8) {
                if (len != 0 && len != 8)
                    return vfail(c, f, num, fstart, "length %zu, want 8", len);
            } else if (kind == K_PACKED_I64) {
                if (len % 8 != 0)
                    return vfail(c, f, num, fstart, "packed length %zu is not a multiple of 8",
                                 len);
            } else if (kind == K_PACKED_VARINT) {
                const uint8_t *q = val;
                while (q < p) {
                    if (read_varint(&q, p, &v) != 0)
                        return vfail(c, f, num, q, "malformed varint in packed field");
                }
            } else if (kind != K_BYTES) {
                return wrong_wt(c, f, num, fstart, wt);
            }
        } else if (wt == WT_VARINT) {
            if ((rc = read_varint(&p, end, &v)) != 0)
                return vfail(c, f, num, fstart, "%s varint",
                             rc == VARINT_TRUNCATED ? "truncated" : "over-long");
            if (f != NULL && f->kind != K_VARINT && f->kind != K_PACKED_VARINT)
                return wrong_wt(c, f, num, fstart, wt);
        } else if (wt == WT_I64) {
            if (end - p < 8)
                return vfail(c, f, num, fstart, "truncated fixed64: %zu bytes left, want 8",
                             (size_t)(end - p));
            p += 8;
            if (f != NULL && f->kind != K_I64 && f->kind != K_PACKED_I64)
                return wrong_wt(c, f, num, fstart, wt);
        } else if (wt == WT_I32) {
            if (end - p < 4)
                return vfail(c, f, num, fstart, "truncated fixed32: %zu bytes left, want 4",
                             (size_t)(end - p));
            p += 4;
            if (f != NULL && f->kind != K_I32)
                return wrong_wt(c, f, num, fstart, wt);
        } else if (wt == WT_SGROUP || wt == WT_EGROUP) {
            return vfail(c, f, num, fstart, "wire type %u (%s): groups are not supported", wt,
                         wt_name(wt));
        } else {
            return vfail(c, f, num, fstart, "invalid wire type %u", wt);
        }
    }
    return 0;
}

int kt_otlp_validate(enum kt_signal sig, struct kt_slice msg, size_t *n_items, struct kt_err *err)
{
    struct kt_err local;
    struct vctx c = {msg.p, 0, err != NULL ? err : &local, 0, 0};
    if ((unsigned)sig >= KT_SIGNAL_COUNT)
        return kt_err_set(err, KT_EINVAL, "unknown signal %d", (int)sig);
    if (msg.n > 0 && msg.p == NULL)
        return kt_err_set(err, KT_EINVAL, "NULL message of %zu bytes", msg.n);
    if (msg.n == 0) {
        if (n_items != NULL)
            *n_items = 0;
        return 0;
    }
    int rc = walk(&c, root_of[sig], msg.p, msg.p + msg.n, 0, 0);
    if (rc != 0) {
        /* An error in the top-level message itself has no path to hang on. */
        if (c.err->msg[0] == ':') {
            size_t n = strlen(c.err->msg);
            size_t skip = c.err->msg[1] == ' ' ? 2 : 1;
            memmove(c.err->msg, c.err->msg + skip, n - skip + 1);
        }
        return KT_EINVAL;
    }
    if (n_items != NULL)
        *n_items = c.n_items;
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Splitting
 *
 * The request is cut into "units" (a whole resource entry, a whole scope entry, a whole
 * metric, or one item: span, log record, data point). A unit's bytes are copied verbatim,
 * tag and length included. Units are grouped by key; each group is then packed into chunks
 * by placing its units in order under re-emitted "nodes": the resource-level and
 * scope-level wrappers (and for data points, the Metric and its Gauge/Sum/...), each
 * written as its own tag, a fresh length, and the wrapper's other fields ("header") copied
 * verbatim. A unit that does not fit the current chunk is opened up into its children when
 * it has any, else moved to a new chunk, else (alone it is still too big) rejected.
 *
 * Chunk bytes are planned first (sizes only, wrapper lengths recorded in order of opening)
 * and written afterwards, so every length is written once and nothing is moved.
 * ------------------------------------------------------------------------------------------ */

#define MAX_LEVELS 4 /* resource, scope, metric, metric data */

/* U_RUN: items of one scope entry, adjacent in the request and of one key (exporters send
 * a trace's spans together), placed whole while they fit and item by item otherwise. */
enum unit_kind { U_RESOURCE, U_SCOPE, U_METRIC, U_ITEM, U_RUN };

struct range {
    size_t off, len;
};

struct node {
    size_t off, len;  /* the wrapper's payload in the request */
    size_t hdr_first; /* its fields other than the split children, in ranges[] */
    size_t hdr_n;
    size_t hdr_len;
    int32_t parent;
    uint32_t tag;
    uint8_t level;
};

struct unit {
    size_t off, len; /* whole field: tag, length, payload */
    int32_t parent;  /* node, or -1 for a resource-level unit */
    int32_t next;    /* next unit of the same group */
    uint32_t n_items;
    uint8_t kind;
};

struct group {
    uint8_t id[16];
    int32_t first, last;
    char key[33];
};

struct slot {
    uint32_t gen;
    int32_t group;
};

struct kv_ref {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *kv;
    size_t kv_len;
};

struct kt_otlp_splitter {
    struct range *ranges;
    size_t n_ranges, cap_ranges;
    struct node *nodes;
    size_t n_nodes, cap_nodes;
    struct unit *units;
    size_t n_units, cap_units;
    struct group *groups;
    size_t n_groups, cap_groups;
    struct slot *slots;
    size_t cap_slots; /* power of two */
    uint32_t gen;
    struct kv_ref *kvs;
    size_t cap_kvs;
    struct unit *placed;
    size_t n_placed, cap_placed;
    size_t *lens;
    size_t n_lens, cap_lens;
};

/* Grows the array whose pointer is at arrp to hold at least need elements. The pointer is
 * read and written through memcpy so one helper serves every element type. */
static int grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
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

#define GROW(arr, n, cap) ((n) <= (cap) ? 0 : grow(&(arr), &(cap), (n), sizeof(*(arr))))

struct kt_otlp_splitter *kt_otlp_splitter_new(void)
{
    return calloc(1, sizeof(struct kt_otlp_splitter));
}

void kt_otlp_splitter_free(struct kt_otlp_splitter *s)
{
    if (s == NULL)
        return;
    free(s->ranges);
    free(s->nodes);
    free(s->units);
    free(s->groups);
    free(s->slots);
    free(s->kvs);
    free(s->placed);
    free(s->lens);
    free(s);
}

void kt_otlp_chunks_free(struct kt_otlp_chunks *c)
{
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The chunk being planned: open wrappers per level and the bytes so far. */
struct plan {
    int32_t open[MAX_LEVELS];
    size_t size[MAX_LEVELS]; /* payload bytes of each open wrapper */
    size_t lens_idx[MAX_LEVELS];
    int depth;
    size_t closed; /* bytes of finished top-level fields */
};

struct sctx {
    struct kt_otlp_splitter *s;
    const uint8_t *base;
    enum kt_signal sig;
    size_t max;
    struct kt_buf *out;
    struct kt_otlp_chunks *chunks;
    size_t *n_rejected;
    struct kt_err *reject_err;
    const struct group *g;
    struct plan pl;
    uint32_t n_items;
};

static int malformed(struct sctx *c, const uint8_t *at, const char *what)
{
    return kt_err_set(c->reject_err, KT_EINVAL, "malformed %s message: %s (offset %zu)",
                      kt_signal_name(c->sig), what, (size_t)(at - c->base));
}

/* Payload of a whole-field range (tag + length + payload). */
static int unit_payload(const uint8_t *base, size_t off, size_t len, const uint8_t **p,
                        const uint8_t **end)
{
    const uint8_t *q = base + off;
    struct field f;
    if (next_field(&q, base + off + len, &f) != 1 || f.wt != WT_LEN)
        return -1;
    *p = f.val;
    *end = f.val + f.len;
    return 0;
}

/* Finds the first length-delimited field num; returns its payload or NULL. */
static const uint8_t *find_bytes(const uint8_t *p, const uint8_t *end, uint32_t num, size_t *len)
{
    struct field f;
    while (next_field(&p, end, &f) == 1) {
        if (f.num == num && f.wt == WT_LEN) {
            *len = f.len;
            return f.val;
        }
    }
    return NULL;
}

static bool is_metric_data(uint32_t num)
{
    return num == 5 || num == 7 || num == 9 || num == 10 || num == 11;
}

/* Data points of a Metric (payload). */
static int count_points(const uint8_t *p, const uint8_t *end, uint32_t *n)
{
    struct field f, g;
    int rc;
    while ((rc = next_field(&p, end, &f)) == 1) {
        if (!is_metric_data(f.num) || f.wt != WT_LEN)
            continue;
        const uint8_t *q = f.val, *qend = f.val + f.len;
        while ((rc = next_field(&q, qend, &g)) == 1) {
            if (g.num == 1 && g.wt == WT_LEN)
                (*n)++;
        }
        if (rc < 0)
            return -1;
    }
    return rc;
}

/* Items of a scope-level entry (payload). */
static int count_scope_items(enum kt_signal sig, const uint8_t *p, const uint8_t *end, uint32_t *n)
{
    struct field f;
    int rc;
    while ((rc = next_field(&p, end, &f)) == 1) {
        if (f.num != 2 || f.wt != WT_LEN)
            continue;
        if (sig != KT_SIGNAL_METRICS)
            (*n)++;
        else if (count_points(f.val, f.val + f.len, n) < 0)
            return -1;
    }
    return rc;
}

/* Items of a resource-level entry (payload). */
static int count_resource_items(enum kt_signal sig, const uint8_t *p, const uint8_t *end,
                                uint32_t *n)
{
    struct field f;
    int rc;
    while ((rc = next_field(&p, end, &f)) == 1) {
        if (f.num == 2 && f.wt == WT_LEN && count_scope_items(sig, f.val, f.val + f.len, n) < 0)
            return -1;
    }
    return rc;
}

/* Appends a node for the wrapper payload [p, end) whose header is every field except the
 * split children (field child_num, or for a Metric its data fields). */
static int add_node(struct sctx *c, const uint8_t *p, const uint8_t *end, uint32_t tag,
                    int32_t parent, uint8_t level, uint32_t child_num, int32_t *id)
{
    struct kt_otlp_splitter *s = c->s;
    if (s->n_nodes >= INT32_MAX || GROW(s->nodes, s->n_nodes + 1, s->cap_nodes) != 0)
        return KT_ENOMEM;
    struct node *nd = &s->nodes[s->n_nodes];
    nd->off = (size_t)(p - c->base);
    nd->len = (size_t)(end - p);
    nd->hdr_first = s->n_ranges;
    nd->hdr_n = 0;
    nd->hdr_len = 0;
    nd->parent = parent;
    nd->tag = tag;
    nd->level = level;
    struct field f;
    int rc;
    while ((rc = next_field(&p, end, &f)) == 1) {
        bool child = child_num != 0 ? f.num == child_num : is_metric_data(f.num);
        if (child && f.wt == WT_LEN)
            continue;
        size_t off = (size_t)(f.start - c->base), len = (size_t)(f.end - f.start);
        nd->hdr_len += len;
        if (nd->hdr_n > 0) {
            struct range *last = &s->ranges[s->n_ranges - 1];
            if (last->off + last->len == off) {
                last->len += len;
                continue;
            }
        }
        if (GROW(s->ranges, s->n_ranges + 1, s->cap_ranges) != 0)
            return KT_ENOMEM;
        s->ranges[s->n_ranges++] = (struct range){off, len};
        nd->hdr_n++;
    }
    if (rc < 0)
        return malformed(c, p, "bad field in a wrapper message");
    *id = (int32_t)s->n_nodes++;
    return 0;
}

/* Closes the open wrappers at levels >= d, adding their encodings to their parents. */
static void plan_close(struct plan *pl, int d, size_t *lens)
{
    for (int l = pl->depth - 1; l >= d; l--) {
        if (lens != NULL)
            lens[pl->lens_idx[l]] = pl->size[l];
        size_t e = ld_size(pl->size[l]);
        if (l == 0)
            pl->closed += e;
        else
            pl->size[l - 1] += e;
    }
    if (pl->depth > d)
        pl->depth = d;
}

/* Bytes of the chunk if it ended now. */
static size_t plan_total(const struct plan *pl)
{
    size_t t = 0;
    for (int l = pl->depth - 1; l >= 0; l--)
        t = ld_size(pl->size[l] + t);
    return pl->closed + t;
}

/* Ancestors of a unit by level; returns the parent's level (-1: none). */
static int unit_chain(const struct kt_otlp_splitter *s, const struct unit *u,
                      int32_t chain[MAX_LEVELS])
{
    int k = -1;
    for (int32_t n = u->parent; n >= 0; n = s->nodes[n].parent) {
        int l = s->nodes[n].level;
        chain[l] = n;
        if (l > k)
            k = l;
    }
    return k;
}

/* Applies u to pl. With s->lens non-NULL (commit), records lens slots for new wrappers. */
static void plan_add(const struct kt_otlp_splitter *s, struct plan *pl, const struct unit *u,
                     const int32_t chain[MAX_LEVELS], int k, size_t *lens, size_t *n_lens)
{
    int d = 0;
    while (d <= k && d < pl->depth && pl->open[d] == chain[d])
        d++;
    plan_close(pl, d, lens);
    for (int l = d; l <= k; l++) {
        pl->open[l] = chain[l];
        pl->size[l] = s->nodes[chain[l]].hdr_len;
        if (n_lens != NULL)
            pl->lens_idx[l] = (*n_lens)++;
    }
    pl->depth = k + 1;
    if (k >= 0)
        pl->size[k] += u->len;
    else
        pl->closed += u->len;
}

static void write_node(struct sctx *c, const struct node *nd, size_t len)
{
    struct kt_buf *b = c->out;
    b->len += kt_varint_put(b->p + b->len, nd->tag);
    b->len += kt_varint_put(b->p + b->len, len);
    for (size_t i = 0; i < nd->hdr_n; i++) {
        const struct range *r = c->s->ranges + nd->hdr_first;
        memcpy(b->p + b->len, c->base + r[i].off, r[i].len);
        b->len += r[i].len;
    }
}

/* Writes the planned chunk and starts an empty one. */
static int flush(struct sctx *c)
{
    struct kt_otlp_splitter *s = c->s;
    if (s->n_placed == 0)
        return 0;
    plan_close(&c->pl, 0, s->lens);
    size_t total = c->pl.closed;

    struct kt_otlp_chunks *ch = c->chunks;
    if (GROW(ch->v, ch->n + 1, ch->cap) != 0)
        return KT_ENOMEM;
    /* The plan is exact, so the writer below needs no per-write checks. */
    if (kt_buf_reserve(c->out, total) != 0)
        return KT_ENOMEM;
    size_t start = c->out->len;

    int32_t open[MAX_LEVELS];
    int depth = 0;
    size_t li = 0;
    for (size_t i = 0; i < s->n_placed; i++) {
        const struct unit *u = &s->placed[i];
        int32_t chain[MAX_LEVELS];
        int k = unit_chain(s, u, chain);
        int d = 0;
        while (d <= k && d < depth && open[d] == chain[d])
            d++;
        for (int l = d; l <= k; l++) {
            open[l] = chain[l];
            write_node(c, &s->nodes[chain[l]], s->lens[li++]);
        }
        depth = k + 1;
        memcpy(c->out->p + c->out->len, c->base + u->off, u->len);
        c->out->len += u->len;
    }
    if (c->out->len - start != total) {
        size_t written = c->out->len - start;
        c->out->len = start;
        return kt_err_set(c->reject_err, KT_EINVAL,
                          "internal error: chunk planned at %zu bytes, written %zu", total,
                          written);
    }

    struct kt_otlp_chunk *chunk = &ch->v[ch->n++];
    memcpy(chunk->key, c->g->key, sizeof(chunk->key));
    chunk->off = start;
    chunk->len = total;
    chunk->n_items = c->n_items;

    memset(&c->pl, 0, sizeof(c->pl));
    c->n_items = 0;
    s->n_placed = 0;
    s->n_lens = 0;
    return 0;
}

static void describe_item(struct sctx *c, const struct unit *u, char *buf, size_t n)
{
    const struct kt_otlp_splitter *s = c->s;
    const uint8_t *p, *end;
    size_t off = u->off;
    if (unit_payload(c->base, u->off, u->len, &p, &end) != 0) {
        snprintf(buf, n, "item at offset %zu", off);
        return;
    }
    size_t tl = 0, sl = 0;
    const uint8_t *tid, *sid;
    char th[33] = "", sh[17] = "";
    switch (c->sig) {
    case KT_SIGNAL_TRACES:
        tid = find_bytes(p, end, 1, &tl);
        sid = find_bytes(p, end, 2, &sl);
        if (tid != NULL && tl == 16)
            kt_hex_encode(tid, 16, th);
        if (sid != NULL && sl == 8)
            kt_hex_encode(sid, 8, sh);
        snprintf(buf, n, "span %s/%s", th[0] ? th : "-", sh[0] ? sh : "-");
        break;
    case KT_SIGNAL_LOGS:
        tid = find_bytes(p, end, 9, &tl);
        if (tid != NULL && tl == 16) {
            kt_hex_encode(tid, 16, th);
            snprintf(buf, n, "log record of trace %s (offset %zu)", th, off);
        } else {
            snprintf(buf, n, "log record at offset %zu", off);
        }
        break;
    case KT_SIGNAL_METRICS: {
        /* A data point's parent is its Gauge/Sum/..., whose parent is the Metric. */
        int32_t m = u->parent >= 0 ? s->nodes[u->parent].parent : -1;
        const uint8_t *name = NULL;
        size_t nl = 0;
        if (m >= 0) {
            const struct node *nd = &s->nodes[m];
            name = find_bytes(c->base + nd->off, c->base + nd->off + nd->len, 1, &nl);
        }
        if (nl > 64)
            nl = 64;
        snprintf(buf, n, "data point of metric \"%.*s\" (offset %zu)", (int)nl,
                 name ? (const char *)name : "", off);
        break;
    }
    }
}

static int reject(struct sctx *c, const struct unit *u)
{
    if (*c->n_rejected == 0 && c->reject_err != NULL) {
        struct plan alone;
        memset(&alone, 0, sizeof(alone));
        int32_t chain[MAX_LEVELS];
        int k = unit_chain(c->s, u, chain);
        plan_add(c->s, &alone, u, chain, k, NULL, NULL);
        char what[160];
        describe_item(c, u, what, sizeof(what));
        kt_err_set(c->reject_err, KT_ETOOBIG,
                   "%s: %zu bytes encoded with its wrappers, over max_chunk_bytes %zu", what,
                   plan_total(&alone), c->max);
    }
    *c->n_rejected += u->n_items;
    return 0;
}

static int place(struct sctx *c, const struct unit *u);

/* Places the children of a composite unit one by one. */
static int expand(struct sctx *c, const struct unit *u)
{
    int32_t id;
    int rc;
    struct field f;

    if (u->kind == U_RUN) {
        const uint8_t *r = c->base + u->off, *rend = r + u->len;
        while ((rc = next_field(&r, rend, &f)) == 1) {
            struct unit item = {
                (size_t)(f.start - c->base), (size_t)(f.end - f.start), u->parent, -1, 1, U_ITEM};
            if ((rc = place(c, &item)) != 0)
                return rc;
        }
        return rc < 0 ? malformed(c, r, "bad field in a scope entry") : 0;
    }

    const uint8_t *p, *end;
    if (unit_payload(c->base, u->off, u->len, &p, &end) != 0)
        return malformed(c, c->base + u->off, "bad length-delimited field");
    const uint8_t *q = p;

    if (u->kind == U_METRIC) {
        rc = add_node(c, p, end, 0x12, u->parent, 2, 0, &id);
        if (rc != 0)
            return rc;
        while ((rc = next_field(&q, end, &f)) == 1) {
            if (!is_metric_data(f.num) || f.wt != WT_LEN)
                continue;
            int32_t data;
            rc = add_node(c, f.val, f.val + f.len, (f.num << 3) | WT_LEN, id, 3, 1, &data);
            if (rc != 0)
                return rc;
            const uint8_t *r = f.val, *rend = f.val + f.len;
            struct field g;
            while ((rc = next_field(&r, rend, &g)) == 1) {
                if (g.num != 1 || g.wt != WT_LEN)
                    continue;
                struct unit dp = {
                    (size_t)(g.start - c->base), (size_t)(g.end - g.start), data, -1, 1, U_ITEM};
                if ((rc = place(c, &dp)) != 0)
                    return rc;
            }
            if (rc < 0)
                return malformed(c, r, "bad field in metric data");
        }
        return rc < 0 ? malformed(c, q, "bad field in a metric") : 0;
    }

    bool resource = u->kind == U_RESOURCE;
    rc = add_node(c, p, end, resource ? 0x0a : 0x12, u->parent, resource ? 0 : 1, 2, &id);
    if (rc != 0)
        return rc;
    while ((rc = next_field(&q, end, &f)) == 1) {
        if (f.num != 2 || f.wt != WT_LEN)
            continue;
        struct unit child = {
            (size_t)(f.start - c->base), (size_t)(f.end - f.start), id, -1, 1, U_ITEM};
        if (resource) {
            child.kind = U_SCOPE;
            child.n_items = 0;
            if (count_scope_items(c->sig, f.val, f.val + f.len, &child.n_items) < 0)
                return malformed(c, f.val, "bad field in a scope entry");
        } else if (c->sig == KT_SIGNAL_METRICS) {
            child.kind = U_METRIC;
            child.n_items = 0;
            if (count_points(f.val, f.val + f.len, &child.n_items) < 0)
                return malformed(c, f.val, "bad field in a metric");
        }
        if (child.n_items == 0)
            continue;
        if ((rc = place(c, &child)) != 0)
            return rc;
    }
    return rc < 0 ? malformed(c, q, "bad field in a wrapper message") : 0;
}

static int place(struct sctx *c, const struct unit *u)
{
    struct kt_otlp_splitter *s = c->s;
    int32_t chain[MAX_LEVELS];
    int k = unit_chain(s, u, chain);
    if (c->max != SIZE_MAX) {
        struct plan trial = c->pl;
        plan_add(s, &trial, u, chain, k, NULL, NULL);
        if (plan_total(&trial) > c->max) {
            if (u->kind != U_ITEM)
                return expand(c, u);
            if (s->n_placed > 0) {
                int rc = flush(c);
                return rc != 0 ? rc : place(c, u);
            }
            return reject(c, u);
        }
    }
    if (GROW(s->placed, s->n_placed + 1, s->cap_placed) != 0 ||
        GROW(s->lens, s->n_lens + MAX_LEVELS, s->cap_lens) != 0)
        return KT_ENOMEM;
    plan_add(s, &c->pl, u, chain, k, s->lens, &s->n_lens);
    s->placed[s->n_placed++] = *u;
    c->n_items += u->n_items;
    return 0;
}

/* Group lookup: open addressing over slots stamped with the call's generation, so a call
 * never clears the table. */
static inline uint64_t id_hash(const uint8_t id[16])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL;
    return h ^ (h >> 29);
}

static int rehash(struct kt_otlp_splitter *s, size_t cap)
{
    struct slot *v = calloc(cap, sizeof(*v));
    if (v == NULL)
        return KT_ENOMEM;
    free(s->slots);
    s->slots = v;
    s->cap_slots = cap;
    s->gen = 1;
    for (size_t g = 0; g < s->n_groups; g++) {
        if (s->groups[g].key[0] == '\0')
            continue;
        size_t i = id_hash(s->groups[g].id) & (cap - 1);
        while (s->slots[i].gen == s->gen)
            i = (i + 1) & (cap - 1);
        s->slots[i] = (struct slot){s->gen, (int32_t)g};
    }
    return 0;
}

/* Finds or creates the group for id (NULL: the unkeyed group "", e.g. empty trace_id). */
static int group_of(struct kt_otlp_splitter *s, const uint8_t *id, size_t key_bytes,
                    int32_t *empty_group, int32_t *out)
{
    size_t i = 0;
    if (id == NULL) {
        if (*empty_group >= 0) {
            *out = *empty_group;
            return 0;
        }
    } else {
        if ((s->n_groups + 1) * 2 > s->cap_slots &&
            rehash(s, s->cap_slots ? s->cap_slots * 2 : 64) != 0)
            return KT_ENOMEM;
        i = id_hash(id) & (s->cap_slots - 1);
        while (s->slots[i].gen == s->gen) {
            if (memcmp(s->groups[s->slots[i].group].id, id, 16) == 0) {
                *out = s->slots[i].group;
                return 0;
            }
            i = (i + 1) & (s->cap_slots - 1);
        }
    }
    if (s->n_groups >= INT32_MAX || GROW(s->groups, s->n_groups + 1, s->cap_groups) != 0)
        return KT_ENOMEM;
    int32_t g = (int32_t)s->n_groups++;
    struct group *gr = &s->groups[g];
    gr->first = gr->last = -1;
    if (id == NULL) {
        memset(gr->id, 0, 16);
        gr->key[0] = '\0';
        *empty_group = g;
    } else {
        memcpy(gr->id, id, 16);
        kt_hex_encode(id, key_bytes, gr->key);
        s->slots[i] = (struct slot){s->gen, g};
    }
    *out = g;
    return 0;
}

static int add_unit(struct kt_otlp_splitter *s, int32_t g, const struct unit *u)
{
    if (s->n_units >= INT32_MAX || GROW(s->units, s->n_units + 1, s->cap_units) != 0)
        return KT_ENOMEM;
    int32_t id = (int32_t)s->n_units++;
    s->units[id] = *u;
    s->units[id].next = -1;
    struct group *gr = &s->groups[g];
    if (gr->last >= 0)
        s->units[gr->last].next = id;
    else
        gr->first = id;
    gr->last = id;
    return 0;
}

static int kv_cmp(const struct kv_ref *a, const struct kv_ref *b)
{
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int r = n ? memcmp(a->key, b->key, n) : 0;
    if (r != 0 || a->key_len != b->key_len)
        return r != 0 ? r : (a->key_len < b->key_len ? -1 : 1);
    n = a->kv_len < b->kv_len ? a->kv_len : b->kv_len;
    r = n ? memcmp(a->kv, b->kv, n) : 0;
    if (r != 0 || a->kv_len == b->kv_len)
        return r;
    return a->kv_len < b->kv_len ? -1 : 1;
}

static inline uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The key of a resource-level entry (payload [p, end)): FNV-1a 64 over its Resource's
 * attributes sorted by key, as the header specifies. */
static int resource_hash(struct kt_otlp_splitter *s, const uint8_t *p, const uint8_t *end,
                         uint64_t *out)
{
    size_t n = 0;
    struct field f, a;
    int rc;
    while ((rc = next_field(&p, end, &f)) == 1) {
        if (f.num != 1 || f.wt != WT_LEN)
            continue;
        const uint8_t *q = f.val, *qend = f.val + f.len;
        while ((rc = next_field(&q, qend, &a)) == 1) {
            if (a.num != 1 || a.wt != WT_LEN)
                continue;
            if (GROW(s->kvs, n + 1, s->cap_kvs) != 0)
                return KT_ENOMEM;
            struct kv_ref *r = &s->kvs[n++];
            r->kv = a.val;
            r->kv_len = a.len;
            r->key = find_bytes(a.val, a.val + a.len, 1, &r->key_len);
            if (r->key == NULL)
                r->key_len = 0;
        }
        if (rc < 0)
            return KT_EINVAL;
    }
    if (rc < 0)
        return KT_EINVAL;
    /* Resources carry a handful of attributes: insertion sort beats qsort's call overhead. */
    for (size_t i = 1; i < n; i++) {
        struct kv_ref t = s->kvs[i];
        size_t j = i;
        while (j > 0 && kv_cmp(&s->kvs[j - 1], &t) > 0) {
            s->kvs[j] = s->kvs[j - 1];
            j--;
        }
        s->kvs[j] = t;
    }
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        uint8_t lb[10];
        size_t ln = kt_varint_put(lb, s->kvs[i].kv_len);
        h = fnv1a(h, lb, ln);
        h = fnv1a(h, s->kvs[i].kv, s->kvs[i].kv_len);
    }
    *out = h;
    return 0;
}

/* First pass for KT_OTLP_KEY_TRACE_ID: every item, or run of adjacent items of one trace,
 * becomes a unit of its trace's group, under nodes for its resource-level and scope-level
 * entries. */
static int group_by_trace(struct sctx *c, const uint8_t *p, const uint8_t *end)
{
    struct kt_otlp_splitter *s = c->s;
    uint32_t id_field = c->sig == KT_SIGNAL_LOGS ? 9 : 1;
    int32_t empty_group = -1, last_group = -1;
    const uint8_t *last_id = NULL;
    struct unit run = {0, 0, -1, -1, 0, U_ITEM}; /* not yet added; of run_group */
    int32_t run_group = -1;
    struct field rf, sf, item;
    int rc;
    while ((rc = next_field(&p, end, &rf)) == 1) {
        if (rf.num != 1 || rf.wt != WT_LEN)
            continue;
        int32_t rs = -1;
        const uint8_t *q = rf.val, *qend = rf.val + rf.len;
        while ((rc = next_field(&q, qend, &sf)) == 1) {
            if (sf.num != 2 || sf.wt != WT_LEN)
                continue;
            if (rs < 0 && (rc = add_node(c, rf.val, qend, 0x0a, -1, 0, 2, &rs)) != 0)
                return rc;
            int32_t ss;
            if ((rc = add_node(c, sf.val, sf.val + sf.len, 0x12, rs, 1, 2, &ss)) != 0)
                return rc;
            const uint8_t *r = sf.val, *rend = sf.val + sf.len;
            while ((rc = next_field(&r, rend, &item)) == 1) {
                if (item.num != 2 || item.wt != WT_LEN)
                    continue;
                /* The first trace_id is the key: looking for a repeated one would mean
                 * walking every span to its end, for encodings no exporter produces. */
                size_t tl = 0;
                const uint8_t *tid = find_bytes(item.val, item.val + item.len, id_field, &tl);
                if (tid != NULL && tl != 16)
                    tid = NULL;
                size_t off = (size_t)(item.start - c->base), len = (size_t)(item.end - item.start);
                /* Exporters batch the spans of a trace together: skip the table lookup,
                 * and extend the run of the previous item. */
                if (last_group >= 0 && (tid == NULL) == (last_id == NULL) &&
                    (tid == NULL || memcmp(tid, last_id, 16) == 0)) {
                    if (run_group == last_group && run.off + run.len == off) {
                        run.len += len;
                        run.n_items++;
                        run.kind = U_RUN;
                        continue;
                    }
                } else {
                    if ((rc = group_of(s, tid, 16, &empty_group, &last_group)) != 0)
                        return rc;
                    last_id = tid;
                }
                if (run_group >= 0 && (rc = add_unit(s, run_group, &run)) != 0)
                    return rc;
                run = (struct unit){off, len, ss, -1, 1, U_ITEM};
                run_group = last_group;
            }
            if (rc < 0)
                return malformed(c, r, "bad field in a scope entry");
            if (run_group >= 0 && (rc = add_unit(s, run_group, &run)) != 0)
                return rc;
            run_group = -1;
        }
        if (rc < 0)
            return malformed(c, q, "bad field in a resource entry");
    }
    return rc < 0 ? malformed(c, p, "bad top-level field") : 0;
}

/* First pass for KT_OTLP_KEY_NONE / KT_OTLP_KEY_RESOURCE_HASH: each resource-level entry
 * with items becomes one unit. */
static int group_by_resource(struct sctx *c, const uint8_t *p, const uint8_t *end, bool hash)
{
    struct kt_otlp_splitter *s = c->s;
    int32_t empty_group = -1;
    struct field rf;
    int rc;
    while ((rc = next_field(&p, end, &rf)) == 1) {
        if (rf.num != 1 || rf.wt != WT_LEN)
            continue;
        struct unit u = {
            (size_t)(rf.start - c->base), (size_t)(rf.end - rf.start), -1, -1, 0, U_RESOURCE};
        if (count_resource_items(c->sig, rf.val, rf.val + rf.len, &u.n_items) < 0)
            return malformed(c, rf.val, "bad field in a resource entry");
        if (u.n_items == 0)
            continue;
        int32_t g;
        if (hash) {
            uint64_t h;
            uint8_t id[16] = {0};
            rc = resource_hash(s, rf.val, rf.val + rf.len, &h);
            if (rc == KT_ENOMEM)
                return rc;
            if (rc != 0)
                return malformed(c, rf.val, "bad resource");
            for (int i = 0; i < 8; i++)
                id[i] = (uint8_t)(h >> (56 - 8 * i));
            rc = group_of(s, id, 8, &empty_group, &g);
        } else {
            rc = group_of(s, NULL, 0, &empty_group, &g);
        }
        if (rc != 0)
            return rc;
        if ((rc = add_unit(s, g, &u)) != 0)
            return rc;
    }
    return rc < 0 ? malformed(c, p, "bad top-level field") : 0;
}

int kt_otlp_splitter_split(struct kt_otlp_splitter *s, enum kt_signal sig, struct kt_slice msg,
                           const struct kt_otlp_split_opts *o, struct kt_buf *out,
                           struct kt_otlp_chunks *chunks, size_t *n_rejected,
                           struct kt_err *reject_err)
{
    size_t dummy_rejected = 0;
    if (n_rejected == NULL)
        n_rejected = &dummy_rejected;
    *n_rejected = 0;
    if ((unsigned)sig >= KT_SIGNAL_COUNT)
        return kt_err_set(reject_err, KT_EINVAL, "unknown signal %d", (int)sig);
    if (msg.n > 0 && msg.p == NULL)
        return kt_err_set(reject_err, KT_EINVAL, "NULL message of %zu bytes", msg.n);
    enum kt_otlp_key_mode mode = o != NULL ? o->key_mode : KT_OTLP_KEY_NONE;
    if (mode == KT_OTLP_KEY_TRACE_ID && sig == KT_SIGNAL_METRICS)
        return kt_err_set(reject_err, KT_EINVAL, "key mode trace_id does not apply to metrics");
    if (mode != KT_OTLP_KEY_NONE && mode != KT_OTLP_KEY_TRACE_ID &&
        mode != KT_OTLP_KEY_RESOURCE_HASH)
        return kt_err_set(reject_err, KT_EINVAL, "unknown key mode %d", (int)mode);
    if (msg.n == 0)
        return 0;

    struct sctx c;
    memset(&c, 0, sizeof(c));
    c.s = s;
    c.base = msg.p;
    c.sig = sig;
    c.max = o != NULL && o->max_chunk_bytes > 0 ? o->max_chunk_bytes : SIZE_MAX;
    c.out = out;
    c.chunks = chunks;
    c.n_rejected = n_rejected;
    c.reject_err = reject_err;

    size_t out_len0 = out->len, chunks_n0 = chunks->n;
    const uint8_t *p = msg.p, *end = msg.p + msg.n;
    int rc;

    if (mode == KT_OTLP_KEY_NONE && msg.n <= c.max) {
        /* The common case: forward the request as it is. */
        uint32_t n = 0;
        struct field rf;
        while ((rc = next_field(&p, end, &rf)) == 1) {
            if (rf.num == 1 && rf.wt == WT_LEN &&
                count_resource_items(sig, rf.val, rf.val + rf.len, &n) < 0)
                return malformed(&c, rf.val, "bad field in a resource entry");
        }
        if (rc < 0)
            return malformed(&c, p, "bad top-level field");
        if (n == 0)
            return 0;
        if (GROW(chunks->v, chunks->n + 1, chunks->cap) != 0 ||
            kt_buf_append(out, msg.p, msg.n) != 0) {
            out->len = out_len0;
            return KT_ENOMEM;
        }
        struct kt_otlp_chunk *ch = &chunks->v[chunks->n++];
        ch->key[0] = '\0';
        ch->off = out_len0;
        ch->len = msg.n;
        ch->n_items = n;
        return 0;
    }

    s->n_ranges = s->n_nodes = s->n_units = s->n_groups = s->n_placed = s->n_lens = 0;
    if (++s->gen == 0) {
        if (s->slots != NULL)
            memset(s->slots, 0, s->cap_slots * sizeof(*s->slots));
        s->gen = 1;
    }

    if (mode == KT_OTLP_KEY_TRACE_ID)
        rc = group_by_trace(&c, p, end);
    else
        rc = group_by_resource(&c, p, end, mode == KT_OTLP_KEY_RESOURCE_HASH);

    for (size_t g = 0; rc == 0 && g < s->n_groups; g++) {
        c.g = &s->groups[g];
        for (int32_t u = s->groups[g].first; rc == 0 && u >= 0; u = s->units[u].next)
            rc = place(&c, &s->units[u]);
        if (rc == 0)
            rc = flush(&c);
    }
    if (rc != 0) {
        out->len = out_len0;
        chunks->n = chunks_n0;
        if (rc == KT_ENOMEM)
            kt_err_set(reject_err, KT_ENOMEM, "out of memory splitting a %s message",
                       kt_signal_name(sig));
    }
    return rc;
}

/* kt_otlp_split keeps one splitter per thread; the key's destructor frees it when the
 * thread ends. */
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static _Thread_local struct kt_otlp_splitter *tls_splitter;
static bool tls_key_ok;

static void tls_free(void *p)
{
    kt_otlp_splitter_free(p);
}

static void tls_init(void)
{
    tls_key_ok = pthread_key_create(&tls_key, tls_free) == 0;
}

int kt_otlp_split(enum kt_signal sig, struct kt_slice msg, const struct kt_otlp_split_opts *o,
                  struct kt_buf *out, struct kt_otlp_chunks *chunks, size_t *n_rejected,
                  struct kt_err *reject_err)
{
    if (tls_splitter == NULL) {
        pthread_once(&tls_once, tls_init);
        struct kt_otlp_splitter *s = kt_otlp_splitter_new();
        if (s == NULL)
            return kt_err_set(reject_err, KT_ENOMEM, "out of memory");
        if (tls_key_ok)
            pthread_setspecific(tls_key, s);
        tls_splitter = s;
    }
    return kt_otlp_splitter_split(tls_splitter, sig, msg, o, out, chunks, n_rejected, reject_err);
}

void kt_otlp_split_thread_cleanup(void)
{
    if (tls_splitter == NULL)
        return;
    if (tls_key_ok)
        pthread_setspecific(tls_key, NULL);
    kt_otlp_splitter_free(tls_splitter);
    tls_splitter = NULL;
}
