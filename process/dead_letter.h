/* dead_letter: copies of what kotel-process can never process, produced to
 * [kafka] dead_letter_topic with headers kotel.error = reason and kotel.source = where the
 * data came from.
 *
 * A copy is retried until it is acknowledged, so its source counts as finished only once the
 * copy is stored and a crash never loses it; a copy of a message whose partition was given up
 * meanwhile is dropped instead (the partition's next owner reads the message again). Without a
 * dead-letter topic nothing is produced and every copy counts as acknowledged at once.
 *
 * This module knows nothing of partitions, handles or offsets: the owner (the consumer) tells
 * it, through struct dead_letter_owner, what a handle's acknowledgement means and whether a
 * handle is still worth retrying, and logs its warnings with its own rate limits. Everything
 * runs on the loop thread: the producer's queue wakes the owner's loop through the fd the
 * owner gives, and the owner serves it with dead_letter_poll. */
#ifndef PROCESS_DEAD_LETTER_H
#define PROCESS_DEAD_LETTER_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>
#include <librdkafka/rdkafka.h>

#include "conf.h"
#include "kt_buf.h"
#include "kt_err.h"
#include "kt_kafka.h"

struct dead_letter;

/* What the dead-letter producer asks of its owner. ctx is passed back to every callback. */
struct dead_letter_owner {
    void *ctx;
    /* The copy of the message behind handle is stored (or, without a topic, dropped): the
     * message is finished. */
    void (*finished)(void *ctx, uint64_t handle);
    /* Whether handle still belongs to the owner; a refused copy of a message whose partition
     * was given up is dropped rather than retried. */
    bool (*owns)(void *ctx, uint64_t handle);
    /* A warning about a copy (dead-lettered, refused, retried), for the owner to log under
     * its rate limit. */
    void (*warn)(void *ctx, const char *msg);
    /* An error librdkafka reported for the producer (an rd_kafka error_cb, with the owner's
     * ctx as opaque). */
    void (*kafka_error)(rd_kafka_t *rk, int err, const char *reason, void *ctx);
};

/* Creates the producer of [kafka] dead_letter_topic, or, when that is empty, a dead_letter
 * that acknowledges every copy at once. common: the cluster settings shared with the consumer
 * (borrowed for the call); conf must outlive the dead_letter. The producer's queue is routed
 * to wake_fd: one byte is written when it goes from empty to non-empty. owner is copied.
 * Errors name [kafka] dead_letter_topic. Returns 0 or a negative KT_E*. */
int dead_letter_new(const struct process_conf *conf, const struct kt_kafka_common *common,
                    struct ev_loop *loop, int wake_fd, const struct dead_letter_owner *owner,
                    struct dead_letter **out, struct kt_err *err);

/* A copy of one source message (topic/partition/offset), key and value copied before this
 * returns. owner.finished(handle) once it is stored. Logged through owner.warn. Returns 0, or
 * KT_ENOMEM (handle is left unfinished). */
int dead_letter_msg(struct dead_letter *dl, const char *topic, int32_t partition, int64_t offset,
                    struct kt_slice key, struct kt_slice value, const char *reason,
                    uint64_t handle);

/* A copy of data rather than of one message: kotel.source = source. acked(arg, true) once it
 * is stored; acked(arg, false) if it is given up when the dead_letter is freed. Returns 0, or
 * KT_ENOMEM (acked is not called). */
int dead_letter_data(struct dead_letter *dl, const char *source, struct kt_slice value,
                     const char *reason, void (*acked)(void *arg, bool delivered), void *arg);

/* Serves the producer's delivery reports (callbacks are made from here). Returns true when
 * its budget ran out with more waiting: call again without waiting for a wakeup. */
bool dead_letter_poll(struct dead_letter *dl);

/* Shutdown: stops retrying and waking the loop, then waits up to timeout_ms for copies in
 * flight to be acknowledged (owner.finished is called for those). */
void dead_letter_close(struct dead_letter *dl, int timeout_ms);

/* Gives up what is not acknowledged (acked(arg, false) for data; handles stay unfinished)
 * and frees everything. Calls neither finished nor owns. dl may be NULL. */
void dead_letter_free(struct dead_letter *dl);

#endif
