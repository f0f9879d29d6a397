/* kt_log: leveled, single-line log records on stderr (text or JSON, kt_log_set_format),
 * rate-limited lines for error paths that can repeat without bound, and the most recent
 * warnings and errors kept for the /status page (kt_log_recent). */
#ifndef KT_LOG_H
#define KT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kt_log_level { KT_LOG_DEBUG = 0, KT_LOG_INFO = 1, KT_LOG_WARN = 2, KT_LOG_ERROR = 3 };

/* text: "2026-11-22T11:35:03.123Z INFO message"; json: one object per line,
 * {"time":"2026-11-22T11:35:03.123Z","level":"info","msg":"message"}, for log shippers. */
enum kt_log_format { KT_LOG_TEXT = 0, KT_LOG_JSON = 1 };

/* The [log] rows of a tier's option table (struct kt_option), for a conf struct T holding
 * them as .log.level and .log.format; both tiers list the same keys. */
/* clang-format off */
#define KT_LOG_OPTIONS(T)                                                                          \
    {"log", "level", KT_OPT_ENUM, "info", offsetof(T, log.level), "debug|info|warn|error", 0,     \
     "Least severe log level written to stderr (the Collector's service.telemetry.logs.level)."}, \
    {"log", "format", KT_OPT_ENUM, "text", offsetof(T, log.format), "text|json", 0,             \
     "text: one line per record, `TIME LEVEL message`; json: one JSON object per line\n"         \
     "(`time`, `level`, `msg`), as the Collector's service.telemetry.logs.encoding: json."}
/* clang-format on */

void kt_log_set_level(enum kt_log_level l);
void kt_log_set_format(enum kt_log_format f);
void kt_log(enum kt_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define kt_debug(...) kt_log(KT_LOG_DEBUG, __VA_ARGS__)
#define kt_info(...) kt_log(KT_LOG_INFO, __VA_ARGS__)
#define kt_warn(...) kt_log(KT_LOG_WARN, __VA_ARGS__)
#define kt_error(...) kt_log(KT_LOG_ERROR, __VA_ARGS__)

/* A token bucket for one kind of log line, so a failing broker or backend cannot flood the
 * log: `burst` lines may go out at once, then one per `interval` seconds; the lines held
 * back are counted and the next line that goes out says how many. A limiter belongs to one
 * thread (there is no locking); a limiter per kind of line keeps one noisy kind from hiding
 * another. Initialise with KT_LOG_LIMIT; the fields are the limiter's own after that. */
struct kt_log_limit {
    double interval;     /* seconds per token, > 0 */
    double burst;        /* tokens at most */
    double tokens;       /* starts full */
    double last;         /* monotonic seconds of the last refill */
    uint64_t suppressed; /* lines held back since the last one out */
};
#define KT_LOG_LIMIT(interval_s, burst_lines)                                                      \
    {                                                                                              \
        .interval = (interval_s), .burst = (burst_lines), .tokens = (burst_lines), .last = 0,      \
        .suppressed = 0                                                                            \
    }

/* The bucket at time now (seconds on any clock that does not go back): refills it, then
 * takes a token when there is one. True: the line may go out, and *suppressed gets the
 * number held back before it (the count starts again at 0). False: no token; the line is
 * counted as held back. kt_log_limited calls this with the monotonic clock. */
bool kt_log_limit_take(struct kt_log_limit *l, double now, uint64_t *suppressed);

/* kt_log through the limiter l. A line that goes out after others were held back ends with
 * " (N similar not logged)". A level below kt_log_set_level's is dropped without touching
 * the limiter. Returns true when the line was written. */
bool kt_log_limited(struct kt_log_limit *l, enum kt_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The most recent warning and error lines kotel wrote (after the level filter and rate
 * limiting: exactly what went to stderr), kept for /status. They are what was logged, so
 * already free of secrets. */
#define KT_LOG_RECENT 50
#define KT_LOG_RECENT_TEXT 512 /* bytes kept of a message, its NUL included */
struct kt_log_line {
    char at[64]; /* "2026-11-22T11:35:03.123Z", as in the log line */
    enum kt_log_level level;
    char text[KT_LOG_RECENT_TEXT]; /* cut at a UTF-8 character boundary */
};
/* Copies the newest min(cap, KT_LOG_RECENT) of them into out, oldest first; returns how many.
 * Safe from any thread. */
size_t kt_log_recent(struct kt_log_line *out, size_t cap);

#endif
