#include "kt_kafka.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_log.h"

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

/* Parses "MAJOR.MINOR.PATCH[.X]" into its first three numbers. librdkafka does not check
 * broker.version.fallback when it is set, only when it connects, so a typo would otherwise
 * surface later as a confusing connection-time warning. */
static int parse_version(const char *s, unsigned v[3])
{
    unsigned parts[4] = {0, 0, 0, 0};
    int n = 0;
    const char *q = s;
    for (;;) {
        if (!isdigit((unsigned char)*q) || n == 4)
            return -1;
        unsigned long x = 0;
        while (isdigit((unsigned char)*q)) {
            x = x * 10 + (unsigned long)(*q - '0');
            if (x > 100000)
                return -1;
            q++;
        }
        parts[n++] = (unsigned)x;
        if (*q == '\0')
            break;
        if (*q != '.')
            return -1;
        q++;
    }
    if (n < 2)
        return -1;
    memcpy(v, parts, 3 * sizeof(unsigned));
    return 0;
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
    size_t off = 0;
    for (size_t i = 0; i < k->brokers->n; i++) {
        size_t n = strlen(k->brokers->v[i]);
        if (i > 0)
            list[off++] = ',';
        memcpy(list + off, k->brokers->v[i], n);
        off += n;
    }
    list[off] = '\0';
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
        if (parse_version(k->protocol_version, v) != 0)
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
    return 0;
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
