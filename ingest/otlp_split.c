#include "otlp_split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_attrhash.h"
#include "kt_codec.h"
#include "kt_idmap.h"
#include "kt_pb.h"

/* A field and the bytes it spans, tag included: units are copied whole. */
struct field {
    struct kt_pb_field pb;
    const uint8_t *start; /* first byte of the tag */
    const uint8_t *end;   /* first byte after the field */
};

/* kt_pb_field, keeping where the field starts and ends. Returns 1, 0 at the end, or
 * negative on malformed bytes: the splitter runs on validated input, but stays
 * bounds-checked so that a caller skipping validation gets KT_EINVAL rather than a crash. */
static inline int next_field(const uint8_t **pp, const uint8_t *end, struct field *f)
{
    f->start = *pp;
    int rc = kt_pb_field(pp, end, &f->pb);
    f->end = *pp;
    return rc;
}

/* Encoded size of a length-delimited field with a one-byte tag around n payload bytes. */
static inline size_t ld_size(size_t n)
{
    return 1 + kt_varint_size(n) + n;
}

/* ------------------------------------------------------------------------------------------
 * Splitting
 *
 * The request is cut into "units" (a whole resource entry, a whole scope entry, a whole
 * metric, or one item: span, log record, data point). A unit's bytes are copied verbatim,
 * tag and length included. Units are grouped by key; each group is then packed into chunks
 * by placing its units in order under re-emitted "nodes": the resource-level and
 * scope-level wrappers (and for data points, the Metric and its Gauge/Sum/...), each
 * written as its own tag, a fresh length, and the wrapper's other fields ("header") copied
 * verbatim. A unit that does not fit the current chunk is opened up into its children when
 * it has any, else moved to a new chunk, else (alone it is still too big) rejected.
 *
 * Chunk bytes are planned first (sizes only, wrapper lengths recorded in order of opening)
 * and written afterwards, so every length is written once and nothing is moved.
 * ------------------------------------------------------------------------------------------ */

#define MAX_LEVELS 4 /* resource, scope, metric, metric data */

/* U_RUN: items of one scope entry, adjacent in the request and of one key (exporters send
 * a trace's spans together), placed whole while they fit and item by item otherwise. */
enum unit_kind { U_RESOURCE, U_SCOPE, U_METRIC, U_ITEM, U_RUN };

struct range {
    size_t off, len;
};

struct node {
    size_t off, len;  /* the wrapper's payload in the request */
    size_t hdr_first; /* its fields other than the split children, in ranges[] */
    size_t hdr_n;
    size_t hdr_len;
    int32_t parent;
    uint32_t tag;
    uint8_t level;
};

struct unit {
    size_t off, len; /* whole field: tag, length, payload */
    int32_t parent;  /* node, or -1 for a resource-level unit */
    int32_t next;    /* next unit of the same group */
    uint32_t n_items;
    uint8_t kind;
    /* Its resource's topic_from_attribute value: request bytes [t_off, t_off + t_len)
     * (t_len 0: none). */
    uint32_t t_off, t_len;
};

struct group {
    uint8_t id[16];
    int32_t first, last;
    uint8_t key_len;
    char key[OTLP_KEY_MAX + 1];
};

struct otlp_splitter {
    struct range *ranges;
    size_t n_ranges, cap_ranges;
    struct node *nodes;
    size_t n_nodes, cap_nodes;
    struct unit *units;
    size_t n_units, cap_units;
    struct group *groups;
    size_t n_groups, cap_groups;
    struct kt_idmap ids; /* keyed groups by ID, emptied per call */
    struct kt_attrhash attrs;
    struct unit *placed;
    size_t n_placed, cap_placed;
    size_t *lens;
    size_t n_lens, cap_lens;
};

struct otlp_splitter *otlp_splitter_new(void)
{
    struct otlp_splitter *s = calloc(1, sizeof(*s));
    if (s != NULL) {
        kt_idmap_init(&s->ids);
        kt_attrhash_init(&s->attrs);
    }
    return s;
}

void otlp_splitter_free(struct otlp_splitter *s)
{
    if (s == NULL)
        return;
    free(s->ranges);
    free(s->nodes);
    free(s->units);
    free(s->groups);
    kt_idmap_free(&s->ids);
    kt_attrhash_free(&s->attrs);
    free(s->placed);
    free(s->lens);
    free(s);
}

void otlp_chunks_free(struct otlp_chunks *c)
{
    free(c->v);
    c->v = NULL;
    c->n = c->cap = 0;
}

/* The chunk being planned: open wrappers per level and the bytes so far. */
struct plan {
    int32_t open[MAX_LEVELS];
    size_t size[MAX_LEVELS]; /* payload bytes of each open wrapper */
    size_t lens_idx[MAX_LEVELS];
    int depth;
    size_t closed; /* bytes of finished top-level fields */
};

struct sctx {
    struct otlp_splitter *s;
    const uint8_t *base;
    enum kt_signal sig;
    size_t max;
    struct kt_buf *out;
    struct otlp_chunks *chunks;
    size_t *n_rejected;
    struct kt_err *reject_err;
    const struct group *g;
    struct plan pl;
    uint32_t n_items;
    const char *topic_attr; /* NULL: no topic_from_attribute */
    uint32_t t_off, t_len;  /* the planned chunk's topic */
};

static int malformed(struct sctx *c, const uint8_t *at, const char *what)
{
    return kt_err_set(c->reject_err, KT_EINVAL, "malformed %s message: %s (offset %zu)",
                      kt_signal_name(c->sig), what, (size_t)(at - c->base));
}

/* Payload of a whole-field range (tag + length + payload). */
static int unit_payload(const uint8_t *base, size_t off, size_t len, const uint8_t **p,
                        const uint8_t **end)
{
    const uint8_t *q = base + off;
    struct field f;
    if (next_field(&q, base + off + len, &f) != 1 || f.pb.wt != KT_PB_LEN)
        return -1;
    *p = f.pb.bytes.p;
    *end = f.pb.bytes.p + f.pb.bytes.n;
    return 0;
}

/* Finds the first length-delimited field num; returns its payload or NULL. */
static const uint8_t *find_bytes(const uint8_t *p, const uint8_t *end, uint32_t num, size_t *len)
{
    struct field f;
    while (next_field(&p, end, &f) == 1) {
        if (f.pb.num == num && f.pb.wt == KT_PB_LEN) {
            *len = f.pb.bytes.n;
            return f.pb.bytes.p;
        }
    }
    return NULL;
}

/* The topic_from_attribute value of a resource-level entry (payload [p, end)): the first
 * attribute of that key in its Resource, when it is a non-empty string (the Collector reads
 * it so). */
static void resource_topic(const struct sctx *c, const uint8_t *p, const uint8_t *end,
                           uint32_t *off, uint32_t *len)
{
    *off = *len = 0;
    if (c->topic_attr == NULL)
        return;
    size_t klen = strlen(c->topic_attr), n;
    const uint8_t *res = find_bytes(p, end, 1, &n);
    if (res == NULL)
        return;
    const uint8_t *q = res, *qend = res + n;
    struct field kv;
    while (next_field(&q, qend, &kv) == 1) {
        if (kv.pb.num != 1 || kv.pb.wt != KT_PB_LEN)
            continue;
        const uint8_t *kp = kv.pb.bytes.p, *kend = kp + kv.pb.bytes.n;
        size_t kn = 0;
        const uint8_t *key = find_bytes(kp, kend, 1, &kn);
        if (key == NULL || kn != klen || memcmp(key, c->topic_attr, klen) != 0)
            continue;
        size_t an = 0, sn = 0;
        const uint8_t *any = find_bytes(kp, kend, 2, &an);
        const uint8_t *str = any != NULL ? find_bytes(any, any + an, 1, &sn) : NULL;
        if (str != NULL && sn > 0) {
            *off = (uint32_t)(str - c->base);
            *len = (uint32_t)sn;
        }
        return;
    }
}

static bool is_metric_data(uint32_t num)
{
    return num == 5 || num == 7 || num == 9 || num == 10 || num == 11;
}

/* Data points of a Metric (payload). */
static int count_points(const uint8_t *p, const uint8_t *end, uint32_t *n)
{
    struct field f, g;
    int rc;
    while ((rc = next_field(&p, end, &f)) == 1) {
        if (!is_metric_data(f.pb.num) || f.pb.wt != KT_PB_LEN)
            continue;
        const uint8_t *q = f.pb.bytes.p, *qend = f.pb.bytes.p + f.pb.bytes.n;
        while ((rc = next_field(&q, qend, &g)) == 1) {
            if (g.pb.num == 1 && g.pb.wt == KT_PB_LEN)
                (*n)++;
        }
        if (rc < 0)
            return -1;
    }
    return rc;
}

/* Items of a scope-level entry (payload). */
static int count_scope_items(enum kt_signal sig, const uint8_t *p, const uint8_t *end, uint32_t *n)
{
    struct field f;
    int rc;
    while ((rc = next_field(&p, end, &f)) == 1) {
        if (f.pb.num != 2 || f.pb.wt != KT_PB_LEN)
            continue;
        if (sig != KT_SIGNAL_METRICS)
            (*n)++;
        else if (count_points(f.pb.bytes.p, f.pb.bytes.p + f.pb.bytes.n, n) < 0)
            return -1;
    }
    return rc;
}

/* Items of a resource-level entry (payload). */
static int count_resource_items(enum kt_signal sig, const uint8_t *p, const uint8_t *end,
                                uint32_t *n)
{
    struct field f;
    int rc;
    while ((rc = next_field(&p, end, &f)) == 1) {
        if (f.pb.num == 2 && f.pb.wt == KT_PB_LEN &&
            count_scope_items(sig, f.pb.bytes.p, f.pb.bytes.p + f.pb.bytes.n, n) < 0)
            return -1;
    }
    return rc;
}

/* Appends a node for the wrapper payload [p, end) whose header is every field except the
 * split children (field child_num, or for a Metric its data fields). */
static int add_node(struct sctx *c, const uint8_t *p, const uint8_t *end, uint32_t tag,
                    int32_t parent, uint8_t level, uint32_t child_num, int32_t *id)
{
    struct otlp_splitter *s = c->s;
    if (s->n_nodes >= INT32_MAX || KT_GROW(s->nodes, s->n_nodes + 1, s->cap_nodes) != 0)
        return KT_ENOMEM;
    struct node *nd = &s->nodes[s->n_nodes];
    nd->off = (size_t)(p - c->base);
    nd->len = (size_t)(end - p);
    nd->hdr_first = s->n_ranges;
    nd->hdr_n = 0;
    nd->hdr_len = 0;
    nd->parent = parent;
    nd->tag = tag;
    nd->level = level;
    struct field f;
    int rc;
    while ((rc = next_field(&p, end, &f)) == 1) {
        bool child = child_num != 0 ? f.pb.num == child_num : is_metric_data(f.pb.num);
        if (child && f.pb.wt == KT_PB_LEN)
            continue;
        size_t off = (size_t)(f.start - c->base), len = (size_t)(f.end - f.start);
        nd->hdr_len += len;
        if (nd->hdr_n > 0) {
            struct range *last = &s->ranges[s->n_ranges - 1];
            if (last->off + last->len == off) {
                last->len += len;
                continue;
            }
        }
        if (KT_GROW(s->ranges, s->n_ranges + 1, s->cap_ranges) != 0)
            return KT_ENOMEM;
        s->ranges[s->n_ranges++] = (struct range){off, len};
        nd->hdr_n++;
    }
    if (rc < 0)
        return malformed(c, p, "bad field in a wrapper message");
    *id = (int32_t)s->n_nodes++;
    return 0;
}

/* Closes the open wrappers at levels >= d, adding their encodings to their parents. */
static void plan_close(struct plan *pl, int d, size_t *lens)
{
    for (int l = pl->depth - 1; l >= d; l--) {
        if (lens != NULL)
            lens[pl->lens_idx[l]] = pl->size[l];
        size_t e = ld_size(pl->size[l]);
        if (l == 0)
            pl->closed += e;
        else
            pl->size[l - 1] += e;
    }
    if (pl->depth > d)
        pl->depth = d;
}

/* Bytes of the chunk if it ended now. */
static size_t plan_total(const struct plan *pl)
{
    size_t t = 0;
    for (int l = pl->depth - 1; l >= 0; l--)
        t = ld_size(pl->size[l] + t);
    return pl->closed + t;
}

/* Ancestors of a unit by level; returns the parent's level (-1: none). */
static int unit_chain(const struct otlp_splitter *s, const struct unit *u,
                      int32_t chain[MAX_LEVELS])
{
    int k = -1;
    for (int32_t n = u->parent; n >= 0; n = s->nodes[n].parent) {
        int l = s->nodes[n].level;
        chain[l] = n;
        if (l > k)
            k = l;
    }
    return k;
}

/* Applies u to pl. With s->lens non-NULL (commit), records lens slots for new wrappers. */
static void plan_add(const struct otlp_splitter *s, struct plan *pl, const struct unit *u,
                     const int32_t chain[MAX_LEVELS], int k, size_t *lens, size_t *n_lens)
{
    int d = 0;
    while (d <= k && d < pl->depth && pl->open[d] == chain[d])
        d++;
    plan_close(pl, d, lens);
    for (int l = d; l <= k; l++) {
        pl->open[l] = chain[l];
        pl->size[l] = s->nodes[chain[l]].hdr_len;
        if (n_lens != NULL)
            pl->lens_idx[l] = (*n_lens)++;
    }
    pl->depth = k + 1;
    if (k >= 0)
        pl->size[k] += u->len;
    else
        pl->closed += u->len;
}

static void write_node(struct sctx *c, const struct node *nd, size_t len)
{
    struct kt_buf *b = c->out;
    b->len += kt_varint_put(b->p + b->len, nd->tag);
    b->len += kt_varint_put(b->p + b->len, len);
    for (size_t i = 0; i < nd->hdr_n; i++) {
        const struct range *r = c->s->ranges + nd->hdr_first;
        memcpy(b->p + b->len, c->base + r[i].off, r[i].len);
        b->len += r[i].len;
    }
}

/* Writes the planned chunk and starts an empty one. */
static int flush(struct sctx *c)
{
    struct otlp_splitter *s = c->s;
    if (s->n_placed == 0)
        return 0;
    plan_close(&c->pl, 0, s->lens);
    size_t total = c->pl.closed;

    struct otlp_chunks *ch = c->chunks;
    if (KT_GROW(ch->v, ch->n + 1, ch->cap) != 0)
        return KT_ENOMEM;
    /* The plan is exact, so the writer below needs no per-write checks. */
    if (kt_buf_reserve(c->out, total) != 0)
        return KT_ENOMEM;
    size_t start = c->out->len;

    int32_t open[MAX_LEVELS];
    int depth = 0;
    size_t li = 0;
    for (size_t i = 0; i < s->n_placed; i++) {
        const struct unit *u = &s->placed[i];
        int32_t chain[MAX_LEVELS];
        int k = unit_chain(s, u, chain);
        int d = 0;
        while (d <= k && d < depth && open[d] == chain[d])
            d++;
        for (int l = d; l <= k; l++) {
            open[l] = chain[l];
            write_node(c, &s->nodes[chain[l]], s->lens[li++]);
        }
        depth = k + 1;
        memcpy(c->out->p + c->out->len, c->base + u->off, u->len);
        c->out->len += u->len;
    }
    if (c->out->len - start != total) {
        size_t written = c->out->len - start;
        c->out->len = start;
        return kt_err_set(c->reject_err, KT_EINVAL,
                          "internal error: chunk planned at %zu bytes, written %zu", total,
                          written);
    }

    struct otlp_chunk *chunk = &ch->v[ch->n++];
    memcpy(chunk->key, c->g->key, sizeof(chunk->key));
    chunk->key_len = c->g->key_len;
    chunk->off = start;
    chunk->len = total;
    chunk->n_items = c->n_items;
    chunk->topic = (struct kt_slice){c->t_len > 0 ? c->base + c->t_off : NULL, c->t_len};

    memset(&c->pl, 0, sizeof(c->pl));
    c->n_items = 0;
    s->n_placed = 0;
    s->n_lens = 0;
    return 0;
}

static void describe_item(struct sctx *c, const struct unit *u, char *buf, size_t n)
{
    const struct otlp_splitter *s = c->s;
    const uint8_t *p, *end;
    size_t off = u->off;
    if (unit_payload(c->base, u->off, u->len, &p, &end) != 0) {
        snprintf(buf, n, "item at offset %zu", off);
        return;
    }
    size_t tl = 0, sl = 0;
    const uint8_t *tid, *sid;
    char th[33] = "", sh[17] = "";
    switch (c->sig) {
    case KT_SIGNAL_TRACES:
        tid = find_bytes(p, end, 1, &tl);
        sid = find_bytes(p, end, 2, &sl);
        if (tid != NULL && tl == 16)
            kt_hex_encode(tid, 16, th);
        if (sid != NULL && sl == 8)
            kt_hex_encode(sid, 8, sh);
        snprintf(buf, n, "span %s/%s", th[0] ? th : "-", sh[0] ? sh : "-");
        break;
    case KT_SIGNAL_LOGS:
        tid = find_bytes(p, end, 9, &tl);
        if (tid != NULL && tl == 16) {
            kt_hex_encode(tid, 16, th);
            snprintf(buf, n, "log record of trace %s (offset %zu)", th, off);
        } else {
            snprintf(buf, n, "log record at offset %zu", off);
        }
        break;
    case KT_SIGNAL_METRICS: {
        /* A data point's parent is its Gauge/Sum/..., whose parent is the Metric. */
        int32_t m = u->parent >= 0 ? s->nodes[u->parent].parent : -1;
        const uint8_t *name = NULL;
        size_t nl = 0;
        if (m >= 0) {
            const struct node *nd = &s->nodes[m];
            name = find_bytes(c->base + nd->off, c->base + nd->off + nd->len, 1, &nl);
        }
        if (nl > 64)
            nl = 64;
        snprintf(buf, n, "data point of metric \"%.*s\" (offset %zu)", (int)nl,
                 name ? (const char *)name : "", off);
        break;
    }
    }
}

static int reject(struct sctx *c, const struct unit *u)
{
    if (*c->n_rejected == 0 && c->reject_err != NULL) {
        struct plan alone;
        memset(&alone, 0, sizeof(alone));
        int32_t chain[MAX_LEVELS];
        int k = unit_chain(c->s, u, chain);
        plan_add(c->s, &alone, u, chain, k, NULL, NULL);
        char what[160];
        describe_item(c, u, what, sizeof(what));
        kt_err_set(c->reject_err, KT_ETOOBIG,
                   "%s: %zu bytes encoded with its wrappers, over max_chunk_bytes %zu", what,
                   plan_total(&alone), c->max);
    }
    *c->n_rejected += u->n_items;
    return 0;
}

static int place(struct sctx *c, const struct unit *u);

/* The unit of one item (field f) under node parent, inside composite unit u (whose topic it
 * has). */
static struct unit child_item(const struct sctx *c, const struct field *f, int32_t parent,
                              const struct unit *u)
{
    return (struct unit){(size_t)(f->start - c->base),
                         (size_t)(f->end - f->start),
                         parent,
                         -1,
                         1,
                         U_ITEM,
                         u->t_off,
                         u->t_len};
}

/* Places the children of a composite unit one by one. */
static int expand(struct sctx *c, const struct unit *u)
{
    int32_t id;
    int rc;
    struct field f;

    if (u->kind == U_RUN) {
        const uint8_t *r = c->base + u->off, *rend = r + u->len;
        while ((rc = next_field(&r, rend, &f)) == 1) {
            struct unit item = child_item(c, &f, u->parent, u);
            if ((rc = place(c, &item)) != 0)
                return rc;
        }
        return rc < 0 ? malformed(c, r, "bad field in a scope entry") : 0;
    }

    const uint8_t *p, *end;
    if (unit_payload(c->base, u->off, u->len, &p, &end) != 0)
        return malformed(c, c->base + u->off, "bad length-delimited field");
    const uint8_t *q = p;

    if (u->kind == U_METRIC) {
        rc = add_node(c, p, end, 0x12, u->parent, 2, 0, &id);
        if (rc != 0)
            return rc;
        while ((rc = next_field(&q, end, &f)) == 1) {
            if (!is_metric_data(f.pb.num) || f.pb.wt != KT_PB_LEN)
                continue;
            int32_t data;
            rc = add_node(c, f.pb.bytes.p, f.pb.bytes.p + f.pb.bytes.n, (f.pb.num << 3) | KT_PB_LEN,
                          id, 3, 1, &data);
            if (rc != 0)
                return rc;
            const uint8_t *r = f.pb.bytes.p, *rend = f.pb.bytes.p + f.pb.bytes.n;
            struct field g;
            while ((rc = next_field(&r, rend, &g)) == 1) {
                if (g.pb.num != 1 || g.pb.wt != KT_PB_LEN)
                    continue;
                struct unit dp = child_item(c, &g, data, u);
                if ((rc = place(c, &dp)) != 0)
                    return rc;
            }
            if (rc < 0)
                return malformed(c, r, "bad field in metric data");
        }
        return rc < 0 ? malformed(c, q, "bad field in a metric") : 0;
    }

    bool resource = u->kind == U_RESOURCE;
    rc = add_node(c, p, end, resource ? 0x0a : 0x12, u->parent, resource ? 0 : 1, 2, &id);
    if (rc != 0)
        return rc;
    while ((rc = next_field(&q, end, &f)) == 1) {
        if (f.pb.num != 2 || f.pb.wt != KT_PB_LEN)
            continue;
        struct unit child = child_item(c, &f, id, u);
        if (resource) {
            child.kind = U_SCOPE;
            child.n_items = 0;
            if (count_scope_items(c->sig, f.pb.bytes.p, f.pb.bytes.p + f.pb.bytes.n,
                                  &child.n_items) < 0)
                return malformed(c, f.pb.bytes.p, "bad field in a scope entry");
        } else if (c->sig == KT_SIGNAL_METRICS) {
            child.kind = U_METRIC;
            child.n_items = 0;
            if (count_points(f.pb.bytes.p, f.pb.bytes.p + f.pb.bytes.n, &child.n_items) < 0)
                return malformed(c, f.pb.bytes.p, "bad field in a metric");
        }
        if (child.n_items == 0)
            continue;
        if ((rc = place(c, &child)) != 0)
            return rc;
    }
    return rc < 0 ? malformed(c, q, "bad field in a wrapper message") : 0;
}

static int place(struct sctx *c, const struct unit *u)
{
    struct otlp_splitter *s = c->s;
    /* A chunk holds the data of one topic. */
    if (s->n_placed > 0 &&
        (u->t_len != c->t_len || memcmp(c->base + u->t_off, c->base + c->t_off, u->t_len) != 0)) {
        int rc = flush(c);
        if (rc != 0)
            return rc;
    }
    if (s->n_placed == 0) {
        c->t_off = u->t_off;
        c->t_len = u->t_len;
    }
    int32_t chain[MAX_LEVELS];
    int k = unit_chain(s, u, chain);
    if (c->max != SIZE_MAX) {
        struct plan trial = c->pl;
        plan_add(s, &trial, u, chain, k, NULL, NULL);
        if (plan_total(&trial) > c->max) {
            if (u->kind != U_ITEM)
                return expand(c, u);
            if (s->n_placed > 0) {
                int rc = flush(c);
                return rc != 0 ? rc : place(c, u);
            }
            return reject(c, u);
        }
    }
    if (KT_GROW(s->placed, s->n_placed + 1, s->cap_placed) != 0 ||
        KT_GROW(s->lens, s->n_lens + MAX_LEVELS, s->cap_lens) != 0)
        return KT_ENOMEM;
    plan_add(s, &c->pl, u, chain, k, s->lens, &s->n_lens);
    s->placed[s->n_placed++] = *u;
    c->n_items += u->n_items;
    return 0;
}

/* Finds or creates the group for id (NULL: the unkeyed group "", e.g. empty trace_id). */
/* The group of ID id (NULL: the group without a key), created when new. The key is the
 * ID's first id_len bytes, as lowercase hex when hex is set, else as they are. */
static int group_of(struct otlp_splitter *s, const uint8_t *id, size_t id_len, bool hex,
                    int32_t *empty_group, int32_t *out)
{
    if (id == NULL && *empty_group >= 0) {
        *out = *empty_group;
        return 0;
    }
    if (s->n_groups >= INT32_MAX || KT_GROW(s->groups, s->n_groups + 1, s->cap_groups) != 0)
        return KT_ENOMEM;
    int32_t g = (int32_t)s->n_groups;
    if (id != NULL) {
        /* The group's ID is the first field of struct group: the map reads it there. */
        if (kt_idmap_reserve(&s->ids, s->groups, sizeof(*s->groups), 1) != 0)
            return KT_ENOMEM;
        uint32_t found =
            kt_idmap_find_or_put(&s->ids, s->groups, sizeof(*s->groups), id, (uint32_t)g);
        if (found != (uint32_t)g) {
            *out = (int32_t)found;
            return 0;
        }
    }
    s->n_groups++;
    struct group *gr = &s->groups[g];
    gr->first = gr->last = -1;
    if (id == NULL) {
        memset(gr->id, 0, 16);
        gr->key[0] = '\0';
        gr->key_len = 0;
        *empty_group = g;
    } else if (hex) {
        memcpy(gr->id, id, 16);
        kt_hex_encode(id, id_len, gr->key);
        gr->key_len = (uint8_t)(2 * id_len);
    } else {
        memcpy(gr->id, id, 16);
        memcpy(gr->key, id, id_len);
        gr->key[id_len] = '\0';
        gr->key_len = (uint8_t)id_len;
    }
    *out = g;
    return 0;
}

static int add_unit(struct otlp_splitter *s, int32_t g, const struct unit *u)
{
    if (s->n_units >= INT32_MAX || KT_GROW(s->units, s->n_units + 1, s->cap_units) != 0)
        return KT_ENOMEM;
    int32_t id = (int32_t)s->n_units++;
    s->units[id] = *u;
    s->units[id].next = -1;
    struct group *gr = &s->groups[g];
    if (gr->last >= 0)
        s->units[gr->last].next = id;
    else
        gr->first = id;
    gr->last = id;
    return 0;
}

/* The key of a resource-level entry (payload [p, end)): the Collector's hash of its
 * Resource's attributes (kt_attrhash). A Resource sent twice is merged, as decoders do. */
static int resource_key(struct otlp_splitter *s, const uint8_t *p, const uint8_t *end,
                        uint8_t key[KT_ATTRHASH_LEN])
{
    struct field f;
    int rc;
    kt_attrhash_begin(&s->attrs);
    while ((rc = next_field(&p, end, &f)) == 1) {
        if (f.pb.num == 1 && f.pb.wt == KT_PB_LEN &&
            (rc = kt_attrhash_add(&s->attrs, f.pb.bytes.p, f.pb.bytes.p + f.pb.bytes.n, 1)) != 0)
            return rc;
    }
    if (rc < 0)
        return KT_EINVAL;
    return kt_attrhash_end(&s->attrs, key);
}

/* First pass for OTLP_KEY_TRACE_ID: every item, or run of adjacent items of one trace,
 * becomes a unit of its trace's group, under nodes for its resource-level and scope-level
 * entries. */
static int group_by_trace(struct sctx *c, const uint8_t *p, const uint8_t *end)
{
    struct otlp_splitter *s = c->s;
    uint32_t id_field = c->sig == KT_SIGNAL_LOGS ? 9 : 1;
    int32_t empty_group = -1, last_group = -1;
    const uint8_t *last_id = NULL;
    struct unit run = {0, 0, -1, -1, 0, U_ITEM, 0, 0}; /* not yet added; of run_group */
    int32_t run_group = -1;
    struct field rf, sf, item;
    int rc;
    while ((rc = next_field(&p, end, &rf)) == 1) {
        if (rf.pb.num != 1 || rf.pb.wt != KT_PB_LEN)
            continue;
        int32_t rs = -1;
        const uint8_t *q = rf.pb.bytes.p, *qend = rf.pb.bytes.p + rf.pb.bytes.n;
        uint32_t t_off = 0, t_len = 0;
        resource_topic(c, q, qend, &t_off, &t_len);
        while ((rc = next_field(&q, qend, &sf)) == 1) {
            if (sf.pb.num != 2 || sf.pb.wt != KT_PB_LEN)
                continue;
            if (rs < 0 && (rc = add_node(c, rf.pb.bytes.p, qend, 0x0a, -1, 0, 2, &rs)) != 0)
                return rc;
            int32_t ss;
            if ((rc = add_node(c, sf.pb.bytes.p, sf.pb.bytes.p + sf.pb.bytes.n, 0x12, rs, 1, 2,
                               &ss)) != 0)
                return rc;
            const uint8_t *r = sf.pb.bytes.p, *rend = sf.pb.bytes.p + sf.pb.bytes.n;
            while ((rc = next_field(&r, rend, &item)) == 1) {
                if (item.pb.num != 2 || item.pb.wt != KT_PB_LEN)
                    continue;
                /* The first trace_id is the key: looking for a repeated one would mean
                 * walking every span to its end, for encodings no exporter produces. */
                size_t tl = 0;
                const uint8_t *tid =
                    find_bytes(item.pb.bytes.p, item.pb.bytes.p + item.pb.bytes.n, id_field, &tl);
                if (tid != NULL && tl != 16)
                    tid = NULL;
                size_t off = (size_t)(item.start - c->base), len = (size_t)(item.end - item.start);
                /* Exporters batch the spans of a trace together: skip the table lookup,
                 * and extend the run of the previous item. */
                if (last_group >= 0 && (tid == NULL) == (last_id == NULL) &&
                    (tid == NULL || memcmp(tid, last_id, 16) == 0)) {
                    if (run_group == last_group && run.off + run.len == off) {
                        run.len += len;
                        run.n_items++;
                        run.kind = U_RUN;
                        continue;
                    }
                } else {
                    if ((rc = group_of(s, tid, 16, true, &empty_group, &last_group)) != 0)
                        return rc;
                    last_id = tid;
                }
                if (run_group >= 0 && (rc = add_unit(s, run_group, &run)) != 0)
                    return rc;
                run = (struct unit){off, len, ss, -1, 1, U_ITEM, t_off, t_len};
                run_group = last_group;
            }
            if (rc < 0)
                return malformed(c, r, "bad field in a scope entry");
            if (run_group >= 0 && (rc = add_unit(s, run_group, &run)) != 0)
                return rc;
            run_group = -1;
        }
        if (rc < 0)
            return malformed(c, q, "bad field in a resource entry");
    }
    return rc < 0 ? malformed(c, p, "bad top-level field") : 0;
}

/* First pass for OTLP_KEY_NONE / OTLP_KEY_RESOURCE_HASH: each resource-level entry
 * with items becomes one unit. */
static int group_by_resource(struct sctx *c, const uint8_t *p, const uint8_t *end, bool hash)
{
    struct otlp_splitter *s = c->s;
    int32_t empty_group = -1;
    struct field rf;
    int rc;
    while ((rc = next_field(&p, end, &rf)) == 1) {
        if (rf.pb.num != 1 || rf.pb.wt != KT_PB_LEN)
            continue;
        struct unit u = {
            (size_t)(rf.start - c->base), (size_t)(rf.end - rf.start), -1, -1, 0, U_RESOURCE, 0, 0};
        resource_topic(c, rf.pb.bytes.p, rf.pb.bytes.p + rf.pb.bytes.n, &u.t_off, &u.t_len);
        if (count_resource_items(c->sig, rf.pb.bytes.p, rf.pb.bytes.p + rf.pb.bytes.n, &u.n_items) <
            0)
            return malformed(c, rf.pb.bytes.p, "bad field in a resource entry");
        if (u.n_items == 0)
            continue;
        int32_t g;
        if (hash) {
            uint8_t id[KT_ATTRHASH_LEN];
            rc = resource_key(s, rf.pb.bytes.p, rf.pb.bytes.p + rf.pb.bytes.n, id);
            if (rc == KT_ENOMEM)
                return rc;
            if (rc != 0)
                return malformed(c, rf.pb.bytes.p, "bad resource");
            rc = group_of(s, id, sizeof(id), false, &empty_group, &g);
        } else {
            rc = group_of(s, NULL, 0, false, &empty_group, &g);
        }
        if (rc != 0)
            return rc;
        if ((rc = add_unit(s, g, &u)) != 0)
            return rc;
    }
    return rc < 0 ? malformed(c, p, "bad top-level field") : 0;
}

int otlp_splitter_split(struct otlp_splitter *s, enum kt_signal sig, struct kt_slice msg,
                        const struct otlp_split_opts *o, struct kt_buf *out,
                        struct otlp_chunks *chunks, size_t *n_rejected, struct kt_err *reject_err)
{
    size_t dummy_rejected = 0;
    if (n_rejected == NULL)
        n_rejected = &dummy_rejected;
    *n_rejected = 0;
    if ((unsigned)sig >= KT_SIGNAL_COUNT)
        return kt_err_set(reject_err, KT_EINVAL, "unknown signal %d", (int)sig);
    if (msg.n > 0 && msg.p == NULL)
        return kt_err_set(reject_err, KT_EINVAL, "NULL message of %zu bytes", msg.n);
    enum otlp_key_mode mode = o != NULL ? o->key_mode : OTLP_KEY_NONE;
    if (mode == OTLP_KEY_TRACE_ID && sig == KT_SIGNAL_METRICS)
        return kt_err_set(reject_err, KT_EINVAL, "key mode trace_id does not apply to metrics");
    if (mode != OTLP_KEY_NONE && mode != OTLP_KEY_TRACE_ID && mode != OTLP_KEY_RESOURCE_HASH)
        return kt_err_set(reject_err, KT_EINVAL, "unknown key mode %d", (int)mode);
    if (msg.n == 0)
        return 0;

    struct sctx c;
    memset(&c, 0, sizeof(c));
    c.s = s;
    c.base = msg.p;
    c.sig = sig;
    c.max = o != NULL && o->max_chunk_bytes > 0 ? o->max_chunk_bytes : SIZE_MAX;
    c.out = out;
    c.chunks = chunks;
    c.n_rejected = n_rejected;
    c.reject_err = reject_err;
    c.topic_attr =
        o != NULL && o->topic_attr != NULL && o->topic_attr[0] != '\0' ? o->topic_attr : NULL;

    size_t out_len0 = out->len, chunks_n0 = chunks->n;
    const uint8_t *p = msg.p, *end = msg.p + msg.n;
    int rc;

    if (mode == OTLP_KEY_NONE && msg.n <= c.max && c.topic_attr == NULL) {
        /* The common case: forward the request as it is. */
        uint32_t n = 0;
        struct field rf;
        while ((rc = next_field(&p, end, &rf)) == 1) {
            if (rf.pb.num == 1 && rf.pb.wt == KT_PB_LEN &&
                count_resource_items(sig, rf.pb.bytes.p, rf.pb.bytes.p + rf.pb.bytes.n, &n) < 0)
                return malformed(&c, rf.pb.bytes.p, "bad field in a resource entry");
        }
        if (rc < 0)
            return malformed(&c, p, "bad top-level field");
        if (n == 0)
            return 0;
        if (KT_GROW(chunks->v, chunks->n + 1, chunks->cap) != 0 ||
            kt_buf_append(out, msg.p, msg.n) != 0) {
            out->len = out_len0;
            return KT_ENOMEM;
        }
        struct otlp_chunk *ch = &chunks->v[chunks->n++];
        ch->key[0] = '\0';
        ch->key_len = 0;
        ch->off = out_len0;
        ch->len = msg.n;
        ch->n_items = n;
        ch->topic = (struct kt_slice){NULL, 0};
        return 0;
    }

    s->n_ranges = s->n_nodes = s->n_units = s->n_groups = s->n_placed = s->n_lens = 0;
    kt_idmap_reset(&s->ids);

    if (mode == OTLP_KEY_TRACE_ID)
        rc = group_by_trace(&c, p, end);
    else
        rc = group_by_resource(&c, p, end, mode == OTLP_KEY_RESOURCE_HASH);

    for (size_t g = 0; rc == 0 && g < s->n_groups; g++) {
        c.g = &s->groups[g];
        for (int32_t u = s->groups[g].first; rc == 0 && u >= 0; u = s->units[u].next)
            rc = place(&c, &s->units[u]);
        if (rc == 0)
            rc = flush(&c);
    }
    if (rc != 0) {
        out->len = out_len0;
        chunks->n = chunks_n0;
        if (rc == KT_ENOMEM)
            kt_err_set(reject_err, KT_ENOMEM, "out of memory splitting a %s message",
                       kt_signal_name(sig));
    }
    return rc;
}
