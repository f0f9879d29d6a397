#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/sha256.h>

#include "kt_buf.h"
#include "kt_file_stamp.h"
#include "kt_log.h"
#include "kt_secret.h"

#define DIGEST_LEN 32
/* A tokens file is a few lines; a large one is a wrong path. */
#define TOKENS_FILE_MAX (1u << 20)
/* Names are kept for the life of the process (a request authenticated before a reload may
 * still be publishing after it), so their count over all reloads is bounded. */
#define NAMES_MAX 4096

struct token {
    uint8_t digest[DIGEST_LEN];
    const char *name; /* interned in auth->names; NULL: none */
};

struct auth {
    const struct ingest_conf *conf;
    struct ev_loop *loop;
    struct token *tokens;
    size_t n_tokens;
    char **names; /* every name any load gave, never freed before auth_free */
    size_t n_names;
    struct kt_file_stamp stamp;
    ev_timer check;
    char bad_scheme_msg[96];
};

static bool given(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static void digest(const char *p, size_t n, uint8_t out[DIGEST_LEN])
{
    /* SHA-256 cannot fail on memory input; the return value only exists for hardware
     * accelerators. */
    (void)mbedtls_sha256_ret((const unsigned char *)p, n, out, 0);
}

/* RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 * *"=". A token outside it could not be sent in an Authorization header as is. */
static bool is_b64token(const char *p, size_t n)
{
    size_t i = 0;
    for (; i < n; i++) {
        char c = p[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
        if (!ok)
            break;
    }
    if (i == 0)
        return false;
    while (i < n && p[i] == '=')
        i++;
    return i == n;
}

/* Names go into Kafka record headers and logs: plain, short, no separators. */
static bool is_name(const char *p, size_t n)
{
    if (n == 0 || n > AUTH_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_' || c == '@';
        if (!ok)
            return false;
    }
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* The interned copy of name[0..n), added when new. NULL (err set) past NAMES_MAX or out
 * of memory. */
static const char *intern(struct auth *a, const char *name, size_t n, struct kt_err *err)
{
    for (size_t i = 0; i < a->n_names; i++)
        if (strlen(a->names[i]) == n && memcmp(a->names[i], name, n) == 0)
            return a->names[i];
    if (a->n_names == NAMES_MAX) {
        kt_err_set(err, KT_EINVAL,
                   "[receiver.auth] bearer_tokens_file: more than %d distinct names since start; "
                   "restart kotel-ingest to load more",
                   NAMES_MAX);
        return NULL;
    }
    if (a->n_names % 64 == 0) {
        char **grown = realloc(a->names, (a->n_names + 64) * sizeof(*grown));
        if (grown == NULL)
            goto nomem;
        a->names = grown;
    }
    char *copy = strndup(name, n);
    if (copy == NULL)
        goto nomem;
    a->names[a->n_names++] = copy;
    return copy;
nomem:
    kt_err_set(err, KT_ENOMEM, "out of memory");
    return NULL;
}

static int add_token(struct token **v, size_t *n, const char *tok, size_t tok_len, const char *name,
                     struct kt_err *err)
{
    if (*n % 16 == 0) {
        struct token *grown = realloc(*v, (*n + 16) * sizeof(*grown));
        if (grown == NULL)
            return kt_err_set(err, KT_ENOMEM, "out of memory");
        *v = grown;
    }
    struct token *t = &(*v)[(*n)++];
    digest(tok, tok_len, t->digest);
    t->name = name;
    return 0;
}

/* Parses a tokens file (text[0..len)) into *v / *n. Lines name themselves by number; a
 * token is never quoted. */
static int parse_tokens(struct auth *a, const char *path, const char *text, size_t len,
                        struct token **v, size_t *n, struct kt_err *err)
{
    const char *p = text, *end = text + len;
    int rc = 0;
    for (unsigned line = 1; p < end; line++) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *next = eol ? eol + 1 : end;
        if (eol == NULL)
            eol = end;
        while (p < eol && is_space(*p))
            p++;
        while (eol > p && is_space(eol[-1]))
            eol--;
        if (p == eol || *p == '#') {
            p = next;
            continue;
        }
        const char *tok = p, *name = NULL;
        size_t name_len = 0;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon != NULL) {
            name = p;
            name_len = (size_t)(colon - p);
            tok = colon + 1;
            if (!is_name(name, name_len))
                return kt_err_set(err, KT_EINVAL,
                                  "[receiver.auth] bearer_tokens_file %s:%u: the name before ':' "
                                  "must be 1 to %d letters, digits or -._@",
                                  path, line, AUTH_NAME_MAX);
        }
        size_t tok_len = (size_t)(eol - tok);
        if (tok_len > AUTH_TOKEN_MAX || !is_b64token(tok, tok_len))
            return kt_err_set(err, KT_EINVAL,
                              "[receiver.auth] bearer_tokens_file %s:%u: not a bearer token (want "
                              "`token` or `name:token`, the token 1 to %d letters, digits, "
                              "-._~+/ and = at the end)",
                              path, line, AUTH_TOKEN_MAX);
        const char *interned = NULL;
        if (name != NULL && (interned = intern(a, name, name_len, err)) == NULL)
            return err->code;
        size_t before = *n;
        if ((rc = add_token(v, n, tok, tok_len, interned, err)) != 0)
            return rc;
        for (size_t i = 0; i < before; i++)
            if (memcmp((*v)[i].digest, (*v)[before].digest, DIGEST_LEN) == 0)
                return kt_err_set(err, KT_EINVAL,
                                  "[receiver.auth] bearer_tokens_file %s:%u: the same token as an "
                                  "earlier line (each client should have its own)",
                                  path, line);
        p = next;
    }
    if (*n == 0)
        return kt_err_set(err, KT_EINVAL,
                          "[receiver.auth] bearer_tokens_file %s: no tokens (every line is empty "
                          "or a comment); no client could send",
                          path);
    return 0;
}

/* Loads the tokens conf gives into a fresh set; a's set is replaced only on success. */
static int load(struct auth *a, struct kt_err *err)
{
    const struct ingest_conf *c = a->conf;
    struct token *v = NULL;
    size_t n = 0;
    struct kt_buf text = KT_BUF_INIT;
    int rc;
    if (given(c->receiver_auth.bearer_tokens_file)) {
        rc = kt_secret_read_file("[receiver.auth] bearer_tokens_file",
                                 c->receiver_auth.bearer_tokens_file, TOKENS_FILE_MAX, &text, err);
        if (rc == 0)
            rc = parse_tokens(a, c->receiver_auth.bearer_tokens_file, (const char *)text.p,
                              text.len, &v, &n, err);
    } else {
        const char *t = c->receiver_auth.bearer_token;
        size_t len = strlen(t);
        rc = len <= AUTH_TOKEN_MAX && is_b64token(t, len)
                 ? add_token(&v, &n, t, len, NULL, err)
                 : kt_err_set(err, KT_EINVAL,
                              "[receiver.auth] bearer_token: not a bearer token (want 1 to %d "
                              "letters, digits, -._~+/ and = at the end)",
                              AUTH_TOKEN_MAX);
    }
    kt_buf_free(&text);
    if (rc != 0) {
        free(v);
        return rc;
    }
    free(a->tokens);
    a->tokens = v;
    a->n_tokens = n;
    return 0;
}

static int check_options(const struct ingest_conf *c, struct kt_err *err)
{
    const char *scheme = c->receiver_auth.scheme;
    if (given(c->receiver_auth.bearer_token) && given(c->receiver_auth.bearer_tokens_file))
        return kt_err_set(err, KT_EINVAL,
                          "[receiver.auth] bearer_token and bearer_tokens_file are both set; "
                          "keep one (a file can hold the one token too)");
    const char *th = c->receiver_auth.tenant_header;
    if (given(th) && !given(c->receiver_auth.bearer_tokens_file))
        return kt_err_set(err, KT_EINVAL,
                          "[receiver.auth] tenant_header is set without bearer_tokens_file (the "
                          "tenant is the name of a token in that file)");
    if (given(th) && !is_name(th, strlen(th)))
        return kt_err_set(err, KT_EINVAL,
                          "[receiver.auth] tenant_header: want 1 to %d letters, digits or -._@, "
                          "got '%s'",
                          AUTH_NAME_MAX, th);
    if (!is_name(scheme, strlen(scheme)) || strlen(scheme) > 32)
        return kt_err_set(err, KT_EINVAL,
                          "[receiver.auth] scheme: want a word of at most 32 letters (e.g. "
                          "Bearer), got '%s'",
                          scheme);
    return 0;
}

int auth_check_conf(const struct ingest_conf *conf, struct kt_err *err)
{
    struct auth *a = NULL;
    int rc = auth_new(conf, NULL, &a, err);
    auth_free(a);
    return rc;
}

static void check_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    struct auth *a = w->data;
    /* A change is reloaded once: a bad file is not retried until it changes again. */
    if (kt_file_stamp_update(&a->stamp, a->conf->receiver_auth.bearer_tokens_file))
        auth_reload(a, "[receiver.auth] bearer_tokens_file changed");
}

int auth_new(const struct ingest_conf *conf, struct ev_loop *loop, struct auth **out,
             struct kt_err *err)
{
    *out = NULL;
    int rc = check_options(conf, err);
    if (rc != 0)
        return rc;
    if (!given(conf->receiver_auth.bearer_token) && !given(conf->receiver_auth.bearer_tokens_file))
        return 0;
    struct auth *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    a->conf = conf;
    a->loop = loop;
    snprintf(a->bad_scheme_msg, sizeof(a->bad_scheme_msg),
             "authentication failed: want Authorization: %s <token>", conf->receiver_auth.scheme);
    kt_file_stamp_update(&a->stamp, conf->receiver_auth.bearer_tokens_file);
    if ((rc = load(a, err)) != 0) {
        auth_free(a);
        return rc;
    }
    if (loop != NULL && given(conf->receiver_auth.bearer_tokens_file)) {
        double every = (double)conf->receiver_auth.reload_check_ms / 1000.0;
        ev_timer_init(&a->check, check_cb, every, every);
        a->check.data = a;
        ev_timer_start(loop, &a->check);
    }
    *out = a;
    return 0;
}

void auth_free(struct auth *a)
{
    if (a == NULL)
        return;
    if (a->loop != NULL)
        ev_timer_stop(a->loop, &a->check);
    free(a->tokens);
    for (size_t i = 0; i < a->n_names; i++)
        free(a->names[i]);
    free(a->names);
    free(a);
}

void auth_reload(struct auth *a, const char *why)
{
    if (a == NULL || !given(a->conf->receiver_auth.bearer_tokens_file))
        return;
    kt_file_stamp_update(&a->stamp, a->conf->receiver_auth.bearer_tokens_file);
    struct kt_err err = {0};
    if (load(a, &err) != 0) {
        kt_warn("%s: reloading failed, the tokens before stay valid: %s", why, err.msg);
        return;
    }
    kt_info("%s: reloaded [receiver.auth] bearer_tokens_file: %zu tokens", why, a->n_tokens);
}

enum auth_result auth_check(struct auth *a, const char *value, size_t value_len, const char **name)
{
    *name = NULL;
    if (value == NULL) {
        return AUTH_MISSING;
    }
    const char *scheme = a->conf->receiver_auth.scheme;
    size_t sl = strlen(scheme);
    const char *end = value + value_len;
    while (end > value && is_space(end[-1]))
        end--;
    /* RFC 9110 section 11.4: the scheme is case-insensitive, then one or more spaces. */
    if (value_len <= sl || strncasecmp(value, scheme, sl) != 0 || value[sl] != ' ') {
        return AUTH_BAD_SCHEME;
    }
    const char *tok = value + sl;
    while (tok < end && *tok == ' ')
        tok++;
    if (tok == end) {
        return AUTH_BAD_SCHEME;
    }
    uint8_t d[DIGEST_LEN];
    digest(tok, (size_t)(end - tok), d);
    /* Every token is compared, every byte of it: the time taken does not depend on where,
     * or whether, the presented token differs from one. */
    size_t match = SIZE_MAX;
    for (size_t i = 0; i < a->n_tokens; i++) {
        uint8_t diff = 0;
        for (size_t j = 0; j < DIGEST_LEN; j++)
            diff |= (uint8_t)(a->tokens[i].digest[j] ^ d[j]);
        if (diff == 0)
            match = i;
    }
    if (match == SIZE_MAX) {
        return AUTH_INVALID;
    }
    *name = a->tokens[match].name;
    return AUTH_OK;
}

const char *auth_result_message(const struct auth *a, enum auth_result r)
{
    switch (r) {
    case AUTH_OK: return "";
    case AUTH_MISSING: return "authentication required: no Authorization header";
    case AUTH_BAD_SCHEME: return a->bad_scheme_msg;
    case AUTH_INVALID: return "authentication failed: the token is not valid";
    }
    return "authentication failed";
}
