/* OTTL's map, list and parsing functions (issue 14), with the semantics of the Collector
 * v0.161.0 (test/interop/ottl-cases-map.js checks them against it): the converters Keys,
 * Values, ParseJSON, ParseKeyValue, ParseCSV, Coalesce, Sort and SliceToMap, the editors
 * append, delete_index, flatten and merge_maps. New maps and lists are built in the tctx
 * arena; a converter's map result is an OTTL_MAP over an arena KeyValueList, its list an
 * OTTL_ARRAY. ParseJSON is the exception: jansson builds its tree on the heap (freed before
 * it returns). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ottl_int.h"

typedef Opentelemetry__Proto__Common__V1__KeyValueList ottl_kvlist;
typedef Opentelemetry__Proto__Common__V1__ArrayValue ottl_array;

/* ---- building values in the arena ---- */

static int oom(struct ottl_eval *ev)
{
    return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
}

static ottl_any *new_any(struct kt_arena *a)
{
    ottl_any *av = kt_arena_alloc(a, sizeof(*av));
    if (av != NULL) {
        ottl_any init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        *av = init;
    }
    return av;
}

static ottl_kv *new_kv(struct kt_arena *a, const char *key, size_t keylen, ottl_any *value)
{
    ottl_kv *kv = kt_arena_alloc(a, sizeof(*kv));
    char *k = kt_arena_strndup(a, key, keylen);
    if (kv == NULL || k == NULL)
        return NULL;
    ottl_kv init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    *kv = init;
    kv->key = k;
    kv->value = value;
    return kv;
}

/* An empty kvlist with room for cap entries; out is an OTTL_MAP over it. */
static ottl_kvlist *new_kvlist(struct kt_arena *a, size_t cap, struct ottl_value *out)
{
    ottl_kvlist *l = kt_arena_alloc(a, sizeof(*l));
    ottl_kv **kv = kt_arena_alloc(a, (cap ? cap : 1) * sizeof(*kv));
    if (l == NULL || kv == NULL)
        return NULL;
    ottl_kvlist init = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE_LIST__INIT;
    *l = init;
    l->values = kv;
    memset(out, 0, sizeof(*out));
    out->t = OTTL_MAP;
    out->m.kv = &l->values;
    out->m.n = &l->n_values;
    return l;
}

static ottl_array *new_array(struct kt_arena *a, size_t cap, struct ottl_value *out)
{
    ottl_array *arr = kt_arena_alloc(a, sizeof(*arr));
    ottl_any **v = kt_arena_alloc(a, (cap ? cap : 1) * sizeof(*v));
    if (arr == NULL || v == NULL)
        return NULL;
    ottl_array init = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    *arr = init;
    arr->values = v;
    memset(out, 0, sizeof(*out));
    out->t = OTTL_ARRAY;
    out->arr = arr;
    return arr;
}

/* A copy of v as a new AnyValue in a. */
static int copy_value(struct ottl_eval *ev, struct kt_arena *a, const struct ottl_value *v,
                      ottl_any **out)
{
    if ((*out = new_any(a)) == NULL)
        return oom(ev);
    return ottl_value_to_any(ev, a, v, *out, 0);
}

/* A map argument as the Collector's PMapGetter takes one: a map from the data or a
 * converter, or a map literal (evaluated into the arena). Anything else fails. */
static int want_map_value(struct ottl_eval *ev, const struct ottl_node *call, size_t arg,
                          struct ottl_map *m)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[arg], &v);
    if (rc != 0)
        return rc;
    if (v.t == OTTL_LIST && v.list->kind == OTTL_N_MAP) {
        struct kt_arena *a = ottl_eval_arena(ev);
        ottl_any *av;
        if (a == NULL)
            return KT_EINVAL;
        if ((rc = copy_value(ev, a, &v, &av)) != 0)
            return rc;
        m->kv = &av->kvlist_value->values;
        m->n = &av->kvlist_value->n_values;
        return 0;
    }
    if (v.t != OTTL_MAP)
        return kt_err_set(ev->err, KT_EINVAL, "%s: expected a map, got %s", call->call.fn->name,
                          ottl_vtype_name(v.t));
    *m = v.m;
    return 0;
}

/* An editor's map target ('m'): a missing key or a value that is no map fails, as the
 * Collector's PMapGetter does. */
static int want_target_map(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_map *m)
{
    int rc = ottl_path_map(ev, call->call.args[0], m);
    if (rc != 0)
        return rc;
    if (m->kv == NULL)
        return kt_err_set(ev->err, KT_EINVAL, "%s: the target is not a map", call->call.fn->name);
    return 0;
}

/* The entry of key in m, appended (value NULL) when missing. *cap is the room of m's
 * array, which grows by doubling, so building a map of n keys copies O(n) pointers. */
static int map_slot(struct ottl_eval *ev, struct kt_arena *a, const struct ottl_map *m, size_t *cap,
                    const char *key, size_t keylen, ottl_kv **out)
{
    if ((*out = ottl_map_find(m, key, keylen)) != NULL)
        return 0;
    if (*m->n >= *cap) {
        size_t nc = *cap >= 4 ? 2 * *cap : 8;
        ottl_kv **kv = kt_arena_alloc(a, nc * sizeof(*kv));
        if (kv == NULL)
            return oom(ev);
        if (*m->n)
            memcpy(kv, *m->kv, *m->n * sizeof(*kv));
        *m->kv = kv;
        *cap = nc;
    }
    if ((*out = new_kv(a, key, keylen, NULL)) == NULL)
        return oom(ev);
    (*m->kv)[(*m->n)++] = *out;
    return 0;
}

/* Sets key in m to val (taken, not copied): an existing key keeps its place, a new one goes
 * last. */
static int map_put(struct ottl_eval *ev, struct kt_arena *a, const struct ottl_map *m, size_t *cap,
                   const char *key, size_t keylen, ottl_any *val)
{
    ottl_kv *kv;
    int rc = map_slot(ev, a, m, cap, key, keylen, &kv);
    if (rc == 0)
        kv->value = val;
    return rc;
}

/* ---- Keys, Values ---- */

/* Keys(target) and Values(target): the map's keys, or copies of its values, in its order. */
static int map_to_list(struct ottl_eval *ev, const struct ottl_node *call, bool keys,
                       struct ottl_value *out)
{
    struct ottl_map m;
    int rc = want_map_value(ev, call, 0, &m);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    ottl_array *arr = new_array(a, *m.n, out);
    if (arr == NULL)
        return oom(ev);
    for (size_t i = 0; i < *m.n; i++) {
        const ottl_kv *kv = (*m.kv)[i];
        struct ottl_value v = {.t = OTTL_STR};
        if (keys)
            v.s.n = strlen(v.s.p = kv->key != NULL ? kv->key : "");
        else
            ottl_value_from_any(kv->value, &v);
        if ((rc = copy_value(ev, a, &v, &arr->values[arr->n_values])) != 0)
            return rc;
        arr->n_values++;
    }
    return 0;
}

int ottl_fn_keys(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return map_to_list(ev, call, true, out);
}

int ottl_fn_values(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return map_to_list(ev, call, false, out);
}

/* ---- ParseJSON ---- */

/* j as an AnyValue in a. Numbers are doubles, as Go decodes JSON numbers into float64
 * (jansson is asked for reals: JSON_DECODE_INT_AS_REAL). */
static int json_to_any(struct ottl_eval *ev, struct kt_arena *a, const json_t *j, ottl_any *av,
                       int depth)
{
    if (depth > OTTL_MAX_DEPTH)
        return kt_err_set(ev->err, KT_EINVAL, "ParseJSON: JSON nested deeper than %d",
                          OTTL_MAX_DEPTH);
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        struct ottl_value v;
        ottl_kvlist *l = new_kvlist(a, json_object_size(j), &v);
        if (l == NULL)
            return oom(ev);
        const char *k;
        size_t kn;
        json_t *x;
        json_object_keylen_foreach((json_t *)j, k, kn, x)
        {
            ottl_any *xv = new_any(a);
            if (xv == NULL || (l->values[l->n_values] = new_kv(a, k, kn, xv)) == NULL)
                return oom(ev);
            l->n_values++;
            int rc = json_to_any(ev, a, x, xv, depth + 1);
            if (rc != 0)
                return rc;
        }
        av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE;
        av->kvlist_value = l;
        return 0;
    }
    case JSON_ARRAY: {
        struct ottl_value v;
        ottl_array *arr = new_array(a, json_array_size(j), &v);
        if (arr == NULL)
            return oom(ev);
        for (size_t i = 0; i < json_array_size(j); i++) {
            if ((arr->values[i] = new_any(a)) == NULL)
                return oom(ev);
            arr->n_values++;
            int rc = json_to_any(ev, a, json_array_get(j, i), arr->values[i], depth + 1);
            if (rc != 0)
                return rc;
        }
        av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
        av->array_value = arr;
        return 0;
    }
    case JSON_STRING: {
        char *s = kt_arena_strndup(a, json_string_value(j), json_string_length(j));
        if (s == NULL)
            return oom(ev);
        av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        av->string_value = s;
        return 0;
    }
    case JSON_INTEGER:
    case JSON_REAL:
        av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
        av->double_value = json_number_value(j);
        return 0;
    case JSON_TRUE:
    case JSON_FALSE:
        av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
        av->bool_value = json_is_true(j);
        return 0;
    case JSON_NULL: return 0; /* an empty value, as pdata keeps a nil */
    }
    return 0;
}

/* ParseJSON(target): a JSON object as a map, an array as a list; other JSON, bad JSON and
 * a target that is no string fail. jansson allocates its tree on the heap; the result is
 * copied to the arena and the tree freed before returning. */
int ottl_fn_parse_json(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc != 0)
        return rc;
    if (v.t != OTTL_STR)
        return kt_err_set(ev->err, KT_EINVAL, "ParseJSON: expected a string, got %s",
                          ottl_vtype_name(v.t));
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    json_error_t jerr;
    json_t *j = json_loadb(v.s.p, v.s.n, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &jerr);
    if (j == NULL)
        return kt_err_set(ev->err, KT_EINVAL, "ParseJSON: %s at column %d", jerr.text, jerr.column);
    ottl_any *av = new_any(a);
    rc = av == NULL ? oom(ev) : json_to_any(ev, a, j, av, 0);
    json_decref(j);
    if (rc != 0)
        return rc;
    ottl_value_from_any(av, out);
    return 0;
}

/* ---- ParseKeyValue ---- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void trim(const char **p, size_t *n)
{
    while (*n > 0 && is_space(**p))
        (*p)++, (*n)--;
    while (*n > 0 && is_space((*p)[*n - 1]))
        (*n)--;
}

/* The literal optional argument i, or dflt when absent (empty ones are refused at parse
 * time). */
static void opt_string(const struct ottl_node *call, size_t i, const char *dflt, const char **p,
                       size_t *n)
{
    const struct ottl_node *x = call->call.args[i];
    if (x == NULL) {
        *p = dflt;
        *n = strlen(dflt);
        return;
    }
    *p = x->lit.s.p;
    *n = x->lit.s.n;
}

int ottl_check_parse_key_value(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    for (size_t i = 1; i <= 2; i++)
        if (call->call.args[i] != NULL && call->call.args[i]->lit.s.n == 0)
            return ottl_syntax_error(err, src, call->call.args[i]->pos,
                                     "ParseKeyValue: %s cannot be empty",
                                     i == 1 ? "delimiter" : "pair_delimiter");
    const char *d, *pd;
    size_t dn, pdn;
    opt_string(call, 1, "=", &d, &dn);
    opt_string(call, 2, " ", &pd, &pdn);
    if (dn == pdn && memcmp(d, pd, dn) == 0)
        return ottl_syntax_error(err, src, call->pos,
                                 "ParseKeyValue: pair_delimiter \"%.*s\" cannot equal delimiter",
                                 (int)pdn, pd);
    return 0;
}

/* Adds one "key<delim>value" pair (quotes already removed) to m, the last of a key
 * winning. */
static int kv_pair(struct ottl_eval *ev, struct kt_arena *a, const struct ottl_map *m, size_t *cap,
                   const char *p, size_t n, const char *d, size_t dn)
{
    const char *at = NULL;
    for (size_t i = 0; dn <= n && i <= n - dn && at == NULL; i++)
        if (memcmp(p + i, d, dn) == 0)
            at = p + i;
    if (at == NULL)
        return kt_err_set(ev->err, KT_EINVAL,
                          "ParseKeyValue: cannot split \"%.*s\" into 2 items, got 1 item(s)",
                          (int)(n > 64 ? 64 : n), p);
    const char *k = p, *val = at + dn;
    size_t kn = (size_t)(at - p), vn = n - kn - dn;
    trim(&k, &kn);
    trim(&val, &vn);
    ottl_any *av = new_any(a);
    char *s = kt_arena_strndup(a, val, vn);
    if (av == NULL || s == NULL)
        return oom(ev);
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    av->string_value = s;
    return map_put(ev, a, m, cap, k, kn, av);
}

/* ParseKeyValue(target, delimiter?, pair_delimiter?): pairs split on pair_delimiter outside
 * quotes (' or "), which are dropped wherever they are; empty pairs are skipped; each pair
 * split at its first delimiter; keys and values trimmed. An empty target, an unclosed
 * quote and a pair without the delimiter fail. */
int ottl_fn_parse_key_value(struct ottl_eval *ev, const struct ottl_node *call,
                            struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc != 0)
        return rc;
    if (v.t != OTTL_STR)
        return kt_err_set(ev->err, KT_EINVAL, "ParseKeyValue: expected a string, got %s",
                          ottl_vtype_name(v.t));
    if (v.s.n == 0)
        return kt_err_set(ev->err, KT_EINVAL, "ParseKeyValue: cannot parse from empty target");
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    const char *d, *pd;
    size_t dn, pdn;
    opt_string(call, 1, "=", &d, &dn);
    opt_string(call, 2, " ", &pd, &pdn);
    /* Each pair without its quotes is built in cur, which never outgrows the input. */
    char *cur = kt_arena_alloc(a, v.s.n + 1);
    if (cur == NULL || new_kvlist(a, 0, out) == NULL)
        return oom(ev);
    size_t cn = 0, cap = 0;
    char quote = 0;
    const char *s = v.s.p;
    for (size_t i = 0; i < v.s.n; i++) {
        if (quote == 0 && pdn <= v.s.n - i && memcmp(s + i, pd, pdn) == 0) {
            i += pdn - 1;
            if (cn > 0 && (rc = kv_pair(ev, a, &out->m, &cap, cur, cn, d, dn)) != 0)
                return rc;
            cn = 0;
            continue;
        }
        if (quote == 0 && (s[i] == '"' || s[i] == '\'')) {
            quote = s[i];
            continue;
        }
        if (s[i] == quote) {
            quote = 0;
            continue;
        }
        cur[cn++] = s[i];
    }
    if (quote != 0)
        return kt_err_set(ev->err, KT_EINVAL,
                          "ParseKeyValue: never reached the end of a quoted value");
    if (cn > 0)
        return kv_pair(ev, a, &out->m, &cap, cur, cn, d, dn);
    return 0;
}

/* ---- merge_maps ---- */

enum merge_strategy { MERGE_INSERT, MERGE_UPDATE, MERGE_UPSERT };

static int strategy_of(const struct ottl_node *lit)
{
    static const char *const names[] = {"insert", "update", "upsert"};
    for (int i = 0; i < 3; i++)
        if (strcmp(lit->lit.s.p, names[i]) == 0)
            return i;
    return -1;
}

int ottl_check_merge_maps(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const struct ottl_node *s = call->call.args[2];
    if (strategy_of(s) < 0)
        return ottl_syntax_error(err, src, s->pos,
                                 "merge_maps: invalid strategy \"%s\", must be \"insert\", "
                                 "\"update\" or \"upsert\"",
                                 s->lit.s.p);
    return 0;
}

/* merge_maps(target, source, strategy): source's entries copied into target; insert adds
 * only keys target lacks, update changes only keys it has, upsert does both. As in the
 * Collector, insert and upsert empty the target's entry before the source value is read and
 * copied, so a map upserted into itself ends with empty values and one merged into a map it
 * holds sees the new, empty entry; update copies over the entry. */
int ottl_fn_merge_maps(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)out;
    struct ottl_map t, src;
    int rc = want_target_map(ev, call, &t);
    if (rc == 0)
        rc = want_map_value(ev, call, 1, &src);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    enum merge_strategy how = (enum merge_strategy)strategy_of(call->call.args[2]);
    /* Source may be target itself: its length is read once, its entries by index. */
    size_t n = *src.n, cap = *t.n;
    for (size_t i = 0; i < n; i++) {
        const char *k = (*src.kv)[i]->key != NULL ? (*src.kv)[i]->key : "";
        size_t kn = strlen(k);
        ottl_kv *tkv = ottl_map_find(&t, k, kn);
        if ((how == MERGE_INSERT && tkv != NULL) || (how == MERGE_UPDATE && tkv == NULL))
            continue;
        if (tkv == NULL && (rc = map_slot(ev, a, &t, &cap, k, kn, &tkv)) != 0)
            return rc;
        if (how != MERGE_UPDATE && (tkv->value = new_any(a)) == NULL)
            return oom(ev);
        struct ottl_value v;
        ottl_any *copy;
        ottl_value_from_any((*src.kv)[i]->value, &v);
        if ((rc = copy_value(ev, a, &v, &copy)) != 0)
            return rc;
        tkv->value = copy;
    }
    return 0;
}

/* ---- flatten ---- */

int ottl_check_flatten(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const struct ottl_node *d = call->call.args[2], *c = call->call.args[3];
    /* The Collector (v0.161.0, differential test) refuses a depth of 0 as well. */
    if (d != NULL && d->lit.i < 1)
        return ottl_syntax_error(err, src, d->pos, "flatten: depth %" PRId64 " must be at least 1",
                                 d->lit.i);
    if (c != NULL && !(c->kind == OTTL_N_LIT && c->lit.t == OTTL_BOOL))
        return ottl_syntax_error(err, src, c->pos,
                                 "flatten: resolve_conflicts must be true or false");
    return 0;
}

/* How many times a flattened key was written, for resolve_conflicts. */
struct seen_key {
    const char *key;
    int64_t n;
};

struct flat {
    struct ottl_eval *ev;
    struct kt_arena *a;
    struct ottl_map out; /* the result */
    size_t cap;          /* out's room */
    int64_t max_depth;
    bool conflicts;
    struct seen_key *seen;
    size_t n_seen, cap_seen;
};

static struct seen_key *seen_find(struct flat *f, const char *key)
{
    for (size_t i = 0; i < f->n_seen; i++)
        if (strcmp(f->seen[i].key, key) == 0)
            return &f->seen[i];
    return NULL;
}

static int seen_add(struct flat *f, const char *key)
{
    if (seen_find(f, key) != NULL)
        return 0;
    if (f->n_seen == f->cap_seen) {
        size_t cap = f->cap_seen ? 2 * f->cap_seen : 16;
        struct seen_key *s = kt_arena_alloc(f->a, cap * sizeof(*s));
        if (s == NULL)
            return oom(f->ev);
        if (f->n_seen)
            memcpy(s, f->seen, f->n_seen * sizeof(*s));
        f->seen = s;
        f->cap_seen = cap;
    }
    f->seen[f->n_seen].key = key;
    f->seen[f->n_seen++].n = 0;
    return 0;
}

/* Puts val under key in the result, replacing what is there. With resolve_conflicts a key
 * written before gets ".N" instead, N counting from 0 per key, and the new key counts as
 * written (the Collector's rule, differential test: a key written by the data later still
 * replaces it). */
static int flat_put(struct flat *f, const char *key, ottl_any *val)
{
    if (f->conflicts) {
        struct seen_key *s = seen_find(f, key);
        if (s != NULL) {
            char suffix[24];
            int sn = snprintf(suffix, sizeof(suffix), ".%" PRId64, s->n++);
            size_t kn = strlen(key);
            char *nk = kt_arena_alloc(f->a, kn + (size_t)sn + 1);
            if (nk == NULL)
                return oom(f->ev);
            memcpy(nk, key, kn);
            memcpy(nk + kn, suffix, (size_t)sn + 1);
            key = nk;
        }
        int rc = seen_add(f, key);
        if (rc != 0)
            return rc;
    }
    if (val == NULL && (val = new_any(f->a)) == NULL)
        return oom(f->ev);
    return map_put(f->ev, f->a, &f->out, &f->cap, key, strlen(key), val);
}

/* prefix + (dot ? "." : "") + k, NUL-terminated in the arena; no dot after an empty
 * prefix. */
static char *join_key(struct kt_arena *a, const char *prefix, bool dot, const char *k, size_t kn)
{
    size_t pn = strlen(prefix);
    dot = dot && pn > 0;
    char *s = kt_arena_alloc(a, pn + dot + kn + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, prefix, pn);
    if (dot)
        s[pn] = '.';
    memcpy(s + pn + dot, k, kn);
    s[pn + dot + kn] = '\0';
    return s;
}

static int flat_map(struct flat *f, const struct ottl_map *m, const char *prefix, int64_t depth);

/* The items of a list found under key at depth. The Collector's keys (v0.161.0, differential
 * test): a list that is a map's value gives "key.i", a list inside a list "keyi" (no dot);
 * with resolve_conflicts the plain items of a map's list all go to "key", resolved as
 * conflicts. Maps and lists in it are flattened further while depth allows. */
static int flat_list(struct flat *f, const ottl_array *arr, const char *key, bool top,
                     int64_t depth)
{
    if (depth > OTTL_MAX_DEPTH)
        return kt_err_set(f->ev->err, KT_EINVAL, "flatten: a value nested deeper than %d",
                          OTTL_MAX_DEPTH);
    for (size_t i = 0; i < arr->n_values; i++) {
        char idx[24];
        int in = snprintf(idx, sizeof(idx), "%zu", i);
        char *ck = join_key(f->a, key, top, idx, (size_t)in);
        if (ck == NULL)
            return oom(f->ev);
        struct ottl_value v;
        ottl_value_from_any(arr->values[i], &v);
        int rc;
        if (v.t == OTTL_MAP && depth < f->max_depth)
            rc = flat_map(f, &v.m, ck, depth + 1);
        else if (v.t == OTTL_ARRAY && depth < f->max_depth)
            rc = flat_list(f, v.arr, ck, false, depth + 1);
        else
            rc = flat_put(f, f->conflicts && top ? key : ck, arr->values[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Values move from the source into the result without copies: the source map is replaced by
 * the result and each value lands in one place. */
static int flat_map(struct flat *f, const struct ottl_map *m, const char *prefix, int64_t depth)
{
    if (depth > OTTL_MAX_DEPTH)
        return kt_err_set(f->ev->err, KT_EINVAL, "flatten: a value nested deeper than %d",
                          OTTL_MAX_DEPTH);
    for (size_t i = 0; i < *m->n; i++) {
        const ottl_kv *kv = (*m->kv)[i];
        const char *k = kv->key != NULL ? kv->key : "";
        char *key = join_key(f->a, prefix, true, k, strlen(k));
        if (key == NULL)
            return oom(f->ev);
        struct ottl_value v;
        ottl_value_from_any(kv->value, &v);
        int rc;
        if (v.t == OTTL_MAP && depth < f->max_depth)
            rc = flat_map(f, &v.m, key, depth + 1);
        else if (v.t == OTTL_ARRAY && depth < f->max_depth)
            rc = flat_list(f, v.arr, key, true, depth + 1);
        else
            rc = flat_put(f, key, kv->value);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* flatten(target, prefix?, depth?, resolve_conflicts?): nested maps become "a.b" keys and
 * list items "a.0" down to depth levels; the target is replaced by the result. */
int ottl_fn_flatten(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)out;
    struct ottl_map m;
    int rc = want_target_map(ev, call, &m);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    struct ottl_value res;
    if (new_kvlist(a, 0, &res) == NULL)
        return oom(ev);
    struct flat f = {ev, a, res.m, 0, INT64_MAX, false, NULL, 0, 0};
    const struct ottl_node *p = call->call.args[1], *d = call->call.args[2],
                           *c = call->call.args[3];
    if (d != NULL)
        f.max_depth = d->lit.i;
    if (c != NULL)
        f.conflicts = c->lit.b;
    if ((rc = flat_map(&f, &m, p != NULL ? p->lit.s.p : "", 0)) != 0)
        return rc;
    *m.kv = *f.out.kv;
    *m.n = *f.out.n;
    return 0;
}

/* ---- append, delete_index ---- */

int ottl_check_append(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    if (call->call.args[1] == NULL && call->call.args[2] == NULL)
        return ottl_syntax_error(err, src, call->pos,
                                 "append: give at least one of value and values");
    return 0;
}

/* Room for n more items in arr, whose capacity is *cap. */
static int array_grow(struct ottl_eval *ev, struct kt_arena *a, ottl_array *arr, size_t *cap,
                      size_t n)
{
    if (arr->n_values + n <= *cap)
        return 0;
    size_t nc = (arr->n_values + n) * 2;
    ottl_any **v = kt_arena_alloc(a, nc * sizeof(*v));
    if (v == NULL)
        return oom(ev);
    if (arr->n_values)
        memcpy(v, arr->values, arr->n_values * sizeof(*v));
    arr->values = v;
    *cap = nc;
    return 0;
}

static bool is_map(const struct ottl_value *v)
{
    return v->t == OTTL_MAP || (v->t == OTTL_LIST && v->list->kind == OTTL_N_MAP);
}

/* Appends a copy of v; a map fails, as the Collector cannot turn one into a list item. */
static int array_push(struct ottl_eval *ev, struct kt_arena *a, ottl_array *arr, size_t *cap,
                      const struct ottl_value *v)
{
    if (is_map(v))
        return kt_err_set(ev->err, KT_EINVAL, "append: cannot append a map");
    int rc = array_grow(ev, a, arr, cap, 1);
    if (rc == 0)
        rc = copy_value(ev, a, v, &arr->values[arr->n_values]);
    if (rc == 0)
        arr->n_values++;
    return rc;
}

/* append(target, value?, values?): the target (a list's items, a scalar, nothing when it is
 * missing) followed by value and then values' items, set back as a list. A map target
 * fails. */
int ottl_fn_append(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)out;
    struct ottl_value t;
    int rc = ottl_eval_value(ev, call->call.args[0], &t);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    struct ottl_value res;
    size_t cap = 4;
    ottl_array *arr = new_array(a, cap, &res);
    if (arr == NULL)
        return oom(ev);
    if (t.t == OTTL_ARRAY) {
        for (size_t i = 0; rc == 0 && i < t.arr->n_values; i++) {
            struct ottl_value x;
            ottl_value_from_any(t.arr->values[i], &x);
            rc = array_push(ev, a, arr, &cap, &x);
        }
    } else if (t.t == OTTL_MAP) {
        return kt_err_set(ev->err, KT_EINVAL, "append: cannot append to a map");
    } else if (t.t != OTTL_NIL) {
        rc = array_push(ev, a, arr, &cap, &t);
    }
    const struct ottl_node *one = call->call.args[1], *many = call->call.args[2];
    struct ottl_value x;
    if (rc == 0 && one != NULL && (rc = ottl_eval_value(ev, one, &x)) == 0)
        rc = array_push(ev, a, arr, &cap, &x);
    for (size_t i = 0; rc == 0 && many != NULL && i < many->list.n; i++)
        if ((rc = ottl_eval_value(ev, many->list.items[i], &x)) == 0)
            rc = array_push(ev, a, arr, &cap, &x);
    if (rc != 0)
        return rc;
    return ottl_path_set(ev, call->call.args[0], &res);
}

static int want_int_arg(struct ottl_eval *ev, const struct ottl_node *call, size_t i, int64_t *x)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[i], &v);
    if (rc != 0)
        return rc;
    if (v.t != OTTL_INT)
        return kt_err_set(ev->err, KT_EINVAL, "delete_index: argument %zu must be an int, got %s",
                          i + 1, ottl_vtype_name(v.t));
    *x = v.i;
    return 0;
}

/* A literal index that is no int is a configuration error in the Collector. */
int ottl_check_delete_index(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    for (size_t i = 1; i <= 2; i++) {
        const struct ottl_node *x = call->call.args[i];
        if (x != NULL && x->kind == OTTL_N_LIT && x->lit.t != OTTL_INT)
            return ottl_syntax_error(err, src, x->pos, "delete_index: %s must be an int",
                                     i == 1 ? "start_index" : "end_index");
    }
    return 0;
}

/* delete_index(target, start_index, end_index?): removes items [start, end) of a list
 * (end: start + 1); a range outside the list fails, except the whole list [0, len). */
int ottl_fn_delete_index(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)out;
    struct ottl_value t;
    int rc = ottl_eval_value(ev, call->call.args[0], &t);
    if (rc != 0)
        return rc;
    if (t.t != OTTL_ARRAY)
        return kt_err_set(ev->err, KT_EINVAL, "delete_index: expected a list, got %s",
                          ottl_vtype_name(t.t));
    int64_t start, end, len = (int64_t)t.arr->n_values;
    if ((rc = want_int_arg(ev, call, 1, &start)) != 0)
        return rc;
    end = start + 1;
    if (call->call.args[2] != NULL && (rc = want_int_arg(ev, call, 2, &end)) != 0)
        return rc;
    bool all = start == 0 && end == len;
    if (!all && (start < 0 || start >= len))
        return kt_err_set(ev->err, KT_EINVAL,
                          "delete_index: start_index %" PRId64
                          " out of bounds for a list of %" PRId64,
                          start, len);
    if (!all && end < start)
        return kt_err_set(ev->err, KT_EINVAL,
                          "delete_index: end_index %" PRId64 " is less than start_index %" PRId64,
                          end, start);
    if (!all && end > len)
        return kt_err_set(ev->err, KT_EINVAL,
                          "delete_index: range [%" PRId64 ":%" PRId64
                          "] out of bounds for a list of %" PRId64,
                          start, end, len);
    /* The target's array is changed in place: the items after the range move down. */
    ottl_array *arr = (ottl_array *)t.arr;
    size_t s = (size_t)start, e = (size_t)end;
    memmove(arr->values + s, arr->values + e, (arr->n_values - e) * sizeof(*arr->values));
    arr->n_values -= e - s;
    return 0;
}

/* ---- Coalesce, Sort, SliceToMap ---- */

/* Coalesce(values): the first value that is not nil, or nil. */
int ottl_fn_coalesce(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    const struct ottl_node *l = call->call.args[0];
    for (size_t i = 0; i < l->list.n; i++) {
        int rc = ottl_eval_value(ev, l->list.items[i], out);
        if (rc != 0 || out->t != OTTL_NIL)
            return rc;
    }
    return 0;
}

int ottl_check_coalesce(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    if (call->call.args[0]->list.n == 0)
        return ottl_syntax_error(err, src, call->pos, "Coalesce needs at least one value");
    return 0;
}

/* A list argument as an array: one from the data as is, a list literal evaluated into the
 * arena. *is_list false: the value is no list (v holds it). */
static int list_value(struct ottl_eval *ev, const struct ottl_node *arg, struct ottl_value *v,
                      bool *is_list)
{
    int rc = ottl_eval_value(ev, arg, v);
    *is_list = false;
    if (rc != 0)
        return rc;
    if (v->t == OTTL_LIST && v->list->kind == OTTL_N_LIST) {
        struct kt_arena *a = ottl_eval_arena(ev);
        ottl_any *av;
        if (a == NULL)
            return KT_EINVAL;
        if ((rc = copy_value(ev, a, v, &av)) != 0)
            return rc;
        ottl_value_from_any(av, v);
    }
    *is_list = v->t == OTTL_ARRAY;
    return 0;
}

int ottl_check_sort(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const struct ottl_node *o = call->call.args[1];
    if (o != NULL && strcmp(o->lit.s.p, "asc") != 0 && strcmp(o->lit.s.p, "desc") != 0)
        return ottl_syntax_error(err, src, o->pos,
                                 "Sort: order must be \"asc\" or \"desc\", got \"%s\"", o->lit.s.p);
    return 0;
}

enum sort_kind { SORT_INT, SORT_DOUBLE, SORT_STR };

struct sort_item {
    const ottl_any *item; /* the list's, copied into the result */
    int64_t i;
    double d;
    const char *s;
    size_t n;
};

static int cmp_sort_items(const struct sort_item *x, const struct sort_item *y, enum sort_kind k)
{
    switch (k) {
    case SORT_INT: return (x->i > y->i) - (x->i < y->i);
    case SORT_DOUBLE:
        /* Go's cmp.Compare: NaN before every number, equal to NaN */
        if (x->d != x->d || y->d != y->d)
            return (y->d != y->d) - (x->d != x->d);
        return (x->d > y->d) - (x->d < y->d);
    case SORT_STR: {
        size_t n = x->n < y->n ? x->n : y->n;
        int c = n ? memcmp(x->s, y->s, n) : 0;
        return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
    }
    }
    return 0;
}

/* Sort(target, order?): a list sorted by its items as ints, as doubles when ints and doubles
 * mix, as their text when any is a string, bool or empty; the items keep their types and
 * equal ones their order. A list holding a map, list or bytes and an empty list come back
 * unchanged; a target that is no list fails (Collector v0.161.0, differential test). */
int ottl_fn_sort(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    bool is_list;
    int rc = list_value(ev, call->call.args[0], out, &is_list);
    if (rc != 0)
        return rc;
    if (!is_list)
        return kt_err_set(ev->err, KT_EINVAL, "Sort: expected a list, got %s",
                          ottl_vtype_name(out->t));
    if (out->arr->n_values == 0)
        return 0;
    bool desc = call->call.args[1] != NULL && call->call.args[1]->lit.s.p[0] == 'd';
    const ottl_array *in = out->arr;
    size_t n = in->n_values;
    struct ottl_value first;
    ottl_value_from_any(in->values[0], &first);
    bool want_str = false, want_double = false;
    for (size_t i = 0; i < n; i++) {
        struct ottl_value v;
        ottl_value_from_any(in->values[i], &v);
        switch (v.t) {
        case OTTL_INT: want_double = want_double || first.t == OTTL_DOUBLE; break;
        case OTTL_DOUBLE: want_double = want_double || first.t == OTTL_INT; break;
        case OTTL_STR:
        case OTTL_BOOL:
        case OTTL_NIL: want_str = true; break;
        default: return 0;
        }
    }
    enum sort_kind kind = want_str              ? SORT_STR
                          : want_double         ? SORT_DOUBLE
                          : first.t == OTTL_INT ? SORT_INT
                                                : SORT_DOUBLE;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    struct sort_item *items = kt_arena_alloc(a, n * sizeof(*items));
    if (items == NULL)
        return oom(ev);
    for (size_t i = 0; i < n; i++) {
        struct ottl_value v;
        ottl_value_from_any(in->values[i], &v);
        memset(&items[i], 0, sizeof(items[i]));
        items[i].item = in->values[i];
        if (kind == SORT_INT) {
            items[i].i = v.i;
        } else if (kind == SORT_DOUBLE) {
            items[i].d = v.t == OTTL_INT ? (double)v.i : v.d;
        } else {
            char tmp[OTTL_TEXT_TMP];
            const char *p = "";
            size_t pn = 0;
            if ((rc = ottl_value_text(a, &v, false, tmp, &p, &pn, ev->err)) != 0)
                return rc;
            if (p == NULL)
                p = "";
            if (p == tmp && (p = kt_arena_strndup(a, tmp, pn)) == NULL)
                return oom(ev);
            items[i].s = p;
            items[i].n = pn;
        }
    }
    /* Insertion sort: stable, no allocation; lists in telemetry are short. */
    for (size_t i = 1; i < n; i++) {
        struct sort_item x = items[i];
        size_t j = i;
        while (j > 0) {
            int c = cmp_sort_items(&items[j - 1], &x, kind);
            if (desc ? c >= 0 : c <= 0)
                break;
            items[j] = items[j - 1];
            j--;
        }
        items[j] = x;
    }
    ottl_array *arr = new_array(a, n, out);
    if (arr == NULL)
        return oom(ev);
    for (size_t i = 0; i < n; i++) {
        struct ottl_value v;
        ottl_value_from_any(items[i].item, &v);
        if ((rc = copy_value(ev, a, &v, &arr->values[i])) != 0)
            return rc;
        arr->n_values++;
    }
    return 0;
}

/* The value at path (a list of string literals) inside the map av, or NULL when av is no
 * map or the path is not there. */
static const ottl_any *value_at(const ottl_any *av, const struct ottl_node *path)
{
    for (size_t i = 0; i < path->list.n; i++) {
        struct ottl_value v;
        ottl_value_from_any(av, &v);
        if (v.t != OTTL_MAP)
            return NULL;
        const struct ottl_value *k = &path->list.items[i]->lit;
        const ottl_kv *kv = ottl_map_find(&v.m, k->s.p, k->s.n);
        if (kv == NULL)
            return NULL;
        av = kv->value;
    }
    return av;
}

/* SliceToMap(target, key_path?, value_path?): a map of the list's items, each under the
 * string at key_path in it (without key_path: under its index), as a whole or its value at
 * value_path; the last of a key wins. An item without them, a key that is no string and a
 * target that is no list fail (Collector v0.161.0, differential test). */
int ottl_fn_slice_to_map(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value t;
    bool is_list;
    int rc = list_value(ev, call->call.args[0], &t, &is_list);
    if (rc != 0)
        return rc;
    if (!is_list)
        return kt_err_set(ev->err, KT_EINVAL, "SliceToMap: expected a list, got %s",
                          ottl_vtype_name(t.t));
    const struct ottl_node *kp = call->call.args[1], *vp = call->call.args[2];
    if (kp != NULL && kp->list.n == 0)
        return kt_err_set(ev->err, KT_EINVAL,
                          "SliceToMap: key path must contain at least one element");
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    size_t cap = t.arr->n_values;
    if (new_kvlist(a, cap, out) == NULL)
        return oom(ev);
    for (size_t i = 0; i < t.arr->n_values; i++) {
        const ottl_any *item = t.arr->values[i], *val = item;
        struct ottl_value kv = {.t = OTTL_NIL}, vv;
        char idx[24];
        if (kp != NULL) {
            ottl_value_from_any(value_at(item, kp), &kv);
            if (kv.t != OTTL_STR)
                return kt_err_set(ev->err, KT_EINVAL,
                                  "SliceToMap: item %zu has no string at the key path", i);
        } else {
            kv.t = OTTL_STR;
            kv.s.p = idx;
            kv.s.n = (size_t)snprintf(idx, sizeof(idx), "%zu", i);
        }
        if (vp != NULL && (val = value_at(item, vp)) == NULL)
            return kt_err_set(ev->err, KT_EINVAL,
                              "SliceToMap: item %zu has nothing at the value path", i);
        ottl_any *copy;
        ottl_value_from_any(val, &vv);
        if ((rc = copy_value(ev, a, &vv, &copy)) != 0 ||
            (rc = map_put(ev, a, &out->m, &cap, kv.s.p, kv.s.n, copy)) != 0)
            return rc;
    }
    return 0;
}

/* ---- ParseCSV ---- */

/* A field of a CSV row, a view into the reader's buffers. */
struct csv_field {
    const char *p;
    size_t n;
};

struct csv_fields {
    struct csv_field *f;
    size_t n, cap;
};

/* Reads rows the way Go's encoding/csv does, the reader the Collector uses: "\r\n" is "\n",
 * empty lines are skipped, a quoted field may span lines and holds "" for '"'; strict
 * (lazy false) refuses a quote inside an unquoted field and a quote in a quoted one that
 * is not doubled or last. */
struct csv_reader {
    struct ottl_eval *ev;
    struct kt_arena *a;
    const char *s; /* the input, line ends normalised */
    size_t n, pos;
    const char *comma;
    size_t cn;
    bool lazy;
};

enum csv_status { CSV_OK, CSV_EOF, CSV_BAD_QUOTE };

static int csv_push(struct csv_reader *r, struct csv_fields *fs, const char *p, size_t n)
{
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? 2 * fs->cap : 8;
        struct csv_field *f = kt_arena_alloc(r->a, cap * sizeof(*f));
        if (f == NULL)
            return oom(r->ev);
        if (fs->n)
            memcpy(f, fs->f, fs->n * sizeof(*f));
        fs->f = f;
        fs->cap = cap;
    }
    fs->f[fs->n].p = p;
    fs->f[fs->n++].n = n;
    return 0;
}

/* The next line with its '\n' (none on the last), empty at the end. */
static void csv_line(struct csv_reader *r, const char **line, size_t *len)
{
    const char *nl = memchr(r->s + r->pos, '\n', r->n - r->pos);
    size_t end = nl != NULL ? (size_t)(nl - r->s) + 1 : r->n;
    *line = r->s + r->pos;
    *len = end - r->pos;
    r->pos = end;
}

static bool csv_at(const char *line, size_t len, size_t i, const char *w, size_t wn)
{
    return wn <= len - i && memcmp(line + i, w, wn) == 0;
}

/* One record into fs (fields read before a quote error stay in it). */
static int csv_record(struct csv_reader *r, struct csv_fields *fs, enum csv_status *st)
{
    const char *line = NULL;
    size_t len = 0;
    fs->n = 0;
    *st = CSV_OK;
    for (;;) {
        csv_line(r, &line, &len);
        if (len == 0) {
            *st = CSV_EOF;
            return 0;
        }
        if (!(len == 1 && line[0] == '\n'))
            break;
    }
    size_t i = 0;
    int rc;
    for (;;) {
        if (i >= len || line[i] != '"') {
            size_t j = i;
            while (j < len && !csv_at(line, len, j, r->comma, r->cn) && line[j] != '\n')
                j++;
            /* an unquoted field runs to the delimiter or the line's end */
            if (!r->lazy && memchr(line + i, '"', j - i) != NULL) {
                *st = CSV_BAD_QUOTE;
                return 0;
            }
            if ((rc = csv_push(r, fs, line + i, j - i)) != 0)
                return rc;
            if (j < len && line[j] != '\n') {
                i = j + r->cn;
                continue;
            }
            return 0;
        }
        /* a quoted field, unescaped into the arena; it may take further lines */
        struct ottl_abuf b = {r->a, NULL, 0, 0, false};
        bool more = false; /* a delimiter follows: another field, maybe empty */
        i++;
        for (;;) {
            const char *q = i < len ? memchr(line + i, '"', len - i) : NULL;
            if (q != NULL) {
                size_t at = (size_t)(q - line);
                ottl_abuf_put(&b, line + i, at - i);
                i = at + 1;
                if (i < len && line[i] == '"') {
                    ottl_abuf_put(&b, "\"", 1);
                    i++;
                } else if (csv_at(line, len, i, r->comma, r->cn)) {
                    i += r->cn;
                    more = true;
                    break;
                } else if (i == len || (line[i] == '\n' && i + 1 == len)) {
                    i = len;
                    break;
                } else if (r->lazy) {
                    ottl_abuf_put(&b, "\"", 1);
                } else {
                    *st = CSV_BAD_QUOTE;
                    return b.oom ? oom(r->ev) : 0;
                }
            } else if (i < len) {
                ottl_abuf_put(&b, line + i, len - i);
                csv_line(r, &line, &len);
                i = 0;
            } else {
                if (!r->lazy) {
                    *st = CSV_BAD_QUOTE;
                    return b.oom ? oom(r->ev) : 0;
                }
                i = len;
                break;
            }
        }
        if (b.oom)
            return oom(r->ev);
        if ((rc = csv_push(r, fs, b.p != NULL ? b.p : "", b.n)) != 0)
            return rc;
        if (!more)
            return 0;
    }
}

static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

int ottl_check_parse_csv(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    for (size_t i = 2; i <= 3; i++) {
        const struct ottl_node *d = call->call.args[i];
        if (d != NULL && utf8_chars(d->lit.s.p, d->lit.s.n) != 1)
            return ottl_syntax_error(err, src, d->pos, "ParseCSV: %s must be a single character",
                                     i == 2 ? "delimiter" : "header_delimiter");
    }
    const struct ottl_node *m = call->call.args[4];
    if (m != NULL && strcmp(m->lit.s.p, "strict") != 0 && strcmp(m->lit.s.p, "lazyQuotes") != 0 &&
        strcmp(m->lit.s.p, "ignoreQuotes") != 0)
        return ottl_syntax_error(err, src, m->pos,
                                 "ParseCSV: mode must be \"strict\", \"lazyQuotes\" or "
                                 "\"ignoreQuotes\", got \"%s\"",
                                 m->lit.s.p);
    return 0;
}

/* s split at every sep into fs, as Go's strings.Split. */
static int split_all(struct csv_reader *r, const char *s, size_t n, const char *sep, size_t sn,
                     struct csv_fields *fs)
{
    size_t start = 0;
    for (size_t i = 0; i + sn <= n;) {
        if (memcmp(s + i, sep, sn) == 0) {
            int rc = csv_push(r, fs, s + start, i - start);
            if (rc != 0)
                return rc;
            i += sn;
            start = i;
        } else {
            i++;
        }
    }
    return csv_push(r, fs, s + start, n - start);
}

/* The row's fields as ReadCSVRow (the Collector's) makes them: records read to the end;
 * one read with an error but some fields still counts; each further record continues the
 * previous one's last field after a "\n". */
static int csv_row(struct csv_reader *r, struct csv_fields *row)
{
    struct csv_fields rec = {NULL, 0, 0};
    size_t records = 0;
    for (;;) {
        enum csv_status st;
        int rc = csv_record(r, &rec, &st);
        if (rc != 0)
            return rc;
        if (st == CSV_EOF)
            break;
        if (st == CSV_BAD_QUOTE && rec.n == 0)
            return kt_err_set(r->ev->err, KT_EINVAL,
                              "ParseCSV: read csv line: a bare or missing '\"'");
        for (size_t i = 0; i < rec.n; i++) {
            if (records > 0 && i == 0) {
                struct ottl_abuf b = {r->a, NULL, 0, 0, false};
                struct csv_field *last = &row->f[row->n - 1];
                ottl_abuf_put(&b, last->p, last->n);
                ottl_abuf_put(&b, "\n", 1);
                ottl_abuf_put(&b, rec.f[0].p, rec.f[0].n);
                if (b.oom)
                    return oom(r->ev);
                last->p = b.p;
                last->n = b.n;
            } else if ((rc = csv_push(r, row, rec.f[i].p, rec.f[i].n)) != 0) {
                return rc;
            }
        }
        records++;
    }
    if (records == 0)
        return kt_err_set(r->ev->err, KT_EINVAL, "ParseCSV: no csv lines found");
    return 0;
}

/* "\r\n" as "\n" and a last '\r' dropped, as Go's csv reads lines. */
static char *csv_normalise(struct kt_arena *a, const char *s, size_t n, size_t *out_n)
{
    char *d = kt_arena_alloc(a, n + 1);
    if (d == NULL)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '\r' && ((i + 1 < n && s[i + 1] == '\n') || i + 1 == n)))
            d[j++] = s[i];
    d[j] = '\0';
    *out_n = j;
    return d;
}

/* ParseCSV(target, header, delimiter?, header_delimiter?, mode?): the row's fields under
 * the header's names (the header split at header_delimiter, by default the delimiter,
 * itself by default ','). Modes: strict and lazyQuotes read the row as CSV, ignoreQuotes
 * splits it at every delimiter. An empty header, a row that does not parse and a field
 * count other than the header's fail. */
int ottl_fn_parse_csv(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value t, h;
    int rc = ottl_eval_value(ev, call->call.args[0], &t);
    if (rc == 0 && t.t != OTTL_STR)
        rc = kt_err_set(ev->err, KT_EINVAL, "ParseCSV: target: expected a string, got %s",
                        ottl_vtype_name(t.t));
    if (rc == 0 && (rc = ottl_eval_value(ev, call->call.args[1], &h)) == 0 && h.t != OTTL_STR)
        rc = kt_err_set(ev->err, KT_EINVAL, "ParseCSV: header: expected a string, got %s",
                        ottl_vtype_name(h.t));
    if (rc != 0)
        return rc;
    if (h.s.n == 0)
        return kt_err_set(ev->err, KT_EINVAL, "ParseCSV: headers must not be an empty string");
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    const struct ottl_node *d = call->call.args[2], *hd = call->call.args[3],
                           *m = call->call.args[4];
    struct csv_reader r = {ev, a, NULL, 0, 0, ",", 1, false};
    if (d != NULL)
        r.comma = d->lit.s.p, r.cn = d->lit.s.n;
    const char *hsep = hd != NULL ? hd->lit.s.p : r.comma;
    size_t hsn = hd != NULL ? hd->lit.s.n : r.cn;
    struct csv_fields names = {NULL, 0, 0}, row = {NULL, 0, 0};
    if ((rc = split_all(&r, h.s.p, h.s.n, hsep, hsn, &names)) != 0)
        return rc;
    if (m != NULL && m->lit.s.p[0] == 'i') {
        rc = split_all(&r, t.s.p, t.s.n, r.comma, r.cn, &row);
    } else {
        /* Go's csv takes no quote, line end or NUL for a delimiter */
        if (r.comma[0] == '"' || r.comma[0] == '\r' || r.comma[0] == '\n' || r.comma[0] == '\0')
            return kt_err_set(ev->err, KT_EINVAL,
                              "ParseCSV: read csv line: invalid field delimiter");
        r.lazy = m != NULL && m->lit.s.p[0] == 'l';
        if ((r.s = csv_normalise(a, t.s.p, t.s.n, &r.n)) == NULL)
            return oom(ev);
        rc = csv_row(&r, &row);
    }
    if (rc != 0)
        return rc;
    if (row.n != names.n)
        return kt_err_set(ev->err, KT_EINVAL,
                          "ParseCSV: wrong number of fields: expected %zu, found %zu", names.n,
                          row.n);
    size_t cap = names.n;
    if (new_kvlist(a, cap, out) == NULL)
        return oom(ev);
    for (size_t i = 0; i < names.n; i++) {
        struct ottl_value v = {.t = OTTL_STR, .s = {row.f[i].p, row.f[i].n}};
        ottl_any *copy;
        if ((rc = copy_value(ev, a, &v, &copy)) != 0 ||
            (rc = map_put(ev, a, &out->m, &cap, names.f[i].p, names.f[i].n, copy)) != 0)
            return rc;
    }
    return 0;
}

/* ---- for the other function files ---- */

ottl_any *ottl_any_new(struct kt_arena *a)
{
    return new_any(a);
}

int ottl_map_result(struct ottl_eval *ev, struct kt_arena *a, struct ottl_value *out)
{
    return new_kvlist(a, 0, out) != NULL ? 0 : oom(ev);
}

int ottl_map_put(struct ottl_eval *ev, struct kt_arena *a, const struct ottl_map *m, size_t *cap,
                 const char *key, size_t keylen, ottl_any *val)
{
    return map_put(ev, a, m, cap, key, keylen, val);
}
