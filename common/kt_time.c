/* kt_time: see kt_time.h. */
#include "kt_time.h"

#include <stdio.h>
#include <time.h>

#include "kt_err.h"

/* RFC 3339 "2026-11-20T10:00:00Z", "2026-11-20T10:00:00.250+01:00" as ms since the epoch. */
int kt_time_parse(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, used = 0;
    if (sscanf(s, "%4d-%2d-%2d%*1[Tt]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) != 6 ||
        used != 19)
        return KT_EINVAL;
    const char *p = s + used;
    int64_t frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        }
        if (digits == 0)
            return KT_EINVAL;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    int64_t off_s = 0;
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        off_s = 0;
    } else if (*p == '+' || *p == '-') {
        int oh, om, n = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 || p[6] != '\0' || oh > 23 ||
            om > 59)
            return KT_EINVAL;
        off_s = (*p == '+' ? 1 : -1) * (int64_t)(oh * 3600 + om * 60);
    } else {
        return KT_EINVAL;
    }
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    /* timegm normalises 02-30 into March: a date that changed was not a date. */
    if (tm.tm_year != y - 1900 || tm.tm_mon != mo - 1 || tm.tm_mday != d || tm.tm_hour != h ||
        tm.tm_min != mi || tm.tm_sec != sec)
        return KT_EINVAL;
    *ms = ((int64_t)t - off_s) * 1000 + frac;
    return 0;
}

/* ms since the epoch as RFC 3339 UTC with milliseconds: "2026-11-20T10:00:00.250Z". */
void kt_time_format(int64_t ms, char *buf, size_t cap)
{
    int64_t sec = ms / 1000, rem = ms % 1000;
    if (rem < 0) {
        sec--;
        rem += 1000;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)rem);
}
