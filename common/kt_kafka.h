/* kt_kafka: the librdkafka configuration both binaries share.
 *
 * The [kafka] keys that mean the same thing to a producer and a consumer (brokers,
 * client_id, protocol_version, the [kafka.auth.sasl] and [kafka.auth.tls] sections,
 * rdkafka.<property> passthrough) are mapped to librdkafka properties here, so the two
 * binaries (and kotel-process's dead-letter producer) accept the same values and fail with
 * the same messages. Every error names the kotel key the user wrote, not only the librdkafka
 * property it became: "[kafka] rdkafka.linger.ms: librdkafka: <librdkafka's message>". */
#ifndef KT_KAFKA_H
#define KT_KAFKA_H

#include <stdbool.h>
#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "kt_config.h"
#include "kt_err.h"

/* [kafka.auth.sasl] mechanism, in the order of KT_KAFKA_SASL_CHOICES. */
enum kt_kafka_sasl {
    KT_KAFKA_SASL_NONE = 0,
    KT_KAFKA_SASL_PLAIN,
    KT_KAFKA_SASL_SCRAM_SHA_256,
    KT_KAFKA_SASL_SCRAM_SHA_512
};
#define KT_KAFKA_SASL_CHOICES "|PLAIN|SCRAM-SHA-256|SCRAM-SHA-512"

/* [kafka.auth.tls] enabled, in the order of KT_KAFKA_TLS_CHOICES. */
enum kt_kafka_tls { KT_KAFKA_TLS_AUTO = 0, KT_KAFKA_TLS_ON, KT_KAFKA_TLS_OFF };
#define KT_KAFKA_TLS_CHOICES "auto|true|false"

/* The [kafka.auth.sasl] and [kafka.auth.tls] sections, the OpenTelemetry Collector's kafka
 * auth.sasl and tls blocks. Strings are owned by the conf struct that embeds this. */
struct kt_kafka_auth_conf {
    struct {
        int mechanism; /* enum kt_kafka_sasl */
        char *username;
        char *password;      /* secret: never logged, masked by --print-config */
        char *password_file; /* read at startup, one trailing newline dropped */
    } sasl;
    struct {
        int enabled; /* enum kt_kafka_tls; auto: on when any other key is set */
        char *ca_file;
        char *cert_file;
        char *key_file;
        bool insecure_skip_verify;
    } tls;
};

struct kt_kafka_common {
    const struct kt_strlist *brokers; /* host:port entries -> bootstrap.servers */
    const char *client_id;            /* -> client.id; NULL or "" keeps librdkafka's */
    const char *protocol_version; /* "2.1.0" -> broker.version.fallback (+ api.version.request) */
    const struct kt_kafka_auth_conf *auth; /* -> security.protocol, sasl.*, ssl.*; NULL: none */
};

/* The option-table rows of the [kafka.auth.sasl] and [kafka.auth.tls] sections, the same in
 * both binaries: base is the offset of the struct kt_kafka_auth_conf in the conf struct. */
#define KT_KAFKA_AUTH_OFF(base, f) ((base) + offsetof(struct kt_kafka_auth_conf, f))
/* clang-format off */
#define KT_KAFKA_AUTH_OPTIONS(base)                                                                \
    {"kafka.auth.sasl", "mechanism", KT_OPT_ENUM, "", KT_KAFKA_AUTH_OFF(base, sasl.mechanism),    \
     KT_KAFKA_SASL_CHOICES, 0,                                                                     \
     "SASL mechanism: empty (no SASL), PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."                     \
     "\nPLAIN sends the password as is: use it with TLS. librdkafka before 2.6.1 cannot log in "   \
     "to Kafka 4.x brokers with SCRAM; kotel says so when that is why a login failed."},           \
    {"kafka.auth.sasl", "username", KT_OPT_STRING, "", KT_KAFKA_AUTH_OFF(base, sasl.username),    \
     NULL, 0, "SASL user; required with a mechanism."},                                            \
    {"kafka.auth.sasl", "password", KT_OPT_STRING, "", KT_KAFKA_AUTH_OFF(base, sasl.password),    \
     NULL, KT_OPT_SECRET, "SASL password; give this or password_file, not both."                   \
     "\nMasked by --print-config and never part of a message; ${ENV} works: password = "           \
     "${KAFKA_PASSWORD}."},                                                                        \
    {"kafka.auth.sasl", "password_file", KT_OPT_STRING, "",                                        \
     KT_KAFKA_AUTH_OFF(base, sasl.password_file), NULL, 0,                                         \
     "File holding the SASL password, read at startup (one trailing newline is dropped)."},       \
    {"kafka.auth.tls", "enabled", KT_OPT_ENUM, "auto", KT_KAFKA_AUTH_OFF(base, tls.enabled),      \
     KT_KAFKA_TLS_CHOICES, 0,                                                                      \
     "TLS to the brokers; auto: on when any other key of this section is set."                     \
     "\ntrue: TLS with the system's CA certificates when ca_file is empty; false: no TLS (then "   \
     "no other key may be set)."},                                                                 \
    {"kafka.auth.tls", "ca_file", KT_OPT_STRING, "", KT_KAFKA_AUTH_OFF(base, tls.ca_file), NULL,  \
     0, "CA certificates (PEM) that signed the brokers' certificates; empty: the system's."},      \
    {"kafka.auth.tls", "cert_file", KT_OPT_STRING, "", KT_KAFKA_AUTH_OFF(base, tls.cert_file),    \
     NULL, 0, "Client certificate (PEM), for brokers that require one; needs key_file."},          \
    {"kafka.auth.tls", "key_file", KT_OPT_STRING, "", KT_KAFKA_AUTH_OFF(base, tls.key_file),      \
     NULL, 0, "Private key (PEM) of cert_file."},                                                  \
    {"kafka.auth.tls", "insecure_skip_verify", KT_OPT_BOOL, "false",                               \
     KT_KAFKA_AUTH_OFF(base, tls.insecure_skip_verify), NULL, 0,                                   \
     "Do not verify the brokers' certificates and host names."                                     \
     "\nFor tests only."}
/* clang-format on */

/* The [kafka] rows both binaries share, so each key, default and doc is written once. T is
 * the binary's conf struct, which holds the values under .kafka with these member names.
 * The rows come in groups because each binary lists its own keys between them (the order is
 * the order of --help and --print-config): kotel-process puts group_id after brokers and
 * initial_offset after connect_timeout. */
#define KT_KAFKA_OFF(T, f) offsetof(T, kafka.f)
/* clang-format off */
#define KT_KAFKA_BROKERS_OPTION(T)                                                                 \
    {"kafka", "brokers", KT_OPT_LIST, "localhost:9092", KT_KAFKA_OFF(T, brokers), NULL, 0,         \
     "Bootstrap brokers, comma-separated or repeated."                                             \
     "\nFor example:"                                                                              \
     "\n  brokers = kafka-1:9092"                                                                  \
     "\n  brokers = kafka-2:9092"}
/* client_id (its default is the program's name), protocol_version, connect_timeout. */
#define KT_KAFKA_CLIENT_OPTIONS(T, default_id)                                                     \
    {"kafka", "client_id", KT_OPT_STRING, default_id, KT_KAFKA_OFF(T, client_id), NULL, 0,         \
     "Kafka client.id."                                                                            \
     "\nVisible in broker logs and quotas."},                                                      \
    {"kafka", "protocol_version", KT_OPT_STRING, "2.1.0", KT_KAFKA_OFF(T, protocol_version),       \
     NULL, 0,                                                                                      \
     "Oldest Kafka release the cluster must speak: startup fails when a broker's ApiVersions "     \
     "answer shows an older one (librdkafka negotiates the protocol itself)."                      \
     "\nAt startup kotel reads the brokers' ApiVersions answers, logs the release they show "      \
     "(\"cluster at ... speaks Kafka 3.9\") and refuses to start (exit 1) when it is older "       \
     "than this. Releases before 0.10 cannot answer ApiVersions: then this is the version "        \
     "librdkafka assumes."},                                                                       \
    {"kafka", "connect_timeout", KT_OPT_DURATION, "10s", KT_KAFKA_OFF(T, connect_timeout_ms),      \
     NULL, 0,                                                                                      \
     "Startup check: time to reach the cluster, authenticate and read metadata; past it, start "   \
     "anyway with a warning."                                                                      \
     "\nBad credentials, an untrusted or untrusting broker or a protocol_version newer than "      \
     "the cluster stop startup at once (exit 1) with one line naming what to check. A "            \
     "missing topic stops kotel-ingest too; kotel-process warns about it every 10s until it "      \
     "is created, and consumes it then. Until Kafka answers, kotel-ingest refuses requests "       \
     "with 503 / UNAVAILABLE."}
/* A signal's own encoding: index 0 follows [kafka] encoding, i + 1 is encoding's value i. */
#define KT_KAFKA_SIGNAL_ENCODINGS "|otlp_proto|otlp_json"
/* The three topics and the message encoding (and each signal's, the Collector's
 * traces.encoding etc.). The docs are the binary's: what an empty topic
 * means differs between a producer and a consumer. */
#define KT_KAFKA_TOPIC_OPTIONS(T, traces_doc, metrics_doc, logs_doc)                               \
    {"kafka", "traces_topic", KT_OPT_STRING, "otlp_spans", KT_KAFKA_OFF(T, traces_topic), NULL,    \
     0, traces_doc},                                                                               \
    {"kafka", "metrics_topic", KT_OPT_STRING, "otlp_metrics", KT_KAFKA_OFF(T, metrics_topic),      \
     NULL, 0, metrics_doc},                                                                        \
    {"kafka", "logs_topic", KT_OPT_STRING, "otlp_logs", KT_KAFKA_OFF(T, logs_topic), NULL, 0,      \
     logs_doc},                                                                                    \
    {"kafka", "encoding", KT_OPT_ENUM, "otlp_proto", KT_KAFKA_OFF(T, encoding),                    \
     "otlp_proto|otlp_json", 0, "Message value encoding."                                          \
     "\notlp_proto (binary protobuf) or otlp_json: producers and consumers of the topics must "    \
     "agree."},                                                                                    \
    {"kafka", "traces_encoding", KT_OPT_ENUM, "", KT_KAFKA_OFF(T, signal_encoding[0]),             \
     KT_KAFKA_SIGNAL_ENCODINGS, 0, "Encoding of the traces topics; empty: encoding."},             \
    {"kafka", "metrics_encoding", KT_OPT_ENUM, "", KT_KAFKA_OFF(T, signal_encoding[1]),            \
     KT_KAFKA_SIGNAL_ENCODINGS, 0, "Encoding of the metrics topics; empty: encoding."},            \
    {"kafka", "logs_encoding", KT_OPT_ENUM, "", KT_KAFKA_OFF(T, signal_encoding[2]),               \
     KT_KAFKA_SIGNAL_ENCODINGS, 0, "Encoding of the logs topics; empty: encoding."}
/* The rdkafka.<property> passthrough, last in [kafka], then the auth sections. */
#define KT_KAFKA_PASSTHROUGH_OPTIONS(T)                                                            \
    {"kafka", "rdkafka", KT_OPT_PREFIX, NULL, KT_KAFKA_OFF(T, rdkafka), NULL, 0,                   \
     "rdkafka.<property> = value: passed to librdkafka as is (applied last)."                      \
     "\nApplied after the options above and the auth sections, so it wins on a conflict; none "    \
     "is set by default. Values are not split at commas. --print-config masks passwords, "         \
     "secrets and tokens. For example:"                                                            \
     "\n rdkafka.linger.ms = 5"},                                                                  \
    KT_KAFKA_AUTH_OPTIONS(KT_KAFKA_OFF(T, auth))
/* clang-format on */

/* The prose of the auth sections, for the schema's kt_section_doc table. */
/* clang-format off */
#define KT_KAFKA_SECTION_DOCS                                                                      \
    {"kafka.auth.sasl",                                                                            \
     "Authentication to the brokers, as the OpenTelemetry Collector's kafka exporter and "         \
     "receiver spell it (auth.sasl, tls). Both sections together pick librdkafka's "               \
     "security.protocol: neither -> PLAINTEXT, TLS only -> SSL, SASL only -> SASL_PLAINTEXT, "     \
     "both -> SASL_SSL, for every Kafka client of the program. Files are checked by --check and "  \
     "at startup; a wrong password or certificate stops startup with a message naming the broker " \
     "and the key to check."},                                                                     \
    {"kafka.auth.tls", "TLS to the brokers (the Collector's kafka tls block)."}
/* clang-format on */

/* Checks the auth sections as a whole, for --check and startup: a mechanism needs a
 * username and exactly one of password / password_file; SASL keys without a mechanism, a
 * cert_file without key_file (or the reverse) and TLS keys with enabled = false are errors;
 * every file named must be readable. Messages name the key and, for files, the path:
 * "[kafka.auth.tls] ca_file: cannot read /etc/kafka/ca.pem: No such file or directory".
 * The password is never part of a message. Returns 0 or KT_EINVAL. */
int kt_kafka_auth_check(const struct kt_kafka_auth_conf *a, struct kt_err *err);

/* Longest topic name Kafka takes. */
#define KT_KAFKA_TOPIC_MAX 249
/* Checks that the n bytes at name make a topic name Kafka accepts: 1 to KT_KAFKA_TOPIC_MAX
 * of [a-zA-Z0-9._-], neither "." nor "..". Returns 0 or KT_EINVAL with err saying why (the
 * name quoted, cut at 64 bytes). */
int kt_kafka_topic_check(const char *name, size_t n, struct kt_err *err);

/* True when the auth sections ask for TLS (enabled = true, or auto with another key set). */
bool kt_kafka_auth_tls_on(const struct kt_kafka_auth_conf *a);

/* librdkafka's security.protocol for the auth sections: PLAINTEXT, SASL_PLAINTEXT, SSL or
 * SASL_SSL (a NULL a is PLAINTEXT). */
const char *kt_kafka_security_protocol(const struct kt_kafka_auth_conf *a);

/* Writes the [kafka] brokers as one comma-separated list (librdkafka's bootstrap.servers, and
 * how messages name the cluster) into buf, cut to cap bytes with a NUL. */
void kt_kafka_brokers_join(const struct kt_strlist *brokers, char *buf, size_t cap);

/* Sets one librdkafka property on behalf of [section] key. Returns 0 or KT_EINVAL with
 * "[section] key: librdkafka: <message>". */
int kt_kafka_set(rd_kafka_conf_t *c, const char *section, const char *key, const char *name,
                 const char *value, struct kt_err *err);

/* Applies brokers, client_id, protocol_version and the auth sections (reading
 * password_file now). Returns 0 or KT_EINVAL naming the key ("[kafka] brokers: no broker
 * given", "[kafka] protocol_version: ...", "[kafka.auth.sasl] password_file: cannot read
 * /run/secrets/kafka: Permission denied"). */
int kt_kafka_conf_common(rd_kafka_conf_t *c, const struct kt_kafka_common *k, struct kt_err *err);

/* Applies every "name=value" of the [kafka] rdkafka.<name> passthrough, in order. Meant to
 * run last so the user's explicit librdkafka settings win over kotel's derived ones.
 * Errors: "[kafka] rdkafka.<name>: librdkafka: <message>". */
int kt_kafka_conf_passthrough(rd_kafka_conf_t *c, const struct kt_strlist *props,
                              struct kt_err *err);

/* Adds "feature" to librdkafka's debug contexts, keeping whatever the passthrough asked
 * for: the ApiVersions answers (kt_kafka_apiv_parse) are logged under it only. section and
 * key name the setting in errors. */
int kt_kafka_debug_feature(rd_kafka_conf_t *c, const char *section, const char *key,
                           struct kt_err *err);

/* A consumer outside the pipeline's group (kotel-process --dump, --replay's range lookup):
 * the common settings, group.id group (librdkafka's assign wants one; nothing is committed:
 * enable.auto.commit is false), enable.partition.eof when eof, then the passthrough props;
 * it logs through kt_kafka_log_cb. Returns 0 (*out: the caller's, rd_kafka_destroy) or
 * KT_EINVAL naming the key. */
int kt_kafka_plain_consumer_new(const struct kt_kafka_common *k, const struct kt_strlist *props,
                                const char *group, bool eof, rd_kafka_t **out, struct kt_err *err);

/* The text of a Kafka version like "2.1.0" or "0.10.2.1" as its first three numbers;
 * "2.1" is 2.1.0. Returns 0 or KT_EINVAL (nothing written). */
int kt_kafka_parse_version(const char *s, unsigned v[3]);

/* A log_cb that forwards librdkafka's log lines to kt_log (syslog levels mapped to ours).
 * librdkafka calls it from its own threads; kt_log is safe for that. */
void kt_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* For a producer about to be destroyed: purges what is queued and in flight, then serves
 * the delivery reports that produced (each one failed), so that every message's opaque
 * is released through the normal delivery-report path. Bounded to KT_KAFKA_PURGE_ROUNDS
 * polls. */
#define KT_KAFKA_PURGE_ROUNDS 100
void kt_kafka_purge_and_drain(rd_kafka_t *rk);

#endif
