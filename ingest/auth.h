/* auth: bearer-token authentication of kotel-ingest's clients ([receiver.auth]).
 *
 * The tokens come from bearer_token (one, unnamed) or bearer_tokens_file (one per line,
 * `token` or `name:token`, `#` comments). The file is read again on SIGHUP (auth_reload)
 * and when it changes (checked every reload_check_interval on the loop); a file that does
 * not load keeps the tokens before it and the log says which line is wrong.
 *
 * Tokens are kept only as SHA-256 digests, and a presented token is compared with every
 * one of them without stopping early, so how long a check takes tells nothing of how much
 * of a token was right. No token, digest or part of one is ever logged or put in an error
 * message: lines are named by number. */
#ifndef INGEST_AUTH_H
#define INGEST_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "conf.h"
#include "kt_err.h"

/* Longest token accepted in the configuration, and longest name. */
#define AUTH_TOKEN_MAX 256
#define AUTH_NAME_MAX 64

struct auth;

/* What auth_check found. */
enum auth_result {
    AUTH_OK = 0,
    AUTH_MISSING,    /* no Authorization header */
    AUTH_BAD_SCHEME, /* not "<scheme> <token>" */
    AUTH_INVALID,    /* a token no one was given */
};

/* Builds the token set from conf (borrowed, outlives a) and, with a tokens file, watches
 * it on loop. *out is NULL when [receiver.auth] asks for no authentication. Errors name the
 * option, or the file and line, never a token. */
int auth_new(const struct ingest_conf *conf, struct ev_loop *loop, struct auth **out,
             struct kt_err *err);
/* NULL is ignored. */
void auth_free(struct auth *a);

/* Loads conf's tokens as auth_new would and drops them: the startup check. */
int auth_check_conf(const struct ingest_conf *conf, struct kt_err *err);

/* Checks an Authorization header value (value_len bytes, not NUL-terminated; value NULL:
 * no header). On AUTH_OK, *name is the token's name, valid as long as a lives, or NULL
 * for a token without one. */
enum auth_result auth_check(struct auth *a, const char *value, size_t value_len, const char **name);

/* What a refusal tells the client and the log: says what is wrong, never with what. */
const char *auth_result_message(const struct auth *a, enum auth_result r);

/* Reads bearer_tokens_file again (SIGHUP); why names the cause in the log. */
void auth_reload(struct auth *a, const char *why);

#endif
