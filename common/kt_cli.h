/* kt_cli: the command line both binaries share, and what it prints from the option table
 * (--print-config, --help). Uses kt_config; kt_config never calls back into it. */
#ifndef KT_CLI_H
#define KT_CLI_H

#include <stdio.h>

#include "kt_config.h"

/* --print-config: writes the effective configuration as INI (sections in table order,
 * secrets masked, lists as repeated keys, durations and sizes in human units) that
 * kt_config_load reads back to the same values. A string that is not set prints as a comment.
 * Prefix entries whose name holds "password", "secret", "token", "key.pem" or "oauthbearer" are
 * masked too. A value with a newline or " ;" has no INI spelling, and a "key = value" longer than
 * KT_CONFIG_LINE_MAX cannot be read back: each prints as a comment saying so.
 */
void kt_cli_print_config(const struct kt_config_schema *schema, const void *conf, FILE *out);

/* --print-example-config: writes an INI file that sets every option to its default, each
 * under its documentation (kt_option.doc) as comments, sections under their prose
 * (schema->sections) and the handlers' sections described where they belong; the header
 * explains the syntax. Reads only the table: the etc/<program>.ini files are this output. */
void kt_cli_print_example(const struct kt_config_schema *schema, FILE *out);

/* --print-man: writes the program's manual page (man(7) roff): NAME, SYNOPSIS, DESCRIPTION,
 * OPTIONS (the command line), CONFIGURATION (every section and key with its default, type
 * and documentation), SIGNALS, FILES and SEE ALSO. */
void kt_cli_print_man(const struct kt_config_schema *schema, FILE *out);

/* The shared command line of both binaries:
 *   -c FILE | --config FILE, --set section.key=value (repeatable), --check, --print-config,
 *   --print-example-config, --print-man, -h | --help, -V | --version.
 * kt_cli_run loads the configuration and handles --check / --print-config /
 * --print-example-config / --print-man / --help / --version itself (the last four without
 * reading any configuration). Returns:
 *   KT_CLI_RUN   (0): conf is loaded, the caller should run the program;
 *   KT_CLI_EXIT0 (1): done, exit 0 (help, version, successful --check / --print-config);
 *   KT_CLI_EXIT2 (2): usage or configuration error already printed to stderr, exit 2.
 * On EXIT0 and EXIT2 conf has already been freed; on RUN the caller frees it when done
 * (kt_config_free is idempotent, so freeing in every case is also fine). The program name in
 * messages and --version is schema->program, not argv[0]. */
#define KT_CLI_RUN 0
#define KT_CLI_EXIT0 1
#define KT_CLI_EXIT2 2
int kt_cli_run(const struct kt_config_schema *schema, void *conf, int argc, char **argv);

/* A program's own command-line option, beyond the shared ones. */
struct kt_cli_opt {
    const char *name; /* "--dump" */
    const char
        *arg; /* "TOPIC": the option takes a value (--dump TOPIC, --dump=TOPIC); NULL: a flag */
    const char *doc; /* one line for --help and the man page */
};

/* The options of a program (kotel-process --dump ...), and their line in the usage text. */
struct kt_cli_extra {
    const char *synopsis; /* what follows the program's name: "--dump TOPIC [--count N]" */
    const struct kt_cli_opt *opts;
    size_t n;
};

/* kt_cli_run that also parses the program's own options, from n_extras tables (listed in
 * --help and --print-man after the shared ones, table by table; each table's synopsis is a
 * usage line): given[t][i] (the caller's arrays, given[t] of extras[t]->n entries) is set to
 * the value of extras[t]->opts[i], borrowed from argv, to "" for a flag, and stays NULL when
 * the option is absent. An option given twice, or without its value, is a usage error
 * (EXIT2). Whether options of different tables go together is the program's to check. The
 * configuration loads as usual, so the program's own options run with it. */
int kt_cli_run_extra(const struct kt_config_schema *schema,
                     const struct kt_cli_extra *const *extras, size_t n_extras,
                     const char **const *given, void *conf, int argc, char **argv);

#endif
