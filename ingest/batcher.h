/* batcher: collects keyed chunks (complete serialized *Data messages, see otlp_split)
 * and, on flush, cuts them into Kafka-message-sized values, one key per message.
 *
 * Pure data structure: no Kafka, no event loop, so the grouping and size rules can be unit
 * tested. The caller decides when to flush (batcher_ready, batcher_would_overflow, its own
 * timer) and what to do with each message (the emit callback).
 *
 * Chunks of one key are concatenated in the order they were added; protobuf merges
 * repeated fields by appending, so the concatenation is again a valid *Data. A message is
 * closed before the next chunk would take it over max_message_bytes and a new message of
 * the same key is started; a chunk that alone is bigger still goes out, alone (the
 * splitter is what keeps chunks under the bound, the batcher never drops data). */
#ifndef INGEST_BATCHER_H
#define INGEST_BATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_buf.h"

/* Longest key in bytes: a hex trace ID (32) behind a 2-byte prefix a caller may put first
 * to keep apart chunks that must not share a message (the publisher's tenant index). */
#define BATCHER_KEY_MAX 34

struct batcher;

struct batcher_opts {
    size_t max_message_bytes;     /* bound on one message value (0 = none) */
    uint64_t send_batch_size;     /* batcher_ready once this many items are held */
    uint64_t send_batch_max_size; /* batcher_would_overflow bound (0 = none) */
};

/* A run of consecutive chunks of one message that were added with the same tag. */
struct batcher_part {
    void *tag;
    uint32_t n_chunks;
    uint32_t n_items;
};

struct batcher_msg {
    const char *key; /* key_len bytes (then a NUL); key_len 0 = no key */
    size_t key_len;
    /* The concatenated chunks, valid only during the callback: a view into the batch when
     * the chunks lie back to back there (always so for one chunk), else into a scratch
     * buffer. value.p is NULL when the value could not be built (out of memory): the
     * callback must then fail the message's parts itself. */
    struct kt_slice value;
    const struct batcher_part *parts;
    size_t n_parts;
    size_t n_chunks;
    uint64_t n_items;
};

/* Returns 0 when the callback consumed the message (sent it, or failed its parts), or
 * BATCHER_SPLIT to have the same chunks emitted again as two messages of about half the
 * size each (used when an encoding grows the value past the bound). BATCHER_SPLIT on a
 * message of one chunk is treated as 0: the callback must handle it. */
#define BATCHER_SPLIT 1
typedef int (*batcher_emit_fn)(void *ctx, const struct batcher_msg *m);

int batcher_new(const struct batcher_opts *o, struct batcher **out);
void batcher_free(struct batcher *b);

/* Copies one chunk into the open batch. The key is key_len bytes (0: none, binary allowed),
 * at most BATCHER_KEY_MAX. Returns 0, KT_EINVAL (key too long) or KT_ENOMEM (nothing was
 * added). */
int batcher_add(struct batcher *b, const char *key, size_t key_len, const uint8_t *p, size_t n,
                uint32_t n_items, void *tag);

/* The batch's own storage, for a caller that writes chunks into it (as otlp_split's
 * out) instead of having batcher_add copy them: append there, then register each chunk
 * with batcher_add_stored. Appended bytes never registered must be cut off again (set len
 * back) before the next batcher_add or flush. */
struct kt_buf *batcher_storage(struct batcher *b);

/* Registers bytes [off, off + n) of batcher_storage, appended after every chunk already
 * held, as one chunk; otherwise as batcher_add. Returns 0, KT_EINVAL (key too long, or
 * the range is not past the held chunks and inside the storage) or KT_ENOMEM (nothing was
 * added; the bytes stay appended). */
int batcher_add_stored(struct batcher *b, const char *key, size_t key_len, size_t off, size_t n,
                       uint32_t n_items, void *tag);

/* Emits every held chunk as messages, then empties the batch (keeping its storage). Keys
 * come out in the order they were first added since the last flush. */
void batcher_flush(struct batcher *b, batcher_emit_fn emit, void *ctx);

/* True once send_batch_size items or more are held. */
bool batcher_ready(const struct batcher *b);
/* True when adding n_items more would take a non-empty batch past send_batch_max_size, so
 * the caller should flush first. */
bool batcher_would_overflow(const struct batcher *b, uint64_t n_items);

uint64_t batcher_items(const struct batcher *b);
size_t batcher_bytes(const struct batcher *b);
size_t batcher_chunks(const struct batcher *b);

#endif
