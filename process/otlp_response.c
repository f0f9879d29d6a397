#include "otlp_response.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kt_codec.h"

/* A backend's answer is a small status message; anything larger is cut (and flagged) so a
 * misbehaving backend cannot make us buffer without bound. */
#define RESP_BODY_MAX (1u << 20)

void otlp_response_reset(struct otlp_response *r)
{
    struct kt_buf details = r->details, body = r->body;
    kt_buf_reset(&details);
    kt_buf_reset(&body);
    memset(r, 0, sizeof(*r));
    r->details = details;
    r->body = body;
    r->grpc_status = -1;
    r->retry_after_s = -1;
}

/* grpc-status-details-bin is base64, usually unpadded; both alphabets are accepted. */
static int b64_decode(const uint8_t *s, size_t n, struct kt_buf *out)
{
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=')
            break;
        int v = kt_base64_digit(s[i]);
        if (v < 0)
            return KT_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (kt_buf_append_byte(out, (uint8_t)(acc >> bits)) != 0)
                return KT_ENOMEM;
        }
    }
    return 0;
}

static void percent_decode(const uint8_t *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < cap; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = kt_hex_digit(s[i + 1])) >= 0 &&
            (lo = kt_hex_digit(s[i + 2])) >= 0) {
            out[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[o++] = (char)s[i];
        }
    }
    out[o] = '\0';
}

static void copy_value(char *dst, size_t cap, const uint8_t *v, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

/* Retry-After is delay-seconds or an HTTP-date (RFC 9110 section 10.2.3). */
static int64_t parse_retry_after(const uint8_t *v, size_t n)
{
    char s[64];
    copy_value(s, sizeof(s), v, n);
    char *end;
    errno = 0;
    long long secs = strtoll(s, &end, 10);
    if (end != s && *end == '\0' && errno == 0 && secs >= 0)
        return secs;
    struct tm tm = {0};
    const char *rest = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (rest == NULL || *rest != '\0')
        return -1;
    time_t when = timegm(&tm);
    time_t now = time(NULL);
    return when > now ? (int64_t)(when - now) : 0;
}

static bool name_is(const uint8_t *name, size_t n, const char *lit)
{
    return strlen(lit) == n && strncasecmp((const char *)name, lit, n) == 0;
}

void otlp_response_header(struct otlp_response *r, const uint8_t *name, size_t nlen,
                          const uint8_t *value, size_t vlen)
{
    if (name_is(name, nlen, ":status")) {
        char s[8];
        copy_value(s, sizeof(s), value, vlen);
        r->http_status = atoi(s);
    } else if (name_is(name, nlen, "grpc-status")) {
        char s[12];
        copy_value(s, sizeof(s), value, vlen);
        r->grpc_status = atoi(s);
    } else if (name_is(name, nlen, "grpc-message")) {
        percent_decode(value, vlen, r->grpc_message, sizeof(r->grpc_message));
    } else if (name_is(name, nlen, "grpc-status-details-bin")) {
        kt_buf_reset(&r->details);
        if (b64_decode(value, vlen, &r->details) != 0)
            kt_buf_reset(&r->details);
    } else if (name_is(name, nlen, "retry-after")) {
        r->retry_after_s = parse_retry_after(value, vlen);
    } else if (name_is(name, nlen, "content-type")) {
        copy_value(r->content_type, sizeof(r->content_type), value, vlen);
    } else if (name_is(name, nlen, "content-encoding") || name_is(name, nlen, "grpc-encoding")) {
        copy_value(r->content_encoding, sizeof(r->content_encoding), value, vlen);
    }
}

void otlp_response_body(struct otlp_response *r, const uint8_t *p, size_t n)
{
    if (r->body.len >= RESP_BODY_MAX)
        return;
    if (n > RESP_BODY_MAX - r->body.len)
        n = RESP_BODY_MAX - r->body.len;
    if (kt_buf_append(&r->body, p, n) != 0 && r->err == 0) {
        r->err = KT_EIO;
        snprintf(r->errmsg, sizeof(r->errmsg), "out of memory buffering the response");
    }
}

void otlp_response_fail(struct otlp_response *r, int code, const char *fmt, ...)
{
    if (r->complete)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof(r->errmsg), fmt, ap);
    va_end(ap);
    r->err = code;
    r->complete = true;
}

void otlp_response_view(const struct otlp_response *r, struct otlp_client_resp *out)
{
    *out = (struct otlp_client_resp){
        .error = r->err,
        .error_msg = r->err ? r->errmsg : "",
        .http_status = r->http_status,
        .grpc_status = r->grpc_status,
        .grpc_message = r->grpc_message,
        .grpc_details = kt_buf_slice(&r->details),
        .retry_after_s = r->retry_after_s,
        .content_type = r->content_type,
        .content_encoding = r->content_encoding,
        .body = kt_buf_slice(&r->body),
    };
}

void otlp_response_free(struct otlp_response *r)
{
    kt_buf_free(&r->details);
    kt_buf_free(&r->body);
}
