/* libFuzzer target for kt_otlp_json: feeds the input to kt_otlp_json_to_proto as each
 * signal. Whatever is accepted must survive protobuf -> JSON -> protobuf unchanged: the
 * JSON written is read back to the very same bytes, or the mapping is lossy somewhere.
 * Converted a few bytes at a time (kt_otlp_json_dec_step) it must give the same answer,
 * and with small limits either the same bytes or KT_ETOOBIG.
 * The same bytes also go through kt_otlp_validate_flags (KT_OTLP_VALIDATE_NO_NUL) as
 * protobuf: what it accepts, kt_otlp_proto_to_json must turn into JSON that parses. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kt_otlp_json.h"
#include "kt_otlp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, enum kt_signal sig, const struct kt_err *err,
                 const struct kt_buf *json)
{
    fprintf(stderr, "%s (signal %d): %s\n", what, (int)sig, err != NULL ? err->msg : "");
    if (json != NULL)
        fprintf(stderr, "json: %.*s\n", (int)json->len, (const char *)json->p);
    abort();
}

/* The conversion a few bytes at a time (a step size taken from the input) gives what the
 * whole one gave: the same code, and the same bytes when it succeeded. */
static void sliced_same(enum kt_signal sig, const uint8_t *data, size_t size, int whole_rc,
                        const struct kt_buf *whole)
{
    struct kt_buf out = KT_BUF_INIT;
    struct kt_err err = {0};
    struct kt_otlp_json_dec *d;
    int rc = kt_otlp_json_dec_new(sig, (const char *)data, size, NULL, &out, &d, &err);
    size_t step = 1 + (size ? data[0] % 13 : 0);
    if (rc == 0)
        while ((rc = kt_otlp_json_dec_step(d, step, &err)) == KT_EAGAIN)
            ;
    if (rc != whole_rc)
        fail("converted in slices, the answer differs", sig, &err, NULL);
    if (rc == 0 && (out.len != whole->len || (out.len > 0 && memcmp(out.p, whole->p, out.len))))
        fail("converted in slices, the bytes differ", sig, &err, NULL);
    kt_otlp_json_dec_free(d);
    kt_buf_free(&out);
}

/* Limits only ever refuse (KT_ETOOBIG); what they let through is converted alike. */
static void limited_same(enum kt_signal sig, const uint8_t *data, size_t size,
                         const struct kt_buf *whole)
{
    const struct kt_otlp_limits lim = {3, 64};
    struct kt_buf out = KT_BUF_INIT;
    struct kt_err err = {0};
    int rc = kt_otlp_json_to_proto_limits(sig, (const char *)data, size, &lim, &out, &err);
    if (rc != 0 && (rc != KT_ETOOBIG || err.msg[0] == '\0'))
        fail("accepted without limits, refused with them but not as KT_ETOOBIG", sig, &err, NULL);
    if (rc == 0 && (out.len != whole->len || (out.len > 0 && memcmp(out.p, whole->p, out.len))))
        fail("the bytes differ with limits", sig, &err, NULL);
    kt_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kt_buf pb = KT_BUF_INIT;
    struct kt_buf json = KT_BUF_INIT;
    struct kt_buf pb2 = KT_BUF_INIT;
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        enum kt_signal sig = (enum kt_signal)s;
        struct kt_err err = {0};
        kt_buf_reset(&pb);
        kt_buf_reset(&json);
        kt_buf_reset(&pb2);
        int rc = kt_otlp_json_to_proto(sig, (const char *)data, size, &pb, &err);
        sliced_same(sig, data, size, rc, &pb);
        if (rc == KT_EINVAL || rc == KT_ETOOBIG) {
            if (err.msg[0] == '\0')
                fail("refused without a message", sig, &err, NULL);
            continue;
        }
        if (rc != 0)
            fail("json_to_proto failed oddly", sig, &err, NULL);
        limited_same(sig, data, size, &pb);
        if (kt_otlp_proto_to_json(sig, kt_buf_slice(&pb), &json, &err) != 0)
            fail("proto_to_json rejected our own protobuf", sig, &err, NULL);
        if (kt_otlp_json_to_proto(sig, (const char *)json.p, json.len, &pb2, &err) != 0)
            fail("json_to_proto rejected our own JSON", sig, &err, &json);
        if (pb.len != pb2.len || (pb.len > 0 && memcmp(pb.p, pb2.p, pb.len) != 0))
            fail("protobuf differs after a JSON round trip", sig, &err, &json);
    }
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        enum kt_signal sig = (enum kt_signal)s;
        struct kt_err err = {0};
        struct kt_slice raw = {data, size};
        kt_buf_reset(&json);
        if (kt_otlp_validate_flags(sig, raw, KT_OTLP_VALIDATE_NO_NUL, NULL, &err) != 0)
            continue;
        if (kt_otlp_proto_to_json(sig, raw, &json, &err) != 0)
            fail("proto_to_json refused validated protobuf", sig, &err, NULL);
        json_error_t jerr;
        json_t *v = json_loadb((const char *)json.p, json.len, 0, &jerr);
        if (v == NULL)
            fail("proto_to_json wrote invalid JSON", sig, &err, &json);
        json_decref(v);
    }
    kt_buf_free(&pb);
    kt_buf_free(&json);
    kt_buf_free(&pb2);
    return 0;
}
