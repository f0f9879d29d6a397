/* OTTL time values underneath the evaluator and the time converters (issue 14): Go's
 * proleptic Gregorian calendar, and zones from the system tz database (TZif files under
 * /usr/share/zoneinfo), loaded once per name and kept for the life of the process (they never
 * change), so evaluation reads them without locks or allocation. */
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ottl_int.h"

#define NS_PER_S 1000000000LL
#define TZ_DIR "/usr/share/zoneinfo/"
#define TZ_MAX_FILE (1 << 20)

/* ---- the calendar (proleptic Gregorian, as Go's) ---- */

int64_t ottl_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t ottl_floor_mod(int64_t a, int64_t b)
{
    return a - ottl_floor_div(a, b) * b;
}

/* Days since 1970-01-01 of a date; month and day may run over (day 32 of January is
 * February 1st), as Go's Date normalises. */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y += ottl_floor_div(m - 1, 12);
    m = ottl_floor_mod(m - 1, 12) + 1;
    y -= m <= 2;
    int64_t era = ottl_floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468 + (d - 1);
}

void ottl_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = ottl_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

int ottl_days_in(int m, int64_t y)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* ---- zones ---- */

struct tz_type {
    int32_t off;
    bool dst;
    const char *abbr; /* into ottl_tz.abbrs */
};

/* A date of a POSIX TZ rule: Jn (day 1-365, no leap day), n (day 0-365) or Mm.w.d (day d
 * of week w of month m), at time seconds of local time. */
struct tz_date {
    char kind; /* 'J', 'N', 'M' */
    int day, week, mon;
    int32_t time;
};

/* The footer's POSIX TZ rule (RFC 8536 section 3.3), for times after the last transition. */
struct tz_rule {
    bool ok, has_dst;
    char std[16], dst[16];
    int32_t std_off, dst_off; /* seconds east of UTC */
    struct tz_date start, end;
};

struct ottl_tz {
    struct ottl_tz *next;
    struct tz_rule rule;
    char *name;
    size_t n_trans;
    int64_t *trans; /* seconds, ascending */
    uint8_t *idx;   /* the type in effect from trans[i] */
    size_t n_types;
    struct tz_type *types;
    char *abbrs;
    size_t first; /* the type before the first transition, as Go's lookupFirstZone picks */
};

/* Loaded zones, newest first: readers walk it without the lock (entries are complete before
 * they are published and never change or go away); loaders take the lock. */
static _Atomic(struct ottl_tz *) tz_loaded;
static pthread_mutex_t tz_lock = PTHREAD_MUTEX_INITIALIZER;

static void tz_free(struct ottl_tz *z)
{
    if (z == NULL)
        return;
    free(z->name);
    free(z->trans);
    free(z->idx);
    free(z->types);
    free(z->abbrs);
    free(z);
}

static int64_t be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    if (n == 4)
        return (int32_t)(uint32_t)v;
    return (int64_t)v;
}

/* ---- POSIX TZ rules, as Go's tzset reads them ---- */

static bool rule_num(const char **s, const char *e, int min, int max, int *out)
{
    int v = 0, digits = 0;
    while (*s < e && **s >= '0' && **s <= '9' && digits < 8) {
        v = v * 10 + (**s - '0');
        (*s)++;
        digits++;
    }
    *out = v;
    return digits > 0 && v >= min && v <= max;
}

/* [+-]hh[:mm[:ss]], as written (west positive for zone offsets). */
static bool rule_offset(const char **s, const char *e, int32_t *out)
{
    int sign = 1, h, m = 0, sec = 0;
    if (*s < e && (**s == '+' || **s == '-')) {
        sign = **s == '-' ? -1 : 1;
        (*s)++;
    }
    if (!rule_num(s, e, 0, 24 * 7, &h))
        return false;
    if (*s < e && **s == ':') {
        (*s)++;
        if (!rule_num(s, e, 0, 59, &m))
            return false;
        if (*s < e && **s == ':') {
            (*s)++;
            if (!rule_num(s, e, 0, 59, &sec))
                return false;
        }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return true;
}

static bool rule_name(const char **s, const char *e, char *out, size_t size)
{
    const char *p = *s, *start = p;
    if (p < e && *p == '<') {
        start = ++p;
        while (p < e && *p != '>')
            p++;
        if (p >= e)
            return false;
        *s = p + 1;
    } else {
        while (p < e && !(*p >= '0' && *p <= '9') && *p != ',' && *p != '-' && *p != '+')
            p++;
        if (p - start < 3)
            return false;
        *s = p;
    }
    size_t n = (size_t)(p - start);
    if (n >= size)
        return false;
    memcpy(out, start, n);
    out[n] = '\0';
    return true;
}

static bool rule_date(const char **s, const char *e, struct tz_date *d)
{
    memset(d, 0, sizeof(*d));
    if (*s < e && **s == 'J') {
        (*s)++;
        d->kind = 'J';
        if (!rule_num(s, e, 1, 365, &d->day))
            return false;
    } else if (*s < e && **s == 'M') {
        (*s)++;
        d->kind = 'M';
        if (!rule_num(s, e, 1, 12, &d->mon) || *s >= e || *(*s)++ != '.' ||
            !rule_num(s, e, 1, 5, &d->week) || *s >= e || *(*s)++ != '.' ||
            !rule_num(s, e, 0, 6, &d->day))
            return false;
    } else {
        d->kind = 'N';
        if (!rule_num(s, e, 0, 365, &d->day))
            return false;
    }
    d->time = 2 * 3600;
    if (*s < e && **s == '/') {
        (*s)++;
        return rule_offset(s, e, &d->time);
    }
    return true;
}

static void rule_parse(const char *s, size_t n, struct tz_rule *r)
{
    const char *e = s + n;
    memset(r, 0, sizeof(*r));
    if (!rule_name(&s, e, r->std, sizeof(r->std)) || !rule_offset(&s, e, &r->std_off))
        return;
    r->std_off = -r->std_off;
    if (s == e || *s == ',') {
        r->ok = true;
        return;
    }
    if (!rule_name(&s, e, r->dst, sizeof(r->dst)))
        return;
    r->dst_off = r->std_off + 3600;
    if (s < e && *s != ',') {
        if (!rule_offset(&s, e, &r->dst_off))
            return;
        r->dst_off = -r->dst_off;
    }
    const char *dflt = ",M3.2.0,M11.1.0";
    if (s == e) {
        s = dflt;
        e = dflt + strlen(dflt);
    }
    if (*s != ',' && *s != ';')
        return;
    s++;
    if (!rule_date(&s, e, &r->start) || s >= e || *s++ != ',' || !rule_date(&s, e, &r->end) ||
        s != e)
        return;
    r->has_dst = true;
    r->ok = true;
}

/* Seconds from the start of year to a rule's date and time, less off (Go's tzruleTime). */
static int64_t rule_time(int64_t year, const struct tz_date *d, int32_t off)
{
    int64_t days;
    if (d->kind == 'J')
        days = d->day - 1 + (is_leap(year) && d->day >= 60);
    else if (d->kind == 'N')
        days = d->day;
    else {
        int64_t first = days_from_civil(year, d->mon, 1);
        int dow = (int)ottl_floor_mod(first + 4, 7);
        int64_t md = ottl_floor_mod(d->day - dow, 7);
        for (int i = 1; i < d->week && md + 7 < ottl_days_in(d->mon, year); i++)
            md += 7;
        days = first - days_from_civil(year, 1, 1) + md;
    }
    return days * 86400 + d->time - off;
}

/* Go's tzset: the offset at sec (UTC) by the footer's rule; last is the last transition. */
static void rule_lookup(const struct tz_rule *r, int64_t last, int64_t sec, struct ottl_zinfo *zi)
{
    if (!r->has_dst) {
        zi->off = r->std_off;
        zi->abbr = r->std;
        zi->start = last;
        zi->end = INT64_MAX;
        return;
    }
    int64_t days = ottl_floor_div(sec, 86400), y;
    int m, d;
    ottl_civil_from_days(days, &y, &m, &d);
    int64_t year0 = days_from_civil(y, 1, 1) * 86400;
    int64_t ysec = sec - year0;
    int64_t start = rule_time(y, &r->start, r->std_off), end = rule_time(y, &r->end, r->dst_off);
    const char *std = r->std, *dst = r->dst;
    int32_t std_off = r->std_off, dst_off = r->dst_off;
    if (end < start) { /* the southern hemisphere: the year starts in summer time */
        int64_t t = start;
        start = end;
        end = t;
        std = r->dst;
        dst = r->std;
        std_off = r->dst_off;
        dst_off = r->std_off;
    }
    if (ysec < start) {
        zi->off = std_off;
        zi->abbr = std;
        zi->start = year0;
        zi->end = year0 + start;
    } else if (ysec >= end) {
        zi->off = std_off;
        zi->abbr = std;
        zi->start = year0 + end;
        zi->end = year0 + 365 * 86400;
    } else {
        zi->off = dst_off;
        zi->abbr = dst;
        zi->start = year0 + start;
        zi->end = year0 + end;
    }
}

/* Parses a TZif file (RFC 8536): the version-2 64-bit block when there is one, and its
 * footer's rule for the times past the last transition. */
static int tz_parse(const uint8_t *b, size_t n, struct ottl_tz *z)
{
    size_t off = 0;
    int tsize = 4;
    for (int pass = 0; pass < 2; pass++) {
        if (n - off < 44 || memcmp(b + off, "TZif", 4) != 0)
            return KT_EINVAL;
        char ver = (char)b[off + 4];
        uint32_t cnt[6];
        for (int i = 0; i < 6; i++)
            cnt[i] = (uint32_t)be(b + off + 20 + 4 * i, 4);
        size_t isut = cnt[0], isstd = cnt[1], leap = cnt[2], timecnt = cnt[3], typecnt = cnt[4],
               charcnt = cnt[5];
        size_t body = timecnt * (size_t)tsize + timecnt + typecnt * 6 + charcnt +
                      leap * (size_t)(tsize + 4) + isstd + isut;
        if (typecnt == 0 || n - off - 44 < body)
            return KT_EINVAL;
        if (pass == 0 && ver >= '2') {
            off += 44 + body;
            tsize = 8;
            continue;
        }
        const uint8_t *p = b + off + 44;
        z->trans = malloc((timecnt ? timecnt : 1) * sizeof(*z->trans));
        z->idx = malloc(timecnt ? timecnt : 1);
        z->types = malloc(typecnt * sizeof(*z->types));
        z->abbrs = malloc(charcnt + 1);
        if (z->trans == NULL || z->idx == NULL || z->types == NULL || z->abbrs == NULL)
            return KT_ENOMEM;
        for (size_t i = 0; i < timecnt; i++, p += tsize)
            z->trans[i] = be(p, tsize);
        for (size_t i = 0; i < timecnt; i++, p++) {
            if (*p >= typecnt)
                return KT_EINVAL;
            z->idx[i] = *p;
        }
        const uint8_t *tp = p;
        p += typecnt * 6;
        memcpy(z->abbrs, p, charcnt);
        z->abbrs[charcnt] = '\0';
        for (size_t i = 0; i < typecnt; i++, tp += 6) {
            z->types[i].off = (int32_t)be(tp, 4);
            z->types[i].dst = tp[4] != 0;
            z->types[i].abbr = z->abbrs + (tp[5] < charcnt ? tp[5] : charcnt);
        }
        z->n_trans = timecnt;
        z->n_types = typecnt;
        size_t foot = off + 44 + body;
        if (ver >= '2' && foot < n && b[foot] == '\n') {
            const uint8_t *nl = memchr(b + foot + 1, '\n', n - foot - 1);
            if (nl != NULL)
                rule_parse((const char *)b + foot + 1, (size_t)(nl - (b + foot + 1)), &z->rule);
        }
        break;
    }
    bool first_used = false;
    for (size_t i = 0; i < z->n_trans; i++)
        first_used = first_used || z->idx[i] == 0;
    z->first = 0;
    if (first_used) {
        bool found = false;
        if (z->n_trans > 0 && z->types[z->idx[0]].dst)
            for (size_t k = z->idx[0]; k-- > 0 && !found;)
                if (!z->types[k].dst) {
                    z->first = k;
                    found = true;
                }
        for (size_t k = 0; k < z->n_types && !found; k++)
            if (!z->types[k].dst) {
                z->first = k;
                found = true;
            }
    }
    return 0;
}

static bool tz_name_ok(const char *name, size_t n)
{
    if (n == 0 || n > 200 || name[0] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '+' || c == '.'))
            return false;
        if (c == '.' && i + 1 < n && name[i + 1] == '.')
            return false;
    }
    return true;
}

static const struct ottl_tz *tz_find(const char *name, size_t n)
{
    for (const struct ottl_tz *z = atomic_load(&tz_loaded); z != NULL; z = z->next)
        if (strlen(z->name) == n && memcmp(z->name, name, n) == 0)
            return z;
    return NULL;
}

/* The zone named name (n bytes) as Go's LoadLocation finds it: "" and "UTC" are UTC (*out
 * NULL), "Local" is UTC here; anything else a file of the tz database. */
int ottl_tz_get(const char *name, size_t n, const struct ottl_tz **out, struct kt_err *err)
{
    *out = NULL;
    if (n == 0 || (n == 3 && memcmp(name, "UTC", 3) == 0) ||
        (n == 5 && memcmp(name, "Local", 5) == 0))
        return 0;
    if ((*out = tz_find(name, n)) != NULL)
        return 0;
    if (!tz_name_ok(name, n))
        return kt_err_set(err, KT_EINVAL, "unknown time zone %.*s", (int)n, name);
    char path[sizeof(TZ_DIR) + 201];
    snprintf(path, sizeof(path), "%s%.*s", TZ_DIR, (int)n, name);
    int rc = KT_EINVAL;
    uint8_t *buf = NULL;
    struct ottl_tz *z = NULL;
    pthread_mutex_lock(&tz_lock);
    if ((*out = tz_find(name, n)) != NULL) {
        rc = 0;
        goto out;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > TZ_MAX_FILE) {
        if (fd >= 0)
            close(fd);
        rc = kt_err_set(err, KT_EINVAL, "unknown time zone %.*s", (int)n, name);
        goto out;
    }
    size_t size = (size_t)st.st_size, got = 0;
    buf = malloc(size ? size : 1);
    z = calloc(1, sizeof(*z));
    if (buf == NULL || z == NULL || (z->name = strndup(name, n)) == NULL) {
        close(fd);
        rc = kt_err_set(err, KT_ENOMEM, "out of memory");
        goto out;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if ((rc = tz_parse(buf, got, z)) != 0) {
        rc = rc == KT_ENOMEM ? kt_err_set(err, KT_ENOMEM, "out of memory")
                             : kt_err_set(err, KT_EINVAL, "time zone %.*s: %s is no TZif file",
                                          (int)n, name, path);
        goto out;
    }
    z->next = atomic_load(&tz_loaded);
    atomic_store(&tz_loaded, z);
    *out = z;
    z = NULL;
    rc = 0;
out:
    pthread_mutex_unlock(&tz_lock);
    tz_free(z);
    free(buf);
    return rc;
}

void ottl_tz_lookup(const struct ottl_tz *z, int64_t sec, struct ottl_zinfo *zi)
{
    zi->start = INT64_MIN;
    zi->end = INT64_MAX;
    if (z == NULL) {
        zi->off = 0;
        zi->abbr = "UTC";
        return;
    }
    size_t t = z->first;
    if (z->n_trans == 0 || sec < z->trans[0]) {
        if (z->n_trans > 0)
            zi->end = z->trans[0];
    } else {
        size_t lo = 0, hi = z->n_trans; /* the last transition at or before sec */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (z->trans[mid] <= sec)
                lo = mid;
            else
                hi = mid;
        }
        if (lo + 1 == z->n_trans && z->rule.ok) {
            rule_lookup(&z->rule, z->trans[lo], sec, zi);
            return;
        }
        t = z->idx[lo];
        zi->start = z->trans[lo];
        if (lo + 1 < z->n_trans)
            zi->end = z->trans[lo + 1];
    }
    zi->off = z->types[t].off;
    zi->abbr = z->types[t].abbr;
}

/* Go's Location.lookupName: the offset of the abbreviation in effect around sec (local
 * seconds as if UTC), else of any type of that name. */
bool ottl_tz_lookup_name(const struct ottl_tz *z, const char *name, size_t n, int64_t sec,
                         int32_t *off)
{
    if (z == NULL) {
        *off = 0;
        return n == 3 && memcmp(name, "UTC", 3) == 0;
    }
    for (size_t i = 0; i < z->n_types; i++) {
        if (strlen(z->types[i].abbr) != n || memcmp(z->types[i].abbr, name, n) != 0)
            continue;
        struct ottl_zinfo zi;
        ottl_tz_lookup(z, sec - z->types[i].off, &zi);
        if (strcmp(zi.abbr, z->types[i].abbr) == 0) {
            *off = zi.off;
            return true;
        }
    }
    for (size_t i = 0; i < z->n_types; i++)
        if (strlen(z->types[i].abbr) == n && memcmp(z->types[i].abbr, name, n) == 0) {
            *off = z->types[i].off;
            return true;
        }
    return false;
}

/* The offset and name a time reads in. */
void ottl_time_zone(const struct ottl_time *t, int32_t *off, const char **abbr)
{
    if (t->tz != NULL) {
        struct ottl_zinfo zi;
        ottl_tz_lookup(t->tz, ottl_floor_div(t->ns, NS_PER_S), &zi);
        *off = zi.off;
        *abbr = zi.abbr;
        return;
    }
    *off = t->off;
    *abbr = t->name != NULL ? t->name : t->off == 0 ? "UTC" : "";
}

/* ---- calendar fields ---- */

void ottl_time_fields(const struct ottl_time *t, struct ottl_tfields *f)
{
    ottl_time_zone(t, &f->off, &f->abbr);
    int64_t sec = ottl_floor_div(t->ns, NS_PER_S) + f->off;
    f->nsec = (int32_t)ottl_floor_mod(t->ns, NS_PER_S);
    int64_t days = ottl_floor_div(sec, 86400), sod = ottl_floor_mod(sec, 86400);
    ottl_civil_from_days(days, &f->year, &f->mon, &f->day);
    f->hour = (int)(sod / 3600);
    f->min = (int)(sod / 60 % 60);
    f->sec = (int)(sod % 60);
    f->wday = (int)ottl_floor_mod(days + 4, 7); /* 1970-01-01 was a Thursday */
}

/* Go's Date(y, m, d, H, M, S, ns, loc) as nanoseconds since the epoch: local time resolved
 * as Go does around a transition. KT_EINVAL when no int64 of nanoseconds holds it. */
int ottl_date_in(const struct ottl_tz *tz, int64_t y, int m, int d, int H, int M, int S,
                 int32_t nsec, int64_t *ns)
{
    if (y < 1600 || y > 2300)
        return KT_EINVAL;
    int64_t unix = days_from_civil(y, m, d) * 86400 + H * 3600 + M * 60 + S;
    struct ottl_zinfo zi;
    ottl_tz_lookup(tz, unix, &zi);
    if (zi.off != 0) {
        int64_t utc = unix - zi.off;
        if (utc < zi.start || utc >= zi.end)
            ottl_tz_lookup(tz, utc, &zi);
        unix -= zi.off;
    }
    if (__builtin_mul_overflow(unix, NS_PER_S, ns) || __builtin_add_overflow(*ns, nsec, ns))
        return KT_EINVAL;
    return 0;
}

size_t ottl_time_rfc3339(const struct ottl_time *t, char *buf, size_t size)
{
    struct ottl_tfields f;
    ottl_time_fields(t, &f);
    char frac[12] = "";
    if (f.nsec != 0) {
        snprintf(frac, sizeof(frac), ".%09" PRId32, f.nsec);
        size_t n = strlen(frac);
        while (frac[n - 1] == '0')
            frac[--n] = '\0';
    }
    char zone[16] = "Z";
    if (f.off != 0) {
        int32_t a = f.off < 0 ? -f.off : f.off;
        snprintf(zone, sizeof(zone), "%c%02d:%02d", f.off < 0 ? '-' : '+', (int)(a / 3600),
                 (int)(a / 60 % 60));
    }
    int n = snprintf(buf, size, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d%s%s", f.year, f.mon, f.day,
                     f.hour, f.min, f.sec, frac, zone);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}
