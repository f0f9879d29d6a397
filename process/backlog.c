#include "backlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void backlog_init(struct backlog *b, uint64_t threshold)
{
    memset(b, 0, sizeof(*b));
    b->threshold = threshold;
    b->view.eta_s = -1;
    b->view.state = BACKLOG_BELOW_THRESHOLD;
}

void backlog_restart(struct backlog *b)
{
    b->have_prev = false;
}

static void format_rate(double r, char *buf, size_t cap)
{
    snprintf(buf, cap, r >= 10 ? "%.0f" : "%.1f", r);
}

static void format_eta(double s, char *buf, size_t cap)
{
    if (s < 90)
        snprintf(buf, cap, "~%.0f s", s);
    else if (s < 90 * 60)
        snprintf(buf, cap, "~%.0f min", s / 60);
    else
        snprintf(buf, cap, "~%.1f h", s / 3600);
}

/* " (most lag: topic [p] N)" or "" */
static void format_top(const struct backlog_sample *s, char *buf, size_t cap)
{
    if (s->top_topic == NULL || s->top_lag == 0)
        buf[0] = '\0';
    else
        snprintf(buf, cap, " (most lag: %s [%" PRId32 "] %" PRIu64 ")", s->top_topic,
                 s->top_partition, s->top_lag);
}

static void progress_line(const struct backlog *b, const struct backlog_sample *s, char *line,
                          size_t cap)
{
    char top[320], rate[32], eta[32];
    format_top(s, top, sizeof(top));
    const char *pl = s->partitions == 1 ? "" : "s";
    if (s->paused) {
        snprintf(line, cap,
                 "backlog: ~%" PRIu64 " messages behind on %" PRIu32 " partition%s (as of the "
                 "last fetch): consumption is paused by backpressure (the backend is slow or "
                 "failing, or [kafka] max_pending_messages is reached), so there is no drain "
                 "rate%s",
                 s->lag, s->partitions, pl, top);
    } else if (!b->have_rate) {
        snprintf(line, cap,
                 "backlog: %" PRIu64 " messages behind on %" PRIu32
                 " partition%s, drain rate not known yet%s",
                 s->lag, s->partitions, pl, top);
    } else if (b->rate <= 0) {
        format_rate(-b->rate, rate, sizeof(rate));
        snprintf(line, cap,
                 "backlog: %" PRIu64 " messages behind on %" PRIu32
                 " partition%s, not draining: lag grew by %s msg/s%s",
                 s->lag, s->partitions, pl, rate, top);
    } else {
        format_rate(b->rate, rate, sizeof(rate));
        format_eta(b->view.eta_s, eta, sizeof(eta));
        snprintf(line, cap,
                 "backlog: %" PRIu64 " messages behind on %" PRIu32
                 " partition%s, draining at %s msg/s, ETA %s%s",
                 s->lag, s->partitions, pl, rate, eta, top);
    }
}

static void update_rate(struct backlog *b, const struct backlog_sample *s)
{
    double dt = s->now - b->prev_now;
    if (b->have_prev && !s->paused && s->compared > 0 && dt > 0) {
        double inst = (double)s->decrease / dt;
        if (!b->have_rate)
            b->rate = inst;
        else
            /* An exponential moving average over irregular intervals: dt / (tau + dt) is
             * 1 - e^(-dt/tau) to first order, and stays in (0, 1). */
            b->rate += (inst - b->rate) * (dt / (BACKLOG_SMOOTH_S + dt));
        b->have_rate = true;
    }
    /* A paused lag is as of the last fetch: neither its change nor the next one (the first
     * after fresh fetches) says how fast the backlog drains. */
    b->have_prev = !s->paused;
    b->prev_now = s->now;
}

void backlog_sample_add(struct backlog_sample *s, struct backlog_part *prev, int64_t lag,
                        enum backlog_lag_from from, const char *topic, int32_t partition)
{
    s->lag += (uint64_t)lag;
    s->partitions += lag > 0;
    if ((uint64_t)lag > s->top_lag) {
        s->top_lag = (uint64_t)lag;
        s->top_topic = topic;
        s->top_partition = partition;
    }
    if (from != BACKLOG_FROM_FETCH && prev->from != 0 && prev->from != BACKLOG_FROM_FETCH) {
        s->decrease += prev->lag - lag;
        s->compared++;
    }
    prev->lag = lag;
    prev->from = (uint8_t)from;
}

bool backlog_sample(struct backlog *b, const struct backlog_sample *s, char *line, size_t cap)
{
    update_rate(b, s);
    struct backlog_view *v = &b->view;
    v->known = true;
    v->lag = s->lag;
    v->partitions = s->partitions;
    v->paused = s->paused;
    v->rate_per_s = b->have_rate ? b->rate : 0;
    v->eta_s = b->have_rate && b->rate > 0 && !s->paused ? (double)s->lag / b->rate : -1;
    if (b->threshold == 0)
        return false;
    if (s->lag > b->threshold) {
        v->state = BACKLOG_DRAINING;
        if (b->reported && s->now - b->last_report < BACKLOG_REPORT_S)
            return false;
        b->reported = true;
        b->last_report = s->now;
        progress_line(b, s, line, cap);
        return true;
    }
    if (v->state != BACKLOG_DRAINING)
        return false;
    v->state = BACKLOG_DRAINED;
    b->reported = false;
    snprintf(line, cap,
             "backlog drained: %" PRIu64 " messages behind on %" PRIu32
             " partition%s ([kafka] lag_report_threshold %" PRIu64
             "); if [kafka] initial_offset = earliest was set for the first start, switching it "
             "to latest is now safe: committed offsets take precedence either way, and "
             "initial_offset only applies to a partition without one (added later, or its "
             "committed offset deleted by retention)",
             s->lag, s->partitions, s->partitions == 1 ? "" : "s", b->threshold);
    return true;
}

void backlog_get_view(const struct backlog *b, struct backlog_view *out)
{
    *out = b->view;
}

int64_t backlog_partition_lag(const struct backlog_offsets *o, enum backlog_lag_from *from)
{
    *from = BACKLOG_FROM_STORED;
    if (o->lag_stored >= 0)
        return o->lag_stored;
    *from = BACKLOG_FROM_COMMITTED;
    if (o->lag_committed >= 0)
        return o->lag_committed;
    if (o->hi < 0)
        return -1;
    *from = BACKLOG_FROM_POSITION;
    if (o->position >= 0)
        return o->position <= o->hi ? o->hi - o->position : 0;
    *from = BACKLOG_FROM_LOG_START;
    if (o->from_earliest)
        return o->lo >= 0 && o->lo <= o->hi ? o->hi - o->lo : -1;
    *from = BACKLOG_FROM_FETCH;
    if (o->next < 0 || o->next > o->hi)
        return -1;
    int64_t lag = o->hi - o->next + (o->fetchq > 0 ? o->fetchq : 0);
    /* fetchq_cnt counts librdkafka's queued events, not only messages: never more than the
     * partition holds. */
    if (o->lo >= 0 && o->lo <= o->hi && lag > o->hi - o->lo)
        lag = o->hi - o->lo;
    return lag;
}
