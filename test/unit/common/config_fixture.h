/* The schema the kt_config and kt_cli tests share: a small one of its own that covers every
 * option type, a secret, a required key, a dotted section, a prefix option and a section
 * handler. Include after cmocka.h. */
#ifndef TEST_UNIT_COMMON_CONFIG_FIXTURE_H
#define TEST_UNIT_COMMON_CONFIG_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kt_config.h"
#include "../test_tmpfile.h"

#define MAX_POLICIES 8

struct policy_kv {
    char name[16];
    char key[16];
    char value[32];
};

struct tconf {
    char *name;
    uint64_t count;
    double ratio;
    bool enabled;
    uint64_t timeout_ms;
    uint64_t max_bytes;
    int color;
    struct kt_strlist hosts;
    char *password;
    char *token;
    uint64_t max_attempts;
    uint64_t backoff_ms;
    char *client_id;
    struct kt_strlist props;
    /* Filled by the [policy.NAME] handler; fixed storage, so nothing for kt_config_free. */
    struct policy_kv pol[MAX_POLICIES];
    size_t n_pol;
};

#define OFF(f) offsetof(struct tconf, f)

static const struct kt_option test_options[] = {
    {"main", "name", KT_OPT_STRING, "kotel", OFF(name), NULL, 0, "A name."},
    {"main", "count", KT_OPT_UINT, "8192", OFF(count), "1..", 0, "A count."},
    {"main", "ratio", KT_OPT_DOUBLE, "0.25", OFF(ratio), NULL, 0, "A ratio."},
    {"main", "enabled", KT_OPT_BOOL, "true", OFF(enabled), NULL, 0, "A switch."},
    {"main", "timeout", KT_OPT_DURATION, "200ms", OFF(timeout_ms), "1ms..1h", 0, "A duration."},
    {"main", "max_bytes", KT_OPT_SIZE, "16MiB", OFF(max_bytes), "1KiB..1GiB", 0, "A size."},
    {"main", "color", KT_OPT_ENUM, "red", OFF(color), "red|green|blue", 0, "A choice."},
    {"main", "hosts", KT_OPT_LIST, "localhost:9092", OFF(hosts), NULL, 0, "A list."},
    {"auth", "password", KT_OPT_STRING, NULL, OFF(password), NULL, KT_OPT_SECRET, "A secret."},
    {"auth", "token", KT_OPT_STRING, NULL, OFF(token), NULL, KT_OPT_REQUIRED, "Must be set."},
    {"exporter.retry", "max_attempts", KT_OPT_UINT, "5", OFF(max_attempts), NULL, 0,
     "Dotted section."},
    {"exporter.retry", "backoff", KT_OPT_DURATION, "1s", OFF(backoff_ms), NULL, 0, "Backoff."},
    {"kafka", "client_id", KT_OPT_STRING, "kotel-test", OFF(client_id), NULL, 0, "Client."},
    {"kafka", "rdkafka", KT_OPT_PREFIX, NULL, OFF(props), NULL, 0, "Passthrough."},
};

static int policy_load(void *conf, const char *name, const char *key, const char *value,
                       struct kt_err *err)
{
    struct tconf *c = conf;
    if (strcmp(key, "threshold") == 0) {
        char *end = NULL;
        strtod(value, &end);
        if (*value == '\0' || *end != '\0')
            return kt_err_set(err, KT_EINVAL, "[policy.%s] %s: want a number", name, key);
    } else if (strcmp(key, "kind") != 0) {
        return kt_err_set(err, KT_EINVAL, "[policy.%s] %s: unknown key", name, key);
    }
    if (c->n_pol == MAX_POLICIES)
        return kt_err_set(err, KT_ETOOBIG, "too many policies");
    struct policy_kv *p = &c->pol[c->n_pol++];
    snprintf(p->name, sizeof(p->name), "%s", name);
    snprintf(p->key, sizeof(p->key), "%s", key);
    snprintf(p->value, sizeof(p->value), "%s", value);
    return 0;
}

static const struct kt_section_handler test_handlers[] = {
    {"policy.", policy_load, "Policies, one section each."},
};

static const struct kt_config_schema schema = {
    .program = "kotel-test",
    .version = "9.9.9",
    .summary = "kt_config unit test schema",
    .opts = test_options,
    .n_opts = sizeof(test_options) / sizeof(test_options[0]),
    .handlers = test_handlers,
    .n_handlers = 1,
};

/* Writes text to a new temporary file; its name goes to path (at least 64 bytes). */
static inline void write_tmp(char *path, const char *text)
{
    test_tmpfile_write(path, 64, "kt_config_test", text, strlen(text));
}

/* Loads with the required token supplied first, so tests need not repeat it. */
static inline int load(struct tconf *c, const char *path, const char *const *sets, size_t n_sets,
                       struct kt_err *err)
{
    const char *all[16];
    assert_true(n_sets < 16);
    all[0] = "auth.token=tok";
    for (size_t i = 0; i < n_sets; i++)
        all[i + 1] = sets[i];
    return kt_config_load(&schema, c, path, all, n_sets + 1, err);
}

/* Loads text from a temporary file; expects success. */
static inline void load_text_ok(struct tconf *c, const char *text)
{
    char path[64];
    struct kt_err err = {0, ""};
    write_tmp(path, text);
    int rc = load(c, path, NULL, 0, &err);
    unlink(path);
    if (rc != 0)
        fail_msg("load failed: %s", err.msg);
}

#endif
