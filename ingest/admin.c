#include "admin.h"

#include "kt_admin.h"
#include "kt_prom.h"
#include "kt_status.h"

/* The receiver's connection counters, each a counter family of its own. */
static void write_server(struct kt_buf *b, const struct srv_stats *st)
{
    kt_prom_family(b, "kotel_ingest_connections_open", "gauge", "Client connections open.");
    kt_prom_u64(b, "kotel_ingest_connections_open", NULL, st->connections_open);
    kt_prom_family(b, "kotel_ingest_connections_accepted_total", "counter",
                   "Client connections accepted.");
    kt_prom_u64(b, "kotel_ingest_connections_accepted_total", NULL, st->connections_accepted);
    kt_prom_family(b, "kotel_ingest_connections_refused_total", "counter",
                   "Connections closed on accept, by reason: at [receiver] max_connections, at "
                   "max_connections_per_peer, out of file descriptors.");
    kt_prom_u64(b, "kotel_ingest_connections_refused_total", "reason=\"max_connections\"",
                st->refused_max_connections);
    kt_prom_u64(b, "kotel_ingest_connections_refused_total", "reason=\"max_connections_per_peer\"",
                st->refused_per_peer);
    kt_prom_u64(b, "kotel_ingest_connections_refused_total", "reason=\"no_descriptor\"",
                st->refused_no_descriptor);
    kt_prom_family(b, "kotel_ingest_connections_closed_total", "counter",
                   "Connections kotel-ingest closed, by reason: idle the longest to make room, "
                   "idle_timeout, header_timeout, body_timeout, a header section over "
                   "max_header_bytes, HTTP/2 floods and protocol errors, failed TLS handshakes.");
    const struct {
        const char *reason;
        uint64_t v;
    } closed[] = {
        {"evicted_idle", st->evicted_idle},
        {"idle_timeout", st->idle_timeouts},
        {"header_timeout", st->header_timeouts},
        {"body_timeout", st->body_timeouts},
        {"header_too_large", st->header_too_large},
        {"h2_reset_flood", st->h2_reset_floods},
        {"h2_continuation_flood", st->h2_continuation_floods},
        {"h2_protocol_error", st->h2_protocol_errors},
        {"tls_handshake_failed", st->tls_handshake_failures},
    };
    char labels[64];
    for (size_t i = 0; i < sizeof(closed) / sizeof(closed[0]); i++) {
        snprintf(labels, sizeof(labels), "reason=\"%s\"", closed[i].reason);
        kt_prom_u64(b, "kotel_ingest_connections_closed_total", labels, closed[i].v);
    }
}

static void metrics_page(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp)
{
    (void)req;
    const struct admin_parts *a = ctx;
    struct kt_buf *b = &resp->body;
    resp->content_type = KT_PROM_CONTENT_TYPE;
    kt_prom_family(b, "kotel_build_info", "gauge", "The kotel build running: always 1.");
    kt_buf_printf(b, "kotel_build_info{tier=\"ingest\",version=\"%s\"} 1\n", KT_VERSION);
    otlp_service_metrics(a->svc, b);
    struct srv_stats ss;
    server_get_stats(a->srv, &ss);
    write_server(b, &ss);
    publisher_metrics(a->pub, b);
    kt_prom_process(b);
}

static void readyz_page(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp)
{
    (void)req;
    const struct admin_parts *a = ctx;
    const char *why = publisher_refusing(a->pub);
    kt_admin_readiness(resp, why);
}

/* The stages of /status: receiver -> Kafka producer [-> spool], from the counters /metrics
 * shows. */
static void status_json(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp)
{
    (void)req;
    const struct admin_parts *a = ctx;
    struct otlp_service_stats sv;
    struct srv_stats ss;
    struct publisher_stats ps;
    otlp_service_get_stats(a->svc, &sv);
    server_get_stats(a->srv, &ss);
    publisher_get_stats(a->pub, &ps);
    json_t *o = kt_status_new("ingest", publisher_refusing(a->pub), &ingest_conf_schema, a->conf);
    uint64_t conn_refused =
        ss.refused_max_connections + ss.refused_per_peer + ss.refused_no_descriptor;
    uint64_t conn_errors = ss.header_too_large + ss.h2_reset_floods + ss.h2_continuation_floods +
                           ss.h2_protocol_errors + ss.tls_handshake_failures;
    json_t *st = kt_status_stage(o, "receiver", "items", sv.items_received, sv.items_accepted,
                                 sv.refused_over_limit + sv.refused_unauthenticated +
                                     ps.requests_refused + conn_refused,
                                 conn_errors);
    kt_status_count(st, "requests", sv.requests);
    kt_status_count(st, "items refused", sv.items_refused);
    kt_status_count(st, "refused: over a limit", sv.refused_over_limit);
    kt_status_count(st, "refused: unauthenticated", sv.refused_unauthenticated);
    kt_status_count(st, "refused: Kafka unavailable", ps.requests_refused);
    kt_status_count(st, "connections refused", conn_refused);
    kt_status_gauge(st, "connections open", ss.connections_open);
    st = kt_status_stage(o, "Kafka producer", "messages", ps.messages_produced,
                         ps.messages_delivered, 0, ps.messages_failed);
    kt_status_gauge(st, "in flight", ps.messages_in_flight);
    if (a->conf->spool.dir != NULL && a->conf->spool.dir[0] != '\0')
        kt_status_stage(o, "spool", "messages", ps.messages_spooled, ps.messages_drained, 0, 0);
    kt_status_respond(resp, o);
}

int admin_serve(struct ev_loop *loop, const struct admin_parts *parts, struct kt_admin **out,
                struct kt_err *err)
{
    static const struct kt_admin_pages pages = {
        .metrics = metrics_page,
        .readyz = readyz_page,
        .status = kt_status_page,
        .status_json = status_json,
    };
    return kt_admin_serve(loop, parts->conf->admin.endpoint, &pages, (void *)parts, out, err);
}
