#include "admin.h"

#include "kt_admin.h"
#include "kt_prom.h"

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

int admin_serve(struct ev_loop *loop, const struct admin_parts *parts, struct kt_admin **out,
                struct kt_err *err)
{
    return kt_admin_serve(loop, parts->conf->admin.endpoint, metrics_page, readyz_page,
                          (void *)parts, out, err);
}
