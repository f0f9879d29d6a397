/* server with a fake service behind it (server_new takes the service's callbacks): real
 * sockets on 127.0.0.1, one loop run by the test between the client's steps. Proves the
 * seams of the layers: protocol detection, the hand-over to the service and its answer,
 * the count of requests waiting for one, abandonment, and the protocols' own timeouts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../../ingest/conf.h"
#include "../../../ingest/request.h"
#include "../../../ingest/server.h"
#include "kt_log.h"

/* ---- the fake service ---- */

struct fake_svc {
    int refuse_status; /* answer from the headers with this status; 0 = never */
    int n_headers, n_handled, n_abandoned;
    struct srv_req *waiting; /* handled, not answered yet */
};

static void fake_headers(void *ctx, struct srv_req *r, int64_t content_length)
{
    (void)content_length;
    struct fake_svc *f = ctx;
    f->n_headers++;
    if (f->refuse_status == 0)
        return;
    r->resp.http_status = f->refuse_status;
    r->resp.content_type = "text/plain";
    r->responded = true;
}

static void fake_handle(void *ctx, struct srv_req *r)
{
    struct fake_svc *f = ctx;
    f->n_handled++;
    f->waiting = r;
}

static void fake_abandon(void *ctx, struct srv_req *r)
{
    struct fake_svc *f = ctx;
    assert_ptr_equal(r, f->waiting);
    f->n_abandoned++;
    f->waiting = NULL;
}

/* ---- fixture: loop, server, one client ---- */

struct fx {
    struct ev_loop *loop;
    struct ingest_conf conf;
    struct fake_svc svc;
    struct server *srv;
    int client;
    char got[4096]; /* what the client received */
    size_t n_got;
    bool eof;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->loop = ev_loop_new(EVFLAG_AUTO);
    f->conf.receiver.grpc_endpoint = (char *)"127.0.0.1:0";
    f->conf.receiver.http_endpoint = (char *)"";
    f->conf.receiver.max_request_bytes = 1 << 20;
    f->conf.receiver.max_connections = 16;
    f->conf.receiver.idle_timeout_ms = 30000;
    f->conf.receiver.header_timeout_ms = 30000;
    f->conf.receiver.body_timeout_ms = 30000;
    f->conf.receiver.max_header_bytes = 64 << 10;
    f->conf.receiver.max_concurrent_streams = 100;
    f->client = -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->client >= 0)
        close(f->client);
    server_free(f->srv);
    ev_loop_destroy(f->loop);
    free(f);
    return 0;
}

/* Starts the server and connects the client (the kernel completes the connection before
 * the loop accepts it). */
static void start(struct fx *f)
{
    const struct srv_service svc = {&f->svc, fake_headers, fake_handle, fake_abandon};
    struct kt_err err = {0};
    assert_int_equal(server_new(&f->conf, f->loop, &svc, &f->srv, &err), 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)server_port(f->srv, 0))};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    f->client = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(f->client, (struct sockaddr *)&sa, sizeof(sa)), 0);
    fcntl(f->client, F_SETFL, O_NONBLOCK);
}

static void send_all(struct fx *f, const void *p, size_t n)
{
    assert_int_equal(send(f->client, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static void client_read(struct fx *f)
{
    ssize_t n = recv(f->client, f->got + f->n_got, sizeof(f->got) - 1 - f->n_got, 0);
    if (n == 0)
        f->eof = true;
    if (n > 0) {
        f->n_got += (size_t)n;
        f->got[f->n_got] = '\0';
    }
}

/* Runs the loop, the client reading what arrives, until cond holds; fails after 5 s. */
static void run_until(struct fx *f, bool (*cond)(const struct fx *))
{
    ev_tstamp end = ev_time() + 5;
    while (!cond(f)) {
        assert_true(ev_time() < end);
        ev_run(f->loop, EVRUN_NOWAIT);
        client_read(f);
        usleep(1000);
    }
}

static bool handled(const struct fx *f)
{
    return f->svc.n_handled > 0;
}

static bool abandoned(const struct fx *f)
{
    return f->svc.n_abandoned > 0;
}

static bool got_head(const struct fx *f)
{
    return strstr(f->got, "\r\n\r\n") != NULL || f->eof;
}

static const char request[] =
    "POST /v1/traces HTTP/1.1\r\nHost: t\r\n"
    "Content-Type: application/x-protobuf\r\nContent-Length: 3\r\n\r\nabc";

/* ---- tests ---- */

static void test_http1_request_waits_for_the_service_answer(void **state)
{
    struct fx *f = *state;
    start(f);
    send_all(f, request, sizeof(request) - 1);
    run_until(f, handled);
    struct srv_req *r = f->svc.waiting;
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->path, "/v1/traces");
    assert_string_equal(r->content_type, "application/x-protobuf");
    assert_memory_equal(r->body.p, "abc", 3);
    assert_int_equal(r->body.len, 3);
    assert_false(r->http2);
    assert_int_equal(strncmp(r->peer, "127.0.0.1:", 10), 0);
    /* Handed to the service and not answered: the server is not idle, nothing is sent. */
    assert_false(server_idle(f->srv));
    for (int i = 0; i < 20; i++)
        ev_run(f->loop, EVRUN_NOWAIT);
    client_read(f);
    assert_int_equal(f->n_got, 0);

    r->resp.http_status = 200;
    r->resp.content_type = "application/x-protobuf";
    r->responded = true;
    f->svc.waiting = NULL;
    srv_req_respond(r);
    assert_true(server_idle(f->srv));
    run_until(f, got_head);
    assert_int_equal(strncmp(f->got, "HTTP/1.1 200 OK\r\n", 17), 0);
    assert_non_null(strstr(f->got, "Content-Length: 0\r\n"));
    assert_int_equal(f->svc.n_abandoned, 0);
}

static void test_unanswered_request_is_abandoned_when_the_client_leaves(void **state)
{
    struct fx *f = *state;
    start(f);
    send_all(f, request, sizeof(request) - 1);
    run_until(f, handled);
    assert_false(server_idle(f->srv));
    close(f->client);
    f->client = -1;
    ev_tstamp end = ev_time() + 5;
    while (!abandoned(f)) {
        assert_true(ev_time() < end);
        ev_run(f->loop, EVRUN_NOWAIT);
        usleep(1000);
    }
    assert_true(server_idle(f->srv));
}

static void test_refusal_from_headers_is_sent_without_handling(void **state)
{
    struct fx *f = *state;
    f->svc.refuse_status = 404;
    start(f);
    send_all(f, request, sizeof(request) - 1);
    run_until(f, got_head);
    assert_int_equal(strncmp(f->got, "HTTP/1.1 404 Not Found\r\n", 24), 0);
    /* The body was not read, so the connection cannot go on. */
    assert_non_null(strstr(f->got, "Connection: close\r\n"));
    assert_int_equal(f->svc.n_headers, 1);
    assert_int_equal(f->svc.n_handled, 0);
    assert_true(server_idle(f->srv));
}

static bool got_settings_ack(const struct fx *f)
{
    for (size_t i = 0; i + 9 <= f->n_got;) {
        size_t len = (size_t)(uint8_t)f->got[i] << 16 | (size_t)(uint8_t)f->got[i + 1] << 8 |
                     (uint8_t)f->got[i + 2];
        if (f->got[i + 3] == 0x4 && f->got[i + 4] == 0x1)
            return true;
        i += 9 + len;
    }
    return f->eof;
}

/* A preface cut short is kept until it is whole: the connection then speaks HTTP/2 and
 * acknowledges the client's SETTINGS (HTTP/1.1 would answer 400 and close). */
/* The headers of include_metadata_keys and topic_from_metadata_key are kept for the
 * service, whatever their case, a value handed over in two reads as one, in arrival order;
 * a value over INGEST_META_VALUE_MAX marks the request. */
static void test_http1_metadata_headers_are_kept_across_reads(void **state)
{
    struct fx *f = *state;
    char *keys[] = {(char *)"x-env", (char *)"x-team"};
    f->conf.kafka.include_metadata_keys = (struct kt_strlist){keys, 2};
    f->conf.kafka.topic_from_metadata_key = (char *)"x-topic";
    start(f);
    static const char head[] = "POST /v1/traces HTTP/1.1\r\nHost: t\r\nX-Env: pr";
    static const char rest[] = "od-eu\r\nx-team: a\r\nX-TOPIC: t1\r\nx-other: no\r\n"
                               "x-env: second\r\nContent-Length: 3\r\n\r\nabc";
    send_all(f, head, sizeof(head) - 1);
    for (int i = 0; i < 20; i++)
        ev_run(f->loop, EVRUN_NOWAIT);
    send_all(f, rest, sizeof(rest) - 1);
    run_until(f, handled);
    struct srv_req *r = f->svc.waiting;
    assert_int_equal(r->meta_bad, 0);
    const struct {
        unsigned key;
        const char *value;
    } want[] = {{0, "prod-eu"}, {1, "a"}, {2, "t1"}, {0, "second"}};
    size_t pos = 0, n = 0;
    unsigned key;
    struct kt_slice v;
    while (srv_req_meta_next(r, &pos, &key, &v)) {
        assert_true(n < 4);
        assert_int_equal(key, want[n].key);
        assert_int_equal(v.n, strlen(want[n].value));
        assert_memory_equal(v.p, want[n].value, v.n);
        n++;
    }
    assert_int_equal(n, 4);
    r->resp.http_status = 200;
    r->resp.content_type = "text/plain";
    r->responded = true;
    f->svc.waiting = NULL;
    srv_req_respond(r);
    run_until(f, got_head);

    /* A value one byte over, of the second key. */
    char big[600];
    int len = snprintf(big, sizeof(big), "POST /v1/traces HTTP/1.1\r\nHost: t\r\nx-team: ");
    memset(big + len, 'v', INGEST_META_VALUE_MAX + 1);
    len += INGEST_META_VALUE_MAX + 1;
    len += snprintf(big + len, sizeof(big) - (size_t)len, "\r\nContent-Length: 3\r\n\r\nabc");
    f->svc.n_handled = 0;
    send_all(f, big, (size_t)len);
    run_until(f, handled);
    assert_int_equal(f->svc.waiting->meta_bad, 2);
}

static void test_http2_preface_across_reads_selects_http2(void **state)
{
    struct fx *f = *state;
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    static const uint8_t settings[9] = {0, 0, 0, 0x4, 0, 0, 0, 0, 0};
    start(f);
    send_all(f, preface, 10);
    for (int i = 0; i < 20; i++)
        ev_run(f->loop, EVRUN_NOWAIT);
    client_read(f);
    assert_int_equal(f->n_got, 0);
    send_all(f, preface + 10, sizeof(preface) - 1 - 10);
    send_all(f, settings, sizeof(settings));
    run_until(f, got_settings_ack);
    assert_false(f->eof);
    assert_true(f->n_got >= 9);
    assert_int_equal(f->got[3], 0x4); /* the server's SETTINGS first */
}

static void test_http1_request_not_complete_in_time_gets_408(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.header_timeout_ms = 100;
    start(f);
    static const char part[] = "POST /v1/traces HTTP/1.1\r\nHost: t\r\n";
    send_all(f, part, sizeof(part) - 1);
    run_until(f, got_head);
    assert_int_equal(strncmp(f->got, "HTTP/1.1 408 Request Timeout\r\n", 30), 0);
    assert_int_equal(f->svc.n_headers, 0);
}

static bool closed(const struct fx *f)
{
    return f->eof;
}

/* Runs the loop, the client reading, for ms milliseconds. */
static void run_for(struct fx *f, int ms)
{
    ev_tstamp end = ev_time() + ms / 1000.0;
    while (ev_time() < end) {
        ev_run(f->loop, EVRUN_NOWAIT);
        client_read(f);
        usleep(1000);
    }
}

/* Answers the request the fake service holds, 200 with no body. */
static void answer_waiting(struct fx *f)
{
    struct srv_req *r = f->svc.waiting;
    r->resp.http_status = 200;
    r->resp.content_type = "application/x-protobuf";
    r->responded = true;
    f->svc.waiting = NULL;
    srv_req_respond(r);
}

/* Sends CRLF every 50 ms until the server closes (within 3 s); returns the seconds taken. */
static double crlfs_until_closed(struct fx *f)
{
    ev_tstamp t0 = ev_time();
    while (!f->eof) {
        assert_true(ev_time() - t0 < 3);
        send(f->client, "\r\n", 2, MSG_NOSIGNAL);
        run_for(f, 50);
    }
    return ev_time() - t0;
}

/* CRLFs are skipped before a request line (RFC 9112 section 2.2), so they never start a
 * request: the wait for the first one still ends at header_timeout after the accept. */
static void test_crlf_alone_is_closed_after_header_timeout(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.header_timeout_ms = 300;
    start(f);
    assert_true(crlfs_until_closed(f) >= 0.25);
    assert_int_equal(strncmp(f->got, "HTTP/1.1 408 Request Timeout\r\n", 30), 0);
    assert_int_equal(f->svc.n_headers, 0);
}

/* The HTTP/2 preface and SETTINGS open no stream: the connection is closed (after a
 * GOAWAY) header_timeout after the accept. */
static void test_http2_preface_alone_is_closed_after_header_timeout(void **state)
{
    struct fx *f = *state;
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    static const uint8_t settings[9] = {0, 0, 0, 0x4, 0, 0, 0, 0, 0};
    f->conf.receiver.header_timeout_ms = 300;
    start(f);
    ev_tstamp t0 = ev_time();
    send_all(f, preface, sizeof(preface) - 1);
    send_all(f, settings, sizeof(settings));
    run_until(f, closed);
    assert_true(ev_time() - t0 >= 0.25);
    bool goaway = false;
    for (size_t i = 0; i + 9 <= f->n_got;) {
        size_t len = (size_t)(uint8_t)f->got[i] << 16 | (size_t)(uint8_t)f->got[i + 1] << 8 |
                     (uint8_t)f->got[i + 2];
        goaway = goaway || f->got[i + 3] == 0x7;
        i += 9 + len;
    }
    assert_true(goaway);
}

/* A partial preface keeps the protocol unknown, and does not hold the connection either. */
static void test_partial_http2_preface_is_closed_after_header_timeout(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.header_timeout_ms = 300;
    start(f);
    send_all(f, "PRI * HT", 8);
    run_until(f, closed);
}

/* header_timeout bounds the wait for a request, not the pause between requests: a
 * keep-alive client whose requests are each quick stays connected (idle_timeout applies
 * between them). */
static void test_keep_alive_requests_further_apart_than_header_timeout_stay_open(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.header_timeout_ms = 200;
    start(f);
    for (int i = 1; i <= 3; i++) {
        f->n_got = 0;
        f->got[0] = '\0';
        send_all(f, request, sizeof(request) - 1);
        run_until(f, handled);
        answer_waiting(f);
        run_until(f, got_head);
        assert_false(f->eof);
        assert_int_equal(strncmp(f->got, "HTTP/1.1 200 OK\r\n", 17), 0);
        f->svc.n_handled = 0;
        run_for(f, 400);
        assert_false(f->eof);
    }
}

/* Bytes that never make a request are not activity: after an answer, CRLFs every 50 ms
 * do not keep the connection past idle_timeout. */
static void test_stray_bytes_do_not_reset_idle_timeout(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.idle_timeout_ms = 300;
    start(f);
    send_all(f, request, sizeof(request) - 1);
    run_until(f, handled);
    answer_waiting(f);
    run_until(f, got_head);
    assert_true(crlfs_until_closed(f) >= 0.2);
}

/* ---- hostile clients ---- */

/* Stats of the server now. */
static struct srv_stats stats(const struct fx *f)
{
    struct srv_stats st;
    server_get_stats(f->srv, &st);
    return st;
}

static void test_http1_header_section_over_max_header_bytes_gets_431(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.max_header_bytes = 1024;
    start(f);
    char req[4096];
    char big[2001];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    int n =
        snprintf(req, sizeof(req), "POST /v1/traces HTTP/1.1\r\nHost: t\r\nX-Big: %s\r\n\r\n", big);
    send_all(f, req, (size_t)n);
    run_until(f, closed);
    assert_int_equal(strncmp(f->got, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46), 0);
    assert_non_null(strstr(f->got, "max_header_bytes (1024)"));
    assert_int_equal(f->svc.n_headers, 0);
    assert_int_equal(stats(f).header_too_large, 1);
}

/* Headers at once, then the body a byte every 50 ms: body_timeout (not header_timeout,
 * which is long here) answers 408 and closes. */
static void test_http1_body_trickled_past_body_timeout_gets_408(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.body_timeout_ms = 300;
    start(f);
    static const char head[] =
        "POST /v1/traces HTTP/1.1\r\nHost: t\r\n"
        "Content-Type: application/x-protobuf\r\nContent-Length: 100\r\n\r\n";
    send_all(f, head, sizeof(head) - 1);
    ev_tstamp t0 = ev_time();
    while (!f->eof) {
        assert_true(ev_time() - t0 < 3);
        send(f->client, "x", 1, MSG_NOSIGNAL);
        run_for(f, 50);
    }
    assert_true(ev_time() - t0 >= 0.25);
    assert_int_equal(strncmp(f->got, "HTTP/1.1 408 Request Timeout\r\n", 30), 0);
    assert_int_equal(f->svc.n_headers, 1);
    assert_int_equal(f->svc.n_handled, 0);
    assert_int_equal(stats(f).body_timeouts, 1);
    assert_int_equal(stats(f).header_timeouts, 0);
}

/* header_timeout stops counting once the headers are in: a body slower than it but within
 * body_timeout is served. */
static void test_http1_body_slower_than_header_timeout_is_served(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.header_timeout_ms = 200;
    f->conf.receiver.body_timeout_ms = 5000;
    start(f);
    static const char head[] = "POST /v1/traces HTTP/1.1\r\nHost: t\r\n"
                               "Content-Type: application/x-protobuf\r\nContent-Length: 3\r\n\r\n";
    send_all(f, head, sizeof(head) - 1);
    for (int i = 0; i < 3; i++) {
        run_for(f, 200);
        send_all(f, "x", 1);
    }
    run_until(f, handled);
    assert_false(f->eof);
    assert_int_equal(stats(f).header_timeouts + stats(f).body_timeouts, 0);
}

/* A socket connected to the server from the address src (127.0.0.x), non-blocking. */
static int dial(const struct fx *f, const char *src)
{
    struct sockaddr_in sa = {.sin_family = AF_INET}, from = {.sin_family = AF_INET};
    sa.sin_port = htons((uint16_t)server_port(f->srv, 0));
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    inet_pton(AF_INET, src, &from.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&from, sizeof(from)), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Whether the server closed fd (reading what it sent and dropping it). */
static bool peer_closed(int fd)
{
    char b[512];
    ssize_t n;
    while ((n = recv(fd, b, sizeof(b), 0)) > 0)
        ;
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Runs the loop until the server closed fd (true), or for ms milliseconds (false). */
static bool closed_within(struct fx *f, int fd, int ms)
{
    ev_tstamp end = ev_time() + ms / 1000.0;
    while (ev_time() < end) {
        ev_run(f->loop, EVRUN_NOWAIT);
        if (peer_closed(fd))
            return true;
        usleep(1000);
    }
    return false;
}

static void test_connections_past_max_connections_per_peer_are_closed(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.max_connections_per_peer = 2;
    start(f); /* the first from 127.0.0.1 */
    int second = dial(f, "127.0.0.1");
    assert_false(closed_within(f, second, 100));
    int third = dial(f, "127.0.0.1");
    assert_true(closed_within(f, third, 2000));
    /* Another address has its own count. */
    int other = dial(f, "127.0.0.2");
    assert_false(closed_within(f, other, 100));
    assert_false(closed_within(f, second, 10));
    assert_int_equal(stats(f).refused_per_peer, 1);
    /* A connection closed frees its place. */
    close(second);
    run_for(f, 50);
    int again = dial(f, "127.0.0.1");
    assert_false(closed_within(f, again, 100));
    assert_int_equal(stats(f).refused_per_peer, 1);
    close(third);
    close(other);
    close(again);
}

/* At max_connections a newcomer takes the place of the connection idle the longest; one
 * with a request arriving is kept. With every connection busy, the newcomer is refused. */
static void test_full_table_closes_the_idlest_connection_for_a_new_one(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.max_connections = 3;
    start(f); /* busy: a request arriving */
    static const char part[] = "POST /v1/traces HTTP/1.1\r\nHost: t\r\n";
    send_all(f, part, sizeof(part) - 1);
    run_for(f, 20);
    int idle_old = dial(f, "127.0.0.1");
    run_for(f, 20);
    int idle_new = dial(f, "127.0.0.1");
    run_for(f, 20);
    int newcomer = dial(f, "127.0.0.1");
    assert_true(closed_within(f, idle_old, 2000));
    assert_false(closed_within(f, newcomer, 50));
    assert_false(closed_within(f, idle_new, 10));
    assert_false(f->eof);
    assert_int_equal(stats(f).evicted_idle, 1);
    /* Every one busy now: the next is refused. */
    assert_int_equal(send(idle_new, part, sizeof(part) - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof(part) - 1));
    assert_int_equal(send(newcomer, part, sizeof(part) - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof(part) - 1));
    run_for(f, 50);
    int refused = dial(f, "127.0.0.1");
    assert_true(closed_within(f, refused, 2000));
    assert_false(closed_within(f, idle_new, 10));
    assert_false(closed_within(f, newcomer, 10));
    assert_int_equal(stats(f).refused_max_connections, 1);
    assert_int_equal(stats(f).evicted_idle, 1);
    close(idle_old);
    close(idle_new);
    close(newcomer);
    close(refused);
}

/* ---- HTTP/2 frames from the client ---- */

static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

static size_t frame(uint8_t *out, uint8_t type, uint8_t flags, uint32_t stream, const void *p,
                    size_t n)
{
    out[0] = (uint8_t)(n >> 16);
    out[1] = (uint8_t)(n >> 8);
    out[2] = (uint8_t)n;
    out[3] = type;
    out[4] = flags;
    out[5] = (uint8_t)(stream >> 24);
    out[6] = (uint8_t)(stream >> 16);
    out[7] = (uint8_t)(stream >> 8);
    out[8] = (uint8_t)stream;
    if (n > 0)
        memcpy(out + 9, p, n);
    return 9 + n;
}

/* HPACK (RFC 7541) for POST http://t/v1/traces, names from the static table (:authority is
 * 1, :path 4, content-type 31). */
static const uint8_t req_block[] = {0x83, 0x86, 0x41, 0x01, 't', 0x44, 0x0a, '/',  'v',  '1', '/',
                                    't',  'r',  'a',  'c',  'e', 's',  0x0f, 0x10, 0x16, 'a', 'p',
                                    'p',  'l',  'i',  'c',  'a', 't',  'i',  'o',  'n',  '/', 'x',
                                    '-',  'p',  'r',  'o',  't', 'o',  'b',  'u',  'f'};

/* Starts HTTP/2: the preface and an empty SETTINGS. */
static void h2_start(struct fx *f)
{
    uint8_t b[16];
    send_all(f, h2_preface, sizeof(h2_preface) - 1);
    send_all(f, b, frame(b, 0x4, 0, 0, NULL, 0));
}

/* The error code of the GOAWAY the server sent, or -1 when none came. */
static long goaway_code(const struct fx *f)
{
    for (size_t i = 0; i + 9 <= f->n_got;) {
        const uint8_t *g = (const uint8_t *)f->got + i;
        size_t len = (size_t)g[0] << 16 | (size_t)g[1] << 8 | g[2];
        if (g[3] == 0x7 && i + 9 + len <= f->n_got && len >= 8)
            return (long)((uint32_t)g[13] << 24 | (uint32_t)g[14] << 16 | (uint32_t)g[15] << 8 |
                          g[16]);
        i += 9 + len;
    }
    return -1;
}

/* HEADERS then RST_STREAM on stream after stream: past the burst the server answers GOAWAY
 * ENHANCE_YOUR_CALM (0xb) and closes. */
static void test_http2_rapid_reset_gets_goaway_enhance_your_calm(void **state)
{
    struct fx *f = *state;
    start(f);
    h2_start(f);
    static const uint8_t cancel[4] = {0, 0, 0, 0x8};
    uint8_t b[128];
    for (uint32_t id = 1; id < 2 * 400 && !f->eof; id += 2) {
        size_t n = frame(b, 0x1, 0x4, id, req_block, sizeof(req_block));
        n += frame(b + n, 0x3, 0, id, cancel, sizeof(cancel));
        if (send(f->client, b, n, MSG_NOSIGNAL) != (ssize_t)n)
            break;
        ev_run(f->loop, EVRUN_NOWAIT);
        client_read(f);
    }
    run_until(f, closed);
    assert_int_equal(goaway_code(f), 0xb);
    assert_int_equal(stats(f).h2_reset_floods, 1);
    /* Some streams were opened before the limit: the flood was seen as requests. */
    assert_true(f->svc.n_headers >= 100);
    assert_int_equal(stats(f).h2_protocol_errors, 0);
}

/* HEADERS without END_HEADERS, then CONTINUATION frames without end: GOAWAY
 * ENHANCE_YOUR_CALM and the connection closes before the header block does. */
static void test_http2_continuation_flood_gets_goaway_enhance_your_calm(void **state)
{
    struct fx *f = *state;
    start(f);
    h2_start(f);
    uint8_t b[64];
    send_all(f, b, frame(b, 0x1, 0, 1, req_block, sizeof(req_block)));
    static const uint8_t field[] = {0x00, 0x01, 'x', 0x01, 'y'}; /* literal x: y */
    for (int i = 0; i < 1000 && !f->eof; i++) {
        size_t n = frame(b, 0x9, 0, 1, field, sizeof(field));
        if (send(f->client, b, n, MSG_NOSIGNAL) != (ssize_t)n)
            break;
        ev_run(f->loop, EVRUN_NOWAIT);
        client_read(f);
    }
    run_until(f, closed);
    assert_int_equal(goaway_code(f), 0xb);
    assert_int_equal(stats(f).h2_continuation_floods, 1);
    assert_int_equal(f->svc.n_headers, 0);
}

static bool got_stream1_headers(const struct fx *f)
{
    for (size_t i = 0; i + 9 <= f->n_got;) {
        const uint8_t *g = (const uint8_t *)f->got + i;
        size_t len = (size_t)g[0] << 16 | (size_t)g[1] << 8 | g[2];
        if (g[3] == 0x1 && g[8] == 1 && i + 9 + len <= f->n_got)
            return true;
        i += 9 + len;
    }
    return f->eof;
}

/* A header list over max_header_bytes is answered on its stream (431) without reaching the
 * service; the connection goes on. */
static void test_http2_header_list_over_max_header_bytes_is_refused(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.max_header_bytes = 1024;
    start(f);
    h2_start(f);
    uint8_t block[2048], b[2100];
    memcpy(block, req_block, sizeof(req_block));
    size_t n = sizeof(req_block);
    /* literal x-big: 1500 bytes (HPACK integer: 127 + 1373 in 7-bit groups) */
    block[n++] = 0x00;
    block[n++] = 0x05;
    memcpy(block + n, "x-big", 5);
    n += 5;
    block[n++] = 0x7f;
    block[n++] = (uint8_t)(0x80 | ((1500 - 127) & 0x7f));
    block[n++] = (uint8_t)((1500 - 127) >> 7);
    memset(block + n, 'a', 1500);
    n += 1500;
    send_all(f, b, frame(b, 0x1, 0x5, 1, block, n));
    run_until(f, got_stream1_headers);
    assert_false(f->eof);
    assert_int_equal(f->svc.n_headers, 0);
    assert_int_equal(stats(f).header_too_large, 1);
}

/* The server's first SETTINGS value for id, or -1. */
static long server_setting(const struct fx *f, uint16_t id)
{
    const uint8_t *g = (const uint8_t *)f->got;
    size_t len = (size_t)g[0] << 16 | (size_t)g[1] << 8 | g[2];
    if (f->n_got < 9 + len || g[3] != 0x4)
        return -1;
    for (size_t i = 9; i + 6 <= 9 + len; i += 6)
        if ((uint16_t)(g[i] << 8 | g[i + 1]) == id)
            return (long)((uint32_t)g[i + 2] << 24 | (uint32_t)g[i + 3] << 16 |
                          (uint32_t)g[i + 4] << 8 | g[i + 5]);
    return -1;
}

static bool got_rst_stream1(const struct fx *f)
{
    for (size_t i = 0; i + 9 <= f->n_got;) {
        const uint8_t *g = (const uint8_t *)f->got + i;
        size_t len = (size_t)g[0] << 16 | (size_t)g[1] << 8 | g[2];
        if (g[3] == 0x3 && g[8] == 1)
            return true;
        i += 9 + len;
    }
    return f->eof;
}

/* The server announces max_concurrent_streams and max_header_bytes; a stream whose body
 * does not arrive within body_timeout is reset, the connection stays. */
static void test_http2_settings_and_body_timeout(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.max_concurrent_streams = 7;
    f->conf.receiver.max_header_bytes = 4096;
    f->conf.receiver.body_timeout_ms = 300;
    start(f);
    h2_start(f);
    uint8_t b[128];
    ev_tstamp t0 = ev_time();
    send_all(f, b, frame(b, 0x1, 0x4, 1, req_block, sizeof(req_block)));
    run_until(f, got_rst_stream1);
    assert_false(f->eof);
    assert_true(ev_time() - t0 >= 0.25);
    assert_int_equal(server_setting(f, 0x3), 7);    /* SETTINGS_MAX_CONCURRENT_STREAMS */
    assert_int_equal(server_setting(f, 0x6), 4096); /* SETTINGS_MAX_HEADER_LIST_SIZE */
    assert_int_equal(f->svc.n_headers, 1);
    assert_int_equal(stats(f).body_timeouts, 1);
}

/* The error code of the server's RST_STREAM on stream id, or -1. */
static long rst_code(const struct fx *f, uint8_t id)
{
    for (size_t i = 0; i + 9 <= f->n_got;) {
        const uint8_t *g = (const uint8_t *)f->got + i;
        size_t len = (size_t)g[0] << 16 | (size_t)g[1] << 8 | g[2];
        if (g[3] == 0x3 && g[8] == id && len == 4 && i + 13 <= f->n_got)
            return (long)((uint32_t)g[9] << 24 | (uint32_t)g[10] << 16 | (uint32_t)g[11] << 8 |
                          g[12]);
        i += 9 + len;
    }
    return -1;
}

static bool got_rst_stream5(const struct fx *f)
{
    return rst_code(f, 5) >= 0 || f->eof;
}

/* A stream over max_concurrent_streams is refused (before the client acknowledged the
 * setting: REFUSED_STREAM) and counted; the others go on. */
static void test_http2_stream_over_max_concurrent_streams_is_refused(void **state)
{
    struct fx *f = *state;
    f->conf.receiver.max_concurrent_streams = 2;
    start(f);
    h2_start(f);
    uint8_t b[3 * 64];
    size_t n = frame(b, 0x1, 0x4, 1, req_block, sizeof(req_block));
    n += frame(b + n, 0x1, 0x4, 3, req_block, sizeof(req_block));
    n += frame(b + n, 0x1, 0x4, 5, req_block, sizeof(req_block));
    send_all(f, b, n);
    run_until(f, got_rst_stream5);
    assert_false(f->eof);
    assert_int_equal(rst_code(f, 5), 0x7); /* REFUSED_STREAM */
    assert_int_equal(rst_code(f, 1), -1);
    assert_int_equal(f->svc.n_headers, 2);
    assert_int_equal(stats(f).h2_protocol_errors, 1);
}

int main(void)
{
    kt_log_set_level(KT_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_http1_request_waits_for_the_service_answer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unanswered_request_is_abandoned_when_the_client_leaves,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_from_headers_is_sent_without_handling, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http1_metadata_headers_are_kept_across_reads, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http2_preface_across_reads_selects_http2, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http1_request_not_complete_in_time_gets_408, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crlf_alone_is_closed_after_header_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http2_preface_alone_is_closed_after_header_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_http2_preface_is_closed_after_header_timeout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_keep_alive_requests_further_apart_than_header_timeout_stay_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stray_bytes_do_not_reset_idle_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http1_header_section_over_max_header_bytes_gets_431,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_http1_body_trickled_past_body_timeout_gets_408, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http1_body_slower_than_header_timeout_is_served, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connections_past_max_connections_per_peer_are_closed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_table_closes_the_idlest_connection_for_a_new_one,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_http2_rapid_reset_gets_goaway_enhance_your_calm, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http2_continuation_flood_gets_goaway_enhance_your_calm,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_http2_header_list_over_max_header_bytes_is_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_http2_settings_and_body_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http2_stream_over_max_concurrent_streams_is_refused,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
