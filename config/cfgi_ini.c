#include "cfgi_ini.h"

#include <stdlib.h>
#include <string.h>

struct cfgi_line {
    char *section, *key, *value;
};

struct cfgi_ini {
    struct cfgi_line *lines;
    size_t n, cap;
};

struct cfgi_ini *cfgi_ini_new(void)
{
    return calloc(1, sizeof(struct cfgi_ini));
}

void cfgi_ini_free(struct cfgi_ini *ini)
{
    if (!ini)
        return;
    for (size_t i = 0; i < ini->n; i++) {
        free(ini->lines[i].section);
        free(ini->lines[i].key);
        free(ini->lines[i].value);
    }
    free(ini->lines);
    free(ini);
}

int cfgi_ini_add(struct cfgi_ini *ini, const char *section, const char *key, const char *value,
                 struct kt_err *err)
{
    struct cfgi_line *l;

    if (ini->n == ini->cap) {
        size_t cap = ini->cap ? ini->cap * 2 : 32;
        struct cfgi_line *nl = realloc(ini->lines, cap * sizeof(*nl));
        if (!nl)
            return kt_err_set(err, KT_ENOMEM, "out of memory writing the INI");
        ini->lines = nl;
        ini->cap = cap;
    }
    l = &ini->lines[ini->n];
    l->section = strdup(section);
    l->key = strdup(key);
    l->value = strdup(value);
    if (!l->section || !l->key || !l->value) {
        free(l->section);
        free(l->key);
        free(l->value);
        return kt_err_set(err, KT_ENOMEM, "out of memory writing the INI");
    }
    ini->n++;
    return 0;
}

void cfgi_ini_write(const struct cfgi_ini *ini, FILE *f)
{
    /* Sections in order of first use; each section's keys in the order they were added. */
    for (size_t i = 0; i < ini->n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(ini->lines[j].section, ini->lines[i].section) == 0;
        if (seen)
            continue;
        fprintf(f, "\n[%s]\n", ini->lines[i].section);
        for (size_t j = i; j < ini->n; j++)
            if (strcmp(ini->lines[j].section, ini->lines[i].section) == 0)
                fprintf(f, "%s = %s\n", ini->lines[j].key, ini->lines[j].value);
    }
}
