/* backlog: progress of draining a consumer backlog, for the operator who started a group at
 * [kafka] initial_offset = earliest and waits for it to catch up.
 *
 * Fed with samples of the total lag (messages after the offsets stored for commit, summed
 * over the partitions this replica owns), it keeps a smoothed drain rate and an ETA, and says
 * when a progress line is due (every BACKLOG_REPORT_S while the lag is over the threshold)
 * and when the backlog has drained (once, on falling to the threshold after being over it).
 *
 * The rate is the decrease of the lag, not the consume rate: producers keep writing while the
 * backlog drains, and the time to catch up is lag / (consumed - produced), which is exactly
 * the lag's rate of decrease. A lag that grows is reported as such, with no ETA.
 *
 * Pure arithmetic on the caller's clock (seconds) and text, no I/O: the consumer logs the
 * lines it is handed. */
#ifndef PROCESS_BACKLOG_H
#define PROCESS_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Seconds between two progress lines. librdkafka's statistics (the source of the samples)
 * arrive every 5 s; a little slack keeps a late sample from skipping a report. */
#define BACKLOG_REPORT_S 4.5
/* Time constant of the drain rate's exponential smoothing, seconds: long enough that one
 * slow export does not swing the ETA, short enough to follow a backend that got faster. */
#define BACKLOG_SMOOTH_S 30.0

enum backlog_state {
    BACKLOG_BELOW_THRESHOLD, /* never over the threshold (or reporting is off) */
    BACKLOG_DRAINING,        /* over the threshold */
    BACKLOG_DRAINED          /* was over it, now at or under it */
};

/* What /status shows. */
struct backlog_view {
    uint64_t lag;        /* messages behind, from the last sample (0 before any) */
    uint32_t partitions; /* of those, partitions with lag > 0 */
    double rate_per_s;   /* smoothed decrease of the lag; negative: it grows; 0 before known */
    double eta_s;        /* seconds until the lag is drained; negative: unknown or growing */
    bool paused;         /* the last sample was taken while backpressure paused fetching */
    bool known;          /* a sample arrived */
    enum backlog_state state;
};

/* One sample: the lag of this replica's partitions at time now. */
struct backlog_sample {
    double now;          /* seconds, any clock that does not go back */
    uint64_t lag;        /* sum over the owned partitions whose lag is known */
    uint32_t partitions; /* partitions with lag > 0 */
    /* The change the drain rate is taken on (backlog_sample_add): the lag's decrease since
     * the previous sample, summed over the partitions in both samples and counted from the
     * consumer's own offsets in both (not BACKLOG_FROM_FETCH, which swings whenever fetching
     * pauses), and how many those are (0: no rate from this sample). A partition that joins
     * (a rebalance, its lag just known) is a jump, not growth. */
    int64_t decrease;
    uint32_t compared;
    /* Fetching was paused by backpressure through the whole interval since the previous
     * sample: the high watermarks come with fetch responses, so the lag is as of the last
     * fetch and its change says nothing about draining. */
    bool paused;
    const char *top_topic; /* borrowed: the partition with the most lag (NULL: none) */
    int32_t top_partition;
    uint64_t top_lag;
};

struct backlog {
    uint64_t threshold; /* 0: no lines and state stays BELOW_THRESHOLD */
    bool have_prev;     /* the next sample's decrease may give a rate */
    double prev_now;
    bool have_rate;
    double rate; /* smoothed, messages per second the lag decreases */
    double last_report;
    bool reported; /* last_report is set */
    struct backlog_view view;
};

void backlog_init(struct backlog *b, uint64_t threshold);

/* The set of partitions changed (a rebalance): the next sample's lag is not comparable with
 * the previous one, so no rate is taken across it. The smoothed rate is kept. */
void backlog_restart(struct backlog *b);

/* Where a partition's lag counts from (backlog_partition_lag). All but the last count from
 * an offset that moves forward only as the consumer gets on (or retention deletes), so the
 * change of a lag between two samples is the partition's drain also where it moved from one
 * to the next (the log start to the first message handed out to the first offset stored);
 * librdkafka's fetch position runs ahead and moves back when fetching pauses. */
enum backlog_lag_from {
    BACKLOG_FROM_STORED = 1,
    BACKLOG_FROM_COMMITTED,
    BACKLOG_FROM_POSITION,  /* the first unfinished message handed out */
    BACKLOG_FROM_LOG_START, /* none handed out yet, reading from the earliest offset */
    BACKLOG_FROM_FETCH      /* none handed out yet, reading from the latest offset */
};

/* One partition's offsets: librdkafka's statistics (-1 where absent or not known yet) and
 * where the consumer is in it. */
struct backlog_offsets {
    int64_t lag_stored;    /* consumer_lag_stored: after the offset stored for commit */
    int64_t lag_committed; /* consumer_lag: after the committed offset */
    int64_t hi, lo;        /* hi_offset, lo_offset (log start), from fetch responses */
    int64_t next;          /* next_offset: librdkafka's fetch position */
    int64_t fetchq;        /* fetchq_cnt */
    int64_t position;      /* the first unfinished message handed to the consumer, else the
                              one after the last handed out; -1 before any was */
    bool from_earliest;    /* auto.offset.reset is earliest */
};

/* The messages of a partition still to finish: after the offset stored for commit (the
 * finished prefix), else after the committed one. Before either exists (a new group whose
 * first messages are not finished yet, an empty partition) it counts from the first
 * unfinished message handed out; before any was, from where reading starts: the log start
 * when the group starts at the earliest offset. Never from the fetch position: librdkafka
 * fetches megabytes ahead into the consumer queue (a whole small backlog at once), counts
 * none of it in the partition's queue, and moves the position back when the partition is
 * paused, so a partition none of whose messages was handed out would read as drained with
 * its backlog still to export. Starting at the latest offset, what arrived since is the lag:
 * from the fetch position plus what librdkafka says it holds. Sets *from; -1 when not
 * known. */
int64_t backlog_partition_lag(const struct backlog_offsets *o, enum backlog_lag_from *from);

/* A partition as the previous sample counted it: the caller keeps one per owned partition,
 * zeroed when the partition is assigned, and hands it to every sample. */
struct backlog_part {
    int64_t lag;
    uint8_t from; /* enum backlog_lag_from; 0: not in the previous sample */
};

/* Adds one partition's lag (>= 0, counted from `from`: backlog_partition_lag) to the sample
 * being built: to the total, the partitions behind and the most lag (topic is borrowed until
 * the sample is taken), and its decrease since the previous sample to the rate's when
 * neither counted it from the fetch position. Updates *prev to this sample. Every sample
 * must add every owned partition: one left out is not in the previous sample of the next. */
void backlog_sample_add(struct backlog_sample *s, struct backlog_part *prev, int64_t lag,
                        enum backlog_lag_from from, const char *topic, int32_t partition);

/* Takes a sample. Returns true when a line is due, written into line (cap bytes): the
 * progress line ("backlog: N messages behind on T partitions, draining at R msg/s, ETA ~M
 * min (...)") or the drained line ("backlog drained: ..."). */
bool backlog_sample(struct backlog *b, const struct backlog_sample *s, char *line, size_t cap);

void backlog_get_view(const struct backlog *b, struct backlog_view *out);

#endif
