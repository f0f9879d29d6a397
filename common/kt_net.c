#include "kt_net.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int split_endpoint(const char *ep, char *host, size_t hcap, char *port, size_t pcap)
{
    const char *colon;
    if (ep[0] == '[') {
        const char *end = strchr(ep, ']');
        if (end == NULL || end[1] != ':')
            return -1;
        snprintf(host, hcap, "%.*s", (int)(end - ep - 1), ep + 1);
        colon = end + 1;
    } else {
        colon = strrchr(ep, ':');
        if (colon == NULL)
            return -1;
        snprintf(host, hcap, "%.*s", (int)(colon - ep), ep);
    }
    if (colon[1] == '\0')
        return -1;
    snprintf(port, pcap, "%s", colon + 1);
    return 0;
}

int kt_net_listen(const char *ep, int backlog, int *fd_out, int *port_out, struct kt_err *err)
{
    char host[128], port[16];
    if (split_endpoint(ep, host, sizeof(host), port, sizeof(port)) != 0)
        return kt_err_set(err, KT_EINVAL, "endpoint '%s': want host:port", ep);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gr = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (gr != 0)
        return kt_err_set(err, KT_EINVAL, "endpoint '%s': %s", ep, gai_strerror(gr));
    int fd = -1, rc = 0;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        rc = kt_err_set(err, KT_EIO, "endpoint '%s': socket: %s", ep, strerror(errno));
        goto out;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        rc = kt_err_set(err, KT_EIO, "endpoint '%s': bind: %s", ep, strerror(errno));
        goto out;
    }
    if (listen(fd, backlog) != 0) {
        rc = kt_err_set(err, KT_EIO, "endpoint '%s': listen: %s", ep, strerror(errno));
        goto out;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port_out = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *fd_out = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return rc;
}
