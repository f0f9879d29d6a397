/* kt_cli: see kt_cli.h.
 *
 * Everything here reads the option table through kt_config.h and never the reverse: the
 * loader knows nothing of argv, --help or how a value is written back as INI. */
#include "kt_cli.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MASK "****"

/* ---- printing ---- */

/* Writes the idx-th choice into buf; false when idx is out of range. */
static bool enum_name(const char *choices, int idx, char *buf, size_t cap)
{
    const char *c = choices ? choices : "";
    for (int i = 0; i < idx; i++) {
        c = strchr(c, '|');
        if (c == NULL)
            return false;
        c++;
    }
    if (idx < 0)
        return false;
    const char *bar = strchr(c, '|');
    size_t n = bar ? (size_t)(bar - c) : strlen(c);
    snprintf(buf, cap, "%.*s", (int)n, c);
    return true;
}

static void format_double(double v, char *buf, size_t cap)
{
    /* The shortest text that reads back as the same double. */
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void format_duration(uint64_t ms, char *buf, size_t cap)
{
    if (ms == 0)
        snprintf(buf, cap, "0");
    else if (ms % 3600000 == 0)
        snprintf(buf, cap, "%" PRIu64 "h", ms / 3600000);
    else if (ms % 60000 == 0)
        snprintf(buf, cap, "%" PRIu64 "m", ms / 60000);
    else if (ms % 1000 == 0)
        snprintf(buf, cap, "%" PRIu64 "s", ms / 1000);
    else
        snprintf(buf, cap, "%" PRIu64 "ms", ms);
}

static void format_size(uint64_t b, char *buf, size_t cap)
{
    static const struct {
        const char *name;
        uint64_t bytes;
    } units[] = {
        {"TiB", 1ULL << 40},      {"GiB", 1ULL << 30},   {"MiB", 1ULL << 20}, {"KiB", 1ULL << 10},
        {"TB", 1000000000000ULL}, {"GB", 1000000000ULL}, {"MB", 1000000ULL},  {"KB", 1000ULL},
    };
    for (size_t i = 0; b != 0 && i < sizeof(units) / sizeof(units[0]); i++) {
        if (b % units[i].bytes == 0) {
            snprintf(buf, cap, "%" PRIu64 "%s", b / units[i].bytes, units[i].name);
            return;
        }
    }
    snprintf(buf, cap, "%" PRIu64, b);
}

static bool looks_secret(const char *name)
{
    /* Passthrough properties carry no flags; these are the librdkafka ones that hold
     * credentials or private keys. */
    static const char *const words[] = {"password", "secret", "token", "key.pem", "oauthbearer"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strstr(name, words[i]) != NULL)
            return true;
    }
    return false;
}

/* Writes "key = value" so that kt_config_load reads back exactly value, or, for a value no
 * line can carry, a comment saying why (with the key cut so that the comment still fits). */
static void print_value(FILE *out, const char *key, const char *v, bool secret)
{
    size_t n = strlen(v);
    bool quote = n > 0 && (isspace((unsigned char)v[0]) || isspace((unsigned char)v[n - 1]) ||
                           v[0] == ';' || (n >= 2 && v[0] == '"' && v[n - 1] == '"'));
    size_t len = strlen(key) + 3 + (secret && n > 0 ? strlen(SECRET_MASK) : n + (quote ? 2 : 0));
    for (const char *p = v; !secret && *p; p++)
        len += p[0] == '$' && (p[1] == '{' || p[1] == '$');
    if (!secret &&
        (strchr(v, '\n') != NULL || strstr(v, " ;") != NULL || strstr(v, "\t;") != NULL)) {
        /* inih ends a line at a newline and a value at " ;": no spelling survives. */
        fprintf(out,
                "# %.64s: not shown: a newline or ' ;' in the value cannot be written in INI\n",
                key);
        return;
    }
    if (len > KT_CONFIG_LINE_MAX) {
        fprintf(out, "# %.64s: not shown: longer than the %d characters a line may hold\n", key,
                KT_CONFIG_LINE_MAX);
        return;
    }
    if (secret && n > 0) {
        fprintf(out, "%s = %s\n", key, SECRET_MASK);
        return;
    }
    fprintf(out, "%s =", key);
    if (n > 0) {
        fputc(' ', out);
        if (quote)
            fputc('"', out);
        for (const char *p = v; *p; p++) {
            if (p[0] == '$' && (p[1] == '{' || p[1] == '$'))
                fputc('$', out);
            fputc(*p, out);
        }
        if (quote)
            fputc('"', out);
    }
    fputc('\n', out);
}

static void print_option(FILE *out, const struct kt_option *o, const void *conf)
{
    const void *p = (const char *)conf + o->offset;
    bool secret = (o->flags & KT_OPT_SECRET) != 0;
    char buf[64];
    switch (o->type) {
    case KT_OPT_STRING: {
        const char *v = *(char *const *)p;
        if (v == NULL)
            fprintf(out, "# %s = (not set)\n", o->key);
        else
            print_value(out, o->key, v, secret);
        return;
    }
    case KT_OPT_LIST: {
        const struct kt_strlist *l = p;
        if (l->n == 0)
            fprintf(out, "%s =\n", o->key);
        for (size_t i = 0; i < l->n; i++)
            print_value(out, o->key, l->v[i], secret);
        return;
    }
    case KT_OPT_PREFIX: {
        const struct kt_strlist *l = p;
        for (size_t i = 0; i < l->n; i++) {
            const char *eq = strchr(l->v[i], '=');
            size_t nlen = eq ? (size_t)(eq - l->v[i]) : strlen(l->v[i]);
            char key[256];
            snprintf(key, sizeof(key), "%s.%.*s", o->key, (int)nlen, l->v[i]);
            print_value(out, key, eq ? eq + 1 : "", secret || looks_secret(key));
        }
        return;
    }
    case KT_OPT_UINT: snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)p); break;
    case KT_OPT_DURATION: format_duration(*(const uint64_t *)p, buf, sizeof(buf)); break;
    case KT_OPT_SIZE: format_size(*(const uint64_t *)p, buf, sizeof(buf)); break;
    case KT_OPT_DOUBLE: format_double(*(const double *)p, buf, sizeof(buf)); break;
    case KT_OPT_BOOL: snprintf(buf, sizeof(buf), "%s", *(const bool *)p ? "true" : "false"); break;
    case KT_OPT_ENUM:
        if (!enum_name(o->allowed, *(const int *)p, buf, sizeof(buf)))
            snprintf(buf, sizeof(buf), "%d", *(const int *)p);
        break;
    }
    fprintf(out, "%s = %s\n", o->key, secret ? SECRET_MASK : buf);
}

/* Sections print in the order they first appear in the table, each with all of its keys. */
static bool first_of_section(const struct kt_config_schema *s, size_t i)
{
    for (size_t j = 0; j < i; j++) {
        if (strcmp(s->opts[j].section, s->opts[i].section) == 0)
            return false;
    }
    return true;
}

/* Writes each section's header and then row(out, option, conf) for each of its options. */
static void print_sections(const struct kt_config_schema *s, FILE *out,
                           void (*row)(FILE *, const struct kt_option *, const void *),
                           const void *conf)
{
    for (size_t i = 0; i < s->n_opts; i++) {
        if (!first_of_section(s, i))
            continue;
        const char *sec = s->opts[i].section;
        fprintf(out, "\n[%s]\n", sec);
        for (size_t j = i; j < s->n_opts; j++) {
            if (strcmp(s->opts[j].section, sec) == 0)
                row(out, &s->opts[j], conf);
        }
    }
}

void kt_cli_print_config(const struct kt_config_schema *schema, const void *conf, FILE *out)
{
    fprintf(out, "# %s %s: effective configuration\n", schema->program ? schema->program : "",
            schema->version ? schema->version : "");
    print_sections(schema, out, print_option, conf);
    for (size_t k = 0; k < schema->n_handlers; k++)
        fprintf(out, "\n# [%s<name>] sections are read by the program and not shown here\n",
                schema->handlers[k].prefix);
}

static void type_desc(const struct kt_option *o, char *buf, size_t cap)
{
    const char *t = "";
    switch (o->type) {
    case KT_OPT_STRING: t = "string"; break;
    case KT_OPT_UINT: t = "integer"; break;
    case KT_OPT_DOUBLE: t = "number"; break;
    case KT_OPT_BOOL: t = "bool"; break;
    case KT_OPT_DURATION: t = "duration"; break;
    case KT_OPT_SIZE: t = "size"; break;
    case KT_OPT_ENUM: t = "one of "; break;
    case KT_OPT_LIST:
        t = (o->flags & KT_OPT_WHOLE) ? "list, one item per key: repeat the key" : "list";
        break;
    case KT_OPT_PREFIX: t = "passthrough"; break;
    }
    char range[64];
    kt_option_range_desc(o, range, sizeof(range));
    snprintf(buf, cap, "%s%s%s%s%s%s", t, o->type == KT_OPT_ENUM && o->allowed ? o->allowed : "",
             range[0] ? ", " : "", range, (o->flags & KT_OPT_REQUIRED) ? ", required" : "",
             (o->flags & KT_OPT_SECRET) ? ", secret" : "");
}

static void help_option(FILE *out, const struct kt_option *o, const void *unused)
{
    (void)unused;
    char type[256];
    type_desc(o, type, sizeof(type));
    if (o->type == KT_OPT_PREFIX)
        fprintf(out, "  %s.<name> = value  (%s)\n", o->key, type);
    else if (o->def == NULL)
        fprintf(out, "  %s  (%s; no default)\n", o->key, type);
    else
        fprintf(out, "  %s = %s  (%s)\n", o->key, o->def[0] ? o->def : "\"\"", type);
    if (o->doc != NULL)
        fprintf(out, "      %s\n", o->doc);
}

/* The option reference (section, key, type, default, doc) that --help ends with. */
static void kt_cli_print_help(const struct kt_config_schema *schema, FILE *out)
{
    fprintf(out,
            "Configuration options, by INI section. Override any with --set section.key=value.\n"
            "Values may use ${VAR} and ${VAR:-default} (write $$ for a literal $).\n"
            "Durations: 250ms, 1.5s, 10s, 5m, 1h (a bare number is milliseconds).\n"
            "Sizes: 512, 64KiB, 16MiB, 1GiB; 1KB = 1000, 1MB = 10^6 bytes.\n"
            "Lists: comma-separated, or the key repeated.\n");
    print_sections(schema, out, help_option, NULL);
    for (size_t k = 0; k < schema->n_handlers; k++)
        fprintf(out, "\n[%s<name>]\n  keys as documented for %s\n", schema->handlers[k].prefix,
                schema->program ? schema->program : "the program");
}

/* ---- command line ---- */

static void print_usage(const struct kt_config_schema *s, FILE *out)
{
    const char *prog = s->program ? s->program : "";
    fprintf(out,
            "Usage: %s [-c FILE] [--set section.key=value]... [--check | --print-config]\n"
            "       %s -h | --help | -V | --version\n",
            prog, prog);
}

static void print_cli_help(const struct kt_config_schema *s, FILE *out)
{
    if (s->summary != NULL)
        fprintf(out, "%s - %s\n\n", s->program ? s->program : "", s->summary);
    print_usage(s, out);
    fprintf(out,
            "\n"
            "  -c, --config FILE       read the INI configuration FILE (without it, defaults)\n"
            "      --set s.key=value   override one option after the file (repeatable)\n"
            "      --check             validate the configuration, print 'FILE: configuration "
            "OK', exit\n"
            "      --print-config      print the effective configuration (secrets masked), "
            "exit\n"
            "  -h, --help              show this help\n"
            "  -V, --version           print the version\n"
            "\n");
    kt_cli_print_help(s, out);
}

static int usage_error(const struct kt_config_schema *s, const char *fmt, const char *arg)
{
    const char *prog = s->program ? s->program : "";
    fprintf(stderr, "%s: %s '%s'\n", prog, fmt, arg);
    print_usage(s, stderr);
    fprintf(stderr, "Try '%s --help' for the option reference.\n", prog);
    return KT_CLI_EXIT2;
}

int kt_cli_run(const struct kt_config_schema *schema, void *conf, int argc, char **argv)
{
    const char *prog = schema->program ? schema->program : "";
    const char *path = NULL;
    bool check = false, print = false, help = false, version = false;
    const char **sets = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*sets));
    size_t n_sets = 0;
    int ret = KT_CLI_RUN;
    if (sets == NULL) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return KT_CLI_EXIT2;
    }
    for (int i = 1; i < argc && ret == KT_CLI_RUN; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (i + 1 >= argc)
                ret = usage_error(schema, "a FILE must follow", a);
            else
                path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
        } else if (strncmp(a, "-c", 2) == 0 && a[2] != '\0') {
            path = a + 2;
        } else if (strcmp(a, "--set") == 0) {
            if (i + 1 >= argc)
                ret = usage_error(schema, "section.key=value must follow", a);
            else
                sets[n_sets++] = argv[++i];
        } else if (strncmp(a, "--set=", 6) == 0) {
            sets[n_sets++] = a + 6;
        } else if (strcmp(a, "--check") == 0) {
            check = true;
        } else if (strcmp(a, "--print-config") == 0) {
            print = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help = true;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            version = true;
        } else if (a[0] == '-') {
            ret = usage_error(schema, "unknown option", a);
        } else {
            ret = usage_error(schema, "unexpected argument", a);
        }
    }
    if (ret != KT_CLI_RUN) {
        free(sets);
        return ret;
    }
    if (help || version) {
        if (help)
            print_cli_help(schema, stdout);
        else
            printf("%s %s\n", prog, schema->version ? schema->version : "");
        fflush(stdout);
        free(sets);
        return KT_CLI_EXIT0;
    }
    struct kt_err err = {0, ""};
    int rc = kt_config_load(schema, conf, path, sets, n_sets, &err);
    free(sets);
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", prog, err.msg);
        kt_config_free(schema, conf);
        return KT_CLI_EXIT2;
    }
    if (schema->validate != NULL && schema->validate(conf, &err) != 0) {
        /* Validators quote statements and values from the file, as the loader does. */
        kt_err_escape(&err);
        fprintf(stderr, "%s: %s%s%s\n", prog, path ? path : "", path ? ": " : "", err.msg);
        kt_config_free(schema, conf);
        return KT_CLI_EXIT2;
    }
    if (!check && !print)
        return KT_CLI_RUN;
    if (print)
        kt_cli_print_config(schema, conf, stdout);
    if (check)
        printf("%s: configuration OK\n", path ? path : "(defaults)");
    fflush(stdout);
    kt_config_free(schema, conf);
    return KT_CLI_EXIT0;
}
