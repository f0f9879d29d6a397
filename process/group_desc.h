/* group_desc: the consumer group's members and their assignments as the group coordinator
 * describes them, fetched on a thread of its own so that the loop never waits.
 *
 * Only the group's leader learns the other members' assignments through the group protocol;
 * every other replica has to ask the coordinator (ListGroups, then DescribeGroups). librdkafka
 * 2.0.2's admin API for that (rd_kafka_DescribeConsumerGroups) aborts the whole process when
 * a broker restarts while a request of it is outstanding ("rd_kafka_enq_once_del_source_return:
 * Assertion `eonce->refcnt > 0' failed", librdkafka #4605; the chaos ledger hit it). The older
 * rd_kafka_list_groups does not: it gives up cleanly at its timeout, but it blocks until then,
 * so it runs here, on a thread, and the answer reaches the loop through an ev_async.
 *
 * One description is fetched at a time; the callback runs on the loop thread. */
#ifndef PROCESS_GROUP_DESC_H
#define PROCESS_GROUP_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <librdkafka/rdkafka.h>

#include "kt_err.h"

struct group_desc;

struct group_member {
    const char *id; /* the member id, as rd_kafka_memberid gives it for this process */
    /* The partitions the member was assigned; NULL when it has none yet or its assignment
     * is not in the consumer protocol's format (not a kotel or Collector replica). */
    const rd_kafka_topic_partition_list_t *assigned;
};

/* Everything borrowed for the duration of the callback. */
struct group_desc_result {
    const char *error; /* NULL, or why the group could not be described */
    const char *state; /* the coordinator's group state: "Stable", "PreparingRebalance", ... */
    size_t n_members;
    const struct group_member *members;
};

typedef void (*group_desc_fn)(void *ctx, const struct group_desc_result *r);

/* A describer of group on rk (borrowed; must outlive it), answering through fn on loop.
 * timeout_ms bounds each description, and so the wait in group_desc_free. No thread runs
 * until the first group_desc_ask. Returns 0 or KT_ENOMEM. */
int group_desc_new(struct group_desc **out, struct ev_loop *loop, rd_kafka_t *rk, const char *group,
                   int timeout_ms, group_desc_fn fn, void *ctx, struct kt_err *err);

/* Starts fetching one description. Returns false (and does nothing) while the previous one
 * is still being fetched or was not handed to fn yet, or when the thread cannot start
 * (logged). */
bool group_desc_ask(struct group_desc *gd);

/* Stops the thread, waiting for a description in progress (at most timeout_ms), and frees
 * gd; fn is not called again. NULL is fine. */
void group_desc_free(struct group_desc *gd);

/* Decodes a member's assignment in Kafka's consumer protocol (ConsumerProtocolAssignment:
 * int16 version, then the topics with their partitions, then user data, which is skipped).
 * *out takes a new list on success. Returns 0, KT_EPROTO (truncated or inconsistent bytes,
 * message in err) or KT_ENOMEM. */
int group_desc_parse_assignment(const uint8_t *p, size_t n, rd_kafka_topic_partition_list_t **out,
                                struct kt_err *err);

#endif
