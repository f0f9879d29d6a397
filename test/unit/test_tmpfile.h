/* test_tmpfile: files unit tests need on disk (configuration files, CA certificates).
 *
 * Named by process ID and a counter and created with O_EXCL, so test binaries running at the
 * same time and repeated calls never share a file; a stale name is an error, not a reuse.
 * The caller unlinks the file when done. */
#ifndef TEST_TMPFILE_H
#define TEST_TMPFILE_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/* Writes data[0..n) to a new file under /tmp whose name starts with prefix; the name goes
 * to path (cap bytes). Fails the test on any error. */
static inline void test_tmpfile_write(char *path, size_t cap, const char *prefix, const void *data,
                                      size_t n)
{
    static unsigned seq;
    int len = snprintf(path, cap, "/tmp/%s-%ld-%u", prefix, (long)getpid(), seq++);
    assert_true(len > 0 && (size_t)len < cap);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

#endif
