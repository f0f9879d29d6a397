/* spool: the edge disk spool of kotel-ingest ([spool]). While Kafka cannot take messages,
 * the publisher appends them here and acknowledges its clients once the append is durable
 * per [spool] fsync; once Kafka is back it takes the records out again, oldest first, and
 * acknowledges each one Kafka stored. A segment file is deleted once every record in it was
 * acknowledged; whatever was not survives a crash or a restart and is drained again
 * (duplicates possible, loss not). Record format: spool_record.h.
 *
 * Threads: every function here is called on the event loop thread. Writes, fsync, reads and
 * unlinks run on the spool's own I/O thread, which hands its results back through an
 * ev_async, so the loop never waits for the disk (spool_new scans the directory and
 * spool_free waits for the last writes; both run outside the loop's service). */
#ifndef INGEST_SPOOL_H
#define INGEST_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "kt_err.h"
#include "spool_record.h"

enum spool_fsync { SPOOL_FSYNC_BATCH = 0, SPOOL_FSYNC_ALWAYS = 1, SPOOL_FSYNC_NEVER = 2 };

struct spool_opts {
    const char *dir;       /* borrowed for the spool's life */
    uint64_t max_size;     /* bytes of segment files at most */
    uint64_t segment_size; /* a segment is rolled once it reaches this */
    int fsync;             /* enum spool_fsync */
};

struct spool;

/* One record taken out for draining. m views memory the spool owns until the record is
 * handed back with spool_done. */
struct spool_rec {
    struct spool_msg m;
};

/* An append finished: status 0 once the record is durable per [spool] fsync, or KT_EAGAIN
 * with msg (valid during the call) saying why it was not written. Called on the loop, never
 * from inside spool_append; by spool_free for the appends still unreported. */
typedef void (*spool_appended_fn)(void *ctx, void *tag, int status, const char *msg);
/* Records can be taken with spool_take (called on the loop). */
typedef void (*spool_ready_fn)(void *ctx);

/* Creates the directory when missing (one level), takes its lock (one process per
 * directory) and lists the segments a previous run left, without reading them yet.
 * opts is copied, but opts->dir is borrowed and must outlive the spool, as must loop. Errors name
 * [spool] dir and the path. */
int spool_new(const struct spool_opts *opts, struct ev_loop *loop, spool_appended_fn appended,
              spool_ready_fn ready, void *ctx, struct spool **out, struct kt_err *err);

/* Queues the record of m (borrowed: copied before return) for appending; appended gets tag
 * later. KT_EAGAIN with err set, and no callback, when the spool is full ([spool] max_size)
 * or the directory failed a write within the last second; KT_ETOOBIG for a record over the
 * format's bounds. */
int spool_append(struct spool *s, const struct spool_msg *m, void *tag, struct kt_err *err);

/* Why an append would be refused now (NULL when it would not); the text stays valid until
 * the next call into the spool. */
const char *spool_refusing(struct spool *s);

/* Whether the I/O thread should read records ahead for spool_take (while Kafka takes data). */
void spool_drain(struct spool *s, bool on);
/* The oldest record not yet taken (records handed back with spool_done(false) first), or
 * NULL when none is read yet. */
struct spool_rec *spool_take(struct spool *s);
/* The caller is finished with r. delivered: Kafka acknowledged it (its segment is deleted
 * once every record in it was); otherwise it goes back to be taken again. */
void spool_done(struct spool *s, struct spool_rec *r, bool delivered);

/* Nothing queued for writing and no append unreported. */
bool spool_idle(struct spool *s);

struct spool_stats {
    uint64_t bytes;     /* segment files, bytes */
    uint64_t segments;  /* segment files */
    uint64_t appended;  /* records written (this run) */
    uint64_t delivered; /* records acknowledged by Kafka (this run) */
    uint64_t corrupt;   /* torn or corrupt segment tails skipped */
    uint64_t write_errors;
};
void spool_get_stats(struct spool *s, struct spool_stats *out);

/* Writes what is queued, stops the I/O thread, reports the appends not yet reported, and
 * frees everything; the segments stay on disk. Records taken and not handed back are freed
 * too (their segments stay). NULL is ignored. */
void spool_free(struct spool *s);

#endif
