/* ottl-apply: kotel's transform stage on one OTLP/JSON request, for the differential test
 * against the Collector (test/interop/ottl-diff.test.js).
 *
 *   ottl-apply traces|metrics|logs [CONFIG.ini] [section.key=value ...] <request.json
 *
 * The configuration is loaded as kotel-process loads it (the file, then the overrides as
 * --set takes them), [transform] is compiled by transform_new and run on the request as the
 * pipeline runs it (trace statements that are only span attribute edits on the bytes,
 * span_edit.h; else the full trace decode, or protobuf-c's unpack; one arena for what the
 * statements write), and the result is written to stdout as OTLP/JSON. A configuration that
 * does not load or compile gives one line "config error: <message>" on stdout (what makes the
 * Collector refuse to start), a statement that fails under error_mode = propagate one line
 * "error: <message>" (what the Collector's receiver answers with a failure); both exit 1.
 * Anything else wrong (unreadable input, bad usage) exits 2 with a message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../process/conf.h"
#include "../../process/trace_decode.h"
#include "../../process/transform.h"
#include "kt_arena.h"
#include "kt_buf.h"
#include "kt_otlp_json.h"

static const ProtobufCMessageDescriptor *const descriptors[KT_SIGNAL_COUNT] = {
    &opentelemetry__proto__trace__v1__traces_data__descriptor,
    &opentelemetry__proto__metrics__v1__metrics_data__descriptor,
    &opentelemetry__proto__logs__v1__logs_data__descriptor,
};

static int read_all(FILE *f, struct kt_buf *b)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (kt_buf_append(b, chunk, n) != 0)
            return KT_ENOMEM;
    return ferror(f) ? KT_EIO : 0;
}

/* Decodes pb as the pipeline does, runs the transform, and packs the result into out; se:
 * the trace transform's byte edits, or NULL. */
static int apply(struct transform *t, struct span_edits *se, enum kt_signal sig, struct kt_slice pb,
                 struct kt_arena *a, struct kt_buf *out, struct kt_err *err)
{
    ProtobufCMessage *msg;
    if (se != NULL) {
        int rc = span_edits_apply(se, pb, out);
        return rc != 0 ? kt_err_set(err, rc, "cannot edit the spans: %s", kt_err_name(rc)) : 0;
    }
    if (sig == KT_SIGNAL_TRACES) {
        Opentelemetry__Proto__Trace__V1__TracesData *td;
        int rc = trace_decode(pb, TRACE_DECODE_ALL, a, &td);
        if (rc != 0)
            return kt_err_set(err, rc, "cannot decode the traces: %s", kt_err_name(rc));
        msg = &td->base;
    } else {
        msg = protobuf_c_message_unpack(descriptors[sig], kt_arena_pb(a), pb.n, pb.p);
        if (msg == NULL)
            return kt_err_set(err, KT_EINVAL, "cannot unpack the %s", kt_signal_name(sig));
    }
    int rc;
    switch (sig) {
    case KT_SIGNAL_TRACES:
        rc = transform_traces(t, (Opentelemetry__Proto__Trace__V1__TracesData *)msg, a, err);
        break;
    case KT_SIGNAL_METRICS:
        rc = transform_metrics(t, (Opentelemetry__Proto__Metrics__V1__MetricsData *)msg, a, err);
        break;
    default: rc = transform_logs(t, (Opentelemetry__Proto__Logs__V1__LogsData *)msg, a, err); break;
    }
    if (rc != 0)
        return kt_err_prefix(err, "[transform] error_mode = propagate: ");
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (kt_buf_reserve(out, n) != 0)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    out->len = protobuf_c_message_pack(msg, out->p);
    return 0;
}

int main(int argc, char **argv)
{
    enum kt_signal sig = KT_SIGNAL_COUNT;
    for (int s = 0; argc > 1 && s < KT_SIGNAL_COUNT; s++)
        if (strcmp(argv[1], kt_signal_name((enum kt_signal)s)) == 0)
            sig = (enum kt_signal)s;
    if (sig == KT_SIGNAL_COUNT) {
        fprintf(stderr,
                "usage: ottl-apply traces|metrics|logs [CONFIG.ini] [section.key=value ...] "
                "<request.json\n");
        return 2;
    }
    const char *path = NULL;
    int first_set = 2;
    if (argc > 2 && strchr(argv[2], '=') == NULL) {
        path = argv[2];
        first_set = 3;
    }
    struct process_conf conf;
    memset(&conf, 0, sizeof(conf));
    struct transform *t = NULL;
    struct span_edits *se = NULL;
    struct kt_buf in = KT_BUF_INIT, pb = KT_BUF_INIT, packed = KT_BUF_INIT, json = KT_BUF_INIT;
    struct kt_arena a;
    kt_arena_init(&a, NULL, 0);
    struct kt_err err = {0};
    int status = 2;
    int rc =
        kt_config_load(&process_conf_schema, &conf, path, (const char *const *)argv + first_set,
                       (size_t)(argc - first_set), &err);
    if (rc == 0)
        rc = transform_new(&conf, &t, &err);
    if (rc == 0 && sig == KT_SIGNAL_TRACES && (rc = transform_span_edits(t, &se)) != 0)
        kt_err_set(&err, rc, "out of memory");
    if (rc != 0) {
        printf("config error: %s\n", err.msg);
        status = 1;
        goto out;
    }
    if ((rc = read_all(stdin, &in)) != 0) {
        fprintf(stderr, "ottl-apply: cannot read stdin: %s\n", kt_err_name(rc));
        goto out;
    }
    if ((rc = kt_otlp_json_to_proto(sig, (const char *)in.p, in.len, &pb, &err)) != 0) {
        fprintf(stderr, "ottl-apply: the request: %s\n", err.msg);
        goto out;
    }
    if ((rc = apply(t, se, sig, kt_buf_slice(&pb), &a, &packed, &err)) != 0) {
        printf("error: %s\n", err.msg);
        status = rc == KT_EINVAL ? 1 : 2;
        goto out;
    }
    if ((rc = kt_otlp_proto_to_json(sig, kt_buf_slice(&packed), &json, &err)) != 0) {
        fprintf(stderr, "ottl-apply: the result: %s\n", err.msg);
        goto out;
    }
    fwrite(json.p, 1, json.len, stdout);
    fputc('\n', stdout);
    status = 0;
out:
    span_edits_free(se);
    transform_free(t);
    process_conf_free(&conf);
    kt_arena_free(&a);
    kt_buf_free(&in);
    kt_buf_free(&pb);
    kt_buf_free(&packed);
    kt_buf_free(&json);
    return status;
}
