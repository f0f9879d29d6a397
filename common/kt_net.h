/* kt_net: listening sockets for the endpoints the tiers serve ("host:port", "[v6]:port",
 * ":port" for every address). */
#ifndef KT_NET_H
#define KT_NET_H

#include "kt_err.h"

/* Opens a non-blocking, close-on-exec socket listening on endpoint with the given backlog.
 * *fd gets it, *port the port it is bound to (the one the system chose for port 0).
 * Errors say "endpoint 'E': what failed: why". */
int kt_net_listen(const char *endpoint, int backlog, int *fd, int *port, struct kt_err *err);

#endif
