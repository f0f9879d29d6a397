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
    if (o->doc != NULL) /* its first line: the rest is for the example file and man page */
        fprintf(out, "      %.*s\n", (int)strcspn(o->doc, "\n"), o->doc);
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

/* ---- documentation text (the syntax of kt_option.doc) ---- */

#define DOC_WIDTH 94 /* the example file's comment lines, "# " included */

/* Calls line(ctx, p, n) for each line of text, without its '\n'. */
static void each_line(const char *text, void (*line)(void *, const char *, size_t), void *ctx)
{
    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        line(ctx, p, n);
        p = nl ? nl + 1 : p + n;
    }
}

/* Comment lines of the example file: words fill lines up to DOC_WIDTH. */
struct ini_wrap {
    FILE *out;
    size_t col; /* 0: at the start of a line */
};

static void ini_wrap_end(struct ini_wrap *w)
{
    if (w->col > 0)
        fputc('\n', w->out);
    w->col = 0;
}

static void ini_wrap_words(struct ini_wrap *w, const char *p, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t len = strcspn(p + i, " \n");
        if (len > n - i)
            len = n - i;
        if (len > 0) {
            if (w->col > 0 && w->col + 1 + len > DOC_WIDTH)
                ini_wrap_end(w);
            if (w->col == 0) {
                fputc('#', w->out);
                w->col = 1;
            }
            fprintf(w->out, " %.*s", (int)len, p + i);
            w->col += 1 + len;
        }
        i += len + 1;
    }
}

static void ini_doc_line(void *ctx, const char *p, size_t n)
{
    struct ini_wrap *w = ctx;
    if (n == 0) {
        ini_wrap_end(w);
        fputs("#\n", w->out);
    } else if (p[0] == ' ') {
        ini_wrap_end(w);
        fprintf(w->out, "#%.*s\n", (int)n, p);
    } else {
        ini_wrap_words(w, p, n);
    }
}

static void ini_comment(FILE *out, const char *text)
{
    struct ini_wrap w = {out, 0};
    each_line(text, ini_doc_line, &w);
    ini_wrap_end(&w);
}

/* Text on one roff line: a leading '.' or '\'' would be a request, a backslash an escape. */
static void roff_text(FILE *out, const char *p, size_t n)
{
    if (n > 0 && (p[0] == '.' || p[0] == '\''))
        fputs("\\&", out);
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\')
            fputs("\\e", out);
        else
            fputc(p[i], out);
    }
    fputc('\n', out);
}

static void roff_str(FILE *out, const char *s)
{
    roff_text(out, s, strlen(s));
}

/* Man page text: paragraphs are filled by the formatter, lines starting with a blank are
 * no-fill lines (indented, outside a list item), and an empty line starts a paragraph with `para`
 * (".PP", or ".IP" in a list item). */
struct roff_doc {
    FILE *out;
    const char *para;
    bool in_item; /* the body of a .TP item is indented already */
    bool nofill;
};

static void roff_doc_line(void *ctx, const char *p, size_t n)
{
    struct roff_doc *r = ctx;
    bool verbatim = n > 0 && p[0] == ' ';
    if (r->nofill && !verbatim) {
        fputs(r->in_item ? ".fi\n" : ".fi\n.RE\n", r->out);
        r->nofill = false;
    }
    if (n == 0) {
        fprintf(r->out, "%s\n", r->para);
    } else if (verbatim) {
        if (!r->nofill)
            fputs(r->in_item ? ".nf\n" : ".RS 4\n.nf\n", r->out);
        r->nofill = true;
        roff_text(r->out, p + 1, n - 1);
    } else {
        roff_text(r->out, p, n);
    }
}

static void roff_doc(FILE *out, const char *text, const char *para)
{
    struct roff_doc r = {out, para, strcmp(para, ".IP") == 0, false};
    each_line(text, roff_doc_line, &r);
    if (r.nofill)
        fputs(r.in_item ? ".fi\n" : ".fi\n.RE\n", out);
}

static const char *section_doc(const struct kt_config_schema *s, const char *section)
{
    for (size_t i = 0; i < s->n_sections; i++) {
        if (strcmp(s->sections[i].section, section) == 0)
            return s->sections[i].doc;
    }
    return NULL;
}

/* The table section (index of its first option) under which a handler's sections are
 * described: the longest one its prefix extends, "tail_sampling" for "tail_sampling.policy.";
 * n_opts when there is none (they come last). */
static size_t handler_parent(const struct kt_config_schema *s, const struct kt_section_handler *h)
{
    size_t best = s->n_opts, best_len = 0;
    for (size_t i = 0; i < s->n_opts; i++) {
        size_t n = strlen(s->opts[i].section);
        if (first_of_section(s, i) && n > best_len &&
            strncmp(h->prefix, s->opts[i].section, n) == 0 && h->prefix[n] == '.') {
            best = i;
            best_len = n;
        }
    }
    return best;
}

/* ---- the example file (--print-example-config) ---- */

static void example_option(FILE *out, const struct kt_option *o)
{
    char type[256];
    fputc('\n', out);
    ini_comment(out, o->doc);
    if (o->type != KT_OPT_STRING || o->flags != 0) {
        type_desc(o, type, sizeof(type));
        fprintf(out, "# (%s)\n", type);
    }
    if (o->type == KT_OPT_PREFIX)
        return; /* no key of its own: the doc shows examples */
    if (o->def != NULL)
        print_value(out, o->key, o->def, false);
    else if (o->type == KT_OPT_LIST)
        fprintf(out, "%s =\n", o->key); /* no default is the empty list */
    else
        fprintf(out, "# %s = (no default)\n", o->key);
}

static void example_handlers(const struct kt_config_schema *s, FILE *out, size_t parent)
{
    for (size_t k = 0; k < s->n_handlers; k++) {
        if (s->handlers[k].doc != NULL && handler_parent(s, &s->handlers[k]) == parent) {
            fputc('\n', out);
            ini_comment(out, s->handlers[k].doc);
        }
    }
}

void kt_cli_print_example(const struct kt_config_schema *schema, FILE *out)
{
    const char *prog = schema->program ? schema->program : "";
    fprintf(out,
            "# %s configuration: every option, set to its built-in default.\n"
            "# Written by `%s --print-example-config` from the option table;\n"
            "# `%s --help` prints the same reference.\n",
            prog, prog, prog);
    if (schema->description != NULL) {
        fputs("#\n", out);
        ini_comment(out, schema->description);
    }
    fprintf(out,
            "#\n"
            "# Use:      %s -c /etc/kotel/%s.ini\n"
            "# Validate: %s -c FILE --check          (prints \"FILE: configuration OK\", exit 0;\n"
            "#           or FILE:LINE: [section] key: what is wrong, exit 2)\n"
            "# Inspect:  %s -c FILE --print-config   (the effective values, secrets masked)\n"
            "# Override: %s -c FILE --set section.key=value\n"
            "#           --set may be repeated and wins over the file.\n",
            prog, prog, prog, prog, prog);
    fprintf(
        out,
        "#\n"
        "# Syntax (read with inih):\n"
        "#   - [section] headers, then `key = value` lines. Indentation is ignored.\n"
        "#   - Comments are whole lines starting with '#' or ';'. A ';' preceded by a space also\n"
        "#     starts a comment at the end of a line, so a value cannot contain \" ;\".\n"
        "#   - Unknown sections or keys, a key set twice and bad values are errors, reported with "
        "the\n"
        "#     file and line; misspelt names get a \"did you mean\" hint.\n"
        "#   - Lines may be at most %d characters long.\n"
        "#   - Surrounding double quotes are removed: use them for leading or trailing blanks.\n"
        "#   - ${VAR} is replaced by the environment variable VAR (an error if VAR is unset) and\n"
        "#     ${VAR:-default} falls back to default when VAR is unset or empty. Write $$ for a\n"
        "#     literal '$' before '{' or '$'. Example: brokers = ${KAFKA_BROKERS:-localhost:9092}\n"
        "#\n"
        "# Value types:\n"
        "#   duration  200ms, 1.5s, 10s, 5m, 1h, or combined as 1m30s; a bare number is "
        "milliseconds\n"
        "#   size      bytes: 512, 64KiB, 16MiB, 1GiB (powers of 1024); 1KB = 1000, 1MB = 1000000\n"
        "#   bool      true/false, yes/no, on/off, 1/0\n"
        "#   list      comma-separated, or the key repeated: the first occurrence in this file\n"
        "#             replaces the default, later ones append; the first --set replaces the "
        "list.\n"
        "#             A list of one item per key (OTTL, headers) takes commas as part of the "
        "item.\n"
        "#\n"
        "# Every line below that is not a comment restates a default: delete what you do not "
        "change.\n",
        KT_CONFIG_LINE_MAX);
    for (size_t i = 0; i < schema->n_opts; i++) {
        if (!first_of_section(schema, i))
            continue;
        const char *sec = schema->opts[i].section;
        const char *doc = section_doc(schema, sec);
        fputc('\n', out);
        if (doc != NULL)
            ini_comment(out, doc);
        fprintf(out, "[%s]", sec);
        for (size_t j = i; j < schema->n_opts; j++) {
            if (strcmp(schema->opts[j].section, sec) == 0)
                example_option(out, &schema->opts[j]);
        }
        example_handlers(schema, out, i);
    }
    example_handlers(schema, out, schema->n_opts);
}

/* ---- the man page (--print-man) ---- */

/* Roff for a command-line flag as "\fB\-\-set\fR": every '-' a minus sign, so that it can be
 * copied and searched for. */
static void roff_flag(FILE *out, const char *flag)
{
    fputs("\\fB", out);
    for (const char *p = flag; *p; p++) {
        if (*p == '-')
            fputs("\\-", out);
        else
            fputc(*p, out);
    }
    fputs("\\fR", out);
}

/* Roff text with no request in it: backslashes escaped. */
static void roff_inline(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", out);
        else
            fputc(*s, out);
    }
}

/* An option as a list item: "key = default" as the tag, its type, then its doc. */
static void man_option(FILE *out, const struct kt_option *o)
{
    char type[256];
    type_desc(o, type, sizeof(type));
    fputs(".TP\n", out);
    if (o->type == KT_OPT_PREFIX) {
        fprintf(out, "\\fB%s.\\fR\\fIname\\fR = \\fIvalue\\fR\n", o->key);
    } else {
        fprintf(out, "\\fB%s\\fR", o->key);
        if (o->def != NULL) {
            fputs(" = ", out);
            if (o->def[0] == '\0')
                fputs("\\(dq\\(dq", out);
            else
                roff_inline(out, o->def);
        }
        fputc('\n', out);
    }
    fputs("(", out);
    roff_inline(out, type);
    fputs(o->def == NULL && o->type != KT_OPT_PREFIX ? "; no default)\n.br\n" : ")\n.br\n", out);
    roff_doc(out, o->doc, ".IP");
}

static void man_handlers(const struct kt_config_schema *s, FILE *out, size_t parent)
{
    for (size_t k = 0; k < s->n_handlers; k++) {
        if (handler_parent(s, &s->handlers[k]) != parent)
            continue;
        fprintf(out, ".SS [%sNAME]\n", s->handlers[k].prefix);
        if (s->handlers[k].doc != NULL)
            roff_doc(out, s->handlers[k].doc, ".PP");
    }
}

/* The command-line options: one list for --help's text and the man page. */
static const struct {
    const char *flags[2]; /* short, long; either may be NULL */
    const char *arg;
    const char *doc;
} cli_flags[] = {
    {{"-c", "--config"}, "FILE", "read the INI configuration FILE (without it, defaults)"},
    {{NULL, "--set"}, "section.key=value", "override one option after the file (repeatable)"},
    {{NULL, "--check"}, NULL, "validate the configuration, print 'FILE: configuration OK', exit"},
    {{NULL, "--print-config"}, NULL, "print the effective configuration (secrets masked), exit"},
    {{NULL, "--print-example-config"},
     NULL,
     "print every option at its default, documented, as an INI file, exit"},
    {{NULL, "--print-man"}, NULL, "print this manual page (roff), exit"},
    {{"-h", "--help"}, NULL, "show the options and the configuration reference"},
    {{"-V", "--version"}, NULL, "print the version"},
};

/* The program's own option tables (kt_cli_run_extra), as one argument. */
struct extras {
    const struct kt_cli_extra *const *t;
    size_t n;
};

static void roff_extra_synopsis(FILE *out, const char *prog, const struct kt_cli_extra *extra)
{
    if (extra->synopsis == NULL)
        return;
    fprintf(out, ".br\n.B %s\n", prog);
    /* Options are typed with ASCII minus signs, which a bare '-' is not in roff. */
    for (const char *p = extra->synopsis; *p; p++) {
        if (*p == '-' || *p == '\\')
            fputs(*p == '-' ? "\\-" : "\\e", out);
        else
            fputc(*p, out);
    }
    fputc('\n', out);
}

static void man_page(const struct kt_config_schema *schema, const struct extras *x, FILE *out)
{
    const char *prog = schema->program ? schema->program : "";
    char upper[64];
    size_t n = 0;
    for (; prog[n] != '\0' && n + 1 < sizeof(upper); n++)
        upper[n] = (char)toupper((unsigned char)prog[n]);
    upper[n] = '\0';
    fprintf(out, ".\\\" Written by %s --print-man from its option table.\n", prog);
    fprintf(out, ".TH %s 1 \"\" \"kotel %s\" \"kotel manual\"\n", upper,
            schema->version ? schema->version : "");
    /* Keys and values are long words: left-aligned and never hyphenated, they stay whole. */
    fputs(".ad l\n.nh\n", out);
    fprintf(out, ".SH NAME\n%s \\- ", prog);
    roff_str(out, schema->summary ? schema->summary : "");
    fprintf(out,
            ".SH SYNOPSIS\n"
            ".B %s\n"
            "[\\fB\\-c\\fR \\fIFILE\\fR] [\\fB\\-\\-set\\fR \\fIsection.key=value\\fR]...\n"
            "[\\fB\\-\\-check\\fR | \\fB\\-\\-print\\-config\\fR]\n"
            ".br\n"
            ".B %s\n"
            "\\fB\\-\\-print\\-example\\-config\\fR | \\fB\\-\\-print\\-man\\fR | "
            "\\fB\\-h\\fR | \\fB\\-V\\fR\n",
            prog, prog);
    for (size_t t = 0; t < x->n; t++)
        roff_extra_synopsis(out, prog, x->t[t]);
    fputs(".SH DESCRIPTION\n", out);
    if (schema->description != NULL) {
        roff_doc(out, schema->description, ".PP");
        fputs(".PP\n", out);
    }
    fprintf(out,
            "The configuration is an INI file (\\fB\\-c\\fR), every key of which has a default;\n"
            "\\fB\\-\\-set\\fR overrides single keys after it. A mistake in either stops startup\n"
            "with exit status 2 and a message naming the file, line, section and key.\n"
            "Other failures to start exit with status 1.\n");
    fputs(".SH OPTIONS\n", out);
    for (size_t i = 0; i < sizeof(cli_flags) / sizeof(cli_flags[0]); i++) {
        fputs(".TP\n", out);
        for (int k = 0; k < 2; k++) {
            if (cli_flags[i].flags[k] == NULL)
                continue;
            if (k == 1 && cli_flags[i].flags[0] != NULL)
                fputs(", ", out);
            roff_flag(out, cli_flags[i].flags[k]);
        }
        if (cli_flags[i].arg != NULL)
            fprintf(out, " \\fI%s\\fR", cli_flags[i].arg);
        fputc('\n', out);
        roff_str(out, cli_flags[i].doc);
    }
    for (size_t t = 0; t < x->n; t++) {
        for (size_t i = 0; i < x->t[t]->n; i++) {
            const struct kt_cli_opt *o = &x->t[t]->opts[i];
            fputs(".TP\n", out);
            roff_flag(out, o->name);
            if (o->arg != NULL)
                fprintf(out, " \\fI%s\\fR", o->arg);
            fputc('\n', out);
            roff_str(out, o->doc);
        }
    }
    fprintf(out,
            ".SH CONFIGURATION\n"
            "Sections and keys of the INI file, each with its default and type.\n"
            "Values may use \\fB${VAR}\\fR and \\fB${VAR:\\-default}\\fR from the environment\n"
            "(\\fB$$\\fR is a literal \\fB$\\fR).\n"
            "Durations: 250ms, 1.5s, 10s, 5m, 1h (a bare number is milliseconds).\n"
            "Sizes: 512, 64KiB, 16MiB, 1GiB; 1KB = 1000, 1MB = 10^6 bytes.\n"
            "Lists: comma-separated, or the key repeated.\n"
            "Booleans: true/false, yes/no, on/off, 1/0.\n"
            "A line holds at most %d characters; a \\(aq;\\(aq after a blank starts a comment.\n",
            KT_CONFIG_LINE_MAX);
    for (size_t i = 0; i < schema->n_opts; i++) {
        if (!first_of_section(schema, i))
            continue;
        const char *sec = schema->opts[i].section;
        const char *doc = section_doc(schema, sec);
        fprintf(out, ".SS [%s]\n", sec);
        if (doc != NULL)
            roff_doc(out, doc, ".PP");
        for (size_t j = i; j < schema->n_opts; j++) {
            if (strcmp(schema->opts[j].section, sec) == 0)
                man_option(out, &schema->opts[j]);
        }
        man_handlers(schema, out, i);
    }
    man_handlers(schema, out, schema->n_opts);
    if (schema->signals != NULL) {
        fputs(".SH SIGNALS\n", out);
        roff_doc(out, schema->signals, ".PP");
    }
    fprintf(out,
            ".SH FILES\n"
            ".TP\n"
            ".I /etc/kotel/%s.ini\n"
            "The configuration the systemd unit %s.service reads; \\fBmake install\\fR puts\n"
            "this program's \\fB\\-\\-print\\-example\\-config\\fR there.\n",
            prog, prog);
    fputs(".SH SEE ALSO\n", out);
    roff_str(out, schema->see_also ? schema->see_also : "");
}

void kt_cli_print_man(const struct kt_config_schema *schema, FILE *out)
{
    const struct extras none = {NULL, 0};
    man_page(schema, &none, out);
}

/* ---- command line ---- */

static void print_usage(const struct kt_config_schema *s, const struct extras *x, FILE *out)
{
    const char *prog = s->program ? s->program : "";
    fprintf(out,
            "Usage: %s [-c FILE] [--set section.key=value]... [--check | --print-config]\n"
            "       %s --print-example-config | --print-man | -h | --help | -V | --version\n",
            prog, prog);
    for (size_t t = 0; t < x->n; t++) {
        if (x->t[t]->synopsis != NULL)
            fprintf(out, "       %s [-c FILE] [--set section.key=value]... %s\n", prog,
                    x->t[t]->synopsis);
    }
}

static void help_flag(FILE *out, const char *short_name, const char *long_name, const char *arg,
                      const char *doc)
{
    char flags[64];
    snprintf(flags, sizeof(flags), "%s%s%s%s%s", short_name ? short_name : "",
             short_name ? ", " : "    ", long_name, arg ? " " : "", arg ? arg : "");
    fprintf(out, "  %-29s%s\n", flags, doc);
}

static void print_cli_help(const struct kt_config_schema *s, const struct extras *x, FILE *out)
{
    if (s->summary != NULL)
        fprintf(out, "%s - %s\n\n", s->program ? s->program : "", s->summary);
    print_usage(s, x, out);
    fputc('\n', out);
    for (size_t i = 0; i < sizeof(cli_flags) / sizeof(cli_flags[0]); i++)
        help_flag(out, cli_flags[i].flags[0], cli_flags[i].flags[1], cli_flags[i].arg,
                  cli_flags[i].doc);
    for (size_t t = 0; t < x->n; t++) {
        for (size_t i = 0; i < x->t[t]->n; i++)
            help_flag(out, NULL, x->t[t]->opts[i].name, x->t[t]->opts[i].arg, x->t[t]->opts[i].doc);
    }
    fputc('\n', out);
    kt_cli_print_help(s, out);
}

static int usage_error(const struct kt_config_schema *s, const struct extras *x, const char *fmt,
                       const char *arg)
{
    const char *prog = s->program ? s->program : "";
    fprintf(stderr, "%s: %s '%s'\n", prog, fmt, arg);
    print_usage(s, x, stderr);
    fprintf(stderr, "Try '%s --help' for the option reference.\n", prog);
    return KT_CLI_EXIT2;
}

/* Reads argv[*i] as one of extra's options into given: true when it is one (*i then points
 * at its last word), with *ret set to EXIT2 on a usage error. */
static bool table_option(const struct kt_config_schema *schema, const struct extras *x,
                         const struct kt_cli_extra *extra, const char **given, int argc,
                         char **argv, int *i, int *ret)
{
    const char *a = argv[*i];
    for (size_t k = 0; k < extra->n; k++) {
        const struct kt_cli_opt *o = &extra->opts[k];
        size_t len = strlen(o->name);
        if (strncmp(a, o->name, len) != 0 || (a[len] != '\0' && a[len] != '='))
            continue;
        if (given[k] != NULL) {
            *ret = usage_error(schema, x, "given twice:", o->name);
        } else if (o->arg == NULL) {
            if (a[len] == '=')
                *ret = usage_error(schema, x, "takes no value:", a);
            else
                given[k] = "";
        } else if (a[len] == '=') {
            given[k] = a + len + 1;
        } else if (*i + 1 >= argc) {
            *ret = usage_error(schema, x, "a value must follow", a);
        } else {
            given[k] = argv[++*i];
        }
        return true;
    }
    return false;
}

static bool extra_option(const struct kt_config_schema *schema, const struct extras *x,
                         const char **const *given, int argc, char **argv, int *i, int *ret)
{
    for (size_t t = 0; t < x->n; t++) {
        if (table_option(schema, x, x->t[t], given[t], argc, argv, i, ret))
            return true;
    }
    return false;
}

int kt_cli_run(const struct kt_config_schema *schema, void *conf, int argc, char **argv)
{
    return kt_cli_run_extra(schema, NULL, 0, NULL, conf, argc, argv);
}

int kt_cli_run_extra(const struct kt_config_schema *schema,
                     const struct kt_cli_extra *const *extras, size_t n_extras,
                     const char **const *given, void *conf, int argc, char **argv)
{
    const struct extras xs = {extras, n_extras}, *x = &xs;
    const char *prog = schema->program ? schema->program : "";
    const char *path = NULL;
    bool check = false, print = false, help = false, version = false, example = false, man = false;
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
                ret = usage_error(schema, x, "a FILE must follow", a);
            else
                path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            path = a + 9;
        } else if (strncmp(a, "-c", 2) == 0 && a[2] != '\0') {
            path = a + 2;
        } else if (strcmp(a, "--set") == 0) {
            if (i + 1 >= argc)
                ret = usage_error(schema, x, "section.key=value must follow", a);
            else
                sets[n_sets++] = argv[++i];
        } else if (strncmp(a, "--set=", 6) == 0) {
            sets[n_sets++] = a + 6;
        } else if (strcmp(a, "--check") == 0) {
            check = true;
        } else if (strcmp(a, "--print-config") == 0) {
            print = true;
        } else if (strcmp(a, "--print-example-config") == 0) {
            example = true;
        } else if (strcmp(a, "--print-man") == 0) {
            man = true;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            help = true;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            version = true;
        } else if (extra_option(schema, x, given, argc, argv, &i, &ret)) {
            continue;
        } else if (a[0] == '-') {
            ret = usage_error(schema, x, "unknown option", a);
        } else {
            ret = usage_error(schema, x, "unexpected argument", a);
        }
    }
    if (ret != KT_CLI_RUN) {
        free(sets);
        return ret;
    }
    if (help || version || example || man) {
        /* The documentation comes from the table alone: no configuration is read. */
        if (help)
            print_cli_help(schema, x, stdout);
        else if (example)
            kt_cli_print_example(schema, stdout);
        else if (man)
            man_page(schema, x, stdout);
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
