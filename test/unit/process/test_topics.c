/* topics: which topics each signal reads ([kafka] *_topic lists and ^regexes with
 * *_exclude_topics), and the messages a bad value gets, with the file's line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../process/conf.h"
#include "../../../process/topics.h"
#include "kt_config.h"
#include "kt_err.h"
#include "topics_fixture.h"

static void test_list_names_each_topic_once(void **state)
{
    (void)state;
    struct process_conf conf;
    const char *sets[] = {"kafka.traces_topic= a ,b,a",
                          "kafka.metrics_topic=", "kafka.logs_topic=c"};
    struct topics *t = topics_load(&conf, sets, 3);
    assert_int_equal(topics_n_names(t, KT_SIGNAL_TRACES), 2);
    assert_string_equal(topics_name(t, KT_SIGNAL_TRACES, 0), "a");
    assert_string_equal(topics_name(t, KT_SIGNAL_TRACES, 1), "b");
    assert_false(topics_on(t, KT_SIGNAL_METRICS));
    assert_false(topics_any_regex(t));
    assert_int_equal(topics_signal_of(t, "b"), KT_SIGNAL_TRACES);
    assert_int_equal(topics_signal_of(t, "c"), KT_SIGNAL_LOGS);
    assert_int_equal(topics_signal_of(t, "ab"), -1);
    topics_free(t);
    process_conf_free(&conf);
}

static void test_regex_excludes_and_skips_internal_topics(void **state)
{
    (void)state;
    struct process_conf conf;
    const char *sets[] = {
        "kafka.traces_topic=", "kafka.metrics_topic=", "kafka.logs_topic=^(logs|__)",
        "kafka.logs_exclude_topics=logs_test", "kafka.logs_exclude_topics=^logs_dev"};
    struct topics *t = topics_load(&conf, sets, 5);
    assert_true(topics_is_regex(t, KT_SIGNAL_LOGS));
    assert_int_equal(topics_n_names(t, KT_SIGNAL_LOGS), 0);
    assert_int_equal(topics_signal_of(t, "logs_prod"), KT_SIGNAL_LOGS);
    /* The regex is anchored at the start only. */
    assert_int_equal(topics_signal_of(t, "my_logs"), -1);
    assert_int_equal(topics_signal_of(t, "logs_test"), -1);
    assert_int_equal(topics_signal_of(t, "logs_test2"), KT_SIGNAL_LOGS);
    assert_int_equal(topics_signal_of(t, "logs_dev_1"), -1);
    assert_int_equal(topics_signal_of(t, "__consumer_offsets"), -1);
    topics_free(t);
    process_conf_free(&conf);
}

/* Two regexes matching one topic: neither signal reads it. */
static void test_two_regexes_on_one_topic(void **state)
{
    (void)state;
    struct process_conf conf;
    const char *sets[] = {"kafka.traces_topic=^x", "kafka.metrics_topic=", "kafka.logs_topic=^xy"};
    struct topics *t = topics_load(&conf, sets, 3);
    assert_int_equal(topics_signal_of(t, "xa"), KT_SIGNAL_TRACES);
    assert_int_equal(topics_signal_of(t, "xyz"), -2);
    topics_free(t);
    process_conf_free(&conf);
}

/* A bad value is refused as the file is read: the message has the file, line and key. */
static void expect_file_error(const char *body, const char *want)
{
    char path[] = "/tmp/test_topics_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    close(fd);
    struct process_conf conf;
    memset(&conf, 0, sizeof(conf));
    struct kt_err err = {0};
    int rc = kt_config_load(&process_conf_schema, &conf, path, NULL, 0, &err);
    unlink(path);
    assert_int_equal(rc, KT_EINVAL);
    const char *msg = strchr(err.msg, ':');
    if (msg == NULL || strstr(msg, want) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, want);
    process_conf_free(&conf);
}

static void test_bad_values_name_file_line_and_key(void **state)
{
    (void)state;
    expect_file_error("[kafka]\n\ntraces_topic = ^spans_(\n",
                      ":3: [kafka] traces_topic: regex ^spans_(: missing closing parenthesis");
    expect_file_error("[kafka]\nlogs_topic = a, ^b\n",
                      ":2: [kafka] logs_topic: a regex (\"^b\") must be the only value");
    expect_file_error("[kafka]\nmetrics_topic = a,,b\n",
                      ":2: [kafka] metrics_topic: empty topic name in the list");
    expect_file_error("[kafka]\nmetrics_topic = a/b\n",
                      ":2: [kafka] metrics_topic: topic name \"a/b\" holds '/'");
    expect_file_error("[kafka]\nlogs_topic = ^l\nlogs_exclude_topics = ^[\n",
                      ":3: [kafka] logs_exclude_topics: regex ^[: missing terminating ]");
    expect_file_error("[kafka]\nlogs_encoding = protobuf\n",
                      ":2: [kafka] logs_encoding: want one of |otlp_proto|otlp_json");
}

static void test_signal_encoding_defaults_to_encoding(void **state)
{
    (void)state;
    struct process_conf conf;
    const char *sets[] = {"kafka.encoding=otlp_json", "kafka.metrics_encoding=otlp_proto"};
    struct topics *t = topics_load(&conf, sets, 2);
    assert_int_equal(process_encoding_of(&conf, KT_SIGNAL_TRACES), PROCESS_ENC_OTLP_JSON);
    assert_int_equal(process_encoding_of(&conf, KT_SIGNAL_METRICS), PROCESS_ENC_OTLP_PROTO);
    assert_int_equal(process_encoding_of(&conf, KT_SIGNAL_LOGS), PROCESS_ENC_OTLP_JSON);
    topics_free(t);
    process_conf_free(&conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_names_each_topic_once),
        cmocka_unit_test(test_regex_excludes_and_skips_internal_topics),
        cmocka_unit_test(test_two_regexes_on_one_topic),
        cmocka_unit_test(test_bad_values_name_file_line_and_key),
        cmocka_unit_test(test_signal_encoding_defaults_to_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
