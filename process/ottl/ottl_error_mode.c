/* OTTL error_mode: what a failed condition or statement does, and ignore's rate-limited
 * logging. */
#include <stdio.h>

#include "kt_log.h"
#include "ottl.h"

int ottl_handle_error(enum ottl_error_mode mode, struct kt_log_limit *rl, int rc,
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
    kt_log_limited(rl, KT_LOG_WARN, "%s", msg);
    return 0;
}
