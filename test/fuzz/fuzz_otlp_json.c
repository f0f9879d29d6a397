/* libFuzzer target for kt_otlp_json: feeds the input to kt_otlp_json_to_proto as each
 * signal. Whatever is accepted must survive protobuf -> JSON -> protobuf unchanged: the
 * JSON written is read back to the very same bytes, or the mapping is lossy somewhere.
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
        if (rc == KT_EINVAL) {
            if (err.msg[0] == '\0')
                fail("KT_EINVAL without a message", sig, &err, NULL);
            continue;
        }
        if (rc != 0)
            fail("json_to_proto failed oddly", sig, &err, NULL);
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
