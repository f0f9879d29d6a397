/* kotel-config: tools around kotel's configuration. `kotel-config import FILE.yaml
 * [--tier ingest|process]` translates a Collector configuration into kotel INI on stdout and
 * lists on stderr every setting it could not carry over.
 * Exit status: 0 all carried over, 3 some settings dropped (listed), 2 unusable input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgi_ini.h"
#include "cfgi_translate.h"
#include "cfgi_yaml.h"
#include "kt_err.h"

#define EXIT_DROPPED 3
#define EXIT_UNUSABLE 2
/* A Collector configuration is a few KiB; the bound keeps a wrong argument from being read. */
#define MAX_YAML_BYTES (16u << 20)

static void usage(FILE *f)
{
    fputs("usage: kotel-config import FILE.yaml [--tier ingest|process]\n"
          "  Translates a Collector configuration into kotel INI on stdout; every setting not\n"
          "  carried over is listed on stderr as FILE:LINE: path: why.\n"
          "  Exit status: 0 all carried over, 3 some dropped, 2 unusable input.\n",
          f);
}

static int read_file(const char *path, char **out, size_t *len, struct kt_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    int rc = 0;

    if (!f)
        return kt_err_set(err, KT_EIO, "%s: cannot open: %m", path);
    buf = malloc(MAX_YAML_BYTES + 1);
    if (!buf) {
        rc = kt_err_set(err, KT_ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    n = fread(buf, 1, MAX_YAML_BYTES + 1, f);
    if (ferror(f)) {
        rc = kt_err_set(err, KT_EIO, "%s: read failed", path);
        goto out;
    }
    if (n > MAX_YAML_BYTES) {
        rc = kt_err_set(err, KT_ETOOBIG, "%s: larger than %u bytes", path, MAX_YAML_BYTES);
        goto out;
    }
out:
    fclose(f);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return 0;
}

int main(int argc, char **argv)
{
    struct kt_err err = {0};
    enum cfgi_tier tier = CFGI_TIER_AUTO;
    const char *file = NULL;
    struct cfgi_node *root = NULL;
    struct cfgi_ini *ini = NULL;
    char *data = NULL;
    size_t len = 0;
    int dropped = 0, status = EXIT_UNUSABLE;

    if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc < 3 || strcmp(argv[1], "import") != 0) {
        usage(stderr);
        return EXIT_UNUSABLE;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--tier") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "ingest") == 0)
                tier = CFGI_TIER_INGEST;
            else if (strcmp(argv[i], "process") == 0)
                tier = CFGI_TIER_PROCESS;
            else {
                fprintf(stderr, "kotel-config: --tier wants ingest or process, got '%s'\n",
                        argv[i]);
                return EXIT_UNUSABLE;
            }
        } else if (!file && argv[i][0] != '-') {
            file = argv[i];
        } else {
            usage(stderr);
            return EXIT_UNUSABLE;
        }
    }
    if (!file) {
        usage(stderr);
        return EXIT_UNUSABLE;
    }
    if (read_file(file, &data, &len, &err) < 0 || cfgi_yaml_load(data, len, &root, &err) < 0)
        goto out;
    ini = cfgi_ini_new();
    if (!ini) {
        kt_err_set(&err, KT_ENOMEM, "out of memory");
        goto out;
    }
    if (cfgi_translate(root, file, &tier, ini, stderr, &dropped, &err) < 0)
        goto out;
    printf("# kotel-%s configuration imported by kotel-config from %s\n",
           tier == CFGI_TIER_INGEST ? "ingest" : "process", file);
    cfgi_ini_write(ini, stdout);
    status = dropped ? EXIT_DROPPED : 0;
out:
    if (status == EXIT_UNUSABLE)
        fprintf(stderr, "kotel-config: %s\n", err.msg);
    cfgi_ini_free(ini);
    cfgi_node_free(root);
    free(data);
    return status;
}
