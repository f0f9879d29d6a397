#include "kt_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "kt_secret.h"

/* Most cipher_suites a server context takes. */
#define MAX_CIPHERSUITES 64

struct kt_tls_ctx {
    /* The context's owner holds one reference and every connection on it one more: a
     * reloaded server context is replaced while older connections still use the old one. */
    int refs;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt own; /* the certificate presented for mTLS, if any */
    mbedtls_pk_context own_key;
    mbedtls_ssl_config conf;
    char alpn_name[16];
    const char *alpn_list[2]; /* mbedTLS keeps the pointer: it must live as long as conf */
    int ciphersuites[MAX_CIPHERSUITES + 1]; /* as alpn_list; 0-terminated */
};

struct kt_tls_conn {
    mbedtls_ssl_context ssl;
    struct kt_tls_ctx *ctx; /* a reference (refs) */
    int fd;
    /* Length of a record mbedTLS accepted but could not send yet: the retry must pass the
     * same length (mbedTLS reports it as written once the record is flushed). */
    size_t pending_write;
};

static int tls_fail(struct kt_err *err, int code, int mrc, const char *what)
{
    char buf[160];
    mbedtls_strerror(mrc, buf, sizeof(buf));
    return kt_err_set(err, code, "TLS %s: %s (-0x%04x)", what, buf, (unsigned)-mrc);
}

/* "YYYY-MM-DD HH:MM UTC" of an X.509 time, for messages. */
static void x509_time_str(const mbedtls_x509_time *t, char *buf, size_t cap)
{
    snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d UTC", t->year, t->mon, t->day, t->hour, t->min);
}

/* Loads cert_file and key_file into crt and pk and checks that they belong together and
 * that the certificate is valid now. Errors name the option and the file. */
static int load_keypair(const char *section, const char *cert_file, const char *key_file,
                        mbedtls_x509_crt *crt, mbedtls_pk_context *pk, struct kt_err *err)
{
    char why[160];
    int mrc = mbedtls_x509_crt_parse_file(crt, cert_file);
    if (mrc != 0) {
        mbedtls_strerror(mrc, why, sizeof(why));
        return kt_err_set(err, KT_EINVAL, "%s cert_file '%s': not a certificate: %s", section,
                          cert_file, why);
    }
    char what[96];
    snprintf(what, sizeof(what), "%s key_file", section);
    kt_secret_path_check(what, key_file);
    mrc = mbedtls_pk_parse_keyfile(pk, key_file, NULL);
    if (mrc != 0) {
        mbedtls_strerror(mrc, why, sizeof(why));
        return kt_err_set(
            err, KT_EINVAL, "%s key_file '%s': not a private key%s: %s", section, key_file,
            mrc == MBEDTLS_ERR_PK_PASSWORD_REQUIRED ? " (encrypted keys are not supported)" : "",
            why);
    }
    if (mbedtls_pk_check_pair(&crt->pk, pk) != 0)
        return kt_err_set(err, KT_EINVAL,
                          "%s key_file '%s' is not the private key of cert_file '%s'", section,
                          key_file, cert_file);
    char when[32];
    if (mbedtls_x509_time_is_past(&crt->valid_to)) {
        x509_time_str(&crt->valid_to, when, sizeof(when));
        return kt_err_set(err, KT_EINVAL, "%s cert_file '%s': the certificate expired on %s",
                          section, cert_file, when);
    }
    if (mbedtls_x509_time_is_future(&crt->valid_from)) {
        x509_time_str(&crt->valid_from, when, sizeof(when));
        return kt_err_set(err, KT_EINVAL,
                          "%s cert_file '%s': the certificate is valid only from %s", section,
                          cert_file, when);
    }
    return 0;
}

/* Options both ends share: a key without its certificate (or the reverse) and a
 * min_version this build cannot honour are errors naming the option. */
static int check_common(const char *section, const char *cert_file, const char *key_file,
                        const char *min_version, const char *why_both, struct kt_err *err)
{
    bool has_cert = cert_file && cert_file[0];
    bool has_key = key_file && key_file[0];
    if (has_cert != has_key)
        return kt_err_set(err, KT_EINVAL, "%s: %s is set without %s (%s needs both)", section,
                          has_cert ? "cert_file" : "key_file", has_cert ? "key_file" : "cert_file",
                          why_both);
    /* Debian 12's mbedTLS (2.28) speaks TLS 1.2 only; 1.3 is experimental there and not
     * built. Refusing beats silently allowing 1.2. */
    if (min_version && min_version[0] && strcmp(min_version, "1.2") != 0)
        return kt_err_set(err, KT_EINVAL,
                          "%s min_version = %s: this build's TLS library (mbedTLS %s) has TLS 1.2 "
                          "only; use 1.2",
                          section, min_version, MBEDTLS_VERSION_STRING);
    return 0;
}

/* A context with its RNG seeded and the defaults of endpoint (MBEDTLS_SSL_IS_CLIENT or
 * _SERVER) set, TLS 1.2 at least. */
static int ctx_create(int endpoint, struct kt_tls_ctx **out, struct kt_err *err)
{
    struct kt_tls_ctx *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    x->refs = 1;
    mbedtls_entropy_init(&x->entropy);
    mbedtls_ctr_drbg_init(&x->drbg);
    mbedtls_x509_crt_init(&x->ca);
    mbedtls_x509_crt_init(&x->own);
    mbedtls_pk_init(&x->own_key);
    mbedtls_ssl_config_init(&x->conf);
    int rc = 0;
    static const unsigned char pers[] = "kotel-tls";
    int mrc =
        mbedtls_ctr_drbg_seed(&x->drbg, mbedtls_entropy_func, &x->entropy, pers, sizeof(pers) - 1);
    if (mrc != 0) {
        rc = tls_fail(err, KT_EIO, mrc, "random seed");
        goto out;
    }
    mrc = mbedtls_ssl_config_defaults(&x->conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                      MBEDTLS_SSL_PRESET_DEFAULT);
    if (mrc != 0) {
        rc = tls_fail(err, KT_EIO, mrc, "config");
        goto out;
    }
    mbedtls_ssl_conf_rng(&x->conf, mbedtls_ctr_drbg_random, &x->drbg);
    mbedtls_ssl_conf_min_version(&x->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
out:
    if (rc != 0) {
        kt_tls_ctx_free(x);
        x = NULL;
    }
    *out = x;
    return rc;
}

int kt_tls_ctx_new(const struct kt_tls_client_opts *o, struct kt_tls_ctx **out, struct kt_err *err)
{
    const char *section = o->section ? o->section : "[tls]";
    int rc = check_common(section, o->cert_file, o->key_file, o->min_version, "mTLS", err);
    if (rc != 0)
        return rc;
    bool has_cert = o->cert_file && o->cert_file[0];
    struct kt_tls_ctx *x;
    if ((rc = ctx_create(MBEDTLS_SSL_IS_CLIENT, &x, err)) != 0)
        return rc;
    int mrc;
    if (o->insecure) {
        mbedtls_ssl_conf_authmode(&x->conf, MBEDTLS_SSL_VERIFY_NONE);
    } else {
        const char *path = o->ca_file && o->ca_file[0] ? o->ca_file : KT_TLS_SYSTEM_CA_FILE;
        mrc = mbedtls_x509_crt_parse_file(&x->ca, path);
        /* A positive count means some entries of a system bundle were not understood; the
         * others still serve as anchors. */
        if (mrc < 0) {
            char buf[160];
            mbedtls_strerror(mrc, buf, sizeof(buf));
            rc = kt_err_set(err, KT_EINVAL, "%s ca_file '%s': %s", section, path, buf);
            goto fail;
        }
        mbedtls_ssl_conf_authmode(&x->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(&x->conf, &x->ca, NULL);
    }
    if (has_cert) {
        rc = load_keypair(section, o->cert_file, o->key_file, &x->own, &x->own_key, err);
        if (rc != 0)
            goto fail;
        mrc = mbedtls_ssl_conf_own_cert(&x->conf, &x->own, &x->own_key);
        if (mrc != 0) {
            rc = tls_fail(err, KT_EINVAL, mrc, "client certificate");
            goto fail;
        }
    }
    if (o->alpn && o->alpn[0]) {
        snprintf(x->alpn_name, sizeof(x->alpn_name), "%s", o->alpn);
        x->alpn_list[0] = x->alpn_name;
        x->alpn_list[1] = NULL;
        mrc = mbedtls_ssl_conf_alpn_protocols(&x->conf, x->alpn_list);
        if (mrc != 0) {
            rc = tls_fail(err, KT_EINVAL, mrc, "ALPN");
            goto fail;
        }
    }
    *out = x;
    return 0;
fail:
    kt_tls_ctx_free(x);
    return rc;
}

/* One of mbedTLS's names (TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256) or IANA's
 * (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, which the Collector takes); 0 if neither. */
static int ciphersuite_id(const char *name)
{
    int id = mbedtls_ssl_get_ciphersuite_id(name);
    if (id != 0)
        return id;
    char dashed[128];
    size_t n = strlen(name);
    if (n >= sizeof(dashed))
        return 0;
    for (size_t i = 0; i <= n; i++)
        dashed[i] = name[i] == '_' ? '-' : name[i];
    return mbedtls_ssl_get_ciphersuite_id(dashed);
}

int kt_tls_server_ctx_new(const struct kt_tls_server_opts *o, struct kt_tls_ctx **out,
                          struct kt_err *err)
{
    /* Both, in the order of preference: gRPC needs h2 (RFC 9113 section 3.2). */
    static const char *alpn[] = {"h2", "http/1.1", NULL};
    const char *section = o->section ? o->section : "[tls]";
    if ((o->cert_file == NULL || o->cert_file[0] == '\0') &&
        (o->key_file == NULL || o->key_file[0] == '\0'))
        return kt_err_set(err, KT_EINVAL, "%s: cert_file and key_file are needed", section);
    int rc = check_common(section, o->cert_file, o->key_file, o->min_version, "TLS", err);
    if (rc != 0)
        return rc;
    if (o->n_cipher_suites > MAX_CIPHERSUITES)
        return kt_err_set(err, KT_EINVAL, "%s cipher_suites: %zu given, at most %d", section,
                          o->n_cipher_suites, MAX_CIPHERSUITES);
    struct kt_tls_ctx *x = NULL;
    if ((rc = ctx_create(MBEDTLS_SSL_IS_SERVER, &x, err)) != 0)
        return rc;
    for (size_t i = 0; i < o->n_cipher_suites; i++) {
        x->ciphersuites[i] = ciphersuite_id(o->cipher_suites[i]);
        if (x->ciphersuites[i] == 0) {
            rc = kt_err_set(err, KT_EINVAL,
                            "%s cipher_suites: '%s' is not a TLS 1.2 cipher suite this build "
                            "knows (IANA names, e.g. TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)",
                            section, o->cipher_suites[i]);
            goto out;
        }
    }
    if (o->n_cipher_suites > 0)
        mbedtls_ssl_conf_ciphersuites(&x->conf, x->ciphersuites);
    if ((rc = load_keypair(section, o->cert_file, o->key_file, &x->own, &x->own_key, err)) != 0)
        goto out;
    int mrc = mbedtls_ssl_conf_own_cert(&x->conf, &x->own, &x->own_key);
    if (mrc != 0) {
        rc = tls_fail(err, KT_EINVAL, mrc, "server certificate");
        goto out;
    }
    if (o->client_ca_file && o->client_ca_file[0]) {
        mrc = mbedtls_x509_crt_parse_file(&x->ca, o->client_ca_file);
        if (mrc != 0) {
            char buf[160];
            mbedtls_strerror(mrc, buf, sizeof(buf));
            rc = kt_err_set(err, KT_EINVAL, "%s client_ca_file '%s': %s", section,
                            o->client_ca_file, mrc > 0 ? "some certificates do not parse" : buf);
            goto out;
        }
        mbedtls_ssl_conf_authmode(&x->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(&x->conf, &x->ca, NULL);
    } else {
        mbedtls_ssl_conf_authmode(&x->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    mrc = mbedtls_ssl_conf_alpn_protocols(&x->conf, alpn);
    if (mrc != 0) {
        rc = tls_fail(err, KT_EINVAL, mrc, "ALPN");
        goto out;
    }
out:
    if (rc != 0) {
        kt_tls_ctx_free(x);
        x = NULL;
    }
    *out = x;
    return rc;
}

void kt_tls_ctx_free(struct kt_tls_ctx *x)
{
    if (x == NULL || --x->refs > 0)
        return;
    mbedtls_ssl_config_free(&x->conf);
    mbedtls_pk_free(&x->own_key);
    mbedtls_x509_crt_free(&x->own);
    mbedtls_x509_crt_free(&x->ca);
    mbedtls_ctr_drbg_free(&x->drbg);
    mbedtls_entropy_free(&x->entropy);
    free(x);
}

static int bio_send(void *ctx, const unsigned char *p, size_t n)
{
    struct kt_tls_conn *c = ctx;
    for (;;) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w >= 0)
            return (int)w;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MBEDTLS_ERR_SSL_WANT_WRITE;
        return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                                     : MBEDTLS_ERR_NET_SEND_FAILED;
    }
}

static int bio_recv(void *ctx, unsigned char *p, size_t n)
{
    struct kt_tls_conn *c = ctx;
    for (;;) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r >= 0)
            return (int)r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MBEDTLS_ERR_SSL_WANT_READ;
        return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
    }
}

int kt_tls_conn_new(struct kt_tls_ctx *ctx, int fd, const char *server_name,
                    struct kt_tls_conn **out, struct kt_err *err)
{
    struct kt_tls_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    c->fd = fd;
    c->ctx = ctx;
    ctx->refs++;
    mbedtls_ssl_init(&c->ssl);
    int mrc = mbedtls_ssl_setup(&c->ssl, &ctx->conf);
    if (mrc == 0 && server_name && server_name[0])
        mrc = mbedtls_ssl_set_hostname(&c->ssl, server_name);
    if (mrc != 0) {
        int rc = tls_fail(err, KT_EIO, mrc, "setup");
        kt_tls_conn_free(c);
        return rc;
    }
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    *out = c;
    return 0;
}

void kt_tls_conn_free(struct kt_tls_conn *c)
{
    if (c == NULL)
        return;
    mbedtls_ssl_free(&c->ssl);
    kt_tls_ctx_free(c->ctx);
    free(c);
}

int kt_tls_handshake(struct kt_tls_conn *c, bool *want_write, struct kt_err *err)
{
    int mrc = mbedtls_ssl_handshake(&c->ssl);
    if (mrc == 0)
        return 0;
    if (mrc == MBEDTLS_ERR_SSL_WANT_READ || mrc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        *want_write = mrc == MBEDTLS_ERR_SSL_WANT_WRITE;
        return KT_EAGAIN;
    }
    if (mrc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        char info[256];
        int n = mbedtls_x509_crt_verify_info(info, sizeof(info), "",
                                             mbedtls_ssl_get_verify_result(&c->ssl));
        /* verify_info separates reasons with newlines; a log line wants one line. */
        for (int i = 0; i < n && info[i]; i++)
            if (info[i] == '\n')
                info[i] = (info[i + 1] ? ';' : '\0');
        return kt_err_set(err, KT_EPROTO, "TLS certificate verification failed: %s",
                          n > 0 ? info : "unknown reason");
    }
    return tls_fail(err, KT_EPROTO, mrc, "handshake");
}

const char *kt_tls_alpn(const struct kt_tls_conn *c)
{
    return mbedtls_ssl_get_alpn_protocol(&c->ssl);
}

int kt_tls_read(struct kt_tls_conn *c, void *buf, size_t cap, size_t *n, struct kt_err *err)
{
    int mrc = mbedtls_ssl_read(&c->ssl, buf, cap);
    if (mrc > 0) {
        *n = (size_t)mrc;
        return 0;
    }
    if (mrc == 0 || mrc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
        *n = 0;
        return 0;
    }
    if (mrc == MBEDTLS_ERR_SSL_WANT_READ || mrc == MBEDTLS_ERR_SSL_WANT_WRITE)
        return KT_EAGAIN;
    return tls_fail(err, KT_EIO, mrc, "read");
}

int kt_tls_write(struct kt_tls_conn *c, const void *p, size_t len, size_t *n, struct kt_err *err)
{
    if (c->pending_write > 0 && c->pending_write <= len)
        len = c->pending_write;
    int mrc = mbedtls_ssl_write(&c->ssl, p, len);
    if (mrc >= 0) {
        c->pending_write = 0;
        *n = (size_t)mrc;
        return 0;
    }
    if (mrc == MBEDTLS_ERR_SSL_WANT_READ || mrc == MBEDTLS_ERR_SSL_WANT_WRITE) {
        c->pending_write = len;
        return KT_EAGAIN;
    }
    return tls_fail(err, KT_EIO, mrc, "write");
}

bool kt_tls_pending(const struct kt_tls_conn *c)
{
    return mbedtls_ssl_get_bytes_avail(&c->ssl) > 0;
}

void kt_tls_close_notify(struct kt_tls_conn *c)
{
    (void)mbedtls_ssl_close_notify(&c->ssl);
}
