#include "dead_letter.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_kafka.h"

/* librdkafka events (delivery reports, logs) served per wakeup of the producer. */
#define POLL_BATCH 500
/* Wait before producing a refused copy again. */
#define RETRY_S 1.0

/* One copy, owned here until its delivery report (librdkafka produces from these bytes
 * without copying, and a refused copy is produced again from them). */
struct dlq_rec {
    struct dlq_rec *next; /* retry list */
    uint64_t handle;
    /* Set for a copy of data rather than of one message: told instead of finishing a
     * handle, with delivered false when the copy is given up at close. */
    void (*acked)(void *arg, bool delivered);
    void *arg;
    char *reason;
    char source[300]; /* "topic/partition/offset" */
    uint8_t *key;     /* NULL when the message had none */
    size_t key_len;
    uint8_t *val;
    size_t val_len;
};

struct dead_letter {
    const struct process_conf *conf;
    struct ev_loop *loop;
    struct dead_letter_owner owner;
    rd_kafka_t *rk; /* NULL: no dead-letter topic */
    rd_kafka_queue_t *q;
    rd_kafka_topic_t *rkt;
    ev_timer retry; /* produce refused copies again */
    struct dlq_rec *retry_head;
    bool closing; /* nothing is retried or scheduled on the loop any more */
};

__attribute__((format(printf, 2, 3))) static void warnf(struct dead_letter *dl, const char *fmt,
                                                        ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    dl->owner.warn(dl->owner.ctx, msg);
}

/* Where copies go, for log lines. */
static const char *destination(const struct dead_letter *dl)
{
    return dl->rk ? "; copied to " : "; dropped";
}

static const char *topic_or_none(const struct dead_letter *dl)
{
    return dl->rk ? dl->conf->kafka.dead_letter_topic : " (no dead_letter_topic)";
}

static void rec_free(struct dlq_rec *r)
{
    free(r->reason);
    free(r->key);
    free(r->val);
    free(r);
}

static void retry_later(struct dead_letter *dl, struct dlq_rec *r)
{
    r->next = dl->retry_head;
    dl->retry_head = r;
    if (!dl->closing && !ev_is_active(&dl->retry)) {
        ev_timer_set(&dl->retry, RETRY_S, 0.);
        ev_timer_start(dl->loop, &dl->retry);
    }
}

static void produce(struct dead_letter *dl, struct dlq_rec *r)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(
        dl->rk, RD_KAFKA_V_RKT(dl->rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
        RD_KAFKA_V_KEY(r->key, r->key_len), RD_KAFKA_V_VALUE(r->val, r->val_len),
        RD_KAFKA_V_MSGFLAGS(0), RD_KAFKA_V_HEADER("kotel.error", r->reason, -1),
        RD_KAFKA_V_HEADER("kotel.source", r->source, -1), RD_KAFKA_V_OPAQUE(r), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        warnf(dl, "kafka: dead letter of %s to %s: %s; retrying", r->source,
              dl->conf->kafka.dead_letter_topic, rd_kafka_err2str(e));
        retry_later(dl, r);
    }
}

/* Whether a copy of a message is still worth producing: its source is still the owner's. */
static bool wanted(const struct dead_letter *dl, const struct dlq_rec *r)
{
    return r->acked != NULL || dl->owner.owns(dl->owner.ctx, r->handle);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct dead_letter *dl = opaque;
    struct dlq_rec *r = m->_private;
    if (r == NULL)
        return;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (r->acked)
            r->acked(r->arg, true);
        else
            dl->owner.finished(dl->owner.ctx, r->handle);
        rec_free(r);
    } else if (dl->closing || !wanted(dl, r)) {
        if (r->acked)
            r->acked(r->arg, false);
        /* Unfinished and left so: the source is read again by whoever owns it next. */
        rec_free(r);
    } else {
        warnf(dl, "kafka: dead letter of %s to %s not delivered: %s; retrying", r->source,
              dl->conf->kafka.dead_letter_topic, rd_kafka_err2str(m->err));
        retry_later(dl, r);
    }
}

static void retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct dead_letter *dl = w->data;
    struct dlq_rec *r = dl->retry_head;
    dl->retry_head = NULL;
    while (r != NULL) {
        struct dlq_rec *next = r->next;
        if (wanted(dl, r))
            produce(dl, r);
        else
            rec_free(r); /* the partition was given up: its next owner redoes this */
        r = next;
    }
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct dead_letter *dl = opaque;
    dl->owner.kafka_error(rk, err, reason, dl->owner.ctx);
}

/* A record holding copies of value and, when key.p is set, key. NULL when out of memory. */
static struct dlq_rec *rec_new(struct kt_slice key, struct kt_slice value, const char *reason)
{
    struct dlq_rec *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->reason = strdup(reason ? reason : "");
    r->val = malloc(value.n > 0 ? value.n : 1);
    if (key.p != NULL)
        r->key = malloc(key.n > 0 ? key.n : 1);
    if (r->reason == NULL || r->val == NULL || (key.p != NULL && r->key == NULL)) {
        rec_free(r);
        return NULL;
    }
    if (value.n > 0)
        memcpy(r->val, value.p, value.n);
    r->val_len = value.n;
    if (key.p != NULL && key.n > 0)
        memcpy(r->key, key.p, key.n);
    r->key_len = key.n;
    return r;
}

int dead_letter_msg(struct dead_letter *dl, const char *topic, int32_t partition, int64_t offset,
                    struct kt_slice key, struct kt_slice value, const char *reason, uint64_t handle)
{
    warnf(dl, "dead letter: %s [%" PRId32 "] offset %" PRId64 ": %s%s%s", topic, partition, offset,
          reason, destination(dl), topic_or_none(dl));
    if (dl->rk == NULL) {
        dl->owner.finished(dl->owner.ctx, handle);
        return 0;
    }
    struct dlq_rec *r = rec_new(key, value, reason);
    if (r == NULL)
        return KT_ENOMEM;
    r->handle = handle;
    snprintf(r->source, sizeof(r->source), "%s/%" PRId32 "/%" PRId64, topic, partition, offset);
    produce(dl, r);
    return 0;
}

int dead_letter_data(struct dead_letter *dl, const char *source, struct kt_slice value,
                     const char *reason, void (*acked)(void *arg, bool delivered), void *arg)
{
    warnf(dl, "dead letter: %s: %s%s%s", source, reason, destination(dl), topic_or_none(dl));
    if (dl->rk == NULL) {
        acked(arg, true);
        return 0;
    }
    struct dlq_rec *r = rec_new((struct kt_slice){NULL, 0}, value, reason);
    if (r == NULL)
        return KT_ENOMEM;
    r->acked = acked;
    r->arg = arg;
    snprintf(r->source, sizeof(r->source), "%s", source);
    produce(dl, r);
    return 0;
}

bool dead_letter_poll(struct dead_letter *dl)
{
    if (dl->rk == NULL)
        return false;
    int i = 0;
    while (i < POLL_BATCH && rd_kafka_poll(dl->rk, 0) > 0)
        i++;
    return i == POLL_BATCH;
}

static int configure(const struct process_conf *conf, const struct kt_kafka_common *common,
                     rd_kafka_conf_t *kc, struct kt_err *err)
{
    int rc = kt_kafka_conf_common(kc, common, err);
    if (rc != 0)
        return rc;
    /* A copy must be stored exactly once before its source counts as finished. */
    rc = kt_kafka_set(kc, "kafka", "dead_letter_topic", "enable.idempotence", "true", err);
    if (rc != 0)
        return rc;
    return kt_kafka_conf_passthrough(kc, &conf->kafka.rdkafka, err);
}

static int producer_new(struct dead_letter *dl, const struct kt_kafka_common *common, int wake_fd,
                        struct kt_err *err)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    int rc = configure(dl->conf, common, kc, err);
    if (rc != 0) {
        rd_kafka_conf_destroy(kc);
        return rc;
    }
    rd_kafka_conf_set_opaque(kc, dl);
    rd_kafka_conf_set_dr_msg_cb(kc, dr_cb);
    rd_kafka_conf_set_error_cb(kc, error_cb);
    rd_kafka_conf_set_log_cb(kc, kt_kafka_log_cb);
    char errstr[512];
    dl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
    if (dl->rk == NULL) {
        rd_kafka_conf_destroy(kc);
        return kt_err_set(err, KT_EINVAL, "[kafka] dead_letter_topic: librdkafka: %s", errstr);
    }
    dl->rkt = rd_kafka_topic_new(dl->rk, dl->conf->kafka.dead_letter_topic, NULL);
    if (dl->rkt == NULL)
        return kt_err_set(err, KT_EINVAL, "[kafka] dead_letter_topic: librdkafka: %s",
                          rd_kafka_err2str(rd_kafka_last_error()));
    dl->q = rd_kafka_queue_get_main(dl->rk);
    rd_kafka_queue_io_event_enable(dl->q, wake_fd, "1", 1);
    return 0;
}

int dead_letter_new(const struct process_conf *conf, const struct kt_kafka_common *common,
                    struct ev_loop *loop, int wake_fd, const struct dead_letter_owner *owner,
                    struct dead_letter **out, struct kt_err *err)
{
    *out = NULL;
    struct dead_letter *dl = calloc(1, sizeof(*dl));
    if (dl == NULL)
        return kt_err_set(err, KT_ENOMEM, "dead letters: out of memory");
    dl->conf = conf;
    dl->loop = loop;
    dl->owner = *owner;
    ev_timer_init(&dl->retry, retry_cb, RETRY_S, 0.);
    dl->retry.data = dl;
    const char *topic = conf->kafka.dead_letter_topic;
    if (topic != NULL && topic[0] != '\0') {
        int rc = producer_new(dl, common, wake_fd, err);
        if (rc != 0) {
            dead_letter_free(dl);
            return rc;
        }
    }
    *out = dl;
    return 0;
}

void dead_letter_close(struct dead_letter *dl, int timeout_ms)
{
    ev_timer_stop(dl->loop, &dl->retry);
    dl->closing = true;
    if (dl->rk != NULL) {
        rd_kafka_queue_io_event_enable(dl->q, -1, NULL, 0);
        /* Acknowledged copies finish their sources before the owner's last commit. */
        rd_kafka_flush(dl->rk, timeout_ms);
    }
}

void dead_letter_free(struct dead_letter *dl)
{
    if (dl == NULL)
        return;
    ev_timer_stop(dl->loop, &dl->retry);
    /* Reports of what is purged free their records (closing: none is retried). */
    dl->closing = true;
    if (dl->rk != NULL) {
        if (dl->q != NULL)
            rd_kafka_queue_destroy(dl->q);
        if (dl->rkt != NULL)
            rd_kafka_topic_destroy(dl->rkt);
        kt_kafka_purge_and_drain(dl->rk);
        rd_kafka_destroy(dl->rk);
    }
    while (dl->retry_head != NULL) {
        struct dlq_rec *r = dl->retry_head;
        dl->retry_head = r->next;
        if (r->acked)
            r->acked(r->arg, false);
        rec_free(r);
    }
    free(dl);
}
