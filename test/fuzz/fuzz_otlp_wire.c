/* libFuzzer target for kt_otlp_wire: the input is validated as each signal, and whatever
 * validates is split in every key mode, unbounded and with a small chunk bound. Beyond "no
 * crash", the split output is checked: each chunk is within the bound and validates with
 * the item count it claims, no item is lost or duplicated (emitted + rejected = validated),
 * and all chunks concatenated are one valid message. protobuf-c is the independent oracle:
 * whatever kt_otlp_validate accepts, it must decode too. Small limits
 * (kt_otlp_validate_limits) refuse only more of it, with KT_ETOOBIG; the structure check
 * (KT_OTLP_VALIDATE_STRUCTURE) accepts all of it with the same count. With a cache of
 * valid resources and scopes (kt_otlp_validate_cached) every answer is the same as without,
 * and what it says it found holds (KT_OTLP_FOUND_SPAN_KV_SHORT, checked on the fields). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ingest/otlp_split.h"
#include "kt_otlp_wire.h"
#include "kt_pb.h"
#include "opentelemetry/proto/logs/v1/logs.pb-c.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb-c.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

static void check(bool ok, const char *what, enum kt_signal sig, int mode, size_t max)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_otlp_wire: %s (signal %s, key mode %d, max %zu)\n", what,
            kt_signal_name(sig), mode, max);
    abort();
}

static bool protobuf_c_decodes(enum kt_signal sig, struct kt_slice b)
{
    ProtobufCMessage *m = NULL;
    switch (sig) {
    case KT_SIGNAL_TRACES:
        m = (ProtobufCMessage *)opentelemetry__proto__trace__v1__traces_data__unpack(NULL, b.n,
                                                                                     b.p);
        break;
    case KT_SIGNAL_METRICS:
        m = (ProtobufCMessage *)opentelemetry__proto__metrics__v1__metrics_data__unpack(NULL, b.n,
                                                                                        b.p);
        break;
    case KT_SIGNAL_LOGS:
        m = (ProtobufCMessage *)opentelemetry__proto__logs__v1__logs_data__unpack(NULL, b.n, b.p);
        break;
    }
    if (m == NULL)
        return false;
    protobuf_c_message_free_unpacked(m, NULL);
    return true;
}

/* topic_attr: [kafka] topic_from_attribute (NULL: none). */
static void split_and_check(struct otlp_splitter *s, enum kt_signal sig, struct kt_slice msg,
                            size_t n_items, int mode, size_t max, const char *topic_attr,
                            struct kt_buf *out, struct otlp_chunks *chunks)
{
    kt_buf_reset(out);
    otlp_chunks_reset(chunks);
    struct otlp_split_opts o = {(enum otlp_key_mode)mode, max, topic_attr};
    size_t rejected = 0;
    struct kt_err err = {0, ""};
    int rc = otlp_splitter_split(s, sig, msg, &o, out, chunks, &rejected, &err);
    if (sig == KT_SIGNAL_METRICS && mode == OTLP_KEY_TRACE_ID) {
        check(rc == KT_EINVAL && chunks->n == 0, "trace_id keys accepted for metrics", sig, mode,
              max);
        return;
    }
    check(rc == 0, "split failed on a valid message", sig, mode, max);
    check(rejected == 0 || err.msg[0] != '\0', "rejects without a reason", sig, mode, max);

    size_t total = 0, end = 0;
    for (size_t i = 0; i < chunks->n; i++) {
        const struct otlp_chunk *c = &chunks->v[i];
        check(c->off == end, "chunks not back to back", sig, mode, max);
        end = c->off + c->len;
        check(end <= out->len, "chunk past the output", sig, mode, max);
        check(max == 0 || c->len <= max, "chunk over max_chunk_bytes", sig, mode, max);
        check(c->n_items > 0, "chunk without items", sig, mode, max);
        check(c->topic.n == 0 || (topic_attr != NULL && c->topic.p >= msg.p &&
                                  c->topic.p + c->topic.n <= msg.p + msg.n),
              "chunk topic outside the message, or without topic_from_attribute", sig, mode, max);
        size_t keylen = c->key_len;
        check(keylen < sizeof(c->key) && c->key[keylen] == '\0', "key not terminated", sig, mode,
              max);
        if (mode == OTLP_KEY_NONE)
            check(keylen == 0, "key in mode none", sig, mode, max);
        if (mode == OTLP_KEY_RESOURCE_HASH)
            check(keylen == 16, "resource key not 16 bytes", sig, mode, max);
        if (mode == OTLP_KEY_TRACE_ID)
            check((keylen == 0 || keylen == 32) && strnlen(c->key, sizeof(c->key)) == keylen,
                  "trace key not 32 hex digits", sig, mode, max);
        size_t n = 0;
        struct kt_slice b = {out->p + c->off, c->len};
        check(kt_otlp_validate(sig, b, &n, NULL) == 0, "chunk does not validate", sig, mode, max);
        check(n == c->n_items, "chunk item count wrong", sig, mode, max);
        check(protobuf_c_decodes(sig, b), "protobuf-c cannot decode a chunk", sig, mode, max);
        total += n;
    }
    check(end == out->len, "output has bytes outside chunks", sig, mode, max);
    check(total + rejected == n_items, "items lost or duplicated", sig, mode, max);
    size_t n = 0;
    check(kt_otlp_validate(sig, kt_buf_slice(out), &n, NULL) == 0 && n == total,
          "concatenated chunks do not validate", sig, mode, max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether every KeyValue in the list fields of msg numbered in lists is key, then at most one
 * value, each with a length under 128. */
static bool kvs_short(struct kt_slice msg, uint32_t list)
{
    struct kt_pb b = kt_pb_of(msg);
    struct kt_pb_field f;
    while (kt_pb_next(&b, &f)) {
        if (f.num != list)
            continue;
        const uint8_t *kv = f.bytes.p;
        size_t n = f.bytes.n, kl;
        if (f.wt != KT_PB_LEN || n < 2 || kv[0] != 0x0a || (kl = kv[1]) >= 0x80 || kl > n - 2)
            return false;
        size_t rest = n - 2 - kl;
        if (rest != 0 &&
            (rest < 2 || kv[2 + kl] != 0x12 || kv[3 + kl] >= 0x80 || kv[3 + kl] != rest - 2))
            return false;
    }
    return true;
}

/* KT_OTLP_FOUND_SPAN_KV_SHORT's promise, on a valid TracesData: the KeyValues of every
 * span's attributes (9), its events' (11: 3) and links' (13: 4). */
static bool span_kvs_short(struct kt_slice msg)
{
    struct kt_pb rs = kt_pb_of(msg);
    struct kt_pb_field r, s, sp, e;
    while (kt_pb_next(&rs, &r)) {
        struct kt_pb ss = kt_pb_of(r.num == 1 ? r.bytes : (struct kt_slice){NULL, 0});
        while (kt_pb_next(&ss, &s)) {
            struct kt_pb spans = kt_pb_of(s.num == 2 ? s.bytes : (struct kt_slice){NULL, 0});
            while (kt_pb_next(&spans, &sp)) {
                if (sp.num != 2)
                    continue;
                if (!kvs_short(sp.bytes, 9))
                    return false;
                struct kt_pb in = kt_pb_of(sp.bytes);
                while (kt_pb_next(&in, &e))
                    if ((e.num == 11 && !kvs_short(e.bytes, 3)) ||
                        (e.num == 13 && !kvs_short(e.bytes, 4)))
                        return false;
            }
        }
    }
    return true;
}

/* kt_otlp_validate_cached answers as the walk without it, error message included, under
 * each set of rules in turn. The cache is kept across inputs, so that it holds resources
 * and scopes of earlier ones, which mutated inputs then carry changed. */
static void check_cached(enum kt_signal sig, struct kt_slice msg)
{
    static struct kt_otlp_vcache vc;
    static const struct kt_otlp_limits lim = {3, 130};
    static const struct {
        unsigned flags;
        const struct kt_otlp_limits *lim;
    } rules[] = {
        {0, NULL}, {KT_OTLP_VALIDATE_STRUCTURE, NULL}, {KT_OTLP_VALIDATE_NO_NUL, NULL}, {0, &lim}};
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        struct kt_err e1 = {0, ""}, e2 = {0, ""};
        size_t n1 = 0, n2 = 0;
        unsigned found = 0;
        int rc1 = kt_otlp_validate_limits(sig, msg, rules[i].flags, rules[i].lim, &n1, &e1);
        int rc2 =
            kt_otlp_validate_cached(sig, msg, rules[i].flags, rules[i].lim, &vc, &n2, &found, &e2);
        check(rc1 == rc2 && n1 == n2 && strcmp(e1.msg, e2.msg) == 0,
              "the cache of valid resources changed the answer (key mode: the rules' index)", sig,
              (int)i, 0);
        check(!(found & KT_OTLP_FOUND_SPAN_KV_SHORT) ||
                  (rc2 == 0 &&
                   !(rules[i].flags & (KT_OTLP_VALIDATE_STRUCTURE | KT_OTLP_VALIDATE_NO_NUL)) &&
                   (sig != KT_SIGNAL_TRACES || span_kvs_short(msg))),
              "found short span key-values where some are not (key mode: the rules' index)", sig,
              (int)i, 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct kt_buf out = KT_BUF_INIT;
    static struct otlp_chunks chunks;
    static struct otlp_splitter *splitter;
    if (splitter == NULL)
        splitter = otlp_splitter_new();
    check(splitter != NULL, "out of memory", KT_SIGNAL_TRACES, -1, 0);
    struct kt_slice msg = {data, size};
    /* A bound small enough to force item-level splits and rejects, varied by the input. */
    size_t small = 48 + (size ? data[size - 1] : 0) * 4;
    for (int sig = 0; sig < KT_SIGNAL_COUNT; sig++) {
        size_t n_items = 0, n_structure = 0;
        struct kt_err err = {0, ""};
        int rc_structure = kt_otlp_validate_flags((enum kt_signal)sig, msg,
                                                  KT_OTLP_VALIDATE_STRUCTURE, &n_structure, &err);
        int rc = kt_otlp_validate((enum kt_signal)sig, msg, &n_items, &err);
        check_cached((enum kt_signal)sig, msg);
        /* The structure check walks a part of what the full one does: it accepts all the
         * full check accepts, with the same count. */
        check(rc != 0 || (rc_structure == 0 && n_structure == n_items),
              "the structure check refused or counted otherwise what the full check accepts",
              (enum kt_signal)sig, -1, 0);
        if (rc != 0) {
            check((rc == KT_EINVAL || rc == KT_ETOOBIG) && err.code == rc && err.msg[0] != '\0',
                  "validation failed without a message", (enum kt_signal)sig, -1, 0);
            continue;
        }
        /* Limits only ever refuse more, as KT_ETOOBIG, and count alike. */
        const struct kt_otlp_limits lim = {3, 130};
        size_t n_lim = 0;
        rc = kt_otlp_validate_limits((enum kt_signal)sig, msg, 0, &lim, &n_lim, &err);
        check(rc == 0 ? n_lim == n_items : rc == KT_ETOOBIG && err.code == rc,
              "the limits refused other than KT_ETOOBIG, or counted otherwise", (enum kt_signal)sig,
              -1, 0);
        check(protobuf_c_decodes((enum kt_signal)sig, msg),
              "validated, but protobuf-c cannot decode it", (enum kt_signal)sig, -1, 0);
        for (int mode = OTLP_KEY_NONE; mode <= OTLP_KEY_RESOURCE_HASH; mode++) {
            split_and_check(splitter, (enum kt_signal)sig, msg, n_items, mode, 0, NULL, &out,
                            &chunks);
            split_and_check(splitter, (enum kt_signal)sig, msg, n_items, mode, small, NULL, &out,
                            &chunks);
            split_and_check(splitter, (enum kt_signal)sig, msg, n_items, mode, small,
                            "service.name", &out, &chunks);
        }
    }
    return 0;
}
