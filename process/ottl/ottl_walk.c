/* OTTL walk: the resource -> scope -> item -> sub-item descent that filter and transform
 * share. The three signals' data differ above the items only in names (TracesData ->
 * ResourceSpans -> ScopeSpans -> Span, MetricsData -> ResourceMetrics -> ...), so one walk
 * reads all three through a table of field offsets; below the items (a span's events, a
 * metric's data points) it goes by context. */
#include <stddef.h>
#include <string.h>

#include "ottl.h"

typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Metrics__V1__MetricsData MetricsData;
typedef Opentelemetry__Proto__Metrics__V1__ResourceMetrics ResourceMetrics;
typedef Opentelemetry__Proto__Metrics__V1__ScopeMetrics ScopeMetrics;
typedef Opentelemetry__Proto__Logs__V1__LogsData LogsData;
typedef Opentelemetry__Proto__Logs__V1__ResourceLogs ResourceLogs;
typedef Opentelemetry__Proto__Logs__V1__ScopeLogs ScopeLogs;

/* A level of containers (ResourceSpans, ScopeSpans, ...): where a container keeps its
 * context's object (the Resource or InstrumentationScope pointer), the next level (a
 * size_t count and an array of pointers) and its schema_url. */
struct level {
    size_t object;
    size_t n_next, next;
    size_t schema_url;
};

struct shape {
    size_t n_top, top;      /* the data's array of resource containers */
    struct level lv[2];     /* [0] resource containers, [1] scope containers */
    enum ottl_context item; /* what the scope containers hold */
};

#define LEVEL(T, obj, next)                                                                        \
    {                                                                                              \
        offsetof(T, obj), offsetof(T, n_##next), offsetof(T, next), offsetof(T, schema_url)        \
    }

static const struct shape shapes[KT_SIGNAL_COUNT] = {
    [KT_SIGNAL_TRACES] = {offsetof(TracesData, n_resource_spans),
                          offsetof(TracesData, resource_spans),
                          {LEVEL(ResourceSpans, resource, scope_spans),
                           LEVEL(ScopeSpans, scope, spans)},
                          OTTL_CTX_SPAN},
    [KT_SIGNAL_METRICS] = {offsetof(MetricsData, n_resource_metrics),
                           offsetof(MetricsData, resource_metrics),
                           {LEVEL(ResourceMetrics, resource, scope_metrics),
                            LEVEL(ScopeMetrics, scope, metrics)},
                           OTTL_CTX_METRIC},
    [KT_SIGNAL_LOGS] = {offsetof(LogsData, n_resource_logs),
                        offsetof(LogsData, resource_logs),
                        {LEVEL(ResourceLogs, resource, scope_logs),
                         LEVEL(ScopeLogs, scope, log_records)},
                        OTTL_CTX_LOG},
};

struct walk {
    struct ottl_walk *w;
    const struct shape *sh;
    bool dropping; /* OTTL_WALK_DROP */
    struct ottl_tctx t;
    /* Absent resources and scopes: read as these in OTTL_WALK_DROP, created as copies of
     * them in OTTL_WALK_EDIT. */
    Resource no_res;
    Scope no_scope;
    struct ottl_cache cache; /* t.cache, emptied before each visit */
};

static size_t *count_at(void *msg, size_t off)
{
    return (size_t *)(void *)((char *)msg + off);
}

static void **ptr_at(void *msg, size_t off)
{
    return (void **)(void *)((char *)msg + off);
}

/* The data point array of a metric, whatever its type; false when it has none. */
static bool metric_points(Opentelemetry__Proto__Metrics__V1__Metric *m, void ***pts, size_t **n)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
        if (m->gauge == NULL)
            return false;
        *pts = (void **)m->gauge->data_points;
        *n = &m->gauge->n_data_points;
        return true;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
        if (m->sum == NULL)
            return false;
        *pts = (void **)m->sum->data_points;
        *n = &m->sum->n_data_points;
        return true;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
        if (m->histogram == NULL)
            return false;
        *pts = (void **)m->histogram->data_points;
        *n = &m->histogram->n_data_points;
        return true;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
        if (m->exponential_histogram == NULL)
            return false;
        *pts = (void **)m->exponential_histogram->data_points;
        *n = &m->exponential_histogram->n_data_points;
        return true;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
        if (m->summary == NULL)
            return false;
        *pts = (void **)m->summary->data_points;
        *n = &m->summary->n_data_points;
        return true;
    default: return false;
    }
}

/* What is under an item: a span's events, a metric's data points; false when nothing (a
 * log record, a metric without data). */
static bool sub_items(enum ottl_context c, void *item, enum ottl_context *sub, void ***v,
                      size_t **n)
{
    if (c == OTTL_CTX_SPAN) {
        Opentelemetry__Proto__Trace__V1__Span *span = item;
        *sub = OTTL_CTX_SPANEVENT;
        *v = (void **)span->events;
        *n = &span->n_events;
        return true;
    }
    if (c != OTTL_CTX_METRIC)
        return false;
    *sub = OTTL_CTX_DATAPOINT;
    return metric_points(item, v, n);
}

static void set_item(struct ottl_tctx *t, enum ottl_context c, void *item)
{
    switch (c) {
    case OTTL_CTX_SPAN: t->span = item; break;
    case OTTL_CTX_SPANEVENT: t->spanevent = item; break;
    case OTTL_CTX_METRIC: t->metric = item; break;
    case OTTL_CTX_DATAPOINT: t->datapoint = item; break;
    case OTTL_CTX_LOG: t->log = item; break;
    default: break; /* resources and scopes are set by enter() */
    }
}

/* What n_dropped counts for a dropped item: its spans, data points or log records (a span
 * event counts for nothing, as in the filter's report). */
static size_t item_count(enum ottl_context c, void *item)
{
    void **pts;
    size_t *n;
    if (c == OTTL_CTX_SPANEVENT)
        return 0;
    if (c == OTTL_CTX_METRIC)
        return metric_points(item, &pts, &n) ? *n : 0;
    return 1;
}

/* The same for a dropped container of level lv. */
static size_t container_count(const struct walk *k, int lv, void *box)
{
    const struct level *l = &k->sh->lv[lv];
    size_t n = *count_at(box, l->n_next), sum = 0;
    void **next = *ptr_at(box, l->next);
    if (lv == 1 && k->sh->item != OTTL_CTX_METRIC)
        return n;
    for (size_t i = 0; i < n; i++)
        sum += lv == 0 ? container_count(k, 1, next[i]) : item_count(k->sh->item, next[i]);
    return sum;
}

static int visit(struct walk *k, enum ottl_context c, bool *drop, struct kt_err *err)
{
    if (!(k->w->contexts & OTTL_CTX_BIT(c)))
        return 0;
    ottl_cache_reset(&k->cache);
    k->t.cache = &k->cache;
    int rc = k->w->visit(k->w->arg, c, &k->t, drop, err);
    if (!k->dropping)
        *drop = false;
    return rc;
}

/* Whether the walk goes below context c: when dropping, always down to the items (parents
 * left empty go too); otherwise only while a deeper context (a bit above c's) is visited. */
static bool descends(const struct walk *k, enum ottl_context c)
{
    return (k->dropping && c < k->sh->item) || (k->w->contexts >> (unsigned)c) > 1;
}

static int walk_items(struct walk *k, enum ottl_context c, void ***v, size_t *n,
                      struct kt_err *err);

static int walk_item(struct walk *k, enum ottl_context c, void *item, bool *drop,
                     struct kt_err *err)
{
    set_item(&k->t, c, item);
    int rc = visit(k, c, drop, err);
    if (rc != 0)
        return rc;
    if (*drop) {
        k->w->n_dropped += item_count(c, item);
        return 0;
    }
    enum ottl_context sub;
    void **v;
    size_t *n;
    if (!descends(k, c) || !sub_items(c, item, &sub, &v, &n))
        return 0;
    size_t had = *n;
    rc = walk_items(k, sub, &v, n, err);
    /* A metric whose every data point was dropped goes too, as in the Collector. */
    *drop = rc == 0 && k->dropping && c == OTTL_CTX_METRIC && had > 0 && *n == 0;
    return rc;
}

/* Walks (*v)[0..*n), items of context c, keeping the ones not dropped in order (all of them
 * when editing). On an error *n stays as it was, whatever was moved: the data is then
 * dead-lettered, not used. A metric statement may append metrics to the scope while this
 * runs (extract_sum_metric, copy_metric: a new, longer array in *v): the walk reads the
 * array and its length again after each item, so the new metrics are visited too, as the
 * Collector's loop over the scope's metrics does. */
static int walk_items(struct walk *k, enum ottl_context c, void ***v, size_t *n, struct kt_err *err)
{
    size_t j = 0;
    int rc = 0;
    for (size_t i = 0; i < *n; i++) {
        bool drop = false;
        if ((rc = walk_item(k, c, (*v)[i], &drop, err)) != 0)
            break;
        if (!drop)
            (*v)[j++] = (*v)[i];
    }
    set_item(&k->t, c, NULL);
    if (rc == 0)
        *n = j;
    return rc;
}

/* Makes a container's resource (lv 0) or scope (lv 1) the tctx's. */
static int enter(struct walk *k, int lv, void *box, struct kt_err *err)
{
    void **obj = ptr_at(box, k->sh->lv[lv].object);
    const void *empty = lv == 0 ? (const void *)&k->no_res : (const void *)&k->no_scope;
    if (*obj == NULL && !k->dropping) {
        size_t size = lv == 0 ? sizeof(Resource) : sizeof(Scope);
        void *created = kt_arena_alloc(k->w->arena, size);
        if (created == NULL)
            return kt_err_set(err, KT_ENOMEM, "out of memory");
        memcpy(created, empty, size);
        *obj = created;
    }
    void *o = *obj != NULL ? *obj : (void *)empty;
    char **url = (char **)ptr_at(box, k->sh->lv[lv].schema_url);
    if (lv == 0) {
        k->t = (struct ottl_tctx){.arena = k->w->arena, .resource = o, .resource_schema_url = url};
    } else {
        k->t.scope = o;
        k->t.scope_schema_url = url;
        if (k->sh->item == OTTL_CTX_METRIC)
            k->t.scope_metrics = box;
    }
    return 0;
}

/* Walks v[0..*n), the containers of level lv, and everything under them. */
static int walk_level(struct walk *k, int lv, void **v, size_t *n, struct kt_err *err)
{
    const struct level *l = &k->sh->lv[lv];
    enum ottl_context c = lv == 0 ? OTTL_CTX_RESOURCE : OTTL_CTX_SCOPE;
    size_t j = 0;
    for (size_t i = 0; i < *n; i++) {
        void *box = v[i];
        bool drop = false;
        int rc = enter(k, lv, box, err);
        if (rc == 0)
            rc = visit(k, c, &drop, err);
        if (rc != 0)
            return rc;
        if (drop) {
            k->w->n_dropped += container_count(k, lv, box);
            continue;
        }
        if (descends(k, c)) {
            void ***next = (void ***)(void *)ptr_at(box, l->next);
            size_t *n_next = count_at(box, l->n_next);
            rc = lv == 0 ? walk_level(k, 1, *next, n_next, err)
                         : walk_items(k, k->sh->item, next, n_next, err);
            if (rc != 0)
                return rc;
            if (k->dropping && *n_next == 0)
                continue;
        }
        v[j++] = box;
    }
    *n = j;
    return 0;
}

int ottl_walk(struct ottl_walk *w, enum kt_signal sig, ProtobufCMessage *data, struct kt_err *err)
{
    struct walk k = {
        .w = w,
        .sh = &shapes[sig],
        .dropping = w->mode == OTTL_WALK_DROP,
        .no_res = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT,
        .no_scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT,
        .cache = {.map = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT},
    };
    w->n_dropped = 0;
    return walk_level(&k, 0, *ptr_at(data, k.sh->top), count_at(data, k.sh->n_top), err);
}
