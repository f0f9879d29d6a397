/* OTTL parser: recursive descent over the token array, with OTTL's precedence
 * (not > comparison > and > or). Everything is checked here that can be: paths, function
 * names and arity, literal argument kinds, regexes (compiled once), the context. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_suggest.h"
#include "ottl_int.h"

static const struct ottl_path_def ottl_paths[] = {
    {"resource.attributes", OTTL_CTX_RESOURCE, OTTL_P_RESOURCE_ATTRS, OTTL_PF_MAP},
    {"scope.name", OTTL_CTX_SCOPE, OTTL_P_SCOPE_NAME, 0},
    {"scope.version", OTTL_CTX_SCOPE, OTTL_P_SCOPE_VERSION, 0},
    {"scope.attributes", OTTL_CTX_SCOPE, OTTL_P_SCOPE_ATTRS, OTTL_PF_MAP},
    {"span.name", OTTL_CTX_SPAN, OTTL_P_SPAN_NAME, 0},
    {"span.kind", OTTL_CTX_SPAN, OTTL_P_SPAN_KIND, 0},
    {"span.status.code", OTTL_CTX_SPAN, OTTL_P_SPAN_STATUS_CODE, 0},
    {"span.status.message", OTTL_CTX_SPAN, OTTL_P_SPAN_STATUS_MESSAGE, 0},
    {"span.attributes", OTTL_CTX_SPAN, OTTL_P_SPAN_ATTRS, OTTL_PF_MAP},
    {"span.trace_id.string", OTTL_CTX_SPAN, OTTL_P_SPAN_TRACE_ID, 0},
    {"span.span_id.string", OTTL_CTX_SPAN, OTTL_P_SPAN_SPAN_ID, 0},
    {"span.parent_span_id.string", OTTL_CTX_SPAN, OTTL_P_SPAN_PARENT_ID, 0},
    {"span.start_time_unix_nano", OTTL_CTX_SPAN, OTTL_P_SPAN_START, 0},
    {"span.end_time_unix_nano", OTTL_CTX_SPAN, OTTL_P_SPAN_END, 0},
    {"spanevent.name", OTTL_CTX_SPANEVENT, OTTL_P_SPANEVENT_NAME, 0},
    {"spanevent.time_unix_nano", OTTL_CTX_SPANEVENT, OTTL_P_SPANEVENT_TIME, 0},
    {"spanevent.attributes", OTTL_CTX_SPANEVENT, OTTL_P_SPANEVENT_ATTRS, OTTL_PF_MAP},
    {"span.start_time", OTTL_CTX_SPAN, OTTL_P_SPAN_START_TIME, OTTL_PF_TIME},
    {"span.end_time", OTTL_CTX_SPAN, OTTL_P_SPAN_END_TIME, OTTL_PF_TIME},
    {"spanevent.time", OTTL_CTX_SPANEVENT, OTTL_P_SPANEVENT_TIME_T, OTTL_PF_TIME},
    {"metric.name", OTTL_CTX_METRIC, OTTL_P_METRIC_NAME, 0},
    {"metric.unit", OTTL_CTX_METRIC, OTTL_P_METRIC_UNIT, 0},
    {"metric.description", OTTL_CTX_METRIC, OTTL_P_METRIC_DESCRIPTION, 0},
    {"metric.type", OTTL_CTX_METRIC, OTTL_P_METRIC_TYPE, OTTL_PF_READONLY},
    {"datapoint.attributes", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_ATTRS, OTTL_PF_MAP},
    {"datapoint.value_double", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_VALUE_DOUBLE, 0},
    {"datapoint.value_int", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_VALUE_INT, 0},
    {"log.body", OTTL_CTX_LOG, OTTL_P_LOG_BODY, OTTL_PF_MAP},
    {"log.severity_number", OTTL_CTX_LOG, OTTL_P_LOG_SEVERITY_NUMBER, 0},
    {"log.severity_text", OTTL_CTX_LOG, OTTL_P_LOG_SEVERITY_TEXT, 0},
    {"log.attributes", OTTL_CTX_LOG, OTTL_P_LOG_ATTRS, OTTL_PF_MAP},
    {"resource.dropped_attributes_count", OTTL_CTX_RESOURCE, OTTL_P_RESOURCE_DROPPED, OTTL_PF_MORE},
    {"scope.dropped_attributes_count", OTTL_CTX_SCOPE, OTTL_P_SCOPE_DROPPED, OTTL_PF_MORE},
    {"resource.schema_url", OTTL_CTX_RESOURCE, OTTL_P_RESOURCE_SCHEMA_URL, OTTL_PF_MORE},
    {"scope.schema_url", OTTL_CTX_SCOPE, OTTL_P_SCOPE_SCHEMA_URL, OTTL_PF_MORE},
    {"span.trace_id", OTTL_CTX_SPAN, OTTL_P_SPAN_TRACE_ID_RAW, OTTL_PF_MORE},
    {"span.span_id", OTTL_CTX_SPAN, OTTL_P_SPAN_SPAN_ID_RAW, OTTL_PF_MORE},
    {"span.parent_span_id", OTTL_CTX_SPAN, OTTL_P_SPAN_PARENT_ID_RAW, OTTL_PF_MORE},
    {"span.trace_state", OTTL_CTX_SPAN, OTTL_P_SPAN_TRACE_STATE, OTTL_PF_KEY | OTTL_PF_MORE},
    {"span.flags", OTTL_CTX_SPAN, OTTL_P_SPAN_FLAGS, OTTL_PF_MORE},
    {"span.dropped_attributes_count", OTTL_CTX_SPAN, OTTL_P_SPAN_DROPPED_ATTRS, OTTL_PF_MORE},
    {"span.dropped_events_count", OTTL_CTX_SPAN, OTTL_P_SPAN_DROPPED_EVENTS, OTTL_PF_MORE},
    {"span.dropped_links_count", OTTL_CTX_SPAN, OTTL_P_SPAN_DROPPED_LINKS, OTTL_PF_MORE},
    {"span.kind.string", OTTL_CTX_SPAN, OTTL_P_SPAN_KIND_STRING, OTTL_PF_MORE},
    {"span.kind.deprecated_string", OTTL_CTX_SPAN, OTTL_P_SPAN_KIND_DEPRECATED_STRING,
     OTTL_PF_MORE},
    {"spanevent.dropped_attributes_count", OTTL_CTX_SPANEVENT, OTTL_P_SPANEVENT_DROPPED,
     OTTL_PF_MORE},
    {"metric.aggregation_temporality", OTTL_CTX_METRIC, OTTL_P_METRIC_AGG_TEMPORALITY,
     OTTL_PF_MORE},
    {"metric.is_monotonic", OTTL_CTX_METRIC, OTTL_P_METRIC_IS_MONOTONIC, OTTL_PF_MORE},
    {"datapoint.start_time_unix_nano", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_START, OTTL_PF_MORE},
    {"datapoint.time_unix_nano", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_TIME, OTTL_PF_MORE},
    {"datapoint.flags", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_FLAGS, OTTL_PF_MORE},
    {"datapoint.count", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_COUNT, OTTL_PF_MORE},
    {"datapoint.sum", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_SUM, OTTL_PF_MORE},
    {"datapoint.bucket_counts", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_BUCKET_COUNTS, OTTL_PF_MORE},
    {"datapoint.explicit_bounds", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_EXPLICIT_BOUNDS,
     OTTL_PF_MORE},
    {"datapoint.scale", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_SCALE, OTTL_PF_MORE},
    {"datapoint.zero_count", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_ZERO_COUNT, OTTL_PF_MORE},
    {"log.time_unix_nano", OTTL_CTX_LOG, OTTL_P_LOG_TIME, OTTL_PF_MORE},
    {"log.observed_time_unix_nano", OTTL_CTX_LOG, OTTL_P_LOG_OBSERVED_TIME, OTTL_PF_MORE},
    {"log.trace_id", OTTL_CTX_LOG, OTTL_P_LOG_TRACE_ID_RAW, OTTL_PF_MORE},
    {"log.span_id", OTTL_CTX_LOG, OTTL_P_LOG_SPAN_ID_RAW, OTTL_PF_MORE},
    {"log.trace_id.string", OTTL_CTX_LOG, OTTL_P_LOG_TRACE_ID, OTTL_PF_MORE},
    {"log.span_id.string", OTTL_CTX_LOG, OTTL_P_LOG_SPAN_ID, OTTL_PF_MORE},
    {"log.flags", OTTL_CTX_LOG, OTTL_P_LOG_FLAGS, OTTL_PF_MORE},
    {"log.dropped_attributes_count", OTTL_CTX_LOG, OTTL_P_LOG_DROPPED, OTTL_PF_MORE},
    {"log.event_name", OTTL_CTX_LOG, OTTL_P_LOG_EVENT_NAME, OTTL_PF_MORE},
    {"log.body.string", OTTL_CTX_LOG, OTTL_P_LOG_BODY_STRING, OTTL_PF_MORE},
    /* Each context's cache, usable only in statements of that context (bare `cache` in a
     * group is the group context's). */
    {"resource.cache", OTTL_CTX_RESOURCE, OTTL_P_CACHE, OTTL_PF_MAP},
    {"scope.cache", OTTL_CTX_SCOPE, OTTL_P_CACHE, OTTL_PF_MAP},
    {"span.cache", OTTL_CTX_SPAN, OTTL_P_CACHE, OTTL_PF_MAP},
    {"spanevent.cache", OTTL_CTX_SPANEVENT, OTTL_P_CACHE, OTTL_PF_MAP},
    {"metric.cache", OTTL_CTX_METRIC, OTTL_P_CACHE, OTTL_PF_MAP},
    {"datapoint.cache", OTTL_CTX_DATAPOINT, OTTL_P_CACHE, OTTL_PF_MAP},
    {"log.cache", OTTL_CTX_LOG, OTTL_P_CACHE, OTTL_PF_MAP},
    {"log.time", OTTL_CTX_LOG, OTTL_P_LOG_TIME_T, OTTL_PF_TIME},
    {"log.observed_time", OTTL_CTX_LOG, OTTL_P_LOG_OBSERVED_TIME_T, OTTL_PF_TIME},
    {"datapoint.time", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_TIME_T, OTTL_PF_TIME},
    {"datapoint.start_time", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_START_TIME_T, OTTL_PF_TIME},
    {"datapoint.exemplars", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_EXEMPLARS,
     OTTL_PF_MORE | OTTL_PF_MSG},
    {"datapoint.quantile_values", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_QUANTILE_VALUES,
     OTTL_PF_MORE | OTTL_PF_MSG},
    {"datapoint.positive", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_POSITIVE,
     OTTL_PF_MORE | OTTL_PF_MSG},
    {"datapoint.positive.offset", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_POSITIVE_OFFSET,
     OTTL_PF_MORE},
    {"datapoint.positive.bucket_counts", OTTL_CTX_DATAPOINT,
     OTTL_P_DATAPOINT_POSITIVE_BUCKET_COUNTS, OTTL_PF_MORE},
    {"datapoint.negative", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_NEGATIVE,
     OTTL_PF_MORE | OTTL_PF_MSG},
    {"datapoint.negative.offset", OTTL_CTX_DATAPOINT, OTTL_P_DATAPOINT_NEGATIVE_OFFSET,
     OTTL_PF_MORE},
    {"datapoint.negative.bucket_counts", OTTL_CTX_DATAPOINT,
     OTTL_P_DATAPOINT_NEGATIVE_BUCKET_COUNTS, OTTL_PF_MORE},
};
static const size_t ottl_n_paths = sizeof(ottl_paths) / sizeof(ottl_paths[0]);

struct ottl_enum {
    const char *name;
    int64_t value;
};

static const struct ottl_enum enums[] = {
    {"STATUS_CODE_UNSET", 0},
    {"STATUS_CODE_OK", 1},
    {"STATUS_CODE_ERROR", 2},
    {"SPAN_KIND_UNSPECIFIED", 0},
    {"SPAN_KIND_INTERNAL", 1},
    {"SPAN_KIND_SERVER", 2},
    {"SPAN_KIND_CLIENT", 3},
    {"SPAN_KIND_PRODUCER", 4},
    {"SPAN_KIND_CONSUMER", 5},
    {"SEVERITY_NUMBER_UNSPECIFIED", 0},
    {"SEVERITY_NUMBER_TRACE", 1},
    {"SEVERITY_NUMBER_TRACE2", 2},
    {"SEVERITY_NUMBER_TRACE3", 3},
    {"SEVERITY_NUMBER_TRACE4", 4},
    {"SEVERITY_NUMBER_DEBUG", 5},
    {"SEVERITY_NUMBER_DEBUG2", 6},
    {"SEVERITY_NUMBER_DEBUG3", 7},
    {"SEVERITY_NUMBER_DEBUG4", 8},
    {"SEVERITY_NUMBER_INFO", 9},
    {"SEVERITY_NUMBER_INFO2", 10},
    {"SEVERITY_NUMBER_INFO3", 11},
    {"SEVERITY_NUMBER_INFO4", 12},
    {"SEVERITY_NUMBER_WARN", 13},
    {"SEVERITY_NUMBER_WARN2", 14},
    {"SEVERITY_NUMBER_WARN3", 15},
    {"SEVERITY_NUMBER_WARN4", 16},
    {"SEVERITY_NUMBER_ERROR", 17},
    {"SEVERITY_NUMBER_ERROR2", 18},
    {"SEVERITY_NUMBER_ERROR3", 19},
    {"SEVERITY_NUMBER_ERROR4", 20},
    {"SEVERITY_NUMBER_FATAL", 21},
    {"SEVERITY_NUMBER_FATAL2", 22},
    {"SEVERITY_NUMBER_FATAL3", 23},
    {"SEVERITY_NUMBER_FATAL4", 24},
    /* pmetric.MetricType numbering, which metric.type reads as */
    {"METRIC_DATA_TYPE_NONE", 0},
    {"METRIC_DATA_TYPE_GAUGE", 1},
    {"METRIC_DATA_TYPE_SUM", 2},
    {"METRIC_DATA_TYPE_HISTOGRAM", 3},
    {"METRIC_DATA_TYPE_EXPONENTIAL_HISTOGRAM", 4},
    {"METRIC_DATA_TYPE_SUMMARY", 5},
    {"AGGREGATION_TEMPORALITY_UNSPECIFIED", 0},
    {"AGGREGATION_TEMPORALITY_DELTA", 1},
    {"AGGREGATION_TEMPORALITY_CUMULATIVE", 2},
    {"FLAG_NONE", 0},
    {"FLAG_NO_RECORDED_VALUE", 1},
};

struct parser {
    const char *src;
    const struct ottl_token *t;
    size_t n, i;
    struct ottl_prog *p;
    struct kt_err *err;
    int depth;
    unsigned ctx_mask;
    unsigned cache_mask; /* the contexts whose cache a path names */
    /* The context paths without a context prefix are read in ("attributes" is
     * span.attributes in a span group); NULL: every path names its context. */
    const char *in_ctx;
};

static const struct ottl_token *cur(const struct parser *ps)
{
    return &ps->t[ps->i];
}

static bool ident_is(const struct ottl_token *t, const char *s)
{
    return t->kind == OTTL_T_IDENT && strlen(s) == t->n && memcmp(t->s, s, t->n) == 0;
}

static int expected(struct parser *ps, const struct ottl_token *t, const char *what)
{
    char got[128];
    ottl_tok_describe(t, got, sizeof(got));
    return ottl_syntax_error(ps->err, ps->src, t->pos, "expected %s, got %s", what, got);
}

static struct ottl_node *new_node(struct parser *ps, enum ottl_nkind k, size_t pos)
{
    struct ottl_node *n = kt_arena_alloc(&ps->p->arena, sizeof(*n));
    if (n == NULL) {
        kt_err_set(ps->err, KT_ENOMEM, "out of memory");
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    n->kind = k;
    n->pos = pos;
    return n;
}

static int parse_or(struct parser *ps, struct ottl_node **out);
static int parse_value(struct parser *ps, struct ottl_node **out);
static int parse_math(struct parser *ps, struct ottl_node **out);

static bool is_keyword(const struct ottl_token *t)
{
    return ident_is(t, "and") || ident_is(t, "or") || ident_is(t, "not") || ident_is(t, "where");
}

/* Names of paths sharing the first segment of an unknown one, so the message can list
 * what was probably meant. */
static void path_suggestions(const char *name, char *buf, size_t size)
{
    const char *dot = strchr(name, '.');
    size_t seg = dot != NULL ? (size_t)(dot - name) : strlen(name);
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ottl_n_paths; i++) {
        const char *p = ottl_paths[i].name;
        if (strncmp(p, name, seg) != 0 || p[seg] != '.')
            continue;
        int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", p);
        if (w < 0 || (size_t)w + 5 >= size - used) {
            /* whole names only: the rest is said to exist */
            snprintf(buf + used, size - used, ", ...");
            break;
        }
        used += (size_t)w;
    }
}

/* ["key"] and [N] after a path's first key, into the arena. */
static int parse_indexes(struct parser *ps, struct ottl_node *n)
{
    size_t cap = 0;
    struct ottl_index *v = NULL;
    while (cur(ps)->kind == OTTL_T_LBRACK) {
        ps->i++;
        const struct ottl_token *k = cur(ps);
        if (k->kind != OTTL_T_STRING && k->kind != OTTL_T_INT)
            return expected(ps, k, "a string key or an array index");
        if (n->path.n_more == cap) {
            cap = cap ? cap * 2 : 4;
            struct ottl_index *nv = kt_arena_alloc(&ps->p->arena, cap * sizeof(*nv));
            if (nv == NULL)
                return kt_err_set(ps->err, KT_ENOMEM, "out of memory");
            if (n->path.n_more)
                memcpy(nv, v, n->path.n_more * sizeof(*nv));
            v = nv;
        }
        struct ottl_index *x = &v[n->path.n_more++];
        x->s = k->kind == OTTL_T_STRING ? k->s : NULL;
        x->n = k->n;
        x->i = k->i;
        ps->i++;
        if (cur(ps)->kind != OTTL_T_RBRACK)
            return expected(ps, cur(ps), "']'");
        ps->i++;
    }
    n->path.more = v;
    return 0;
}

static const struct ottl_path_def *find_path(const char *name)
{
    for (size_t i = 0; i < ottl_n_paths; i++)
        if (strcmp(ottl_paths[i].name, name) == 0)
            return &ottl_paths[i];
    return NULL;
}

static int parse_path(struct parser *ps, struct ottl_node **out)
{
    const struct ottl_token *first = cur(ps);
    char name[160];
    size_t len = 0;
    for (;;) {
        const struct ottl_token *t = cur(ps);
        if (t->kind != OTTL_T_IDENT)
            return expected(ps, t, "a path segment");
        if (len + t->n + 2 >= sizeof(name))
            return ottl_syntax_error(ps->err, ps->src, first->pos, "path too long");
        if (len > 0)
            name[len++] = '.';
        memcpy(name + len, t->s, t->n);
        len += t->n;
        name[len] = '\0';
        ps->i++;
        if (cur(ps)->kind != OTTL_T_DOT)
            break;
        ps->i++;
    }
    const struct ottl_path_def *def = find_path(name);
    enum ottl_context named;
    char *dot = strchr(name, '.');
    if (dot != NULL)
        *dot = '\0';
    bool prefixed = ottl_context_parse(name, &named) == 0;
    if (dot != NULL)
        *dot = '.';
    if (def == NULL && ps->in_ctx != NULL && !prefixed) {
        char full[200];
        snprintf(full, sizeof(full), "%s.%s", ps->in_ctx, name);
        def = find_path(full);
    }
    if (def == NULL) {
        char sugg[240]; /* within ottl_syntax_error's room, with the name */
        path_suggestions(name, sugg, sizeof(sugg));
        if (sugg[0] != '\0')
            return ottl_syntax_error(ps->err, ps->src, first->pos, "unknown path '%s' (valid: %s)",
                                     name, sugg);
        return ottl_syntax_error(ps->err, ps->src, first->pos,
                                 "unknown path '%s' (paths start with resource., scope., "
                                 "span., spanevent., metric., datapoint. or log.)",
                                 name);
    }
    struct ottl_node *n = new_node(ps, OTTL_N_PATH, first->pos);
    if (n == NULL)
        return KT_ENOMEM;
    n->path.def = def;
    if (cur(ps)->kind == OTTL_T_LBRACK) {
        if (!(def->flags & (OTTL_PF_MAP | OTTL_PF_KEY)))
            return ottl_syntax_error(ps->err, ps->src, cur(ps)->pos,
                                     "%s is not a map and takes no [\"key\"]", def->name);
        ps->i++;
        const struct ottl_token *k = cur(ps);
        if (k->kind != OTTL_T_STRING)
            return expected(ps, k, "a string key");
        n->path.key = k->s;
        n->path.keylen = k->n;
        ps->i++;
        if (cur(ps)->kind != OTTL_T_RBRACK)
            return expected(ps, cur(ps), "']'");
        ps->i++;
        int rc = parse_indexes(ps, n);
        if (rc != 0)
            return rc;
        if ((def->flags & OTTL_PF_KEY) && n->path.n_more > 0)
            return ottl_syntax_error(ps->err, ps->src, first->pos, "%s takes exactly one [\"key\"]",
                                     def->name);
    }
    if (def->flags & OTTL_PF_MORE) {
        n->path.get = ottl_path_get_more;
        n->path.set = ottl_path_set_more;
    }
    ps->ctx_mask |= OTTL_CTX_BIT(def->ctx);
    ps->p->path_ctx = true;
    if (def->id == OTTL_P_CACHE)
        ps->cache_mask |= OTTL_CTX_BIT(def->ctx);
    *out = n;
    return 0;
}

/* The functions of one kind, those of every context first (the metric functions after). */
static void func_names(bool editors, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < 2 * ottl_n_funcs; k++) {
        const struct ottl_func *f = &ottl_funcs[k % ottl_n_funcs];
        if (f->editor != editors || (f->ctx >= 0) != (k >= ottl_n_funcs))
            continue;
        int w = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", f->name);
        if (w < 0 || (size_t)w + 5 >= size - used) {
            /* whole names only: the rest is said to exist */
            snprintf(buf + used, size - used, ", ...");
            break;
        }
        used += (size_t)w;
    }
}

static const char *arg_kind_text(char k)
{
    switch (k) {
    case 'p': return "a path that can be set";
    case 'm': return "a map path such as span.attributes";
    case 'r': return "a regex string literal";
    case 'G': return "a grok pattern string literal";
    case 's': return "a string literal";
    case 'i': return "an integer literal";
    case 'S': return "a list of string literals";
    case 'l': return "a list such as [a, b]";
    case 'F': return "SHA256 (the hash function kotel has)";
    default: return "a value";
    }
}

/* The kind of parameter idx ('?' skipped) and how many parameters fn has, how many of them
 * required. */
static char kind_at(const struct ottl_func *fn, size_t idx)
{
    const char *q = strchr(fn->args, '?');
    size_t req = q != NULL ? (size_t)(q - fn->args) : strlen(fn->args);
    return idx < req ? fn->args[idx] : fn->args[idx + 1];
}

static size_t n_params(const struct ottl_func *fn, size_t *required)
{
    const char *q = strchr(fn->args, '?');
    *required = q != NULL ? (size_t)(q - fn->args) : strlen(fn->args);
    return strlen(fn->args) - (q != NULL);
}

/* Compiles pattern pat (of argument a) into call->call.re. */
static int compile_regex(struct parser *ps, const struct ottl_func *fn, const struct ottl_node *a,
                         const char *pat, size_t n, struct ottl_node *call)
{
    struct kt_err rerr = {0};
    int rc = ottl_regex_compile(ps->p, pat, n, &call->call.re, &rerr);
    if (rc != 0)
        return rc == KT_ENOMEM
                   ? kt_err_set(ps->err, rc, "out of memory")
                   : ottl_syntax_error(ps->err, ps->src, a->pos, "%s: %s", fn->name, rerr.msg);
    return 0;
}

static int check_arg(struct parser *ps, const struct ottl_func *fn, size_t idx,
                     struct ottl_node *call)
{
    struct ottl_node *a = call->call.args[idx];
    char k = kind_at(fn, idx);
    bool ok = true;
    if (a == NULL)
        return 0; /* an optional argument left out */
    switch (k) {
    case 'p':
        ok = a->kind == OTTL_N_PATH;
        if (ok && (a->path.def->flags & OTTL_PF_READONLY))
            return ottl_syntax_error(ps->err, ps->src, a->pos, "%s cannot be set",
                                     a->path.def->name);
        if (ok && (a->path.def->flags & OTTL_PF_MAP) && a->path.key == NULL &&
            a->path.def->id != OTTL_P_LOG_BODY)
            return ottl_syntax_error(ps->err, ps->src, a->pos,
                                     "%s: a whole map cannot be set; name a key, "
                                     "%s[\"key\"]",
                                     fn->name, a->path.def->name);
        break;
    case 'm': ok = a->kind == OTTL_N_PATH && (a->path.def->flags & OTTL_PF_MAP); break;
    case 'r':
    case 'G':
    case 's': ok = a->kind == OTTL_N_LIT && a->lit.t == OTTL_STR; break;
    case 'i': ok = a->kind == OTTL_N_LIT && a->lit.t == OTTL_INT; break;
    case 'S':
        ok = a->kind == OTTL_N_LIST;
        for (size_t j = 0; ok && j < a->list.n; j++)
            ok = a->list.items[j]->kind == OTTL_N_LIT && a->list.items[j]->lit.t == OTTL_STR;
        break;
    case 'l': ok = a->kind == OTTL_N_LIST; break;
    case 'F':
        ok = a->kind == OTTL_N_LIT && a->lit.t == OTTL_STR && a->lit.s.n == 6 &&
             memcmp(a->lit.s.p, "SHA256", 6) == 0;
        break;
    default: break;
    }
    if (!ok)
        return ottl_syntax_error(ps->err, ps->src, a->pos, "%s: argument %zu must be %s", fn->name,
                                 idx + 1, arg_kind_text(k));
    if (k == 'r')
        return compile_regex(ps, fn, a, a->lit.s.p, a->lit.s.n, call);
    return 0;
}

/* Whether name, as written (snake_case or camelCase: startIndex), is param: the Collector
 * turns a named argument into snake_case before looking it up. */
static bool param_is(const char *param, size_t len, const char *name, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c >= 'A' && c <= 'Z') {
            if (j >= len || param[j++] != '_')
                return false;
            c = (char)(c - 'A' + 'a');
        }
        if (j >= len || param[j++] != c)
            return false;
    }
    return j == len;
}

/* The position of the parameter a named argument names (t, an identifier), as the
 * Collector names them: the snake_case of its argument fields, listed in arg_names; -1 when
 * fn has none of that name. */
static int param_index(const struct ottl_func *fn, const struct ottl_token *t)
{
    const char *p = fn->arg_names;
    for (int i = 0; *p != '\0'; i++) {
        size_t len = strcspn(p, ",");
        if (param_is(p, len, t->s, t->n))
            return i;
        p += len;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return -1;
}

static int parse_call(struct parser *ps, struct ottl_node **out)
{
    const struct ottl_token *name = cur(ps);
    const struct ottl_func *fn = NULL;
    for (size_t i = 0; i < ottl_n_funcs; i++)
        if (ident_is(name, ottl_funcs[i].name))
            fn = &ottl_funcs[i];
    if (fn == NULL) {
        bool editor = name->s[0] >= 'a' && name->s[0] <= 'z';
        const char *what = editor ? "editor" : "converter";
        /* The nearest name of either kind, ignoring case: "sha256" and "Set" are typos of
         * SHA256 and set. */
        struct kt_suggest sg;
        kt_suggest_init(&sg, true);
        if (name->n <= KT_SUGGEST_MAX_LEN) {
            char typed[KT_SUGGEST_MAX_LEN + 1];
            memcpy(typed, name->s, name->n);
            typed[name->n] = '\0';
            for (size_t i = 0; i < ottl_n_funcs; i++)
                kt_suggest_consider(&sg, typed, ottl_funcs[i].name);
        }
        if (sg.text[0] != '\0')
            return ottl_syntax_error(ps->err, ps->src, name->pos,
                                     "unknown %s '%.*s' (did you mean %s?)", what, (int)name->n,
                                     name->s, sg.text);
        char names[240]; /* so that the message fits ottl_syntax_error's 320 bytes */
        func_names(editor, names, sizeof(names));
        return ottl_syntax_error(ps->err, ps->src, name->pos, "unknown %s '%.*s' (valid: %s)", what,
                                 (int)name->n, name->s, names);
    }
    struct ottl_node *n = new_node(ps, OTTL_N_CALL, name->pos);
    if (n == NULL)
        return KT_ENOMEM;
    n->call.fn = fn;
    ps->i += 2; /* name and '(' */
    size_t required;
    size_t want = n_params(fn, &required);
    struct ottl_node *args[8] = {NULL};
    size_t nargs = 0;   /* positional arguments, then the highest named one + 1 */
    bool named = false; /* once one is named, the rest must be */
    if (cur(ps)->kind != OTTL_T_RPAREN) {
        for (;;) {
            size_t at = nargs;
            const struct ottl_token *t = cur(ps);
            if (t->kind == OTTL_T_IDENT && ps->t[ps->i + 1].kind == OTTL_T_ASSIGN) {
                int idx = param_index(fn, t);
                if (idx < 0)
                    return ottl_syntax_error(ps->err, ps->src, t->pos,
                                             "%s has no argument '%.*s' (its arguments: %s)",
                                             fn->name, (int)t->n, t->s, fn->arg_names);
                at = (size_t)idx;
                if (args[at] != NULL)
                    return ottl_syntax_error(ps->err, ps->src, t->pos,
                                             "%s: argument '%.*s' given twice", fn->name, (int)t->n,
                                             t->s);
                named = true;
                ps->i += 2;
            } else if (named) {
                return ottl_syntax_error(ps->err, ps->src, t->pos,
                                         "%s: a positional argument after a named one", fn->name);
            } else if (nargs == sizeof(args) / sizeof(args[0])) {
                return ottl_syntax_error(ps->err, ps->src, t->pos, "too many arguments");
            }
            int rc;
            const struct ottl_token *v = cur(ps);
            if (at < want && kind_at(fn, at) == 'F' && v->kind == OTTL_T_IDENT &&
                ps->t[ps->i + 1].kind != OTTL_T_LPAREN) {
                /* a function name: kept as its text, checked by check_arg */
                if ((args[at] = new_node(ps, OTTL_N_LIT, v->pos)) == NULL)
                    return KT_ENOMEM;
                args[at]->lit.t = OTTL_STR;
                args[at]->lit.s.p = v->s;
                args[at]->lit.s.n = v->n;
                ps->i++;
            } else if ((rc = parse_math(ps, &args[at])) != 0) {
                return rc;
            }
            nargs = at + 1 > nargs ? at + 1 : nargs;
            if (cur(ps)->kind == OTTL_T_COMMA) {
                ps->i++;
                continue;
            }
            if (cur(ps)->kind != OTTL_T_RPAREN)
                return expected(ps, cur(ps), "',' or ')'");
            break;
        }
    }
    ps->i++;
    size_t given = 0, given_required = 0;
    for (size_t i = 0; i < nargs; i++) {
        given += args[i] != NULL;
        given_required += i < required && args[i] != NULL;
    }
    if (given_required != required || nargs > want) {
        if (required == want)
            return ottl_syntax_error(ps->err, ps->src, name->pos,
                                     "%s takes %zu argument%s (%s), got %zu", fn->name, want,
                                     want == 1 ? "" : "s", fn->arg_names, given);
        return ottl_syntax_error(ps->err, ps->src, name->pos,
                                 "%s takes %zu to %zu arguments (%s), got %zu", fn->name, required,
                                 want, fn->arg_names, given);
    }
    nargs = want;
    n->call.n_args = nargs;
    n->call.args = kt_arena_memdup(&ps->p->arena, args, (nargs ? nargs : 1) * sizeof(args[0]));
    if (n->call.args == NULL)
        return kt_err_set(ps->err, KT_ENOMEM, "out of memory");
    for (size_t i = 0; i < nargs; i++) {
        int rc = check_arg(ps, fn, i, n);
        if (rc != 0)
            return rc;
    }
    if (fn->check != NULL) {
        int rc = fn->check(n, ps->src, ps->err);
        if (rc != 0)
            return rc;
    }
    /* a grok pattern needs its definitions (a later argument) to compile */
    if (strchr(fn->args, 'G') != NULL) {
        const char *re;
        size_t re_n;
        struct ottl_grok_caps *caps;
        int rc = ottl_grok_expand(ps->p, n, ps->src, &re, &re_n, &caps, ps->err);
        if (rc == 0)
            rc = compile_regex(ps, fn, n->call.args[1], re, re_n, n);
        if (rc == 0)
            rc = ottl_grok_bind(ps->p, n, caps, ps->src, ps->err);
        if (rc != 0)
            return rc;
    }
    if (fn->ctx >= 0) {
        ps->ctx_mask |= OTTL_CTX_BIT(fn->ctx);
        if (ps->p->ctx_fn == NULL)
            ps->p->ctx_fn = fn;
    }
    *out = n;
    return 0;
}

/* A list literal [a, b] or a map literal {"k": a, "l": b}: items (and keys) into the arena. */
static int parse_list(struct parser *ps, struct ottl_node **out)
{
    bool map = cur(ps)->kind == OTTL_T_LBRACE;
    enum ottl_tok close = map ? OTTL_T_RBRACE : OTTL_T_RBRACK;
    struct ottl_node *n = new_node(ps, map ? OTTL_N_MAP : OTTL_N_LIST, cur(ps)->pos);
    if (n == NULL)
        return KT_ENOMEM;
    ps->i++;
    size_t cap = 0;
    struct ottl_index *keys = NULL;
    while (cur(ps)->kind != close) {
        const struct ottl_token *k = cur(ps);
        if (map) {
            if (k->kind != OTTL_T_STRING)
                return expected(ps, k, "a string key");
            if (ps->t[ps->i + 1].kind != OTTL_T_COLON)
                return expected(ps, &ps->t[ps->i + 1], "':'");
            ps->i += 2;
        }
        struct ottl_node *item;
        int rc = parse_math(ps, &item);
        if (rc != 0)
            return rc;
        if (n->list.n == cap) {
            cap = cap ? cap * 2 : 4;
            struct ottl_node **v = kt_arena_alloc(&ps->p->arena, cap * sizeof(*v));
            struct ottl_index *kv = map ? kt_arena_alloc(&ps->p->arena, cap * sizeof(*kv)) : NULL;
            if (v == NULL || (map && kv == NULL))
                return kt_err_set(ps->err, KT_ENOMEM, "out of memory");
            if (n->list.n) {
                memcpy(v, n->list.items, n->list.n * sizeof(*v));
                if (map)
                    memcpy(kv, keys, n->list.n * sizeof(*kv));
            }
            n->list.items = v;
            keys = kv;
        }
        if (map)
            keys[n->list.n] = (struct ottl_index){k->s, k->n, 0};
        n->list.items[n->list.n++] = item;
        if (cur(ps)->kind == OTTL_T_COMMA) {
            ps->i++;
            continue;
        }
        if (cur(ps)->kind != close)
            return expected(ps, cur(ps), map ? "',' or '}'" : "',' or ']'");
    }
    ps->i++;
    n->list.keys = keys;
    *out = n;
    return 0;
}

/* What the Collector's grammar lets arithmetic take: number literals, paths, converters
 * and arithmetic itself (strings, bools, nil, enums and lists are refused). */
static bool is_arith_operand(const struct ottl_node *n)
{
    switch (n->kind) {
    case OTTL_N_LIT: return n->lit.t == OTTL_INT || n->lit.t == OTTL_DOUBLE;
    case OTTL_N_PATH:
    case OTTL_N_MATH:
    case OTTL_N_NEG: return true;
    case OTTL_N_CALL: return !n->call.fn->editor;
    default: return false;
    }
}

static const char *operand_text(const struct ottl_node *n)
{
    if (n->kind == OTTL_N_LIT)
        return n->lit.t == OTTL_STR ? "a string" : n->lit.t == OTTL_BOOL ? "a bool" : "nil";
    return n->kind == OTTL_N_LIST ? "a list" : n->kind == OTTL_N_MAP ? "a map" : "a condition";
}

static int parse_value_inner(struct parser *ps, struct ottl_node **out)
{
    const struct ottl_token *t = cur(ps);
    struct ottl_node *n;
    switch (t->kind) {
    case OTTL_T_STRING:
    case OTTL_T_INT:
    case OTTL_T_FLOAT:
        n = new_node(ps, OTTL_N_LIT, t->pos);
        if (n == NULL)
            return KT_ENOMEM;
        if (t->kind == OTTL_T_STRING) {
            n->lit.t = OTTL_STR;
            n->lit.s.p = t->s;
            n->lit.s.n = t->n;
        } else if (t->kind == OTTL_T_INT) {
            n->lit.t = OTTL_INT;
            n->lit.i = t->i;
        } else {
            n->lit.t = OTTL_DOUBLE;
            n->lit.d = t->d;
        }
        ps->i++;
        *out = n;
        return 0;
    case OTTL_T_MINUS: {
        /* A number's sign is folded into the literal, as the Collector does; anything else
         * arithmetic takes is negated when evaluated. */
        const struct ottl_token *num = &ps->t[ps->i + 1];
        if (num->kind == OTTL_T_INT || num->kind == OTTL_T_FLOAT) {
            n = new_node(ps, OTTL_N_LIT, t->pos);
            if (n == NULL)
                return KT_ENOMEM;
            if (num->kind == OTTL_T_INT) {
                n->lit.t = OTTL_INT;
                n->lit.i = (int64_t)(0 - (uint64_t)num->i);
            } else {
                n->lit.t = OTTL_DOUBLE;
                n->lit.d = -num->d;
            }
            ps->i += 2;
            *out = n;
            return 0;
        }
        n = new_node(ps, OTTL_N_NEG, t->pos);
        if (n == NULL)
            return KT_ENOMEM;
        ps->i++;
        int rc = parse_value(ps, &n->bin.l);
        if (rc != 0)
            return rc;
        if (!is_arith_operand(n->bin.l))
            return ottl_syntax_error(ps->err, ps->src, t->pos,
                                     "'-' takes a number, a path, a converter or (...)");
        *out = n;
        return 0;
    }
    case OTTL_T_LBRACK:
    case OTTL_T_LBRACE: return parse_list(ps, out);
    case OTTL_T_LPAREN: {
        /* '(' holds a condition, "(a or b) and c", or arithmetic, "(a + b) * 2": what it
         * holds is checked where it is used (want_bool, is_arith_operand). */
        ps->i++;
        int rc = parse_or(ps, out);
        if (rc != 0)
            return rc;
        if (cur(ps)->kind != OTTL_T_RPAREN)
            return expected(ps, cur(ps), "')'");
        ps->i++;
        return 0;
    }
    case OTTL_T_IDENT: break;
    default: return expected(ps, t, "a value");
    }
    if (ps->t[ps->i + 1].kind == OTTL_T_LPAREN)
        return parse_call(ps, out);
    if (is_keyword(t))
        return expected(ps, t, "a value");
    if (ident_is(t, "true") || ident_is(t, "false") || ident_is(t, "nil")) {
        n = new_node(ps, OTTL_N_LIT, t->pos);
        if (n == NULL)
            return KT_ENOMEM;
        if (ident_is(t, "nil")) {
            n->lit.t = OTTL_NIL;
        } else {
            n->lit.t = OTTL_BOOL;
            n->lit.b = ident_is(t, "true");
        }
        ps->i++;
        *out = n;
        return 0;
    }
    for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
        if (ident_is(t, enums[i].name)) {
            n = new_node(ps, OTTL_N_LIT, t->pos);
            if (n == NULL)
                return KT_ENOMEM;
            n->lit.t = OTTL_INT;
            n->lit.i = enums[i].value;
            ps->i++;
            *out = n;
            return 0;
        }
    }
    if (t->n > 0 && t->s[0] >= 'A' && t->s[0] <= 'Z' && ps->t[ps->i + 1].kind != OTTL_T_DOT)
        return ottl_syntax_error(ps->err, ps->src, t->pos, "unknown enum '%.*s'", (int)t->n, t->s);
    return parse_path(ps, out);
}

static int parse_value(struct parser *ps, struct ottl_node **out)
{
    if (++ps->depth > OTTL_MAX_DEPTH)
        return ottl_syntax_error(ps->err, ps->src, cur(ps)->pos, "nested deeper than %d",
                                 OTTL_MAX_DEPTH);
    int rc = parse_value_inner(ps, out);
    ps->depth--;
    return rc;
}

static int arith_op(enum ottl_tok k)
{
    switch (k) {
    case OTTL_T_PLUS: return '+';
    case OTTL_T_MINUS: return '-';
    case OTTL_T_STAR: return '*';
    case OTTL_T_SLASH: return '/';
    default: return 0;
    }
}

/* One level of arithmetic: operands from sub joined by the operators in ops, left to right. */
static int parse_arith(struct parser *ps, struct ottl_node **out, const char *ops,
                       int (*sub)(struct parser *, struct ottl_node **))
{
    struct ottl_node *l;
    int rc = sub(ps, &l);
    if (rc != 0)
        return rc;
    int op;
    while ((op = arith_op(cur(ps)->kind)) != 0 && strchr(ops, op) != NULL) {
        const struct ottl_token *opt = cur(ps);
        if (!is_arith_operand(l))
            return ottl_syntax_error(ps->err, ps->src, opt->pos,
                                     "'%c' takes numbers, paths, converters or (...), not %s", op,
                                     operand_text(l));
        ps->i++;
        struct ottl_node *n = new_node(ps, OTTL_N_MATH, l->pos);
        if (n == NULL)
            return KT_ENOMEM;
        n->bin.l = l;
        n->bin.arith = (char)op;
        if ((rc = sub(ps, &n->bin.r)) != 0)
            return rc;
        if (!is_arith_operand(n->bin.r))
            return ottl_syntax_error(ps->err, ps->src, n->bin.r->pos,
                                     "'%c' takes numbers, paths, converters or (...), not %s", op,
                                     operand_text(n->bin.r));
        l = n;
    }
    *out = l;
    return 0;
}

static int parse_term(struct parser *ps, struct ottl_node **out)
{
    return parse_arith(ps, out, "*/", parse_value);
}

/* A value with arithmetic: '*' and '/' bind tighter than '+' and '-', as in the Collector's
 * grammar. */
static int parse_math(struct parser *ps, struct ottl_node **out)
{
    return parse_arith(ps, out, "+-", parse_term);
}

static bool is_boolean(const struct ottl_node *n)
{
    switch (n->kind) {
    case OTTL_N_LIT: return n->lit.t == OTTL_BOOL;
    case OTTL_N_CALL:
    case OTTL_N_AND:
    case OTTL_N_OR:
    case OTTL_N_NOT:
    case OTTL_N_CMP: return true;
    default: return false;
    }
}

/* A condition is needed here (an operand of and, or, not; a whole condition or where
 * clause): n must be one. */
static int want_bool(struct parser *ps, const struct ottl_node *n)
{
    if (is_boolean(n))
        return 0;
    return ottl_syntax_error(ps->err, ps->src, n->pos,
                             "expected a condition (a comparison, true, false or a "
                             "converter such as IsMatch), got %s",
                             n->kind == OTTL_N_PATH                            ? "a path alone"
                             : n->kind == OTTL_N_LIST                          ? "a list"
                             : n->kind == OTTL_N_MAP                           ? "a map"
                             : n->kind == OTTL_N_MATH || n->kind == OTTL_N_NEG ? "arithmetic alone"
                                                                               : "a value alone");
}

static int cmp_op(enum ottl_tok k, enum ottl_cmp *op)
{
    switch (k) {
    case OTTL_T_EQ: *op = OTTL_CMP_EQ; return 1;
    case OTTL_T_NE: *op = OTTL_CMP_NE; return 1;
    case OTTL_T_LT: *op = OTTL_CMP_LT; return 1;
    case OTTL_T_LE: *op = OTTL_CMP_LE; return 1;
    case OTTL_T_GT: *op = OTTL_CMP_GT; return 1;
    case OTTL_T_GE: *op = OTTL_CMP_GE; return 1;
    default: return 0;
    }
}

static int parse_cmp(struct parser *ps, struct ottl_node **out)
{
    struct ottl_node *l;
    int rc = parse_math(ps, &l);
    if (rc != 0)
        return rc;
    enum ottl_cmp op;
    const struct ottl_token *opt = cur(ps);
    if (!cmp_op(opt->kind, &op)) {
        if (opt->kind == OTTL_T_ASSIGN)
            return ottl_syntax_error(ps->err, ps->src, opt->pos,
                                     "expected a comparison operator, got '=' (equality is "
                                     "written '==')");
        /* A value alone: a condition only if it is boolean (want_bool decides where). */
        *out = l;
        return 0;
    }
    ps->i++;
    const struct ottl_token *rt = cur(ps);
    if (rt->kind == OTTL_T_EOF) {
        char what[32];
        snprintf(what, sizeof(what), "a value after %s",
                 op == OTTL_CMP_EQ   ? "'=='"
                 : op == OTTL_CMP_NE ? "'!='"
                 : op == OTTL_CMP_LT ? "'<'"
                 : op == OTTL_CMP_LE ? "'<='"
                 : op == OTTL_CMP_GT ? "'>'"
                                     : "'>='");
        return expected(ps, rt, what);
    }
    struct ottl_node *r;
    rc = parse_math(ps, &r);
    if (rc != 0)
        return rc;
    struct ottl_node *n = new_node(ps, OTTL_N_CMP, opt->pos);
    if (n == NULL)
        return KT_ENOMEM;
    n->bin.l = l;
    n->bin.r = r;
    n->bin.op = op;
    if (cmp_op(cur(ps)->kind, &op))
        return ottl_syntax_error(ps->err, ps->src, cur(ps)->pos,
                                 "comparisons do not chain; join them with 'and'");
    *out = n;
    return 0;
}

static int parse_not(struct parser *ps, struct ottl_node **out)
{
    if (!ident_is(cur(ps), "not"))
        return parse_cmp(ps, out);
    struct ottl_node *n = new_node(ps, OTTL_N_NOT, cur(ps)->pos);
    if (n == NULL)
        return KT_ENOMEM;
    ps->i++;
    if (++ps->depth > OTTL_MAX_DEPTH)
        return ottl_syntax_error(ps->err, ps->src, cur(ps)->pos, "nested deeper than %d",
                                 OTTL_MAX_DEPTH);
    int rc = parse_not(ps, &n->bin.l);
    ps->depth--;
    if (rc != 0 || (rc = want_bool(ps, n->bin.l)) != 0)
        return rc;
    *out = n;
    return 0;
}

static int parse_binary(struct parser *ps, struct ottl_node **out, const char *kw,
                        enum ottl_nkind kind, int (*sub)(struct parser *, struct ottl_node **))
{
    struct ottl_node *l;
    int rc = sub(ps, &l);
    if (rc != 0)
        return rc;
    while (ident_is(cur(ps), kw)) {
        if ((rc = want_bool(ps, l)) != 0)
            return rc;
        struct ottl_node *n = new_node(ps, kind, cur(ps)->pos);
        if (n == NULL)
            return KT_ENOMEM;
        ps->i++;
        n->bin.l = l;
        rc = sub(ps, &n->bin.r);
        if (rc != 0 || (rc = want_bool(ps, n->bin.r)) != 0)
            return rc;
        l = n;
    }
    *out = l;
    return 0;
}

static int parse_and(struct parser *ps, struct ottl_node **out)
{
    return parse_binary(ps, out, "and", OTTL_N_AND, parse_not);
}

static int parse_or(struct parser *ps, struct ottl_node **out)
{
    return parse_binary(ps, out, "or", OTTL_N_OR, parse_and);
}

/* The contexts of c's telemetry kind: span and spanevent, metric and datapoint, or c. */
static unsigned kind_bits(int c)
{
    unsigned span = OTTL_CTX_BIT(OTTL_CTX_SPAN) | OTTL_CTX_BIT(OTTL_CTX_SPANEVENT);
    unsigned metric = OTTL_CTX_BIT(OTTL_CTX_METRIC) | OTTL_CTX_BIT(OTTL_CTX_DATAPOINT);
    return (span >> c) & 1u ? span : (metric >> c) & 1u ? metric : OTTL_CTX_BIT(c);
}

/* The most specific context named wins; telemetry kinds may not mix (a message names the
 * function that brings one in: extract_sum_metric with log paths). */
static int resolve_ctx(struct parser *ps, enum ottl_context *out)
{
    unsigned m = ps->ctx_mask;
    const char *kinds[3];
    int nk = 0;
    if (m & (OTTL_CTX_BIT(OTTL_CTX_SPAN) | OTTL_CTX_BIT(OTTL_CTX_SPANEVENT)))
        kinds[nk++] = (m & OTTL_CTX_BIT(OTTL_CTX_SPAN)) ? "span" : "spanevent";
    if (m & (OTTL_CTX_BIT(OTTL_CTX_METRIC) | OTTL_CTX_BIT(OTTL_CTX_DATAPOINT)))
        kinds[nk++] = (m & OTTL_CTX_BIT(OTTL_CTX_METRIC)) ? "metric" : "datapoint";
    if (m & OTTL_CTX_BIT(OTTL_CTX_LOG))
        kinds[nk++] = "log";
    const struct ottl_func *fn = ps->p->ctx_fn;
    if (nk > 1 && fn != NULL) {
        unsigned other = m & ~kind_bits(fn->ctx) &
                         ~(OTTL_CTX_BIT(OTTL_CTX_RESOURCE) | OTTL_CTX_BIT(OTTL_CTX_SCOPE));
        for (int i = OTTL_CTX_LOG; other != 0 && i >= OTTL_CTX_SPAN; i--)
            if (other & OTTL_CTX_BIT(i))
                return kt_err_set(ps->err, KT_EINVAL,
                                  "cannot use %s, a %s function, with %s paths in '%s'", fn->name,
                                  ottl_context_name((enum ottl_context)fn->ctx),
                                  ottl_context_name((enum ottl_context)i), ps->src);
    }
    if (nk > 1)
        return kt_err_set(ps->err, KT_EINVAL,
                          "cannot mix %s and %s paths in one expression in '%s'", kinds[0],
                          kinds[1], ps->src);
    enum ottl_context c = OTTL_CTX_RESOURCE;
    for (int i = OTTL_CTX_LOG; i >= OTTL_CTX_RESOURCE; i--) {
        if (m & OTTL_CTX_BIT(i)) {
            c = (enum ottl_context)i;
            break;
        }
    }
    /* A cache belongs to the transform context of the items a statement runs on (the
     * group's context, else the inferred one): another context's is refused, as there. */
    enum ottl_context run = c;
    if (ps->in_ctx != NULL)
        ottl_context_parse(ps->in_ctx, &run);
    if (ps->cache_mask & ~OTTL_CTX_BIT(run)) {
        enum ottl_context other = OTTL_CTX_RESOURCE;
        while (!(ps->cache_mask & ~OTTL_CTX_BIT(run) & OTTL_CTX_BIT(other)))
            other++;
        return kt_err_set(
            ps->err, KT_EINVAL, "%s.cache is only in %s statements, this one runs on %s in '%s'",
            ottl_context_name(other), ottl_context_name(other), ottl_context_name(run), ps->src);
    }
    *out = c;
    return 0;
}

static int check_nodes(struct parser *ps, const struct ottl_node *n, bool top, bool msg_ok);

static int prog_start(struct ottl_prog *p, struct parser *ps, const char *src, struct kt_err *err)
{
    kt_arena_init(&p->arena, NULL, 0);
    memset(ps, 0, sizeof(*ps));
    ps->p = p;
    ps->err = err;
    p->src = kt_arena_strndup(&p->arena, src, strlen(src));
    if (p->src == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    ps->src = p->src;
    struct ottl_token *toks;
    int rc = ottl_lex(p->src, &p->arena, &toks, &ps->n, err);
    if (rc != 0)
        return rc;
    ps->t = toks;
    if (ps->t[0].kind == OTTL_T_EOF)
        return ottl_syntax_error(err, ps->src, 0, "expected an expression, got end of input");
    return 0;
}

static void prog_free(struct ottl_prog *p)
{
    for (struct ottl_regex *r = p->regexes; r != NULL; r = r->next) {
        pcre2_match_data_free(r->md);
        pcre2_code_free(r->code);
    }
    p->regexes = NULL;
    kt_arena_free(&p->arena);
}

static int condition_parse(const char *src, const char *in_ctx, struct ottl_condition **out,
                           struct kt_err *err)
{
    *out = NULL;
    struct ottl_condition *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    struct parser ps;
    int rc = prog_start(&c->p, &ps, src, err);
    ps.in_ctx = in_ctx;
    if (rc == 0)
        rc = parse_or(&ps, &c->root);
    if (rc == 0)
        rc = want_bool(&ps, c->root);
    if (rc == 0 && cur(&ps)->kind != OTTL_T_EOF) {
        if (ident_is(cur(&ps), "where"))
            rc = ottl_syntax_error(err, ps.src, cur(&ps)->pos,
                                   "'where' belongs in statements, not conditions");
        else
            rc = expected(&ps, cur(&ps), "'and', 'or' or end of input");
    }
    if (rc == 0 && c->root->kind == OTTL_N_CALL && c->root->call.fn->editor)
        rc = ottl_syntax_error(err, ps.src, 0, "%s is an editor; conditions use converters",
                               c->root->call.fn->name);
    if (rc == 0)
        rc = check_nodes(&ps, c->root, false, false);
    if (rc == 0)
        rc = resolve_ctx(&ps, &c->p.ctx);
    if (rc != 0) {
        ottl_condition_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

enum ottl_context ottl_condition_context(const struct ottl_condition *c)
{
    return c->p.ctx;
}

static ottl_fields node_fields(const struct ottl_node *n)
{
    if (n == NULL)
        return 0;
    switch (n->kind) {
    case OTTL_N_PATH: return OTTL_FIELD(n->path.def->id);
    case OTTL_N_CALL: {
        ottl_fields f = n->call.fn->reads;
        for (size_t i = 0; i < n->call.n_args; i++)
            f |= n->call.args[i] != NULL ? node_fields(n->call.args[i]) : 0;
        return f;
    }
    case OTTL_N_LIST:
    case OTTL_N_MAP: {
        ottl_fields f = 0;
        for (size_t i = 0; i < n->list.n; i++)
            f |= node_fields(n->list.items[i]);
        return f;
    }
    case OTTL_N_AND:
    case OTTL_N_OR:
    case OTTL_N_CMP:
    case OTTL_N_MATH: return node_fields(n->bin.l) | node_fields(n->bin.r);
    case OTTL_N_NOT:
    case OTTL_N_NEG: return node_fields(n->bin.l);
    case OTTL_N_LIT: return 0;
    }
    return 0;
}

ottl_fields ottl_condition_fields(const struct ottl_condition *c)
{
    return node_fields(c->root);
}

static bool keyed_span_attrs(const struct ottl_node *n)
{
    if (n == NULL)
        return true;
    switch (n->kind) {
    case OTTL_N_PATH: return n->path.def->id != OTTL_P_SPAN_ATTRS || n->path.key != NULL;
    case OTTL_N_CALL:
        if (n->call.fn->reads & OTTL_FIELD(OTTL_P_SPAN_ATTRS))
            return false;
        for (size_t i = 0; i < n->call.n_args; i++)
            if (!keyed_span_attrs(n->call.args[i]))
                return false;
        return true;
    case OTTL_N_LIST:
    case OTTL_N_MAP:
        for (size_t i = 0; i < n->list.n; i++)
            if (!keyed_span_attrs(n->list.items[i]))
                return false;
        return true;
    case OTTL_N_AND:
    case OTTL_N_OR:
    case OTTL_N_CMP:
    case OTTL_N_MATH: return keyed_span_attrs(n->bin.l) && keyed_span_attrs(n->bin.r);
    case OTTL_N_NOT:
    case OTTL_N_NEG: return keyed_span_attrs(n->bin.l);
    case OTTL_N_LIT: return true;
    }
    return false;
}

bool ottl_condition_keyed_span_attrs(const struct ottl_condition *c)
{
    return keyed_span_attrs(c->root);
}

ottl_fields ottl_statement_fields(const struct ottl_statement *s)
{
    return node_fields(s->call) | node_fields(s->where);
}

bool ottl_statement_span_attr_write(const struct ottl_statement *s, const char **key,
                                    size_t *keylen)
{
    const struct ottl_node *c = s->call;
    if (c == NULL || c->kind != OTTL_N_CALL || c->call.n_args != 2 || c->call.args[0] == NULL ||
        c->call.args[1] == NULL)
        return false;
    const struct ottl_node *target = c->call.args[0], *arg = c->call.args[1];
    if (target->kind != OTTL_N_PATH || target->path.def->id != OTTL_P_SPAN_ATTRS)
        return false;
    if (strcmp(c->call.fn->name, "set") == 0 && target->path.key != NULL) {
        *key = target->path.key;
        *keylen = target->path.keylen;
        return true;
    }
    if (strcmp(c->call.fn->name, "delete_key") == 0 && target->path.key == NULL &&
        arg->kind == OTTL_N_LIT && arg->lit.t == OTTL_STR) {
        *key = arg->lit.s.p;
        *keylen = arg->lit.s.n;
        return true;
    }
    return false;
}

bool ottl_statement_span_attr_edit(const struct ottl_statement *s, struct ottl_attr_edit *out)
{
    const char *key;
    size_t keylen;
    if (s->where != NULL || !ottl_statement_span_attr_write(s, &key, &keylen) ||
        memchr(key, '\0', keylen) != NULL)
        return false;
    *out = (struct ottl_attr_edit){.key = key, .keylen = keylen};
    const struct ottl_node *target = s->call->call.args[0], *arg = s->call->call.args[1];
    if (target->path.key == NULL) {
        out->kind = OTTL_EDIT_DELETE;
        return true;
    }
    if (target->path.n_more != 0 || arg->kind != OTTL_N_LIT)
        return false;
    const struct ottl_value *v = &arg->lit;
    switch (v->t) {
    case OTTL_STR:
        if (memchr(v->s.p, '\0', v->s.n) != NULL)
            return false;
        out->kind = OTTL_EDIT_SET_STR;
        out->s.p = v->s.p;
        out->s.n = v->s.n;
        return true;
    case OTTL_BOOL:
        out->kind = OTTL_EDIT_SET_BOOL;
        out->b = v->b;
        return true;
    case OTTL_INT:
        out->kind = OTTL_EDIT_SET_INT;
        out->i = v->i;
        return true;
    case OTTL_DOUBLE:
        out->kind = OTTL_EDIT_SET_DOUBLE;
        out->d = v->d;
        return true;
    default: return false;
    }
}

const char *ottl_condition_source(const struct ottl_condition *c)
{
    return c->p.src;
}

void ottl_condition_free(struct ottl_condition *c)
{
    if (c == NULL)
        return;
    prog_free(&c->p);
    free(c);
}

/* The functions a message value may be given: set copies it, Len counts a slice, the type
 * tests say what it is (a slice is a list, nothing else is anything). */
static const char *const msg_takers[] = {"set",   "Len",    "IsBool", "IsDouble",
                                         "IsInt", "IsList", "IsMap",  "IsString"};

/* What the grammar lets through but kotel refuses in a parsed tree: an editor anywhere but
 * at the top of a statement (converters go anywhere else); a message path (datapoint.exemplars)
 * anywhere the Collector cannot use its value, which is anywhere but a comparison or an
 * argument of msg_takers: other functions would each see a type they do not know (the
 * Collector's String and Concat write pdata's wrappers as "{}"), so kotel refuses them,
 * naming the path. msg_ok: n may be a message path. */
static int check_nodes(struct parser *ps, const struct ottl_node *n, bool top, bool msg_ok)
{
    switch (n->kind) {
    case OTTL_N_PATH:
        if ((n->path.def->flags & OTTL_PF_MSG) && !msg_ok)
            return ottl_syntax_error(ps->err, ps->src, n->pos,
                                     "%s is a message: kotel compares it, sets it, counts it "
                                     "with Len or tests its type (IsList ...), nothing else",
                                     n->path.def->name);
        return 0;
    case OTTL_N_CALL: {
        if (n->call.fn->editor && !top)
            return ottl_syntax_error(ps->err, ps->src, n->pos,
                                     "%s is an editor and cannot be used as a value",
                                     n->call.fn->name);
        bool takes = false;
        for (size_t i = 0; i < sizeof(msg_takers) / sizeof(msg_takers[0]); i++)
            takes |= strcmp(n->call.fn->name, msg_takers[i]) == 0;
        for (size_t i = 0; i < n->call.n_args; i++) {
            if (n->call.args[i] == NULL)
                continue;
            int rc = check_nodes(ps, n->call.args[i], false, takes);
            if (rc != 0)
                return rc;
        }
        return 0;
    }
    case OTTL_N_LIST:
    case OTTL_N_MAP:
        for (size_t i = 0; i < n->list.n; i++) {
            int rc = check_nodes(ps, n->list.items[i], false, false);
            if (rc != 0)
                return rc;
        }
        return 0;
    case OTTL_N_AND:
    case OTTL_N_OR:
    case OTTL_N_CMP:
    case OTTL_N_MATH: {
        bool cmp = n->kind == OTTL_N_CMP;
        int rc = check_nodes(ps, n->bin.l, false, cmp);
        return rc != 0 ? rc : check_nodes(ps, n->bin.r, false, cmp);
    }
    case OTTL_N_NOT:
    case OTTL_N_NEG: return check_nodes(ps, n->bin.l, false, false);
    default: return 0;
    }
}

static int parse_statement(struct parser *ps, struct ottl_statement *s)
{
    const struct ottl_token *t = cur(ps);
    if (t->kind != OTTL_T_IDENT || ps->t[ps->i + 1].kind != OTTL_T_LPAREN)
        return expected(ps, t, "an editor call such as set(...)");
    int rc = parse_call(ps, &s->call);
    if (rc != 0)
        return rc;
    if (!s->call->call.fn->editor) {
        char names[240]; /* so that the message fits ottl_syntax_error's 320 bytes */
        func_names(true, names, sizeof(names));
        return ottl_syntax_error(ps->err, ps->src, t->pos,
                                 "%s is a converter; a statement starts with an editor (%s)",
                                 s->call->call.fn->name, names);
    }
    rc = check_nodes(ps, s->call, true, false);
    if (rc != 0)
        return rc;
    if (ident_is(cur(ps), "where")) {
        ps->i++;
        rc = parse_or(ps, &s->where);
        if (rc == 0)
            rc = want_bool(ps, s->where);
        if (rc == 0)
            rc = check_nodes(ps, s->where, false, false);
        if (rc != 0)
            return rc;
    }
    if (cur(ps)->kind != OTTL_T_EOF)
        return expected(ps, cur(ps),
                        s->where ? "'and', 'or' or end of input" : "'where' or end of input");
    return 0;
}

/* The metric and data point functions exist in their context only, as the Collector
 * registers each in one: a datapoint statement may read metric paths, but it cannot run
 * extract_sum_metric, nor a metric statement convert_summary_sum_val_to_sum. at: the context
 * the statement resolved to, or its group's. */
static int check_fn_ctx(const struct parser *ps, enum ottl_context at)
{
    const struct ottl_func *fn = ps->p->ctx_fn;
    if (ps->in_ctx != NULL)
        (void)ottl_context_parse(ps->in_ctx, &at);
    if (fn == NULL || (fn->ctx != OTTL_CTX_METRIC && fn->ctx != OTTL_CTX_DATAPOINT) ||
        (int)at == fn->ctx)
        return 0;
    return kt_err_set(
        ps->err, KT_EINVAL, "%s is a %s function: it cannot run in a %s statement in '%s'",
        fn->name, ottl_context_name((enum ottl_context)fn->ctx), ottl_context_name(at), ps->src);
}

static int statement_parse(const char *src, const char *in_ctx, struct ottl_statement **out,
                           struct kt_err *err)
{
    *out = NULL;
    struct ottl_statement *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    struct parser ps;
    int rc = prog_start(&s->p, &ps, src, err);
    ps.in_ctx = in_ctx;
    if (rc == 0)
        rc = parse_statement(&ps, s);
    if (rc == 0)
        rc = resolve_ctx(&ps, &s->p.ctx);
    if (rc == 0)
        rc = check_fn_ctx(&ps, s->p.ctx);
    if (rc != 0) {
        ottl_statement_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

enum ottl_context ottl_statement_context(const struct ottl_statement *s)
{
    return s->p.ctx;
}

bool ottl_statement_path_context(const struct ottl_statement *s)
{
    return s->p.path_ctx;
}

const char *ottl_statement_context_func(const struct ottl_statement *s, enum ottl_context *ctx)
{
    if (s->p.ctx_fn == NULL)
        return NULL;
    *ctx = (enum ottl_context)s->p.ctx_fn->ctx;
    return s->p.ctx_fn->name;
}

const char *ottl_statement_source(const struct ottl_statement *s)
{
    return s->p.src;
}

void ottl_statement_free(struct ottl_statement *s)
{
    if (s == NULL)
        return;
    prog_free(&s->p);
    free(s);
}

int ottl_condition_parse(const char *src, struct ottl_condition **out, struct kt_err *err)
{
    return condition_parse(src, NULL, out, err);
}

int ottl_condition_parse_in(const char *src, enum ottl_context ctx, struct ottl_condition **out,
                            struct kt_err *err)
{
    return condition_parse(src, ottl_context_name(ctx), out, err);
}

int ottl_statement_parse(const char *src, struct ottl_statement **out, struct kt_err *err)
{
    return statement_parse(src, NULL, out, err);
}

int ottl_statement_parse_in(const char *src, enum ottl_context ctx, struct ottl_statement **out,
                            struct kt_err *err)
{
    return statement_parse(src, ottl_context_name(ctx), out, err);
}
