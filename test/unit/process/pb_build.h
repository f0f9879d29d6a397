/* pb_build: protobuf-c objects built in the file's arena A, for the filter and transform
 * tests. */
#ifndef TEST_UNIT_PROCESS_PB_BUILD_H
#define TEST_UNIT_PROCESS_PB_BUILD_H

#include <string.h>

#include "kt_arena.h"

static struct kt_arena A;

/* A new T in A, set to INIT. */
#define NEW(T, INIT)                                                                               \
    ({                                                                                             \
        T *p_ = kt_arena_alloc(&A, sizeof(T));                                                     \
        T i_ = INIT;                                                                               \
        *p_ = i_;                                                                                  \
        p_;                                                                                        \
    })

/* Appends p to the pointer array *arr of length *n. */
static void push(void ***arr, size_t *n, void *p)
{
    void **na = kt_arena_alloc(&A, (*n + 1) * sizeof(*na));
    if (*n)
        memcpy(na, *arr, *n * sizeof(*na));
    na[(*n)++] = p;
    *arr = na;
}
#define PUSH(arr, n, p) push((void ***)(void *)&(arr), &(n), (p))

#endif
