/* kt_err: the one way kotel functions fail.
 *
 * Every function that can fail returns 0 or a negative KT_E* code. The sentence a user
 * can act on goes into a struct kt_err supplied by the caller, written by the code that
 * knows the context (file and line, request, topic). */
#ifndef KT_ERR_H
#define KT_ERR_H

#include <stddef.h>

#define KT_OK 0
#define KT_EINVAL (-1)    /* bad input: config value, malformed payload */
#define KT_ENOMEM (-2)    /* allocation failed */
#define KT_EIO (-3)       /* system call or library I/O failure */
#define KT_ENOTFOUND (-4) /* no such key, file, route */
#define KT_ETOOBIG (-5)   /* over a configured size bound */
#define KT_EAGAIN (-6)    /* temporarily unavailable: retry later (backpressure, broker down) */
#define KT_EPROTO (-7)    /* protocol violation by a peer */
#define KT_ETIMEDOUT (-8) /* a deadline passed */
#define KT_EUNSUPP (-9)   /* valid but unsupported (media type, encoding) */

#define KT_ERR_MSG_MAX 512

struct kt_err {
    int code;
    char msg[KT_ERR_MSG_MAX];
};

/* Makes err empty (code 0, message ""). Initialising with `= {0}` writes all of its
 * KT_ERR_MSG_MAX bytes: for an error slot made per item and per condition or statement
 * (filter, transform, sampling), that was more work than evaluating a simple condition. */
static inline void kt_err_clear(struct kt_err *err)
{
    err->code = 0;
    err->msg[0] = '\0';
}

/* Formats the message into err (which may be NULL) and returns code, so callers can write
 * `return kt_err_set(err, KT_EINVAL, "...", ...);`. */
int kt_err_set(struct kt_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with more context ("file.ini:3: " + msg). Returns err->code. */
int kt_err_prefix(struct kt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Rewrites the message with kt_escape_text (kt_codec.h), for a message that quotes untrusted
 * text (a configuration file, an environment variable) and goes to a terminal. A message
 * that grows past KT_ERR_MSG_MAX is cut between characters. */
void kt_err_escape(struct kt_err *err);

/* A short stable name for a code ("EINVAL"), for logs. */
const char *kt_err_name(int code);

#endif
