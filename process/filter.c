#include "filter.h"

#include <stdlib.h>

#include "trace_decode.h"

#define N_CTX (OTTL_CTX_LOG + 1)

struct cond_set {
    struct ottl_condition **v;
    size_t n;
};

struct filter {
    int error_mode;
    struct cond_set by[KT_SIGNAL_COUNT][N_CTX];
    unsigned contexts[KT_SIGNAL_COUNT]; /* OTTL_CTX_BIT of each context with conditions */
    struct kt_log_limit rl;             /* error_mode ignore's log lines */
    uint64_t errors[KT_SIGNAL_COUNT];   /* conditions that failed to evaluate */
};

static const char *const keys[KT_SIGNAL_COUNT] = {"trace_conditions", "metric_conditions",
                                                  "log_conditions"};

static int add(struct filter *f, enum kt_signal sig, const char *src, struct kt_err *err)
{
    struct ottl_condition *c;
    int rc = ottl_condition_parse(src, &c, err);
    if (rc != 0)
        return kt_err_prefix(err, "[filter] %s: ", keys[sig]);
    enum ottl_context ctx = ottl_condition_context(c);
    if ((rc = ottl_context_check(ctx, sig, "filter", keys[sig], src, err)) != 0) {
        ottl_condition_free(c);
        return rc;
    }
    struct cond_set *s = &f->by[sig][ctx];
    struct ottl_condition **v = realloc(s->v, (s->n + 1) * sizeof(*v));
    if (v == NULL) {
        ottl_condition_free(c);
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    v[s->n++] = c;
    s->v = v;
    f->contexts[sig] |= OTTL_CTX_BIT(ctx);
    return 0;
}

int filter_new(const struct process_conf *conf, struct filter **out, struct kt_err *err)
{
    *out = NULL;
    struct filter *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    f->rl = (struct kt_log_limit)OTTL_ERROR_LOG_LIMIT;
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

uint64_t filter_errors(const struct filter *f, enum kt_signal sig)
{
    return f->errors[sig];
}

bool filter_active(const struct filter *f, enum kt_signal sig)
{
    return f != NULL && (unsigned)sig < KT_SIGNAL_COUNT && f->contexts[sig] != 0;
}

ottl_fields filter_fields(const struct filter *f, enum kt_signal sig)
{
    ottl_fields fields = 0;
    for (int c = 0; c < N_CTX; c++)
        for (size_t i = 0; i < f->by[sig][c].n; i++)
            fields |= ottl_condition_fields(f->by[sig][c].v[i]);
    return fields;
}

bool filter_keyed_span_attrs(const struct filter *f, enum kt_signal sig)
{
    for (int c = 0; c < N_CTX; c++)
        for (size_t i = 0; i < f->by[sig][c].n; i++)
            if (!ottl_condition_keyed_span_attrs(f->by[sig][c].v[i]))
                return false;
    return true;
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

/* What the walk's visit needs: the filter, and the signal whose conditions apply. */
struct run {
    struct filter *f;
    enum kt_signal sig;
};

/* The walk's visit: drops the item when any condition of its context matches. A failing
 * condition counts as not matching unless error_mode is propagate, which returns the
 * error. */
static int matches(void *arg, enum ottl_context ctx, struct ottl_tctx *t, bool *match,
                   struct kt_err *err)
{
    const struct run *r = arg;
    const struct cond_set *s = &r->f->by[r->sig][ctx];
    if (r->sig == KT_SIGNAL_TRACES)
        t->span_attr = trace_decode_span_attr;
    for (size_t i = 0; i < s->n; i++) {
        struct kt_err why;
        kt_err_clear(&why);
        bool m;
        int rc = ottl_condition_eval(s->v[i], t, &m, &why);
        if (rc != 0) {
            r->f->errors[r->sig]++;
            rc = ottl_handle_error(r->f->error_mode, &r->f->rl, rc, "filter", keys[r->sig],
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

static int drop_matching(struct filter *f, enum kt_signal sig, ProtobufCMessage *data,
                         struct kt_arena *a, size_t *n_dropped, struct kt_err *err)
{
    *n_dropped = 0;
    if (!filter_active(f, sig))
        return 0;
    struct run r = {f, sig};
    struct ottl_walk w = {.mode = OTTL_WALK_DROP,
                          .contexts = f->contexts[sig],
                          .arena = a,
                          .visit = matches,
                          .arg = &r};
    int rc = ottl_walk(&w, sig, data, err);
    *n_dropped = w.n_dropped;
    return rc;
}

int filter_traces(struct filter *f, Opentelemetry__Proto__Trace__V1__TracesData *td,
                  struct kt_arena *a, size_t *n_dropped, struct kt_err *err)
{
    return drop_matching(f, KT_SIGNAL_TRACES, &td->base, a, n_dropped, err);
}

int filter_metrics(struct filter *f, Opentelemetry__Proto__Metrics__V1__MetricsData *md,
                   struct kt_arena *a, size_t *n_dropped, struct kt_err *err)
{
    return drop_matching(f, KT_SIGNAL_METRICS, &md->base, a, n_dropped, err);
}

int filter_logs(struct filter *f, Opentelemetry__Proto__Logs__V1__LogsData *ld, struct kt_arena *a,
                size_t *n_dropped, struct kt_err *err)
{
    return drop_matching(f, KT_SIGNAL_LOGS, &ld->base, a, n_dropped, err);
}
