/* kotel-process: Kafka consumer group -> filter -> transform -> tail sampling -> OTLP. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <ev.h>

#include "admin.h"
#include "conf.h"
#include "dump.h"
#include "kt_cli.h"
#include "kt_kafka_probe.h"
#include "kt_log.h"
#include "kt_shutdown.h"
#include "pipeline.h"
#include "replay.h"
#include "topics.h"

struct app {
    struct process_conf conf;
    struct pipeline *pipe;
    struct admin_parts admin_parts; /* borrowed by the admin pages */
    struct kt_admin *admin;
    struct replay *replay; /* --replay-from; NULL otherwise */
    struct kt_shutdown sd;
    bool timed_out;
};

static void begin(void *ctx)
{
    struct app *a = ctx;
    pipeline_begin_shutdown(a->pipe);
}

static bool drained(void *ctx)
{
    struct app *a = ctx;
    if (!pipeline_drained(a->pipe))
        return false;
    kt_info("everything decided is exported; committing and leaving the group");
    return true;
}

static void timed_out(void *ctx)
{
    struct app *a = ctx;
    a->timed_out = true;
    kt_warn("[service] shutdown_timeout (%llums) passed with exports in flight; their offsets "
            "stay uncommitted and the next owner re-reads them",
            (unsigned long long)a->conf.service.shutdown_timeout_ms);
}

static const struct kt_shutdown_ops shutdown_ops = {begin, drained, timed_out};

/* The startup check: bad credentials, an untrusted broker or a protocol_version newer than
 * the cluster stop kotel-process here. A cluster that does not answer in time is warned
 * about and a missing topic is left to the consumer, which warns until it exists and then
 * consumes it: what it found goes into c->startup. */
static int check_kafka(struct process_conf *c, struct kt_err *err)
{
    const struct kt_kafka_common common = {
        .brokers = &c->kafka.brokers,
        .client_id = c->kafka.client_id,
        .protocol_version = c->kafka.protocol_version,
        .auth = &c->kafka.auth,
    };
    /* The listed topics (a regex's are found by the consumer), as many as the check takes. */
    struct topics *sel = NULL;
    int rc = topics_new(c, &sel, err);
    if (rc != 0)
        return rc;
    const char *topics[KT_KAFKA_PROBE_MAX_TOPICS];
    const char *keys[KT_KAFKA_PROBE_MAX_TOPICS];
    enum kt_signal sigs[KT_KAFKA_PROBE_MAX_TOPICS];
    size_t n = 0;
    for (int s = 0; s < KT_SIGNAL_COUNT; s++)
        for (size_t i = 0; i < topics_n_names(sel, (enum kt_signal)s); i++)
            if (n < KT_KAFKA_PROBE_MAX_TOPICS) {
                topics[n] = topics_name(sel, (enum kt_signal)s, i);
                keys[n] = topics_keys[s];
                sigs[n++] = (enum kt_signal)s;
            }
    const struct kt_kafka_probe_opts o = {
        .kafka = &common,
        .rdkafka = &c->kafka.rdkafka,
        .timeout_ms = c->kafka.connect_timeout_ms,
        .topics = topics,
        .topic_keys = keys,
        .n_topics = n,
    };
    struct kt_kafka_probe_result res;
    rc = kt_kafka_probe(&o, &res, err);
    topics_free(sel);
    if (rc == KT_ETIMEDOUT) {
        kt_warn("%s; starting anyway: consuming starts once Kafka answers", err->msg);
        return 0;
    }
    c->startup.reached = res.reached;
    for (size_t i = 0; i < n; i++)
        c->startup.topic_missing[sigs[i]] |= res.topic_missing[i];
    return rc;
}

/* The replay reached the end of every partition: shut down as on SIGTERM. */
static void replay_done(void *ctx)
{
    struct app *a = ctx;
    kt_shutdown_begin(&a->sd, "replay: every partition reached its end");
}

/* Reads the command line: exits (help, --check, errors, a dump) unless the pipeline runs.
 * Returns -1 to run, else the exit status. */
static int command_line(struct app *a, struct replay_args *ra, bool *replay, int argc, char **argv)
{
    const char *dump_given[DUMP_N_OPTS] = {NULL};
    const char *replay_given[REPLAY_N_OPTS] = {NULL};
    const struct kt_cli_extra *const tables[] = {&dump_cli, &replay_cli};
    const char **const given[] = {dump_given, replay_given};
    int rc = kt_cli_run_extra(&process_conf_schema, tables, 2, given, &a->conf, argc, argv);
    if (rc != KT_CLI_RUN)
        return rc == KT_CLI_EXIT0 ? 0 : 2;
    *replay = replay_requested(replay_given);
    struct kt_err err = {0, ""};
    if (*replay && replay_parse_args(replay_given, dump_requested(dump_given), ra, &err) != 0) {
        fprintf(stderr, "kotel-process: %s\nTry 'kotel-process --help'.\n", err.msg);
        return 2;
    }
    /* The dump runs instead of the pipeline, with the same [kafka] settings. */
    if (dump_requested(dump_given))
        return dump_run(&a->conf, dump_given);
    return -1;
}

/* SIGHUP: files that may be replaced in place (secrets) are read again. */
static void sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    struct app *a = w->data;
    struct kt_err err = {0};
    if (pipeline_reload(a->pipe, &err) != 0)
        kt_error("SIGHUP: %s; keeping the previous values", err.msg);
    else
        kt_info("SIGHUP: [exporter] header files read again");
}

int main(int argc, char **argv)
{
    static struct app a;
    struct replay_args ra;
    bool replay = false;
    int code = command_line(&a, &ra, &replay, argc, argv);
    if (code >= 0) {
        process_conf_free(&a.conf);
        return code;
    }
    kt_log_set_level((enum kt_log_level)a.conf.log.level);
    kt_log_set_format((enum kt_log_format)a.conf.log.format);
    signal(SIGPIPE, SIG_IGN);
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    struct kt_err err = {0};
    int exit_code = 1;
    if (check_kafka(&a.conf, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    /* Before the pipeline: its consumer reads the ranges and the replay's group. */
    if (replay && replay_new(&a.conf, &ra, &a.replay, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    if (pipeline_new(&a.conf, loop, &a.pipe, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    a.admin_parts = (struct admin_parts){.conf = &a.conf, .pipe = a.pipe};
    if (admin_serve(loop, &a.admin_parts, &a.admin, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    kt_shutdown_init(&a.sd, loop, a.conf.service.shutdown_timeout_ms, &shutdown_ops, &a);
    static ev_signal sighup;
    ev_signal_init(&sighup, sighup_cb, SIGHUP);
    sighup.data = &a;
    ev_signal_start(loop, &sighup);
    kt_info("kotel-process %s started", KT_VERSION);
    if (a.replay != NULL) {
        replay_start(a.replay, loop, replay_done, &a);
        if (replay_finished(a.replay))
            replay_done(&a); /* nothing in the window */
    }
    ev_run(loop, 0);
    struct pipeline_stats st;
    pipeline_get_stats(a.pipe, &st);
    if (a.replay != NULL) {
        /* A replay did its job when it read its whole window and exported it all. */
        replay_summary(a.replay, &st);
        exit_code = replay_finished(a.replay) && !a.timed_out ? 0 : 1;
        if (!replay_finished(a.replay))
            kt_warn("replay stopped before its end; run it again with the same times to go on "
                    "from where it stopped");
        goto out;
    }
    kt_info("processed %llu messages (%llu undecodable): %llu items in, %llu filtered out, "
            "%llu handed to the exporter",
            (unsigned long long)st.messages, (unsigned long long)st.poison,
            (unsigned long long)st.items_in, (unsigned long long)st.items_filtered,
            (unsigned long long)st.items_exported);
    exit_code = 0;
out:
    kt_admin_free(a.admin);
    pipeline_free(a.pipe);
    replay_free(a.replay);
    process_conf_free(&a.conf);
    return exit_code;
}
