#include "batcher.h"

#include <stdlib.h>
#include <string.h>

#include "kt_err.h"

#define NONE UINT32_MAX

struct chunk {
    size_t off, len; /* bytes in b->data */
    void *tag;
    uint32_t n_items;
    uint32_t next; /* next chunk of the same key, NONE at the end */
};

struct group {
    char key[BATCHER_KEY_MAX + 1];
    uint32_t key_len;
    uint32_t first, last, n_chunks;
};

/* Open-addressing slot. A slot belongs to the current batch only when its gen matches, so
 * emptying the table between flushes is one increment instead of a memset of a table that
 * grew to hold every trace ID of a busy batch. */
struct slot {
    uint32_t gen;
    uint32_t group;
};

struct batcher {
    struct batcher_opts o;
    struct kt_buf data;
    struct chunk *chunks;
    size_t n_chunks, cap_chunks;
    struct group *groups;
    size_t n_groups, cap_groups;
    struct slot *table;
    size_t table_cap; /* power of two */
    uint32_t gen;
    /* Flush scratch, sized with chunks so flushing never allocates except the value. */
    uint32_t *order;
    struct batcher_part *parts;
    struct kt_buf value;
    uint64_t items;
    size_t held_end; /* end of the last chunk in data */
};

static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)k[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int batcher_new(const struct batcher_opts *o, struct batcher **out)
{
    struct batcher *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return KT_ENOMEM;
    b->o = *o;
    b->table_cap = 64;
    b->table = calloc(b->table_cap, sizeof(*b->table));
    if (b->table == NULL) {
        free(b);
        return KT_ENOMEM;
    }
    b->gen = 1;
    *out = b;
    return 0;
}

void batcher_free(struct batcher *b)
{
    if (b == NULL)
        return;
    kt_buf_free(&b->data);
    kt_buf_free(&b->value);
    free(b->chunks);
    free(b->groups);
    free(b->table);
    free(b->order);
    free(b->parts);
    free(b);
}

static int grow_chunks(struct batcher *b)
{
    if (b->n_chunks < b->cap_chunks)
        return 0;
    if (b->cap_chunks >= NONE / 2)
        return KT_ENOMEM;
    size_t cap = b->cap_chunks ? b->cap_chunks * 2 : 64;
    struct chunk *c = realloc(b->chunks, cap * sizeof(*c));
    if (c == NULL)
        return KT_ENOMEM;
    b->chunks = c;
    uint32_t *ord = realloc(b->order, cap * sizeof(*ord));
    if (ord == NULL)
        return KT_ENOMEM;
    b->order = ord;
    struct batcher_part *parts = realloc(b->parts, cap * sizeof(*parts));
    if (parts == NULL)
        return KT_ENOMEM;
    b->parts = parts;
    b->cap_chunks = cap;
    return 0;
}

static void table_put(struct slot *t, size_t cap, uint32_t gen, uint64_t h, uint32_t group)
{
    size_t i = (size_t)h & (cap - 1);
    while (t[i].gen == gen)
        i = (i + 1) & (cap - 1);
    t[i].gen = gen;
    t[i].group = group;
}

/* Keeps the load factor at most 1/2 so probe runs stay short. */
static int grow_table(struct batcher *b)
{
    if ((b->n_groups + 1) * 2 <= b->table_cap)
        return 0;
    size_t cap = b->table_cap * 2;
    struct slot *t = calloc(cap, sizeof(*t));
    if (t == NULL)
        return KT_ENOMEM;
    for (size_t g = 0; g < b->n_groups; g++)
        table_put(t, cap, 1, hash_key(b->groups[g].key, b->groups[g].key_len), (uint32_t)g);
    free(b->table);
    b->table = t;
    b->table_cap = cap;
    b->gen = 1;
    return 0;
}

static int find_group(struct batcher *b, const char *key, size_t key_len, uint32_t *out)
{
    uint64_t h = hash_key(key, key_len);
    size_t mask = b->table_cap - 1;
    for (size_t i = (size_t)h & mask; b->table[i].gen == b->gen; i = (i + 1) & mask) {
        struct group *g = &b->groups[b->table[i].group];
        if (g->key_len == key_len && memcmp(g->key, key, key_len) == 0) {
            *out = b->table[i].group;
            return 0;
        }
    }
    int rc = grow_table(b);
    if (rc != 0)
        return rc;
    if (KT_GROW(b->groups, b->n_groups + 1, b->cap_groups) != 0)
        return KT_ENOMEM;
    uint32_t gi = (uint32_t)b->n_groups++;
    struct group *g = &b->groups[gi];
    memcpy(g->key, key, key_len);
    g->key[key_len] = '\0';
    g->key_len = (uint32_t)key_len;
    g->first = g->last = NONE;
    g->n_chunks = 0;
    table_put(b->table, b->table_cap, b->gen, h, gi);
    *out = gi;
    return 0;
}

/* Records bytes [off, off + n) of b->data as a chunk of key. */
static int hold(struct batcher *b, const char *key, size_t key_len, size_t off, size_t n,
                uint32_t n_items, void *tag)
{
    int rc = grow_chunks(b);
    if (rc != 0)
        return rc;
    uint32_t gi;
    rc = find_group(b, key, key_len, &gi);
    if (rc != 0)
        return rc;
    uint32_t ci = (uint32_t)b->n_chunks++;
    struct chunk *c = &b->chunks[ci];
    c->off = off;
    c->len = n;
    c->tag = tag;
    c->n_items = n_items;
    c->next = NONE;
    struct group *g = &b->groups[gi];
    if (g->last == NONE)
        g->first = ci;
    else
        b->chunks[g->last].next = ci;
    g->last = ci;
    g->n_chunks++;
    b->items += n_items;
    b->held_end = off + n;
    return 0;
}

int batcher_add(struct batcher *b, const char *key, size_t key_len, const uint8_t *p, size_t n,
                uint32_t n_items, void *tag)
{
    if (key_len > BATCHER_KEY_MAX)
        return KT_EINVAL;
    size_t off = b->data.len;
    int rc = kt_buf_append(&b->data, p, n);
    if (rc != 0)
        return rc;
    rc = hold(b, key, key_len, off, n, n_items, tag);
    if (rc != 0)
        b->data.len = off;
    return rc;
}

struct kt_buf *batcher_storage(struct batcher *b)
{
    return &b->data;
}

int batcher_add_stored(struct batcher *b, const char *key, size_t key_len, size_t off, size_t n,
                       uint32_t n_items, void *tag)
{
    if (key_len > BATCHER_KEY_MAX || off < b->held_end || off > b->data.len ||
        n > b->data.len - off)
        return KT_EINVAL;
    return hold(b, key, key_len, off, n, n_items, tag);
}

/* Emits order[lo, hi) of group g as one message, or as two halves when asked to. */
static void emit_range(struct batcher *b, const struct group *g, size_t lo, size_t hi,
                       batcher_emit_fn emit, void *ctx)
{
    size_t total = 0;
    uint64_t items = 0;
    size_t n_parts = 0;
    for (size_t i = lo; i < hi; i++) {
        const struct chunk *c = &b->chunks[b->order[i]];
        total += c->len;
        items += c->n_items;
        if (n_parts > 0 && b->parts[n_parts - 1].tag == c->tag) {
            b->parts[n_parts - 1].n_chunks++;
            b->parts[n_parts - 1].n_items += c->n_items;
        } else {
            b->parts[n_parts].tag = c->tag;
            b->parts[n_parts].n_chunks = 1;
            b->parts[n_parts].n_items = c->n_items;
            n_parts++;
        }
    }
    /* Chunks added one after another (a request's chunks of one key, always a lone
     * chunk) already form the value in data: it is handed out without a copy. */
    bool adjacent = true;
    for (size_t i = lo + 1; adjacent && i < hi; i++) {
        const struct chunk *prev = &b->chunks[b->order[i - 1]];
        adjacent = prev->off + prev->len == b->chunks[b->order[i]].off;
    }
    static const uint8_t empty[1]; /* empty chunks may leave data without storage */
    struct kt_slice value = {NULL, total};
    if (total == 0) {
        value.p = empty;
    } else if (adjacent) {
        value.p = b->data.p + b->chunks[b->order[lo]].off;
    } else {
        kt_buf_reset(&b->value);
        if (kt_buf_reserve(&b->value, total) == 0) {
            for (size_t i = lo; i < hi; i++) {
                const struct chunk *c = &b->chunks[b->order[i]];
                memcpy(b->value.p + b->value.len, b->data.p + c->off, c->len);
                b->value.len += c->len;
            }
            value.p = b->value.p;
        }
    }
    struct batcher_msg m = {
        .key = g->key,
        .key_len = g->key_len,
        .value = value,
        .parts = b->parts,
        .n_parts = n_parts,
        .n_chunks = hi - lo,
        .n_items = items,
    };
    if (emit(ctx, &m) == BATCHER_SPLIT && hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        emit_range(b, g, lo, mid, emit, ctx);
        emit_range(b, g, mid, hi, emit, ctx);
    }
}

void batcher_flush(struct batcher *b, batcher_emit_fn emit, void *ctx)
{
    size_t max = b->o.max_message_bytes;
    for (size_t gi = 0; gi < b->n_groups; gi++) {
        const struct group *g = &b->groups[gi];
        size_t n = 0;
        for (uint32_t ci = g->first; ci != NONE; ci = b->chunks[ci].next)
            b->order[n++] = ci;
        size_t lo = 0;
        while (lo < n) {
            size_t hi = lo, bytes = 0;
            while (hi < n) {
                size_t len = b->chunks[b->order[hi]].len;
                if (hi > lo && max > 0 && bytes + len > max)
                    break;
                bytes += len;
                hi++;
            }
            emit_range(b, g, lo, hi, emit, ctx);
            lo = hi;
        }
    }
    b->n_chunks = 0;
    b->n_groups = 0;
    b->items = 0;
    b->held_end = 0;
    kt_buf_reset(&b->data);
    if (++b->gen == 0) {
        memset(b->table, 0, b->table_cap * sizeof(*b->table));
        b->gen = 1;
    }
}

bool batcher_ready(const struct batcher *b)
{
    return b->items > 0 && b->items >= b->o.send_batch_size;
}

bool batcher_would_overflow(const struct batcher *b, uint64_t n_items)
{
    return b->o.send_batch_max_size > 0 && b->items > 0 &&
           b->items + n_items > b->o.send_batch_max_size;
}

uint64_t batcher_items(const struct batcher *b)
{
    return b->items;
}
size_t batcher_bytes(const struct batcher *b)
{
    return b->data.len;
}
size_t batcher_chunks(const struct batcher *b)
{
    return b->n_chunks;
}
