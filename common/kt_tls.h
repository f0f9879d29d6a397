/* kt_tls: TLS client and server connections with mbedTLS over a non-blocking socket.
 *
 * A kt_tls_ctx holds what every connection to one backend shares (trust anchors, RNG,
 * ALPN list, verification policy), or every connection a server accepts (its certificate,
 * the client CA); a kt_tls_conn is one session on a connected or accepted fd. Every
 * operation returns KT_EAGAIN instead of blocking and says whether it waits for the socket
 * to become readable or writable, so an event loop drives the handshake and the I/O. */
#ifndef KT_TLS_H
#define KT_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "kt_err.h"

struct kt_tls_ctx;
struct kt_tls_conn;

/* The CA bundle used when no ca_file is given. */
#define KT_TLS_SYSTEM_CA_FILE "/etc/ssl/certs/ca-certificates.crt"

/* What a client context is built from. Strings are borrowed for the call only. */
struct kt_tls_client_opts {
    const char *ca_file;     /* PEM bundle; NULL or "" for the system store */
    const char *cert_file;   /* client certificate chain (PEM) presented for mTLS; NULL or "" */
    const char *key_file;    /* its private key (PEM or DER); set exactly when cert_file is */
    const char *min_version; /* "1.2" (also NULL or ""); "1.3" is refused: see kt_tls.c */
    bool insecure;           /* do not verify the peer */
    const char *alpn;        /* protocol to offer ("h2") or NULL for none */
    const char *section;     /* names the options in errors, e.g. "[exporter.tls]" */
};

/* Builds a client context. A key that does not parse, a certificate that does not parse,
 * does not match its key, has expired or is not valid yet are errors naming the option and
 * the file, as is a min_version this build cannot honour. */
int kt_tls_ctx_new(const struct kt_tls_client_opts *o, struct kt_tls_ctx **out, struct kt_err *err);

/* What a server context is built from. Strings are borrowed for the call only. */
struct kt_tls_server_opts {
    const char *cert_file;      /* certificate chain (PEM) presented to clients; required */
    const char *key_file;       /* its private key (PEM or DER); required */
    const char *client_ca_file; /* set: clients must present a certificate it signed */
    const char *min_version;    /* as kt_tls_client_opts' */
    /* IANA (TLS_ECDHE_..._SHA256) or mbedTLS (TLS-ECDHE-...-SHA256) names, most preferred
     * first; none: mbedTLS's defaults */
    const char *const *cipher_suites;
    size_t n_cipher_suites;
    const char *section; /* names the options in errors, e.g. "[receiver.tls]" */
};

/* Builds a server context offering ALPN "h2" and "http/1.1". The key pair is checked as
 * kt_tls_ctx_new does; an unknown cipher suite or an unreadable client_ca_file is an error
 * naming the option. */
int kt_tls_server_ctx_new(const struct kt_tls_server_opts *o, struct kt_tls_ctx **out,
                          struct kt_err *err);

/* Drops the caller's reference: every connection started on ctx holds one too, so a
 * context replaced (a reloaded certificate) lives on until its last connection is freed. */
void kt_tls_ctx_free(struct kt_tls_ctx *ctx);

/* Starts a session on the connected (or, with a server context, accepted) non-blocking fd,
 * which stays owned by the caller. server_name (clients only; NULL for servers) is sent as
 * SNI and is the name the certificate must carry. */
int kt_tls_conn_new(struct kt_tls_ctx *ctx, int fd, const char *server_name,
                    struct kt_tls_conn **out, struct kt_err *err);
void kt_tls_conn_free(struct kt_tls_conn *c);

/* Advances the handshake: 0 when complete, KT_EAGAIN (wait for *want_write ? writable :
 * readable), or KT_EIO/KT_EPROTO with the reason (certificate problems spelled out). */
int kt_tls_handshake(struct kt_tls_conn *c, bool *want_write, struct kt_err *err);

/* The protocol chosen by ALPN (by the server), or NULL. */
const char *kt_tls_alpn(const struct kt_tls_conn *c);

/* Reads up to cap bytes: 0 with *n > 0, 0 with *n == 0 at the peer's orderly close,
 * KT_EAGAIN, or KT_EIO. */
int kt_tls_read(struct kt_tls_conn *c, void *buf, size_t cap, size_t *n, struct kt_err *err);

/* Writes from p: 0 with *n bytes taken, KT_EAGAIN (call again later with the same bytes),
 * or KT_EIO. */
int kt_tls_write(struct kt_tls_conn *c, const void *p, size_t len, size_t *n, struct kt_err *err);

/* Whether decrypted bytes wait in the session: the socket will not become readable for
 * them, so the caller reads again without waiting. */
bool kt_tls_pending(const struct kt_tls_conn *c);

/* Sends close_notify if the socket takes it now; best effort, before a close. */
void kt_tls_close_notify(struct kt_tls_conn *c);

#endif
