/* kt_tls_ctx_new: what it refuses at startup, and how it says so. Keys and certificates are
 * made here with mbedTLS (self-signed, with the validity each case needs) and written to
 * temporary files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_pair_loads),
        cmocka_unit_test(test_expired_and_not_yet_valid),
        cmocka_unit_test(test_key_of_another_certificate),
        cmocka_unit_test(test_files_that_do_not_parse),
        cmocka_unit_test(test_half_a_pair_and_tls13),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
