#include "offsets.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kt_err.h"

#define WORDS (OFFSETS_BLOCK_BITS / 64)

struct offsets_block {
    int64_t start;        /* offset of bit 0 */
    uint32_t pending;     /* set bits */
    uint32_t scan;        /* words below this index are all zero */
    uint64_t bits[WORDS]; /* 1 = tracked and pending */
};

void offsets_init(struct offset_tracker *t)
{
    memset(t, 0, sizeof(*t));
    t->next = -1;
    t->reported = -1;
}

static struct offsets_block *at(const struct offset_tracker *t, size_t i)
{
    return t->ring[(t->head + i) & (t->cap - 1)];
}

static void release(struct offset_tracker *t, struct offsets_block *b)
{
    if (t->spare == NULL)
        t->spare = b;
    else
        free(b);
}

static void pop_head(struct offset_tracker *t)
{
    release(t, t->ring[t->head]);
    t->head = (t->head + 1) & (t->cap - 1);
    t->n--;
}

void offsets_reset(struct offset_tracker *t)
{
    while (t->n > 0)
        pop_head(t);
    free(t->spare);
    free(t->ring);
    offsets_init(t);
}

/* Restores the invariants every query relies on: the head block is the only block or
 * still has something pending, and when it has, its scan cursor rests on a non-zero
 * word. Each cursor only moves forward (bits are set only at or above the last tracked
 * offset, which is above every pending one), so this is amortised O(1). */
static void settle(struct offset_tracker *t)
{
    while (t->n > 1 && at(t, 0)->pending == 0)
        pop_head(t);
    if (t->n == 0)
        return;
    struct offsets_block *h = at(t, 0);
    if (h->pending == 0)
        return;
    while (h->bits[h->scan] == 0)
        h->scan++;
}

static int grow(struct offset_tracker *t)
{
    size_t cap = t->cap ? t->cap * 2 : 4;
    struct offsets_block **r = malloc(cap * sizeof(*r));
    if (r == NULL)
        return KT_ENOMEM;
    for (size_t i = 0; i < t->n; i++)
        r[i] = at(t, i);
    free(t->ring);
    t->ring = r;
    t->cap = cap;
    t->head = 0;
    return 0;
}

int offsets_track(struct offset_tracker *t, int64_t offset)
{
    if (offset < 0 || offset == INT64_MAX || (t->next >= 0 && offset < t->next))
        return KT_EINVAL;
    struct offsets_block *tail = t->n > 0 ? at(t, t->n - 1) : NULL;
    if (tail == NULL || offset - tail->start >= OFFSETS_BLOCK_BITS) {
        /* Nothing pending: the old blocks say nothing the new one will not. */
        if (t->pending == 0)
            while (t->n > 0)
                pop_head(t);
        if (t->n == t->cap && grow(t) != 0)
            return KT_ENOMEM;
        tail = t->spare;
        t->spare = NULL;
        if (tail == NULL && (tail = malloc(sizeof(*tail))) == NULL)
            return KT_ENOMEM;
        memset(tail, 0, sizeof(*tail));
        tail->start = offset;
        t->ring[(t->head + t->n) & (t->cap - 1)] = tail;
        t->n++;
    }
    uint64_t i = (uint64_t)(offset - tail->start);
    tail->bits[i / 64] |= UINT64_C(1) << (i % 64);
    tail->pending++;
    t->pending++;
    t->next = offset + 1;
    settle(t);
    return 0;
}

/* The ring index of the block holding `offset`, or -1. Blocks are sorted and disjoint;
 * without gaps they are contiguous, so the direct guess nearly always hits. */
static long find(const struct offset_tracker *t, int64_t offset)
{
    if (t->n == 0 || offset < at(t, 0)->start || offset >= t->next)
        return -1;
    uint64_t guess = (uint64_t)(offset - at(t, 0)->start) / OFFSETS_BLOCK_BITS;
    if (guess < t->n) {
        const struct offsets_block *b = at(t, (size_t)guess);
        if (offset >= b->start && offset - b->start < OFFSETS_BLOCK_BITS)
            return (long)guess;
    }
    /* Last block starting at or below offset. */
    size_t lo = 0, hi = t->n;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (at(t, mid)->start <= offset)
            lo = mid;
        else
            hi = mid;
    }
    if (offset - at(t, lo)->start >= OFFSETS_BLOCK_BITS)
        return -1;
    return (long)lo;
}

int offsets_finish(struct offset_tracker *t, int64_t offset)
{
    long bi = find(t, offset);
    if (bi < 0)
        return 0;
    struct offsets_block *b = at(t, (size_t)bi);
    uint64_t i = (uint64_t)(offset - b->start);
    uint64_t mask = UINT64_C(1) << (i % 64);
    if ((b->bits[i / 64] & mask) == 0)
        return 0;
    b->bits[i / 64] &= ~mask;
    b->pending--;
    t->pending--;
    settle(t);
    return 1;
}

int64_t offsets_position(const struct offset_tracker *t)
{
    if (t->next < 0)
        return -1;
    if (t->pending == 0)
        return t->next;
    const struct offsets_block *h = at(t, 0);
    return h->start + (int64_t)h->scan * 64 + __builtin_ctzll(h->bits[h->scan]);
}

int64_t offsets_watermark(struct offset_tracker *t)
{
    int64_t w = offsets_position(t);
    if (w < 0 || w <= t->reported)
        return -1;
    t->reported = w;
    return w;
}
