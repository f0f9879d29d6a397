#include "admin.h"

#include "kt_admin.h"
#include "kt_prom.h"

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

int admin_serve(struct ev_loop *loop, const struct admin_parts *parts, struct kt_admin **out,
                struct kt_err *err)
{
    return kt_admin_serve(loop, parts->conf->admin.endpoint, metrics_page, readyz_page,
                          (void *)parts, out, err);
}
