#include "admin.h"

#include <stdlib.h>

#include "kt_admin.h"
#include "kt_log.h"
#include "kt_prom.h"

/* Room for a /readyz reason (a group name, a topic, the backend's endpoint and error). */
#define REASON_MAX 1024

struct admin {
    struct admin_parts parts;
    struct kt_admin *http;
};

static void metrics_page(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp)
{
    (void)req;
    const struct admin *a = ctx;
    struct kt_buf *b = &resp->body;
    resp->content_type = KT_PROM_CONTENT_TYPE;
    kt_prom_family(b, "kotel_build_info", "gauge", "The kotel build running: always 1.");
    kt_buf_printf(b, "kotel_build_info{tier=\"process\",version=\"%s\"} 1\n", KT_VERSION);
    pipeline_write_metrics(a->parts.pipe, b);
    char why[REASON_MAX];
    kt_prom_family(b, "kotel_process_ready", "gauge",
                   "1 when partitions are assigned and the backend answers, else 0 (see /readyz).");
    kt_prom_u64(b, "kotel_process_ready", NULL,
                pipeline_not_ready(a->parts.pipe, why, sizeof(why)) == NULL);
    kt_prom_process(b);
}

static void readyz_page(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp)
{
    (void)req;
    const struct admin *a = ctx;
    char buf[REASON_MAX];
    const char *why = pipeline_not_ready(a->parts.pipe, buf, sizeof(buf));
    kt_admin_readiness(resp, why);
}

int admin_new(struct ev_loop *loop, const struct admin_parts *parts, struct admin **out,
              struct kt_err *err)
{
    *out = NULL;
    const char *ep = parts->conf->admin.endpoint;
    if (ep == NULL || ep[0] == '\0')
        return 0;
    struct admin *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    a->parts = *parts;
    int rc = kt_admin_new(loop, ep, "[admin] endpoint", &a->http, err);
    if (rc == 0 && (kt_admin_route(a->http, "/metrics", metrics_page, a) != 0 ||
                    kt_admin_route(a->http, "/readyz", readyz_page, a) != 0))
        rc = kt_err_set(err, KT_ENOMEM, "out of memory");
    if (rc != 0) {
        admin_free(a);
        return rc;
    }
    kt_info("admin: /metrics, /healthz and /readyz on %s (port %d)", ep, kt_admin_port(a->http));
    *out = a;
    return 0;
}

void admin_free(struct admin *a)
{
    if (a == NULL)
        return;
    kt_admin_free(a->http);
    free(a);
}
