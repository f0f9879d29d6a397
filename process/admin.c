#include "admin.h"

#include <jansson.h>

#include "consumer.h"
#include "exporter.h"
#include "kt_admin.h"
#include "kt_prom.h"
#include "kt_status.h"
#include "tail_sampler.h"

/* Room for a /readyz reason (a group name, a topic, the backend's endpoint and error). */
#define REASON_MAX 1024

static void metrics_page(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp)
{
    (void)req;
    const struct admin_parts *a = ctx;
    struct kt_buf *b = &resp->body;
    resp->content_type = KT_PROM_CONTENT_TYPE;
    kt_prom_family(b, "kotel_build_info", "gauge", "The kotel build running: always 1.");
    kt_buf_printf(b, "kotel_build_info{tier=\"process\",version=\"%s\"} 1\n", KT_VERSION);
    pipeline_write_metrics(a->pipe, b);
    char why[REASON_MAX];
    kt_prom_family(b, "kotel_process_ready", "gauge",
                   "1 when partitions are assigned and the backend answers, else 0 (see /readyz).");
    kt_prom_u64(b, "kotel_process_ready", NULL,
                pipeline_not_ready(a->pipe, why, sizeof(why)) == NULL);
    kt_prom_process(b);
}

static void readyz_page(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp)
{
    (void)req;
    const struct admin_parts *a = ctx;
    char buf[REASON_MAX];
    const char *why = pipeline_not_ready(a->pipe, buf, sizeof(buf));
    kt_admin_readiness(resp, why);
}

static void add_lag(void *ctx, const char *topic, int32_t partition, int64_t lag)
{
    json_array_append_new(ctx, json_pack("{s:s,s:i,s:I}", "topic", topic, "partition",
                                         (int)partition, "lag", (json_int_t)lag));
}

/* The backlog box of /status, once statistics gave a lag and while [kafka]
 * lag_report_threshold is on: what the progress lines say. */
static void add_backlog(json_t *o, const struct admin_parts *a)
{
    struct backlog_view bv;
    pipeline_backlog(a->pipe, &bv);
    if (a->conf->kafka.lag_report_threshold == 0 || !bv.known)
        return;
    static const char *const states[] = {
        [BACKLOG_BELOW_THRESHOLD] = "below_threshold",
        [BACKLOG_DRAINING] = "draining",
        [BACKLOG_DRAINED] = "drained",
    };
    json_t *b =
        json_pack("{s:I,s:i,s:f,s:b,s:s,s:I}", "lag", (json_int_t)bv.lag, "partitions",
                  (int)bv.partitions, "rate_per_s", bv.rate_per_s, "paused", bv.paused, "state",
                  states[bv.state], "threshold", (json_int_t)a->conf->kafka.lag_report_threshold);
    if (b != NULL)
        json_object_set_new(b, "eta_s", bv.eta_s >= 0 ? json_real(bv.eta_s) : json_null());
    json_object_set_new(o, "backlog", b);
}

/* The stages of /status: Kafka consumer -> filter -> transform [-> tail sampling] ->
 * exporter, from the counters /metrics shows, and the lag of each partition. */
static void status_json(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp)
{
    (void)req;
    const struct admin_parts *a = ctx;
    struct pipeline_stats ps;
    struct consumer_stats cs;
    struct exporter_stats es;
    const struct consumer *c = pipeline_consumer(a->pipe);
    const struct tail_sampler *ts = pipeline_sampler(a->pipe);
    pipeline_get_stats(a->pipe, &ps);
    consumer_get_stats(c, &cs);
    exporter_get_stats(pipeline_exporter(a->pipe), &es);
    char why[REASON_MAX];
    json_t *o = kt_status_new("process", pipeline_not_ready(a->pipe, why, sizeof(why)),
                              &process_conf_schema, a->conf);

    json_t *st =
        kt_status_stage(o, "Kafka consumer", "items", ps.items_in, ps.items_in, 0, ps.poison);
    kt_status_count(st, "messages", ps.messages);
    kt_status_count(st, "poison messages", ps.poison);
    kt_status_count(st, "dead-lettered", cs.dead_lettered);
    kt_status_gauge(st, "messages pending", consumer_pending(c));
    uint64_t kept = ps.items_in - ps.items_filtered;
    st = kt_status_stage(o, "filter", "items", ps.items_in, kept, 0, ps.filter_errors);
    kt_status_count(st, "dropped", ps.items_filtered);
    kt_status_stage(o, "transform", "items", kept, kept, 0, ps.transform_errors);
    if (ts != NULL) {
        struct tail_sampler_stats ss;
        tail_sampler_get_stats(ts, &ss);
        st = kt_status_stage(o, "tail sampling", "traces", ss.sampled + ss.not_sampled, ss.sampled,
                             0, 0);
        kt_status_count(st, "sampled", ss.sampled);
        kt_status_count(st, "not sampled", ss.not_sampled);
        kt_status_gauge(st, "traces pending", ss.traces_held);
        kt_status_gauge(st, "spans pending", ss.spans_held);
    }
    st = kt_status_stage(o, "exporter", "items", ps.items_exported, es.items_exported,
                         es.items_refused, es.requests_failed);
    kt_status_count(st, "requests sent", es.requests_ok);
    kt_status_count(st, "requests retried", es.requests_retried);
    kt_status_count(st, "requests failed", es.requests_failed);

    json_t *parts = json_array();
    if (parts != NULL)
        consumer_each_lag(c, add_lag, parts);
    json_object_set_new(o, "partitions", parts);
    add_backlog(o, a);
    struct replica_view rv;
    pipeline_replica(a->pipe, &rv);
    json_object_set_new(o, "replicas",
                        json_pack("{s:s?}", "warning", rv.warning[0] ? rv.warning : NULL));
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
