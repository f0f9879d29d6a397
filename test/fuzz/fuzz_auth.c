/* libFuzzer target: [receiver.auth] on bytes from outside. An input starting with 'F' is a
 * bearer_tokens_file (its grammar: lines, names, tokens, comments); any other input is an
 * Authorization header value checked against a fixed set of tokens. A header value is
 * let in only when it is the scheme, spaces and exactly one of those tokens. */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../../ingest/auth.h"
#include "../../ingest/conf.h"
#include "kt_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const tokens[] = {"tokA-1", "tokB+/2==", "tokC"};

static char fixed_path[64], input_path[64];
static struct ingest_conf fixed_conf, input_conf;
static struct auth *fixed;

static void load_conf(struct ingest_conf *c, const char *path)
{
    char set[128];
    snprintf(set, sizeof(set), "receiver.auth.bearer_tokens_file=%s", path);
    const char *sets[] = {set};
    struct kt_err err = {0};
    if (kt_config_load(&ingest_conf_schema, c, NULL, sets, 1, &err) != 0)
        abort();
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

static void init(void)
{
    kt_log_set_level(KT_LOG_ERROR);
    snprintf(fixed_path, sizeof(fixed_path), "/tmp/kt-fuzz-auth-%d.fixed", (int)getpid());
    snprintf(input_path, sizeof(input_path), "/tmp/kt-fuzz-auth-%d.input", (int)getpid());
    const char text[] = "# fixed\na:tokA-1\nb:tokB+/2==\ntokC\n";
    write_file(fixed_path, text, sizeof(text) - 1);
    load_conf(&fixed_conf, fixed_path);
    load_conf(&input_conf, input_path);
    struct kt_err err = {0};
    if (auth_new(&fixed_conf, NULL, &fixed, &err) != 0)
        abort();
    unlink(fixed_path);
}

/* What auth_check should say to value: one of the tokens after "Bearer" and spaces. */
static bool expect_ok(const uint8_t *v, size_t n)
{
    if (n < 7 || strncasecmp((const char *)v, "Bearer ", 7) != 0)
        return false;
    size_t i = 7;
    while (i < n && v[i] == ' ')
        i++;
    size_t end = n;
    while (end > i && (v[end - 1] == ' ' || v[end - 1] == '\t' || v[end - 1] == '\r'))
        end--;
    for (size_t t = 0; t < sizeof(tokens) / sizeof(tokens[0]); t++)
        if (strlen(tokens[t]) == end - i && memcmp(v + i, tokens[t], end - i) == 0)
            return true;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fixed == NULL)
        init();
    if (size > 0 && data[0] == 'F') {
        write_file(input_path, data + 1, size - 1);
        struct auth *a = NULL;
        struct kt_err err = {0};
        if (auth_new(&input_conf, NULL, &a, &err) == 0) {
            const char *name;
            auth_check(a, "Bearer x", 8, &name);
        }
        auth_free(a);
        unlink(input_path);
        return 0;
    }
    /* Copied so that a read past the value is caught. */
    char *v = malloc(size ? size : 1);
    if (v == NULL)
        return 0;
    memcpy(v, data, size);
    const char *name = NULL;
    enum auth_result r = auth_check(fixed, v, size, &name);
    if ((r == AUTH_OK) != expect_ok(data, size))
        __builtin_trap();
    free(v);
    return 0;
}
