#include "kt_secret.h"

#include <stddef.h>

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
