/* replay: kotel-process --replay-from TIME [--replay-to TIME], the configured pipeline run
 * once over a window of the past.
 *
 * At start (blocking, before the loop serves anything) each partition of the signal topics
 * (every listed one; for a ^regex, those it matches in the cluster's topic list then) gets an
 * offset range from Kafka's time index (offsets-for-times): start is the first
 * offset whose timestamp is at or after --replay-from, end the first at or after
 * --replay-to, or without it the high watermark at start; a partition with no message at or
 * after --replay-from has nothing to replay. The consumer assigns those partitions itself
 * (consumer_replay, consumer.h), never joining [kafka] group_id: it commits under a group of
 * its own, "<group_id>-replay-<from>[-<to>]" (UTC, compact: 20261120T100000Z), so the
 * pipeline's offsets never move, and a replay stopped early resumes where it stopped when
 * run again with the same times (a finished one then has nothing left). When every
 * partition handed out everything below its end, the program shuts down as on SIGTERM
 * (exports drained, offsets committed) and prints a summary.
 *
 * The window is by offsets: with producer-set timestamps that go back in time within a
 * partition, a message inside the range may carry a time outside the window. Progress: every
 * 2 s an updating line on a terminal (stderr), else a log line every 5 s. */
#ifndef PROCESS_REPLAY_H
#define PROCESS_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "conf.h"
#include "consumer.h"
#include "kt_cli.h"
#include "kt_err.h"
#include "pipeline.h"

/* The options of replay_cli, in table order: indexes into its given array. */
enum replay_opt { REPLAY_OPT_FROM = 0, REPLAY_OPT_TO, REPLAY_N_OPTS };

extern const struct kt_cli_extra replay_cli;

/* True when any of the replay options was given. */
bool replay_requested(const char *const given[REPLAY_N_OPTS]);

struct replay_args {
    int64_t from_ms; /* ms since the epoch */
    int64_t to_ms;   /* -1: up to the end each partition has at start */
};

/* Checks the options (dump: --dump options were given too). Returns 0, or KT_EINVAL with a
 * message naming the option: --replay-to without --replay-from, a time that is not RFC 3339,
 * --replay-to not after --replay-from, or combined with --dump. */
int replay_parse_args(const char *const given[REPLAY_N_OPTS], bool dump, struct replay_args *a,
                      struct kt_err *err);

/* The replay's consumer group: "<group>-replay-20261120T100000Z", with "-<to>" when
 * --replay-to is given; milliseconds ("T100000.250Z") only when not whole seconds. */
void replay_group_id(const char *group, const struct replay_args *a, char *buf, size_t cap);

/* Offsets read (below each end) and to read in all, over every range. */
struct replay_progress {
    uint64_t done, total;
};
void replay_progress_of(const struct consumer_replay *r, struct replay_progress *out);

/* "replay 42% 1.2M/2.9M messages, 35k msg/s, ETA 48 s"; with bar, "replay [####......] ..."
 * (20 cells). rate is in messages per second; ETA "?" while it is 0. */
void replay_progress_format(const struct replay_progress *p, double rate, bool bar, char *buf,
                            size_t cap);

struct topics;

/* The topics the signal replays, out of the cluster's topic names at start (borrowed): for a
 * list, each listed topic the cluster has (one it lacks is warned about and skipped); for a
 * ^regex (value, for messages), each name the consumer's subscription would take
 * (topics_signal_of: exclusions applied, internal "__" topics never, none two regexes match).
 * out (room for n) gets pointers into names: a list's in its order, a regex's in the
 * cluster's. Returns 0, or KT_EINVAL when a regex matches nothing ("replay: [kafka]
 * logs_topic: the regex ^x matches no topic of the cluster ..."). */
int replay_topics_of(const struct topics *sel, enum kt_signal sig, const char *value,
                     const char *const *names, size_t n, const char **out, size_t *n_out,
                     struct kt_err *err);

struct replay;

/* Resolves the ranges (blocking: metadata, watermarks, offsets-for-times and the replay
 * group's commits, each within [kafka] connect_timeout), then points conf->replay at them and
 * replaces conf->kafka.group_id with the replay's group (printed). conf is borrowed and must
 * outlive the replay. The topics are those of replay_topics_of with the cluster's topic list
 * read once here: a topic a ^regex matches that is created later is not replayed. Returns 0,
 * KT_EINVAL (a regex matching nothing), KT_ETIMEDOUT / KT_EIO when Kafka does not answer,
 * KT_ENOMEM. */
int replay_new(struct process_conf *conf, const struct replay_args *a, struct replay **out,
               struct kt_err *err);

/* Starts the progress timer on loop; finished(arg) is called on the loop when the last
 * range is done. */
void replay_start(struct replay *r, struct ev_loop *loop, void (*finished)(void *arg), void *arg);

/* Every range handed out everything below its end. */
bool replay_finished(const struct replay *r);

/* Logs the summary: messages, items, and each partition's range and how far it got. */
void replay_summary(struct replay *r, const struct pipeline_stats *st);

/* Stops the timer and frees. Call after the consumer is closed. r may be NULL. */
void replay_free(struct replay *r);

#endif
