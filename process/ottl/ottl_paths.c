/* ottl_paths.c: the paths past names, attributes and values (issue 14), read and set as the
 * Collector's contexts (pkg/ottl/contexts, v0.161.0) do: raw IDs as typed ID values,
 * span.trace_state whole and by W3C list member, flags and dropped counts, span kind names,
 * the log record's times, IDs, flags, event name and body text, a metric's temporality and
 * monotonicity, a data point's times, flags, count, sum, buckets, bounds, scale and zero
 * count, its exemplars and quantile values and an exponential histogram's positive and
 * negative buckets (messages: OTTL_MSG values) with their offsets and counts. ottl_eval.c
 * has checked that the context's object is there. */
#include <inttypes.h>
#include <string.h>

#include "kt_codec.h"
#include "ottl_int.h"

typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpHistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint__Buckets ExpBuckets;

/* An absent ID reads as zeros, as pdata's TraceID() and SpanID() give it. */
static const uint8_t zero_id[16];

static int oom(struct ottl_eval *ev)
{
    return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
}

static void val_int(struct ottl_value *out, int64_t i)
{
    out->t = OTTL_INT;
    out->i = i;
}

static void val_str(struct ottl_value *out, const char *s)
{
    out->t = OTTL_STR;
    out->s.p = s != NULL ? s : "";
    out->s.n = strlen(out->s.p);
}

const char *ottl_value_type_name(const struct ottl_value *v)
{
    if (v->t == OTTL_ID)
        return v->s.n == 16 ? "TraceID" : "SpanID";
    if (v->t == OTTL_MSG)
        return v->msg.kind == OTTL_MSG_EXEMPLARS   ? "ExemplarSlice"
               : v->msg.kind == OTTL_MSG_QUANTILES ? "SummaryDataPointValueAtQuantileSlice"
                                                   : "ExponentialHistogramDataPointBuckets";
    return ottl_vtype_name(v->t);
}

static int want(struct ottl_eval *ev, const struct ottl_path_def *d, const struct ottl_value *v,
                enum ottl_vtype t)
{
    if (v->t == t)
        return 0;
    return kt_err_set(ev->err, KT_EINVAL, "set %s: want a %s, got %s", d->name, ottl_vtype_name(t),
                      ottl_value_type_name(v));
}

static int want_int(struct ottl_eval *ev, const struct ottl_path_def *d, const struct ottl_value *v)
{
    return want(ev, d, v, OTTL_INT);
}

/* ---- IDs ---- */

static void id_value(const ProtobufCBinaryData *b, size_t size, struct ottl_value *out)
{
    out->t = OTTL_ID;
    out->s.p = (const char *)(b->len == size ? b->data : zero_id);
    out->s.n = size;
}

/* Only an ID of the kind: a TraceID into a trace ID (pdata's types; bytes will not do). An
 * all-zero ID is the absent one, which the wire leaves out. */
static int set_id(struct ottl_eval *ev, const struct ottl_path_def *d, const struct ottl_value *v,
                  size_t size, ProtobufCBinaryData *field)
{
    if (v->t != OTTL_ID || v->s.n != size)
        return kt_err_set(ev->err, KT_EINVAL, "set %s: want a %s, got %s", d->name,
                          size == 16 ? "TraceID" : "SpanID", ottl_value_type_name(v));
    if (memcmp(v->s.p, zero_id, size) == 0) {
        field->data = NULL;
        field->len = 0;
        return 0;
    }
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    uint8_t *b = kt_arena_memdup(a, v->s.p, size);
    if (b == NULL)
        return oom(ev);
    field->data = b;
    field->len = size;
    return 0;
}

/* ---- trace_state: a W3C tracestate list, parsed as go.opentelemetry.io/otel/trace does ---- */

#define TS_MAX_MEMBERS 32

struct ts_member {
    const char *k, *v;
    size_t kn, vn;
};

static bool ts_lower_digit(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool ts_key_rest(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!ts_lower_digit(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '*' && s[i] != '/')
            return false;
    return true;
}

/* A simple key (a lowercase letter, then up to max more) or the system part of a
 * multi-tenant one. */
static bool ts_key_part(const char *s, size_t n, size_t max)
{
    return n > 0 && s[0] >= 'a' && s[0] <= 'z' && n - 1 <= max && ts_key_rest(s + 1, n - 1);
}

static bool ts_key_ok(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (at == NULL)
        return ts_key_part(s, n, 255);
    size_t tn = (size_t)(at - s);
    return tn > 0 && ts_lower_digit(s[0]) && tn - 1 <= 240 && ts_key_rest(s + 1, tn - 1) &&
           ts_key_part(at + 1, n - tn - 1, 13);
}

/* 1 to 256 printable ASCII characters but ',' and '=', the last not a space. */
static bool ts_value_ok(const char *s, size_t n)
{
    if (n == 0 || n > 256)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < (i + 1 < n ? 0x20 : 0x21) || c > 0x7e || c == ',' || c == '=')
            return false;
    }
    return true;
}

/* Splits s into its members (views into s); false when it is no valid tracestate: a member
 * without '=', a bad key or value, a key twice, more than 32 members. Empty members are
 * skipped; spaces and tabs before a key and after a value are not part of them. */
static bool ts_parse(const char *s, struct ts_member *m, size_t *n)
{
    *n = 0;
    if (s == NULL)
        return true;
    while (*s != '\0') {
        const char *comma = strchr(s, ',');
        size_t len = comma != NULL ? (size_t)(comma - s) : strlen(s);
        const char *next = comma != NULL ? comma + 1 : s + len;
        if (len == 0) {
            s = next;
            continue;
        }
        const char *eq = memchr(s, '=', len);
        if (eq == NULL)
            return false;
        const char *k = s, *v = eq + 1;
        size_t kn = (size_t)(eq - s), vn = len - kn - 1;
        while (kn > 0 && (*k == ' ' || *k == '\t')) {
            k++;
            kn--;
        }
        while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
            vn--;
        if (!ts_key_ok(k, kn) || !ts_value_ok(v, vn))
            return false;
        for (size_t i = 0; i < *n; i++)
            if (m[i].kn == kn && memcmp(m[i].k, k, kn) == 0)
                return false;
        if (*n == TS_MAX_MEMBERS)
            return false;
        m[(*n)++] = (struct ts_member){k, v, kn, vn};
        s = next;
    }
    return true;
}

/* trace_state["key"]: the member's value, "" when absent, nil when the list is invalid. */
static void ts_get(const char *ts, const char *key, size_t keylen, struct ottl_value *out)
{
    struct ts_member m[TS_MAX_MEMBERS];
    size_t n;
    if (!ts_parse(ts, m, &n))
        return;
    out->t = OTTL_STR;
    out->s.p = "";
    out->s.n = 0;
    for (size_t i = 0; i < n; i++) {
        if (m[i].kn == keylen && memcmp(m[i].k, key, keylen) == 0) {
            out->s.p = m[i].v;
            out->s.n = m[i].vn;
        }
    }
}

/* Sets member key to v as the W3C's rule for a changed member says (it moves to the front;
 * a 33rd member pushes the last out). An invalid list, key or value changes nothing and is
 * no error, as in the Collector. */
static int ts_set(struct ottl_eval *ev, const struct ottl_path_def *d, const char *key,
                  size_t keylen, const struct ottl_value *v, char **field)
{
    int rc = want(ev, d, v, OTTL_STR);
    if (rc != 0)
        return rc;
    struct ts_member m[TS_MAX_MEMBERS];
    size_t n;
    if (!ts_parse(*field, m, &n) || !ts_key_ok(key, keylen) || !ts_value_ok(v->s.p, v->s.n))
        return 0;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    struct ottl_abuf b = {a, NULL, 0, 0, false};
    ottl_abuf_put(&b, key, keylen);
    ottl_abuf_put(&b, "=", 1);
    ottl_abuf_put(&b, v->s.p, v->s.n);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found |= m[i].kn == keylen && memcmp(m[i].k, key, keylen) == 0;
    size_t kept = 1;
    for (size_t i = 0; i < n; i++) {
        if (m[i].kn == keylen && memcmp(m[i].k, key, keylen) == 0)
            continue;
        if (!found && kept == TS_MAX_MEMBERS)
            break;
        ottl_abuf_put(&b, ",", 1);
        ottl_abuf_put(&b, m[i].k, m[i].kn);
        ottl_abuf_put(&b, "=", 1);
        ottl_abuf_put(&b, m[i].v, m[i].vn);
        kept++;
    }
    if (b.oom)
        return oom(ev);
    *field = b.p;
    return 0;
}

/* ---- span kind names ---- */

static const char *const kind_names[] = {"Unspecified", "Internal", "Server",
                                         "Client",      "Producer", "Consumer"};
static const char *const kind_enums[] = {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL",
                                         "SPAN_KIND_SERVER",      "SPAN_KIND_CLIENT",
                                         "SPAN_KIND_PRODUCER",    "SPAN_KIND_CONSUMER"};
#define N_KINDS (sizeof(kind_names) / sizeof(kind_names[0]))

/* The name of kind in names; "" for a kind no name has (pdata's String()). */
static const char *kind_name(const char *const *names, int kind)
{
    return kind >= 0 && (size_t)kind < N_KINDS ? names[kind] : "";
}

static int set_kind_name(struct ottl_eval *ev, const struct ottl_path_def *d,
                         const char *const *names, const struct ottl_value *v)
{
    int rc = want(ev, d, v, OTTL_STR);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < N_KINDS; i++) {
        if (strlen(names[i]) == v->s.n && memcmp(names[i], v->s.p, v->s.n) == 0) {
            ev->t->span->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)i;
            return 0;
        }
    }
    return kt_err_set(ev->err, KT_EINVAL, "set %s: unknown span kind '%.*s'", d->name, (int)v->s.n,
                      v->s.p);
}

/* ---- log.body.string ---- */

/* The body as text, as pdata's AsString gives it: a string as it is, an empty body as "",
 * numbers and bools in Go's form, bytes in base64, maps and lists as Go's JSON. */
static int body_string(struct ottl_eval *ev, struct ottl_value *out)
{
    const ottl_any *body = ev->t->log->body;
    struct ottl_value v;
    ottl_value_from_any(body, &v);
    if (v.t == OTTL_STR || v.t == OTTL_NIL) {
        *out = v;
        if (v.t == OTTL_NIL)
            val_str(out, "");
        return 0;
    }
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    struct ottl_abuf b = {a, NULL, 0, 0, false};
    if (v.t == OTTL_DOUBLE) {
        char tmp[40];
        ottl_go_float(v.d, tmp, sizeof(tmp));
        ottl_abuf_put(&b, tmp, strlen(tmp));
    } else if (v.t == OTTL_BYTES) {
        char *s = kt_arena_alloc(a, kt_base64_len(v.s.n) + 1);
        if (s == NULL)
            return oom(ev);
        kt_base64_encode((const uint8_t *)v.s.p, v.s.n, s);
        ottl_abuf_put(&b, s, strlen(s));
    } else {
        ottl_json_value(&b, &v, false);
    }
    if (b.oom)
        return oom(ev);
    out->t = OTTL_STR;
    out->s.p = b.p != NULL ? b.p : "";
    out->s.n = b.n;
    return 0;
}

static int set_body_string(struct ottl_eval *ev, const struct ottl_path_def *d,
                           const struct ottl_value *v)
{
    int rc = want(ev, d, v, OTTL_STR);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    ottl_any *b = kt_arena_alloc(a, sizeof(*b));
    char *s = kt_arena_strndup(a, v->s.p, v->s.n);
    if (b == NULL || s == NULL)
        return oom(ev);
    ottl_any init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    *b = init;
    b->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    b->string_value = s;
    ev->t->log->body = b;
    return 0;
}

/* ---- metrics and data points ---- */

/* Where the fields every data point type has live. */
struct dp_common {
    uint64_t *start, *time;
    uint32_t *flags;
};

static bool dp_is(const ProtobufCMessage *dp, const ProtobufCMessageDescriptor *d)
{
    return dp != NULL && dp->descriptor == d;
}

#define DP_NUMBER &opentelemetry__proto__metrics__v1__number_data_point__descriptor
#define DP_HISTOGRAM &opentelemetry__proto__metrics__v1__histogram_data_point__descriptor
#define DP_EXP &opentelemetry__proto__metrics__v1__exponential_histogram_data_point__descriptor
#define DP_SUMMARY &opentelemetry__proto__metrics__v1__summary_data_point__descriptor

static bool dp_common(ProtobufCMessage *dp, struct dp_common *c)
{
#define DP_FIELDS(T)                                                                               \
    do {                                                                                           \
        T *p = (T *)dp;                                                                            \
        *c = (struct dp_common){&p->start_time_unix_nano, &p->time_unix_nano, &p->flags};          \
        return true;                                                                               \
    } while (0)
    if (dp_is(dp, DP_NUMBER))
        DP_FIELDS(NumberDataPoint);
    if (dp_is(dp, DP_HISTOGRAM))
        DP_FIELDS(HistogramDataPoint);
    if (dp_is(dp, DP_EXP))
        DP_FIELDS(ExpHistogramDataPoint);
    if (dp_is(dp, DP_SUMMARY))
        DP_FIELDS(SummaryDataPoint);
#undef DP_FIELDS
    return false;
}

/* count and sum: of histogram, exponential histogram and summary points only. */
static bool dp_count_sum(ProtobufCMessage *dp, uint64_t **count, double **sum)
{
    if (dp_is(dp, DP_HISTOGRAM)) {
        HistogramDataPoint *p = (HistogramDataPoint *)dp;
        *count = &p->count;
        *sum = &p->sum;
        return true;
    }
    if (dp_is(dp, DP_EXP)) {
        ExpHistogramDataPoint *p = (ExpHistogramDataPoint *)dp;
        *count = &p->count;
        *sum = &p->sum;
        return true;
    }
    if (dp_is(dp, DP_SUMMARY)) {
        SummaryDataPoint *p = (SummaryDataPoint *)dp;
        *count = &p->count;
        *sum = &p->sum;
        return true;
    }
    return false;
}

/* A histogram's or exponential histogram's optional sum is present once set. */
static void dp_mark_sum(ProtobufCMessage *dp)
{
    if (dp_is(dp, DP_HISTOGRAM))
        ((HistogramDataPoint *)dp)->_sum_case =
            OPENTELEMETRY__PROTO__METRICS__V1__HISTOGRAM_DATA_POINT___SUM_SUM;
    else if (dp_is(dp, DP_EXP))
        ((ExpHistogramDataPoint *)dp)->_sum_case =
            OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT___SUM_SUM;
}

static int unsupported_dp(struct ottl_eval *ev, const struct ottl_path_def *d)
{
    return kt_err_set(ev->err, KT_EINVAL, "set %s: not on this type of data point", d->name);
}

/* A histogram's bucket_counts (ints) or explicit_bounds (doubles) as a list, built in the
 * arena: only statements that name these paths pay for it. */
static int dp_list(struct ottl_eval *ev, const uint64_t *u, const double *dv, size_t n,
                   struct ottl_value *out)
{
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    Opentelemetry__Proto__Common__V1__ArrayValue *arr = kt_arena_alloc(a, sizeof(*arr));
    ottl_any **items = kt_arena_alloc(a, (n ? n : 1) * sizeof(*items));
    ottl_any *vals = kt_arena_alloc(a, (n ? n : 1) * sizeof(*vals));
    if (arr == NULL || items == NULL || vals == NULL)
        return oom(ev);
    Opentelemetry__Proto__Common__V1__ArrayValue ainit =
        OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    *arr = ainit;
    for (size_t i = 0; i < n; i++) {
        ottl_any init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        vals[i] = init;
        if (u != NULL) {
            vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
            vals[i].int_value = (int64_t)u[i];
        } else {
            vals[i].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
            vals[i].double_value = dv[i];
        }
        items[i] = &vals[i];
    }
    arr->values = items;
    arr->n_values = n;
    out->t = OTTL_ARRAY;
    out->arr = arr;
    return 0;
}

/* One item of a list value being set into bucket_counts or explicit_bounds. */
static int list_item(struct ottl_eval *ev, const struct ottl_value *v, size_t i,
                     struct ottl_value *out)
{
    if (v->t == OTTL_LIST)
        return ottl_eval_value(ev, v->list->list.items[i], out);
    ottl_value_from_any(v->arr->values[i], out);
    return 0;
}

/* bucket_counts from a list of ints, explicit_bounds from a list of doubles (an int is no
 * double there), nil empties either: as the Collector's typed slice setters take them. */
static int set_dp_list(struct ottl_eval *ev, const struct ottl_path_def *d,
                       const struct ottl_value *v, bool ints, void **field, size_t *n_field)
{
    if (v->t == OTTL_NIL) {
        *n_field = 0;
        return 0;
    }
    if ((v->t != OTTL_LIST || v->list->kind != OTTL_N_LIST) && v->t != OTTL_ARRAY)
        return kt_err_set(ev->err, KT_EINVAL, "set %s: want a list, got %s", d->name,
                          ottl_value_type_name(v));
    size_t n = v->t == OTTL_LIST ? v->list->list.n : v->arr->n_values;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    void *dst = kt_arena_alloc(a, (n ? n : 1) * 8);
    if (dst == NULL)
        return oom(ev);
    for (size_t i = 0; i < n; i++) {
        struct ottl_value it;
        int rc = list_item(ev, v, i, &it);
        if (rc != 0)
            return rc;
        if (ints && it.t == OTTL_INT) {
            ((uint64_t *)dst)[i] = (uint64_t)it.i;
        } else if (!ints && it.t == OTTL_DOUBLE) {
            ((double *)dst)[i] = it.d;
        } else {
            return kt_err_set(ev->err, KT_EINVAL, "set %s: item %zu is a %s, not a%s", d->name, i,
                              ottl_value_type_name(&it), ints ? "n int" : " double");
        }
    }
    *field = dst;
    *n_field = n;
    return 0;
}

static int agg_temporality(Opentelemetry__Proto__Metrics__V1__Metric *m,
                           Opentelemetry__Proto__Metrics__V1__AggregationTemporality **out)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        *out = m->sum != NULL ? &m->sum->aggregation_temporality : NULL;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        *out = m->histogram != NULL ? &m->histogram->aggregation_temporality : NULL;
        break;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        *out = m->exponential_histogram != NULL ? &m->exponential_histogram->aggregation_temporality
                                                : NULL;
        break;
    default: *out = NULL; break;
    }
    return *out != NULL;
}

/* ---- exemplars, quantile_values, positive and negative ---- */

/* The exemplars of a number, histogram or exponential histogram point (summaries have
 * none): false for a summary. */
static bool dp_exemplars(ProtobufCMessage *dp, struct ottl_msg *m)
{
#define DP_EXEMPLARS(T)                                                                            \
    do {                                                                                           \
        T *p = (T *)dp;                                                                            \
        *m = (struct ottl_msg){OTTL_MSG_EXEMPLARS, &p->exemplars, &p->n_exemplars};                \
        return true;                                                                               \
    } while (0)
    if (dp_is(dp, DP_NUMBER))
        DP_EXEMPLARS(NumberDataPoint);
    if (dp_is(dp, DP_HISTOGRAM))
        DP_EXEMPLARS(HistogramDataPoint);
    if (dp_is(dp, DP_EXP))
        DP_EXEMPLARS(ExpHistogramDataPoint);
#undef DP_EXEMPLARS
    return false;
}

/* The message field path id names, where the data point has it: false when it has not
 * (exemplars of a summary, quantile_values of anything else, buckets of a non-exponential
 * histogram). Offsets and bucket counts name their buckets. */
static bool dp_msg(ProtobufCMessage *dp, enum ottl_path_id id, struct ottl_msg *m)
{
    switch (id) {
    case OTTL_P_DATAPOINT_EXEMPLARS: return dp_exemplars(dp, m);
    case OTTL_P_DATAPOINT_QUANTILE_VALUES: {
        if (!dp_is(dp, DP_SUMMARY))
            return false;
        SummaryDataPoint *p = (SummaryDataPoint *)dp;
        *m = (struct ottl_msg){OTTL_MSG_QUANTILES, &p->quantile_values, &p->n_quantile_values};
        return true;
    }
    default: {
        if (!dp_is(dp, DP_EXP))
            return false;
        ExpHistogramDataPoint *p = (ExpHistogramDataPoint *)dp;
        bool pos = id == OTTL_P_DATAPOINT_POSITIVE || id == OTTL_P_DATAPOINT_POSITIVE_OFFSET ||
                   id == OTTL_P_DATAPOINT_POSITIVE_BUCKET_COUNTS;
        *m = (struct ottl_msg){OTTL_MSG_BUCKETS, pos ? &p->positive : &p->negative, NULL};
        return true;
    }
    }
}

/* The buckets in field into *out, made (empty, in a) when the point has none yet. */
static int buckets_of(struct ottl_eval *ev, struct kt_arena *a, ExpBuckets **field,
                      ExpBuckets **out)
{
    if (*field == NULL) {
        ExpBuckets *b = kt_arena_alloc(a, sizeof(*b));
        if (b == NULL)
            return oom(ev);
        ExpBuckets init =
            OPENTELEMETRY__PROTO__METRICS__V1__EXPONENTIAL_HISTOGRAM_DATA_POINT__BUCKETS__INIT;
        *b = init;
        *field = b;
    }
    *out = *field;
    return 0;
}

/* set of a message path, as the Collector's setters: only a value of the field's own type,
 * which is nothing but a field of this data point; exemplars and quantile_values also take
 * nil, which empties them; buckets do not. */
static int set_dp_msg(struct ottl_eval *ev, const struct ottl_path_def *d,
                      const struct ottl_value *v)
{
    struct ottl_msg m;
    if (!dp_msg(ev->t->datapoint, d->id, &m))
        return unsupported_dp(ev, d);
    if (v->t == OTTL_NIL && m.kind != OTTL_MSG_BUCKETS) {
        *m.n = 0;
        return 0;
    }
    if (v->t != OTTL_MSG || v->msg.kind != m.kind) {
        struct ottl_value field_type = {.t = OTTL_MSG, .msg = m};
        return kt_err_set(ev->err, KT_EINVAL, "set %s: want a%s %s, got %s", d->name,
                          m.kind == OTTL_MSG_QUANTILES ? "" : "n",
                          ottl_value_type_name(&field_type), ottl_value_type_name(v));
    }
    /* A data point has one field of each slice type, so a slice value is this very field:
     * copying it onto itself changes nothing. Buckets come from positive or negative. */
    if (v->msg.field == m.field)
        return 0;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    const ExpBuckets *src = *(ExpBuckets **)v->msg.field;
    ExpBuckets *dst;
    int rc = buckets_of(ev, a, m.field, &dst);
    if (rc != 0)
        return rc;
    size_t n = src != NULL ? src->n_bucket_counts : 0;
    uint64_t *counts = NULL;
    if (n > 0 && (counts = kt_arena_memdup(a, src->bucket_counts, n * sizeof(*counts))) == NULL)
        return oom(ev);
    dst->offset = src != NULL ? src->offset : 0;
    dst->bucket_counts = counts;
    dst->n_bucket_counts = n;
    return 0;
}

/* ---- get and set ---- */

int ottl_path_get_more(struct ottl_eval *ev, const struct ottl_node *n, struct ottl_value *out)
{
    const struct ottl_path_def *d = n->path.def;
    const struct ottl_tctx *t = ev->t;
    Opentelemetry__Proto__Trace__V1__Span *span = t->span;
    Opentelemetry__Proto__Logs__V1__LogRecord *log = t->log;
    struct dp_common dc;
    uint64_t *count;
    double *sum;
    Opentelemetry__Proto__Metrics__V1__AggregationTemporality *temp;
    switch (d->id) {
    case OTTL_P_RESOURCE_DROPPED:
        val_int(out, t->resource != NULL ? t->resource->dropped_attributes_count : 0);
        return 0;
    case OTTL_P_SCOPE_DROPPED: val_int(out, t->scope->dropped_attributes_count); return 0;
    case OTTL_P_RESOURCE_SCHEMA_URL:
        val_str(out, t->resource_schema_url != NULL ? *t->resource_schema_url : NULL);
        return 0;
    case OTTL_P_SCOPE_SCHEMA_URL:
        val_str(out, t->scope_schema_url != NULL ? *t->scope_schema_url : NULL);
        return 0;
    case OTTL_P_SPAN_TRACE_ID_RAW: id_value(&span->trace_id, 16, out); return 0;
    case OTTL_P_SPAN_SPAN_ID_RAW: id_value(&span->span_id, 8, out); return 0;
    case OTTL_P_SPAN_PARENT_ID_RAW: id_value(&span->parent_span_id, 8, out); return 0;
    case OTTL_P_SPAN_TRACE_STATE:
        if (n->path.key == NULL)
            val_str(out, span->trace_state);
        else
            ts_get(span->trace_state, n->path.key, n->path.keylen, out);
        return 0;
    case OTTL_P_SPAN_FLAGS: val_int(out, span->flags); return 0;
    case OTTL_P_SPAN_DROPPED_ATTRS: val_int(out, span->dropped_attributes_count); return 0;
    case OTTL_P_SPAN_DROPPED_EVENTS: val_int(out, span->dropped_events_count); return 0;
    case OTTL_P_SPAN_DROPPED_LINKS: val_int(out, span->dropped_links_count); return 0;
    case OTTL_P_SPAN_KIND_STRING: val_str(out, kind_name(kind_names, span->kind)); return 0;
    case OTTL_P_SPAN_KIND_DEPRECATED_STRING:
        val_str(out, kind_name(kind_enums, span->kind));
        return 0;
    case OTTL_P_SPANEVENT_DROPPED: val_int(out, t->spanevent->dropped_attributes_count); return 0;
    case OTTL_P_METRIC_AGG_TEMPORALITY:
        if (agg_temporality(t->metric, &temp))
            val_int(out, *temp);
        return 0;
    case OTTL_P_METRIC_IS_MONOTONIC:
        if (t->metric->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM &&
            t->metric->sum != NULL) {
            out->t = OTTL_BOOL;
            out->b = t->metric->sum->is_monotonic != 0;
        }
        return 0;
    case OTTL_P_DATAPOINT_START:
    case OTTL_P_DATAPOINT_TIME:
    case OTTL_P_DATAPOINT_FLAGS:
        if (dp_common(t->datapoint, &dc))
            val_int(out, d->id == OTTL_P_DATAPOINT_START  ? (int64_t)*dc.start
                         : d->id == OTTL_P_DATAPOINT_TIME ? (int64_t)*dc.time
                                                          : (int64_t)*dc.flags);
        return 0;
    case OTTL_P_DATAPOINT_COUNT:
        if (dp_count_sum(t->datapoint, &count, &sum))
            val_int(out, (int64_t)*count);
        return 0;
    case OTTL_P_DATAPOINT_SUM:
        if (dp_count_sum(t->datapoint, &count, &sum)) {
            out->t = OTTL_DOUBLE;
            out->d = *sum;
        }
        return 0;
    case OTTL_P_DATAPOINT_BUCKET_COUNTS:
    case OTTL_P_DATAPOINT_EXPLICIT_BOUNDS: {
        if (!dp_is(t->datapoint, DP_HISTOGRAM))
            return 0;
        HistogramDataPoint *p = (HistogramDataPoint *)t->datapoint;
        if (d->id == OTTL_P_DATAPOINT_BUCKET_COUNTS)
            return dp_list(ev, p->bucket_counts, NULL, p->n_bucket_counts, out);
        return dp_list(ev, NULL, p->explicit_bounds, p->n_explicit_bounds, out);
    }
    case OTTL_P_DATAPOINT_SCALE:
    case OTTL_P_DATAPOINT_ZERO_COUNT: {
        if (!dp_is(t->datapoint, DP_EXP))
            return 0;
        ExpHistogramDataPoint *p = (ExpHistogramDataPoint *)t->datapoint;
        val_int(out, d->id == OTTL_P_DATAPOINT_SCALE ? (int64_t)p->scale : (int64_t)p->zero_count);
        return 0;
    }
    case OTTL_P_DATAPOINT_EXEMPLARS:
    case OTTL_P_DATAPOINT_QUANTILE_VALUES:
    case OTTL_P_DATAPOINT_POSITIVE:
    case OTTL_P_DATAPOINT_NEGATIVE:
        if (dp_msg(t->datapoint, d->id, &out->msg))
            out->t = OTTL_MSG;
        return 0;
    case OTTL_P_DATAPOINT_POSITIVE_OFFSET:
    case OTTL_P_DATAPOINT_NEGATIVE_OFFSET:
    case OTTL_P_DATAPOINT_POSITIVE_BUCKET_COUNTS:
    case OTTL_P_DATAPOINT_NEGATIVE_BUCKET_COUNTS: {
        struct ottl_msg m;
        if (!dp_msg(t->datapoint, d->id, &m))
            return 0;
        const ExpBuckets *b = *(ExpBuckets **)m.field;
        if (d->id == OTTL_P_DATAPOINT_POSITIVE_OFFSET ||
            d->id == OTTL_P_DATAPOINT_NEGATIVE_OFFSET) {
            val_int(out, b != NULL ? b->offset : 0);
            return 0;
        }
        return dp_list(ev, b != NULL ? b->bucket_counts : NULL, NULL,
                       b != NULL ? b->n_bucket_counts : 0, out);
    }
    case OTTL_P_LOG_TIME: val_int(out, (int64_t)log->time_unix_nano); return 0;
    case OTTL_P_LOG_OBSERVED_TIME: val_int(out, (int64_t)log->observed_time_unix_nano); return 0;
    case OTTL_P_LOG_TRACE_ID_RAW: id_value(&log->trace_id, 16, out); return 0;
    case OTTL_P_LOG_SPAN_ID_RAW: id_value(&log->span_id, 8, out); return 0;
    case OTTL_P_LOG_TRACE_ID: return ottl_id_text(ev, &log->trace_id, 16, out);
    case OTTL_P_LOG_SPAN_ID: return ottl_id_text(ev, &log->span_id, 8, out);
    case OTTL_P_LOG_FLAGS: val_int(out, log->flags); return 0;
    case OTTL_P_LOG_DROPPED: val_int(out, log->dropped_attributes_count); return 0;
    case OTTL_P_LOG_EVENT_NAME: val_str(out, log->event_name); return 0;
    case OTTL_P_LOG_BODY_STRING: return body_string(ev, out);
    default: return kt_err_set(ev->err, KT_EINVAL, "%s cannot be read", d->name);
    }
}

int ottl_path_set_more(struct ottl_eval *ev, const struct ottl_node *n, const struct ottl_value *v)
{
    const struct ottl_path_def *d = n->path.def;
    const struct ottl_tctx *t = ev->t;
    Opentelemetry__Proto__Trace__V1__Span *span = t->span;
    Opentelemetry__Proto__Logs__V1__LogRecord *log = t->log;
    struct dp_common dc;
    uint64_t *count;
    double *sum;
    Opentelemetry__Proto__Metrics__V1__AggregationTemporality *temp;
    int rc;
    /* The Collector's setters of the uint32 counts and flags keep the low 32 bits of any
     * int (span.flags aside, which checks the range). */
    uint32_t *u32 = NULL;
    switch (d->id) {
    case OTTL_P_RESOURCE_DROPPED:
        if (t->resource == NULL)
            return kt_err_set(ev->err, KT_EINVAL, "%s: no resource in this context", d->name);
        u32 = &t->resource->dropped_attributes_count;
        break;
    case OTTL_P_SCOPE_DROPPED: u32 = &t->scope->dropped_attributes_count; break;
    case OTTL_P_RESOURCE_SCHEMA_URL:
    case OTTL_P_SCOPE_SCHEMA_URL: {
        char **url =
            d->id == OTTL_P_RESOURCE_SCHEMA_URL ? t->resource_schema_url : t->scope_schema_url;
        if (url == NULL)
            return kt_err_set(ev->err, KT_EINVAL, "%s: no container to hold it here", d->name);
        return ottl_set_str_field(ev, d, v, url);
    }
    case OTTL_P_SPAN_DROPPED_ATTRS: u32 = &span->dropped_attributes_count; break;
    case OTTL_P_SPAN_DROPPED_EVENTS: u32 = &span->dropped_events_count; break;
    case OTTL_P_SPAN_DROPPED_LINKS: u32 = &span->dropped_links_count; break;
    case OTTL_P_SPANEVENT_DROPPED: u32 = &t->spanevent->dropped_attributes_count; break;
    case OTTL_P_LOG_FLAGS: u32 = &log->flags; break;
    case OTTL_P_LOG_DROPPED: u32 = &log->dropped_attributes_count; break;
    case OTTL_P_SPAN_TRACE_ID_RAW: return set_id(ev, d, v, 16, &span->trace_id);
    case OTTL_P_SPAN_SPAN_ID_RAW: return set_id(ev, d, v, 8, &span->span_id);
    case OTTL_P_SPAN_PARENT_ID_RAW: return set_id(ev, d, v, 8, &span->parent_span_id);
    case OTTL_P_SPAN_TRACE_STATE:
        if (n->path.key == NULL)
            return ottl_set_str_field(ev, d, v, &span->trace_state);
        return ts_set(ev, d, n->path.key, n->path.keylen, v, &span->trace_state);
    case OTTL_P_SPAN_FLAGS:
        if ((rc = want_int(ev, d, v)) != 0)
            return rc;
        if (v->i < 0 || v->i > UINT32_MAX)
            return kt_err_set(ev->err, KT_EINVAL,
                              "set span.flags: value %" PRId64 " is out of range for uint32", v->i);
        span->flags = (uint32_t)v->i;
        return 0;
    case OTTL_P_SPAN_KIND_STRING: return set_kind_name(ev, d, kind_names, v);
    case OTTL_P_SPAN_KIND_DEPRECATED_STRING: return set_kind_name(ev, d, kind_enums, v);
    case OTTL_P_METRIC_AGG_TEMPORALITY:
        if ((rc = want_int(ev, d, v)) != 0)
            return rc;
        /* As pdata stores it: an int32, whatever the enum knows; other types ignore it. */
        if (agg_temporality(t->metric, &temp))
            *temp = (Opentelemetry__Proto__Metrics__V1__AggregationTemporality)(int32_t)v->i;
        return 0;
    case OTTL_P_METRIC_IS_MONOTONIC:
        if ((rc = want(ev, d, v, OTTL_BOOL)) != 0)
            return rc;
        if (t->metric->data_case == OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM &&
            t->metric->sum != NULL)
            t->metric->sum->is_monotonic = v->b;
        return 0;
    case OTTL_P_DATAPOINT_START:
    case OTTL_P_DATAPOINT_TIME:
    case OTTL_P_DATAPOINT_FLAGS:
        if ((rc = want_int(ev, d, v)) != 0)
            return rc;
        if (!dp_common(t->datapoint, &dc))
            return unsupported_dp(ev, d);
        if (d->id == OTTL_P_DATAPOINT_START)
            *dc.start = (uint64_t)v->i;
        else if (d->id == OTTL_P_DATAPOINT_TIME)
            *dc.time = (uint64_t)v->i;
        else
            *dc.flags = (uint32_t)v->i;
        return 0;
    case OTTL_P_DATAPOINT_COUNT:
        if ((rc = want_int(ev, d, v)) != 0)
            return rc;
        if (!dp_count_sum(t->datapoint, &count, &sum))
            return unsupported_dp(ev, d);
        *count = (uint64_t)v->i;
        return 0;
    case OTTL_P_DATAPOINT_SUM:
        if ((rc = want(ev, d, v, OTTL_DOUBLE)) != 0)
            return rc;
        if (!dp_count_sum(t->datapoint, &count, &sum))
            return unsupported_dp(ev, d);
        *sum = v->d;
        dp_mark_sum(t->datapoint);
        return 0;
    case OTTL_P_DATAPOINT_BUCKET_COUNTS:
    case OTTL_P_DATAPOINT_EXPLICIT_BOUNDS: {
        if (!dp_is(t->datapoint, DP_HISTOGRAM))
            return unsupported_dp(ev, d);
        HistogramDataPoint *p = (HistogramDataPoint *)t->datapoint;
        if (d->id == OTTL_P_DATAPOINT_BUCKET_COUNTS)
            return set_dp_list(ev, d, v, true, (void **)&p->bucket_counts, &p->n_bucket_counts);
        return set_dp_list(ev, d, v, false, (void **)&p->explicit_bounds, &p->n_explicit_bounds);
    }
    case OTTL_P_DATAPOINT_SCALE:
    case OTTL_P_DATAPOINT_ZERO_COUNT: {
        if ((rc = want_int(ev, d, v)) != 0)
            return rc;
        if (!dp_is(t->datapoint, DP_EXP))
            return unsupported_dp(ev, d);
        ExpHistogramDataPoint *p = (ExpHistogramDataPoint *)t->datapoint;
        if (d->id == OTTL_P_DATAPOINT_SCALE)
            p->scale = (int32_t)v->i;
        else
            p->zero_count = (uint64_t)v->i;
        return 0;
    }
    case OTTL_P_DATAPOINT_EXEMPLARS:
    case OTTL_P_DATAPOINT_QUANTILE_VALUES:
    case OTTL_P_DATAPOINT_POSITIVE:
    case OTTL_P_DATAPOINT_NEGATIVE: return set_dp_msg(ev, d, v);
    case OTTL_P_DATAPOINT_POSITIVE_OFFSET:
    case OTTL_P_DATAPOINT_NEGATIVE_OFFSET:
    case OTTL_P_DATAPOINT_POSITIVE_BUCKET_COUNTS:
    case OTTL_P_DATAPOINT_NEGATIVE_BUCKET_COUNTS: {
        struct ottl_msg m;
        bool offset =
            d->id == OTTL_P_DATAPOINT_POSITIVE_OFFSET || d->id == OTTL_P_DATAPOINT_NEGATIVE_OFFSET;
        if (offset && (rc = want_int(ev, d, v)) != 0)
            return rc;
        if (!dp_msg(t->datapoint, d->id, &m))
            return unsupported_dp(ev, d);
        struct kt_arena *a = ottl_eval_arena(ev);
        ExpBuckets *b;
        if (a == NULL)
            return KT_EINVAL;
        if ((rc = buckets_of(ev, a, m.field, &b)) != 0)
            return rc;
        if (!offset)
            return set_dp_list(ev, d, v, true, (void **)&b->bucket_counts, &b->n_bucket_counts);
        b->offset = (int32_t)v->i; /* pdata's SetOffset(int32(...)) */
        return 0;
    }
    case OTTL_P_LOG_TIME:
    case OTTL_P_LOG_OBSERVED_TIME:
        if ((rc = want_int(ev, d, v)) != 0)
            return rc;
        if (d->id == OTTL_P_LOG_TIME)
            log->time_unix_nano = (uint64_t)v->i;
        else
            log->observed_time_unix_nano = (uint64_t)v->i;
        return 0;
    case OTTL_P_LOG_TRACE_ID_RAW: return set_id(ev, d, v, 16, &log->trace_id);
    case OTTL_P_LOG_SPAN_ID_RAW: return set_id(ev, d, v, 8, &log->span_id);
    case OTTL_P_LOG_TRACE_ID: return ottl_set_id_hex(ev, d, v, 16, false, &log->trace_id);
    case OTTL_P_LOG_SPAN_ID: return ottl_set_id_hex(ev, d, v, 8, false, &log->span_id);
    case OTTL_P_LOG_EVENT_NAME: return ottl_set_str_field(ev, d, v, &log->event_name);
    case OTTL_P_LOG_BODY_STRING: return set_body_string(ev, d, v);
    default: return kt_err_set(ev->err, KT_EINVAL, "%s cannot be set", d->name);
    }
    if ((rc = want_int(ev, d, v)) != 0)
        return rc;
    *u32 = (uint32_t)v->i;
    return 0;
}
