/* kt_tls_ctx_new and kt_tls_server_ctx_new: what they refuse at startup, and how they say
 * so; a client and a server session handshaking over a socketpair (ALPN, mTLS). Keys and
 * certificates are made here with mbedTLS (self-signed, with the validity each case needs)
 * and written to temporary files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "../test_tmpfile.h"
#include "kt_tls.h"

struct pair {
    char cert[128], key[128];
};

/* A fresh P-256 key and a self-signed certificate valid from `from` to `to`
 * ("YYYYMMDDhhmmss"). */
static void make_pair(struct pair *out, const char *from, const char *to)
{
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context key;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&key);
    assert_int_equal(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0), 0);
    assert_int_equal(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)), 0);
    assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
                                         mbedtls_ctr_drbg_random, &drbg),
                     0);
    mbedtls_x509write_cert w;
    mbedtls_x509write_crt_init(&w);
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, &key);
    mbedtls_x509write_crt_set_issuer_key(&w, &key);
    assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, "CN=kotel-test"), 0);
    assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, "CN=kotel-test"), 0);
    mbedtls_mpi serial;
    mbedtls_mpi_init(&serial);
    mbedtls_mpi_lset(&serial, 7);
    assert_int_equal(mbedtls_x509write_crt_set_serial(&w, &serial), 0);
    assert_int_equal(mbedtls_x509write_crt_set_validity(&w, from, to), 0);
    unsigned char pem[4096];
    assert_int_equal(
        mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), mbedtls_ctr_drbg_random, &drbg), 0);
    test_tmpfile_write(out->cert, sizeof(out->cert), "kotel-tls-crt", pem, strlen((char *)pem));
    assert_int_equal(mbedtls_pk_write_key_pem(&key, pem, sizeof(pem)), 0);
    test_tmpfile_write(out->key, sizeof(out->key), "kotel-tls-key", pem, strlen((char *)pem));
    mbedtls_x509write_crt_free(&w);
    mbedtls_mpi_free(&serial);
    mbedtls_pk_free(&key);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
}

static void unlink_pair(const struct pair *p)
{
    unlink(p->cert);
    unlink(p->key);
}

/* Builds a context from cert + key (and ca_file = cert, so trust is not the question);
 * returns the error message, "" on success. */
static const char *try_ctx(const char *cert, const char *key, const char *min_version)
{
    static struct kt_err err;
    memset(&err, 0, sizeof(err));
    struct kt_tls_client_opts o = {.ca_file = cert,
                                   .cert_file = cert,
                                   .key_file = key,
                                   .min_version = min_version,
                                   .section = "[exporter.tls]"};
    struct kt_tls_ctx *ctx = NULL;
    int rc = kt_tls_ctx_new(&o, &ctx, &err);
    kt_tls_ctx_free(ctx);
    if (rc == 0)
        return "";
    assert_int_equal(rc, KT_EINVAL);
    return err.msg;
}

static void assert_contains(const char *got, const char *want)
{
    if (strstr(got, want) == NULL)
        fail_msg("want '%s' in '%s'", want, got);
}

static void test_valid_pair_loads(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p, "20200101000000", "20991231235959");
    assert_string_equal(try_ctx(p.cert, p.key, NULL), "");
    assert_string_equal(try_ctx(p.cert, p.key, "1.2"), "");
    unlink_pair(&p);
}

static void test_expired_and_not_yet_valid(void **state)
{
    (void)state;
    struct pair old, future;
    make_pair(&old, "20200101000000", "20210301120000");
    make_pair(&future, "20980101000000", "20991231235959");
    const char *m = try_ctx(old.cert, old.key, NULL);
    assert_contains(m, "[exporter.tls] cert_file '");
    assert_contains(m, "': the certificate expired on 2021-03-01 12:00 UTC");
    m = try_ctx(future.cert, future.key, NULL);
    assert_contains(m, "': the certificate is valid only from 2098-01-01 00:00 UTC");
    unlink_pair(&old);
    unlink_pair(&future);
}

static void test_key_of_another_certificate(void **state)
{
    (void)state;
    struct pair a, b;
    make_pair(&a, "20200101000000", "20991231235959");
    make_pair(&b, "20200101000000", "20991231235959");
    const char *m = try_ctx(a.cert, b.key, NULL);
    char want[400];
    snprintf(want, sizeof(want),
             "[exporter.tls] key_file '%s' is not the private key of cert_file '%s'", b.key,
             a.cert);
    assert_string_equal(m, want);
    unlink_pair(&a);
    unlink_pair(&b);
}

static void test_files_that_do_not_parse(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p, "20200101000000", "20991231235959");
    char junk[128];
    test_tmpfile_write(junk, sizeof(junk), "kotel-tls-junk", "not pem\n", 8);
    assert_contains(try_ctx(p.cert, junk, NULL), "key_file '");
    assert_contains(try_ctx(p.cert, junk, NULL), "': not a private key");
    struct kt_err err = {0};
    struct kt_tls_client_opts o = {
        .ca_file = p.cert, .cert_file = junk, .key_file = p.key, .section = "[exporter.tls]"};
    struct kt_tls_ctx *ctx = NULL;
    assert_int_equal(kt_tls_ctx_new(&o, &ctx, &err), KT_EINVAL);
    assert_contains(err.msg, "cert_file '");
    assert_contains(err.msg, "': not a certificate");
    assert_contains(try_ctx(p.cert, "/nonexistent/key.pem", NULL), "/nonexistent/key.pem");
    unlink(junk);
    unlink_pair(&p);
}

static void test_half_a_pair_and_tls13(void **state)
{
    (void)state;
    struct pair p;
    make_pair(&p, "20200101000000", "20991231235959");
    struct kt_err err = {0};
    struct kt_tls_client_opts o = {.cert_file = p.cert, .section = "[exporter.tls]"};
    struct kt_tls_ctx *ctx = NULL;
    assert_int_equal(kt_tls_ctx_new(&o, &ctx, &err), KT_EINVAL);
    assert_string_equal(err.msg,
                        "[exporter.tls]: cert_file is set without key_file (mTLS needs both)");
    assert_contains(try_ctx(p.cert, p.key, "1.3"),
                    "[exporter.tls] min_version = 1.3: this build's TLS library");
    unlink_pair(&p);
}

/* Builds a server context; returns the error message, "" on success. */
static const char *try_server(const struct kt_tls_server_opts *o)
{
    static struct kt_err err;
    memset(&err, 0, sizeof(err));
    struct kt_tls_ctx *ctx = NULL;
    int rc = kt_tls_server_ctx_new(o, &ctx, &err);
    kt_tls_ctx_free(ctx);
    if (rc == 0)
        return "";
    assert_int_equal(rc, KT_EINVAL);
    return err.msg;
}

static void test_server_options_refused_naming_the_key(void **state)
{
    (void)state;
    struct pair a, b;
    make_pair(&a, "20200101000000", "20991231235959");
    make_pair(&b, "20200101000000", "20991231235959");
    char junk[128];
    test_tmpfile_write(junk, sizeof(junk), "kotel-tls-junk", "not pem\n", 8);
    struct kt_tls_server_opts o = {
        .cert_file = a.cert, .key_file = a.key, .section = "[receiver.tls]"};
    assert_string_equal(try_server(&o), "");

    /* IANA's names and mbedTLS's both; an unknown one is named. */
    const char *suites[] = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                            "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"};
    o.cipher_suites = suites;
    o.n_cipher_suites = 2;
    assert_string_equal(try_server(&o), "");
    const char *bad_suites[] = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_NOPE_WITH_NOTHING"};
    o.cipher_suites = bad_suites;
    assert_contains(try_server(&o), "[receiver.tls] cipher_suites: 'TLS_NOPE_WITH_NOTHING' is not");
    o.cipher_suites = NULL;
    o.n_cipher_suites = 0;

    o.client_ca_file = junk;
    assert_contains(try_server(&o), "[receiver.tls] client_ca_file '");
    o.client_ca_file = NULL;

    o.key_file = b.key;
    char want[400];
    snprintf(want, sizeof(want),
             "[receiver.tls] key_file '%s' is not the private key of cert_file '%s'", b.key,
             a.cert);
    assert_string_equal(try_server(&o), want);
    o.key_file = NULL;
    assert_string_equal(try_server(&o),
                        "[receiver.tls]: cert_file is set without key_file (TLS needs both)");
    o.key_file = a.key;
    o.min_version = "1.3";
    assert_contains(try_server(&o), "[receiver.tls] min_version = 1.3: this build's TLS library");
    unlink(junk);
    unlink_pair(&a);
    unlink_pair(&b);
}

/* A client and a server session over a socketpair, both ends non-blocking. */
struct duo {
    int sv[2];
    struct kt_tls_ctx *cctx, *sctx;
    struct kt_tls_conn *cc, *sc;
    int crc, src; /* the last handshake results */
};

/* client: its certificate (mTLS) or NULL; trusts server; client_ca: the server's, or NULL. */
static void duo_start(struct duo *d, const struct pair *server, const struct pair *client,
                      const char *client_ca)
{
    struct kt_err err = {0};
    memset(d, 0, sizeof(*d));
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, d->sv), 0);
    const struct kt_tls_client_opts co = {.ca_file = server->cert,
                                          .cert_file = client ? client->cert : NULL,
                                          .key_file = client ? client->key : NULL,
                                          .alpn = "h2"};
    assert_int_equal(kt_tls_ctx_new(&co, &d->cctx, &err), 0);
    const struct kt_tls_server_opts so = {
        .cert_file = server->cert, .key_file = server->key, .client_ca_file = client_ca};
    assert_int_equal(kt_tls_server_ctx_new(&so, &d->sctx, &err), 0);
    assert_int_equal(kt_tls_conn_new(d->cctx, d->sv[0], "kotel-test", &d->cc, &err), 0);
    assert_int_equal(kt_tls_conn_new(d->sctx, d->sv[1], NULL, &d->sc, &err), 0);
    /* The connections hold the contexts: dropping the owners' references now proves it
     * (under ASan). */
    kt_tls_ctx_free(d->cctx);
    kt_tls_ctx_free(d->sctx);
}

/* Steps both handshakes until both are done or one failed. */
static void duo_handshake(struct duo *d, struct kt_err *serr)
{
    struct kt_err cerr = {0};
    d->crc = d->src = KT_EAGAIN;
    for (int i = 0; i < 200 && (d->crc == KT_EAGAIN || d->src == KT_EAGAIN); i++) {
        bool ww;
        if (d->crc == KT_EAGAIN)
            d->crc = kt_tls_handshake(d->cc, &ww, &cerr);
        if (d->src == KT_EAGAIN)
            d->src = kt_tls_handshake(d->sc, &ww, serr);
        if ((d->crc != 0 && d->crc != KT_EAGAIN) || (d->src != 0 && d->src != KT_EAGAIN))
            break;
    }
}

static void duo_free(struct duo *d)
{
    kt_tls_conn_free(d->cc);
    kt_tls_conn_free(d->sc);
    close(d->sv[0]);
    close(d->sv[1]);
}

static void test_server_handshake_alpn_and_data(void **state)
{
    (void)state;
    struct pair server;
    make_pair(&server, "20200101000000", "20991231235959");
    struct duo d;
    struct kt_err err = {0};
    duo_start(&d, &server, NULL, NULL);
    duo_handshake(&d, &err);
    assert_int_equal(d.crc, 0);
    assert_int_equal(d.src, 0);
    assert_string_equal(kt_tls_alpn(d.sc), "h2");
    assert_string_equal(kt_tls_alpn(d.cc), "h2");

    size_t n = 0;
    assert_int_equal(kt_tls_write(d.cc, "PRI * HTTP/2.0", 14, &n, &err), 0);
    assert_int_equal(n, 14);
    char buf[64];
    /* Two bytes first: the rest of the record waits decrypted inside the session, where
     * only kt_tls_pending sees it. */
    assert_int_equal(kt_tls_read(d.sc, buf, 2, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_true(kt_tls_pending(d.sc));
    assert_int_equal(kt_tls_read(d.sc, buf + 2, sizeof(buf) - 2, &n, &err), 0);
    assert_int_equal(n, 12);
    assert_memory_equal(buf, "PRI * HTTP/2.0", 14);
    assert_false(kt_tls_pending(d.sc));
    assert_int_equal(kt_tls_read(d.sc, buf, sizeof(buf), &n, &err), KT_EAGAIN);
    kt_tls_close_notify(d.cc);
    assert_int_equal(kt_tls_read(d.sc, buf, sizeof(buf), &n, &err), 0);
    assert_int_equal(n, 0);
    duo_free(&d);
    unlink_pair(&server);
}

static void test_server_mtls_requires_a_trusted_client_certificate(void **state)
{
    (void)state;
    struct pair server, client, stranger;
    make_pair(&server, "20200101000000", "20991231235959");
    make_pair(&client, "20200101000000", "20991231235959");
    make_pair(&stranger, "20200101000000", "20991231235959");
    struct duo d;
    struct kt_err err = {0};

    duo_start(&d, &server, &client, client.cert);
    duo_handshake(&d, &err);
    assert_int_equal(d.src, 0);
    assert_int_equal(d.crc, 0);
    duo_free(&d);

    duo_start(&d, &server, NULL, client.cert);
    duo_handshake(&d, &err);
    assert_int_equal(d.src, KT_EPROTO);
    duo_free(&d);

    memset(&err, 0, sizeof(err));
    duo_start(&d, &server, &stranger, client.cert);
    duo_handshake(&d, &err);
    assert_int_equal(d.src, KT_EPROTO);
    assert_contains(err.msg, "certificate verification failed");
    duo_free(&d);
    unlink_pair(&server);
    unlink_pair(&client);
    unlink_pair(&stranger);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_pair_loads),
        cmocka_unit_test(test_expired_and_not_yet_valid),
        cmocka_unit_test(test_key_of_another_certificate),
        cmocka_unit_test(test_files_that_do_not_parse),
        cmocka_unit_test(test_half_a_pair_and_tls13),
        cmocka_unit_test(test_server_options_refused_naming_the_key),
        cmocka_unit_test(test_server_handshake_alpn_and_data),
        cmocka_unit_test(test_server_mtls_requires_a_trusted_client_certificate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
