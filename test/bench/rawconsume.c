/* kotel-rawconsume: the ceiling for kotel-process in `make bench`, a bare librdkafka consumer.
 *
 * It reads preloaded topics from the earliest offset to their end the way kotel-process
 * consumes (a fresh consumer group, cooperative-sticky assignment, offsets stored by the
 * application in batches and committed by librdkafka every second) and does nothing with a
 * message but read every byte of its value, so the difference between its cost per message
 * and kotel-process's is what kotel itself adds on top of consuming the same bytes.
 *
 * The timed part runs from the first partition assignment to the last message handled (the
 * group join before it is a fixed cost of the cluster, not of consuming). The end is where
 * every assigned partition has reported end of partition, so the topics must not be
 * written to meanwhile. Several topics are read as kotel-process reads a topic list: one
 * subscription, so librdkafka fetches all their partitions at once (what it costs per
 * partition is then in the ceiling too).
 *
 * stdout: one JSON line {"messages","bytes","partitions","join_s","seconds","msgs_per_s",
 * "mb_per_s","cpu_user_s","cpu_sys_s","cpu_us_per_msg","revoked","commits","checksum",
 * "librdkafka","conf"}; "conf" holds the effective values of the librdkafka properties that
 * decide how a consumer fetches. CPU is this process's getrusage (all librdkafka threads
 * included) over the timed part. Exit status 0 when the end of every partition was reached
 * (and, with --expect, exactly that many messages were read), 1 otherwise, 2 for bad
 * arguments or setup errors. */
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

#include "kt_err.h"

#define RC_MAX_SETS 64
/* Messages handled per poll round before offsets are stored, as kotel-process does. */
#define RC_POLL_BATCH 500
#define RC_MAX_TOPICS 64

struct rc_opts {
    const char *brokers;
    char *topics[RC_MAX_TOPICS]; /* from --topic, split at commas; point into topic_buf */
    int ntopics;
    char topic_buf[4096];
    char group[128];
    uint64_t expect; /* 0: any count */
    double timeout_s;
    const char *sets[RC_MAX_SETS];
    int nsets;
};

/* Partitions are numbered across the topics: topic t's partition p is slot base[t] + p. */
struct rc_state {
    const struct rc_opts *o;
    int32_t npart[RC_MAX_TOPICS];               /* partitions of each topic */
    int32_t base[RC_MAX_TOPICS + 1];            /* first slot of each topic; base[ntopics]: slots */
    const rd_kafka_topic_t *rkt[RC_MAX_TOPICS]; /* each topic's handle, once seen */
    bool *eof;                                  /* by slot: end reached since last assigned */
    int64_t *next;      /* by slot: offset to store (last handled + 1), -1: none */
    bool *assigned;     /* by slot */
    int32_t n_assigned; /* partitions assigned now */
    int32_t n_eof;      /* assigned partitions at their end */
    int32_t max_assigned;
    uint64_t revoked;
    uint64_t commits;
    double t_assigned; /* monotonic seconds at the first assignment, 0 before */
    struct rusage ru_assigned;
    char first_error[256];
};

/* The properties that decide how much a consumer fetches, when, and how often it commits:
 * what a reader of the figures needs to reproduce them on another cluster. */
static const char *const shown_props[] = {
    "fetch.wait.max.ms",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "max.partition.fetch.bytes",
    "fetch.error.backoff.ms",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "partition.assignment.strategy",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "enable.auto.commit",
    "auto.commit.interval.ms",
    "enable.auto.offset.store",
    "check.crcs",
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kotel-rawconsume --brokers LIST --topic T[,T...] [options]\n"
            "\n"
            "Reads topics from the earliest offset to their end with a bare librdkafka\n"
            "consumer in a fresh group and prints one JSON line of throughput and CPU cost.\n"
            "\n"
            "  --brokers LIST      bootstrap brokers (required)\n"
            "  --topic T[,T...]    topics (required; they must not grow during the run)\n"
            "  --group G           consumer group (default: a fresh kotel-rawconsume-PID-TIME)\n"
            "  --expect N          messages the topics hold; any other count is a failure\n"
            "  --timeout S         give up after S seconds (default 120)\n"
            "  --set PROP=VALUE    librdkafka consumer property, repeatable; applied after the\n"
            "                      defaults kotel-process uses: partition.assignment.strategy=\n"
            "                      cooperative-sticky, session.timeout.ms=10000,\n"
            "                      heartbeat.interval.ms=3000, enable.auto.commit=true,\n"
            "                      enable.auto.offset.store=false, auto.commit.interval.ms=1000,\n"
            "                      fetch.max.bytes=8388608\n"
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

static int parse_args(int argc, char **argv, struct rc_opts *o, struct kt_err *err)
{
    *o = (struct rc_opts){.timeout_s = 120};
    snprintf(o->group, sizeof(o->group), "kotel-rawconsume-%ld-%ld", (long)getpid(),
             (long)time(NULL));
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
        } else if (strcmp(a, "--topic") == 0 && o->ntopics > 0) {
            return kt_err_set(err, KT_EINVAL, "--topic: given twice (list topics with commas)");
        } else if (strcmp(a, "--topic") == 0 && v[0] != '\0') {
            if (strlen(v) >= sizeof(o->topic_buf))
                return kt_err_set(err, KT_ETOOBIG, "--topic: longer than %zu bytes",
                                  sizeof(o->topic_buf) - 1);
            snprintf(o->topic_buf, sizeof(o->topic_buf), "%s", v);
            for (char *save = NULL, *t = strtok_r(o->topic_buf, ",", &save); t != NULL;
                 t = strtok_r(NULL, ",", &save)) {
                if (o->ntopics == RC_MAX_TOPICS)
                    return kt_err_set(err, KT_ETOOBIG, "--topic: more than %d topics",
                                      RC_MAX_TOPICS);
                o->topics[o->ntopics++] = t;
            }
        } else if (strcmp(a, "--group") == 0 && v[0] != '\0' && strlen(v) < sizeof(o->group)) {
            snprintf(o->group, sizeof(o->group), "%s", v);
        } else if (strcmp(a, "--expect") == 0 && parse_u64(v, 1, UINT64_MAX / 2, &n) == 0) {
            o->expect = n;
        } else if (strcmp(a, "--timeout") == 0 && parse_u64(v, 1, 86400, &n) == 0) {
            o->timeout_s = (double)n;
        } else if (strcmp(a, "--set") == 0 && strchr(v, '=') != NULL) {
            if (o->nsets == RC_MAX_SETS)
                return kt_err_set(err, KT_ETOOBIG, "--set: more than %d", RC_MAX_SETS);
            o->sets[o->nsets++] = v;
        } else {
            return kt_err_set(err, KT_EINVAL, "%s: unknown option or bad value '%s'", a, v);
        }
    }
    if (o->brokers == NULL || o->ntopics == 0)
        return kt_err_set(err, KT_EINVAL, "--brokers and --topic are required");
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Reads every byte, as a consumer that parses the value must; the sum keeps the compiler
 * from dropping the reads. */
static uint64_t touch(const uint8_t *p, size_t n)
{
    uint64_t s = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        s += w;
    }
    for (; i < n; i++)
        s += p[i];
    return s;
}

/* The index of topic `name` in the list, or -1 when it is not one of ours. */
static int topic_index(const struct rc_state *st, const char *name)
{
    for (int t = 0; t < st->o->ntopics; t++)
        if (strcmp(st->o->topics[t], name) == 0)
            return t;
    return -1;
}

/* The slot of topic t's partition, or -1 when t or the partition is not one of ours. */
static int32_t slot_in(const struct rc_state *st, int t, int32_t partition)
{
    return t >= 0 && partition >= 0 && partition < st->npart[t] ? st->base[t] + partition : -1;
}

/* The same for a message: topics are told apart by their handle once seen, so a message
 * costs a pointer comparison per topic, not a string comparison. */
static int32_t slot_of(struct rc_state *st, const rd_kafka_message_t *m)
{
    for (int t = 0; t < st->o->ntopics; t++)
        if (st->rkt[t] == m->rkt)
            return slot_in(st, t, m->partition);
    if (m->rkt == NULL)
        return -1;
    int t = topic_index(st, rd_kafka_topic_name(m->rkt));
    if (t >= 0)
        st->rkt[t] = m->rkt;
    return slot_in(st, t, m->partition);
}

/* The topic index of a slot. */
static int topic_of(const struct rc_state *st, int32_t slot)
{
    int t = 0;
    while (slot >= st->base[t + 1])
        t++;
    return t;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque)
{
    struct rc_state *st = opaque;
    bool assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    if (!assign && err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        snprintf(st->first_error, sizeof(st->first_error), "rebalance: %s", rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
        return;
    }
    if (assign && st->t_assigned == 0) {
        st->t_assigned = mono_s();
        getrusage(RUSAGE_SELF, &st->ru_assigned);
    }
    if (!assign)
        st->revoked += (uint64_t)l->cnt;
    for (int i = 0; i < l->cnt; i++) {
        int32_t p = slot_in(st, topic_index(st, l->elems[i].topic), l->elems[i].partition);
        if (p < 0 || st->assigned[p] == assign)
            continue;
        st->assigned[p] = assign;
        st->n_assigned += assign ? 1 : -1;
        /* A partition's end counts only for its current ownership. */
        if (st->eof[p]) {
            st->eof[p] = false;
            st->n_eof--;
        }
    }
    if (st->n_assigned > st->max_assigned)
        st->max_assigned = st->n_assigned;
    if (strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0) {
        rd_kafka_error_t *e =
            assign ? rd_kafka_incremental_assign(rk, l) : rd_kafka_incremental_unassign(rk, l);
        if (e != NULL) {
            snprintf(st->first_error, sizeof(st->first_error), "rebalance: %s",
                     rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_assign(rk, assign ? l : NULL);
    }
}

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)offsets;
    struct rc_state *st = opaque;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        st->commits++;
    else if (err != RD_KAFKA_RESP_ERR__NO_OFFSET && st->first_error[0] == '\0')
        snprintf(st->first_error, sizeof(st->first_error), "commit: %s", rd_kafka_err2str(err));
}

static rd_kafka_t *make_consumer(const struct rc_opts *o, struct rc_state *st, struct kt_err *err)
{
    /* kotel-process's consumer settings at their defaults (process/consumer.c), plus what
     * the bench needs: a fresh group read from the start, and end-of-partition events. */
    const char *const defaults[][2] = {
        {"group.id", o->group},
        {"auto.offset.reset", "earliest"},
        {"session.timeout.ms", "10000"},
        {"heartbeat.interval.ms", "3000"},
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"enable.auto.commit", "true"},
        {"enable.auto.offset.store", "false"},
        {"auto.commit.interval.ms", "1000"},
        {"fetch.max.bytes", "8388608"},
        {"enable.partition.eof", "true"},
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
    rd_kafka_conf_set_opaque(conf, st);
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, es, sizeof(es));
    if (rk == NULL)
        goto fail;
    /* Rebalances and commit results arrive where messages do. */
    rd_kafka_poll_set_consumer(rk);
    return rk;
fail:
    rd_kafka_conf_destroy(conf);
    kt_err_set(err, KT_EINVAL, "%s", es);
    return NULL;
}

/* The topic's partition count, from the cluster's metadata. */
static int topic_partitions(rd_kafka_t *rk, const char *topic, int32_t *out, struct kt_err *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rkt == NULL)
        return kt_err_set(err, KT_EINVAL, "%s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
    const struct rd_kafka_metadata *md = NULL;
    int rc = 0;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = kt_err_set(err, KT_EIO, "metadata for %s: %s", topic, rd_kafka_err2str(e));
    else if (md->topic_cnt != 1 || md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = kt_err_set(err, KT_ENOTFOUND, "%s: %s", topic,
                        md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "not found");
    else if (md->topics[0].partition_cnt <= 0)
        rc = kt_err_set(err, KT_ENOTFOUND, "%s: no partitions", topic);
    else
        *out = md->topics[0].partition_cnt;
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    return rc;
}

/* Stores the offsets of what the last round handled, one call for all its partitions. */
static void store_round(rd_kafka_t *rk, struct rc_state *st, int32_t *touched, int ntouched)
{
    if (ntouched == 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(ntouched);
    for (int i = 0; i < ntouched; i++) {
        int32_t p = touched[i];
        int t = topic_of(st, p);
        rd_kafka_topic_partition_list_add(l, st->o->topics[t], p - st->base[t])->offset =
            st->next[p];
        st->next[p] = -1;
    }
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(rk, l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && st->first_error[0] == '\0')
        snprintf(st->first_error, sizeof(st->first_error), "offsets store: %s",
                 rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
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
    struct rc_opts o;
    struct kt_err err = {0};
    if (parse_args(argc, argv, &o, &err) != 0) {
        fprintf(stderr, "kotel-rawconsume: %s\n", err.msg);
        usage(stderr);
        return 2;
    }
    struct rc_state st = {.o = &o};
    int exit_code = 2;
    int32_t *touched = NULL;
    double t_start = mono_s();
    rd_kafka_t *rk = make_consumer(&o, &st, &err);
    if (rk == NULL) {
        fprintf(stderr, "kotel-rawconsume: %s\n", err.msg);
        return 2;
    }
    for (int t = 0; t < o.ntopics; t++) {
        if (topic_partitions(rk, o.topics[t], &st.npart[t], &err) != 0) {
            fprintf(stderr, "kotel-rawconsume: %s\n", err.msg);
            goto out;
        }
        st.base[t + 1] = st.base[t] + st.npart[t];
    }
    int32_t slots = st.base[o.ntopics];
    st.eof = calloc((size_t)slots, sizeof(*st.eof));
    st.assigned = calloc((size_t)slots, sizeof(*st.assigned));
    st.next = malloc((size_t)slots * sizeof(*st.next));
    touched = malloc((size_t)slots * sizeof(*touched));
    if (st.eof == NULL || st.assigned == NULL || st.next == NULL || touched == NULL) {
        fprintf(stderr, "kotel-rawconsume: out of memory\n");
        goto out;
    }
    for (int32_t p = 0; p < slots; p++)
        st.next[p] = -1;
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(o.ntopics);
    for (int t = 0; t < o.ntopics; t++)
        rd_kafka_topic_partition_list_add(sub, o.topics[t], RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (se != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kotel-rawconsume: subscribing to %d topics: %s\n", o.ntopics,
                rd_kafka_err2str(se));
        goto out;
    }

    uint64_t messages = 0, bytes = 0, sum = 0;
    double t_last = 0;
    struct rusage ru_last = {0};
    bool done = false;
    exit_code = 1;
    while (!done) {
        if (mono_s() - t_start > o.timeout_s) {
            fprintf(stderr,
                    "kotel-rawconsume: %" PRIu64 " messages, %d of %d assigned partitions at "
                    "their end after %.0f s\n",
                    messages, st.n_eof, st.n_assigned, o.timeout_s);
            goto out;
        }
        int ntouched = 0;
        uint64_t before = messages;
        for (int i = 0; i < RC_POLL_BATCH; i++) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, i == 0 ? 100 : 0);
            if (m == NULL)
                break;
            int32_t p = slot_of(&st, m);
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (p >= 0 && st.assigned[p] && !st.eof[p]) {
                    st.eof[p] = true;
                    st.n_eof++;
                }
            } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "kotel-rawconsume: %s [%" PRId32 "]: %s\n",
                        m->rkt ? rd_kafka_topic_name(m->rkt) : "?", m->partition,
                        rd_kafka_message_errstr(m));
            } else if (p >= 0) {
                sum += touch(m->payload, m->len);
                bytes += m->len;
                messages++;
                if (st.next[p] < 0)
                    touched[ntouched++] = p;
                st.next[p] = m->offset + 1;
            }
            rd_kafka_message_destroy(m);
        }
        store_round(rk, &st, touched, ntouched);
        if (messages > before) {
            t_last = mono_s();
            getrusage(RUSAGE_SELF, &ru_last);
        }
        done = st.n_assigned > 0 && st.n_eof == st.n_assigned;
    }
    if (messages == 0) {
        t_last = mono_s();
        getrusage(RUSAGE_SELF, &ru_last);
    }
    double secs = t_last - st.t_assigned;
    double user = tv_s(ru_last.ru_utime) - tv_s(st.ru_assigned.ru_utime);
    double sys = tv_s(ru_last.ru_stime) - tv_s(st.ru_assigned.ru_stime);
    double per_msg = messages ? (user + sys) * 1e6 / (double)messages : 0;
    /* What a restart of this group would resume from, as kotel-process commits on close. */
    rd_kafka_resp_err_t ce = rd_kafka_commit(rk, NULL, 0);
    if (ce != RD_KAFKA_RESP_ERR_NO_ERROR && ce != RD_KAFKA_RESP_ERR__NO_OFFSET &&
        st.first_error[0] == '\0')
        snprintf(st.first_error, sizeof(st.first_error), "final commit: %s", rd_kafka_err2str(ce));
    printf("{\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"partitions\":%d,\"join_s\":%.3f,"
           "\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f,\"cpu_user_s\":%.3f,"
           "\"cpu_sys_s\":%.3f,\"cpu_us_per_msg\":%.3f,\"revoked\":%" PRIu64 ",\"commits\":%" PRIu64
           ",\"checksum\":\"%016" PRIx64 "\",\"librdkafka\":\"%s\",",
           messages, bytes, st.max_assigned, st.t_assigned - t_start, secs,
           secs > 0 ? (double)messages / secs : 0, secs > 0 ? (double)bytes / secs / 1e6 : 0, user,
           sys, per_msg, st.revoked, st.commits, sum, rd_kafka_version_str());
    print_conf(rk);
    printf("}\n");
    fflush(stdout);
    if (st.first_error[0] != '\0') {
        fprintf(stderr, "kotel-rawconsume: %s\n", st.first_error);
    } else if (o.expect != 0 && messages != o.expect) {
        fprintf(stderr, "kotel-rawconsume: read %" PRIu64 " messages, expected %" PRIu64 "\n",
                messages, o.expect);
    } else {
        fprintf(stderr,
                "kotel-rawconsume: %" PRIu64 " messages, %.1f MB in %.2f s = %.0f msgs/s; "
                "%.2f µs CPU per message\n",
                messages, (double)bytes / 1e6, secs, secs > 0 ? (double)messages / secs : 0,
                per_msg);
        exit_code = 0;
    }
out:
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    free(st.eof);
    free(st.assigned);
    free(st.next);
    free(touched);
    return exit_code;
}
