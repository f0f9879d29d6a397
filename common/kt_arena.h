/* kt_arena: a bump allocator for request-scoped objects.
 *
 * protobuf-c allocates every message, array and string separately; an arena turns that
 * into a handful of mallocs per request and one walk to free them. kt_arena_reset keeps
 * the largest block, so a loop that decodes one message after another reaches a steady
 * state with no malloc at all. Everything allocated is freed together; kt_arena_pb gives
 * protobuf-c an allocator whose free does nothing. */
#ifndef KT_ARENA_H
#define KT_ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

struct kt_arena_block;

struct kt_arena {
    unsigned char *cur;
    unsigned char *end;
    struct kt_arena_block *blocks; /* malloc'd blocks, newest first */
    unsigned char *initial;        /* caller's buffer (borrowed), used first; may be NULL */
    size_t initial_size;
    size_t next_size;
    bool failed; /* an allocation failed: tells ENOMEM apart from malformed input */
    ProtobufCAllocator pb;
};

/* buf (borrowed, may be NULL) is used before any malloc: a stack buffer makes small
 * requests allocation-free. It must outlive the arena's use. */
void kt_arena_init(struct kt_arena *a, void *buf, size_t size);
/* What kt_arena_alloc does when the current block lacks room (or n is 0 or huge): takes a
 * new block (for 0 bytes, bumps 1 byte). Callers use kt_arena_alloc. */
void *kt_arena_alloc_block(struct kt_arena *a, size_t n);
/* Aligned for any type; NULL (and a->failed) when out of memory. Never returns NULL for
 * n == 0. Inline: decoders call it for every object they make. */
static inline void *kt_arena_alloc(struct kt_arena *a, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    size_t r = (n + align - 1) & ~(align - 1);
    /* n - 1 wraps for 0, and r overflows only for n close to SIZE_MAX: both take the block path. */
    if (n - 1 < r && r <= (size_t)(a->end - a->cur)) {
        void *p = a->cur;
        a->cur += r;
        return p;
    }
    return kt_arena_alloc_block(a, n);
}
void *kt_arena_memdup(struct kt_arena *a, const void *p, size_t n);
char *kt_arena_strndup(struct kt_arena *a, const char *s, size_t n);
/* Forgets every allocation; keeps the largest block for reuse. */
void kt_arena_reset(struct kt_arena *a);
/* Frees every block; the arena must be initialised again before reuse. */
void kt_arena_free(struct kt_arena *a);
/* A protobuf-c allocator drawing from a (valid while a is). */
static inline ProtobufCAllocator *kt_arena_pb(struct kt_arena *a)
{
    return &a->pb;
}

#endif
