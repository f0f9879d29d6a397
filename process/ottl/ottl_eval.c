/* OTTL evaluation: reading and writing paths on protobuf-c objects, comparisons, boolean
 * logic. Reads never allocate; writes allocate from the tctx arena only. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_codec.h"
#include "ottl_int.h"

typedef Opentelemetry__Proto__Metrics__V1__NumberDataPoint NumberDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__HistogramDataPoint HistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__ExponentialHistogramDataPoint ExpHistogramDataPoint;
typedef Opentelemetry__Proto__Metrics__V1__SummaryDataPoint SummaryDataPoint;

const char *ottl_vtype_name(enum ottl_vtype t)
{
    switch (t) {
    case OTTL_NIL: return "nil";
    case OTTL_BOOL: return "bool";
    case OTTL_INT: return "int";
    case OTTL_DOUBLE: return "double";
    case OTTL_STR: return "string";
    case OTTL_BYTES: return "bytes";
    case OTTL_MAP: return "map";
    case OTTL_ARRAY:
    case OTTL_LIST: return "list";
    case OTTL_ID: return "ID";
    case OTTL_TIME: return "time";
    case OTTL_DURATION: return "duration";
    case OTTL_MSG: return "message";
    }
    return "?";
}

struct kt_arena *ottl_eval_arena(struct ottl_eval *ev)
{
    if (ev->t->arena == NULL)
        kt_err_set(ev->err, KT_EINVAL, "no arena to hold new values");
    return ev->t->arena;
}

/* ---- values ---- */

void ottl_value_from_any(const ottl_any *av, struct ottl_value *out)
{
    memset(out, 0, sizeof(*out));
    if (av == NULL)
        return;
    switch (av->value_case) {
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
        out->t = OTTL_STR;
        out->s.p = av->string_value != NULL ? av->string_value : "";
        out->s.n = strlen(out->s.p);
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
        out->t = OTTL_BOOL;
        out->b = av->bool_value != 0;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
        out->t = OTTL_INT;
        out->i = av->int_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
        out->t = OTTL_DOUBLE;
        out->d = av->double_value;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
        out->t = OTTL_BYTES;
        out->s.p = (const char *)av->bytes_value.data;
        out->s.n = av->bytes_value.len;
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
        if (av->array_value != NULL) {
            out->t = OTTL_ARRAY;
            out->arr = av->array_value;
        }
        break;
    case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
        if (av->kvlist_value != NULL) {
            out->t = OTTL_MAP;
            out->m.kv = &av->kvlist_value->values;
            out->m.n = &av->kvlist_value->n_values;
        }
        break;
    default: break;
    }
}

static const char *any_type_name(const ottl_any *av)
{
    struct ottl_value v;
    ottl_value_from_any(av, &v);
    return ottl_vtype_name(v.t);
}

/* Writes a scalar value into av; strings and bytes are copied into a. */
static int ottl_any_set(struct kt_arena *a, ottl_any *av, const struct ottl_value *v,
                        struct kt_err *err)
{
    switch (v->t) {
    case OTTL_NIL:
        av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET;
        break;
    case OTTL_BOOL:
        av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        av->bool_value = v->b;
        break;
    case OTTL_INT:
        av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
        av->int_value = v->i;
        break;
    case OTTL_DOUBLE:
        av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        av->double_value = v->d;
        break;
    case OTTL_STR: {
        char *s = kt_arena_strndup(a, v->s.p, v->s.n);
        if (s == NULL)
            return kt_err_set(err, KT_ENOMEM, "out of memory");
        av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        av->string_value = s;
        break;
    }
    case OTTL_BYTES: {
        uint8_t *b = kt_arena_memdup(a, v->s.p, v->s.n);
        if (b == NULL)
            return kt_err_set(err, KT_ENOMEM, "out of memory");
        av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE;
        av->bytes_value.data = b;
        av->bytes_value.len = v->s.n;
        break;
    }
    default:
        return kt_err_set(err, KT_EINVAL, "a %s cannot be assigned (only scalars can)",
                          ottl_vtype_name(v->t));
    }
    return 0;
}

/* ---- maps ---- */

ottl_kv *ottl_map_find(const struct ottl_map *m, const char *key, size_t keylen)
{
    ottl_kv **kv = *m->kv;
    for (size_t i = 0; i < *m->n; i++)
        if (ottl_key_eq(kv[i]->key, key, keylen))
            return kv[i];
    return NULL;
}

void ottl_map_filter(const struct ottl_map *m, bool (*keep)(const ottl_kv *kv, void *arg),
                     void *arg)
{
    ottl_kv **kv = *m->kv;
    size_t j = 0;
    for (size_t i = 0; i < *m->n; i++)
        if (keep(kv[i], arg))
            kv[j++] = kv[i];
    *m->n = j;
}

/* Appends an entry with an unset value; the pointer array is copied one larger since
 * protobuf-c arrays carry no spare capacity. */
static ottl_kv *map_add(struct kt_arena *a, const struct ottl_map *m, const char *key,
                        size_t keylen)
{
    ottl_kv **arr = kt_arena_alloc(a, (*m->n + 1) * sizeof(*arr));
    ottl_kv *kv = kt_arena_alloc(a, sizeof(*kv));
    ottl_any *av = kt_arena_alloc(a, sizeof(*av));
    char *k = kt_arena_strndup(a, key, keylen);
    if (arr == NULL || kv == NULL || av == NULL || k == NULL)
        return NULL;
    ottl_kv kvi = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    ottl_any avi = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    *kv = kvi;
    *av = avi;
    kv->key = k;
    kv->value = av;
    if (*m->n > 0)
        memcpy(arr, *m->kv, *m->n * sizeof(*arr));
    arr[*m->n] = kv;
    *m->kv = arr;
    (*m->n)++;
    return kv;
}

ottl_kv *ottl_map_add(struct kt_arena *a, const struct ottl_map *m, const char *key, size_t keylen)
{
    return map_add(a, m, key, keylen);
}

/* map_add for the cache: entries and the entry array of earlier items are used again (an
 * entry keeps its key when the same key comes back, as it does when the same statements
 * run on every item). An entry gets its own value struct back, since an editor may have
 * pointed it at another entry's. An editor that gave the map another array (merge_maps,
 * flatten) makes the next add copy it into the cache's own. */
static ottl_kv *cache_add(struct kt_arena *a, struct ottl_cache *c, const char *key, size_t keylen)
{
    size_t n = c->map.n_values;
    if (c->map.values != c->values || n == c->cap) {
        size_t cap = n < 4 ? 8 : 2 * n;
        ottl_kv **arr = kt_arena_alloc(a, cap * sizeof(*arr));
        if (arr == NULL)
            return NULL;
        if (n > 0)
            memcpy(arr, c->map.values, n * sizeof(*arr));
        c->values = c->map.values = arr;
        c->cap = cap;
    }
    if (c->used == c->n_pool) {
        if (c->n_pool == c->cap_pool) {
            size_t cap = c->cap_pool ? 2 * c->cap_pool : 8;
            struct ottl_cache_entry **pool = kt_arena_alloc(a, cap * sizeof(*pool));
            if (pool == NULL)
                return NULL;
            if (c->n_pool > 0)
                memcpy(pool, c->pool, c->n_pool * sizeof(*pool));
            c->pool = pool;
            c->cap_pool = cap;
        }
        struct ottl_cache_entry *e = kt_arena_alloc(a, sizeof(*e));
        if (e == NULL)
            return NULL;
        ottl_kv kvi = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
        e->kv = kvi;
        c->pool[c->n_pool++] = e;
    }
    struct ottl_cache_entry *e = c->pool[c->used++];
    if (e->kv.key == NULL || !ottl_key_eq(e->kv.key, key, keylen)) {
        if ((e->kv.key = kt_arena_strndup(a, key, keylen)) == NULL)
            return NULL;
    }
    ottl_any avi = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    e->value = avi;
    e->kv.value = &e->value;
    c->map.values[c->map.n_values++] = &e->kv;
    return &e->kv;
}

static ottl_any *new_kvlist_any(struct kt_arena *a)
{
    ottl_any *av = kt_arena_alloc(a, sizeof(*av));
    Opentelemetry__Proto__Common__V1__KeyValueList *l = kt_arena_alloc(a, sizeof(*l));
    if (av == NULL || l == NULL)
        return NULL;
    ottl_any avi = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    Opentelemetry__Proto__Common__V1__KeyValueList li =
        OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
    *av = avi;
    *l = li;
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
    av->kvlist_value = l;
    return av;
}

static const char *str_or_empty(const char *s)
{
    return s != NULL ? s : "";
}

/* Writes any value into av, in a: scalars as ottl_any_set does; list and map literals with
 * their items evaluated now; maps and lists read from the data copied whole, so that the
 * copy does not change with the original (as the Collector copies). */
int ottl_value_to_any(struct ottl_eval *ev, struct kt_arena *a, const struct ottl_value *v,
                      ottl_any *av, int depth)
{
    if (v->t != OTTL_LIST && v->t != OTTL_MAP && v->t != OTTL_ARRAY)
        return ottl_any_set(a, av, v, ev->err);
    if (depth > OTTL_MAX_DEPTH)
        return kt_err_set(ev->err, KT_EINVAL, "a value nested deeper than %d", OTTL_MAX_DEPTH);
    bool map = v->t == OTTL_MAP || (v->t == OTTL_LIST && v->list->kind == OTTL_N_MAP);
    size_t n = v->t == OTTL_LIST ? v->list->list.n : v->t == OTTL_MAP ? *v->m.n : v->arr->n_values;
    ottl_any **items = kt_arena_alloc(a, (n ? n : 1) * sizeof(*items));
    ottl_kv **kvs = map ? kt_arena_alloc(a, (n ? n : 1) * sizeof(*kvs)) : NULL;
    if (items == NULL || (map && kvs == NULL))
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct ottl_value iv;
        int rc = 0;
        if (v->t == OTTL_LIST)
            rc = ottl_eval_value(ev, v->list->list.items[i], &iv);
        else
            ottl_value_from_any(v->t == OTTL_MAP ? (*v->m.kv)[i]->value : v->arr->values[i], &iv);
        items[i] = kt_arena_alloc(a, sizeof(**items));
        if (rc == 0 && items[i] == NULL)
            rc = kt_err_set(ev->err, KT_ENOMEM, "out of memory");
        if (rc != 0)
            return rc;
        ottl_any init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        *items[i] = init;
        if ((rc = ottl_value_to_any(ev, a, &iv, items[i], depth + 1)) != 0)
            return rc;
        if (!map)
            continue;
        const char *k = v->t == OTTL_MAP ? str_or_empty((*v->m.kv)[i]->key) : NULL;
        size_t kn = k != NULL ? strlen(k) : v->list->list.keys[i].n;
        kvs[i] = kt_arena_alloc(a, sizeof(**kvs));
        char *key = kt_arena_strndup(a, k != NULL ? k : v->list->list.keys[i].s, kn);
        if (kvs[i] == NULL || key == NULL)
            return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
        ottl_kv kinit = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
        *kvs[i] = kinit;
        kvs[i]->key = key;
        kvs[i]->value = items[i];
    }
    if (map) {
        ottl_any *l = new_kvlist_any(a);
        if (l == NULL)
            return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
        l->kvlist_value->values = kvs;
        l->kvlist_value->n_values = n;
        *av = *l;
        return 0;
    }
    Opentelemetry__Proto__Common__V1__ArrayValue *arr = kt_arena_alloc(a, sizeof(*arr));
    if (arr == NULL)
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    Opentelemetry__Proto__Common__V1__ArrayValue ainit =
        OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    *arr = ainit;
    arr->values = items;
    arr->n_values = n;
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
    av->array_value = arr;
    return 0;
}

/* ---- paths ---- */

static int no_object(struct ottl_eval *ev, const struct ottl_path_def *d)
{
    return kt_err_set(ev->err, KT_EINVAL, "%s: no %s in this context", d->name,
                      ottl_context_name(d->ctx));
}

/* Where a data point of any kind keeps its attributes and its two timestamps. */
struct dp_parts {
    ottl_kv ***kv;
    size_t *n;
    uint64_t *time, *start;
};

#define DP_PARTS(p)                                                                                \
    ((struct dp_parts){&(p)->attributes, &(p)->n_attributes, &(p)->time_unix_nano,                 \
                       &(p)->start_time_unix_nano})

static bool dp_parts(ProtobufCMessage *dp, struct dp_parts *out)
{
    const ProtobufCMessageDescriptor *d = dp->descriptor;
    if (d == &opentelemetry__proto__metrics__v1__number_data_point__descriptor)
        *out = DP_PARTS((NumberDataPoint *)dp);
    else if (d == &opentelemetry__proto__metrics__v1__histogram_data_point__descriptor)
        *out = DP_PARTS((HistogramDataPoint *)dp);
    else if (d == &opentelemetry__proto__metrics__v1__exponential_histogram_data_point__descriptor)
        *out = DP_PARTS((ExpHistogramDataPoint *)dp);
    else if (d == &opentelemetry__proto__metrics__v1__summary_data_point__descriptor)
        *out = DP_PARTS((SummaryDataPoint *)dp);
    else
        return false;
    return true;
}

/* The timestamp field a time-typed path names (span.start_time, log.time, ...), or NULL. */
static uint64_t *time_field(const struct ottl_tctx *t, enum ottl_path_id id)
{
    struct dp_parts p;
    switch (id) {
    case OTTL_P_SPAN_START_TIME: return &t->span->start_time_unix_nano;
    case OTTL_P_SPAN_END_TIME: return &t->span->end_time_unix_nano;
    case OTTL_P_SPANEVENT_TIME_T: return &t->spanevent->time_unix_nano;
    case OTTL_P_LOG_TIME_T: return &t->log->time_unix_nano;
    case OTTL_P_LOG_OBSERVED_TIME_T: return &t->log->observed_time_unix_nano;
    case OTTL_P_DATAPOINT_TIME_T:
    case OTTL_P_DATAPOINT_START_TIME_T:
        if (!dp_parts(t->datapoint, &p))
            return NULL;
        return id == OTTL_P_DATAPOINT_TIME_T ? p.time : p.start;
    default: return NULL;
    }
}

/* The map a MAP path names before any ["key"]. */
static int base_map(struct ottl_eval *ev, const struct ottl_path_def *d, bool create,
                    struct ottl_map *m)
{
    const struct ottl_tctx *t = ev->t;
    m->kv = NULL;
    m->n = NULL;
    switch (d->id) {
    case OTTL_P_RESOURCE_ATTRS:
        if (t->resource == NULL)
            return no_object(ev, d);
        m->kv = &t->resource->attributes;
        m->n = &t->resource->n_attributes;
        return 0;
    case OTTL_P_SCOPE_ATTRS:
        if (t->scope == NULL)
            return no_object(ev, d);
        m->kv = &t->scope->attributes;
        m->n = &t->scope->n_attributes;
        return 0;
    case OTTL_P_SPAN_ATTRS:
        if (t->span == NULL)
            return no_object(ev, d);
        m->kv = &t->span->attributes;
        m->n = &t->span->n_attributes;
        return 0;
    case OTTL_P_SPANEVENT_ATTRS:
        if (t->spanevent == NULL)
            return no_object(ev, d);
        m->kv = &t->spanevent->attributes;
        m->n = &t->spanevent->n_attributes;
        return 0;
    case OTTL_P_DATAPOINT_ATTRS: {
        struct dp_parts p;
        if (t->datapoint == NULL || !dp_parts(t->datapoint, &p))
            return no_object(ev, d);
        m->kv = p.kv;
        m->n = p.n;
        return 0;
    }
    case OTTL_P_LOG_ATTRS:
        if (t->log == NULL)
            return no_object(ev, d);
        m->kv = &t->log->attributes;
        m->n = &t->log->n_attributes;
        return 0;
    case OTTL_P_CACHE:
        if (t->cache == NULL)
            return create ? kt_err_set(ev->err, KT_EINVAL, "cache: none where this runs") : 0;
        m->kv = &t->cache->map.values;
        m->n = &t->cache->map.n_values;
        return 0;
    case OTTL_P_LOG_BODY: {
        if (t->log == NULL)
            return no_object(ev, d);
        ottl_any *b = t->log->body;
        bool unset = b == NULL ||
                     b->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET;
        if (b != NULL &&
            b->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE &&
            b->kvlist_value != NULL) {
            m->kv = &b->kvlist_value->values;
            m->n = &b->kvlist_value->n_values;
            return 0;
        }
        if (!create)
            return 0;
        if (!unset)
            return kt_err_set(ev->err, KT_EINVAL, "log.body is not a map");
        struct kt_arena *a = ottl_eval_arena(ev);
        if (a == NULL)
            return KT_EINVAL;
        ottl_any *nb = new_kvlist_any(a);
        if (nb == NULL)
            return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
        t->log->body = nb;
        m->kv = &nb->kvlist_value->values;
        m->n = &nb->kvlist_value->n_values;
        return 0;
    }
    default: return kt_err_set(ev->err, KT_EINVAL, "%s is not a map", d->name);
    }
}

static int index_any(struct ottl_eval *ev, const struct ottl_node *n, size_t i, bool create,
                     ottl_any **av);

/* The value under a keyed map path's key (NULL: none) in the map base_map gave, or for a
 * span decoded without its attributes, from its bytes (tctx->span_attr). */
static int keyed_value(struct ottl_eval *ev, const struct ottl_node *path,
                       const struct ottl_map *base, ottl_any **av)
{
    const struct ottl_tctx *t = ev->t;
    *av = NULL;
    if (path->path.def->id == OTTL_P_SPAN_ATTRS && t->span_attr != NULL) {
        struct kt_arena *a = ottl_eval_arena(ev);
        if (a == NULL)
            return KT_EINVAL;
        bool found;
        int rc = t->span_attr(a, t->span, path->path.key, path->path.keylen, &found, av);
        if (rc < 0)
            return kt_err_set(ev->err, rc, "%s[\"%.*s\"]: %s", path->path.def->name,
                              (int)path->path.keylen, path->path.key,
                              rc == KT_ENOMEM ? "out of memory" : "protobuf-c cannot decode it");
        if (rc == 1)
            return 0;
    }
    if (base->kv == NULL)
        return 0;
    ottl_kv *kv = ottl_map_find(base, path->path.key, path->path.keylen);
    *av = kv != NULL ? kv->value : NULL;
    return 0;
}

int ottl_path_map(struct ottl_eval *ev, const struct ottl_node *path, struct ottl_map *m)
{
    const struct ottl_path_def *d = path->path.def;
    int rc = base_map(ev, d, false, m);
    if (rc != 0 || path->path.key == NULL)
        return rc;
    struct ottl_map base = *m;
    m->kv = NULL;
    m->n = NULL;
    ottl_any *av;
    if ((rc = keyed_value(ev, path, &base, &av)) != 0)
        return rc;
    for (size_t i = 0; av != NULL && i < path->path.n_more; i++)
        if ((rc = index_any(ev, path, i, false, &av)) != 0)
            return rc;
    if (av != NULL &&
        av->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE &&
        av->kvlist_value != NULL) {
        m->kv = &av->kvlist_value->values;
        m->n = &av->kvlist_value->n_values;
    }
    return 0;
}

static void set_str(struct ottl_value *out, const char *s)
{
    out->t = OTTL_STR;
    out->s.p = str_or_empty(s);
    out->s.n = strlen(out->s.p);
}

static void set_int(struct ottl_value *out, int64_t i)
{
    out->t = OTTL_INT;
    out->i = i;
}

static int metric_type(const Opentelemetry__Proto__Metrics__V1__Metric *m)
{
    switch (m->data_case) {
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE: return 1;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM: return 2;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM: return 3;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM: return 4;
    case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY: return 5;
    default: return 0;
    }
}

static NumberDataPoint *number_dp(const struct ottl_tctx *t)
{
    if (t->datapoint == NULL ||
        t->datapoint->descriptor !=
            &opentelemetry__proto__metrics__v1__number_data_point__descriptor)
        return NULL;
    return (NumberDataPoint *)t->datapoint;
}

static bool any_is(const ottl_any *av, int value_case)
{
    return av != NULL && (int)av->value_case == value_case;
}

/* Steps *av through the path's index i: a key of a kvlist (absent: NULL, or with create a
 * new entry), an element of an array (out of range: an error). Indexing anything else is an
 * error; so is a missing kvlist on the way when creating (the Collector's setter does not
 * make one either). */
static int index_any(struct ottl_eval *ev, const struct ottl_node *n, size_t i, bool create,
                     ottl_any **av)
{
    const struct ottl_index *x = &n->path.more[i];
    ottl_any *cur = *av;
    if (x->s != NULL) {
        if (!any_is(cur, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE) ||
            cur->kvlist_value == NULL)
            return kt_err_set(ev->err, KT_EINVAL, "%s: [\"%.*s\"] indexes a %s, not a map",
                              n->path.def->name, (int)x->n, x->s, any_type_name(cur));
        struct ottl_map m = {&cur->kvlist_value->values, &cur->kvlist_value->n_values};
        ottl_kv *kv = ottl_map_find(&m, x->s, x->n);
        if (kv == NULL && create) {
            struct kt_arena *a = ottl_eval_arena(ev);
            if (a == NULL)
                return KT_EINVAL;
            if ((kv = map_add(a, &m, x->s, x->n)) == NULL)
                return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
        }
        *av = kv != NULL ? kv->value : NULL;
        return 0;
    }
    if (!any_is(cur, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE) ||
        cur->array_value == NULL)
        return kt_err_set(ev->err, KT_EINVAL, "%s: [%" PRId64 "] indexes a %s, not a list",
                          n->path.def->name, x->i, any_type_name(cur));
    if (x->i < 0 || (uint64_t)x->i >= cur->array_value->n_values)
        return kt_err_set(ev->err, KT_EINVAL, "%s: index %" PRId64 " out of range (length %zu)",
                          n->path.def->name, x->i, cur->array_value->n_values);
    *av = cur->array_value->values[x->i];
    return 0;
}

static int path_get(struct ottl_eval *ev, const struct ottl_node *n, struct ottl_value *out)
{
    const struct ottl_path_def *d = n->path.def;
    const struct ottl_tctx *t = ev->t;
    memset(out, 0, sizeof(*out));
    if (d->flags & OTTL_PF_MAP) {
        if (d->id == OTTL_P_LOG_BODY && n->path.key == NULL) {
            if (t->log == NULL)
                return no_object(ev, d);
            ottl_value_from_any(t->log->body, out);
            return 0;
        }
        struct ottl_map m;
        int rc = base_map(ev, d, false, &m);
        if (rc != 0)
            return rc;
        if (n->path.key == NULL) {
            if (m.kv != NULL) {
                out->t = OTTL_MAP;
                out->m = m;
            }
            return 0;
        }
        ottl_any *av;
        if ((rc = keyed_value(ev, n, &m, &av)) != 0)
            return rc;
        for (size_t i = 0; av != NULL && i < n->path.n_more; i++)
            if ((rc = index_any(ev, n, i, false, &av)) != 0)
                return rc;
        ottl_value_from_any(av, out);
        return 0;
    }
    switch (d->ctx) {
    case OTTL_CTX_RESOURCE: break;
    case OTTL_CTX_SCOPE:
        if (t->scope == NULL)
            return no_object(ev, d);
        break;
    case OTTL_CTX_SPAN:
        if (t->span == NULL)
            return no_object(ev, d);
        break;
    case OTTL_CTX_SPANEVENT:
        if (t->spanevent == NULL)
            return no_object(ev, d);
        break;
    case OTTL_CTX_METRIC:
        if (t->metric == NULL)
            return no_object(ev, d);
        break;
    case OTTL_CTX_DATAPOINT:
        if (t->datapoint == NULL)
            return no_object(ev, d);
        break;
    case OTTL_CTX_LOG:
        if (t->log == NULL)
            return no_object(ev, d);
        break;
    }
    if (d->flags & OTTL_PF_TIME) {
        /* pdata's AsTime: the nanoseconds as an int64, in UTC. */
        const uint64_t *f = time_field(t, d->id);
        if (f == NULL)
            return no_object(ev, d);
        out->t = OTTL_TIME;
        out->tm.ns = (int64_t)*f;
        return 0;
    }
    switch (d->id) {
    case OTTL_P_SCOPE_NAME: set_str(out, t->scope->name); break;
    case OTTL_P_SCOPE_VERSION: set_str(out, t->scope->version); break;
    case OTTL_P_SPAN_NAME: set_str(out, t->span->name); break;
    case OTTL_P_SPAN_KIND: set_int(out, t->span->kind); break;
    case OTTL_P_SPAN_STATUS_CODE:
        set_int(out, t->span->status != NULL ? t->span->status->code : 0);
        break;
    case OTTL_P_SPAN_STATUS_MESSAGE:
        set_str(out, t->span->status != NULL ? t->span->status->message : "");
        break;
    case OTTL_P_SPAN_TRACE_ID: return ottl_id_text(ev, &t->span->trace_id, 16, out);
    case OTTL_P_SPAN_SPAN_ID: return ottl_id_text(ev, &t->span->span_id, 8, out);
    case OTTL_P_SPAN_PARENT_ID: return ottl_id_text(ev, &t->span->parent_span_id, 8, out);
    case OTTL_P_SPAN_START: set_int(out, (int64_t)t->span->start_time_unix_nano); break;
    case OTTL_P_SPAN_END: set_int(out, (int64_t)t->span->end_time_unix_nano); break;
    case OTTL_P_SPANEVENT_NAME: set_str(out, t->spanevent->name); break;
    case OTTL_P_SPANEVENT_TIME: set_int(out, (int64_t)t->spanevent->time_unix_nano); break;
    case OTTL_P_METRIC_NAME: set_str(out, t->metric->name); break;
    case OTTL_P_METRIC_UNIT: set_str(out, t->metric->unit); break;
    case OTTL_P_METRIC_DESCRIPTION: set_str(out, t->metric->description); break;
    case OTTL_P_METRIC_TYPE: set_int(out, metric_type(t->metric)); break;
    case OTTL_P_DATAPOINT_VALUE_DOUBLE: {
        /* As pdata: a number point of the other kind reads as 0; other points as nil. */
        const NumberDataPoint *p = number_dp(t);
        if (p != NULL) {
            out->t = OTTL_DOUBLE;
            out->d = p->value_case ==
                             OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE
                         ? p->as_double
                         : 0.0;
        }
        break;
    }
    case OTTL_P_DATAPOINT_VALUE_INT: {
        const NumberDataPoint *p = number_dp(t);
        if (p != NULL)
            set_int(out, p->value_case ==
                                 OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT
                             ? p->as_int
                             : 0);
        break;
    }
    case OTTL_P_LOG_SEVERITY_NUMBER: set_int(out, t->log->severity_number); break;
    case OTTL_P_LOG_SEVERITY_TEXT: set_str(out, t->log->severity_text); break;
    default:
        if (n->path.get != NULL)
            return n->path.get(ev, n, out);
        return kt_err_set(ev->err, KT_EINVAL, "%s cannot be read", d->name);
    }
    return 0;
}

static int want_type(struct ottl_eval *ev, const struct ottl_path_def *d,
                     const struct ottl_value *v, enum ottl_vtype want)
{
    if (v->t == want)
        return 0;
    return kt_err_set(ev->err, KT_EINVAL, "set %s: want a %s, got %s", d->name,
                      ottl_vtype_name(want), ottl_vtype_name(v->t));
}

int ottl_set_str_field(struct ottl_eval *ev, const struct ottl_path_def *d,
                       const struct ottl_value *v, char **field)
{
    int rc = want_type(ev, d, v, OTTL_STR);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    char *s = kt_arena_strndup(a, v->s.p, v->s.n);
    if (s == NULL)
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    *field = s;
    return 0;
}

int ottl_set_id_hex(struct ottl_eval *ev, const struct ottl_path_def *d, const struct ottl_value *v,
                    size_t bytes, bool empty_ok, ProtobufCBinaryData *field)
{
    int rc = want_type(ev, d, v, OTTL_STR);
    if (rc != 0)
        return rc;
    if (v->s.n == 0 && empty_ok) {
        field->data = NULL;
        field->len = 0;
        return 0;
    }
    if (v->s.n != 2 * bytes)
        return kt_err_set(ev->err, KT_EINVAL, "set %s: want %zu hex digits, got %zu", d->name,
                          2 * bytes, v->s.n);
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    uint8_t *b = kt_arena_alloc(a, bytes);
    if (b == NULL)
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    bool zero = true;
    for (size_t i = 0; i < bytes; i++) {
        int hi = kt_hex_digit(v->s.p[2 * i]), lo = kt_hex_digit(v->s.p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return kt_err_set(ev->err, KT_EINVAL, "set %s: '%.*s' is not hex", d->name, (int)v->s.n,
                              v->s.p);
        b[i] = (uint8_t)(hi << 4 | lo);
        zero &= b[i] == 0;
    }
    /* All zeros is pdata's absent ID, which the wire leaves out. */
    field->data = zero ? NULL : b;
    field->len = zero ? 0 : bytes;
    return 0;
}

static int span_status(struct ottl_eval *ev, Opentelemetry__Proto__Trace__V1__Status **out)
{
    Opentelemetry__Proto__Trace__V1__Span *span = ev->t->span;
    if (span->status == NULL) {
        struct kt_arena *a = ottl_eval_arena(ev);
        if (a == NULL)
            return KT_EINVAL;
        Opentelemetry__Proto__Trace__V1__Status *st = kt_arena_alloc(a, sizeof(*st));
        if (st == NULL)
            return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
        Opentelemetry__Proto__Trace__V1__Status init =
            OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
        *st = init;
        span->status = st;
    }
    *out = span->status;
    return 0;
}

static int set_keyed(struct ottl_eval *ev, const struct ottl_node *path, const struct ottl_value *v)
{
    const struct ottl_path_def *d = path->path.def;
    struct ottl_map m;
    int rc = base_map(ev, d, true, &m);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    ottl_kv *kv = ottl_map_find(&m, path->path.key, path->path.keylen);
    if (kv == NULL) {
        kv = d->id == OTTL_P_CACHE ? cache_add(a, ev->t->cache, path->path.key, path->path.keylen)
                                   : map_add(a, &m, path->path.key, path->path.keylen);
        if (kv == NULL)
            return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    } else if (kv->value == NULL) {
        ottl_any *av = kt_arena_alloc(a, sizeof(*av));
        if (av == NULL)
            return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
        ottl_any avi = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        *av = avi;
        kv->value = av;
    }
    /* Further indexes: a key missing on the way becomes an empty map, so that
     * set(attributes["a"]["b"], 1) works on a span without "a". */
    ottl_any *target = kv->value;
    for (size_t i = 0; i < path->path.n_more; i++) {
        if (path->path.more[i].s != NULL &&
            target->value_case == OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE__NOT_SET) {
            ottl_any *l = new_kvlist_any(a);
            if (l == NULL)
                return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
            *target = *l;
        }
        if ((rc = index_any(ev, path, i, true, &target)) != 0)
            return kt_err_prefix(ev->err, "set ");
    }
    return ottl_value_to_any(ev, a, v, target, 0);
}

int ottl_path_set(struct ottl_eval *ev, const struct ottl_node *path, const struct ottl_value *v)
{
    const struct ottl_path_def *d = path->path.def;
    const struct ottl_tctx *t = ev->t;
    if (d->flags & OTTL_PF_READONLY)
        return kt_err_set(ev->err, KT_EINVAL, "%s cannot be set", d->name);
    /* nil into a map key leaves the key with an empty value, as the Collector's setter
     * does; into a typed field it is a wrong type, as there. */
    if ((d->flags & OTTL_PF_MAP) && path->path.key != NULL)
        return set_keyed(ev, path, v);
    int rc;
    switch (d->ctx) {
    case OTTL_CTX_SCOPE: rc = t->scope == NULL ? no_object(ev, d) : 0; break;
    case OTTL_CTX_SPAN: rc = t->span == NULL ? no_object(ev, d) : 0; break;
    case OTTL_CTX_SPANEVENT: rc = t->spanevent == NULL ? no_object(ev, d) : 0; break;
    case OTTL_CTX_METRIC: rc = t->metric == NULL ? no_object(ev, d) : 0; break;
    case OTTL_CTX_DATAPOINT: rc = t->datapoint == NULL ? no_object(ev, d) : 0; break;
    case OTTL_CTX_LOG: rc = t->log == NULL ? no_object(ev, d) : 0; break;
    default: rc = 0; break;
    }
    if (rc != 0)
        return rc;
    if (d->flags & OTTL_PF_TIME) {
        if ((rc = want_type(ev, d, v, OTTL_TIME)) != 0)
            return rc;
        uint64_t *f = time_field(t, d->id);
        if (f == NULL)
            return no_object(ev, d);
        /* pdata's NewTimestampFromTime: UnixNano as a uint64 (before 1970 wraps). */
        *f = (uint64_t)v->tm.ns;
        return 0;
    }
    Opentelemetry__Proto__Trace__V1__Status *st;
    switch (d->id) {
    case OTTL_P_SCOPE_NAME: return ottl_set_str_field(ev, d, v, &t->scope->name);
    case OTTL_P_SCOPE_VERSION: return ottl_set_str_field(ev, d, v, &t->scope->version);
    case OTTL_P_SPAN_NAME: return ottl_set_str_field(ev, d, v, &t->span->name);
    case OTTL_P_SPAN_KIND:
        if ((rc = want_type(ev, d, v, OTTL_INT)) != 0)
            return rc;
        if (v->i < OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_UNSPECIFIED ||
            v->i > OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CONSUMER)
            return kt_err_set(ev->err, KT_EINVAL, "set span.kind: %" PRId64 " is no span kind",
                              v->i);
        t->span->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)v->i;
        return 0;
    case OTTL_P_SPAN_STATUS_CODE:
        if ((rc = want_type(ev, d, v, OTTL_INT)) != 0)
            return rc;
        if (v->i < OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_UNSET ||
            v->i > OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR)
            return kt_err_set(ev->err, KT_EINVAL,
                              "set span.status.code: %" PRId64 " is no status code", v->i);
        if ((rc = span_status(ev, &st)) != 0)
            return rc;
        st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)v->i;
        return 0;
    case OTTL_P_SPAN_STATUS_MESSAGE:
        if ((rc = want_type(ev, d, v, OTTL_STR)) != 0 || (rc = span_status(ev, &st)) != 0)
            return rc;
        return ottl_set_str_field(ev, d, v, &st->message);
    case OTTL_P_SPAN_TRACE_ID: return ottl_set_id_hex(ev, d, v, 16, false, &t->span->trace_id);
    case OTTL_P_SPAN_SPAN_ID: return ottl_set_id_hex(ev, d, v, 8, false, &t->span->span_id);
    case OTTL_P_SPAN_PARENT_ID: return ottl_set_id_hex(ev, d, v, 8, true, &t->span->parent_span_id);
    case OTTL_P_SPAN_START:
    case OTTL_P_SPAN_END:
    case OTTL_P_SPANEVENT_TIME:
        if ((rc = want_type(ev, d, v, OTTL_INT)) != 0)
            return rc;
        if (d->id == OTTL_P_SPAN_START)
            t->span->start_time_unix_nano = (uint64_t)v->i;
        else if (d->id == OTTL_P_SPAN_END)
            t->span->end_time_unix_nano = (uint64_t)v->i;
        else
            t->spanevent->time_unix_nano = (uint64_t)v->i;
        return 0;
    case OTTL_P_SPANEVENT_NAME: return ottl_set_str_field(ev, d, v, &t->spanevent->name);
    case OTTL_P_METRIC_NAME: return ottl_set_str_field(ev, d, v, &t->metric->name);
    case OTTL_P_METRIC_UNIT: return ottl_set_str_field(ev, d, v, &t->metric->unit);
    case OTTL_P_METRIC_DESCRIPTION: return ottl_set_str_field(ev, d, v, &t->metric->description);
    case OTTL_P_DATAPOINT_VALUE_DOUBLE:
    case OTTL_P_DATAPOINT_VALUE_INT: {
        NumberDataPoint *p = number_dp(t);
        if (p == NULL)
            return kt_err_set(ev->err, KT_EINVAL, "set %s: not a number data point", d->name);
        if (d->id == OTTL_P_DATAPOINT_VALUE_INT) {
            if ((rc = want_type(ev, d, v, OTTL_INT)) != 0)
                return rc;
            p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
            p->as_int = v->i;
            return 0;
        }
        if (v->t != OTTL_INT && (rc = want_type(ev, d, v, OTTL_DOUBLE)) != 0)
            return rc;
        double dv = v->t == OTTL_INT ? (double)v->i : v->d;
        p->value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_DOUBLE;
        p->as_double = dv;
        return 0;
    }
    case OTTL_P_LOG_BODY: {
        struct kt_arena *a = ottl_eval_arena(ev);
        if (a == NULL)
            return KT_EINVAL;
        ottl_any *b = kt_arena_alloc(a, sizeof(*b));
        if (b == NULL)
            return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
        ottl_any bi = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        *b = bi;
        if ((rc = ottl_value_to_any(ev, a, v, b, 0)) != 0)
            return rc;
        t->log->body = b;
        return 0;
    }
    case OTTL_P_LOG_SEVERITY_NUMBER:
        if ((rc = want_type(ev, d, v, OTTL_INT)) != 0)
            return rc;
        /* The Collector stores any int32 (an unknown enum value stays on the wire). */
        if (v->i < INT32_MIN || v->i > INT32_MAX)
            return kt_err_set(ev->err, KT_EINVAL,
                              "set log.severity_number: %" PRId64 " is not an int32", v->i);
        t->log->severity_number = (Opentelemetry__Proto__Logs__V1__SeverityNumber)v->i;
        return 0;
    case OTTL_P_LOG_SEVERITY_TEXT: return ottl_set_str_field(ev, d, v, &t->log->severity_text);
    default:
        if (path->path.set != NULL)
            return path->path.set(ev, path, v);
        return kt_err_set(ev->err, KT_EINVAL, "%s cannot be set", d->name);
    }
}

/* ---- text ---- */

struct ottl_idring {
    char buf[4][2 * 16 + 1];
    unsigned next;
};

/* Per-thread so concurrent evaluations of different conditions never share a slot; four
 * slots cover every expression that holds IDs at once (a comparison holds two). */
static _Thread_local struct ottl_idring idring;

int ottl_id_text(struct ottl_eval *ev, const ProtobufCBinaryData *b, size_t size,
                 struct ottl_value *out)
{
    static const uint8_t zeros[16];
    ProtobufCBinaryData z = {size, (uint8_t *)zeros};
    if (b->len == 0 && size <= sizeof(zeros))
        b = &z;
    char *dst;
    if (b->len <= 16) {
        dst = idring.buf[idring.next++ % 4];
    } else {
        struct kt_arena *a = ottl_eval_arena(ev);
        if (a == NULL)
            return KT_EINVAL;
        dst = kt_arena_alloc(a, 2 * b->len + 1);
        if (dst == NULL)
            return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    }
    kt_hex_encode(b->data, b->len, dst);
    out->t = OTTL_STR;
    out->s.p = dst;
    out->s.n = 2 * b->len;
    return 0;
}

void ottl_abuf_put(struct ottl_abuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap - b->n < n + 1)
            cap *= 2;
        char *p = kt_arena_alloc(b->a, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        if (b->n)
            memcpy(p, b->p, b->n);
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void ottl_format_double(double d, char *buf, size_t size)
{
    if (isnan(d)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, size, d > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* The shortest text that reads back as the same double, as Go prints. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            return;
    }
}

void ottl_go_float(double d, char *buf, size_t size)
{
    if (isnan(d) || isinf(d)) {
        snprintf(buf, size, "%s", isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
        return;
    }
    char e[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(e, sizeof(e), "%.*e", prec, d);
        if (strtod(e, NULL) == d)
            break;
    }
    double a = fabs(d);
    char *x = strchr(e, 'e');
    if (a != 0 && (a < 1e-6 || a >= 1e21)) {
        /* Go writes e-07 as e-7, and keeps e+21 */
        size_t n = strlen(e);
        if (n >= 4 && e[n - 4] == 'e' && e[n - 3] == '-' && e[n - 2] == '0') {
            e[n - 2] = e[n - 1];
            e[n - 1] = '\0';
        }
        snprintf(buf, size, "%s", e);
        return;
    }
    int exp = atoi(x + 1);
    char digits[24];
    size_t nd = 0;
    for (const char *c = e; c < x; c++)
        if (*c >= '0' && *c <= '9')
            digits[nd++] = *c;
    char out[48];
    size_t o = 0;
    if (signbit(d))
        out[o++] = '-';
    if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp - 1; i++)
            out[o++] = '0';
        for (size_t i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        for (size_t i = 0; i < (size_t)exp + 1; i++)
            out[o++] = i < nd ? digits[i] : '0';
        if (nd > (size_t)exp + 1) {
            out[o++] = '.';
            for (size_t i = (size_t)exp + 1; i < nd; i++)
                out[o++] = digits[i];
        }
    }
    out[o] = '\0';
    snprintf(buf, size, "%s", out);
}

/* A string as Go's encoding/json writes it; html: with <, > and & escaped (json.Marshal),
 * else as an encoder with SetEscapeHTML(false). */
static void json_str(struct ottl_abuf *b, const char *s, size_t n, bool html)
{
    ottl_abuf_put(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool sep = c == 0xe2 && i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xa8 || (unsigned char)s[i + 2] == 0xa9);
        bool markup = html && (c == '<' || c == '>' || c == '&');
        if (c >= 0x20 && c != '"' && c != '\\' && !sep && !markup)
            continue;
        ottl_abuf_put(b, s + run, i - run);
        char esc[8];
        if (sep) {
            snprintf(esc, sizeof(esc), "\\u202%c", (unsigned char)s[i + 2] == 0xa8 ? '8' : '9');
            i += 2;
        } else if (c == '"' || c == '\\') {
            snprintf(esc, sizeof(esc), "\\%c", c);
        } else if (c == '\n' || c == '\r' || c == '\t') {
            snprintf(esc, sizeof(esc), "\\%c", c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
        } else {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
        }
        ottl_abuf_put(b, esc, strlen(esc));
        run = i + 1;
    }
    ottl_abuf_put(b, s + run, n - run);
    ottl_abuf_put(b, "\"", 1);
}

static void json_value(struct ottl_abuf *b, const struct ottl_value *v, int depth, bool html);
static int ottl_eval_bool(struct ottl_eval *ev, const struct ottl_node *n, bool *out);

static void json_any(struct ottl_abuf *b, const ottl_any *av, int depth, bool html)
{
    struct ottl_value v;
    ottl_value_from_any(av, &v);
    json_value(b, &v, depth, html);
}

static int kv_key_cmp(const void *x, const void *y)
{
    const ottl_kv *const *a = x, *const *b = y;
    return strcmp(str_or_empty((*a)->key), str_or_empty((*b)->key));
}

/* Go's encoding/json of the value's raw form (pdata's AsRaw), as the Collector prints maps
 * and lists: map keys sorted, bytes in base64, doubles as ottl_go_float. */
static void json_value(struct ottl_abuf *b, const struct ottl_value *v, int depth, bool html)
{
    char tmp[64];
    if (depth > OTTL_MAX_DEPTH) {
        ottl_abuf_put(b, "null", 4);
        return;
    }
    switch (v->t) {
    case OTTL_NIL: ottl_abuf_put(b, "null", 4); break;
    case OTTL_BOOL: ottl_abuf_put(b, v->b ? "true" : "false", v->b ? 4 : 5); break;
    case OTTL_INT:
        snprintf(tmp, sizeof(tmp), "%" PRId64, v->i);
        ottl_abuf_put(b, tmp, strlen(tmp));
        break;
    case OTTL_DOUBLE:
        if (isnan(v->d) || isinf(v->d)) {
            ottl_format_double(v->d, tmp, sizeof(tmp));
            json_str(b, tmp, strlen(tmp), html);
        } else {
            ottl_go_float(v->d, tmp, sizeof(tmp));
            ottl_abuf_put(b, tmp, strlen(tmp));
        }
        break;
    case OTTL_STR: json_str(b, v->s.p, v->s.n, html); break;
    case OTTL_BYTES: {
        char *s = kt_arena_alloc(b->a, kt_base64_len(v->s.n) + 1);
        if (s == NULL) {
            b->oom = true;
            break;
        }
        kt_base64_encode((const uint8_t *)v->s.p, v->s.n, s);
        json_str(b, s, strlen(s), html);
        break;
    }
    case OTTL_ID: {
        char hex[2 * 16 + 1];
        size_t n = v->s.n <= 16 ? v->s.n : 16;
        kt_hex_encode((const uint8_t *)v->s.p, n, hex);
        json_str(b, hex, 2 * n, html);
        break;
    }
    case OTTL_MAP: {
        size_t n = *v->m.n;
        ottl_kv **kv = kt_arena_memdup(b->a, *v->m.kv, (n ? n : 1) * sizeof(*kv));
        if (kv == NULL) {
            b->oom = true;
            break;
        }
        qsort(kv, n, sizeof(*kv), kv_key_cmp);
        ottl_abuf_put(b, "{", 1);
        for (size_t i = 0; i < n; i++) {
            if (i)
                ottl_abuf_put(b, ",", 1);
            const char *k = str_or_empty(kv[i]->key);
            json_str(b, k, strlen(k), html);
            ottl_abuf_put(b, ":", 1);
            json_any(b, kv[i]->value, depth + 1, html);
        }
        ottl_abuf_put(b, "}", 1);
        break;
    }
    case OTTL_ARRAY:
        ottl_abuf_put(b, "[", 1);
        for (size_t i = 0; i < v->arr->n_values; i++) {
            if (i)
                ottl_abuf_put(b, ",", 1);
            json_any(b, v->arr->values[i], depth + 1, html);
        }
        ottl_abuf_put(b, "]", 1);
        break;
    case OTTL_LIST: ottl_abuf_put(b, "null", 4); break;
    /* Go's encoding/json writes pdata's wrappers, which export no field, as {} */
    case OTTL_MSG: ottl_abuf_put(b, "{}", 2); break;
    case OTTL_TIME:
    case OTTL_DURATION: {
        char t[OTTL_TEXT_TMP];
        const char *p;
        size_t n;
        (void)ottl_value_text(NULL, v, false, t, &p, &n, NULL);
        ottl_abuf_put(b, p, n);
        break;
    }
    }
}

void ottl_json_value(struct ottl_abuf *b, const struct ottl_value *v, bool html)
{
    json_value(b, v, 0, html);
}

int ottl_value_text(struct kt_arena *a, const struct ottl_value *v, bool json_ok, char *tmp,
                    const char **p, size_t *n, struct kt_err *err)
{
    *p = NULL;
    *n = 0;
    switch (v->t) {
    case OTTL_NIL: return 0;
    case OTTL_STR:
        *p = v->s.p;
        *n = v->s.n;
        return 0;
    case OTTL_BOOL:
        *p = v->b ? "true" : "false";
        *n = strlen(*p);
        return 0;
    case OTTL_INT:
        snprintf(tmp, OTTL_TEXT_TMP, "%" PRId64, v->i);
        *p = tmp;
        *n = strlen(tmp);
        return 0;
    case OTTL_DOUBLE:
        ottl_format_double(v->d, tmp, OTTL_TEXT_TMP);
        *p = tmp;
        *n = strlen(tmp);
        return 0;
    /* As Go's json.Marshal, which the Collector's string-like getter falls back to: a
     * duration as its nanoseconds, a time as quoted RFC 3339 text. */
    case OTTL_DURATION:
        snprintf(tmp, OTTL_TEXT_TMP, "%" PRId64, v->i);
        *p = tmp;
        *n = strlen(tmp);
        return 0;
    case OTTL_TIME:
        tmp[0] = '"';
        *n = ottl_time_rfc3339(&v->tm, tmp + 1, OTTL_TEXT_TMP - 2) + 1;
        tmp[(*n)++] = '"';
        tmp[*n] = '\0';
        *p = tmp;
        return 0;
    case OTTL_BYTES: {
        char *dst = tmp;
        if (2 * v->s.n + 1 > OTTL_TEXT_TMP) {
            if (a == NULL)
                return kt_err_set(err, KT_EINVAL, "no arena to hold new values");
            dst = kt_arena_alloc(a, 2 * v->s.n + 1);
            if (dst == NULL)
                return kt_err_set(err, KT_ENOMEM, "out of memory");
        }
        kt_hex_encode((const uint8_t *)v->s.p, v->s.n, dst);
        *p = dst;
        *n = 2 * v->s.n;
        return 0;
    }
    default:
        if (!json_ok || v->t == OTTL_LIST)
            return kt_err_set(err, KT_EINVAL, "want a string, got %s", ottl_vtype_name(v->t));
        if (a == NULL)
            return kt_err_set(err, KT_EINVAL, "no arena to hold new values");
        struct ottl_abuf b = {a, NULL, 0, 0, false};
        json_value(&b, v, 0, true);
        if (b.oom)
            return kt_err_set(err, KT_ENOMEM, "out of memory");
        *p = b.p;
        *n = b.n;
        return 0;
    }
}

/* ---- comparison and logic ---- */

static bool ord(int c, enum ottl_cmp op)
{
    switch (op) {
    case OTTL_CMP_EQ: return c == 0;
    case OTTL_CMP_NE: return c != 0;
    case OTTL_CMP_LT: return c < 0;
    case OTTL_CMP_LE: return c <= 0;
    case OTTL_CMP_GT: return c > 0;
    case OTTL_CMP_GE: return c >= 0;
    }
    return false;
}

static bool is_num(const struct ottl_value *v)
{
    return v->t == OTTL_INT || v->t == OTTL_DOUBLE;
}

/* OTTL comparison rules: numbers compare across int/double, strings and bytes bytewise,
 * bools false < true; nil equals only nil; any other mix is unequal and unordered. */
static bool ottl_compare(const struct ottl_value *a, const struct ottl_value *b, enum ottl_cmp op)
{
    if (a->t == OTTL_NIL && b->t == OTTL_NIL)
        return op == OTTL_CMP_EQ || op == OTTL_CMP_LE || op == OTTL_CMP_GE;
    if (a->t == OTTL_NIL || b->t == OTTL_NIL)
        return op == OTTL_CMP_NE;
    if (is_num(a) && is_num(b)) {
        if (a->t == OTTL_INT && b->t == OTTL_INT)
            return ord((a->i > b->i) - (a->i < b->i), op);
        double x = a->t == OTTL_INT ? (double)a->i : a->d;
        double y = b->t == OTTL_INT ? (double)b->i : b->d;
        if (isnan(x) || isnan(y))
            return op == OTTL_CMP_NE;
        return ord((x > y) - (x < y), op);
    }
    if (a->t != b->t)
        return op == OTTL_CMP_NE;
    switch (a->t) {
    case OTTL_TIME: return ord((a->tm.ns > b->tm.ns) - (a->tm.ns < b->tm.ns), op);
    case OTTL_DURATION: return ord((a->i > b->i) - (a->i < b->i), op);
    case OTTL_BOOL: return ord((int)a->b - (int)b->b, op);
    case OTTL_STR:
    case OTTL_BYTES: {
        size_t n = a->s.n < b->s.n ? a->s.n : b->s.n;
        int c = n ? memcmp(a->s.p, b->s.p, n) : 0;
        if (c == 0)
            c = (a->s.n > b->s.n) - (a->s.n < b->s.n);
        return ord(c, op);
    }
    case OTTL_MAP:
        if (op == OTTL_CMP_EQ || op == OTTL_CMP_NE)
            return (a->m.kv == b->m.kv) == (op == OTTL_CMP_EQ);
        return false;
    case OTTL_MSG:
        /* Go's == on pdata's wrappers: the same field of the same data point (positive is
         * not negative, though both are buckets); no order. */
        if (op == OTTL_CMP_EQ || op == OTTL_CMP_NE)
            return (a->msg.field == b->msg.field) == (op == OTTL_CMP_EQ);
        return false;
    case OTTL_ID: {
        /* Go's == on the ID types: a TraceID never equals a SpanID; no order. */
        bool eq = a->s.n == b->s.n && memcmp(a->s.p, b->s.p, a->s.n) == 0;
        return op == OTTL_CMP_EQ ? eq : op == OTTL_CMP_NE ? !eq : false;
    }
    default: return op == OTTL_CMP_NE;
    }
}

/* ---- arithmetic ---- */

/* Times and durations, as the Collector's performOpTime/performOpDuration: time - time is
 * a duration (saturating, as Go's Sub), time +/- duration and duration + time are times,
 * duration +/- duration a duration (wrapping, as Go's int64); everything else, '*' and '/'
 * included, is an error. A time keeps its zone. */
static int arith_time(struct ottl_eval *ev, char op, const struct ottl_value *a,
                      const struct ottl_value *b, struct ottl_value *out)
{
    memset(out, 0, sizeof(*out));
    if (op != '+' && op != '-')
        return kt_err_set(ev->err, KT_EINVAL,
                          "only '+' and '-' take times and durations, got %s %c %s",
                          ottl_vtype_name(a->t), op, ottl_vtype_name(b->t));
    if (a->t == OTTL_TIME && b->t == OTTL_TIME && op == '-') {
        int64_t d;
        if (__builtin_sub_overflow(a->tm.ns, b->tm.ns, &d))
            d = a->tm.ns > b->tm.ns ? INT64_MAX : INT64_MIN;
        out->t = OTTL_DURATION;
        out->i = d;
        return 0;
    }
    if (a->t == OTTL_TIME && b->t == OTTL_DURATION) {
        out->t = OTTL_TIME;
        out->tm = a->tm;
        out->tm.ns = (int64_t)(op == '+' ? (uint64_t)a->tm.ns + (uint64_t)b->i
                                         : (uint64_t)a->tm.ns - (uint64_t)b->i);
        return 0;
    }
    if (a->t == OTTL_DURATION && b->t == OTTL_DURATION) {
        out->t = OTTL_DURATION;
        out->i = (int64_t)(op == '+' ? (uint64_t)a->i + (uint64_t)b->i
                                     : (uint64_t)a->i - (uint64_t)b->i);
        return 0;
    }
    if (a->t == OTTL_DURATION && b->t == OTTL_TIME && op == '+') {
        out->t = OTTL_TIME;
        out->tm = b->tm;
        out->tm.ns = (int64_t)((uint64_t)b->tm.ns + (uint64_t)a->i);
        return 0;
    }
    return kt_err_set(ev->err, KT_EINVAL, "'%c' does not take %s %c %s", op, ottl_vtype_name(a->t),
                      op, ottl_vtype_name(b->t));
}

/* The Collector's rules (Go's int64 and float64): int op int is an int that wraps on
 * overflow and truncates on division; with a double on either side both are doubles;
 * division by zero, of ints or doubles, is an error; other types are errors. */
static int arith(struct ottl_eval *ev, char op, const struct ottl_value *a,
                 const struct ottl_value *b, struct ottl_value *out)
{
    if (a->t == OTTL_TIME || a->t == OTTL_DURATION)
        return arith_time(ev, op, a, b, out);
    if (!is_num(a) || !is_num(b))
        return kt_err_set(ev->err, KT_EINVAL, "'%c' takes ints and doubles, got %s %c %s", op,
                          ottl_vtype_name(a->t), op, ottl_vtype_name(b->t));
    memset(out, 0, sizeof(*out));
    if (a->t == OTTL_INT && b->t == OTTL_INT) {
        uint64_t x = (uint64_t)a->i, y = (uint64_t)b->i;
        out->t = OTTL_INT;
        switch (op) {
        case '+': out->i = (int64_t)(x + y); return 0;
        case '-': out->i = (int64_t)(x - y); return 0;
        case '*': out->i = (int64_t)(x * y); return 0;
        default:
            if (b->i == 0)
                return kt_err_set(ev->err, KT_EINVAL, "division by zero");
            /* Go defines MinInt64 / -1 as MinInt64; in C it overflows. */
            out->i = b->i == -1 ? (int64_t)(0 - x) : a->i / b->i;
            return 0;
        }
    }
    double x = a->t == OTTL_INT ? (double)a->i : a->d;
    double y = b->t == OTTL_INT ? (double)b->i : b->d;
    out->t = OTTL_DOUBLE;
    switch (op) {
    case '+': out->d = x + y; return 0;
    case '-': out->d = x - y; return 0;
    case '*': out->d = x * y; return 0;
    default:
        if (y == 0)
            return kt_err_set(ev->err, KT_EINVAL, "division by zero");
        out->d = x / y;
        return 0;
    }
}

static int eval_math(struct ottl_eval *ev, const struct ottl_node *n, struct ottl_value *out)
{
    struct ottl_value a, b;
    int rc = ottl_eval_value(ev, n->bin.l, &a);
    if (rc != 0)
        return rc;
    if (n->kind == OTTL_N_NEG) {
        if (!is_num(&a))
            return kt_err_set(ev->err, KT_EINVAL, "'-' takes an int or a double, got %s",
                              ottl_vtype_name(a.t));
        if (a.t == OTTL_INT)
            a.i = (int64_t)(0 - (uint64_t)a.i);
        else
            a.d = -a.d;
        *out = a;
        return 0;
    }
    if ((rc = ottl_eval_value(ev, n->bin.r, &b)) != 0)
        return rc;
    return arith(ev, n->bin.arith, &a, &b, out);
}

int ottl_eval_value(struct ottl_eval *ev, const struct ottl_node *n, struct ottl_value *out)
{
    switch (n->kind) {
    case OTTL_N_LIT: *out = n->lit; return 0;
    case OTTL_N_PATH: return path_get(ev, n, out);
    case OTTL_N_CALL: memset(out, 0, sizeof(*out)); return n->call.fn->call(ev, n, out);
    case OTTL_N_LIST:
    case OTTL_N_MAP:
        memset(out, 0, sizeof(*out));
        out->t = OTTL_LIST;
        out->list = n;
        return 0;
    case OTTL_N_MATH:
    case OTTL_N_NEG: return eval_math(ev, n, out);
    default: {
        bool b;
        int rc = ottl_eval_bool(ev, n, &b);
        if (rc != 0)
            return rc;
        memset(out, 0, sizeof(*out));
        out->t = OTTL_BOOL;
        out->b = b;
        return 0;
    }
    }
}

int ottl_want_string(struct ottl_eval *ev, const struct ottl_node *call, size_t arg,
                     struct ottl_value *v)
{
    int rc = ottl_eval_value(ev, call->call.args[arg], v);
    if (rc != 0)
        return rc;
    if (v->t != OTTL_STR)
        return kt_err_set(ev->err, KT_EINVAL, "%s: argument %zu must be a string, got %s",
                          call->call.fn->name, arg + 1, ottl_vtype_name(v->t));
    return 0;
}

static int ottl_eval_bool(struct ottl_eval *ev, const struct ottl_node *n, bool *out)
{
    int rc;
    switch (n->kind) {
    case OTTL_N_AND:
        if ((rc = ottl_eval_bool(ev, n->bin.l, out)) != 0 || !*out)
            return rc;
        return ottl_eval_bool(ev, n->bin.r, out);
    case OTTL_N_OR:
        if ((rc = ottl_eval_bool(ev, n->bin.l, out)) != 0 || *out)
            return rc;
        return ottl_eval_bool(ev, n->bin.r, out);
    case OTTL_N_NOT:
        if ((rc = ottl_eval_bool(ev, n->bin.l, out)) != 0)
            return rc;
        *out = !*out;
        return 0;
    case OTTL_N_CMP: {
        struct ottl_value a, b;
        if ((rc = ottl_eval_value(ev, n->bin.l, &a)) != 0 ||
            (rc = ottl_eval_value(ev, n->bin.r, &b)) != 0)
            return rc;
        *out = ottl_compare(&a, &b, n->bin.op);
        return 0;
    }
    default: {
        struct ottl_value v;
        if ((rc = ottl_eval_value(ev, n, &v)) != 0)
            return rc;
        if (v.t != OTTL_BOOL)
            return kt_err_set(ev->err, KT_EINVAL, "%s returned %s where a bool is needed",
                              n->kind == OTTL_N_CALL ? n->call.fn->name : "expression",
                              ottl_vtype_name(v.t));
        *out = v.b;
        return 0;
    }
    }
}

int ottl_condition_eval(const struct ottl_condition *c, const struct ottl_tctx *t, bool *match,
                        struct kt_err *err)
{
    struct ottl_eval ev = {t, err};
    *match = false;
    bool m = false;
    int rc = ottl_eval_bool(&ev, c->root, &m);
    if (rc != 0)
        return rc;
    *match = m;
    return 0;
}

int ottl_statement_exec(const struct ottl_statement *s, struct ottl_tctx *t, struct kt_err *err)
{
    struct ottl_eval ev = {t, err};
    if (s->where != NULL) {
        bool m;
        int rc = ottl_eval_bool(&ev, s->where, &m);
        if (rc != 0 || !m)
            return rc;
    }
    struct ottl_value ignored;
    return s->call->call.fn->call(&ev, s->call, &ignored);
}
