/* kt_config: see kt_config.h.
 *
 * inih does the INI tokenising, but it reads through our own line reader (read_line) rather
 * than a FILE *: the installed inih does not pass line numbers to the handler, cuts lines at
 * 200 bytes and section names at 49 without saying so, and treats an indented line as a
 * continuation of the previous value. The reader counts lines, refuses what inih would
 * silently mangle, strips indentation, and checks section headers (inih never reports a
 * section that has no keys). Everything after tokenising is driven by the option table. */
#include "kt_config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ini.h>

#include "kt_buf.h"
#include "kt_secret.h"
#include "kt_suggest.h"

/* inih copies a section name into a 50-byte buffer and cuts anything longer. */
#define SECTION_NAME_MAX 49
/* Values echoed in messages are cut so that the file:line context still fits. */
#define ECHO_MAX 80
/* What a KT_OPT_PREFIX name may hold: librdkafka's property names need no more, and --set
 * could otherwise bring in a blank, ':' or a newline that --print-config cannot write back. */
#define PREFIX_NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
_Static_assert(KT_CONFIG_LINE_MAX == INI_MAX_LINE - 2,
               "inih's line buffer holds the '\\n' and NUL");
/* Raw bytes of one line the reader holds. inih takes KT_CONFIG_LINE_MAX characters once the
 * indentation is stripped, so a longer raw line is refused whatever it holds; the slack is for
 * blanks. */
#define LINE_READ_MAX 1024

/* ---- small helpers ---- */

static void *opt_ptr(void *conf, const struct kt_option *o)
{
    return (char *)conf + o->offset;
}

static const void *opt_cptr(const void *conf, const struct kt_option *o)
{
    return (const char *)conf + o->offset;
}

static bool is_space(char c)
{
    return isspace((unsigned char)c) != 0;
}

/* A copy of s[0..n) without surrounding whitespace, or NULL when out of memory. */
static char *trim_dup(const char *s, size_t n)
{
    while (n > 0 && is_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_space(s[n - 1]))
        n--;
    return strndup(s, n);
}

/* Trims in place; returns the start of the trimmed text. */
static char *trim_inplace(char *s)
{
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        n--;
    s[n] = '\0';
    return s;
}

void kt_strlist_free(struct kt_strlist *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int kt_strlist_push(struct kt_strlist *l, const char *s)
{
    char *copy = strdup(s);
    if (copy == NULL)
        return KT_ENOMEM;
    /* Lists hold a handful of brokers or properties; growing by one keeps the struct
     * free of a capacity field that callers would have to know about. */
    char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (v == NULL) {
        free(copy);
        return KT_ENOMEM;
    }
    v[l->n++] = copy;
    l->v = v;
    return 0;
}

/* ---- value parsers ---- */

int kt_parse_uint(const char *s, uint64_t *out, struct kt_err *err)
{
    if (!isdigit((unsigned char)s[0]))
        return kt_err_set(err, KT_EINVAL, "want a non-negative integer, got '%.*s'", ECHO_MAX, s);
    uint64_t v = 0;
    const char *p = s;
    for (; isdigit((unsigned char)*p); p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            return kt_err_set(err, KT_EINVAL, "'%.*s' is too large", ECHO_MAX, s);
        v = v * 10 + d;
    }
    if (*p != '\0')
        return kt_err_set(err, KT_EINVAL, "want a non-negative integer, got '%.*s'", ECHO_MAX, s);
    *out = v;
    return 0;
}

int kt_parse_bool(const char *s, bool *out, struct kt_err *err)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return kt_err_set(err, KT_EINVAL, "want true or false (or yes/no, on/off, 1/0), got '%.*s'",
                      ECHO_MAX, s);
}

/* A decimal number "123" or "1.5" at *p. Fractions are kept as integers (frac / den) so that
 * "1.5s" and "0.5MiB" come out exact instead of going through a double. */
struct decimal {
    uint64_t ip;
    uint64_t frac;
    uint64_t den;
    bool tail; /* nonzero digits beyond the 18 kept: never whole after scaling by a unit */
};

static bool scan_decimal(const char **p, struct decimal *d, bool *too_big)
{
    const char *s = *p;
    *too_big = false;
    d->ip = 0;
    d->frac = 0;
    d->den = 1;
    d->tail = false;
    if (!isdigit((unsigned char)*s))
        return false;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned v = (unsigned)(*s - '0');
        if (d->ip > (UINT64_MAX - v) / 10)
            *too_big = true;
        else
            d->ip = d->ip * 10 + v;
    }
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return false;
        for (; isdigit((unsigned char)*s); s++) {
            if (d->den >= 1000000000000000000ULL) {
                d->tail |= *s != '0';
                continue;
            }
            d->frac = d->frac * 10 + (uint64_t)(*s - '0');
            d->den *= 10;
        }
    }
    *p = s;
    return true;
}

static uint64_t gcd_u64(uint64_t a, uint64_t b)
{
    while (b != 0) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* d * mult into *acc. Returns 0, 1 for overflow, 2 when the result is not whole. */
static int decimal_scale_add(const struct decimal *d, uint64_t mult, uint64_t *acc)
{
    uint64_t whole;
    if (__builtin_mul_overflow(d->ip, mult, &whole) || __builtin_add_overflow(*acc, whole, acc))
        return 1;
    if (d->tail)
        return 2;
    if (d->frac == 0)
        return 0;
    /* frac/den * mult is whole iff den/g divides frac, with g = gcd(mult, den). */
    uint64_t g = gcd_u64(mult, d->den);
    uint64_t den = d->den / g;
    if (d->frac % den != 0)
        return 2;
    uint64_t part;
    if (__builtin_mul_overflow(d->frac / den, mult / g, &part) ||
        __builtin_add_overflow(*acc, part, acc))
        return 1;
    return 0;
}

static void skip_spaces(const char **p)
{
    while (**p == ' ' || **p == '\t')
        (*p)++;
}

int kt_parse_duration_ms(const char *s, uint64_t *out, struct kt_err *err)
{
    static const struct {
        const char *name;
        uint64_t ms;
    } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
    const char *p = s;
    uint64_t total = 0;
    int parts = 0;
    while (*p != '\0') {
        struct decimal d;
        bool too_big;
        if (!scan_decimal(&p, &d, &too_big))
            goto bad;
        if (too_big)
            return kt_err_set(err, KT_EINVAL, "'%.*s' is too large", ECHO_MAX, s);
        skip_spaces(&p);
        const char *u = p;
        while (isalpha((unsigned char)*p))
            p++;
        size_t ulen = (size_t)(p - u);
        uint64_t mult = 0;
        if (ulen == 0) {
            /* A bare number means milliseconds, but only on its own: "1m30" is a typo. */
            if (parts > 0 || *p != '\0')
                goto bad;
            mult = 1;
        }
        for (size_t i = 0; ulen > 0 && i < sizeof(units) / sizeof(units[0]); i++) {
            if (strlen(units[i].name) == ulen && strncmp(u, units[i].name, ulen) == 0)
                mult = units[i].ms;
        }
        if (mult == 0)
            goto bad;
        int rc = decimal_scale_add(&d, mult, &total);
        if (rc == 1)
            return kt_err_set(err, KT_EINVAL, "'%.*s' is too large", ECHO_MAX, s);
        if (rc == 2)
            return kt_err_set(err, KT_EINVAL, "'%.*s' is not a whole number of milliseconds",
                              ECHO_MAX, s);
        parts++;
        skip_spaces(&p);
    }
    if (parts == 0)
        goto bad;
    *out = total;
    return 0;
bad:
    return kt_err_set(err, KT_EINVAL, "want a duration like 200ms, 1.5s, 10s, 1m or 1h, got '%.*s'",
                      ECHO_MAX, s);
}

int kt_parse_size(const char *s, uint64_t *out, struct kt_err *err)
{
    static const struct {
        const char *name;
        uint64_t bytes;
    } units[] = {
        {"B", 1},
        {"KB", 1000ULL},
        {"MB", 1000000ULL},
        {"GB", 1000000000ULL},
        {"TB", 1000000000000ULL},
        {"KiB", 1ULL << 10},
        {"MiB", 1ULL << 20},
        {"GiB", 1ULL << 30},
        {"TiB", 1ULL << 40},
    };
    const char *p = s;
    struct decimal d;
    bool too_big;
    if (!scan_decimal(&p, &d, &too_big))
        goto bad;
    if (too_big)
        return kt_err_set(err, KT_EINVAL, "'%.*s' is too large", ECHO_MAX, s);
    skip_spaces(&p);
    uint64_t mult = 0;
    if (*p == '\0') {
        mult = 1;
    } else {
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (strcasecmp(p, units[i].name) == 0)
                mult = units[i].bytes;
        }
    }
    if (mult == 0)
        goto bad;
    uint64_t total = 0;
    int rc = decimal_scale_add(&d, mult, &total);
    if (rc == 1)
        return kt_err_set(err, KT_EINVAL, "'%.*s' is too large", ECHO_MAX, s);
    if (rc == 2)
        return kt_err_set(err, KT_EINVAL, "'%.*s' is not a whole number of bytes", ECHO_MAX, s);
    *out = total;
    return 0;
bad:
    return kt_err_set(err, KT_EINVAL,
                      "want a size like 512, 64KiB, 16MiB, 1GiB or 1MB (10^6), got '%.*s'",
                      ECHO_MAX, s);
}

static int parse_double(const char *s, double *out, struct kt_err *err)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (*s == '\0' || end == s || *end != '\0' || !isfinite(v) || errno == ERANGE)
        return kt_err_set(err, KT_EINVAL, "want a number, got '%.*s'", ECHO_MAX, s);
    *out = v;
    return 0;
}

/* Index of s among the '|'-separated choices, matched case-insensitively. */
static int parse_enum(const char *choices, const char *s, int *out, struct kt_err *err)
{
    const char *c = choices ? choices : "";
    size_t len = strlen(s);
    for (int idx = 0;; idx++) {
        const char *bar = strchr(c, '|');
        size_t n = bar ? (size_t)(bar - c) : strlen(c);
        if (n == len && strncasecmp(c, s, n) == 0) {
            *out = idx;
            return 0;
        }
        if (bar == NULL)
            break;
        c = bar + 1;
    }
    return kt_err_set(err, KT_EINVAL, "want one of %s, got '%.*s'", choices ? choices : "",
                      ECHO_MAX, s);
}

/* ---- ${VAR} expansion ---- */

static bool is_name_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}
static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* "$$" is a literal '$' so that any value can be written; a '$' before anything other than
 * '{' or '$' is literal too, which keeps passwords like "pa$word" working unescaped. The
 * messages never quote the value: it may be a secret. */
static int expand_env(const char *s, char **out, struct kt_err *err)
{
    struct kt_buf b = KT_BUF_INIT;
    int rc = 0;
    const char *p = s;
    while (*p != '\0' && rc == 0) {
        if (p[0] == '$' && p[1] == '$') {
            rc = kt_buf_append_byte(&b, '$');
            p += 2;
            continue;
        }
        if (p[0] != '$' || p[1] != '{') {
            rc = kt_buf_append_byte(&b, (uint8_t)*p++);
            continue;
        }
        const char *name = p + 2;
        const char *q = name;
        if (!is_name_start(*q)) {
            rc = kt_err_set(err, KT_EINVAL,
                            "bad ${...} reference: want ${NAME} or ${NAME:-default}");
            break;
        }
        while (is_name_char(*q))
            q++;
        size_t name_len = (size_t)(q - name);
        const char *def = NULL;
        size_t def_len = 0;
        if (q[0] == ':' && q[1] == '-') {
            def = q + 2;
            q = strchr(def, '}');
            if (q == NULL) {
                rc = kt_err_set(err, KT_EINVAL, "unterminated ${%.*s:-...}", (int)name_len, name);
                break;
            }
            def_len = (size_t)(q - def);
        }
        if (*q != '}') {
            if (*q == '\0')
                rc = kt_err_set(err, KT_EINVAL, "unterminated ${%.*s", (int)name_len, name);
            else
                rc = kt_err_set(err, KT_EINVAL,
                                "bad ${%.*s...} reference: want ${NAME} or ${NAME:-default}",
                                (int)name_len, name);
            break;
        }
        char *var = strndup(name, name_len);
        if (var == NULL) {
            rc = KT_ENOMEM;
            break;
        }
        const char *v = getenv(var);
        /* As in the shell, ":-" also covers a variable that is set but empty. */
        if (def != NULL && (v == NULL || *v == '\0'))
            rc = kt_buf_append(&b, def, def_len);
        else if (v == NULL)
            rc = kt_err_set(err, KT_EINVAL, "environment variable %s is not set", var);
        else
            rc = kt_buf_append(&b, v, strlen(v));
        free(var);
        p = q + 1;
    }
    if (rc == 0)
        rc = kt_buf_append_byte(&b, '\0');
    if (rc != 0) {
        kt_buf_free(&b);
        if (rc == KT_ENOMEM)
            kt_err_set(err, KT_ENOMEM, "out of memory");
        return rc;
    }
    *out = (char *)kt_buf_take(&b, NULL);
    return 0;
}

/* The text a value stands for: one pair of surrounding double quotes removed (they protect
 * leading/trailing blanks and a leading ';'), then ${...} expanded. */
static int prepare_value(const char *raw, char **out, struct kt_err *err)
{
    size_t n = strlen(raw);
    char *unq;
    if (n >= 2 && raw[0] == '"' && raw[n - 1] == '"')
        unq = strndup(raw + 1, n - 2);
    else
        unq = strdup(raw);
    if (unq == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    int rc = expand_env(unq, out, err);
    free(unq);
    return rc;
}

/* ---- schema queries ---- */

static bool section_has_options(const struct kt_config_schema *s, const char *sec)
{
    for (size_t i = 0; i < s->n_opts; i++) {
        if (strcmp(s->opts[i].section, sec) == 0)
            return true;
    }
    return false;
}

static const struct kt_section_handler *section_handler(const struct kt_config_schema *s,
                                                        const char *sec, const char **name)
{
    for (size_t i = 0; i < s->n_handlers; i++) {
        const struct kt_section_handler *h = &s->handlers[i];
        size_t n = strlen(h->prefix);
        if (strncmp(sec, h->prefix, n) == 0 && sec[n] != '\0') {
            if (name != NULL)
                *name = sec + n;
            return h;
        }
    }
    return NULL;
}

static bool section_known(const struct kt_config_schema *s, const char *sec)
{
    return section_has_options(s, sec) || section_handler(s, sec, NULL) != NULL;
}

/* The option for key in section, or -1. A prefix option matches "<key>.<name>" with *sub set
 * to name, and its bare key with *sub NULL (which apply() rejects with a hint). */
static long find_option(const struct kt_config_schema *s, const char *sec, const char *key,
                        const char **sub)
{
    *sub = NULL;
    for (size_t i = 0; i < s->n_opts; i++) {
        const struct kt_option *o = &s->opts[i];
        if (strcmp(o->section, sec) == 0 && strcmp(o->key, key) == 0)
            return (long)i;
    }
    for (size_t i = 0; i < s->n_opts; i++) {
        const struct kt_option *o = &s->opts[i];
        size_t n = strlen(o->key);
        if (o->type == KT_OPT_PREFIX && strcmp(o->section, sec) == 0 &&
            strncmp(key, o->key, n) == 0 && key[n] == '.' && key[n + 1] != '\0') {
            *sub = key + n + 1;
            return (long)i;
        }
    }
    return -1;
}

/* ---- suggestions ---- */

static void suggest_section(const struct kt_config_schema *s, const char *sec,
                            struct kt_suggest *sg)
{
    for (size_t i = 0; i < s->n_opts; i++)
        kt_suggest_consider(sg, sec, s->opts[i].section);
    for (size_t i = 0; i < s->n_handlers; i++) {
        /* Compare with the pattern completed by the input's own last part, so that
         * "tail_sampling.polcy.errors" finds "tail_sampling.policy.errors". */
        const char *prefix = s->handlers[i].prefix;
        size_t dots = 0;
        for (const char *p = prefix; *p; p++)
            dots += *p == '.';
        const char *tail = sec;
        for (size_t k = 0; k < dots && tail != NULL; k++) {
            tail = strchr(tail, '.');
            if (tail != NULL)
                tail++;
        }
        if (tail == NULL || *tail == '\0')
            continue;
        char cand[sizeof(sg->text)];
        snprintf(cand, sizeof(cand), "%s%s", prefix, tail);
        kt_suggest_consider(sg, sec, cand);
    }
}

/* "unknown key", with the nearest key of the section or the section the key belongs to. */
static int unknown_key(const struct kt_config_schema *s, const char *sec, const char *key,
                       struct kt_err *err)
{
    struct kt_suggest sg;
    kt_suggest_init(&sg, false);
    const char *dot = strchr(key, '.');
    for (size_t i = 0; i < s->n_opts; i++) {
        const struct kt_option *o = &s->opts[i];
        if (strcmp(o->section, sec) != 0)
            continue;
        if (o->type == KT_OPT_PREFIX && dot != NULL) {
            char cand[sizeof(sg.text)];
            snprintf(cand, sizeof(cand), "%s%s", o->key, dot);
            kt_suggest_consider(&sg, key, cand);
        } else {
            kt_suggest_consider(&sg, key, o->key);
        }
    }
    if (sg.text[0] != '\0')
        return kt_err_set(err, KT_EINVAL, "unknown key (did you mean %s?)", sg.text);
    for (size_t i = 0; i < s->n_opts; i++) {
        if (strcmp(s->opts[i].key, key) == 0)
            return kt_err_set(err, KT_EINVAL, "unknown key (it belongs in [%s])",
                              s->opts[i].section);
    }
    return kt_err_set(err, KT_EINVAL, "unknown key");
}

/* ---- the loader ---- */

enum origin { FROM_DEFAULT, FROM_FILE, FROM_SET };

struct where {
    enum origin from;
    int line;        /* FROM_FILE */
    const char *arg; /* FROM_SET: "section.key" as written */
};

/* A prefix entry set in the file, to report the second "rdkafka.x = ..." of one name. */
struct seen_entry {
    size_t opt;
    char *name;
    int line;
};

struct loader {
    const struct kt_config_schema *schema;
    void *conf;
    struct kt_err *err;
    const char *path;
    int *file_line;  /* per option: line of its first assignment in the file, 0 if none */
    unsigned *n_set; /* per option: --set overrides applied so far */
    /* The first secret option given a non-empty value in the file, and its line (0: none):
     * that makes the file a secret file. An empty one, as in the shipped examples, does not. */
    size_t secret_opt;
    int secret_line;
    struct seen_entry *seen;
    size_t n_seen;
    FILE *f;
    size_t nread;                 /* bytes of the file read so far */
    char line[LINE_READ_MAX + 1]; /* read_line's */
    int lineno;                   /* line last handed to inih */
    int err_line;                 /* line of the first error found while reading the file */
    int rc;                       /* first error; stops the reader */
};

static int add_context(struct loader *ld, const struct where *w, const char *sec, const char *key)
{
    switch (w->from) {
    case FROM_FILE: return kt_err_prefix(ld->err, "%s:%d: [%s] %s: ", ld->path, w->line, sec, key);
    case FROM_SET: return kt_err_prefix(ld->err, "--set %s: ", w->arg);
    case FROM_DEFAULT: break;
    }
    return kt_err_prefix(ld->err, "option table: [%s] %s: default: ", sec, key);
}

static int set_prefix_entry(struct kt_strlist *l, const char *name, const char *value)
{
    size_t n = strlen(name);
    size_t len = n + 1 + strlen(value) + 1;
    char *entry = malloc(len);
    if (entry == NULL)
        return KT_ENOMEM;
    snprintf(entry, len, "%s=%s", name, value);
    for (size_t i = 0; i < l->n; i++) {
        if (strncmp(l->v[i], name, n) == 0 && l->v[i][n] == '=') {
            free(l->v[i]);
            l->v[i] = entry;
            return 0;
        }
    }
    int rc = kt_strlist_push(l, entry);
    free(entry);
    return rc;
}

/* RFC 9110 5.1: a field name is a token. */
static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && strchr("!#$%&'*+-.^_`|~", *s) == NULL)
            return false;
    return true;
}

/* A KT_OPT_TOKENS value: 0, or KT_EINVAL saying what a header name may hold. */
static int check_token(const char *s, struct kt_err *err)
{
    if (is_token(s))
        return 0;
    return kt_err_set(err, KT_EINVAL,
                      "'%s': not a header name (letters, digits and !#$%%&'*+-.^_`|~)", s);
}

/* Appends the comma-separated items of val; empty items are dropped so "a, b," works. */
static int push_items(struct kt_strlist *l, const char *val)
{
    const char *p = val;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char *item = trim_dup(p, n);
        if (item == NULL)
            return KT_ENOMEM;
        int rc = *item ? kt_strlist_push(l, item) : 0;
        free(item);
        if (rc != 0)
            return rc;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

static int apply_list(struct loader *ld, size_t i, const char *val, const struct where *w)
{
    struct kt_strlist *l = opt_ptr(ld->conf, &ld->schema->opts[i]);
    /* The first occurrence in the file replaces the default and the first --set replaces
     * everything before it; later ones of the same origin append. */
    bool replace = w->from == FROM_DEFAULT || (w->from == FROM_FILE && ld->file_line[i] == 0) ||
                   (w->from == FROM_SET && ld->n_set[i] == 0);
    if (replace)
        kt_strlist_free(l);
    size_t before = l->n;
    int rc;
    if (ld->schema->opts[i].flags & KT_OPT_WHOLE) {
        char *item = trim_dup(val, strlen(val));
        if (item == NULL)
            rc = KT_ENOMEM;
        else
            rc = *item ? kt_strlist_push(l, item) : 0;
        free(item);
    } else {
        rc = push_items(l, val);
    }
    if (rc == KT_ENOMEM)
        return kt_err_set(ld->err, rc, "out of memory");
    for (size_t k = before; rc == 0 && (ld->schema->opts[i].flags & KT_OPT_TOKENS) && k < l->n; k++)
        rc = check_token(l->v[k], ld->err);
    return rc;
}

static int apply_prefix(struct loader *ld, size_t i, const char *sub, const char *val,
                        const struct where *w)
{
    const struct kt_option *o = &ld->schema->opts[i];
    struct kt_strlist *l = opt_ptr(ld->conf, o);
    int rc = 0;
    if (w->from == FROM_DEFAULT) {
        /* A default is "name=value[,name=value...]". */
        struct kt_strlist items = {NULL, 0};
        rc = push_items(&items, val);
        for (size_t k = 0; rc == 0 && k < items.n; k++) {
            char *eq = strchr(items.v[k], '=');
            if (eq == NULL || eq == items.v[k]) {
                rc = kt_err_set(ld->err, KT_EINVAL, "want name=value items, got '%.*s'", ECHO_MAX,
                                items.v[k]);
                break;
            }
            *eq = '\0';
            rc = set_prefix_entry(l, trim_inplace(items.v[k]), trim_inplace(eq + 1));
        }
        kt_strlist_free(&items);
    } else if (sub == NULL) {
        return kt_err_set(ld->err, KT_EINVAL, "want %s.<name> = value", o->key);
    } else if (sub[strspn(sub, PREFIX_NAME_CHARS)] != '\0') {
        return kt_err_set(ld->err, KT_EINVAL,
                          "want %s.<name> with a name of letters, digits, '.', '_' and '-'",
                          o->key);
    } else {
        if (w->from == FROM_FILE) {
            for (size_t k = 0; k < ld->n_seen; k++) {
                if (ld->seen[k].opt == i && strcmp(ld->seen[k].name, sub) == 0)
                    return kt_err_set(ld->err, KT_EINVAL, "set twice (first at line %d)",
                                      ld->seen[k].line);
            }
            struct seen_entry *s = realloc(ld->seen, (ld->n_seen + 1) * sizeof(*s));
            if (s == NULL)
                return kt_err_set(ld->err, KT_ENOMEM, "out of memory");
            ld->seen = s;
            s[ld->n_seen].name = strdup(sub);
            if (s[ld->n_seen].name == NULL)
                return kt_err_set(ld->err, KT_ENOMEM, "out of memory");
            s[ld->n_seen].opt = i;
            s[ld->n_seen].line = w->line;
            ld->n_seen++;
        }
        rc = set_prefix_entry(l, sub, val);
    }
    if (rc == KT_ENOMEM)
        kt_err_set(ld->err, rc, "out of memory");
    return rc;
}

static bool has_range(const struct kt_option *o)
{
    return o->allowed != NULL &&
           (o->type == KT_OPT_UINT || o->type == KT_OPT_DURATION || o->type == KT_OPT_SIZE);
}

static int parse_number(enum kt_opt_type t, const char *s, uint64_t *out, struct kt_err *err)
{
    if (t == KT_OPT_DURATION)
        return kt_parse_duration_ms(s, out, err);
    if (t == KT_OPT_SIZE)
        return kt_parse_size(s, out, err);
    return kt_parse_uint(s, out, err);
}

void kt_option_range_desc(const struct kt_option *o, char *buf, size_t cap)
{
    if (cap == 0)
        return;
    buf[0] = '\0';
    const char *dots = has_range(o) ? strstr(o->allowed, "..") : NULL;
    if (dots == NULL)
        return;
    int lo = (int)(dots - o->allowed);
    const char *hi = dots + 2;
    if (lo > 0 && *hi != '\0')
        snprintf(buf, cap, "%.*s to %s", lo, o->allowed, hi);
    else if (lo > 0)
        snprintf(buf, cap, "at least %.*s", lo, o->allowed);
    else if (*hi != '\0')
        snprintf(buf, cap, "at most %s", hi);
}

/* The bounds of the option's "MIN..MAX", parsed like its values so that a bound means what
 * the same text would in the file; an end left out is 0 or UINT64_MAX. */
static int option_range(const struct kt_option *o, uint64_t *lo, uint64_t *hi, struct kt_err *err)
{
    *lo = 0;
    *hi = UINT64_MAX;
    const char *dots = strstr(o->allowed, "..");
    /* ".." alone bounds nothing: NULL says that. */
    if (dots == NULL || strstr(dots + 2, "..") != NULL || strcmp(o->allowed, "..") == 0)
        return kt_err_set(err, KT_EINVAL, "want MIN..MAX, MIN.. or ..MAX");
    char *lo_s = strndup(o->allowed, (size_t)(dots - o->allowed));
    if (lo_s == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    int rc = 0;
    if (*lo_s != '\0')
        rc = parse_number(o->type, lo_s, lo, err);
    free(lo_s);
    if (rc == 0 && dots[2] != '\0')
        rc = parse_number(o->type, dots + 2, hi, err);
    if (rc == 0 && *lo > *hi)
        rc = kt_err_set(err, KT_EINVAL, "MIN is above MAX");
    return rc;
}

/* Refuses v (parsed from s) outside the option's range. set_defaults has checked the range
 * itself, so an error here is about the value. */
static int check_range(const struct kt_option *o, uint64_t v, const char *s, struct kt_err *err)
{
    if (!has_range(o))
        return 0;
    uint64_t lo, hi;
    int rc = option_range(o, &lo, &hi, err);
    if (rc != 0)
        return rc;
    if (v >= lo && v <= hi)
        return 0;
    char want[128];
    kt_option_range_desc(o, want, sizeof(want));
    return kt_err_set(err, KT_EINVAL, "want %s, got '%.*s'", want, ECHO_MAX, s);
}

/* Parses a scalar into its field; the field is only written when the value is good. */
static int apply_scalar(const struct kt_option *o, void *p, const char *s, struct kt_err *err)
{
    int rc = KT_EINVAL;
    switch (o->type) {
    case KT_OPT_UINT:
    case KT_OPT_DURATION:
    case KT_OPT_SIZE: {
        uint64_t v = 0;
        rc = parse_number(o->type, s, &v, err);
        if (rc == 0)
            rc = check_range(o, v, s, err);
        if (rc == 0)
            *(uint64_t *)p = v;
        break;
    }
    case KT_OPT_DOUBLE: {
        double v = 0;
        rc = parse_double(s, &v, err);
        if (rc == 0)
            *(double *)p = v;
        break;
    }
    case KT_OPT_BOOL: {
        bool v = false;
        rc = kt_parse_bool(s, &v, err);
        if (rc == 0)
            *(bool *)p = v;
        break;
    }
    case KT_OPT_ENUM: {
        int v = 0;
        rc = parse_enum(o->allowed, s, &v, err);
        if (rc == 0)
            *(int *)p = v;
        break;
    }
    case KT_OPT_STRING:
    case KT_OPT_LIST:
    case KT_OPT_PREFIX: rc = kt_err_set(err, KT_EINVAL, "not a scalar option"); break;
    }
    return rc;
}

/* Sets option i from raw (as written, before unquoting and expansion). On error the message
 * in ld->err says what is wrong, without the file/--set context. */
static int apply(struct loader *ld, size_t i, const char *sub, const char *raw,
                 const struct where *w)
{
    const struct kt_option *o = &ld->schema->opts[i];
    void *p = opt_ptr(ld->conf, o);
    bool multi = o->type == KT_OPT_LIST || o->type == KT_OPT_PREFIX;
    if (!multi && w->from == FROM_FILE && ld->file_line[i] != 0)
        return kt_err_set(ld->err, KT_EINVAL, "set twice (first at line %d)", ld->file_line[i]);
    char *val = NULL;
    int rc = prepare_value(raw, &val, ld->err);
    if (rc != 0)
        return rc;
    switch (o->type) {
    case KT_OPT_STRING:
        if ((o->flags & KT_OPT_TOKENS) && val[0] != '\0' && (rc = check_token(val, ld->err)) != 0)
            break;
        free(*(char **)p);
        *(char **)p = val;
        val = NULL;
        break;
    case KT_OPT_LIST: rc = apply_list(ld, i, val, w); break;
    case KT_OPT_PREFIX: rc = apply_prefix(ld, i, sub, val, w); break;
    default:
        rc = apply_scalar(o, p, trim_inplace(val), ld->err);
        if (rc != 0 && (o->flags & KT_OPT_SECRET))
            kt_err_set(ld->err, rc, "invalid value (not shown: the option is secret)");
        break;
    }
    bool empty = raw[strspn(raw, " \t\"")] == '\0';
    free(val);
    /* Checked here rather than by validate, so that the message names the line. */
    if (rc == 0 && ld->schema->check_value != NULL)
        rc = ld->schema->check_value(o, p, ld->err);
    if (rc == 0) {
        if (w->from == FROM_FILE && (o->flags & KT_OPT_SECRET) && !empty && ld->secret_line == 0) {
            ld->secret_opt = i;
            ld->secret_line = w->line;
        }
        if (w->from == FROM_FILE && ld->file_line[i] == 0)
            ld->file_line[i] = w->line;
        else if (w->from == FROM_SET)
            ld->n_set[i]++;
    }
    return rc;
}

static int call_handler(struct loader *ld, const struct kt_section_handler *h, const char *sec,
                        const char *name, const char *key, const char *raw, const struct where *w)
{
    char *val = NULL;
    int rc = prepare_value(raw, &val, ld->err);
    if (rc == 0) {
        ld->err->msg[0] = '\0';
        rc = h->load(ld->conf, name, key, val, ld->err);
        free(val);
        if (rc == 0)
            return 0;
        ld->err->code = rc < 0 ? rc : KT_EINVAL;
        /* Handlers write "[section] key: what"; the context is added here, once. */
        char own[KT_ERR_MSG_MAX];
        int n = snprintf(own, sizeof(own), "[%s] %s: ", sec, key);
        if (n > 0 && (size_t)n < sizeof(own) && strncmp(ld->err->msg, own, (size_t)n) == 0)
            memmove(ld->err->msg, ld->err->msg + n, strlen(ld->err->msg + n) + 1);
        if (ld->err->msg[0] == '\0')
            snprintf(ld->err->msg, sizeof(ld->err->msg), "invalid value");
    }
    return add_context(ld, w, sec, key);
}

static int set_defaults(struct loader *ld)
{
    const struct kt_config_schema *s = ld->schema;
    for (size_t i = 0; i < s->n_opts; i++) {
        const struct kt_option *o = &s->opts[i];
        void *p = opt_ptr(ld->conf, o);
        switch (o->type) {
        case KT_OPT_STRING:
            free(*(char **)p);
            *(char **)p = NULL;
            break;
        case KT_OPT_LIST:
        case KT_OPT_PREFIX: kt_strlist_free(p); break;
        case KT_OPT_UINT:
        case KT_OPT_DURATION:
        case KT_OPT_SIZE: *(uint64_t *)p = 0; break;
        case KT_OPT_DOUBLE: *(double *)p = 0; break;
        case KT_OPT_BOOL: *(bool *)p = false; break;
        case KT_OPT_ENUM: *(int *)p = 0; break;
        }
        /* Checked on every load, defaults or not, so a bad range fails any test of the table. */
        uint64_t lo, hi;
        if (has_range(o) && option_range(o, &lo, &hi, ld->err) != 0)
            return kt_err_prefix(ld->err, "option table: [%s] %s: range '%s': ", o->section, o->key,
                                 o->allowed);
        if (o->def == NULL)
            continue;
        struct where w = {FROM_DEFAULT, 0, NULL};
        int rc = apply(ld, i, NULL, o->def, &w);
        if (rc != 0)
            return add_context(ld, &w, o->section, o->key);
    }
    return 0;
}

/* ---- the file ---- */

/* Where inih's own scan of a line stops: at one of chars or at an inline ';' comment (a ';'
 * after whitespace). Mirrors inih so the reader classifies lines exactly as inih will. */
static const char *ini_scan(const char *s, const char *chars)
{
    bool was_space = false;
    while (*s != '\0' && strchr(chars, *s) == NULL && !(was_space && *s == ';')) {
        was_space = is_space(*s);
        s++;
    }
    return s;
}

static int file_error(struct loader *ld, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int file_error(struct loader *ld, int code, const char *fmt, ...)
{
    char what[KT_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    ld->err_line = ld->lineno;
    ld->rc = kt_err_set(ld->err, code, "%s:%d: %s", ld->path, ld->lineno, what);
    return ld->rc;
}

/* Checks what inih would get wrong or never report. s is trimmed. */
static int check_line(struct loader *ld, char *s)
{
    if (*s == '\0' || *s == ';' || *s == '#')
        return 0;
    if (*s == '[') {
        const char *end = ini_scan(s + 1, "]");
        if (*end != ']')
            return file_error(ld, KT_EINVAL, "syntax error: '%.*s' lacks the closing ']'", ECHO_MAX,
                              s);
        size_t n = (size_t)(end - (s + 1));
        if (n > SECTION_NAME_MAX)
            return file_error(ld, KT_EINVAL, "section name is longer than %d characters",
                              SECTION_NAME_MAX);
        char name[SECTION_NAME_MAX + 1];
        memcpy(name, s + 1, n);
        name[n] = '\0';
        char *sec = trim_inplace(name);
        if (section_known(ld->schema, sec))
            return 0;
        struct kt_suggest sg;
        kt_suggest_init(&sg, false);
        suggest_section(ld->schema, sec, &sg);
        if (sg.text[0] != '\0')
            return file_error(ld, KT_EINVAL, "[%s]: unknown section (did you mean %s?)", sec,
                              sg.text);
        return file_error(ld, KT_EINVAL, "[%s]: unknown section", sec);
    }
    const char *end = ini_scan(s, "=:");
    if (*end != '=' && *end != ':') {
        char echo[ECHO_MAX + 1];
        snprintf(echo, sizeof(echo), "%s", s);
        return file_error(ld, KT_EINVAL,
                          "syntax error: '%s' is not 'key = value', a [section] or a comment",
                          echo);
    }
    if (end == s)
        return file_error(ld, KT_EINVAL, "syntax error: no key before the '%c'", *end);
    return 0;
}

static int line_too_long(struct loader *ld, int num)
{
    return file_error(ld, KT_EINVAL,
                      "line is longer than %d characters: split a list over repeated keys, or "
                      "take the value from ${VAR}",
                      num > 2 ? num - 2 : 0);
}

static int file_too_big(struct loader *ld)
{
    ld->err_line = ld->lineno;
    ld->rc =
        kt_err_set(ld->err, KT_ETOOBIG, "%s: over %d bytes, the most a configuration file may hold",
                   ld->path, KT_CONFIG_FILE_MAX);
    return ld->rc;
}

/* The next line into ld->line without its '\n'; false at the end of the file or on an error
 * (ld->rc). Byte by byte under two bounds, the line buffer and KT_CONFIG_FILE_MAX, so that a
 * file that never ends (/dev/zero, a pipe) is refused after that much, not read into memory. */
static bool next_line(struct loader *ld, int num)
{
    size_t n = 0;
    int ch;
    ld->lineno++;
    while ((ch = getc(ld->f)) != EOF && ch != '\n') {
        if (++ld->nread > KT_CONFIG_FILE_MAX) {
            file_too_big(ld);
            return false;
        }
        if (ch == '\0') {
            file_error(ld, KT_EINVAL, "contains a NUL byte");
            return false;
        }
        if (n == LINE_READ_MAX) {
            line_too_long(ld, num);
            return false;
        }
        ld->line[n++] = (char)ch;
    }
    if (ch == '\n' && ++ld->nread > KT_CONFIG_FILE_MAX) {
        file_too_big(ld);
        return false;
    }
    ld->line[n] = '\0';
    if (ch == EOF && ferror(ld->f)) {
        file_error(ld, KT_EIO, "read error: %s", strerror(errno));
        return false;
    }
    return ch != EOF || n > 0;
}

/* inih's reader: hands over one whole line at a time, so ld->lineno is the line the handler
 * is looking at, with leading blanks removed so indented keys are keys, not continuations. */
static char *read_line(char *str, int num, void *stream)
{
    struct loader *ld = stream;
    if (ld->rc != 0 || !next_line(ld, num))
        return NULL;
    char *s = ld->line;
    if (ld->lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3;
    s = trim_inplace(s);
    size_t len = strlen(s);
    /* inih's buffer must hold the line, its '\n' and the terminator. */
    if (num < 2 || len > (size_t)num - 2) {
        line_too_long(ld, num);
        return NULL;
    }
    if (check_line(ld, s) != 0)
        return NULL;
    memcpy(str, s, len);
    str[len] = '\n';
    str[len + 1] = '\0';
    return str;
}

static int on_ini_value(void *user, const char *section, const char *key, const char *value)
{
    struct loader *ld = user;
    if (ld->rc != 0)
        return 0;
    char secbuf[SECTION_NAME_MAX + 2];
    snprintf(secbuf, sizeof(secbuf), "%s", section);
    const char *sec = trim_inplace(secbuf);
    struct where w = {FROM_FILE, ld->lineno, NULL};
    int rc;
    if (*sec == '\0') {
        rc = kt_err_set(ld->err, KT_EINVAL, "%s:%d: %s: key outside any [section]", ld->path,
                        ld->lineno, key);
    } else if (!section_has_options(ld->schema, sec)) {
        const char *name = NULL;
        const struct kt_section_handler *h = section_handler(ld->schema, sec, &name);
        if (h != NULL)
            rc = call_handler(ld, h, sec, name, key, value, &w);
        else
            rc = kt_err_set(ld->err, KT_EINVAL, "%s:%d: [%s]: unknown section", ld->path,
                            ld->lineno, sec);
    } else {
        const char *sub = NULL;
        long i = find_option(ld->schema, sec, key, &sub);
        if (i < 0)
            rc = unknown_key(ld->schema, sec, key, ld->err);
        else
            rc = apply(ld, (size_t)i, sub, value, &w);
        if (rc != 0)
            add_context(ld, &w, sec, key);
    }
    if (rc != 0) {
        ld->rc = rc;
        ld->err_line = ld->lineno;
        return 0;
    }
    return 1;
}

static int load_file(struct loader *ld, const char *path)
{
    ld->f = fopen(path, "r");
    if (ld->f == NULL)
        return kt_err_set(ld->err, errno == ENOENT ? KT_ENOTFOUND : KT_EIO, "%s: %s", path,
                          strerror(errno));
    /* A regular file's size says at once what reading would find out after 1 MiB; anything
     * else (a pipe, a device) is read under the same bound by next_line. */
    struct stat st;
    int r;
    if (fstat(fileno(ld->f), &st) != 0)
        r = kt_err_set(ld->err, KT_EIO, "%s: %s", path, strerror(errno));
    else if (S_ISDIR(st.st_mode))
        r = kt_err_set(ld->err, KT_EINVAL, "%s: is a directory", path);
    else if (S_ISREG(st.st_mode) && st.st_size > KT_CONFIG_FILE_MAX)
        r = file_too_big(ld);
    else
        r = 0;
    if (r != 0) {
        fclose(ld->f);
        ld->f = NULL;
        return r;
    }
    r = ini_parse_stream(read_line, ld, on_ini_value, ld);
    fclose(ld->f);
    ld->f = NULL;
    /* A file that holds a secret value (a password, a header value) is a secret file. */
    if (r == 0 && ld->rc == 0 && ld->secret_line != 0) {
        const struct kt_option *o = &ld->schema->opts[ld->secret_opt];
        char what[160];
        snprintf(what, sizeof(what), "%s:%d: [%s] %s is secret", path, ld->secret_line, o->section,
                 o->key);
        kt_secret_file_check(&st, what, path);
    }
    if (r == -2)
        return kt_err_set(ld->err, KT_ENOMEM, "%s: out of memory", path);
    /* The reader vets every line, so inih finding a syntax error of its own means the two
     * disagree; report it rather than trust the partial result. */
    if (r > 0 && (ld->rc == 0 || r < ld->err_line))
        return kt_err_set(ld->err, KT_EINVAL, "%s:%d: syntax error", path, r);
    return ld->rc;
}

/* ---- --set ---- */

static int unknown_set_section(struct loader *ld, const char *lhs)
{
    /* The section is unknown, so any dot could end it: report the split whose left part is
     * nearest to a known section, or the part before the first dot. */
    char *tmp = strdup(lhs);
    if (tmp == NULL)
        return kt_err_set(ld->err, KT_ENOMEM, "out of memory");
    struct kt_suggest best;
    kt_suggest_init(&best, false);
    size_t best_len = strcspn(lhs, ".");
    for (size_t d = 0; tmp[d] != '\0'; d++) {
        if (tmp[d] != '.')
            continue;
        tmp[d] = '\0';
        struct kt_suggest sg;
        kt_suggest_init(&sg, false);
        suggest_section(ld->schema, tmp, &sg);
        if (sg.dist < best.dist) {
            best = sg;
            best_len = d;
        }
        tmp[d] = '.';
    }
    free(tmp);
    if (best.text[0] != '\0')
        return kt_err_set(ld->err, KT_EINVAL, "--set %s: unknown section [%.*s] (did you mean %s?)",
                          lhs, (int)best_len, lhs, best.text);
    return kt_err_set(ld->err, KT_EINVAL, "--set %s: unknown section [%.*s]", lhs, (int)best_len,
                      lhs);
}

static int set_without_section(struct loader *ld, const char *lhs)
{
    for (size_t i = 0; i < ld->schema->n_opts; i++) {
        const struct kt_option *o = &ld->schema->opts[i];
        if (strcmp(o->key, lhs) == 0)
            return kt_err_set(ld->err, KT_EINVAL,
                              "--set %s: want section.key=value (did you mean %s.%s?)", lhs,
                              o->section, o->key);
    }
    return kt_err_set(ld->err, KT_EINVAL, "--set %s: want section.key=value", lhs);
}

/* Resolves "section.key" where both parts may contain dots: the longest known section that
 * has the rest as a key wins, so "kafka.rdkafka.linger.ms" is [kafka] rdkafka.linger.ms and
 * "exporter.retry.max" is [exporter.retry] max. */
static int resolve_set(struct loader *ld, const char *lhs, const char *val)
{
    struct where w = {FROM_SET, 0, lhs};
    char *tmp = strdup(lhs);
    if (tmp == NULL)
        return kt_err_set(ld->err, KT_ENOMEM, "out of memory");
    int rc = 0;
    long longest = -1; /* dot ending the longest known section, for "unknown key" */
    bool done = false;
    for (size_t d = strlen(tmp); d-- > 0 && !done;) {
        if (tmp[d] != '.' || tmp[d + 1] == '\0')
            continue;
        tmp[d] = '\0';
        if (section_has_options(ld->schema, tmp)) {
            if (longest < 0)
                longest = (long)d;
            const char *sub = NULL;
            long i = find_option(ld->schema, tmp, tmp + d + 1, &sub);
            if (i >= 0) {
                rc = apply(ld, (size_t)i, sub, val, &w);
                if (rc != 0)
                    add_context(ld, &w, tmp, tmp + d + 1);
                done = true;
            }
        }
        tmp[d] = '.';
    }
    for (size_t k = 0; !done && k < ld->schema->n_handlers; k++) {
        /* [prefix.NAME] key: NAME runs to the next dot, the key is the rest. */
        const struct kt_section_handler *h = &ld->schema->handlers[k];
        size_t plen = strlen(h->prefix);
        if (strncmp(tmp, h->prefix, plen) != 0)
            continue;
        char *dot = strchr(tmp + plen, '.');
        if (dot == NULL || dot == tmp + plen || dot[1] == '\0')
            continue;
        *dot = '\0';
        rc = call_handler(ld, h, tmp, tmp + plen, dot + 1, val, &w);
        done = true;
    }
    if (!done && longest >= 0) {
        tmp[longest] = '\0';
        unknown_key(ld->schema, tmp, tmp + longest + 1, ld->err);
        rc = add_context(ld, &w, tmp, tmp + longest + 1);
        done = true;
    }
    free(tmp);
    if (done)
        return rc;
    if (strchr(lhs, '.') == NULL)
        return set_without_section(ld, lhs);
    return unknown_set_section(ld, lhs);
}

static int apply_set(struct loader *ld, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char *lhs = trim_dup(arg, eq ? (size_t)(eq - arg) : strlen(arg));
    char *val = eq ? trim_dup(eq + 1, strlen(eq + 1)) : NULL;
    int rc;
    if (lhs == NULL || (eq != NULL && val == NULL))
        rc = kt_err_set(ld->err, KT_ENOMEM, "out of memory");
    else if (eq == NULL || *lhs == '\0')
        rc = kt_err_set(ld->err, KT_EINVAL, "--set %.*s: want section.key=value", ECHO_MAX, arg);
    else
        rc = resolve_set(ld, lhs, val);
    free(lhs);
    free(val);
    return rc;
}

static int check_required(struct loader *ld)
{
    const struct kt_config_schema *s = ld->schema;
    for (size_t i = 0; i < s->n_opts; i++) {
        const struct kt_option *o = &s->opts[i];
        if (!(o->flags & KT_OPT_REQUIRED))
            continue;
        const void *p = opt_cptr(ld->conf, o);
        bool missing;
        switch (o->type) {
        case KT_OPT_STRING: {
            const char *v = *(char *const *)p;
            missing = v == NULL || *v == '\0';
            break;
        }
        case KT_OPT_LIST:
        case KT_OPT_PREFIX: missing = ((const struct kt_strlist *)p)->n == 0; break;
        default: missing = o->def == NULL && ld->file_line[i] == 0 && ld->n_set[i] == 0; break;
        }
        if (!missing)
            continue;
        if (ld->path != NULL)
            return kt_err_set(ld->err, KT_EINVAL, "%s: [%s] %s: required but not set", ld->path,
                              o->section, o->key);
        return kt_err_set(ld->err, KT_EINVAL, "[%s] %s: required but not set", o->section, o->key);
    }
    return 0;
}

int kt_config_load(const struct kt_config_schema *schema, void *conf, const char *path,
                   const char *const *sets, size_t n_sets, struct kt_err *err)
{
    struct kt_err local = {0, ""};
    struct loader ld = {0};
    ld.schema = schema;
    ld.conf = conf;
    ld.err = err ? err : &local;
    ld.path = path;
    size_t n = schema->n_opts ? schema->n_opts : 1;
    ld.file_line = calloc(n, sizeof(*ld.file_line));
    ld.n_set = calloc(n, sizeof(*ld.n_set));
    int rc;
    if (ld.file_line == NULL || ld.n_set == NULL) {
        rc = kt_err_set(ld.err, KT_ENOMEM, "out of memory");
        goto out;
    }
    rc = set_defaults(&ld);
    if (rc == 0 && path != NULL)
        rc = load_file(&ld, path);
    for (size_t k = 0; rc == 0 && k < n_sets; k++)
        rc = apply_set(&ld, sets[k]);
    if (rc == 0)
        rc = check_required(&ld);
out:
    if (rc != 0)
        kt_err_escape(ld.err);
    for (size_t k = 0; k < ld.n_seen; k++)
        free(ld.seen[k].name);
    free(ld.seen);
    free(ld.file_line);
    free(ld.n_set);
    return rc;
}

void kt_config_free(const struct kt_config_schema *schema, void *conf)
{
    if (schema == NULL || conf == NULL)
        return;
    for (size_t i = 0; i < schema->n_opts; i++) {
        const struct kt_option *o = &schema->opts[i];
        void *p = opt_ptr(conf, o);
        if (o->type == KT_OPT_STRING) {
            free(*(char **)p);
            *(char **)p = NULL;
        } else if (o->type == KT_OPT_LIST || o->type == KT_OPT_PREFIX) {
            kt_strlist_free(p);
        }
    }
}
