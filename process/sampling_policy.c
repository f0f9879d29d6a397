#include "sampling_policy.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <math.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kt_arena.h"
#include "kt_log.h"
#include "kt_prom.h"
#include "ottl/ottl.h"
#include "trace_decode.h"

typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

#define SECTION "tail_sampling.policy."

enum sp_type {
    SP_ALWAYS_SAMPLE,
    SP_LATENCY,
    SP_STATUS_CODE,
    SP_PROBABILISTIC,
    SP_STRING_ATTRIBUTE,
    SP_NUMERIC_ATTRIBUTE,
    SP_BOOLEAN_ATTRIBUTE,
    SP_SPAN_COUNT,
    SP_RATE_LIMITING,
    SP_OTTL_CONDITION,
    SP_AND,
    SP_DROP,
    SP_NOT,
    SP_TRACE_FLAGS,
    SP_TRACE_STATE,
    SP_BYTES_LIMITING,
    SP_COMPOSITE,
};

struct sp_type_spec {
    const char *name;
    enum sp_type type;
    const char *const *keys; /* besides `type`; NULL-terminated */
};

static const char *const keys_none[] = {NULL};
static const char *const keys_latency[] = {"threshold_ms", "upper_threshold_ms", NULL};
static const char *const keys_status[] = {"status_codes", NULL};
static const char *const keys_prob[] = {"sampling_percentage", "hash_salt", NULL};
static const char *const keys_string[] = {"key", "values", "enabled_regex_matching", "invert_match",
                                          NULL};
static const char *const keys_numeric[] = {"key", "min_value", "max_value", "invert_match", NULL};
static const char *const keys_boolean[] = {"key", "value", "invert_match", NULL};
static const char *const keys_count[] = {"min_spans", "max_spans", NULL};
static const char *const keys_rate[] = {"spans_per_second", NULL};
static const char *const keys_ottl[] = {"span", "spanevent", "error_mode", NULL};
static const char *const keys_and[] = {"and_sub_policy", NULL};
static const char *const keys_drop[] = {"drop_sub_policy", NULL};
static const char *const keys_not[] = {"not_sub_policy", NULL};
static const char *const keys_tstate[] = {"key", "values", NULL};
static const char *const keys_bytes[] = {"bytes_per_second", "burst_capacity", NULL};
static const char *const keys_composite[] = {"composite_sub_policy", "max_total_spans_per_second",
                                             "rate_allocation", "policy_order", NULL};

static const struct sp_type_spec type_specs[] = {
    /* in enum sp_type order */
    {"always_sample", SP_ALWAYS_SAMPLE, keys_none},
    {"latency", SP_LATENCY, keys_latency},
    {"status_code", SP_STATUS_CODE, keys_status},
    {"probabilistic", SP_PROBABILISTIC, keys_prob},
    {"string_attribute", SP_STRING_ATTRIBUTE, keys_string},
    {"numeric_attribute", SP_NUMERIC_ATTRIBUTE, keys_numeric},
    {"boolean_attribute", SP_BOOLEAN_ATTRIBUTE, keys_boolean},
    {"span_count", SP_SPAN_COUNT, keys_count},
    {"rate_limiting", SP_RATE_LIMITING, keys_rate},
    {"ottl_condition", SP_OTTL_CONDITION, keys_ottl},
    {"and", SP_AND, keys_and},
    {"drop", SP_DROP, keys_drop},
    {"not", SP_NOT, keys_not},
    {"trace_flags", SP_TRACE_FLAGS, keys_none},
    {"trace_state", SP_TRACE_STATE, keys_tstate},
    {"bytes_limiting", SP_BYTES_LIMITING, keys_bytes},
    {"composite", SP_COMPOSITE, keys_composite},
};
#define N_TYPES (sizeof(type_specs) / sizeof(type_specs[0]))

struct sp_policy {
    char *name;
    enum sp_type type;
    bool is_sub;       /* named by an and / drop / not policy: never decides on its own */
    uint32_t bit;      /* match bit (attribute and OTTL policies) */
    uint32_t fail_bit; /* OTTL with error_mode propagate: an evaluation failed */
    /* Top-level policies: traces this policy's own evaluation sampled (a drop policy:
     * dropped) and did not. */
    uint64_t n_yes, n_no;
    union {
        struct {
            uint64_t lower_ms, upper_ms; /* upper 0 = none */
        } latency;
        struct {
            uint8_t mask;
        } status;
        struct {
            bool all;
            uint64_t threshold; /* sampled when hash < threshold */
            char *salt;
        } prob;
        struct {
            char *key;
            bool invert;
            bool regex;
            struct kt_strlist values;
            pcre2_code **re;
            pcre2_match_data *md;
        } str;
        struct {
            char *key;
            bool invert;
            int64_t min, max;
        } num;
        struct {
            char *key;
            bool invert;
            bool value;
        } boolean;
        struct {
            uint64_t min, max; /* max 0 = none */
        } count;
        struct {
            uint64_t per_second;
            uint64_t second; /* the second of decision time the budget belongs to */
            uint64_t used;
        } rate;
        struct {
            struct ottl_condition **span;
            size_t n_span;
            struct ottl_condition **event;
            size_t n_event;
            int error_mode; /* enum ottl_error_mode */
            uint64_t errors;
        } ottl;
        struct {
            char *key;
            struct kt_strlist values; /* those the Collector can match: see compile_tstate */
        } tstate;
        struct {
            double per_ms, burst; /* bytes */
            double tokens;        /* bytes that may pass now; starts full */
            uint64_t last_ms;     /* when tokens was last refilled */
        } bytes;
        struct {
            size_t *subs;
            size_t n;
            /* composite only: spans per second each sub-policy may sample (its
             * rate_allocation share of max_total), and sampled in the current second */
            uint64_t max_total;
            uint64_t *alloc, *used;
            uint64_t second;
        } comp; /* and, drop, not (n = 1), composite */
    } u;
};

struct sampling_policies {
    bool first_match; /* sample_on_first_match */
    struct sp_policy *v;
    size_t n;
    size_t n_top;
    size_t *bitpol; /* indices of policies with a match bit, so observe skips the others */
    size_t n_bitpol;
    size_t words;
    struct kt_arena arena; /* for OTTL evaluation, reset after every observe */
};

/* ---- configuration helpers ---- */

static int policy_err(struct kt_err *err, const char *section, const char *key, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static int policy_err(struct kt_err *err, const char *section, const char *key, const char *fmt,
                      ...)
{
    char msg[KT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return kt_err_set(err, KT_EINVAL, "[" SECTION "%s] %s: %s", section, key, msg);
}

/* A scalar key given more than once (file then --set) takes its last value. */
static const char *last_value(const struct process_policy_conf *c, const char *key)
{
    const char *v = NULL;
    for (size_t i = 0; i < c->keys.n; i++)
        if (strcmp(c->keys.v[i], key) == 0)
            v = c->values.v[i];
    return v;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Every value of `key` in file order; split at commas (and trimmed) unless split is false,
 * for OTTL conditions whose arguments may hold commas. Empty items are skipped. */
static int list_values(const struct process_policy_conf *c, const char *key, bool split,
                       struct kt_strlist *out, struct kt_err *err)
{
    for (size_t i = 0; i < c->keys.n; i++) {
        if (strcmp(c->keys.v[i], key) != 0)
            continue;
        const char *s = c->values.v[i];
        while (*s != '\0') {
            const char *end = split ? strchr(s, ',') : NULL;
            if (end == NULL)
                end = s + strlen(s);
            const char *a = s, *b = end;
            while (a < b && is_space(*a))
                a++;
            while (b > a && is_space(b[-1]))
                b--;
            if (b > a) {
                char *item = strndup(a, (size_t)(b - a));
                int rc = item == NULL ? KT_ENOMEM : kt_strlist_push(out, item);
                free(item);
                if (rc != 0)
                    return kt_err_set(err, KT_ENOMEM, "out of memory");
            }
            s = *end == ',' ? end + 1 : end;
        }
    }
    return 0;
}

static int get_bool(const struct process_policy_conf *c, const char *key, bool *out,
                    struct kt_err *err)
{
    const char *v = last_value(c, key);
    if (v == NULL)
        return 0;
    if (kt_parse_bool(v, out, err) != 0)
        return kt_err_prefix(err, "[" SECTION "%s] %s: ", c->name, key);
    return 0;
}

static int get_uint(const struct process_policy_conf *c, const char *key, uint64_t *out,
                    bool *present, struct kt_err *err)
{
    const char *v = last_value(c, key);
    if (present != NULL)
        *present = v != NULL;
    if (v == NULL)
        return 0;
    if (kt_parse_uint(v, out, err) != 0)
        return kt_err_prefix(err, "[" SECTION "%s] %s: ", c->name, key);
    return 0;
}

static int get_int(const struct process_policy_conf *c, const char *key, int64_t *out,
                   bool *present, struct kt_err *err)
{
    const char *v = last_value(c, key);
    *present = v != NULL;
    if (v == NULL)
        return 0;
    const char *p = v + (*v == '-' || *v == '+');
    bool digits = *p >= '0' && *p <= '9';
    for (; *p >= '0' && *p <= '9'; p++)
        ;
    if (!digits || *p != '\0')
        return policy_err(err, c->name, key, "want an integer, got '%.64s'", v);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0)
        return policy_err(err, c->name, key, "'%.64s' is out of range", v);
    *out = (int64_t)x;
    return 0;
}

static int get_string(const struct process_policy_conf *c, const char *key, bool required,
                      char **out, struct kt_err *err)
{
    const char *v = last_value(c, key);
    if (v == NULL || (required && *v == '\0')) {
        if (required)
            return policy_err(err, c->name, key, "required but not set");
        v = "";
    }
    *out = strdup(v);
    return *out == NULL ? kt_err_set(err, KT_ENOMEM, "out of memory") : 0;
}

static void type_names(char *buf, size_t size);

static const struct sp_type_spec *find_type(const char *name)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (strcmp(type_specs[i].name, name) == 0)
            return &type_specs[i];
    return NULL;
}

static void type_names(char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_TYPES && off < size; i++) {
        int w = snprintf(buf + off, size - off, "%s%s", i ? ", " : "", type_specs[i].name);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

static void key_names(const struct sp_type_spec *t, char *buf, size_t size)
{
    size_t off = (size_t)snprintf(buf, size, "type");
    for (const char *const *k = t->keys; *k != NULL && off < size; k++) {
        int w = snprintf(buf + off, size - off, ", %s", *k);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

static bool type_has_key(const struct sp_type_spec *t, const char *key)
{
    if (strcmp(key, "type") == 0)
        return true;
    for (const char *const *k = t->keys; *k != NULL; k++)
        if (strcmp(*k, key) == 0)
            return true;
    return false;
}

/* ---- compiling one section ---- */

static int compile_latency(struct sp_policy *p, const struct process_policy_conf *c,
                           struct kt_err *err)
{
    bool has_lo, has_hi;
    uint64_t lo = 0, hi = 0;
    if (get_uint(c, "threshold_ms", &lo, &has_lo, err) != 0 ||
        get_uint(c, "upper_threshold_ms", &hi, &has_hi, err) != 0)
        return KT_EINVAL;
    if (!has_lo && !has_hi)
        return policy_err(err, c->name, "threshold_ms",
                          "required but not set (or set upper_threshold_ms)");
    if (has_hi && hi != 0 && hi <= lo)
        return policy_err(err, c->name, "upper_threshold_ms",
                          "%llu must be greater than threshold_ms %llu", (unsigned long long)hi,
                          (unsigned long long)lo);
    p->u.latency.lower_ms = lo;
    p->u.latency.upper_ms = hi;
    return 0;
}

static int compile_status(struct sp_policy *p, const struct process_policy_conf *c,
                          struct kt_err *err)
{
    static const char *const names[] = {"UNSET", "OK", "ERROR"}; /* index = status code */
    struct kt_strlist l = {0};
    int rc = list_values(c, "status_codes", true, &l, err);
    if (rc == 0 && l.n == 0)
        rc = policy_err(err, c->name, "status_codes",
                        "required but not set (want OK, ERROR, UNSET)");
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        size_t code = 0;
        while (code < 3 && strcasecmp(l.v[i], names[code]) != 0)
            code++;
        if (code == 3)
            rc = policy_err(err, c->name, "status_codes",
                            "'%.64s' is not a status code (want OK, ERROR, UNSET)", l.v[i]);
        else
            p->u.status.mask |= (uint8_t)(1u << code);
    }
    kt_strlist_free(&l);
    return rc;
}

static int parse_pct(const char *section, const char *v, double *out, struct kt_err *err)
{
    char *end;
    errno = 0;
    *out = strtod(v, &end);
    if (end == v || *end != '\0' || errno != 0 || !(*out >= 0 && *out <= 100))
        return policy_err(err, section, "sampling_percentage",
                          "want a number from 0 to 100, got '%.64s'", v);
    return 0;
}

static int compile_prob(struct sp_policy *p, const struct process_policy_conf *c,
                        struct kt_err *err)
{
    const char *v = last_value(c, "sampling_percentage");
    if (v == NULL)
        return policy_err(err, c->name, "sampling_percentage", "required but not set");
    double pct;
    if (parse_pct(c->name, v, &pct, err) != 0)
        return KT_EINVAL;
    /* The Collector's bound: (2^64 - 1) * pct / 100 rounded to 64 bits of mantissa (its
     * big.Float precision, which x87's long double has too), then truncated. */
    p->u.prob.all = pct >= 100;
    p->u.prob.threshold =
        p->u.prob.all ? UINT64_MAX : (uint64_t)((long double)UINT64_MAX * (long double)(pct / 100));
    /* Unset or empty: the Collector's default salt. */
    const char *salt = last_value(c, "hash_salt");
    p->u.prob.salt = strdup(salt != NULL && *salt != '\0' ? salt : "default-hash-seed");
    return p->u.prob.salt == NULL ? kt_err_set(err, KT_ENOMEM, "out of memory") : 0;
}

static int compile_string(struct sp_policy *p, const struct process_policy_conf *c,
                          struct kt_err *err)
{
    int rc = get_string(c, "key", true, &p->u.str.key, err);
    if (rc == 0)
        rc = get_bool(c, "invert_match", &p->u.str.invert, err);
    if (rc == 0)
        rc = get_bool(c, "enabled_regex_matching", &p->u.str.regex, err);
    if (rc == 0)
        rc = list_values(c, "values", true, &p->u.str.values, err);
    if (rc == 0 && p->u.str.values.n == 0)
        rc = policy_err(err, c->name, "values", "required but not set");
    if (rc != 0 || !p->u.str.regex)
        return rc;
    p->u.str.re = calloc(p->u.str.values.n, sizeof(*p->u.str.re));
    if (p->u.str.re == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    uint32_t max_pairs = 1;
    for (size_t i = 0; i < p->u.str.values.n; i++) {
        int ec;
        PCRE2_SIZE eoff;
        const char *src = p->u.str.values.v[i];
        /* MATCH_INVALID_UTF: attribute strings come off the wire unchecked, and a regex must
         * not misbehave on bad UTF-8. */
        p->u.str.re[i] = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
                                       PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &eoff, NULL);
        if (p->u.str.re[i] == NULL) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof(msg));
            return policy_err(err, c->name, "values",
                              "'%.64s' is not a valid regular expression: %s at offset %zu", src,
                              (const char *)msg, (size_t)eoff);
        }
        /* JIT is only a speed-up: without it matching still works. */
        (void)pcre2_jit_compile(p->u.str.re[i], PCRE2_JIT_COMPLETE);
        uint32_t cap = 0;
        pcre2_pattern_info(p->u.str.re[i], PCRE2_INFO_CAPTURECOUNT, &cap);
        if (cap + 1 > max_pairs)
            max_pairs = cap + 1;
    }
    p->u.str.md = pcre2_match_data_create(max_pairs, NULL);
    return p->u.str.md == NULL ? kt_err_set(err, KT_ENOMEM, "out of memory") : 0;
}

static int compile_numeric(struct sp_policy *p, const struct process_policy_conf *c,
                           struct kt_err *err)
{
    bool has_min, has_max;
    p->u.num.min = INT64_MIN;
    p->u.num.max = INT64_MAX;
    int rc = get_string(c, "key", true, &p->u.num.key, err);
    if (rc == 0)
        rc = get_bool(c, "invert_match", &p->u.num.invert, err);
    if (rc == 0)
        rc = get_int(c, "min_value", &p->u.num.min, &has_min, err);
    if (rc == 0)
        rc = get_int(c, "max_value", &p->u.num.max, &has_max, err);
    if (rc != 0)
        return rc;
    if (!has_min && !has_max)
        return policy_err(err, c->name, "min_value", "required but not set (or set max_value)");
    if (p->u.num.min > p->u.num.max)
        return policy_err(err, c->name, "max_value", "%lld is less than min_value %lld",
                          (long long)p->u.num.max, (long long)p->u.num.min);
    return 0;
}

static int compile_boolean(struct sp_policy *p, const struct process_policy_conf *c,
                           struct kt_err *err)
{
    int rc = get_string(c, "key", true, &p->u.boolean.key, err);
    if (rc == 0)
        rc = get_bool(c, "invert_match", &p->u.boolean.invert, err);
    if (rc != 0)
        return rc;
    if (last_value(c, "value") == NULL)
        return policy_err(err, c->name, "value", "required but not set (want true or false)");
    return get_bool(c, "value", &p->u.boolean.value, err);
}

static int compile_count(struct sp_policy *p, const struct process_policy_conf *c,
                         struct kt_err *err)
{
    bool has_min;
    if (get_uint(c, "min_spans", &p->u.count.min, &has_min, err) != 0 ||
        get_uint(c, "max_spans", &p->u.count.max, NULL, err) != 0)
        return KT_EINVAL;
    if (!has_min)
        return policy_err(err, c->name, "min_spans", "required but not set");
    if (p->u.count.max != 0 && p->u.count.max < p->u.count.min)
        return policy_err(err, c->name, "max_spans", "%llu is less than min_spans %llu",
                          (unsigned long long)p->u.count.max, (unsigned long long)p->u.count.min);
    return 0;
}

static int compile_rate(struct sp_policy *p, const struct process_policy_conf *c,
                        struct kt_err *err)
{
    bool has;
    if (get_uint(c, "spans_per_second", &p->u.rate.per_second, &has, err) != 0)
        return KT_EINVAL;
    if (!has || p->u.rate.per_second == 0)
        return policy_err(err, c->name, "spans_per_second",
                          has ? "must be greater than 0" : "required but not set");
    p->u.rate.second = UINT64_MAX;
    return 0;
}

static int compile_bytes(struct sp_policy *p, const struct process_policy_conf *c,
                         struct kt_err *err)
{
    bool has, has_burst;
    uint64_t rate = 0, burst = 0;
    if (get_uint(c, "bytes_per_second", &rate, &has, err) != 0 ||
        get_uint(c, "burst_capacity", &burst, &has_burst, err) != 0)
        return KT_EINVAL;
    if (!has || rate == 0)
        return policy_err(err, c->name, "bytes_per_second",
                          has ? "must be greater than 0" : "required but not set");
    /* The Collector's default burst: two seconds' worth. */
    p->u.bytes.per_ms = (double)rate / 1000;
    p->u.bytes.burst = has_burst ? (double)burst : 2 * (double)rate;
    p->u.bytes.tokens = p->u.bytes.burst;
    return 0;
}

static int compile_conditions(const struct process_policy_conf *c, const char *key,
                              enum ottl_context most, struct ottl_condition ***out, size_t *n,
                              struct kt_err *err)
{
    struct kt_strlist l = {0};
    int rc = list_values(c, key, false, &l, err);
    if (rc == 0 && l.n > 0) {
        *out = calloc(l.n, sizeof(**out));
        if (*out == NULL)
            rc = kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        rc = ottl_condition_parse(l.v[i], &(*out)[i], err);
        if (rc != 0) {
            kt_err_prefix(err, "[" SECTION "%s] %s: ", c->name, key);
            break;
        }
        (*n)++;
        enum ottl_context ctx = ottl_condition_context((*out)[i]);
        if (ctx != OTTL_CTX_RESOURCE && ctx != OTTL_CTX_SCOPE && ctx != OTTL_CTX_SPAN &&
            !(ctx == OTTL_CTX_SPANEVENT && most == OTTL_CTX_SPANEVENT))
            rc = policy_err(err, c->name, key,
                            "'%.80s' uses %s paths; a %s condition may use resource, scope, "
                            "span%s paths",
                            l.v[i], ottl_context_name(ctx), key,
                            most == OTTL_CTX_SPANEVENT ? " and spanevent" : "");
    }
    kt_strlist_free(&l);
    return rc;
}

/* enum ottl_error_mode of mode. */
static int parse_error_mode(const char *section, const char *mode, int *out, struct kt_err *err)
{
    static const char *const modes[] = {"propagate", "ignore", "silent"};
    int m = 0;
    while (m < 3 && strcmp(mode, modes[m]) != 0)
        m++;
    if (m == 3)
        return policy_err(err, section, "error_mode",
                          "want one of propagate|ignore|silent, got '%.64s'", mode);
    *out = m;
    return 0;
}

static int compile_ottl(struct sp_policy *p, const struct process_policy_conf *c,
                        struct kt_err *err)
{
    const char *mode = last_value(c, "error_mode");
    p->u.ottl.error_mode = OTTL_ERR_PROPAGATE;
    if (mode != NULL && parse_error_mode(c->name, mode, &p->u.ottl.error_mode, err) != 0)
        return KT_EINVAL;
    int rc = compile_conditions(c, "span", OTTL_CTX_SPAN, &p->u.ottl.span, &p->u.ottl.n_span, err);
    if (rc == 0)
        rc = compile_conditions(c, "spanevent", OTTL_CTX_SPANEVENT, &p->u.ottl.event,
                                &p->u.ottl.n_event, err);
    if (rc == 0 && p->u.ottl.n_span + p->u.ottl.n_event == 0)
        rc = policy_err(err, c->name, "span", "required but not set (or set spanevent)");
    return rc;
}

static int compile_tstate(struct sp_policy *p, const struct process_policy_conf *c,
                          struct kt_err *err)
{
    struct kt_strlist l = {0};
    int rc = get_string(c, "key", true, &p->u.tstate.key, err);
    if (rc == 0)
        rc = list_values(c, "values", true, &l, err);
    if (rc == 0 && l.n == 0)
        rc = policy_err(err, c->name, "values", "required but not set");
    /* As the Collector's: a key=value member longer than W3C's 256 characters can never be
     * matched, so such values are left out. */
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        if (strlen(p->u.tstate.key) + strlen(l.v[i]) < 256 &&
            kt_strlist_push(&p->u.tstate.values, l.v[i]) != 0)
            rc = kt_err_set(err, KT_ENOMEM, "out of memory");
    kt_strlist_free(&l);
    return rc;
}

static int type_err(const char *section, const char *tname, struct kt_err *err)
{
    char buf[400];
    type_names(buf, sizeof(buf));
    if (tname == NULL || *tname == '\0')
        return policy_err(err, section, "type", "required but not set (want one of %s)", buf);
    return policy_err(err, section, "type", "'%.64s' is not a policy type (want one of %s)", tname,
                      buf);
}

int sampling_policy_check_value(const char *section, const char *key, const char *value,
                                struct kt_err *err)
{
    char *k = (char *)key, *v = (char *)value;
    const struct process_policy_conf c = {(char *)section, {&k, 1}, {&v, 1}};
    struct sp_policy p;
    memset(&p, 0, sizeof(p));
    bool b, present;
    uint64_t u;
    int64_t i;
    double d;
    int m;
    if (strcmp(key, "type") == 0)
        return find_type(value) != NULL ? 0 : type_err(section, value, err);
    if (strcmp(key, "invert_match") == 0 || strcmp(key, "enabled_regex_matching") == 0 ||
        strcmp(key, "value") == 0)
        return get_bool(&c, key, &b, err);
    if (strcmp(key, "threshold_ms") == 0 || strcmp(key, "upper_threshold_ms") == 0 ||
        strcmp(key, "min_spans") == 0 || strcmp(key, "max_spans") == 0 ||
        strcmp(key, "spans_per_second") == 0 || strcmp(key, "bytes_per_second") == 0 ||
        strcmp(key, "burst_capacity") == 0 || strcmp(key, "max_total_spans_per_second") == 0)
        return get_uint(&c, key, &u, &present, err);
    if (strcmp(key, "min_value") == 0 || strcmp(key, "max_value") == 0)
        return get_int(&c, key, &i, &present, err);
    if (strcmp(key, "sampling_percentage") == 0)
        return parse_pct(section, value, &d, err);
    if (strcmp(key, "error_mode") == 0)
        return parse_error_mode(section, value, &m, err);
    if (strcmp(key, "status_codes") == 0)
        return compile_status(&p, &c, err);
    return 0;
}

static int compile_one(struct sp_policy *p, const struct process_policy_conf *c, struct kt_err *err)
{
    p->name = strdup(c->name);
    if (p->name == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    char buf[400];
    const char *tname = last_value(c, "type");
    const struct sp_type_spec *t = tname == NULL ? NULL : find_type(tname);
    if (t == NULL)
        return type_err(c->name, tname, err);
    p->type = t->type;
    /* Compilers below only read the keys they know; the rest must be mistakes. */
    for (size_t i = 0; i < c->keys.n; i++) {
        if (!type_has_key(t, c->keys.v[i])) {
            key_names(t, buf, sizeof(buf));
            return policy_err(err, c->name, c->keys.v[i],
                              "unknown key for type %s (valid keys: %s)", t->name, buf);
        }
    }
    switch (p->type) {
    case SP_ALWAYS_SAMPLE: return 0;
    case SP_LATENCY: return compile_latency(p, c, err);
    case SP_STATUS_CODE: return compile_status(p, c, err);
    case SP_PROBABILISTIC: return compile_prob(p, c, err);
    case SP_STRING_ATTRIBUTE: return compile_string(p, c, err);
    case SP_NUMERIC_ATTRIBUTE: return compile_numeric(p, c, err);
    case SP_BOOLEAN_ATTRIBUTE: return compile_boolean(p, c, err);
    case SP_SPAN_COUNT: return compile_count(p, c, err);
    case SP_RATE_LIMITING: return compile_rate(p, c, err);
    case SP_OTTL_CONDITION: return compile_ottl(p, c, err);
    case SP_TRACE_FLAGS: return 0;
    case SP_TRACE_STATE: return compile_tstate(p, c, err);
    case SP_BYTES_LIMITING: return compile_bytes(p, c, err);
    case SP_COMPOSITE: {
        bool has;
        if (get_uint(c, "max_total_spans_per_second", &p->u.comp.max_total, &has, err) != 0)
            return KT_EINVAL;
        if (!has || p->u.comp.max_total == 0)
            return policy_err(err, c->name, "max_total_spans_per_second",
                              has ? "must be greater than 0" : "required but not set");
        return 0; /* sub-policies and their shares once every section is known */
    }
    case SP_AND:
    case SP_DROP:
    case SP_NOT: return 0; /* sub-policies are resolved once every section is known */
    }
    return 0;
}

static bool is_composite(enum sp_type t)
{
    return t == SP_AND || t == SP_DROP || t == SP_NOT || t == SP_COMPOSITE;
}

/* The Collector's nesting: and / drop take any policy but and, drop and composite; not takes
 * none of the four; composite takes and but not drop, not or composite. NULL when child may
 * be under parent, else the types it may not be. */
static const char *nesting_err(enum sp_type parent, enum sp_type child)
{
    switch (parent) {
    case SP_NOT: return is_composite(child) ? "and, drop, not or composite" : NULL;
    case SP_COMPOSITE:
        return is_composite(child) && child != SP_AND ? "drop, not or composite" : NULL;
    default: return is_composite(child) && child != SP_NOT ? "and, drop or composite" : NULL;
    }
}

/* The index among p's sub-policies of the one named name, or p->u.comp.n. */
static size_t sub_index(const struct sampling_policies *ps, const struct sp_policy *p,
                        const char *name, size_t len)
{
    size_t k = 0;
    while (k < p->u.comp.n && !(strlen(ps->v[p->u.comp.subs[k]].name) == len &&
                                strncmp(ps->v[p->u.comp.subs[k]].name, name, len) == 0))
        k++;
    return k;
}

/* composite: each sub-policy's share of max_total_spans_per_second, the Collector's way:
 * rate_allocation NAME=PERCENT (over 0) gives PERCENT %, the others an equal share; the
 * product truncated to whole spans. policy_order must name sub-policies; as in the
 * Collector, the order of evaluation is composite_sub_policy's. */
static int resolve_allocation(struct sampling_policies *ps, struct sp_policy *p,
                              const struct process_policy_conf *c, struct kt_err *err)
{
    size_t n = p->u.comp.n;
    struct kt_strlist l = {0};
    p->u.comp.alloc = calloc(n, sizeof(*p->u.comp.alloc));
    p->u.comp.used = calloc(n, sizeof(*p->u.comp.used));
    if (p->u.comp.alloc == NULL || p->u.comp.used == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    double total = (double)p->u.comp.max_total;
    for (size_t k = 0; k < n; k++)
        p->u.comp.alloc[k] = (uint64_t)(total / (double)n);
    int rc = list_values(c, "rate_allocation", true, &l, err);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        const char *eq = strchr(l.v[i], '=');
        char *end = NULL;
        long long pct = eq == NULL ? 0 : strtoll(eq + 1, &end, 10);
        size_t k = eq == NULL ? n : sub_index(ps, p, l.v[i], (size_t)(eq - l.v[i]));
        if (eq == NULL || end == eq + 1 || *end != '\0' || pct < 0 || pct > 100)
            rc = policy_err(err, c->name, "rate_allocation",
                            "want NAME=PERCENT (0 to 100), got '%.64s'", l.v[i]);
        else if (k == n)
            rc =
                policy_err(err, c->name, "rate_allocation",
                           "'%.*s' is not one of composite_sub_policy", (int)(eq - l.v[i]), l.v[i]);
        else if (pct > 0)
            p->u.comp.alloc[k] = (uint64_t)((double)pct / 100 * total);
    }
    kt_strlist_free(&l);
    if (rc == 0)
        rc = list_values(c, "policy_order", true, &l, err);
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        if (sub_index(ps, p, l.v[i], strlen(l.v[i])) == n)
            rc = policy_err(err, c->name, "policy_order",
                            "'%.64s' is not one of composite_sub_policy", l.v[i]);
    kt_strlist_free(&l);
    p->u.comp.second = UINT64_MAX;
    return rc;
}

static int resolve_subs(struct sampling_policies *ps, size_t i, const struct process_policy_conf *c,
                        struct kt_err *err)
{
    struct sp_policy *p = &ps->v[i];
    const char *key = p->type == SP_AND    ? "and_sub_policy"
                      : p->type == SP_DROP ? "drop_sub_policy"
                      : p->type == SP_NOT  ? "not_sub_policy"
                                           : "composite_sub_policy";
    struct kt_strlist l = {0};
    int rc = list_values(c, key, true, &l, err);
    if (rc == 0 && l.n == 0)
        rc = policy_err(err, c->name, key,
                        "required but not set (names of other [" SECTION "NAME] sections)");
    if (rc == 0 && p->type == SP_NOT && l.n > 1)
        rc = policy_err(err, c->name, key, "takes one policy, got %zu", l.n);
    if (rc == 0) {
        p->u.comp.subs = calloc(l.n, sizeof(*p->u.comp.subs));
        if (p->u.comp.subs == NULL)
            rc = kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    for (size_t k = 0; rc == 0 && k < l.n; k++) {
        size_t j = 0;
        while (j < ps->n && strcmp(ps->v[j].name, l.v[k]) != 0)
            j++;
        if (j == ps->n)
            rc = policy_err(err, c->name, key, "no [" SECTION "%.64s] section", l.v[k]);
        else if (j == i)
            rc = policy_err(err, c->name, key, "'%.64s' is this section itself", l.v[k]);
        else if (nesting_err(p->type, ps->v[j].type) != NULL)
            rc = policy_err(err, c->name, key,
                            "'%.64s' is a %s policy; a sub-policy of %s cannot be %s", l.v[k],
                            type_specs[ps->v[j].type].name, type_specs[p->type].name,
                            nesting_err(p->type, ps->v[j].type));
        else {
            ps->v[j].is_sub = true;
            p->u.comp.subs[p->u.comp.n++] = j;
        }
    }
    kt_strlist_free(&l);
    if (rc == 0 && p->type == SP_COMPOSITE)
        rc = resolve_allocation(ps, p, c, err);
    return rc;
}

/* A latency policy with an upper bound is decided span by span (see observe_span). */
static bool has_bit(const struct sp_policy *p)
{
    return p->type == SP_STRING_ATTRIBUTE || p->type == SP_NUMERIC_ATTRIBUTE ||
           p->type == SP_BOOLEAN_ATTRIBUTE || p->type == SP_OTTL_CONDITION ||
           p->type == SP_TRACE_FLAGS || p->type == SP_TRACE_STATE ||
           (p->type == SP_LATENCY && p->u.latency.upper_ms != 0);
}

int sampling_policy_compile(const struct process_policy_conf *confs, size_t n, bool first_match,
                            struct sampling_policies **out, struct kt_err *err)
{
    *out = NULL;
    struct sampling_policies *ps = calloc(1, sizeof(*ps));
    if (ps == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    ps->first_match = first_match;
    kt_arena_init(&ps->arena, NULL, 0);
    int rc = 0;
    if (n > 0) {
        ps->v = calloc(n, sizeof(*ps->v));
        ps->bitpol = calloc(n, sizeof(*ps->bitpol));
        if (ps->v == NULL || ps->bitpol == NULL)
            rc = kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        ps->n = i + 1; /* so that free releases what a failed compile_one allocated */
        rc = compile_one(&ps->v[i], &confs[i], err);
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (is_composite(ps->v[i].type))
            rc = resolve_subs(ps, i, &confs[i], err);
    if (rc != 0) {
        sampling_policy_free(ps);
        return rc;
    }
    uint32_t bits = 0;
    for (size_t i = 0; i < n; i++) {
        struct sp_policy *p = &ps->v[i];
        ps->n_top += !p->is_sub;
        if (!has_bit(p))
            continue;
        ps->bitpol[ps->n_bitpol++] = i;
        p->bit = bits++;
        if (p->type == SP_OTTL_CONDITION && p->u.ottl.error_mode == OTTL_ERR_PROPAGATE)
            p->fail_bit = bits++;
    }
    ps->words = (bits + 63) / 64;
    *out = ps;
    return 0;
}

void sampling_policy_free(struct sampling_policies *ps)
{
    if (ps == NULL)
        return;
    for (size_t i = 0; i < ps->n; i++) {
        struct sp_policy *p = &ps->v[i];
        switch (p->type) {
        case SP_PROBABILISTIC: free(p->u.prob.salt); break;
        case SP_STRING_ATTRIBUTE:
            free(p->u.str.key);
            if (p->u.str.re != NULL)
                for (size_t k = 0; k < p->u.str.values.n; k++)
                    pcre2_code_free(p->u.str.re[k]);
            free(p->u.str.re);
            pcre2_match_data_free(p->u.str.md);
            kt_strlist_free(&p->u.str.values);
            break;
        case SP_NUMERIC_ATTRIBUTE: free(p->u.num.key); break;
        case SP_BOOLEAN_ATTRIBUTE: free(p->u.boolean.key); break;
        case SP_OTTL_CONDITION:
            for (size_t k = 0; k < p->u.ottl.n_span; k++)
                ottl_condition_free(p->u.ottl.span[k]);
            for (size_t k = 0; k < p->u.ottl.n_event; k++)
                ottl_condition_free(p->u.ottl.event[k]);
            free(p->u.ottl.span);
            free(p->u.ottl.event);
            break;
        case SP_TRACE_STATE:
            free(p->u.tstate.key);
            kt_strlist_free(&p->u.tstate.values);
            break;
        case SP_AND:
        case SP_DROP:
        case SP_NOT:
        case SP_COMPOSITE:
            free(p->u.comp.subs);
            free(p->u.comp.alloc);
            free(p->u.comp.used);
            break;
        default: break;
        }
        free(p->name);
    }
    free(ps->v);
    free(ps->bitpol);
    kt_arena_free(&ps->arena);
    free(ps);
}

size_t sampling_policy_count_top_level(const struct sampling_policies *ps)
{
    return ps->n_top;
}

size_t sampling_policy_match_words(const struct sampling_policies *ps)
{
    return ps->words;
}

/* ---- observe ---- */

static bool bit_get(const uint64_t *m, uint32_t b)
{
    return (m[b / 64] >> (b % 64)) & 1u;
}

static void bit_set(uint64_t *m, uint32_t b)
{
    m[b / 64] |= (uint64_t)1 << (b % 64);
}

/* The Collector reads attributes through pdata's typed accessors, which give the zero value
 * for another type: a non-string is "" to string_attribute, a non-integer 0 to
 * numeric_attribute (a double too), a non-bool false to boolean_attribute. kotel reads them
 * the same way so that both keep the same traces. */
static bool string_matches(const struct sp_policy *p, const AnyValue *v, bool span)
{
    const char *s = "";
    if (v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE &&
        v->string_value != NULL)
        s = v->string_value;
    /* The Collector skips empty span attributes (not resource ones) before matching. */
    if (span && *s == '\0')
        return false;
    for (size_t i = 0; i < p->u.str.values.n; i++) {
        if (p->u.str.re == NULL) {
            if (strcmp(s, p->u.str.values.v[i]) == 0)
                return true;
        } else if (pcre2_match(p->u.str.re[i], (PCRE2_SPTR)s, strlen(s), 0, 0, p->u.str.md, NULL) >=
                   0) {
            return true;
        }
    }
    return false;
}

static bool value_matches(const struct sp_policy *p, const AnyValue *v, bool span)
{
    switch (p->type) {
    case SP_STRING_ATTRIBUTE: return string_matches(p, v, span);
    case SP_NUMERIC_ATTRIBUTE: {
        int64_t x = v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE
                        ? v->int_value
                        : 0;
        return x >= p->u.num.min && x <= p->u.num.max;
    }
    case SP_BOOLEAN_ATTRIBUTE: {
        bool b = v->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE &&
                 v->bool_value;
        return b == p->u.boolean.value;
    }
    default: return false;
    }
}

static const char *attr_key(const struct sp_policy *p)
{
    switch (p->type) {
    case SP_STRING_ATTRIBUTE: return p->u.str.key;
    case SP_NUMERIC_ATTRIBUTE: return p->u.num.key;
    case SP_BOOLEAN_ATTRIBUTE: return p->u.boolean.key;
    default: return NULL;
    }
}

/* The first attribute with the key decides, as a map lookup would. */
static bool attrs_match(const struct sp_policy *p, KeyValue *const *attrs, size_t n, bool span)
{
    const char *key = attr_key(p);
    for (size_t i = 0; i < n; i++) {
        const KeyValue *kv = attrs[i];
        if (kv == NULL || kv->key == NULL || strcmp(kv->key, key) != 0)
            continue;
        static const AnyValue empty = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        return value_matches(p, kv->value != NULL ? kv->value : &empty, span);
    }
    return false;
}

/* attrs_match on a span's attributes, read from its bytes when it was decoded without them
 * (trace_decode_span_attr). A value protobuf-c cannot decode matches nothing, as such a
 * message is refused whole on the full decode. */
static bool span_attrs_match(struct sampling_policies *ps, const struct sp_policy *p,
                             const Span *sp)
{
    const char *key = attr_key(p);
    bool found;
    AnyValue *v;
    int rc = trace_decode_span_attr(&ps->arena, sp, key, strlen(key), &found, &v);
    if (rc == 0)
        return attrs_match(p, sp->attributes, sp->n_attributes, true);
    if (rc < 0 || !found)
        return false;
    static const AnyValue empty = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    return value_matches(p, v != NULL ? v : &empty, true);
}

/* One OTTL condition list against one context. Returns true when a condition matched or the
 * policy is done with this trace (failed under propagate). */
static bool ottl_any(struct sp_policy *p, struct ottl_condition *const *conds, size_t n,
                     const struct ottl_tctx *t, uint64_t *match)
{
    for (size_t i = 0; i < n; i++) {
        bool m = false;
        struct kt_err e;
        kt_err_clear(&e);
        if (ottl_condition_eval(conds[i], t, &m, &e) != 0) {
            p->u.ottl.errors++;
            /* Logged at 1, 2, 4, 8, ... failures: a bad condition on every span must not
             * flood the log, yet must stay visible. */
            if (p->u.ottl.error_mode != OTTL_ERR_SILENT &&
                (p->u.ottl.errors & (p->u.ottl.errors - 1)) == 0)
                kt_warn("[tail_sampling.policy.%s] '%s' failed (%llu failures so far): %s", p->name,
                        ottl_condition_source(conds[i]), (unsigned long long)p->u.ottl.errors,
                        e.msg);
            if (p->u.ottl.error_mode == OTTL_ERR_PROPAGATE) {
                bit_set(match, p->fail_bit);
                return true;
            }
            continue;
        }
        if (m) {
            bit_set(match, p->bit);
            return true;
        }
    }
    return false;
}

static bool policy_done(const struct sp_policy *p, const uint64_t *match)
{
    if (bit_get(match, p->bit))
        return true;
    return p->type == SP_OTTL_CONDITION && p->u.ottl.error_mode == OTTL_ERR_PROPAGATE &&
           bit_get(match, p->fail_bit);
}

/* The trace's duration so far in whole milliseconds, 0 without a valid time range. */
static uint64_t latency_ms(const struct sampling_summary *sum)
{
    if (sum->min_start_ns == 0 || sum->max_end_ns <= sum->min_start_ns)
        return 0;
    return (sum->max_end_ns - sum->min_start_ns) / 1000000u;
}

/* ---- W3C trace-context tracestate, as the Collector's trace_state policy reads it (the
 * OpenTelemetry Go API's ParseTraceState): list members split at ',', empty ones skipped;
 * key '=' value, blanks trimmed before the key and after the value; at most 32 members, no
 * key twice; a string breaking any rule has no members at all. ---- */

static bool ts_key_rest(const char *p, const char *e, size_t max)
{
    if ((size_t)(e - p) > max)
        return false;
    for (; p < e; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' ||
              *p == '*' || *p == '/'))
            return false;
    return true;
}

/* key = lcalpha 0*255(keychar), or tenant@system: (lcalpha / DIGIT) 0*240(keychar) "@"
 * lcalpha 0*13(keychar). */
static bool ts_key_ok(const char *p, const char *e)
{
    const char *at = memchr(p, '@', (size_t)(e - p));
    if (at == NULL)
        return p < e && *p >= 'a' && *p <= 'z' && ts_key_rest(p + 1, e, 255);
    bool tenant = p < at && ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) &&
                  ts_key_rest(p + 1, at, 240);
    const char *sys = at + 1;
    return tenant && sys < e && *sys >= 'a' && *sys <= 'z' && ts_key_rest(sys + 1, e, 13);
}

/* 1 to 256 printable ASCII characters but ',' and '=', the last not a space. */
static bool ts_value_ok(const char *p, const char *e)
{
    size_t n = (size_t)(e - p);
    if (n == 0 || n > 256 || e[-1] == ' ')
        return false;
    for (; p < e; p++)
        if (*p < 0x20 || *p > 0x7e || *p == ',' || *p == '=')
            return false;
    return true;
}

/* Whether ts is a valid tracestate whose member `key` has one of p's values. */
static bool tstate_matches(const struct sp_policy *p, const char *ts)
{
    struct {
        const char *p;
        size_t n;
    } keys[32];
    size_t n_keys = 0, klen = strlen(p->u.tstate.key);
    const char *val = NULL, *val_end = NULL;
    for (const char *s = ts; *s != '\0';) {
        const char *e = strchr(s, ',');
        if (e == NULL)
            e = s + strlen(s);
        const char *next = *e == ',' ? e + 1 : e;
        if (e == s) {
            s = next;
            continue;
        }
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (eq == NULL)
            return false;
        const char *k = s, *ve = e;
        while (k < eq && is_space(*k))
            k++;
        while (ve > eq + 1 && is_space(ve[-1]))
            ve--;
        if (!ts_key_ok(k, eq) || !ts_value_ok(eq + 1, ve) || n_keys == 32)
            return false;
        size_t kn = (size_t)(eq - k);
        for (size_t i = 0; i < n_keys; i++)
            if (keys[i].n == kn && memcmp(keys[i].p, k, kn) == 0)
                return false;
        keys[n_keys].p = k;
        keys[n_keys++].n = kn;
        if (kn == klen && memcmp(k, p->u.tstate.key, kn) == 0) {
            val = eq + 1;
            val_end = ve;
        }
        s = next;
    }
    if (val == NULL)
        return false;
    size_t vn = (size_t)(val_end - val);
    for (size_t i = 0; i < p->u.tstate.values.n; i++)
        if (strlen(p->u.tstate.values.v[i]) == vn && memcmp(p->u.tstate.values.v[i], val, vn) == 0)
            return true;
    return false;
}

/* sum already holds t's span. */
static void observe_span(struct sampling_policies *ps, struct ottl_tctx *t,
                         const struct sampling_summary *sum, uint64_t *match)
{
    const Span *sp = t->span;
    for (size_t k = 0; k < ps->n_bitpol; k++) {
        struct sp_policy *p = &ps->v[ps->bitpol[k]];
        if (policy_done(p, match))
            continue;
        if (p->type == SP_TRACE_FLAGS) {
            if (sp->flags & 0x01u) /* W3C's sampled flag, in the low byte */
                bit_set(match, p->bit);
            continue;
        }
        if (p->type == SP_TRACE_STATE) {
            if (sp->trace_state != NULL && tstate_matches(p, sp->trace_state))
                bit_set(match, p->bit);
            continue;
        }
        if (p->type == SP_LATENCY) {
            /* The Collector samples when the duration of the spans seen so far (in arrival
             * order) is ever within (threshold_ms, upper_threshold_ms], even if the whole
             * trace ends up longer: the same question, asked after every span. */
            uint64_t d = latency_ms(sum);
            if (d > p->u.latency.lower_ms && d <= p->u.latency.upper_ms)
                bit_set(match, p->bit);
            continue;
        }
        if (p->type != SP_OTTL_CONDITION) {
            if (span_attrs_match(ps, p, sp))
                bit_set(match, p->bit);
            continue;
        }
        t->spanevent = NULL;
        if (ottl_any(p, p->u.ottl.span, p->u.ottl.n_span, t, match))
            continue;
        for (size_t e = 0; e < sp->n_events && p->u.ottl.n_event > 0; e++) {
            if (sp->events[e] == NULL)
                continue;
            t->spanevent = sp->events[e];
            if (ottl_any(p, p->u.ottl.event, p->u.ottl.n_event, t, match))
                break;
        }
        t->spanevent = NULL;
    }
}

static void fold_span(struct sampling_summary *sum, const Span *sp)
{
    sum->n_spans++;
    /* An unset (zero) timestamp says nothing about the trace's extent; counting it would
     * make every such trace look decades long. */
    if (sp->start_time_unix_nano != 0 &&
        (sum->min_start_ns == 0 || sp->start_time_unix_nano < sum->min_start_ns))
        sum->min_start_ns = sp->start_time_unix_nano;
    if (sp->end_time_unix_nano > sum->max_end_ns)
        sum->max_end_ns = sp->end_time_unix_nano;
    unsigned code = sp->status == NULL ? 0 : (unsigned)sp->status->code;
    if (code < 3)
        sum->status_mask |= (uint8_t)(1u << code);
}

void sampling_policy_observe(struct sampling_policies *ps, const TracesData *decoded,
                             struct sampling_summary *sum, uint64_t *match)
{
    for (size_t r = 0; r < decoded->n_resource_spans; r++) {
        const ResourceSpans *rs = decoded->resource_spans[r];
        if (rs == NULL)
            continue;
        if (rs->resource != NULL) {
            for (size_t k = 0; k < ps->n_bitpol; k++) {
                const struct sp_policy *p = &ps->v[ps->bitpol[k]];
                if (attr_key(p) != NULL && !bit_get(match, p->bit) &&
                    attrs_match(p, rs->resource->attributes, rs->resource->n_attributes, false))
                    bit_set(match, p->bit);
            }
        }
        for (size_t s = 0; s < rs->n_scope_spans; s++) {
            const ScopeSpans *ss = rs->scope_spans[s];
            if (ss == NULL)
                continue;
            for (size_t i = 0; i < ss->n_spans; i++) {
                if (ss->spans[i] == NULL)
                    continue;
                fold_span(sum, ss->spans[i]);
                struct ottl_tctx t = {
                    .arena = &ps->arena,
                    .resource = rs->resource,
                    .scope = ss->scope,
                    .span = ss->spans[i],
                    .span_attr = trace_decode_span_attr,
                };
                observe_span(ps, &t, sum, match);
            }
        }
    }
    kt_arena_reset(&ps->arena);
}

ottl_fields sampling_policy_fields(const struct sampling_policies *ps)
{
    /* Every trace's summary (fold_span) and the trace ID the decision hashes. */
    ottl_fields f = OTTL_FIELD(OTTL_P_SPAN_START) | OTTL_FIELD(OTTL_P_SPAN_END) |
                    OTTL_FIELD(OTTL_P_SPAN_STATUS_CODE) | OTTL_FIELD(OTTL_P_SPAN_TRACE_ID);
    for (size_t i = 0; i < ps->n; i++) {
        const struct sp_policy *p = &ps->v[i];
        switch (p->type) {
        case SP_STRING_ATTRIBUTE:
        case SP_NUMERIC_ATTRIBUTE:
        case SP_BOOLEAN_ATTRIBUTE:
            f |= OTTL_FIELD(OTTL_P_SPAN_ATTRS) | OTTL_FIELD(OTTL_P_RESOURCE_ATTRS);
            break;
        case SP_OTTL_CONDITION:
            for (size_t c = 0; c < p->u.ottl.n_span; c++)
                f |= ottl_condition_fields(p->u.ottl.span[c]);
            /* Event conditions run once per event, whatever paths they name. */
            if (p->u.ottl.n_event > 0)
                f |= OTTL_FIELD(OTTL_P_SPANEVENT_NAME) | OTTL_FIELD(OTTL_P_SPANEVENT_ATTRS);
            for (size_t c = 0; c < p->u.ottl.n_event; c++)
                f |= ottl_condition_fields(p->u.ottl.event[c]);
            break;
        default: break;
        }
    }
    return f;
}

bool sampling_policy_counts_bytes(const struct sampling_policies *ps)
{
    for (size_t i = 0; i < ps->n; i++)
        if (ps->v[i].type == SP_BYTES_LIMITING)
            return true;
    return false;
}

bool sampling_policy_keyed_span_attrs(const struct sampling_policies *ps)
{
    for (size_t i = 0; i < ps->n; i++) {
        const struct sp_policy *p = &ps->v[i];
        if (p->type != SP_OTTL_CONDITION)
            continue;
        for (size_t c = 0; c < p->u.ottl.n_span; c++)
            if (!ottl_condition_keyed_span_attrs(p->u.ottl.span[c]))
                return false;
        for (size_t c = 0; c < p->u.ottl.n_event; c++)
            if (!ottl_condition_keyed_span_attrs(p->u.ottl.event[c]))
                return false;
    }
    return true;
}

size_t sampling_policy_span_attr_keys(const struct sampling_policies *ps, const char **keys,
                                      size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < ps->n; i++) {
        const struct sp_policy *p = &ps->v[i];
        /* OTTL conditions: any span attribute (event conditions run on full decodes). */
        if (p->type == SP_OTTL_CONDITION && (p->u.ottl.n_event > 0 || p->u.ottl.n_span > 0))
            return SIZE_MAX;
        const char *k = attr_key(p);
        if (k == NULL)
            continue;
        if (n == cap)
            return SIZE_MAX;
        keys[n++] = k;
    }
    return n;
}

/* ---- decide ---- */

/* The Collector's probabilistic policy, exactly: FNV-1a 64 over the salt, then the trace ID,
 * sampled when at most the threshold. Deterministic across replicas and restarts, and the
 * same choice a Collector makes for the trace, so a fleet mixing both (or migrating) keeps
 * or drops a trace as one. */
static uint64_t prob_hash(const char *salt, const uint8_t id[16])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *s = salt; *s != '\0'; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ULL;
    }
    for (int i = 0; i < 16; i++) {
        h ^= id[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static bool eval_policy(struct sampling_policies *ps, struct sp_policy *p, const uint8_t id[16],
                        const struct sampling_summary *sum, const uint64_t *match, uint64_t now_ms)
{
    switch (p->type) {
    case SP_ALWAYS_SAMPLE: return true;
    case SP_LATENCY:
        /* Longer than the threshold, as the Collector's: a trace of exactly threshold_ms is
         * not sampled. */
        if (p->u.latency.upper_ms == 0)
            return latency_ms(sum) > p->u.latency.lower_ms;
        return bit_get(match, p->bit);
    case SP_STATUS_CODE: return (sum->status_mask & p->u.status.mask) != 0;
    case SP_PROBABILISTIC:
        return p->u.prob.all || prob_hash(p->u.prob.salt, id) <= p->u.prob.threshold;
    case SP_TRACE_FLAGS:
    case SP_TRACE_STATE: return bit_get(match, p->bit);
    case SP_BYTES_LIMITING: {
        /* A token bucket as the Collector's (golang.org/x/time/rate): bytes_per_second
         * refill it continuously up to burst_capacity; a trace passes when its size is
         * there to take. Time is the decision time, which never goes back. */
        if (now_ms > p->u.bytes.last_ms) {
            double t =
                p->u.bytes.tokens + (double)(now_ms - p->u.bytes.last_ms) * p->u.bytes.per_ms;
            p->u.bytes.tokens = t < p->u.bytes.burst ? t : p->u.bytes.burst;
            p->u.bytes.last_ms = now_ms;
        }
        if ((double)sum->n_bytes > p->u.bytes.tokens)
            return false;
        p->u.bytes.tokens -= (double)sum->n_bytes;
        return true;
    }
    case SP_NOT: return !eval_policy(ps, &ps->v[p->u.comp.subs[0]], id, sum, match, now_ms);
    case SP_COMPOSITE: {
        /* The first sub-policy that samples the trace decides: sampled while its share of
         * this second (and the total) has room for the trace's spans, else not sampled. */
        uint64_t sec = now_ms / 1000;
        if (sec != p->u.comp.second) {
            p->u.comp.second = sec;
            memset(p->u.comp.used, 0, p->u.comp.n * sizeof(*p->u.comp.used));
        }
        for (size_t k = 0; k < p->u.comp.n; k++) {
            if (!eval_policy(ps, &ps->v[p->u.comp.subs[k]], id, sum, match, now_ms))
                continue;
            uint64_t would = p->u.comp.used[k] + sum->n_spans;
            if (would > p->u.comp.alloc[k] || would > p->u.comp.max_total)
                return false;
            p->u.comp.used[k] = would;
            return true;
        }
        return false;
    }
    case SP_STRING_ATTRIBUTE: return bit_get(match, p->bit) != p->u.str.invert;
    case SP_NUMERIC_ATTRIBUTE: return bit_get(match, p->bit) != p->u.num.invert;
    case SP_BOOLEAN_ATTRIBUTE: return bit_get(match, p->bit) != p->u.boolean.invert;
    case SP_SPAN_COUNT:
        return sum->n_spans >= p->u.count.min &&
               (p->u.count.max == 0 || sum->n_spans <= p->u.count.max);
    case SP_RATE_LIMITING: {
        uint64_t sec = now_ms / 1000;
        if (sec != p->u.rate.second) {
            p->u.rate.second = sec;
            p->u.rate.used = 0;
        }
        if (p->u.rate.used + sum->n_spans > p->u.rate.per_second)
            return false;
        p->u.rate.used += sum->n_spans;
        return true;
    }
    case SP_OTTL_CONDITION:
        if (p->u.ottl.error_mode == OTTL_ERR_PROPAGATE && bit_get(match, p->fail_bit))
            return false;
        return bit_get(match, p->bit);
    case SP_AND:
    case SP_DROP:
        /* In order, stopping at the first miss, so a rate_limiting sub-policy only spends its
         * budget on traces the earlier sub-policies let through. */
        for (size_t k = 0; k < p->u.comp.n; k++)
            if (!eval_policy(ps, &ps->v[p->u.comp.subs[k]], id, sum, match, now_ms))
                return false;
        return true;
    }
    return false;
}

bool sampling_policy_decide(struct sampling_policies *ps, const uint8_t trace_id[16],
                            const struct sampling_summary *sum, const uint64_t *match,
                            uint64_t now_ms)
{
    for (size_t i = 0; i < ps->n; i++) {
        struct sp_policy *p = &ps->v[i];
        if (p->is_sub || p->type != SP_DROP)
            continue;
        bool drop = eval_policy(ps, p, trace_id, sum, match, now_ms);
        drop ? p->n_yes++ : p->n_no++;
        if (drop)
            return false;
    }
    bool sampled = false;
    for (size_t i = 0; i < ps->n; i++) {
        struct sp_policy *p = &ps->v[i];
        if (p->is_sub || p->type == SP_DROP)
            continue;
        bool yes = eval_policy(ps, p, trace_id, sum, match, now_ms);
        yes ? p->n_yes++ : p->n_no++;
        sampled |= yes;
        /* sample_on_first_match: the policies after the first that samples are not asked
         * (a rate_limiting one among them spends nothing on the trace). */
        if (yes && ps->first_match)
            break;
    }
    return sampled;
}

void sampling_policy_write_metrics(const struct sampling_policies *ps, struct kt_buf *b)
{
    static const char name[] = "kotel_process_tail_sampling_policy_decisions_total";
    kt_prom_family(b, name, "counter",
                   "Traces each top-level policy decided on its own, by decision: sampled or "
                   "not_sampled; a drop policy: dropped or not_sampled. Policies after a drop "
                   "policy that dropped the trace are not evaluated.");
    char pol[160], labels[224];
    for (size_t i = 0; i < ps->n; i++) {
        const struct sp_policy *p = &ps->v[i];
        if (p->is_sub)
            continue;
        kt_prom_label(p->name, pol, sizeof(pol));
        snprintf(labels, sizeof(labels), "policy=\"%s\",decision=\"%s\"", pol,
                 p->type == SP_DROP ? "dropped" : "sampled");
        kt_prom_u64(b, name, labels, p->n_yes);
        snprintf(labels, sizeof(labels), "policy=\"%s\",decision=\"not_sampled\"", pol);
        kt_prom_u64(b, name, labels, p->n_no);
    }
}
