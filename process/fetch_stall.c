#include "fetch_stall.h"

/* "Near" a bound is three quarters of it. The queue is sampled once per poll round (up to
 * POLL_BATCH messages), so when a round starts it may have drained a little since it was at
 * the bound; a fetch response can also stop short of the bound by less than its own size
 * and still leave the fetcher stopped at the next response. */
#define NEAR_NUM 3
#define NEAR_DEN 4

static bool near(uint64_t n, uint64_t cap)
{
    return cap > 0 && n * NEAR_DEN >= cap * NEAR_NUM;
}

void fetch_stall_init(struct fetch_stall *s, uint64_t cap_kbytes, uint64_t cap_msgs)
{
    *s = (struct fetch_stall){.cap_bytes = cap_kbytes * 1024, .cap_msgs = cap_msgs};
}

void fetch_stall_queued(struct fetch_stall *s, size_t queued)
{
    s->near_msgs |= near(queued, s->cap_msgs);
    s->near_bytes |= near((uint64_t)queued * s->avg_len, s->cap_bytes);
}

bool fetch_stall_take(struct fetch_stall *s)
{
    bool wake = (s->near_msgs && near(s->polled_msgs, s->cap_msgs)) ||
                (s->near_bytes && near(s->polled_bytes, s->cap_bytes));
    s->near_bytes = s->near_msgs = false;
    if (wake)
        s->polled_bytes = s->polled_msgs = 0;
    return wake;
}

void fetch_wait_init(struct fetch_wait *w)
{
    *w = (struct fetch_wait){0};
    kt_hist_init(&w->hist, kt_hist_latency_bounds, kt_hist_latency_n);
}

void fetch_wait_end(struct fetch_wait *w, double now)
{
    if (w->since == 0)
        return;
    double d = now > w->since ? now - w->since : 0;
    w->since = 0;
    w->n++;
    kt_hist_observe(&w->hist, d);
    if (d > w->longest)
        w->longest = d;
}
