/* kt_file_stamp: has a file changed since it was last looked at? For files reloaded when
 * they change (certificates, keys, token files): polled with stat, not inotify, so that a
 * file replaced by a rename (as configuration managers and Kubernetes secret volumes do)
 * or on a filesystem without notifications is seen as well. */
#ifndef KT_FILE_STAMP_H
#define KT_FILE_STAMP_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

/* What a file looked like: a change of any of these counts as a change of the file. */
struct kt_file_stamp {
    struct timespec mtime;
    off_t size;
    ino_t ino;
    bool present;
};

/* Stamps path as it is now (path NULL, "" or missing: not present) and returns true when
 * that differs from *st, which it replaces. */
bool kt_file_stamp_update(struct kt_file_stamp *st, const char *path);

#endif
