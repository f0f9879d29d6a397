#include "filter.h"

#include <stdlib.h>
#include <string.h>

#include "ottl/ottl_int.h"

#define N_CTX (OTTL_CTX_LOG + 1)

typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;

struct cond_set {
    struct ottl_condition **v;
    size_t n;
};

struct filter {
    int error_mode;
    struct cond_set by[KT_SIGNAL_COUNT][N_CTX];
    bool active[KT_SIGNAL_COUNT];
    struct ottl_ratelimit rl;
};

static const char *const keys[KT_SIGNAL_COUNT] = {"trace_conditions", "metric_conditions",
                                                  "log_conditions"};

static const char *const allowed[KT_SIGNAL_COUNT] = {"resource, scope, span and spanevent",
                                                     "resource, scope, metric and datapoint",
                                                     "resource, scope and log"};

static int add(struct filter *f, enum kt_signal sig, const char *src, struct kt_err *err)
{
    struct ottl_condition *c;
    int rc = ottl_condition_parse(src, &c, err);
    if (rc != 0)
        return kt_err_prefix(err, "[filter] %s: ", keys[sig]);
    enum ottl_context ctx = ottl_condition_context(c);
    if (!ottl_context_valid(ctx, sig)) {
        ottl_condition_free(c);
        return kt_err_set(err, KT_EINVAL, "[filter] %s: '%s' uses %s paths; %s may use %s paths",
                          keys[sig], src, ottl_context_name(ctx), keys[sig], allowed[sig]);
    }
    struct cond_set *s = &f->by[sig][ctx];
    struct ottl_condition **v = realloc(s->v, (s->n + 1) * sizeof(*v));
    if (v == NULL) {
        ottl_condition_free(c);
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    v[s->n++] = c;
    s->v = v;
    f->active[sig] = true;
    return 0;
}

int filter_new(const struct process_conf *conf, struct filter **out, struct kt_err *err)
{
    *out = NULL;
    struct filter *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    f->error_mode = conf->filter.error_mode;
    const struct kt_strlist *lists[KT_SIGNAL_COUNT] = {&conf->filter.trace_conditions,
                                                       &conf->filter.metric_conditions,
                                                       &conf->filter.log_conditions};
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        for (size_t i = 0; i < lists[s]->n; i++) {
            int rc = add(f, (enum kt_signal)s, lists[s]->v[i], err);
            if (rc != 0) {
                filter_free(f);
                return rc;
            }
        }
    }
    *out = f;
    return 0;
}

bool filter_active(const struct filter *f, enum kt_signal sig)
{
    return f != NULL && (unsigned)sig < KT_SIGNAL_COUNT && f->active[sig];
}

ottl_fields filter_fields(const struct filter *f, enum kt_signal sig)
{
    ottl_fields fields = 0;
    for (int c = 0; c < N_CTX; c++)
        for (size_t i = 0; i < f->by[sig][c].n; i++)
            fields |= ottl_condition_fields(f->by[sig][c].v[i]);
    return fields;
}

void filter_free(struct filter *f)
{
    if (f == NULL)
        return;
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        for (int c = 0; c < N_CTX; c++) {
            for (size_t i = 0; i < f->by[s][c].n; i++)
                ottl_condition_free(f->by[s][c].v[i]);
            free(f->by[s][c].v);
        }
    }
    free(f);
}

/* Whether any condition of the context matches. A failing condition counts as not
 * matching unless error_mode is propagate, which returns the error. */
static int matches(struct filter *f, enum kt_signal sig, enum ottl_context ctx,
                   const struct ottl_tctx *t, bool *match, struct kt_err *err)
{
    const struct cond_set *s = &f->by[sig][ctx];
    *match = false;
    for (size_t i = 0; i < s->n; i++) {
        struct kt_err why = {0};
        bool m;
        int rc = ottl_condition_eval(s->v[i], t, &m, &why);
        if (rc != 0) {
            rc = ottl_handle_error(f->error_mode, &f->rl, rc, "filter", keys[sig],
                                   ottl_condition_source(s->v[i]), &why, err);
            if (rc != 0)
                return rc;
            continue;
        }
        if (m) {
            *match = true;
            return 0;
        }
    }
    return 0;
}

static bool has(const struct filter *f, enum kt_signal sig, enum ottl_context ctx)
{
    return f->by[sig][ctx].n > 0;
}

/* ---- traces ---- */

static size_t count_spans(const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs)
{
    size_t n = 0;
    for (size_t i = 0; i < rs->n_scope_spans; i++)
        n += rs->scope_spans[i]->n_spans;
    return n;
}

static int filter_span(struct filter *f, struct ottl_tctx *t, bool *drop, struct kt_err *err)
{
    enum kt_signal sig = KT_SIGNAL_TRACES;
    int rc = matches(f, sig, OTTL_CTX_SPAN, t, drop, err);
    if (rc != 0 || *drop || !has(f, sig, OTTL_CTX_SPANEVENT))
        return rc;
    Opentelemetry__Proto__Trace__V1__Span *span = t->span;
    size_t j = 0;
    for (size_t i = 0; i < span->n_events; i++) {
        bool m;
        t->spanevent = span->events[i];
        rc = matches(f, sig, OTTL_CTX_SPANEVENT, t, &m, err);
        if (rc != 0)
            break;
        if (!m)
            span->events[j++] = span->events[i];
    }
    t->spanevent = NULL;
    if (rc == 0)
        span->n_events = j;
    return rc;
}

int filter_traces(struct filter *f, Opentelemetry__Proto__Trace__V1__TracesData *td,
                  struct kt_arena *a, size_t *n_dropped, struct kt_err *err)
{
    enum kt_signal sig = KT_SIGNAL_TRACES;
    *n_dropped = 0;
    if (!filter_active(f, sig))
        return 0;
    /* Stand-ins for absent resource and scope, so their paths read as empty. */
    Resource no_res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    Scope no_scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    size_t rj = 0;
    for (size_t ri = 0; ri < td->n_resource_spans; ri++) {
        Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = td->resource_spans[ri];
        struct ottl_tctx t = {.arena = a, .resource = rs->resource ? rs->resource : &no_res};
        bool drop;
        int rc = matches(f, sig, OTTL_CTX_RESOURCE, &t, &drop, err);
        if (rc != 0)
            return rc;
        if (drop) {
            *n_dropped += count_spans(rs);
            continue;
        }
        size_t sj = 0;
        for (size_t si = 0; si < rs->n_scope_spans; si++) {
            Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[si];
            t.scope = ss->scope ? ss->scope : &no_scope;
            if ((rc = matches(f, sig, OTTL_CTX_SCOPE, &t, &drop, err)) != 0)
                return rc;
            if (drop) {
                *n_dropped += ss->n_spans;
                continue;
            }
            size_t pj = 0;
            for (size_t pi = 0; pi < ss->n_spans; pi++) {
                t.span = ss->spans[pi];
                if ((rc = filter_span(f, &t, &drop, err)) != 0)
                    return rc;
                if (drop)
                    (*n_dropped)++;
                else
                    ss->spans[pj++] = ss->spans[pi];
            }
            t.span = NULL;
            ss->n_spans = pj;
            if (pj > 0)
                rs->scope_spans[sj++] = ss;
        }
        rs->n_scope_spans = sj;
        if (sj > 0)
            td->resource_spans[rj++] = rs;
    }
    td->n_resource_spans = rj;
    return 0;
}

/* ---- metrics ---- */

static size_t count_points(Opentelemetry__Proto__Metrics__V1__Metric *m)
{
    ProtobufCMessage **pts;
    size_t *n;
    return ottl_metric_points(m, &pts, &n) ? *n : 0;
}

static int filter_metric(struct filter *f, struct ottl_tctx *t, bool *drop, size_t *n_dropped,
                         struct kt_err *err)
{
    enum kt_signal sig = KT_SIGNAL_METRICS;
    Opentelemetry__Proto__Metrics__V1__Metric *m = t->metric;
    int rc = matches(f, sig, OTTL_CTX_METRIC, t, drop, err);
    if (rc != 0)
        return rc;
    if (*drop) {
        *n_dropped += count_points(m);
        return 0;
    }
    ProtobufCMessage **pts;
    size_t *n;
    if (!has(f, sig, OTTL_CTX_DATAPOINT) || !ottl_metric_points(m, &pts, &n))
        return 0;
    size_t j = 0;
    for (size_t i = 0; i < *n; i++) {
        bool dm;
        t->datapoint = pts[i];
        rc = matches(f, sig, OTTL_CTX_DATAPOINT, t, &dm, err);
        if (rc != 0)
            break;
        if (dm)
            (*n_dropped)++;
        else
            pts[j++] = pts[i];
    }
    t->datapoint = NULL;
    if (rc != 0)
        return rc;
    /* A metric whose every point was dropped goes too, as in the Collector. */
    *drop = *n > 0 && j == 0;
    *n = j;
    return 0;
}

int filter_metrics(struct filter *f, Opentelemetry__Proto__Metrics__V1__MetricsData *md,
                   struct kt_arena *a, size_t *n_dropped, struct kt_err *err)
{
    enum kt_signal sig = KT_SIGNAL_METRICS;
    *n_dropped = 0;
    if (!filter_active(f, sig))
        return 0;
    Resource no_res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    Scope no_scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    size_t rj = 0;
    for (size_t ri = 0; ri < md->n_resource_metrics; ri++) {
        Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = md->resource_metrics[ri];
        struct ottl_tctx t = {.arena = a, .resource = rm->resource ? rm->resource : &no_res};
        bool drop;
        int rc = matches(f, sig, OTTL_CTX_RESOURCE, &t, &drop, err);
        if (rc != 0)
            return rc;
        if (drop) {
            for (size_t si = 0; si < rm->n_scope_metrics; si++)
                for (size_t mi = 0; mi < rm->scope_metrics[si]->n_metrics; mi++)
                    *n_dropped += count_points(rm->scope_metrics[si]->metrics[mi]);
            continue;
        }
        size_t sj = 0;
        for (size_t si = 0; si < rm->n_scope_metrics; si++) {
            Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[si];
            t.scope = sm->scope ? sm->scope : &no_scope;
            if ((rc = matches(f, sig, OTTL_CTX_SCOPE, &t, &drop, err)) != 0)
                return rc;
            if (drop) {
                for (size_t mi = 0; mi < sm->n_metrics; mi++)
                    *n_dropped += count_points(sm->metrics[mi]);
                continue;
            }
            size_t mj = 0;
            for (size_t mi = 0; mi < sm->n_metrics; mi++) {
                t.metric = sm->metrics[mi];
                if ((rc = filter_metric(f, &t, &drop, n_dropped, err)) != 0)
                    return rc;
                if (!drop)
                    sm->metrics[mj++] = sm->metrics[mi];
            }
            t.metric = NULL;
            sm->n_metrics = mj;
            if (mj > 0)
                rm->scope_metrics[sj++] = sm;
        }
        rm->n_scope_metrics = sj;
        if (sj > 0)
            md->resource_metrics[rj++] = rm;
    }
    md->n_resource_metrics = rj;
    return 0;
}

/* ---- logs ---- */

int filter_logs(struct filter *f, Opentelemetry__Proto__Logs__V1__LogsData *ld, struct kt_arena *a,
                size_t *n_dropped, struct kt_err *err)
{
    enum kt_signal sig = KT_SIGNAL_LOGS;
    *n_dropped = 0;
    if (!filter_active(f, sig))
        return 0;
    Resource no_res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    Scope no_scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    size_t rj = 0;
    for (size_t ri = 0; ri < ld->n_resource_logs; ri++) {
        Opentelemetry__Proto__Logs__V1__ResourceLogs *rl = ld->resource_logs[ri];
        struct ottl_tctx t = {.arena = a, .resource = rl->resource ? rl->resource : &no_res};
        bool drop;
        int rc = matches(f, sig, OTTL_CTX_RESOURCE, &t, &drop, err);
        if (rc != 0)
            return rc;
        if (drop) {
            for (size_t si = 0; si < rl->n_scope_logs; si++)
                *n_dropped += rl->scope_logs[si]->n_log_records;
            continue;
        }
        size_t sj = 0;
        for (size_t si = 0; si < rl->n_scope_logs; si++) {
            Opentelemetry__Proto__Logs__V1__ScopeLogs *sl = rl->scope_logs[si];
            t.scope = sl->scope ? sl->scope : &no_scope;
            if ((rc = matches(f, sig, OTTL_CTX_SCOPE, &t, &drop, err)) != 0)
                return rc;
            if (drop) {
                *n_dropped += sl->n_log_records;
                continue;
            }
            size_t lj = 0;
            for (size_t li = 0; li < sl->n_log_records; li++) {
                t.log = sl->log_records[li];
                if ((rc = matches(f, sig, OTTL_CTX_LOG, &t, &drop, err)) != 0)
                    return rc;
                if (drop)
                    (*n_dropped)++;
                else
                    sl->log_records[lj++] = sl->log_records[li];
            }
            t.log = NULL;
            sl->n_log_records = lj;
            if (lj > 0)
                rl->scope_logs[sj++] = sl;
        }
        rl->n_scope_logs = sj;
        if (sj > 0)
            ld->resource_logs[rj++] = rl;
    }
    ld->n_resource_logs = rj;
    return 0;
}
