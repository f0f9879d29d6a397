/* libFuzzer target for span_edit. The first byte picks one of a few statement lists, the rest
 * is the message. On a message kt_otlp_validate accepts as traces, the list's edits made on
 * the bytes must give what the transform gives on the decoded data: both decoded in full,
 * a missing resource or scope taken as the empty one (as OTLP reads it; the transform creates
 * them), and encoded again to compare. On any other message span_edits_apply must not crash
 * (kotel only gives it validated ones). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../process/span_edit.h"
#include "../../process/trace_decode.h"
#include "../../process/trace_encode.h"
#include "../../process/transform.h"
#include "kt_otlp_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;

/* Short keys, so that mutated inputs hit them: replace, append, delete, each type. */
static const char *const lists[][5] = {
    {"delete_key(span.attributes, \"a\")", "set(span.attributes[\"b\"], \"x\")",
     "set(span.attributes[\"c\"], 1)", NULL},
    {"set(span.attributes[\"a\"], true)", "set(span.attributes[\"a\"], 2.5)",
     "delete_key(span.attributes, \"b\")", "set(span.attributes[\"\"], -3)", NULL},
    {"set(span.attributes[\"b\"], \"\")", "delete_key(span.attributes, \"b\")",
     "set(span.attributes[\"b\"], 7)", "set(span.attributes[\"a\"], false)", NULL},
};
#define N_LISTS (sizeof(lists) / sizeof(lists[0]))

struct prepared {
    struct process_conf conf;
    struct transform *t;
    struct span_edits *se;
};

static void check(bool ok, const char *what)
{
    if (ok)
        return;
    fprintf(stderr, "fuzz_span_edit: %s\n", what);
    abort();
}

static struct prepared *prepared(size_t i)
{
    static struct prepared p[N_LISTS];
    if (p[i].se == NULL) {
        for (const char *const *s = lists[i]; *s; s++)
            check(kt_strlist_push(&p[i].conf.transform.trace_statements, *s) == 0, "push");
        struct kt_err err = {0};
        check(transform_new(&p[i].conf, &p[i].t, &err) == 0, "transform_new");
        check(transform_span_edits(p[i].t, &p[i].se) == 0 && p[i].se != NULL,
              "the list is not edits");
    }
    return &p[i];
}

static void fill_empty(TracesData *td, struct kt_arena *a)
{
    for (size_t r = 0; r < td->n_resource_spans; r++) {
        ResourceSpans *rs = td->resource_spans[r];
        if (rs->resource == NULL) {
            rs->resource = kt_arena_alloc(a, sizeof(*rs->resource));
            check(rs->resource != NULL, "out of memory");
            opentelemetry__proto__resource__v1__resource__init(rs->resource);
        }
        for (size_t s = 0; s < rs->n_scope_spans; s++)
            if (rs->scope_spans[s]->scope == NULL) {
                rs->scope_spans[s]->scope = kt_arena_alloc(a, sizeof(*rs->scope_spans[s]->scope));
                check(rs->scope_spans[s]->scope != NULL, "out of memory");
                opentelemetry__proto__common__v1__instrumentation_scope__init(
                    rs->scope_spans[s]->scope);
            }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    struct prepared *p = prepared(data[0] % N_LISTS);
    struct kt_slice msg = {data + 1, size - 1};
    struct kt_buf edited = KT_BUF_INIT, want = KT_BUF_INIT, got = KT_BUF_INIT;
    int rc = span_edits_apply(p->se, msg, &edited);
    size_t n_items;
    if (kt_otlp_validate(KT_SIGNAL_TRACES, msg, &n_items, NULL) == 0) {
        check(rc == 0, "the edits failed on a valid message");
        struct kt_arena a;
        kt_arena_init(&a, NULL, 0);
        TracesData *td, *ed;
        struct kt_err err = {0};
        check(trace_decode(msg, TRACE_DECODE_ALL, &a, &td) == 0, "decode failed");
        check(transform_traces(p->t, td, &a, &err) == 0, "transform failed");
        fill_empty(td, &a);
        check(trace_encode(td, &want) == 0, "encode failed");
        check(trace_decode(kt_buf_slice(&edited), TRACE_DECODE_ALL, &a, &ed) == 0,
              "the edited bytes do not decode");
        fill_empty(ed, &a);
        check(trace_encode(ed, &got) == 0, "encode failed");
        check(got.len == want.len && memcmp(got.p, want.p, want.len) == 0,
              "the edits differ from the transform");
        kt_arena_free(&a);
    }
    kt_buf_free(&edited);
    kt_buf_free(&want);
    kt_buf_free(&got);
    return 0;
}
