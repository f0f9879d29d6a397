#include "kt_log.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "kt_utf8.h"

/* Room left in kt_log's line for the message and the " (N similar not logged)" note. */
#define LIMITED_MSG_MAX 1900

static enum kt_log_level min_level = KT_LOG_INFO;
static enum kt_log_format format = KT_LOG_TEXT;

/* The ring behind kt_log_recent: n_recent lines written so far, the newest at
 * (n_recent - 1) % KT_LOG_RECENT. Threads log (the spool's, librdkafka's callbacks), hence
 * the lock; it is held only to copy a line in or out. */
static struct kt_log_line recent[KT_LOG_RECENT];
static uint64_t n_recent;
static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;

void kt_log_set_level(enum kt_log_level l)
{
    min_level = l;
}

void kt_log_set_format(enum kt_log_format f)
{
    format = f;
}

/* msg as the inside of a JSON string into out (cap bytes, NUL-terminated, cut on a whole
 * escape): quotes, backslashes and control bytes escaped; bytes of a message that is not
 * valid UTF-8 escaped one by one, so that every line is valid JSON whatever was logged. */
static void json_escape(const char *msg, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(msg), o = 0;
    bool utf8 = kt_utf8_valid((const uint8_t *)msg, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        char esc[7];
        size_t k;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            k = 2;
        } else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            k = 6;
        } else {
            esc[0] = (char)c;
            k = 1;
        }
        if (o + k >= cap)
            break;
        memcpy(out + o, esc, k);
        o += k;
    }
    out[o] = '\0';
}

/* Keeps a warning or error line for kt_log_recent: cut to fit on a character boundary, and
 * with '?' for the bytes of a message that is not UTF-8, so that /status.json can carry it. */
static void recent_add(const char *ts, enum kt_log_level l, const char *msg)
{
    struct kt_log_line line = {.level = l};
    snprintf(line.at, sizeof(line.at), "%s", ts);
    size_t n = strlen(msg);
    if (n >= sizeof(line.text)) {
        n = sizeof(line.text) - 1;
        while (n > 0 && ((unsigned char)msg[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(line.text, msg, n);
    line.text[n] = '\0';
    if (!kt_utf8_valid((const uint8_t *)line.text, n)) {
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)line.text[i] >= 0x80)
                line.text[i] = '?';
    }
    pthread_mutex_lock(&recent_lock);
    recent[n_recent % KT_LOG_RECENT] = line;
    n_recent++;
    pthread_mutex_unlock(&recent_lock);
}

size_t kt_log_recent(struct kt_log_line *out, size_t cap)
{
    pthread_mutex_lock(&recent_lock);
    uint64_t have = n_recent < KT_LOG_RECENT ? n_recent : KT_LOG_RECENT;
    size_t n = have < cap ? (size_t)have : cap;
    for (size_t i = 0; i < n; i++)
        out[i] = recent[(n_recent - n + i) % KT_LOG_RECENT];
    pthread_mutex_unlock(&recent_lock);
    return n;
}

void kt_log(enum kt_log_level l, const char *fmt, ...)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    static const char *const json_names[] = {"debug", "info", "warn", "error"};
    if (l < min_level)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[64];
    snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (long)(tv.tv_usec / 1000));
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* One fprintf per record keeps lines whole when several threads log. */
    if (format == KT_LOG_JSON) {
        char esc[4096];
        json_escape(msg, esc, sizeof(esc));
        fprintf(stderr, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}\n", ts, json_names[l],
                esc);
    } else {
        fprintf(stderr, "%s %s %s\n", ts, names[l], msg);
    }
    if (l >= KT_LOG_WARN)
        recent_add(ts, l, msg);
}

bool kt_log_limit_take(struct kt_log_limit *l, double now, uint64_t *suppressed)
{
    if (now > l->last) {
        l->tokens += (now - l->last) / l->interval;
        if (l->tokens > l->burst)
            l->tokens = l->burst;
        l->last = now;
    }
    if (l->tokens < 1) {
        l->suppressed++;
        return false;
    }
    l->tokens -= 1;
    *suppressed = l->suppressed;
    l->suppressed = 0;
    return true;
}

bool kt_log_limited(struct kt_log_limit *l, enum kt_log_level lvl, const char *fmt, ...)
{
    if (lvl < min_level)
        return false;
    /* Only error paths get here, so reading the clock each time costs nothing that matters. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t held;
    if (!kt_log_limit_take(l, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, &held))
        return false;
    char msg[LIMITED_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (held > 0)
        kt_log(lvl, "%s (%" PRIu64 " similar not logged)", msg, held);
    else
        kt_log(lvl, "%s", msg);
    return true;
}
