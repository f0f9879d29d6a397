#include "topics.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

const char *const topics_keys[KT_SIGNAL_COUNT] = {"traces_topic", "metrics_topic", "logs_topic"};
const char *const topics_exclude_keys[KT_SIGNAL_COUNT] = {
    "traces_exclude_topics", "metrics_exclude_topics", "logs_exclude_topics"};

/* One signal's selection. Names point into the conf (which outlives this). */
struct sel {
    const char **names; /* listed topics; none with a regex */
    size_t n_names;
    pcre2_code *re; /* NULL: a list */
    const struct kt_strlist *exclude;
    pcre2_code **exclude_re; /* per exclude item: its regex, or NULL for a name */
    char *split;             /* the list's copy, cut at the commas */
};

struct topics {
    struct sel s[KT_SIGNAL_COUNT];
};

/* Kafka's own rule for a topic name (at most 249 of [a-zA-Z0-9._-]), so that a typo is found
 * by --check rather than by the broker. */
static int check_name(const char *name, size_t n, struct kt_err *err)
{
    if (n == 0)
        return kt_err_set(err, KT_EINVAL, "empty topic name in the list");
    if (n > 249)
        return kt_err_set(err, KT_EINVAL, "topic name \"%.40s...\" is over 249 characters", name);
    size_t ok = strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");
    if (ok < n)
        return kt_err_set(err, KT_EINVAL,
                          "topic name \"%.*s\" holds '%c': Kafka allows letters, digits, '.', "
                          "'_' and '-' (a regex starts with '^')",
                          (int)n, name, name[ok]);
    return 0;
}

static int compile(const char *src, pcre2_code **out, struct kt_err *err)
{
    int ec = 0;
    PCRE2_SIZE eo = 0;
    *out = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
    if (*out != NULL)
        return 0;
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(ec, msg, sizeof(msg));
    return kt_err_set(err, KT_EINVAL, "regex %s: %s at offset %zu", src, (const char *)msg,
                      (size_t)eo);
}

static bool matches(const pcre2_code *re, const char *s)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (md == NULL)
        return false;
    int rc = pcre2_match(re, (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

int topics_check_value(const char *key, const char *value, struct kt_err *err)
{
    (void)key;
    if (value == NULL || value[0] == '\0')
        return 0;
    if (value[0] == '^') {
        pcre2_code *re = NULL;
        int rc = compile(value, &re, err);
        pcre2_code_free(re);
        return rc;
    }
    for (const char *p = value;;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, ",");
        size_t t = n;
        while (t > 0 && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (p[0] == '^')
            return kt_err_set(err, KT_EINVAL,
                              "a regex (\"%.*s\") must be the only value: one ^regex or a list of "
                              "names",
                              (int)t, p);
        int rc = check_name(p, t, err);
        if (rc != 0)
            return rc;
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
}

int topics_check_exclude(const struct kt_strlist *exclude, struct kt_err *err)
{
    for (size_t i = 0; i < exclude->n; i++) {
        const char *v = exclude->v[i];
        int rc = 0;
        if (v[0] == '^') {
            pcre2_code *re = NULL;
            rc = compile(v, &re, err);
            pcre2_code_free(re);
        } else {
            rc = check_name(v, strlen(v), err);
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

static bool excluded(const struct sel *s, const char *topic)
{
    for (size_t i = 0; s->exclude != NULL && i < s->exclude->n; i++)
        if (s->exclude_re[i] != NULL ? matches(s->exclude_re[i], topic)
                                     : strcmp(s->exclude->v[i], topic) == 0)
            return true;
    return false;
}

static bool sel_has(const struct sel *s, const char *topic)
{
    if (s->re != NULL)
        /* Internal topics hold the cluster's own records, never telemetry. */
        return strncmp(topic, "__", 2) != 0 && matches(s->re, topic) && !excluded(s, topic);
    for (size_t i = 0; i < s->n_names; i++)
        if (strcmp(s->names[i], topic) == 0)
            return true;
    return false;
}

/* Fills s from the value of key; the caller checked it (topics_check_value). */
static int sel_build(struct sel *s, const char *key, const char *value,
                     const struct kt_strlist *exclude, const char *exclude_key, struct kt_err *err)
{
    if (value == NULL || value[0] == '\0') {
        if (exclude->n > 0)
            return kt_err_set(err, KT_EINVAL, "[kafka] %s: set while %s is empty", exclude_key,
                              key);
        return 0;
    }
    int rc = topics_check_value(key, value, err);
    if (rc != 0)
        return kt_err_prefix(err, "[kafka] %s: ", key);
    if ((rc = topics_check_exclude(exclude, err)) != 0)
        return kt_err_prefix(err, "[kafka] %s: ", exclude_key);
    if (value[0] == '^') {
        if ((rc = compile(value, &s->re, err)) != 0)
            return rc;
        s->exclude = exclude;
        s->exclude_re = calloc(exclude->n + 1, sizeof(*s->exclude_re));
        if (s->exclude_re == NULL)
            return kt_err_set(err, KT_ENOMEM, "[kafka] %s: out of memory", exclude_key);
        for (size_t i = 0; i < exclude->n; i++)
            if (exclude->v[i][0] == '^' && (rc = compile(exclude->v[i], &s->exclude_re[i], err)))
                return rc;
        return 0;
    }
    if (exclude->n > 0)
        return kt_err_set(err, KT_EINVAL,
                          "[kafka] %s: only beside a ^regex %s (a list names its topics)",
                          exclude_key, key);
    s->split = strdup(value);
    size_t cap = 1;
    for (const char *p = value; *p; p++)
        cap += *p == ',';
    s->names = calloc(cap, sizeof(*s->names));
    if (s->split == NULL || s->names == NULL)
        return kt_err_set(err, KT_ENOMEM, "[kafka] %s: out of memory", key);
    for (char *p = s->split, *save = NULL, *t; (t = strtok_r(p, ",", &save)) != NULL; p = NULL) {
        t += strspn(t, " \t");
        size_t n = strlen(t);
        while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            t[--n] = '\0';
        bool dup = false;
        for (size_t i = 0; i < s->n_names; i++)
            dup |= strcmp(s->names[i], t) == 0;
        if (!dup)
            s->names[s->n_names++] = t;
    }
    return 0;
}

/* A topic two signals would both read, when it can be told from the configuration: listed
 * by both, or listed by one and matched by the other's regex. Two regexes that overlap are
 * found when a topic both match appears (the consumer refuses to read it). */
static int check_overlap(const struct topics *t, const char *dlq, struct kt_err *err)
{
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        const struct sel *a = &t->s[i];
        for (size_t k = 0; k < a->n_names; k++) {
            for (int j = 0; j < KT_SIGNAL_COUNT; j++) {
                if (j == i || !sel_has(&t->s[j], a->names[k]))
                    continue;
                if (t->s[j].re != NULL)
                    return kt_err_set(err, KT_EINVAL,
                                      "[kafka] %s: the regex matches \"%s\", which is in %s; "
                                      "each signal needs its own topics (exclude it with %s)",
                                      topics_keys[j], a->names[k], topics_keys[i],
                                      topics_exclude_keys[j]);
                return kt_err_set(err, KT_EINVAL,
                                  "[kafka] %s: \"%s\" is also in %s; each signal needs its own "
                                  "topics",
                                  topics_keys[i > j ? i : j], a->names[k],
                                  topics_keys[i > j ? j : i]);
            }
        }
        if (dlq != NULL && dlq[0] != '\0' && sel_has(a, dlq))
            return kt_err_set(err, KT_EINVAL,
                              "[kafka] dead_letter_topic: \"%s\" is also in %s (dead letters "
                              "would be consumed again)",
                              dlq, topics_keys[i]);
    }
    return 0;
}

void topics_free(struct topics *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        struct sel *s = &t->s[i];
        pcre2_code_free(s->re);
        for (size_t k = 0; s->exclude_re != NULL && k < s->exclude->n; k++)
            pcre2_code_free(s->exclude_re[k]);
        free(s->exclude_re);
        free(s->names);
        free(s->split);
    }
    free(t);
}

int topics_new(const struct process_conf *conf, struct topics **out, struct kt_err *err)
{
    *out = NULL;
    const char *given[KT_SIGNAL_COUNT] = {conf->kafka.traces_topic, conf->kafka.metrics_topic,
                                          conf->kafka.logs_topic};
    const struct kt_strlist *exclude[KT_SIGNAL_COUNT] = {&conf->kafka.traces_exclude_topics,
                                                         &conf->kafka.metrics_exclude_topics,
                                                         &conf->kafka.logs_exclude_topics};
    struct topics *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return kt_err_set(err, KT_ENOMEM, "topics: out of memory");
    int rc = 0;
    bool any = false;
    for (int i = 0; i < KT_SIGNAL_COUNT && rc == 0; i++) {
        rc = sel_build(&t->s[i], topics_keys[i], given[i], exclude[i], topics_exclude_keys[i], err);
        any |= topics_on(t, (enum kt_signal)i);
    }
    if (rc == 0 && !any)
        rc = kt_err_set(err, KT_EINVAL,
                        "[kafka] traces_topic: every signal topic is empty; nothing to consume");
    if (rc == 0)
        rc = check_overlap(t, conf->kafka.dead_letter_topic, err);
    if (rc != 0) {
        topics_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

bool topics_on(const struct topics *t, enum kt_signal sig)
{
    return t->s[sig].re != NULL || t->s[sig].n_names > 0;
}

bool topics_is_regex(const struct topics *t, enum kt_signal sig)
{
    return t->s[sig].re != NULL;
}

bool topics_any_regex(const struct topics *t)
{
    for (int i = 0; i < KT_SIGNAL_COUNT; i++)
        if (t->s[i].re != NULL)
            return true;
    return false;
}

size_t topics_n_names(const struct topics *t, enum kt_signal sig)
{
    return t->s[sig].n_names;
}

const char *topics_name(const struct topics *t, enum kt_signal sig, size_t i)
{
    return t->s[sig].names[i];
}

int topics_signal_of(const struct topics *t, const char *topic)
{
    int found = -1;
    for (int i = 0; i < KT_SIGNAL_COUNT; i++)
        if (sel_has(&t->s[i], topic)) {
            /* Two regexes matching one topic: it is read by neither (the consumer says so). */
            if (found >= 0)
                return -2;
            found = i;
        }
    return found;
}
