#include "admin.h"

#include <stdlib.h>

#include "kt_admin.h"
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
    struct admin *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    a->parts = *parts;
    int rc = kt_admin_serve(loop, parts->conf->admin.endpoint, metrics_page, readyz_page, a,
                            &a->http, err);
    if (rc != 0 || a->http == NULL) {
        free(a);
        return rc;
    }
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
