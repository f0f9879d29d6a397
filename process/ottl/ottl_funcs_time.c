/* OTTL time and duration converters (issue 14): Time, FormatTime, Duration, TruncateTime,
 * Now, Unix and the unit and calendar-field converters, with the Collector's semantics (its
 * ctimefmt directives over Go's time layouts, Go's ParseDuration, Go's calendar in a zone;
 * ottl_time.c has the calendar and the zones). The Collector's local zone is taken to be
 * UTC. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ottl_int.h"

#define NS_PER_S 1000000000LL

/* ---- ctimefmt directives ----
 *
 * The Collector turns a strptime-like format into a Go layout (its ctimefmt package) and
 * formats or parses with Go's time package; the tokens below are Go's layout elements. */

enum tok {
    K_LIT,
    K_YEAR,       /* 2006 */
    K_YEAR2,      /* 06 */
    K_YEAR4OR2,   /* %D when parsing: 2006, else 06 */
    K_MON_ZERO,   /* 01 */
    K_MON_US,     /* _1: a literal '_' and the month (Go has no _1 element) */
    K_MON,        /* 1 */
    K_MON_ABBR,   /* Jan */
    K_MON_FULL,   /* January */
    K_DAY_ZERO,   /* 02 */
    K_DAY_SP,     /* _2 */
    K_DAY,        /* 2 */
    K_WDAY_ABBR,  /* Mon */
    K_WDAY_FULL,  /* Monday */
    K_HOUR,       /* 15 */
    K_HOUR12,     /* 3 */
    K_HOUR12_0,   /* 03 */
    K_PM,         /* PM */
    K_PM_LOWER,   /* pm */
    K_MIN_ZERO,   /* 04 */
    K_MIN,        /* 4 */
    K_SEC_ZERO,   /* 05 */
    K_SEC,        /* 5 */
    K_FRAC,       /* .999 (digits: n) */
    K_TZ,         /* MST */
    K_ISO,        /* Z0700, parsed also as Z07:00 and Z07 */
    K_OFF_HHMMSS, /* -070000 */
    K_OFF_HH,     /* -07 */
    K_OFF_COLON,  /* -07:00 */
    K_OFF_COLON3, /* -07:00:00 */
};

struct ctok {
    enum tok k;
    const char *lit; /* K_LIT: text; K_FRAC: the separator */
    size_t n;        /* K_LIT: length; K_FRAC: digits */
};

struct dir {
    char c;
    enum tok fmt, parse;
    const char *expand_fmt, *expand_parse; /* compound directives */
};

static const struct dir dirs[] = {
    {'Y', K_YEAR, K_YEAR, NULL, NULL},
    {'y', K_YEAR2, K_YEAR2, NULL, NULL},
    {'m', K_MON_ZERO, K_MON, NULL, NULL},
    {'o', K_MON_US, K_MON, NULL, NULL},
    {'q', K_MON, K_MON, NULL, NULL},
    {'b', K_MON_ABBR, K_MON_ABBR, NULL, NULL},
    {'h', K_MON_ABBR, K_MON_ABBR, NULL, NULL},
    {'B', K_MON_FULL, K_MON_FULL, NULL, NULL},
    {'d', K_DAY_ZERO, K_DAY, NULL, NULL},
    {'e', K_DAY_SP, K_DAY, NULL, NULL},
    {'g', K_DAY, K_DAY, NULL, NULL},
    {'a', K_WDAY_ABBR, K_WDAY_ABBR, NULL, NULL},
    {'A', K_WDAY_FULL, K_WDAY_FULL, NULL, NULL},
    {'H', K_HOUR, K_HOUR, NULL, NULL},
    {'l', K_HOUR12, K_HOUR12, NULL, NULL},
    {'I', K_HOUR12_0, K_HOUR12, NULL, NULL},
    {'p', K_PM, K_PM, NULL, NULL},
    {'P', K_PM_LOWER, K_PM_LOWER, NULL, NULL},
    {'M', K_MIN_ZERO, K_MIN, NULL, NULL},
    {'S', K_SEC_ZERO, K_SEC, NULL, NULL},
    {'L', K_FRAC, K_FRAC, NULL, NULL},
    {'f', K_FRAC, K_FRAC, NULL, NULL},
    {'s', K_FRAC, K_FRAC, NULL, NULL},
    {'Z', K_TZ, K_TZ, NULL, NULL},
    {'z', K_ISO, K_ISO, NULL, NULL},
    {'w', K_OFF_HHMMSS, K_OFF_HHMMSS, NULL, NULL},
    {'i', K_OFF_HH, K_OFF_HH, NULL, NULL},
    {'j', K_OFF_COLON, K_OFF_COLON, NULL, NULL},
    {'k', K_OFF_COLON3, K_OFF_COLON3, NULL, NULL},
    {'D', K_LIT, K_LIT, "%m/%d/%Y", "%q/%g/\x01"},
    {'x', K_LIT, K_LIT, "%m/%d/%Y", "%q/%g/\x01"},
    {'F', K_LIT, K_LIT, "%Y-%m-%d", NULL},
    {'T', K_LIT, K_LIT, "%H:%M:%S", NULL},
    {'X', K_LIT, K_LIT, "%H:%M:%S", NULL},
    {'r', K_LIT, K_LIT, "%I:%M:%S %P", NULL},
    {'R', K_LIT, K_LIT, "%H:%M", NULL},
    {'c', K_LIT, K_LIT, "%a %b %d %H:%M:%S %Y", NULL},
    {'n', K_LIT, K_LIT, "\n", NULL},
    {'t', K_LIT, K_LIT, "\t", NULL},
    {'%', K_LIT, K_LIT, "%", NULL},
};

static const struct dir *find_dir(char c)
{
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if (dirs[i].c == c)
            return &dirs[i];
    return NULL;
}

/* ctimefmt's Validate: no digits, %L %f %s after '.' or ',', known directives only. */
static int validate_format(const char *f, size_t n, const char *fn, struct kt_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (f[i] >= '0' && f[i] <= '9')
            return kt_err_set(err, KT_EINVAL, "%s: format string should not contain decimals", fn);
    for (size_t i = 0; i < n; i++) {
        if (f[i] != '%' || i + 1 >= n)
            continue;
        char c = f[i + 1];
        if ((c == 'L' || c == 'f' || c == 's') && i > 0 && f[i - 1] != '.' && f[i - 1] != ',')
            return kt_err_set(err, KT_EINVAL,
                              "%s: invalid fractional seconds directive '%c%%%c': must be "
                              "preceded with '.' or ','",
                              fn, f[i - 1], c);
        if (find_dir(c) == NULL)
            return kt_err_set(err, KT_EINVAL, "%s: unsupported strptime directive %%%c", fn, c);
        i++;
    }
    return 0;
}

/* Splits a format into tokens (at most cap); parsing uses each directive's parse form (what
 * ctimefmt tries first when parsing; %z's other forms are tried by the parser). A '.' or ','
 * right before %L %f %s joins it, as in Go's layouts. */
/* Appends a format's literal text: Go reads the words of its layout elements in it too
 * (`"%Y Jan"` is the year and the month), and ctimefmt leaves them there. */
static size_t put_literal(const char *s, size_t n, struct ctok *t, size_t k, size_t cap)
{
    static const struct {
        const char *w;
        enum tok k;
    } words[] = {{"January", K_MON_FULL}, {"Jan", K_MON_ABBR}, {"Monday", K_WDAY_FULL},
                 {"Mon", K_WDAY_ABBR},    {"MST", K_TZ},       {"PM", K_PM},
                 {"pm", K_PM_LOWER}};
    size_t run = 0;
    for (size_t i = 0; i < n && k < cap;) {
        size_t w = 0;
        /* Go takes Jan and Mon before a lowercase letter as text (Monthly). */
        while (w < sizeof(words) / sizeof(words[0])) {
            size_t l = strlen(words[w].w);
            if (n - i >= l && memcmp(s + i, words[w].w, l) == 0 &&
                !((words[w].k == K_MON_ABBR || words[w].k == K_WDAY_ABBR) && i + l < n &&
                  s[i + l] >= 'a' && s[i + l] <= 'z'))
                break;
            w++;
        }
        if (w == sizeof(words) / sizeof(words[0])) {
            i++;
            continue;
        }
        if (i > run)
            t[k++] = (struct ctok){K_LIT, s + run, i - run};
        if (k < cap)
            t[k++] = (struct ctok){words[w].k, NULL, 0};
        i += strlen(words[w].w);
        run = i;
    }
    if (n > run && k < cap)
        t[k++] = (struct ctok){K_LIT, s + run, n - run};
    return k;
}

static size_t tokenize(const char *f, size_t n, bool parse, struct ctok *t, size_t cap, int depth)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < cap;) {
        if (depth > 0 && f[i] == '\x01') { /* %D's year when parsing */
            t[k++] = (struct ctok){K_YEAR4OR2, NULL, 0};
            i++;
            continue;
        }
        if (f[i] != '%' || i + 1 >= n) {
            size_t j = i + 1;
            while (j < n && f[j] != '%' && !(depth > 0 && f[j] == '\x01'))
                j++;
            if (j < n && f[j] == '%' && j + 1 < n &&
                (f[j + 1] == 'L' || f[j + 1] == 'f' || f[j + 1] == 's') &&
                (f[j - 1] == '.' || f[j - 1] == ',') && j - 1 >= i) {
                k = put_literal(f + i, j - 1 - i, t, k, cap);
                if (k < cap)
                    t[k++] = (struct ctok){K_FRAC, f + j - 1,
                                           f[j + 1] == 'L'   ? 3
                                           : f[j + 1] == 'f' ? 6
                                                             : 9};
                i = j + 2;
                continue;
            }
            k = put_literal(f + i, j - i, t, k, cap);
            i = j;
            continue;
        }
        const struct dir *d = find_dir(f[i + 1]);
        i += 2;
        if (d == NULL)
            continue;
        const char *ex = parse && d->expand_parse != NULL ? d->expand_parse : d->expand_fmt;
        if (ex != NULL && d->c != '%' && d->c != 'n' && d->c != 't' && depth == 0) {
            k += tokenize(ex, strlen(ex), parse, t + k, cap - k, 1);
            continue;
        }
        if (ex != NULL) {
            t[k++] = (struct ctok){K_LIT, ex, strlen(ex)};
            continue;
        }
        enum tok kind = parse ? d->parse : d->fmt;
        /* %L %f %s with no '.' before them (only at the start passes validation) are the
         * digits Go's layout then holds, literally. */
        if (kind == K_FRAC)
            t[k++] = (struct ctok){K_LIT,
                                   d->c == 'L'   ? "999"
                                   : d->c == 'f' ? "999999"
                                                 : "999999999",
                                   d->c == 'L'   ? 3u
                                   : d->c == 'f' ? 6u
                                                 : 9u};
        else
            t[k++] = (struct ctok){kind, NULL, 0};
    }
    return k;
}

#define MAX_TOKS 96

static const char *const mon_full[] = {"January",   "February", "March",    "April",
                                       "May",       "June",     "July",     "August",
                                       "September", "October",  "November", "December"};
static const char *const wday_full[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                        "Thursday", "Friday", "Saturday"};

static void put_int(struct ottl_abuf *b, int64_t v, int width)
{
    char tmp[32];
    if (v < 0) {
        ottl_abuf_put(b, "-", 1);
        v = -v;
    }
    int n = snprintf(tmp, sizeof(tmp), "%0*" PRId64, width, v);
    ottl_abuf_put(b, tmp, (size_t)n);
}

static void put_offset(struct ottl_abuf *b, int32_t off, bool colon, bool mins, bool secs)
{
    int32_t a = off < 0 ? -off : off;
    ottl_abuf_put(b, off < 0 ? "-" : "+", 1);
    put_int(b, a / 3600, 2);
    if (mins) {
        if (colon)
            ottl_abuf_put(b, ":", 1);
        put_int(b, a / 60 % 60, 2);
    }
    if (secs) {
        if (colon)
            ottl_abuf_put(b, ":", 1);
        put_int(b, a % 60, 2);
    }
}

/* FormatStrptime: Go's Time.Format of the format's layout. */
static void format_time(struct ottl_abuf *b, const struct ctok *t, size_t nt,
                        const struct ottl_time *tm)
{
    struct ottl_tfields f;
    ottl_time_fields(tm, &f);
    for (size_t i = 0; i < nt; i++) {
        switch (t[i].k) {
        case K_LIT: ottl_abuf_put(b, t[i].lit, t[i].n); break;
        case K_YEAR: put_int(b, f.year, 4); break;
        case K_YEAR2:
        case K_YEAR4OR2: put_int(b, f.year % 100, 2); break;
        case K_MON_ZERO: put_int(b, f.mon, 2); break;
        case K_MON_US:
            ottl_abuf_put(b, "_", 1);
            put_int(b, f.mon, 1);
            break;
        case K_MON: put_int(b, f.mon, 1); break;
        case K_MON_ABBR: ottl_abuf_put(b, mon_full[f.mon - 1], 3); break;
        case K_MON_FULL: ottl_abuf_put(b, mon_full[f.mon - 1], strlen(mon_full[f.mon - 1])); break;
        case K_DAY_ZERO: put_int(b, f.day, 2); break;
        case K_DAY_SP:
            if (f.day < 10)
                ottl_abuf_put(b, " ", 1);
            put_int(b, f.day, 1);
            break;
        case K_DAY: put_int(b, f.day, 1); break;
        case K_WDAY_ABBR: ottl_abuf_put(b, wday_full[f.wday], 3); break;
        case K_WDAY_FULL: ottl_abuf_put(b, wday_full[f.wday], strlen(wday_full[f.wday])); break;
        case K_HOUR: put_int(b, f.hour, 2); break;
        case K_HOUR12:
        case K_HOUR12_0:
            put_int(b, f.hour % 12 == 0 ? 12 : f.hour % 12, t[i].k == K_HOUR12 ? 1 : 2);
            break;
        case K_PM: ottl_abuf_put(b, f.hour >= 12 ? "PM" : "AM", 2); break;
        case K_PM_LOWER: ottl_abuf_put(b, f.hour >= 12 ? "pm" : "am", 2); break;
        case K_MIN_ZERO: put_int(b, f.min, 2); break;
        case K_MIN: put_int(b, f.min, 1); break;
        case K_SEC_ZERO: put_int(b, f.sec, 2); break;
        case K_SEC: put_int(b, f.sec, 1); break;
        case K_FRAC: {
            /* Go's .999...: the first n digits without trailing zeros; none, no separator. */
            char d[10];
            snprintf(d, sizeof(d), "%09" PRId32, f.nsec);
            size_t n = t[i].n;
            while (n > 0 && d[n - 1] == '0')
                n--;
            if (n > 0) {
                ottl_abuf_put(b, t[i].lit, 1);
                ottl_abuf_put(b, d, n);
            }
            break;
        }
        case K_TZ:
            if (f.abbr[0] != '\0')
                ottl_abuf_put(b, f.abbr, strlen(f.abbr));
            else
                put_offset(b, f.off, false, true, false);
            break;
        case K_ISO:
            if (f.off == 0)
                ottl_abuf_put(b, "Z", 1);
            else
                put_offset(b, f.off, false, true, false);
            break;
        case K_OFF_HHMMSS: put_offset(b, f.off, false, true, true); break;
        case K_OFF_HH: put_offset(b, f.off, false, false, false); break;
        case K_OFF_COLON: put_offset(b, f.off, true, true, false); break;
        case K_OFF_COLON3: put_offset(b, f.off, true, true, true); break;
        }
    }
}

/* ---- parsing (Go's time.Parse of the layout, with ctimefmt's retries) ---- */

struct pstate {
    int64_t year;
    int mon, day, hour, min, sec;
    int32_t nsec;
    bool pm, am, utc, has_off;
    int32_t off;
    const char *zname; /* into the input */
    size_t zn;
};

static bool isdig(const char *s, size_t n, size_t i)
{
    return i < n && s[i] >= '0' && s[i] <= '9';
}

/* Go's getnum: one or two digits (two when fixed). */
static bool getnum(const char **s, size_t *n, bool fixed, int *out)
{
    if (!isdig(*s, *n, 0))
        return false;
    if (!isdig(*s, *n, 1)) {
        if (fixed)
            return false;
        *out = (*s)[0] - '0';
        (*s)++;
        (*n)--;
        return true;
    }
    *out = ((*s)[0] - '0') * 10 + (*s)[1] - '0';
    *s += 2;
    *n -= 2;
    return true;
}

static bool lookup_name(const char **s, size_t *n, const char *const *names, size_t count,
                        size_t len, int *out)
{
    for (size_t i = 0; i < count; i++) {
        size_t l = len ? len : strlen(names[i]);
        if (*n >= l && strncasecmp(*s, names[i], l) == 0) {
            *out = (int)i;
            *s += l;
            *n -= l;
            return true;
        }
    }
    return false;
}

/* ±hh[[:]mm[[:]ss]] as Go's numeric zone elements read them. */
static bool parse_offset(const char **s, size_t *n, int mins, bool colon, int secs, int32_t *off)
{
    size_t need = 3 + (size_t)(mins ? 2 + colon : 0) + (size_t)(secs ? 2 + colon : 0);
    const char *v = *s;
    if (*n < need || (v[0] != '+' && v[0] != '-'))
        return false;
    int hh, mm = 0, ss = 0;
    const char *p = v + 1;
    size_t left = 2;
    if (!getnum(&p, &left, true, &hh))
        return false;
    p = v + 3;
    if (mins) {
        if (colon && *p++ != ':')
            return false;
        left = 2;
        if (!getnum(&p, &left, true, &mm))
            return false;
        p = v + 3 + 2 + colon;
    }
    if (secs) {
        if (colon && *p++ != ':')
            return false;
        left = 2;
        if (!getnum(&p, &left, true, &ss))
            return false;
    }
    if (hh > 24 || mm > 60 || ss > 60)
        return false;
    int32_t o = (hh * 60 + mm) * 60 + ss;
    *off = v[0] == '-' ? -o : o;
    *s += need;
    *n -= need;
    return true;
}

/* Go's parseTimeZone: how many bytes of s look like a zone abbreviation (0: none). */
static size_t zone_len(const char *s, size_t n)
{
    if (n < 3)
        return 0;
    if (n >= 4 && (memcmp(s, "ChST", 4) == 0 || memcmp(s, "MeST", 4) == 0))
        return 4;
    if (memcmp(s, "GMT", 3) == 0 || s[0] == '+' || s[0] == '-') {
        size_t base = s[0] == 'G' ? 3 : 0;
        if (base == 3 && n == 3)
            return 3;
        if (s[base] != '+' && s[base] != '-')
            return base;
        size_t i = base + 1;
        int64_t x = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && x < 100)
            x = x * 10 + (s[i++] - '0');
        if (i == base + 1 || x > 23)
            return base;
        return i;
    }
    size_t up = 0;
    while (up < 6 && up < n && s[up] >= 'A' && s[up] <= 'Z')
        up++;
    switch (up) {
    case 5: return s[4] == 'T' ? 5 : 0;
    case 4: return (s[3] == 'T' || memcmp(s, "WITA", 4) == 0) ? 4 : 0;
    case 3: return 3;
    default: return 0;
    }
}

/* Go's skip: literal layout text; a space matches a run of spaces. */
static bool skip_lit(const char **s, size_t *n, const char *lit, size_t ln)
{
    size_t i = 0;
    while (i < ln) {
        if (lit[i] == ' ') {
            if (*n > 0 && **s != ' ')
                return false;
            while (i < ln && lit[i] == ' ')
                i++;
            while (*n > 0 && **s == ' ') {
                (*s)++;
                (*n)--;
            }
            continue;
        }
        if (*n == 0 || **s != lit[i])
            return false;
        (*s)++;
        (*n)--;
        i++;
    }
    return true;
}

static bool numeric_tok(enum tok k)
{
    return k != K_LIT && k != K_MON_ABBR && k != K_MON_FULL && k != K_WDAY_ABBR &&
           k != K_WDAY_FULL && k != K_PM && k != K_PM_LOWER && k != K_TZ && k != K_FRAC &&
           k != K_OFF_HHMMSS && k != K_OFF_HH && k != K_OFF_COLON && k != K_OFF_COLON3;
}

/* Reads the fraction after '.' or ',' (up to nine digits count). */
static void read_frac(const char **s, size_t *n, int32_t *nsec)
{
    size_t i = 1;
    int32_t v = 0;
    int digits = 0;
    while (isdig(*s, *n, i)) {
        if (digits < 9) {
            v = v * 10 + ((*s)[i] - '0');
            digits++;
        }
        i++;
    }
    while (digits++ < 9)
        v *= 10;
    *nsec = v;
    *s += i;
    *n -= i;
}

static bool parse_tokens(const struct ctok *t, size_t nt, const char *s, size_t n, struct pstate *p)
{
    memset(p, 0, sizeof(*p));
    p->mon = 1;
    p->day = 1;
    int v;
    for (size_t i = 0; i < nt; i++) {
        enum tok k = t[i].k;
        /* ctimefmt retries an element that starts with a digit or 'Z' after the input's
         * leading white space (Go's \s: no vertical tab). */
        if (numeric_tok(k))
            while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f')) {
                s++;
                n--;
            }
        switch (k) {
        case K_LIT:
            if (!skip_lit(&s, &n, t[i].lit, t[i].n))
                return false;
            break;
        case K_YEAR4OR2:
        case K_YEAR:
            if (n >= 4 && isdig(s, n, 0) && isdig(s, n, 1) && isdig(s, n, 2) && isdig(s, n, 3)) {
                p->year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + s[3] - '0';
                s += 4;
                n -= 4;
                break;
            }
            if (k == K_YEAR)
                return false;
            /* fall through */
        case K_YEAR2:
            if (n < 2 || !isdig(s, n, 0) || !isdig(s, n, 1))
                return false;
            p->year = (s[0] - '0') * 10 + s[1] - '0';
            p->year += p->year >= 69 ? 1900 : 2000;
            s += 2;
            n -= 2;
            break;
        case K_MON_ZERO:
        case K_MON_US:
        case K_MON:
            if (!getnum(&s, &n, k == K_MON_ZERO, &p->mon) || p->mon < 1 || p->mon > 12)
                return false;
            break;
        case K_MON_ABBR:
        case K_MON_FULL:
            if (!lookup_name(&s, &n, mon_full, 12, k == K_MON_ABBR ? 3 : 0, &v))
                return false;
            p->mon = v + 1;
            break;
        case K_WDAY_ABBR:
        case K_WDAY_FULL:
            if (!lookup_name(&s, &n, wday_full, 7, k == K_WDAY_ABBR ? 3 : 0, &v))
                return false;
            break;
        case K_DAY_ZERO:
        case K_DAY_SP:
        case K_DAY:
            if (!getnum(&s, &n, k == K_DAY_ZERO, &p->day) || p->day < 1 || p->day > 31)
                return false;
            break;
        case K_HOUR:
            if (!getnum(&s, &n, false, &p->hour) || p->hour > 23)
                return false;
            break;
        case K_HOUR12:
        case K_HOUR12_0:
            if (!getnum(&s, &n, k == K_HOUR12_0, &p->hour) || p->hour > 12)
                return false;
            break;
        case K_PM:
        case K_PM_LOWER: {
            const char *pm = k == K_PM ? "PM" : "pm", *am = k == K_PM ? "AM" : "am";
            if (n < 2)
                return false;
            if (memcmp(s, pm, 2) == 0)
                p->pm = true;
            else if (memcmp(s, am, 2) == 0)
                p->am = true;
            else
                return false;
            s += 2;
            n -= 2;
            break;
        }
        case K_MIN_ZERO:
        case K_MIN:
            if (!getnum(&s, &n, k == K_MIN_ZERO, &p->min) || p->min > 59)
                return false;
            break;
        case K_SEC_ZERO:
        case K_SEC:
            if (!getnum(&s, &n, k == K_SEC_ZERO, &p->sec) || p->sec > 59)
                return false;
            /* Go reads a fraction after the seconds when the layout has none next. */
            if (n >= 2 && (s[0] == '.' || s[0] == ',') && isdig(s, n, 1) &&
                !(i + 1 < nt && t[i + 1].k == K_FRAC))
                read_frac(&s, &n, &p->nsec);
            break;
        case K_FRAC:
            if (n >= 2 && (s[0] == '.' || s[0] == ',') && isdig(s, n, 1))
                read_frac(&s, &n, &p->nsec);
            break;
        case K_TZ: {
            if (n >= 3 && memcmp(s, "UTC", 3) == 0) {
                p->utc = true;
                s += 3;
                n -= 3;
                break;
            }
            size_t zl = zone_len(s, n);
            if (zl == 0)
                return false;
            p->zname = s;
            p->zn = zl;
            s += zl;
            n -= zl;
            break;
        }
        case K_ISO:
            if (n >= 1 && s[0] == 'Z') {
                p->utc = true;
                s++;
                n--;
                break;
            }
            if (!parse_offset(&s, &n, 1, false, 0, &p->off) &&
                !parse_offset(&s, &n, 1, true, 0, &p->off) &&
                !parse_offset(&s, &n, 0, false, 0, &p->off))
                return false;
            p->has_off = true;
            break;
        case K_OFF_HHMMSS:
        case K_OFF_HH:
        case K_OFF_COLON:
        case K_OFF_COLON3:
            if (!parse_offset(&s, &n, k != K_OFF_HH, k == K_OFF_COLON || k == K_OFF_COLON3,
                              k == K_OFF_HHMMSS || k == K_OFF_COLON3, &p->off))
                return false;
            p->has_off = true;
            break;
        }
    }
    if (n > 0)
        return false;
    if (p->pm && p->hour < 12)
        p->hour += 12;
    else if (p->am && p->hour == 12)
        p->hour = 0;
    return true;
}

/* The slots FixedZone names live in while a value is used: zone abbreviations read from
 * input are short, and one evaluation holds few at once. */
static _Thread_local char zname_ring[4][16];
static _Thread_local unsigned zname_next;

static const char *keep_name(const char *s, size_t n)
{
    char *slot = zname_ring[zname_next++ % 4];
    if (n > 15)
        n = 15;
    memcpy(slot, s, n);
    slot[n] = '\0';
    return slot;
}

/* Go's ParseInLocation after the tokens were read: which zone and offset. year replaces
 * the parsed one (SetTimestampYear's current year when there was none). */
static int resolve(const struct pstate *p, int64_t year, const struct ottl_tz *loc,
                   struct ottl_time *out)
{
    memset(out, 0, sizeof(*out));
    if (p->utc)
        return ottl_date_in(NULL, year, p->mon, p->day, p->hour, p->min, p->sec, p->nsec, &out->ns);
    if (p->has_off) {
        if (ottl_date_in(NULL, year, p->mon, p->day, p->hour, p->min, p->sec, p->nsec, &out->ns) !=
            0)
            return KT_EINVAL;
        out->ns -= (int64_t)p->off * NS_PER_S;
        struct ottl_zinfo zi;
        ottl_tz_lookup(loc, ottl_floor_div(out->ns, NS_PER_S), &zi);
        if (zi.off == p->off &&
            (p->zn == 0 || (strlen(zi.abbr) == p->zn && memcmp(zi.abbr, p->zname, p->zn) == 0))) {
            out->tz = loc;
            return 0;
        }
        out->off = p->off;
        out->name = p->zn ? keep_name(p->zname, p->zn) : "";
        return 0;
    }
    if (p->zn > 0) {
        if (ottl_date_in(NULL, year, p->mon, p->day, p->hour, p->min, p->sec, p->nsec, &out->ns) !=
            0)
            return KT_EINVAL;
        int32_t off;
        if (ottl_tz_lookup_name(loc, p->zname, p->zn, ottl_floor_div(out->ns, NS_PER_S), &off)) {
            out->ns -= (int64_t)off * NS_PER_S;
            out->tz = loc;
            return 0;
        }
        /* A fake zone: the clock time read as UTC, shown at GMT's offset if any (Go). */
        off = 0;
        if (p->zn > 3 && memcmp(p->zname, "GMT", 3) == 0)
            off = (int32_t)strtol(p->zname + 3, NULL, 10) * 3600;
        out->off = off;
        out->name = keep_name(p->zname, p->zn);
        return 0;
    }
    out->tz = loc;
    return ottl_date_in(loc, year, p->mon, p->day, p->hour, p->min, p->sec, p->nsec, &out->ns);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* resolve, with the year of a format that has none as SetTimestampYear picks it: this
 * year, or last year when that lands more than a week ahead. */
static int resolve_year(const struct pstate *p, const struct ottl_tz *loc, struct ottl_time *out)
{
    if (p->year > 0)
        return resolve(p, p->year, loc, out);
    int64_t now = now_ns(), y;
    int m, d;
    ottl_civil_from_days(ottl_floor_div(ottl_floor_div(now, NS_PER_S), 86400), &y, &m, &d);
    int rc = resolve(p, y, loc, out);
    if (rc == 0 && out->ns > now + 7 * 86400 * NS_PER_S)
        rc = resolve(p, y - 1, loc, out);
    return rc;
}

/* The Collector's Time: the tokens read, then timeutils' correction of a zone abbreviation
 * read with offset 0 that is neither UTC nor the location's: the tz database's zone of that
 * name (its absence is an error). */
static int parse_time(const struct ctok *t, size_t nt, const char *s, size_t n,
                      const struct ottl_tz *loc, struct ottl_time *out, struct kt_err *err)
{
    struct pstate p;
    if (!parse_tokens(t, nt, s, n, &p))
        return kt_err_set(err, KT_EINVAL, "Time: cannot parse \"%.*s\" with the format",
                          (int)(n > 64 ? 64 : n), s);
    /* Go checks the day against the month of the year read (year 0, a leap year, when the
     * format has none). */
    if (p.day > ottl_days_in(p.mon, p.year))
        return kt_err_set(err, KT_EINVAL, "Time: \"%.*s\": day out of range",
                          (int)(n > 64 ? 64 : n), s);
    if (resolve_year(&p, loc, out) != 0)
        goto range;
    int32_t off;
    const char *abbr;
    ottl_time_zone(out, &off, &abbr);
    struct ottl_zinfo lz;
    ottl_tz_lookup(loc, ottl_floor_div(out->ns, NS_PER_S), &lz);
    if (off != 0 || strcmp(abbr, "UTC") == 0 || strcmp(abbr, lz.abbr) == 0)
        return 0;
    const struct ottl_tz *z;
    char name[16];
    snprintf(name, sizeof(name), "%s", abbr);
    if (ottl_tz_get(name, strlen(name), &z, err) != 0)
        return kt_err_prefix(err, "Time: failed to load location %s: ", name);
    if (resolve_year(&p, z, out) != 0)
        goto range;
    return 0;
range:
    return kt_err_set(err, KT_EINVAL, "Time: \"%.*s\" is out of the range of nanosecond times",
                      (int)(n > 64 ? 64 : n), s);
}

/* ---- Go's ParseDuration ---- */

static int parse_duration(const char *s, size_t n, int64_t *out, struct kt_err *err)
{
    static const struct {
        const char *u;
        uint64_t ns;
    } units[] = {{"ns", 1},           {"us", 1000},      {"\xc2\xb5s", 1000}, /* µs, U+00B5 */
                 {"\xce\xbcs", 1000},                                         /* μs, U+03BC */
                 {"ms", 1000000},     {"s", 1000000000}, {"m", 60000000000},  {"h", 3600000000000}};
    const char *orig = s;
    size_t on = n;
    uint64_t d = 0;
    bool neg = false;
    if (n > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s++;
        n--;
    }
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    if (n == 0)
        goto invalid;
    while (n > 0) {
        uint64_t v = 0, f = 0;
        double scale = 1;
        if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9')))
            goto invalid;
        size_t i = 0;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            if (v > (1ULL << 63) / 10)
                goto invalid;
            v = v * 10 + (uint64_t)(s[i] - '0');
            if (v > 1ULL << 63)
                goto invalid;
        }
        bool pre = i > 0, post = false;
        s += i;
        n -= i;
        if (n > 0 && s[0] == '.') {
            s++;
            n--;
            bool overflow = false;
            for (i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
                if (overflow)
                    continue;
                if (f > ((1ULL << 63) - 1) / 10) {
                    overflow = true;
                    continue;
                }
                uint64_t y = f * 10 + (uint64_t)(s[i] - '0');
                if (y > 1ULL << 63) {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10;
            }
            post = i > 0;
            s += i;
            n -= i;
        }
        if (!pre && !post)
            goto invalid;
        for (i = 0; i < n && s[i] != '.' && !(s[i] >= '0' && s[i] <= '9'); i++)
            ;
        if (i == 0)
            return kt_err_set(err, KT_EINVAL, "Duration: time: missing unit in duration \"%.*s\"",
                              (int)(on > 64 ? 64 : on), orig);
        uint64_t unit = 0;
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
            if (strlen(units[u].u) == i && memcmp(units[u].u, s, i) == 0)
                unit = units[u].ns;
        if (unit == 0)
            return kt_err_set(err, KT_EINVAL,
                              "Duration: time: unknown unit \"%.*s\" in duration \"%.*s\"",
                              (int)(i > 16 ? 16 : i), s, (int)(on > 64 ? 64 : on), orig);
        s += i;
        n -= i;
        if (v > (1ULL << 63) / unit)
            goto invalid;
        v *= unit;
        if (f > 0) {
            v += (uint64_t)((double)f * ((double)unit / scale));
            if (v > 1ULL << 63)
                goto invalid;
        }
        d += v;
        if (d > 1ULL << 63)
            goto invalid;
    }
    if (neg) {
        *out = (int64_t)(0 - d);
        return 0;
    }
    if (d > (1ULL << 63) - 1)
        goto invalid;
    *out = (int64_t)d;
    return 0;
invalid:
    return kt_err_set(err, KT_EINVAL, "Duration: time: invalid duration \"%.*s\"",
                      (int)(on > 64 ? 64 : on), orig);
}

/* ---- the converters ---- */

static int want(struct ottl_eval *ev, const struct ottl_node *call, size_t arg, enum ottl_vtype t,
                struct ottl_value *v)
{
    int rc = ottl_eval_value(ev, call->call.args[arg], v);
    if (rc != 0)
        return rc;
    if (v->t != t)
        return kt_err_set(ev->err, KT_EINVAL, "%s: argument %zu must be a %s, got %s",
                          call->call.fn->name, arg + 1, ottl_vtype_name(t), ottl_vtype_name(v->t));
    return 0;
}

static const struct ottl_value *lit_arg(const struct ottl_node *call, size_t i)
{
    return call->call.n_args > i && call->call.args[i] != NULL ? &call->call.args[i]->lit : NULL;
}

static bool has_names(const char *f, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (f[i] == '%') {
            if (strchr("bhBaApPrc", f[i + 1]) != NULL)
                return true;
            i++;
        }
    return false;
}

static int check_format(const struct ottl_node *call, size_t arg, const char *src,
                        struct kt_err *err)
{
    const struct ottl_value *f = lit_arg(call, arg);
    struct kt_err why = {0};
    int rc = 0;
    struct ctok t[MAX_TOKS + 1];
    if (f->s.n == 0)
        rc = kt_err_set(&why, KT_EINVAL, "%s: format cannot be nil", call->call.fn->name);
    else if ((rc = validate_format(f->s.p, f->s.n, call->call.fn->name, &why)) == 0 &&
             tokenize(f->s.p, f->s.n, true, t, MAX_TOKS + 1, 0) > MAX_TOKS)
        rc = kt_err_set(&why, KT_EINVAL, "%s: format has more than %d elements",
                        call->call.fn->name, MAX_TOKS);
    return rc != 0 ? ottl_syntax_error(err, src, call->call.args[arg]->pos, "%s", why.msg) : 0;
}

/* The Collector evaluates a literal argument of a typed getter when it builds the
 * function, so a literal of the wrong type is a configuration error: t a time, d a
 * duration (no literal is either), i an int, s a string. */
static const char *arg_types(const char *fn)
{
    static const struct {
        const char *fn, *types;
    } t[] = {{"Time", "s"},    {"Duration", "s"},    {"FormatTime", "t"},   {"TruncateTime", "td"},
             {"Unix", "ii"},   {"Nanoseconds", "d"}, {"Microseconds", "d"}, {"Milliseconds", "d"},
             {"Seconds", "d"}, {"Minutes", "d"},     {"Hours", "d"}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(t[i].fn, fn) == 0)
            return t[i].types;
    return "t"; /* UnixNano ..., Year ... Weekday */
}

int ottl_check_time_args(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const char *types = arg_types(call->call.fn->name);
    for (size_t i = 0; i < call->call.n_args && types[i] != '\0'; i++) {
        const struct ottl_node *a = call->call.args[i];
        if (a == NULL || (a->kind != OTTL_N_LIT && a->kind != OTTL_N_LIST && a->kind != OTTL_N_MAP))
            continue;
        enum ottl_vtype want = types[i] == 'i' ? OTTL_INT : OTTL_STR;
        if ((types[i] == 'i' || types[i] == 's') && a->kind == OTTL_N_LIT && a->lit.t == want)
            continue;
        return ottl_syntax_error(err, src, a->pos,
                                 "%s: argument %zu must be %s, not a literal of another type",
                                 call->call.fn->name, i + 1,
                                 types[i] == 't'   ? "a time"
                                 : types[i] == 'd' ? "a duration"
                                 : types[i] == 'i' ? "an int"
                                                   : "a string");
    }
    return 0;
}

int ottl_check_time(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    int rc = ottl_check_time_args(call, src, err);
    if (rc == 0)
        rc = check_format(call, 1, src, err);
    if (rc != 0)
        return rc;
    const struct ottl_value *loc = lit_arg(call, 2), *locale = lit_arg(call, 3);
    const struct ottl_tz *z;
    struct kt_err why = {0};
    if (loc != NULL && (rc = ottl_tz_get(loc->s.p, loc->s.n, &z, &why)) != 0)
        return ottl_syntax_error(err, src, call->call.args[2]->pos,
                                 "Time: failed to load location: %s", why.msg);
    /* Go's lunes translates month and day names of other languages; kotel reads English
     * ones only, so another locale is refused where the format reads names. */
    const struct ottl_value *f = lit_arg(call, 1);
    if (locale != NULL &&
        !(locale->s.n >= 2 && strncasecmp(locale->s.p, "en", 2) == 0 &&
          (locale->s.n == 2 || locale->s.p[2] == '-' || locale->s.p[2] == '_')) &&
        has_names(f->s.p, f->s.n))
        return ottl_syntax_error(err, src, call->call.args[3]->pos,
                                 "Time: locale '%.*s': kotel reads English month and day names "
                                 "only",
                                 (int)locale->s.n, locale->s.p);
    return 0;
}

int ottl_check_format_time(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    int rc = ottl_check_time_args(call, src, err);
    return rc != 0 ? rc : check_format(call, 1, src, err);
}

int ottl_fn_time(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = want(ev, call, 0, OTTL_STR, &v);
    if (rc != 0)
        return rc;
    if (v.s.n == 0)
        return kt_err_set(ev->err, KT_EINVAL, "Time: time cannot be nil");
    const struct ottl_value *f = lit_arg(call, 1), *locv = lit_arg(call, 2);
    const struct ottl_tz *loc = NULL;
    if (locv != NULL && (rc = ottl_tz_get(locv->s.p, locv->s.n, &loc, ev->err)) != 0)
        return rc;
    struct ctok t[MAX_TOKS];
    size_t nt = tokenize(f->s.p, f->s.n, true, t, MAX_TOKS, 0);
    out->t = OTTL_TIME;
    return parse_time(t, nt, v.s.p, v.s.n, loc, &out->tm, ev->err);
}

int ottl_fn_format_time(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = want(ev, call, 0, OTTL_TIME, &v);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    const struct ottl_value *f = lit_arg(call, 1);
    struct ctok t[MAX_TOKS];
    size_t nt = tokenize(f->s.p, f->s.n, false, t, MAX_TOKS, 0);
    struct ottl_abuf b = {a, NULL, 0, 0, false};
    ottl_abuf_put(&b, "", 0);
    format_time(&b, t, nt, &v.tm);
    if (b.oom)
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    out->t = OTTL_STR;
    out->s.p = b.p;
    out->s.n = b.n;
    return 0;
}

int ottl_fn_now(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)ev;
    (void)call;
    out->t = OTTL_TIME;
    out->tm.ns = now_ns();
    return 0;
}

int ottl_fn_duration(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = want(ev, call, 0, OTTL_STR, &v);
    if (rc != 0)
        return rc;
    if ((rc = parse_duration(v.s.p, v.s.n, &out->i, ev->err)) != 0)
        return rc;
    out->t = OTTL_DURATION;
    return 0;
}

/* Go's Time.Truncate: down to a multiple of d since year 1 (zone ignored); d <= 0 keeps the
 * time. */
int ottl_fn_truncate_time(struct ottl_eval *ev, const struct ottl_node *call,
                          struct ottl_value *out)
{
    struct ottl_value t, d;
    int rc;
    if ((rc = want(ev, call, 0, OTTL_TIME, &t)) != 0 ||
        (rc = want(ev, call, 1, OTTL_DURATION, &d)) != 0)
        return rc;
    *out = t;
    if (d.i <= 0)
        return 0;
    /* 62135596800: seconds from 0001-01-01 to 1970-01-01. */
    __int128 abs = (__int128)t.tm.ns + (__int128)62135596800LL * NS_PER_S;
    out->tm.ns = t.tm.ns - (int64_t)(abs % d.i);
    return 0;
}

int ottl_fn_unix(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value s, ns = {.t = OTTL_INT};
    int rc;
    if ((rc = want(ev, call, 0, OTTL_INT, &s)) != 0 ||
        (call->call.n_args > 1 && call->call.args[1] != NULL &&
         (rc = want(ev, call, 1, OTTL_INT, &ns)) != 0))
        return rc;
    int64_t v;
    if (__builtin_mul_overflow(s.i, NS_PER_S, &v) || __builtin_add_overflow(v, ns.i, &v))
        return kt_err_set(ev->err, KT_EINVAL,
                          "Unix: %" PRId64 " s %" PRId64 " ns is out of the range of nanosecond "
                          "times",
                          s.i, ns.i);
    out->t = OTTL_TIME;
    out->tm.ns = v;
    return 0;
}

int ottl_fn_unix_of(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value t;
    int rc = want(ev, call, 0, OTTL_TIME, &t);
    if (rc != 0)
        return rc;
    const char *u = call->call.fn->name + 4; /* after "Unix" */
    int64_t div = u[0] == 'N'                  ? 1
                  : u[0] == 'S'                ? NS_PER_S
                  : u[0] == 'M' && u[3] == 'r' ? 1000
                                               : 1000000;
    out->t = OTTL_INT;
    out->i = ottl_floor_div(t.tm.ns, div);
    return 0;
}

int ottl_fn_duration_in(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value d;
    int rc = want(ev, call, 0, OTTL_DURATION, &d);
    if (rc != 0)
        return rc;
    const char *n = call->call.fn->name;
    int64_t per;
    switch (n[0]) {
    case 'N': per = 1; break;
    case 'S': per = NS_PER_S; break;
    case 'H': per = 3600 * NS_PER_S; break;
    default: per = n[2] == 'c' ? 1000 : n[2] == 'l' ? 1000000 : 60 * NS_PER_S; break;
    }
    if (per <= 1000000) { /* Nanoseconds, Microseconds, Milliseconds: truncated ints */
        out->t = OTTL_INT;
        out->i = d.i / per;
        return 0;
    }
    /* Go's Seconds, Minutes, Hours: whole units plus the rest as a fraction. */
    out->t = OTTL_DOUBLE;
    out->d = (double)(d.i / per) + (double)(d.i % per) / (double)per;
    return 0;
}

int ottl_fn_time_field(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value t;
    int rc = want(ev, call, 0, OTTL_TIME, &t);
    if (rc != 0)
        return rc;
    struct ottl_tfields f;
    ottl_time_fields(&t.tm, &f);
    const char *n = call->call.fn->name;
    out->t = OTTL_INT;
    switch (n[0]) {
    case 'Y': out->i = f.year; break;
    case 'D': out->i = f.day; break;
    case 'H': out->i = f.hour; break;
    case 'W': out->i = f.wday; break;
    case 'S': out->i = f.sec; break;
    case 'N': out->i = f.nsec; break;
    default: out->i = n[1] == 'o' ? f.mon : f.min; break; /* Month, Minute */
    }
    return 0;
}
