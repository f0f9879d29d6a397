/* kt_log: leveled, single-line log records on stderr ("2026-11-22T11:35:03.123Z INFO ..."). */
#ifndef KT_LOG_H
#define KT_LOG_H

enum kt_log_level { KT_LOG_DEBUG = 0, KT_LOG_INFO = 1, KT_LOG_WARN = 2, KT_LOG_ERROR = 3 };

void kt_log_set_level(enum kt_log_level l);
void kt_log(enum kt_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define kt_debug(...) kt_log(KT_LOG_DEBUG, __VA_ARGS__)
#define kt_info(...) kt_log(KT_LOG_INFO, __VA_ARGS__)
#define kt_warn(...) kt_log(KT_LOG_WARN, __VA_ARGS__)
#define kt_error(...) kt_log(KT_LOG_ERROR, __VA_ARGS__)

#endif
