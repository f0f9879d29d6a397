#include "transform.h"

#include <stdlib.h>
#include <string.h>

#include "ottl/ottl_int.h"

typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;

struct stmt_list {
    struct ottl_statement **v;
    size_t n;
};

struct transform {
    int error_mode;
    struct stmt_list sig[KT_SIGNAL_COUNT];
    struct ottl_ratelimit rl;
};

static const char *const keys[KT_SIGNAL_COUNT] = {"trace_statements", "metric_statements",
                                                  "log_statements"};

static const char *const allowed[KT_SIGNAL_COUNT] = {"resource, scope, span and spanevent",
                                                     "resource, scope, metric and datapoint",
                                                     "resource, scope and log"};

static int add(struct transform *t, enum kt_signal sig, const char *src, struct kt_err *err)
{
    struct ottl_statement *s;
    int rc = ottl_statement_parse(src, &s, err);
    if (rc != 0)
        return kt_err_prefix(err, "[transform] %s: ", keys[sig]);
    enum ottl_context ctx = ottl_statement_context(s);
    if (!ottl_context_valid(ctx, sig)) {
        ottl_statement_free(s);
        return kt_err_set(err, KT_EINVAL, "[transform] %s: '%s' uses %s paths; %s may use %s paths",
                          keys[sig], src, ottl_context_name(ctx), keys[sig], allowed[sig]);
    }
    struct stmt_list *l = &t->sig[sig];
    struct ottl_statement **v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (v == NULL) {
        ottl_statement_free(s);
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    v[l->n++] = s;
    l->v = v;
    return 0;
}

int transform_new(const struct process_conf *conf, struct transform **out, struct kt_err *err)
{
    *out = NULL;
    struct transform *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    t->error_mode = conf->transform.error_mode;
    const struct kt_strlist *lists[KT_SIGNAL_COUNT] = {&conf->transform.trace_statements,
                                                       &conf->transform.metric_statements,
                                                       &conf->transform.log_statements};
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        for (size_t i = 0; i < lists[s]->n; i++) {
            int rc = add(t, (enum kt_signal)s, lists[s]->v[i], err);
            if (rc != 0) {
                transform_free(t);
                return rc;
            }
        }
    }
    *out = t;
    return 0;
}

bool transform_active(const struct transform *t, enum kt_signal sig)
{
    return t != NULL && (unsigned)sig < KT_SIGNAL_COUNT && t->sig[sig].n > 0;
}

ottl_fields transform_fields(const struct transform *t, enum kt_signal sig)
{
    ottl_fields fields = 0;
    for (size_t i = 0; i < t->sig[sig].n; i++)
        fields |= ottl_statement_fields(t->sig[sig].v[i]);
    return fields;
}

void transform_free(struct transform *t)
{
    if (t == NULL)
        return;
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        for (size_t i = 0; i < t->sig[s].n; i++)
            ottl_statement_free(t->sig[s].v[i]);
        free(t->sig[s].v);
    }
    free(t);
}

/* One run of consecutive statements sharing a context: [first, first + n). */
struct group {
    struct transform *t;
    enum kt_signal sig;
    struct ottl_statement *const *v;
    size_t n;
};

static int run(const struct group *g, struct ottl_tctx *tc, struct kt_err *err)
{
    for (size_t i = 0; i < g->n; i++) {
        struct kt_err why = {0};
        int rc = ottl_statement_exec(g->v[i], tc, &why);
        if (rc != 0) {
            rc = ottl_handle_error(g->t->error_mode, &g->t->rl, rc, "transform", keys[g->sig],
                                   ottl_statement_source(g->v[i]), &why, err);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Absent resources and scopes are created, so statements can write to them. */
static int ensure_resource(Resource **r, struct kt_arena *a, struct kt_err *err)
{
    if (*r != NULL)
        return 0;
    Resource *n = kt_arena_alloc(a, sizeof(*n));
    if (n == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    Resource init = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    *n = init;
    *r = n;
    return 0;
}

static int ensure_scope(Scope **s, struct kt_arena *a, struct kt_err *err)
{
    if (*s != NULL)
        return 0;
    Scope *n = kt_arena_alloc(a, sizeof(*n));
    if (n == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    Scope init = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    *n = init;
    *s = n;
    return 0;
}

/* Calls fn once per statement group of the signal, in order. */
static int each_group(struct transform *t, enum kt_signal sig,
                      int (*fn)(const struct group *g, enum ottl_context ctx, void *data,
                                struct kt_arena *a, struct kt_err *err),
                      void *data, struct kt_arena *a, struct kt_err *err)
{
    const struct stmt_list *l = &t->sig[sig];
    size_t i = 0;
    while (i < l->n) {
        enum ottl_context ctx = ottl_statement_context(l->v[i]);
        size_t j = i + 1;
        while (j < l->n && ottl_statement_context(l->v[j]) == ctx)
            j++;
        struct group g = {t, sig, l->v + i, j - i};
        int rc = fn(&g, ctx, data, a, err);
        if (rc != 0)
            return rc;
        i = j;
    }
    return 0;
}

/* ---- traces ---- */

static int traces_group(const struct group *g, enum ottl_context ctx, void *data,
                        struct kt_arena *a, struct kt_err *err)
{
    Opentelemetry__Proto__Trace__V1__TracesData *td = data;
    int rc;
    for (size_t ri = 0; ri < td->n_resource_spans; ri++) {
        Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = td->resource_spans[ri];
        if ((rc = ensure_resource(&rs->resource, a, err)) != 0)
            return rc;
        struct ottl_tctx tc = {.arena = a, .resource = rs->resource};
        if (ctx == OTTL_CTX_RESOURCE) {
            if ((rc = run(g, &tc, err)) != 0)
                return rc;
            continue;
        }
        for (size_t si = 0; si < rs->n_scope_spans; si++) {
            Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[si];
            if ((rc = ensure_scope(&ss->scope, a, err)) != 0)
                return rc;
            tc.scope = ss->scope;
            if (ctx == OTTL_CTX_SCOPE) {
                if ((rc = run(g, &tc, err)) != 0)
                    return rc;
                continue;
            }
            for (size_t pi = 0; pi < ss->n_spans; pi++) {
                Opentelemetry__Proto__Trace__V1__Span *span = ss->spans[pi];
                tc.span = span;
                tc.spanevent = NULL;
                if (ctx == OTTL_CTX_SPAN) {
                    if ((rc = run(g, &tc, err)) != 0)
                        return rc;
                    continue;
                }
                for (size_t ei = 0; ei < span->n_events; ei++) {
                    tc.spanevent = span->events[ei];
                    if ((rc = run(g, &tc, err)) != 0)
                        return rc;
                }
            }
        }
    }
    return 0;
}

int transform_traces(struct transform *t, Opentelemetry__Proto__Trace__V1__TracesData *td,
                     struct kt_arena *a, struct kt_err *err)
{
    if (!transform_active(t, KT_SIGNAL_TRACES))
        return 0;
    return each_group(t, KT_SIGNAL_TRACES, traces_group, td, a, err);
}

/* ---- metrics ---- */

static int metrics_group(const struct group *g, enum ottl_context ctx, void *data,
                         struct kt_arena *a, struct kt_err *err)
{
    Opentelemetry__Proto__Metrics__V1__MetricsData *md = data;
    int rc;
    for (size_t ri = 0; ri < md->n_resource_metrics; ri++) {
        Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = md->resource_metrics[ri];
        if ((rc = ensure_resource(&rm->resource, a, err)) != 0)
            return rc;
        struct ottl_tctx tc = {.arena = a, .resource = rm->resource};
        if (ctx == OTTL_CTX_RESOURCE) {
            if ((rc = run(g, &tc, err)) != 0)
                return rc;
            continue;
        }
        for (size_t si = 0; si < rm->n_scope_metrics; si++) {
            Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[si];
            if ((rc = ensure_scope(&sm->scope, a, err)) != 0)
                return rc;
            tc.scope = sm->scope;
            if (ctx == OTTL_CTX_SCOPE) {
                if ((rc = run(g, &tc, err)) != 0)
                    return rc;
                continue;
            }
            for (size_t mi = 0; mi < sm->n_metrics; mi++) {
                tc.metric = sm->metrics[mi];
                tc.datapoint = NULL;
                if (ctx == OTTL_CTX_METRIC) {
                    if ((rc = run(g, &tc, err)) != 0)
                        return rc;
                    continue;
                }
                ProtobufCMessage **pts;
                size_t *n;
                if (!ottl_metric_points(tc.metric, &pts, &n))
                    continue;
                for (size_t pi = 0; pi < *n; pi++) {
                    tc.datapoint = pts[pi];
                    if ((rc = run(g, &tc, err)) != 0)
                        return rc;
                }
            }
        }
    }
    return 0;
}

int transform_metrics(struct transform *t, Opentelemetry__Proto__Metrics__V1__MetricsData *md,
                      struct kt_arena *a, struct kt_err *err)
{
    if (!transform_active(t, KT_SIGNAL_METRICS))
        return 0;
    return each_group(t, KT_SIGNAL_METRICS, metrics_group, md, a, err);
}

/* ---- logs ---- */

static int logs_group(const struct group *g, enum ottl_context ctx, void *data, struct kt_arena *a,
                      struct kt_err *err)
{
    Opentelemetry__Proto__Logs__V1__LogsData *ld = data;
    int rc;
    for (size_t ri = 0; ri < ld->n_resource_logs; ri++) {
        Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = ld->resource_logs[ri];
        if ((rc = ensure_resource(&rl->resource, a, err)) != 0)
            return rc;
        struct ottl_tctx tc = {.arena = a, .resource = rl->resource};
        if (ctx == OTTL_CTX_RESOURCE) {
            if ((rc = run(g, &tc, err)) != 0)
                return rc;
            continue;
        }
        for (size_t si = 0; si < rl->n_scope_logs; si++) {
            Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = rl->scope_logs[si];
            if ((rc = ensure_scope(&sl->scope, a, err)) != 0)
                return rc;
            tc.scope = sl->scope;
            if (ctx == OTTL_CTX_SCOPE) {
                if ((rc = run(g, &tc, err)) != 0)
                    return rc;
                continue;
            }
            for (size_t li = 0; li < sl->n_log_records; li++) {
                tc.log = sl->log_records[li];
                if ((rc = run(g, &tc, err)) != 0)
                    return rc;
            }
        }
    }
    return 0;
}

int transform_logs(struct transform *t, Opentelemetry__Proto__Logs__V1__LogsData *ld,
                   struct kt_arena *a, struct kt_err *err)
{
    if (!transform_active(t, KT_SIGNAL_LOGS))
        return 0;
    return each_group(t, KT_SIGNAL_LOGS, logs_group, ld, a, err);
}
