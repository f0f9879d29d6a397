/* spool: appends go through the I/O thread to segment files in a temporary directory and
 * come back through spool_take in order; segments roll, are deleted once every record was
 * acknowledged, and a damaged segment is read up to its first bad record. Every wait runs
 * the loop until a condition holds, bounded by a guard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>
#include <zlib.h>

#include "../../../ingest/spool.h"
#include "kt_err.h"

#define MAX_TAGS 256
#define WAIT_S 10.0

struct fx {
    struct ev_loop *loop;
    char dir[64];
    struct spool_opts o;
    struct spool *s;
    int appended, failed, ready_calls;
    int status[MAX_TAGS];
    char last_msg[KT_ERR_MSG_MAX];
    int saved_stderr; /* while a test catches stderr in a file; -1 otherwise */
};

static void appended_cb(void *ctx, void *tag, int status, const char *msg)
{
    struct fx *f = ctx;
    int i = (int)(intptr_t)tag;
    assert_true(i >= 0 && i < MAX_TAGS);
    f->status[i] = status;
    if (status == 0)
        f->appended++;
    else
        f->failed++;
    snprintf(f->last_msg, sizeof(f->last_msg), "%s", msg);
}

static void ready_cb(void *ctx)
{
    struct fx *f = ctx;
    f->ready_calls++;
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* Runs the loop until cond(f) holds; fails the test after WAIT_S. */
static void run_until(struct fx *f, bool (*cond)(struct fx *))
{
    ev_timer tick;
    ev_timer_init(&tick, tick_cb, 0.005, 0.005);
    ev_timer_start(f->loop, &tick);
    ev_tstamp until = ev_now(f->loop) + WAIT_S;
    while (!cond(f)) {
        assert_true(ev_now(f->loop) < until);
        ev_run(f->loop, EVRUN_ONCE);
    }
    ev_timer_stop(f->loop, &tick);
}

static int n_appended;
static bool all_appended(struct fx *f)
{
    return f->appended + f->failed >= n_appended;
}

static bool spool_is_idle(struct fx *f)
{
    return spool_idle(f->s);
}

/* The segments deleted are counted out of the spool's bytes just after the unlink. */
static bool spool_is_empty(struct fx *f)
{
    struct spool_stats st;
    spool_get_stats(f->s, &st);
    return st.bytes == 0 && st.segments == 0;
}

static void open_spool(struct fx *f)
{
    struct kt_err err = {0};
    int rc = spool_new(&f->o, f->loop, appended_cb, ready_cb, f, &f->s, &err);
    if (rc != 0)
        fail_msg("spool_new: %s", err.msg);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->loop = ev_loop_new(EVFLAG_AUTO);
    snprintf(f->dir, sizeof(f->dir), "/tmp/kt-spool-test.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->saved_stderr = -1;
    f->o = (struct spool_opts){
        .dir = f->dir, .max_size = 1 << 20, .segment_size = 3100, .fsync = SPOOL_FSYNC_BATCH};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->saved_stderr >= 0) {
        fflush(stderr);
        dup2(f->saved_stderr, 2);
        close(f->saved_stderr);
    }
    spool_free(f->s);
    DIR *d = opendir(f->dir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[sizeof(f->dir) + sizeof(de->d_name) + 1];
        snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
        unlink(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(f->dir);
    ev_loop_destroy(f->loop);
    free(f);
    return 0;
}

/* Record i: key "k<i>", value of len bytes that spell i, no record header. */
static void make_msg(int i, size_t len, char *key, uint8_t *val, struct spool_msg *m)
{
    snprintf(key, 16, "k%d", i);
    for (size_t b = 0; b < len; b++)
        val[b] = (uint8_t)(i * 7 + (int)b);
    m->sig = (enum kt_signal)(i % KT_SIGNAL_COUNT);
    m->key = (struct kt_slice){(const uint8_t *)key, strlen(key)};
    m->value = (struct kt_slice){val, len};
    m->hdrs = m->topic = (struct kt_slice){NULL, 0};
}

static const char *const tenants[] = {"acme", "globex", ""};

/* make_msg, and odd records carry the record header x-tenant (with an empty value every
 * third of them), those of i % 5 == 0 a second one, x-env: prod, and those of i % 3 == 0
 * the topic t.custom. */
static void make_msg_hdr(int i, size_t len, char *key, uint8_t *val, struct spool_msg *m)
{
    /* The pairs depend on i % 15 alone: one buffer per residue stays valid while a test
     * compares. */
    static struct kt_buf hdrs[15];
    make_msg(i, len, key, val, m);
    if (i % 2 == 1) {
        const char *t = tenants[i % 3];
        struct kt_buf *b = &hdrs[i % 15];
        kt_buf_reset(b);
        assert_int_equal(spool_hdrs_add(b, (struct kt_slice){(const uint8_t *)"x-tenant", 8},
                                        (struct kt_slice){(const uint8_t *)t, strlen(t)}),
                         0);
        if (i % 5 == 0)
            assert_int_equal(spool_hdrs_add(b, (struct kt_slice){(const uint8_t *)"x-env", 5},
                                            (struct kt_slice){(const uint8_t *)"prod", 4}),
                             0);
        m->hdrs = kt_buf_slice(b);
    }
    if (i % 3 == 0)
        m->topic = (struct kt_slice){(const uint8_t *)"t.custom", 8};
}

/* Appends records from..from + n - 1 of make_msg (or make_msg_hdr, with hdr). */
static void append_n_as(struct fx *f, int from, int n, size_t len, bool hdr)
{
    uint8_t *val = malloc(len);
    for (int i = from; i < from + n; i++) {
        char key[16];
        struct spool_msg m;
        (hdr ? make_msg_hdr : make_msg)(i, len, key, val, &m);
        struct kt_err err = {0};
        int rc = spool_append(f->s, &m, (void *)(intptr_t)i, &err);
        if (rc != 0)
            fail_msg("spool_append %d: %s", i, err.msg);
    }
    free(val);
    n_appended = f->appended + f->failed + n;
    run_until(f, all_appended);
}

static void append_n(struct fx *f, int from, int n, size_t len)
{
    append_n_as(f, from, n, len, false);
}

/* The record matches what make_msg (or make_msg_hdr, with hdr) built for i. */
static void check_msg_as(const struct spool_rec *r, int i, size_t len, bool hdr)
{
    char key[16];
    uint8_t *val = malloc(len);
    struct spool_msg m;
    (hdr ? make_msg_hdr : make_msg)(i, len, key, val, &m);
    assert_int_equal(r->m.sig, m.sig);
    assert_int_equal(r->m.key.n, m.key.n);
    assert_memory_equal(r->m.key.p, m.key.p, m.key.n);
    assert_int_equal(r->m.value.n, len);
    assert_memory_equal(r->m.value.p, val, len);
    assert_int_equal(r->m.hdrs.n, m.hdrs.n);
    if (m.hdrs.n > 0)
        assert_memory_equal(r->m.hdrs.p, m.hdrs.p, m.hdrs.n);
    assert_int_equal(r->m.topic.n, m.topic.n);
    if (m.topic.n > 0)
        assert_memory_equal(r->m.topic.p, m.topic.p, m.topic.n);
    free(val);
}

static void check_msg(const struct spool_rec *r, int i, size_t len)
{
    check_msg_as(r, i, len, false);
}

static struct spool_rec *taken[MAX_TAGS];
static int n_taken, want_taken;
static bool took_enough(struct fx *f)
{
    struct spool_rec *r;
    while (n_taken < want_taken && (r = spool_take(f->s)) != NULL)
        taken[n_taken++] = r;
    return n_taken >= want_taken;
}

static void take_n(struct fx *f, int n)
{
    n_taken = 0;
    want_taken = n;
    spool_drain(f->s, true);
    run_until(f, took_enough);
}

static int count_segments(const char *dir)
{
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *de;
    while (d != NULL && (de = readdir(d)) != NULL)
        n += strstr(de->d_name, ".spool") != NULL;
    if (d != NULL)
        closedir(d);
    return n;
}

static int want_segments;
static bool segments_are(struct fx *f)
{
    return count_segments(f->dir) == want_segments;
}

static void wait_segments(struct fx *f, int n)
{
    want_segments = n;
    run_until(f, segments_are);
}

/* ---- the record format ---- */

/* Record i (make_msg) encodes, parses back to the same fields, and no cut or flipped bit
 * passes for a record. */
static void check_round_trip(int i)
{
    char key[16];
    uint8_t val[100], rec[256];
    struct spool_msg m, got;
    make_msg_hdr(i, sizeof(val), key, val, &m);
    size_t n = spool_record_size(&m);
    assert_true(n <= sizeof(rec));
    struct kt_err err = {0};
    assert_int_equal(spool_record_encode(&m, rec, &err), 0);
    size_t used = 0;
    assert_int_equal(spool_record_parse(rec, n, &got, &used, &err), 0);
    assert_int_equal(used, n);
    assert_int_equal(got.sig, m.sig);
    assert_int_equal(got.key.n, m.key.n);
    assert_memory_equal(got.key.p, key, m.key.n);
    assert_memory_equal(got.value.p, val, sizeof(val));
    assert_int_equal(got.hdrs.n, m.hdrs.n);
    if (m.hdrs.n > 0)
        assert_memory_equal(got.hdrs.p, m.hdrs.p, m.hdrs.n);
    assert_int_equal(got.topic.n, m.topic.n);
    if (m.topic.n > 0)
        assert_memory_equal(got.topic.p, m.topic.p, m.topic.n);
    /* Cut short anywhere: more bytes wanted, never a record. */
    for (size_t cut = 0; cut < n; cut++)
        assert_int_equal(spool_record_parse(rec, cut, &got, &used, &err), KT_EAGAIN);
    /* One bit flipped anywhere: never a record. */
    for (size_t b = 0; b < n; b++) {
        for (int bit = 0; bit < 8; bit++) {
            rec[b] ^= (uint8_t)(1u << bit);
            assert_int_not_equal(spool_record_parse(rec, n, &got, &used, &err), 0);
            rec[b] ^= (uint8_t)(1u << bit);
        }
    }
}

static void test_record_round_trip_and_every_flipped_byte_is_caught(void **state)
{
    (void)state;
    check_round_trip(4);  /* no header */
    check_round_trip(5);  /* x-tenant: globex */
    check_round_trip(3);  /* x-tenant with an empty value, topic t.custom */
    check_round_trip(5);  /* x-tenant and x-env: several headers */
    check_round_trip(15); /* several headers and a topic */
    check_round_trip(6);  /* a topic alone */
}

/* The bytes on disk, pinned: a record without a header is what kotel wrote before headers
 * existed (so old spools replay), one with a header sets flag bit 0 and puts it between key
 * and value. */
static void test_record_bytes_with_and_without_a_header(void **state)
{
    (void)state;
    static const uint8_t plain[] = {0x09, 0x00, 0x00, 0x00, 0x00, 0x4b, 0xb7, 0x29, 0x01,
                                    0x00, 0x02, 0x00, 'a',  'b',  'x',  'y',  'z'};
    static const uint8_t with_hdr[] = {0x19, 0x00, 0x00, 0x00, 0xc0, 0x36, 0x52, 0xbc, 0x01,
                                       0x01, 0x02, 0x00, 'a',  'b',  0x08, 0x00, 'x',  '-',
                                       't',  'e',  'n',  'a',  'n',  't',  0x04, 0x00, 'a',
                                       'c',  'm',  'e',  'x',  'y',  'z'};
    struct spool_msg m = {
        .sig = KT_SIGNAL_METRICS,
        .key = {(const uint8_t *)"ab", 2},
        .value = {(const uint8_t *)"xyz", 3},
    };
    uint8_t rec[64];
    struct kt_err err = {0};
    assert_int_equal(spool_record_size(&m), sizeof(plain));
    assert_int_equal(spool_record_encode(&m, rec, &err), 0);
    assert_memory_equal(rec, plain, sizeof(plain));
    static const uint8_t pair[] = {0x08, 0x00, 'x',  '-',  't', 'e', 'n', 'a',
                                   'n',  't',  0x04, 0x00, 'a', 'c', 'm', 'e'};
    m.hdrs = (struct kt_slice){pair, sizeof(pair)};
    assert_int_equal(spool_record_size(&m), sizeof(with_hdr));
    assert_int_equal(spool_record_encode(&m, rec, &err), 0);
    assert_memory_equal(rec, with_hdr, sizeof(with_hdr));
}

/* Sets the crc of the record in rec (n bytes) after its bytes were changed on purpose. */
static void reseal(uint8_t *rec, size_t n)
{
    uLong c = crc32(crc32(0L, Z_NULL, 0), rec, 4);
    c = crc32(c, rec + SPOOL_RECORD_HDR, (uInt)(n - SPOOL_RECORD_HDR));
    for (int b = 0; b < 4; b++)
        rec[4 + b] = (uint8_t)(c >> (8 * b));
}

/* With a good checksum, still no record: unknown flags, a header without a name, header
 * lengths past the record. */
static void test_record_header_fields_are_checked(void **state)
{
    (void)state;
    struct spool_msg m = {
        .sig = KT_SIGNAL_TRACES,
        .key = {(const uint8_t *)"k", 1},
        .value = {(const uint8_t *)"v", 1},
        .hdrs = {(const uint8_t *)"\x01\x00h\x01\x00t", 6},
    };
    uint8_t rec[64], bad[64];
    struct kt_err err = {0};
    size_t n = spool_record_size(&m), used;
    assert_int_equal(spool_record_encode(&m, rec, &err), 0);
    struct spool_msg got;
    const size_t flags = SPOOL_RECORD_HDR + 1, name_len = SPOOL_RECORD_HDR + SPOOL_BODY_HDR + 1,
                 value_len = name_len + 3;
    const struct {
        size_t at;
        uint8_t v;
        const char *why;
    } cases[] = {
        {flags, 0x03, "flags 3"},
        {flags, 0x80, "flags 128"},
        {name_len, 5, "header longer than the record"},
        {value_len, 3, "header longer than the record"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, rec, n);
        bad[cases[i].at] = cases[i].v;
        reseal(bad, n);
        assert_int_equal(spool_record_parse(bad, n, &got, &used, &err), KT_EPROTO);
        if (strstr(err.msg, cases[i].why) == NULL)
            fail_msg("case %zu: '%s' does not say '%s'", i, err.msg, cases[i].why);
    }
    /* A header flagged, with an empty name (which would read back as no header). */
    uint8_t no_name[] = {0, 0,   0, 0, 0, 0, 0,   0,  KT_SIGNAL_LOGS, SPOOL_FLAG_HEADER, 1,
                         0, 'k', 0, 0, 1, 0, 't', 'v'};
    no_name[0] = sizeof(no_name) - SPOOL_RECORD_HDR;
    reseal(no_name, sizeof(no_name));
    assert_int_equal(spool_record_parse(no_name, sizeof(no_name), &got, &used, &err), KT_EPROTO);
    assert_non_null(strstr(err.msg, "record header with an empty name"));
    /* A name or value over a u16 cannot be written. */
    static uint8_t big[UINT16_MAX + 1];
    m.hdrs = (struct kt_slice){big, sizeof(big)};
    assert_int_equal(spool_record_encode(&m, rec, &err), KT_ETOOBIG);
}

/* ---- the spool ---- */

static void test_append_then_read_back_in_order_and_delete_after_acks(void **state)
{
    struct fx *f = *state;
    open_spool(f);
    append_n(f, 0, 10, 100);
    assert_int_equal(f->appended, 10);
    assert_int_equal(count_segments(f->dir), 1);
    take_n(f, 10);
    for (int i = 0; i < 10; i++)
        check_msg(taken[i], i, 100);
    /* Handed back undelivered: taken again first. */
    spool_done(f->s, taken[3], false);
    struct spool_rec *again = spool_take(f->s);
    assert_ptr_equal(again, taken[3]);
    for (int i = 0; i < 9; i++)
        spool_done(f->s, taken[i], true);
    /* One record still unacknowledged: the segment stays. */
    run_until(f, spool_is_idle);
    assert_int_equal(count_segments(f->dir), 1);
    spool_done(f->s, taken[9], true);
    wait_segments(f, 0);
    run_until(f, spool_is_empty);
    struct spool_stats st;
    spool_get_stats(f->s, &st);
    assert_int_equal(st.appended, 10);
    assert_int_equal(st.delivered, 10);
    assert_int_equal(st.bytes, 0);
}

static void test_segments_roll_and_each_is_deleted_once_acknowledged(void **state)
{
    struct fx *f = *state;
    f->o.fsync = SPOOL_FSYNC_ALWAYS;
    open_spool(f);
    /* 1000-byte values in 3100-byte segments: three records a segment. */
    append_n(f, 0, 9, 1000);
    assert_int_equal(count_segments(f->dir), 3);
    take_n(f, 9);
    for (int i = 0; i < 9; i++)
        check_msg(taken[i], i, 1000);
    for (int i = 0; i < 3; i++)
        spool_done(f->s, taken[i], true);
    wait_segments(f, 2);
    /* The middle segment's records acknowledged before the first's would not delete it
     * early: acknowledge the last segment, then the middle. */
    for (int i = 6; i < 9; i++)
        spool_done(f->s, taken[i], true);
    wait_segments(f, 1);
    for (int i = 3; i < 6; i++)
        spool_done(f->s, taken[i], true);
    wait_segments(f, 0);
}

static void flip_byte(const char *path, off_t off)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static bool two_corrupt(struct fx *f)
{
    struct spool_stats st;
    spool_get_stats(f->s, &st);
    assert_true(st.corrupt <= 2);
    return st.corrupt == 2;
}

static void test_restart_skips_torn_tail_and_flipped_byte_with_a_log_line(void **state)
{
    struct fx *f = *state;
    f->o.fsync = SPOOL_FSYNC_NEVER;
    open_spool(f);
    append_n(f, 0, 9, 1000); /* three segments of three records */
    spool_free(f->s);
    f->s = NULL;

    /* Segment 1: the second record's value gets a flipped byte. Segment 3: the last record
     * is cut in the middle, as a crash during the write leaves it. */
    size_t rec = SPOOL_RECORD_HDR + SPOOL_BODY_HDR + 2 + 1000;
    char p1[128], p3[128];
    snprintf(p1, sizeof(p1), "%s/%016x.spool", f->dir, 1);
    snprintf(p3, sizeof(p3), "%s/%016x.spool", f->dir, 3);
    flip_byte(p1, (off_t)(SPOOL_MAGIC_LEN + rec + rec / 2));
    struct stat st3;
    assert_int_equal(stat(p3, &st3), 0);
    assert_int_equal(truncate(p3, st3.st_size - 300), 0);

    /* The log lines go to stderr: catch them in a file. */
    char logpath[96];
    snprintf(logpath, sizeof(logpath), "%s.log", f->dir);
    fflush(stderr);
    f->saved_stderr = dup(2);
    int lfd = open(logpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
    dup2(lfd, 2);

    open_spool(f);
    /* Segment 1 yields record 0 only, segment 2 all three, segment 3 the first two. */
    int want[] = {0, 3, 4, 5, 6, 7};
    take_n(f, 6);
    for (int i = 0; i < 6; i++)
        check_msg(taken[i], want[i], 1000);
    /* The reader is past both bad records once both were counted. */
    run_until(f, two_corrupt);
    assert_null(spool_take(f->s));
    for (int i = 0; i < 6; i++)
        spool_done(f->s, taken[i], true);
    wait_segments(f, 0);

    fflush(stderr);
    dup2(f->saved_stderr, 2);
    close(f->saved_stderr);
    f->saved_stderr = -1;
    char log[4096] = "";
    ssize_t n = pread(lfd, log, sizeof(log) - 1, 0);
    close(lfd);
    unlink(logpath);
    assert_true(n > 0);
    log[n] = '\0';
    char want1[160], want3[160];
    snprintf(want1, sizeof(want1), "0000000000000001.spool: checksum mismatch at offset %zu",
             SPOOL_MAGIC_LEN + rec);
    snprintf(want3, sizeof(want3),
             "0000000000000003.spool: a record cut short (torn write) at "
             "offset %zu; skipping the %zu bytes",
             SPOOL_MAGIC_LEN + 2 * rec, rec - 300);
    if (strstr(log, want1) == NULL || strstr(log, want3) == NULL)
        fail_msg("log lacks '%s' or '%s':\n%s", want1, want3, log);
}

static void test_restart_sends_again_what_was_not_acknowledged(void **state)
{
    struct fx *f = *state;
    open_spool(f);
    append_n(f, 0, 6, 1000); /* two segments */
    take_n(f, 4);
    for (int i = 0; i < 4; i++)
        spool_done(f->s, taken[i], true);
    wait_segments(f, 1);
    spool_free(f->s);
    f->s = NULL;
    /* The second segment comes back whole (record 3 was acknowledged: a duplicate), and new
     * appends go to a segment after it. */
    open_spool(f);
    append_n(f, 100, 1, 1000);
    take_n(f, 4);
    int want[] = {3, 4, 5, 100};
    for (int i = 0; i < 4; i++)
        check_msg(taken[i], want[i], 1000);
    for (int i = 0; i < 4; i++)
        spool_done(f->s, taken[i], true);
    wait_segments(f, 0);
}

/* Record headers come back as they were appended, also after a restart, among records
 * without one. */
static void test_record_headers_survive_a_restart(void **state)
{
    struct fx *f = *state;
    open_spool(f);
    append_n_as(f, 0, 6, 100, true);
    spool_free(f->s);
    f->s = NULL;
    open_spool(f);
    take_n(f, 6);
    for (int i = 0; i < 6; i++)
        check_msg_as(taken[i], i, 100, true);
    for (int i = 0; i < 6; i++)
        spool_done(f->s, taken[i], true);
    wait_segments(f, 0);
}

static void test_full_spool_refuses_naming_max_size(void **state)
{
    struct fx *f = *state;
    f->o.max_size = 8192;
    open_spool(f);
    uint8_t val[1000];
    char key[16];
    struct spool_msg m;
    int accepted = 0, rc = 0;
    struct kt_err err = {0};
    for (int i = 0; i < 20 && rc == 0; i++) {
        make_msg(i, sizeof(val), key, val, &m);
        rc = spool_append(f->s, &m, (void *)(intptr_t)i, &err);
        accepted += rc == 0;
    }
    assert_int_equal(rc, KT_EAGAIN);
    assert_non_null(strstr(err.msg, "[spool] max_size"));
    assert_true(accepted >= 6 && accepted <= 8);
    n_appended = accepted;
    run_until(f, all_appended);
    assert_int_equal(f->failed, 0);
    struct spool_stats st;
    spool_get_stats(f->s, &st);
    assert_true(st.bytes <= 8192);
    /* Draining frees the room again. */
    take_n(f, accepted);
    for (int i = 0; i < accepted; i++)
        spool_done(f->s, taken[i], true);
    wait_segments(f, 0);
    assert_null(spool_refusing(f->s));
}

static void test_write_error_refuses_naming_dir_and_errno_and_keeps_no_garbage(void **state)
{
    struct fx *f = *state;
    f->o.segment_size = 1 << 20;
    open_spool(f);
    append_n(f, 0, 2, 1000);
    /* The file size limit makes the next writes fail part way (EFBIG), as a full disk does. */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 2500;
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    uint8_t val[1000];
    char key[16];
    struct spool_msg m;
    make_msg(2, sizeof(val), key, val, &m);
    struct kt_err err = {0};
    assert_int_equal(spool_append(f->s, &m, (void *)(intptr_t)2, &err), 0);
    n_appended = 3;
    run_until(f, all_appended);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(f->failed, 1);
    assert_int_equal(f->status[2], KT_EAGAIN);
    assert_non_null(strstr(f->last_msg, f->dir));
    assert_non_null(strstr(f->last_msg, "File too large"));
    /* Refused while the error is fresh, with the same message. */
    const char *why = spool_refusing(f->s);
    assert_non_null(why);
    assert_non_null(strstr(why, "File too large"));
    assert_int_equal(spool_append(f->s, &m, (void *)(intptr_t)3, &err), KT_EAGAIN);
    /* The part written was cut off: the two records before it come back, nothing else. */
    take_n(f, 2);
    check_msg(taken[0], 0, 1000);
    check_msg(taken[1], 1, 1000);
    run_until(f, spool_is_idle);
    assert_null(spool_take(f->s));
    struct spool_stats st;
    spool_get_stats(f->s, &st);
    assert_int_equal(st.corrupt, 0);
    assert_int_equal(st.write_errors, 1);
    spool_done(f->s, taken[0], true);
    spool_done(f->s, taken[1], true);
    wait_segments(f, 0);
}

static void test_unwritable_dir_is_a_clear_error(void **state)
{
    struct fx *f = *state;
    struct kt_err err = {0};
    /* A path under a regular file cannot be created, whoever runs the test. */
    char file[96], sub[128];
    snprintf(file, sizeof(file), "%s/lock", f->dir);
    close(open(file, O_WRONLY | O_CREAT, 0600));
    snprintf(sub, sizeof(sub), "%s/spool", file);
    f->o.dir = sub;
    assert_int_equal(spool_new(&f->o, f->loop, appended_cb, ready_cb, f, &f->s, &err), KT_EIO);
    assert_non_null(strstr(err.msg, "[spool] dir"));
    assert_non_null(strstr(err.msg, sub));
    assert_non_null(strstr(err.msg, "Not a directory"));
    /* A directory without write permission (root ignores permissions). */
    if (geteuid() != 0) {
        snprintf(sub, sizeof(sub), "%s/ro", f->dir);
        assert_int_equal(mkdir(sub, 0500), 0);
        assert_int_equal(spool_new(&f->o, f->loop, appended_cb, ready_cb, f, &f->s, &err), KT_EIO);
        assert_non_null(strstr(err.msg, "is not writable"));
        rmdir(sub);
    }
    unlink(file);
    f->o.dir = f->dir;
}

static void test_second_process_on_one_dir_is_refused(void **state)
{
    struct fx *f = *state;
    open_spool(f);
    struct spool *other = NULL;
    struct kt_err err = {0};
    assert_int_equal(spool_new(&f->o, f->loop, appended_cb, ready_cb, f, &other, &err), KT_EIO);
    assert_non_null(strstr(err.msg, "in use by another process"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_round_trip_and_every_flipped_byte_is_caught),
        cmocka_unit_test(test_record_bytes_with_and_without_a_header),
        cmocka_unit_test(test_record_header_fields_are_checked),
        cmocka_unit_test_setup_teardown(test_append_then_read_back_in_order_and_delete_after_acks,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_segments_roll_and_each_is_deleted_once_acknowledged,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_restart_skips_torn_tail_and_flipped_byte_with_a_log_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_sends_again_what_was_not_acknowledged, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_record_headers_survive_a_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_spool_refuses_naming_max_size, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_write_error_refuses_naming_dir_and_errno_and_keeps_no_garbage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_dir_is_a_clear_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_process_on_one_dir_is_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
