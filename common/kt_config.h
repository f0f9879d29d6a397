/* kt_config: option tables, INI loading (inih), --set overrides and value parsing.
 *
 * Behaviour is described as data: each binary declares one table of struct kt_option, and
 * the loader, validation messages, --print-config and --help (kt_cli) all come from it, so
 * every default lives in exactly one place. */
#ifndef KT_CONFIG_H
#define KT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kt_err.h"

enum kt_opt_type {
    KT_OPT_STRING,   /* char * (owned by the conf struct; freed by kt_config_free) */
    KT_OPT_UINT,     /* uint64_t; accepts decimal */
    KT_OPT_DOUBLE,   /* double */
    KT_OPT_BOOL,     /* bool; true/false, yes/no, on/off, 1/0 (case-insensitive) */
    KT_OPT_DURATION, /* uint64_t milliseconds; "250ms", "10s", "5m", "1h", "0"; bare number = ms */
    KT_OPT_SIZE,     /* uint64_t bytes; "512", "64KiB", "16MiB", "1GiB", "1KB"=1000, "1MB" */
    KT_OPT_ENUM,     /* int: index into the '|'-separated `allowed` string */
    KT_OPT_LIST,     /* struct kt_strlist; repeated keys append, a value may also be a
                      * comma-separated list; whitespace around items is trimmed */
    KT_OPT_PREFIX,   /* struct kt_strlist of "name=value": every key "<key>.<name>" in the
                      * section, e.g. key "rdkafka" collects [kafka] rdkafka.linger.ms = 50.
                      * Entries are keyed by name: a --set of a name replaces its entry, the
                      * same name twice in one file is an error; a name holds letters,
                      * digits, '.', '_' and '-'. Values are not split at commas. A default, if any,
                      * is "name=value[,name=value...]". */
};

#define KT_OPT_SECRET 0x1   /* masked as "****" by --print-config */
#define KT_OPT_REQUIRED 0x2 /* missing after load (no default, not set) is an error */
#define KT_OPT_WHOLE                                                                               \
    0x4 /* KT_OPT_LIST: each occurrence is one item, commas and all                                \
         * (OTTL expressions, header values) */
#define KT_OPT_TOKENS                                                                              \
    0x8 /* KT_OPT_LIST: each item is an HTTP field name (an RFC 9110 token); KT_OPT_STRING:        \
         * the value, when not empty */

struct kt_strlist {
    char **v; /* owned strings */
    size_t n;
};

struct kt_option {
    const char *section; /* "kafka", or dotted "exporter.retry" */
    const char *key;
    enum kt_opt_type type;
    const char *def; /* default in the same syntax as the file; NULL = no default */
    size_t offset;   /* where the value lands in the conf struct */
    /* KT_OPT_ENUM: the choices, "none|gzip|snappy|lz4|zstd". KT_OPT_UINT, _DURATION and _SIZE:
     * the values that make sense, "MIN..MAX" in the option's own syntax with either end left
     * out for no bound ("1..", "..1h", "1KiB..1GiB"); a value outside is refused. NULL: any. */
    const char *allowed;
    unsigned flags;
    /* The documentation. Its first line is --help's summary; the whole text is the option's
     * comment in the example file (kt_cli_print_example) and its entry in the man page
     * (kt_cli_print_man). After the first line, a line starting with a blank is printed as
     * is (a list, an example: " key = value"), an empty line starts a paragraph, and other
     * lines continue the paragraph they are in; paragraphs are wrapped. */
    const char *doc;
};

/* Sections whose name is a pattern, e.g. "tail_sampling.policy.*": every [x.y.NAME] section
 * matching the prefix is handed to `load` instead of the option table. Used by process.
 * With --set, NAME runs to the next dot: "tail_sampling.policy.errors.status_code=ERROR" is
 * key status_code of [tail_sampling.policy.errors]. Whatever `load` stores in conf is the
 * program's to free and is not shown by kt_cli_print_config. */
struct kt_section_handler {
    const char *prefix; /* "tail_sampling.policy." */
    /* Called once per key=value in a matching section, in file order, then for each
     * matching --set; `name` is the part after the prefix and `value` is unquoted and
     * ${VAR}-expanded. Returns 0 or a KT_E* with err->msg "[section] key: what is wrong"
     * (the loader replaces that lead with "FILE:LINE: [section] key: " or "--set ...: "). */
    int (*load)(void *conf, const char *name, const char *key, const char *value,
                struct kt_err *err);
    /* What the sections hold, with commented examples (the text syntax of kt_option.doc),
     * for the example file and the man page. */
    const char *doc;
};

/* The prose of a section of the option table, printed above its header in the example file
 * and under it in the man page (the text syntax of kt_option.doc). */
struct kt_section_doc {
    const char *section; /* "receiver.tls" */
    const char *doc;
};

struct kt_config_schema {
    const char *program; /* "kotel-ingest" */
    const char *version; /* "0.1.0" */
    const char *summary; /* one line for --help */
    const struct kt_option *opts;
    size_t n_opts;
    const struct kt_section_handler *handlers; /* may be NULL */
    size_t n_handlers;
    /* Checks that need more than one value or compile something (OTTL statements, sampling
     * policies), run by kt_cli_run after loading, for --check too. May be NULL. */
    int (*validate)(const void *conf, struct kt_err *err);
    /* Checks one value as it is set (value points at the option's place in the conf struct;
     * a check of one option against another reaches the struct as value minus o->offset),
     * so that the loader's message names the file and line: returns 0 or a KT_E* with
     * err->msg saying what is wrong, without context. Runs for defaults too. May be NULL. */
    int (*check_value)(const struct kt_option *o, const void *value, struct kt_err *err);
    /* What the program does, for the man page's DESCRIPTION and the head of the example file
     * (the text syntax of kt_option.doc). May be NULL. */
    const char *description;
    const struct kt_section_doc *sections; /* may be NULL; sections not listed have no prose */
    size_t n_sections;
    const char *signals;  /* the man page's SIGNALS: what SIGHUP and SIGTERM do */
    const char *see_also; /* the man page's SEE ALSO, "kotel-process(1)" */
};

/* Sets every option to its default, then applies the INI file (path may be NULL: defaults
 * only), then each "section.key=value" override in order. Values get ${VAR} and
 * ${VAR:-default} expanded from the environment before parsing (an unset ${VAR} without a
 * default is an error naming the variable; ":-" also applies to an empty VAR; "$$" is a
 * literal '$').
 *
 * conf must be zeroed or hold the result of an earlier load: values already there are freed
 * as they are replaced, so loading twice into one struct does not leak.
 *
 * File syntax is inih's, with these rules on top: indentation is ignored (no continuation
 * lines); one pair of surrounding double quotes is removed from a value; a ';' after a blank
 * starts a comment; a line may hold at most KT_CONFIG_LINE_MAX characters and a section name
 * 49 (longer is
 * an error, never a silent cut); a scalar key set twice in the file is an error
 * "FILE:LINE: [s] k: set twice (first at line N)". The file may hold at most
 * KT_CONFIG_FILE_MAX bytes and no NUL byte; whatever it is (a pipe, a device), no more than
 * that is read before it is refused. A list key's first occurrence in the file
 * replaces the default and later ones append; the first --set of a list replaces it and
 * later ones append.
 *
 * In "--set a.b.c=v" both section and key may hold dots: the longest known section that has
 * the rest as a key wins ("kafka.rdkafka.linger.ms" is [kafka] rdkafka.linger.ms).
 *
 * Errors (return KT_EINVAL, message in err):
 *   "FILE:LINE: [section] key: what is wrong"  for file values,
 *   "--set section.key: what is wrong"          for overrides,
 *   "FILE:LINE: syntax error: ..."              for lines inih cannot read;
 *   unknown key: "... unknown key (did you mean send_batch_size?)" using edit distance
 *   (with transpositions; at most 3 edits and a third of the length) among keys of that
 *   section, or "(it belongs in [kafka])" when the key exists only in another section;
 *   unknown section likewise "FILE:LINE: [sectoin]: unknown section (did you mean section?)",
 *   reported at the header even when the section has no keys;
 *   enum: "want one of kafka|received, got 'kafak'"; a secret's value is never echoed;
 *   out of range: "want at least 1, got '0'" (see kt_option_range_desc);
 *   a file over the limit: KT_ETOOBIG, "FILE: over 1048576 bytes, the most a configuration
 *   file may hold"; a directory: "FILE: is a directory";
 *   missing required key (or an empty required string or list):
 *   "FILE: [section] key: required but not set" ("[section] key: ..." without a file).
 * A file that cannot be opened gives KT_ENOTFOUND or KT_EIO with "FILE: strerror".
 * Messages quote the file as it is, with bytes a terminal would act on escaped (\xNN,
 * kt_err_escape), so a binary file given by mistake cannot garble the terminal.
 * On error, conf holds whatever was set so far and must still be passed to kt_config_free. */
int kt_config_load(const struct kt_config_schema *schema, void *conf, const char *path,
                   const char *const *sets, size_t n_sets, struct kt_err *err);

/* The longest line of a configuration file, indentation not counted (inih's buffer). */
#define KT_CONFIG_LINE_MAX 198

/* The largest configuration file kt_config_load reads: a real one is a few KiB. */
#define KT_CONFIG_FILE_MAX (1 << 20)

/* The range of a KT_OPT_UINT, _DURATION or _SIZE option (kt_option.allowed) in words, for
 * messages and --help: "at least 1", "at most 1h", "1ms to 1h"; "" when it has none. */
void kt_option_range_desc(const struct kt_option *o, char *buf, size_t cap);

/* Frees the strings and lists owned by conf (not conf itself) and NULLs them, so it is safe
 * on a zeroed struct and when called twice. */
void kt_config_free(const struct kt_config_schema *schema, void *conf);

/* Parsers, exposed for tests and for section handlers. Return 0 or KT_EINVAL (err says why). */
int kt_parse_duration_ms(const char *s, uint64_t *out, struct kt_err *err);
int kt_parse_size(const char *s, uint64_t *out, struct kt_err *err);
int kt_parse_bool(const char *s, bool *out, struct kt_err *err);
int kt_parse_uint(const char *s, uint64_t *out, struct kt_err *err);

void kt_strlist_free(struct kt_strlist *l);
int kt_strlist_push(struct kt_strlist *l, const char *s); /* copies s */

#endif
