/* process configuration: the Kafka auth sections, connect_timeout and the ranges of counts
 * and timeouts in kotel-process's option table, and the checks --check runs on them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/conf.h"
#include "kt_cli.h"

static int load(struct process_conf *c, const char *const *sets, size_t n, struct kt_err *err)
{
    memset(c, 0, sizeof(*c));
    int rc = kt_config_load(&process_conf_schema, c, NULL, sets, n, err);
    if (rc == 0)
        rc = process_conf_schema.validate(c, err);
    return rc;
}

static void test_auth_defaults(void **state)
{
    (void)state;
    struct process_conf c;
    struct kt_err err = {0};
    assert_int_equal(load(&c, NULL, 0, &err), 0);
    assert_int_equal(c.kafka.auth.sasl.mechanism, KT_KAFKA_SASL_NONE);
    assert_int_equal(c.kafka.auth.tls.enabled, KT_KAFKA_TLS_AUTO);
    assert_false(c.kafka.auth.tls.insecure_skip_verify);
    assert_int_equal(c.kafka.connect_timeout_ms, 10000);
    assert_string_equal(kt_kafka_security_protocol(&c.kafka.auth), "PLAINTEXT");
    process_conf_free(&c);
}

static void test_auth_sections_load(void **state)
{
    (void)state;
    const char *sets[] = {"kafka.auth.sasl.mechanism=scram-sha-512",
                          "kafka.auth.sasl.username=kotel", "kafka.auth.sasl.password=hunter2",
                          "kafka.auth.tls.insecure_skip_verify=true", "kafka.connect_timeout=2s"};
    struct process_conf c;
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
    kt_cli_print_config(&process_conf_schema, &c, f);
    fclose(f);
    assert_non_null(strstr(text, "[kafka.auth.sasl]\nmechanism = SCRAM-SHA-512\n"));
    assert_non_null(strstr(text, "password = ****\n"));
    assert_null(strstr(text, "hunter2"));
    free(text);
    process_conf_free(&c);
}

/* --check (validate) catches what a broker would only refuse later. */
static void test_auth_check_errors(void **state)
{
    (void)state;
    const char *both[] = {"kafka.auth.sasl.mechanism=PLAIN", "kafka.auth.sasl.username=kotel",
                          "kafka.auth.sasl.password=hunter2",
                          "kafka.auth.sasl.password_file=/etc/hostname"};
    struct process_conf c;
    struct kt_err err = {0};
    assert_int_equal(load(&c, both, 4, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[kafka.auth.sasl] password_file: set together with password; "
                                 "give one of them");
    assert_null(strstr(err.msg, "hunter2"));
    process_conf_free(&c);

    const char *off[] = {"kafka.auth.tls.enabled=false", "kafka.auth.tls.ca_file=/etc/hostname"};
    assert_int_equal(load(&c, off, 2, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[kafka.auth.tls] enabled: false, but ca_file is set; remove "
                                 "ca_file or set enabled to true or auto");
    process_conf_free(&c);

    const char *bad[] = {"kafka.auth.sasl.mechanism=GSSAPI"};
    assert_int_equal(load(&c, bad, 1, &err), KT_EINVAL);
    assert_non_null(strstr(err.msg, "--set kafka.auth.sasl.mechanism: want one of "));
    process_conf_free(&c);
}

/* The metadata options load together. */
static void test_metadata_options_load(void **state)
{
    (void)state;
    const char *ok[] = {"exporter.headers_from_metadata=X-Scope-OrgID",
                        "kafka.header_extraction.extract_headers=true",
                        "kafka.header_extraction.headers=X-Scope-OrgID, team",
                        "exporter.compression=snappy", "exporter.max_in_flight=8"};
    struct process_conf c;
    struct kt_err err = {0};
    assert_int_equal(load(&c, ok, sizeof(ok) / sizeof(ok[0]), &err), 0);
    assert_int_equal(c.kafka.header_extraction.headers.n, 2);
    assert_int_equal(c.exporter.max_in_flight, 8);
    assert_int_equal(c.exporter.compression, PROCESS_COMP_SNAPPY);
    process_conf_free(&c);
    /* A static header of a metadata key's name would send it twice. */
    const char *both[] = {"exporter.headers=x-scope-orgid = default",
                          "exporter.headers_from_metadata=X-Scope-OrgID"};
    assert_int_equal(load(&c, both, 2, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[exporter] headers_from_metadata: 'X-Scope-OrgID': also set in "
                                 "[exporter] headers; a request carries one value");
    process_conf_free(&c);
}

/* What --check refuses: values with which the binary could not work. */
static void test_values_that_break_the_pipeline_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *set, *want;
    } bad[] = {
        {"kafka.max_pending_messages=0",
         "--set kafka.max_pending_messages: want at least 1, got '0'"},
        {"kafka.session_timeout=0", "--set kafka.session_timeout: want 1ms to 1h, got '0'"},
        {"kafka.heartbeat_interval=2h", "--set kafka.heartbeat_interval: want 1ms to 1h, got '2h'"},
        {"tail_sampling.num_traces=0",
         "--set tail_sampling.num_traces: want 1 to 4294967294, got '0'"},
        {"tail_sampling.sampled_cache_size=4294967295",
         "--set tail_sampling.sampled_cache_size: want at most 4294967294, got '4294967295'"},
        {"exporter.retry.initial_interval=0",
         "--set exporter.retry.initial_interval: want at least 1ms, got '0'"},
        {"tail_sampling.maximum_trace_size_bytes=big",
         "--set tail_sampling.maximum_trace_size_bytes: want a size like 512, 64KiB, 16MiB, 1GiB "
         "or 1MB (10^6), got 'big'"},
        {"tail_sampling.sample_on_first_match=2",
         "--set tail_sampling.sample_on_first_match: want true or false (or yes/no, on/off, "
         "1/0), got '2'"},
        /* Policy values are checked as they are read, so a file's error names the line. */
        {"tail_sampling.policy.p.type=latncy",
         "--set tail_sampling.policy.p.type: 'latncy' is not a policy type (want one of "
         "always_sample, latency, status_code, probabilistic, string_attribute, "
         "numeric_attribute, boolean_attribute, span_count, rate_limiting, ottl_condition, and, "
         "drop, not, trace_flags, trace_state, bytes_limiting, composite)"},
        {"tail_sampling.policy.p.min_value=1.5",
         "--set tail_sampling.policy.p.min_value: want an integer, got '1.5'"},
        {"tail_sampling.policy.p.sampling_percentage=-1",
         "--set tail_sampling.policy.p.sampling_percentage: want a number from 0 to 100, got "
         "'-1'"},
        {"tail_sampling.policy.p.status_codes=OK,EROR",
         "--set tail_sampling.policy.p.status_codes: 'EROR' is not a status code (want OK, "
         "ERROR, UNSET)"},
        {"exporter.max_in_flight=0", "--set exporter.max_in_flight: want 1 to 64, got '0'"},
        {"exporter.metadata_cardinality_limit=0",
         "--set exporter.metadata_cardinality_limit: want 1 to 1000000, got '0'"},
        {"exporter.compression=lz4",
         "--set exporter.compression: want one of gzip|none|zstd|snappy, got 'lz4'"},
        {"exporter.headers_from_metadata=X-Scope-OrgID,tenant id",
         "--set exporter.headers_from_metadata: 'tenant id': not a header name (letters, digits "
         "and !#$%&'*+-.^_`|~)"},
        /* Checked together (--check, no line): names the exporter sets, twice, too many. */
        {"exporter.headers_from_metadata=Content-Type",
         "[exporter] headers_from_metadata: 'Content-Type': set by the exporter itself"},
        {"exporter.headers_from_metadata=X-Tenant,x-tenant",
         "[exporter] headers_from_metadata: 'x-tenant': listed twice (names have no case)"},
        {"exporter.headers_from_metadata=a,b,c,d,e,f,g,h,i",
         "[exporter] headers_from_metadata: 9 keys, want at most 8"},
        {"kafka.header_extraction.extract_headers=sometimes",
         "--set kafka.header_extraction.extract_headers: want true or false (or yes/no, on/off, "
         "1/0), got 'sometimes'"},
        {"tail_sampling.policy.p.invert_match=perhaps",
         "--set tail_sampling.policy.p.invert_match: want true or false (or yes/no, on/off, "
         "1/0), got 'perhaps'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct process_conf c;
        struct kt_err err = {0};
        assert_int_equal(load(&c, &bad[i].set, 1, &err), KT_EINVAL);
        assert_string_equal(err.msg, bad[i].want);
        process_conf_free(&c);
    }
    /* 0 where the documentation gives it a meaning. */
    const char *sets[] = {"exporter.retry.max_elapsed_time=0", "tail_sampling.sampled_cache_size=0",
                          "tail_sampling.non_sampled_cache_size=0", "exporter.timeout=0"};
    struct process_conf c;
    struct kt_err err = {0};
    assert_int_equal(load(&c, sets, sizeof(sets) / sizeof(sets[0]), &err), 0);
    assert_int_equal(c.tail_sampling.sampled_cache_size, 0);
    process_conf_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_defaults),
        cmocka_unit_test(test_auth_sections_load),
        cmocka_unit_test(test_auth_check_errors),
        cmocka_unit_test(test_values_that_break_the_pipeline_are_refused),
        cmocka_unit_test(test_metadata_options_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
