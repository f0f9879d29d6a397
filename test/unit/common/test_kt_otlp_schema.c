/* The hand-written OTLP schema (kt_otlp_schema.c) against the protobuf-c descriptors
 * generated from proto/: walked from each signal's top-level message, every field of every
 * message reached must be in the table under the same number and name, with a kind its
 * protobuf type allows, and the table must hold nothing the descriptors do not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kt_otlp_schema.h"
#include "opentelemetry/proto/logs/v1/logs.pb-c.h"
#include "opentelemetry/proto/metrics/v1/metrics.pb-c.h"
#include "opentelemetry/proto/trace/v1/trace.pb-c.h"

/* The messages whose every occurrence is one item (span, data point, log record). */
static bool is_item(const ProtobufCMessageDescriptor *d)
{
    static const char *const items[] = {
        "opentelemetry.proto.trace.v1.Span",
        "opentelemetry.proto.metrics.v1.NumberDataPoint",
        "opentelemetry.proto.metrics.v1.HistogramDataPoint",
        "opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint",
        "opentelemetry.proto.metrics.v1.SummaryDataPoint",
        "opentelemetry.proto.logs.v1.LogRecord",
    };
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
        if (strcmp(d->name, items[i]) == 0)
            return true;
    return false;
}

/* Whether the table's kind fits the descriptor's field. */
static bool kind_fits(const ProtobufCFieldDescriptor *f, const struct kt_otlp_field *t)
{
    bool repeated = f->label == PROTOBUF_C_LABEL_REPEATED;
    switch (f->type) {
    case PROTOBUF_C_TYPE_MESSAGE: return t->kind == KT_OTLP_K_MSG;
    case PROTOBUF_C_TYPE_STRING: return t->kind == KT_OTLP_K_STRING;
    case PROTOBUF_C_TYPE_BYTES:
        if (strcmp(f->name, "trace_id") == 0)
            return t->kind == KT_OTLP_K_ID16;
        if (strcmp(f->name, "span_id") == 0 || strcmp(f->name, "parent_span_id") == 0)
            return t->kind == KT_OTLP_K_ID8;
        return t->kind == KT_OTLP_K_BYTES;
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return t->kind == (repeated ? KT_OTLP_K_PACKED_I64 : KT_OTLP_K_I64);
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FLOAT: return !repeated && t->kind == KT_OTLP_K_I32;
    default: /* every varint type: (s)int32/64, uint32/64, bool, enum */
        return t->kind == (repeated ? KT_OTLP_K_PACKED_VARINT : KT_OTLP_K_VARINT);
    }
}

static void check_message(const ProtobufCMessageDescriptor *d, enum kt_otlp_msg m, bool *seen)
{
    if (seen[m])
        return;
    seen[m] = true;
    const struct kt_otlp_msgdesc *md = &kt_otlp_schema[m];
    if (md->item != is_item(d))
        fail_msg("%s: item flag %d, want %d", d->name, md->item, !md->item);
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->id >= md->nf || md->f[f->id].kind == KT_OTLP_K_UNKNOWN)
            fail_msg("%s.%s (field %u) is missing from the table", d->name, f->name, f->id);
        const struct kt_otlp_field *t = &md->f[f->id];
        if (strcmp(t->name, f->name) != 0)
            fail_msg("%s field %u: table names it %s, the proto %s", d->name, f->id, t->name,
                     f->name);
        if ((t->repeated != 0) != (f->label == PROTOBUF_C_LABEL_REPEATED))
            fail_msg("%s.%s: repeated %d in the table", d->name, f->name, t->repeated);
        if (!kind_fits(f, t))
            fail_msg("%s.%s: kind %d does not fit protobuf type %d", d->name, f->name, t->kind,
                     (int)f->type);
        if (f->type == PROTOBUF_C_TYPE_MESSAGE)
            check_message(f->descriptor, (enum kt_otlp_msg)t->msg, seen);
    }
    for (unsigned num = 0; num < md->nf; num++) {
        if (md->f[num].kind != KT_OTLP_K_UNKNOWN &&
            protobuf_c_message_descriptor_get_field(d, num) == NULL)
            fail_msg("%s: the table has field %u (%s), the proto does not", d->name, num,
                     md->f[num].name);
    }
}

static void test_schema_matches_the_generated_descriptors(void **state)
{
    (void)state;
    bool seen[KT_OTLP_M_COUNT] = {false};
    check_message(&opentelemetry__proto__trace__v1__traces_data__descriptor,
                  kt_otlp_root[KT_SIGNAL_TRACES], seen);
    check_message(&opentelemetry__proto__metrics__v1__metrics_data__descriptor,
                  kt_otlp_root[KT_SIGNAL_METRICS], seen);
    check_message(&opentelemetry__proto__logs__v1__logs_data__descriptor,
                  kt_otlp_root[KT_SIGNAL_LOGS], seen);
    for (int m = 0; m < KT_OTLP_M_COUNT; m++)
        if (!seen[m])
            fail_msg("table message %d is reached from no signal's top-level message", m);
}

/* The check itself catches a drift: a table entry renamed in a copy is reported. */
static void test_schema_check_notices_a_wrong_name(void **state)
{
    (void)state;
    const ProtobufCMessageDescriptor *d = &opentelemetry__proto__trace__v1__span__descriptor;
    const struct kt_otlp_msgdesc *md = &kt_otlp_schema[KT_OTLP_M_SPAN];
    const ProtobufCFieldDescriptor *name = protobuf_c_message_descriptor_get_field(d, 5);
    assert_non_null(name);
    assert_string_equal(md->f[5].name, name->name);
    struct kt_otlp_field wrong = md->f[5];
    wrong.kind = KT_OTLP_K_BYTES;
    assert_false(kind_fits(name, &wrong));
    assert_true(kind_fits(name, &md->f[5]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_matches_the_generated_descriptors),
        cmocka_unit_test(test_schema_check_notices_a_wrong_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
