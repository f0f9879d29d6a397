/* kt_status: the /status page both tiers serve, and the parts of /status.json they share.
 *
 * /status is one self-contained HTML page (common/kt_status_page.html, embedded at build
 * time) that fetches /status.json every 2 s and draws what it holds: the tier's stages with
 * live rates computed from counter deltas, lag per partition, recent warnings and errors,
 * the effective configuration. The same page serves both tiers; it draws whatever keys the
 * JSON has. A tier builds its JSON with kt_status_new, adds its stages (kt_status_stage) and
 * any tier keys ("partitions", "backlog", ...), and answers with kt_status_respond. */
#ifndef KT_STATUS_H
#define KT_STATUS_H

#include <stdint.h>

#include <jansson.h>

#include "kt_admin.h"
#include "kt_config.h"

/* Serves the page (text/html). ctx and req are unused: a kt_admin_fn for kt_admin_route. */
void kt_status_page(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp);

/* A new /status.json object (the caller's, json_decref or kt_status_respond): "tier",
 * "version", "started_at" and "now" (seconds since the epoch), "ready" ({"ready":bool,
 * "reason"} from not_ready: NULL when ready), "errors" (kt_log_recent: [{"at","level",
 * "text"}]), "config" (the text --print-config writes for schema and conf: secrets masked)
 * and an empty "stages" array. NULL when out of memory. */
json_t *kt_status_new(const char *tier, const char *not_ready,
                      const struct kt_config_schema *schema, const void *conf);

/* Appends a stage to status' "stages", in pipeline order: {"name", "unit" (what in and out
 * count: "items", "messages", "traces"), "in", "out", "refused", "errors"}; the page draws
 * the rates of in and out and marks refused and errors when they grow. Returns the stage
 * (borrowed from status) for kt_status_count and kt_status_gauge, or NULL when out of memory
 * (those two ignore a NULL stage). */
json_t *kt_status_stage(json_t *status, const char *name, const char *unit, uint64_t in,
                        uint64_t out, uint64_t refused, uint64_t errors);
/* More numbers of a stage: a counter (the page shows its rate too) or a gauge (its value). */
void kt_status_count(json_t *stage, const char *key, uint64_t v);
void kt_status_gauge(json_t *stage, const char *key, uint64_t v);

/* Answers with status as JSON (application/json) and frees it (takes status; NULL: 500). */
void kt_status_respond(struct kt_admin_resp *resp, json_t *status);

#endif
