/* kt_time: the points in time a user types on the command line (RFC 3339), read and written
 * as milliseconds since the Unix epoch, the unit of Kafka message timestamps. */
#ifndef KT_TIME_H
#define KT_TIME_H

#include <stddef.h>
#include <stdint.h>

/* "2026-11-20T10:00:00Z", "2026-11-20T10:00:00.250+01:00" (a 't' or 'z' too; fractions
 * beyond milliseconds are cut) as ms since the epoch. Returns 0, or KT_EINVAL for anything
 * else, a date that does not exist (02-30) included; *ms is then unchanged. */
int kt_time_parse(const char *s, int64_t *ms);

/* ms since the epoch as RFC 3339 UTC with milliseconds: "2026-11-20T10:00:00.250Z"
 * (KT_TIME_MAX bytes always suffice). */
#define KT_TIME_MAX 32
void kt_time_format(int64_t ms, char *buf, size_t cap);

#endif
