/* kotel-config import: the YAML tree keeps each key's line, refuses what is not a Collector
 * document, and the translation maps settings, rewrites ${env:X}, reports what it drops with
 * its line and infers the tier from the pipelines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../config/cfgi_ini.h"
#include "../../../config/cfgi_translate.h"
#include "../../../config/cfgi_yaml.h"

static struct cfgi_node *load(const char *yaml)
{
    struct kt_err err = {0};
    struct cfgi_node *root = NULL;

    assert_int_equal(cfgi_yaml_load(yaml, strlen(yaml), &root, &err), 0);
    return root;
}

static void test_tree_lines(void **state)
{
    (void)state;
    struct cfgi_node *root = load("a:\n  b: 1\n\n  c:\n    - x\n    - y\nd: z\n");
    const struct cfgi_node *a = cfgi_node_get(root, "a");
    const struct cfgi_node *c = cfgi_node_get(a, "c");

    assert_non_null(a);
    assert_int_equal(a->line, 1);
    assert_int_equal(cfgi_node_get(a, "b")->line, 2);
    assert_string_equal(cfgi_node_get(a, "b")->value, "1");
    assert_int_equal(c->line, 4);
    assert_int_equal(c->kind, CFGI_SEQ);
    assert_string_equal(c->child->next->value, "y");
    assert_int_equal(c->child->next->line, 6);
    assert_int_equal(cfgi_node_get(root, "d")->line, 7);
    assert_null(cfgi_node_get(root, "e"));
    cfgi_node_free(root);
}

static void test_tree_refuses(void **state)
{
    (void)state;
    static const char *const bad[] = {"a: [1, 2\n",       "- 1\n- 2\n",        "",
                                      "a: &x 1\nb: *x\n", "a: 1\n---\nb: 2\n", "a: b: c\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kt_err err = {0};
        struct cfgi_node *root = NULL;
        assert_true(cfgi_yaml_load(bad[i], strlen(bad[i]), &root, &err) < 0);
        assert_null(root);
        assert_true(err.msg[0] != '\0');
    }
}

/* Translates yaml; returns the INI text and the report in *report (both malloc'd). */
static int translate(const char *yaml, enum cfgi_tier *tier, char **ini_text, char **report,
                     int *dropped)
{
    struct kt_err err = {0};
    struct cfgi_node *root = load(yaml);
    struct cfgi_ini *ini = cfgi_ini_new();
    size_t rlen = 0, ilen = 0;
    FILE *rf = open_memstream(report, &rlen), *inf = open_memstream(ini_text, &ilen);
    int rc;

    *dropped = 0;
    rc = cfgi_translate(root, "c.yaml", tier, ini, rf, dropped, &err);
    cfgi_ini_write(ini, inf);
    fclose(rf);
    fclose(inf);
    cfgi_ini_free(ini);
    cfgi_node_free(root);
    return rc;
}

static void test_translate_ingest(void **state)
{
    (void)state;
    enum cfgi_tier tier = CFGI_TIER_AUTO;
    char *ini = NULL, *report = NULL;
    int dropped;

    assert_int_equal(translate("receivers:\n"
                               "  otlp:\n"
                               "    protocols:\n"
                               "      grpc:\n"
                               "        endpoint: 0.0.0.0:4317\n"
                               "        keepalive: {time: 10s}\n"
                               "exporters:\n"
                               "  kafka:\n"
                               "    brokers: [a:1, b:2]\n"
                               "    include_metadata_keys: [x-tenant, x-env]\n"
                               "    topic_from_attribute: kafka.topic\n"
                               "    auth: {sasl: {password: '${env:PW}'}}\n"
                               "service:\n"
                               "  pipelines:\n"
                               "    traces: {receivers: [otlp], exporters: [kafka]}\n",
                               &tier, &ini, &report, &dropped),
                     0);
    assert_int_equal(tier, CFGI_TIER_INGEST);
    assert_non_null(strstr(ini, "[receiver]\ngrpc_endpoint = 0.0.0.0:4317\n"));
    assert_non_null(strstr(ini, "brokers = a:1,b:2\n"));
    assert_non_null(strstr(ini, "include_metadata_keys = x-tenant,x-env\n"));
    assert_non_null(strstr(ini, "topic_from_attribute = kafka.topic\n"));
    assert_non_null(strstr(ini, "[kafka.auth.sasl]\npassword = ${PW}\n"));
    assert_int_equal(dropped, 1);
    assert_string_equal(report, "c.yaml:6: receivers.otlp.protocols.grpc.keepalive.time: "
                                "kotel has no such setting\n");
    free(ini);
    free(report);
}

/* The kafkareceiver's header_extraction and the exporters' zstd / snappy carry over. */
static void test_translate_header_extraction(void **state)
{
    (void)state;
    enum cfgi_tier tier = CFGI_TIER_AUTO;
    char *ini = NULL, *report = NULL;
    int dropped;
    assert_int_equal(
        translate("receivers:\n"
                  "  kafka:\n"
                  "    brokers: [k:9092]\n"
                  "    header_extraction: {extract_headers: true, headers: [x-tenant, team]}\n"
                  "exporters:\n"
                  "  otlp: {endpoint: 'b:4317', compression: snappy}\n"
                  "service:\n"
                  "  pipelines:\n"
                  "    traces: {receivers: [kafka], exporters: [otlp]}\n",
                  &tier, &ini, &report, &dropped),
        0);
    assert_int_equal(tier, CFGI_TIER_PROCESS);
    assert_non_null(strstr(ini, "[kafka.header_extraction]\nextract_headers = true\n"
                                "headers = x-tenant,team\n"));
    assert_non_null(strstr(ini, "compression = snappy\n"));
    assert_int_equal(dropped, 0);
    free(ini);
    free(report);
}

/* Process YAML with one otlp exporter whose sending_queue is q (a flow mapping). */
static void translate_queue(const char *q, char **ini, char **report, int *dropped)
{
    enum cfgi_tier tier = CFGI_TIER_AUTO;
    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "receivers:\n"
             "  kafka: {brokers: [k:9092]}\n"
             "exporters:\n"
             "  otlp:\n"
             "    endpoint: b:4317\n"
             "    sending_queue: %s\n"
             "service:\n"
             "  pipelines:\n"
             "    traces: {receivers: [kafka], exporters: [otlp]}\n",
             q);
    assert_int_equal(translate(yaml, &tier, ini, report, dropped), 0);
}

/* num_consumers becomes [exporter] max_in_flight, clamped to 1..64 with a report line naming
 * its line; the queue's other settings are reported with why, and a disabled queue's
 * num_consumers is ignored, as by the Collector. */
static void test_translate_sending_queue_consumers_are_requests_in_flight(void **state)
{
    (void)state;
    char *ini = NULL, *report = NULL;
    int dropped;

    translate_queue("{enabled: true, num_consumers: 8}", &ini, &report, &dropped);
    assert_non_null(strstr(ini, "max_in_flight = 8\n"));
    assert_int_equal(dropped, 0);
    assert_string_equal(report, "");
    free(ini);
    free(report);

    translate_queue("{num_consumers: 200, queue_size: 5000, storage: file_storage}", &ini, &report,
                    &dropped);
    assert_non_null(strstr(ini, "max_in_flight = 64\n"));
    assert_int_equal(dropped, 3);
    assert_non_null(strstr(report, "c.yaml:6: exporters.otlp.sending_queue.num_consumers: 200 "
                                   "consumers: [exporter] max_in_flight is 1..64; set to 64\n"));
    assert_non_null(strstr(report, "c.yaml:6: exporters.otlp.sending_queue.queue_size: "
                                   "kotel-process has no sending queue: "));
    assert_non_null(strstr(report, "c.yaml:6: exporters.otlp.sending_queue.storage: Kafka is "
                                   "kotel-process's persistent queue"));
    free(ini);
    free(report);

    translate_queue("{num_consumers: 0}", &ini, &report, &dropped);
    assert_non_null(strstr(ini, "max_in_flight = 1\n"));
    assert_string_equal(report, "c.yaml:6: exporters.otlp.sending_queue.num_consumers: 0 "
                                "consumers: [exporter] max_in_flight is 1..64; set to 1\n");
    free(ini);
    free(report);

    translate_queue("{enabled: false, num_consumers: 4}", &ini, &report, &dropped);
    assert_null(strstr(ini, "max_in_flight"));
    assert_int_equal(dropped, 1);
    assert_non_null(strstr(report, "num_consumers: ignored, as by the Collector: "
                                   "sending_queue.enabled is false"));
    free(ini);
    free(report);
}

/* otlphttp's per-signal endpoints carry over whole, also on origins other than endpoint's
 * (kotel-process gives each origin its own connections). */
static void test_translate_signal_endpoints_other_origins(void **state)
{
    (void)state;
    enum cfgi_tier tier = CFGI_TIER_AUTO;
    char *ini = NULL, *report = NULL;
    int dropped;
    assert_int_equal(translate("receivers:\n"
                               "  kafka: {brokers: [k:9092]}\n"
                               "exporters:\n"
                               "  otlphttp:\n"
                               "    endpoint: https://otlp.example:4318\n"
                               "    traces_endpoint: https://tempo.example:4318/v1/traces\n"
                               "    logs_endpoint: http://loki.example:3100/otlp/v1/logs\n"
                               "service:\n"
                               "  pipelines:\n"
                               "    traces: {receivers: [kafka], exporters: [otlphttp]}\n"
                               "    logs: {receivers: [kafka], exporters: [otlphttp]}\n",
                               &tier, &ini, &report, &dropped),
                     0);
    assert_non_null(strstr(ini, "endpoint = https://otlp.example:4318\n"));
    assert_non_null(strstr(ini, "traces_endpoint = https://tempo.example:4318/v1/traces\n"));
    assert_non_null(strstr(ini, "logs_endpoint = http://loki.example:3100/otlp/v1/logs\n"));
    assert_int_equal(dropped, 0);
    assert_null(strstr(report, "endpoint"));
    free(ini);
    free(report);
}

static void test_translate_tier(void **state)
{
    (void)state;
    enum cfgi_tier tier = CFGI_TIER_AUTO;
    char *ini = NULL, *report = NULL;
    int dropped;

    /* Both directions of Kafka in one file: the tier must be named. */
    assert_int_equal(translate("service:\n"
                               "  pipelines:\n"
                               "    traces: {receivers: [kafka], exporters: [kafka/out]}\n",
                               &tier, &ini, &report, &dropped),
                     KT_EINVAL);
    free(ini);
    free(report);
    tier = CFGI_TIER_PROCESS;
    assert_int_equal(translate("processors:\n"
                               "  memory_limiter: {}\n"
                               "service:\n"
                               "  pipelines:\n"
                               "    traces: {receivers: [kafka], processors: [memory_limiter],\n"
                               "             exporters: [kafka/out]}\n",
                               &tier, &ini, &report, &dropped),
                     0);
    assert_int_equal(dropped, 1);
    assert_string_equal(report, "c.yaml:2: processors.memory_limiter: "
                                "kotel-process has no such component\n");
    free(ini);
    free(report);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tree_lines),
        cmocka_unit_test(test_tree_refuses),
        cmocka_unit_test(test_translate_ingest),
        cmocka_unit_test(test_translate_header_extraction),
        cmocka_unit_test(test_translate_sending_queue_consumers_are_requests_in_flight),
        cmocka_unit_test(test_translate_tier),
        cmocka_unit_test(test_translate_signal_endpoints_other_origins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
