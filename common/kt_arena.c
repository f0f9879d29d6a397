#include "kt_arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_ALIGN (alignof(max_align_t))
#define ARENA_FIRST_BLOCK 16384
#define ARENA_MAX_BLOCK (4u << 20)

struct kt_arena_block {
    struct kt_arena_block *next;
    size_t size; /* usable bytes after the header */
};

#define ARENA_HDR (((sizeof(struct kt_arena_block) + ARENA_ALIGN - 1) / ARENA_ALIGN) * ARENA_ALIGN)

static void *pb_alloc(void *data, size_t size)
{
    return kt_arena_alloc(data, size);
}

static void pb_free(void *data, void *p)
{
    /* Everything goes at once in kt_arena_reset / kt_arena_free. */
    (void)data;
    (void)p;
}

static void set_initial(struct kt_arena *a)
{
    uintptr_t p = (uintptr_t)a->initial;
    uintptr_t aligned = (p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
    if (a->initial == NULL || aligned - p >= a->initial_size) {
        a->cur = a->end = NULL;
        return;
    }
    a->cur = (unsigned char *)aligned;
    a->end = a->initial + a->initial_size;
}

void kt_arena_init(struct kt_arena *a, void *buf, size_t size)
{
    memset(a, 0, sizeof(*a));
    a->initial = buf;
    a->initial_size = buf ? size : 0;
    a->next_size = ARENA_FIRST_BLOCK;
    a->pb.alloc = pb_alloc;
    a->pb.free = pb_free;
    a->pb.allocator_data = a;
    set_initial(a);
}

static unsigned char *new_block(struct kt_arena *a, size_t size)
{
    if (size > SIZE_MAX - ARENA_HDR) {
        a->failed = true;
        return NULL;
    }
    struct kt_arena_block *b = malloc(ARENA_HDR + size);
    if (b == NULL) {
        a->failed = true;
        return NULL;
    }
    b->size = size;
    b->next = a->blocks;
    a->blocks = b;
    return (unsigned char *)b + ARENA_HDR;
}

void *kt_arena_alloc_block(struct kt_arena *a, size_t n)
{
    /* 0 bytes still get a pointer of their own: one byte's room, which may fit here. */
    if (n == 0)
        return kt_arena_alloc(a, 1);
    if (n > SIZE_MAX / 2) {
        a->failed = true;
        return NULL;
    }
    n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    /* A large request gets a block of its own so the rest of the current one stays usable. */
    if (n >= a->next_size / 4)
        return new_block(a, n);
    unsigned char *p = new_block(a, a->next_size);
    if (p == NULL)
        return NULL;
    a->cur = p + n;
    a->end = p + a->next_size;
    if (a->next_size < ARENA_MAX_BLOCK)
        a->next_size *= 2;
    return p;
}

void *kt_arena_memdup(struct kt_arena *a, const void *p, size_t n)
{
    void *d = kt_arena_alloc(a, n);
    if (d != NULL && n > 0)
        memcpy(d, p, n);
    return d;
}

char *kt_arena_strndup(struct kt_arena *a, const char *s, size_t n)
{
    char *d = kt_arena_alloc(a, n + 1);
    if (d != NULL) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

void kt_arena_reset(struct kt_arena *a)
{
    struct kt_arena_block *keep = NULL, *b = a->blocks;
    while (b != NULL) {
        struct kt_arena_block *next = b->next;
        if (keep == NULL || b->size > keep->size) {
            free(keep);
            keep = b;
        } else {
            free(b);
        }
        b = next;
    }
    a->failed = false;
    a->blocks = keep;
    if (keep != NULL) {
        keep->next = NULL;
        a->cur = (unsigned char *)keep + ARENA_HDR;
        a->end = a->cur + keep->size;
        /* The kept block serves first; the caller's buffer is not reused after it. */
    } else {
        set_initial(a);
    }
}

void kt_arena_free(struct kt_arena *a)
{
    struct kt_arena_block *b = a->blocks;
    while (b != NULL) {
        struct kt_arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->blocks = NULL;
    a->cur = a->end = NULL;
}
