/* libFuzzer target: a Collector YAML file as kotel-config import reads it (outside bytes:
 * a file someone hands over for migration), through the YAML tree, the translation for both
 * tiers and the INI writer. Besides memory errors it checks that a refused input says why and
 * that every report line has the FILE:LINE: prefix. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../config/cfgi_ini.h"
#include "../../config/cfgi_translate.h"
#include "../../config/cfgi_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_report(const char *report)
{
    for (const char *l = report; *l;) {
        const char *nl = strchr(l, '\n');
        if (strncmp(l, "f.yaml:", 7) != 0 || !nl)
            abort();
        l = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kt_err err = {0};
    struct cfgi_node *root = NULL;

    if (cfgi_yaml_load((const char *)data, size, &root, &err) < 0) {
        if (err.msg[0] == '\0')
            abort();
        return 0;
    }
    for (int t = CFGI_TIER_AUTO; t <= CFGI_TIER_PROCESS; t++) {
        enum cfgi_tier tier = (enum cfgi_tier)t;
        struct cfgi_ini *ini = cfgi_ini_new();
        char *report = NULL, *out = NULL;
        size_t rlen = 0, olen = 0;
        FILE *rf = open_memstream(&report, &rlen), *of = open_memstream(&out, &olen);
        int dropped = 0;

        memset(&err, 0, sizeof(err));
        if (!ini || !rf || !of)
            abort();
        if (cfgi_translate(root, "f.yaml", &tier, ini, rf, &dropped, &err) < 0 &&
            err.msg[0] == '\0')
            abort();
        cfgi_ini_write(ini, of);
        fclose(rf);
        fclose(of);
        check_report(report);
        free(report);
        free(out);
        cfgi_ini_free(ini);
    }
    cfgi_node_free(root);
    return 0;
}
