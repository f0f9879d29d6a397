/* offsets: the per-partition commit watermark.
 *
 * kotel-process finishes messages out of order (tail sampling holds a trace for up to
 * decision_wait while later messages are exported), but Kafka keeps one committed offset
 * per partition. An offset may be committed only when every message below it is finished,
 * so a crash can duplicate data but never lose it. The tracker records which handed-out
 * offsets are still pending and answers the lowest one.
 *
 * Offsets arrive increasing, possibly with gaps (compacted topics, transaction markers):
 * an offset never handed out is never pending, so gaps count as finished.
 *
 * Storage is a ring of fixed-size bitmap blocks, one bit per offset from each block's
 * start. A gap inside a block costs its bits; a gap past the end of the last block starts
 * a new block, so a jump of any size costs at most one block. A block is freed as soon as
 * everything in it is finished and it is no longer the newest. Tracking is O(1), finishing
 * is O(1) for contiguous offsets (O(log blocks) after gaps), the watermark is amortised
 * O(1). No Kafka in here: pure data, tested on its own. */
#ifndef PROCESS_OFFSETS_H
#define PROCESS_OFFSETS_H

#include <stddef.h>
#include <stdint.h>

#define OFFSETS_BLOCK_BITS 4096

struct offsets_block;

struct offset_tracker {
    struct offsets_block **ring; /* blocks in offset order, oldest at head */
    size_t cap;                  /* ring slots (a power of two, or 0) */
    size_t head;                 /* ring index of the oldest block */
    size_t n;                    /* blocks in the ring */
    struct offsets_block *spare; /* one freed block kept to avoid malloc churn */
    int64_t next;                /* one past the last tracked offset; -1 before the first */
    int64_t reported;            /* last value offsets_watermark returned; -1 none */
    size_t pending;              /* tracked and not finished */
};

/* An empty tracker (no allocation). */
void offsets_init(struct offset_tracker *t);

/* Frees everything and returns to the offsets_init state: used when a partition is
 * revoked or reassigned, so nothing of the previous ownership leaks into the next. */
void offsets_reset(struct offset_tracker *t);

/* Records `offset` as handed out and pending. Offsets must increase: returns KT_EINVAL for
 * a negative offset or one not above the last tracked, KT_ENOMEM when out of memory (the
 * tracker is unchanged in both cases), 0 otherwise. */
int offsets_track(struct offset_tracker *t, int64_t offset);

/* Marks a tracked offset finished, in any order. Returns 1 when a pending offset became
 * finished, 0 when the offset was unknown (never tracked, in a gap, before the tracker's
 * window, or already finished): such calls change nothing. */
int offsets_finish(struct offset_tracker *t, int64_t offset);

/* The offset to commit now: the lowest pending offset, or one past the last tracked when
 * nothing is pending. -1 when nothing was tracked since init/reset. */
int64_t offsets_position(const struct offset_tracker *t);

/* offsets_position when it moved past what the previous call returned (the value is
 * remembered), else -1: "is there something new to store". */
int64_t offsets_watermark(struct offset_tracker *t);

/* Offsets tracked and not finished. */
static inline size_t offsets_pending(const struct offset_tracker *t)
{
    return t->pending;
}

/* One past the last tracked offset, -1 before the first. */
static inline int64_t offsets_next(const struct offset_tracker *t)
{
    return t->next;
}

#endif
