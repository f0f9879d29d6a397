/* kt_idmap: a hash table from a 16-byte ID (a trace ID) to a uint32_t index, by open
 * addressing with linear probing.
 *
 * The map holds indexes only. The IDs live in the caller's records, found as
 * base + index * stride (the ID first in each record, or an array of IDs with stride 16), so
 * the caller's array is the one copy of each ID. Every call that reads IDs takes base and
 * stride, so the records may move (realloc) between calls; an entry's ID must stay in
 * place, unchanged, while the entry is in the map.
 *
 * Slots carry the map's generation: kt_idmap_reset empties the map in O(1), for a map that
 * is filled again for each message. Removal shifts the rest of the run back instead of
 * leaving tombstones, so lookups do not slow down as IDs come and go. Nothing allocates per
 * insert: kt_idmap_reserve grows the table by rehashing (load at most 3/4). The hash is keyed
 * with random bits (kt_idmap_init): IDs come from clients, and a table whose collisions they
 * can predict could be degraded on purpose.
 *
 * Not thread-safe; a map belongs to one thread. */
#ifndef KT_IDMAP_H
#define KT_IDMAP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* No entry (kt_idmap_find); never a valid index. */
#define KT_IDMAP_NONE UINT32_MAX

struct kt_idmap_slot {
    uint32_t gen; /* the map's gen: in use; anything else: empty */
    uint32_t idx;
};

struct kt_idmap {
    struct kt_idmap_slot *slot; /* NULL until the first kt_idmap_reserve */
    size_t mask;                /* slots - 1; the slot count is a power of two */
    size_t count;
    uint32_t gen; /* never 0 */
    uint64_t k0, k1;
};

/* The 64-bit finaliser of MurmurHash3: every input bit affects every output bit. */
static inline uint64_t kt_idmap_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

/* An empty map with fresh random hash keys; nothing allocated yet. */
void kt_idmap_init(struct kt_idmap *m);

/* Frees the slots; the map is then empty and zeroed (kt_idmap_init again to reuse it).
 * Safe on a zeroed map. */
void kt_idmap_free(struct kt_idmap *m);

/* Empties the map and keeps its slots. */
void kt_idmap_reset(struct kt_idmap *m);

/* kt_idmap_reserve's out-of-line half: grows the table. */
int kt_idmap_grow(struct kt_idmap *m, const void *base, size_t stride, size_t n);

/* Makes room for n more entries, rehashing the present ones (their IDs are read through base
 * and stride). Returns 0 or KT_ENOMEM (the map is then as it was). Inline for the common
 * case, when there is room already. */
static inline int kt_idmap_reserve(struct kt_idmap *m, const void *base, size_t stride, size_t n)
{
    if (m->slot != NULL && n <= m->mask && (m->count + n) * 4 <= (m->mask + 1) * 3)
        return 0;
    return kt_idmap_grow(m, base, stride, n);
}
/* The keyed hash of id; masked, its home slot. */
static inline size_t kt_idmap_hash(const struct kt_idmap *m, const uint8_t id[16])
{
    uint64_t a, b;
    memcpy(&a, id, 8);
    memcpy(&b, id + 8, 8);
    return (size_t)kt_idmap_mix(kt_idmap_mix(a ^ m->k0) ^ b ^ m->k1);
}

/* The ID of entry idx. */
static inline const uint8_t *kt_idmap_id(const void *base, size_t stride, uint32_t idx)
{
    return (const uint8_t *)base + (size_t)idx * stride;
}

/* The index stored for id, or KT_IDMAP_NONE. Inline: it is the lookup of every offer and
 * every span group. */
static inline uint32_t kt_idmap_find(const struct kt_idmap *m, const void *base, size_t stride,
                                     const uint8_t id[16])
{
    const struct kt_idmap_slot *slot = m->slot;
    size_t mask = m->mask;
    uint32_t gen = m->gen;
    if (slot == NULL)
        return KT_IDMAP_NONE;
    for (size_t i = kt_idmap_hash(m, id) & mask;; i = (i + 1) & mask) {
        if (slot[i].gen != gen)
            return KT_IDMAP_NONE;
        if (memcmp(kt_idmap_id(base, stride, slot[i].idx), id, 16) == 0)
            return slot[i].idx;
    }
}

/* Adds idx, whose ID (already at base + idx * stride) is not in the map. Needs room
 * (kt_idmap_reserve). idx < KT_IDMAP_NONE. */
void kt_idmap_put(struct kt_idmap *m, const void *base, size_t stride, uint32_t idx);

/* One probe for "find, else add": the index stored for id, or else stores idx for it and
 * returns idx, and the caller writes id at base + idx * stride before the next call. Needs
 * room (kt_idmap_reserve). */
uint32_t kt_idmap_find_or_put(struct kt_idmap *m, const void *base, size_t stride,
                              const uint8_t id[16], uint32_t idx);

/* Removes idx, which is in the map with its ID still in place. */
void kt_idmap_remove(struct kt_idmap *m, const void *base, size_t stride, uint32_t idx);

#endif
