/* cfgi_translate: a Collector configuration tree (cfgi_yaml) translated into kotel INI
 * (cfgi_ini). The README's Collector-mapping tables are the source of truth for the names. */
#ifndef CFGI_TRANSLATE_H
#define CFGI_TRANSLATE_H

#include <stdio.h>

#include "cfgi_ini.h"
#include "cfgi_yaml.h"
#include "kt_err.h"

enum cfgi_tier { CFGI_TIER_AUTO, CFGI_TIER_INGEST, CFGI_TIER_PROCESS };

/* Translates root into ini for *tier (CFGI_TIER_AUTO: inferred from the pipelines and written
 * back). Every setting not carried over is printed on report as "src:LINE: path: why" and
 * counted in *dropped. KT_EINVAL when the input is unusable (no pipeline, ambiguous tier). */
int cfgi_translate(const struct cfgi_node *root, const char *src, enum cfgi_tier *tier,
                   struct cfgi_ini *ini, FILE *report, int *dropped, struct kt_err *err);

#endif
