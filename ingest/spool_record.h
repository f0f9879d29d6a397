/* spool_record: the on-disk format of the edge spool (spool.c), apart from any I/O so that
 * the reader can be fuzzed on arbitrary bytes.
 *
 * A segment file starts with SPOOL_MAGIC (8 bytes; the last byte is the format version),
 * then holds records back to back. A record is one Kafka message as the publisher would
 * produce it:
 *
 *     u32le len      bytes of body (below)
 *     u32le crc      zlib crc32 of the len field and the body, so a torn or flipped length
 *                    is caught as surely as a flipped payload byte
 *     body:  u8 signal (enum kt_signal), u8 flags, u16le key_len, key, [header | headers],
 *            [topic], value
 *     header (only with flag SPOOL_FLAG_HEADER): one pair, the message's one record header
 *     headers (only with flag SPOOL_FLAG_HEADERS): u16le bytes, then that many bytes of
 *                    pairs: the message's record headers in order
 *     pair:  u16le name_len (> 0), name, u16le value_len, value
 *     topic (only with flag SPOOL_FLAG_TOPIC): u16le len (> 0), the topic's name, when it is
 *                    not the signal's [kafka] *_topic
 *
 * Flags is 0 for a message without a header, so such records are the same bytes as before
 * headers existed and older segments replay unchanged; a message with one header and the
 * signal's topic is written as before topics and several headers existed (a kotel that
 * predates them reads a record with them as corrupt). Other flag bits are refused.
 *
 * A crash can leave a record cut short at the end of a segment, and a disk can flip a byte:
 * both fail the checks here and end what is replayed of the segment. */
#ifndef INGEST_SPOOL_RECORD_H
#define INGEST_SPOOL_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_buf.h"
#include "kt_err.h"
#include "kt_signal.h"

#define SPOOL_MAGIC "KTSPOOL1"
#define SPOOL_MAGIC_LEN 8
#define SPOOL_RECORD_HDR 8
#define SPOOL_BODY_HDR 4
#define SPOOL_FLAG_HEADER 0x01
#define SPOOL_FLAG_HEADERS 0x02
#define SPOOL_FLAG_TOPIC 0x04
/* No record the publisher writes comes near this (max_message_bytes stops below 1 GB); a
 * larger length is corruption, refused before anything is allocated for it. */
#define SPOOL_RECORD_MAX (1024u * 1024u * 1024u)

/* A view of one record (borrows the bytes it was parsed from). */
struct spool_msg {
    enum kt_signal sig;
    struct kt_slice key, value;
    /* The record headers as pairs (the format above; n 0: none), and the topic (n 0: the
     * signal's). */
    struct kt_slice hdrs;
    struct kt_slice topic;
};

/* Takes the next pair off *rest: true with *name and *value set, false at the end or when
 * *rest does not hold a whole pair with a non-empty name. The one reader of header pairs,
 * for the spool and for the publisher, which keeps a message's headers in this form. */
bool spool_hdrs_next(struct kt_slice *rest, struct kt_slice *name, struct kt_slice *value);
/* Appends one pair to b (name non-empty; both at most UINT16_MAX bytes). 0 or KT_ENOMEM. */
int spool_hdrs_add(struct kt_buf *b, struct kt_slice name, struct kt_slice value);

/* Bytes the record of m takes on disk, header included. */
size_t spool_record_size(const struct spool_msg *m);

/* Writes the record of m to out, which has room for spool_record_size(m) bytes. KT_ETOOBIG
 * (and nothing written) when the key, a header field or the record is over the format's
 * bounds. */
int spool_record_encode(const struct spool_msg *m, uint8_t *out, struct kt_err *err);

/* The length of the record whose header is at p (SPOOL_RECORD_HDR bytes): its total size
 * on disk in *total. KT_EPROTO (err says why) when the length cannot be a record's. */
int spool_record_total(const uint8_t *p, uint64_t *total, struct kt_err *err);

/* Parses the record at the start of p[0..n). 0: *m views it, *used is its size on disk.
 * KT_EAGAIN: n ends inside the record (a torn tail when the file ends there). KT_EPROTO:
 * the bytes are not a record (checksum, length, signal, flags or header wrong), err says
 * which. */
int spool_record_parse(const uint8_t *p, size_t n, struct spool_msg *m, size_t *used,
                       struct kt_err *err);

#endif
