#include "consumer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "backlog.h"
#include "dead_letter.h"
#include "fetch_stall.h"
#include "group_desc.h"
#include "kt_kafka.h"
#include "kt_kafka_probe.h"
#include "kt_log.h"
#include "kt_prom.h"
#include "offsets.h"
#include "topics.h"

/* Messages handed out per wakeup before the loop gets a turn (I/O, timers, exports). */
#define POLL_BATCH 500
/* Backpressure (consumer_set_paused) first holds: nothing more is handed out, and what
 * librdkafka fetches meanwhile waits in its queue, which it fills up to
 * queued.max.messages.kbytes and then stops fetching by itself. Nothing fetched is dropped, so
 * nothing is fetched twice. Pausing the partitions instead drops what was fetched ahead, to
 * be fetched again on resume: on real Kafka with two replicas on 2 cores the pending limit
 * paused each one 35-48 times in an 8-s drain, and their librdkafka threads spent twice the
 * CPU per message of one replica's (README, Performance). A hold lasts at most this long:
 * librdkafka serves the group's events (assignments, revocations) from the same queue, so a
 * member that polls nothing holds up every member's rebalance. Past it the partitions are
 * paused for real and polling serves the events again. */
#define HOLD_MAX_S 1.0
/* At most one log line of a kind per this many seconds (kt_log_limited); the rest are
 * counted. */
#define LOG_INTERVAL 10.0
/* consumer_close: time dead-letter copies in flight may still be acknowledged. */
#define CLOSE_FLUSH_MS 5000
/* consumer_close: rounds of CLOSE_POLL_MS to wait for the assignment to be given up. */
#define CLOSE_DRAIN_ROUNDS 50
#define CLOSE_POLL_MS 100
/* A missing topic is looked for (and warned about) this often. librdkafka's consumer sees a
 * new topic only at its next metadata refresh (topic.metadata.refresh.interval.ms, 5 min by
 * default), so that is shortened to this too while the startup check has not seen every
 * topic. */
#define MISSING_CHECK_S 10
#define MISSING_CHECK_MS "10000"
/* Bound of one metadata request of the missing-topic watch. */
#define MISSING_METADATA_MS 5000
/* fetch.max.bytes. librdkafka receives a fetch response into one allocation of its size, and
 * its default (50 MB) is above glibc's largest mmap threshold (32 MB): every response was
 * mapped afresh and each page faulted in as the socket was read, about 90 minor faults per
 * 1000 spans and a fifth of a pass-through's CPU (README, Performance). Responses this size
 * come from the heap and its pages are reused. */
#define FETCH_MAX_BYTES 8388608LL
/* librdkafka's statistics, asked for only when the [admin] endpoint is on or [kafka]
 * lag_report_threshold is set: the lag per partition of /metrics, the backlog progress and the
 * partition counts of /readyz come from them. The high watermark in them comes with fetch
 * responses, so while backpressure pauses a partition its lag is as of its last fetch (the
 * backlog says so rather than compute a rate from it). */
#define STATS_INTERVAL_MS "5000"
/* The group is described this long after the last rebalance event, so a burst of events
 * (eager revoke + assign, cooperative rounds) costs one request. */
#define DESCRIBE_DELAY_S 1.0
/* Descriptions asked for again after one rebalance event while the group is not stable yet
 * (or does not list this member yet, or describing it failed), DESCRIBE_DELAY_S apart. */
#define DESCRIBE_RETRIES 30
/* Kafka's API key of DescribeGroups, which describing the group sends. */
#define API_DESCRIBE_GROUPS 15
/* Bound of one description (ListGroups, then DescribeGroups), and so of the wait for one in
 * progress at shutdown. */
#define DESCRIBE_TIMEOUT_MS 5000
/* A replica owning more than this many times the group's average, and at least
 * LOPSIDED_MIN_EXTRA partitions more than the least loaded member, is warned about. */
#define LOPSIDED_FACTOR 2
#define LOPSIDED_MIN_EXTRA 2

/* Topics the consumer reads, at most: subscribing takes one list of them all. */
#define MAX_TOPICS 1024

/* A handle is slot | generation | low 40 bits of the offset. The full offset is recovered
 * from the partition's tracker: everything pending lies within 2^40 of its last tracked
 * offset. The generation changes whenever the slot is given up, so a handle that outlives
 * its partition's ownership matches nothing. */
#define H_OFF_BITS 40
#define H_GEN_BITS 10
#define H_SLOT_BITS 14
#define H_OFF_MASK ((UINT64_C(1) << H_OFF_BITS) - 1)
#define H_GEN_MASK ((UINT64_C(1) << H_GEN_BITS) - 1)
#define MAX_SLOTS (1u << H_SLOT_BITS)

struct part {
    bool used;
    bool dirty;  /* finished something since the last store */
    bool frozen; /* tracking failed, or its replay range is done: nothing more is handed out
                    (see on_message) */
    enum kt_signal sig;
    uint32_t topic; /* index into consumer.topics */
    int32_t partition;
    uint32_t gen;
    /* Messages after the offset lag_from names (an enum backlog_lag_from), from the last
     * statistics (stats_lag); -1: not known. */
    int64_t lag;
    uint8_t lag_from;
    struct backlog_part sampled; /* as the last backlog sample counted it */
    struct offset_tracker ot;
    struct consumer_range *range; /* replay only: where this partition is read; else NULL */
};

/* One topic read: listed in the configuration, or found on the cluster by a signal's ^regex.
 * Never removed while the consumer lives: messages and handles carry its name. */
struct topic {
    char *name;
    enum kt_signal sig;
    uint32_t *slot_of; /* partition -> slot + 1 (0: not assigned) */
    size_t n_slot_of;
    int32_t partitions;          /* from the last statistics; 0: not known yet */
    rd_kafka_topic_t *stats_rkt; /* see consumer.stats_on */
    bool missing;                /* the cluster does not have it (listed topics only) */
    struct kt_log_limit rl;
};

/* The cluster's topic list, read on a thread (rd_kafka_metadata blocks, which the loop must
 * not). librdkafka reports a missing subscribed topic once and then says nothing, also not
 * when it appears, and its own ^regex subscription cannot exclude topics: so while a listed
 * topic is missing or a signal has a regex, the thread lists the topics every MISSING_CHECK_S
 * (the first time at once) and wakes the loop, which warns about the missing ones, announces
 * those that appeared and subscribes to what the regexes match now. The fields under mu are
 * shared with the thread. */
struct topic_watch {
    pthread_t thread;
    bool started;
    ev_async wake;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;    /* under mu */
    bool active;  /* under mu: something to look for (set by the loop) */
    bool now;     /* under mu: list at once, not after MISSING_CHECK_S */
    char **names; /* under mu: the last listing, for the loop to take; NULL: none new */
    size_t n_names;
};

/* What the group description says about this replica (see describe_group). */
struct replica {
    ev_timer delay;        /* DESCRIBE_DELAY_S after the last rebalance event */
    struct group_desc *gd; /* NULL: out of memory, the group stays undescribed */
    bool in_flight;        /* a request is out; its result is awaited */
    bool again;            /* a rebalance came while in flight: describe once more */
    unsigned retries;      /* since the last rebalance event (DESCRIBE_RETRIES) */
    uint64_t asked_gen;    /* the rebalance count the request in flight was made for */
    uint64_t logged_gen;   /* the rebalance count the last warning was logged for, + 1 */
    bool idle;             /* the last description gives this replica no partitions */
    atomic_bool supported; /* a broker advertised DescribeGroups (set on librdkafka's threads) */
    char reason[512];      /* "" or why this replica is idle or lopsided (for /readyz, /status) */
    struct kt_log_limit rl;
};

struct consumer {
    const struct process_conf *conf;
    struct ev_loop *loop;
    consumer_msg_fn on_msg;
    consumer_revoke_fn on_revoke;
    void *ctx;

    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    struct dead_letter *dl;
    struct topics *sel;    /* which topics each signal reads */
    struct topic **topics; /* what is read now; index in struct part.topic */
    size_t n_topics;
    bool subscribed_any; /* a subscription was made */

    int pipe_rd, pipe_wr;
    ev_io io;
    ev_timer kick; /* 0 s: store watermarks / keep polling on the next iteration */
    ev_timer hold; /* HOLD_MAX_S after a hold began: pause for real */
    bool more;     /* a poll budget ran out with events left */
    struct fetch_stall stall;
    struct fetch_wait wait; /* on the fetcher while there was more to fetch */

    struct part *parts; /* slots; a slot index is part of every handle */
    size_t n_parts;
    uint32_t *dirty; /* slots to store */
    size_t n_dirty, cap_dirty;

    size_t pending;
    bool held;   /* backpressure: nothing handed out (HOLD_MAX_S) */
    bool paused; /* every partition paused in librdkafka: a hold that lasted, or shutdown */
    bool shutting_down, closing;
    unsigned sig_paused; /* bit 1 << signal: that signal's partitions paused on their own */
    bool coop_conf;      /* cooperative-sticky configured */
    bool assigned;       /* a first assignment arrived (see abandon) */
    struct consumer *abandoned_next;

    struct kt_log_limit err_rl, dl_rl, store_rl, overlap_rl;
    struct topic_watch watch;
    struct consumer_stats st;
    /* With statistics on: a handle on each topic (struct topic.stats_rkt), so that the
     * statistics list its partitions (and /readyz can count them) also while the group
     * assigns none here. */
    bool stats_on;
    /* auto.offset.reset is earliest, as configured in the end (initial_offset, replay or the
     * passthrough): a partition with no offset stored or committed is read from its log
     * start (stats_lag). */
    bool from_earliest;
    struct backlog backlog;
    ev_tstamp paused_at; /* loop time consumption was last held or paused */
    ev_tstamp stats_at;  /* loop time of the last statistics */
    struct replica replica;
};

/* ---- partitions and handles ---- */

/* The index of a topic read, or -1. */
static int topic_find(const struct consumer *c, const char *name)
{
    for (size_t i = 0; i < c->n_topics; i++)
        if (strcmp(c->topics[i]->name, name) == 0)
            return (int)i;
    return -1;
}

static const char *part_topic(const struct consumer *c, const struct part *p)
{
    return c->topics[p->topic]->name;
}

static struct part *lookup(const struct consumer *c, int t, int32_t partition)
{
    if (t < 0 || partition < 0 || (size_t)partition >= c->topics[t]->n_slot_of)
        return NULL;
    uint32_t s = c->topics[t]->slot_of[partition];
    return s == 0 ? NULL : &c->parts[s - 1];
}

static struct part *lookup_topic(const struct consumer *c, const char *topic, int32_t partition)
{
    return lookup(c, topic_find(c, topic), partition);
}

/* Adds a topic to read. Returns its index, or -1 when out of memory or over MAX_TOPICS. */
static int topic_add(struct consumer *c, const char *name, enum kt_signal sig)
{
    if (c->n_topics == MAX_TOPICS)
        return -1;
    struct topic **v = realloc(c->topics, (c->n_topics + 1) * sizeof(*v));
    if (v == NULL)
        return -1;
    c->topics = v;
    struct topic *t = calloc(1, sizeof(*t));
    if (t == NULL || (t->name = strdup(name)) == NULL) {
        free(t);
        return -1;
    }
    t->sig = sig;
    t->rl = (struct kt_log_limit)KT_LOG_LIMIT(LOG_INTERVAL, 1);
    if (c->stats_on && c->rk != NULL)
        /* NULL (out of memory) only leaves the partition count of /readyz and the replica
         * description unknown. */
        t->stats_rkt = rd_kafka_topic_new(c->rk, name, NULL);
    c->topics[c->n_topics++] = t;
    return (int)c->n_topics - 1;
}

static uint64_t make_handle(const struct consumer *c, const struct part *p, int64_t offset)
{
    uint64_t slot = (uint64_t)(p - c->parts);
    return slot << (H_OFF_BITS + H_GEN_BITS) | ((uint64_t)p->gen & H_GEN_MASK) << H_OFF_BITS |
           ((uint64_t)offset & H_OFF_MASK);
}

/* The partition and full offset a handle names, or NULL when it is stale or unknown. */
static struct part *resolve(const struct consumer *c, uint64_t h, int64_t *offset)
{
    uint64_t slot = h >> (H_OFF_BITS + H_GEN_BITS);
    if (slot >= c->n_parts)
        return NULL;
    struct part *p = &c->parts[slot];
    if (!p->used || (p->gen & H_GEN_MASK) != ((h >> H_OFF_BITS) & H_GEN_MASK))
        return NULL;
    int64_t next = offsets_next(&p->ot);
    if (next <= 0)
        return NULL;
    uint64_t last = (uint64_t)next - 1;
    *offset = (int64_t)(last - ((last - (h & H_OFF_MASK)) & H_OFF_MASK));
    return p;
}

static void arm_kick_after(struct consumer *c, ev_tstamp after)
{
    if (!c->closing && !ev_is_active(&c->kick)) {
        ev_timer_set(&c->kick, after, 0.);
        ev_timer_start(c->loop, &c->kick);
    }
}

static void arm_kick(struct consumer *c)
{
    arm_kick_after(c, 0.);
}

static void mark_dirty(struct consumer *c, struct part *p)
{
    if (p->dirty)
        return;
    if (c->n_dirty == c->cap_dirty) {
        size_t cap = c->cap_dirty ? c->cap_dirty * 2 : 16;
        uint32_t *v = realloc(c->dirty, cap * sizeof(*v));
        if (v == NULL)
            return; /* tried again at its next finish; revoke and close commit anyway */
        c->dirty = v;
        c->cap_dirty = cap;
    }
    c->dirty[c->n_dirty++] = (uint32_t)(p - c->parts);
    p->dirty = true;
    arm_kick(c);
}

/* A slot for a newly assigned partition of topic index ti. Returns NULL when out of memory
 * or slots. */
static struct part *part_add(struct consumer *c, int ti, int32_t partition)
{
    if (partition < 0 || ti < 0)
        return NULL;
    struct part *p = lookup(c, ti, partition);
    if (p != NULL)
        return p;
    struct topic *t = c->topics[ti];
    if ((size_t)partition >= t->n_slot_of) {
        size_t n =
            (size_t)partition + 1 > 2 * t->n_slot_of ? (size_t)partition + 1 : 2 * t->n_slot_of;
        uint32_t *v = realloc(t->slot_of, n * sizeof(*v));
        if (v == NULL)
            return NULL;
        memset(v + t->n_slot_of, 0, (n - t->n_slot_of) * sizeof(*v));
        t->slot_of = v;
        t->n_slot_of = n;
    }
    size_t s = 0;
    while (s < c->n_parts && c->parts[s].used)
        s++;
    if (s == c->n_parts) {
        if (c->n_parts == MAX_SLOTS)
            return NULL;
        struct part *v = realloc(c->parts, (c->n_parts + 1) * sizeof(*v));
        if (v == NULL)
            return NULL;
        c->parts = v;
        memset(&c->parts[s], 0, sizeof(c->parts[s]));
        offsets_init(&c->parts[s].ot);
        c->n_parts++;
    }
    p = &c->parts[s];
    p->used = true;
    p->dirty = false;
    p->frozen = false;
    p->lag = -1;
    p->sampled = (struct backlog_part){0};
    p->range = NULL;
    p->sig = t->sig;
    p->topic = (uint32_t)ti;
    p->partition = partition;
    t->slot_of[partition] = (uint32_t)s + 1;
    return p;
}

/* Forgets the partition: its unfinished messages count no more, its handles go stale. */
static void part_drop(struct consumer *c, struct part *p)
{
    c->pending -= offsets_pending(&p->ot);
    offsets_reset(&p->ot);
    p->gen++;
    p->used = false;
    p->frozen = false;
    c->topics[p->topic]->slot_of[p->partition] = 0;
}

/* Partitions assigned, of topic index t (all when t < 0). */
static size_t count_assigned(const struct consumer *c, int t)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_parts; i++)
        n += c->parts[i].used && (t < 0 || (int)c->parts[i].topic == t);
    return n;
}

/* ---- storing and committing ---- */

static void store_dirty(struct consumer *c)
{
    if (c->n_dirty == 0)
        return;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->n_dirty);
    for (size_t i = 0; i < c->n_dirty; i++) {
        struct part *p = &c->parts[c->dirty[i]];
        if (!p->dirty)
            continue;
        p->dirty = false;
        if (!p->used)
            continue;
        int64_t w = offsets_watermark(&p->ot);
        if (w >= 0)
            rd_kafka_topic_partition_list_add(l, part_topic(c, p), p->partition)->offset = w;
    }
    c->n_dirty = 0;
    if (l->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_offsets_store(c->rk, l);
        for (int i = 0; i < l->cnt; i++)
            if (l->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
                e = l->elems[i].err;
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            kt_log_limited(&c->store_rl, KT_LOG_WARN, "kafka: storing offsets failed: %s",
                           rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Commits the watermark of every partition in `l` that we track (all of ours when l is
 * NULL), synchronously. Returns 0 or KT_EIO. */
static int commit_watermarks(struct consumer *c, const rd_kafka_topic_partition_list_t *l)
{
    rd_kafka_topic_partition_list_t *w = rd_kafka_topic_partition_list_new(l ? l->cnt : 8);
    if (l != NULL) {
        for (int i = 0; i < l->cnt; i++) {
            struct part *p = lookup_topic(c, l->elems[i].topic, l->elems[i].partition);
            int64_t pos = p ? offsets_position(&p->ot) : -1;
            if (pos >= 0)
                rd_kafka_topic_partition_list_add(w, l->elems[i].topic, l->elems[i].partition)
                    ->offset = pos;
        }
    } else {
        for (size_t i = 0; i < c->n_parts; i++) {
            struct part *p = &c->parts[i];
            int64_t pos = p->used ? offsets_position(&p->ot) : -1;
            if (pos >= 0)
                rd_kafka_topic_partition_list_add(w, part_topic(c, p), p->partition)->offset = pos;
        }
    }
    int rc = 0;
    if (w->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_commit(c->rk, w, 0);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            kt_warn("kafka: committing offsets of %d partitions failed: %s (the next owner "
                    "reads their unfinished tail again)",
                    w->cnt, rd_kafka_err2str(e));
            rc = KT_EIO;
        }
    }
    rd_kafka_topic_partition_list_destroy(w);
    return rc;
}

/* ---- pausing ---- */

/* Pauses or resumes the partitions in l. One librdkafka does not know yet (not in its
 * metadata) is added to unknown when given, else its error is logged like any other. */
static void apply_pause(struct consumer *c, rd_kafka_topic_partition_list_t *l, bool pause,
                        rd_kafka_topic_partition_list_t *unknown)
{
    if (l->cnt == 0)
        return;
    rd_kafka_resp_err_t e =
        pause ? rd_kafka_pause_partitions(c->rk, l) : rd_kafka_resume_partitions(c->rk, l);
    for (int i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < l->cnt; i++) {
        const rd_kafka_topic_partition_t *t = &l->elems[i];
        if (unknown != NULL && t->err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
            rd_kafka_topic_partition_list_add(unknown, t->topic, t->partition);
        else
            e = t->err;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        kt_log_limited(&c->err_rl, KT_LOG_WARN, "kafka: %s partitions failed: %s",
                       pause ? "pausing" : "resuming", rd_kafka_err2str(e));
}

/* Whether p must not be fetched: everything is paused, its signal is, or it is frozen (a
 * frozen partition stays paused until it is given up). */
static bool part_paused(const struct consumer *c, const struct part *p)
{
    return c->paused || c->shutting_down || p->frozen || (c->sig_paused & (1u << p->sig)) != 0;
}

/* Wakes librdkafka's fetcher for the partitions of the signals in sigs (a mask of 1 <<
 * signal) that may be fetched: it stopped for a full queue that is empty now (fetch_stall.h),
 * or they were just resumed (librdkafka 2.0.2 resumes a partition without waking the thread
 * that fetches it). Either way it would fetch again only within a second. Seeking each to
 * the offset after the last one handed out wakes the broker threads, which then fetch at
 * once. Nothing is skipped or handed out twice: the seek drops what the queue holds of the
 * partition (nothing, when called) and any response still on its way, which is fetched
 * again from that same offset. */
static void wake_fetcher(struct consumer *c, unsigned sigs)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->n_parts + 1);
    for (size_t i = 0; i < c->n_parts; i++) {
        const struct part *p = &c->parts[i];
        if (p->used && (sigs & (1u << p->sig)) != 0 && !part_paused(c, p) &&
            offsets_next(&p->ot) >= 0)
            rd_kafka_topic_partition_list_add(l, part_topic(c, p), p->partition)->offset =
                offsets_next(&p->ot);
    }
    if (l->cnt > 0) {
        rd_kafka_error_t *e = rd_kafka_seek_partitions(c->rk, l, 0);
        if (e != NULL) {
            kt_log_limited(&c->err_rl, KT_LOG_WARN, "kafka: waking the fetcher failed: %s",
                           rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        } else {
            c->st.fetch_wakes++;
        }
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Pauses, or resumes where nothing else holds them (and wakes the fetcher for), the
 * partitions of the signals in sigs (a mask of 1 << signal). */
static void pause_signals(struct consumer *c, unsigned sigs, bool pause)
{
    fetch_wait_cancel(&c->wait);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)c->n_parts + 1);
    for (size_t i = 0; i < c->n_parts; i++) {
        const struct part *p = &c->parts[i];
        if (p->used && (sigs & (1u << p->sig)) != 0 && pause == part_paused(c, p))
            rd_kafka_topic_partition_list_add(l, part_topic(c, p), p->partition);
    }
    apply_pause(c, l, pause, NULL);
    rd_kafka_topic_partition_list_destroy(l);
    if (!pause)
        wake_fetcher(c, sigs);
}

static void pause_all(struct consumer *c, bool pause)
{
    pause_signals(c, ~0u, pause);
}

/* ---- the group's description ----
 *
 * Only the group's leader knows the other members and their assignments, so they are asked
 * for (group_desc.h: on a thread of its own, never with the admin API, whose requests abort
 * the process when a broker restarts) a moment after each rebalance event here. Nothing
 * blocks the loop. A rebalance elsewhere in the group that leaves this replica's assignment
 * unchanged (cooperative) brings no event here and no new description. */

static void describe_group(struct consumer *c)
{
    struct replica *r = &c->replica;
    /* A cluster without DescribeGroups (the devbroker's mock cluster) cannot answer, and
     * each try would hold the describing thread for DESCRIBE_TIMEOUT_MS: not asked. */
    if (!atomic_load(&r->supported))
        return;
    if (r->in_flight) {
        r->again = true;
        return;
    }
    if (r->gd == NULL || !group_desc_ask(r->gd))
        return;
    r->asked_gen = c->st.rebalances;
    r->in_flight = true;
    r->again = false;
}

static void describe_delay_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    describe_group(w->data);
}

/* (Re)starts the delay before the next description. */
static void describe_soon(struct consumer *c)
{
    if (c->closing || c->replica.gd == NULL)
        return;
    ev_timer_stop(c->loop, &c->replica.delay);
    ev_timer_set(&c->replica.delay, DESCRIBE_DELAY_S, 0.);
    ev_timer_start(c->loop, &c->replica.delay);
}

/* "a, b" from the subscribed topics. */
static void topic_names(const struct consumer *c, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < c->n_topics && n < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s%s", n > 0 ? ", " : "", c->topics[i]->name);
        n += w > 0 ? (size_t)w : 0;
    }
}

/* Partitions of the subscribed topics in a member's assignment. */
static int32_t member_partitions(const struct consumer *c, const struct group_member *m)
{
    const rd_kafka_topic_partition_list_t *l = m->assigned;
    int32_t n = 0;
    for (int i = 0; l != NULL && i < l->cnt; i++)
        n += topic_find(c, l->elems[i].topic) >= 0;
    return n;
}

/* Sets replica.reason (and .idle) from a stable group's description g; returns false when g
 * does not list this member (it is still joining, or being replaced). */
/* Sets r->reason; one too long (a long group or topic name) ends in "...". */
static void set_reason(struct replica *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_reason(struct replica *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(r->reason))
        memcpy(r->reason + sizeof(r->reason) - 4, "...", 4);
}

static bool judge_replica(struct consumer *c, const struct group_desc_result *g)
{
    struct replica *r = &c->replica;
    char *me = rd_kafka_memberid(c->rk);
    size_t members = g->n_members;
    int32_t mine = -1, total = 0, least = INT32_MAX;
    char peers[160] = "";
    size_t np = 0;
    for (size_t i = 0; i < members; i++) {
        int32_t n = member_partitions(c, &g->members[i]);
        total += n;
        if (me != NULL && strcmp(g->members[i].id, me) == 0) {
            mine = n;
            continue;
        }
        least = n < least ? n : least;
        if (np < sizeof(peers)) {
            int w = snprintf(peers + np, sizeof(peers) - np, "%s%" PRId32, np > 0 ? ", " : "", n);
            np += w > 0 ? (size_t)w : 0;
        }
    }
    if (me != NULL)
        rd_kafka_mem_free(c->rk, me);
    if (mine < 0)
        return false;
    /* Partitions nobody was given yet (just created) count too when the statistics know them. */
    int32_t known = 0;
    for (size_t i = 0; i < c->n_topics; i++)
        known += c->topics[i]->partitions;
    int32_t parts = known > total ? known : total;
    char topics[320];
    topic_names(c, topics, sizeof(topics));
    const char *ps = parts == 1 ? "" : "s", *ts = strchr(topics, ',') ? "s" : "";
    r->idle = mine == 0 && count_assigned(c, -1) == 0;
    double avg = members > 0 ? (double)parts / (double)members : 0;
    if (r->idle)
        set_reason(r,
                   "group \"%s\" assigned this replica no partitions: %zu members share %" PRId32
                   " partition%s of topic%s %s; %s",
                   c->conf->kafka.group_id, members, parts, ps, ts, topics,
                   (size_t)parts < members
                       ? "replicas beyond the partition count stay idle (add partitions or run "
                         "fewer replicas)"
                       : "the assignor gave the others all of them (see [kafka] "
                         "group_rebalance_strategy)");
    else if (members >= 2 && mine > LOPSIDED_FACTOR * avg && mine >= least + LOPSIDED_MIN_EXTRA)
        set_reason(r,
                   "group \"%s\" gives this replica %" PRId32 " of the %" PRId32
                   " partition%s of topic%s %s, over %d times the average of %.1f per member "
                   "(its %zu peers have %s); it drains its share of a backlog last (more "
                   "partitions per topic, or [kafka] group_rebalance_strategy = roundrobin or "
                   "cooperative-sticky with several topics, spread them better)",
                   c->conf->kafka.group_id, mine, parts, ps, ts, topics, LOPSIDED_FACTOR, avg,
                   members - 1, peers);
    else
        r->reason[0] = '\0';
    return true;
}

/* group_desc_fn, on the loop. */
static void describe_result(void *ctx, const struct group_desc_result *g)
{
    struct consumer *c = ctx;
    struct replica *r = &c->replica;
    r->in_flight = false;
    if (c->closing)
        return;
    if (g->error != NULL) {
        kt_log_limited(&r->rl, KT_LOG_WARN,
                       "kafka: describing consumer group \"%s\" failed: %s; whether replicas "
                       "sit idle or unevenly loaded is not known",
                       c->conf->kafka.group_id, g->error);
        /* A broker restarting or unreachable for a moment: ask again, as long as for a
         * group that does not settle. */
        if (++r->retries <= DESCRIBE_RETRIES)
            describe_soon(c);
        goto out;
    }
    /* While the group rebalances, the assignments listed are the old ones (or none): ask
     * again once it has settled. */
    if (strcmp(g->state, "Stable") != 0 || !judge_replica(c, g)) {
        if (++r->retries <= DESCRIBE_RETRIES)
            describe_soon(c);
        goto out;
    }
    if (r->reason[0] != '\0' && r->logged_gen != r->asked_gen + 1) {
        r->logged_gen = r->asked_gen + 1;
        kt_warn("kafka: %s", r->reason);
    }
out:
    if (r->again)
        describe_group(c);
}

/* Which APIs the brokers support is logged by librdkafka (debug context "feature", facility
 * APIVERSION, see kt_kafka_probe.h) and nowhere else; the rest goes to the log as before.
 * Called on librdkafka's threads. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    if (strcmp(fac, "APIVERSION") == 0) {
        char broker[256];
        int key = 0, max = 0;
        struct consumer *c = rd_kafka_opaque(rk);
        if (kt_kafka_apiv_parse(buf, broker, sizeof(broker), &key, &max) == KT_KAFKA_APIV_KEY &&
            key == API_DESCRIBE_GROUPS && c != NULL)
            atomic_store(&c->replica.supported, true);
    }
    kt_kafka_log_cb(rk, level, fac, buf);
}

/* ---- rebalancing ---- */

static void revoke_parts(struct consumer *c, const rd_kafka_topic_partition_list_t *l, bool lost)
{
    if (!c->closing && c->on_revoke != NULL)
        for (int i = 0; i < l->cnt; i++) {
            const struct part *p = lookup_topic(c, l->elems[i].topic, l->elems[i].partition);
            if (p != NULL)
                c->on_revoke(c->ctx, part_topic(c, p), p->partition);
        }
    /* Lost partitions belong to someone else already: a commit would be refused.
     * consumer_close committed everything just before leaving. */
    if (!lost && !c->closing)
        commit_watermarks(c, l);
    for (int i = 0; i < l->cnt; i++) {
        struct part *p = lookup_topic(c, l->elems[i].topic, l->elems[i].partition);
        if (p != NULL)
            part_drop(c, p);
    }
}

static void drop_all(struct consumer *c)
{
    for (size_t i = 0; i < c->n_parts; i++)
        if (c->parts[i].used) {
            if (!c->closing && c->on_revoke != NULL)
                c->on_revoke(c->ctx, part_topic(c, &c->parts[i]), c->parts[i].partition);
            part_drop(c, &c->parts[i]);
        }
}

static void assign_parts(struct consumer *c, rd_kafka_topic_partition_list_t *l, bool coop)
{
    for (int i = 0; i < l->cnt; i++) {
        struct part *p = part_add(c, topic_find(c, l->elems[i].topic), l->elems[i].partition);
        if (p == NULL)
            /* Taken anyway (refusing would stall the group) but kept paused and never
             * committed, so the partition is read by its next owner. */
            kt_error("kafka: cannot track %s [%" PRId32 "] (out of memory or over %u "
                     "partitions); its messages are left for the next owner",
                     l->elems[i].topic, l->elems[i].partition, MAX_SLOTS);
    }
    /* librdkafka keeps a partition's pause across losing and regaining it: one paused while
     * the exporter was congested, lost in a session timeout and assigned again after the
     * congestion ended would never be fetched. So every partition is set either way, and
     * before it is assigned: a pause or resume takes a newer version than a fetch start
     * already on its way to the partition, and librdkafka 2.0.2 then drops that start as
     * outdated, so a partition resumed just as its fetch started was never fetched (its
     * debug log: "received outdated op FETCH_START"). A partition librdkafka does not know
     * yet has no pause to undo; one of those to pause is paused after the assignment. A
     * pause or resume by backpressure later can still meet a fetch start, but only between
     * librdkafka numbering that start and queueing it, a few instructions apart. */
    rd_kafka_topic_partition_list_t *pl = rd_kafka_topic_partition_list_new(l->cnt);
    rd_kafka_topic_partition_list_t *rl = rd_kafka_topic_partition_list_new(l->cnt);
    rd_kafka_topic_partition_list_t *later = rd_kafka_topic_partition_list_new(l->cnt);
    for (int i = 0; i < l->cnt; i++) {
        const struct part *p = lookup_topic(c, l->elems[i].topic, l->elems[i].partition);
        rd_kafka_topic_partition_list_add(p == NULL || part_paused(c, p) ? pl : rl,
                                          l->elems[i].topic, l->elems[i].partition);
    }
    apply_pause(c, pl, true, later);
    rd_kafka_topic_partition_list_t *ignored = rd_kafka_topic_partition_list_new(rl->cnt);
    apply_pause(c, rl, false, ignored);
    rd_kafka_topic_partition_list_destroy(ignored);
    if (coop) {
        rd_kafka_error_t *e = rd_kafka_incremental_assign(c->rk, l);
        if (e != NULL) {
            kt_error("kafka: incremental assign failed: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
        }
    } else {
        rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, l);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            kt_error("kafka: assign failed: %s", rd_kafka_err2str(e));
    }
    apply_pause(c, later, true, NULL);
    rd_kafka_topic_partition_list_destroy(later);
    rd_kafka_topic_partition_list_destroy(pl);
    rd_kafka_topic_partition_list_destroy(rl);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *l, void *opaque)
{
    struct consumer *c = opaque;
    /* rd_kafka_rebalance_protocol can block while the handle closes (librdkafka #4041);
     * then the configured strategy says the same. */
    bool coop =
        c->closing ? c->coop_conf : strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    c->st.rebalances++;
    fetch_wait_cancel(&c->wait);
    /* The lag of another set of partitions compares with nothing before. */
    backlog_restart(&c->backlog);
    c->replica.retries = 0;
    describe_soon(c);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        c->assigned = true;
        kt_info("kafka: assigned %d partitions (%s)", l->cnt, coop ? "cooperative" : "eager");
        assign_parts(c, l, coop);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
        bool lost = rd_kafka_assignment_lost(rk) != 0;
        kt_info("kafka: %s %d partitions", lost ? "lost" : "revoked", l->cnt);
        revoke_parts(c, l, lost);
        if (coop) {
            rd_kafka_error_t *e = rd_kafka_incremental_unassign(rk, l);
            if (e != NULL) {
                kt_error("kafka: incremental unassign failed: %s", rd_kafka_error_string(e));
                rd_kafka_error_destroy(e);
            }
        } else {
            /* Eager: the whole assignment goes, whatever the list says. */
            drop_all(c);
            rd_kafka_assign(rk, NULL);
        }
        return;
    }
    kt_error("kafka: rebalance failed: %s; dropping the assignment", rd_kafka_err2str(err));
    drop_all(c);
    rd_kafka_assign(rk, NULL);
}

/* ---- the topics read: missing ones, and those a regex finds ---- */

static void warn_missing(struct consumer *c, struct topic *t)
{
    char brokers[512];
    kt_kafka_brokers_join(&c->conf->kafka.brokers, brokers, sizeof(brokers));
    kt_log_limited(&t->rl, KT_LOG_WARN,
                   "kafka: [kafka] %s: topic \"%s\" does not exist on the cluster at %s "
                   "(auto-create is off?); it is consumed once it is created (looked for every "
                   "%ds)",
                   topics_keys[t->sig], t->name, brokers, MISSING_CHECK_S);
}

/* Subscribes to every topic read (replacing the subscription): after a regex found a new
 * one. Nothing while there is none yet (a regex that matches nothing so far). */
static void subscribe_all(struct consumer *c)
{
    if (c->n_topics == 0 || c->closing)
        return;
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new((int)c->n_topics);
    for (size_t i = 0; i < c->n_topics; i++)
        rd_kafka_topic_partition_list_add(sub, c->topics[i]->name, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        kt_error("kafka: subscribing to %zu topics failed: %s", c->n_topics, rd_kafka_err2str(e));
    else
        c->subscribed_any = true;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* The names of the cluster's topics, or false when the metadata request failed. */
static bool list_topics(rd_kafka_t *rk, char ***out, size_t *n_out)
{
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 1, NULL, &md, MISSING_METADATA_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return false;
    char **v = calloc((size_t)md->topic_cnt + 1, sizeof(*v));
    size_t n = 0;
    for (int i = 0; v != NULL && i < md->topic_cnt; i++) {
        if (md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
            continue;
        if ((v[n] = strdup(md->topics[i].topic)) == NULL) {
            free_names(v, n);
            v = NULL;
            break;
        }
        n++;
    }
    rd_kafka_metadata_destroy(md);
    *out = v;
    *n_out = n;
    return v != NULL;
}

static void *watch_main(void *arg)
{
    struct consumer *c = arg;
    struct topic_watch *w = &c->watch;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        if (!w->active) {
            pthread_cond_wait(&w->cv, &w->mu);
            continue;
        }
        if (!w->now) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += MISSING_CHECK_S;
            while (!w->stop && !w->now && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) {
            }
        }
        w->now = false;
        if (w->stop)
            break;
        pthread_mutex_unlock(&w->mu);
        char **names = NULL;
        size_t n = 0;
        bool ok = list_topics(c->rk, &names, &n);
        pthread_mutex_lock(&w->mu);
        if (!ok)
            continue;
        free_names(w->names, w->n_names);
        w->names = names;
        w->n_names = n;
        if (!w->stop)
            ev_async_send(c->loop, &w->wake);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Whether the watch has something to look for: a listed topic missing, or a regex. */
static bool watch_needed(const struct consumer *c)
{
    if (topics_any_regex(c->sel))
        return true;
    for (size_t i = 0; i < c->n_topics; i++)
        if (c->topics[i]->missing)
            return true;
    return false;
}

static bool has_name(char *const *v, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], name) == 0)
            return true;
    return false;
}

/* On the loop, after each listing of the watch. */
static void watch_wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)loop;
    (void)revents;
    struct consumer *c = a->data;
    struct topic_watch *w = &c->watch;
    pthread_mutex_lock(&w->mu);
    char **names = w->names;
    size_t n = w->n_names;
    w->names = NULL;
    w->n_names = 0;
    pthread_mutex_unlock(&w->mu);
    if (names == NULL || c->closing)
        goto out;
    for (size_t i = 0; i < c->n_topics; i++) {
        struct topic *t = c->topics[i];
        bool there = has_name(names, n, t->name);
        /* A topic a regex found and that was deleted since: not looked for. */
        if (!there && topics_is_regex(c->sel, t->sig))
            continue;
        if (t->missing && there)
            kt_info("kafka: [kafka] %s: topic \"%s\" exists now; its partitions are consumed "
                    "once the group assigns them",
                    topics_keys[t->sig], t->name);
        else if (!there)
            warn_missing(c, t);
        t->missing = !there;
    }
    bool added = false;
    for (size_t i = 0; i < n; i++) {
        if (topic_find(c, names[i]) >= 0)
            continue;
        int sig = topics_signal_of(c->sel, names[i]);
        if (sig == -2) {
            kt_log_limited(&c->overlap_rl, KT_LOG_WARN,
                           "kafka: topic \"%s\" matches the ^regex of two signals' topics; it "
                           "is not consumed (exclude it from one with [kafka] "
                           "*_exclude_topics)",
                           names[i]);
            continue;
        }
        if (sig < 0 || !topics_is_regex(c->sel, (enum kt_signal)sig))
            continue;
        if (topic_add(c, names[i], (enum kt_signal)sig) < 0) {
            kt_error("kafka: cannot read topic \"%s\" (out of memory or over %d topics)", names[i],
                     MAX_TOPICS);
            continue;
        }
        kt_info("kafka: [kafka] %s: topic \"%s\" matches; subscribing to it", topics_keys[sig],
                names[i]);
        added = true;
    }
    if (added)
        subscribe_all(c);
    if (!watch_needed(c)) {
        pthread_mutex_lock(&w->mu);
        w->active = false;
        pthread_mutex_unlock(&w->mu);
    }
out:
    free_names(names, n);
}

/* Starts listing the cluster's topics (the first time at once when now). */
static void watch_start(struct consumer *c, bool now)
{
    struct topic_watch *w = &c->watch;
    if (!w->started) {
        int e = pthread_create(&w->thread, NULL, watch_main, c);
        if (e != 0) {
            kt_error("kafka: cannot start looking for topics: %s", strerror(e));
            return;
        }
        w->started = true;
        ev_async_start(c->loop, &w->wake);
        /* An async watcher alone must not keep the loop running at shutdown. */
        ev_unref(c->loop);
    }
    pthread_mutex_lock(&w->mu);
    w->active = true;
    w->now |= now;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* A listed topic is missing: warn, and look for it until it is there. */
static void watch_missing(struct consumer *c, int ti)
{
    struct topic *t = c->topics[ti];
    if (topics_is_regex(c->sel, t->sig))
        return; /* deleted after the regex found it; a new one is found by the listing */
    t->missing = true;
    warn_missing(c, t);
    watch_start(c, false);
}

static void watch_stop(struct consumer *c)
{
    struct topic_watch *w = &c->watch;
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    ev_ref(c->loop);
    ev_async_stop(c->loop, &w->wake);
    w->started = false;
}

/* ---- replay (consumer_replay) ---- */

static void replay_range_done(struct consumer *c, struct part *p)
{
    struct consumer_range *r = p->range;
    if (r->done)
        return;
    r->done = true;
    r->next = r->end;
    /* Frozen: nothing at or past end is handed out, and the partition stays paused. */
    p->frozen = true;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, part_topic(c, p), p->partition);
    apply_pause(c, l, true, NULL);
    rd_kafka_topic_partition_list_destroy(l);
    if (++c->conf->replay->n_done == c->conf->replay->n && c->conf->replay->finished != NULL)
        c->conf->replay->finished(c->conf->replay->arg);
}

/* The end of a partition (enable.partition.eof, on in replay only): one whose end is the
 * high watermark read at the start is done there, even when its last offsets were no
 * messages (transaction markers, compacted away). */
static void replay_eof(struct consumer *c, const char *topic, int32_t partition, int64_t offset)
{
    struct part *p = c->conf->replay != NULL ? lookup_topic(c, topic, partition) : NULL;
    if (p != NULL && p->range != NULL && offset >= p->range->end)
        replay_range_done(c, p);
}

/* Assigns the ranges with something to read at their start offsets, in place of
 * subscribing. Returns 0, KT_ENOMEM (no slot to track one) or KT_EIO. */
static int replay_assign(struct consumer *c, struct kt_err *err)
{
    struct consumer_replay *rp = c->conf->replay;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)rp->n + 1);
    int rc = 0;
    rp->n_done = 0;
    for (size_t i = 0; i < rp->n && rc == 0; i++) {
        struct consumer_range *r = &rp->ranges[i];
        r->done = r->start >= r->end;
        r->next = r->done ? r->end : r->start;
        if (r->done) {
            rp->n_done++;
            continue;
        }
        /* A regex's matches are not among the listed topics: read from here on. */
        int ti = topic_find(c, r->topic);
        if (ti < 0)
            ti = topic_add(c, r->topic, r->sig);
        struct part *p = part_add(c, ti, r->partition);
        if (p == NULL) {
            rc = kt_err_set(err, KT_ENOMEM,
                            "replay: cannot track %s [%" PRId32 "] (out of memory, or over %d "
                            "topics or %u partitions)",
                            r->topic, r->partition, MAX_TOPICS, MAX_SLOTS);
            break;
        }
        p->range = r;
        rd_kafka_topic_partition_list_add(l, part_topic(c, p), r->partition)->offset = r->start;
    }
    if (rc == 0 && l->cnt > 0) {
        rd_kafka_resp_err_t e = rd_kafka_assign(c->rk, l);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            rc = kt_err_set(err, KT_EIO, "replay: assigning %d partitions failed: %s", l->cnt,
                            rd_kafka_err2str(e));
    }
    c->assigned = true;
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* ---- consuming ---- */

static void on_message(struct consumer *c, const rd_kafka_message_t *m)
{
    const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* "Subscribed topic not available": the topic was deleted, or the startup check
         * could not look for it. */
        if ((m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
             m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) &&
            topic_find(c, topic) >= 0) {
            watch_missing(c, topic_find(c, topic));
            return;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            replay_eof(c, topic, m->partition, m->offset);
        else
            kt_log_limited(&c->err_rl, KT_LOG_WARN, "kafka: consuming %s [%" PRId32 "]: %s", topic,
                           m->partition, rd_kafka_message_errstr(m));
        return;
    }
    struct part *p = lookup_topic(c, topic, m->partition);
    if (p == NULL || p->frozen)
        return;
    /* Below the last handed-out offset: a re-fetch (offset reset) of what this assignment
     * already handed out; those are finished or pending, never to be handed out twice. */
    if (m->offset < offsets_next(&p->ot))
        return;
    if (p->range != NULL && m->offset >= p->range->end) {
        replay_range_done(c, p);
        return;
    }
    if (offsets_track(&p->ot, m->offset) != 0) {
        /* Not tracked, so it must not be handed out, and nothing after it either: later
         * finishes would otherwise move the watermark past it. The partition stays
         * paused until it is given up; the next owner reads on from the watermark. */
        kt_error("kafka: out of memory tracking %s [%" PRId32 "] offset %" PRId64
                 "; the partition is paused until it is reassigned",
                 topic, m->partition, m->offset);
        p->frozen = true;
        rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(l, topic, m->partition);
        apply_pause(c, l, true, NULL);
        rd_kafka_topic_partition_list_destroy(l);
        return;
    }
    c->pending++;
    c->st.messages++;
    fetch_stall_polled(&c->stall, m->len);
    /* The first offset of an ownership is stored at once: for a group with no commit yet
     * it pins where a restart resumes, even if nothing finishes before a crash. */
    if (p->ot.reported < 0)
        mark_dirty(c, p);
    struct consumer_msg cm = {
        .sig = p->sig,
        .topic = part_topic(c, p),
        .partition = m->partition,
        .offset = m->offset,
        .key = {m->key, m->key_len},
        .value = {m->payload, m->len},
        .handle = make_handle(c, p, m->offset),
        .rkm = m,
    };
    if (p->range != NULL)
        p->range->next = m->offset + 1;
    c->on_msg(c->ctx, &cm);
    if (p->range != NULL && m->offset + 1 >= p->range->end)
        replay_range_done(c, p);
}

/* Whether a partition that may be fetched has messages past the last one handed out, by
 * the high watermark of librdkafka's last fetch of it (cached: no request). A partition
 * nothing was handed out of yet does not count: where it starts is not known here. */
static bool lagging(const struct consumer *c)
{
    for (size_t i = 0; i < c->n_parts; i++) {
        const struct part *p = &c->parts[i];
        int64_t lo, hi, next = offsets_next(&p->ot);
        if (p->used && next >= 0 && !part_paused(c, p) &&
            rd_kafka_get_watermark_offsets(c->rk, part_topic(c, p), p->partition, &lo, &hi) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            hi > next)
            return true;
    }
    return false;
}

/* Held and not paused yet: the queue is left as it is (HOLD_MAX_S). */
static bool holding(const struct consumer *c)
{
    return c->held && !c->paused;
}

static void poll_all(struct consumer *c)
{
    c->more = dead_letter_poll(c->dl);
    if (holding(c))
        goto held;
    fetch_stall_queued(&c->stall, rd_kafka_queue_length(c->q));
    int i;
    bool empty = false;
    for (i = 0; i < POLL_BATCH && !c->closing && !holding(c); i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, 0);
        if (m == NULL) {
            empty = true;
            break;
        }
        if (c->wait.since > 0 && m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
            fetch_wait_end(&c->wait, ev_time());
        on_message(c, m);
        rd_kafka_message_destroy(m);
    }
    if (holding(c))
        goto held;
    /* The queue ran empty with more to fetch: what follows is waiting on the fetcher. */
    if (empty && c->wait.since == 0 && !c->paused && !c->shutting_down && !c->closing && lagging(c))
        fetch_wait_begin(&c->wait, ev_time());
    /* librdkafka writes to the pipe only when the queue goes from empty to non-empty, so
     * whatever is left must be picked up without a wakeup: at once when the budget ran
     * out, shortly when the queue holds something poll did not hand out (no busy loop). */
    if (i == POLL_BATCH)
        c->more = true;
    if (c->more) {
        arm_kick(c);
    } else if (rd_kafka_queue_length(c->q) > 0) {
        c->more = true;
        arm_kick_after(c, 0.01);
    } else if (!c->paused && !c->shutting_down && !c->closing && fetch_stall_take(&c->stall)) {
        /* While paused the fetcher stops anyway, and resuming wakes it. */
        wake_fetcher(c, ~0u);
    }
    return;
held:
    /* Polled again when the hold ends; only the dead-letter reports are served meanwhile. */
    if (c->more)
        arm_kick(c);
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    struct consumer *c = w->data;
    char buf[64];
    while (read(c->pipe_rd, buf, sizeof(buf)) > 0) {
    }
    poll_all(c);
}

static void kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct consumer *c = w->data;
    if (c->more)
        poll_all(c);
    store_dirty(c);
}

/* A hold lasted HOLD_MAX_S: the partitions are paused, and polling (which now hands out
 * nothing of them) serves the group's events again. */
static void hold_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct consumer *c = w->data;
    if (!holding(c))
        return;
    c->paused = true;
    c->st.fetch_pauses++;
    pause_all(c, true);
    c->more = true;
    arm_kick(c);
}

/* ---- librdkafka callbacks ---- */

static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk;
    (void)offsets;
    struct consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
        c->st.commits++;
    else if (err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        kt_log_limited(&c->err_rl, KT_LOG_WARN, "kafka: offset commit failed: %s",
                       rd_kafka_err2str(err));
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct consumer *c = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char buf[256];
        rd_kafka_resp_err_t fe = rd_kafka_fatal_error(rk, buf, sizeof(buf));
        kt_error("kafka: %s failed: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(fe), buf);
        return;
    }
    kt_log_limited(&c->err_rl, KT_LOG_WARN, "kafka: %s: %s: %s", rd_kafka_name(rk),
                   rd_kafka_err2name((rd_kafka_resp_err_t)err), reason);
}

static int64_t stats_int(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

/* The lag of partition p from librdkafka's statistics (backlog_partition_lag). */
static int64_t stats_lag(const json_t *part, const struct part *p, bool from_earliest,
                         uint8_t *from)
{
    const struct backlog_offsets o = {
        .lag_stored = stats_int(part, "consumer_lag_stored"),
        .lag_committed = stats_int(part, "consumer_lag"),
        .hi = stats_int(part, "hi_offset"),
        .lo = stats_int(part, "lo_offset"),
        .next = stats_int(part, "next_offset"),
        .fetchq = stats_int(part, "fetchq_cnt"),
        .position = offsets_position(&p->ot),
        .from_earliest = from_earliest,
    };
    enum backlog_lag_from f;
    int64_t lag = backlog_partition_lag(&o, &f);
    *from = (uint8_t)f;
    return lag;
}

/* The total lag of the partitions we own, for the backlog progress. */
static void sample_backlog(struct consumer *c)
{
    ev_tstamp now = ev_now(c->loop);
    struct backlog_sample s = {
        .now = now,
        /* Paused since before the previous statistics: no fetch refreshed the lag. */
        .paused = (c->held || c->paused) && c->paused_at <= c->stats_at,
        .top_partition = -1,
    };
    c->stats_at = now;
    bool any = false;
    for (size_t i = 0; i < c->n_parts; i++) {
        /* A partition whose lag is not known yet (nothing fetched or handed out, no offset
         * stored or committed) may hold the whole backlog: a sum without it could read as
         * drained. No sample until every owned partition's lag is known. */
        if (c->parts[i].used && c->parts[i].lag < 0)
            return;
        any |= c->parts[i].used;
    }
    for (size_t i = 0; i < c->n_parts; i++) {
        struct part *p = &c->parts[i];
        if (p->used)
            backlog_sample_add(&s, &p->sampled, p->lag, (enum backlog_lag_from)p->lag_from,
                               part_topic(c, p), p->partition);
    }
    char line[768];
    if (any && backlog_sample(&c->backlog, &s, line, sizeof(line)))
        kt_info("%s", line);
}

/* librdkafka's statistics (see STATS_INTERVAL_MS), served on the loop with the consumer
 * queue: the lag of the partitions we own and the partition count of each topic. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    struct consumer *c = opaque;
    json_t *root = json_loadb(json, len, 0, NULL);
    const json_t *topics = json_object_get(root, "topics");
    for (size_t ti = 0; ti < c->n_topics; ti++) {
        const json_t *parts =
            json_object_get(json_object_get(topics, c->topics[ti]->name), "partitions");
        if (!json_is_object(parts))
            continue;
        int32_t n = 0;
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)parts, key, v)
        {
            char *end;
            long id = strtol(key, &end, 10);
            /* "-1" is librdkafka's unassigned-partition queue, not a partition. */
            if (*end != '\0' || id < 0 || id > INT32_MAX)
                continue;
            n++;
            struct part *p = lookup(c, (int)ti, (int32_t)id);
            if (p != NULL)
                p->lag = stats_lag(v, p, c->from_earliest, &p->lag_from);
        }
        c->topics[ti]->partitions = n;
    }
    json_decref(root);
    sample_backlog(c);
    return 0; /* librdkafka frees json */
}

/* ---- dead letters ---- */

static void dl_finished(void *ctx, uint64_t handle)
{
    consumer_msg_done(ctx, handle);
}

static bool dl_owns(void *ctx, uint64_t handle)
{
    int64_t off;
    return resolve(ctx, handle, &off) != NULL;
}

static void dl_warn(void *ctx, const char *msg)
{
    struct consumer *c = ctx;
    kt_log_limited(&c->dl_rl, KT_LOG_WARN, "%s", msg);
}

static int dead_letter_handle(struct consumer *c, const char *topic, int32_t partition,
                              int64_t offset, struct kt_slice key, struct kt_slice value,
                              const char *reason, uint64_t handle)
{
    if (!dl_owns(c, handle))
        return 0; /* the partition was given up: its next owner reads the message again */
    c->st.dead_lettered++;
    return dead_letter_msg(c->dl, topic, partition, offset, key, value, reason, handle);
}

int consumer_dead_letter_data(struct consumer *c, const char *source, struct kt_slice value,
                              const char *reason, void (*acked)(void *arg, bool delivered),
                              void *arg)
{
    c->st.dead_lettered++;
    c->st.dead_lettered_data++;
    return dead_letter_data(c->dl, source, value, reason, acked, arg);
}

int consumer_dead_letter_msg(struct consumer *c, const struct consumer_msg *m, const char *reason)
{
    return dead_letter_handle(c, m->topic, m->partition, m->offset, m->key, m->value, reason,
                              m->handle);
}

/* ---- configuration ---- */

/* The cluster settings of both clients: the consumer and the dead-letter producer. */
static struct kt_kafka_common kafka_common(const struct process_conf *conf)
{
    return (struct kt_kafka_common){
        .brokers = &conf->kafka.brokers,
        .client_id = conf->kafka.client_id,
        .protocol_version = conf->kafka.protocol_version,
        .auth = &conf->kafka.auth,
    };
}

/* Statistics serve the [admin] endpoint and the backlog progress: with neither, a minimal
 * configuration does not pay for them. */
static bool stats_on(const struct process_conf *conf)
{
    return (conf->admin.endpoint != NULL && conf->admin.endpoint[0] != '\0') ||
           conf->kafka.lag_report_threshold > 0;
}

static long long conf_int(rd_kafka_conf_t *kc, const char *name)
{
    char v[32];
    size_t n = sizeof(v);
    return rd_kafka_conf_get(kc, name, v, &n) == RD_KAFKA_CONF_OK ? strtoll(v, NULL, 10) : -1;
}

/* librdkafka refuses a fetch.max.bytes below message.max.bytes: one raised by an
 * rdkafka.* passthrough raises kotel's fetch.max.bytes with it (one the passthrough set
 * itself stays, and librdkafka says what is wrong with it). */
static int fetch_max_fits(rd_kafka_conf_t *kc, struct kt_err *err)
{
    long long msg = conf_int(kc, "message.max.bytes");
    if (conf_int(kc, "fetch.max.bytes") != FETCH_MAX_BYTES || msg <= FETCH_MAX_BYTES)
        return 0;
    char v[24];
    snprintf(v, sizeof(v), "%lld", msg);
    return kt_kafka_set(kc, "kafka", "rdkafka", "fetch.max.bytes", v, err);
}

static int configure_consumer(const struct process_conf *conf, rd_kafka_conf_t *kc,
                              struct kt_err *err)
{
    static const char *const strategies[] = {"cooperative-sticky", "range", "roundrobin"};
    const struct kt_kafka_common common = kafka_common(conf);
    int rc = kt_kafka_conf_common(kc, &common, err);
    if (rc != 0)
        return rc;
    if (conf->kafka.group_rebalance_strategy < 0 || conf->kafka.group_rebalance_strategy > 2)
        return kt_err_set(err, KT_EINVAL, "[kafka] group_rebalance_strategy: unknown value");
    char session[24], heartbeat[24];
    snprintf(session, sizeof(session), "%" PRIu64, conf->kafka.session_timeout_ms);
    snprintf(heartbeat, sizeof(heartbeat), "%" PRIu64, conf->kafka.heartbeat_interval_ms);
    const struct {
        const char *key, *name, *value;
    } props[] = {
        {"group_id", "group.id", conf->kafka.group_id},
        {"initial_offset", "auto.offset.reset",
         conf->kafka.initial_offset == PROCESS_OFFSET_EARLIEST ? "earliest" : "latest"},
        {"session_timeout", "session.timeout.ms", session},
        {"heartbeat_interval", "heartbeat.interval.ms", heartbeat},
        {"group_rebalance_strategy", "partition.assignment.strategy",
         strategies[conf->kafka.group_rebalance_strategy]},
        /* librdkafka commits what we store, and we store only finished prefixes. */
        {"group_id", "enable.auto.commit", "true"},
        {"group_id", "enable.auto.offset.store", "false"},
        {"group_id", "auto.commit.interval.ms", "1000"},
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        rc = kt_kafka_set(kc, "kafka", props[i].key, props[i].name, props[i].value, err);
        if (rc != 0)
            return rc;
    }
    /* The fetch queue's share of [limits] memory (a passthrough rdkafka.* setting still
     * wins: it is applied below). */
    if (conf->limits.memory > 0) {
        char kbytes[24];
        uint64_t kb = process_limit_fetch_bytes(conf) / 1024;
        snprintf(kbytes, sizeof(kbytes), "%" PRIu64, kb > 1024 ? kb : 1024);
        rc = kt_kafka_set(kc, "limits", "memory", "queued.max.messages.kbytes", kbytes, err);
        if (rc != 0)
            return rc;
    }
    bool unseen = !conf->startup.reached;
    for (int i = 0; i < KT_SIGNAL_COUNT; i++)
        unseen |= conf->startup.topic_missing[i];
    if (unseen) {
        rc = kt_kafka_set(kc, "kafka", "traces_topic", "topic.metadata.refresh.interval.ms",
                          MISSING_CHECK_MS, err);
        if (rc != 0)
            return rc;
    }
    if (stats_on(conf)) {
        rc = kt_kafka_set(kc, "kafka", "lag_report_threshold", "statistics.interval.ms",
                          STATS_INTERVAL_MS, err);
        if (rc != 0)
            return rc;
    }
    if (conf->replay != NULL) {
        /* The end of a partition is an event (replay_eof). A start offset that retention
         * removed meanwhile goes to the oldest message left, not past the window. */
        rc = kt_kafka_set(kc, "kafka", "group_id", "enable.partition.eof", "true", err);
        if (rc == 0)
            rc = kt_kafka_set(kc, "kafka", "initial_offset", "auto.offset.reset", "earliest", err);
        if (rc != 0)
            return rc;
    }
    /* A [limits] fetch share below it keeps librdkafka's own clamp to the queue. */
    bool fetch_max = conf->limits.memory == 0 || process_limit_fetch_bytes(conf) >= FETCH_MAX_BYTES;
    if (fetch_max) {
        char v[24];
        snprintf(v, sizeof(v), "%lld", FETCH_MAX_BYTES);
        if ((rc = kt_kafka_set(kc, "kafka", "rdkafka", "fetch.max.bytes", v, err)) != 0)
            return rc;
    }
    rc = kt_kafka_conf_passthrough(kc, &conf->kafka.rdkafka, err);
    if (rc != 0)
        return rc;
    if (fetch_max && (rc = fetch_max_fits(kc, err)) != 0)
        return rc;
    /* For the ApiVersions answers log_cb reads. */
    return kt_kafka_debug_feature(kc, "kafka", "rdkafka", err);
}

static int check_conf(const struct process_conf *conf, struct topics **sel, struct kt_err *err)
{
    int rc = topics_new(conf, sel, err);
    if (rc != 0)
        return rc;
    if (conf->kafka.group_id == NULL || conf->kafka.group_id[0] == '\0')
        return kt_err_set(err, KT_EINVAL, "[kafka] group_id: empty");
    return 0;
}

/* ---- lifetime ---- */

static void consumer_free(struct consumer *c)
{
    watch_stop(c);
    pthread_mutex_destroy(&c->watch.mu);
    pthread_cond_destroy(&c->watch.cv);
    /* Its thread uses the handle: stopped first. */
    group_desc_free(c->replica.gd);
    free_names(c->watch.names, c->watch.n_names);
    if (c->rk != NULL) {
        for (size_t i = 0; i < c->n_topics; i++)
            if (c->topics[i]->stats_rkt != NULL)
                rd_kafka_topic_destroy(c->topics[i]->stats_rkt);
        if (c->q != NULL)
            rd_kafka_queue_destroy(c->q);
        rd_kafka_destroy(c->rk);
    }
    dead_letter_free(c->dl);
    for (size_t i = 0; i < c->n_parts; i++)
        offsets_reset(&c->parts[i].ot);
    free(c->parts);
    for (size_t i = 0; i < c->n_topics; i++) {
        free(c->topics[i]->slot_of);
        free(c->topics[i]->name);
        free(c->topics[i]);
    }
    free(c->topics);
    topics_free(c->sel);
    free(c->dirty);
    if (c->pipe_rd >= 0)
        close(c->pipe_rd);
    if (c->pipe_wr >= 0)
        close(c->pipe_wr);
    free(c);
}

int consumer_new(const struct process_conf *conf, struct ev_loop *loop, consumer_msg_fn on_msg,
                 consumer_revoke_fn on_revoke, void *ctx, struct consumer **out, struct kt_err *err)
{
    *out = NULL;
    struct topics *sel = NULL;
    int rc = check_conf(conf, &sel, err);
    if (rc != 0) {
        topics_free(sel);
        return rc;
    }
    struct consumer *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        topics_free(sel);
        return kt_err_set(err, KT_ENOMEM, "consumer: out of memory");
    }
    c->sel = sel;
    c->conf = conf;
    c->loop = loop;
    c->on_msg = on_msg;
    c->on_revoke = on_revoke;
    c->ctx = ctx;
    c->err_rl = c->dl_rl = c->store_rl = c->overlap_rl = c->replica.rl =
        (struct kt_log_limit)KT_LOG_LIMIT(LOG_INTERVAL, 1);
    atomic_init(&c->replica.supported, false);
    backlog_init(&c->backlog, conf->kafka.lag_report_threshold);
    c->coop_conf = conf->kafka.group_rebalance_strategy == PROCESS_REBALANCE_COOPERATIVE_STICKY;
    c->stats_on = stats_on(conf);
    c->pipe_rd = c->pipe_wr = -1;
    ev_timer_init(&c->kick, kick_cb, 0., 0.);
    c->kick.data = c;
    ev_timer_init(&c->hold, hold_cb, HOLD_MAX_S, 0.);
    fetch_wait_init(&c->wait);
    c->hold.data = c;
    ev_timer_init(&c->replica.delay, describe_delay_cb, 0., 0.);
    c->replica.delay.data = c;
    pthread_mutex_init(&c->watch.mu, NULL);
    pthread_cond_init(&c->watch.cv, NULL);
    ev_async_init(&c->watch.wake, watch_wake_cb);
    c->watch.wake.data = c;

    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        int e = errno;
        consumer_free(c);
        return kt_err_set(err, KT_EIO, "consumer: pipe: %s", strerror(e));
    }
    c->pipe_rd = fds[0];
    c->pipe_wr = fds[1];

    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    rc = configure_consumer(conf, kc, err);
    if (rc != 0) {
        rd_kafka_conf_destroy(kc);
        consumer_free(c);
        return rc;
    }
    long long queue_kb = conf_int(kc, "queued.max.messages.kbytes");
    long long queue_msgs = conf_int(kc, "queued.min.messages");
    fetch_stall_init(&c->stall, queue_kb > 0 ? (uint64_t)queue_kb : 0,
                     queue_msgs > 0 ? (uint64_t)queue_msgs : 0);
    char reset[16];
    size_t reset_len = sizeof(reset);
    /* librdkafka names earliest by its first alias. */
    c->from_earliest =
        rd_kafka_conf_get(kc, "auto.offset.reset", reset, &reset_len) == RD_KAFKA_CONF_OK &&
        strcmp(reset, "smallest") == 0;
    rd_kafka_conf_set_opaque(kc, c);
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(kc, commit_cb);
    rd_kafka_conf_set_error_cb(kc, error_cb);
    rd_kafka_conf_set_stats_cb(kc, stats_cb);
    rd_kafka_conf_set_log_cb(kc, log_cb);
    char errstr[512];
    c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, sizeof(errstr));
    if (c->rk == NULL) {
        rd_kafka_conf_destroy(kc);
        consumer_free(c);
        return kt_err_set(err, KT_EINVAL, "[kafka]: librdkafka: %s", errstr);
    }
    /* Errors, logs, commit results and rebalances all arrive on the consumer queue, which
     * the loop serves through the pipe. */
    rd_kafka_poll_set_consumer(c->rk);
    c->q = rd_kafka_queue_get_consumer(c->rk);
    rd_kafka_queue_io_event_enable(c->q, c->pipe_wr, "1", 1);
    /* Failing (out of memory) only leaves the group undescribed. */
    struct kt_err gerr;
    if (group_desc_new(&c->replica.gd, c->loop, c->rk, c->conf->kafka.group_id, DESCRIBE_TIMEOUT_MS,
                       describe_result, c, &gerr) != 0)
        kt_warn("kafka: %s", gerr.msg);

    const struct dead_letter_owner owner = {
        .ctx = c,
        .finished = dl_finished,
        .owns = dl_owns,
        .warn = dl_warn,
        .kafka_error = error_cb,
    };
    const struct kt_kafka_common common = kafka_common(conf);
    rc = dead_letter_new(conf, &common, loop, c->pipe_wr, &owner, &c->dl, err);
    if (rc != 0) {
        consumer_free(c);
        return rc;
    }

    for (int sig = 0; sig < KT_SIGNAL_COUNT; sig++)
        for (size_t i = 0; i < topics_n_names(c->sel, (enum kt_signal)sig); i++)
            if (topic_add(c, topics_name(c->sel, (enum kt_signal)sig, i), (enum kt_signal)sig) <
                0) {
                consumer_free(c);
                return kt_err_set(err, KT_ENOMEM, "[kafka] %s: out of memory or over %d topics",
                                  topics_keys[sig], MAX_TOPICS);
            }
    if (conf->replay != NULL) {
        rc = replay_assign(c, err);
        if (rc != 0) {
            consumer_free(c);
            return rc;
        }
    } else if (c->n_topics > 0) {
        rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new((int)c->n_topics);
        for (size_t i = 0; i < c->n_topics; i++)
            rd_kafka_topic_partition_list_add(sub, c->topics[i]->name, RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t e = rd_kafka_subscribe(c->rk, sub);
        rd_kafka_topic_partition_list_destroy(sub);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            consumer_free(c);
            return kt_err_set(err, KT_EINVAL, "[kafka] traces_topic: subscribing failed: %s",
                              rd_kafka_err2str(e));
        }
        c->subscribed_any = true;
    }

    ev_io_init(&c->io, io_cb, c->pipe_rd, EV_READ);
    c->io.data = c;
    ev_io_start(loop, &c->io);
    /* The startup check saw a listed topic missing: which one, the listing tells (at once). A
     * regex is resolved by the same listing, and subscribed to then. */
    bool missing = false;
    for (int i = 0; i < KT_SIGNAL_COUNT; i++)
        missing |= conf->startup.topic_missing[i];
    if (conf->replay == NULL && (missing || topics_any_regex(c->sel)))
        watch_start(c, true);
    /* Anything queued before the pipe was attached would never signal it. */
    arm_kick(c);
    c->more = true;
    *out = c;
    return 0;
}

/* ---- the public entry points ---- */

void consumer_msg_done(struct consumer *c, uint64_t handle)
{
    int64_t off;
    struct part *p = resolve(c, handle, &off);
    if (p == NULL || offsets_finish(&p->ot, off) == 0)
        return;
    c->pending--;
    mark_dirty(c, p);
}

void consumer_set_paused(struct consumer *c, bool paused)
{
    if (c->shutting_down || c->held == paused)
        return;
    c->held = paused;
    if (paused) {
        fetch_wait_cancel(&c->wait);
        c->paused_at = ev_now(c->loop);
        /* Set again each time: libev leaves a stopped timer with what was left of it. */
        ev_timer_set(&c->hold, HOLD_MAX_S, 0.);
        ev_timer_start(c->loop, &c->hold);
        return;
    }
    ev_timer_stop(c->loop, &c->hold);
    if (c->paused) {
        c->paused = false;
        pause_all(c, false);
    }
    /* What waited in the queue is handed out now, without a wakeup from librdkafka. */
    c->more = true;
    arm_kick(c);
}

void consumer_set_signal_paused(struct consumer *c, enum kt_signal sig, bool paused)
{
    unsigned bit = 1u << sig;
    if (c->shutting_down || ((c->sig_paused & bit) != 0) == paused)
        return;
    if (paused)
        c->sig_paused |= bit;
    else
        c->sig_paused &= ~bit;
    pause_signals(c, bit, paused);
}

bool consumer_signal_paused(const struct consumer *c, enum kt_signal sig)
{
    return (c->sig_paused & (1u << sig)) != 0;
}

size_t consumer_pending(const struct consumer *c)
{
    return c->pending;
}

void consumer_begin_shutdown(struct consumer *c)
{
    if (c->shutting_down)
        return;
    c->shutting_down = true;
    ev_timer_stop(c->loop, &c->hold);
    if (!c->paused && !c->held)
        c->paused_at = ev_now(c->loop);
    c->paused = true;
    pause_all(c, true);
}

void consumer_get_stats(const struct consumer *c, struct consumer_stats *out)
{
    *out = c->st;
    out->fetch_waits = c->wait.n;
    out->fetch_wait_longest = c->wait.longest;
}

void consumer_write_metrics(const struct consumer *c, struct kt_buf *b)
{
    char topic[256], labels[320];
    kt_prom_family(b, "kotel_process_kafka_partitions_assigned", "gauge",
                   "Partitions the consumer group assigned to this member.");
    for (size_t i = 0; i < c->n_topics; i++) {
        snprintf(labels, sizeof(labels), "topic=\"%s\"",
                 kt_prom_label(c->topics[i]->name, topic, sizeof(topic)));
        kt_prom_u64(b, "kotel_process_kafka_partitions_assigned", labels,
                    count_assigned(c, (int)i));
    }
    kt_prom_family(b, "kotel_process_kafka_consumer_lag", "gauge",
                   "Messages of an assigned partition after the offset stored for commit (all "
                   "before it are exported or deliberately dropped), from librdkafka's statistics "
                   "(every 5 s; while fetching is paused, as of the last fetch); absent until "
                   "they first arrive.");
    for (size_t i = 0; i < c->n_parts; i++) {
        const struct part *p = &c->parts[i];
        if (!p->used || p->lag < 0)
            continue;
        snprintf(labels, sizeof(labels), "topic=\"%s\",partition=\"%" PRId32 "\"",
                 kt_prom_label(part_topic(c, p), topic, sizeof(topic)), p->partition);
        kt_prom_u64(b, "kotel_process_kafka_consumer_lag", labels, (uint64_t)p->lag);
    }
    struct backlog_view v;
    backlog_get_view(&c->backlog, &v);
    if (v.known) {
        kt_prom_family(b, "kotel_process_backlog_messages", "gauge",
                       "Messages behind over this replica's partitions (the sum of "
                       "kotel_process_kafka_consumer_lag at the last statistics).");
        kt_prom_u64(b, "kotel_process_backlog_messages", NULL, v.lag);
    }
    if (v.eta_s >= 0) {
        kt_prom_family(b, "kotel_process_backlog_eta_seconds", "gauge",
                       "Time until the backlog is drained at the smoothed rate its lag decreases; "
                       "absent while unknown, growing, or paused by backpressure.");
        kt_prom_f64(b, "kotel_process_backlog_eta_seconds", NULL, v.eta_s);
    }
    const struct {
        const char *name, *type, *help, *labels;
        uint64_t v;
    } m[] = {
        {"kotel_process_kafka_messages_pending", "gauge",
         "Messages handed to the pipeline and not finished (held by the sampler, waiting for the "
         "exporter or for a dead-letter copy).",
         NULL, c->pending},
        {"kotel_process_kafka_consumption_paused", "gauge",
         "1 while consumption is stopped: the exporter is congested or max_pending_messages is "
         "reached (backpressure: what was fetched waits in librdkafka's queue, and fetching is "
         "paused after a second of it), or shutting down.",
         NULL, c->held || c->paused},
        {"kotel_process_kafka_rebalances_total", "counter",
         "Assignment changes (assign and revoke events) of this member.", NULL, c->st.rebalances},
        {"kotel_process_kafka_commits_total", "counter", "Successful offset commits.", NULL,
         c->st.commits},
        {"kotel_process_kafka_fetch_wakes_total", "counter",
         "Times librdkafka's fetcher was woken (by seeking the partitions to where they are) "
         "after the consumer emptied a queue that had come near queued.max.messages.kbytes, or "
         "resumed fetching, instead of waiting up to a second for it to fetch again.",
         NULL, c->st.fetch_wakes},
        {"kotel_process_kafka_fetch_pauses_total", "counter",
         "Times backpressure lasted over a second and the partitions were paused: what "
         "librdkafka had fetched ahead is dropped and fetched again on resume.",
         NULL, c->st.fetch_pauses},
        {"kotel_process_dead_lettered_total", "counter",
         "Copies made for [kafka] dead_letter_topic (dropped when it is empty), by what: a "
         "message that cannot be processed, or data the backend refused for good.",
         "kind=\"message\"", c->st.dead_lettered - c->st.dead_lettered_data},
        {"kotel_process_dead_lettered_total", NULL, NULL, "kind=\"data\"",
         c->st.dead_lettered_data},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        if (m[i].type != NULL)
            kt_prom_family(b, m[i].name, m[i].type, m[i].help);
        kt_prom_u64(b, m[i].name, m[i].labels, m[i].v);
    }
    kt_prom_family(b, "kotel_process_kafka_fetch_wait_seconds", "histogram",
                   "How long the consumer waited for librdkafka's next message after its queue "
                   "ran empty while its partitions had more to fetch (by the high watermark of "
                   "the last fetch): the fetcher's pauses in a backlog. Backpressure, paused "
                   "partitions and rebalances do not count.");
    kt_prom_hist(b, "kotel_process_kafka_fetch_wait_seconds", NULL, &c->wait.hist);
    kt_prom_family(b, "kotel_process_kafka_signal_paused", "gauge",
                   "1 while fetching is paused on this signal's topics alone: a request to its "
                   "backend is being retried while the other signals' backends answer.");
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        snprintf(labels, sizeof(labels), "signal=\"%s\"", kt_signal_name((enum kt_signal)s));
        kt_prom_u64(b, "kotel_process_kafka_signal_paused", labels, (c->sig_paused >> s) & 1u);
    }
}

void consumer_each_lag(const struct consumer *c,
                       void (*fn)(void *ctx, const char *topic, int32_t partition, int64_t lag),
                       void *ctx)
{
    for (size_t i = 0; i < c->n_parts; i++) {
        const struct part *p = &c->parts[i];
        if (p->used && p->lag >= 0)
            fn(ctx, part_topic(c, p), p->partition, p->lag);
    }
}

void consumer_backlog(const struct consumer *c, struct backlog_view *out)
{
    backlog_get_view(&c->backlog, out);
}

void consumer_replica(const struct consumer *c, struct replica_view *out)
{
    /* An idle verdict is stale once partitions arrived; the next description follows. */
    out->idle = c->replica.idle && count_assigned(c, -1) == 0;
    snprintf(out->warning, sizeof(out->warning), "%s",
             c->replica.idle && !out->idle ? "" : c->replica.reason);
}

const char *consumer_not_ready(struct consumer *c, char *buf, size_t cap)
{
    if (count_assigned(c, -1) > 0)
        return NULL;
    const char *group = c->conf->kafka.group_id;
    for (size_t i = 0; i < c->n_topics; i++)
        if (c->topics[i]->missing) {
            snprintf(buf, cap, "no partitions assigned: [kafka] %s \"%s\" does not exist",
                     topics_keys[c->topics[i]->sig], c->topics[i]->name);
            return buf;
        }
    if (c->n_topics == 0) {
        snprintf(buf, cap,
                 "no partitions assigned: no topic of the cluster matches [kafka] "
                 "*_topic's ^regex yet");
        return buf;
    }
    if (!c->assigned) {
        snprintf(buf, cap, "no partitions assigned yet: joining consumer group \"%s\"", group);
        return buf;
    }
    if (c->replica.idle) {
        snprintf(buf, cap, "no partitions assigned: consumer %s", c->replica.reason);
        return buf;
    }
    int32_t total = 0;
    for (size_t i = 0; i < c->n_topics; i++)
        total += c->topics[i]->partitions;
    if (total > 0)
        snprintf(buf, cap,
                 "no partitions assigned: consumer group \"%s\" gives this member none of the "
                 "%" PRId32 " partition%s of its topics (the group has more members than the "
                 "topics have partitions?)",
                 group, total, total == 1 ? "" : "s");
    else
        snprintf(buf, cap,
                 "no partitions assigned: consumer group \"%s\" gives this member none (the "
                 "group has more members than the topics have partitions?)",
                 group);
    return buf;
}

/* Consumers whose handle librdkafka cannot destroy (see abandon): reachable from here, so
 * that leak checkers do not report what they hold. */
static struct consumer *abandoned;

/* librdkafka 2.0.2 aborts destroying a cooperative-sticky consumer that had an answer to
 * its JoinGroup but never an assignment: the sticky assignor's state, which only an
 * assignment creates, is destroyed unchecked ("Assertion `assignor_state' failed",
 * rdkafka_cgrp.c, librdkafka #4312). A SIGTERM soon after start, or while the group
 * rebalances for longer than a shutdown can wait (a broker restarting, the cluster
 * unreachable), gets there. Such a consumer has nothing to commit and has left the group
 * (rd_kafka_consumer_close), so its handle is left to the process's exit instead. Its own
 * threads stop first: they use the handle and the loop. Nothing calls back into c any more
 * but log_cb, which only sets a flag in it. */
static void abandon(struct consumer *c)
{
    kt_info("kafka: the group never assigned this replica partitions; its Kafka handle is left "
            "for the process exit (librdkafka 2.0.2 aborts destroying it, #4312)");
    watch_stop(c);
    group_desc_free(c->replica.gd);
    c->replica.gd = NULL;
    c->abandoned_next = abandoned;
    abandoned = c;
}

int consumer_close(struct consumer *c)
{
    if (c == NULL)
        return 0;
    watch_stop(c);
    ev_io_stop(c->loop, &c->io);
    ev_timer_stop(c->loop, &c->kick);
    ev_timer_stop(c->loop, &c->hold);
    ev_timer_stop(c->loop, &c->replica.delay);
    rd_kafka_queue_io_event_enable(c->q, -1, NULL, 0);
    /* From here on nothing is retried or scheduled on the loop. */
    c->closing = true;
    /* Acknowledged copies finish their sources before the last commit. */
    dead_letter_close(c->dl, CLOSE_FLUSH_MS);
    store_dirty(c);
    int rc = commit_watermarks(c, NULL);
    /* Give the assignment up before closing: librdkafka can hang when the rebalance
     * callback assigns while rd_kafka_consumer_close runs (librdkafka #4527, #4884).
     * Messages polled meanwhile are dropped untracked, so nothing is committed past them. */
    rd_kafka_unsubscribe(c->rk);
    if (c->conf->replay != NULL)
        rd_kafka_assign(c->rk, NULL); /* assigned by hand: unsubscribing keeps it */
    for (int i = 0; i < CLOSE_DRAIN_ROUNDS; i++) {
        rd_kafka_topic_partition_list_t *a = NULL;
        int n = 1;
        if (rd_kafka_assignment(c->rk, &a) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            n = a->cnt;
            rd_kafka_topic_partition_list_destroy(a);
        }
        if (n == 0)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c->rk, CLOSE_POLL_MS);
        if (m != NULL)
            rd_kafka_message_destroy(m);
    }
    rd_kafka_resp_err_t e = rd_kafka_consumer_close(c->rk);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        kt_warn("kafka: leaving the consumer group: %s", rd_kafka_err2str(e));
    if (c->coop_conf && !c->assigned)
        abandon(c);
    else
        consumer_free(c);
    return rc;
}
