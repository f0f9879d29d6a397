/* kt_idmap: see kt_idmap.h. */
#include "kt_idmap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "kt_err.h"

#define MIN_SLOTS 16

void kt_idmap_init(struct kt_idmap *m)
{
    memset(m, 0, sizeof(*m));
    m->gen = 1;
    uint64_t k[2];
    /* Without entropy the map still works; it is only easier to attack. */
    if (getrandom(k, sizeof(k), GRND_NONBLOCK) != (ssize_t)sizeof(k)) {
        k[0] = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)m;
        k[1] = kt_idmap_mix(k[0] + 0x9e3779b97f4a7c15ULL);
    }
    m->k0 = k[0];
    m->k1 = k[1];
}

void kt_idmap_free(struct kt_idmap *m)
{
    free(m->slot);
    memset(m, 0, sizeof(*m));
}

void kt_idmap_reset(struct kt_idmap *m)
{
    m->count = 0;
    if (++m->gen == 0) {
        /* The generation wrapped: a stamp from 2^32 resets ago could match again. */
        if (m->slot != NULL)
            memset(m->slot, 0, (m->mask + 1) * sizeof(*m->slot));
        m->gen = 1;
    }
}

/* The loops below (and kt_idmap_find) copy the map's fields to locals: a store to a slot
 * could alias them and memcmp could change anything, so each would be reloaded every step. */

void kt_idmap_put(struct kt_idmap *m, const void *base, size_t stride, uint32_t idx)
{
    struct kt_idmap_slot *slot = m->slot;
    size_t mask = m->mask;
    uint32_t gen = m->gen;
    size_t i = kt_idmap_hash(m, kt_idmap_id(base, stride, idx)) & mask;
    while (slot[i].gen == gen)
        i = (i + 1) & mask;
    slot[i] = (struct kt_idmap_slot){gen, idx};
    m->count++;
}

int kt_idmap_grow(struct kt_idmap *m, const void *base, size_t stride, size_t n)
{
    size_t size = m->slot == NULL ? 0 : m->mask + 1;
    size_t need = m->count + n;
    if (need < m->count || need > SIZE_MAX / 4)
        return KT_ENOMEM;
    if (need * 4 <= size * 3)
        return 0;
    size_t nsize = size == 0 ? MIN_SLOTS : size * 2;
    while (need * 4 > nsize * 3) {
        if (nsize > SIZE_MAX / 2 / sizeof(*m->slot))
            return KT_ENOMEM;
        nsize *= 2;
    }
    struct kt_idmap_slot *old = m->slot;
    m->slot = calloc(nsize, sizeof(*m->slot));
    if (m->slot == NULL) {
        m->slot = old;
        return KT_ENOMEM;
    }
    /* New slots are stamped 0, which is never a generation: all empty. */
    m->mask = nsize - 1;
    m->count = 0;
    for (size_t i = 0; i < size; i++)
        if (old[i].gen == m->gen)
            kt_idmap_put(m, base, stride, old[i].idx);
    free(old);
    return 0;
}

uint32_t kt_idmap_find_or_put(struct kt_idmap *m, const void *base, size_t stride,
                              const uint8_t id[16], uint32_t idx)
{
    struct kt_idmap_slot *slot = m->slot;
    size_t mask = m->mask;
    uint32_t gen = m->gen;
    size_t i = kt_idmap_hash(m, id) & mask;
    for (; slot[i].gen == gen; i = (i + 1) & mask) {
        if (memcmp(kt_idmap_id(base, stride, slot[i].idx), id, 16) == 0)
            return slot[i].idx;
    }
    slot[i] = (struct kt_idmap_slot){gen, idx};
    m->count++;
    return idx;
}

void kt_idmap_remove(struct kt_idmap *m, const void *base, size_t stride, uint32_t idx)
{
    struct kt_idmap_slot *slot = m->slot;
    size_t mask = m->mask;
    uint32_t gen = m->gen;
    size_t i = kt_idmap_hash(m, kt_idmap_id(base, stride, idx)) & mask;
    while (slot[i].gen != gen || slot[i].idx != idx)
        i = (i + 1) & mask;
    /* Backward shift: move later entries of the run into the hole when their home slot
     * does not lie cyclically in (hole, their position]. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        struct kt_idmap_slot s = slot[j];
        if (s.gen != gen)
            break;
        size_t home = kt_idmap_hash(m, kt_idmap_id(base, stride, s.idx)) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            slot[i] = s;
            i = j;
        }
    }
    slot[i].gen = 0;
    m->count--;
}
