/* pipeline: what kotel-process does with each Kafka message, and when the message counts
 * as finished so its offset may be committed.
 *
 * A message becomes a set of pieces (the whole decoded message, or one piece per trace
 * when tail sampling is on). Each piece is finished by the exporter (exported or
 * permanently refused) or the sampler (sampled out); filtering finishes items at once.
 * When a message's last piece is finished, the consumer is told and its partition's
 * watermark may advance. */
#ifndef PROCESS_PIPELINE_H
#define PROCESS_PIPELINE_H

#include <stdbool.h>

#include <ev.h>

#include "conf.h"
#include "kt_buf.h"
#include "kt_err.h"
#include "kt_signal.h"

struct pipeline;

/* conf is borrowed and must outlive the pipeline. Compiles filter, transform and sampling
 * policies (errors name the key), connects the exporter, joins the consumer group. */
int pipeline_new(const struct process_conf *conf, struct ev_loop *loop, struct pipeline **out,
                 struct kt_err *err);

/* Compiles filter, transform and sampling policies without connecting anything: the
 * configuration check behind --check. */
int pipeline_check(const struct process_conf *conf, struct kt_err *err);

/* SIGHUP: re-reads what may change on disk without a restart (header values kept in files,
 * see exporter_reload). On an error the previous values stay and err says why. */
int pipeline_reload(struct pipeline *p, struct kt_err *err);

/* Shutdown, step 1: stop fetching and send what is decided. */
void pipeline_begin_shutdown(struct pipeline *p);
/* True when nothing decided is waiting for the exporter. */
bool pipeline_drained(const struct pipeline *p);
/* Commits what is finished, leaves the group and frees everything. */
void pipeline_free(struct pipeline *p);

/* Counts of one signal: Kafka messages, of those the ones dead-lettered as undecodable or
 * failing a propagating filter / transform, items in them, items dropped by [filter], items
 * handed to the exporter. */
struct pipeline_signal_stats {
    uint64_t messages, poison, items_in, items_filtered, items_exported;
};
struct pipeline_stats {
    uint64_t messages, poison, items_in, items_filtered, items_exported; /* every signal */
    uint64_t filter_errors, transform_errors; /* every signal: filter_errors, transform_errors */
    struct pipeline_signal_stats sig[KT_SIGNAL_COUNT];
};
void pipeline_get_stats(const struct pipeline *p, struct pipeline_stats *out);

struct consumer;
struct tail_sampler;
struct exporter;
/* The parts, for the admin pages to read (borrowed from p; the sampler is NULL when tail
 * sampling is off). */
const struct consumer *pipeline_consumer(const struct pipeline *p);
const struct tail_sampler *pipeline_sampler(const struct pipeline *p);
const struct exporter *pipeline_exporter(const struct pipeline *p);

/* Every kotel-process family but build and process information (Prometheus text, see
 * kt_prom.h) appended to b: the pipeline's, the consumer's, the sampler's, the exporter's. */
void pipeline_write_metrics(const struct pipeline *p, struct kt_buf *b);

/* NULL when ready (partitions assigned and the backend answering); else why not, written
 * into buf (cap bytes). */
const char *pipeline_not_ready(struct pipeline *p, char *buf, size_t cap);

#endif
