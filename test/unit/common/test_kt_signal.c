/* Unit tests for kt_signal: names, and the OTLP routes both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kt_signal.h"

static bool route(const char *path, enum kt_signal *sig, bool *grpc)
{
    return kt_signal_route(path, strlen(path), sig, grpc);
}

static void test_paths_are_the_otlp_ones(void **state)
{
    (void)state;
    assert_string_equal(kt_signal_grpc_path(KT_SIGNAL_TRACES),
                        "/opentelemetry.proto.collector.trace.v1.TraceService/Export");
    assert_string_equal(kt_signal_grpc_path(KT_SIGNAL_METRICS),
                        "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export");
    assert_string_equal(kt_signal_grpc_path(KT_SIGNAL_LOGS),
                        "/opentelemetry.proto.collector.logs.v1.LogsService/Export");
    assert_string_equal(kt_signal_http_path(KT_SIGNAL_TRACES), "/v1/traces");
    assert_string_equal(kt_signal_http_path(KT_SIGNAL_METRICS), "/v1/metrics");
    assert_string_equal(kt_signal_http_path(KT_SIGNAL_LOGS), "/v1/logs");
    assert_string_equal(kt_signal_name(KT_SIGNAL_METRICS), "metrics");
    assert_string_equal(kt_signal_item_name(KT_SIGNAL_LOGS), "log records");
    assert_string_equal(kt_signal_name((enum kt_signal)7), "unknown");
}

static void test_every_path_routes_back_to_its_signal(void **state)
{
    (void)state;
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        enum kt_signal sig = KT_SIGNAL_COUNT;
        bool grpc = false;
        assert_true(route(kt_signal_grpc_path((enum kt_signal)s), &sig, &grpc));
        assert_int_equal(sig, s);
        assert_true(grpc);
        assert_true(route(kt_signal_http_path((enum kt_signal)s), &sig, &grpc));
        assert_int_equal(sig, s);
        assert_false(grpc);
    }
}

static void test_query_is_ignored_and_near_misses_refused(void **state)
{
    (void)state;
    enum kt_signal sig = KT_SIGNAL_TRACES;
    bool grpc = true;
    assert_true(route("/v1/logs?x=1", &sig, &grpc));
    assert_int_equal(sig, KT_SIGNAL_LOGS);
    assert_false(grpc);
    assert_false(route("/v1/log", &sig, &grpc));
    assert_false(route("/v1/logs/", &sig, &grpc));
    assert_false(route("/v1/traces2", &sig, &grpc));
    assert_false(route("", &sig, &grpc));
    /* Only the first n bytes count. */
    assert_true(kt_signal_route("/v1/metricsXYZ", 11, &sig, &grpc));
    assert_int_equal(sig, KT_SIGNAL_METRICS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_are_the_otlp_ones),
        cmocka_unit_test(test_every_path_routes_back_to_its_signal),
        cmocka_unit_test(test_query_is_ignored_and_near_misses_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
