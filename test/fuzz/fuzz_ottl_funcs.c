/* libFuzzer target for the OTTL converters that parse outside bytes (ParseJSON,
 * ParseKeyValue, ParseCSV): the input is a log body, parsed by each, the result set into the
 * attributes and flattened, merged and listed, so the maps they build meet the map
 * editors. Errors must carry a message; nothing may crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../process/ottl/ottl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const statements[] = {
    "set(log.attributes[\"j\"], ParseJSON(log.body))",
    "merge_maps(log.attributes, ParseJSON(log.body), \"upsert\")",
    "set(log.attributes[\"kv\"], ParseKeyValue(log.body))",
    "set(log.attributes[\"kv2\"], ParseKeyValue(log.body, \":\", \",\"))",
    "set(log.attributes[\"kv3\"], ParseKeyValue(log.body, \"=>\", \"\\\";\"))",
    "set(log.attributes[\"c\"], ParseCSV(log.body, \"a,b,c\"))",
    "set(log.attributes[\"c2\"], ParseCSV(log.body, \"a;b\", \";\", mode = \"lazyQuotes\"))",
    "set(log.attributes[\"c3\"], ParseCSV(log.body, \"a·b·c\", \"·\", mode = \"ignoreQuotes\"))",
    "set(log.attributes[\"s\"], Sort(Values(log.attributes)))",
    "set(log.attributes[\"k\"], Keys(log.attributes))",
    "flatten(log.attributes, resolve_conflicts = true)",
    "set(log.attributes[\"m\"], SliceToMap(Values(log.attributes)))",
    "flatten(log.attributes, \"p\", 2)",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kt_arena a;
    kt_arena_init(&a, NULL, 0);
    /* protobuf-c strings end at a NUL, as a decoded body would */
    char *body = kt_arena_strndup(&a, (const char *)data, size);
    Opentelemetry__Proto__Common__V1__AnyValue v =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    v.value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v.string_value = body;
    Opentelemetry__Proto__Logs__V1__LogRecord log =
        OPENTELEMETRY__PROTO__LOGS__V1__LOG_RECORD__INIT;
    log.body = &v;
    struct ottl_tctx t = {&a, NULL, NULL, NULL, NULL, NULL, NULL, &log, NULL, NULL, NULL, NULL};
    for (size_t i = 0; body != NULL && i < sizeof(statements) / sizeof(statements[0]); i++) {
        struct kt_err err = {0};
        struct ottl_statement *s = NULL;
        if (ottl_statement_parse(statements[i], &s, &err) != 0) {
            fprintf(stderr, "statement %zu: %s\n", i, err.msg);
            abort();
        }
        int rc = ottl_statement_exec(s, &t, &err);
        ottl_statement_free(s);
        if (rc != 0 && rc != KT_EINVAL && rc != KT_ENOMEM) {
            fprintf(stderr, "unexpected code %d: %s\n", rc, err.msg);
            abort();
        }
        if (rc == KT_EINVAL && err.msg[0] == '\0') {
            fprintf(stderr, "KT_EINVAL without a message\n");
            abort();
        }
    }
    kt_arena_free(&a);
    return 0;
}
