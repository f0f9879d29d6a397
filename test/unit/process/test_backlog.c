/* backlog: the drain rate follows the lag's decrease, the ETA is lag / rate, a growing or
 * paused lag gives no ETA, progress lines come every BACKLOG_REPORT_S while over the
 * threshold, the drained line once on falling under it, and threshold 0 says nothing. A
 * partition's lag counts from the stored, else the committed offset, else where reading
 * starts, never from librdkafka's fetch position. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../process/backlog.h"

/* The three partitions of feed's samples, as the previous sample counted them. */
static struct backlog_part fed[3];

static void start(struct backlog *b, uint64_t threshold)
{
    backlog_init(b, threshold);
    memset(fed, 0, sizeof(fed));
}

/* A sample of lag over three partitions counted from their stored offsets, partition 2
 * with half of it. */
static bool feed(struct backlog *b, double now, uint64_t lag, bool paused, char *line, size_t cap)
{
    struct backlog_sample s = {.now = now, .paused = paused, .top_partition = -1};
    int64_t half = (int64_t)(lag / 2), quarter = ((int64_t)lag - half) / 2;
    backlog_sample_add(&s, &fed[2], half, BACKLOG_FROM_STORED, "otlp_spans", 2);
    backlog_sample_add(&s, &fed[0], quarter, BACKLOG_FROM_STORED, "otlp_spans", 0);
    backlog_sample_add(&s, &fed[1], (int64_t)lag - half - quarter, BACKLOG_FROM_STORED,
                       "otlp_spans", 1);
    line[0] = '\0';
    return backlog_sample(b, &s, line, cap);
}

static void test_steady_drain_gives_rate_and_eta(void **state)
{
    (void)state;
    struct backlog b;
    char line[1024];
    struct backlog_view v;
    start(&b, 1000);
    /* First sample: over the threshold, no rate yet. */
    assert_true(feed(&b, 100, 60000, false, line, sizeof(line)));
    assert_non_null(strstr(line, "backlog: 60000 messages behind on 3 partitions"));
    assert_non_null(strstr(line, "drain rate not known yet"));
    assert_non_null(strstr(line, "(most lag: otlp_spans [2] 30000)"));
    backlog_get_view(&b, &v);
    assert_int_equal(v.state, BACKLOG_DRAINING);
    assert_true(v.eta_s < 0);
    /* 100 msg/s decrease, sampled every 5 s. */
    uint64_t lag = 60000;
    for (int i = 1; i <= 10; i++) {
        lag -= 500;
        assert_true(feed(&b, 100 + 5 * i, lag, false, line, sizeof(line)));
    }
    backlog_get_view(&b, &v);
    assert_int_equal(v.lag, 55000);
    assert_true(v.rate_per_s > 99.9 && v.rate_per_s < 100.1);
    assert_true(v.eta_s > 549 && v.eta_s < 551);
    assert_non_null(strstr(line, "draining at 100 msg/s, ETA ~9 min"));
}

/* The rate is the sum of the partitions' decreases: a partition that moves from the log
 * start to its first stored offset drained by the difference, one in only one of the two
 * samples is a jump that is not counted, and one counted from librdkafka's fetch position is
 * in the total but never in the rate (it swings whenever fetching pauses). */
static void test_rate_sums_the_partitions_decreases(void **state)
{
    (void)state;
    struct backlog b;
    struct backlog_part p[5] = {{0}};
    char line[1024];
    struct backlog_view v;
    backlog_init(&b, 1000);
    /* Partitions 0 and 1 count from their stored offsets and drain at 50 msg/s each;
     * partition 2 from its committed offset, then from its first stored one; partition 3
     * from the log start, then from the first message handed out; partition 4 from the fetch
     * position, swinging by 45. */
    int64_t lag[5] = {2000, 2000, 3000, 5000, 500};
    enum backlog_lag_from from[5] = {BACKLOG_FROM_STORED, BACKLOG_FROM_STORED,
                                     BACKLOG_FROM_COMMITTED, BACKLOG_FROM_LOG_START,
                                     BACKLOG_FROM_FETCH};
    double want = 0; /* no rate from the first sample */
    for (int i = 0; i < 6; i++) {
        struct backlog_sample s = {.now = 10 + 5 * i, .top_partition = -1};
        int n = i == 4 ? 4 : 5; /* partition 4 is in sample 4 only after it (a rebalance) */
        /* 100 msg/s from partitions 0 and 1; from i == 2 on, 10 msg/s from partition 2, its
         * first offset stored at i == 2 (50 finished since i == 1); partition 3's first
         * message handed out at i == 3 without a change of its lag. */
        if (i == 2)
            lag[2] -= 50, from[2] = BACKLOG_FROM_STORED;
        if (i == 3)
            from[3] = BACKLOG_FROM_POSITION;
        lag[4] = i % 2 ? 500 : 545;
        for (int k = 0; k < n; k++)
            backlog_sample_add(&s, &p[k], lag[k], from[k], "otlp_spans", k);
        if (n == 4)
            p[4] = (struct backlog_part){0};
        backlog_sample(&b, &s, line, sizeof(line));
        backlog_get_view(&b, &v);
        uint64_t total = 0;
        for (int k = 0; k < n; k++)
            total += (uint64_t)lag[k];
        assert_int_equal(v.lag, total);
        assert_int_equal(v.partitions, n);
        if (i == 1)
            want = 100;
        else if (i >= 2)
            want += (110 - want) * (5 / (BACKLOG_SMOOTH_S + 5));
        assert_true(v.rate_per_s > want - 0.01 && v.rate_per_s < want + 0.01);
        lag[0] -= 250, lag[1] -= 250;
        if (i >= 2)
            lag[2] -= 50;
    }
}

/* A drain over many partitions where the consumer reaches one more at each sample (its first
 * offset stored): every partition counts toward the rate, also the one that just moved from
 * the log start, so the rate is the drain's from the second sample on. */
static void test_rate_while_partitions_join_one_per_sample(void **state)
{
    (void)state;
    enum { N = 40 };
    struct backlog b;
    struct backlog_part p[N];
    int64_t lag[N];
    char line[1024];
    struct backlog_view v;
    double want = 0;
    memset(p, 0, sizeof(p));
    backlog_init(&b, 100);
    for (int k = 0; k < N; k++)
        lag[k] = 10000;
    for (int i = 0; i < N; i++) {
        struct backlog_sample s = {.now = 5.0 * i, .top_partition = -1};
        /* Since the previous sample partitions 1..i drained 100 each, the one reached at
         * this sample (i) included. */
        for (int k = 1; k <= i; k++)
            lag[k] -= 100;
        for (int k = 0; k < N; k++)
            backlog_sample_add(&s, &p[k], lag[k],
                               k <= i ? BACKLOG_FROM_STORED : BACKLOG_FROM_LOG_START, "otlp_spans",
                               k);
        assert_true(backlog_sample(&b, &s, line, sizeof(line)));
        backlog_get_view(&b, &v);
        if (i == 0) {
            assert_non_null(strstr(line, "drain rate not known yet"));
            continue;
        }
        double inst = 20.0 * i;
        want = i == 1 ? inst : want + (inst - want) * (5 / (BACKLOG_SMOOTH_S + 5));
        assert_true(v.rate_per_s > want - 0.01 && v.rate_per_s < want + 0.01);
        assert_non_null(strstr(line, "draining at"));
        assert_true(v.eta_s > 0);
    }
}

static void test_rate_is_smoothed(void **state)
{
    (void)state;
    struct backlog b;
    char line[1024];
    struct backlog_view v;
    start(&b, 1000);
    feed(&b, 0, 100000, false, line, sizeof(line));
    feed(&b, 5, 99000, false, line, sizeof(line));  /* 200 msg/s */
    feed(&b, 10, 99000, false, line, sizeof(line)); /* a stall of one interval */
    backlog_get_view(&b, &v);
    /* Moved toward 0 by dt / (tau + dt) = 5/35, not all the way. */
    assert_true(v.rate_per_s > 171 && v.rate_per_s < 172);
    assert_true(v.eta_s > 0);
}

static void test_growing_lag_has_no_eta(void **state)
{
    (void)state;
    struct backlog b;
    char line[1024];
    struct backlog_view v;
    start(&b, 1000);
    feed(&b, 0, 5000, false, line, sizeof(line));
    assert_true(feed(&b, 5, 5250, false, line, sizeof(line)));
    assert_non_null(strstr(line, "backlog: 5250 messages behind on 3 partitions, not draining: "
                                 "lag grew by 50 msg/s"));
    assert_null(strstr(line, "ETA"));
    backlog_get_view(&b, &v);
    assert_true(v.rate_per_s < 0);
    assert_true(v.eta_s < 0);
    assert_int_equal(v.state, BACKLOG_DRAINING);
}

static void test_lines_every_report_interval(void **state)
{
    (void)state;
    struct backlog b;
    char line[1024];
    start(&b, 10);
    assert_true(feed(&b, 0, 1000, false, line, sizeof(line)));
    assert_false(feed(&b, 1, 990, false, line, sizeof(line)));
    assert_false(feed(&b, 4, 960, false, line, sizeof(line)));
    /* A sample that arrives a little early (statistics every 5 s) still reports. */
    assert_true(feed(&b, 4.6, 950, false, line, sizeof(line)));
    assert_false(feed(&b, 5, 940, false, line, sizeof(line)));
}

static void test_drained_once_then_quiet(void **state)
{
    (void)state;
    struct backlog b;
    char line[1024];
    struct backlog_view v;
    start(&b, 1000);
    assert_true(feed(&b, 0, 3000, false, line, sizeof(line)));
    assert_true(feed(&b, 5, 1500, false, line, sizeof(line)));
    assert_true(feed(&b, 10, 400, false, line, sizeof(line)));
    assert_non_null(strstr(line, "backlog drained: 400 messages behind on 3 partitions"));
    assert_non_null(strstr(line, "lag_report_threshold 1000"));
    assert_non_null(strstr(line, "switching it to latest is now safe"));
    backlog_get_view(&b, &v);
    assert_int_equal(v.state, BACKLOG_DRAINED);
    assert_false(feed(&b, 15, 0, false, line, sizeof(line)));
    assert_false(feed(&b, 20, 1000, false, line, sizeof(line))); /* at the threshold: under */
    backlog_get_view(&b, &v);
    assert_int_equal(v.state, BACKLOG_DRAINED);
    /* Over again: progress lines come back at once, and a second drained line later. */
    assert_true(feed(&b, 21, 5000, false, line, sizeof(line)));
    assert_non_null(strstr(line, "backlog: 5000 messages behind"));
    assert_true(feed(&b, 30, 10, false, line, sizeof(line)));
    assert_non_null(strstr(line, "backlog drained"));
}

static void test_never_over_says_nothing(void **state)
{
    (void)state;
    struct backlog b;
    char line[1024];
    struct backlog_view v;
    start(&b, 1000);
    for (int i = 0; i < 5; i++)
        assert_false(feed(&b, 5 * i, 900 - 100 * (uint64_t)i, false, line, sizeof(line)));
    backlog_get_view(&b, &v);
    assert_int_equal(v.state, BACKLOG_BELOW_THRESHOLD);
    assert_true(v.known);
    assert_int_equal(v.lag, 500);
    assert_true(v.rate_per_s > 19.9 && v.rate_per_s < 20.1);
}

static void test_threshold_zero_is_off(void **state)
{
    (void)state;
    struct backlog b;
    char line[1024];
    struct backlog_view v;
    start(&b, 0);
    assert_false(feed(&b, 0, 1000000, false, line, sizeof(line)));
    assert_false(feed(&b, 5, 500000, false, line, sizeof(line)));
    assert_false(feed(&b, 10, 0, false, line, sizeof(line)));
    backlog_get_view(&b, &v);
    assert_int_equal(v.state, BACKLOG_BELOW_THRESHOLD);
    /* The numbers are still kept for /status and /metrics. */
    assert_int_equal(v.lag, 0);
    assert_true(v.rate_per_s > 0);
}

static void test_paused_gives_no_rate(void **state)
{
    (void)state;
    struct backlog b;
    char line[1024];
    struct backlog_view v;
    start(&b, 100);
    feed(&b, 0, 10000, false, line, sizeof(line));
    feed(&b, 5, 9000, false, line, sizeof(line)); /* 200 msg/s */
    /* Paused: the stale high watermark makes the lag look like it drains fast. */
    assert_true(feed(&b, 10, 2000, true, line, sizeof(line)));
    assert_non_null(strstr(line, "~2000 messages behind on 3 partitions (as of the last fetch)"));
    assert_non_null(strstr(line, "paused by backpressure"));
    assert_null(strstr(line, "ETA"));
    backlog_get_view(&b, &v);
    assert_true(v.paused);
    assert_true(v.eta_s < 0);
    assert_true(v.rate_per_s > 199.9 && v.rate_per_s < 200.1);
    /* Resumed: the first fresh lag (jumped up to the real one) is a new reference, not a
     * rate; the next one is. */
    assert_true(feed(&b, 15, 9500, false, line, sizeof(line)));
    backlog_get_view(&b, &v);
    assert_true(v.rate_per_s > 199.9 && v.rate_per_s < 200.1);
    assert_true(v.eta_s > 47 && v.eta_s < 48);
    assert_true(feed(&b, 20, 8500, false, line, sizeof(line)));
    backlog_get_view(&b, &v);
    assert_true(v.rate_per_s > 199.9 && v.rate_per_s < 200.1);
}

static void test_restart_skips_the_jump(void **state)
{
    (void)state;
    struct backlog b;
    char line[1024];
    struct backlog_view v;
    start(&b, 100);
    feed(&b, 0, 10000, false, line, sizeof(line));
    feed(&b, 5, 9500, false, line, sizeof(line)); /* 100 msg/s */
    backlog_restart(&b);                          /* a rebalance took half the partitions */
    feed(&b, 10, 4000, false, line, sizeof(line));
    backlog_get_view(&b, &v);
    assert_true(v.rate_per_s > 99.9 && v.rate_per_s < 100.1);
    assert_true(v.eta_s > 39.9 && v.eta_s < 40.1);
    assert_non_null(strstr(line, "ETA ~40 s"));
}

/* Offsets of a partition with nothing stored or committed (a new group) and nothing handed
 * out yet. */
static struct backlog_offsets fresh(int64_t lo, int64_t hi, int64_t next, int64_t fetchq)
{
    return (struct backlog_offsets){
        .lag_stored = -1,
        .lag_committed = -1,
        .hi = hi,
        .lo = lo,
        .next = next,
        .fetchq = fetchq,
        .position = -1,
        .from_earliest = true,
    };
}

static void test_lag_prefers_stored_then_committed(void **state)
{
    (void)state;
    enum backlog_lag_from from;
    struct backlog_offsets o = fresh(0, 3000, 3000, 0);
    o.lag_stored = 2950;
    o.lag_committed = 3000;
    o.position = 50;
    assert_int_equal(backlog_partition_lag(&o, &from), 2950);
    assert_int_equal(from, BACKLOG_FROM_STORED);
    o.lag_stored = -1;
    assert_int_equal(backlog_partition_lag(&o, &from), 3000);
    assert_int_equal(from, BACKLOG_FROM_COMMITTED);
    o.lag_committed = -1;
    assert_int_equal(backlog_partition_lag(&o, &from), 2950);
    assert_int_equal(from, BACKLOG_FROM_POSITION);
    o.position = 3100; /* past a high watermark from an older fetch */
    assert_int_equal(backlog_partition_lag(&o, &from), 0);
}

/* The states librdkafka's statistics showed for partitions none of whose 3000 messages were
 * handed out (a slow backend, max_pending_messages reached): fetched to the end with the
 * messages in the consumer queue (next 3000, fetchq 1), and after a pause moved the fetch
 * position back (next 0, fetchq 0). Both are the whole partition behind: the first read as
 * 1 once, and the backlog said "drained" with 2850 spans still to export. */
static void test_lag_of_a_fresh_partition_counts_from_the_log_start(void **state)
{
    (void)state;
    enum backlog_lag_from from;
    struct backlog_offsets o = fresh(0, 3000, 3000, 1);
    assert_int_equal(backlog_partition_lag(&o, &from), 3000);
    assert_int_equal(from, BACKLOG_FROM_LOG_START);
    o = fresh(0, 3000, 0, 0);
    assert_int_equal(backlog_partition_lag(&o, &from), 3000);
    /* Retention removed the first 1000. */
    o = fresh(1000, 3000, 3000, 0);
    assert_int_equal(backlog_partition_lag(&o, &from), 2000);
    /* Empty. */
    o = fresh(0, 0, 0, 0);
    assert_int_equal(backlog_partition_lag(&o, &from), 0);
    /* No fetch answered yet, or a broker too old to give the log start: not known, so the
     * backlog takes no sample rather than one without this partition. */
    o = fresh(-1, -1, -1, 0);
    assert_int_equal(backlog_partition_lag(&o, &from), -1);
    o = fresh(-1, 3000, 3000, 0);
    assert_int_equal(backlog_partition_lag(&o, &from), -1);
}

/* Starting at the latest offset, only what arrived since counts: what was fetched and what
 * librdkafka holds, never more than the partition has. */
static void test_lag_from_latest_counts_what_arrived(void **state)
{
    (void)state;
    enum backlog_lag_from from;
    struct backlog_offsets o = fresh(0, 3000, 2990, 4);
    o.from_earliest = false;
    assert_int_equal(backlog_partition_lag(&o, &from), 14);
    assert_int_equal(from, BACKLOG_FROM_FETCH);
    o.fetchq = 9000;
    assert_int_equal(backlog_partition_lag(&o, &from), 3000);
    o.next = -1;
    assert_int_equal(backlog_partition_lag(&o, &from), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_drain_gives_rate_and_eta),
        cmocka_unit_test(test_rate_sums_the_partitions_decreases),
        cmocka_unit_test(test_rate_while_partitions_join_one_per_sample),
        cmocka_unit_test(test_rate_is_smoothed),
        cmocka_unit_test(test_growing_lag_has_no_eta),
        cmocka_unit_test(test_lines_every_report_interval),
        cmocka_unit_test(test_drained_once_then_quiet),
        cmocka_unit_test(test_never_over_says_nothing),
        cmocka_unit_test(test_threshold_zero_is_off),
        cmocka_unit_test(test_paused_gives_no_rate),
        cmocka_unit_test(test_restart_skips_the_jump),
        cmocka_unit_test(test_lag_prefers_stored_then_committed),
        cmocka_unit_test(test_lag_of_a_fresh_partition_counts_from_the_log_start),
        cmocka_unit_test(test_lag_from_latest_counts_what_arrived),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
