/* Unit tests for kt_status: the /status page it serves and the /status.json skeleton both
 * tiers fill (the effective configuration with secrets masked, the recent warnings, the
 * stages in order with their counters). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kt_log.h"
#include "kt_status.h"
#include "../test_capture.h"
#include "config_fixture.h"

/* resp's body as parsed JSON (the caller's), after checking it is JSON. */
static json_t *body_json(const struct kt_admin_resp *resp)
{
    assert_int_equal(resp->status, 200);
    assert_string_equal(resp->content_type, "application/json");
    json_error_t e;
    json_t *o = json_loadb((const char *)resp->body.p, resp->body.len, 0, &e);
    if (o == NULL)
        fail_msg("not JSON: %s", e.text);
    return o;
}

static void test_page_is_the_embedded_html(void **state)
{
    (void)state;
    struct kt_admin_req req = {.path = "/status", .query = ""};
    struct kt_admin_resp resp = {.status = 200};
    kt_status_page(NULL, &req, &resp);
    assert_string_equal(resp.content_type, "text/html; charset=utf-8");
    assert_true(resp.body.len > 1000);
    assert_memory_equal(resp.body.p, "<!DOCTYPE html>", 15);
    char *text = strndup((const char *)resp.body.p, resp.body.len);
    assert_non_null(text);
    assert_non_null(strstr(text, "status.json"));
    assert_non_null(strstr(text, "</html>"));
    /* Self-contained: nothing loaded from elsewhere. */
    assert_null(strstr(text, "src=\"http"));
    assert_null(strstr(text, "href=\"http"));
    free(text);
    kt_buf_free(&resp.body);
}

static void test_json_holds_config_masked_errors_and_stages_in_order(void **state)
{
    (void)state;
    struct tconf c = {0};
    load_text_ok(&c, "[auth]\npassword = hunter2-secret\n");
    struct test_capture cap;
    test_capture_start(&cap);
    kt_warn("backend 127.0.0.1:1 not reachable: connection refused");
    test_capture_stop(&cap);
    test_capture_free(&cap);

    json_t *st = kt_status_new("process", "no partitions assigned", &schema, &c);
    assert_non_null(st);
    json_t *stage = kt_status_stage(st, "consumer", "items", 10, 9, 1, 2);
    assert_non_null(stage);
    kt_status_count(stage, "messages", 3);
    kt_status_gauge(stage, "pending", 4);
    assert_non_null(kt_status_stage(st, "exporter", "items", 9, 8, 0, 0));
    struct kt_admin_resp resp = {.status = 200};
    kt_status_respond(&resp, st);
    json_t *o = body_json(&resp);
    kt_buf_free(&resp.body);

    assert_string_equal(json_string_value(json_object_get(o, "tier")), "process");
    assert_string_equal(json_string_value(json_object_get(o, "version")), KT_VERSION);
    double started = json_number_value(json_object_get(o, "started_at"));
    double now = json_number_value(json_object_get(o, "now"));
    assert_true(started > 1e9 && now >= started);
    json_t *ready = json_object_get(o, "ready");
    assert_true(json_is_false(json_object_get(ready, "ready")));
    assert_string_equal(json_string_value(json_object_get(ready, "reason")),
                        "no partitions assigned");

    const char *config = json_string_value(json_object_get(o, "config"));
    assert_non_null(config);
    assert_non_null(strstr(config, "[auth]\npassword = ****\n"));
    assert_null(strstr(config, "hunter2-secret"));

    json_t *errors = json_object_get(o, "errors");
    assert_true(json_array_size(errors) >= 1);
    json_t *last = json_array_get(errors, json_array_size(errors) - 1);
    assert_string_equal(json_string_value(json_object_get(last, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(last, "text")),
                        "backend 127.0.0.1:1 not reachable: connection refused");
    assert_non_null(json_string_value(json_object_get(last, "at")));

    json_t *stages = json_object_get(o, "stages");
    assert_int_equal(json_array_size(stages), 2);
    json_t *s0 = json_array_get(stages, 0);
    assert_string_equal(json_string_value(json_object_get(s0, "name")), "consumer");
    assert_string_equal(json_string_value(json_object_get(s0, "unit")), "items");
    assert_int_equal(json_integer_value(json_object_get(s0, "in")), 10);
    assert_int_equal(json_integer_value(json_object_get(s0, "out")), 9);
    assert_int_equal(json_integer_value(json_object_get(s0, "refused")), 1);
    assert_int_equal(json_integer_value(json_object_get(s0, "errors")), 2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(s0, "counters"), "messages")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(s0, "gauges"), "pending")),
                     4);
    assert_string_equal(json_string_value(json_object_get(json_array_get(stages, 1), "name")),
                        "exporter");
    json_decref(o);
    kt_config_free(&schema, &c);
}

static void test_ready_has_no_reason(void **state)
{
    (void)state;
    struct tconf c = {0};
    load_text_ok(&c, "");
    struct kt_admin_resp resp = {.status = 200};
    kt_status_respond(&resp, kt_status_new("ingest", NULL, &schema, &c));
    json_t *o = body_json(&resp);
    kt_buf_free(&resp.body);
    json_t *ready = json_object_get(o, "ready");
    assert_true(json_is_true(json_object_get(ready, "ready")));
    assert_null(json_object_get(ready, "reason"));
    assert_int_equal(json_array_size(json_object_get(o, "stages")), 0);
    json_decref(o);
    kt_config_free(&schema, &c);
}

static void test_respond_without_status_is_a_500(void **state)
{
    (void)state;
    struct kt_admin_resp resp = {.status = 200};
    kt_status_respond(&resp, NULL);
    assert_int_equal(resp.status, 500);
    kt_buf_free(&resp.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_is_the_embedded_html),
        cmocka_unit_test(test_json_holds_config_masked_errors_and_stages_in_order),
        cmocka_unit_test(test_ready_has_no_reason),
        cmocka_unit_test(test_respond_without_status_is_a_500),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
