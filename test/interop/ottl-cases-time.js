'use strict';
// The differential cases of time and duration values and the time converters (issue 14):
// arithmetic and comparisons, the time-typed paths, Time's formats and zones, FormatTime,
// Duration, TruncateTime, Unix and the unit and calendar-field converters. Now is only
// compared against itself or bounds. ottl-cases.js passes its input builders in.

module.exports = ({ T, L, M, str, int, dbl, span, log, metrics, gauge }) => {
  const a = (k, expr) => `set(span.attributes["${k}"], ${expr})`;
  const la = (k, expr) => `set(log.attributes["${k}"], ${expr})`;
  const ign = 'ignore';
  // The first span's attributes as { key: the value's text }.
  const first = (out) => Object.fromEntries(out.resourceSpans[0].scopeSpans[0].spans[0].attributes.map((kv) => [kv.key, String(kv.value[kv.value.value])]));
  return [
    // arithmetic and comparisons
    { name: 'time - time is a duration', signal: T, statements: [a('ns', 'Nanoseconds(span.end_time - span.start_time)'), a('ms', 'Milliseconds(span.end_time - span.start_time)'), a('us', 'Microseconds(span.end_time - span.start_time)'), a('s', 'Seconds(span.end_time - span.start_time)'), a('neg', 'Nanoseconds(span.start_time - span.end_time)')], input: span({}) },
    { name: 'time +/- duration and duration + time', signal: T, statements: [a('plus', 'UnixNano(span.start_time + Duration("1h"))'), a('minus', 'UnixNano(span.start_time - Duration("1m30s"))'), a('rev', 'UnixNano(Duration("250ms") + span.start_time)'), a('chain', 'UnixNano(span.start_time + Duration("1s") - Duration("2s") + Duration("3ms"))')], input: span({}) },
    { name: 'duration +/- duration', signal: T, statements: [a('sub', 'Nanoseconds(Duration("1h") - Duration("30m"))'), a('add', 'Minutes(Duration("1h") + Duration("90s"))'), a('neg', 'Seconds(Duration("1s") - Duration("1m"))')], input: span({}) },
    { name: 'time and duration arithmetic errors', signal: T, error_mode: ign, statements: [a('tt', 'UnixNano(span.start_time + span.end_time)'), a('mul', 'UnixNano(span.start_time * Duration("1s"))'), a('div', 'Nanoseconds(Duration("1s") / Duration("1s"))'), a('dmt', 'UnixNano(Duration("1s") - span.start_time)'), a('ti', 'UnixNano(span.start_time + 1)'), a('it', 'UnixNano(1 + span.start_time)'), a('di', 'Nanoseconds(Duration("1s") + 5)'), a('dm', 'Nanoseconds(Duration("1s") * 2)'), a('after', '"ran"')], input: span({}) },
    { name: 'negating a time or duration fails', signal: T, error_mode: ign, statements: [a('nt', 'UnixNano(-span.start_time)'), a('nd', 'Nanoseconds(-(Duration("1s")))'), a('after', '"ran"')], input: span({}) },
    { name: 'comparisons of times', signal: T, statements: ['set(span.attributes["lt"], true) where span.start_time < span.end_time', 'set(span.attributes["gt"], true) where span.start_time > span.end_time', 'set(span.attributes["le"], true) where span.start_time <= span.start_time', 'set(span.attributes["ge"], true) where span.end_time >= span.start_time', 'set(span.attributes["eq"], true) where span.start_time == Unix(1700000000)', 'set(span.attributes["ne"], true) where span.start_time != span.end_time', 'set(span.attributes["eqzone"], true) where Time("2023-11-14 17:13:20", "%Y-%m-%d %H:%M:%S", "America/New_York") == span.start_time'], input: span({}) },
    { name: 'comparisons of durations', signal: T, statements: ['set(span.attributes["slow"], true) where span.end_time - span.start_time > Duration("100ms")', 'set(span.attributes["fast"], true) where span.end_time - span.start_time < Duration("100ms")', 'set(span.attributes["eq"], true) where Duration("1h") == Duration("60m")', 'set(span.attributes["le"], true) where Duration("1s") <= Duration("1000ms")', 'set(span.attributes["ne"], true) where Duration("1s") != Duration("2s")'], input: span({}) },
    { name: 'times and durations against other types', signal: T, statements: ['set(span.attributes["ti"], true) where span.start_time == 1700000000000000000', 'set(span.attributes["tin"], true) where span.start_time != 1700000000000000000', 'set(span.attributes["di"], true) where Duration("1s") == 1000000000', 'set(span.attributes["dn"], true) where Duration("1s") != nil', 'set(span.attributes["td"], true) where span.start_time == Duration("1s")', 'set(span.attributes["tlt"], true) where span.start_time < 5', 'set(span.attributes["ts"], true) where span.start_time == "x"'], input: span({}) },
    { name: 'Now against itself and bounds', signal: T, statements: ['set(span.attributes["a"], true) where Now() - Now() <= Duration("1s")', 'set(span.attributes["b"], true) where Now() > span.start_time', 'set(span.attributes["c"], true) where UnixSeconds(Now()) > 1700000000', 'set(span.attributes["d"], true) where Year(Now()) >= 2024'], input: span({}) },

    // paths
    { name: 'set span.start_time and span.end_time', signal: T, statements: ['set(span.start_time, Unix(1600000000, 123))', 'set(span.end_time, span.start_time + Duration("2s"))'], input: span({}) },
    { name: 'set a time path to an int or string fails', signal: T, error_mode: ign, statements: ['set(span.start_time, 5)', 'set(span.end_time, "2023")', 'set(span.end_time, Duration("1s"))', a('after', '"ran"')], input: span({}) },
    { name: 'set a time or duration into an attribute fails', signal: T, error_mode: ign, statements: [a('t', 'span.start_time'), a('d', 'Duration("1s")'), a('after', '"ran"')], input: span({}) },
    { name: 'a time into an attribute fails with propagate', signal: T, statements: [a('t', 'Now()')], input: span({}) },
    { name: 'span.start_time_unix_nano agrees with span.start_time', signal: T, statements: ['set(span.attributes["ok"], true) where UnixNano(span.start_time) == span.start_time_unix_nano', 'set(span.start_time_unix_nano, 1)', a('ns', 'UnixNano(span.start_time)')], input: span({}) },
    { name: 'spanevent.time', signal: T, statements: ['set(spanevent.attributes["ms"], UnixMilli(spanevent.time))', 'set(spanevent.time, spanevent.time + Duration("5ms")) where spanevent.name == "exception"'], input: span({}, { events: [{ name: 'exception', timeUnixNano: '1700000000100000000' }, { name: 'other', timeUnixNano: '1700000000200000000' }] }) },
    { name: 'log.time and log.observed_time', signal: L, statements: [la('t', 'UnixSeconds(log.time)'), la('o', 'UnixNano(log.observed_time)'), 'set(log.observed_time, log.time + Duration("1ms"))', 'set(log.time, Time("2024-02-29 12:00:00", "%Y-%m-%d %H:%M:%S"))'], input: log({}) },
    { name: 'datapoint.time and datapoint.start_time', signal: M, statements: ['set(datapoint.attributes["t"], UnixMilli(datapoint.time))', 'set(datapoint.start_time, datapoint.time - Duration("10s"))', 'set(datapoint.attributes["age"], Seconds(datapoint.time - datapoint.start_time))'], input: metrics(gauge('g', [{ value: { asInt: '5' } }])) },
    { name: 'String and Concat of times and durations', signal: T, error_mode: ign, statements: [a('st', 'String(span.start_time)'), a('sd', 'String(Duration("1m1s"))'), a('ct', 'Concat([Time("2023-01-02 03:04:05.5 -0700", "%Y-%m-%d %H:%M:%S.%L %z"), "x"], "|")')], input: span({}) },

    // Time
    { name: 'Time with numeric zone offsets', signal: T, statements: [a('a', 'UnixSeconds(Time("2023-01-02T03:04:05+0100", "%Y-%m-%dT%H:%M:%S%z"))'), a('b', 'UnixSeconds(Time("2023-01-02T03:04:05+01:00", "%Y-%m-%dT%H:%M:%S%z"))'), a('c', 'UnixSeconds(Time("2023-01-02T03:04:05Z", "%Y-%m-%dT%H:%M:%S%z"))'), a('d', 'UnixSeconds(Time("2023-01-02T03:04:05-05", "%Y-%m-%dT%H:%M:%S%z"))'), a('e', 'FormatTime(Time("2023-01-02T03:04:05-0530", "%Y-%m-%dT%H:%M:%S%z"), "%H:%M %z %Z %j %i %w %k")'), a('f', 'UnixSeconds(Time("2023-01-01 10:00 +05:30", "%Y-%m-%d %H:%M %j"))')], input: span({}) },
    { name: 'Time with fractions', signal: T, statements: [a('a', 'UnixNano(Time("2023-01-02 03:04:05.123", "%Y-%m-%d %H:%M:%S.%f"))'), a('b', 'UnixNano(Time("2023-01-02 03:04:05.123456789", "%Y-%m-%d %H:%M:%S.%f"))'), a('c', 'UnixNano(Time("2023-01-02 03:04:05", "%Y-%m-%d %H:%M:%S.%f"))'), a('d', 'UnixNano(Time("2023-01-02 03:04:05.5", "%Y-%m-%d %H:%M:%S"))'), a('e', 'UnixNano(Time("2023-01-02 03:04:05,25", "%Y-%m-%d %H:%M:%S,%L"))'), a('f', 'UnixNano(Time("2023-01-02 03:04:05.1234567891", "%Y-%m-%d %H:%M:%S.%s"))')], input: span({}) },
    { name: 'Time of common log formats', signal: T, statements: [a('nginx', 'UnixSeconds(Time("10/Oct/2023:13:55:36 -0700", "%d/%b/%Y:%H:%M:%S %z"))'), a('rfc1123', 'UnixSeconds(Time("Mon, 02 Jan 2006 15:04:05 GMT", "%a, %d %b %Y %H:%M:%S %Z"))'), a('utc', 'UnixSeconds(Time("Mon, 02 Jan 2006 15:04:05 UTC", "%a, %d %b %Y %H:%M:%S %Z"))'), a('est', 'UnixSeconds(Time("Mon, 02 Jan 2006 15:04:05 EST", "%a, %d %b %Y %H:%M:%S %Z"))'), a('ampm', 'UnixSeconds(Time("March 5 2023 03:04 PM", "%B %e %Y %I:%M %p"))'), a('am12', 'UnixSeconds(Time("March 5 2023 12:04 AM", "%B %d %Y %l:%M %p"))'), a('date', 'UnixSeconds(Time("2023-07-04", "%Y-%m-%d"))'), a('ft', 'UnixSeconds(Time("2023-07-04 05:06:07", "%F %T"))'), a('c', 'UnixSeconds(Time("Tue Jul  4 05:06:07 2023", "%c"))'), a('lower', 'UnixSeconds(Time("04 jul 2023 5:6:7 pm", "%d %b %Y %I:%M:%S %P"))')], input: span({}) },
    { name: 'Time with %D, %y and short numbers', signal: T, statements: [a('d4', 'UnixSeconds(Time("01/02/2023", "%D"))'), a('d2', 'UnixSeconds(Time("01/02/23", "%D"))'), a('y', 'UnixSeconds(Time("1/2/69 3:4", "%m/%d/%y %H:%M"))'), a('y2', 'UnixSeconds(Time("1/2/68 3:4", "%m/%d/%y %H:%M"))'), a('sp', 'UnixSeconds(Time("2023- 1- 2", "%Y-%m-%d"))'), a('r', 'UnixSeconds(Time("2023-01-02 03:04:05 pm", "%Y-%m-%d %r"))'), a('R', 'UnixSeconds(Time("2023-01-02 13:14", "%Y-%m-%d %R"))')], input: span({}) },
    { name: 'Time in a location', signal: T, statements: [a('ny', 'UnixSeconds(Time("2023-06-01 12:00:00", "%Y-%m-%d %H:%M:%S", "America/New_York"))'), a('nyw', 'UnixSeconds(Time("2023-01-01 12:00:00", "%Y-%m-%d %H:%M:%S", "America/New_York"))'), a('h', 'Hour(Time("2023-06-01 12:00:00", "%Y-%m-%d %H:%M:%S", "America/New_York"))'), a('fmt', 'FormatTime(Time("2023-06-01 12:00:00", "%Y-%m-%d %H:%M:%S", "America/New_York"), "%Y-%m-%d %H:%M:%S %Z %z")'), a('in', 'UnixSeconds(Time("2023-06-01 12:00:00", "%Y-%m-%d %H:%M:%S", "Asia/Kolkata"))'), a('utc', 'UnixSeconds(Time("2023-06-01 12:00:00", "%Y-%m-%d %H:%M:%S", "UTC"))'), a('off', 'FormatTime(Time("2023-06-01 12:00:00 +0200", "%Y-%m-%d %H:%M:%S %z", "Europe/Paris"), "%H %Z %z")'), a('offx', 'FormatTime(Time("2023-06-01 12:00:00 +0300", "%Y-%m-%d %H:%M:%S %z", "Europe/Paris"), "%H %Z %z")')], input: span({}) },
    { name: 'Time around daylight saving transitions', signal: T, statements: [a('gap', 'UnixSeconds(Time("2023-03-12 02:30:00", "%Y-%m-%d %H:%M:%S", "America/New_York"))'), a('fold', 'UnixSeconds(Time("2023-11-05 01:30:00", "%Y-%m-%d %H:%M:%S", "America/New_York"))'), a('gapf', 'FormatTime(Time("2023-03-26 02:30:00", "%Y-%m-%d %H:%M:%S", "Europe/Paris"), "%H:%M %Z")'), a('abbr', 'UnixSeconds(Time("2023-07-01 10:00:00 EST", "%Y-%m-%d %H:%M:%S %Z", "America/New_York"))'), a('abbr2', 'FormatTime(Time("2023-07-01 10:00:00 EDT", "%Y-%m-%d %H:%M:%S %Z", "America/New_York"), "%H %Z")')], input: span({}) },
    { name: 'Time with an unknown zone abbreviation fails', signal: T, statements: [a('pst', 'UnixSeconds(Time("2023-01-02 03:04:05 PST", "%Y-%m-%d %H:%M:%S %Z"))')], input: span({}) },
    { name: 'Time of a zone name from the tz database', signal: T, statements: [a('cet', 'FormatTime(Time("2023-01-02 03:04:05 CET", "%Y-%m-%d %H:%M:%S %Z"), "%H %Z %z")'), a('gmt3', 'FormatTime(Time("2023-01-02 03:04:05 GMT+3", "%Y-%m-%d %H:%M:%S %Z"), "%H %Z %z")')], input: span({}) },
    { name: 'Time without a year takes the current one', signal: T, statements: [a('h', 'Hour(Time("13:45", "%H:%M"))'), a('m', 'Minute(Time("13:45", "%H:%M"))'), 'set(span.attributes["thisyear"], true) where Year(Time("Jan 1 00:00", "%b %d %H:%M")) >= 2024'], input: span({}) },
    { name: 'Time with a locale', signal: T, statements: [a('en', 'UnixSeconds(Time("Mar 5 2023", "%b %d %Y", "UTC", "en"))'), a('enus', 'UnixSeconds(Time("2023-03-05", "%Y-%m-%d", locale = "en-US"))')], input: span({}) },
    { name: 'Time failures', signal: T, error_mode: ign, statements: [a('empty', 'UnixSeconds(Time("", "%Y"))'), a('mismatch', 'UnixSeconds(Time("2023/01/02", "%Y-%m-%d"))'), a('day', 'UnixSeconds(Time("2023-02-30", "%Y-%m-%d"))'), a('leap', 'UnixSeconds(Time("2024-02-29", "%Y-%m-%d"))'), a('hour', 'UnixSeconds(Time("2023-01-02 24:00", "%Y-%m-%d %H:%M"))'), a('extra', 'UnixSeconds(Time("2023-01-02 x", "%Y-%m-%d"))'), a('int', 'UnixSeconds(Time(span.attributes["n"], "%Y"))'), a('nil', 'UnixSeconds(Time(span.attributes["missing"], "%Y"))'), a('pm', 'UnixSeconds(Time("2023-01-02 3 XM", "%Y-%m-%d %I %p"))'), a('month', 'UnixSeconds(Time("2023-13-02", "%Y-%m-%d"))'), a('after', '"ran"')], input: span({ n: int(2023) }) },
    { name: 'Time with an empty format is a configuration error', signal: T, statements: [a('t', 'UnixSeconds(Time("2023", ""))')], input: span({}) },
    { name: 'Time with digits in the format is a configuration error', signal: T, statements: [a('t', 'UnixSeconds(Time("2023-01", "%Y-01"))')], input: span({}) },
    { name: 'Time with an unknown directive is a configuration error', signal: T, statements: [a('t', 'UnixSeconds(Time("2023", "%Y %Q"))')], input: span({}) },
    { name: 'Time with %f not after a dot is a configuration error', signal: T, statements: [a('t', 'UnixSeconds(Time("2023", "%S%f"))')], input: span({}) },
    { name: 'Time with an unknown location is a configuration error', signal: T, statements: [a('t', 'UnixSeconds(Time("2023", "%Y", "Mars/Olympus"))')], input: span({}) },
    { name: 'Time with a non-literal format is a configuration error', signal: T, statements: [a('t', 'UnixSeconds(Time("2023", span.name))')], input: span({}) },

    // FormatTime
    { name: 'FormatTime with every directive', signal: T, statements: [a('a', 'FormatTime(span.start_time, "%Y-%m-%d %H:%M:%S %y %o %q %b %h %B %e %g %a %A %l %I %p %P")'), a('b', 'FormatTime(span.end_time, "%S.%L|%S.%f|%S.%s|%S,%L")'), a('c', 'FormatTime(span.start_time, "%S.%f %z %Z %i %j %w %k")'), a('d', 'FormatTime(span.start_time, "%D|%x|%F|%T|%X|%r|%R|%c|%%|%n|%t")'), a('e', 'FormatTime(Unix(0, 1), "%F %T.%s")'), a('f', 'FormatTime(Unix(1, 20000000), "%T.%L")')], input: span({}) },
    { name: 'FormatTime of small dates and hours', signal: T, statements: [a('a', 'FormatTime(Time("2023-03-05 00:07:08", "%Y-%m-%d %H:%M:%S"), "%e|%g|%o|%q|%l|%I|%p|%d|%m")'), a('b', 'FormatTime(Time("2023-03-05 12:07:08", "%Y-%m-%d %H:%M:%S"), "%l %I %p %P")')], input: span({}) },
    { name: 'FormatTime failures', signal: T, error_mode: ign, statements: [a('int', 'FormatTime(span.start_time_unix_nano, "%Y")'), a('after', '"ran"')], input: span({}) },
    { name: 'FormatTime with digits in the format is a configuration error', signal: T, statements: [a('t', 'FormatTime(span.start_time, "%Y 1")')], input: span({}) },
    { name: 'FormatTime with an empty format is a configuration error', signal: T, statements: [a('t', 'FormatTime(span.start_time, "")')], input: span({}) },

    // Duration
    { name: 'Duration of Go duration strings', signal: T, statements: [a('a', 'Nanoseconds(Duration("1h2m3.5s"))'), a('b', 'Nanoseconds(Duration("-1.5h"))'), a('c', 'Nanoseconds(Duration("0"))'), a('d', 'Nanoseconds(Duration("1µs"))'), a('e', 'Nanoseconds(Duration("1us2ns"))'), a('f', 'Nanoseconds(Duration(".5s"))'), a('g', 'Nanoseconds(Duration("5.s"))'), a('h', 'Nanoseconds(Duration("+3ms"))'), a('i', 'Nanoseconds(Duration("9223372036854775807ns"))'), a('j', 'Nanoseconds(Duration("-9223372036854775808ns"))'), a('k', 'Nanoseconds(Duration("1.0000000001s"))'), a('l', 'Nanoseconds(Duration("2562047h47m16.854775807s"))'), a('m', 'Nanoseconds(Duration("0.333333333333333333333h"))')], input: span({}) },
    { name: 'Duration failures', signal: T, error_mode: ign, statements: [a('empty', 'Nanoseconds(Duration(""))'), a('nounit', 'Nanoseconds(Duration("1"))'), a('unit', 'Nanoseconds(Duration("1x"))'), a('dot', 'Nanoseconds(Duration(".s"))'), a('over', 'Nanoseconds(Duration("9223372036854775808ns"))'), a('sign', 'Nanoseconds(Duration("-"))'), a('int', 'Nanoseconds(Duration(span.attributes["n"]))'), a('space', 'Nanoseconds(Duration("1s "))'), a('after', '"ran"')], input: span({ n: int(5) }) },
    { name: 'Duration of an attribute', signal: L, statements: [la('ms', 'Milliseconds(Duration(log.attributes["timeout"]))')], input: log({ timeout: str('1m30.25s') }) },

    // TruncateTime
    { name: 'TruncateTime', signal: T, statements: [a('s', 'UnixNano(TruncateTime(span.start_time + Duration("1234ms"), Duration("1s")))'), a('h', 'UnixSeconds(TruncateTime(span.start_time, Duration("1h")))'), a('d', 'UnixSeconds(TruncateTime(span.start_time, Duration("24h")))'), a('odd', 'UnixSeconds(TruncateTime(span.start_time, Duration("7m")))'), a('zero', 'UnixNano(TruncateTime(span.end_time, Duration("0s")))'), a('neg', 'UnixNano(TruncateTime(span.end_time, Duration("-1s")))'), a('ny', 'FormatTime(TruncateTime(Time("2023-06-01 12:34:56", "%Y-%m-%d %H:%M:%S", "America/New_York"), Duration("24h")), "%F %T %Z")')], input: span({}) },
    { name: 'TruncateTime failures', signal: T, error_mode: ign, statements: [a('a', 'UnixNano(TruncateTime(span.start_time, span.start_time_unix_nano))'), a('b', 'UnixNano(TruncateTime(span.start_time_unix_nano, Duration("1s")))'), a('after', '"ran"')], input: span({}) },

    // Unix and the Unix* converters
    { name: 'Unix and the Unix converters', signal: T, statements: [a('a', 'UnixNano(Unix(1700000000))'), a('b', 'UnixNano(Unix(1700000000, 500))'), a('c', 'UnixNano(Unix(0, -1))'), a('d', 'UnixMilli(Unix(-1, 500000000))'), a('e', 'UnixSeconds(Unix(-1, 500000000))'), a('f', 'UnixMicro(Unix(-1, 500000000))'), a('g', 'UnixMicro(span.end_time)'), a('h', 'UnixMilli(span.end_time)'), a('i', 'UnixNano(Unix(seconds = 5, nanoseconds = 2000000000))')], input: span({}) },
    { name: 'Unix failures', signal: T, error_mode: ign, statements: [a('s', 'UnixNano(Unix(span.name))'), a('d', 'UnixNano(Unix(Double(1)))'), a('n', 'UnixNano(Unix(span.attributes["missing"]))'), a('u', 'UnixNano(Duration("1s"))'), a('after', '"ran"')], input: span({}) },
    { name: 'Unix of an int attribute', signal: L, statements: [la('y', 'Year(Unix(log.attributes["epoch"]))')], input: log({ epoch: int(946684800) }) },

    // durations in units
    { name: 'durations in units', signal: T, statements: [a('ns', 'Nanoseconds(Duration("1h30m45.5s"))'), a('us', 'Microseconds(Duration("1h30m45.5s"))'), a('ms', 'Milliseconds(Duration("-1500us"))'), a('s', 'Seconds(Duration("1h30m45.5s"))'), a('m', 'Minutes(Duration("-90m"))'), a('h', 'Hours(Duration("-90m"))'), a('hs', 'Hours(Duration("1ns"))'), a('mm', 'Minutes(Duration("1m0.000000001s"))')], input: span({}) },
    { name: 'durations in units fail on other types', signal: T, error_mode: ign, statements: [a('a', 'Hours(span.start_time)'), a('b', 'Seconds(span.start_time_unix_nano)'), a('c', 'Nanoseconds(span.attributes["missing"])'), a('after', '"ran"')], input: span({}) },

    // calendar fields
    { name: 'calendar fields in UTC', signal: T, statements: [a('Y', 'Year(span.start_time)'), a('M', 'Month(span.start_time)'), a('D', 'Day(span.start_time)'), a('h', 'Hour(span.start_time)'), a('m', 'Minute(span.start_time)'), a('s', 'Second(span.end_time)'), a('ns', 'Nanosecond(span.end_time)'), a('w', 'Weekday(span.start_time)')], input: span({}) },
    { name: 'calendar fields in a zone', signal: T, statements: [a('Y', 'Year(Time("2024-01-01 01:00:00 +0300", "%Y-%m-%d %H:%M:%S %z"))'), a('D', 'Day(Time("2024-01-01 01:00:00 +0300", "%Y-%m-%d %H:%M:%S %z"))'), a('w', 'Weekday(Time("2024-03-03 23:30:00", "%Y-%m-%d %H:%M:%S", "Asia/Tokyo"))'), a('h', 'Hour(Time("2024-03-03 23:30:00", "%Y-%m-%d %H:%M:%S", "Asia/Tokyo"))'), a('hu', 'Hour(Unix(UnixSeconds(Time("2024-03-03 23:30:00", "%Y-%m-%d %H:%M:%S", "Asia/Tokyo"))))'), a('hp', 'Hour(Time("2024-03-03 23:30:00", "%Y-%m-%d %H:%M:%S", "Asia/Tokyo") + Duration("1h"))')], input: span({}) },
    { name: 'calendar fields fail on other types', signal: T, error_mode: ign, statements: [a('a', 'Hour(span.name)'), a('b', 'Year(Duration("1h"))'), a('c', 'Day(span.start_time_unix_nano)'), a('after', '"ran"')], input: span({}) },
    { name: 'leap years and the end of February', signal: T, statements: [a('a', 'FormatTime(Time("2024-02-28", "%Y-%m-%d") + Duration("24h"), "%F %A")'), a('b', 'FormatTime(Time("2100-02-28", "%Y-%m-%d") + Duration("24h"), "%F %a")'), a('c', 'FormatTime(Time("2000-02-28", "%Y-%m-%d") + Duration("48h"), "%F")'), a('d', 'Weekday(Time("1970-01-01", "%Y-%m-%d"))'), a('e', 'UnixSeconds(Time("1969-12-31 23:59:59", "%Y-%m-%d %H:%M:%S"))')], input: span({}) },
    { name: 'time conditions in a where clause of a log', signal: L, statements: ['set(log.attributes["old"], true) where log.time < Time("2024-01-01", "%Y-%m-%d")', 'set(log.attributes["new"], true) where log.time >= Time("2024-01-01", "%Y-%m-%d")'], input: log({}) },
    { name: 'a double where a duration is needed', signal: T, error_mode: ign, statements: [a('a', 'Seconds(Duration(span.attributes["d"]))'), a('after', '"ran"')], input: span({ d: dbl(1.5) }) },
    { name: 'a string attribute parsed as a time', signal: L, statements: [la('t', 'UnixMilli(Time(log.attributes["ts"], "%Y-%m-%dT%H:%M:%S.%L%z"))'), la('h', 'FormatTime(Time(log.attributes["ts"], "%Y-%m-%dT%H:%M:%S.%L%z"), "%H:%M:%S.%L %z")')], input: log({ ts: str('2024-05-06T07:08:09.123+02:00') }) },
    { name: 'a time set from a parsed attribute', signal: L, statements: ['set(log.time, Time(log.attributes["ts"], "%d/%m/%Y %H:%M:%S"))', la('ns', 'UnixNano(log.time)')], input: log({ ts: str('06/05/2024 07:08:09') }) },
    { name: 'a time from an int with str interop', signal: T, statements: [a('s', 'FormatTime(Unix(span.attributes["e"]), "%Y-%m-%d")')], input: span({ e: int(86400) }) },
    { name: 'literals of the wrong type are configuration errors: FormatTime', signal: T, statements: [a('t', 'FormatTime("2023", "%Y")')], input: span({}) },
    { name: 'literals of the wrong type are configuration errors: TruncateTime', signal: T, statements: [a('t', 'UnixNano(TruncateTime(span.start_time, 1000))')], input: span({}) },
    { name: 'literals of the wrong type are configuration errors: Unix', signal: T, statements: [a('t', 'UnixNano(Unix("5"))')], input: span({}) },
    { name: 'literals of the wrong type are configuration errors: Unix nanoseconds', signal: T, statements: [a('t', 'UnixNano(Unix(5, 1.5))')], input: span({}) },
    { name: 'literals of the wrong type are configuration errors: Seconds', signal: T, statements: [a('t', 'Seconds(5)')], input: span({}) },
    { name: 'literals of the wrong type are configuration errors: Hour of nil', signal: T, statements: [a('t', 'Hour(nil)')], input: span({}) },
    { name: 'literals of the wrong type are configuration errors: Duration of an int', signal: T, statements: [a('t', 'Nanoseconds(Duration(5))')], input: span({}) },
    { name: 'a literal string for Time is built once', signal: T, statements: [a('t', 'UnixSeconds(Time("2023-01-02", "%Y-%m-%d"))')], input: span({}) },
    { name: 'Time of compact and ISO forms', signal: T, statements: [a('compact', 'UnixSeconds(Time("20230601120000", "%Y%m%d%H%M%S"))'), a('isoz', 'UnixNano(Time("2023-06-01T12:00:00.120Z", "%Y-%m-%dT%H:%M:%S.%LZ"))'), a('isozfmt', 'FormatTime(Time("2023-06-01T12:00:00Z", "%Y-%m-%dT%H:%M:%SZ", "Asia/Tokyo"), "%H %Z")'), a('sp', 'UnixSeconds(Time(" 5/ 6/2023", "%m/%d/%Y"))'), a('e', 'UnixSeconds(Time("Jun  5 2023", "%b %e %Y"))'), a('tab', 'UnixSeconds(Time("2023-06-01\t12:00", "%Y-%m-%d%t%H:%M"))'), a('pct', 'UnixSeconds(Time("% 2023", "%% %Y"))')], input: span({}) },
    { name: 'Time zone corner cases', signal: T, statements: [a('cest', 'FormatTime(Time("2023-06-01 12:00:00 CEST", "%Y-%m-%d %H:%M:%S %Z", "Europe/Paris"), "%H %Z %z")'), a('zero', 'FormatTime(Time("2023-06-01 12:00:00 +0000", "%Y-%m-%d %H:%M:%S %z", "Europe/Paris"), "%H %Z %z")'), a('empty', 'FormatTime(Time("2023-06-01 12:00:00", "%Y-%m-%d %H:%M:%S", ""), "%H %Z")'), a('local', 'FormatTime(Time("2023-06-01 12:00:00", "%Y-%m-%d %H:%M:%S", "Local"), "%H %Z")'), a('unix', 'FormatTime(Unix(1700000000), "%H %Z %z")'), a('gmt', 'FormatTime(Time("2023-06-01 12:00:00 GMT", "%Y-%m-%d %H:%M:%S %Z"), "%H %Z %z")'), a('kolkata', 'FormatTime(Time("2023-06-01 12:00:00", "%Y-%m-%d %H:%M:%S", "Asia/Kolkata"), "%H:%M %Z %z %i %k")'), a('old', 'UnixSeconds(Time("1900-06-01 12:00:00", "%Y-%m-%d %H:%M:%S", "America/New_York"))')], input: span({}) },
    { name: 'Time failures of names and fractions', signal: T, error_mode: ign, statements: [a('pm', 'UnixSeconds(Time("2023-01-02 3 pm", "%Y-%m-%d %I %p"))'), a('PM', 'UnixSeconds(Time("2023-01-02 3 PM", "%Y-%m-%d %I %P"))'), a('mon', 'UnixSeconds(Time("Foo 2 2023", "%b %d %Y"))'), a('monl', 'UnixSeconds(Time("jANUARY 2 2023", "%B %d %Y"))'), a('wd', 'UnixSeconds(Time("Xyz Jan 2 2023", "%a %b %d %Y"))'), a('y2', 'UnixSeconds(Time("2023-1-2", "%y-%m-%d"))'), a('h13', 'UnixSeconds(Time("2023-01-02 13 PM", "%Y-%m-%d %I %p"))'), a('z', 'UnixSeconds(Time("2023-01-02 +25", "%Y-%m-%d %z"))'), a('after', '"ran"')], input: span({}) },
    { name: 'Time of year zero and negative offsets', signal: T, statements: ['set(span.attributes["y0"], true) where Year(Time("0000-06-01", "%Y-%m-%d")) >= 2024', a('neg', 'UnixSeconds(Time("2023-06-01 12:00 -00:30", "%Y-%m-%d %H:%M %z"))'), a('negf', 'FormatTime(Time("2023-06-01 12:00 -00:30", "%Y-%m-%d %H:%M %z"), "%z %Z %j %i")'), a('big', 'UnixSeconds(TruncateTime(span.start_time, Duration("1000000h")))'), a('msk', 'FormatTime(Time("2023-06-01 12:00 MSK", "%Y-%m-%d %H:%M %Z", "Europe/Moscow"), "%H %Z %z")'), a('wd', 'UnixSeconds(Time("Tuesday 2023-06-06", "%A %Y-%m-%d"))')], input: span({}) },
    { name: 'zones past the last transition follow the footer rule', signal: T, statements: [a('ny7', 'FormatTime(Time("2050-07-01 12:00", "%Y-%m-%d %H:%M", "America/New_York"), "%s %Z %z")'), a('ny7s', 'UnixSeconds(Time("2050-07-01 12:00", "%Y-%m-%d %H:%M", "America/New_York"))'), a('ny1s', 'UnixSeconds(Time("2050-01-01 12:00", "%Y-%m-%d %H:%M", "America/New_York"))'), a('syd1', 'FormatTime(Time("2050-01-01 12:00", "%Y-%m-%d %H:%M", "Australia/Sydney"), "%H %Z %z")'), a('syd1s', 'UnixSeconds(Time("2050-01-01 12:00", "%Y-%m-%d %H:%M", "Australia/Sydney"))'), a('syd7s', 'UnixSeconds(Time("2050-07-01 12:00", "%Y-%m-%d %H:%M", "Australia/Sydney"))'), a('parisgap', 'UnixSeconds(Time("2100-03-28 02:30", "%Y-%m-%d %H:%M", "Europe/Paris"))'), a('parisfold', 'UnixSeconds(Time("2100-10-31 02:30", "%Y-%m-%d %H:%M", "Europe/Paris"))'), a('sp', 'FormatTime(Time("2050-01-01 12:00", "%Y-%m-%d %H:%M", "America/Sao_Paulo"), "%H %Z %z")'), a('tok', 'UnixSeconds(Time("2100-01-01 00:00", "%Y-%m-%d %H:%M", "Asia/Tokyo"))'), a('edt', 'UnixSeconds(Time("2050-07-01 12:00 EDT", "%Y-%m-%d %H:%M %Z", "America/New_York"))')], input: span({}) },
    // documented divergences (README, "Filter and transform")
    {
      name: 'Time of a date past 2262',
      signal: T,
      statements: [a('t', 'UnixSeconds(Time("2300-01-01", "%Y-%m-%d"))')],
      input: span({}),
      divergence: {
        reason: 'kotel\'s times are int64 nanoseconds (1678 to 2262); Go\'s time.Time reaches further',
        collector: (out) => first(out).t === '10413792000',
        kotel: 'error',
      },
    },
    {
      name: 'Time with a German locale and month names',
      signal: T,
      statements: [a('t', 'UnixSeconds(Time("5 März 2023", "%d %B %Y", "UTC", "de"))')],
      input: span({}),
      divergence: {
        reason: 'kotel reads English month and day names only and refuses another locale where the format reads names',
        collector: (out) => first(out).t === '1677974400',
        kotel: 'config error',
      },
    },
    {
      name: 'FormatTime with a Go layout word in its literal text',
      signal: T,
      statements: [a('t', 'FormatTime(span.start_time, "%Y Jan")')],
      input: span({}),
      divergence: {
        reason: 'kotel takes a format\'s literal text literally; Go reads Jan in the layout as the month',
        collector: (out) => first(out).t === '2023 Nov',
        kotel: (out) => first(out).t === '2023 Jan',
      },
    },
    {
      name: 'Unix past 2262',
      signal: T,
      statements: [a('t', 'UnixSeconds(Unix(10000000000))')],
      input: span({}),
      divergence: {
        reason: 'kotel\'s times are int64 nanoseconds (1678 to 2262); Go\'s time.Time reaches further',
        collector: (out) => first(out).t === '10000000000',
        kotel: 'error',
      },
    },
  ];
};
