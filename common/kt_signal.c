#include "kt_signal.h"

const char *kt_signal_name(enum kt_signal s)
{
    switch (s) {
    case KT_SIGNAL_TRACES: return "traces";
    case KT_SIGNAL_METRICS: return "metrics";
    case KT_SIGNAL_LOGS: return "logs";
    }
    return "unknown";
}

const char *kt_signal_item_name(enum kt_signal s)
{
    switch (s) {
    case KT_SIGNAL_TRACES: return "spans";
    case KT_SIGNAL_METRICS: return "data points";
    case KT_SIGNAL_LOGS: return "log records";
    }
    return "items";
}
