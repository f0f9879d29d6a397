/* consumer: kotel-process's Kafka consumer group member, on the libev loop.
 *
 * Messages of the configured signal topics are handed to the pipeline one at a time with
 * a handle; the pipeline reports each one finished (exported, filtered out, sampled out)
 * with consumer_msg_done, or consumer_dead_letter_msg for data that can never be processed.
 * Offsets are stored for commit only up to the per-partition watermark (offsets.h): every
 * message below a committed offset is finished, so a crash re-reads (duplicates) and never
 * loses. librdkafka auto-commits the stored offsets every second.
 *
 * On a rebalance, revoked partitions are announced with on_revoke before they are given
 * up: the pipeline drops its in-flight state for them, their finished watermark is
 * committed, and their unfinished messages are left to the next owner. Handles of a
 * revoked (or revoked and reassigned) partition are ignored afterwards.
 *
 * Everything here runs on the loop thread: librdkafka's consumer queue (and the
 * dead-letter producer's) wakes the loop through a pipe, and callbacks (on_msg, on_revoke)
 * are made from the loop. The watchers keep the loop alive until consumer_close. */
#ifndef PROCESS_CONSUMER_H
#define PROCESS_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "backlog.h"
#include "conf.h"
#include "kt_buf.h"
#include "kt_err.h"
#include "kt_signal.h"

struct consumer;

struct consumer_msg {
    enum kt_signal sig;
    const char *topic;
    int32_t partition;
    int64_t offset;
    struct kt_slice key;   /* borrowed: valid only during the callback; p NULL when none */
    struct kt_slice value; /* borrowed: valid only during the callback */
    uint64_t handle;       /* pass to consumer_msg_done / consumer_dead_letter_msg exactly once */
    const void *rkm;       /* librdkafka's message, for metadata_header; NULL in tests */
};

/* A message for the pipeline. It may call consumer_msg_done, consumer_dead_letter_msg and
 * consumer_set_paused from inside. */
typedef void (*consumer_msg_fn)(void *ctx, const struct consumer_msg *m);
/* Called before the partition is given up: the pipeline drops its in-flight state for it
 * (its unfinished messages will be read again by the next owner). Handles of the partition
 * are ignored from here on. Not called from consumer_close. */
typedef void (*consumer_revoke_fn)(void *ctx, const char *topic, int32_t partition);

struct consumer_stats {
    uint64_t messages;           /* handed to on_msg */
    uint64_t dead_lettered;      /* consumer_dead_letter_msg and _data calls (copied or, without a
                                    DLQ, dropped) */
    uint64_t dead_lettered_data; /* of those, consumer_dead_letter_data calls */
    uint64_t commits;            /* successful offset commits (automatic and explicit) */
    uint64_t rebalances;         /* assignment changes (assign and revoke events) */
    uint64_t fetch_wakes;        /* times the fetcher was woken (fetch_stall.h, resumes) */
    uint64_t fetch_pauses;       /* holds that lasted and paused the partitions */
    uint64_t fetch_waits;        /* times the queue ran empty with more to fetch, until the
                                    next message (fetch_stall.h, struct fetch_wait) */
    double fetch_wait_longest;   /* seconds, the longest of those */
};

/* Replay (kotel-process --replay-from, replay.h): with conf->replay set, the consumer joins
 * no group. It assigns exactly the ranges' partitions at their start offsets and hands out
 * only offsets in [start, end): a message at or past end finishes its range and is dropped,
 * as is everything after it. Finished offsets are stored and committed as usual, under
 * [kafka] group_id (the replay's own), so a replay's commits follow the watermark too. The
 * caller fills sig, topic, partition, start and end; the consumer writes the rest, on the
 * loop. A range's topic need not be a listed one (a ^regex's match): the consumer reads it
 * for the range's signal. */
struct consumer_range {
    enum kt_signal sig;
    const char *topic; /* borrowed from the caller: must outlive the consumer */
    int32_t partition;
    int64_t start, end; /* start >= end: nothing to read, done from the start */
    int64_t next;       /* the offset read next: start at first, end once done */
    bool done;          /* everything below end was handed out (or was no message) */
};
struct consumer_replay {
    struct consumer_range *ranges;
    size_t n;
    size_t n_done;
    /* Called on the loop when the last range is done (not when all were done at start:
     * consumer_new returns with n_done == n then). */
    void (*finished)(void *arg);
    void *arg;
};

/* Creates the consumer and subscribes to the topics of [kafka] traces_topic / metrics_topic /
 * logs_topic (topics.h: lists, and what each ^regex matches on the cluster now and later; with
 * conf->replay: assigns its ranges instead). conf, and conf->replay, must outlive the
 * consumer. consumer_msg.topic and the topic on_revoke gets are the consumer's own copies,
 * valid until consumer_close.
 * Errors name the [kafka] key ("[kafka] group_id: empty", "[kafka] rdkafka.x: librdkafka:
 * ..."). Returns 0 or a negative KT_E*. */
int consumer_new(const struct process_conf *conf, struct ev_loop *loop, consumer_msg_fn on_msg,
                 consumer_revoke_fn on_revoke, void *ctx, struct consumer **out,
                 struct kt_err *err);

/* The message is finished. Its partition's watermark advances once everything below is
 * finished; stores are batched to once per loop iteration. Unknown or stale handles (of a
 * revoked partition, or finished already) are ignored. */
void consumer_msg_done(struct consumer *c, uint64_t handle);

/* A dead-letter copy of data rather than of one source message (a batch the backend refused
 * for good): headers kotel.error = reason, kotel.source = source. acked(arg, true) once the
 * copy is acknowledged (retried until it is); acked(arg, false) if it is given up at close.
 * Without a dead-letter topic, acked(arg, true) at once. Returns 0, or KT_ENOMEM (acked is
 * not called). */
int consumer_dead_letter_data(struct consumer *c, const char *source, struct kt_slice value,
                              const char *reason, void (*acked)(void *arg, bool delivered),
                              void *arg);

/* The message can never be processed (poison pill, data refused for good). With
 * [kafka] dead_letter_topic set, a copy (key and value as given; headers kotel.error =
 * reason, kotel.source = "topic/partition/offset") is produced there and the handle is
 * finished once the copy is acknowledged, retried until it is, so a crash never loses it;
 * without one, the handle is finished at once. Logged (rate-limited) either way.
 * m's key and value are copied before this returns; call it inside on_msg. A stale handle (its
 * partition was given up) does nothing: the next owner reads the message again. Returns 0, or
 * KT_ENOMEM (the handle is left unfinished; the message is read again after a restart or
 * rebalance). */
int consumer_dead_letter_msg(struct consumer *c, const struct consumer_msg *m, const char *reason);

/* Backpressure: stop (or resume) handing out messages. At first the consumer holds:
 * what librdkafka fetches meanwhile waits in its queue (up to queued.max.messages.kbytes)
 * and is handed out on resume. After a second of it every assigned partition is paused, so
 * that polling can serve the group's events; partitions assigned then start paused, and
 * messages fetched ahead are dropped by librdkafka and fetched again on resume. Nothing is
 * skipped or handed out twice either way. */
void consumer_set_paused(struct consumer *c, bool paused);

/* Backpressure for one signal: pause (or resume) fetching on the partitions of sig's
 * topics only, as for a backend of that signal that is down while the others are up. Holds
 * independently of consumer_set_paused: a partition is fetched when neither pauses it. */
void consumer_set_signal_paused(struct consumer *c, enum kt_signal sig, bool paused);
bool consumer_signal_paused(const struct consumer *c, enum kt_signal sig);

/* Messages handed out and not finished (dead letters awaiting acknowledgement count). */
size_t consumer_pending(const struct consumer *c);

/* Stops fetching for good (pauses everything; consumer_set_paused(false) no longer
 * resumes). Finishing handles still works, so in-flight data can drain. */
void consumer_begin_shutdown(struct consumer *c);

/* Call after the loop is done: waits briefly for dead-letter copies in flight, stores the
 * final watermarks, commits synchronously, leaves the group and frees everything. No
 * callback is made. Returns 0, or KT_EIO when the final commit failed (logged; the
 * unfinished tail is then read again by the next owner). c may be NULL. */
int consumer_close(struct consumer *c);

void consumer_get_stats(const struct consumer *c, struct consumer_stats *out);

/* The consumer's families (Prometheus text, see kt_prom.h) appended to b: partitions
 * assigned, lag per partition and the backlog's total and ETA (from librdkafka's statistics,
 * which consumer_new asks for when [admin] endpoint or [kafka] lag_report_threshold is set),
 * pending messages, rebalances, commits, dead letters. */
void consumer_write_metrics(const struct consumer *c, struct kt_buf *b);

/* fn(ctx, topic, partition, lag) for each assigned partition whose lag (as in
 * kotel_process_kafka_consumer_lag) is known, for /status. */
void consumer_each_lag(const struct consumer *c,
                       void (*fn)(void *ctx, const char *topic, int32_t partition, int64_t lag),
                       void *ctx);

/* The backlog progress (backlog.h): zeroes and state BACKLOG_BELOW_THRESHOLD until
 * statistics arrive. */
void consumer_backlog(const struct consumer *c, struct backlog_view *out);

/* What the group's description (asked for a second after each rebalance event here) says
 * about this replica's share of the partitions. */
struct replica_view {
    bool idle; /* the group gives this replica no partitions */
    /* "" when the share is fair or not known; else why it is not, e.g. "group \"g\" assigned
     * this replica no partitions: 2 members share 1 partition of topic otlp_spans; ..." */
    char warning[512];
};
void consumer_replica(const struct consumer *c, struct replica_view *out);

/* NULL while partitions are assigned; else why none are, written into buf (cap bytes): the
 * group is being joined, a topic is missing, or the group gives this member none (with the
 * member and partition counts once the group's description says them). */
const char *consumer_not_ready(struct consumer *c, char *buf, size_t cap);

#endif
