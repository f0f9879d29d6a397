/* kotel-process: Kafka consumer group -> filter -> transform -> tail sampling -> OTLP. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <ev.h>

#include "conf.h"
#include "kt_log.h"
#include "pipeline.h"

struct app {
    struct process_conf conf;
    struct ev_loop *loop;
    struct pipeline *pipe;
    ev_signal sigterm, sigint;
    ev_timer drain_check, drain_deadline;
    bool shutting_down;
};

static void drain_check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct app *a = w->data;
    if (pipeline_drained(a->pipe)) {
        kt_info("everything decided is exported; committing and leaving the group");
        ev_break(loop, EVBREAK_ALL);
    }
}

static void drain_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct app *a = w->data;
    kt_warn("[service] shutdown_timeout (%llums) passed with exports in flight; their offsets "
            "stay uncommitted and the next owner re-reads them",
            (unsigned long long)a->conf.service.shutdown_timeout_ms);
    ev_break(loop, EVBREAK_ALL);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    struct app *a = w->data;
    if (a->shutting_down) {
        kt_warn("second signal: exiting now");
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    a->shutting_down = true;
    kt_info("signal %d: no longer fetching; exporting what is decided (up to %llums)", w->signum,
            (unsigned long long)a->conf.service.shutdown_timeout_ms);
    pipeline_begin_shutdown(a->pipe);
    ev_timer_init(&a->drain_check, drain_check_cb, 0.0, 0.02);
    a->drain_check.data = a;
    ev_timer_start(loop, &a->drain_check);
    ev_timer_init(&a->drain_deadline, drain_deadline_cb,
                  (double)a->conf.service.shutdown_timeout_ms / 1000.0, 0.);
    a->drain_deadline.data = a;
    ev_timer_start(loop, &a->drain_deadline);
}

int main(int argc, char **argv)
{
    static struct app a;
    int rc = kt_cli_run(&process_conf_schema, &a.conf, argc, argv);
    if (rc != KT_CLI_RUN) {
        process_conf_free(&a.conf);
        return rc == KT_CLI_EXIT0 ? 0 : 2;
    }
    kt_log_set_level((enum kt_log_level)a.conf.service.log_level);
    signal(SIGPIPE, SIG_IGN);
    a.loop = ev_default_loop(EVFLAG_AUTO);
    struct kt_err err = {0};
    int exit_code = 1;
    if (pipeline_new(&a.conf, a.loop, &a.pipe, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    ev_signal_init(&a.sigterm, signal_cb, SIGTERM);
    ev_signal_init(&a.sigint, signal_cb, SIGINT);
    a.sigterm.data = a.sigint.data = &a;
    ev_signal_start(a.loop, &a.sigterm);
    ev_signal_start(a.loop, &a.sigint);
    kt_info("kotel-process %s started", KT_VERSION);
    ev_run(a.loop, 0);
    exit_code = 0;
out:
    pipeline_free(a.pipe);
    process_conf_free(&a.conf);
    return exit_code;
}
