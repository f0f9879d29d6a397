/* kotel-devbroker: a throwaway Kafka broker for tests and the demo.
 *
 * Wraps librdkafka's mock cluster (rdkafka_mock.h): N brokers listening on random loopback
 * ports, topics kept in memory. The first line on stdout is the bootstrap list
 * ("127.0.0.1:PORT,127.0.0.1:PORT"); tests read it as the readiness signal. After that,
 * stdin takes one control command per line and each is answered by one stdout line:
 *
 *   down     every broker drops its connections and refuses new ones   -> "ok down"
 *   up       brokers accept connections again                          -> "ok up"
 *   rtt MS   add MS milliseconds of round-trip time to every broker    -> "ok rtt MS"
 *
 * The answer comes once the change is in effect. The first command after start can take
 * about a second (the mock's I/O thread is in a 1 s poll until its first control op); later
 * ones are immediate. An unknown or malformed command is reported on stderr and gets no
 * stdout line. A known command that the mock cluster rejects is logged on stderr and
 * answered with "error CMD" on stdout, so a test waiting for the answer fails fast instead
 * of timing out.
 *
 * Limits of librdkafka's mock cluster (checked against 2.0.2):
 *   - Listener ports are always chosen by the kernel; there is no public way to ask for a
 *     fixed port.
 *   - Topics created on demand (metadata or produce for an unknown topic) always get 4
 *     partitions: the cluster's default is not settable through the public API. Topics
 *     that need --partitions P must be named in --topics.
 *   - Each partition keeps at most 5 MB / 100000 message sets; older ones are dropped
 *     silently (measured: after 8 MB into one partition, the log starts near offset 3000).
 *     Start a fresh broker per test rather than piling data into one.
 *   - "down" closes the listeners: clients get "connection refused" until "up".
 *
 * stdin EOF does not stop the broker; SIGTERM or SIGINT does (exit 0). */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kt_err.h"
#include "kt_log.h"

#define DB_MAX_BROKERS 64
#define DB_MAX_PARTITIONS 10000
#define DB_MAX_TOPICS 64
#define DB_LINE_MAX 1024

struct db_opts {
    int brokers;
    int partitions;
    char *topics[DB_MAX_TOPICS];
    int ntopics;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kotel-devbroker [--brokers N] [--partitions P] [--topics a,b,c]\n"
            "\n"
            "Runs an in-memory Kafka cluster (librdkafka mock) on random loopback ports.\n"
            "Prints the bootstrap list as the first stdout line, then reads control lines\n"
            "on stdin: 'down', 'up', 'rtt MS'; each is answered on stdout ('ok down').\n"
            "Exits 0 on SIGTERM or SIGINT; stdin EOF does not stop it.\n"
            "\n"
            "  --brokers N      number of brokers, 1..%d (default 1)\n"
            "  --partitions P   partitions of each --topics topic, 1..%d (default 4)\n"
            "  --topics LIST    comma-separated topics to create up front, replication\n"
            "                   factor min(3, N). Topics created on demand by clients\n"
            "                   always get 4 partitions (the mock's fixed default).\n"
            "  --help           this text\n",
            DB_MAX_BROKERS, DB_MAX_PARTITIONS);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    if (s == NULL || *s == '\0')
        return KT_EINVAL;
    errno = 0;
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return KT_EINVAL;
    *out = (int)v;
    return KT_OK;
}

static int add_topics(struct db_opts *o, const char *list, struct kt_err *err)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0)
            return kt_err_set(err, KT_EINVAL, "--topics: empty topic name in '%s'", list);
        if (n > 249)
            return kt_err_set(err, KT_EINVAL, "--topics: topic name longer than 249 bytes");
        for (size_t i = 0; i < n; i++) {
            char c = p[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-'))
                return kt_err_set(err, KT_EINVAL, "--topics: invalid character '%c' in '%.*s'", c,
                                  (int)n, p);
        }
        int dup = 0;
        for (int i = 0; i < o->ntopics; i++)
            if (strlen(o->topics[i]) == n && memcmp(o->topics[i], p, n) == 0)
                dup = 1;
        if (!dup) {
            if (o->ntopics == DB_MAX_TOPICS)
                return kt_err_set(err, KT_ETOOBIG, "--topics: more than %d topics", DB_MAX_TOPICS);
            char *t = strndup(p, n);
            if (t == NULL)
                return kt_err_set(err, KT_ENOMEM, "out of memory");
            o->topics[o->ntopics++] = t;
        }
        if (comma == NULL)
            return KT_OK;
        p = comma + 1;
    }
}

static int parse_args(int argc, char **argv, struct db_opts *o, struct kt_err *err)
{
    o->brokers = 1;
    o->partitions = 4;
    o->ntopics = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        const char *name = a;
        size_t namelen = strlen(a);
        const char *eq = strchr(a, '=');
        if (strncmp(a, "--", 2) == 0 && eq != NULL) {
            namelen = (size_t)(eq - a);
            val = eq + 1;
        }
#define DB_IS(opt) (namelen == strlen(opt) && strncmp(name, opt, namelen) == 0)
        if (DB_IS("--help") || DB_IS("-h")) {
            usage(stdout);
            exit(0);
        }
        int known = DB_IS("--brokers") || DB_IS("--partitions") || DB_IS("--topics");
        if (!known)
            return kt_err_set(err, KT_EINVAL, "unknown option '%s'", a);
        if (val == NULL) {
            if (i + 1 >= argc)
                return kt_err_set(err, KT_EINVAL, "option '%s' needs a value", a);
            val = argv[++i];
        }
        if (DB_IS("--brokers")) {
            if (parse_int(val, 1, DB_MAX_BROKERS, &o->brokers) != KT_OK)
                return kt_err_set(err, KT_EINVAL, "--brokers: '%s' is not an integer 1..%d", val,
                                  DB_MAX_BROKERS);
        } else if (DB_IS("--partitions")) {
            if (parse_int(val, 1, DB_MAX_PARTITIONS, &o->partitions) != KT_OK)
                return kt_err_set(err, KT_EINVAL, "--partitions: '%s' is not an integer 1..%d", val,
                                  DB_MAX_PARTITIONS);
        } else {
            int rc = add_topics(o, val, err);
            if (rc != KT_OK)
                return rc;
        }
#undef DB_IS
    }
    return KT_OK;
}

/* librdkafka logs from its own threads; kt_log writes each record with one fprintf. */
static void rk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    /* The handle that owns the mock cluster never connects anywhere by design. */
    if (strstr(buf, "bootstrap.servers") != NULL)
        return;
    enum kt_log_level l = level <= LOG_ERR       ? KT_LOG_ERROR
                          : level == LOG_WARNING ? KT_LOG_WARN
                          : level <= LOG_INFO    ? KT_LOG_INFO
                                                 : KT_LOG_DEBUG;
    kt_log(l, "devbroker: rdkafka %s: %s", fac, buf);
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

static void set_all(rd_kafka_mock_cluster_t *mc, int nbrokers, int up, const char *cmd)
{
    int failed = 0;
    for (int id = 1; id <= nbrokers; id++) {
        rd_kafka_resp_err_t e =
            up ? rd_kafka_mock_broker_set_up(mc, id) : rd_kafka_mock_broker_set_down(mc, id);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            kt_error("devbroker: %s: broker %d: %s", cmd, id, rd_kafka_err2str(e));
            failed = 1;
        }
    }
    if (failed)
        reply("error %s", cmd);
    else
        reply("ok %s", cmd);
}

static void set_rtt(rd_kafka_mock_cluster_t *mc, int nbrokers, int ms)
{
    int failed = 0;
    for (int id = 1; id <= nbrokers; id++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_rtt(mc, id, ms);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            kt_error("devbroker: rtt: broker %d: %s", id, rd_kafka_err2str(e));
            failed = 1;
        }
    }
    if (failed)
        reply("error rtt");
    else
        reply("ok rtt %d", ms);
}

static void handle_line(rd_kafka_mock_cluster_t *mc, int nbrokers, char *line)
{
    /* Trim surrounding whitespace (including a CR from CRLF input). */
    char *s = line;
    while (*s == ' ' || *s == '\t' || *s == '\r')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
        s[--n] = '\0';
    if (n == 0)
        return;

    if (strcmp(s, "down") == 0) {
        set_all(mc, nbrokers, 0, "down");
        kt_info("devbroker: brokers down");
        return;
    }
    if (strcmp(s, "up") == 0) {
        set_all(mc, nbrokers, 1, "up");
        kt_info("devbroker: brokers up");
        return;
    }
    if (strncmp(s, "rtt", 3) == 0 && (s[3] == ' ' || s[3] == '\t')) {
        const char *arg = s + 4;
        while (*arg == ' ' || *arg == '\t')
            arg++;
        int ms;
        if (parse_int(arg, 0, 3600 * 1000, &ms) != KT_OK) {
            fprintf(stderr, "error: rtt: '%s' is not a number of milliseconds 0..3600000\n", arg);
            fflush(stderr);
            return;
        }
        set_rtt(mc, nbrokers, ms);
        kt_info("devbroker: rtt %d ms", ms);
        return;
    }
    fprintf(stderr, "error: unknown command '%s'\n", s);
    fflush(stderr);
}

/* Appends what read() returned to the line buffer and runs every complete line. An over-long
 * line is reported and skipped up to its newline. */
struct linebuf {
    char buf[DB_LINE_MAX];
    size_t len;
    int skipping;
};

static void feed(struct linebuf *lb, const char *data, size_t n, rd_kafka_mock_cluster_t *mc,
                 int nbrokers)
{
    for (size_t i = 0; i < n; i++) {
        char c = data[i];
        if (c == '\n') {
            if (!lb->skipping) {
                lb->buf[lb->len] = '\0';
                handle_line(mc, nbrokers, lb->buf);
            }
            lb->len = 0;
            lb->skipping = 0;
            continue;
        }
        if (lb->skipping)
            continue;
        if (lb->len + 1 >= sizeof(lb->buf)) {
            fprintf(stderr, "error: command line longer than %d bytes ignored\n", DB_LINE_MAX - 1);
            fflush(stderr);
            lb->skipping = 1;
            lb->len = 0;
            continue;
        }
        lb->buf[lb->len++] = c;
    }
}

static int run(rd_kafka_mock_cluster_t *mc, int nbrokers, int sigfd)
{
    static struct linebuf lb;
    struct pollfd fds[2] = {
        {.fd = sigfd, .events = POLLIN},
        {.fd = STDIN_FILENO, .events = POLLIN},
    };
    int nfds = 2;
    for (;;) {
        int r = poll(fds, (nfds_t)nfds, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            kt_error("devbroker: poll: %s", strerror(errno));
            return KT_EIO;
        }
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            ssize_t k = read(sigfd, &si, sizeof(si));
            if (k == (ssize_t)sizeof(si)) {
                kt_info("devbroker: signal %u, stopping", si.ssi_signo);
                return KT_OK;
            }
        }
        if (nfds == 2 && fds[1].revents) {
            char data[4096];
            ssize_t k = read(STDIN_FILENO, data, sizeof(data));
            if (k > 0) {
                feed(&lb, data, (size_t)k, mc, nbrokers);
            } else if (k == 0 || (errno != EINTR && errno != EAGAIN)) {
                /* EOF or a broken stdin: keep serving, stop listening for commands. */
                if (lb.len > 0 && !lb.skipping) {
                    lb.buf[lb.len] = '\0';
                    handle_line(mc, nbrokers, lb.buf);
                }
                lb.len = 0;
                nfds = 1;
            }
        }
    }
}

int main(int argc, char **argv)
{
    struct db_opts o;
    struct kt_err err = {0};
    if (parse_args(argc, argv, &o, &err) != KT_OK) {
        fprintf(stderr, "kotel-devbroker: %s\n", err.msg);
        usage(stderr);
        return 2;
    }

    /* Block the stop signals before librdkafka starts its threads, so they inherit the mask
     * and the signals are only ever seen through the signalfd. */
    /* A shell starts background jobs with SIGINT ignored, and an ignored signal never
     * reaches a signalfd: restore the default disposition first (it cannot fire while
     * blocked). */
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) {
        kt_error("devbroker: sigprocmask: %s", strerror(errno));
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    int sigfd = signalfd(-1, &mask, SFD_CLOEXEC);
    if (sigfd < 0) {
        kt_error("devbroker: signalfd: %s", strerror(errno));
        return 1;
    }

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, rk_log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        kt_error("devbroker: rd_kafka_new: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, o.brokers);
    if (mc == NULL) {
        kt_error("devbroker: could not create a mock cluster of %d brokers", o.brokers);
        rd_kafka_destroy(rk);
        return 1;
    }

    int rf = o.brokers < 3 ? o.brokers : 3;
    int rc = 0;
    for (int i = 0; i < o.ntopics; i++) {
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mc, o.topics[i], o.partitions, rf);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
            kt_error("devbroker: creating topic '%s': %s", o.topics[i], rd_kafka_err2str(e));
            rc = 1;
        }
    }

    if (rc == 0) {
        reply("%s", rd_kafka_mock_cluster_bootstraps(mc));
        kt_info("devbroker: %d broker(s) at %s; %d topic(s) with %d partition(s), "
                "replication factor %d",
                o.brokers, rd_kafka_mock_cluster_bootstraps(mc), o.ntopics, o.partitions, rf);
        if (run(mc, o.brokers, sigfd) != KT_OK)
            rc = 1;
    }

    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    close(sigfd);
    for (int i = 0; i < o.ntopics; i++)
        free(o.topics[i]);
    return rc;
}
