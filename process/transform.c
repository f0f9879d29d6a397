#include "transform.h"

#include <stdlib.h>

struct stmt_list {
    struct ottl_statement **v;
    size_t n;
};

struct transform {
    int error_mode;
    struct stmt_list sig[KT_SIGNAL_COUNT];
    struct kt_log_limit rl;           /* error_mode ignore's log lines */
    uint64_t errors[KT_SIGNAL_COUNT]; /* statements that failed */
};

static const char *const keys[KT_SIGNAL_COUNT] = {"trace_statements", "metric_statements",
                                                  "log_statements"};

static int add(struct transform *t, enum kt_signal sig, const char *src, struct kt_err *err)
{
    struct ottl_statement *s;
    int rc = ottl_statement_parse(src, &s, err);
    if (rc != 0)
        return kt_err_prefix(err, "[transform] %s: ", keys[sig]);
    if ((rc = ottl_context_check(ottl_statement_context(s), sig, "transform", keys[sig], src,
                                 err)) != 0) {
        ottl_statement_free(s);
        return rc;
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
    t->rl = (struct kt_log_limit)OTTL_ERROR_LOG_LIMIT;
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

uint64_t transform_errors(const struct transform *t, enum kt_signal sig)
{
    return t->errors[sig];
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

/* The walk's visit: runs the group on one item. */
static int run(void *arg, enum ottl_context ctx, struct ottl_tctx *tc, bool *drop,
               struct kt_err *err)
{
    (void)ctx;
    (void)drop;
    const struct group *g = arg;
    for (size_t i = 0; i < g->n; i++) {
        struct kt_err why = {0};
        int rc = ottl_statement_exec(g->v[i], tc, &why);
        if (rc != 0) {
            g->t->errors[g->sig]++;
            rc = ottl_handle_error(g->t->error_mode, &g->t->rl, rc, "transform", keys[g->sig],
                                   ottl_statement_source(g->v[i]), &why, err);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* Runs each statement group of the signal, in order, over the whole data. */
static int run_groups(struct transform *t, enum kt_signal sig, ProtobufCMessage *data,
                      struct kt_arena *a, struct kt_err *err)
{
    if (!transform_active(t, sig))
        return 0;
    const struct stmt_list *l = &t->sig[sig];
    size_t i = 0;
    while (i < l->n) {
        enum ottl_context ctx = ottl_statement_context(l->v[i]);
        size_t j = i + 1;
        while (j < l->n && ottl_statement_context(l->v[j]) == ctx)
            j++;
        struct group g = {t, sig, l->v + i, j - i};
        struct ottl_walk w = {.mode = OTTL_WALK_EDIT,
                              .contexts = OTTL_CTX_BIT(ctx),
                              .arena = a,
                              .visit = run,
                              .arg = &g};
        int rc = ottl_walk(&w, sig, data, err);
        if (rc != 0)
            return rc;
        i = j;
    }
    return 0;
}

int transform_traces(struct transform *t, Opentelemetry__Proto__Trace__V1__TracesData *td,
                     struct kt_arena *a, struct kt_err *err)
{
    return run_groups(t, KT_SIGNAL_TRACES, &td->base, a, err);
}

int transform_metrics(struct transform *t, Opentelemetry__Proto__Metrics__V1__MetricsData *md,
                      struct kt_arena *a, struct kt_err *err)
{
    return run_groups(t, KT_SIGNAL_METRICS, &md->base, a, err);
}

int transform_logs(struct transform *t, Opentelemetry__Proto__Logs__V1__LogsData *ld,
                   struct kt_arena *a, struct kt_err *err)
{
    return run_groups(t, KT_SIGNAL_LOGS, &ld->base, a, err);
}
