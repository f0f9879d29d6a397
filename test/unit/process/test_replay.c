/* replay: the option checks, the replay's group name, which topics a list or a ^regex
 * replays, and the progress arithmetic (the Kafka side is
 * test/integration/process-replay.test.js). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/replay.h"
#include "kt_err.h"
#include "topics_fixture.h"

/* 2026-11-20T10:00:00Z */
#define T0 INT64_C(1795168800000)

static int parse(const char *from, const char *to, bool dump, struct replay_args *a,
                 struct kt_err *err)
{
    const char *given[REPLAY_N_OPTS] = {[REPLAY_OPT_FROM] = from, [REPLAY_OPT_TO] = to};
    *err = (struct kt_err){0, ""};
    return replay_parse_args(given, dump, a, err);
}

static void test_replay_args_take_from_alone_or_a_later_to(void **state)
{
    (void)state;
    struct replay_args a;
    struct kt_err err;
    assert_int_equal(parse("2026-11-20T10:00:00Z", NULL, false, &a, &err), 0);
    assert_true(a.from_ms == T0);
    assert_true(a.to_ms == -1);
    assert_int_equal(
        parse("2026-11-20T10:00:00Z", "2026-11-20T12:00:00.500+01:00", false, &a, &err), 0);
    assert_true(a.to_ms == T0 + 3600000 + 500);
}

static void test_replay_args_errors_name_the_option(void **state)
{
    (void)state;
    struct replay_args a;
    struct kt_err err;
    assert_int_equal(parse("yesterday", NULL, false, &a, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "--replay-from: want an RFC 3339 time"));
    assert_int_equal(parse("2026-11-20T10:00:00Z", "soon", false, &a, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "--replay-to: want an RFC 3339 time"));
    assert_int_equal(parse(NULL, "2026-11-20T10:00:00Z", false, &a, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "--replay-to: only with --replay-from"));
    /* The same instant written with an offset is not after it. */
    assert_int_equal(parse("2026-11-20T10:00:00Z", "2026-11-20T11:00:00+01:00", false, &a, &err),
                     KT_EINVAL);
    assert_non_null(strstr(err.msg, "--replay-to: 2026-11-20T11:00:00+01:00 is not after"));
    assert_int_equal(parse("2026-11-20T10:00:00Z", "2026-11-20T09:00:00Z", false, &a, &err),
                     KT_EINVAL);
    assert_int_equal(parse("2026-11-20T10:00:00Z", NULL, true, &a, &err), KT_EINVAL);
    assert_string_equal(err.msg, "--replay-from: cannot be combined with --dump");
    assert_int_equal(parse(NULL, "2026-11-20T10:00:00Z", true, &a, &err), KT_EINVAL);
    assert_string_equal(err.msg, "--replay-to: cannot be combined with --dump");
}

static void test_replay_group_is_derived_from_the_times(void **state)
{
    (void)state;
    char buf[128];
    struct replay_args a = {T0, -1};
    replay_group_id("kotel", &a, buf, sizeof(buf));
    assert_string_equal(buf, "kotel-replay-20261120T100000Z");
    a.to_ms = T0 + 90 * 60000 + 250;
    replay_group_id("kotel", &a, buf, sizeof(buf));
    assert_string_equal(buf, "kotel-replay-20261120T100000Z-20261120T113000.250Z");
}

/* The cluster's topics, as the metadata lists them. */
static const char *const cluster[] = {
    "spans_b", "__consumer_offsets", "logs_eu", "spans_a", "logs_test", "logs_us", "metrics"};
#define N_CLUSTER (sizeof(cluster) / sizeof(cluster[0]))

/* The topics sig replays out of the first n names of cluster, joined with commas into buf
 * (each must be one of cluster's own strings). Returns replay_topics_of's result. */
static int pick(const struct topics *t, const struct process_conf *conf, enum kt_signal sig,
                size_t n, char *buf, size_t cap, struct kt_err *err)
{
    const char *value[KT_SIGNAL_COUNT] = {conf->kafka.traces_topic, conf->kafka.metrics_topic,
                                          conf->kafka.logs_topic};
    const char *out[N_CLUSTER];
    size_t k = 99;
    *err = (struct kt_err){0, ""};
    int rc = replay_topics_of(t, sig, value[sig], cluster, n, out, &k, err);
    buf[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        bool borrowed = false;
        for (size_t j = 0; j < n; j++)
            borrowed |= out[i] == cluster[j];
        assert_true(borrowed);
        snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", i > 0 ? "," : "", out[i]);
    }
    return rc;
}

static void test_replay_list_takes_each_listed_topic_the_cluster_has(void **state)
{
    (void)state;
    struct process_conf conf;
    const char *sets[] = {"kafka.traces_topic=spans_a, gone ,spans_b",
                          "kafka.metrics_topic=", "kafka.logs_topic="};
    struct topics *t = topics_load(&conf, sets, 3);
    char got[256];
    struct kt_err err;
    /* In the list's order; the missing one skipped. */
    assert_int_equal(pick(t, &conf, KT_SIGNAL_TRACES, N_CLUSTER, got, sizeof(got), &err), 0);
    assert_string_equal(got, "spans_a,spans_b");
    /* Every listed topic missing: nothing to replay, not an error. */
    assert_int_equal(pick(t, &conf, KT_SIGNAL_TRACES, 0, got, sizeof(got), &err), 0);
    assert_string_equal(got, "");
    topics_free(t);
    process_conf_free(&conf);
}

static void test_replay_regex_takes_its_matches_but_excluded_and_internal_ones(void **state)
{
    (void)state;
    struct process_conf conf;
    const char *sets[] = {"kafka.traces_topic=^spans_", "kafka.metrics_topic=metrics",
                          "kafka.logs_topic=^(logs|__)", "kafka.logs_exclude_topics=logs_test"};
    struct topics *t = topics_load(&conf, sets, 4);
    char got[256];
    struct kt_err err;
    assert_int_equal(pick(t, &conf, KT_SIGNAL_LOGS, N_CLUSTER, got, sizeof(got), &err), 0);
    assert_string_equal(got, "logs_eu,logs_us");
    /* In the cluster's order. */
    assert_int_equal(pick(t, &conf, KT_SIGNAL_TRACES, N_CLUSTER, got, sizeof(got), &err), 0);
    assert_string_equal(got, "spans_b,spans_a");
    topics_free(t);
    process_conf_free(&conf);
}

static void test_replay_topic_two_regexes_match_is_replayed_by_neither(void **state)
{
    (void)state;
    struct process_conf conf;
    const char *sets[] = {"kafka.traces_topic=^spans_",
                          "kafka.metrics_topic=", "kafka.logs_topic=^(logs_eu|spans_a)"};
    struct topics *t = topics_load(&conf, sets, 3);
    char got[256];
    struct kt_err err;
    assert_int_equal(pick(t, &conf, KT_SIGNAL_TRACES, N_CLUSTER, got, sizeof(got), &err), 0);
    assert_string_equal(got, "spans_b");
    assert_int_equal(pick(t, &conf, KT_SIGNAL_LOGS, N_CLUSTER, got, sizeof(got), &err), 0);
    assert_string_equal(got, "logs_eu");
    topics_free(t);
    process_conf_free(&conf);
}

static void test_replay_regex_matching_nothing_names_the_key_and_regex(void **state)
{
    (void)state;
    struct process_conf conf;
    const char *sets[] = {"kafka.traces_topic=spans_a",
                          "kafka.metrics_topic=", "kafka.logs_topic=^logs_(test|dev)",
                          "kafka.logs_exclude_topics=logs_test"};
    struct topics *t = topics_load(&conf, sets, 4);
    char got[256];
    struct kt_err err;
    assert_int_equal(pick(t, &conf, KT_SIGNAL_LOGS, N_CLUSTER, got, sizeof(got), &err), KT_EINVAL);
    assert_string_equal(got, "");
    assert_string_equal(err.msg,
                        "replay: [kafka] logs_topic: the regex ^logs_(test|dev) matches no "
                        "topic of the cluster (internal \"__\" topics and those in "
                        "logs_exclude_topics never match)");
    topics_free(t);
    process_conf_free(&conf);
}

static void test_replay_progress_sums_the_offset_ranges(void **state)
{
    (void)state;
    struct consumer_range r[] = {
        {.start = 10, .end = 20, .next = 15},  /* half read */
        {.start = 0, .end = 100, .next = 100}, /* done */
        {.start = 5, .end = 5, .next = 5},     /* nothing in the window */
        {.start = 50, .end = 40, .next = 50},  /* nothing either (start past end) */
        {.start = 7, .end = 17, .next = 0},    /* not started: counts from start */
        {.start = 0, .end = 10, .next = 99},   /* past its end: counts as the end */
    };
    struct consumer_replay rp = {.ranges = r, .n = sizeof(r) / sizeof(r[0])};
    struct replay_progress p;
    replay_progress_of(&rp, &p);
    assert_int_equal(p.done, 5 + 100 + 0 + 10);
    assert_int_equal(p.total, 10 + 100 + 10 + 10);
    rp.n = 0;
    replay_progress_of(&rp, &p);
    assert_int_equal(p.done, 0);
    assert_int_equal(p.total, 0);
}

static void test_replay_progress_line_shows_percent_rate_and_eta(void **state)
{
    (void)state;
    char buf[160];
    struct replay_progress p = {1200000, 2900000};
    replay_progress_format(&p, 35000, true, buf, sizeof(buf));
    assert_string_equal(
        buf, "replay [########............] 41% 1.2M/2.9M messages, 35k msg/s, ETA 49 s");
    replay_progress_format(&p, 35000, false, buf, sizeof(buf));
    assert_string_equal(buf, "replay 41% 1.2M/2.9M messages, 35k msg/s, ETA 49 s");
    replay_progress_format(&p, 0, false, buf, sizeof(buf));
    assert_string_equal(buf, "replay 41% 1.2M/2.9M messages, 0 msg/s, ETA ?");
    replay_progress_format(&p, 1000, false, buf, sizeof(buf));
    assert_string_equal(buf, "replay 41% 1.2M/2.9M messages, 1.0k msg/s, ETA 28 min");
    p = (struct replay_progress){42, 42};
    replay_progress_format(&p, 0, true, buf, sizeof(buf));
    assert_string_equal(buf, "replay [####################] 100% 42/42 messages, 0 msg/s, ETA 0 s");
    p = (struct replay_progress){0, 0};
    replay_progress_format(&p, 0, false, buf, sizeof(buf));
    assert_string_equal(buf, "replay 100% 0/0 messages, 0 msg/s, ETA 0 s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_args_take_from_alone_or_a_later_to),
        cmocka_unit_test(test_replay_args_errors_name_the_option),
        cmocka_unit_test(test_replay_group_is_derived_from_the_times),
        cmocka_unit_test(test_replay_list_takes_each_listed_topic_the_cluster_has),
        cmocka_unit_test(test_replay_regex_takes_its_matches_but_excluded_and_internal_ones),
        cmocka_unit_test(test_replay_topic_two_regexes_match_is_replayed_by_neither),
        cmocka_unit_test(test_replay_regex_matching_nothing_names_the_key_and_regex),
        cmocka_unit_test(test_replay_progress_sums_the_offset_ranges),
        cmocka_unit_test(test_replay_progress_line_shows_percent_rate_and_eta),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
