#include "kt_kafka_probe.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kt_log.h"

/* rd_kafka_metadata waits for a usable broker, and librdkafka reports a SASL or TLS failure
 * through error_cb meanwhile, so metadata is asked for in slices with the errors served in
 * between: a failure then ends the check at once instead of at connect_timeout. A slice
 * grows from the first to the last value, so that a slow answer is not asked for again and
 * again. */
#define SLICE_FIRST_MS 250
#define SLICE_MAX_MS 1000
/* Brokers whose ApiVersions answer is kept; more only matter for one cluster in a hundred. */
#define MAX_BROKERS 16
#define BROKER_NAME_MAX 160
/* librdkafka before 2.6.1 appends the client nonce twice in the SCRAM client-final message
 * (librdkafka PR #4895); Kafka 4.0 and newer brokers check it and refuse the login. */
#define SCRAM_FIXED_RDKAFKA 0x020601ff
/* librdkafka's explanation of an error may be long; this much of it keeps the message, the
 * hint and the broker within one kt_err. */
#define WHAT_MAX 220

/* ---- releases ---- */

bool kt_kafka_release_met(const int16_t *max, size_t idx)
{
    for (size_t i = 0; i < KT_KAFKA_N_MARKERS; i++)
        if (max[i] < kt_kafka_releases[idx].max[i])
            return false;
    return true;
}

static bool same_markers(size_t a, size_t b)
{
    return memcmp(kt_kafka_releases[a].max, kt_kafka_releases[b].max,
                  sizeof(kt_kafka_releases[a].max)) == 0;
}

void kt_kafka_release_infer(const int16_t *max, struct kt_kafka_release_match *m)
{
    m->kind = KT_KAFKA_RELEASE_UNKNOWN;
    m->first = m->last = 0;
    if (max == NULL)
        return;
    /* Maxima only grow from one release to the next, so the newest release met is found
     * from the top. */
    size_t n = kt_kafka_n_releases;
    size_t i = n;
    while (i > 0 && !kt_kafka_release_met(max, i - 1))
        i--;
    if (i == 0) {
        m->kind = KT_KAFKA_RELEASE_OLDER;
        return;
    }
    size_t last = i - 1;
    if (last == n - 1 &&
        memcmp(max, kt_kafka_releases[last].max, sizeof(kt_kafka_releases[last].max)) != 0) {
        m->kind = KT_KAFKA_RELEASE_NEWER;
        m->first = m->last = last;
        return;
    }
    size_t first = last;
    while (first > 0 && same_markers(first - 1, last))
        first--;
    m->kind = KT_KAFKA_RELEASE_KNOWN;
    m->first = first;
    m->last = last;
}

void kt_kafka_release_name(const struct kt_kafka_release_match *m, char *buf, size_t cap)
{
    const struct kt_kafka_release *f = &kt_kafka_releases[m->first];
    const struct kt_kafka_release *l = &kt_kafka_releases[m->last];
    switch (m->kind) {
    case KT_KAFKA_RELEASE_UNKNOWN: snprintf(buf, cap, "unknown"); return;
    case KT_KAFKA_RELEASE_OLDER:
        snprintf(buf, cap, "older than %d.%d", kt_kafka_releases[0].major,
                 kt_kafka_releases[0].minor);
        return;
    case KT_KAFKA_RELEASE_NEWER: snprintf(buf, cap, "newer than %d.%d", l->major, l->minor); return;
    case KT_KAFKA_RELEASE_KNOWN:
        if (m->first == m->last)
            snprintf(buf, cap, "%d.%d", l->major, l->minor);
        else
            snprintf(buf, cap, "%d.%d to %d.%d", f->major, f->minor, l->major, l->minor);
        return;
    }
}

long kt_kafka_release_at_or_below(const char *version)
{
    unsigned v[3];
    if (version == NULL || kt_kafka_parse_version(version, v) != 0)
        return -1;
    long found = -1;
    for (size_t i = 0; i < kt_kafka_n_releases; i++) {
        const struct kt_kafka_release *r = &kt_kafka_releases[i];
        if ((unsigned)r->major < v[0] || ((unsigned)r->major == v[0] && (unsigned)r->minor <= v[1]))
            found = (long)i;
    }
    return found;
}

bool kt_kafka_protocol_version_newer(const char *version, const int16_t *max)
{
    long want = kt_kafka_release_at_or_below(version);
    if (want < 0)
        return false;
    if (!kt_kafka_release_met(max, (size_t)want))
        return true;
    struct kt_kafka_release_match m;
    kt_kafka_release_infer(max, &m);
    if (m.kind != KT_KAFKA_RELEASE_KNOWN || m.last + 1 == kt_kafka_n_releases)
        return false;
    /* The broker is older than the next table release; a version between the two (no such
     * release exists, but it says "newer than what the broker is") is newer than it. */
    unsigned v[3];
    kt_kafka_parse_version(version, v);
    const struct kt_kafka_release *r = &kt_kafka_releases[m.last];
    return v[0] > (unsigned)r->major || (v[0] == (unsigned)r->major && v[1] > (unsigned)r->minor);
}

/* An order on matches: older releases first, UNKNOWN before everything (it says nothing). */
static long release_rank(const struct kt_kafka_release_match *m)
{
    switch (m->kind) {
    case KT_KAFKA_RELEASE_UNKNOWN: return -2;
    case KT_KAFKA_RELEASE_OLDER: return -1;
    case KT_KAFKA_RELEASE_KNOWN: return (long)m->first;
    case KT_KAFKA_RELEASE_NEWER: return (long)kt_kafka_n_releases;
    }
    return -2;
}

/* ---- librdkafka's APIVERSION log lines ---- */

enum kt_kafka_apiv_line kt_kafka_apiv_parse(const char *line, char *broker, size_t cap, int *key,
                                            int *max)
{
    const char *p = line;
    /* "[thrd:NAME]: " comes first when librdkafka logs from one of its threads. */
    if (strncmp(p, "[thrd:", 6) == 0) {
        const char *e = strstr(p, "]: ");
        if (e == NULL)
            return KT_KAFKA_APIV_OTHER;
        p = e + 3;
    }
    /* Then "<broker>: ": a broker name holds "://" and ":port" but never ": ". */
    const char *sep = strstr(p, ": ");
    if (sep == NULL || sep == p)
        return KT_KAFKA_APIV_OTHER;
    const char *rest = sep + 2;
    enum kt_kafka_apiv_line kind;
    if (strcmp(rest, "Broker API support:") == 0) {
        kind = KT_KAFKA_APIV_HEADER;
    } else {
        while (*rest == ' ')
            rest++;
        if (strncmp(rest, "ApiKey ", 7) != 0)
            return KT_KAFKA_APIV_OTHER;
        /* "ApiKey <Name> (<key>) Versions <min>..<max>": the name may be "Unknown-60?", so
         * only the numbers are read. */
        const char *open = strchr(rest, '(');
        int k, lo, hi, used = 0;
        if (open == NULL || sscanf(open, "(%d) Versions %d..%d%n", &k, &lo, &hi, &used) != 3 ||
            open[used] != '\0' || k < 0 || hi < lo)
            return KT_KAFKA_APIV_OTHER;
        *key = k;
        *max = hi;
        kind = KT_KAFKA_APIV_KEY;
    }
    size_t n = (size_t)(sep - p);
    if (n >= cap)
        n = cap - 1;
    memcpy(broker, p, n);
    broker[n] = '\0';
    return kind;
}

/* ---- messages ---- */

/* librdkafka's reason without the broker in front and the "(after 12ms in state X)" and
 * "N identical error(s) suppressed" tails, which say nothing about what to fix. */
static void split_reason(const char *reason, char *broker, size_t bcap, char *what, size_t wcap)
{
    const char *sep = strstr(reason, ": ");
    const char *w = reason;
    broker[0] = '\0';
    if (sep != NULL && memchr(reason, ' ', (size_t)(sep - reason)) == NULL) {
        snprintf(broker, bcap, "%.*s", (int)(sep - reason), reason);
        w = sep + 2;
    }
    static const char *const leads[] = {
        "SASL authentication error: ", "SSL handshake failed: ", "SSL transport error: "};
    for (size_t i = 0; i < sizeof(leads) / sizeof(leads[0]); i++)
        if (strncmp(w, leads[i], strlen(leads[i])) == 0)
            w += strlen(leads[i]);
    size_t n = strlen(w);
    const char *after = strstr(w, " (after ");
    if (after != NULL)
        n = (size_t)(after - w);
    /* librdkafka's advice names its own properties; the hint kotel adds names the keys. */
    const char *advice = strstr(w, ", verify that ");
    if (advice != NULL && (size_t)(advice - w) < n)
        n = (size_t)(advice - w);
    /* OpenSSL's "../ssl/x.c:1889:func error:0A000086:SSL routines::certificate verify
     * failed" is "certificate verify failed" to a reader. */
    const char *routines = strstr(w, "SSL routines::");
    const char *code = NULL;
    for (const char *q = strstr(w, "error:"); q != NULL && q < routines;
         q = strstr(q + 1, "error:"))
        code = q;
    size_t cut = 0, resume = 0;
    if (routines != NULL && code != NULL && (size_t)(routines - w) < n) {
        const char *start = code;
        const char *tok = code;
        while (tok > w && tok[-1] == ' ')
            tok--;
        const char *prev = tok;
        while (prev > w && prev[-1] != ' ')
            prev--;
        if (memmem(prev, (size_t)(tok - prev), ".c:", 3) != NULL)
            start = prev;
        cut = (size_t)(start - w);
        resume = (size_t)(routines + strlen("SSL routines::") - w);
    }
    if (resume > 0)
        snprintf(what, wcap, "%.*s%.*s", (int)cut, w,
                 (int)(n - resume > WHAT_MAX ? WHAT_MAX : n - resume), w + resume);
    else
        snprintf(what, wcap, "%.*s", (int)(n > WHAT_MAX ? WHAT_MAX : n), w);
}

static bool has(const char *s, const char *needle)
{
    return strstr(s, needle) != NULL;
}

int kt_kafka_probe_sasl_error(const char *mechanism, const char *username, bool password_file,
                              const char *reason, const struct kt_kafka_release_match *rel,
                              int rdkafka_version, struct kt_err *err)
{
    char broker[BROKER_NAME_MAX], what[WHAT_MAX + 1];
    split_reason(reason, broker, sizeof(broker), what, sizeof(what));
    const char *check;
    if (has(what, "supported mechanisms") ||
        ((has(what, "mechanism") || has(what, "Mechanism")) &&
         (has(what, "nsupported") || has(what, "not enabled") || has(what, "not supported"))))
        check = "the listener does not offer this mechanism: check [kafka.auth.sasl] mechanism "
                "and that [kafka] brokers names SASL listeners";
    else if (password_file)
        check = "check [kafka.auth.sasl] username and password_file";
    else
        check = "check [kafka.auth.sasl] username and password";
    bool scram = strncmp(mechanism, "SCRAM-", 6) == 0;
    bool kafka4 =
        rel != NULL &&
        ((rel->kind == KT_KAFKA_RELEASE_KNOWN && kt_kafka_releases[rel->first].major >= 4) ||
         rel->kind == KT_KAFKA_RELEASE_NEWER);
    char hint[300] = "";
    if (scram && kafka4 && rdkafka_version < SCRAM_FIXED_RDKAFKA)
        snprintf(
            hint, sizeof(hint),
            "; note: librdkafka %d.%d.%d (before 2.6.1) sends a SCRAM client-final message "
            "that Kafka 4.0 and newer reject as invalid credentials (librdkafka PR #4895): use "
            "PLAIN over SASL_SSL, or a newer librdkafka",
            (rdkafka_version >> 24) & 0xff, (rdkafka_version >> 16) & 0xff,
            (rdkafka_version >> 8) & 0xff);
    return kt_err_set(err, KT_EINVAL,
                      "kafka: SASL/%s authentication as \"%s\" failed at %s: %s; %s%s", mechanism,
                      username, broker[0] ? broker : "the broker", what, check, hint);
}

int kt_kafka_probe_tls_error(const char *reason, bool ca_file, struct kt_err *err)
{
    char broker[BROKER_NAME_MAX], what[WHAT_MAX + 1];
    split_reason(reason, broker, sizeof(broker), what, sizeof(what));
    const char *check;
    if (has(what, "certificate verify failed"))
        check = ca_file
                    ? "check [kafka.auth.tls] ca_file (it must hold the CA that signed the "
                      "broker's certificate)"
                    : "set [kafka.auth.tls] ca_file to the CA that signed the broker's certificate";
    else if (has(what, "certificate required") || has(what, "bad certificate") ||
             has(what, "unknown ca") || has(what, "alert handshake failure"))
        check = "the broker wants a client certificate it trusts: check [kafka.auth.tls] "
                "cert_file and key_file";
    else if (has(what, "wrong version number") || has(what, "packet length too long") ||
             has(what, "record layer failure") || has(what, "unexpected eof"))
        check = "is this a TLS listener? check [kafka] brokers and [kafka.auth.tls] enabled";
    else if (has(what, "key values mismatch") || has(what, "private key"))
        check = "check [kafka.auth.tls] cert_file and key_file (the key must belong to the "
                "certificate)";
    else
        check = "check [kafka.auth.tls] ca_file, cert_file and key_file";
    return kt_err_set(err, KT_EINVAL, "kafka: TLS handshake with %s failed: %s; %s",
                      broker[0] ? broker : "the broker", what, check);
}

/* ---- the check ---- */

struct broker_apis {
    char name[BROKER_NAME_MAX]; /* librdkafka's: "sasl_ssl://k1:9093/bootstrap", ".../2" */
    int16_t max[KT_KAFKA_N_MARKERS];
};

/* The probe handle's state. With log.queue, librdkafka hands logs and errors over only in
 * rd_kafka_poll, on the thread that runs the check, so nothing here needs a lock. */
struct probe {
    const struct kt_kafka_probe_opts *o;
    rd_kafka_t *rk;
    struct broker_apis apis[MAX_BROKERS];
    size_t n_apis;
    long reading; /* the broker whose "Broker API support:" block is being read, or -1 */
    int fail;     /* RD_KAFKA_RESP_ERR__AUTHENTICATION or __SSL once one was reported */
    char fail_reason[512];
    char last_error[512];
    char bootstrap[512];
    /* As librdkafka will use them, rdkafka.<property> overrides included. */
    char protocol[32];  /* "SASL_SSL" */
    char mechanism[64]; /* "SCRAM-SHA-512", or "" without SASL */
    char username[256];
    bool password_file;
    bool ca_file;
};

static long apis_slot(struct probe *p, const char *name)
{
    size_t i = 0;
    while (i < p->n_apis && strcmp(p->apis[i].name, name) != 0)
        i++;
    if (i == p->n_apis) {
        if (p->n_apis == MAX_BROKERS)
            return -1;
        p->n_apis++;
        snprintf(p->apis[i].name, sizeof(p->apis[i].name), "%s", name);
    }
    /* A reconnect asks again: the newest answer counts. */
    for (size_t k = 0; k < KT_KAFKA_N_MARKERS; k++)
        p->apis[i].max[k] = -1;
    return (long)i;
}

static void probe_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)level;
    struct probe *p = rd_kafka_opaque(rk);
    if (strcmp(fac, "APIVERSION") == 0) {
        char broker[BROKER_NAME_MAX];
        int key = 0, max = 0;
        switch (kt_kafka_apiv_parse(buf, broker, sizeof(broker), &key, &max)) {
        case KT_KAFKA_APIV_HEADER: p->reading = apis_slot(p, broker); return;
        case KT_KAFKA_APIV_KEY:
            if (p->reading >= 0 && strcmp(p->apis[p->reading].name, broker) == 0)
                for (size_t k = 0; k < KT_KAFKA_N_MARKERS; k++)
                    if (kt_kafka_marker_keys[k] == key)
                        p->apis[p->reading].max[k] = (int16_t)(max > INT16_MAX ? INT16_MAX : max);
            return;
        case KT_KAFKA_APIV_OTHER: p->reading = -1; break;
        }
    }
    /* Whatever went wrong is told in the check's one line; the details stay available at
     * [log] level = debug. */
    kt_debug("kafka: %s: %s: %s", rd_kafka_name(rk), fac, buf);
}

static void probe_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    struct probe *p = opaque;
    /* A broker that refuses the client's certificate sends a TLS alert after the handshake
     * looked done to the client, which librdkafka reports as a transport error. */
    bool alert = err == RD_KAFKA_RESP_ERR__TRANSPORT && strstr(reason, "SSL routines::") != NULL &&
                 strstr(reason, " alert ") != NULL;
    if ((err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL || alert) &&
        p->fail == 0) {
        p->fail = alert ? RD_KAFKA_RESP_ERR__SSL : err;
        snprintf(p->fail_reason, sizeof(p->fail_reason), "%s", reason);
    }
    /* "1/1 brokers are down" follows the error that says why; keep the why. */
    if (err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || p->last_error[0] == '\0')
        snprintf(p->last_error, sizeof(p->last_error), "%s", reason);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The probe's own settings go after the passthrough: they are what makes it a probe. */
static int probe_conf(rd_kafka_conf_t *kc, const struct kt_kafka_probe_opts *o, struct kt_err *err)
{
    int rc = kt_kafka_conf_common(kc, o->kafka, err);
    if (rc == 0)
        rc = kt_kafka_conf_passthrough(kc, o->rdkafka, err);
    if (rc == 0)
        rc = kt_kafka_debug_feature(kc, "kafka", "connect_timeout", err);
    if (rc != 0)
        return rc;
    const struct {
        const char *name, *value;
    } props[] = {
        {"log.queue", "true"},
        {"allow.auto.create.topics", o->allow_auto_create ? "true" : "false"},
        /* Nothing is produced: no producer ID to acquire. */
        {"enable.idempotence", "false"},
    };
    for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
        rc = kt_kafka_set(kc, "kafka", "connect_timeout", props[i].name, props[i].value, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* "broker 1" for librdkafka's "sasl_ssl://127.0.0.1:9093/1", and for a bootstrap entry the
 * node whose address the metadata lists; else the name as librdkafka gives it. */
static void broker_label(const char *name, const struct rd_kafka_metadata *md, char *buf,
                         size_t cap)
{
    const char *slash = strrchr(name, '/');
    if (slash != NULL && isdigit((unsigned char)slash[1])) {
        snprintf(buf, cap, "broker %s", slash + 1);
        return;
    }
    const char *host = strstr(name, "://");
    host = host ? host + 3 : name;
    size_t hlen = slash != NULL && slash > host ? (size_t)(slash - host) : strlen(host);
    for (int i = 0; md != NULL && i < md->broker_cnt; i++) {
        char addr[300];
        snprintf(addr, sizeof(addr), "%s:%d", md->brokers[i].host, md->brokers[i].port);
        if (strlen(addr) == hlen && strncmp(addr, host, hlen) == 0) {
            snprintf(buf, cap, "broker %" PRId32, md->brokers[i].id);
            return;
        }
    }
    snprintf(buf, cap, "%s", name);
}

/* Finds the oldest broker that answered ApiVersions, logs its release and checks
 * [kafka] protocol_version against it. */
static int check_release(struct probe *p, const struct rd_kafka_metadata *md,
                         struct kt_kafka_probe_result *res, struct kt_err *err)
{
    long oldest = -1;
    struct kt_kafka_release_match m, best = {KT_KAFKA_RELEASE_UNKNOWN, 0, 0};
    for (size_t i = 0; i < p->n_apis; i++) {
        kt_kafka_release_infer(p->apis[i].max, &m);
        if (oldest < 0 || release_rank(&m) < release_rank(&best)) {
            best = m;
            oldest = (long)i;
        }
    }
    res->release = best;
    const char *pv = p->o->kafka->protocol_version;
    if (oldest < 0) {
        int v = rd_kafka_version();
        kt_info("kafka: the Kafka release of the cluster at %s could not be determined "
                "(librdkafka %d.%d.%d logged no ApiVersions answer); [kafka] protocol_version "
                "is not checked",
                p->bootstrap, (v >> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff);
        return 0;
    }
    char label[BROKER_NAME_MAX + 16], rel[64];
    broker_label(p->apis[oldest].name, md, label, sizeof(label));
    kt_kafka_release_name(&best, rel, sizeof(rel));
    kt_info("kafka: cluster at %s speaks Kafka %s (ApiVersions of %s)", p->bootstrap, rel, label);
    if (!kt_kafka_protocol_version_newer(pv, p->apis[oldest].max))
        return 0;
    char advice[80] = "";
    if (best.kind == KT_KAFKA_RELEASE_KNOWN)
        snprintf(advice, sizeof(advice), "; set it to %d.%d.0 or lower",
                 kt_kafka_releases[best.first].major, kt_kafka_releases[best.first].minor);
    return kt_err_set(err, KT_EINVAL,
                      "[kafka] protocol_version: %s is newer than the cluster: %s (%s) speaks "
                      "Kafka %s according to its ApiVersions answer%s",
                      pv, label, p->apis[oldest].name, rel, advice);
}

static int check_topics(struct probe *p, const struct rd_kafka_metadata *md,
                        struct kt_kafka_probe_result *res, struct kt_err *err)
{
    const struct kt_kafka_probe_opts *o = p->o;
    bool sasl = p->mechanism[0] != '\0';
    long first_missing = -1;
    for (size_t i = 0; i < o->n_topics && i < KT_KAFKA_PROBE_MAX_TOPICS; i++) {
        const char *t = o->topics[i];
        if (t == NULL || t[0] == '\0')
            continue;
        const struct rd_kafka_metadata_topic *mt = NULL;
        for (int k = 0; k < md->topic_cnt; k++)
            if (strcmp(md->topics[k].topic, t) == 0)
                mt = &md->topics[k];
        rd_kafka_resp_err_t e = mt ? mt->err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
        switch (e) {
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
            res->topic_missing[i] = true;
            if (first_missing < 0)
                first_missing = (long)i;
            break;
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
            return kt_err_set(err, KT_EINVAL,
                              "[kafka] %s: the cluster at %s refuses access to topic \"%s\"%s%s%s "
                              "(%s); grant it in the cluster's ACLs",
                              o->topic_keys[i], p->bootstrap, t, sasl ? " for user \"" : "",
                              sasl ? p->username : "", sasl ? "\"" : "", rd_kafka_err2str(e));
        case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
            return kt_err_set(err, KT_EINVAL, "[kafka] %s: \"%s\" is not a valid topic name (%s)",
                              o->topic_keys[i], t, rd_kafka_err2str(e));
        default:
            /* Present (LEADER_NOT_AVAILABLE: just created), or a passing broker error that
             * the real client rides out as well. */
            break;
        }
    }
    if (first_missing >= 0 && o->topics_required)
        return kt_err_set(err, KT_ENOTFOUND,
                          "[kafka] %s: topic \"%s\" does not exist on the cluster at %s "
                          "(auto-create is off?); create it first",
                          o->topic_keys[first_missing], o->topics[first_missing], p->bootstrap);
    return 0;
}

/* Asks for metadata until it comes, a SASL or TLS failure is reported, or the time is up. */
static int wait_metadata(struct probe *p, const struct rd_kafka_metadata **md, struct kt_err *err)
{
    const struct kt_kafka_probe_opts *o = p->o;
    uint64_t deadline = now_ms() + o->timeout_ms;
    uint64_t slice = SLICE_FIRST_MS;
    for (;;) {
        uint64_t now = now_ms();
        uint64_t left = deadline > now ? deadline - now : 1;
        int ms = (int)(left < slice ? left : slice);
        rd_kafka_resp_err_t e = rd_kafka_metadata(p->rk, 0, NULL, md, ms);
        rd_kafka_poll(p->rk, 0);
        if (p->fail == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
            /* ApiVersions precedes SASL on a connection: the failing broker answered it. */
            const int16_t *max = NULL;
            for (size_t i = 0; i < p->n_apis; i++) {
                size_t n = strlen(p->apis[i].name);
                if (strncmp(p->fail_reason, p->apis[i].name, n) == 0 && p->fail_reason[n] == ':')
                    max = p->apis[i].max;
            }
            struct kt_kafka_release_match rel;
            kt_kafka_release_infer(max, &rel);
            return kt_kafka_probe_sasl_error(p->mechanism, p->username, p->password_file,
                                             p->fail_reason, &rel, rd_kafka_version(), err);
        }
        if (p->fail == RD_KAFKA_RESP_ERR__SSL)
            return kt_kafka_probe_tls_error(p->fail_reason, p->ca_file, err);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (p->last_error[0] == '\0')
            snprintf(p->last_error, sizeof(p->last_error), "%s", rd_kafka_err2str(e));
        if (now_ms() >= deadline) {
            char t[32];
            if (o->timeout_ms % 1000 == 0)
                snprintf(t, sizeof(t), "%" PRIu64 "s", o->timeout_ms / 1000);
            else
                snprintf(t, sizeof(t), "%" PRIu64 "ms", o->timeout_ms);
            return kt_err_set(err, KT_ETIMEDOUT,
                              "kafka: no broker of %s answered within [kafka] connect_timeout "
                              "(%s) over %s; last error: %s",
                              p->bootstrap, t, p->protocol, p->last_error);
        }
        if (slice < SLICE_MAX_MS)
            slice *= 2;
    }
}

static void conf_str(rd_kafka_conf_t *kc, const char *name, char *buf, size_t cap)
{
    size_t n = cap;
    if (rd_kafka_conf_get(kc, name, buf, &n) != RD_KAFKA_CONF_OK)
        buf[0] = '\0';
}

/* What the messages tell is what librdkafka will do, which the passthrough may have
 * changed; the password is not read back. */
static void effective(struct probe *p, rd_kafka_conf_t *kc)
{
    const struct kt_kafka_auth_conf *a = p->o->kafka->auth;
    conf_str(kc, "security.protocol", p->protocol, sizeof(p->protocol));
    for (char *c = p->protocol; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    bool sasl = strncmp(p->protocol, "SASL_", 5) == 0;
    if (sasl) {
        conf_str(kc, "sasl.mechanisms", p->mechanism, sizeof(p->mechanism));
        conf_str(kc, "sasl.username", p->username, sizeof(p->username));
    }
    p->password_file = a != NULL && a->sasl.password_file != NULL &&
                       a->sasl.password_file[0] != '\0' &&
                       (a->sasl.password == NULL || a->sasl.password[0] == '\0');
    char ca[1024];
    conf_str(kc, "ssl.ca.location", ca, sizeof(ca));
    p->ca_file = ca[0] != '\0';
}

int kt_kafka_probe(const struct kt_kafka_probe_opts *o, struct kt_kafka_probe_result *res,
                   struct kt_err *err)
{
    memset(res, 0, sizeof(*res));
    struct probe *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return kt_err_set(err, KT_ENOMEM, "kafka: startup check: out of memory");
    p->o = o;
    p->reading = -1;
    kt_kafka_brokers_join(o->kafka->brokers, p->bootstrap, sizeof(p->bootstrap));
    uint64_t t0 = now_ms();
    rd_kafka_topic_t *rkts[KT_KAFKA_PROBE_MAX_TOPICS] = {NULL};
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    int rc = probe_conf(kc, o, err);
    if (rc != 0) {
        rd_kafka_conf_destroy(kc);
        goto out;
    }
    effective(p, kc);
    rd_kafka_conf_set_opaque(kc, p);
    rd_kafka_conf_set_log_cb(kc, probe_log_cb);
    rd_kafka_conf_set_error_cb(kc, probe_error_cb);
    char errstr[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof(errstr));
    if (p->rk == NULL) {
        rd_kafka_conf_destroy(kc);
        rc = kt_err_set(err, KT_EINVAL, "[kafka]: librdkafka: %s", errstr);
        goto out;
    }
    rd_kafka_set_log_queue(p->rk, NULL);
    /* rd_kafka_metadata without a topic asks for the handle's known topics: these. */
    for (size_t i = 0; i < o->n_topics && i < KT_KAFKA_PROBE_MAX_TOPICS; i++)
        if (o->topics[i] != NULL && o->topics[i][0] != '\0')
            rkts[i] = rd_kafka_topic_new(p->rk, o->topics[i], NULL);
    rc = wait_metadata(p, &md, err);
    if (rc != 0)
        goto out;
    res->reached = true;
    /* ApiVersions came before the broker was usable; its log lines are queued by now. */
    rd_kafka_poll(p->rk, 0);
    rc = check_release(p, md, res, err);
    if (rc == 0)
        rc = check_topics(p, md, res, err);
    if (rc == 0) {
        char rel[64], sasl[400] = "";
        kt_kafka_release_name(&res->release, rel, sizeof(rel));
        if (p->mechanism[0] != '\0')
            snprintf(sasl, sizeof(sasl), " (SASL/%s as \"%s\")", p->mechanism, p->username);
        kt_info("kafka: startup check passed in %" PRIu64 " ms: cluster at %s (%d broker%s) "
                "over %s%s, Kafka %s",
                now_ms() - t0, p->bootstrap, md->broker_cnt, md->broker_cnt == 1 ? "" : "s",
                p->protocol, sasl, rel);
    }
out:
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    for (size_t i = 0; i < KT_KAFKA_PROBE_MAX_TOPICS; i++)
        if (rkts[i] != NULL)
            rd_kafka_topic_destroy(rkts[i]);
    if (p->rk != NULL)
        rd_kafka_destroy(p->rk);
    free(p);
    return rc;
}
