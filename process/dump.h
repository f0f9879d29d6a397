/* dump: kotel-process --dump TOPIC, the topic inspector.
 *
 * A plain librdkafka consumer made from the [kafka] settings (brokers, auth sections,
 * rdkafka.<property> passthrough) with the partitions assigned directly: no group, nothing
 * committed, so dumping never moves the pipeline's offsets. Each message becomes one line of
 * JSON on stdout (jq reads it as is):
 *   {"topic","partition","offset","timestamp" (RFC 3339, ms),"timestamp_ms",
 *    "key" (text) or "key_base64","headers":{name: text, or {"base64": ...}},
 *    "encoding":"otlp_proto"|"otlp_json","signal":"traces"|"metrics"|"logs","data":{OTLP/JSON}}
 * and a message that is neither encoding gets "error" in place of encoding, signal and data.
 * Without --count it stops at the end each partition had when it started, so it ends. */
#ifndef DUMP_H
#define DUMP_H

#include <stdbool.h>

#include "conf.h"
#include "kt_cli.h"

/* The options of dump_cli, in table order: indexes into the given array of kt_cli_run_extra. */
enum dump_opt {
    DUMP_OPT_TOPIC = 0,
    DUMP_OPT_PARTITION,
    DUMP_OPT_OFFSET,
    DUMP_OPT_FROM,
    DUMP_OPT_COUNT,
    DUMP_N_OPTS
};

extern const struct kt_cli_extra dump_cli;

/* True when any of the dump options was given, so the program dumps instead of running. */
bool dump_requested(const char *const given[DUMP_N_OPTS]);

/* Runs the dump with conf (borrowed) and the options given (borrowed; DUMP_N_OPTS entries).
 * Returns the exit status: 0 done, 1 a Kafka failure (no such topic, the cluster not
 * reached within [kafka] connect_timeout, stdout closed), 2 bad options; messages go to
 * stderr. */
int dump_run(const struct process_conf *conf, const char *const given[DUMP_N_OPTS]);

#endif
