#include "kt_kafka.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"
#include "kt_secret.h"

/* Longest password_file accepted: SASL passwords are short, and a bound keeps a wrong path
 * (a log file, a device) from being read whole. */
#define PASSWORD_FILE_MAX 4096

int kt_kafka_set(rd_kafka_conf_t *c, const char *section, const char *key, const char *name,
                 const char *value, struct kt_err *err)
{
    char errstr[256];
    errstr[0] = '\0';
    if (rd_kafka_conf_set(c, name, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
        return 0;
    return kt_err_set(err, KT_EINVAL, "[%s] %s: librdkafka: %s", section, key,
                      errstr[0] ? errstr : "rejected");
}

/* librdkafka does not check broker.version.fallback when it is set, only when it connects,
 * so a typo would otherwise surface later as a confusing connection-time warning. */
int kt_kafka_parse_version(const char *s, unsigned v[3])
{
    unsigned parts[4] = {0, 0, 0, 0};
    int n = 0;
    const char *q = s;
    for (;;) {
        if (!isdigit((unsigned char)*q) || n == 4)
            return KT_EINVAL;
        unsigned long x = 0;
        while (isdigit((unsigned char)*q)) {
            x = x * 10 + (unsigned long)(*q - '0');
            if (x > 100000)
                return KT_EINVAL;
            q++;
        }
        parts[n++] = (unsigned)x;
        if (*q == '\0')
            break;
        if (*q != '.')
            return KT_EINVAL;
        q++;
    }
    if (n < 2)
        return KT_EINVAL;
    memcpy(v, parts, 3 * sizeof(unsigned));
    return 0;
}

/* ---- [kafka.auth.sasl] and [kafka.auth.tls] ---- */

static bool given(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* "PLAIN", "SCRAM-SHA-256", ...; "" for KT_KAFKA_SASL_NONE. */
static const char *sasl_name(int mechanism)
{
    switch (mechanism) {
    case KT_KAFKA_SASL_PLAIN: return "PLAIN";
    case KT_KAFKA_SASL_SCRAM_SHA_256: return "SCRAM-SHA-256";
    case KT_KAFKA_SASL_SCRAM_SHA_512: return "SCRAM-SHA-512";
    default: return "";
    }
}

bool kt_kafka_auth_tls_on(const struct kt_kafka_auth_conf *a)
{
    if (a == NULL || a->tls.enabled == KT_KAFKA_TLS_OFF)
        return false;
    return a->tls.enabled == KT_KAFKA_TLS_ON || given(a->tls.ca_file) || given(a->tls.cert_file) ||
           given(a->tls.key_file) || a->tls.insecure_skip_verify;
}

const char *kt_kafka_security_protocol(const struct kt_kafka_auth_conf *a)
{
    bool sasl = a != NULL && a->sasl.mechanism != KT_KAFKA_SASL_NONE;
    bool tls = kt_kafka_auth_tls_on(a);
    if (sasl)
        return tls ? "SASL_SSL" : "SASL_PLAINTEXT";
    return tls ? "SSL" : "PLAINTEXT";
}

/* Reads the password file into buf (cap bytes, NUL-terminated), without its one trailing
 * newline ("\n" or "\r\n", as editors and `echo` leave). */
static int read_password_file(const char *path, char *buf, size_t cap, struct kt_err *err)
{
    kt_secret_path_check("[kafka.auth.sasl] password_file", path);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return kt_err_set(err, KT_EINVAL, "[kafka.auth.sasl] password_file: cannot read %s: %s",
                          path, strerror(errno));
    size_t n = fread(buf, 1, cap, f);
    int e = ferror(f) ? errno : 0;
    fclose(f);
    if (e != 0)
        return kt_err_set(err, KT_EINVAL, "[kafka.auth.sasl] password_file: cannot read %s: %s",
                          path, strerror(e));
    if (n == cap)
        return kt_err_set(err, KT_EINVAL,
                          "[kafka.auth.sasl] password_file: %s is longer than %zu bytes; is it "
                          "the right file?",
                          path, cap - 1);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    buf[n] = '\0';
    if (n == 0)
        return kt_err_set(err, KT_EINVAL, "[kafka.auth.sasl] password_file: %s is empty", path);
    if (memchr(buf, '\0', n) != NULL)
        return kt_err_set(err, KT_EINVAL,
                          "[kafka.auth.sasl] password_file: %s holds a NUL byte; want the "
                          "password as text",
                          path);
    return 0;
}

static int check_readable(const char *section, const char *key, const char *path,
                          struct kt_err *err)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return kt_err_set(err, KT_EINVAL, "[%s] %s: cannot read %s: %s", section, key, path,
                          strerror(errno));
    fclose(f);
    return 0;
}

int kt_kafka_topic_check(const char *name, size_t n, struct kt_err *err)
{
    if (n == 0)
        return kt_err_set(err, KT_EINVAL, "empty topic name");
    if (n > KT_KAFKA_TOPIC_MAX)
        return kt_err_set(err, KT_EINVAL, "topic name '%.64s...' of %zu bytes, over Kafka's %d",
                          name, n, KT_KAFKA_TOPIC_MAX);
    if ((n == 1 && name[0] == '.') || (n == 2 && name[0] == '.' && name[1] == '.'))
        return kt_err_set(err, KT_EINVAL, "topic name '%.*s' is not allowed by Kafka", (int)n,
                          name);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return kt_err_set(err, KT_EINVAL,
                              "topic name '%.*s': byte %zu (0x%02x) is not one Kafka allows "
                              "(letters, digits, '.', '_', '-')",
                              n > 64 ? 64 : (int)n, name, i, c);
    }
    return 0;
}

int kt_kafka_auth_check(const struct kt_kafka_auth_conf *a, struct kt_err *err)
{
    const char *S = "kafka.auth.sasl", *T = "kafka.auth.tls";
    if (a->sasl.mechanism == KT_KAFKA_SASL_NONE) {
        /* Credentials without a mechanism would be silently unused: the connection would
         * then fail at the broker with a far less helpful message. */
        const char *stray = given(a->sasl.username)        ? "username"
                            : given(a->sasl.password)      ? "password"
                            : given(a->sasl.password_file) ? "password_file"
                                                           : NULL;
        if (stray != NULL)
            return kt_err_set(err, KT_EINVAL,
                              "[%s] %s: set, but mechanism is empty (SASL is off); set "
                              "mechanism to PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
                              S, stray);
    } else {
        const char *mech = sasl_name(a->sasl.mechanism);
        if (!given(a->sasl.username))
            return kt_err_set(err, KT_EINVAL, "[%s] username: required with mechanism %s", S, mech);
        if (given(a->sasl.password) && given(a->sasl.password_file))
            return kt_err_set(err, KT_EINVAL,
                              "[%s] password_file: set together with password; give one of them",
                              S);
        if (!given(a->sasl.password) && !given(a->sasl.password_file))
            return kt_err_set(err, KT_EINVAL,
                              "[%s] password: required with mechanism %s (or password_file)", S,
                              mech);
        if (given(a->sasl.password_file)) {
            char pw[PASSWORD_FILE_MAX + 1];
            int rc = read_password_file(a->sasl.password_file, pw, sizeof(pw), err);
            explicit_bzero(pw, sizeof(pw));
            if (rc != 0)
                return rc;
        }
    }

    const struct {
        const char *key, *path;
    } files[] = {
        {"ca_file", a->tls.ca_file},
        {"cert_file", a->tls.cert_file},
        {"key_file", a->tls.key_file},
    };
    if (a->tls.enabled == KT_KAFKA_TLS_OFF) {
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
            if (given(files[i].path))
                return kt_err_set(err, KT_EINVAL,
                                  "[%s] enabled: false, but %s is set; remove %s or set enabled "
                                  "to true or auto",
                                  T, files[i].key, files[i].key);
        if (a->tls.insecure_skip_verify)
            return kt_err_set(err, KT_EINVAL,
                              "[%s] enabled: false, but insecure_skip_verify is true; remove "
                              "insecure_skip_verify or set enabled to true or auto",
                              T);
    }
    if (given(a->tls.cert_file) != given(a->tls.key_file))
        return kt_err_set(err, KT_EINVAL, "[%s] %s: set without %s; give both or neither", T,
                          given(a->tls.cert_file) ? "cert_file" : "key_file",
                          given(a->tls.cert_file) ? "key_file" : "cert_file");
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        if (given(files[i].path)) {
            int rc = check_readable(T, files[i].key, files[i].path, err);
            if (rc != 0)
                return rc;
        }
    return 0;
}

static int conf_auth(rd_kafka_conf_t *c, const struct kt_kafka_auth_conf *a, struct kt_err *err)
{
    const char *S = "kafka.auth.sasl", *T = "kafka.auth.tls";
    int rc = kt_kafka_auth_check(a, err);
    if (rc != 0)
        return rc;
    rc = kt_kafka_set(c, a->sasl.mechanism != KT_KAFKA_SASL_NONE ? S : T,
                      a->sasl.mechanism != KT_KAFKA_SASL_NONE ? "mechanism" : "enabled",
                      "security.protocol", kt_kafka_security_protocol(a), err);
    if (rc == 0 && a->sasl.mechanism != KT_KAFKA_SASL_NONE) {
        rc = kt_kafka_set(c, S, "mechanism", "sasl.mechanisms", sasl_name(a->sasl.mechanism), err);
        if (rc == 0)
            rc = kt_kafka_set(c, S, "username", "sasl.username", a->sasl.username, err);
        if (rc == 0 && given(a->sasl.password)) {
            rc = kt_kafka_set(c, S, "password", "sasl.password", a->sasl.password, err);
        } else if (rc == 0) {
            char pw[PASSWORD_FILE_MAX + 1];
            rc = read_password_file(a->sasl.password_file, pw, sizeof(pw), err);
            if (rc == 0)
                rc = kt_kafka_set(c, S, "password_file", "sasl.password", pw, err);
            explicit_bzero(pw, sizeof(pw));
        }
    }
    if (rc != 0 || !kt_kafka_auth_tls_on(a))
        return rc;
    const struct {
        const char *key, *name, *value;
    } tls[] = {
        {"ca_file", "ssl.ca.location", a->tls.ca_file},
        {"cert_file", "ssl.certificate.location", a->tls.cert_file},
        {"key_file", "ssl.key.location", a->tls.key_file},
        /* librdkafka checks the broker's host name against its certificate by default
         * (since 2.0); skipping verification has to turn off both. */
        {"insecure_skip_verify", "enable.ssl.certificate.verification",
         a->tls.insecure_skip_verify ? "false" : NULL},
        {"insecure_skip_verify", "ssl.endpoint.identification.algorithm",
         a->tls.insecure_skip_verify ? "none" : NULL},
    };
    for (size_t i = 0; rc == 0 && i < sizeof(tls) / sizeof(tls[0]); i++)
        if (given(tls[i].value))
            rc = kt_kafka_set(c, T, tls[i].key, tls[i].name, tls[i].value, err);
    return rc;
}

void kt_kafka_brokers_join(const struct kt_strlist *brokers, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; brokers != NULL && i < brokers->n && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%s", i ? "," : "", brokers->v[i]);
}

int kt_kafka_conf_common(rd_kafka_conf_t *c, const struct kt_kafka_common *k, struct kt_err *err)
{
    if (k->brokers == NULL || k->brokers->n == 0)
        return kt_err_set(err, KT_EINVAL, "[kafka] brokers: no broker given");
    size_t len = 0;
    for (size_t i = 0; i < k->brokers->n; i++) {
        if (k->brokers->v[i][0] == '\0')
            return kt_err_set(err, KT_EINVAL, "[kafka] brokers: empty entry");
        len += strlen(k->brokers->v[i]) + 1;
    }
    char *list = malloc(len);
    if (list == NULL)
        return kt_err_set(err, KT_ENOMEM, "[kafka] brokers: out of memory");
    kt_kafka_brokers_join(k->brokers, list, len);
    int rc = kt_kafka_set(c, "kafka", "brokers", "bootstrap.servers", list, err);
    free(list);
    if (rc != 0)
        return rc;

    if (k->client_id != NULL && k->client_id[0] != '\0') {
        rc = kt_kafka_set(c, "kafka", "client_id", "client.id", k->client_id, err);
        if (rc != 0)
            return rc;
    }

    if (k->protocol_version != NULL && k->protocol_version[0] != '\0') {
        unsigned v[3];
        if (kt_kafka_parse_version(k->protocol_version, v) != 0)
            return kt_err_set(
                err, KT_EINVAL,
                "[kafka] protocol_version: want a Kafka version like 2.1.0, got \"%s\"",
                k->protocol_version);
        rc = kt_kafka_set(c, "kafka", "protocol_version", "broker.version.fallback",
                          k->protocol_version, err);
        if (rc != 0)
            return rc;
        /* Brokers before 0.10.0 do not answer ApiVersionRequest (they close the
         * connection), so asking would only add a reconnect before the fallback applies. */
        bool modern = v[0] > 0 || v[1] >= 10;
        rc = kt_kafka_set(c, "kafka", "protocol_version", "api.version.request",
                          modern ? "true" : "false", err);
        if (rc != 0)
            return rc;
    }
    return k->auth != NULL ? conf_auth(c, k->auth, err) : 0;
}

int kt_kafka_conf_passthrough(rd_kafka_conf_t *c, const struct kt_strlist *props,
                              struct kt_err *err)
{
    if (props == NULL)
        return 0;
    for (size_t i = 0; i < props->n; i++) {
        const char *kv = props->v[i];
        const char *eq = strchr(kv, '=');
        char key[256];
        size_t nlen = eq ? (size_t)(eq - kv) : strlen(kv);
        if (nlen == 0 || nlen >= sizeof(key) - sizeof("rdkafka."))
            return kt_err_set(err, KT_EINVAL, "[kafka] rdkafka.%.*s: bad property name",
                              (int)(nlen > 200 ? 200 : nlen), kv);
        snprintf(key, sizeof(key), "rdkafka.%.*s", (int)nlen, kv);
        if (eq == NULL)
            return kt_err_set(err, KT_EINVAL, "[kafka] %s: missing value", key);
        char name[256];
        memcpy(name, kv, nlen);
        name[nlen] = '\0';
        int rc = kt_kafka_set(c, "kafka", key, name, eq + 1, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int kt_kafka_debug_feature(rd_kafka_conf_t *c, const char *section, const char *key,
                           struct kt_err *err)
{
    char debug[256] = "", merged[300];
    size_t n = sizeof(debug);
    if (rd_kafka_conf_get(c, "debug", debug, &n) != RD_KAFKA_CONF_OK)
        debug[0] = '\0';
    snprintf(merged, sizeof(merged), "%s%sfeature", debug, debug[0] ? "," : "");
    return kt_kafka_set(c, section, key, "debug", merged, err);
}

int kt_kafka_plain_consumer_new(const struct kt_kafka_common *k, const struct kt_strlist *props,
                                const char *group, bool eof, rd_kafka_t **out, struct kt_err *err)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    int rc = kt_kafka_conf_common(kc, k, err);
    if (rc == 0)
        rc = kt_kafka_set(kc, "kafka", "group_id", "group.id", group, err);
    if (rc == 0)
        rc = kt_kafka_set(kc, "kafka", "group_id", "enable.auto.commit", "false", err);
    if (rc == 0 && eof)
        rc = kt_kafka_set(kc, "kafka", "group_id", "enable.partition.eof", "true", err);
    if (rc == 0)
        rc = kt_kafka_conf_passthrough(kc, props, err);
    if (rc != 0) {
        rd_kafka_conf_destroy(kc);
        return rc;
    }
    rd_kafka_conf_set_log_cb(kc, kt_kafka_log_cb);
    char errstr[512];
    *out = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
    if (*out == NULL) {
        rd_kafka_conf_destroy(kc);
        return kt_err_set(err, KT_EINVAL, "[kafka]: librdkafka: %s", errstr);
    }
    return 0;
}

void kt_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum kt_log_level l;
    if (level <= 3)
        l = KT_LOG_ERROR;
    else if (level == 4)
        l = KT_LOG_WARN;
    else if (level <= 6)
        l = KT_LOG_INFO;
    else
        l = KT_LOG_DEBUG;
    kt_log(l, "kafka: %s: %s: %s", rk ? rd_kafka_name(rk) : "-", fac, buf);
}

void kt_kafka_purge_and_drain(rd_kafka_t *rk)
{
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < KT_KAFKA_PURGE_ROUNDS && rd_kafka_poll(rk, 0) > 0; i++) {
    }
}
