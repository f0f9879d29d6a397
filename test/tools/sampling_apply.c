/* sampling-apply: kotel's tail sampler on a list of traces, for the differential test against
 * the Collector (test/interop/sampling-diff.test.js).
 *
 *   sampling-apply [CONFIG.ini] [section.key=value ...] <requests.jsonl
 *
 * The configuration is loaded as kotel-process loads it (the file, then the overrides as
 * --set takes them) and the sampler built by tail_sampler_new. Every input line is one
 * OTLP/JSON traces request holding spans of ONE trace (one offer, as the pipeline makes from
 * one Kafka message); they are offered in order, all at time 0, decided at the end as a
 * shutdown decides them, and the IDs of the sampled traces are written to stdout, one
 * lowercase hex ID a line, in decision order. A configuration that does not load or compile
 * gives one line "config error: <message>" on stdout and exit 1; anything else wrong exits 2
 * with a message on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../process/conf.h"
#include "../../process/tail_sampler.h"
#include "../../process/trace_decode.h"
#include "kt_arena.h"
#include "kt_buf.h"
#include "kt_codec.h"
#include "kt_otlp_json.h"

#define MAX_LINES 65536

struct run {
    struct kt_buf ids; /* the IDs of the sampled traces, in hex, as ids printed */
    int rc;
};

/* Offers carry their trace ID as the token (a pointer into ids_in, valid for the run). */
static void on_export(void *ctx, struct kt_slice encoded, size_t n_spans, void *const *tokens,
                      size_t n_tokens)
{
    (void)encoded;
    (void)n_spans;
    struct run *r = ctx;
    if (n_tokens == 0)
        return;
    char hex[33];
    kt_hex_encode(tokens[0], 16, hex);
    if (kt_buf_append(&r->ids, hex, 32) != 0 || kt_buf_append(&r->ids, "\n", 1) != 0)
        r->rc = KT_ENOMEM;
}

static void on_release(void *ctx, void *token)
{
    (void)ctx;
    (void)token;
}

/* The trace ID of the first span of td, or KT_EINVAL when it has none. */
static int first_trace_id(const Opentelemetry__Proto__Trace__V1__TracesData *td, uint8_t id[16])
{
    for (size_t r = 0; r < td->n_resource_spans; r++)
        for (size_t s = 0; s < td->resource_spans[r]->n_scope_spans; s++) {
            const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
                td->resource_spans[r]->scope_spans[s];
            if (ss->n_spans > 0 && ss->spans[0]->trace_id.len == 16) {
                memcpy(id, ss->spans[0]->trace_id.data, 16);
                return 0;
            }
        }
    return KT_EINVAL;
}

static size_t count_spans(const Opentelemetry__Proto__Trace__V1__TracesData *td)
{
    size_t n = 0;
    for (size_t r = 0; r < td->n_resource_spans; r++)
        for (size_t s = 0; s < td->resource_spans[r]->n_scope_spans; s++)
            n += td->resource_spans[r]->scope_spans[s]->n_spans;
    return n;
}

/* One input line: decoded as the pipeline decodes, offered with its trace ID as token. */
static int offer_line(struct tail_sampler *s, const char *line, size_t len, uint8_t *id,
                      struct kt_err *err)
{
    struct kt_buf pb = KT_BUF_INIT;
    struct kt_arena a;
    kt_arena_init(&a, NULL, 0);
    Opentelemetry__Proto__Trace__V1__TracesData *td;
    int rc = kt_otlp_json_to_proto(KT_SIGNAL_TRACES, line, len, &pb, err);
    if (rc != 0)
        goto out;
    /* As pipeline.c plans it: the fields the policies read, span attributes from the spans'
     * bytes when read by key only; in full when a shallow decode cannot give them. */
    ottl_fields need = tail_sampler_fields(s);
    if (tail_sampler_keyed_span_attrs(s) && (need & OTTL_FIELD(OTTL_P_SPAN_ATTRS)))
        need = (need & ~OTTL_FIELD(OTTL_P_SPAN_ATTRS)) | OTTL_FIELD(OTTL_P_SPAN_ATTRS_KEYED);
    rc = trace_decode(kt_buf_slice(&pb), need, &a, &td);
    if (rc == KT_EUNSUPP && !trace_decode_needs_full(need))
        rc = trace_decode(kt_buf_slice(&pb), TRACE_DECODE_ALL, &a, &td);
    if (rc != 0) {
        kt_err_set(err, rc, "cannot decode the traces: %s", kt_err_name(rc));
        goto out;
    }
    if ((rc = first_trace_id(td, id)) != 0) {
        kt_err_set(err, rc, "a request without a span with a 16-byte trace ID");
        goto out;
    }
    rc = tail_sampler_offer(s, id, td, kt_buf_slice(&pb), count_spans(td), id, 0);
    if (rc != 0)
        kt_err_set(err, rc, "tail_sampler_offer: %s", kt_err_name(rc));
out:
    kt_arena_free(&a);
    kt_buf_free(&pb);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    int first_set = 1;
    if (argc > 1 && strchr(argv[1], '=') == NULL) {
        path = argv[1];
        first_set = 2;
    }
    struct process_conf conf;
    memset(&conf, 0, sizeof(conf));
    struct tail_sampler *s = NULL;
    struct run r = {KT_BUF_INIT, 0};
    /* 16 bytes per line, the offers' tokens: never moved once an offer points into it. */
    uint8_t *ids = malloc((size_t)MAX_LINES * 16);
    char *line = NULL;
    size_t cap = 0, n_lines = 0;
    struct kt_err err = {0};
    int status = 2;
    int rc =
        kt_config_load(&process_conf_schema, &conf, path, (const char *const *)argv + first_set,
                       (size_t)(argc - first_set), &err);
    if (rc == 0)
        rc = tail_sampler_new(&conf, on_export, on_release, &r, &s, &err);
    if (rc != 0) {
        printf("config error: %s\n", err.msg);
        status = 1;
        goto out;
    }
    ssize_t len;
    while ((len = getline(&line, &cap, stdin)) > 0) {
        if (len == 1)
            continue;
        if (ids == NULL || n_lines == MAX_LINES) {
            fprintf(stderr, "sampling-apply: out of memory or more than %d lines\n", MAX_LINES);
            goto out;
        }
        if (offer_line(s, line, (size_t)len, ids + n_lines * 16, &err) != 0) {
            fprintf(stderr, "sampling-apply: line %zu: %s\n", n_lines + 1, err.msg);
            goto out;
        }
        n_lines++;
    }
    tail_sampler_decide_all(s);
    if (r.rc != 0) {
        fprintf(stderr, "sampling-apply: out of memory\n");
        goto out;
    }
    if (r.ids.len > 0) /* an empty kt_buf has no memory */
        fwrite(r.ids.p, 1, r.ids.len, stdout);
    status = 0;
out:
    tail_sampler_free(s);
    process_conf_free(&conf);
    free(line);
    free(ids);
    kt_buf_free(&r.ids);
    return status;
}
