/* libFuzzer target: kotel-ingest's TLS transport (ingest/conn.c over kt_tls's server side)
 * with the protocol ALPN chose. The first byte picks the client:
 *   0  none: the rest is written raw on the socket, a client hello or garbage, so the
 *      non-blocking handshake and its failures run
 *   1  an mbedTLS client offering ALPN "h2"; the rest is its HTTP/2 stream (http2.c)
 *   2  one offering "http/1.1"; the rest is HTTP/1.1 (http1.c)
 *   3  one offering no ALPN; the rest is HTTP/1.1
 * For 1 to 3 the handshake completes first and the bytes go as TLS records of the client's,
 * so decrypted input waiting inside the session, writes the socket takes in part and the
 * close_notify at the end all pass through the connection layer (srv_harness.h). The key
 * and a self-signed certificate are made once, at the first input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "../../ingest/protocol.h"
#include "kt_tls.h"
#include "srv_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctxs {
    struct kt_tls_ctx *server;
    struct kt_tls_ctx *client[3]; /* ALPN h2, http/1.1, none */
};

/* Writes n bytes of p to a new temporary file named into path (cap bytes). */
static void write_tmp(char *path, size_t cap, const unsigned char *p, size_t n)
{
    snprintf(path, cap, "/tmp/kotel-fuzz-tls-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, p, n) != (ssize_t)n)
        abort();
    close(fd);
}

/* A P-256 key and a self-signed certificate for it, as PEM files. */
static void make_pair(char *cert, char *key, size_t cap)
{
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_context pk;
    mbedtls_x509write_cert w;
    mbedtls_mpi serial;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_pk_init(&pk);
    mbedtls_x509write_crt_init(&w);
    mbedtls_mpi_init(&serial);
    unsigned char pem[4096];
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0 ||
        mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
        mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), mbedtls_ctr_drbg_random,
                            &drbg) != 0)
        abort();
    mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
    mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
    mbedtls_x509write_crt_set_subject_key(&w, &pk);
    mbedtls_x509write_crt_set_issuer_key(&w, &pk);
    mbedtls_mpi_lset(&serial, 1);
    if (mbedtls_x509write_crt_set_subject_name(&w, "CN=kotel-fuzz") != 0 ||
        mbedtls_x509write_crt_set_issuer_name(&w, "CN=kotel-fuzz") != 0 ||
        mbedtls_x509write_crt_set_serial(&w, &serial) != 0 ||
        mbedtls_x509write_crt_set_validity(&w, "20200101000000", "20991231235959") != 0 ||
        mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), mbedtls_ctr_drbg_random, &drbg) != 0)
        abort();
    write_tmp(cert, cap, pem, strlen((char *)pem));
    if (mbedtls_pk_write_key_pem(&pk, pem, sizeof(pem)) != 0)
        abort();
    write_tmp(key, cap, pem, strlen((char *)pem));
    mbedtls_mpi_free(&serial);
    mbedtls_x509write_crt_free(&w);
    mbedtls_pk_free(&pk);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&entropy);
}

static const struct ctxs *ctxs_get(void)
{
    static struct ctxs x;
    if (x.server != NULL)
        return &x;
    char cert[64], key[64];
    make_pair(cert, key, sizeof(cert));
    struct kt_err err = {0};
    const struct kt_tls_server_opts so = {.cert_file = cert, .key_file = key};
    if (kt_tls_server_ctx_new(&so, &x.server, &err) != 0)
        abort();
    static const char *const alpn[] = {"h2", "http/1.1", NULL};
    for (int i = 0; i < 3; i++) {
        /* The certificate is not the question here. */
        const struct kt_tls_client_opts co = {.insecure = true, .alpn = alpn[i]};
        if (kt_tls_ctx_new(&co, &x.client[i], &err) != 0)
            abort();
    }
    unlink(cert);
    unlink(key);
    return &x;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const struct ctxs *x = ctxs_get();
    int mode = data[0] % 4;
    const struct srv_proto_ops *ops = mode == 1 ? &h2_ops : &h1_ops;
    srv_harness_run_tls(ops, x->server, mode == 0 ? NULL : x->client[mode - 1], data + 1, size - 1);
    return 0;
}
