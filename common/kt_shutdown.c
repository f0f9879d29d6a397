#include "kt_shutdown.h"

#include <signal.h>

#include "kt_log.h"

/* How often a draining process looks whether it is done. */
#define DRAIN_CHECK_SECONDS 0.02

static void check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct kt_shutdown *s = w->data;
    if (s->ops->drained(s->ctx))
        ev_break(loop, EVBREAK_ALL);
}

static void deadline_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct kt_shutdown *s = w->data;
    s->ops->timed_out(s->ctx);
    ev_break(loop, EVBREAK_ALL);
}

static void start(struct kt_shutdown *s)
{
    s->started = true;
    s->ops->begin(s->ctx);
    ev_timer_init(&s->check, check_cb, 0.0, DRAIN_CHECK_SECONDS);
    s->check.data = s;
    ev_timer_start(s->loop, &s->check);
    ev_timer_init(&s->deadline, deadline_cb, (double)s->timeout_ms / 1000.0, 0.);
    s->deadline.data = s;
    ev_timer_start(s->loop, &s->deadline);
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    struct kt_shutdown *s = w->data;
    if (s->started) {
        kt_warn("second signal: exiting now");
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    kt_info("signal %d: shutting down, finishing what is in flight (up to %llums)", w->signum,
            (unsigned long long)s->timeout_ms);
    start(s);
}

void kt_shutdown_begin(struct kt_shutdown *s, const char *why)
{
    if (s->started)
        return;
    kt_info("%s: shutting down, finishing what is in flight (up to %llums)", why,
            (unsigned long long)s->timeout_ms);
    start(s);
}

void kt_shutdown_init(struct kt_shutdown *s, struct ev_loop *loop, uint64_t timeout_ms,
                      const struct kt_shutdown_ops *ops, void *ctx)
{
    s->loop = loop;
    s->timeout_ms = timeout_ms;
    s->ops = ops;
    s->ctx = ctx;
    s->started = false;
    ev_signal_init(&s->sigterm, signal_cb, SIGTERM);
    ev_signal_init(&s->sigint, signal_cb, SIGINT);
    s->sigterm.data = s->sigint.data = s;
    ev_signal_start(loop, &s->sigterm);
    ev_signal_start(loop, &s->sigint);
}
