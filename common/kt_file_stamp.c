#include "kt_file_stamp.h"

#include <sys/stat.h>

bool kt_file_stamp_update(struct kt_file_stamp *st, const char *path)
{
    struct kt_file_stamp now = {0};
    struct stat sb;
    if (path != NULL && path[0] != '\0' && stat(path, &sb) == 0) {
        now.mtime = sb.st_mtim;
        now.size = sb.st_size;
        now.ino = sb.st_ino;
        now.present = true;
    }
    bool changed = now.present != st->present || now.size != st->size || now.ino != st->ino ||
                   now.mtime.tv_sec != st->mtime.tv_sec || now.mtime.tv_nsec != st->mtime.tv_nsec;
    *st = now;
    return changed;
}
