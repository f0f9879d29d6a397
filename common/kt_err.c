#include "kt_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kt_codec.h"

int kt_err_set(struct kt_err *err, int code, const char *fmt, ...)
{
    if (err == NULL)
        return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int kt_err_prefix(struct kt_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return KT_EINVAL;
    char prefix[KT_ERR_MSG_MAX];
    char old[KT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    size_t n = strnlen(prefix, sizeof(prefix));
    if (n >= sizeof(err->msg))
        n = sizeof(err->msg) - 1;
    memcpy(err->msg, prefix, n);
    size_t m = strnlen(old, sizeof(old));
    if (m > sizeof(err->msg) - 1 - n)
        m = sizeof(err->msg) - 1 - n;
    memcpy(err->msg + n, old, m);
    err->msg[n + m] = '\0';
    return err->code;
}

void kt_err_escape(struct kt_err *err)
{
    if (err == NULL)
        return;
    char raw[KT_ERR_MSG_MAX];
    memcpy(raw, err->msg, sizeof(raw));
    kt_escape_text(raw, strnlen(raw, sizeof(raw)), err->msg, sizeof(err->msg));
}

const char *kt_err_name(int code)
{
    switch (code) {
    case KT_OK: return "OK";
    case KT_EINVAL: return "EINVAL";
    case KT_ENOMEM: return "ENOMEM";
    case KT_EIO: return "EIO";
    case KT_ENOTFOUND: return "ENOTFOUND";
    case KT_ETOOBIG: return "ETOOBIG";
    case KT_EAGAIN: return "EAGAIN";
    case KT_EPROTO: return "EPROTO";
    case KT_ETIMEDOUT: return "ETIMEDOUT";
    case KT_EUNSUPP: return "EUNSUPP";
    default: return "EUNKNOWN";
    }
}
