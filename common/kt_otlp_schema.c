#include "kt_otlp_schema.h"

#define F(k, n)                                                                                    \
    {                                                                                              \
        k, 0, 0, n                                                                                 \
    }
#define R(k, n)                                                                                    \
    {                                                                                              \
        k, 0, 1, n                                                                                 \
    }
#define FM(m, n)                                                                                   \
    {                                                                                              \
        KT_OTLP_K_MSG, m, 0, n                                                                     \
    }
#define RM(m, n)                                                                                   \
    {                                                                                              \
        KT_OTLP_K_MSG, m, 1, n                                                                     \
    }

static const struct kt_otlp_field f_traces_data[] = {
    [1] = RM(KT_OTLP_M_RESOURCE_SPANS, "resource_spans")};
static const struct kt_otlp_field f_resource_spans[] = {
    [1] = FM(KT_OTLP_M_RESOURCE, "resource"),
    [2] = RM(KT_OTLP_M_SCOPE_SPANS, "scope_spans"),
    [3] = F(KT_OTLP_K_STRING, "schema_url"),
};
static const struct kt_otlp_field f_scope_spans[] = {
    [1] = FM(KT_OTLP_M_SCOPE, "scope"),
    [2] = RM(KT_OTLP_M_SPAN, "spans"),
    [3] = F(KT_OTLP_K_STRING, "schema_url"),
};
static const struct kt_otlp_field f_span[] = {
    [1] = F(KT_OTLP_K_ID16, "trace_id"),
    [2] = F(KT_OTLP_K_ID8, "span_id"),
    [3] = F(KT_OTLP_K_STRING, "trace_state"),
    [4] = F(KT_OTLP_K_ID8, "parent_span_id"),
    [5] = F(KT_OTLP_K_STRING, "name"),
    [6] = F(KT_OTLP_K_VARINT, "kind"),
    [7] = F(KT_OTLP_K_I64, "start_time_unix_nano"),
    [8] = F(KT_OTLP_K_I64, "end_time_unix_nano"),
    [9] = RM(KT_OTLP_M_KEY_VALUE, "attributes"),
    [10] = F(KT_OTLP_K_VARINT, "dropped_attributes_count"),
    [11] = RM(KT_OTLP_M_EVENT, "events"),
    [12] = F(KT_OTLP_K_VARINT, "dropped_events_count"),
    [13] = RM(KT_OTLP_M_LINK, "links"),
    [14] = F(KT_OTLP_K_VARINT, "dropped_links_count"),
    [15] = FM(KT_OTLP_M_STATUS, "status"),
    [16] = F(KT_OTLP_K_I32, "flags"),
};
static const struct kt_otlp_field f_event[] = {
    [1] = F(KT_OTLP_K_I64, "time_unix_nano"),
    [2] = F(KT_OTLP_K_STRING, "name"),
    [3] = RM(KT_OTLP_M_KEY_VALUE, "attributes"),
    [4] = F(KT_OTLP_K_VARINT, "dropped_attributes_count"),
};
static const struct kt_otlp_field f_link[] = {
    [1] = F(KT_OTLP_K_ID16, "trace_id"),
    [2] = F(KT_OTLP_K_ID8, "span_id"),
    [3] = F(KT_OTLP_K_STRING, "trace_state"),
    [4] = RM(KT_OTLP_M_KEY_VALUE, "attributes"),
    [5] = F(KT_OTLP_K_VARINT, "dropped_attributes_count"),
    [6] = F(KT_OTLP_K_I32, "flags"),
};
static const struct kt_otlp_field f_status[] = {
    [2] = F(KT_OTLP_K_STRING, "message"),
    [3] = F(KT_OTLP_K_VARINT, "code"),
};
static const struct kt_otlp_field f_metrics_data[] = {
    [1] = RM(KT_OTLP_M_RESOURCE_METRICS, "resource_metrics")};
static const struct kt_otlp_field f_resource_metrics[] = {
    [1] = FM(KT_OTLP_M_RESOURCE, "resource"),
    [2] = RM(KT_OTLP_M_SCOPE_METRICS, "scope_metrics"),
    [3] = F(KT_OTLP_K_STRING, "schema_url"),
};
static const struct kt_otlp_field f_scope_metrics[] = {
    [1] = FM(KT_OTLP_M_SCOPE, "scope"),
    [2] = RM(KT_OTLP_M_METRIC, "metrics"),
    [3] = F(KT_OTLP_K_STRING, "schema_url"),
};
static const struct kt_otlp_field f_metric[] = {
    [1] = F(KT_OTLP_K_STRING, "name"),
    [2] = F(KT_OTLP_K_STRING, "description"),
    [3] = F(KT_OTLP_K_STRING, "unit"),
    [5] = FM(KT_OTLP_M_GAUGE, "gauge"),
    [7] = FM(KT_OTLP_M_SUM, "sum"),
    [9] = FM(KT_OTLP_M_HISTOGRAM, "histogram"),
    [10] = FM(KT_OTLP_M_EXP_HISTOGRAM, "exponential_histogram"),
    [11] = FM(KT_OTLP_M_SUMMARY, "summary"),
    [12] = RM(KT_OTLP_M_KEY_VALUE, "metadata"),
};
static const struct kt_otlp_field f_gauge[] = {[1] = RM(KT_OTLP_M_NUMBER_DP, "data_points")};
static const struct kt_otlp_field f_sum[] = {
    [1] = RM(KT_OTLP_M_NUMBER_DP, "data_points"),
    [2] = F(KT_OTLP_K_VARINT, "aggregation_temporality"),
    [3] = F(KT_OTLP_K_VARINT, "is_monotonic"),
};
static const struct kt_otlp_field f_histogram[] = {
    [1] = RM(KT_OTLP_M_HISTOGRAM_DP, "data_points"),
    [2] = F(KT_OTLP_K_VARINT, "aggregation_temporality"),
};
static const struct kt_otlp_field f_exp_histogram[] = {
    [1] = RM(KT_OTLP_M_EXP_HISTOGRAM_DP, "data_points"),
    [2] = F(KT_OTLP_K_VARINT, "aggregation_temporality"),
};
static const struct kt_otlp_field f_summary[] = {[1] = RM(KT_OTLP_M_SUMMARY_DP, "data_points")};
static const struct kt_otlp_field f_number_dp[] = {
    [2] = F(KT_OTLP_K_I64, "start_time_unix_nano"),
    [3] = F(KT_OTLP_K_I64, "time_unix_nano"),
    [4] = F(KT_OTLP_K_I64, "as_double"),
    [5] = RM(KT_OTLP_M_EXEMPLAR, "exemplars"),
    [6] = F(KT_OTLP_K_I64, "as_int"),
    [7] = RM(KT_OTLP_M_KEY_VALUE, "attributes"),
    [8] = F(KT_OTLP_K_VARINT, "flags"),
};
static const struct kt_otlp_field f_histogram_dp[] = {
    [2] = F(KT_OTLP_K_I64, "start_time_unix_nano"),
    [3] = F(KT_OTLP_K_I64, "time_unix_nano"),
    [4] = F(KT_OTLP_K_I64, "count"),
    [5] = F(KT_OTLP_K_I64, "sum"),
    [6] = R(KT_OTLP_K_PACKED_I64, "bucket_counts"),
    [7] = R(KT_OTLP_K_PACKED_I64, "explicit_bounds"),
    [8] = RM(KT_OTLP_M_EXEMPLAR, "exemplars"),
    [9] = RM(KT_OTLP_M_KEY_VALUE, "attributes"),
    [10] = F(KT_OTLP_K_VARINT, "flags"),
    [11] = F(KT_OTLP_K_I64, "min"),
    [12] = F(KT_OTLP_K_I64, "max"),
};
static const struct kt_otlp_field f_exp_histogram_dp[] = {
    [1] = RM(KT_OTLP_M_KEY_VALUE, "attributes"),
    [2] = F(KT_OTLP_K_I64, "start_time_unix_nano"),
    [3] = F(KT_OTLP_K_I64, "time_unix_nano"),
    [4] = F(KT_OTLP_K_I64, "count"),
    [5] = F(KT_OTLP_K_I64, "sum"),
    [6] = F(KT_OTLP_K_VARINT, "scale"),
    [7] = F(KT_OTLP_K_I64, "zero_count"),
    [8] = FM(KT_OTLP_M_BUCKETS, "positive"),
    [9] = FM(KT_OTLP_M_BUCKETS, "negative"),
    [10] = F(KT_OTLP_K_VARINT, "flags"),
    [11] = RM(KT_OTLP_M_EXEMPLAR, "exemplars"),
    [12] = F(KT_OTLP_K_I64, "min"),
    [13] = F(KT_OTLP_K_I64, "max"),
    [14] = F(KT_OTLP_K_I64, "zero_threshold"),
};
static const struct kt_otlp_field f_buckets[] = {
    [1] = F(KT_OTLP_K_VARINT, "offset"),
    [2] = R(KT_OTLP_K_PACKED_VARINT, "bucket_counts"),
};
static const struct kt_otlp_field f_summary_dp[] = {
    [2] = F(KT_OTLP_K_I64, "start_time_unix_nano"),
    [3] = F(KT_OTLP_K_I64, "time_unix_nano"),
    [4] = F(KT_OTLP_K_I64, "count"),
    [5] = F(KT_OTLP_K_I64, "sum"),
    [6] = RM(KT_OTLP_M_QUANTILE, "quantile_values"),
    [7] = RM(KT_OTLP_M_KEY_VALUE, "attributes"),
    [8] = F(KT_OTLP_K_VARINT, "flags"),
};
static const struct kt_otlp_field f_quantile[] = {
    [1] = F(KT_OTLP_K_I64, "quantile"),
    [2] = F(KT_OTLP_K_I64, "value"),
};
static const struct kt_otlp_field f_exemplar[] = {
    [2] = F(KT_OTLP_K_I64, "time_unix_nano"), [3] = F(KT_OTLP_K_I64, "as_double"),
    [4] = F(KT_OTLP_K_ID8, "span_id"),        [5] = F(KT_OTLP_K_ID16, "trace_id"),
    [6] = F(KT_OTLP_K_I64, "as_int"),         [7] = RM(KT_OTLP_M_KEY_VALUE, "filtered_attributes"),
};
static const struct kt_otlp_field f_logs_data[] = {
    [1] = RM(KT_OTLP_M_RESOURCE_LOGS, "resource_logs")};
static const struct kt_otlp_field f_resource_logs[] = {
    [1] = FM(KT_OTLP_M_RESOURCE, "resource"),
    [2] = RM(KT_OTLP_M_SCOPE_LOGS, "scope_logs"),
    [3] = F(KT_OTLP_K_STRING, "schema_url"),
};
static const struct kt_otlp_field f_scope_logs[] = {
    [1] = FM(KT_OTLP_M_SCOPE, "scope"),
    [2] = RM(KT_OTLP_M_LOG_RECORD, "log_records"),
    [3] = F(KT_OTLP_K_STRING, "schema_url"),
};
static const struct kt_otlp_field f_log_record[] = {
    [1] = F(KT_OTLP_K_I64, "time_unix_nano"),
    [2] = F(KT_OTLP_K_VARINT, "severity_number"),
    [3] = F(KT_OTLP_K_STRING, "severity_text"),
    [5] = FM(KT_OTLP_M_ANY_VALUE, "body"),
    [6] = RM(KT_OTLP_M_KEY_VALUE, "attributes"),
    [7] = F(KT_OTLP_K_VARINT, "dropped_attributes_count"),
    [8] = F(KT_OTLP_K_I32, "flags"),
    [9] = F(KT_OTLP_K_ID16, "trace_id"),
    [10] = F(KT_OTLP_K_ID8, "span_id"),
    [11] = F(KT_OTLP_K_I64, "observed_time_unix_nano"),
    [12] = F(KT_OTLP_K_STRING, "event_name"),
};
static const struct kt_otlp_field f_resource[] = {
    [1] = RM(KT_OTLP_M_KEY_VALUE, "attributes"),
    [2] = F(KT_OTLP_K_VARINT, "dropped_attributes_count"),
    [3] = RM(KT_OTLP_M_ENTITY_REF, "entity_refs"),
};
static const struct kt_otlp_field f_scope[] = {
    [1] = F(KT_OTLP_K_STRING, "name"),
    [2] = F(KT_OTLP_K_STRING, "version"),
    [3] = RM(KT_OTLP_M_KEY_VALUE, "attributes"),
    [4] = F(KT_OTLP_K_VARINT, "dropped_attributes_count"),
};
static const struct kt_otlp_field f_key_value[] = {
    [1] = F(KT_OTLP_K_STRING, "key"),
    [2] = FM(KT_OTLP_M_ANY_VALUE, "value"),
    [3] = F(KT_OTLP_K_VARINT, "key_strindex"),
};
static const struct kt_otlp_field f_any_value[] = {
    [1] = F(KT_OTLP_K_STRING, "string_value"),
    [2] = F(KT_OTLP_K_VARINT, "bool_value"),
    [3] = F(KT_OTLP_K_VARINT, "int_value"),
    [4] = F(KT_OTLP_K_I64, "double_value"),
    [5] = FM(KT_OTLP_M_ARRAY_VALUE, "array_value"),
    [6] = FM(KT_OTLP_M_KVLIST, "kvlist_value"),
    [7] = F(KT_OTLP_K_BYTES, "bytes_value"),
    [8] = F(KT_OTLP_K_VARINT, "string_value_strindex"),
};
static const struct kt_otlp_field f_array_value[] = {[1] = RM(KT_OTLP_M_ANY_VALUE, "values")};
static const struct kt_otlp_field f_kvlist[] = {[1] = RM(KT_OTLP_M_KEY_VALUE, "values")};
static const struct kt_otlp_field f_entity_ref[] = {
    [1] = F(KT_OTLP_K_STRING, "schema_url"),
    [2] = F(KT_OTLP_K_STRING, "type"),
    [3] = R(KT_OTLP_K_STRING, "id_keys"),
    [4] = R(KT_OTLP_K_STRING, "description_keys"),
};

#define MD(tab, it)                                                                                \
    {                                                                                              \
        tab, (uint8_t)(sizeof(tab) / sizeof(tab[0])), it                                           \
    }

const struct kt_otlp_msgdesc kt_otlp_schema[KT_OTLP_M_COUNT] = {
    [KT_OTLP_M_TRACES_DATA] = MD(f_traces_data, false),
    [KT_OTLP_M_RESOURCE_SPANS] = MD(f_resource_spans, false),
    [KT_OTLP_M_SCOPE_SPANS] = MD(f_scope_spans, false),
    [KT_OTLP_M_SPAN] = MD(f_span, true),
    [KT_OTLP_M_EVENT] = MD(f_event, false),
    [KT_OTLP_M_LINK] = MD(f_link, false),
    [KT_OTLP_M_STATUS] = MD(f_status, false),
    [KT_OTLP_M_METRICS_DATA] = MD(f_metrics_data, false),
    [KT_OTLP_M_RESOURCE_METRICS] = MD(f_resource_metrics, false),
    [KT_OTLP_M_SCOPE_METRICS] = MD(f_scope_metrics, false),
    [KT_OTLP_M_METRIC] = MD(f_metric, false),
    [KT_OTLP_M_GAUGE] = MD(f_gauge, false),
    [KT_OTLP_M_SUM] = MD(f_sum, false),
    [KT_OTLP_M_HISTOGRAM] = MD(f_histogram, false),
    [KT_OTLP_M_EXP_HISTOGRAM] = MD(f_exp_histogram, false),
    [KT_OTLP_M_SUMMARY] = MD(f_summary, false),
    [KT_OTLP_M_NUMBER_DP] = MD(f_number_dp, true),
    [KT_OTLP_M_HISTOGRAM_DP] = MD(f_histogram_dp, true),
    [KT_OTLP_M_EXP_HISTOGRAM_DP] = MD(f_exp_histogram_dp, true),
    [KT_OTLP_M_BUCKETS] = MD(f_buckets, false),
    [KT_OTLP_M_SUMMARY_DP] = MD(f_summary_dp, true),
    [KT_OTLP_M_QUANTILE] = MD(f_quantile, false),
    [KT_OTLP_M_EXEMPLAR] = MD(f_exemplar, false),
    [KT_OTLP_M_LOGS_DATA] = MD(f_logs_data, false),
    [KT_OTLP_M_RESOURCE_LOGS] = MD(f_resource_logs, false),
    [KT_OTLP_M_SCOPE_LOGS] = MD(f_scope_logs, false),
    [KT_OTLP_M_LOG_RECORD] = MD(f_log_record, true),
    [KT_OTLP_M_RESOURCE] = MD(f_resource, false),
    [KT_OTLP_M_SCOPE] = MD(f_scope, false),
    [KT_OTLP_M_KEY_VALUE] = MD(f_key_value, false),
    [KT_OTLP_M_ANY_VALUE] = MD(f_any_value, false),
    [KT_OTLP_M_ARRAY_VALUE] = MD(f_array_value, false),
    [KT_OTLP_M_KVLIST] = MD(f_kvlist, false),
    [KT_OTLP_M_ENTITY_REF] = MD(f_entity_ref, false),
};

const enum kt_otlp_msg kt_otlp_root[KT_SIGNAL_COUNT] = {
    [KT_SIGNAL_TRACES] = KT_OTLP_M_TRACES_DATA,
    [KT_SIGNAL_METRICS] = KT_OTLP_M_METRICS_DATA,
    [KT_SIGNAL_LOGS] = KT_OTLP_M_LOGS_DATA,
};
