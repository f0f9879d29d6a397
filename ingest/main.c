/* kotel-ingest: OTLP in (gRPC and HTTP), Kafka out. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <ev.h>

#include "admin.h"
#include "auth.h"
#include "conf.h"
#include "kt_cli.h"
#include "kt_kafka_probe.h"
#include "kt_log.h"
#include "kt_shutdown.h"
#include "otlp_service.h"
#include "publisher.h"
#include "server.h"

struct app {
    struct ingest_conf conf;
    struct publisher *pub;
    struct auth *auth;
    struct otlp_service *svc;
    struct server *srv;
    struct admin_parts admin_parts; /* borrowed by the admin pages */
    struct kt_admin *admin;
};

static void begin(void *ctx)
{
    struct app *a = ctx;
    server_stop_accepting(a->srv);
    publisher_begin_shutdown(a->pub);
}

static bool drained(void *ctx)
{
    struct app *a = ctx;
    if (!server_idle(a->srv) || !publisher_idle(a->pub))
        return false;
    kt_info("every accepted request is answered and the producer is empty; exiting");
    return true;
}

static void timed_out(void *ctx)
{
    struct app *a = ctx;
    struct publisher_stats st;
    publisher_get_stats(a->pub, &st);
    kt_warn("[service] shutdown_timeout (%llums) passed with work in flight (%llu messages "
            "produced, %llu delivered, %llu failed); the clients still waiting get "
            "UNAVAILABLE and will retry",
            (unsigned long long)a->conf.service.shutdown_timeout_ms,
            (unsigned long long)st.messages_produced, (unsigned long long)st.messages_delivered,
            (unsigned long long)st.messages_failed);
}

/* The exit summary of what the receiver refused or cut short (there is no metrics endpoint
 * yet): one line, every counter named after its setting. */
static void log_server_stats(const struct server *srv)
{
    struct srv_stats st;
    server_get_stats(srv, &st);
    kt_info("receiver: connections refused: %llu at max_connections, %llu at "
            "max_connections_per_peer, %llu out of descriptors; %llu idle ones closed for new "
            "ones; timeouts: %llu idle, %llu header, %llu body; %llu header sections over "
            "max_header_bytes; HTTP/2: %llu rapid reset floods, %llu CONTINUATION floods, %llu "
            "protocol errors; %llu TLS handshakes failed",
            (unsigned long long)st.refused_max_connections, (unsigned long long)st.refused_per_peer,
            (unsigned long long)st.refused_no_descriptor, (unsigned long long)st.evicted_idle,
            (unsigned long long)st.idle_timeouts, (unsigned long long)st.header_timeouts,
            (unsigned long long)st.body_timeouts, (unsigned long long)st.header_too_large,
            (unsigned long long)st.h2_reset_floods, (unsigned long long)st.h2_continuation_floods,
            (unsigned long long)st.h2_protocol_errors,
            (unsigned long long)st.tls_handshake_failures);
}

/* SIGHUP: certificates, keys and tokens are read again. */
static void sighup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    struct app *a = w->data;
    server_reload_tls(a->srv, "SIGHUP");
    auth_reload(a->auth, "SIGHUP");
}

static const struct kt_shutdown_ops shutdown_ops = {begin, drained, timed_out};

/* The startup check: bad credentials, an untrusted broker, a protocol_version newer than the
 * cluster or a missing topic stop ingest here, before it accepts data it could not deliver.
 * A cluster that does not answer in time is only warned about: ingest refuses requests
 * (503) until it does, as after any outage. */
static int check_kafka(const struct ingest_conf *c, struct kt_err *err)
{
    const struct kt_kafka_common common = {
        .brokers = &c->kafka.brokers,
        .client_id = c->kafka.client_id,
        .protocol_version = c->kafka.protocol_version,
        .auth = &c->kafka.auth,
    };
    const char *topics[] = {c->kafka.traces_topic, c->kafka.metrics_topic, c->kafka.logs_topic};
    const char *keys[] = {"traces_topic", "metrics_topic", "logs_topic"};
    const struct kt_kafka_probe_opts o = {
        .kafka = &common,
        .rdkafka = &c->kafka.rdkafka,
        .timeout_ms = c->kafka.connect_timeout_ms,
        .topics = topics,
        .topic_keys = keys,
        .n_topics = sizeof(topics) / sizeof(topics[0]),
        .topics_required = true,
        /* as the producer: its first message to a topic may create it */
        .allow_auto_create = true,
    };
    struct kt_kafka_probe_result res;
    int rc = kt_kafka_probe(&o, &res, err);
    if (rc == KT_ETIMEDOUT) {
        if (c->spool.dir != NULL && c->spool.dir[0] != '\0')
            kt_warn("%s; starting anyway: requests are spooled to [spool] dir until Kafka "
                    "answers",
                    err->msg);
        else
            kt_warn("%s; starting anyway: requests are refused (503 / UNAVAILABLE) until Kafka "
                    "answers",
                    err->msg);
        return 0;
    }
    return rc;
}

int main(int argc, char **argv)
{
    static struct app a;
    static struct kt_shutdown sd;
    static ev_signal hup;
    int rc = kt_cli_run(&ingest_conf_schema, &a.conf, argc, argv);
    if (rc != KT_CLI_RUN) {
        kt_config_free(&ingest_conf_schema, &a.conf);
        return rc == KT_CLI_EXIT0 ? 0 : 2;
    }
    kt_log_set_level((enum kt_log_level)a.conf.log.level);
    kt_log_set_format((enum kt_log_format)a.conf.log.format);
    signal(SIGPIPE, SIG_IGN);
    struct ev_loop *loop = ev_default_loop(EVFLAG_AUTO);
    struct kt_err err = {0};
    int exit_code = 1;
    /* Bad key material or tokens stop the start before Kafka is asked anything. */
    if (server_check_tls(&a.conf, &err) != 0 || auth_check_conf(&a.conf, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    if (check_kafka(&a.conf, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    if (publisher_new(&a.conf, loop, &a.pub, &err) != 0) {
        kt_error("kafka producer: %s", err.msg);
        goto out;
    }
    if (auth_new(&a.conf, loop, &a.auth, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    if (otlp_service_new(&a.conf, a.pub, a.auth, &a.svc, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    const struct srv_service svc = otlp_service_callbacks(a.svc);
    if (server_new(&a.conf, loop, &svc, &a.srv, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    a.admin_parts = (struct admin_parts){.conf = &a.conf, .srv = a.srv, .svc = a.svc, .pub = a.pub};
    if (admin_serve(loop, &a.admin_parts, &a.admin, &err) != 0) {
        kt_error("%s", err.msg);
        goto out;
    }
    kt_shutdown_init(&sd, loop, a.conf.service.shutdown_timeout_ms, &shutdown_ops, &a);
    ev_signal_init(&hup, sighup_cb, SIGHUP);
    hup.data = &a;
    ev_signal_start(loop, &hup);
    kt_info("kotel-ingest %s started", KT_VERSION);
    ev_run(loop, 0);
    ev_signal_stop(loop, &hup);
    log_server_stats(a.srv);
    exit_code = 0;
out:
    /* The server first: closing its connections abandons their requests in the service,
     * which cancels their tickets in the publisher. */
    kt_admin_free(a.admin);
    server_free(a.srv);
    otlp_service_free(a.svc);
    auth_free(a.auth);
    if (a.pub)
        publisher_free(a.pub);
    kt_config_free(&ingest_conf_schema, &a.conf);
    return exit_code;
}
