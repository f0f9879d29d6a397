/* libFuzzer target for the OTTL converters that read outside text (URL, UserAgent,
 * ExtractGrokPatterns, ExtractPatterns, IsInCIDR): the input is a log body, run through each,
 * the results set into the attributes; then the input is a grok pattern of its own, which
 * must compile or be refused with a message. Nothing may crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../process/ottl/ottl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const statements[] = {
    "set(log.attributes[\"u\"], URL(log.body))",
    "set(log.attributes[\"ua\"], UserAgent(log.body))",
    "set(log.attributes[\"c\"], IsInCIDR(log.body, [\"10.0.0.0/8\", \"2001:db8::/32\"]))",
    "set(log.attributes[\"p\"], ExtractPatterns(log.body, \"(?P<k>[a-z]+)=(?P<v>\\\\S*)\"))",
    "set(log.attributes[\"g\"], ExtractGrokPatterns(log.body, \"%{COMBINEDAPACHELOG}\"))",
    "set(log.attributes[\"g2\"], ExtractGrokPatterns(log.body, \"%{TIMESTAMP_ISO8601:ts} "
    "%{LOGLEVEL:l} %{IPORHOST:h}:%{POSINT:p:int} %{NUMBER:n:float} %{WORD:b:bool} "
    "%{GREEDYDATA:m}\", true))",
    "set(log.attributes[\"g3\"], ExtractGrokPatterns(log.body, \"%{URI:u} %{EMAILADDRESS:e} "
    "%{UUID:id} %{QUOTEDSTRING:q} %{HTTPDATE:d}\"))",
    "merge_maps(log.attributes, URL(log.body), \"upsert\")",
};

/* A statement whose grok pattern is the input, escaped as an OTTL string (a NUL ends it). */
static char *grok_statement(struct kt_arena *a, const uint8_t *data, size_t size)
{
    static const char head[] = "set(log.attributes[\"x\"], ExtractGrokPatterns(log.body, \"";
    static const char tail[] = "\", true, [\"A=%{WORD}x\", \"B=%{A:a}|%{INT:i:int}\"]))";
    char *s = kt_arena_alloc(a, sizeof(head) + 2 * size + sizeof(tail));
    if (s == NULL)
        return NULL;
    size_t n = sizeof(head) - 1;
    memcpy(s, head, n);
    for (size_t i = 0; i < size && data[i] != '\0'; i++) {
        if (data[i] == '"' || data[i] == '\\')
            s[n++] = '\\';
        s[n++] = (char)data[i];
    }
    memcpy(s + n, tail, sizeof(tail));
    return s;
}

static void run(const char *src, struct ottl_tctx *t, bool must_parse)
{
    struct kt_err err = {0};
    struct ottl_statement *s = NULL;
    if (ottl_statement_parse(src, &s, &err) != 0) {
        if (must_parse || err.msg[0] == '\0') {
            fprintf(stderr, "statement %s: '%s'\n", src, err.msg);
            abort();
        }
        return;
    }
    int rc = ottl_statement_exec(s, t, &err);
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
    struct ottl_tctx t = {.arena = &a, .log = &log};
    for (size_t i = 0; body != NULL && i < sizeof(statements) / sizeof(statements[0]); i++)
        run(statements[i], &t, true);
    char *g = grok_statement(&a, data, size);
    if (g != NULL)
        run(g, &t, false);
    kt_arena_free(&a);
    return 0;
}
