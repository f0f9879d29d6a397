#include "kt_log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

/* Room left in kt_log's line for the message and the " (N similar not logged)" note. */
#define LIMITED_MSG_MAX 1900

static enum kt_log_level min_level = KT_LOG_INFO;

void kt_log_set_level(enum kt_log_level l)
{
    min_level = l;
}

void kt_log(enum kt_log_level l, const char *fmt, ...)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (l < min_level)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)(tv.tv_usec / 1000), names[l]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per record keeps lines whole when several threads log. */
    fprintf(stderr, "%s\n", line);
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
