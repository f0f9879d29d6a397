/* kt_secret: how kotel treats files that hold secrets (configuration with passwords or header
 * values, password files, private keys, token files): readable by others is worth a warning,
 * naming the file, every time it is read. */
#ifndef KT_SECRET_H
#define KT_SECRET_H

#include <sys/stat.h>

/* Warns (naming what and path) when st says group or others may read the file. what says
 * why it is secret, e.g. "[exporter.tls] key_file". */
void kt_secret_file_check(const struct stat *st, const char *what, const char *path);

/* The same for a file by name; a file that cannot be stat'ed is left to its reader. */
void kt_secret_path_check(const char *what, const char *path);

#endif
