/* fetch_stall: the fetcher is woken once the queue is empty after it came near either of
 * librdkafka's bounds (bytes, estimated from the messages polled, or messages) and that much
 * was polled since the last wake; never otherwise. fetch_wait times the waits on it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../../process/fetch_stall.h"

/* 64 MB and 100000 messages, librdkafka's defaults, as in kotel-process. */
static void init_default(struct fetch_stall *s)
{
    fetch_stall_init(s, 65536, 100000);
}

static void poll_n(struct fetch_stall *s, size_t n, size_t len)
{
    for (size_t i = 0; i < n; i++)
        fetch_stall_polled(s, len);
}

/* The queue holds n messages of len bytes, all polled then. */
static void drain(struct fetch_stall *s, size_t n, size_t len)
{
    fetch_stall_queued(s, n);
    poll_n(s, n, len);
}

static void test_quiet_queue_never_wakes(void **state)
{
    (void)state;
    struct fetch_stall s;
    init_default(&s);
    assert_false(fetch_stall_take(&s));
    /* 4 KB messages: 16384 fill 64 MB; 12000 at once are below three quarters, however many
     * pass in all. */
    for (int i = 0; i < 10; i++) {
        drain(&s, 12000, 4096);
        assert_false(fetch_stall_take(&s));
    }
}

static void test_near_the_byte_bound_wakes_once(void **state)
{
    (void)state;
    struct fetch_stall s;
    init_default(&s);
    poll_n(&s, 1, 4096);
    drain(&s, 13000, 4096); /* 53 MB of 64 */
    assert_true(fetch_stall_take(&s));
    assert_false(fetch_stall_take(&s));
    /* It takes another fill to wake again. */
    drain(&s, 16384, 4096);
    assert_true(fetch_stall_take(&s));
}

static void test_wake_needs_that_much_polled(void **state)
{
    (void)state;
    struct fetch_stall s;
    init_default(&s);
    poll_n(&s, 1, 4096);
    drain(&s, 16000, 4096);
    assert_true(fetch_stall_take(&s));
    /* The queue looked full again, but what was polled since the wake is far less than the
     * bound: what it held was dropped (a wake's purge) or was not messages. */
    fetch_stall_queued(&s, 16000);
    poll_n(&s, 100, 4096);
    assert_false(fetch_stall_take(&s));
}

static void test_bytes_follow_the_message_size(void **state)
{
    (void)state;
    struct fetch_stall s;
    init_default(&s);
    /* The same queue length is near the bound with 4 KB messages, not with 400 B ones. */
    poll_n(&s, 1, 400);
    drain(&s, 13000, 400);
    assert_false(fetch_stall_take(&s));
    poll_n(&s, 200, 4096);
    drain(&s, 13000, 4096);
    assert_true(fetch_stall_take(&s));
}

static void test_first_message_sets_the_size(void **state)
{
    (void)state;
    struct fetch_stall s;
    fetch_stall_init(&s, 1024, 100000); /* 1 MB */
    fetch_stall_polled(&s, 100000);
    drain(&s, 8, 100000);
    assert_true(fetch_stall_take(&s));
}

static void test_message_bound(void **state)
{
    (void)state;
    struct fetch_stall s;
    fetch_stall_init(&s, 0, 1000);
    drain(&s, 700, 10);
    assert_false(fetch_stall_take(&s));
    drain(&s, 750, 10);
    assert_true(fetch_stall_take(&s));
}

static void test_no_bound_never_wakes(void **state)
{
    (void)state;
    struct fetch_stall s;
    fetch_stall_init(&s, 0, 0);
    drain(&s, 100000, 1 << 20);
    assert_false(fetch_stall_take(&s));
}

/* A wait counts from its beginning to the next message; one begun again while timed keeps
 * its start; a cancelled one and a message with no wait timed count nothing. */
static void test_fetch_wait(void **state)
{
    (void)state;
    struct fetch_wait w;
    fetch_wait_init(&w);
    fetch_wait_end(&w, 5.0);
    assert_int_equal(w.n, 0);

    fetch_wait_begin(&w, 10.0);
    fetch_wait_begin(&w, 10.05);
    fetch_wait_end(&w, 10.2);
    assert_int_equal(w.n, 1);
    assert_true(w.longest > 0.199 && w.longest < 0.201);
    fetch_wait_end(&w, 11.0);
    assert_int_equal(w.n, 1);

    fetch_wait_begin(&w, 12.0);
    fetch_wait_cancel(&w);
    fetch_wait_end(&w, 14.0);
    assert_int_equal(w.n, 1);

    fetch_wait_begin(&w, 20.0);
    fetch_wait_end(&w, 20.003);
    assert_int_equal(w.n, 2);
    assert_true(w.longest > 0.199 && w.longest < 0.201);
    /* 3 ms and 200 ms: in the buckets up to 5 ms and up to 250 ms of the latency bounds. */
    uint64_t upto_5ms = 0, upto_100ms = 0, total = w.hist.over;
    for (size_t i = 0; i < w.hist.n; i++) {
        total += w.hist.counts[i];
        if (w.hist.bounds[i] <= 0.005)
            upto_5ms += w.hist.counts[i];
        if (w.hist.bounds[i] <= 0.1)
            upto_100ms += w.hist.counts[i];
    }
    assert_int_equal(total, 2);
    assert_int_equal(upto_5ms, 1);
    assert_int_equal(upto_100ms, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quiet_queue_never_wakes),
        cmocka_unit_test(test_near_the_byte_bound_wakes_once),
        cmocka_unit_test(test_wake_needs_that_much_polled),
        cmocka_unit_test(test_bytes_follow_the_message_size),
        cmocka_unit_test(test_first_message_sets_the_size),
        cmocka_unit_test(test_message_bound),
        cmocka_unit_test(test_no_bound_never_wakes),
        cmocka_unit_test(test_fetch_wait),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
