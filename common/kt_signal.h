/* kt_signal: the three OTLP signals, and their names as they appear in paths and logs. */
#ifndef KT_SIGNAL_H
#define KT_SIGNAL_H

enum kt_signal {
    KT_SIGNAL_TRACES = 0,
    KT_SIGNAL_METRICS = 1,
    KT_SIGNAL_LOGS = 2,
};
#define KT_SIGNAL_COUNT 3

/* "traces", "metrics", "logs" */
const char *kt_signal_name(enum kt_signal s);
/* What one item of the signal is called in OTLP partial_success: "spans", "data points",
 * "log records". */
const char *kt_signal_item_name(enum kt_signal s);

#endif
