/* topics: which Kafka topics each signal reads, from [kafka] traces_topic / metrics_topic /
 * logs_topic and traces_exclude_topics / metrics_exclude_topics / logs_exclude_topics.
 *
 * A signal's topic value is one topic, a comma-separated list of topics, or one regular
 * expression starting with '^' (the Collector's kafka receiver spelling) that every topic of
 * the cluster is matched against (PCRE2, anchored at the start by its '^', not at the end).
 * The exclude list, allowed only beside a regex, holds names and ^regexes; a topic matching
 * one is never read. Internal topics (names starting with "__", as __consumer_offsets) never
 * match a regex. librdkafka's own regex subscription cannot exclude, so the consumer lists
 * the cluster's topics itself and subscribes to the explicit set (consumer.c). */
#ifndef PROCESS_TOPICS_H
#define PROCESS_TOPICS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "kt_err.h"
#include "kt_signal.h"

struct topics;

/* The [kafka] keys of each signal's topics and exclusions, for messages. */
extern const char *const topics_keys[KT_SIGNAL_COUNT];
extern const char *const topics_exclude_keys[KT_SIGNAL_COUNT];

/* Checks one value of a topic key (a name, a list or one ^regex: "[kafka] traces_topic:
 * ^otlp_(: missing closing parenthesis at offset 7") or of an exclude key. The loader's
 * check_value calls it so the message names the file and line. Returns 0 or KT_EINVAL with
 * the message (no context). */
int topics_check_value(const char *key, const char *value, struct kt_err *err);
int topics_check_exclude(const struct kt_strlist *exclude, struct kt_err *err);

/* Compiles the signals' selections and checks them together: a topic named by two signals
 * (or also dead_letter_topic), an exclude list without a regex, every signal off. Errors name
 * the key: "[kafka] logs_topic: \"a\" is also in traces_topic; each signal needs its own
 * topics". Returns 0 (*out: topics_free) or KT_EINVAL / KT_ENOMEM. */
int topics_new(const struct process_conf *conf, struct topics **out, struct kt_err *err);
void topics_free(struct topics *t);

/* True when the signal reads something. */
bool topics_on(const struct topics *t, enum kt_signal sig);
/* True when the signal's topics come from a regex, so the cluster's topic list decides. */
bool topics_is_regex(const struct topics *t, enum kt_signal sig);
bool topics_any_regex(const struct topics *t);
/* The signal's listed topics (none for a regex). */
size_t topics_n_names(const struct topics *t, enum kt_signal sig);
const char *topics_name(const struct topics *t, enum kt_signal sig, size_t i);

/* The signal reading the topic: a listed name, or a regex match not excluded and not
 * internal. -1: none. */
int topics_signal_of(const struct topics *t, const char *topic);

#endif
