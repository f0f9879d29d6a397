/* kt_kafka: [kafka] keys to librdkafka properties, and errors that name the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "kt_config.h"
#include "kt_err.h"
#include "kt_kafka.h"

#include "../test_tmpfile.h"

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
    struct kt_kafka_common k = {&brokers, "kotel-test", "2.1.0", NULL};
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
    struct kt_kafka_common k = {&brokers, NULL, "0.9.0.1", NULL};
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
    struct kt_kafka_common k = {&brokers, NULL, "two.one", NULL};
    assert_int_equal(kt_kafka_conf_common(c, &k, &err), KT_EINVAL);
    assert_string_equal(
        err.msg, "[kafka] protocol_version: want a Kafka version like 2.1.0, got \"two.one\"");
    k.protocol_version = "2.1.0.";
    assert_int_equal(kt_kafka_conf_common(c, &k, &err), KT_EINVAL);
    k.protocol_version = "2";
    assert_int_equal(kt_kafka_conf_common(c, &k, &err), KT_EINVAL);

    struct kt_kafka_common nob = {&none, NULL, "2.1.0", NULL};
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

/* ---- [kafka.auth.sasl] / [kafka.auth.tls] ---- */

static char *b1[] = {"k1:9092"};
static struct kt_strlist one_broker = {b1, 1};

/* The property librdkafka holds, or "" when it has none set. */
static void prop(rd_kafka_conf_t *c, const char *name, char *out, size_t n)
{
    size_t sz = n;
    if (rd_kafka_conf_get(c, name, out, &sz) != RD_KAFKA_CONF_OK)
        out[0] = '\0';
}

static rd_kafka_conf_t *conf_with(const struct kt_kafka_auth_conf *a)
{
    struct kt_kafka_common k = {&one_broker, NULL, "2.1.0", a};
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    struct kt_err err = {0};
    if (kt_kafka_conf_common(c, &k, &err) != 0)
        fail_msg("kt_kafka_conf_common: %s", err.msg);
    return c;
}

static void assert_prop(rd_kafka_conf_t *c, const char *name, const char *want)
{
    char v[512];
    prop(c, name, v, sizeof(v));
    if (strcmp(v, want) != 0)
        fail_msg("%s = \"%s\", want \"%s\"", name, v, want);
}

static char *tmp_pem(char *path, size_t cap, const char *prefix)
{
    static const char pem[] = "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n";
    test_tmpfile_write(path, cap, prefix, pem, sizeof(pem) - 1);
    return path;
}

static void test_auth_none_is_plaintext(void **state)
{
    (void)state;
    struct kt_kafka_auth_conf a;
    memset(&a, 0, sizeof(a));
    rd_kafka_conf_t *c = conf_with(&a);
    assert_prop(c, "security.protocol", "plaintext");
    rd_kafka_conf_destroy(c);
    assert_string_equal(kt_kafka_security_protocol(NULL), "PLAINTEXT");
}

static void test_auth_sasl_plaintext(void **state)
{
    (void)state;
    static const struct {
        int mech;
        const char *name;
    } mechs[] = {{KT_KAFKA_SASL_PLAIN, "PLAIN"},
                 {KT_KAFKA_SASL_SCRAM_SHA_256, "SCRAM-SHA-256"},
                 {KT_KAFKA_SASL_SCRAM_SHA_512, "SCRAM-SHA-512"}};
    for (size_t i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
        struct kt_kafka_auth_conf a;
        memset(&a, 0, sizeof(a));
        a.sasl.mechanism = mechs[i].mech;
        a.sasl.username = "kotel";
        a.sasl.password = "s3cret";
        rd_kafka_conf_t *c = conf_with(&a);
        assert_prop(c, "security.protocol", "sasl_plaintext");
        assert_prop(c, "sasl.mechanisms", mechs[i].name);
        assert_prop(c, "sasl.username", "kotel");
        assert_prop(c, "sasl.password", "s3cret");
        rd_kafka_conf_destroy(c);
    }
}

static void test_auth_tls_files(void **state)
{
    (void)state;
    char ca[64], crt[64], key[64];
    struct kt_kafka_auth_conf a;
    memset(&a, 0, sizeof(a));
    a.tls.ca_file = tmp_pem(ca, sizeof(ca), "kt-ca");
    a.tls.cert_file = tmp_pem(crt, sizeof(crt), "kt-crt");
    a.tls.key_file = tmp_pem(key, sizeof(key), "kt-key");
    rd_kafka_conf_t *c = conf_with(&a); /* enabled = auto: on, files are set */
    assert_prop(c, "security.protocol", "ssl");
    assert_prop(c, "ssl.ca.location", ca);
    assert_prop(c, "ssl.certificate.location", crt);
    assert_prop(c, "ssl.key.location", key);
    assert_prop(c, "enable.ssl.certificate.verification", "true");
    assert_prop(c, "ssl.endpoint.identification.algorithm", "https");
    rd_kafka_conf_destroy(c);
    unlink(ca);
    unlink(crt);
    unlink(key);
}

static void test_auth_sasl_ssl_insecure(void **state)
{
    (void)state;
    struct kt_kafka_auth_conf a;
    memset(&a, 0, sizeof(a));
    a.sasl.mechanism = KT_KAFKA_SASL_SCRAM_SHA_512;
    a.sasl.username = "kotel";
    a.sasl.password = "pw";
    a.tls.insecure_skip_verify = true;
    rd_kafka_conf_t *c = conf_with(&a);
    assert_prop(c, "security.protocol", "sasl_ssl");
    assert_prop(c, "sasl.mechanisms", "SCRAM-SHA-512");
    assert_prop(c, "enable.ssl.certificate.verification", "false");
    assert_prop(c, "ssl.endpoint.identification.algorithm", "none");
    rd_kafka_conf_destroy(c);

    /* enabled = true with nothing else: TLS with the system's CA store. */
    memset(&a, 0, sizeof(a));
    a.tls.enabled = KT_KAFKA_TLS_ON;
    c = conf_with(&a);
    assert_prop(c, "security.protocol", "ssl");
    rd_kafka_conf_destroy(c);
    assert_true(kt_kafka_auth_tls_on(&a));
    a.tls.enabled = KT_KAFKA_TLS_AUTO;
    assert_false(kt_kafka_auth_tls_on(&a));
}

/* The passthrough runs last: an explicit rdkafka.security.protocol wins over the sections. */
static void test_auth_passthrough_wins(void **state)
{
    (void)state;
    struct kt_kafka_auth_conf a;
    memset(&a, 0, sizeof(a));
    a.sasl.mechanism = KT_KAFKA_SASL_PLAIN;
    a.sasl.username = "kotel";
    a.sasl.password = "pw";
    rd_kafka_conf_t *c = conf_with(&a);
    char *p[] = {"security.protocol=sasl_ssl", "sasl.username=other"};
    struct kt_strlist props = {p, 2};
    struct kt_err err = {0};
    assert_int_equal(kt_kafka_conf_passthrough(c, &props, &err), 0);
    assert_prop(c, "security.protocol", "sasl_ssl");
    assert_prop(c, "sasl.username", "other");
    rd_kafka_conf_destroy(c);
}

static void test_auth_password_file(void **state)
{
    (void)state;
    char path[64];
    test_tmpfile_write(path, sizeof(path), "kt-pw", "from-file\r\n", 11);
    struct kt_kafka_auth_conf a;
    memset(&a, 0, sizeof(a));
    a.sasl.mechanism = KT_KAFKA_SASL_SCRAM_SHA_256;
    a.sasl.username = "kotel";
    a.sasl.password_file = path;
    struct kt_err err = {0};
    assert_int_equal(kt_kafka_auth_check(&a, &err), 0);
    rd_kafka_conf_t *c = conf_with(&a);
    assert_prop(c, "sasl.password", "from-file");
    rd_kafka_conf_destroy(c);
    unlink(path);

    /* Only one newline goes: a password may end in blanks or a second newline. */
    test_tmpfile_write(path, sizeof(path), "kt-pw", "two \n\n", 6);
    c = conf_with(&a);
    assert_prop(c, "sasl.password", "two \n");
    rd_kafka_conf_destroy(c);
    unlink(path);

    test_tmpfile_write(path, sizeof(path), "kt-pw", "\n", 1);
    assert_int_equal(kt_kafka_auth_check(&a, &err), KT_EINVAL);
    assert_prefix(err.msg, "[kafka.auth.sasl] password_file: ");
    assert_non_null(strstr(err.msg, "is empty"));
    unlink(path);
}

static void expect_auth_error(const struct kt_kafka_auth_conf *a, const char *msg)
{
    struct kt_err err = {0};
    assert_int_equal(kt_kafka_auth_check(a, &err), KT_EINVAL);
    if (strstr(err.msg, msg) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, msg);
    /* The password never shows, whatever went wrong. */
    if (a->sasl.password != NULL && a->sasl.password[0] != '\0')
        assert_null(strstr(err.msg, a->sasl.password));
    /* Nor does kt_kafka_conf_common get past it. */
    struct kt_kafka_common k = {&one_broker, NULL, NULL, a};
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    assert_int_equal(kt_kafka_conf_common(c, &k, &err), KT_EINVAL);
    rd_kafka_conf_destroy(c);
}

static void test_auth_config_errors(void **state)
{
    (void)state;
    char pw[64], ca[64];
    test_tmpfile_write(pw, sizeof(pw), "kt-pw", "x\n", 2);
    tmp_pem(ca, sizeof(ca), "kt-ca");
    struct kt_kafka_auth_conf a;

    memset(&a, 0, sizeof(a));
    a.sasl.mechanism = KT_KAFKA_SASL_PLAIN;
    a.sasl.username = "kotel";
    a.sasl.password = "hunter2";
    a.sasl.password_file = pw;
    expect_auth_error(&a, "[kafka.auth.sasl] password_file: set together with password");

    a.sasl.password = NULL;
    a.sasl.password_file = NULL;
    expect_auth_error(&a, "[kafka.auth.sasl] password: required with mechanism PLAIN");

    a.sasl.password = "hunter2";
    a.sasl.username = "";
    expect_auth_error(&a, "[kafka.auth.sasl] username: required with mechanism PLAIN");

    memset(&a, 0, sizeof(a));
    a.sasl.password = "hunter2";
    expect_auth_error(&a, "[kafka.auth.sasl] password: set, but mechanism is empty");

    memset(&a, 0, sizeof(a));
    a.sasl.mechanism = KT_KAFKA_SASL_SCRAM_SHA_512;
    a.sasl.username = "kotel";
    a.sasl.password_file = "/nonexistent/kotel-password";
    expect_auth_error(&a, "[kafka.auth.sasl] password_file: cannot read "
                          "/nonexistent/kotel-password: No such file or directory");

    memset(&a, 0, sizeof(a));
    a.tls.cert_file = ca;
    expect_auth_error(&a, "[kafka.auth.tls] cert_file: set without key_file");
    a.tls.cert_file = NULL;
    a.tls.key_file = ca;
    expect_auth_error(&a, "[kafka.auth.tls] key_file: set without cert_file");

    memset(&a, 0, sizeof(a));
    a.tls.enabled = KT_KAFKA_TLS_OFF;
    a.tls.ca_file = ca;
    expect_auth_error(&a, "[kafka.auth.tls] enabled: false, but ca_file is set");
    a.tls.ca_file = NULL;
    a.tls.insecure_skip_verify = true;
    expect_auth_error(&a, "[kafka.auth.tls] enabled: false, but insecure_skip_verify is true");

    memset(&a, 0, sizeof(a));
    a.tls.ca_file = "/nonexistent/ca.pem";
    expect_auth_error(&a, "[kafka.auth.tls] ca_file: cannot read /nonexistent/ca.pem: No such "
                          "file or directory");

    /* There but unreadable (as root, a mode would not stop the read; a directory does). */
    memset(&a, 0, sizeof(a));
    a.sasl.mechanism = KT_KAFKA_SASL_PLAIN;
    a.sasl.username = "kotel";
    a.sasl.password_file = "/tmp";
    expect_auth_error(&a, "[kafka.auth.sasl] password_file: cannot read /tmp: Is a directory");
    unlink(pw);
    unlink(ca);
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
        cmocka_unit_test(test_auth_none_is_plaintext),
        cmocka_unit_test(test_auth_sasl_plaintext),
        cmocka_unit_test(test_auth_tls_files),
        cmocka_unit_test(test_auth_sasl_ssl_insecure),
        cmocka_unit_test(test_auth_passthrough_wins),
        cmocka_unit_test(test_auth_password_file),
        cmocka_unit_test(test_auth_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
