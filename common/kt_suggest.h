/* kt_suggest: the name nearest to a misspelt one, for "did you mean" hints.
 *
 * Used by the configuration loader (sections, keys) and by the OTTL compiler (functions).
 * A candidate counts when it is within a plausible typo of the input: at most 3 edits and at
 * most a third of the longer name, so that short names do not match everything. */
#ifndef KT_SUGGEST_H
#define KT_SUGGEST_H

#include <stdbool.h>
#include <stddef.h>

/* Longer names are never suggested nor matched. */
#define KT_SUGGEST_MAX_LEN 64

struct kt_suggest {
    char text[128]; /* the best candidate so far; "" when none */
    size_t dist;    /* its distance; SIZE_MAX when none */
    bool fold_case; /* compare ignoring ASCII case (OTTL's "sha256" finds "SHA256") */
};

void kt_suggest_init(struct kt_suggest *sg, bool fold_case);

/* Keeps cand when it is closer to input than the best so far. An exact match is not a
 * suggestion; with fold_case a match differing only in case is the best one. */
void kt_suggest_consider(struct kt_suggest *sg, const char *input, const char *cand);

#endif
