/* ingest configuration: the Kafka auth sections, connect_timeout and the ranges of counts,
 * sizes and timeouts in kotel-ingest's option table, and the checks --check runs on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../../ingest/conf.h"
#include "kt_cli.h"

static int load(struct ingest_conf *c, const char *const *sets, size_t n, struct kt_err *err)
{
    memset(c, 0, sizeof(*c));
    int rc = kt_config_load(&ingest_conf_schema, c, NULL, sets, n, err);
    if (rc == 0)
        rc = ingest_conf_schema.validate(c, err);
    return rc;
}

static void test_auth_defaults(void **state)
{
    (void)state;
    struct ingest_conf c;
    struct kt_err err = {0};
    assert_int_equal(load(&c, NULL, 0, &err), 0);
    assert_int_equal(c.kafka.auth.sasl.mechanism, KT_KAFKA_SASL_NONE);
    assert_int_equal(c.kafka.auth.tls.enabled, KT_KAFKA_TLS_AUTO);
    assert_false(c.kafka.auth.tls.insecure_skip_verify);
    assert_int_equal(c.kafka.connect_timeout_ms, 10000);
    assert_string_equal(kt_kafka_security_protocol(&c.kafka.auth), "PLAINTEXT");
    kt_config_free(&ingest_conf_schema, &c);
}

static void test_auth_sections_load(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.auth.sasl.mechanism=scram-sha-512",
                          "kafka.auth.sasl.username=kotel", "kafka.auth.sasl.password=hunter2",
                          "kafka.auth.tls.insecure_skip_verify=true", "kafka.connect_timeout=2s"};
    struct ingest_conf c;
    struct kt_err err = {0};
    assert_int_equal(load(&c, sets, sizeof(sets) / sizeof(sets[0]), &err), 0);
    assert_int_equal(c.kafka.auth.sasl.mechanism, KT_KAFKA_SASL_SCRAM_SHA_512);
    assert_string_equal(c.kafka.auth.sasl.username, "kotel");
    assert_int_equal(c.kafka.connect_timeout_ms, 2000);
    assert_string_equal(kt_kafka_security_protocol(&c.kafka.auth), "SASL_SSL");

    /* --print-config shows the mechanism as spelt in the table and masks the password. */
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    kt_cli_print_config(&ingest_conf_schema, &c, f);
    fclose(f);
    assert_non_null(strstr(text, "[kafka.auth.sasl]\nmechanism = SCRAM-SHA-512\n"));
    assert_non_null(strstr(text, "password = ****\n"));
    assert_null(strstr(text, "hunter2"));
    free(text);
    kt_config_free(&ingest_conf_schema, &c);
}

/* --check (validate) catches what a broker would only refuse later. */
static void test_auth_check_errors(void **state)
{
    (void)state;
    const char *both[] = {"kafka.auth.sasl.mechanism=PLAIN", "kafka.auth.sasl.username=kotel",
                          "kafka.auth.sasl.password=hunter2",
                          "kafka.auth.sasl.password_file=/etc/hostname"};
    struct ingest_conf c;
    struct kt_err err = {0};
    assert_int_equal(load(&c, both, 4, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[kafka.auth.sasl] password_file: set together with password; "
                                 "give one of them");
    assert_null(strstr(err.msg, "hunter2"));
    kt_config_free(&ingest_conf_schema, &c);

    const char *off[] = {"kafka.auth.tls.enabled=false", "kafka.auth.tls.ca_file=/etc/hostname"};
    assert_int_equal(load(&c, off, 2, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[kafka.auth.tls] enabled: false, but ca_file is set; remove "
                                 "ca_file or set enabled to true or auto");
    kt_config_free(&ingest_conf_schema, &c);

    const char *bad[] = {"kafka.auth.sasl.mechanism=GSSAPI"};
    assert_int_equal(load(&c, bad, 1, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "--set kafka.auth.sasl.mechanism: want one of "));
    kt_config_free(&ingest_conf_schema, &c);
}

/* What --check refuses: values with which the binary could not work. */
static void test_values_that_break_the_receiver_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *set, *want;
    } bad[] = {
        {"receiver.max_connections=0", "--set receiver.max_connections: want at least 1, got '0'"},
        {"receiver.max_request_bytes=0",
         "--set receiver.max_request_bytes: want at least 1KiB, got '0'"},
        {"receiver.idle_timeout=0", "--set receiver.idle_timeout: want at least 100ms, got '0'"},
        {"receiver.header_timeout=10",
         "--set receiver.header_timeout: want at least 100ms, got '10'"},
        {"kafka.max_message_bytes=1000",
         "--set kafka.max_message_bytes: want 1KiB to 999MB, got '1000'"},
        {"kafka.max_message_bytes=1GB",
         "--set kafka.max_message_bytes: want 1KiB to 999MB, got '1GB'"},
        {"kafka.queue_max_messages=0", "--set kafka.queue_max_messages: want at least 1, got '0'"},
        {"kafka.traces_topic=a,b",
         "--set kafka.traces_topic: kotel-ingest produces to exactly one topic per signal; a list "
         "or a ^regex is for kotel-process, which consumes"},
        {"kafka.logs_topic=^otlp_", "--set kafka.logs_topic: kotel-ingest produces to exactly "
                                    "one topic per signal; a list or a ^regex is for "
                                    "kotel-process, which consumes"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct ingest_conf c;
        struct kt_err err = {0};
        assert_int_equal(load(&c, &bad[i].set, 1, &err), KT_EINVAL);
        assert_string_equal(err.msg, bad[i].want);
        kt_config_free(&ingest_conf_schema, &c);
    }
    /* 0 where the documentation gives it a meaning, and the smallest values allowed. */
    const char *sets[] = {"batch.send_batch_max_size=0",   "kafka.timeout=0",
                          "service.shutdown_timeout=0",    "receiver.max_connections=1",
                          "receiver.header_timeout=100ms", "kafka.max_message_bytes=1KiB"};
    struct ingest_conf c;
    struct kt_err err = {0};
    assert_int_equal(load(&c, sets, sizeof(sets) / sizeof(sets[0]), &err), 0);
    assert_int_equal(c.receiver.max_connections, 1);
    assert_int_equal(c.kafka.max_message_bytes, 1024);
    kt_config_free(&ingest_conf_schema, &c);
}

/* Loads text as a file; the message of the first error into err (rc returned). */
static int load_text(struct ingest_conf *c, const char *text, struct kt_err *err)
{
    char path[] = "/tmp/kt-test-conf-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    memset(c, 0, sizeof(*c));
    int rc = kt_config_load(&ingest_conf_schema, c, path, NULL, 0, err);
    unlink(path);
    /* The path is random: keep what follows it. */
    char *at = strstr(err->msg, path);
    if (at != NULL)
        memmove(err->msg, at + strlen(path), strlen(at + strlen(path)) + 1);
    return rc;
}

/* Request metadata options: names kept as written, and every bad value refused naming the
 * line and key. */
static void test_metadata_options_are_checked_at_their_line(void **state)
{
    (void)state;
    struct ingest_conf c;
    struct kt_err err = {0};
    assert_int_equal(load_text(&c,
                               "[kafka]\ninclude_metadata_keys = X-Tenant, x-env\n"
                               "topic_from_metadata_key = X-Topic\n"
                               "topic_from_attribute = service.name\n"
                               "partition_logs_by_trace_id = true\n",
                               &err),
                     0);
    assert_int_equal(c.kafka.include_metadata_keys.n, 2);
    assert_string_equal(c.kafka.include_metadata_keys.v[0], "X-Tenant");
    assert_string_equal(c.kafka.topic_from_metadata_key, "X-Topic");
    assert_string_equal(c.kafka.topic_from_attribute, "service.name");
    kt_config_free(&ingest_conf_schema, &c);

    const struct {
        const char *text, *want;
    } bad[] = {
        {"[kafka]\n\ntraces_topic = spans/v1\n",
         ":3: [kafka] traces_topic: topic name 'spans/v1': byte 5 (0x2f) is not one Kafka allows"},
        {"[kafka]\nlogs_topic = ..\n", ":2: [kafka] logs_topic: topic name '..' is not allowed"},
        {"[kafka]\ninclude_metadata_keys = authorization\n",
         ":2: [kafka] include_metadata_keys: authorization carries the client's token"},
        {"[kafka]\ninclude_metadata_keys = x-a\ninclude_metadata_keys = X-A\n",
         ":3: [kafka] include_metadata_keys: 'X-A' listed twice"},
        {"[kafka]\ninclude_metadata_keys = Authorization\n",
         ":2: [kafka] include_metadata_keys: authorization carries"},
        {"[kafka]\ninclude_metadata_keys = a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q\n",
         ":2: [kafka] include_metadata_keys: 17 names, want at most 16"},
        {"[kafka]\ntopic_from_metadata_key = x topic\n",
         ":2: [kafka] topic_from_metadata_key: 'x topic': not a header name"},
        {"[kafka]\npartition_logs_by_resource_attributes = true\n"
         "partition_logs_by_trace_id = true\n",
         ":3: [kafka] partition_logs_by_trace_id: partition_logs_by_trace_id and "
         "partition_logs_by_resource_attributes cannot both be true"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err = (struct kt_err){0};
        assert_int_equal(load_text(&c, bad[i].text, &err), KT_EINVAL);
        if (strncmp(err.msg, bad[i].want, strlen(bad[i].want)) != 0)
            fail_msg("case %zu: '%s', want '%s...'", i, err.msg, bad[i].want);
        kt_config_free(&ingest_conf_schema, &c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_defaults),
        cmocka_unit_test(test_auth_sections_load),
        cmocka_unit_test(test_auth_check_errors),
        cmocka_unit_test(test_values_that_break_the_receiver_are_refused),
        cmocka_unit_test(test_metadata_options_are_checked_at_their_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
