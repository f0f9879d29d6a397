/* OTTL string, conversion and ID converters and the glob editors (issue 14), with the
 * Collector's (v0.161.0) semantics: its StringGetter arguments want a string (nil or another
 * type fails), its *Like getters convert (nil gives nil), and a literal argument those getters
 * refuse is a configuration error, as the Collector converts literals when it compiles a
 * statement. Results are built in the evaluation's arena. */
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <mbedtls/sha256.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <wctype.h>

#include "kt_codec.h"
#include "ottl_int.h"

typedef Opentelemetry__Proto__Common__V1__ArrayValue ottl_arr;

/* ---- UTF-8 ---- */

#define RUNE_ERROR 0xfffdu

/* The rune at s[i] and its length (U+FFFD of length 1 for a byte that starts none). */
static size_t rune_at(const char *s, size_t n, size_t i, uint32_t *r)
{
    return kt_utf8_get((const uint8_t *)s + i, n - i, r);
}

/* The length of the UTF-8 sequence at s, 1 for a byte that starts none. n > 0. */
static size_t seq_len(const char *s, size_t n)
{
    size_t l = kt_utf8_seq_len((const uint8_t *)s, n);
    return l > 0 ? l : 1;
}

static void abuf_rune(struct ottl_abuf *b, uint32_t r)
{
    char tmp[4];
    ottl_abuf_put(b, tmp, kt_utf8_put((uint8_t *)tmp, r));
}

/* Go's unicode.IsSpace, which strings.TrimSpace trims. */
static bool is_space(uint32_t r)
{
    switch (r) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xa0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202f:
    case 0x205f:
    case 0x3000: return true;
    default: return r >= 0x2000 && r <= 0x200a;
    }
}

/* s[*from..*to) less leading and trailing white space. */
static void trim_space(const char *s, size_t *from, size_t *to)
{
    uint32_t r;
    while (*from < *to) {
        size_t l = rune_at(s, *to, *from, &r);
        if (!is_space(r) || (r == RUNE_ERROR && l == 1))
            break;
        *from += l;
    }
    while (*to > *from) {
        size_t st = *to - 1;
        while (st > *from && ((unsigned char)s[st] & 0xc0) == 0x80 && *to - st < 4)
            st--;
        size_t l = rune_at(s, *to, st, &r);
        if (st + l != *to || !is_space(r) || (r == RUNE_ERROR && l == 1))
            break;
        *to = st;
    }
}

/* ---- arguments ---- */

static struct ottl_value *set_str(struct ottl_value *out, const char *p, size_t n)
{
    out->t = OTTL_STR;
    out->s.p = p;
    out->s.n = n;
    return out;
}

static struct kt_arena *arena_of(struct ottl_eval *ev)
{
    return ottl_eval_arena(ev);
}

static int oom(struct ottl_eval *ev)
{
    return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
}

/* A copy of s in the arena, NUL-terminated like every string result. */
static int str_result(struct ottl_eval *ev, const char *s, size_t n, struct ottl_value *out)
{
    struct kt_arena *a = arena_of(ev);
    if (a == NULL)
        return KT_EINVAL;
    char *p = kt_arena_strndup(a, s, n);
    if (p == NULL)
        return oom(ev);
    set_str(out, p, n);
    return 0;
}

static int abuf_result(struct ottl_eval *ev, struct ottl_abuf *b, struct ottl_value *out)
{
    if (b->oom)
        return oom(ev);
    set_str(out, b->p != NULL ? b->p : "", b->n);
    return 0;
}

/* ---- case ---- */

static locale_t utf8_loc;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void utf8_loc_init(void)
{
    utf8_loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* strings.ToLower / ToUpper: Unicode simple case mapping (the C library's C.UTF-8 tables;
 * ASCII only where the system has no such locale); bytes that are no UTF-8 become U+FFFD. */
static int map_case(struct ottl_eval *ev, const struct ottl_value *v, bool upper,
                    struct ottl_value *out)
{
    struct kt_arena *a = arena_of(ev);
    if (a == NULL)
        return KT_EINVAL;
    pthread_once(&utf8_once, utf8_loc_init);
    struct ottl_abuf b = {a, NULL, 0, 0, false};
    for (size_t i = 0; i < v->s.n;) {
        uint32_t r;
        i += rune_at(v->s.p, v->s.n, i, &r);
        uint32_t m = r;
        if (r < 0x80)
            m = upper ? (r >= 'a' && r <= 'z' ? r - 32 : r) : (r >= 'A' && r <= 'Z' ? r + 32 : r);
        else if (utf8_loc != (locale_t)0)
            m = (uint32_t)(upper ? towupper_l((wint_t)r, utf8_loc)
                                 : towlower_l((wint_t)r, utf8_loc));
        abuf_rune(&b, m);
    }
    return abuf_result(ev, &b, out);
}

static bool is_up(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lo(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_num(char c)
{
    return c >= '0' && c <= '9';
}

/* strcase.ToSnake (the library the Collector uses): byte-wise over the trimmed text, ASCII
 * letters lowercased, '_' between a lowercase letter or digit and what changes class after
 * it and before the last capital of a run followed by a lowercase letter; ' ', '-', '.'
 * become '_'. */
static int snake(struct ottl_eval *ev, const struct ottl_value *v, struct ottl_value *out)
{
    size_t from = 0, to = v->s.n;
    trim_space(v->s.p, &from, &to);
    const char *s = v->s.p + from;
    size_t n = to - from;
    struct kt_arena *a = arena_of(ev);
    if (a == NULL)
        return KT_EINVAL;
    struct ottl_abuf b = {a, NULL, 0, 0, false};
    ottl_abuf_put(&b, "", 0);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool cap = is_up(c), low = is_lo(c);
        if (cap)
            c = (char)(c + 32);
        if (i + 1 < n) {
            char nx = s[i + 1];
            bool num = is_num(c), ncap = is_up(nx), nlow = is_lo(nx), nnum = is_num(nx);
            if ((cap && (nlow || nnum)) || (low && (ncap || nnum)) || (num && (ncap || nlow))) {
                if (cap && nlow && i > 0 && is_up(s[i - 1]))
                    ottl_abuf_put(&b, "_", 1);
                ottl_abuf_put(&b, &c, 1);
                if (low || num || nnum)
                    ottl_abuf_put(&b, "_", 1);
                continue;
            }
        }
        if (c == ' ' || c == '_' || c == '-' || c == '.')
            c = '_';
        ottl_abuf_put(&b, &c, 1);
    }
    return abuf_result(ev, &b, out);
}

/* strcase.ToCamel: byte-wise over the trimmed text, keeping only ASCII letters and digits;
 * the first letter and each one after a digit or ' ', '_', '-', '.' uppercased, a capital
 * after a capital lowercased. */
static int camel(struct ottl_eval *ev, const struct ottl_value *v, struct ottl_value *out)
{
    size_t from = 0, to = v->s.n;
    trim_space(v->s.p, &from, &to);
    struct kt_arena *a = arena_of(ev);
    if (a == NULL)
        return KT_EINVAL;
    struct ottl_abuf b = {a, NULL, 0, 0, false};
    ottl_abuf_put(&b, "", 0);
    bool cap_next = true, prev_cap = false;
    for (size_t i = from; i < to; i++) {
        char c = v->s.p[i];
        bool cap = is_up(c), low = is_lo(c);
        if (cap_next) {
            if (low)
                c = (char)(c - 32);
        } else if (prev_cap && cap) {
            c = (char)(c + 32);
        }
        prev_cap = cap;
        if (cap || low) {
            ottl_abuf_put(&b, &c, 1);
            cap_next = false;
        } else if (is_num(c)) {
            ottl_abuf_put(&b, &c, 1);
            cap_next = true;
        } else {
            cap_next = c == '_' || c == ' ' || c == '-' || c == '.';
        }
    }
    return abuf_result(ev, &b, out);
}

/* The string argument in the case mode ('l'ower, 'u'pper, 's'nake, 'c'amel); "" stays "". */
static int to_case(struct ottl_eval *ev, const struct ottl_node *call, char mode,
                   struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_want_string(ev, call, 0, &v);
    if (rc != 0 || v.s.n == 0) {
        *out = v;
        return rc;
    }
    switch (mode) {
    case 'l': return map_case(ev, &v, false, out);
    case 'u': return map_case(ev, &v, true, out);
    case 's': return snake(ev, &v, out);
    default: return camel(ev, &v, out);
    }
}

int ottl_fn_lower(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return to_case(ev, call, 'l', out);
}

int ottl_fn_upper(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return to_case(ev, call, 'u', out);
}

int ottl_fn_snake(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return to_case(ev, call, 's', out);
}

int ottl_fn_camel(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return to_case(ev, call, 'c', out);
}

/* The parser allowed only "lower", "upper", "snake" and "camel": the first letter says. */
int ottl_fn_convert_case(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return to_case(ev, call, call->call.args[1]->lit.s.p[0], out);
}

/* ---- trimming, splitting, searching ---- */

static bool in_cutset(uint32_t r, const char *cut, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t c;
        i += rune_at(cut, n, i, &c);
        if (c == r)
            return true;
    }
    return false;
}

/* strings.Trim: the runes of cutset off both ends (a rune of s that is no UTF-8 is U+FFFD,
 * so only a cutset holding U+FFFD or bad bytes trims it). */
int ottl_fn_trim(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_want_string(ev, call, 0, &v);
    if (rc != 0)
        return rc;
    const char *cut = " ";
    size_t cn = 1;
    if (call->call.args[1] != NULL) {
        cut = call->call.args[1]->lit.s.p;
        cn = call->call.args[1]->lit.s.n;
    }
    size_t from = 0, to = v.s.n;
    uint32_t r;
    while (cn > 0 && from < to) {
        size_t l = rune_at(v.s.p, to, from, &r);
        if (!in_cutset(r, cut, cn))
            break;
        from += l;
    }
    while (cn > 0 && to > from) {
        size_t st = to - 1;
        while (st > from && ((unsigned char)v.s.p[st] & 0xc0) == 0x80 && to - st < 4)
            st--;
        size_t l = rune_at(v.s.p, to, st, &r);
        if (st + l != to)
            st = to - 1, r = RUNE_ERROR;
        if (!in_cutset(r, cut, cn))
            break;
        to = st;
    }
    return str_result(ev, v.s.p + from, to - from, out);
}

static int affix_trim(struct ottl_eval *ev, const struct ottl_node *call, bool suffix,
                      struct ottl_value *out)
{
    struct ottl_value v, x;
    int rc = ottl_want_string(ev, call, 0, &v);
    if (rc == 0)
        rc = ottl_want_string(ev, call, 1, &x);
    if (rc != 0)
        return rc;
    size_t from = 0, to = v.s.n;
    if (ottl_has_affix(&v, &x, suffix)) {
        if (suffix)
            to -= x.s.n;
        else
            from = x.s.n;
    }
    return str_result(ev, v.s.p + from, to - from, out);
}

int ottl_fn_trim_prefix(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return affix_trim(ev, call, false, out);
}

int ottl_fn_trim_suffix(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return affix_trim(ev, call, true, out);
}

static const char *find(const char *s, size_t n, const char *x, size_t xn)
{
    return xn == 0 ? s : memmem(s, n, x, xn);
}

/* strings.Split: the pieces between the delimiters; an empty delimiter splits after each
 * UTF-8 sequence (each bad byte alone), so "" gives no pieces then. The result is a list of
 * string values in the arena. */
int ottl_fn_split(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v, d;
    int rc = ottl_want_string(ev, call, 0, &v);
    if (rc == 0)
        rc = ottl_want_string(ev, call, 1, &d);
    if (rc != 0)
        return rc;
    struct kt_arena *a = arena_of(ev);
    if (a == NULL)
        return KT_EINVAL;
    size_t n = 0;
    if (d.s.n == 0) {
        for (size_t i = 0; i < v.s.n; n++)
            i += seq_len(v.s.p + i, v.s.n - i);
    } else {
        n = 1;
        for (const char *p = v.s.p, *e = v.s.p + v.s.n;
             (p = find(p, (size_t)(e - p), d.s.p, d.s.n)); p += d.s.n)
            n++;
    }
    ottl_arr *arr = kt_arena_alloc(a, sizeof(*arr));
    ottl_any **items = kt_arena_alloc(a, (n ? n : 1) * sizeof(*items));
    ottl_any *vals = kt_arena_alloc(a, (n ? n : 1) * sizeof(*vals));
    if (arr == NULL || items == NULL || vals == NULL)
        return oom(ev);
    ottl_arr ainit = OPENTELEMETRY__PROTO__COMMON__V1__ARRAY_VALUE__INIT;
    *arr = ainit;
    size_t at = 0;
    for (size_t k = 0; k < n; k++) {
        size_t len;
        if (d.s.n == 0) {
            len = seq_len(v.s.p + at, v.s.n - at);
        } else {
            const char *e = find(v.s.p + at, v.s.n - at, d.s.p, d.s.n);
            len = e != NULL ? (size_t)(e - (v.s.p + at)) : v.s.n - at;
        }
        ottl_any init = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
        vals[k] = init;
        vals[k].value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
        if ((vals[k].string_value = kt_arena_strndup(a, v.s.p + at, len)) == NULL)
            return oom(ev);
        items[k] = &vals[k];
        at += len + d.s.n;
    }
    arr->values = items;
    arr->n_values = n;
    out->t = OTTL_ARRAY;
    out->arr = arr;
    return 0;
}

/* The Collector's value equality for scalars: ints and doubles compare as numbers, nil
 * equals only nil, other types only their own. */
static bool scalar_eq(const struct ottl_value *a, const struct ottl_value *b)
{
    if ((a->t == OTTL_INT || a->t == OTTL_DOUBLE) && (b->t == OTTL_INT || b->t == OTTL_DOUBLE)) {
        if (a->t == OTTL_INT && b->t == OTTL_INT)
            return a->i == b->i;
        return (a->t == OTTL_INT ? (double)a->i : a->d) == (b->t == OTTL_INT ? (double)b->i : b->d);
    }
    if (a->t != b->t)
        return false;
    switch (a->t) {
    case OTTL_NIL: return true;
    case OTTL_BOOL: return a->b == b->b;
    case OTTL_STR:
    case OTTL_BYTES:
        return a->s.n == b->s.n && (a->s.n == 0 || memcmp(a->s.p, b->s.p, a->s.n) == 0);
    default: return false;
    }
}

/* Index(target, value): the byte offset of value in a string target (value must be a
 * string), or the position of the first item equal to value in a list; -1 when absent.
 * Other targets fail. */
int ottl_fn_index(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value t, x;
    int rc = ottl_eval_value(ev, call->call.args[0], &t);
    if (rc == 0)
        rc = ottl_eval_value(ev, call->call.args[1], &x);
    if (rc != 0)
        return rc;
    out->t = OTTL_INT;
    out->i = -1;
    if (t.t == OTTL_STR) {
        if (x.t != OTTL_STR)
            return kt_err_set(ev->err, KT_EINVAL, "Index: the value must be a string, got %s",
                              ottl_vtype_name(x.t));
        const char *p = find(t.s.p, t.s.n, x.s.p, x.s.n);
        out->i = p != NULL ? (int64_t)(p - t.s.p) : -1;
        return 0;
    }
    if (t.t == OTTL_ARRAY) {
        for (size_t i = 0; i < t.arr->n_values; i++) {
            struct ottl_value iv;
            ottl_value_from_any(t.arr->values[i], &iv);
            if (scalar_eq(&iv, &x)) {
                out->i = (int64_t)i;
                return 0;
            }
        }
        return 0;
    }
    if (t.t == OTTL_LIST && t.list->kind == OTTL_N_LIST) {
        for (size_t i = 0; i < t.list->list.n; i++) {
            struct ottl_value iv;
            if ((rc = ottl_eval_value(ev, t.list->list.items[i], &iv)) != 0)
                return rc;
            if (scalar_eq(&iv, &x)) {
                out->i = (int64_t)i;
                return 0;
            }
        }
        return 0;
    }
    return kt_err_set(ev->err, KT_EINVAL, "Index: the target must be a string or a list, got %s",
                      ottl_vtype_name(t.t));
}

/* ---- conversions ---- */

/* Whether s is a float as Go's strconv.ParseFloat reads one: a sign, then "inf",
 * "infinity" or "nan" (any case), a decimal with an optional exponent, or a hex mantissa
 * with its mandatory 'p' exponent; underscores only between the digits of a 0x form. */
static bool float_syntax(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    const char *r = s + i;
    size_t rn = n - i;
    if ((rn == 3 && strncasecmp(r, "inf", 3) == 0) ||
        (rn == 8 && strncasecmp(r, "infinity", 8) == 0))
        return true;
    if (rn == 3 && strncasecmp(r, "nan", 3) == 0)
        return i == 0;
    bool hex = rn > 2 && r[0] == '0' && (r[1] == 'x' || r[1] == 'X');
    size_t j = hex ? 2 : 0, digits = 0;
    while (j < rn && (hex ? kt_hex_digit((unsigned char)r[j]) >= 0 : is_num(r[j])))
        j++, digits++;
    if (j < rn && r[j] == '.') {
        j++;
        while (j < rn && (hex ? kt_hex_digit((unsigned char)r[j]) >= 0 : is_num(r[j])))
            j++, digits++;
    }
    if (digits == 0)
        return false;
    if (j < rn && (hex ? (r[j] == 'p' || r[j] == 'P') : (r[j] == 'e' || r[j] == 'E'))) {
        j++;
        if (j < rn && (r[j] == '+' || r[j] == '-'))
            j++;
        size_t e0 = j;
        while (j < rn && is_num(r[j]))
            j++;
        return j == rn && j > e0;
    }
    return j == rn && !hex;
}

/* Go's rule for '_' in a number: only between digits (or after a 0x prefix), never at
 * either end. */
static bool underscores_ok(const char *s, size_t n)
{
    size_t i = 0;
    char saw = '^';
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    bool hex = n - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X');
    if (hex) {
        i += 2;
        saw = '0';
    }
    for (; i < n; i++) {
        if (is_num(s[i]) || (hex && kt_hex_digit((unsigned char)s[i]) >= 0)) {
            saw = '0';
        } else if (s[i] == '_') {
            if (saw != '0')
                return false;
            saw = '_';
        } else {
            if (saw == '_')
                return false;
            saw = '!';
        }
    }
    return saw != '_';
}

/* The Collector's float-like conversion: ints and bools (1, 0) convert, strings parse as
 * Go floats (out of range fails), nil is no value (*has false); other types fail. */
int ottl_to_double(struct kt_arena *a, const struct ottl_value *v, double *d, bool *has,
                   struct kt_err *err)
{
    *has = true;
    switch (v->t) {
    case OTTL_NIL: *has = false; return 0;
    case OTTL_DOUBLE: *d = v->d; return 0;
    case OTTL_INT: *d = (double)v->i; return 0;
    case OTTL_BOOL: *d = v->b ? 1 : 0; return 0;
    case OTTL_STR: {
        char tmp[128];
        char *buf = tmp;
        if (!underscores_ok(v->s.p, v->s.n))
            goto bad;
        if (v->s.n >= sizeof(tmp) && (a == NULL || (buf = kt_arena_alloc(a, v->s.n + 1)) == NULL))
            return kt_err_set(err, KT_ENOMEM, "out of memory");
        size_t bn = 0;
        for (size_t i = 0; i < v->s.n; i++)
            if (v->s.p[i] != '_')
                buf[bn++] = v->s.p[i];
        buf[bn] = '\0';
        if (!float_syntax(buf, bn))
            goto bad;
        errno = 0;
        *d = strtod(buf, NULL);
        if (errno == ERANGE && isinf(*d))
            goto bad;
        return 0;
    }
    default:
        return kt_err_set(err, KT_EINVAL, "Double: cannot convert a %s", ottl_vtype_name(v->t));
    }
bad:
    return kt_err_set(err, KT_EINVAL, "Double: \"%.*s\" is not a number",
                      (int)(v->s.n > 64 ? 64 : v->s.n), v->s.p);
}

int ottl_fn_double(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc != 0)
        return rc;
    bool has;
    double d = 0;
    if ((rc = ottl_to_double(ev->t->arena, &v, &d, &has, ev->err)) != 0 || !has)
        return rc;
    out->t = OTTL_DOUBLE;
    out->d = d;
    return 0;
}

/* strconv.ParseBool's words. */
static int parse_bool(const char *s, size_t n)
{
    static const char *const t[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const f[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        if (strlen(t[i]) == n && memcmp(t[i], s, n) == 0)
            return 1;
        if (strlen(f[i]) == n && memcmp(f[i], s, n) == 0)
            return 0;
    }
    return -1;
}

static int to_bool(const struct ottl_value *v, bool *b, bool *has, struct kt_err *err)
{
    *has = true;
    switch (v->t) {
    case OTTL_NIL: *has = false; return 0;
    case OTTL_BOOL: *b = v->b; return 0;
    case OTTL_INT: *b = v->i != 0; return 0;
    case OTTL_DOUBLE: *b = v->d != 0; return 0;
    case OTTL_STR: {
        int x = parse_bool(v->s.p, v->s.n);
        if (x < 0)
            return kt_err_set(err, KT_EINVAL, "Bool: \"%.*s\" is not a bool",
                              (int)(v->s.n > 64 ? 64 : v->s.n), v->s.p);
        *b = x == 1;
        return 0;
    }
    default: return kt_err_set(err, KT_EINVAL, "Bool: cannot convert a %s", ottl_vtype_name(v->t));
    }
}

int ottl_fn_bool(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc != 0)
        return rc;
    bool b = false, has;
    if ((rc = to_bool(&v, &b, &has, ev->err)) != 0 || !has)
        return rc;
    out->t = OTTL_BOOL;
    out->b = b;
    return 0;
}

/* The Collector's byte-slice-like conversion: bytes as they are, strings as their bytes,
 * ints and doubles as their 8 big-endian bytes, a bool as one byte; nil is no bytes. The
 * bytes of numbers go to tmp (8 bytes). */
static int to_bytes(const struct ottl_value *v, uint8_t *tmp, const uint8_t **p, size_t *n,
                    const char *fn, struct kt_err *err)
{
    uint64_t x;
    *p = tmp;
    switch (v->t) {
    case OTTL_NIL: *n = 0; return 0;
    case OTTL_STR:
    case OTTL_BYTES:
        *p = (const uint8_t *)v->s.p;
        *n = v->s.n;
        return 0;
    case OTTL_BOOL:
        tmp[0] = v->b;
        *n = 1;
        return 0;
    case OTTL_INT:
    case OTTL_DOUBLE:
        if (v->t == OTTL_INT)
            x = (uint64_t)v->i;
        else
            memcpy(&x, &v->d, 8);
        for (int i = 0; i < 8; i++)
            tmp[i] = (uint8_t)(x >> (56 - 8 * i));
        *n = 8;
        return 0;
    default:
        return kt_err_set(err, KT_EINVAL, "%s: cannot convert a %s to bytes", fn,
                          ottl_vtype_name(v->t));
    }
}

/* The first argument of call as bytes (to_bytes). */
static int bytes_arg(struct ottl_eval *ev, const struct ottl_node *call, uint8_t *tmp,
                     const uint8_t **p, size_t *n)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    return rc != 0 ? rc : to_bytes(&v, tmp, p, n, call->call.fn->name, ev->err);
}

/* Hex: lowercase hex of the bytes; nil gives "". */
int ottl_fn_hex(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    uint8_t tmp[8];
    const uint8_t *p;
    size_t n;
    int rc = bytes_arg(ev, call, tmp, &p, &n);
    if (rc != 0)
        return rc;
    struct kt_arena *a = arena_of(ev);
    if (a == NULL)
        return KT_EINVAL;
    char *h = kt_arena_alloc(a, 2 * n + 1);
    if (h == NULL)
        return oom(ev);
    kt_hex_encode(p, n, h);
    set_str(out, h, 2 * n);
    return 0;
}

/* An ID of len bytes from its bytes or their 2 * len hex digits (either case). */
static int id_bytes(const uint8_t *p, size_t n, size_t len, uint8_t *id, const char *fn,
                    struct kt_err *err)
{
    if (n == len) {
        memcpy(id, p, len);
        return 0;
    }
    if (n != 2 * len)
        return kt_err_set(err, KT_EINVAL, "%s: expected %zu bytes or %zu hex digits, got %zu", fn,
                          len, 2 * len, n);
    for (size_t i = 0; i < len; i++) {
        int hi = kt_hex_digit(p[2 * i]), lo = kt_hex_digit(p[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return kt_err_set(err, KT_EINVAL, "%s: invalid hex", fn);
        id[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* SpanID / TraceID: the ID as bytes (kotel has no typed ID value). */
static int id_func(struct ottl_eval *ev, const struct ottl_node *call, size_t len,
                   struct ottl_value *out)
{
    uint8_t tmp[8];
    const uint8_t *p;
    size_t n;
    int rc = bytes_arg(ev, call, tmp, &p, &n);
    if (rc != 0)
        return rc;
    struct kt_arena *a = arena_of(ev);
    if (a == NULL)
        return KT_EINVAL;
    uint8_t *id = kt_arena_alloc(a, len);
    if (id == NULL)
        return oom(ev);
    if ((rc = id_bytes(p, n, len, id, call->call.fn->name, ev->err)) != 0)
        return rc;
    out->t = OTTL_ID;
    out->s.p = (const char *)id;
    out->s.n = len;
    return 0;
}

int ottl_fn_span_id(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return id_func(ev, call, 8, out);
}

int ottl_fn_trace_id(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return id_func(ev, call, 16, out);
}

/* UUID(): a random (version 4) UUID in its 36-character text. */
int ottl_fn_uuid(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)call;
    uint8_t u[16];
    size_t got = 0;
    while (got < sizeof(u)) {
        ssize_t r = getrandom(u + got, sizeof(u) - got, 0);
        if (r < 0 && errno != EINTR)
            return kt_err_set(ev->err, KT_EIO, "UUID: getrandom: %s", strerror(errno));
        got += r > 0 ? (size_t)r : 0;
    }
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    struct kt_arena *a = arena_of(ev);
    if (a == NULL)
        return KT_EINVAL;
    char *s = kt_arena_alloc(a, 37);
    if (s == NULL)
        return oom(ev);
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[o++] = '-';
        kt_hex_encode(u + i, 1, s + o);
        o += 2;
    }
    set_str(out, s, 36);
    return 0;
}

/* ---- Format ---- */

/* Go's %v of a float64 (strconv's 'g' with the shortest precision): the shortest digits
 * that read back, in %e form when the exponent is below -4 or 6 and more. */
static void go_float_g(double d, char *buf, size_t size)
{
    if (isnan(d)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(d)) {
        snprintf(buf, size, d > 0 ? "+Inf" : "-Inf");
        return;
    }
    int p = 1;
    char e[40];
    for (; p <= 17; p++) {
        snprintf(e, sizeof(e), "%.*e", p - 1, d);
        if (strtod(e, NULL) == d)
            break;
    }
    int x = atoi(strchr(e, 'e') + 1);
    if (x < -4 || x >= 6) {
        /* Go drops the mantissa's trailing zeros and writes at least two exponent digits */
        char *ep = strchr(e, 'e');
        size_t mn = (size_t)(ep - e);
        snprintf(buf, size, "%.*se%c%02d", (int)mn, e, x < 0 ? '-' : '+', x < 0 ? -x : x);
        return;
    }
    snprintf(buf, size, "%.*f", p - 1 - x > 0 ? p - 1 - x : 0, d);
}

/* The Go type name fmt prints in %!verb(type=value). */
static const char *go_type(enum ottl_vtype t)
{
    switch (t) {
    case OTTL_STR: return "string";
    case OTTL_INT: return "int64";
    case OTTL_DOUBLE: return "float64";
    case OTTL_BOOL: return "bool";
    case OTTL_BYTES: return "[]uint8";
    default: return "?";
    }
}

struct fspec {
    bool minus, plus, space, zero, sharp;
    int width, prec; /* -1: none */
    char verb;
};

/* Appends s padded to the spec's width (in runes); zero-padding goes after a sign. */
static void pad(struct ottl_abuf *b, const struct fspec *f, const char *s, size_t n, bool num)
{
    size_t runes = 0;
    for (size_t i = 0; i < n; i += seq_len(s + i, n - i))
        runes++;
    size_t fill = f->width > 0 && (size_t)f->width > runes ? (size_t)f->width - runes : 0;
    if (f->minus) {
        ottl_abuf_put(b, s, n);
        while (fill-- > 0)
            ottl_abuf_put(b, " ", 1);
        return;
    }
    if (f->zero && num && n > 0 && (s[0] == '-' || s[0] == '+' || s[0] == ' ')) {
        ottl_abuf_put(b, s, 1);
        s++, n--;
    }
    while (fill-- > 0)
        ottl_abuf_put(b, f->zero && num ? "0" : " ", 1);
    ottl_abuf_put(b, s, n);
}

static void put_int(struct ottl_abuf *b, const struct fspec *f, int64_t i)
{
    char tmp[80], digits[70];
    uint64_t u = i < 0 ? (uint64_t)0 - (uint64_t)i : (uint64_t)i;
    int base = f->verb == 'x' || f->verb == 'X' ? 16 : f->verb == 'o' ? 8 : f->verb == 'b' ? 2 : 10;
    const char *dig = f->verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    size_t n = 0;
    do {
        digits[n++] = dig[u % (uint64_t)base];
        u /= (uint64_t)base;
    } while (u > 0);
    size_t o = 0;
    if (i < 0)
        tmp[o++] = '-';
    else if (f->plus)
        tmp[o++] = '+';
    else if (f->space)
        tmp[o++] = ' ';
    if (f->sharp && base != 10) {
        tmp[o++] = '0';
        if (base == 16)
            tmp[o++] = f->verb;
        else if (base == 2)
            tmp[o++] = 'b';
    }
    for (int k = f->prec; k > (int)n; k--)
        tmp[o++] = '0';
    while (n > 0)
        tmp[o++] = digits[--n];
    pad(b, f, tmp, o, f->prec < 0);
}

static void put_float(struct ottl_abuf *b, const struct fspec *f, double d)
{
    char tmp[1400]; /* %.1000f of the largest double */
    char v = f->verb == 'v' ? 'g' : f->verb;
    if (isnan(d) || isinf(d)) {
        snprintf(tmp, sizeof(tmp), "%s",
                 isnan(d) ? "NaN"
                 : d > 0  ? (f->plus ? "+Inf" : "Inf")
                          : "-Inf");
        struct fspec g = *f;
        g.zero = false;
        pad(b, &g, tmp, strlen(tmp), true);
        return;
    }
    int prec = f->prec < 0 ? 6 : f->prec;
    if ((v == 'g' || v == 'G') && f->prec < 0) {
        go_float_g(d, tmp, sizeof(tmp));
        if (v == 'G')
            for (char *c = tmp; *c; c++)
                *c = *c == 'e' ? 'E' : *c;
    } else if (v == 'e') {
        snprintf(tmp, sizeof(tmp), "%.*e", prec, d);
    } else if (v == 'E') {
        snprintf(tmp, sizeof(tmp), "%.*E", prec, d);
    } else if (v == 'g') {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
    } else if (v == 'G') {
        snprintf(tmp, sizeof(tmp), "%.*G", prec, d);
    } else {
        snprintf(tmp, sizeof(tmp), "%.*f", prec, d);
    }
    char out[sizeof(tmp) + 2];
    size_t o = 0;
    if (tmp[0] != '-' && (f->plus || f->space))
        out[o++] = f->plus ? '+' : ' ';
    snprintf(out + o, sizeof(out) - o, "%s", tmp);
    pad(b, f, out, strlen(out), true);
}

/* Go's %q of a string: strconv.Quote (printable runes as they are, the rest escaped). */
static void put_quoted(struct ottl_abuf *b, const struct fspec *f, const char *s, size_t n)
{
    struct ottl_abuf q = {b->a, NULL, 0, 0, false};
    ottl_abuf_put(&q, "\"", 1);
    for (size_t i = 0; i < n;) {
        uint32_t r;
        size_t l = rune_at(s, n, i, &r);
        char esc[16];
        if (r == RUNE_ERROR && l == 1) {
            snprintf(esc, sizeof(esc), "\\x%02x", (unsigned char)s[i]);
        } else if (r == '"' || r == '\\') {
            snprintf(esc, sizeof(esc), "\\%c", (char)r);
        } else if (r >= 0x20 && r != 0x7f && !(r >= 0x80 && r < 0xa0)) {
            ottl_abuf_put(&q, s + i, l);
            i += l;
            continue;
        } else {
            const char *named = r == '\a'   ? "\\a"
                                : r == '\b' ? "\\b"
                                : r == '\f' ? "\\f"
                                : r == '\n' ? "\\n"
                                : r == '\r' ? "\\r"
                                : r == '\t' ? "\\t"
                                : r == '\v' ? "\\v"
                                            : NULL;
            if (named != NULL)
                snprintf(esc, sizeof(esc), "%s", named);
            else if (r < 0x80)
                snprintf(esc, sizeof(esc), "\\x%02x", (unsigned)r);
            else
                snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)r);
        }
        ottl_abuf_put(&q, esc, strlen(esc));
        i += l;
    }
    ottl_abuf_put(&q, "\"", 1);
    if (!q.oom)
        pad(b, f, q.p, q.n, false);
    else
        b->oom = true;
}

static void put_hex_text(struct ottl_abuf *b, const struct fspec *f, const char *s, size_t n)
{
    struct ottl_abuf h = {b->a, NULL, 0, 0, false};
    for (size_t i = 0; i < n; i++) {
        char x[3] = {(f->verb == 'X' ? kt_hex_upper : kt_hex_lower)((unsigned char)s[i] >> 4),
                     (f->verb == 'X' ? kt_hex_upper : kt_hex_lower)((unsigned char)s[i]), 0};
        ottl_abuf_put(&h, x, 2);
    }
    ottl_abuf_put(&h, "", 0);
    if (!h.oom)
        pad(b, f, h.p, h.n, false);
    else
        b->oom = true;
}

/* One argument under one verb, as Go's fmt prints the Collector's value for it; a verb
 * the type has not gives %!verb(type=value). */
static void put_arg(struct ottl_abuf *b, const struct fspec *f, const struct ottl_value *v)
{
    char c = f->verb;
    switch (v->t) {
    case OTTL_NIL:
        if (c == 'v') {
            pad(b, f, "<nil>", 5, false);
            return;
        }
        break;
    case OTTL_BOOL:
        if (c == 'v' || c == 't') {
            pad(b, f, v->b ? "true" : "false", v->b ? 4 : 5, false);
            return;
        }
        break;
    case OTTL_INT:
        if (c == 'v' || c == 'd' || c == 'x' || c == 'X' || c == 'o' || c == 'b') {
            put_int(b, f, v->i);
            return;
        }
        break;
    case OTTL_DOUBLE:
        if (strchr("vgGeEfF", c) != NULL) {
            put_float(b, f, v->d);
            return;
        }
        break;
    case OTTL_STR:
    case OTTL_BYTES: {
        size_t n = v->s.n;
        if (f->prec >= 0 && (c == 's' || c == 'v' || c == 'q')) {
            size_t i = 0;
            for (int k = 0; k < f->prec && i < n; k++)
                i += seq_len(v->s.p + i, n - i);
            n = i;
        }
        if ((c == 's' || (c == 'v' && v->t == OTTL_STR))) {
            pad(b, f, v->s.p, n, false);
            return;
        }
        if (c == 'q') {
            put_quoted(b, f, v->s.p, n);
            return;
        }
        if (c == 'x' || c == 'X') {
            put_hex_text(b, f, v->s.p, v->s.n);
            return;
        }
        if (c == 'v') { /* []byte: [104 105] */
            ottl_abuf_put(b, "[", 1);
            for (size_t i = 0; i < v->s.n; i++) {
                char t[8];
                snprintf(t, sizeof(t), "%s%u", i ? " " : "", (unsigned char)v->s.p[i]);
                ottl_abuf_put(b, t, strlen(t));
            }
            ottl_abuf_put(b, "]", 1);
            return;
        }
        break;
    }
    default: break;
    }
    char head[8];
    snprintf(head, sizeof(head), "%%!%c(", c);
    ottl_abuf_put(b, head, strlen(head));
    if (v->t == OTTL_NIL) {
        ottl_abuf_put(b, "<nil>)", 6);
        return;
    }
    ottl_abuf_put(b, go_type(v->t), strlen(go_type(v->t)));
    ottl_abuf_put(b, "=", 1);
    struct fspec plain = {false, false, false, false, false, -1, -1, 'v'};
    put_arg(b, &plain, v);
    ottl_abuf_put(b, ")", 1);
}

/* Format(format, vals): Go's fmt.Sprintf of the values (strings, ints, doubles, bools,
 * bytes, nil), with its flags, width and precision and its %!verb(...) texts for a wrong
 * type, a missing or an extra argument. Maps and lists, which Go prints as its internal
 * structures, fail. */
int ottl_fn_format(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    const struct ottl_value *fmtv = &call->call.args[0]->lit;
    const struct ottl_node *list = call->call.args[1];
    struct ottl_value vals[16];
    size_t nv = list->list.n;
    if (nv > sizeof(vals) / sizeof(vals[0]))
        return kt_err_set(ev->err, KT_EINVAL, "Format: at most %zu values",
                          sizeof(vals) / sizeof(vals[0]));
    for (size_t i = 0; i < nv; i++) {
        int rc = ottl_eval_value(ev, list->list.items[i], &vals[i]);
        if (rc != 0)
            return rc;
        if (vals[i].t == OTTL_MAP || vals[i].t == OTTL_ARRAY || vals[i].t == OTTL_LIST)
            return kt_err_set(ev->err, KT_EINVAL, "Format: cannot format a %s",
                              ottl_vtype_name(vals[i].t));
    }
    struct kt_arena *a = arena_of(ev);
    if (a == NULL)
        return KT_EINVAL;
    struct ottl_abuf b = {a, NULL, 0, 0, false};
    ottl_abuf_put(&b, "", 0);
    const char *s = fmtv->s.p;
    size_t n = fmtv->s.n, used = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            ottl_abuf_put(&b, s + i, 1);
            continue;
        }
        struct fspec f = {false, false, false, false, false, -1, -1, 0};
        for (i++; i < n && strchr("+- 0#", s[i]) != NULL; i++) {
            f.plus |= s[i] == '+';
            f.minus |= s[i] == '-';
            f.space |= s[i] == ' ';
            f.zero |= s[i] == '0';
            f.sharp |= s[i] == '#';
        }
        for (; i < n && is_num(s[i]); i++)
            f.width = (f.width < 0 ? 0 : f.width) * 10 + (s[i] - '0');
        if (i < n && s[i] == '.')
            for (f.prec = 0, i++; i < n && is_num(s[i]); i++)
                f.prec = f.prec * 10 + (s[i] - '0');
        if (f.width > 1000 || f.prec > 1000)
            return kt_err_set(ev->err, KT_EINVAL, "Format: width or precision over 1000");
        if (i >= n) {
            ottl_abuf_put(&b, "%!(NOVERB)", 10);
            break;
        }
        f.verb = s[i];
        f.zero = f.zero && !f.minus;
        if (f.verb == '%') {
            ottl_abuf_put(&b, "%", 1);
            continue;
        }
        if (used >= nv) {
            char miss[16];
            snprintf(miss, sizeof(miss), "%%!%c(MISSING)", f.verb);
            ottl_abuf_put(&b, miss, strlen(miss));
            continue;
        }
        put_arg(&b, &f, &vals[used++]);
    }
    if (used < nv) {
        ottl_abuf_put(&b, "%!(EXTRA ", 9);
        struct fspec plain = {false, false, false, false, false, -1, -1, 'v'};
        for (size_t k = used; k < nv; k++) {
            if (k > used)
                ottl_abuf_put(&b, ", ", 2);
            if (vals[k].t == OTTL_NIL) {
                ottl_abuf_put(&b, "<nil>", 5);
                continue;
            }
            ottl_abuf_put(&b, go_type(vals[k].t), strlen(go_type(vals[k].t)));
            ottl_abuf_put(&b, "=", 1);
            put_arg(&b, &plain, &vals[k]);
        }
        ottl_abuf_put(&b, ")", 1);
    }
    return abuf_result(ev, &b, out);
}

/* ---- Decode ---- */

enum enc {
    ENC_B64,
    ENC_B64_RAW,
    ENC_B64_URL,
    ENC_B64_RAW_URL,
    ENC_UTF8,    /* bad bytes become U+FFFD */
    ENC_RAW,     /* as is: nop, utf-8-raw */
    ENC_UTF16LE, /* the BOM, if any, is kept as U+FEFF */
    ENC_UTF16BE,
    ENC_LATIN1,
};

static const struct {
    const char *name;
    enum enc e;
} encodings[] = {
    {"base64", ENC_B64},
    {"base64-raw", ENC_B64_RAW},
    {"base64-url", ENC_B64_URL},
    {"base64-raw-url", ENC_B64_RAW_URL},
};

/* The Collector's text encodings (its overrides, then IANA names, case-insensitive) that
 * kotel decodes; the IANA charsets with tables of their own (windows-1252, Shift_JIS, ...)
 * are refused. */
static const struct {
    const char *name;
    enum enc e;
} text_encodings[] = {
    {"", ENC_UTF8},
    {"utf-8", ENC_UTF8},
    {"utf8", ENC_UTF8},
    {"ascii", ENC_UTF8},
    {"us-ascii", ENC_UTF8},
    {"utf-8-raw", ENC_RAW},
    {"utf8-raw", ENC_RAW},
    {"nop", ENC_RAW},
    {"utf-16", ENC_UTF16LE},
    {"utf16", ENC_UTF16LE},
    {"utf-16le", ENC_UTF16LE},
    {"utf-16be", ENC_UTF16BE},
    {"iso-8859-1", ENC_LATIN1},
    {"iso_8859-1", ENC_LATIN1},
    {"iso_8859-1:1987", ENC_LATIN1},
    {"iso-ir-100", ENC_LATIN1},
    {"latin1", ENC_LATIN1},
    {"l1", ENC_LATIN1},
    {"ibm819", ENC_LATIN1},
    {"cp819", ENC_LATIN1},
    {"csisolatin1", ENC_LATIN1},
};

static int lookup_enc(const char *s, size_t n, enum enc *e)
{
    for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++)
        if (strlen(encodings[i].name) == n && memcmp(encodings[i].name, s, n) == 0) {
            *e = encodings[i].e;
            return 0;
        }
    for (size_t i = 0; i < sizeof(text_encodings) / sizeof(text_encodings[0]); i++)
        if (strlen(text_encodings[i].name) == n && strncasecmp(text_encodings[i].name, s, n) == 0) {
            *e = text_encodings[i].e;
            return 0;
        }
    return -1;
}

static int bad_encoding(struct kt_err *err, const char *s, size_t n)
{
    return kt_err_set(err, KT_EINVAL,
                      "Decode: unsupported encoding '%.*s' (kotel has base64, base64-raw, "
                      "base64-url, base64-raw-url, utf-8, ascii, utf-16, utf-16le, utf-16be, "
                      "iso-8859-1, nop)",
                      (int)(n > 64 ? 64 : n), s);
}

/* Go's base64 decoding: '\r' and '\n' skipped anywhere, other white space refused, one
 * alphabet, '=' padding required (padded forms) or refused (raw). */
static int b64_decode(struct ottl_abuf *b, const char *s, size_t n, enum enc e, struct kt_err *err)
{
    size_t from = 0, to = n;
    bool url = e == ENC_B64_URL || e == ENC_B64_RAW_URL, pad = e == ENC_B64 || e == ENC_B64_URL;
    uint32_t acc = 0;
    int bits = 0, q = 0, pads = 0;
    for (size_t i = from; i < to; i++) {
        char c = s[i];
        if (c == '\r' || c == '\n')
            continue;
        if (c == '=' && pad && q >= 2) {
            pads++;
            q++;
            if (q == 4)
                q = 0;
            continue;
        }
        int d = kt_base64_digit((unsigned char)c);
        if (pads > 0 || d < 0 || (url && (c == '+' || c == '/')) ||
            (!url && (c == '-' || c == '_')))
            return kt_err_set(err, KT_EINVAL, "Decode: illegal base64 data at input byte %zu",
                              i - from);
        acc = acc << 6 | (uint32_t)d;
        bits += 6;
        q = (q + 1) % 4;
        if (bits >= 8) {
            bits -= 8;
            char o = (char)(acc >> bits);
            ottl_abuf_put(b, &o, 1);
        }
    }
    if (q == 1 || (pad && q != 0) || (pads > 0 && q != 0))
        return kt_err_set(err, KT_EINVAL, "Decode: illegal base64 data at input byte %zu",
                          to - from);
    return 0;
}

static void utf16_decode(struct ottl_abuf *b, const uint8_t *p, size_t n, bool be)
{
    size_t i = 0;
    while (i + 1 < n) {
        uint32_t u = be ? (uint32_t)p[i] << 8 | p[i + 1] : (uint32_t)p[i + 1] << 8 | p[i];
        i += 2;
        if (u >= 0xd800 && u < 0xdc00 && i + 1 < n) {
            uint32_t l = be ? (uint32_t)p[i] << 8 | p[i + 1] : (uint32_t)p[i + 1] << 8 | p[i];
            if (l >= 0xdc00 && l < 0xe000) {
                i += 2;
                abuf_rune(b, 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00));
                continue;
            }
        }
        abuf_rune(b, u >= 0xd800 && u < 0xe000 ? RUNE_ERROR : u);
    }
    if (i < n)
        abuf_rune(b, RUNE_ERROR);
}

/* Decode(target, encoding): a string or bytes decoded to a string. */
int ottl_fn_decode(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v, encv;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc == 0)
        rc = ottl_want_string(ev, call, 1, &encv);
    if (rc != 0)
        return rc;
    enum enc e;
    if (lookup_enc(encv.s.p, encv.s.n, &e) != 0)
        return bad_encoding(ev->err, encv.s.p, encv.s.n);
    if (v.t != OTTL_STR && v.t != OTTL_BYTES)
        return kt_err_set(ev->err, KT_EINVAL, "Decode: cannot decode a %s", ottl_vtype_name(v.t));
    struct kt_arena *a = arena_of(ev);
    if (a == NULL)
        return KT_EINVAL;
    struct ottl_abuf b = {a, NULL, 0, 0, false};
    ottl_abuf_put(&b, "", 0);
    const uint8_t *p = (const uint8_t *)v.s.p;
    switch (e) {
    case ENC_B64:
    case ENC_B64_RAW:
    case ENC_B64_URL:
    case ENC_B64_RAW_URL:
        if ((rc = b64_decode(&b, v.s.p, v.s.n, e, ev->err)) != 0)
            return rc;
        break;
    case ENC_RAW: ottl_abuf_put(&b, v.s.p, v.s.n); break;
    case ENC_UTF8:
        for (size_t i = 0; i < v.s.n;) {
            size_t l = kt_utf8_seq_len(p + i, v.s.n - i);
            if (l == 0)
                abuf_rune(&b, RUNE_ERROR), l = 1;
            else
                ottl_abuf_put(&b, v.s.p + i, l);
            i += l;
        }
        break;
    case ENC_UTF16LE:
    case ENC_UTF16BE: utf16_decode(&b, p, v.s.n, e == ENC_UTF16BE); break;
    case ENC_LATIN1:
        for (size_t i = 0; i < v.s.n; i++)
            abuf_rune(&b, p[i]);
        break;
    }
    return abuf_result(ev, &b, out);
}

/* ---- glob (github.com/gobwas/glob without separators, as replace_match uses it) ---- */

/* '*' any runes, '?' one rune, [abc] [!abc] [a-z] [!a-z] one rune of (not of) the list or
 * range, {a,b} one of the alternatives (patterns themselves), '\' takes the next character
 * literally; ',' and '}' are plain outside braces, a '{' left open closes at the end. */

struct gframe {
    size_t resume; /* where the pattern goes on after the alternative's group */
    int level;
    const struct gframe *up;
};

struct glob {
    const char *p;
    size_t n;
    const char *s;
    size_t sn;
    long budget; /* steps left: backtracking is bounded, a pattern that needs more fails */
};

/* The end of the bracket expression opening at p[i] ('['), or 0 when it never closes. */
static size_t range_end(const char *p, size_t n, size_t i)
{
    i++;
    if (i < n && p[i] == '!')
        i++;
    uint32_t r;
    if (i < n) {
        size_t l = rune_at(p, n, i, &r);
        if (i + l < n && p[i + l] == '-')
            return i + l + 1 < n && (i += l + 1 + rune_at(p, n, i + l + 1, &r)) < n && p[i] == ']'
                       ? i + 1
                       : 0;
    }
    for (; i < n; i++) {
        if (p[i] == '\\' && i + 1 < n)
            i++;
        else if (p[i] == ']')
            return i + 1;
    }
    return 0;
}

/* Whether rune c is in the bracket expression p[i..end). */
static bool range_has(const char *p, size_t i, size_t end, uint32_t c)
{
    i++;
    bool neg = p[i] == '!';
    i += neg;
    uint32_t lo, hi;
    size_t l = rune_at(p, end, i, &lo);
    if (i + l < end - 1 && p[i + l] == '-') {
        rune_at(p, end, i + l + 1, &hi);
        return (c >= lo && c <= hi) != neg;
    }
    for (; i < end - 1;) {
        if (p[i] == '\\')
            i++;
        uint32_t r;
        i += rune_at(p, end - 1, i, &r);
        if (r == c)
            return !neg;
    }
    return neg;
}

/* The position after the group opening at p[i] ('{'), its alternatives' starts in alts. */
static size_t group_end(const char *p, size_t n, size_t i, size_t *alts, size_t *nalts,
                        size_t maxalts)
{
    int depth = 0;
    *nalts = 0;
    for (; i < n; i++) {
        char c = p[i];
        if (c == '\\') {
            i++;
        } else if (c == '[') {
            size_t e = range_end(p, n, i);
            if (e > 0)
                i = e - 1;
        } else if (c == '{') {
            if (depth++ == 0 && *nalts < maxalts)
                alts[(*nalts)++] = i + 1;
        } else if (c == ',' && depth == 1) {
            if (*nalts < maxalts)
                alts[(*nalts)++] = i + 1;
        } else if (c == '}' && --depth == 0) {
            return i + 1;
        }
    }
    return n;
}

#define GLOB_MAX_ALTS 64

static int gmatch(struct glob *g, size_t pi, int level, const struct gframe *up, size_t si)
{
    const char *p = g->p;
    for (;;) {
        if (--g->budget < 0)
            return -1;
        if (pi >= g->n || (level > 0 && (p[pi] == ',' || p[pi] == '}'))) {
            if (level == 0)
                return si == g->sn;
            return gmatch(g, up->resume, up->level, up->up, si);
        }
        uint32_t c, r;
        switch (p[pi]) {
        case '{': {
            size_t alts[GLOB_MAX_ALTS], nalts;
            size_t end = group_end(p, g->n, pi, alts, &nalts, GLOB_MAX_ALTS);
            struct gframe f = {end, level, up};
            for (size_t k = 0; k < nalts; k++) {
                int m = gmatch(g, alts[k], level + 1, &f, si);
                if (m != 0)
                    return m;
            }
            return 0;
        }
        case '*':
            while (pi < g->n && p[pi] == '*')
                pi++;
            if (pi >= g->n && level == 0)
                return 1; /* a trailing star takes the rest */
            /* at character boundaries only, as Go's matcher walks runes */
            for (size_t k = si; k <= g->sn; k += k < g->sn ? seq_len(g->s + k, g->sn - k) : 1) {
                int m = gmatch(g, pi, level, up, k);
                if (m != 0)
                    return m;
            }
            return 0;
        case '?':
            if (si >= g->sn)
                return 0;
            si += rune_at(g->s, g->sn, si, &r);
            pi++;
            continue;
        case '[': {
            size_t end = range_end(p, g->n, pi);
            if (si >= g->sn || end == 0)
                return 0;
            si += rune_at(g->s, g->sn, si, &r);
            if (!range_has(p, pi, end, r))
                return 0;
            pi = end;
            continue;
        }
        case '\\':
            if (++pi >= g->n)
                continue;
            /* fall through */
        default: {
            size_t l = rune_at(p, g->n, pi, &c);
            if (si + l > g->sn || memcmp(g->s + si, p + pi, l) != 0)
                return 0;
            si += l;
            pi += l;
            continue;
        }
        }
    }
}

/* NULL when pat compiles as gobwas/glob compiles it, else why not. */
static const char *glob_check(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\\') {
            i++;
            continue;
        }
        if (p[i] != '[')
            continue;
        size_t end = range_end(p, n, i);
        if (end == 0)
            return "unexpected end of input";
        size_t j = i + 1 + (p[i + 1] == '!');
        if (j + 1 == end)
            return "could not parse range";
        uint32_t lo, hi;
        size_t l = rune_at(p, n, j, &lo);
        if (p[j + l] == '-' && j + l + 1 < end - 1) {
            rune_at(p, n, j + l + 1, &hi);
            if (hi < lo)
                return "hi character should be greater than lo";
        }
        i = end - 1;
    }
    return NULL;
}

/* 1 when s matches the glob, 0 when not, KT_EINVAL for a bad pattern or one too costly. */
static int glob_match(const char *pat, size_t pn, const char *s, size_t sn, const char *fn,
                      struct kt_err *err)
{
    const char *why = glob_check(pat, pn);
    if (why != NULL)
        return kt_err_set(err, KT_EINVAL, "%s: invalid glob pattern \"%.*s\": %s", fn,
                          (int)(pn > 80 ? 80 : pn), pat, why);
    struct glob g = {pat, pn, s, sn, 1000000};
    int m = gmatch(&g, 0, 0, NULL, 0);
    if (m < 0)
        return kt_err_set(err, KT_EINVAL, "%s: glob pattern \"%.*s\" needs too many steps", fn,
                          (int)(pn > 80 ? 80 : pn), pat);
    return m;
}

/* The replacement of replace_match / replace_all_matches: the string as is, or with the
 * function (SHA256) its hex hash, put into replacement_format's %s (Go's Sprintf with one
 * argument: a format holding a %s and no other verb). */
static int replacement(struct ottl_eval *ev, const struct ottl_node *call, const char **p,
                       size_t *n)
{
    struct ottl_value r;
    int rc = ottl_want_string(ev, call, 2, &r);
    if (rc != 0)
        return rc;
    *p = r.s.p;
    *n = r.s.n;
    if (call->call.args[3] == NULL)
        return 0;
    struct kt_arena *a = arena_of(ev);
    if (a == NULL)
        return KT_EINVAL;
    unsigned char sum[32];
    char *hex = kt_arena_alloc(a, 65);
    if (hex == NULL)
        return oom(ev);
    if (mbedtls_sha256_ret((const unsigned char *)r.s.p, r.s.n, sum, 0) != 0)
        return kt_err_set(ev->err, KT_EINVAL, "SHA256 failed");
    kt_hex_encode(sum, sizeof(sum), hex);
    *p = hex;
    *n = 64;
    if (call->call.args[4] == NULL)
        return 0;
    struct ottl_value f;
    if ((rc = ottl_want_string(ev, call, 4, &f)) != 0)
        return rc;
    bool has_s = false, ok = memchr(f.s.p, '\n', f.s.n) == NULL;
    for (size_t i = 0; ok && i < f.s.n; i++) {
        if (f.s.p[i] != '%')
            continue;
        if (i + 1 < f.s.n && f.s.p[i + 1] != 's')
            ok = false;
        has_s = has_s || (i + 1 < f.s.n && f.s.p[i + 1] == 's');
        i++;
    }
    if (!ok || !has_s)
        return kt_err_set(ev->err, KT_EINVAL,
                          "%s: replacement_format must hold a %%s and no other format specifier",
                          call->call.fn->name);
    struct ottl_abuf b = {a, NULL, 0, 0, false};
    bool used = false;
    for (size_t i = 0; i < f.s.n; i++) {
        if (f.s.p[i] != '%') {
            ottl_abuf_put(&b, f.s.p + i, 1);
        } else if (i + 1 >= f.s.n) {
            ottl_abuf_put(&b, "%!(NOVERB)", 10);
        } else {
            ottl_abuf_put(&b, used ? "%!s(MISSING)" : hex, used ? 12 : 64);
            used = true;
            i++;
        }
    }
    if (b.oom)
        return oom(ev);
    *p = b.p;
    *n = b.n;
    return 0;
}

int ottl_fn_replace_match(struct ottl_eval *ev, const struct ottl_node *call,
                          struct ottl_value *out)
{
    (void)out;
    struct ottl_value pat, v = {.t = OTTL_NIL};
    const char *rp;
    size_t rn;
    int rc = ottl_want_string(ev, call, 1, &pat);
    if (rc == 0)
        rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc == 0)
        rc = replacement(ev, call, &rp, &rn);
    if (rc != 0 || v.t != OTTL_STR)
        return rc;
    if ((rc = glob_match(pat.s.p, pat.s.n, v.s.p, v.s.n, "replace_match", ev->err)) <= 0)
        return rc;
    struct ottl_value nv = {.t = OTTL_STR, .s = {rp, rn}};
    return ottl_path_set(ev, call->call.args[0], &nv);
}

int ottl_fn_replace_all_matches(struct ottl_eval *ev, const struct ottl_node *call,
                                struct ottl_value *out)
{
    (void)out;
    struct ottl_value pat;
    struct ottl_map m = {NULL, NULL};
    const char *rp;
    size_t rn;
    int rc = ottl_want_string(ev, call, 1, &pat);
    if (rc == 0)
        rc = ottl_path_map(ev, call->call.args[0], &m);
    if (rc == 0)
        rc = replacement(ev, call, &rp, &rn);
    if (rc != 0 || m.kv == NULL)
        return rc;
    char *copy = NULL;
    ottl_kv **kv = *m.kv;
    for (size_t i = 0; i < *m.n; i++) {
        ottl_any *av = kv[i]->value;
        if (av == NULL ||
            av->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
            continue;
        const char *s = av->string_value != NULL ? av->string_value : "";
        if ((rc = glob_match(pat.s.p, pat.s.n, s, strlen(s), "replace_all_matches", ev->err)) < 0)
            return rc;
        if (rc == 0)
            continue;
        /* one copy for every value replaced: they are read-only once set */
        if (copy == NULL) {
            struct kt_arena *a = arena_of(ev);
            if (a == NULL)
                return KT_EINVAL;
            if ((copy = kt_arena_strndup(a, rp, rn)) == NULL)
                return oom(ev);
        }
        av->string_value = copy;
    }
    return 0;
}

/* ---- parse-time checks ---- */

/* A literal argument (a literal, or a list or map literal of literals), as the Collector
 * sees one: it converts those when it compiles the statement. */
static bool is_literal(const struct ottl_node *a)
{
    if (a->kind == OTTL_N_LIT)
        return true;
    if (a->kind != OTTL_N_LIST && a->kind != OTTL_N_MAP)
        return false;
    for (size_t i = 0; i < a->list.n; i++)
        if (!is_literal(a->list.items[i]))
            return false;
    return true;
}

static int literal_error(const struct ottl_node *call, size_t i, const char *src, const char *what,
                         struct kt_err *err)
{
    return ottl_syntax_error(err, src, call->call.args[i]->pos, "%s: argument %zu %s",
                             call->call.fn->name, i + 1, what);
}

/* Every argument the Collector takes as a StringGetter (all but the editors' target, the
 * function name and the value of Decode and Index) may not be a literal of another type. */
int ottl_check_strings(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const char *name = call->call.fn->name;
    bool editor = call->call.fn->editor;
    for (size_t i = 0; i < call->call.n_args; i++) {
        const struct ottl_node *a = call->call.args[i];
        if (a == NULL || (editor && (i == 0 || i == 3)) || (strcmp(name, "Decode") == 0 && i == 0))
            continue;
        if (is_literal(a) && (a->kind != OTTL_N_LIT || a->lit.t != OTTL_STR))
            return literal_error(call, i, src, "must be a string", err);
    }
    if (editor && call->call.args[1]->kind == OTTL_N_LIT) {
        const struct ottl_value *p = &call->call.args[1]->lit;
        const char *why = glob_check(p->s.p, p->s.n);
        if (why != NULL)
            return ottl_syntax_error(err, src, call->call.args[1]->pos,
                                     "%s: invalid glob pattern \"%.*s\": %s", name, (int)p->s.n,
                                     p->s.p, why);
    }
    return 0;
}

int ottl_check_convert_case(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    int rc = ottl_check_strings(call, src, err);
    if (rc != 0)
        return rc;
    const char *c = call->call.args[1]->lit.s.p;
    if (strcmp(c, "lower") != 0 && strcmp(c, "upper") != 0 && strcmp(c, "snake") != 0 &&
        strcmp(c, "camel") != 0)
        return ottl_syntax_error(err, src, call->call.args[1]->pos,
                                 "ConvertCase: invalid case \"%s\" (lower, upper, snake, camel)",
                                 c);
    return 0;
}

int ottl_check_decode(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    int rc = ottl_check_strings(call, src, err);
    if (rc != 0)
        return rc;
    const struct ottl_node *e = call->call.args[1];
    enum enc x;
    if (e->kind == OTTL_N_LIT && lookup_enc(e->lit.s.p, e->lit.s.n, &x) != 0) {
        struct kt_err why = {0};
        bad_encoding(&why, e->lit.s.p, e->lit.s.n);
        return ottl_syntax_error(err, src, e->pos, "%s", why.msg);
    }
    return 0;
}

/* Double, Bool, Hex, SpanID, TraceID convert a literal target when compiled. */
int ottl_check_like(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const struct ottl_node *a = call->call.args[0];
    if (!is_literal(a))
        return 0;
    if (a->kind != OTTL_N_LIT)
        return literal_error(call, 0, src, "cannot be a list or map", err);
    const char *name = call->call.fn->name;
    struct kt_err why = {0};
    int rc = 0;
    bool has, b;
    double d;
    if (strcmp(name, "Double") == 0) {
        rc = ottl_to_double(NULL, &a->lit, &d, &has, &why);
    } else if (strcmp(name, "Bool") == 0) {
        rc = to_bool(&a->lit, &b, &has, &why);
    } else if (name[0] != 'H') {
        uint8_t tmp[8], id[16];
        const uint8_t *p;
        size_t n;
        if ((rc = to_bytes(&a->lit, tmp, &p, &n, name, &why)) == 0)
            rc = id_bytes(p, n, name[0] == 'S' ? 8 : 16, id, name, &why);
    }
    if (rc == KT_ENOMEM)
        return kt_err_set(err, rc, "out of memory");
    return rc != 0 ? ottl_syntax_error(err, src, a->pos, "%s", why.msg) : 0;
}
