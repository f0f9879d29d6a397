/* kt_secret: how kotel treats files that hold secrets (configuration with passwords or header
 * values, password files, private keys, token files): readable by others is worth a warning,
 * naming the file, every time it is read. */
#ifndef KT_SECRET_H
#define KT_SECRET_H

#include <stddef.h>
#include <sys/stat.h>

#include "kt_buf.h"
#include "kt_err.h"

/* Warns (naming what and path) when st says group or others may read the file. what says
 * why it is secret, e.g. "[exporter.tls] key_file". */
void kt_secret_file_check(const struct stat *st, const char *what, const char *path);

/* The same for a file by name; a file that cannot be stat'ed is left to its reader. */
void kt_secret_path_check(const char *what, const char *path);

/* Reads the whole secret file at path into out (replacing what it held), warning as
 * kt_secret_file_check does. Errors start with what and name the file, never its contents:
 * "WHAT: cannot read PATH: strerror", "WHAT: PATH is over MAX bytes; is it the right
 * file?" (KT_EINVAL), or KT_ENOMEM. */
int kt_secret_read_file(const char *what, const char *path, size_t max, struct kt_buf *out,
                        struct kt_err *err);

#endif
