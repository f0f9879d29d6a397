/* cfgi_ini: the kotel INI that kotel-config import writes, kept in order of first use of each
 * section so the output reads like the Collector file it came from. */
#ifndef CFGI_INI_H
#define CFGI_INI_H

#include <stdio.h>

#include "kt_err.h"

struct cfgi_ini;

struct cfgi_ini *cfgi_ini_new(void);
void cfgi_ini_free(struct cfgi_ini *ini);
/* Appends key = value to section (created on first use); a key may repeat (kotel's repeatable
 * keys: conditions, statements, headers). Copies both strings. */
int cfgi_ini_add(struct cfgi_ini *ini, const char *section, const char *key, const char *value,
                 struct kt_err *err);
void cfgi_ini_write(const struct cfgi_ini *ini, FILE *f);

#endif
