#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kt_log.h"

/* Records (and bytes) the I/O thread reads ahead of spool_take. */
#define READ_AHEAD_RECORDS 64
#define READ_AHEAD_BYTES (16u << 20)
/* After a failed write, appends are refused this long before the disk is tried again, so a
 * full disk costs one failed write per second rather than one per request. */
#define ERROR_HOLD_S 1.0
/* "<16 hex digits>.spool" */
#define SEG_NAME_LEN 22
#define LOCK_NAME "lock"

struct seg {
    struct seg *next;
    uint64_t seq;
    uint64_t size;          /* bytes in the file */
    uint64_t handed, acked; /* records taken out for draining / acknowledged by Kafka */
    bool sealed;            /* nothing more is appended */
    bool read_done;         /* the reader is past its last record */
};

/* A record read for draining; pub comes first so that a spool_rec * is a struct rec *. */
struct rec {
    struct spool_rec pub;
    struct rec *next, *tprev, *tnext;
    struct seg *seg;
    size_t size;
    uint8_t data[];
};

struct append {
    struct append *next;
    void *tag;
    int status;
    size_t len;
    char msg[KT_ERR_MSG_MAX];
    uint8_t data[]; /* the encoded record */
};

struct spool {
    struct spool_opts o;
    struct ev_loop *loop;
    spool_appended_fn appended;
    spool_ready_fn ready;
    void *ctx;
    int dir_fd, lock_fd;
    bool thread_on, mu_on;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ev_async wake;

    /* Under mu. */
    struct seg *segs, *segs_tail;
    uint64_t bytes;                       /* of the segment files */
    uint64_t queued_bytes;                /* of appends not yet written */
    struct append *q_head, *q_tail;       /* to write */
    struct append *done_head, *done_tail; /* written or failed, to report */
    size_t writing;                       /* appends the thread holds */
    struct rec *ready_head, *ready_tail, *retry_head, *retry_tail;
    size_t ready_n, ready_bytes;
    bool draining, stop;
    double err_until; /* monotonic seconds; appends are refused before it */
    char err_msg[KT_ERR_MSG_MAX];
    struct spool_stats st;

    /* Loop only. */
    struct rec *taken; /* records out with the caller */
    char refusal[KT_ERR_MSG_MAX];

    /* I/O thread only. */
    uint64_t next_seq;
    struct seg *wseg, *rseg;
    int wfd, rfd;
    uint64_t roff;
    struct kt_log_limit write_rl;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void seg_name(uint64_t seq, char out[SEG_NAME_LEN + 1])
{
    snprintf(out, SEG_NAME_LEN + 1, "%016" PRIx64 ".spool", seq);
}

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t w = pwrite(fd, p, n, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* Reads n bytes at off; returns the bytes read (fewer at the end of the file) or -1. */
static ssize_t read_full(int fd, uint8_t *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* ---- the I/O thread: writing ---- */

/* The write failed with errno e: appends are refused for ERROR_HOLD_S, and a is failed. */
static void write_failed(struct spool *s, struct append *a, const char *what, const char *name,
                         int e)
{
    snprintf(a->msg, sizeof(a->msg), "spool: %s %s/%s: %s ([spool] dir)", what, s->o.dir, name,
             strerror(e));
    a->status = KT_EAGAIN;
    kt_log_limited(&s->write_rl, KT_LOG_WARN, "%s; refusing requests while Kafka is unavailable",
                   a->msg);
    pthread_mutex_lock(&s->mu);
    snprintf(s->err_msg, sizeof(s->err_msg), "%s", a->msg);
    s->err_until = now_s() + ERROR_HOLD_S;
    s->st.write_errors++;
    pthread_mutex_unlock(&s->mu);
}

/* Ends appending to the current segment; sync: make what it holds durable first. */
static int seal_current(struct spool *s, bool sync)
{
    if (s->wseg == NULL)
        return 0;
    int rc = 0;
    if (sync && s->o.fsync != SPOOL_FSYNC_NEVER && fdatasync(s->wfd) != 0)
        rc = -1;
    int e = errno;
    close(s->wfd);
    s->wfd = -1;
    pthread_mutex_lock(&s->mu);
    s->wseg->sealed = true;
    pthread_mutex_unlock(&s->mu);
    s->wseg = NULL;
    errno = e;
    return rc;
}

static int open_segment(struct spool *s, struct append *a)
{
    char name[SEG_NAME_LEN + 1];
    uint64_t seq = s->next_seq++;
    seg_name(seq, name);
    int fd = openat(s->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        write_failed(s, a, "creating", name, errno);
        return -1;
    }
    struct seg *g = calloc(1, sizeof(*g));
    /* The directory entry is durable only once the directory is synced. */
    if (g == NULL || write_all(fd, (const uint8_t *)SPOOL_MAGIC, SPOOL_MAGIC_LEN, 0) != 0 ||
        (s->o.fsync != SPOOL_FSYNC_NEVER && (fdatasync(fd) != 0 || fsync(s->dir_fd) != 0))) {
        int e = g == NULL ? ENOMEM : errno;
        close(fd);
        unlinkat(s->dir_fd, name, 0);
        free(g);
        write_failed(s, a, "creating", name, e);
        return -1;
    }
    g->seq = seq;
    g->size = SPOOL_MAGIC_LEN;
    pthread_mutex_lock(&s->mu);
    if (s->segs_tail)
        s->segs_tail->next = g;
    else
        s->segs = g;
    s->segs_tail = g;
    s->bytes += SPOOL_MAGIC_LEN;
    pthread_mutex_unlock(&s->mu);
    s->wseg = g;
    s->wfd = fd;
    return 0;
}

/* Fails the appends of [from, upto) that were written to segment seq but could not be made
 * durable. */
static void fail_unsynced(struct spool *s, uint64_t seq, struct append *from, struct append *upto,
                          int e)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(seq, name);
    for (struct append *a = from; a != upto; a = a->next)
        if (a->status == 0)
            write_failed(s, a, "syncing", name, e);
}

static void write_one(struct spool *s, struct append *a, struct append **unsynced)
{
    if (s->wseg != NULL && s->wseg->size > SPOOL_MAGIC_LEN &&
        s->wseg->size + a->len > s->o.segment_size) {
        uint64_t seq = s->wseg->seq;
        if (seal_current(s, true) != 0)
            fail_unsynced(s, seq, *unsynced, a, errno);
        *unsynced = a;
    }
    if (s->wseg == NULL && open_segment(s, a) != 0)
        return;
    uint64_t off = s->wseg->size;
    if (write_all(s->wfd, a->data, a->len, off) != 0) {
        char name[SEG_NAME_LEN + 1];
        int e = errno;
        uint64_t seq = s->wseg->seq;
        seg_name(seq, name);
        /* A record cut short would end what is read of the segment: cut it off, and append
         * no more to a segment that may still hold it. */
        if (ftruncate(s->wfd, (off_t)off) != 0)
            kt_warn("spool: %s/%s: cannot cut a failed write off: %s", s->o.dir, name,
                    strerror(errno));
        if (seal_current(s, true) != 0)
            fail_unsynced(s, seq, *unsynced, a, errno);
        *unsynced = a->next;
        write_failed(s, a, "writing", name, e);
        return;
    }
    if (s->o.fsync == SPOOL_FSYNC_ALWAYS && fdatasync(s->wfd) != 0) {
        char name[SEG_NAME_LEN + 1];
        int e = errno;
        seg_name(s->wseg->seq, name);
        write_failed(s, a, "syncing", name, e);
    }
    pthread_mutex_lock(&s->mu);
    s->wseg->size += a->len;
    s->bytes += a->len;
    if (a->status == 0)
        s->st.appended++;
    pthread_mutex_unlock(&s->mu);
}

/* Writes a batch of appends; with fsync = batch, one fdatasync covers them all (a group
 * commit: what queued up meanwhile goes into the next batch). */
static void write_batch(struct spool *s, struct append *batch)
{
    struct append *unsynced = batch;
    for (struct append *a = batch; a != NULL; a = a->next)
        write_one(s, a, &unsynced);
    if (s->o.fsync == SPOOL_FSYNC_BATCH && s->wseg != NULL && unsynced != NULL &&
        fdatasync(s->wfd) != 0)
        fail_unsynced(s, s->wseg->seq, unsynced, NULL, errno);
}

/* ---- the I/O thread: reading and deleting ---- */

static void close_reader(struct spool *s)
{
    if (s->rfd >= 0)
        close(s->rfd);
    s->rfd = -1;
    s->rseg = NULL;
    s->roff = 0;
}

/* Ends what is read of segment g at the reader's offset (mu not held). */
static void skip_rest(struct spool *s, struct seg *g, uint64_t limit, const char *why)
{
    char name[SEG_NAME_LEN + 1];
    seg_name(g->seq, name);
    kt_warn("spool: %s/%s: %s at offset %" PRIu64 "; skipping the %" PRIu64
            " bytes from there to the end of the segment",
            s->o.dir, name, why, s->roff, limit - s->roff);
    /* Appending more behind a bad record would hide it from the reader. */
    if (g == s->wseg)
        seal_current(s, false);
    pthread_mutex_lock(&s->mu);
    g->read_done = true;
    s->st.corrupt++;
    pthread_mutex_unlock(&s->mu);
    close_reader(s);
}

/* Reads the record at the reader's offset, below limit. NULL with *out set, or why not. */
static const char *read_record(struct spool *s, uint64_t limit, struct rec **out, char *why,
                               size_t why_n)
{
    uint8_t hdr[SPOOL_RECORD_HDR];
    uint64_t total = 0;
    struct kt_err e = {0};
    if (limit - s->roff < SPOOL_RECORD_HDR ||
        read_full(s->rfd, hdr, SPOOL_RECORD_HDR, s->roff) != SPOOL_RECORD_HDR)
        return "a record header cut short (torn write)";
    if (spool_record_total(hdr, &total, &e) != 0) {
        snprintf(why, why_n, "%s", e.msg);
        return why;
    }
    if (total > limit - s->roff)
        return "a record cut short (torn write)";
    struct rec *r = malloc(sizeof(*r) + total);
    if (r == NULL)
        return "out of memory for a record";
    if (read_full(s->rfd, r->data, total, s->roff) != (ssize_t)total) {
        free(r);
        return "a record cut short (read failed)";
    }
    size_t used;
    if (spool_record_parse(r->data, total, &r->pub.m, &used, &e) != 0) {
        free(r);
        snprintf(why, why_n, "%s", e.msg);
        return why;
    }
    r->size = total;
    *out = r;
    return NULL;
}

/* Reads the next record into the ready list; mu held on entry and exit. False when there
 * is nothing to read now. */
static bool read_one(struct spool *s)
{
    struct seg *g = s->rseg;
    if (g == NULL)
        for (g = s->segs; g != NULL && g->read_done; g = g->next) {
        }
    if (g == NULL)
        return false;
    uint64_t limit = g->size;
    bool sealed = g->sealed;
    if (s->rseg == NULL) {
        char name[SEG_NAME_LEN + 1];
        seg_name(g->seq, name);
        pthread_mutex_unlock(&s->mu);
        s->rfd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC);
        s->rseg = g;
        s->roff = 0;
        if (s->rfd < 0) {
            char why[128];
            snprintf(why, sizeof(why), "cannot open: %s", strerror(errno));
            skip_rest(s, g, limit, why);
            pthread_mutex_lock(&s->mu);
            return true;
        }
        uint8_t magic[SPOOL_MAGIC_LEN];
        if (read_full(s->rfd, magic, SPOOL_MAGIC_LEN, 0) != SPOOL_MAGIC_LEN ||
            memcmp(magic, SPOOL_MAGIC, SPOOL_MAGIC_LEN) != 0) {
            skip_rest(s, g, limit, "no spool segment header");
            pthread_mutex_lock(&s->mu);
            return true;
        }
        s->roff = SPOOL_MAGIC_LEN;
        pthread_mutex_lock(&s->mu);
    }
    if (s->roff >= limit) {
        if (!sealed)
            return false;
        g->read_done = true;
        pthread_mutex_unlock(&s->mu);
        close_reader(s);
        pthread_mutex_lock(&s->mu);
        return true;
    }
    pthread_mutex_unlock(&s->mu);

    char err_buf[KT_ERR_MSG_MAX];
    struct rec *r = NULL;
    const char *why = read_record(s, limit, &r, err_buf, sizeof(err_buf));
    if (why != NULL) {
        skip_rest(s, g, limit, why);
        pthread_mutex_lock(&s->mu);
        return true;
    }
    r->seg = g;
    r->next = NULL;
    r->tprev = r->tnext = NULL;
    s->roff += r->size;
    pthread_mutex_lock(&s->mu);
    g->handed++;
    if (s->ready_tail)
        s->ready_tail->next = r;
    else
        s->ready_head = r;
    s->ready_tail = r;
    s->ready_n++;
    s->ready_bytes += r->size;
    ev_async_send(s->loop, &s->wake);
    return true;
}

/* Deletes one segment whose every record Kafka acknowledged; mu held on entry and exit.
 * The segment being appended to is sealed first once the reader caught up with it and
 * nothing more is queued for it. */
static bool reap_one(struct spool *s)
{
    struct seg *prev = NULL, *g = s->segs;
    for (; g != NULL; prev = g, g = g->next) {
        if (g->handed != g->acked)
            continue;
        if (g->sealed && g->read_done)
            break;
        if (!g->sealed && g == s->wseg && g == s->rseg && s->roff == g->size && s->q_head == NULL)
            break;
    }
    if (g == NULL)
        return false;
    if (prev)
        prev->next = g->next;
    else
        s->segs = g->next;
    if (s->segs_tail == g)
        s->segs_tail = prev;
    pthread_mutex_unlock(&s->mu);
    if (g == s->wseg)
        seal_current(s, false);
    if (g == s->rseg)
        close_reader(s);
    char name[SEG_NAME_LEN + 1];
    seg_name(g->seq, name);
    if (unlinkat(s->dir_fd, name, 0) != 0 && errno != ENOENT)
        kt_warn("spool: cannot delete %s/%s: %s", s->o.dir, name, strerror(errno));
    pthread_mutex_lock(&s->mu);
    s->bytes -= g->size;
    free(g);
    return true;
}

static void *io_main(void *arg)
{
    struct spool *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (s->q_head != NULL) {
            struct append *batch = s->q_head;
            s->q_head = s->q_tail = NULL;
            for (struct append *a = batch; a != NULL; a = a->next)
                s->writing++;
            pthread_mutex_unlock(&s->mu);
            write_batch(s, batch);
            pthread_mutex_lock(&s->mu);
            while (batch != NULL) {
                struct append *a = batch;
                batch = a->next;
                a->next = NULL;
                s->queued_bytes -= a->len;
                s->writing--;
                if (s->done_tail)
                    s->done_tail->next = a;
                else
                    s->done_head = a;
                s->done_tail = a;
            }
            ev_async_send(s->loop, &s->wake);
            continue;
        }
        if (reap_one(s))
            continue;
        if (s->draining && !s->stop && s->ready_n < READ_AHEAD_RECORDS &&
            (s->ready_n == 0 || s->ready_bytes < READ_AHEAD_BYTES) && read_one(s))
            continue;
        if (s->stop)
            break;
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    if (seal_current(s, true) != 0)
        kt_warn("spool: syncing the last segment in %s: %s", s->o.dir, strerror(errno));
    close_reader(s);
    return NULL;
}

/* ---- the loop side ---- */

static void report(struct spool *s)
{
    pthread_mutex_lock(&s->mu);
    struct append *done = s->done_head;
    s->done_head = s->done_tail = NULL;
    pthread_mutex_unlock(&s->mu);
    while (done != NULL) {
        struct append *a = done;
        done = a->next;
        s->appended(s->ctx, a->tag, a->status, a->msg);
        free(a);
    }
}

static void wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    (void)loop;
    (void)revents;
    struct spool *s = w->data;
    report(s);
    pthread_mutex_lock(&s->mu);
    bool ready = s->ready_head != NULL || s->retry_head != NULL;
    pthread_mutex_unlock(&s->mu);
    if (ready)
        s->ready(s->ctx);
}

static int cmp_seg(const void *a, const void *b)
{
    const struct seg *x = *(struct seg *const *)a, *y = *(struct seg *const *)b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static bool parse_seg_name(const char *n, uint64_t *seq)
{
    if (strlen(n) != SEG_NAME_LEN || strcmp(n + 16, ".spool") != 0)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = n[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *seq = v;
    return true;
}

/* Lists the segments a previous run left, oldest first; they are sealed. */
static int scan(struct spool *s, struct kt_err *err)
{
    int fd = dup(s->dir_fd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (d == NULL) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        return kt_err_set(err, KT_EIO, "[spool] dir: cannot list %s: %s", s->o.dir, strerror(e));
    }
    struct seg **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t seq;
        struct stat st;
        if (!parse_seg_name(de->d_name, &seq))
            continue;
        if (fstatat(s->dir_fd, de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode)) {
            rc = kt_err_set(err, KT_EIO, "[spool] dir: %s/%s: not a readable file", s->o.dir,
                            de->d_name);
            goto out;
        }
        struct seg *g = calloc(1, sizeof(*g));
        if (g == NULL || KT_GROW(v, n + 1, cap) != 0) {
            free(g);
            rc = kt_err_set(err, KT_ENOMEM, "spool: out of memory listing %s", s->o.dir);
            goto out;
        }
        g->seq = seq;
        g->size = (uint64_t)st.st_size;
        g->sealed = true;
        v[n++] = g;
    }
    if (n > 0)
        qsort(v, n, sizeof(v[0]), cmp_seg);
    for (size_t i = 0; i < n; i++) {
        if (s->segs_tail)
            s->segs_tail->next = v[i];
        else
            s->segs = v[i];
        s->segs_tail = v[i];
        s->bytes += v[i]->size;
        s->next_seq = v[i]->seq + 1;
    }
    if (n > 0)
        kt_info("spool: %zu segments (%" PRIu64 " bytes) left in %s by an earlier run; they are "
                "sent to Kafka once it takes data",
                n, s->bytes, s->o.dir);
    n = 0;
out:
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
    closedir(d);
    return rc;
}

int spool_new(const struct spool_opts *opts, struct ev_loop *loop, spool_appended_fn appended,
              spool_ready_fn ready, void *ctx, struct spool **out, struct kt_err *err)
{
    if (opts->segment_size < SPOOL_MAGIC_LEN + 1024 || opts->max_size < opts->segment_size)
        return kt_err_set(err, KT_EINVAL,
                          "[spool] max_size: %" PRIu64 " is below segment_size %" PRIu64
                          " (or segment_size below 2KiB)",
                          opts->max_size, opts->segment_size);
    struct spool *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return kt_err_set(err, KT_ENOMEM, "spool: out of memory");
    int rc;
    s->o = *opts;
    s->loop = loop;
    s->appended = appended;
    s->ready = ready;
    s->ctx = ctx;
    s->dir_fd = s->lock_fd = s->wfd = s->rfd = -1;
    s->next_seq = 1;
    s->write_rl = (struct kt_log_limit)KT_LOG_LIMIT(10.0, 1);
    if (mkdir(opts->dir, 0755) != 0 && errno != EEXIST) {
        rc = kt_err_set(err, KT_EIO, "[spool] dir: cannot create %s: %s", opts->dir,
                        strerror(errno));
        goto fail;
    }
    s->dir_fd = open(opts->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir_fd < 0) {
        rc = kt_err_set(err, KT_EIO, "[spool] dir: cannot open %s: %s", opts->dir, strerror(errno));
        goto fail;
    }
    /* Creating the lock file also proves the directory writable. */
    s->lock_fd = openat(s->dir_fd, LOCK_NAME, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        rc = kt_err_set(err, KT_EIO, "[spool] dir: %s is not writable: cannot create %s in it: %s",
                        opts->dir, LOCK_NAME, strerror(errno));
        goto fail;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = kt_err_set(err, KT_EIO, "[spool] dir: %s is in use by another process (%s)", opts->dir,
                        strerror(errno));
        goto fail;
    }
    if ((rc = scan(s, err)) != 0)
        goto fail;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->mu_on = true;
    ev_async_init(&s->wake, wake_cb);
    s->wake.data = s;
    ev_async_start(loop, &s->wake);
    /* Signals are the loop's: the I/O thread must not be picked to run their handlers. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&s->thread, NULL, io_main, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        rc = kt_err_set(err, KT_EIO, "spool: cannot start its I/O thread: %s", strerror(e));
        goto fail;
    }
    s->thread_on = true;
    *out = s;
    return 0;
fail:
    spool_free(s);
    return rc;
}

const char *spool_refusing(struct spool *s)
{
    const char *why = NULL;
    pthread_mutex_lock(&s->mu);
    if (now_s() < s->err_until) {
        snprintf(s->refusal, sizeof(s->refusal), "%s", s->err_msg);
        why = s->refusal;
    } else if (s->bytes + s->queued_bytes + SPOOL_MAGIC_LEN + SPOOL_RECORD_HDR >= s->o.max_size) {
        snprintf(s->refusal, sizeof(s->refusal),
                 "spool: full: [spool] max_size %" PRIu64 " bytes reached in %s", s->o.max_size,
                 s->o.dir);
        why = s->refusal;
    }
    pthread_mutex_unlock(&s->mu);
    return why;
}

int spool_append(struct spool *s, const struct spool_msg *m, void *tag, struct kt_err *err)
{
    const char *why = spool_refusing(s);
    if (why != NULL)
        return kt_err_set(err, KT_EAGAIN, "%s", why);
    size_t n = spool_record_size(m);
    pthread_mutex_lock(&s->mu);
    /* A new segment may have to be started for it. */
    bool fits = s->bytes + s->queued_bytes + SPOOL_MAGIC_LEN + n <= s->o.max_size;
    pthread_mutex_unlock(&s->mu);
    if (!fits)
        return kt_err_set(err, KT_EAGAIN,
                          "spool: full: [spool] max_size %" PRIu64
                          " bytes reached in %s (a message of %zu bytes does not fit)",
                          s->o.max_size, s->o.dir, n);
    struct append *a = malloc(sizeof(*a) + n);
    if (a == NULL)
        return kt_err_set(err, KT_ENOMEM, "spool: out of memory for a message of %zu bytes", n);
    int rc = spool_record_encode(m, a->data, err);
    if (rc != 0) {
        free(a);
        return rc;
    }
    a->next = NULL;
    a->tag = tag;
    a->status = 0;
    a->len = n;
    a->msg[0] = '\0';
    pthread_mutex_lock(&s->mu);
    if (s->q_tail)
        s->q_tail->next = a;
    else
        s->q_head = a;
    s->q_tail = a;
    s->queued_bytes += n;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

void spool_drain(struct spool *s, bool on)
{
    pthread_mutex_lock(&s->mu);
    if (s->draining != on) {
        s->draining = on;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

struct spool_rec *spool_take(struct spool *s)
{
    pthread_mutex_lock(&s->mu);
    struct rec *r = s->retry_head;
    if (r != NULL) {
        s->retry_head = r->next;
        if (s->retry_head == NULL)
            s->retry_tail = NULL;
    } else if ((r = s->ready_head) != NULL) {
        s->ready_head = r->next;
        if (s->ready_head == NULL)
            s->ready_tail = NULL;
        s->ready_n--;
        s->ready_bytes -= r->size;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    if (r == NULL)
        return NULL;
    r->next = NULL;
    r->tprev = NULL;
    r->tnext = s->taken;
    if (s->taken)
        s->taken->tprev = r;
    s->taken = r;
    return &r->pub;
}

void spool_done(struct spool *s, struct spool_rec *pr, bool delivered)
{
    struct rec *r = (struct rec *)pr;
    if (r->tprev)
        r->tprev->tnext = r->tnext;
    else
        s->taken = r->tnext;
    if (r->tnext)
        r->tnext->tprev = r->tprev;
    pthread_mutex_lock(&s->mu);
    if (delivered) {
        r->seg->acked++;
        s->st.delivered++;
        pthread_cond_signal(&s->cv);
    } else {
        r->next = NULL;
        if (s->retry_tail)
            s->retry_tail->next = r;
        else
            s->retry_head = r;
        s->retry_tail = r;
    }
    pthread_mutex_unlock(&s->mu);
    if (delivered)
        free(r);
}

bool spool_idle(struct spool *s)
{
    pthread_mutex_lock(&s->mu);
    bool idle = s->q_head == NULL && s->writing == 0 && s->done_head == NULL;
    pthread_mutex_unlock(&s->mu);
    return idle;
}

void spool_get_stats(struct spool *s, struct spool_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->bytes = s->bytes;
    out->segments = 0;
    for (struct seg *g = s->segs; g != NULL; g = g->next)
        out->segments++;
    pthread_mutex_unlock(&s->mu);
}

static void free_recs(struct rec *r)
{
    while (r != NULL) {
        struct rec *next = r->next;
        free(r);
        r = next;
    }
}

void spool_free(struct spool *s)
{
    if (s == NULL)
        return;
    if (s->thread_on) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        report(s);
    }
    if (s->mu_on) {
        ev_async_stop(s->loop, &s->wake);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
    }
    free_recs(s->ready_head);
    free_recs(s->retry_head);
    while (s->taken != NULL) {
        struct rec *r = s->taken;
        s->taken = r->tnext;
        free(r);
    }
    while (s->segs != NULL) {
        struct seg *g = s->segs;
        s->segs = g->next;
        free(g);
    }
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    if (s->dir_fd >= 0)
        close(s->dir_fd);
    free(s);
}
