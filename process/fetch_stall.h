/* fetch_stall: when librdkafka's fetcher has stopped for a full queue and must be woken,
 * and how long the consumer waits on the fetcher.
 *
 * librdkafka 2.0.2 (Debian 12's) stops fetching a partition while the consumer queue holds
 * queued.max.messages.kbytes of messages (or queued.min.messages of them), and looks again
 * only when its broker thread wakes up: for an operation, a response, or else once a second.
 * Emptying the queue wakes nothing. A consumer that empties a full queue in less than a
 * second then waits idle for the rest of it: on real Kafka, in a drain, kotel-process
 * fetched for about 60 ms of every second and waited 0.9 s (README, Performance). Later
 * librdkafka releases look again after fetch.queue.backoff.ms instead.
 *
 * This tracks, from what the consumer polls, whether the queue came near either bound since
 * it was last empty. When it did and the queue is empty now, the fetcher has probably
 * stopped, and the consumer wakes it (consumer.c, wake_fetcher). A wake drops any fetch
 * response still on its way, so it also needs the consumer to have polled three quarters of
 * the bound since the last wake: the queue's length counts other events too (commit
 * results), and every wake is paid for by messages handed out. Pure data, no Kafka. */
#ifndef PROCESS_FETCH_STALL_H
#define PROCESS_FETCH_STALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_prom.h"

struct fetch_stall {
    uint64_t cap_bytes;    /* queued.max.messages.kbytes, in bytes */
    uint64_t cap_msgs;     /* queued.min.messages */
    uint64_t avg_len;      /* smoothed payload size of the messages polled */
    uint64_t polled_bytes; /* payload polled since the last wake */
    uint64_t polled_msgs;  /* messages polled since the last wake */
    bool near_bytes;       /* the queue came near cap_bytes since it was last empty */
    bool near_msgs;        /* ... near cap_msgs */
};

/* cap_kbytes and cap_msgs as librdkafka is configured; a bound of 0 is not watched. */
void fetch_stall_init(struct fetch_stall *s, uint64_t cap_kbytes, uint64_t cap_msgs);

/* A message of len payload bytes was polled (librdkafka counts payloads against its bound). */
static inline void fetch_stall_polled(struct fetch_stall *s, size_t len)
{
    /* An average over about the last 16 messages: the queue's size is estimated from its
     * length in messages, which is all librdkafka tells. */
    s->avg_len = s->avg_len == 0 ? len : s->avg_len - s->avg_len / 16 + len / 16;
    s->polled_bytes += len;
    s->polled_msgs++;
}

/* The queue holds queued messages now (before a poll). */
void fetch_stall_queued(struct fetch_stall *s, size_t queued);

/* The queue is empty now: whether the fetcher should be woken (the queue came near a bound
 * since it was last empty, and that much was polled since the last wake). Starts over. */
bool fetch_stall_take(struct fetch_stall *s);

/* How long the consumer waited on the fetcher: from the queue running empty while its
 * partitions had messages left to fetch to the next message. The consumer decides when a
 * wait begins (it asks librdkafka about the partitions) and cancels one that is no longer
 * the fetcher's (backpressure, pauses, rebalances). Pure data too. */
struct fetch_wait {
    double since;        /* when the wait being timed began; 0 when none is */
    uint64_t n;          /* waits that counted */
    double longest;      /* seconds, the longest of them */
    struct kt_hist hist; /* seconds of each wait */
};

void fetch_wait_init(struct fetch_wait *w);

/* A wait began at now (a clock in seconds, above 0); one already timed goes on. */
static inline void fetch_wait_begin(struct fetch_wait *w, double now)
{
    if (w->since == 0)
        w->since = now;
}

/* The wait being timed, if any, does not count. */
static inline void fetch_wait_cancel(struct fetch_wait *w)
{
    w->since = 0;
}

/* A message came at now: the wait being timed, if any, ends and counts. */
void fetch_wait_end(struct fetch_wait *w, double now);

#endif
