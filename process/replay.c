/* replay: see replay.h. */
#include "replay.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kt_kafka.h"
#include "kt_log.h"
#include "kt_time.h"
#include "topics.h"

/* The progress is looked at this often; drawn on a terminal every TTY_EVERY looks, logged
 * every LOG_EVERY otherwise. */
#define TICK_S 1.0
#define TTY_EVERY 2
#define LOG_EVERY 5
#define BAR_CELLS 20

static const struct kt_cli_opt replay_opts[REPLAY_N_OPTS] = {
    [REPLAY_OPT_FROM] = {"--replay-from", "TIME",
                         "run the pipeline over the messages since TIME (RFC 3339), exit "
                         "(a ^regex topic: those matching at start)"},
    [REPLAY_OPT_TO] = {"--replay-to", "TIME",
                       "with --replay-from: stop before TIME (default: the end at start)"},
};

const struct kt_cli_extra replay_cli = {
    "--replay-from TIME [--replay-to TIME]",
    replay_opts,
    REPLAY_N_OPTS,
};

struct replay {
    struct process_conf *conf;
    struct replay_args args;
    struct consumer_replay ranges;
    char **names; /* the replayed topics; the ranges borrow them */
    size_t n_names;
    char group[512];
    struct ev_loop *loop;
    ev_timer tick;
    bool tty;
    unsigned ticks;
    uint64_t last_done;  /* at the last line */
    ev_tstamp last_when; /* of the last line */
};

bool replay_requested(const char *const given[REPLAY_N_OPTS])
{
    for (int i = 0; i < REPLAY_N_OPTS; i++) {
        if (given[i] != NULL)
            return true;
    }
    return false;
}

/* ---- arguments ---- */

int replay_parse_args(const char *const given[REPLAY_N_OPTS], bool dump, struct replay_args *a,
                      struct kt_err *err)
{
    *a = (struct replay_args){.from_ms = 0, .to_ms = -1};
    const char *from = given[REPLAY_OPT_FROM], *to = given[REPLAY_OPT_TO];
    if (dump)
        return kt_err_set(err, KT_EINVAL, "%s: cannot be combined with --dump",
                          from != NULL ? "--replay-from" : "--replay-to");
    if (from == NULL)
        return kt_err_set(err, KT_EINVAL, "--replay-to: only with --replay-from TIME");
    if (kt_time_parse(from, &a->from_ms) != 0)
        return kt_err_set(err, KT_EINVAL,
                          "--replay-from: want an RFC 3339 time such as 2026-11-20T10:00:00Z, "
                          "got '%s'",
                          from);
    if (to != NULL) {
        if (kt_time_parse(to, &a->to_ms) != 0)
            return kt_err_set(err, KT_EINVAL,
                              "--replay-to: want an RFC 3339 time such as 2026-11-20T11:00:00Z, "
                              "got '%s'",
                              to);
        if (a->to_ms <= a->from_ms)
            return kt_err_set(err, KT_EINVAL, "--replay-to: %s is not after --replay-from %s", to,
                              from);
    }
    return 0;
}

/* "20261120T100000Z", or "20261120T100000.250Z" when not whole seconds. */
static void compact_time(int64_t ms, char *buf, size_t cap)
{
    char full[KT_TIME_MAX];
    kt_time_format(ms, full, sizeof(full)); /* 2026-11-20T10:00:00.250Z */
    size_t n = 0;
    for (const char *p = full; *p != '\0' && n + 1 < cap; p++) {
        if (*p == '-' || *p == ':')
            continue;
        if (strcmp(p, ".000Z") == 0)
            p += 4; /* to the Z */
        buf[n++] = *p;
    }
    buf[n] = '\0';
}

void replay_group_id(const char *group, const struct replay_args *a, char *buf, size_t cap)
{
    char from[KT_TIME_MAX], to[KT_TIME_MAX] = "";
    compact_time(a->from_ms, from, sizeof(from));
    if (a->to_ms >= 0)
        compact_time(a->to_ms, to, sizeof(to));
    snprintf(buf, cap, "%s-replay-%s%s%s", group, from, a->to_ms >= 0 ? "-" : "", to);
}

/* ---- progress ---- */

void replay_progress_of(const struct consumer_replay *r, struct replay_progress *out)
{
    *out = (struct replay_progress){0, 0};
    for (size_t i = 0; i < r->n; i++) {
        const struct consumer_range *g = &r->ranges[i];
        if (g->end <= g->start)
            continue;
        int64_t next = g->next < g->start ? g->start : g->next > g->end ? g->end : g->next;
        out->done += (uint64_t)(next - g->start);
        out->total += (uint64_t)(g->end - g->start);
    }
}

/* 950, 35k, 1.2M, 3.4G */
static void human(uint64_t v, char *buf, size_t cap)
{
    static const char units[] = "kMGT";
    if (v < 1000) {
        snprintf(buf, cap, "%" PRIu64, v);
        return;
    }
    double x = (double)v;
    int u = -1;
    while (x >= 1000.0 && u < 3) {
        x /= 1000.0;
        u++;
    }
    snprintf(buf, cap, x < 9.95 ? "%.1f%c" : "%.0f%c", x, units[u]);
}

void replay_progress_format(const struct replay_progress *p, double rate, bool bar, char *buf,
                            size_t cap)
{
    uint64_t done = p->done < p->total ? p->done : p->total;
    /* Nothing to read is all read. */
    double frac = p->total > 0 ? (double)done / (double)p->total : 1.0;
    char cells[BAR_CELLS + 4] = "";
    if (bar) {
        int full = (int)(frac * BAR_CELLS);
        cells[0] = '[';
        for (int i = 0; i < BAR_CELLS; i++)
            cells[1 + i] = i < full ? '#' : '.';
        cells[BAR_CELLS + 1] = ']';
        cells[BAR_CELLS + 2] = ' ';
        cells[BAR_CELLS + 3] = '\0';
    }
    char d[16], t[16], r[16], eta[32];
    human(done, d, sizeof(d));
    human(p->total, t, sizeof(t));
    human(rate > 0 ? (uint64_t)(rate + 0.5) : 0, r, sizeof(r));
    if (done == p->total)
        snprintf(eta, sizeof(eta), "0 s");
    else if (rate <= 0)
        snprintf(eta, sizeof(eta), "?");
    else if ((double)(p->total - done) / rate < 120)
        snprintf(eta, sizeof(eta), "%.0f s", (double)(p->total - done) / rate);
    else
        snprintf(eta, sizeof(eta), "%.0f min", (double)(p->total - done) / rate / 60);
    snprintf(buf, cap, "replay %s%d%% %s/%s messages, %s msg/s, ETA %s", cells, (int)(frac * 100),
             d, t, r, eta);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct replay *r = w->data;
    r->ticks++;
    if (r->ticks % (r->tty ? TTY_EVERY : LOG_EVERY) != 0)
        return;
    struct replay_progress p;
    replay_progress_of(&r->ranges, &p);
    ev_tstamp now = ev_now(loop);
    double dt = now - r->last_when;
    double rate = dt > 0 && p.done >= r->last_done ? (double)(p.done - r->last_done) / dt : 0;
    r->last_done = p.done;
    r->last_when = now;
    char line[160];
    replay_progress_format(&p, rate, r->tty, line, sizeof(line));
    if (r->tty) {
        /* One line, rewritten in place; replay_summary ends it. */
        fprintf(stderr, "\r\033[K%s", line);
        fflush(stderr);
    } else {
        kt_info("%s", line);
    }
}

/* ---- resolving the ranges ---- */

static int make_client(const struct process_conf *c, const char *group, rd_kafka_t **out,
                       struct kt_err *err)
{
    const struct kt_kafka_common common = {
        .brokers = &c->kafka.brokers,
        .client_id = c->kafka.client_id,
        .protocol_version = c->kafka.protocol_version,
        .auth = &c->kafka.auth,
    };
    /* The replay group: only its commits are read here (a resumed replay). */
    return kt_kafka_plain_consumer_new(&common, &c->kafka.rdkafka, group, false, out, err);
}

static const char *topic_of(const struct process_conf *c, int sig)
{
    const char *t[KT_SIGNAL_COUNT] = {c->kafka.traces_topic, c->kafka.metrics_topic,
                                      c->kafka.logs_topic};
    return t[sig] != NULL && t[sig][0] != '\0' ? t[sig] : NULL;
}

static const char *find_name(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return names[i];
    return NULL;
}

int replay_topics_of(const struct topics *sel, enum kt_signal sig, const char *value,
                     const char *const *names, size_t n, const char **out, size_t *n_out,
                     struct kt_err *err)
{
    *n_out = 0;
    if (!topics_is_regex(sel, sig)) {
        for (size_t i = 0; i < topics_n_names(sel, sig); i++) {
            const char *want = topics_name(sel, sig, i);
            const char *got = find_name(names, n, want);
            if (got != NULL)
                out[(*n_out)++] = got;
            else
                kt_warn("replay: [kafka] %s: topic \"%s\" does not exist; nothing to replay "
                        "there",
                        topics_keys[sig], want);
        }
        return 0;
    }
    /* Said once, by the first signal with a regex. */
    bool first = true;
    for (int s = 0; s < (int)sig; s++)
        first &= !topics_is_regex(sel, (enum kt_signal)s);
    for (size_t i = 0; i < n; i++) {
        int s = topics_signal_of(sel, names[i]);
        if (s == (int)sig)
            out[(*n_out)++] = names[i];
        else if (s == -2 && first)
            /* As the consumer: a topic two regexes match is read by neither. */
            kt_warn("replay: topic \"%s\" matches the ^regex of two signals' topics; it is not "
                    "replayed (exclude it from one with [kafka] *_exclude_topics)",
                    names[i]);
    }
    if (*n_out == 0)
        return kt_err_set(err, KT_EINVAL,
                          "replay: [kafka] %s: the regex %s matches no topic of the cluster "
                          "(internal \"__\" topics and those in %s never match)",
                          topics_keys[sig], value, topics_exclude_keys[sig]);
    return 0;
}

/* Adds a range (start and end unset) for each partition of the topic t (metadata of the
 * cluster); the ranges borrow the topic's name from r->names. */
static int add_partitions(struct replay *r, int sig, const struct rd_kafka_metadata_topic *t,
                          struct kt_err *err)
{
    if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR)
        return kt_err_set(err, KT_EIO, "replay: [kafka] %s: topic \"%s\": %s", topics_keys[sig],
                          t->topic, rd_kafka_err2str(t->err));
    char *name = strdup(t->topic);
    char **names = realloc(r->names, (r->n_names + 1) * sizeof(*names));
    if (names != NULL)
        r->names = names;
    struct consumer_range *v =
        realloc(r->ranges.ranges, (r->ranges.n + (size_t)t->partition_cnt + 1) * sizeof(*v));
    if (v != NULL)
        r->ranges.ranges = v;
    if (name == NULL || names == NULL || v == NULL) {
        free(name);
        return KT_ENOMEM;
    }
    r->names[r->n_names++] = name;
    for (int i = 0; i < t->partition_cnt; i++)
        v[r->ranges.n++] = (struct consumer_range){.sig = (enum kt_signal)sig,
                                                   .topic = name,
                                                   .partition = t->partitions[i].id,
                                                   .start = -1,
                                                   .end = -1};
    return 0;
}

/* The ranges of every partition of the topics each signal replays: its listed topics, or
 * what its ^regex matches among the cluster's topics now (one listing). */
static int add_topics(struct replay *r, rd_kafka_t *rk, struct kt_err *err)
{
    struct topics *sel = NULL;
    const struct rd_kafka_metadata *md = NULL;
    const char **names = NULL, **chosen = NULL;
    int rc = topics_new(r->conf, &sel, err);
    if (rc != 0)
        goto out;
    rd_kafka_resp_err_t e =
        rd_kafka_metadata(rk, 1, NULL, &md, (int)r->conf->kafka.connect_timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        char brokers[256];
        kt_kafka_brokers_join(&r->conf->kafka.brokers, brokers, sizeof(brokers));
        rc = kt_err_set(err, KT_ETIMEDOUT,
                        "replay: cannot read the metadata of the Kafka cluster at %s within "
                        "[kafka] connect_timeout (%" PRIu64 "ms): %s",
                        brokers, r->conf->kafka.connect_timeout_ms, rd_kafka_err2str(e));
        md = NULL;
        goto out;
    }
    rc = KT_ENOMEM;
    names = calloc((size_t)md->topic_cnt + 1, sizeof(*names));
    chosen = calloc((size_t)md->topic_cnt + 1, sizeof(*chosen));
    if (names == NULL || chosen == NULL)
        goto out;
    size_t n = 0;
    for (int i = 0; i < md->topic_cnt; i++)
        if (md->topics[i].err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            names[n++] = md->topics[i].topic;
    rc = 0;
    for (int s = 0; s < KT_SIGNAL_COUNT && rc == 0; s++) {
        size_t k = 0;
        if (!topics_on(sel, (enum kt_signal)s))
            continue;
        rc = replay_topics_of(sel, (enum kt_signal)s, topic_of(r->conf, s), names, n, chosen, &k,
                              err);
        for (size_t j = 0; j < k && rc == 0; j++)
            for (int i = 0; i < md->topic_cnt; i++)
                if (md->topics[i].topic == chosen[j]) {
                    rc = add_partitions(r, s, &md->topics[i], err);
                    break;
                }
    }
out:
    free(chosen);
    free(names);
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    topics_free(sel);
    return rc;
}

/* A list of every range's partition, offsets set to `offset`. */
static rd_kafka_topic_partition_list_t *range_list(const struct replay *r, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)r->ranges.n + 1);
    for (size_t i = 0; i < r->ranges.n; i++)
        rd_kafka_topic_partition_list_add(l, r->ranges.ranges[i].topic,
                                          r->ranges.ranges[i].partition)
            ->offset = offset;
    return l;
}

/* Offsets-for-times of t for every range (in range order, as the list keeps its order):
 * into start (to_end false) or end; a partition with no message at or after t gets the high
 * watermark, which end holds on entry. */
static int offsets_at(struct replay *r, rd_kafka_t *rk, int64_t t, bool to_end, const char *opt,
                      struct kt_err *err)
{
    rd_kafka_topic_partition_list_t *l = range_list(r, t);
    rd_kafka_resp_err_t e =
        rd_kafka_offsets_for_times(rk, l, (int)r->conf->kafka.connect_timeout_ms);
    for (int i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < l->cnt; i++) {
        struct consumer_range *g = &r->ranges.ranges[i];
        e = l->elems[i].err;
        int64_t off = l->elems[i].offset < 0 ? g->end : l->elems[i].offset;
        if (to_end)
            g->end = off < g->end ? off : g->end;
        else
            g->start = off;
    }
    int rc = 0;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = kt_err_set(err, KT_EIO, "replay: finding the offsets for %s: %s", opt,
                        rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* A replay of the same window stopped early committed where it got to: go on from there. */
static int resume(struct replay *r, rd_kafka_t *rk, struct kt_err *err)
{
    rd_kafka_topic_partition_list_t *l = range_list(r, RD_KAFKA_OFFSET_INVALID);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, l, (int)r->conf->kafka.connect_timeout_ms);
    int rc = 0;
    uint64_t skipped = 0;
    for (int i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < l->cnt; i++) {
        struct consumer_range *g = &r->ranges.ranges[i];
        int64_t off = l->elems[i].err == RD_KAFKA_RESP_ERR_NO_ERROR ? l->elems[i].offset : -1;
        if (off > g->start && g->start < g->end) {
            int64_t to = off < g->end ? off : g->end;
            skipped += (uint64_t)(to - g->start);
            g->start = to;
        }
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = kt_err_set(err, KT_EIO, "replay: reading the commits of group \"%s\": %s", r->group,
                        rd_kafka_err2str(e));
    else if (skipped > 0)
        kt_info("replay: resuming: group \"%s\" committed %" PRIu64 " offsets of this window "
                "already; they are not replayed again",
                r->group, skipped);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static int resolve(struct replay *r, rd_kafka_t *rk, struct kt_err *err)
{
    int rc = add_topics(r, rk, err);
    int timeout = (int)r->conf->kafka.connect_timeout_ms;
    for (size_t i = 0; i < r->ranges.n && rc == 0; i++) {
        struct consumer_range *g = &r->ranges.ranges[i];
        int64_t lo;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(rk, g->topic, g->partition, &lo, &g->end, timeout);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            rc = kt_err_set(err, KT_EIO, "replay: %s [%" PRId32 "]: reading its offsets: %s",
                            g->topic, g->partition, rd_kafka_err2str(e));
    }
    if (rc == 0 && r->ranges.n > 0)
        rc = offsets_at(r, rk, r->args.from_ms, false, "--replay-from", err);
    if (rc == 0 && r->ranges.n > 0 && r->args.to_ms >= 0)
        rc = offsets_at(r, rk, r->args.to_ms, true, "--replay-to", err);
    if (rc == 0 && r->ranges.n > 0)
        rc = resume(r, rk, err);
    return rc;
}

int replay_new(struct process_conf *conf, const struct replay_args *a, struct replay **out,
               struct kt_err *err)
{
    *out = NULL;
    struct replay *r = calloc(1, sizeof(*r));
    rd_kafka_t *rk = NULL;
    char *group = NULL;
    int rc = KT_ENOMEM;
    if (r == NULL)
        goto out;
    r->conf = conf;
    r->args = *a;
    replay_group_id(conf->kafka.group_id, a, r->group, sizeof(r->group));
    if ((group = strdup(r->group)) == NULL)
        goto out;
    /* Blocking calls, each bounded by connect_timeout: acceptable here because this runs
     * once before the loop starts, when nothing is served yet. */
    if ((rc = make_client(conf, r->group, &rk, err)) != 0)
        goto out;
    if ((rc = resolve(r, rk, err)) != 0)
        goto out;
    free(conf->kafka.group_id);
    conf->kafka.group_id = group;
    group = NULL;
    conf->replay = &r->ranges;
    char from[KT_TIME_MAX], to[KT_TIME_MAX] = "the end at start";
    kt_time_format(a->from_ms, from, sizeof(from));
    if (a->to_ms >= 0)
        kt_time_format(a->to_ms, to, sizeof(to));
    struct replay_progress p;
    for (size_t i = 0; i < r->ranges.n; i++)
        r->ranges.ranges[i].next = r->ranges.ranges[i].start;
    replay_progress_of(&r->ranges, &p);
    kt_info("replay: from %s to %s: %" PRIu64 " offsets in %zu partitions of %zu topics, "
            "consumer group \"%s\" (the group [kafka] group_id names is not touched)",
            from, to, p.total, r->ranges.n, r->n_names, r->group);
    *out = r;
    r = NULL;
    rc = 0;
out:
    if (rk != NULL)
        rd_kafka_destroy(rk);
    free(group);
    if (rc == KT_ENOMEM && err->msg[0] == '\0')
        kt_err_set(err, rc, "replay: out of memory");
    replay_free(r);
    return rc;
}

/* ---- running ---- */

void replay_start(struct replay *r, struct ev_loop *loop, void (*finished)(void *arg), void *arg)
{
    r->ranges.finished = finished;
    r->ranges.arg = arg;
    r->loop = loop;
    r->tty = isatty(STDERR_FILENO) != 0;
    r->last_when = ev_now(loop);
    ev_timer_init(&r->tick, tick_cb, TICK_S, TICK_S);
    r->tick.data = r;
    ev_timer_start(loop, &r->tick);
    /* The progress alone must not keep the loop running. */
    ev_unref(loop);
}

bool replay_finished(const struct replay *r)
{
    return r->ranges.n_done == r->ranges.n;
}

void replay_summary(struct replay *r, const struct pipeline_stats *st)
{
    struct replay_progress p;
    replay_progress_of(&r->ranges, &p);
    if (r->tty && r->ticks >= TTY_EVERY)
        fputc('\n', stderr); /* ends the progress line */
    kt_info("replay %s: %" PRIu64 " of %" PRIu64 " offsets read, %" PRIu64 " messages, %" PRIu64
            " items in, %" PRIu64 " filtered out, %" PRIu64 " handed to the exporter; group \"%s\"",
            replay_finished(r) ? "finished" : "stopped early", p.done, p.total, st->messages,
            st->items_in, st->items_filtered, st->items_exported, r->group);
    size_t empty = 0;
    for (size_t i = 0; i < r->ranges.n; i++) {
        const struct consumer_range *g = &r->ranges.ranges[i];
        if (g->end <= g->start) {
            empty++;
            continue;
        }
        const char *how = g->done ? "done" : g->next > g->start ? "partly read" : "not read";
        kt_info("replay: %s [%" PRId32 "]: offsets [%" PRId64 ", %" PRId64 ") %s", g->topic,
                g->partition, g->start, g->end, how);
    }
    if (empty > 0)
        kt_info("replay: %zu partitions hold nothing in the window", empty);
}

void replay_free(struct replay *r)
{
    if (r == NULL)
        return;
    if (r->loop != NULL && ev_is_active(&r->tick)) {
        ev_ref(r->loop);
        ev_timer_stop(r->loop, &r->tick);
    }
    if (r->conf != NULL && r->conf->replay == &r->ranges)
        r->conf->replay = NULL;
    free(r->ranges.ranges);
    for (size_t i = 0; i < r->n_names; i++)
        free(r->names[i]);
    free(r->names);
    free(r);
}
