/* kt_admin: the small HTTP server of a tier's [admin] endpoint (/metrics, /healthz,
 * /readyz, /status), on the tier's own event loop.
 *
 * It answers GET and HEAD with one response per connection (Connection: close), reads at
 * most KT_ADMIN_REQUEST_MAX bytes of request head, closes a client that has not sent one
 * within KT_ADMIN_TIMEOUT_S, and holds at most KT_ADMIN_CONNECTIONS connections: a
 * scraper or a browser cannot hold the loop or memory that the data path needs. A handler
 * runs on the loop and must not block. */
#ifndef KT_ADMIN_H
#define KT_ADMIN_H

#include <ev.h>

#include "kt_buf.h"
#include "kt_err.h"

#define KT_ADMIN_REQUEST_MAX 8192
#define KT_ADMIN_TIMEOUT_S 10.0
#define KT_ADMIN_CONNECTIONS 16

struct kt_admin;

/* The [admin] row of a tier's option table (struct kt_option), for a conf struct T holding
 * it as .admin.endpoint; the tiers differ in the default port only. */
/* clang-format off */
#define KT_ADMIN_OPTION(T, default_endpoint)                                                       \
    {"admin", "endpoint", KT_OPT_STRING, default_endpoint, offsetof(T, admin.endpoint), NULL, 0, \
     "Where /metrics (Prometheus), /healthz, /readyz and /status (a live page for people, its "  \
     "data at /status.json) are served (host:port; port 0: any free one, logged at start); "     \
     "empty: nowhere."}
/* clang-format on */

/* What a handler sees of a request (borrowed for the call). */
struct kt_admin_req {
    const char *path;  /* without the query */
    const char *query; /* after '?', "" when none */
};

/* What a handler fills in: status (200 unless set), content_type (a static string;
 * text/plain unless set) and body. */
struct kt_admin_resp {
    int status;
    const char *content_type;
    struct kt_buf body;
};

typedef void (*kt_admin_fn)(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp);

/* Listens on endpoint ("host:port"; port 0: one the system picks) on loop (borrowed, must
 * outlive the server), serving /healthz (200 {"status":"ok"} while the loop runs) from the
 * start. what names the option in errors, e.g. "[admin] endpoint". */
int kt_admin_new(struct ev_loop *loop, const char *endpoint, const char *what,
                 struct kt_admin **out, struct kt_err *err);
/* Closes the listener and every connection. NULL is ignored. */
void kt_admin_free(struct kt_admin *a);
/* The port it listens on. */
int kt_admin_port(const struct kt_admin *a);

/* A tier's pages: each called with the tier's ctx. */
struct kt_admin_pages {
    kt_admin_fn metrics;     /* /metrics */
    kt_admin_fn readyz;      /* /readyz */
    kt_admin_fn status;      /* /status: kt_status_page (kt_status.h) */
    kt_admin_fn status_json; /* /status.json (kt_status.h) */
};

/* A tier's [admin] endpoint: kt_admin_new on endpoint with pages served with ctx (borrowed),
 * logged once it listens. An empty or NULL endpoint serves nothing: 0 with *out NULL. Errors
 * name "[admin] endpoint". */
int kt_admin_serve(struct ev_loop *loop, const char *endpoint, const struct kt_admin_pages *pages,
                   void *ctx, struct kt_admin **out, struct kt_err *err);

/* A readiness answer: 200 {"ready":true} when why is NULL, else 503
 * {"ready":false,"reason":why} (JSON-escaped). */
void kt_admin_readiness(struct kt_admin_resp *resp, const char *why);

/* Serves path (exact match) with fn(ctx, ...). Returns 0, KT_ENOMEM or KT_EINVAL (too many
 * routes). ctx is borrowed. */
int kt_admin_route(struct kt_admin *a, const char *path, kt_admin_fn fn, void *ctx);

#endif
