/* group_desc_parse_assignment: a member's assignment in Kafka's consumer protocol decodes to
 * its topics and partitions whatever the version and user data; every truncation, negative
 * or oversized count is refused with KT_EPROTO, never read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/group_desc.h"
#include "kt_err.h"

struct w {
    uint8_t b[512];
    size_t n;
};

static void w16(struct w *w, int16_t v)
{
    w->b[w->n++] = (uint8_t)((uint16_t)v >> 8);
    w->b[w->n++] = (uint8_t)v;
}

static void w32(struct w *w, int32_t v)
{
    for (int s = 24; s >= 0; s -= 8)
        w->b[w->n++] = (uint8_t)((uint32_t)v >> s);
}

static void wstr(struct w *w, const char *s)
{
    w16(w, (int16_t)strlen(s));
    memcpy(w->b + w->n, s, strlen(s));
    w->n += strlen(s);
}

/* Version 1, otlp_spans [0, 3], otlp_logs [2], 5 bytes of user data. */
static void two_topics(struct w *w)
{
    w->n = 0;
    w16(w, 1);
    w32(w, 2);
    wstr(w, "otlp_spans");
    w32(w, 2);
    w32(w, 0);
    w32(w, 3);
    wstr(w, "otlp_logs");
    w32(w, 1);
    w32(w, 2);
    w32(w, 5);
    memcpy(w->b + w->n, "\x00\x01\x02\x03\x04", 5);
    w->n += 5;
}

static void test_two_topics(void **state)
{
    (void)state;
    struct w w;
    two_topics(&w);
    rd_kafka_topic_partition_list_t *l = NULL;
    struct kt_err err;
    assert_int_equal(group_desc_parse_assignment(w.b, w.n, &l, &err), 0);
    assert_non_null(l);
    assert_int_equal(l->cnt, 3);
    assert_string_equal(l->elems[0].topic, "otlp_spans");
    assert_int_equal(l->elems[0].partition, 0);
    assert_string_equal(l->elems[1].topic, "otlp_spans");
    assert_int_equal(l->elems[1].partition, 3);
    assert_string_equal(l->elems[2].topic, "otlp_logs");
    assert_int_equal(l->elems[2].partition, 2);
    rd_kafka_topic_partition_list_destroy(l);
}

/* No user data at all (version 0 as some clients write it) and an empty assignment. */
static void test_no_user_data_and_empty(void **state)
{
    (void)state;
    struct w w = {.n = 0};
    w16(&w, 0);
    w32(&w, 1);
    wstr(&w, "t");
    w32(&w, 1);
    w32(&w, 7);
    rd_kafka_topic_partition_list_t *l = NULL;
    struct kt_err err;
    assert_int_equal(group_desc_parse_assignment(w.b, w.n, &l, &err), 0);
    assert_int_equal(l->cnt, 1);
    assert_int_equal(l->elems[0].partition, 7);
    rd_kafka_topic_partition_list_destroy(l);

    w.n = 0;
    w16(&w, 3);
    w32(&w, 0);
    w32(&w, -1); /* null user data */
    l = NULL;
    assert_int_equal(group_desc_parse_assignment(w.b, w.n, &l, &err), 0);
    assert_int_equal(l->cnt, 0);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Every prefix that cuts the topics short is refused; the user data may be cut anywhere. */
static void test_truncations_refused(void **state)
{
    (void)state;
    struct w w;
    two_topics(&w);
    size_t topics_end = w.n - 9; /* the user data: 4 bytes of length, 5 of data */
    for (size_t n = 0; n < topics_end; n++) {
        rd_kafka_topic_partition_list_t *l = NULL;
        struct kt_err err;
        uint8_t *copy = malloc(n > 0 ? n : 1); /* ASan sees a read past n */
        memcpy(copy, w.b, n);
        assert_int_equal(group_desc_parse_assignment(copy, n, &l, &err), KT_EPROTO);
        assert_null(l);
        assert_non_null(strstr(err.msg, "assignment"));
        free(copy);
    }
}

static void test_bad_counts_refused(void **state)
{
    (void)state;
    const int32_t topic_counts[] = {-1, INT32_MIN, 1000000, INT32_MAX};
    for (size_t i = 0; i < sizeof(topic_counts) / sizeof(topic_counts[0]); i++) {
        struct w w = {.n = 0};
        w16(&w, 0);
        w32(&w, topic_counts[i]);
        wstr(&w, "t");
        w32(&w, 0);
        rd_kafka_topic_partition_list_t *l = NULL;
        struct kt_err err;
        assert_int_equal(group_desc_parse_assignment(w.b, w.n, &l, &err), KT_EPROTO);
        assert_null(l);
    }
    const int32_t part_counts[] = {-1, 3, INT32_MAX};
    for (size_t i = 0; i < sizeof(part_counts) / sizeof(part_counts[0]); i++) {
        struct w w = {.n = 0};
        w16(&w, 0);
        w32(&w, 1);
        wstr(&w, "t");
        w32(&w, part_counts[i]);
        w32(&w, 0);
        w32(&w, 1); /* two partitions' worth of bytes */
        rd_kafka_topic_partition_list_t *l = NULL;
        struct kt_err err;
        assert_int_equal(group_desc_parse_assignment(w.b, w.n, &l, &err), KT_EPROTO);
        assert_null(l);
        assert_non_null(strstr(err.msg, "\"t\": bad partition count"));
    }
    /* A negative version or name length. */
    struct w w = {.n = 0};
    w16(&w, -1);
    w32(&w, 0);
    rd_kafka_topic_partition_list_t *l = NULL;
    struct kt_err err;
    assert_int_equal(group_desc_parse_assignment(w.b, w.n, &l, &err), KT_EPROTO);
    w.n = 0;
    w16(&w, 0);
    w32(&w, 1);
    w16(&w, -2);
    w32(&w, 0);
    assert_int_equal(group_desc_parse_assignment(w.b, w.n, &l, &err), KT_EPROTO);
    assert_null(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_topics),
        cmocka_unit_test(test_no_user_data_and_empty),
        cmocka_unit_test(test_truncations_refused),
        cmocka_unit_test(test_bad_counts_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
