#include "transform.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A statement group: statements run together on each item of one context, when any of the
 * conditions holds (none: always), failures handled by its error_mode. The flat statements
 * of [transform] become one group per run of consecutive statements of one context, the
 * Collector's grouping of flat statements; each [transform.group.NAME] is one group. */
struct group {
    enum kt_signal sig;
    enum ottl_context ctx;
    int error_mode;   /* enum ottl_error_mode */
    char section[64]; /* "transform" or "transform.group.NAME", for messages */
    const char *key;  /* "trace_statements", ... or "statements" */
    struct ottl_condition **conds;
    size_t n_conds;
    struct ottl_statement **stmts;
    size_t n_stmts;
};

struct transform {
    struct group *groups; /* in run order: flat statements first, then sections in file order */
    size_t n_groups;
    struct kt_log_limit rl;           /* error_mode ignore's log lines */
    uint64_t errors[KT_SIGNAL_COUNT]; /* statements that failed */
};

static const char *const keys[KT_SIGNAL_COUNT] = {"trace_statements", "metric_statements",
                                                  "log_statements"};

static struct group *group_add(struct transform *t, enum kt_signal sig, int error_mode,
                               struct kt_err *err)
{
    struct group *v = realloc(t->groups, (t->n_groups + 1) * sizeof(*v));
    if (v == NULL) {
        kt_err_set(err, KT_ENOMEM, "out of memory");
        return NULL;
    }
    t->groups = v;
    struct group *g = &v[t->n_groups++];
    memset(g, 0, sizeof(*g));
    g->sig = sig;
    g->error_mode = error_mode;
    snprintf(g->section, sizeof(g->section), "transform");
    g->key = keys[sig];
    return g;
}

static int push(void *vp, size_t *n, void *item, struct kt_err *err)
{
    void ***v = vp;
    void **nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    nv[(*n)++] = item;
    *v = nv;
    return 0;
}

/* ottl_context_check for a statement; when a function ties it to the context the signal
 * lacks (extract_sum_metric in trace_statements), the message names the function, not paths. */
static int stmt_context_check(const struct ottl_statement *s, enum kt_signal sig,
                              const char *section, const char *key, struct kt_err *err)
{
    enum ottl_context fn_ctx;
    const char *src = ottl_statement_source(s), *fn = ottl_statement_context_func(s, &fn_ctx);
    int rc = ottl_context_check(ottl_statement_context(s), sig, section, key, src, err);
    if (rc == 0 || fn == NULL || ottl_context_check(fn_ctx, sig, section, key, src, err) == 0)
        return rc;
    return kt_err_set(err, KT_EINVAL, "[%s] %s: '%s': %s is a %s function, which %s cannot use",
                      section, key, src, fn, ottl_context_name(fn_ctx), key);
}

/* Compiles one flat statement into the last group of the signal when it shares its context
 * and is the latest group, else into a new one. */
static int add_flat(struct transform *t, int error_mode, enum kt_signal sig, const char *src,
                    struct kt_err *err)
{
    struct ottl_statement *s;
    int rc = ottl_statement_parse(src, &s, err);
    if (rc != 0)
        return kt_err_prefix(err, "[transform] %s: ", keys[sig]);
    enum ottl_context ctx = ottl_statement_context(s);
    if ((rc = stmt_context_check(s, sig, "transform", keys[sig], err)) != 0)
        goto fail;
    struct group *g = t->n_groups > 0 ? &t->groups[t->n_groups - 1] : NULL;
    if (g == NULL || g->sig != sig || g->ctx != ctx) {
        if ((g = group_add(t, sig, error_mode, err)) == NULL) {
            rc = KT_ENOMEM;
            goto fail;
        }
        g->ctx = ctx;
    }
    if ((rc = push(&g->stmts, &g->n_stmts, s, err)) != 0)
        goto fail;
    return 0;
fail:
    ottl_statement_free(s);
    return rc;
}

/* What the Collector's context inference sees in a list of statements (a signal's flat
 * ones, a group without a context): whether a path names a context, the deepest context
 * they use, the first statement whose function ties it to a context and the first tied to
 * the metric context. */
struct inferred {
    bool path;
    enum ottl_context deepest;
    const struct ottl_statement *fn, *metric_fn;
};

static void infer_scan(struct inferred *in, const struct group *g)
{
    for (size_t j = 0; j < g->n_stmts; j++) {
        enum ottl_context fc;
        const struct ottl_statement *s = g->stmts[j];
        in->path = in->path || ottl_statement_path_context(s);
        if (ottl_statement_context(s) > in->deepest)
            in->deepest = ottl_statement_context(s);
        if (ottl_statement_context_func(s, &fc) == NULL)
            continue;
        in->fn = in->fn != NULL ? in->fn : s;
        if (fc == OTTL_CTX_METRIC && in->metric_fn == NULL)
            in->metric_fn = s;
    }
}

/* The Collector takes the deepest context the paths name for the whole list, then looks for
 * its functions there (or deeper). kotel runs a flat list in runs of one context, which gives
 * the same results, except where a function exists in one context only: the lists the
 * Collector refuses for that are refused here too. */
static int infer_check(const struct inferred *in, const char *section, const char *key,
                       struct kt_err *err)
{
    enum ottl_context fc;
    if (in->fn != NULL && !in->path)
        return kt_err_set(err, KT_EINVAL,
                          "[%s] %s: no statement names a path, so their context is unknown "
                          "('%s'); add a condition on one (where metric.name == \"...\") or "
                          "%s",
                          section, key, ottl_statement_source(in->fn),
                          strcmp(section, "transform") == 0
                              ? "put them in a [transform.group.NAME] with a context"
                              : "give the group a context");
    if (in->metric_fn != NULL && in->deepest == OTTL_CTX_DATAPOINT)
        return kt_err_set(err, KT_EINVAL,
                          "[%s] %s: '%s': %s is a metric function, but these statements run at "
                          "each data point (the deepest context they use); put it in a group "
                          "with context = metric",
                          section, key, ottl_statement_source(in->metric_fn),
                          ottl_statement_context_func(in->metric_fn, &fc));
    return 0;
}

static int check_flat(const struct transform *t, enum kt_signal sig, struct kt_err *err)
{
    struct inferred in = {false, OTTL_CTX_RESOURCE, NULL, NULL};
    for (size_t i = 0; i < t->n_groups; i++)
        if (t->groups[i].sig == sig && strcmp(t->groups[i].section, "transform") == 0)
            infer_scan(&in, &t->groups[i]);
    return infer_check(&in, "transform", keys[sig], err);
}

static int group_err(const struct process_group_conf *gc, const char *key, struct kt_err *err,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* KT_EINVAL with "[transform.group.NAME] key: <fmt...>". */
static int group_err(const struct process_group_conf *gc, const char *key, struct kt_err *err,
                     const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return kt_err_set(err, KT_EINVAL, "[transform.group.%s] %s: %s", gc->name, key, what);
}

/* Compiles a [transform.group.NAME] section: signal first (it decides what the rest may
 * name), then the context (given, or the most specific one its statements and conditions
 * use), then conditions and statements, each of which must run at that context. */
static int add_section(struct transform *t, int error_mode, const struct process_group_conf *gc,
                       struct kt_err *err)
{
    const char *signal = NULL, *context = NULL;
    for (size_t i = 0; i < gc->keys.n; i++) {
        if (strcmp(gc->keys.v[i], "signal") == 0)
            signal = gc->values.v[i];
        else if (strcmp(gc->keys.v[i], "context") == 0)
            context = gc->values.v[i];
        else if (strcmp(gc->keys.v[i], "error_mode") == 0) {
            const char *m = gc->values.v[i];
            error_mode = strcmp(m, "propagate") == 0 ? OTTL_ERR_PROPAGATE
                         : strcmp(m, "ignore") == 0  ? OTTL_ERR_IGNORE
                         : strcmp(m, "silent") == 0  ? OTTL_ERR_SILENT
                                                     : -1;
            if (error_mode < 0)
                return group_err(gc, "error_mode", err,
                                 "want one of " OTTL_ERROR_MODES ", got '%s'", m);
        }
    }
    enum kt_signal sig = KT_SIGNAL_COUNT;
    for (int s = 0; signal != NULL && s < KT_SIGNAL_COUNT; s++)
        if (strcmp(signal, kt_signal_name((enum kt_signal)s)) == 0)
            sig = (enum kt_signal)s;
    if (sig == KT_SIGNAL_COUNT)
        return signal == NULL
                   ? group_err(gc, "signal", err, "required: traces, metrics or logs")
                   : group_err(gc, "signal", err, "want traces, metrics or logs, got '%s'", signal);
    struct group *g = group_add(t, sig, error_mode, err);
    if (g == NULL)
        return KT_ENOMEM;
    snprintf(g->section, sizeof(g->section), "transform.group.%s", gc->name);
    g->key = "statements";
    bool inferred = context == NULL;
    if (!inferred && ottl_context_parse(context, &g->ctx) != 0)
        return group_err(gc, "context", err,
                         "want resource, scope, span, spanevent, metric, datapoint or log, "
                         "got '%s'",
                         context);
    if (!inferred) {
        int rc = ottl_context_check(g->ctx, sig, g->section, "context", context, err);
        if (rc != 0)
            return rc;
    }
    g->ctx = inferred ? OTTL_CTX_RESOURCE : g->ctx;
    for (size_t i = 0; i < gc->keys.n; i++) {
        const char *key = gc->keys.v[i], *src = gc->values.v[i];
        bool cond = strcmp(key, "conditions") == 0;
        if (!cond && strcmp(key, "statements") != 0)
            continue;
        enum ottl_context c;
        int rc;
        if (cond) {
            struct ottl_condition *oc;
            rc = inferred ? ottl_condition_parse(src, &oc, err)
                          : ottl_condition_parse_in(src, g->ctx, &oc, err);
            if (rc != 0)
                return kt_err_prefix(err, "[%s] %s: ", g->section, key);
            c = ottl_condition_context(oc);
            if ((rc = push(&g->conds, &g->n_conds, oc, err)) != 0) {
                ottl_condition_free(oc);
                return rc;
            }
        } else {
            struct ottl_statement *os;
            rc = inferred ? ottl_statement_parse(src, &os, err)
                          : ottl_statement_parse_in(src, g->ctx, &os, err);
            if (rc != 0)
                return kt_err_prefix(err, "[%s] %s: ", g->section, key);
            c = ottl_statement_context(os);
            if ((rc = push(&g->stmts, &g->n_stmts, os, err)) != 0) {
                ottl_statement_free(os);
                return rc;
            }
        }
        rc = cond ? ottl_context_check(c, sig, g->section, key, src, err)
                  : stmt_context_check(g->stmts[g->n_stmts - 1], sig, g->section, key, err);
        if (rc != 0)
            return rc;
        if (inferred && ottl_context_within(g->ctx, c))
            g->ctx = c;
        else if (!ottl_context_within(c, g->ctx))
            return kt_err_set(err, KT_EINVAL,
                              "[%s] %s: '%s' uses %s paths, which a %s group cannot (its "
                              "items' %s is above or beside it)",
                              g->section, key, src, ottl_context_name(c), ottl_context_name(g->ctx),
                              ottl_context_name(c));
    }
    if (g->n_stmts == 0)
        return group_err(gc, "statements", err, "required: at least one statement");
    if (!inferred)
        return 0; /* the parser held each statement to the group's context */
    struct inferred in = {g->n_conds > 0, OTTL_CTX_RESOURCE, NULL, NULL};
    infer_scan(&in, g);
    in.deepest = g->ctx;
    return infer_check(&in, g->section, "statements", err);
}

int transform_new(const struct process_conf *conf, struct transform **out, struct kt_err *err)
{
    *out = NULL;
    struct transform *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    t->rl = (struct kt_log_limit)OTTL_ERROR_LOG_LIMIT;
    int mode = conf->transform.error_mode;
    const struct kt_strlist *lists[KT_SIGNAL_COUNT] = {&conf->transform.trace_statements,
                                                       &conf->transform.metric_statements,
                                                       &conf->transform.log_statements};
    int rc = 0;
    for (int s = 0; rc == 0 && s < KT_SIGNAL_COUNT; s++)
        for (size_t i = 0; rc == 0 && i < lists[s]->n; i++)
            rc = add_flat(t, mode, (enum kt_signal)s, lists[s]->v[i], err);
    for (int s = 0; rc == 0 && s < KT_SIGNAL_COUNT; s++)
        rc = check_flat(t, (enum kt_signal)s, err);
    for (size_t i = 0; rc == 0 && i < conf->transform.n_groups; i++)
        rc = add_section(t, mode, &conf->transform.groups[i], err);
    if (rc != 0) {
        transform_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

bool transform_active(const struct transform *t, enum kt_signal sig)
{
    if (t == NULL)
        return false;
    for (size_t i = 0; i < t->n_groups; i++)
        if (t->groups[i].sig == sig)
            return true;
    return false;
}

uint64_t transform_errors(const struct transform *t, enum kt_signal sig)
{
    return t->errors[sig];
}

static ottl_fields group_fields(const struct group *g)
{
    ottl_fields fields = 0;
    for (size_t j = 0; j < g->n_conds; j++)
        fields |= ottl_condition_fields(g->conds[j]);
    for (size_t j = 0; j < g->n_stmts; j++)
        fields |= ottl_statement_fields(g->stmts[j]);
    return fields;
}

ottl_fields transform_fields(const struct transform *t, enum kt_signal sig)
{
    ottl_fields fields = 0;
    for (size_t i = 0; i < t->n_groups; i++)
        if (t->groups[i].sig == sig)
            fields |= group_fields(&t->groups[i]);
    return fields;
}

/* Whether statement s changes nothing but one span attribute whose key is not among
 * attr_keys[0..n). */
static bool writes_other_attr(const struct ottl_statement *s, const char *const *attr_keys,
                              size_t n)
{
    const char *k;
    size_t kn;
    if (!ottl_statement_span_attr_write(s, &k, &kn))
        return false;
    for (size_t i = 0; i < n; i++)
        if (strlen(attr_keys[i]) == kn && memcmp(attr_keys[i], k, kn) == 0)
            return false;
    return true;
}

ottl_fields transform_fields_beside(const struct transform *t, enum kt_signal sig,
                                    const char *const *attr_keys, size_t n_attr_keys)
{
    ottl_fields fields = 0;
    for (size_t i = 0; i < t->n_groups; i++) {
        const struct group *g = &t->groups[i];
        if (g->sig != sig)
            continue;
        bool all_beside = true;
        for (size_t j = 0; j < g->n_stmts && all_beside; j++)
            all_beside = writes_other_attr(g->stmts[j], attr_keys, n_attr_keys);
        if (!all_beside)
            fields |= group_fields(g);
    }
    return fields;
}

int transform_span_edits(const struct transform *t, struct span_edits **out)
{
    *out = NULL;
    size_t n = 0;
    for (size_t i = 0; i < t->n_groups; i++) {
        const struct group *g = &t->groups[i];
        if (g->sig != KT_SIGNAL_TRACES)
            continue;
        /* A span statement in a span event group runs once per event, not per span. */
        if (g->ctx != OTTL_CTX_SPAN || g->n_conds > 0)
            return 0;
        struct ottl_attr_edit e;
        for (size_t j = 0; j < g->n_stmts; j++, n++)
            if (!ottl_statement_span_attr_edit(g->stmts[j], &e))
                return 0;
    }
    if (n == 0)
        return 0;
    struct span_edits *se;
    int rc = span_edits_new(&se);
    for (size_t i = 0; i < t->n_groups && rc == 0; i++) {
        const struct group *g = &t->groups[i];
        struct ottl_attr_edit e;
        for (size_t j = 0; g->sig == KT_SIGNAL_TRACES && j < g->n_stmts && rc == 0; j++) {
            ottl_statement_span_attr_edit(g->stmts[j], &e);
            rc = span_edits_add(se, &e);
        }
    }
    if (rc != 0) {
        span_edits_free(se);
        return rc;
    }
    *out = se;
    return 0;
}

void transform_free(struct transform *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_groups; i++) {
        struct group *g = &t->groups[i];
        for (size_t j = 0; j < g->n_conds; j++)
            ottl_condition_free(g->conds[j]);
        for (size_t j = 0; j < g->n_stmts; j++)
            ottl_statement_free(g->stmts[j]);
        free(g->conds);
        free(g->stmts);
    }
    free(t->groups);
    free(t);
}

struct run_arg {
    struct transform *t;
    const struct group *g;
};

/* A failed condition or statement: counted, then what the group's error_mode says. */
static int failed(const struct run_arg *ra, int rc, const char *key, const char *src,
                  const struct kt_err *why, struct kt_err *err)
{
    ra->t->errors[ra->g->sig]++;
    return ottl_handle_error(ra->g->error_mode, &ra->t->rl, rc, ra->g->section, key, src, why, err);
}

/* The walk's visit: runs the group on one item. A condition that fails counts as not
 * holding once its error is handled. */
static int run(void *arg, enum ottl_context ctx, struct ottl_tctx *tc, bool *drop,
               struct kt_err *err)
{
    (void)ctx;
    (void)drop;
    const struct run_arg *ra = arg;
    const struct group *g = ra->g;
    bool hold = g->n_conds == 0;
    for (size_t i = 0; !hold && i < g->n_conds; i++) {
        struct kt_err why;
        kt_err_clear(&why);
        int rc = ottl_condition_eval(g->conds[i], tc, &hold, &why);
        if (rc != 0 &&
            (rc = failed(ra, rc, "conditions", ottl_condition_source(g->conds[i]), &why, err)) != 0)
            return rc;
    }
    for (size_t i = 0; hold && i < g->n_stmts; i++) {
        struct kt_err why;
        kt_err_clear(&why);
        int rc = ottl_statement_exec(g->stmts[i], tc, &why);
        if (rc != 0 &&
            (rc = failed(ra, rc, g->key, ottl_statement_source(g->stmts[i]), &why, err)) != 0)
            return rc;
    }
    return 0;
}

/* Runs each group of the signal, in order, over the whole data. */
static int run_groups(struct transform *t, enum kt_signal sig, ProtobufCMessage *data,
                      struct kt_arena *a, struct kt_err *err)
{
    for (size_t i = 0; i < t->n_groups; i++) {
        if (t->groups[i].sig != sig)
            continue;
        struct run_arg ra = {t, &t->groups[i]};
        struct ottl_walk w = {.mode = OTTL_WALK_EDIT,
                              .contexts = OTTL_CTX_BIT(t->groups[i].ctx),
                              .arena = a,
                              .visit = run,
                              .arg = &ra};
        int rc = ottl_walk(&w, sig, data, err);
        if (rc != 0)
            return rc;
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
