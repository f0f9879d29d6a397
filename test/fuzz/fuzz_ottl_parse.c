/* libFuzzer target for the OTTL parser: the input is parsed as a condition and as a
 * statement. Whatever parses is also evaluated against a small span/log/metric fixture, so
 * the evaluator meets every shape the parser accepts. A parse failure must come with a
 * message; nothing may crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../process/ottl/ottl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

static void check_err(int rc, const struct kt_err *err)
{
    if (rc != 0 && rc != KT_EINVAL && rc != KT_ENOMEM) {
        fprintf(stderr, "unexpected code %d: %s\n", rc, err->msg);
        abort();
    }
    if (rc == KT_EINVAL && err->msg[0] == '\0') {
        fprintf(stderr, "KT_EINVAL without a message\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *src = malloc(size + 1);
    if (src == NULL)
        return 0;
    memcpy(src, data, size);
    src[size] = '\0';

    struct kt_arena a;
    kt_arena_init(&a, NULL, 0);
    Opentelemetry__Proto__Resource__V1__Resource res =
        OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
    Opentelemetry__Proto__Common__V1__InstrumentationScope scope =
        OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
    Opentelemetry__Proto__Trace__V1__Span span = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
    Opentelemetry__Proto__Trace__V1__Span__Event ev =
        OPENTELEMETRY__PROTO__TRACE__V1__SPAN__EVENT__INIT;
    Opentelemetry__Proto__Metrics__V1__Metric metric =
        OPENTELEMETRY__PROTO__METRICS__V1__METRIC__INIT;
    Opentelemetry__Proto__Metrics__V1__NumberDataPoint dp =
        OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__INIT;
    Opentelemetry__Proto__Logs__V1__LogRecord log =
        OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    AnyValue v = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v.string_value = "value 123";
    KeyValue kv = OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    kv.key = "k";
    kv.value = &v;
    KeyValue *kvs[1] = {&kv};
    /* Editors compact or replace these arrays; give each owner its own copy. */
    KeyValue **span_attrs = kt_arena_memdup(&a, kvs, sizeof(kvs));
    KeyValue **log_attrs = kt_arena_memdup(&a, kvs, sizeof(kvs));
    uint8_t id[16] = {1, 2, 3};
    span.name = "GET /x";
    span.trace_id.data = id;
    span.trace_id.len = 16;
    span.attributes = span_attrs;
    span.n_attributes = 1;
    log.body = &v;
    log.attributes = log_attrs;
    log.n_attributes = 1;
    dp.value_case = OPENTELEMETRY__PROTO__METRICS__V1__NUMBER_DATA_POINT__VALUE_AS_INT;
    dp.as_int = 3;
    struct ottl_tctx t = {&a,   &res, &scope, &span, &ev, &metric, (ProtobufCMessage *)&dp,
                          &log, NULL, NULL,   NULL, NULL};

    struct kt_err err = {0};
    struct ottl_condition *c = NULL;
    int rc = ottl_condition_parse(src, &c, &err);
    check_err(rc, &err);
    if (rc == 0) {
        bool m;
        memset(&err, 0, sizeof(err));
        check_err(ottl_condition_eval(c, &t, &m, &err), &err);
        ottl_condition_free(c);
    }
    struct ottl_statement *s = NULL;
    memset(&err, 0, sizeof(err));
    rc = ottl_statement_parse(src, &s, &err);
    check_err(rc, &err);
    if (rc == 0) {
        memset(&err, 0, sizeof(err));
        check_err(ottl_statement_exec(s, &t, &err), &err);
        ottl_statement_free(s);
    }
    kt_arena_free(&a);
    free(src);
    return 0;
}
