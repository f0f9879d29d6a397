/* kt_suggest: see kt_suggest.h. */
#include "kt_suggest.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static char fold(char c, bool on)
{
    return on && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Optimal string alignment distance: Levenshtein plus adjacent transposition, so that
 * "kafak" is one edit from "kafka" as a reader would count it. */
static size_t edit_distance(const char *a, const char *b, bool fc)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > KT_SUGGEST_MAX_LEN || m > KT_SUGGEST_MAX_LEN)
        return SIZE_MAX;
    unsigned char d[KT_SUGGEST_MAX_LEN + 1][KT_SUGGEST_MAX_LEN + 1];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= n; i++) {
        char ai = fold(a[i - 1], fc);
        for (size_t j = 1; j <= m; j++) {
            char bj = fold(b[j - 1], fc);
            unsigned v = d[i - 1][j] + 1u;
            if (d[i][j - 1] + 1u < v)
                v = d[i][j - 1] + 1u;
            unsigned sub = d[i - 1][j - 1] + (ai != bj ? 1u : 0u);
            if (sub < v)
                v = sub;
            if (i > 1 && j > 1 && ai == fold(b[j - 2], fc) && fold(a[i - 2], fc) == bj &&
                d[i - 2][j - 2] + 1u < v)
                v = d[i - 2][j - 2] + 1u;
            d[i][j] = (unsigned char)v;
        }
    }
    return d[n][m];
}

void kt_suggest_init(struct kt_suggest *sg, bool fold_case)
{
    sg->text[0] = '\0';
    sg->dist = SIZE_MAX;
    sg->fold_case = fold_case;
}

void kt_suggest_consider(struct kt_suggest *sg, const char *input, const char *cand)
{
    if (strcmp(input, cand) == 0)
        return;
    size_t la = strlen(input), lb = strlen(cand);
    size_t limit = ((la > lb ? la : lb) + 2) / 3;
    if (limit > 3)
        limit = 3;
    size_t d = edit_distance(input, cand, sg->fold_case);
    if (d > limit || d >= sg->dist)
        return;
    snprintf(sg->text, sizeof(sg->text), "%s", cand);
    sg->dist = d;
}
