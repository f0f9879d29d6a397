/* test_capture: what the code under test writes to stdout and stderr, sent to temporary files
 * while it runs and read back as strings afterwards. Include after cmocka.h. */
#ifndef TEST_CAPTURE_H
#define TEST_CAPTURE_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_tmpfile.h"

struct test_capture {
    int saved_out, saved_err;
    char out_path[64], err_path[64];
    char *out, *err; /* after test_capture_stop: owned, freed by test_capture_free */
};

/* The whole file as a NUL-terminated string (at most 64 KiB), owned by the caller. */
static inline char *test_read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static inline void test_capture_start(struct test_capture *c)
{
    test_tmpfile_write(c->out_path, sizeof(c->out_path), "kt_capture_out", "", 0);
    test_tmpfile_write(c->err_path, sizeof(c->err_path), "kt_capture_err", "", 0);
    int out_fd = open(c->out_path, O_WRONLY), err_fd = open(c->err_path, O_WRONLY);
    assert_true(out_fd >= 0 && err_fd >= 0);
    fflush(stdout);
    fflush(stderr);
    c->saved_out = dup(STDOUT_FILENO);
    c->saved_err = dup(STDERR_FILENO);
    assert_true(c->saved_out >= 0 && c->saved_err >= 0);
    dup2(out_fd, STDOUT_FILENO);
    dup2(err_fd, STDERR_FILENO);
    close(out_fd);
    close(err_fd);
    c->out = c->err = NULL;
}

/* Puts stdout and stderr back and reads what was written into c->out and c->err. */
static inline void test_capture_stop(struct test_capture *c)
{
    fflush(stdout);
    fflush(stderr);
    dup2(c->saved_out, STDOUT_FILENO);
    dup2(c->saved_err, STDERR_FILENO);
    close(c->saved_out);
    close(c->saved_err);
    c->out = test_read_file(c->out_path);
    c->err = test_read_file(c->err_path);
    unlink(c->out_path);
    unlink(c->err_path);
}

static inline void test_capture_free(struct test_capture *c)
{
    free(c->out);
    free(c->err);
    c->out = c->err = NULL;
}

#endif
