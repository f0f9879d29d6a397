/* admin: kotel-process's [admin] endpoint: /metrics in the Prometheus text format, /healthz
 * and /readyz, served on the process loop by kt_admin. */
#ifndef PROCESS_ADMIN_H
#define PROCESS_ADMIN_H

#include <ev.h>

#include "conf.h"
#include "kt_err.h"
#include "pipeline.h"

struct admin;

/* The parts whose state the pages show; borrowed, they must outlive the admin server. */
struct admin_parts {
    const struct process_conf *conf;
    struct pipeline *pipe;
};

/* Listens on [admin] endpoint (*out NULL when it is empty). Errors name the option. */
int admin_new(struct ev_loop *loop, const struct admin_parts *parts, struct admin **out,
              struct kt_err *err);
/* NULL is ignored. */
void admin_free(struct admin *a);

#endif
