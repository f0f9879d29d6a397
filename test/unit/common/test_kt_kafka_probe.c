/* kt_kafka_probe: ApiVersions log lines, release inference, protocol_version against the
 * cluster, the startup error sentences, and the whole check against librdkafka's mock
 * cluster. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kt_err.h"
#include "kt_kafka.h"
#include "kt_kafka_probe.h"
#include "kt_log.h"

#include "../test_tmpfile.h"

/* librdkafka 2.0.2's mock cluster (kotel-devbroker) answers ApiVersions with these maxima
 * of the marker keys (Produce 7, Fetch 11, ListOffsets 5, OffsetCommit 7, OffsetFetch 5,
 * FindCoordinator 2, JoinGroup 5, ApiVersions 2, InitProducerId 4, AddPartitionsToTxn 1),
 * as its log lines showed. */
static const int16_t mock_max[KT_KAFKA_N_MARKERS] = {7, 11, 5, 7, 5, 2, 5, 2, 4, 1};

static size_t release_index(int major, int minor)
{
    for (size_t i = 0; i < kt_kafka_n_releases; i++)
        if (kt_kafka_releases[i].major == major && kt_kafka_releases[i].minor == minor)
            return i;
    fail_msg("Kafka %d.%d is not in the table", major, minor);
    return 0;
}

static void name_of(const int16_t *max, char *buf, size_t cap)
{
    struct kt_kafka_release_match m;
    kt_kafka_release_infer(max, &m);
    kt_kafka_release_name(&m, buf, cap);
}

static void assert_contains(const char *s, const char *part)
{
    if (strstr(s, part) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", s, part);
}

/* ---- APIVERSION log lines ---- */

static void test_apiv_parse_lines(void **state)
{
    (void)state;
    char broker[64];
    int key = -1, max = -1;
    assert_int_equal(kt_kafka_apiv_parse("[thrd:sasl_ssl://127.0.0.1:9093/bootstrap]: "
                                         "sasl_ssl://127.0.0.1:9093/bootstrap: Broker API support:",
                                         broker, sizeof(broker), &key, &max),
                     KT_KAFKA_APIV_HEADER);
    assert_string_equal(broker, "sasl_ssl://127.0.0.1:9093/bootstrap");
    assert_int_equal(kt_kafka_apiv_parse("[thrd:127.0.0.1:37187/bootstrap]: 127.0.0.1:37187/"
                                         "bootstrap:   ApiKey Produce (0) Versions 0..11",
                                         broker, sizeof(broker), &key, &max),
                     KT_KAFKA_APIV_KEY);
    assert_string_equal(broker, "127.0.0.1:37187/bootstrap");
    assert_int_equal(key, 0);
    assert_int_equal(max, 11);
    /* librdkafka 2.0.2 does not know the newer keys' names; the numbers are enough. */
    assert_int_equal(kt_kafka_apiv_parse("k1:9092/1:   ApiKey Unknown-60? (60) Versions 0..1",
                                         broker, sizeof(broker), &key, &max),
                     KT_KAFKA_APIV_KEY);
    assert_string_equal(broker, "k1:9092/1");
    assert_int_equal(key, 60);
    assert_int_equal(max, 1);
    /* A long broker name is cut to the buffer, not overrun. */
    char small[8];
    assert_int_equal(kt_kafka_apiv_parse("sasl_plaintext://broker.example:9092/3: Broker API "
                                         "support:",
                                         small, sizeof(small), &key, &max),
                     KT_KAFKA_APIV_HEADER);
    assert_string_equal(small, "sasl_pl");
}

static void test_apiv_parse_other_lines(void **state)
{
    (void)state;
    char broker[64];
    int key, max;
    static const char *const other[] = {
        "[thrd:k:9092/bootstrap]: k:9092/bootstrap: ApiVersionRequest v3 failed due to "
        "UNSUPPORTED_VERSION: retrying with v0",
        "[thrd:k:9092/bootstrap]: k:9092/bootstrap:  Feature MsgVer2: Produce (3..3) supported "
        "by broker",
        "[thrd:k:9092/bootstrap]: k:9092/bootstrap: Enabling feature MsgVer2",
        "k:9092/1:   ApiKey Produce (0) Versions 5..3",
        "k:9092/1:   ApiKey Produce (x) Versions 0..3",
        "k:9092/1:   ApiKey Produce (0) Versions 0..3 trailing",
        "no separator at all",
        "[thrd:unterminated",
        ": starts with a separator",
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        if (kt_kafka_apiv_parse(other[i], broker, sizeof(broker), &key, &max) !=
            KT_KAFKA_APIV_OTHER)
            fail_msg("\"%s\" was taken for an ApiVersions line", other[i]);
}

/* ---- releases ---- */

static void test_release_exact(void **state)
{
    (void)state;
    char name[64];
    name_of(kt_kafka_releases[release_index(3, 9)].max, name, sizeof(name));
    assert_string_equal(name, "3.9");
    name_of(kt_kafka_releases[release_index(2, 1)].max, name, sizeof(name));
    assert_string_equal(name, "2.1");
    /* A broker between two releases (a patched 3.7) is the older one. */
    int16_t between[KT_KAFKA_N_MARKERS];
    memcpy(between, kt_kafka_releases[release_index(3, 7)].max, sizeof(between));
    between[0]++;
    name_of(between, name, sizeof(name));
    assert_string_equal(name, "3.7");
    /* The devbroker's mock cluster. */
    name_of(mock_max, name, sizeof(name));
    assert_string_equal(name, "2.3");
}

static void test_release_range(void **state)
{
    (void)state;
    char name[64];
    /* 3.2, 3.3 and 3.4 advertise the same markers; so do 2.5 and 2.6. */
    name_of(kt_kafka_releases[release_index(3, 3)].max, name, sizeof(name));
    assert_string_equal(name, "3.2 to 3.4");
    name_of(kt_kafka_releases[release_index(2, 5)].max, name, sizeof(name));
    assert_string_equal(name, "2.5 to 2.6");
    struct kt_kafka_release_match m;
    kt_kafka_release_infer(kt_kafka_releases[release_index(3, 4)].max, &m);
    assert_int_equal(m.kind, KT_KAFKA_RELEASE_KNOWN);
    assert_int_equal(m.first, release_index(3, 2));
    assert_int_equal(m.last, release_index(3, 4));
}

static void test_release_newer_older_unknown(void **state)
{
    (void)state;
    char name[64], want[64];
    const struct kt_kafka_release *newest = &kt_kafka_releases[kt_kafka_n_releases - 1];
    int16_t max[KT_KAFKA_N_MARKERS];
    memcpy(max, newest->max, sizeof(max));
    max[1]++; /* a Fetch version no release in the table has */
    name_of(max, name, sizeof(name));
    snprintf(want, sizeof(want), "newer than %d.%d", newest->major, newest->minor);
    assert_string_equal(name, want);
    /* Exactly the newest: that release, not "newer". */
    name_of(newest->max, name, sizeof(name));
    snprintf(want, sizeof(want), "%d.%d", newest->major, newest->minor);
    assert_string_equal(name, want);

    memcpy(max, kt_kafka_releases[0].max, sizeof(max));
    max[2]--; /* a 2.0 broker: ListOffsets v3 */
    name_of(max, name, sizeof(name));
    assert_string_equal(name, "older than 2.1");
    /* A marker the broker does not advertise at all. */
    memcpy(max, kt_kafka_releases[release_index(3, 9)].max, sizeof(max));
    max[9] = -1;
    name_of(max, name, sizeof(name));
    assert_string_equal(name, "older than 2.1");

    struct kt_kafka_release_match m;
    kt_kafka_release_infer(NULL, &m);
    assert_int_equal(m.kind, KT_KAFKA_RELEASE_UNKNOWN);
    kt_kafka_release_name(&m, name, sizeof(name));
    assert_string_equal(name, "unknown");
}

static void test_release_table_is_ordered(void **state)
{
    (void)state;
    /* Inference relies on maxima that never go down from one release to the next. */
    for (size_t i = 1; i < kt_kafka_n_releases; i++) {
        const struct kt_kafka_release *a = &kt_kafka_releases[i - 1], *b = &kt_kafka_releases[i];
        assert_true(a->major < b->major || (a->major == b->major && a->minor < b->minor));
        for (size_t k = 0; k < KT_KAFKA_N_MARKERS; k++)
            assert_true(a->max[k] <= b->max[k]);
    }
    assert_true(release_index(2, 1) == 0);
    (void)release_index(4, 1);
}

static void test_protocol_version_against_cluster(void **state)
{
    (void)state;
    assert_int_equal(kt_kafka_release_at_or_below("4.0.0"), (long)release_index(4, 0));
    assert_int_equal(kt_kafka_release_at_or_below("3.9.7"), (long)release_index(3, 9));
    assert_int_equal(kt_kafka_release_at_or_below("2.1"), (long)release_index(2, 1));
    /* Not in the table: the newest release at or below it. */
    assert_int_equal(kt_kafka_release_at_or_below("99.0.0"), (long)(kt_kafka_n_releases - 1));
    /* Older than the table, or not a version: nothing to check. */
    assert_int_equal(kt_kafka_release_at_or_below("2.0.0"), -1);
    assert_int_equal(kt_kafka_release_at_or_below("0.10.2.1"), -1);
    assert_int_equal(kt_kafka_release_at_or_below("two"), -1);
    assert_int_equal(kt_kafka_release_at_or_below(NULL), -1);

    const int16_t *k39 = kt_kafka_releases[release_index(3, 9)].max;
    assert_false(kt_kafka_release_met(k39, (size_t)kt_kafka_release_at_or_below("4.0.0")));
    assert_true(kt_kafka_release_met(k39, (size_t)kt_kafka_release_at_or_below("3.9.0")));
    assert_true(kt_kafka_release_met(k39, (size_t)kt_kafka_release_at_or_below("2.1.0")));
    assert_true(kt_kafka_protocol_version_newer("4.0.0", k39));
    assert_false(kt_kafka_protocol_version_newer("3.9.5", k39));
    assert_false(kt_kafka_protocol_version_newer("2.1.0", k39));
    /* Between two releases, above the broker's: newer, though it maps to 3.9 in the table. */
    assert_true(kt_kafka_protocol_version_newer("3.10.0", k39));
    assert_true(kt_kafka_protocol_version_newer("99.0.0", k39));
    /* A broker the markers place in 3.2 to 3.4 may be a 3.4. */
    const int16_t *k33 = kt_kafka_releases[release_index(3, 3)].max;
    assert_false(kt_kafka_protocol_version_newer("3.4.1", k33));
    assert_true(kt_kafka_protocol_version_newer("3.5.0", k33));
    /* At the table's newest release, a later version cannot be told from it. */
    assert_false(
        kt_kafka_protocol_version_newer("99.0.0", kt_kafka_releases[kt_kafka_n_releases - 1].max));
    /* Older than the table, or not a version: nothing to compare. */
    assert_false(kt_kafka_protocol_version_newer("0.10.2.1", mock_max));
    assert_false(kt_kafka_protocol_version_newer("soon", k39));
    /* The default protocol_version passes against the devbroker; 2.4.0 does not. */
    assert_false(kt_kafka_protocol_version_newer("2.1.0", mock_max));
    assert_true(kt_kafka_protocol_version_newer("2.4.0", mock_max));
}

/* ---- startup error sentences ---- */

static const char sasl_reason[] =
    "sasl_plaintext://127.0.0.1:43719/bootstrap: SASL authentication error: Authentication "
    "failed during authentication due to invalid credentials with SASL mechanism "
    "SCRAM-SHA-256 (after 302ms in state AUTH_REQ)";

static void test_sasl_error_message(void **state)
{
    (void)state;
    struct kt_kafka_release_match k39;
    kt_kafka_release_infer(kt_kafka_releases[release_index(3, 9)].max, &k39);
    struct kt_err err = {0};
    assert_int_equal(kt_kafka_probe_sasl_error("SCRAM-SHA-256", "kotel", false, sasl_reason, &k39,
                                               0x020002ff, &err),
                     KT_EINVAL);
    assert_string_equal(err.msg,
                        "kafka: SASL/SCRAM-SHA-256 authentication as \"kotel\" failed at "
                        "sasl_plaintext://127.0.0.1:43719/bootstrap: Authentication failed "
                        "during authentication due to invalid credentials with SASL mechanism "
                        "SCRAM-SHA-256; check [kafka.auth.sasl] username and password");

    assert_int_equal(kt_kafka_probe_sasl_error("PLAIN", "kotel", true,
                                               "sasl_ssl://k1:9093/bootstrap: SASL authentication "
                                               "error: Authentication failed: Invalid username or "
                                               "password (after 5ms in state AUTH_REQ)",
                                               NULL, 0x020002ff, &err),
                     KT_EINVAL);
    assert_string_equal(err.msg, "kafka: SASL/PLAIN authentication as \"kotel\" failed at "
                                 "sasl_ssl://k1:9093/bootstrap: Authentication failed: Invalid "
                                 "username or password; check [kafka.auth.sasl] username and "
                                 "password_file");

    /* A listener without the mechanism (a PLAINTEXT one offers none). */
    kt_kafka_probe_sasl_error("PLAIN", "kotel", false,
                              "sasl_plaintext://k1:9092/bootstrap: SASL PLAIN mechanism "
                              "handshake failed: Broker: Request not valid in current SASL "
                              "state: broker's supported mechanisms:  (after 1ms in state "
                              "AUTH_HANDSHAKE)",
                              NULL, 0x020002ff, &err);
    assert_contains(err.msg, "check [kafka.auth.sasl] mechanism");
}

static void test_sasl_error_scram_kafka4_hint(void **state)
{
    (void)state;
    struct kt_kafka_release_match k40, k39, newer;
    kt_kafka_release_infer(kt_kafka_releases[release_index(4, 0)].max, &k40);
    kt_kafka_release_infer(kt_kafka_releases[release_index(3, 9)].max, &k39);
    newer.kind = KT_KAFKA_RELEASE_NEWER;
    newer.first = newer.last = kt_kafka_n_releases - 1;
    struct kt_err err = {0};

    kt_kafka_probe_sasl_error("SCRAM-SHA-512", "kotel", false, sasl_reason, &k40, 0x020002ff, &err);
    assert_contains(err.msg, "; check [kafka.auth.sasl] username and password; note: librdkafka "
                             "2.0.2 (before 2.6.1) sends a SCRAM client-final message that Kafka "
                             "4.0 and newer reject as invalid credentials (librdkafka PR #4895): "
                             "use PLAIN over SASL_SSL, or a newer librdkafka");
    kt_kafka_probe_sasl_error("SCRAM-SHA-256", "kotel", false, sasl_reason, &newer, 0x020002ff,
                              &err);
    assert_contains(err.msg, "PR #4895");
    /* Not for a 3.9 broker, a fixed librdkafka, PLAIN, or a broker of unknown release. */
    kt_kafka_probe_sasl_error("SCRAM-SHA-512", "kotel", false, sasl_reason, &k39, 0x020002ff, &err);
    assert_null(strstr(err.msg, "PR #4895"));
    kt_kafka_probe_sasl_error("SCRAM-SHA-512", "kotel", false, sasl_reason, &k40, 0x020601ff, &err);
    assert_null(strstr(err.msg, "PR #4895"));
    kt_kafka_probe_sasl_error("SCRAM-SHA-512", "kotel", false, sasl_reason, NULL, 0x020002ff, &err);
    assert_null(strstr(err.msg, "PR #4895"));
    kt_kafka_probe_sasl_error("PLAIN", "kotel", false, sasl_reason, &k40, 0x020002ff, &err);
    assert_null(strstr(err.msg, "PR #4895"));
}

static void test_tls_error_message(void **state)
{
    (void)state;
    struct kt_err err = {0};
    assert_int_equal(
        kt_kafka_probe_tls_error(
            "ssl://127.0.0.1:57475/bootstrap: SSL handshake failed: ../ssl/statem/"
            "statem_clnt.c:1889:tls_post_process_server_certificate error:0A000086:SSL "
            "routines::certificate verify failed: broker certificate could not be verified, "
            "verify that ssl.ca.location is correctly configured or root CA certificates are "
            "installed (install ca-certificates package) (after 5ms in state SSL_HANDSHAKE)",
            true, &err),
        KT_EINVAL);
    assert_string_equal(err.msg, "kafka: TLS handshake with ssl://127.0.0.1:57475/bootstrap "
                                 "failed: certificate verify failed: broker certificate could not "
                                 "be verified; check [kafka.auth.tls] ca_file (it must hold the CA "
                                 "that signed the broker's certificate)");

    kt_kafka_probe_tls_error("ssl://k1:9093/bootstrap: Receive failed: error:0A000412:SSL "
                             "routines::sslv3 alert bad certificate: SSL alert number 42 (after "
                             "1ms in state APIVERSION_QUERY)",
                             true, &err);
    assert_string_equal(err.msg, "kafka: TLS handshake with ssl://k1:9093/bootstrap failed: "
                                 "Receive failed: sslv3 alert bad certificate: SSL alert number "
                                 "42; the broker wants a client certificate it trusts: check "
                                 "[kafka.auth.tls] cert_file and key_file");

    kt_kafka_probe_tls_error("ssl://k1:9092/bootstrap: SSL handshake failed: error:0A00010B:SSL "
                             "routines::wrong version number (after 0ms in state SSL_HANDSHAKE)",
                             true, &err);
    assert_contains(err.msg, "is this a TLS listener? check [kafka] brokers");

    kt_kafka_probe_tls_error("ssl://k1:9093/bootstrap: SSL handshake failed: error:0A000086:SSL "
                             "routines::certificate verify failed",
                             false, &err);
    assert_contains(err.msg, "; set [kafka.auth.tls] ca_file to the CA");
    kt_kafka_probe_tls_error("no broker in front of this", false, &err);
    assert_string_equal(err.msg, "kafka: TLS handshake with the broker failed: no broker in front "
                                 "of this; check [kafka.auth.tls] ca_file, cert_file and key_file");
}

/* ---- the check against librdkafka's mock cluster ---- */

struct mock {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    char bootstrap[256];
    char *brokers_v[1];
    struct kt_strlist brokers;
};

static void mock_start(struct mock *m)
{
    char errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(c, "log_level", "3", errstr, sizeof(errstr)), 0);
    m->rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
    assert_non_null(m->rk);
    m->mc = rd_kafka_mock_cluster_new(m->rk, 1);
    assert_non_null(m->mc);
    assert_int_equal(rd_kafka_mock_topic_create(m->mc, "otlp_spans", 2, 1), 0);
    snprintf(m->bootstrap, sizeof(m->bootstrap), "%s", rd_kafka_mock_cluster_bootstraps(m->mc));
    m->brokers_v[0] = m->bootstrap;
    m->brokers.v = m->brokers_v;
    m->brokers.n = 1;
}

static void mock_stop(struct mock *m)
{
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->rk);
}

static int run_probe(const struct kt_strlist *brokers, const char *pv, const char *topic,
                     bool required, uint64_t timeout_ms, struct kt_kafka_probe_result *res,
                     struct kt_err *err)
{
    struct kt_kafka_auth_conf a;
    memset(&a, 0, sizeof(a));
    const struct kt_kafka_common k = {brokers, "kotel-test", pv, &a};
    char *quiet_v[] = {"log_level=3"};
    const struct kt_strlist quiet = {quiet_v, 1};
    const char *topics[] = {topic};
    const char *keys[] = {"traces_topic"};
    const struct kt_kafka_probe_opts o = {
        .kafka = &k,
        .rdkafka = &quiet,
        .timeout_ms = timeout_ms,
        .topics = topics,
        .topic_keys = keys,
        .n_topics = 1,
        .topics_required = required,
    };
    return kt_kafka_probe(&o, res, err);
}

static void test_probe_mock_cluster(void **state)
{
    (void)state;
    struct mock m;
    mock_start(&m);
    struct kt_kafka_probe_result res;
    struct kt_err err = {0};
    /* The passthrough's log_level = 3 must not hide the ApiVersions answer. */
    assert_int_equal(run_probe(&m.brokers, "2.1.0", "otlp_spans", true, 5000, &res, &err), 0);
    assert_true(res.reached);
    assert_false(res.topic_missing[0]);
    char name[64];
    kt_kafka_release_name(&res.release, name, sizeof(name));
    assert_string_equal(name, "2.3");

    assert_int_equal(run_probe(&m.brokers, "2.4.0", "otlp_spans", true, 5000, &res, &err),
                     KT_EINVAL);
    assert_contains(err.msg,
                    "[kafka] protocol_version: 2.4.0 is newer than the cluster: broker 1 ");
    assert_contains(err.msg, " speaks Kafka 2.3 according to its ApiVersions answer; set it to "
                             "2.3.0 or lower");
    mock_stop(&m);
}

static void test_probe_unreachable_times_out(void **state)
{
    (void)state;
    /* A port nothing listens on: the mock's, once it is gone. */
    struct mock m;
    mock_start(&m);
    char gone[256];
    snprintf(gone, sizeof(gone), "%s", m.bootstrap);
    mock_stop(&m);
    char *v[] = {gone};
    const struct kt_strlist brokers = {v, 1};
    struct kt_kafka_probe_result res;
    struct kt_err err = {0};
    assert_int_equal(run_probe(&brokers, "2.1.0", "otlp_spans", true, 600, &res, &err),
                     KT_ETIMEDOUT);
    assert_false(res.reached);
    char want[400];
    snprintf(want, sizeof(want),
             "kafka: no broker of %s answered within [kafka] connect_timeout (600ms) over "
             "PLAINTEXT; last error: ",
             gone);
    assert_contains(err.msg, want);
}

/* With every librdkafka debug context on and kotel at debug level, a failing SASL login
 * against the mock cluster (which speaks no SASL) prints the password nowhere. */
static void test_probe_never_logs_password(void **state)
{
    (void)state;
    static const char secret[] = "hunter2-never-printed";
    struct mock m;
    mock_start(&m);
    char path[64];
    test_tmpfile_write(path, sizeof(path), "kt-probe-log", "", 0);
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    kt_log_set_level(KT_LOG_DEBUG);

    struct kt_kafka_auth_conf a;
    memset(&a, 0, sizeof(a));
    a.sasl.mechanism = KT_KAFKA_SASL_PLAIN;
    a.sasl.username = "kotel";
    a.sasl.password = (char *)secret;
    const struct kt_kafka_common k = {&m.brokers, "kotel-test", "2.1.0", &a};
    char *debug_v[] = {"debug=all"};
    const struct kt_strlist debug = {debug_v, 1};
    const char *topics[] = {"otlp_spans"};
    const char *keys[] = {"traces_topic"};
    const struct kt_kafka_probe_opts o = {&k, &debug, 1500, topics, keys, 1, true, false};
    struct kt_kafka_probe_result res;
    struct kt_err err = {0};
    int rc = kt_kafka_probe(&o, &res, &err);

    kt_log_set_level(KT_LOG_INFO);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    mock_stop(&m);
    assert_int_not_equal(rc, 0);
    assert_null(strstr(err.msg, secret));
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    size_t lines = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lines++;
        if (strstr(line, secret) != NULL)
            fail_msg("the password was logged: %s", line);
    }
    fclose(f);
    unlink(path);
    assert_true(lines > 10); /* the debug log was there to look at */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apiv_parse_lines),
        cmocka_unit_test(test_apiv_parse_other_lines),
        cmocka_unit_test(test_release_exact),
        cmocka_unit_test(test_release_range),
        cmocka_unit_test(test_release_newer_older_unknown),
        cmocka_unit_test(test_release_table_is_ordered),
        cmocka_unit_test(test_protocol_version_against_cluster),
        cmocka_unit_test(test_sasl_error_message),
        cmocka_unit_test(test_sasl_error_scram_kafka4_hint),
        cmocka_unit_test(test_tls_error_message),
        cmocka_unit_test(test_probe_mock_cluster),
        cmocka_unit_test(test_probe_unreachable_times_out),
        cmocka_unit_test(test_probe_never_logs_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
