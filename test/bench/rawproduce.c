/* kotel-rawproduce: the ceiling for `make bench`, a bare librdkafka producer.
 *
 * It sends messages shaped like kotel-ingest's (trace-ID-like 32-hex-char keys, the same
 * partitioner, acks=all, idempotence) with none of the OTLP work, so the difference between
 * its cost per message and ingest's is what kotel itself adds. Payloads are not copied
 * (they point into one buffer that outlives every delivery), which keeps the producer's own
 * overhead at librdkafka's floor.
 *
 * stdout: one JSON line {"messages","bytes","seconds","msgs_per_s","cpu_user_s",
 * "cpu_sys_s","cpu_us_per_msg","failed","librdkafka","conf"}; CPU is this process's
 * getrusage over the timed part (all librdkafka threads included); "conf" holds the
 * effective values of the librdkafka properties that decide how a producer batches and
 * waits for acknowledgements. Exit status 0 when every message was delivered,
 * 1 when any delivery failed, 2 for bad arguments or setup errors. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kt_codec.h"
#include "kt_err.h"

#define RP_MAX_SETS 64
#define RP_MAX_SIZE (64u << 20)
#define RP_MAX_SIZES 1000000

struct rp_opts {
    const char *brokers;
    const char *topic;
    uint64_t messages;
    size_t size;
    const char *sizes_from;
    size_t keys;
    const char *sets[RP_MAX_SETS];
    int nsets;
    uint64_t seed;
};

struct rp_stats {
    uint64_t delivered;
    uint64_t failed;
    char first_error[256];
};

/* What a reader of the figures needs to reproduce them on another cluster. */
static const char *const shown_props[] = {
    "acks",
    "enable.idempotence",
    "max.in.flight.requests.per.connection",
    "linger.ms",
    "batch.num.messages",
    "batch.size",
    "compression.codec",
    "message.copy.max.bytes",
    "queue.buffering.max.messages",
    "queue.buffering.max.kbytes",
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kotel-rawproduce --brokers LIST [options]\n"
            "\n"
            "Produces messages with a bare librdkafka producer and prints one JSON line of\n"
            "throughput and CPU cost.\n"
            "\n"
            "  --brokers LIST      bootstrap brokers (required)\n"
            "  --topic T           topic (default otlp_spans)\n"
            "  --messages N        messages to send (default 100000)\n"
            "  --size BYTES        value size (default 1000)\n"
            "  --sizes-from FILE   value sizes, one per line, used in turn (instead of --size)\n"
            "  --keys K            distinct random 32-hex-char keys, used in turn (default 1000)\n"
            "  --set PROP=VALUE    librdkafka producer property, repeatable; applied after the\n"
            "                      defaults acks=all, linger.ms=5, partitioner=fnv1a_random,\n"
            "                      compression.codec=none, enable.idempotence=true\n"
            "  --seed N            random seed for keys and payload (default: time)\n"
            "  --help              this text\n");
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (s == NULL || *s == '\0' || *s == '-')
        return KT_EINVAL;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return KT_EINVAL;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct rp_opts *o, struct kt_err *err)
{
    *o = (struct rp_opts){.topic = "otlp_spans",
                          .messages = 100000,
                          .size = 1000,
                          .keys = 1000,
                          .seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32)};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            exit(0);
        }
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL)
            return kt_err_set(err, KT_EINVAL, "%s: unknown option, or its value is missing", a);
        i++;
        uint64_t n;
        if (strcmp(a, "--brokers") == 0) {
            o->brokers = v;
        } else if (strcmp(a, "--topic") == 0) {
            o->topic = v;
        } else if (strcmp(a, "--messages") == 0 && parse_u64(v, 1, UINT64_MAX / 2, &n) == 0) {
            o->messages = n;
        } else if (strcmp(a, "--size") == 0 && parse_u64(v, 0, RP_MAX_SIZE, &n) == 0) {
            o->size = (size_t)n;
        } else if (strcmp(a, "--sizes-from") == 0) {
            o->sizes_from = v;
        } else if (strcmp(a, "--keys") == 0 && parse_u64(v, 1, 10000000, &n) == 0) {
            o->keys = (size_t)n;
        } else if (strcmp(a, "--seed") == 0 && parse_u64(v, 1, UINT64_MAX, &n) == 0) {
            o->seed = n;
        } else if (strcmp(a, "--set") == 0 && strchr(v, '=') != NULL) {
            if (o->nsets == RP_MAX_SETS)
                return kt_err_set(err, KT_ETOOBIG, "--set: more than %d", RP_MAX_SETS);
            o->sets[o->nsets++] = v;
        } else {
            return kt_err_set(err, KT_EINVAL, "%s: unknown option or bad value '%s'", a, v);
        }
    }
    if (o->brokers == NULL)
        return kt_err_set(err, KT_EINVAL, "--brokers is required");
    if (o->seed == 0)
        o->seed = 0x9E3779B97F4A7C15ULL; /* xorshift must not start at 0 */
    return 0;
}

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1DULL;
}

static int load_sizes(const char *path, size_t **sizes, size_t *n, struct kt_err *err)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return kt_err_set(err, KT_EIO, "--sizes-from %s: %s", path, strerror(errno));
    size_t cap = 0;
    char line[64];
    int lineno = 0, rc = 0;
    *sizes = NULL;
    *n = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        uint64_t v;
        if (parse_u64(line, 0, RP_MAX_SIZE, &v) != 0) {
            rc = kt_err_set(err, KT_EINVAL, "%s:%d: '%s' is not a size 0..%u", path, lineno, line,
                            RP_MAX_SIZE);
            break;
        }
        if (*n == RP_MAX_SIZES) {
            rc = kt_err_set(err, KT_ETOOBIG, "%s: more than %d sizes", path, RP_MAX_SIZES);
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            size_t *grown = realloc(*sizes, cap * sizeof(**sizes));
            if (grown == NULL) {
                rc = kt_err_set(err, KT_ENOMEM, "out of memory");
                break;
            }
            *sizes = grown;
        }
        (*sizes)[(*n)++] = (size_t)v;
    }
    fclose(f);
    if (rc == 0 && *n == 0)
        rc = kt_err_set(err, KT_EINVAL, "%s: no sizes", path);
    if (rc != 0) {
        free(*sizes);
        *sizes = NULL;
    }
    return rc;
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct rp_stats *st = opaque;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        st->delivered++;
        return;
    }
    if (st->failed++ == 0)
        snprintf(st->first_error, sizeof(st->first_error), "%s", rd_kafka_err2str(m->err));
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static rd_kafka_t *make_producer(const struct rp_opts *o, struct rp_stats *st, struct kt_err *err)
{
    static const char *const defaults[][2] = {
        {"acks", "all"},
        {"linger.ms", "5"},
        {"partitioner", "fnv1a_random"},
        {"compression.codec", "none"},
        {"enable.idempotence", "true"},
    };
    char es[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", o->brokers, es, sizeof(es)) !=
        RD_KAFKA_CONF_OK)
        goto fail;
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
        if (rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], es, sizeof(es)) !=
            RD_KAFKA_CONF_OK)
            goto fail;
    for (int i = 0; i < o->nsets; i++) {
        char prop[256];
        const char *eq = strchr(o->sets[i], '=');
        size_t pl = (size_t)(eq - o->sets[i]);
        if (pl >= sizeof(prop)) {
            snprintf(es, sizeof(es), "--set %s: property name too long", o->sets[i]);
            goto fail;
        }
        memcpy(prop, o->sets[i], pl);
        prop[pl] = '\0';
        if (rd_kafka_conf_set(conf, prop, eq + 1, es, sizeof(es)) != RD_KAFKA_CONF_OK)
            goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, es, sizeof(es));
    if (rk == NULL) {
        kt_err_set(err, KT_EINVAL, "%s", es);
        return NULL; /* rd_kafka_new freed conf */
    }
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    kt_err_set(err, KT_EINVAL, "%s", es);
    return NULL;
}

static void print_conf(rd_kafka_t *rk)
{
    const rd_kafka_conf_t *conf = rd_kafka_conf(rk);
    printf("\"conf\":{");
    for (size_t i = 0; i < sizeof(shown_props) / sizeof(shown_props[0]); i++) {
        char v[256];
        size_t n = sizeof(v);
        if (rd_kafka_conf_get(conf, shown_props[i], v, &n) != RD_KAFKA_CONF_OK)
            snprintf(v, sizeof(v), "?");
        printf("%s\"%s\":\"%s\"", i ? "," : "", shown_props[i], v);
    }
    printf("}");
}

int main(int argc, char **argv)
{
    struct rp_opts o;
    struct kt_err err = {0};
    if (parse_args(argc, argv, &o, &err) != 0) {
        fprintf(stderr, "kotel-rawproduce: %s\n", err.msg);
        usage(stderr);
        return 2;
    }
    rng_state = o.seed;
    size_t *sizes = NULL, nsizes = 1, max_size = o.size;
    if (o.sizes_from) {
        if (load_sizes(o.sizes_from, &sizes, &nsizes, &err) != 0) {
            fprintf(stderr, "kotel-rawproduce: %s\n", err.msg);
            return 2;
        }
        max_size = 0;
        for (size_t i = 0; i < nsizes; i++)
            if (sizes[i] > max_size)
                max_size = sizes[i];
    }
    char(*keys)[32] = malloc(o.keys * sizeof(*keys));
    uint8_t *payload = malloc(max_size ? max_size : 1);
    if (keys == NULL || payload == NULL) {
        fprintf(stderr, "kotel-rawproduce: out of memory\n");
        return 2;
    }
    for (size_t k = 0; k < o.keys; k++)
        for (int j = 0; j < 32; j++)
            keys[k][j] = kt_hex_lower((unsigned)rng_next());
    for (size_t i = 0; i < max_size; i++)
        payload[i] = (uint8_t)rng_next(); /* incompressible, like protobuf with random IDs */

    struct rp_stats st = {0};
    rd_kafka_t *rk = make_producer(&o, &st, &err);
    if (rk == NULL) {
        fprintf(stderr, "kotel-rawproduce: %s\n", err.msg);
        return 2;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o.topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    /* Connect and learn the partitions before the clock starts: the bench measures the
     * steady state, not the bootstrap. */
    rd_kafka_resp_err_t merr = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (merr != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kotel-rawproduce: metadata for %s from %s: %s\n", o.topic, o.brokers,
                rd_kafka_err2str(merr));
        rd_kafka_topic_destroy(rkt);
        rd_kafka_destroy(rk);
        return 2;
    }
    rd_kafka_metadata_destroy(md);

    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    double t0 = mono_s();
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < o.messages; i++) {
        size_t len = sizes ? sizes[i % nsizes] : o.size;
        const char *key = keys[i % o.keys];
        for (;;) {
            /* No copy, no free: the payload buffer lives until the end. */
            rd_kafka_resp_err_t e = rd_kafka_producev(
                rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
                RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_VALUE(payload, len), RD_KAFKA_V_KEY(key, 32),
                RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "kotel-rawproduce: produce: %s\n", rd_kafka_err2str(e));
                st.failed++;
                break;
            }
            rd_kafka_poll(rk, 5); /* the queue drains as deliveries are reported */
        }
        bytes += len;
        rd_kafka_poll(rk, 0);
    }
    rd_kafka_resp_err_t ferr = rd_kafka_flush(rk, 120000);
    double secs = mono_s() - t0;
    getrusage(RUSAGE_SELF, &ru1);
    if (ferr != RD_KAFKA_RESP_ERR_NO_ERROR)
        fprintf(stderr, "kotel-rawproduce: flush: %s (%d messages undelivered)\n",
                rd_kafka_err2str(ferr), rd_kafka_outq_len(rk));
    double user = tv_s(ru1.ru_utime) - tv_s(ru0.ru_utime);
    double sys = tv_s(ru1.ru_stime) - tv_s(ru0.ru_stime);
    uint64_t lost = o.messages - st.delivered - st.failed;
    printf("{\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"seconds\":%.3f,\"msgs_per_s\":%.1f,"
           "\"mb_per_s\":%.2f,\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f,\"cpu_us_per_msg\":%.3f,"
           "\"delivered\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"librdkafka\":\"%s\",",
           o.messages, bytes, secs, (double)o.messages / secs, (double)bytes / secs / 1e6, user,
           sys, (user + sys) * 1e6 / (double)o.messages, st.delivered, st.failed + lost,
           rd_kafka_version_str());
    print_conf(rk);
    printf("}\n");
    fflush(stdout);
    if (st.failed + lost > 0)
        fprintf(stderr, "kotel-rawproduce: %" PRIu64 " deliveries failed%s%s\n", st.failed + lost,
                st.first_error[0] ? ", first: " : "", st.first_error);
    else
        fprintf(stderr,
                "kotel-rawproduce: %" PRIu64 " messages, %.1f MB in %.2f s = %.0f msgs/s; "
                "%.2f µs CPU per message\n",
                o.messages, (double)bytes / 1e6, secs, (double)o.messages / secs,
                (user + sys) * 1e6 / (double)o.messages);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(keys);
    free(payload);
    free(sizes);
    return st.failed + lost > 0 ? 1 : 0;
}
