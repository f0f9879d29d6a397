/* kt_shutdown: the SIGTERM/SIGINT sequence both binaries share. The first signal stops
 * new work and lets what is in flight finish, checked every few milliseconds, for at most
 * [service] shutdown_timeout; a second signal, or the deadline, ends the loop at once. */
#ifndef KT_SHUTDOWN_H
#define KT_SHUTDOWN_H

#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

struct kt_shutdown_ops {
    void (*begin)(void *ctx);     /* stop accepting or fetching; finish what is in flight */
    bool (*drained)(void *ctx);   /* nothing left in flight: the loop may end */
    void (*timed_out)(void *ctx); /* the deadline passed: say what is left */
};

struct kt_shutdown {
    struct ev_loop *loop;
    uint64_t timeout_ms;
    const struct kt_shutdown_ops *ops;
    void *ctx;
    bool started;
    ev_signal sigterm, sigint;
    ev_timer check, deadline;
};

/* Installs the signal watchers on loop. ops and ctx are borrowed. */
void kt_shutdown_init(struct kt_shutdown *s, struct ev_loop *loop, uint64_t timeout_ms,
                      const struct kt_shutdown_ops *ops, void *ctx);

/* The program's own reason to stop (a replay that reached its end): the same sequence as
 * the first signal, logged with why. Does nothing once shutdown has started; a signal
 * after it ends the loop at once. */
void kt_shutdown_begin(struct kt_shutdown *s, const char *why);

#endif
