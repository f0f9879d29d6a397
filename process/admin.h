/* admin: kotel-process's [admin] endpoint: /metrics in the Prometheus text format, /healthz,
 * /readyz and /status, served on the process loop by kt_admin. */
#ifndef PROCESS_ADMIN_H
#define PROCESS_ADMIN_H

#include <ev.h>

#include "conf.h"
#include "kt_admin.h"
#include "kt_err.h"
#include "pipeline.h"

/* The parts whose state the pages show; borrowed, they must outlive the admin server. */
struct admin_parts {
    const struct process_conf *conf;
    struct pipeline *pipe;
};

/* Serves [admin] endpoint (*out NULL when it is empty) until kt_admin_free(*out); parts is
 * borrowed by the pages and must outlive the server. Errors name the option. */
int admin_serve(struct ev_loop *loop, const struct admin_parts *parts, struct kt_admin **out,
                struct kt_err *err);

#endif
