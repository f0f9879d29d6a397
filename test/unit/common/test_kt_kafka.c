/* kt_kafka: [kafka] keys to librdkafka properties, and errors that name the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kt_config.h"
#include "kt_err.h"
#include "kt_kafka.h"

static void get(rd_kafka_conf_t *c, const char *name, char *out, size_t n)
{
    size_t sz = n;
    assert_int_equal(rd_kafka_conf_get(c, name, out, &sz), RD_KAFKA_CONF_OK);
}

static void assert_prefix(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("\"%s\" does not start with \"%s\"", s, prefix);
}

static void test_common_mapping(void **state)
{
    (void)state;
    char *b[] = {"k1:9092", "k2:9093"};
    struct kt_strlist brokers = {b, 2};
    struct kt_kafka_common k = {&brokers, "kotel-test", "2.1.0"};
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    struct kt_err err = {0};
    assert_int_equal(kt_kafka_conf_common(c, &k, &err), 0);
    char v[256];
    get(c, "bootstrap.servers", v, sizeof(v));
    assert_string_equal(v, "k1:9092,k2:9093");
    get(c, "client.id", v, sizeof(v));
    assert_string_equal(v, "kotel-test");
    get(c, "broker.version.fallback", v, sizeof(v));
    assert_string_equal(v, "2.1.0");
    get(c, "api.version.request", v, sizeof(v));
    assert_string_equal(v, "true");
    rd_kafka_conf_destroy(c);
}

/* Brokers older than 0.10 cannot answer ApiVersionRequest. */
static void test_old_protocol_version(void **state)
{
    (void)state;
    char *b[] = {"k1:9092"};
    struct kt_strlist brokers = {b, 1};
    struct kt_kafka_common k = {&brokers, NULL, "0.9.0.1"};
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    struct kt_err err = {0};
    assert_int_equal(kt_kafka_conf_common(c, &k, &err), 0);
    char v[64];
    get(c, "broker.version.fallback", v, sizeof(v));
    assert_string_equal(v, "0.9.0.1");
    get(c, "api.version.request", v, sizeof(v));
    assert_string_equal(v, "false");
    rd_kafka_conf_destroy(c);
}

static void test_bad_common_values(void **state)
{
    (void)state;
    char *b[] = {"k1:9092"};
    struct kt_strlist brokers = {b, 1};
    struct kt_strlist none = {NULL, 0};
    struct kt_err err = {0};

    rd_kafka_conf_t *c = rd_kafka_conf_new();
    struct kt_kafka_common k = {&brokers, NULL, "two.one"};
    assert_int_equal(kt_kafka_conf_common(c, &k, &err), KT_EINVAL);
    assert_string_equal(
        err.msg, "[kafka] protocol_version: want a Kafka version like 2.1.0, got \"two.one\"");
    k.protocol_version = "2.1.0.";
    assert_int_equal(kt_kafka_conf_common(c, &k, &err), KT_EINVAL);
    k.protocol_version = "2";
    assert_int_equal(kt_kafka_conf_common(c, &k, &err), KT_EINVAL);

    struct kt_kafka_common nob = {&none, NULL, "2.1.0"};
    assert_int_equal(kt_kafka_conf_common(c, &nob, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[kafka] brokers: no broker given");
    rd_kafka_conf_destroy(c);
}

static void test_passthrough_applied_last_wins(void **state)
{
    (void)state;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    struct kt_err err = {0};
    assert_int_equal(kt_kafka_set(c, "kafka", "client_id", "client.id", "derived", &err), 0);
    char *p[] = {"linger.ms=50", "client.id=user=wins", "message.timeout.ms=1234"};
    struct kt_strlist props = {p, 3};
    assert_int_equal(kt_kafka_conf_passthrough(c, &props, &err), 0);
    char v[64];
    get(c, "linger.ms", v, sizeof(v));
    assert_string_equal(v, "50");
    get(c, "client.id", v, sizeof(v));
    assert_string_equal(v, "user=wins");
    /* A topic-level property set on the global conf lands in the default topic conf. */
    rd_kafka_topic_conf_t *tc = rd_kafka_conf_get_default_topic_conf(c);
    assert_non_null(tc);
    size_t sz = sizeof(v);
    assert_int_equal(rd_kafka_topic_conf_get(tc, "message.timeout.ms", v, &sz), RD_KAFKA_CONF_OK);
    assert_string_equal(v, "1234");
    assert_int_equal(kt_kafka_conf_passthrough(c, NULL, &err), 0);
    rd_kafka_conf_destroy(c);
}

static void test_passthrough_bad_name(void **state)
{
    (void)state;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    struct kt_err err = {0};
    char *p[] = {"linger.ms=5", "linger.mss=5"};
    struct kt_strlist props = {p, 2};
    assert_int_equal(kt_kafka_conf_passthrough(c, &props, &err), KT_EINVAL);
    assert_prefix(err.msg, "[kafka] rdkafka.linger.mss: librdkafka: ");
    assert_non_null(strstr(err.msg, "linger.mss"));
    rd_kafka_conf_destroy(c);
}

static void test_passthrough_bad_value(void **state)
{
    (void)state;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    struct kt_err err = {0};
    char *p[] = {"linger.ms=soon"};
    struct kt_strlist props = {p, 1};
    assert_int_equal(kt_kafka_conf_passthrough(c, &props, &err), KT_EINVAL);
    assert_prefix(err.msg, "[kafka] rdkafka.linger.ms: librdkafka: ");
    char *q[] = {"compression.codec=brotli"};
    struct kt_strlist props2 = {q, 1};
    assert_int_equal(kt_kafka_conf_passthrough(c, &props2, &err), KT_EINVAL);
    assert_prefix(err.msg, "[kafka] rdkafka.compression.codec: librdkafka: ");
    char *r[] = {"acks"};
    struct kt_strlist props3 = {r, 1};
    assert_int_equal(kt_kafka_conf_passthrough(c, &props3, &err), KT_EINVAL);
    assert_string_equal(err.msg, "[kafka] rdkafka.acks: missing value");
    rd_kafka_conf_destroy(c);
}

/* A derived property that librdkafka refuses names the kotel key, not the property. */
static void test_set_names_key(void **state)
{
    (void)state;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    struct kt_err err = {0};
    assert_int_equal(
        kt_kafka_set(c, "kafka", "queue_max_messages", "queue.buffering.max.messages", "-5", &err),
        KT_EINVAL);
    assert_prefix(err.msg, "[kafka] queue_max_messages: librdkafka: ");
    rd_kafka_conf_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_common_mapping),
        cmocka_unit_test(test_old_protocol_version),
        cmocka_unit_test(test_bad_common_values),
        cmocka_unit_test(test_passthrough_applied_last_wins),
        cmocka_unit_test(test_passthrough_bad_name),
        cmocka_unit_test(test_passthrough_bad_value),
        cmocka_unit_test(test_set_names_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
