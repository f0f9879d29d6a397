/* kt_otlp_schema: the OTLP messages as far as kotel reads them at the wire level: for every
 * message under TracesData, MetricsData and LogsData, its fields by number, each with the
 * kind of value it holds and, for messages, which message. kt_otlp_validate walks it.
 *
 * Hand-written rather than taken from the protobuf-c descriptors so that the validator's
 * dispatch is an array index and the kinds say what the wire must hold (a trace ID is 16
 * bytes, a string is UTF-8); test/unit/common/test_kt_otlp_schema.c checks it against the
 * descriptors generated from proto/ (proto/README names the OTLP release). */
#ifndef KT_OTLP_SCHEMA_H
#define KT_OTLP_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include "kt_signal.h"

enum kt_otlp_msg {
    KT_OTLP_M_TRACES_DATA,
    KT_OTLP_M_RESOURCE_SPANS,
    KT_OTLP_M_SCOPE_SPANS,
    KT_OTLP_M_SPAN,
    KT_OTLP_M_EVENT,
    KT_OTLP_M_LINK,
    KT_OTLP_M_STATUS,
    KT_OTLP_M_METRICS_DATA,
    KT_OTLP_M_RESOURCE_METRICS,
    KT_OTLP_M_SCOPE_METRICS,
    KT_OTLP_M_METRIC,
    KT_OTLP_M_GAUGE,
    KT_OTLP_M_SUM,
    KT_OTLP_M_HISTOGRAM,
    KT_OTLP_M_EXP_HISTOGRAM,
    KT_OTLP_M_SUMMARY,
    KT_OTLP_M_NUMBER_DP,
    KT_OTLP_M_HISTOGRAM_DP,
    KT_OTLP_M_EXP_HISTOGRAM_DP,
    KT_OTLP_M_BUCKETS,
    KT_OTLP_M_SUMMARY_DP,
    KT_OTLP_M_QUANTILE,
    KT_OTLP_M_EXEMPLAR,
    KT_OTLP_M_LOGS_DATA,
    KT_OTLP_M_RESOURCE_LOGS,
    KT_OTLP_M_SCOPE_LOGS,
    KT_OTLP_M_LOG_RECORD,
    KT_OTLP_M_RESOURCE,
    KT_OTLP_M_SCOPE,
    KT_OTLP_M_KEY_VALUE,
    KT_OTLP_M_ANY_VALUE,
    KT_OTLP_M_ARRAY_VALUE,
    KT_OTLP_M_KVLIST,
    KT_OTLP_M_ENTITY_REF,
    KT_OTLP_M_COUNT
};

enum kt_otlp_kind {
    KT_OTLP_K_UNKNOWN = 0,
    KT_OTLP_K_VARINT, /* int32/64, uint32/64, sint32, bool, enum */
    KT_OTLP_K_I64,    /* fixed64, sfixed64, double */
    KT_OTLP_K_I32,    /* fixed32 */
    KT_OTLP_K_STRING, /* UTF-8 checked */
    KT_OTLP_K_BYTES,
    KT_OTLP_K_ID16, /* trace ID: empty or 16 bytes */
    KT_OTLP_K_ID8,  /* span ID: empty or 8 bytes */
    KT_OTLP_K_MSG,
    KT_OTLP_K_PACKED_I64,    /* repeated fixed64/double: packed or one element per field */
    KT_OTLP_K_PACKED_VARINT, /* repeated uint64: packed or one element per field */
};

struct kt_otlp_field {
    uint8_t kind;
    uint8_t msg;
    uint8_t repeated;
    const char *name;
};

struct kt_otlp_msgdesc {
    const struct kt_otlp_field *f; /* indexed by field number */
    uint8_t nf;
    bool item; /* one span / data point / log record */
};

/* Indexed by enum kt_otlp_msg. */
extern const struct kt_otlp_msgdesc kt_otlp_schema[KT_OTLP_M_COUNT];

/* The top-level message of each signal (TracesData, MetricsData, LogsData). */
extern const enum kt_otlp_msg kt_otlp_root[KT_SIGNAL_COUNT];

#endif
