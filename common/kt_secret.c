#include "kt_secret.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kt_log.h"

void kt_secret_file_check(const struct stat *st, const char *what, const char *path)
{
    if ((st->st_mode & 077) == 0 || !S_ISREG(st->st_mode))
        return;
    kt_warn("%s: %s is readable by %s (mode %04o); a file holding secrets should be readable by "
            "its owner only (chmod 600 %s)",
            what, path, (st->st_mode & 007) ? "everyone" : "its group",
            (unsigned)(st->st_mode & 07777), path);
}

void kt_secret_path_check(const char *what, const char *path)
{
    struct stat st;
    if (path != NULL && path[0] != '\0' && stat(path, &st) == 0)
        kt_secret_file_check(&st, what, path);
}

int kt_secret_read_file(const char *what, const char *path, size_t max, struct kt_buf *out,
                        struct kt_err *err)
{
    kt_buf_reset(out);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return kt_err_set(err, KT_EINVAL, "%s: cannot read %s: %s", what, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0)
        kt_secret_file_check(&st, what, path);
    int rc = 0;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        if (out->len + n > max) {
            rc = kt_err_set(err, KT_EINVAL, "%s: %s is over %zu bytes; is it the right file?", what,
                            path, max);
            goto out;
        }
        if (kt_buf_append(out, buf, n) != 0) {
            rc = kt_err_set(err, KT_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (ferror(f))
        rc = kt_err_set(err, KT_EINVAL, "%s: cannot read %s: %s", what, path, strerror(errno));
out:
    fclose(f);
    return rc;
}
