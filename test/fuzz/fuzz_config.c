/* libFuzzer target: a configuration file as an operator (or a mistake) may hand to -c, loaded
 * through kotel-ingest's option table with ${VAR} expansion and --set overrides.
 *
 * The input up to its first NUL is the file; each NUL-separated part after it is one --set
 * argument. The table is ingest's, plus a [policy.NAME] section handler of the kind process
 * uses, so that both paths of the loader run. Besides memory errors it checks what the loader
 * promises: an error message is terminal-safe (kt_err_escape), and a configuration that loads
 * is printed by --print-config as INI that loads again. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../ingest/conf.h"
#include "kt_cli.h"
#include "kt_utf8.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SETS 8

static int policy_load(void *conf, const char *name, const char *key, const char *value,
                       struct kt_err *err)
{
    (void)conf;
    if (strcmp(value, "bad") == 0)
        return kt_err_set(err, KT_EINVAL, "[policy.%s] %s: bad value", name, key);
    return 0;
}

static const struct kt_section_handler handlers[] = {{"policy.", policy_load, NULL}};

static struct kt_config_schema schema;
/* The file is a memfd, so each input is loaded through fopen(path) as a real one is. */
static int fd = -1;
static char path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    schema = ingest_conf_schema;
    schema.handlers = handlers;
    schema.n_handlers = 1;
    /* Names the corpus uses: a value, an empty one and one a terminal would act on. */
    setenv("KT_FUZZ_BROKERS", "k1:9092,k2:9092", 1);
    setenv("KT_FUZZ_EMPTY", "", 1);
    setenv("KT_FUZZ_CTRL", "\x1b[31m\x07", 1);
    fd = memfd_create("fuzz_config", 0);
    if (fd < 0)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    return 0;
}

static void put_file(const void *p, size_t n)
{
    if (ftruncate(fd, 0) != 0 || (n > 0 && pwrite(fd, p, n, 0) != (ssize_t)n))
        abort();
}

static void check_message(const struct kt_err *err)
{
    size_t n = strlen(err->msg);
    if (n == 0 || kt_utf8_check((const uint8_t *)err->msg, n) != n)
        __builtin_trap();
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)err->msg[i];
        if (ch < 0x20 || ch == 0x7f || (ch == 0xc2 && (unsigned char)err->msg[i + 1] < 0xa0))
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t file_len = nul ? (size_t)(nul - data) : size;
    /* --set arguments are C strings: copy the tail once, NUL-terminated. */
    char *tail = NULL;
    const char *sets[MAX_SETS];
    size_t n_sets = 0;
    if (nul != NULL) {
        size_t n = size - file_len - 1;
        tail = malloc(n + 1);
        if (tail == NULL)
            return 0;
        memcpy(tail, nul + 1, n);
        tail[n] = '\0';
        for (char *p = tail; p < tail + n + 1 && n_sets < MAX_SETS; p += strlen(p) + 1)
            sets[n_sets++] = p;
    }
    put_file(data, file_len);

    struct ingest_conf c;
    memset(&c, 0, sizeof(c));
    struct kt_err err = {0, ""};
    if (kt_config_load(&schema, &c, path, sets, n_sets, &err) != 0) {
        check_message(&err);
        goto out;
    }
    if (schema.validate(&c, &err) != 0)
        goto out;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f == NULL)
        goto out;
    kt_cli_print_config(&schema, &c, f);
    fclose(f);
    put_file(text, len);
    free(text);
    struct ingest_conf again;
    memset(&again, 0, sizeof(again));
    int rc = kt_config_load(&schema, &again, path, NULL, 0, &err);
    kt_config_free(&schema, &again);
    if (rc != 0 && rc != KT_ENOMEM)
        __builtin_trap();
out:
    kt_config_free(&schema, &c);
    free(tail);
    return 0;
}
