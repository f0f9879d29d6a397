/* OTTL's extraction, network and parsing converters (issue 14): ExtractPatterns,
 * ExtractGrokPatterns, IsInCIDR, URL, UserAgent, Log and ParseSeverity, with the
 * semantics of the Collector v0.161.0 (test/interop/ottl-cases-ext.js checks them against
 * it). Regexes and grok patterns compile at parse time; map results are built in the tctx
 * arena. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ottl_int.h"

typedef Opentelemetry__Proto__Common__V1__ArrayValue ottl_array;

static int oom(struct ottl_eval *ev)
{
    return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
}

/* A string AnyValue holding a copy of s. */
static ottl_any *str_any(struct kt_arena *a, const char *s, size_t n)
{
    ottl_any *av = ottl_any_new(a);
    char *p = kt_arena_strndup(a, s, n);
    if (av == NULL || p == NULL)
        return NULL;
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    av->string_value = p;
    return av;
}

static int put_str(struct ottl_eval *ev, struct kt_arena *a, struct ottl_value *map, size_t *cap,
                   const char *key, const char *s, size_t n)
{
    ottl_any *av = str_any(a, s, n);
    if (av == NULL)
        return oom(ev);
    return ottl_map_put(ev, a, &map->m, cap, key, strlen(key), av);
}

static int put_int(struct ottl_eval *ev, struct kt_arena *a, struct ottl_value *map, size_t *cap,
                   const char *key, size_t keylen, int64_t i)
{
    ottl_any *av = ottl_any_new(a);
    if (av == NULL)
        return oom(ev);
    av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    av->int_value = i;
    return ottl_map_put(ev, a, &map->m, cap, key, keylen, av);
}

/* strconv.Atoi: an optional sign and decimal digits, in int64 range. */
static bool go_atoi(const char *s, size_t n, int64_t *x)
{
    char buf[32];
    if (n == 0 || n >= sizeof(buf))
        return false;
    size_t i = s[0] == '+' || s[0] == '-';
    if (i == n)
        return false;
    for (size_t k = i; k < n; k++)
        if (s[k] < '0' || s[k] > '9')
            return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    long long v = strtoll(buf, NULL, 10);
    if (errno != 0)
        return false;
    *x = v;
    return true;
}

/* ---- ExtractPatterns ---- */

/* Matches call's compiled pattern against its string target; out is an empty map result
 * (in *a) and *m, 0 on no match, else one more than the highest group set. */
static int match_target(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out,
                        struct ottl_value *v, struct kt_arena **a, int *m)
{
    int rc = ottl_want_string(ev, call, 0, v);
    if (rc != 0)
        return rc;
    if ((*a = ottl_eval_arena(ev)) == NULL)
        return KT_EINVAL;
    if ((rc = ottl_map_result(ev, *a, out)) != 0)
        return rc;
    const struct ottl_regex *re = call->call.re;
    *m = pcre2_match(re->code, (PCRE2_SPTR)v->s.p, v->s.n, 0, 0, re->md, NULL);
    if (*m == PCRE2_ERROR_NOMATCH)
        *m = 0;
    if (*m >= 0)
        return 0;
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(*m, msg, sizeof(msg));
    return kt_err_set(ev->err, KT_EINVAL, "%s: regex match failed: %s", call->call.fn->name,
                      (const char *)msg);
}

static uint32_t name_count(const struct ottl_regex *re)
{
    uint32_t n = 0;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &n);
    return n;
}

/* ExtractPatterns(target, pattern): the named groups of the first match, a group that took
 * no part as "" (Go's FindStringSubmatch); no match gives an empty map. A pattern without a
 * named group fails when run, as in the Collector, which checks that per evaluation. */
int ottl_fn_extract_patterns(struct ottl_eval *ev, const struct ottl_node *call,
                             struct ottl_value *out)
{
    const struct ottl_regex *re = call->call.re;
    if (name_count(re) == 0)
        return kt_err_set(ev->err, KT_EINVAL,
                          "ExtractPatterns: at least 1 named capture group must be supplied in "
                          "the given regex");
    struct ottl_value v;
    struct kt_arena *a;
    int m, rc = match_target(ev, call, out, &v, &a, &m);
    if (rc != 0 || m == 0)
        return rc;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    uint32_t count = name_count(re), size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
    size_t cap = 0;
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * size;
        uint32_t g = (uint32_t)e[0] << 8 | e[1];
        bool set = g < (uint32_t)m && ov[2 * g] != PCRE2_UNSET;
        const char *s = set ? v.s.p + ov[2 * g] : "";
        size_t n = set ? ov[2 * g + 1] - ov[2 * g] : 0;
        if ((rc = put_str(ev, a, out, &cap, (const char *)e + 2, s, n)) != 0)
            return rc;
    }
    return 0;
}

/* ---- ExtractGrokPatterns ---- */

/* The built-in patterns, written for kotel from the grok names and what they mean. A
 * reference %{NAME} inside one becomes a capture named NAME unless namedCapturesOnly, as
 * in the Collector's library, so composites name their parts as it does where the parts are
 * the same (IP of IPV4 or IPV6). */
static const struct {
    const char *name;
    const char *re;
} grok_builtin[] = {
    {"USERNAME", "[a-zA-Z0-9._-]+"},
    {"USER", "%{USERNAME}"},
    {"EMAILLOCALPART", "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*"},
    {"EMAILADDRESS", "%{EMAILLOCALPART}@%{HOSTNAME}"},
    {"HTTPDUSER", "%{EMAILADDRESS}|%{USER}"},
    {"INT", "[+-]?[0-9]+"},
    {"BASE10NUM", "[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)"},
    {"NUMBER", "%{BASE10NUM}"},
    {"BASE16NUM", "[+-]?(?:0x)?[0-9A-Fa-f]+"},
    {"POSINT", "\\b[1-9][0-9]*\\b"},
    {"NONNEGINT", "\\b[0-9]+\\b"},
    {"WORD", "\\b\\w+\\b"},
    {"NOTSPACE", "\\S+"},
    {"SPACE", "\\s*"},
    {"DATA", ".*?"},
    {"GREEDYDATA", ".*"},
    {"QUOTEDSTRING", "\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`(?:[^`\\\\]|\\\\.)*`"},
    {"QS", "%{QUOTEDSTRING}"},
    {"UUID", "[A-Fa-f0-9]{8}-(?:[A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}"},
    {"CISCOMAC", "(?:[A-Fa-f0-9]{4}\\.){2}[A-Fa-f0-9]{4}"},
    {"WINDOWSMAC", "(?:[A-Fa-f0-9]{2}-){5}[A-Fa-f0-9]{2}"},
    {"COMMONMAC", "(?:[A-Fa-f0-9]{2}:){5}[A-Fa-f0-9]{2}"},
    {"MAC", "%{CISCOMAC}|%{WINDOWSMAC}|%{COMMONMAC}"},
    {"IPV4", "(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\\.){3}"
             "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"},
    {"IPV6", "(?:(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}"
             "|(?:[0-9A-Fa-f]{1,4}:){1,7}:"
             "|(?:[0-9A-Fa-f]{1,4}:){1,6}:[0-9A-Fa-f]{1,4}"
             "|(?:[0-9A-Fa-f]{1,4}:){1,5}(?::[0-9A-Fa-f]{1,4}){1,2}"
             "|(?:[0-9A-Fa-f]{1,4}:){1,4}(?::[0-9A-Fa-f]{1,4}){1,3}"
             "|(?:[0-9A-Fa-f]{1,4}:){1,3}(?::[0-9A-Fa-f]{1,4}){1,4}"
             "|(?:[0-9A-Fa-f]{1,4}:){1,2}(?::[0-9A-Fa-f]{1,4}){1,5}"
             "|[0-9A-Fa-f]{1,4}:(?::[0-9A-Fa-f]{1,4}){1,6}"
             "|:(?:(?::[0-9A-Fa-f]{1,4}){1,7}|:)"
             "|(?:[0-9A-Fa-f]{1,4}:){6}(?:[0-9]{1,3}\\.){3}[0-9]{1,3}"
             "|::(?:[Ff]{4}:)?(?:[0-9]{1,3}\\.){3}[0-9]{1,3})"},
    {"IP", "%{IPV6}|%{IPV4}"},
    {"HOSTNAME", "\\b(?:[0-9A-Za-z][0-9A-Za-z-]{0,62})(?:\\.(?:[0-9A-Za-z][0-9A-Za-z-]{0,62}))*"
                 "\\.?\\b"},
    {"IPORHOST", "%{IP}|%{HOSTNAME}"},
    {"HOSTPORT", "%{IPORHOST}:%{POSINT}"},
    {"URIPROTO", "[A-Za-z][A-Za-z0-9+.-]*"},
    {"URIHOST", "%{IPORHOST}(?::%{POSINT})?"},
    {"URIPATH", "(?:/[A-Za-z0-9$.+!*'(){},~:;=@#%&_\\-]*)+"},
    {"URIQUERY", "[A-Za-z0-9$.+!*'|(){},~@#%&/=:;_?\\-\\[\\]<>]*"},
    {"URIPARAM", "\\?%{URIQUERY}"},
    {"URIPATHPARAM", "%{URIPATH}(?:\\?%{URIQUERY})?"},
    {"URI",
     "%{URIPROTO}://(?:%{USER}(?::[^@]*)?@)?(?:%{URIHOST})?(?:%{URIPATH}(?:\\?%{URIQUERY})?)?"},
    {"MONTH", "\\b(?:[Jj]an(?:uary|uar)?|[Ff]eb(?:ruary|ruar)?|[Mm](?:a|ä)?r(?:ch|z)?|"
              "[Aa]pr(?:il)?|[Mm]a(?:y|i)?|[Jj]un(?:e|i)?|[Jj]ul(?:y|i)?|[Aa]ug(?:ust)?|"
              "[Ss]ep(?:tember)?|[Oo](?:c|k)?t(?:ober)?|[Nn]ov(?:ember)?|[Dd]e(?:c|z)(?:ember)?)"
              "\\b"},
    {"MONTHNUM", "0?[1-9]|1[0-2]"},
    {"MONTHDAY", "(?:0[1-9])|(?:[12][0-9])|(?:3[01])|[1-9]"},
    {"DAY", "(?:Mon(?:day)?|Tue(?:sday)?|Wed(?:nesday)?|Thu(?:rsday)?|Fri(?:day)?|"
            "Sat(?:urday)?|Sun(?:day)?)"},
    {"YEAR", "(?:\\d\\d){1,2}"},
    {"HOUR", "2[0123]|[01]?[0-9]"},
    {"MINUTE", "[0-5][0-9]"},
    {"SECOND", "(?:[0-5]?[0-9]|60)(?:[:.,][0-9]+)?"},
    {"TIME", "%{HOUR}:%{MINUTE}(?::%{SECOND})"},
    {"DATE_US", "%{MONTHNUM}[/-]%{MONTHDAY}[/-]%{YEAR}"},
    {"DATE_EU", "%{MONTHDAY}[./-]%{MONTHNUM}[./-]%{YEAR}"},
    {"ISO8601_TIMEZONE", "Z|[+-]%{HOUR}(?::?%{MINUTE})"},
    {"ISO8601_SECOND", "%{SECOND}"},
    {"TIMESTAMP_ISO8601", "%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{HOUR}:?%{MINUTE}"
                          "(?::?%{SECOND})?%{ISO8601_TIMEZONE}?"},
    {"DATE", "%{DATE_US}|%{DATE_EU}"},
    {"DATESTAMP", "%{DATE}[- ]%{TIME}"},
    {"TZ", "[A-Z]{3}"},
    {"HTTPDATE", "%{MONTHDAY}/%{MONTH}/%{YEAR}:%{TIME} %{INT}"},
    {"SYSLOGTIMESTAMP", "%{MONTH} +%{MONTHDAY} %{TIME}"},
    {"LOGLEVEL",
     "[Aa]lert|ALERT|[Tt]race|TRACE|[Dd]ebug|DEBUG|[Nn]otice|NOTICE|[Ii]nfo?(?:rmation)?|"
     "INFO?(?:RMATION)?|[Ww]arn?(?:ing)?|WARN?(?:ING)?|[Ee]rr?(?:or)?|ERR?(?:OR)?|"
     "[Cc]rit?(?:ical)?|CRIT?(?:ICAL)?|[Ff]atal|FATAL|[Ss]evere|SEVERE|EMERG(?:ENCY)?|"
     "[Ee]merg(?:ency)?"},
    /* the fields of the Collector's library (ECS names), our expression */
    {"HTTPD_COMMONLOG",
     "%{IPORHOST:source.address} (?:-|%{HTTPDUSER:apache.access.user.identity}) "
     "(?:-|%{HTTPDUSER:user.name}) \\[%{HTTPDATE:timestamp}\\] "
     "\"(?:%{WORD:http.request.method} %{NOTSPACE:url.original}"
     "(?: HTTP/%{NUMBER:http.version})?|%{DATA})\" "
     "(?:-|%{INT:http.response.status_code:int}) (?:-|%{INT:http.response.body.size:long})"},
    {"HTTPD_COMBINEDLOG", "%{HTTPD_COMMONLOG} \"(?:-|%{DATA:http.request.referrer})\" "
                          "\"(?:-|%{DATA:user_agent.original})\""},
    {"COMMONAPACHELOG", "%{HTTPD_COMMONLOG}"},
    {"COMBINEDAPACHELOG", "%{HTTPD_COMBINEDLOG}"},
};

/* What a group of a compiled grok pattern yields: its field (NULL: not a field) and the
 * type its value converts to (0: string; 'i' int, 'f' float, 'b' bool, '?' an unknown type
 * name, which fails when the group matches, as in the Collector). */
struct ottl_grok_group {
    const char *field;
    char type;
};

struct grok_build {
    struct kt_arena *a;
    const struct ottl_node *defs; /* patternDefinitions, NULL when absent */
    bool named_only;
    struct ottl_abuf out;
    struct ottl_grok_group *caps; /* by the number in the generated group name */
    size_t n_caps, cap;
    const char *src;
    size_t pos; /* of the pattern argument, for messages */
    struct kt_err *err;
};

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

static char grok_type(const char *t, size_t n)
{
    static const struct {
        const char *name;
        char type;
    } types[] = {{"string", 0},   {"int", 'i'},  {"long", 'i'},   {"float", 'f'},
                 {"double", 'f'}, {"bool", 'b'}, {"boolean", 'b'}};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i].name) == n && memcmp(types[i].name, t, n) == 0)
            return types[i].type;
    return '?';
}

/* The definition of name: the call's patternDefinitions first (the last one of a name wins),
 * then the built-ins. */
static bool grok_lookup(const struct grok_build *b, const char *name, size_t n, const char **def,
                        size_t *dn)
{
    bool found = false;
    for (size_t i = 0; b->defs != NULL && i < b->defs->list.n; i++) {
        const struct ottl_value *d = &b->defs->list.items[i]->lit;
        const char *eq = memchr(d->s.p, '=', d->s.n);
        if (eq != NULL && (size_t)(eq - d->s.p) == n && memcmp(d->s.p, name, n) == 0) {
            *def = eq + 1;
            *dn = d->s.n - n - 1;
            found = true;
        }
    }
    if (found)
        return true;
    for (size_t i = 0; i < sizeof(grok_builtin) / sizeof(grok_builtin[0]); i++)
        if (strlen(grok_builtin[i].name) == n && memcmp(grok_builtin[i].name, name, n) == 0) {
            *def = grok_builtin[i].re;
            *dn = strlen(*def);
            return true;
        }
    return false;
}

/* Appends p with every %{NAME}, %{NAME:field} and %{NAME:field:type} replaced by a group of
 * NAME's definition, itself expanded. Text like %{...} that is no such reference stays. */
static int grok_expand(struct grok_build *b, const char *p, size_t n, int depth)
{
    if (depth > 32)
        return ottl_syntax_error(b->err, b->src, b->pos,
                                 "ExtractGrokPatterns: pattern definitions nest more than 32 "
                                 "deep (a cycle?)");
    size_t i = 0;
    while (i < n) {
        if (!(p[i] == '%' && i + 1 < n && p[i + 1] == '{')) {
            ottl_abuf_put(&b->out, p + i, 1);
            i++;
            continue;
        }
        size_t j = i + 2, ns = j;
        while (j < n && word_char(p[j]))
            j++;
        size_t ne = j, fs = 0, fe = 0, ts = 0, te = 0;
        bool ok = ne > ns;
        if (ok && j < n && p[j] == ':') {
            fs = ++j;
            while (j < n && (word_char(p[j]) || p[j] == '+' || p[j] == '.'))
                j++;
            fe = j;
            ok = fe > fs;
            if (ok && j < n && p[j] == ':') {
                ts = ++j;
                while (j < n && word_char(p[j]))
                    j++;
                te = j;
                ok = te > ts;
            }
        }
        if (!ok || j >= n || p[j] != '}') {
            ottl_abuf_put(&b->out, p + i, 1);
            i++;
            continue;
        }
        const char *def;
        size_t dn;
        if (!grok_lookup(b, p + ns, ne - ns, &def, &dn))
            return ottl_syntax_error(b->err, b->src, b->pos,
                                     "ExtractGrokPatterns: pattern definition \"%.*s\" unknown",
                                     (int)(ne - ns), p + ns);
        if (fe > fs && memchr(p + fs, '+', fe - fs) != NULL)
            return ottl_syntax_error(b->err, b->src, b->pos,
                                     "ExtractGrokPatterns: invalid capture name \"%.*s\"",
                                     (int)(fe - fs), p + fs);
        if (b->named_only && fe == fs) {
            ottl_abuf_put(&b->out, "(", 1);
        } else {
            if (b->n_caps == b->cap) {
                size_t nc = b->cap ? 2 * b->cap : 16;
                struct ottl_grok_group *c = kt_arena_alloc(b->a, nc * sizeof(*c));
                if (c == NULL)
                    return kt_err_set(b->err, KT_ENOMEM, "out of memory");
                if (b->n_caps)
                    memcpy(c, b->caps, b->n_caps * sizeof(*c));
                b->caps = c;
                b->cap = nc;
            }
            const char *f = fe > fs ? p + fs : p + ns;
            size_t fn = fe > fs ? fe - fs : ne - ns;
            struct ottl_grok_group *g = &b->caps[b->n_caps];
            if ((g->field = kt_arena_strndup(b->a, f, fn)) == NULL)
                return kt_err_set(b->err, KT_ENOMEM, "out of memory");
            g->type = te > ts ? grok_type(p + ts, te - ts) : 0;
            char open[32];
            int w = snprintf(open, sizeof(open), "(?<_ktg%zu>", b->n_caps++);
            ottl_abuf_put(&b->out, open, (size_t)w);
        }
        int rc = grok_expand(b, def, dn, depth + 1);
        if (rc != 0)
            return rc;
        ottl_abuf_put(&b->out, ")", 1);
        i = j + 1;
    }
    return 0;
}

int ottl_check_extract_grok_patterns(const struct ottl_node *call, const char *src,
                                     struct kt_err *err)
{
    const struct ottl_node *nco = call->call.args[2], *defs = call->call.args[3];
    if (nco != NULL && !(nco->kind == OTTL_N_LIT && nco->lit.t == OTTL_BOOL))
        return ottl_syntax_error(err, src, nco->pos,
                                 "ExtractGrokPatterns: namedCapturesOnly must be true or false");
    for (size_t i = 0; defs != NULL && i < defs->list.n; i++) {
        const struct ottl_value *d = &defs->list.items[i]->lit;
        const char *eq = memchr(d->s.p, '=', d->s.n);
        if (eq == NULL)
            return ottl_syntax_error(err, src, defs->list.items[i]->pos,
                                     "ExtractGrokPatterns: pattern \"%.*s%s\" at index %zu has "
                                     "incorrect format, expecting PATTERNNAME=pattern definition",
                                     (int)(d->s.n > 20 ? 17 : d->s.n), d->s.p,
                                     d->s.n > 20 ? "..." : "", i);
        if (memchr(d->s.p, ':', (size_t)(eq - d->s.p)) != NULL)
            return ottl_syntax_error(err, src, defs->list.items[i]->pos,
                                     "ExtractGrokPatterns: pattern ID \"%.*s\" should not "
                                     "contain ':'",
                                     (int)(eq - d->s.p), d->s.p);
    }
    return 0;
}

struct ottl_grok_caps {
    struct ottl_grok_group *v; /* by the number in the generated group name */
    size_t n;
    bool named_only;
};

int ottl_grok_expand(struct ottl_prog *p, const struct ottl_node *call, const char *src,
                     const char **re, size_t *re_n, struct ottl_grok_caps **caps,
                     struct kt_err *err)
{
    const struct ottl_node *pat = call->call.args[1], *nco = call->call.args[2];
    struct grok_build b = {
        .a = &p->arena,
        .defs = call->call.args[3],
        .named_only = nco != NULL && nco->lit.b,
        .out = {&p->arena, NULL, 0, 0, false},
        .src = src,
        .pos = pat->pos,
        .err = err,
    };
    ottl_abuf_put(&b.out, "", 0);
    int rc = grok_expand(&b, pat->lit.s.p, pat->lit.s.n, 0);
    if (rc != 0)
        return rc;
    struct ottl_grok_caps *c = kt_arena_alloc(&p->arena, sizeof(*c));
    if (b.out.oom || c == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    c->v = b.caps;
    c->n = b.n_caps;
    c->named_only = b.named_only;
    *caps = c;
    *re = b.out.p;
    *re_n = b.out.n;
    return 0;
}

int ottl_grok_bind(struct ottl_prog *p, struct ottl_node *call, const struct ottl_grok_caps *caps,
                   const char *src, struct kt_err *err)
{
    struct ottl_regex *re = call->call.re;
    uint32_t groups = 0, count = name_count(re), size = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &groups);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &size);
    pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
    struct ottl_grok_group *g = kt_arena_alloc(&p->arena, (groups + 1) * sizeof(*g));
    if (g == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    memset(g, 0, (groups + 1) * sizeof(*g));
    for (uint32_t i = 0; i < count; i++) {
        PCRE2_SPTR e = table + (size_t)i * size;
        uint32_t num = (uint32_t)e[0] << 8 | e[1];
        const char *name = (const char *)e + 2;
        char *end;
        unsigned long k = strncmp(name, "_ktg", 4) == 0 ? strtoul(name + 4, &end, 10) : 0;
        if (strncmp(name, "_ktg", 4) == 0 && *end == '\0' && k < caps->n)
            g[num] = caps->v[k];
        else if ((g[num].field = kt_arena_strndup(&p->arena, name, strlen(name))) == NULL)
            return kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    /* A type given to a field applies to every group of that name (the Collector keeps the
     * type hints by field). */
    for (uint32_t i = 1; i <= groups; i++)
        for (size_t k = 0; g[i].field != NULL && k < caps->n; k++)
            if (caps->v[k].type != 0 && strcmp(caps->v[k].field, g[i].field) == 0)
                g[i].type = caps->v[k].type;
    if (caps->named_only && count == 0)
        return ottl_syntax_error(err, src, call->call.args[1]->pos,
                                 "ExtractGrokPatterns: at least 1 named capture group must be "
                                 "supplied in the given regex");
    re->grok = g;
    return 0;
}

/* strconv.ParseFloat's syntax, roughly: what strtod takes, without leading space. */
static bool go_parse_float(const char *s, size_t n, double *d)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf) || s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    *d = strtod(buf, &end);
    return *end == '\0' && !(errno == ERANGE && isinf(*d));
}

/* strconv.ParseBool. */
static int go_parse_bool(const char *s, size_t n)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (strlen(yes[i]) == n && memcmp(yes[i], s, n) == 0)
            return 1;
        if (strlen(no[i]) == n && memcmp(no[i], s, n) == 0)
            return 0;
    }
    return -1;
}

/* ExtractGrokPatterns(target, pattern, namedCapturesOnly?, patternDefinitions?): the groups
 * of the first match that matched something, typed as their pattern says; a later group of
 * a field overwrites an earlier one; no match gives an empty map. */
int ottl_fn_extract_grok_patterns(struct ottl_eval *ev, const struct ottl_node *call,
                                  struct ottl_value *out)
{
    const struct ottl_regex *re = call->call.re;
    struct ottl_value v;
    struct kt_arena *a;
    int m, rc = match_target(ev, call, out, &v, &a, &m);
    if (rc != 0 || m == 0)
        return rc;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    size_t cap = 0;
    for (int i = 1; i < m; i++) {
        const struct ottl_grok_group *g = &re->grok[i];
        if (g->field == NULL || ov[2 * i] == PCRE2_UNSET || ov[2 * i + 1] == ov[2 * i])
            continue;
        const char *s = v.s.p + ov[2 * i];
        size_t n = ov[2 * i + 1] - ov[2 * i];
        ottl_any *av = g->type == 0 ? str_any(a, s, n) : ottl_any_new(a);
        if (av == NULL)
            return oom(ev);
        bool ok = true;
        switch (g->type) {
        case 'i':
            av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
            ok = go_atoi(s, n, &av->int_value);
            break;
        case 'f':
            av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
            ok = go_parse_float(s, n, &av->double_value);
            break;
        case 'b': {
            int b = go_parse_bool(s, n);
            av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
            av->bool_value = b == 1;
            ok = b >= 0;
            break;
        }
        case '?':
            return kt_err_set(ev->err, KT_EINVAL,
                              "ExtractGrokPatterns: invalid type for %s: type not provided",
                              g->field);
        default: break;
        }
        if (!ok)
            return kt_err_set(ev->err, KT_EINVAL,
                              "ExtractGrokPatterns: %s: cannot convert \"%.*s\" to its type",
                              g->field, (int)(n > 64 ? 64 : n), s);
        if ((rc = ottl_map_put(ev, a, &out->m, &cap, g->field, strlen(g->field), av)) != 0)
            return rc;
    }
    return 0;
}

/* ---- IsInCIDR ---- */

/* An address as Go's net.ParseIP reads one (inet_pton's forms: dotted quads without leading
 * zeros, RFC 4291 text), in 16 bytes; *v4 when it is IPv4 or IPv4-mapped IPv6, whose last
 * 4 bytes are then the IPv4 address. */
static bool parse_ip(const char *s, size_t n, uint8_t ip[16], bool *v4)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (inet_pton(AF_INET, buf, ip + 12) == 1) {
        memcpy(ip, mapped, 12);
        *v4 = true;
        return true;
    }
    if (inet_pton(AF_INET6, buf, ip) != 1)
        return false;
    *v4 = memcmp(ip, mapped, 12) == 0;
    return true;
}

struct cidr {
    uint8_t ip[16];
    bool v4;
    unsigned bits; /* of the 16-byte form */
};

/* Go's net.ParseCIDR: an address, '/', a decimal prefix length up to its family's width
 * (an IPv4-mapped IPv6 address counts as IPv6 here, and acts as IPv4 when matching). */
static bool parse_cidr(const char *s, size_t n, struct cidr *c)
{
    const char *slash = memchr(s, '/', n);
    if (slash == NULL)
        return false;
    size_t an = (size_t)(slash - s), mn = n - an - 1;
    bool mapped;
    if (!parse_ip(s, an, c->ip, &mapped) || mn == 0)
        return false;
    bool dotted = memchr(s, ':', an) == NULL;
    unsigned bits = 0;
    for (size_t i = 0; i < mn; i++) {
        if (slash[1 + i] < '0' || slash[1 + i] > '9')
            return false;
        /* leading zeros are fine (Go's dtoi); stop counting past any width */
        if (bits <= 128)
            bits = bits * 10 + (unsigned)(slash[1 + i] - '0');
    }
    if (bits > (dotted ? 32u : 128u))
        return false;
    c->v4 = mapped;
    c->bits = dotted ? bits + 96 : bits;
    return true;
}

/* net.IPNet.Contains: IPv4 networks hold IPv4 (and IPv4-mapped) addresses only, IPv6 ones
 * IPv6 addresses only. A mapped network with a prefix under 96 holds every IPv4 address. */
static bool cidr_contains(const struct cidr *c, const uint8_t ip[16], bool v4)
{
    if (c->v4 != v4)
        return false;
    unsigned from = v4 ? 96 : 0, bits = c->bits < from ? from : c->bits;
    for (unsigned b = from; b < bits; b++) {
        unsigned byte = b / 8, mask = 0x80u >> (b % 8);
        if ((ip[byte] & mask) != (c->ip[byte] & mask))
            return false;
    }
    return true;
}

int ottl_check_is_in_cidr(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const struct ottl_node *l = call->call.args[1];
    for (size_t i = 0; i < l->list.n; i++) {
        const struct ottl_node *x = l->list.items[i];
        if (x->kind != OTTL_N_LIT)
            return 0; /* the Collector parses the networks at run time then */
    }
    for (size_t i = 0; i < l->list.n; i++) {
        const struct ottl_node *x = l->list.items[i];
        struct cidr c;
        if (x->lit.t != OTTL_STR)
            return ottl_syntax_error(err, src, x->pos, "IsInCIDR: networks must be strings");
        if (!parse_cidr(x->lit.s.p, x->lit.s.n, &c))
            return ottl_syntax_error(err, src, x->pos, "IsInCIDR: invalid CIDR address: %.*s",
                                     (int)(x->lit.s.n > 64 ? 64 : x->lit.s.n), x->lit.s.p);
    }
    return 0;
}

/* IsInCIDR(target, networks): whether the address is in one of the networks; a target that
 * is no address gives false, a network that is no CIDR fails. */
int ottl_fn_is_in_cidr(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_want_string(ev, call, 0, &v);
    if (rc != 0)
        return rc;
    out->t = OTTL_BOOL;
    out->b = false;
    uint8_t ip[16];
    bool v4;
    if (!parse_ip(v.s.p, v.s.n, ip, &v4))
        return 0;
    const struct ottl_node *l = call->call.args[1];
    for (size_t i = 0; i < l->list.n; i++) {
        struct ottl_value nv;
        if ((rc = ottl_eval_value(ev, l->list.items[i], &nv)) != 0)
            return rc;
        if (nv.t != OTTL_STR)
            return kt_err_set(ev->err, KT_EINVAL, "IsInCIDR: networks must be strings, got %s",
                              ottl_vtype_name(nv.t));
        struct cidr c;
        if (!parse_cidr(nv.s.p, nv.s.n, &c))
            return kt_err_set(ev->err, KT_EINVAL, "IsInCIDR: invalid CIDR address: %.*s",
                              (int)(nv.s.n > 64 ? 64 : nv.s.n), nv.s.p);
        if (cidr_contains(&c, ip, v4)) {
            out->b = true;
            return 0;
        }
    }
    return 0;
}

/* ---- URL ---- */

/* The parts of RFC 3986 reference the way Go's net/url reads one (url.Parse), which the
 * Collector's URL uses: its escaping modes, its checks and its errors. */
enum esc_mode { ESC_PATH, ESC_HOST, ESC_USERPASS, ESC_QUERY, ESC_FRAGMENT };

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int unhex(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

static bool should_escape(unsigned char c, enum esc_mode m)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return false;
    if (m == ESC_HOST && c != '\0' && strchr("!$&'()*+,;=:[]<>\"", c) != NULL)
        return false;
    switch (c) {
    case '-':
    case '_':
    case '.':
    case '~': return false;
    case '$':
    case '&':
    case '+':
    case ',':
    case '/':
    case ':':
    case ';':
    case '=':
    case '?':
    case '@':
        switch (m) {
        case ESC_USERPASS: return c == '@' || c == '/' || c == '?' || c == ':';
        case ESC_PATH: return c == '?';
        case ESC_QUERY: return true;
        case ESC_FRAGMENT: return false;
        case ESC_HOST: break;
        }
        break;
    default: break;
    }
    if (m == ESC_FRAGMENT && (c == '!' || c == '(' || c == ')' || c == '*'))
        return false;
    return true;
}

/* Percent-decodes s into b (url.unescape); a bad escape or, in a host, a character no host
 * may hold fails with Go's words. */
static int url_unescape(struct ottl_abuf *b, const char *s, size_t n, enum esc_mode m,
                        struct kt_err *err)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n || !is_hex(s[i + 1]) || !is_hex(s[i + 2]) ||
                (m == ESC_HOST && unhex(s[i + 1]) < 8 && memcmp(s + i, "%25", 3) != 0))
                return kt_err_set(err, KT_EINVAL, "URL: invalid URL escape \"%.*s\"",
                                  (int)(n - i < 3 ? n - i : 3), s + i);
            char o = (char)(unhex(s[i + 1]) << 4 | unhex(s[i + 2]));
            ottl_abuf_put(b, &o, 1);
            i += 2;
            continue;
        }
        if (m == ESC_HOST && c < 0x80 && should_escape(c, m))
            return kt_err_set(err, KT_EINVAL, "URL: invalid character \"%c\" in host name", c);
        if (m == ESC_QUERY && c == '+')
            c = ' ';
        ottl_abuf_put(b, (const char *)&c, 1);
    }
    return 0;
}

static void url_escape(struct ottl_abuf *b, const char *s, size_t n, enum esc_mode m)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!should_escape(c, m)) {
            ottl_abuf_put(b, (const char *)&c, 1);
            continue;
        }
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        ottl_abuf_put(b, e, 3);
    }
}

/* Whether s may stand as the escaped form of its decoding (url.validEncoded). */
static bool valid_encoded(const char *s, size_t n, enum esc_mode m)
{
    for (size_t i = 0; i < n; i++) {
        bool kept = s[i] != '\0' && strchr("!$&'()*+,;=:@[]%", s[i]) != NULL;
        if (!kept && should_escape((unsigned char)s[i], m))
            return false;
    }
    return true;
}

/* The escaped form Go prints of a part: the original when it is a valid escaped form, else
 * the decoded text escaped again. */
static void url_reescape(struct ottl_abuf *b, const char *raw, size_t rn, const char *dec,
                         size_t dn, enum esc_mode m)
{
    if (valid_encoded(raw, rn, m))
        ottl_abuf_put(b, raw, rn);
    else
        url_escape(b, dec, dn, m);
}

struct url_parts {
    const char *scheme, *opaque, *user, *pass, *host, *port, *rawpath, *query, *rawfrag;
    size_t scheme_n, opaque_n, user_n, pass_n, host_n, port_n, rawpath_n, query_n, rawfrag_n;
    bool has_user, has_pass, has_authority, force_query;
};

static bool valid_port(const char *s, size_t n)
{
    if (n == 0)
        return true;
    if (s[0] != ':')
        return false;
    for (size_t i = 1; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static const char *last_of(const char *s, size_t n, char c)
{
    return memrchr(s, c, n);
}

/* Splits the authority into user info and host (url.parseAuthority, parseHost's port check). */
static int url_authority(struct url_parts *u, const char *s, size_t n, struct kt_err *err)
{
    const char *at = last_of(s, n, '@');
    const char *h = at != NULL ? at + 1 : s;
    size_t hn = n - (size_t)(h - s);
    if (at != NULL) {
        size_t un = (size_t)(at - s);
        for (size_t i = 0; i < un; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  (c != '\0' && strchr("-._:~!$&'()*+,;=%@", c) != NULL)))
                return kt_err_set(err, KT_EINVAL, "URL: net/url: invalid userinfo");
        }
        const char *colon = memchr(s, ':', un);
        u->has_user = true;
        u->user = s;
        u->user_n = colon != NULL ? (size_t)(colon - s) : un;
        u->has_pass = colon != NULL;
        if (colon != NULL) {
            u->pass = colon + 1;
            u->pass_n = un - u->user_n - 1;
        }
    }
    const char *port_at = NULL;
    if (hn > 0 && h[0] == '[') {
        const char *close = last_of(h, hn, ']');
        if (close == NULL)
            return kt_err_set(err, KT_EINVAL, "URL: missing ']' in host");
        port_at = close + 1;
    } else {
        port_at = last_of(h, hn, ':');
    }
    if (port_at != NULL && !valid_port(port_at, hn - (size_t)(port_at - h)))
        return kt_err_set(err, KT_EINVAL, "URL: invalid port \"%.*s\" after host",
                          (int)(hn - (size_t)(port_at - h)), port_at);
    u->host = h;
    u->host_n = hn;
    return 0;
}

/* url.Parse, without the decoding. */
static int url_split(struct url_parts *u, const char *s, size_t n, struct kt_err *err)
{
    memset(u, 0, sizeof(*u));
    /* a part that is absent is empty, never NULL */
    u->scheme = u->opaque = u->user = u->pass = u->host = u->port = u->rawpath = u->query =
        u->rawfrag = "";
    const char *hash = memchr(s, '#', n);
    if (hash != NULL) {
        u->rawfrag = hash + 1;
        u->rawfrag_n = n - (size_t)(hash - s) - 1;
        n = (size_t)(hash - s);
    }
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return kt_err_set(err, KT_EINVAL, "URL: net/url: invalid control character in URL");
    if (n == 1 && s[0] == '*') {
        u->rawpath = s;
        u->rawpath_n = 1;
        return 0;
    }
    const char *rest = s;
    size_t rn = n;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
            continue;
        if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
            if (i == 0)
                break;
            continue;
        }
        if (c == ':') {
            if (i == 0)
                return kt_err_set(err, KT_EINVAL, "URL: missing protocol scheme");
            u->scheme = s;
            u->scheme_n = i;
            rest = s + i + 1;
            rn = n - i - 1;
        }
        break;
    }
    const char *q = memchr(rest, '?', rn);
    if (q != NULL && (size_t)(q - rest) == rn - 1) {
        u->force_query = true;
        rn--;
    } else if (q != NULL) {
        u->query = q + 1;
        u->query_n = rn - (size_t)(q - rest) - 1;
        rn = (size_t)(q - rest);
    }
    if (rn == 0 || rest[0] != '/') {
        if (u->scheme_n > 0) {
            u->opaque = rest;
            u->opaque_n = rn;
            return 0;
        }
        const char *slash = memchr(rest, '/', rn);
        if (memchr(rest, ':', slash != NULL ? (size_t)(slash - rest) : rn) != NULL)
            return kt_err_set(err, KT_EINVAL,
                              "URL: first path segment in URL cannot contain colon");
    }
    bool triple = rn >= 3 && memcmp(rest, "///", 3) == 0;
    if ((u->scheme_n > 0 || !triple) && rn >= 2 && memcmp(rest, "//", 2) == 0) {
        const char *auth = rest + 2;
        size_t an = rn - 2;
        const char *slash = memchr(auth, '/', an);
        if (slash != NULL)
            an = (size_t)(slash - auth);
        u->has_authority = true;
        int rc = url_authority(u, auth, an, err);
        if (rc != 0)
            return rc;
        rest = auth + an;
        rn = rn - 2 - an;
    }
    u->rawpath = rest;
    u->rawpath_n = rn;
    return 0;
}

static int put_buf(struct ottl_eval *ev, struct kt_arena *a, struct ottl_value *map, size_t *cap,
                   const char *key, const struct ottl_abuf *b)
{
    return put_str(ev, a, map, cap, key, b->p != NULL ? b->p : "", b->n);
}

/* A URL's query ("?a=1&a=2&b") as the Collector gives it for a target that starts with '?':
 * a map of each key's values as a list (url.ParseQuery; ';' in a pair fails). */
static int url_query_map(struct ottl_eval *ev, struct kt_arena *a, const char *s, size_t n,
                         struct ottl_value *out)
{
    int rc = ottl_map_result(ev, a, out);
    if (rc != 0 || n == 0)
        return rc;
    struct ottl_value params;
    size_t pcap = 0, cap = 0;
    if ((rc = ottl_map_result(ev, a, &params)) != 0)
        return rc;
    for (size_t i = 0; i <= n;) {
        const char *amp = memchr(s + i, '&', n - i);
        size_t e = amp != NULL ? (size_t)(amp - s) : n;
        const char *pair = s + i;
        size_t pn = e - i;
        i = e + 1;
        if (memchr(pair, ';', pn) != NULL)
            return kt_err_set(ev->err, KT_EINVAL, "URL: invalid semicolon separator in query");
        if (pn == 0)
            continue;
        const char *eq = memchr(pair, '=', pn);
        size_t kn = eq != NULL ? (size_t)(eq - pair) : pn;
        struct ottl_abuf k = {a, NULL, 0, 0, false}, v = {a, NULL, 0, 0, false};
        ottl_abuf_put(&k, "", 0);
        ottl_abuf_put(&v, "", 0);
        if ((rc = url_unescape(&k, pair, kn, ESC_QUERY, ev->err)) != 0 ||
            (eq != NULL && (rc = url_unescape(&v, eq + 1, pn - kn - 1, ESC_QUERY, ev->err)) != 0))
            return rc;
        if (k.oom || v.oom)
            return oom(ev);
        ottl_kv *kv = ottl_map_find(&params.m, k.p, k.n);
        if (kv == NULL) {
            ottl_any *av = ottl_any_new(a);
            ottl_array *arr = kt_arena_alloc(a, sizeof(*arr));
            if (av == NULL || arr == NULL)
                return oom(ev);
            ottl_array init = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
            *arr = init;
            av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE;
            av->array_value = arr;
            if ((rc = ottl_map_put(ev, a, &params.m, &pcap, k.p, k.n, av)) != 0)
                return rc;
            kv = ottl_map_find(&params.m, k.p, k.n);
        }
        ottl_array *arr = kv->value->array_value;
        ottl_any **vals = kt_arena_alloc(a, (arr->n_values + 1) * sizeof(*vals));
        ottl_any *sv = str_any(a, v.p, v.n);
        if (vals == NULL || sv == NULL)
            return oom(ev);
        if (arr->n_values)
            memcpy(vals, arr->values, arr->n_values * sizeof(*vals));
        vals[arr->n_values++] = sv;
        arr->values = vals;
    }
    if (*params.m.n == 0)
        return 0;
    ottl_any *pv = ottl_any_new(a);
    if (pv == NULL)
        return oom(ev);
    if ((rc = ottl_value_to_any(ev, a, &params, pv, 0)) != 0)
        return rc;
    return ottl_map_put(ev, a, &out->m, &cap, "query", 5, pv);
}

/* URL(target): the parts of a URL under the semantic-convention keys the Collector uses:
 * url.original (as Go prints the parsed URL), url.domain, url.scheme, url.path (decoded)
 * always; url.port (an int), url.fragment, url.user_info, url.username, url.password,
 * url.query and url.extension when present. An empty target fails. */
int ottl_fn_url(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_want_string(ev, call, 0, &v);
    if (rc != 0)
        return rc;
    if (v.s.n == 0)
        return kt_err_set(ev->err, KT_EINVAL, "URL: url cannot be empty");
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    if (v.s.p[0] == '?')
        return url_query_map(ev, a, v.s.p + 1, v.s.n - 1, out);
    struct url_parts u;
    if ((rc = url_split(&u, v.s.p, v.s.n, ev->err)) != 0)
        return rc;
    struct ottl_abuf path = {a, NULL, 0, 0, false}, host = path, user = path, pass = path,
                     frag = path, orig = path;
    ottl_abuf_put(&path, "", 0);
    ottl_abuf_put(&host, "", 0);
    ottl_abuf_put(&user, "", 0);
    ottl_abuf_put(&pass, "", 0);
    ottl_abuf_put(&frag, "", 0);
    ottl_abuf_put(&orig, "", 0);
    if ((rc = url_unescape(&path, u.rawpath, u.rawpath_n, ESC_PATH, ev->err)) != 0 ||
        (rc = url_unescape(&frag, u.rawfrag, u.rawfrag_n, ESC_FRAGMENT, ev->err)) != 0 ||
        (rc = url_unescape(&user, u.user, u.user_n, ESC_USERPASS, ev->err)) != 0 ||
        (rc = url_unescape(&pass, u.pass, u.pass_n, ESC_USERPASS, ev->err)) != 0)
        return rc;
    /* the hostname: the host less its port and IPv6 brackets, decoded */
    const char *h = u.host;
    size_t hn = u.host_n;
    const char *colon = last_of(h, hn, ':');
    if (colon != NULL && valid_port(colon, hn - (size_t)(colon - h))) {
        u.port = colon + 1;
        u.port_n = hn - (size_t)(colon - h) - 1;
        hn = (size_t)(colon - h);
    }
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']')
        h++, hn -= 2;
    if ((rc = url_unescape(&host, u.host, u.host_n, ESC_HOST, ev->err)) != 0)
        return rc;
    struct ottl_abuf hostname = {a, NULL, 0, 0, false};
    ottl_abuf_put(&hostname, "", 0);
    if ((rc = url_unescape(&hostname, h, hn, ESC_HOST, ev->err)) != 0)
        return rc;

    /* url.original: URL.String() */
    for (size_t i = 0; i < u.scheme_n; i++) {
        char c = u.scheme[i];
        c = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
        ottl_abuf_put(&orig, &c, 1);
    }
    if (u.scheme_n > 0)
        ottl_abuf_put(&orig, ":", 1);
    if (u.opaque_n > 0) {
        ottl_abuf_put(&orig, u.opaque, u.opaque_n);
    } else {
        if (u.scheme_n > 0 || host.n > 0 || u.has_user) {
            if (!(u.scheme_n > 0 && !u.has_authority && host.n == 0 && !u.has_user)) {
                if (host.n > 0 || path.n > 0 || u.has_user)
                    ottl_abuf_put(&orig, "//", 2);
                if (u.has_user) {
                    url_escape(&orig, user.p, user.n, ESC_USERPASS);
                    if (u.has_pass) {
                        ottl_abuf_put(&orig, ":", 1);
                        url_escape(&orig, pass.p, pass.n, ESC_USERPASS);
                    }
                    ottl_abuf_put(&orig, "@", 1);
                }
                url_escape(&orig, host.p, host.n, ESC_HOST);
            }
        }
        size_t before = orig.n;
        struct ottl_abuf ep = {a, NULL, 0, 0, false};
        ottl_abuf_put(&ep, "", 0);
        url_reescape(&ep, u.rawpath, u.rawpath_n, path.p, path.n, ESC_PATH);
        if (ep.n > 0 && ep.p[0] != '/' && host.n > 0)
            ottl_abuf_put(&orig, "/", 1);
        if (before == 0) {
            const char *sl = memchr(ep.p, '/', ep.n);
            if (memchr(ep.p, ':', sl != NULL ? (size_t)(sl - ep.p) : ep.n) != NULL)
                ottl_abuf_put(&orig, "./", 2);
        }
        ottl_abuf_put(&orig, ep.p, ep.n);
    }
    if (u.force_query || u.query_n > 0) {
        ottl_abuf_put(&orig, "?", 1);
        ottl_abuf_put(&orig, u.query, u.query_n);
    }
    if (frag.n > 0) {
        ottl_abuf_put(&orig, "#", 1);
        url_reescape(&orig, u.rawfrag, u.rawfrag_n, frag.p, frag.n, ESC_FRAGMENT);
    }
    if (path.oom || host.oom || user.oom || pass.oom || frag.oom || orig.oom || hostname.oom)
        return oom(ev);

    if ((rc = ottl_map_result(ev, a, out)) != 0)
        return rc;
    size_t cap = 0;
    char *scheme = kt_arena_strndup(a, u.scheme, u.scheme_n);
    if (scheme == NULL)
        return oom(ev);
    for (char *c = scheme; *c; c++)
        *c = *c >= 'A' && *c <= 'Z' ? (char)(*c + 32) : *c;
    if ((rc = put_buf(ev, a, out, &cap, "url.original", &orig)) != 0 ||
        (rc = put_buf(ev, a, out, &cap, "url.domain", &hostname)) != 0 ||
        (rc = put_str(ev, a, out, &cap, "url.scheme", scheme, u.scheme_n)) != 0 ||
        (rc = put_buf(ev, a, out, &cap, "url.path", &path)) != 0)
        return rc;
    if (u.port_n > 0) {
        int64_t port;
        if (!go_atoi(u.port, u.port_n, &port))
            return kt_err_set(ev->err, KT_EINVAL, "URL: port \"%.*s\" is out of range",
                              (int)(u.port_n > 32 ? 32 : u.port_n), u.port);
        if ((rc = put_int(ev, a, out, &cap, "url.port", 8, port)) != 0)
            return rc;
    }
    if (frag.n > 0 && (rc = put_buf(ev, a, out, &cap, "url.fragment", &frag)) != 0)
        return rc;
    if (u.has_user) {
        struct ottl_abuf ui = {a, NULL, 0, 0, false};
        ottl_abuf_put(&ui, "", 0);
        url_escape(&ui, user.p, user.n, ESC_USERPASS);
        if (u.has_pass) {
            ottl_abuf_put(&ui, ":", 1);
            url_escape(&ui, pass.p, pass.n, ESC_USERPASS);
        }
        if (ui.oom)
            return oom(ev);
        if ((rc = put_buf(ev, a, out, &cap, "url.user_info", &ui)) != 0 ||
            (user.n > 0 && (rc = put_buf(ev, a, out, &cap, "url.username", &user)) != 0) ||
            (u.has_pass && (rc = put_buf(ev, a, out, &cap, "url.password", &pass)) != 0))
            return rc;
    }
    if (u.query_n > 0 && (rc = put_str(ev, a, out, &cap, "url.query", u.query, u.query_n)) != 0)
        return rc;
    const char *dot = last_of(path.p, path.n, '.');
    if (dot != NULL && (size_t)(dot - path.p) < path.n - 1)
        return put_str(ev, a, out, &cap, "url.extension", dot + 1,
                       path.n - (size_t)(dot - path.p) - 1);
    return 0;
}

/* ---- UserAgent ---- */

/* A reasonable subset of the ua-parser families the Collector's UserAgent gives: the common
 * browsers, command-line clients and crawlers, tried in order (the first whose token is in
 * the string names it), with up to three version numbers after the token. */
static const struct {
    const char *token; /* "Name/": the version follows */
    const char *family;
    const char *unless; /* a token whose presence means another family */
    int parts;          /* version numbers ua-parser keeps */
} ua_rules[] = {
    {"Googlebot/", "Googlebot", NULL, 3},
    {"bingbot/", "bingbot", NULL, 3},
    {"curl/", "curl", NULL, 3},
    {"Wget/", "Wget", NULL, 3},
    {"python-requests/", "Python Requests", NULL, 2},
    {"Edg/", "Edge", NULL, 3},
    {"OPR/", "Opera", NULL, 3},
    {"Firefox/", "Firefox", "Seamonkey/", 3},
    {"CriOS/", "Chrome Mobile iOS", NULL, 3},
    {"Chrome/", "Chrome", NULL, 3},
};

/* Windows NT versions name Windows releases in ua-parser. */
static const struct {
    const char *nt;
    const char *version;
} windows_nt[] = {
    {"10.0", "10"}, {"6.3", "8.1"}, {"6.2", "8"}, {"6.1", "7"}, {"6.0", "Vista"}, {"5.1", "XP"},
};

/* Up to max dot-separated numbers at s (sep '_' read as '.'), into b; how many were read. */
static int ua_version(struct ottl_abuf *b, const char *s, size_t n, int max, char sep)
{
    int parts = 0;
    size_t i = 0;
    while (parts < max && i < n && s[i] >= '0' && s[i] <= '9') {
        if (parts > 0)
            ottl_abuf_put(b, ".", 1);
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        ottl_abuf_put(b, s + st, i - st);
        parts++;
        if (i + 1 < n && (s[i] == sep || s[i] == '.') && s[i + 1] >= '0' && s[i + 1] <= '9')
            i++;
        else
            break;
    }
    return parts;
}

static const char *find(const char *s, size_t n, const char *tok)
{
    return memmem(s, n, tok, strlen(tok));
}

/* UserAgent(target): user_agent.original, user_agent.name and user_agent.version (ua-parser's
 * "Other" and "" for what kotel does not know) and os.name / os.version when known. */
int ottl_fn_user_agent(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_want_string(ev, call, 0, &v);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    const char *s = v.s.p;
    size_t n = v.s.n;
    struct ottl_abuf ver = {a, NULL, 0, 0, false}, osver = ver;
    ottl_abuf_put(&ver, "", 0);
    ottl_abuf_put(&osver, "", 0);
    const char *family = "Other";
    for (size_t i = 0; i < sizeof(ua_rules) / sizeof(ua_rules[0]); i++) {
        const char *at = find(s, n, ua_rules[i].token);
        if (at == NULL || (ua_rules[i].unless != NULL && find(s, n, ua_rules[i].unless) != NULL))
            continue;
        family = ua_rules[i].family;
        /* Chrome and Firefox on a phone or tablet are families of their own there */
        if (find(s, n, " Mobile") != NULL && strcmp(family, "Chrome") == 0)
            family = "Chrome Mobile";
        else if (find(s, n, " Mobile") != NULL && strcmp(family, "Firefox") == 0)
            family = "Firefox Mobile";
        size_t off = (size_t)(at - s) + strlen(ua_rules[i].token);
        ua_version(&ver, s + off, n - off, ua_rules[i].parts, '.');
        break;
    }
    const char *safari = find(s, n, "Safari/"), *version = find(s, n, "Version/");
    if (strcmp(family, "Other") == 0 && safari != NULL && version != NULL) {
        family = find(s, n, "Mobile/") != NULL ? "Mobile Safari" : "Safari";
        size_t off = (size_t)(version - s) + 8;
        ua_version(&ver, s + off, n - off, 3, '.');
    }
    const char *os = NULL;
    const char *at;
    if ((at = find(s, n, "Windows NT ")) != NULL) {
        os = "Windows";
        size_t off = (size_t)(at - s) + 11;
        for (size_t i = 0; i < sizeof(windows_nt) / sizeof(windows_nt[0]); i++) {
            size_t l = strlen(windows_nt[i].nt);
            if (off + l <= n && memcmp(s + off, windows_nt[i].nt, l) == 0 &&
                (off + l == n || s[off + l] < '0' || s[off + l] > '9')) {
                ottl_abuf_put(&osver, windows_nt[i].version, strlen(windows_nt[i].version));
                break;
            }
        }
    } else if ((at = find(s, n, "iPhone OS ")) != NULL || (at = find(s, n, "CPU OS ")) != NULL) {
        os = "iOS";
        size_t off = (size_t)(at - s) + (at[0] == 'C' ? 7 : 10);
        ua_version(&osver, s + off, n - off, 3, '_');
    } else if ((at = find(s, n, "Android ")) != NULL) {
        os = "Android";
        size_t off = (size_t)(at - s) + 8;
        ua_version(&osver, s + off, n - off, 3, '.');
    } else if ((at = find(s, n, "Mac OS X ")) != NULL) {
        os = "Mac OS X";
        size_t off = (size_t)(at - s) + 9;
        ua_version(&osver, s + off, n - off, 3, '_');
    } else if (find(s, n, "Linux") != NULL) {
        os = "Linux";
    } else {
        os = "Other";
    }
    if (ver.oom || osver.oom || (rc = ottl_map_result(ev, a, out)) != 0)
        return rc != 0 ? rc : oom(ev);
    size_t cap = 0;
    if ((rc = put_str(ev, a, out, &cap, "user_agent.name", family, strlen(family))) != 0 ||
        (rc = put_str(ev, a, out, &cap, "user_agent.original", s, n)) != 0 ||
        (rc = put_buf(ev, a, out, &cap, "user_agent.version", &ver)) != 0 ||
        (rc = put_str(ev, a, out, &cap, "os.name", os, strlen(os))) != 0)
        return rc;
    if (osver.n > 0)
        return put_buf(ev, a, out, &cap, "os.version", &osver);
    return 0;
}

/* ---- Log ---- */

/* Log(value): the natural logarithm of a float-like value; nil and values <= 0 fail. */
int ottl_fn_log(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc != 0)
        return rc;
    double d = 0;
    bool has;
    if ((rc = ottl_to_double(ev->t->arena, &v, &d, &has, ev->err)) != 0)
        return kt_err_prefix(ev->err, "Log: ");
    if (!has)
        return kt_err_set(ev->err, KT_EINVAL, "Log: invalid input: <nil>");
    if (!(d > 0))
        return kt_err_set(ev->err, KT_EINVAL,
                          "Log: invalid input: expected number greater than zero but got %g", d);
    out->t = OTTL_DOUBLE;
    out->d = log(d);
    return 0;
}

/* ---- ParseSeverity ---- */

/* Whether n is made of literals only (the Collector's literal PMap). */
static bool all_literal(const struct ottl_node *n)
{
    switch (n->kind) {
    case OTTL_N_LIT: return true;
    case OTTL_N_NEG: return n->bin.l->kind == OTTL_N_LIT;
    case OTTL_N_LIST:
    case OTTL_N_MAP:
        for (size_t i = 0; i < n->list.n; i++)
            if (!all_literal(n->list.items[i]))
                return false;
        return true;
    default: return false;
    }
}

static const struct ottl_node *map_item(const struct ottl_node *m, const char *key)
{
    for (size_t i = 0; i < m->list.n; i++)
        if (strlen(key) == m->list.keys[i].n &&
            memcmp(key, m->list.keys[i].s, m->list.keys[i].n) == 0)
            return m->list.items[i];
    return NULL;
}

/* A criterion's range: {"min": a, "max": b} or "2xx" .. "5xx". */
static int severity_range(struct ottl_eval *ev, const struct ottl_node *r, int64_t *lo, int64_t *hi)
{
    static const char *const msg = "ParseSeverity: invalid severity mapping criteria: ";
    if (r->kind == OTTL_N_LIT && r->lit.t == OTTL_STR) {
        const char *s = r->lit.s.p;
        if (r->lit.s.n == 3 && s[0] >= '2' && s[0] <= '5' && s[1] == 'x' && s[2] == 'x') {
            *lo = (s[0] - '0') * 100;
            *hi = *lo + 99;
            return 0;
        }
        return kt_err_set(ev->err, KT_EINVAL, "%sunknown range placeholder: %s", msg, s);
    }
    if (r->kind != OTTL_N_MAP)
        return kt_err_set(ev->err, KT_EINVAL, "%srange must be a map or a known placeholder string",
                          msg);
    const struct ottl_node *mn = map_item(r, "min"), *mx = map_item(r, "max");
    if (mn == NULL)
        return kt_err_set(ev->err, KT_EINVAL, "%srange must have a min value", msg);
    if (mx == NULL)
        return kt_err_set(ev->err, KT_EINVAL, "%srange must have a max value", msg);
    struct ottl_value a, b;
    int rc;
    if ((rc = ottl_eval_value(ev, mn, &a)) != 0 || (rc = ottl_eval_value(ev, mx, &b)) != 0)
        return rc;
    if (a.t != OTTL_INT)
        return kt_err_set(ev->err, KT_EINVAL, "%smin must be an int64", msg);
    if (b.t != OTTL_INT)
        return kt_err_set(ev->err, KT_EINVAL, "%smax must be an int64", msg);
    *lo = a.i;
    *hi = b.i;
    return 0;
}

/* Checks the mapping's shape (every criterion, as the Collector does before any value) and,
 * with v, finds the first level one of whose criteria v meets: a string in its "equals", an
 * int in its "range". *level is NULL when none does. */
static int severity_walk(struct ottl_eval *ev, const struct ottl_node *m,
                         const struct ottl_value *v, const struct ottl_index **level)
{
    static const char *const msg = "ParseSeverity: invalid severity mapping criteria: ";
    *level = NULL;
    for (size_t i = 0; i < m->list.n; i++) {
        const struct ottl_node *crit = m->list.items[i];
        if (crit->kind != OTTL_N_LIST)
            return kt_err_set(ev->err, KT_EINVAL,
                              "ParseSeverity: severity mapping criteria must be []any");
        for (size_t j = 0; j < crit->list.n; j++) {
            const struct ottl_node *c = crit->list.items[j];
            if (c->kind != OTTL_N_MAP)
                return kt_err_set(ev->err, KT_EINVAL,
                                  "ParseSeverity: severity mapping criteria "
                                  "items must be map[string]any");
            const struct ottl_node *eq = map_item(c, "equals"), *r = map_item(c, "range");
            if (eq != NULL && eq->kind != OTTL_N_LIST)
                return kt_err_set(ev->err, KT_EINVAL, "%sequals must be a list", msg);
            bool hit = false;
            for (size_t k = 0; eq != NULL && k < eq->list.n; k++) {
                const struct ottl_node *x = eq->list.items[k];
                if (x->kind != OTTL_N_LIT || x->lit.t != OTTL_STR)
                    return kt_err_set(ev->err, KT_EINVAL, "%sequals values must be strings", msg);
                hit = hit || (v != NULL && v->t == OTTL_STR && v->s.n == x->lit.s.n &&
                              memcmp(v->s.p, x->lit.s.p, v->s.n) == 0);
            }
            if (r != NULL) {
                int64_t lo = 0, hi = -1;
                int rc = severity_range(ev, r, &lo, &hi);
                if (rc != 0)
                    return rc;
                hit = hit || (v != NULL && v->t == OTTL_INT && v->i >= lo && v->i <= hi);
            }
            if (v != NULL && v->t != OTTL_STR && v->t != OTTL_INT)
                return kt_err_set(ev->err, KT_EINVAL,
                                  "ParseSeverity: could not map log level: unsupported value "
                                  "type: %s",
                                  ottl_vtype_name(v->t));
            if (hit && v != NULL && *level == NULL)
                *level = &m->list.keys[i];
        }
    }
    return 0;
}

/* ParseSeverity(target, mapping): the level of a map literal {"level": [criteria...]} whose
 * criteria the value meets ({"equals": [strings]} for strings, {"range": {"min": a, "max": b}}
 * or {"range": "4xx"} for ints). A mapping that is no literal map, or holds a bad criterion,
 * fails at run time, as in the Collector; so does a value no level takes. */
int ottl_fn_parse_severity(struct ottl_eval *ev, const struct ottl_node *call,
                           struct ottl_value *out)
{
    const struct ottl_node *m = call->call.args[1];
    if (m->kind != OTTL_N_MAP || !all_literal(m))
        return kt_err_set(ev->err, KT_EINVAL,
                          "ParseSeverity: severity mapping must be a literal PMap");
    const struct ottl_index *level;
    int rc = severity_walk(ev, m, NULL, &level);
    if (rc != 0)
        return rc;
    struct ottl_value v;
    if ((rc = ottl_eval_value(ev, call->call.args[0], &v)) != 0)
        return kt_err_prefix(ev->err, "ParseSeverity: could not get log level: ");
    if ((rc = severity_walk(ev, m, &v, &level)) != 0)
        return rc;
    if (level == NULL) {
        char tmp[OTTL_TEXT_TMP];
        const char *p = "<nil>";
        size_t n = 5;
        struct kt_err ignored = {0};
        if (v.t != OTTL_NIL && ottl_value_text(NULL, &v, false, tmp, &p, &n, &ignored) != 0)
            p = ottl_vtype_name(v.t), n = strlen(p);
        return kt_err_set(ev->err, KT_EINVAL,
                          "ParseSeverity: could not map log level: no matching log level found "
                          "for value '%.*s'",
                          (int)(n > 64 ? 64 : n), p);
    }
    out->t = OTTL_STR;
    out->s.p = level->s;
    out->s.n = level->n;
    return 0;
}
