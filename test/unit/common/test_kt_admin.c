/* kt_admin and kt_prom: the admin HTTP server over real loopback sockets (routes, 404 with
 * the routes listed, 405, HEAD, a head too large, garbage, the connection bound), and the
 * Prometheus text it serves (families, label escaping, cumulative histograms). */
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

#include "kt_admin.h"
#include "kt_prom.h"

struct fx {
    struct ev_loop *loop;
    struct kt_admin *a;
    int calls;
};

static void hello(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp)
{
    struct fx *f = ctx;
    f->calls++;
    resp->content_type = "text/x-test";
    kt_buf_printf(&resp->body, "hello %s?%s", req->path, req->query);
}

static void unready(void *ctx, const struct kt_admin_req *req, struct kt_admin_resp *resp)
{
    (void)ctx;
    (void)req;
    resp->status = 503;
    kt_buf_printf(&resp->body, "not yet");
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct kt_err err = {0};
    f->loop = ev_loop_new(EVFLAG_AUTO);
    assert_int_equal(kt_admin_new(f->loop, "127.0.0.1:0", "[admin] endpoint", &f->a, &err), 0);
    assert_int_equal(kt_admin_route(f->a, "/hello", hello, f), 0);
    assert_int_equal(kt_admin_route(f->a, "/readyz", unready, f), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    kt_admin_free(f->a);
    ev_loop_destroy(f->loop);
    free(f);
    return 0;
}

static int connect_admin(struct fx *f)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)kt_admin_port(f->a))};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Runs the loop until the server closes fd; returns what it sent (malloc'd). */
static char *read_all(struct fx *f, int fd)
{
    struct kt_buf b = KT_BUF_INIT;
    for (int i = 0; i < 100000; i++) {
        ev_run(f->loop, EVRUN_NOWAIT);
        char buf[4096];
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n == 0)
            break;
        if (n > 0)
            kt_buf_append(&b, buf, (size_t)n);
        else if (errno != EAGAIN && errno != EWOULDBLOCK)
            break;
        else
            usleep(100);
    }
    close(fd);
    kt_buf_append_byte(&b, 0);
    return (char *)b.p;
}

static char *exchange(struct fx *f, const char *request)
{
    int fd = connect_admin(f);
    assert_int_equal(send(fd, request, strlen(request), 0), (ssize_t)strlen(request));
    return read_all(f, fd);
}

static void expect_in(const char *got, const char *want)
{
    if (strstr(got, want) == NULL)
        fail_msg("want '%s' in:\n%s", want, got);
}

static void test_routes_and_errors(void **state)
{
    struct fx *f = *state;
    char *r = exchange(f, "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    expect_in(r, "HTTP/1.1 200 OK\r\n");
    expect_in(r, "Content-Type: text/x-test\r\n");
    expect_in(r, "Content-Length: 16\r\n");
    expect_in(r, "Connection: close\r\n");
    expect_in(r, "\r\n\r\nhello /hello?x=1");
    free(r);
    r = exchange(f, "HEAD /hello HTTP/1.1\r\n\r\n");
    expect_in(r, "HTTP/1.1 200 OK\r\n");
    expect_in(r, "Content-Length: 13\r\n");
    assert_null(strstr(r, "hello /hello"));
    free(r);
    r = exchange(f, "GET /readyz HTTP/1.0\r\n\r\n");
    expect_in(r, "HTTP/1.1 503 Service Unavailable\r\n");
    expect_in(r, "not yet");
    free(r);
    r = exchange(f, "GET /nope HTTP/1.1\r\n\r\n");
    expect_in(r, "HTTP/1.1 404 Not Found\r\n");
    expect_in(r, "this endpoint serves /healthz /hello /readyz");
    free(r);
    r = exchange(f, "GET /healthz HTTP/1.1\r\n\r\n");
    expect_in(r, "\r\n\r\n{\"status\":\"ok\"}\n");
    free(r);
    r = exchange(f, "POST /hello HTTP/1.1\r\nContent-Length: 2\r\n\r\nab");
    expect_in(r, "HTTP/1.1 405 Method Not Allowed\r\n");
    expect_in(r, "Allow: GET, HEAD\r\n");
    free(r);
    r = exchange(f, "\x01\x02 garbage\r\n\r\n");
    expect_in(r, "HTTP/1.1 400 Bad Request\r\n");
    free(r);
    assert_int_equal(f->calls, 2);
}

static void test_head_too_large(void **state)
{
    struct fx *f = *state;
    size_t n = KT_ADMIN_REQUEST_MAX + 4096;
    char *req = malloc(n + 64);
    int len = snprintf(req, 64, "GET /hello HTTP/1.1\r\nX-Pad: ");
    memset(req + len, 'a', n);
    req[len + (int)n] = '\0';
    int fd = connect_admin(f);
    /* The server may answer and close before all of it is sent. */
    fcntl(fd, F_SETFL, 0);
    send(fd, req, strlen(req), MSG_NOSIGNAL);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    char *r = read_all(f, fd);
    expect_in(r, "HTTP/1.1 431 ");
    free(r);
    free(req);
    assert_int_equal(f->calls, 0);
}

static void test_connection_bound(void **state)
{
    struct fx *f = *state;
    int fds[KT_ADMIN_CONNECTIONS + 1];
    for (int i = 0; i <= KT_ADMIN_CONNECTIONS; i++) {
        fds[i] = connect_admin(f);
        for (int k = 0; k < 50; k++)
            ev_run(f->loop, EVRUN_NOWAIT);
    }
    /* The one past the bound is closed without an answer... */
    char *r = read_all(f, fds[KT_ADMIN_CONNECTIONS]);
    assert_string_equal(r, "");
    free(r);
    /* ...and those within it are served. */
    const char *req = "GET /hello HTTP/1.1\r\n\r\n";
    assert_int_equal(send(fds[0], req, strlen(req), 0), (ssize_t)strlen(req));
    r = read_all(f, fds[0]);
    expect_in(r, "HTTP/1.1 200 OK");
    free(r);
    for (int i = 1; i < KT_ADMIN_CONNECTIONS; i++)
        close(fds[i]);
}

static void test_endpoint_errors(void **state)
{
    struct fx *f = *state;
    struct kt_err err = {0};
    struct kt_admin *b = NULL;
    char ep[64];
    snprintf(ep, sizeof(ep), "127.0.0.1:%d", kt_admin_port(f->a));
    assert_int_not_equal(kt_admin_new(f->loop, ep, "[admin] endpoint", &b, &err), 0);
    expect_in(err.msg, "[admin] endpoint: endpoint '127.0.0.1:");
    expect_in(err.msg, "bind: Address already in use");
    assert_int_not_equal(kt_admin_new(f->loop, "nocolon", "[admin] endpoint", &b, &err), 0);
    expect_in(err.msg, "want host:port");
}

static void test_prom_text(void **state)
{
    (void)state;
    struct kt_buf b = KT_BUF_INIT;
    char lab[64], esc[32];
    kt_prom_family(&b, "kotel_x_total", "counter", "Things.");
    snprintf(lab, sizeof(lab), "name=\"%s\"", kt_prom_label("a\"b\\c\nd", esc, sizeof(esc)));
    kt_prom_u64(&b, "kotel_x_total", lab, 7);
    kt_prom_u64(&b, "kotel_y", NULL, 3);
    static const double bounds[] = {0.1, 1};
    struct kt_hist h;
    kt_hist_init(&h, bounds, 2);
    kt_hist_observe(&h, 0.05);
    kt_hist_observe(&h, 0.1);
    kt_hist_observe(&h, 0.5);
    kt_hist_observe(&h, 7);
    kt_prom_hist(&b, "kotel_d_seconds", "s=\"t\"", &h);
    kt_buf_append_byte(&b, 0);
    assert_string_equal((char *)b.p, "# HELP kotel_x_total Things.\n"
                                     "# TYPE kotel_x_total counter\n"
                                     "kotel_x_total{name=\"a\\\"b\\\\c\\nd\"} 7\n"
                                     "kotel_y 3\n"
                                     "kotel_d_seconds_bucket{s=\"t\",le=\"0.1\"} 2\n"
                                     "kotel_d_seconds_bucket{s=\"t\",le=\"1\"} 3\n"
                                     "kotel_d_seconds_bucket{s=\"t\",le=\"+Inf\"} 4\n"
                                     "kotel_d_seconds_sum{s=\"t\"} 7.6500000000000004\n"
                                     "kotel_d_seconds_count{s=\"t\"} 4\n");
    kt_buf_reset(&b);
    kt_prom_process(&b);
    kt_buf_append_byte(&b, 0);
    expect_in((char *)b.p, "\nprocess_resident_memory_bytes ");
    expect_in((char *)b.p, "\nprocess_open_fds ");
    expect_in((char *)b.p, "# TYPE process_cpu_seconds_total counter\n");
    /* A label cut to fit never ends inside an escape. */
    assert_string_equal(kt_prom_label("ab\"", esc, 4), "ab");
    kt_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_routes_and_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_too_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_errors, setup, teardown),
        cmocka_unit_test(test_prom_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
