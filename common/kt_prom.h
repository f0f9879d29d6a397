/* kt_prom: writing metrics in the Prometheus text exposition format (version 0.0.4), and
 * the histogram a tier keeps on its hot path for them.
 *
 * A tier keeps its counters as plain integers in its modules' stats (no registry, no
 * locks, nothing per item but an increment) and writes them out only when /metrics is
 * asked for. Names follow Prometheus' conventions: kotel_<tier>_<what>_<unit>, counters
 * ending in _total, seconds and bytes as base units. */
#ifndef KT_PROM_H
#define KT_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "kt_buf.h"

#define KT_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* The # HELP and # TYPE lines of a family (type: "counter", "gauge", "histogram"). Once
 * per family, before its samples. */
void kt_prom_family(struct kt_buf *b, const char *name, const char *type, const char *help);

/* One sample. labels is the inside of the braces as written (`signal="traces",code="400"`,
 * values escaped with kt_prom_label), or NULL / "" for none. */
void kt_prom_u64(struct kt_buf *b, const char *name, const char *labels, uint64_t v);
void kt_prom_f64(struct kt_buf *b, const char *name, const char *labels, double v);

/* Writes value into out (cap bytes) escaped as a label value: backslash, double quote and
 * newline escaped, cut to fit. Returns out. */
const char *kt_prom_label(const char *value, char *out, size_t cap);

/* A histogram of a quantity in seconds (or any unit), with fixed upper bounds. Observing is
 * a short scan of the bounds and two additions: fine for once per request. */
#define KT_HIST_BUCKETS_MAX 16
struct kt_hist {
    const double *bounds; /* ascending, n of them; +Inf is implied */
    size_t n;
    uint64_t counts[KT_HIST_BUCKETS_MAX]; /* not cumulative: counts[i] for bounds[i-1] < v <=
                                             bounds[i] */
    uint64_t over;                        /* above the last bound */
    double sum;
};
/* bounds (static storage, n <= KT_HIST_BUCKETS_MAX) are borrowed. */
void kt_hist_init(struct kt_hist *h, const double *bounds, size_t n);
void kt_hist_observe(struct kt_hist *h, double v);
/* The _bucket (cumulative, le labels), _sum and _count samples of h. labels as for
 * kt_prom_u64 (the le label is added after them). */
void kt_prom_hist(struct kt_buf *b, const char *name, const char *labels, const struct kt_hist *h);

/* Latency bounds in seconds, 1 ms to 30 s, for request and delivery latencies. */
extern const double kt_hist_latency_bounds[];
extern const size_t kt_hist_latency_n;

/* The process_* families of the Prometheus client libraries (CPU seconds, resident and
 * virtual memory, open and maximum file descriptors, start time), from /proc/self. */
void kt_prom_process(struct kt_buf *b);
/* The process' start time in seconds since the Unix epoch (process_start_time_seconds), or
 * 0 when /proc cannot tell. */
double kt_prom_start_time(void);

#endif
