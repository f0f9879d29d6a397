/* OTTL error_mode: what a failed condition or statement does, and ignore's rate-limited
 * logging. */
#include <stdio.h>
#include <time.h>

#include "kt_log.h"
#include "ottl.h"

#define RL_WINDOW_MS 1000
#define RL_PER_WINDOW 5

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void log_error(struct ottl_ratelimit *rl, const char *msg)
{
    int64_t now = now_ms();
    if (now - rl->window_start_ms >= RL_WINDOW_MS) {
        if (rl->suppressed > 0)
            kt_warn("%lu similar OTTL errors suppressed", rl->suppressed);
        rl->window_start_ms = now;
        rl->in_window = 0;
        rl->suppressed = 0;
    }
    if (rl->in_window >= RL_PER_WINDOW) {
        rl->suppressed++;
        return;
    }
    rl->in_window++;
    kt_warn("%s", msg);
}

int ottl_handle_error(enum ottl_error_mode mode, struct ottl_ratelimit *rl, int rc,
                      const char *section, const char *key, const char *src,
                      const struct kt_err *why, struct kt_err *err)
{
    if (rc == KT_ENOMEM)
        return kt_err_set(err, rc, "[%s] %s: out of memory", section, key);
    if (mode == OTTL_ERR_SILENT)
        return 0;
    char msg[2 * KT_ERR_MSG_MAX];
    snprintf(msg, sizeof(msg), "[%s] %s: '%s': %s", section, key, src, why->msg);
    if (mode == OTTL_ERR_PROPAGATE)
        return kt_err_set(err, KT_EINVAL, "%s", msg);
    log_error(rl, msg);
    return 0;
}
