/* kotel-ingest: OTLP in (gRPC and HTTP), Kafka out. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <ev.h>

#include "conf.h"
#include "kt_log.h"
#include "publisher.h"
#include "server.h"

struct app {
    struct ingest_conf conf;
    struct ev_loop *loop;
    struct publisher *pub;
    struct server *srv;
    ev_signal sigterm, sigint;
    ev_timer drain_check, drain_deadline;
    bool shutting_down;
};

static void drain_check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct app *a = w->data;
    if (server_idle(a->srv) && publisher_idle(a->pub)) {
        kt_info("every accepted request is answered and the producer is empty; exiting");
        ev_break(loop, EVBREAK_ALL);
    }
}

static void drain_deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct app *a = w->data;
    struct publisher_stats st;
    publisher_get_stats(a->pub, &st);
    kt_warn("[service] shutdown_timeout (%llums) passed with work in flight (%llu messages "
            "produced, %llu delivered, %llu failed); the clients still waiting get "
            "UNAVAILABLE and will retry",
            (unsigned long long)a->conf.service.shutdown_timeout_ms,
            (unsigned long long)st.messages_produced, (unsigned long long)st.messages_delivered,
            (unsigned long long)st.messages_failed);
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
    kt_info("signal %d: no longer accepting; finishing requests in flight (up to %llums)",
            w->signum, (unsigned long long)a->conf.service.shutdown_timeout_ms);
    server_stop_accepting(a->srv);
    publisher_begin_shutdown(a->pub);
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
    int rc = kt_cli_run(&ingest_conf_schema, &a.conf, argc, argv);
    if (rc != KT_CLI_RUN) {
        kt_config_free(&ingest_conf_schema, &a.conf);
        return rc == KT_CLI_EXIT0 ? 0 : 2;
    }
    kt_log_set_level((enum kt_log_level)a.conf.service.log_level);
    signal(SIGPIPE, SIG_IGN);
    a.loop = ev_default_loop(EVFLAG_AUTO);
    struct kt_err err = {0};
    int exit_code = 1;
    if (publisher_new(&a.conf, a.loop, &a.pub, &err) != 0) {
        kt_error("kafka producer: %s", err.msg);
        goto out;
    }
    if (server_new(&a.conf, a.loop, a.pub, &a.srv, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    ev_signal_init(&a.sigterm, signal_cb, SIGTERM);
    ev_signal_init(&a.sigint, signal_cb, SIGINT);
    a.sigterm.data = a.sigint.data = &a;
    ev_signal_start(a.loop, &a.sigterm);
    ev_signal_start(a.loop, &a.sigint);
    kt_info("kotel-ingest %s started", KT_VERSION);
    ev_run(a.loop, 0);
    exit_code = 0;
out:
    server_free(a.srv);
    if (a.pub)
        publisher_free(a.pub);
    kt_config_free(&ingest_conf_schema, &a.conf);
    return exit_code;
}
