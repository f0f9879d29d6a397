/* OTTL converters and editors, and the PCRE2 glue they share. Regex patterns are literals,
 * compiled once at parse time with their match data, so matching allocates nothing. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <mbedtls/md5.h>
#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "kt_codec.h"
#include "ottl_int.h"

/* ---- regex ---- */

int ottl_regex_compile(struct ottl_prog *p, const char *pat, size_t n, struct ottl_regex **out,
                       struct kt_err *err)
{
    int ec;
    PCRE2_SIZE eo;
    /* Go's regexp works on UTF-8 and never fails on invalid input; MATCH_INVALID_UTF gives
     * the same safety for attribute values nobody validated. */
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pat, n, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
    if (code == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof(msg));
        return kt_err_set(err, KT_EINVAL, "invalid regex \"%.*s\": %s at offset %zu",
                          (int)(n > 80 ? 80 : n), pat, (const char *)msg, (size_t)eo);
    }
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* interpretation is the fallback */
    struct ottl_regex *re = kt_arena_alloc(&p->arena, sizeof(*re));
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
    if (re == NULL || md == NULL) {
        pcre2_match_data_free(md);
        pcre2_code_free(code);
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    }
    re->code = code;
    re->md = md;
    re->grok = NULL;
    re->next = p->regexes;
    p->regexes = re;
    *out = re;
    return 0;
}

/* 1 and the number of groups set in *groups on a match, 0 on none, KT_EINVAL when PCRE2
 * gives up (match limit). */
static int match_at(const struct ottl_regex *re, const char *s, size_t n, size_t off, int *groups,
                    struct kt_err *err)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, off, 0, re->md, NULL);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc >= 0) {
        if (groups != NULL)
            *groups = rc;
        return 1;
    }
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(rc, msg, sizeof(msg));
    return kt_err_set(err, KT_EINVAL, "regex match failed: %s", (const char *)msg);
}

static int ottl_regex_match(const struct ottl_regex *re, const char *s, size_t n, bool *m,
                            struct kt_err *err)
{
    int rc = match_at(re, s, n, 0, NULL, err);
    *m = rc == 1;
    return rc < 0 ? rc : 0;
}

/* Appends the replacement template with Go's regexp.Expand rules: $1, ${1}, $name,
 * ${name}, $$ for '$'; a name is the longest run of letters, digits and '_'; an unknown
 * group expands to nothing; a '$' that starts nothing valid is kept. */
static void expand(struct ottl_abuf *b, const struct ottl_regex *re, const char *subj, int groups,
                   const char *tpl, size_t tn)
{
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    size_t i = 0;
    while (i < tn) {
        const char *dollar = memchr(tpl + i, '$', tn - i);
        size_t lit = dollar != NULL ? (size_t)(dollar - tpl) - i : tn - i;
        ottl_abuf_put(b, tpl + i, lit);
        i += lit;
        if (i >= tn)
            break;
        i++; /* '$' */
        if (i < tn && tpl[i] == '$') {
            ottl_abuf_put(b, "$", 1);
            i++;
            continue;
        }
        bool brace = i < tn && tpl[i] == '{';
        size_t ns = i + brace, ne = ns;
        while (ne < tn &&
               (tpl[ne] == '_' || (tpl[ne] >= '0' && tpl[ne] <= '9') ||
                (tpl[ne] >= 'a' && tpl[ne] <= 'z') || (tpl[ne] >= 'A' && tpl[ne] <= 'Z')))
            ne++;
        if (ne == ns || (brace && (ne >= tn || tpl[ne] != '}'))) {
            ottl_abuf_put(b, "$", 1);
            continue;
        }
        size_t nl = ne - ns;
        bool numeric = true;
        for (size_t k = ns; k < ne; k++)
            numeric = numeric && tpl[k] >= '0' && tpl[k] <= '9';
        long g = -1;
        if (numeric) {
            g = nl > 6 ? -1 : strtol(tpl + ns, NULL, 10);
        } else if (nl < 64) {
            char name[64];
            memcpy(name, tpl + ns, nl);
            name[nl] = '\0';
            int num = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)name);
            g = num >= 0 ? num : -1;
        }
        if (g >= 0 && g < groups && ov[2 * g] != PCRE2_UNSET)
            ottl_abuf_put(b, subj + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
        i = ne + brace;
    }
}

static size_t utf8_step(const char *s, size_t n, size_t i)
{
    i++;
    while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
        i++;
    return i;
}

/* Replaces every non-overlapping match as Go's ReplaceAllString does (an empty match right
 * after a match is skipped). *changed is false when nothing matched; *out is then s. */
static int regex_replace(struct ottl_eval *ev, const struct ottl_regex *re, const char *s, size_t n,
                         const char *tpl, size_t tn, const char **out, size_t *outn, bool *changed)
{
    struct kt_arena *a = NULL;
    struct ottl_abuf b = {NULL, NULL, 0, 0, false};
    size_t pos = 0, last = 0;
    size_t prev_end = (size_t)-1;
    *changed = false;
    while (pos <= n) {
        int groups = 0;
        int rc = match_at(re, s, n, pos, &groups, ev->err);
        if (rc == 0)
            break;
        if (rc < 0)
            return rc;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
        size_t ms = ov[0], me = ov[1];
        if (ms == me && ms == prev_end) {
            if (ms >= n)
                break;
            pos = utf8_step(s, n, ms);
            continue;
        }
        if (a == NULL) {
            if ((a = ottl_eval_arena(ev)) == NULL)
                return KT_EINVAL;
            b.a = a;
        }
        *changed = true;
        ottl_abuf_put(&b, s + last, ms - last);
        expand(&b, re, s, groups, tpl, tn);
        last = me;
        prev_end = me;
        if (me == ms) {
            if (ms >= n)
                break;
            pos = utf8_step(s, n, ms);
        } else {
            pos = me;
        }
    }
    if (!*changed) {
        *out = s;
        *outn = n;
        return 0;
    }
    ottl_abuf_put(&b, s + last, n - last);
    if (b.oom)
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    *out = b.p != NULL ? b.p : "";
    *outn = b.n;
    return 0;
}

/* ---- helpers ---- */

static int want_map(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_map *m)
{
    return ottl_path_map(ev, call->call.args[0], m);
}

static void set_result_str(struct ottl_value *out, const char *p, size_t n)
{
    out->t = OTTL_STR;
    out->s.p = p;
    out->s.n = n;
}

/* ---- converters ---- */

static int fn_ismatch(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc != 0)
        return rc;
    out->t = OTTL_BOOL;
    out->b = false;
    if (v.t == OTTL_NIL)
        return 0;
    char tmp[OTTL_TEXT_TMP];
    const char *p;
    size_t n;
    if ((rc = ottl_value_text(ev->t->arena, &v, false, tmp, &p, &n, ev->err)) != 0)
        return kt_err_prefix(ev->err, "IsMatch: ");
    return ottl_regex_match(call->call.re, p, n, &out->b, ev->err);
}

static int fn_concat(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value delim;
    int rc = ottl_want_string(ev, call, 1, &delim);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    struct ottl_abuf b = {a, NULL, 0, 0, false};
    const struct ottl_node *list = call->call.args[0];
    for (size_t i = 0; i < list->list.n; i++) {
        struct ottl_value v;
        if ((rc = ottl_eval_value(ev, list->list.items[i], &v)) != 0)
            return rc;
        if (i > 0)
            ottl_abuf_put(&b, delim.s.p, delim.s.n);
        /* As the Collector renders them (differential test): nil as Go prints it, maps and
         * attribute arrays as JSON; a list literal has no such text and is left out. */
        if (v.t == OTTL_LIST)
            continue;
        if (v.t == OTTL_NIL) {
            ottl_abuf_put(&b, "<nil>", 5);
            continue;
        }
        char tmp[OTTL_TEXT_TMP];
        const char *p;
        size_t n;
        if ((rc = ottl_value_text(a, &v, true, tmp, &p, &n, ev->err)) != 0)
            return rc;
        ottl_abuf_put(&b, p, n);
    }
    if (b.oom)
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    set_result_str(out, b.p != NULL ? b.p : "", b.n);
    return 0;
}

static int fn_len(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc != 0)
        return rc;
    out->t = OTTL_INT;
    switch (v.t) {
    case OTTL_STR: out->i = (int64_t)v.s.n; return 0;
    case OTTL_MAP: out->i = (int64_t)*v.m.n; return 0;
    case OTTL_ARRAY: out->i = (int64_t)v.arr->n_values; return 0;
    case OTTL_LIST: out->i = (int64_t)v.list->list.n; return 0;
    case OTTL_MSG:
        /* exemplars and quantile_values are slices the Collector's Len counts; buckets are
         * not a slice */
        if (v.msg.n != NULL) {
            out->i = (int64_t)*v.msg.n;
            return 0;
        }
        /* fall through */
    default:
        return kt_err_set(ev->err, KT_EINVAL, "Len: want a string, map or list, got %s",
                          ottl_value_type_name(&v));
    }
}

/* Whether s is a decimal int64 as Go's strconv.ParseInt reads one (an optional sign, digits,
 * nothing around them); *x holds it when so. */
static bool int_text(const char *s, size_t n, int64_t *x)
{
    char buf[32];
    if (n == 0 || n >= sizeof(buf) || !(s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *x = v;
    return true;
}

static int fn_int(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    switch (v.t) {
    case OTTL_INT: *out = v; return 0;
    case OTTL_BOOL:
        out->t = OTTL_INT;
        out->i = v.b;
        return 0;
    case OTTL_DOUBLE:
        /* Truncation toward zero; values no int64 holds give nil. */
        if (isnan(v.d) || v.d >= 9223372036854775808.0 || v.d < -9223372036854775808.0)
            return 0;
        out->t = OTTL_INT;
        out->i = (int64_t)v.d;
        return 0;
    case OTTL_STR:
        if (!int_text(v.s.p, v.s.n, &out->i))
            return kt_err_set(ev->err, KT_EINVAL, "Int: \"%.*s\" is not an integer",
                              (int)(v.s.n > 64 ? 64 : v.s.n), v.s.p);
        out->t = OTTL_INT;
        return 0;
    case OTTL_NIL: return 0;
    /* The Collector's int-like getter refuses the rest (differential test). */
    default:
        return kt_err_set(ev->err, KT_EINVAL, "Int: cannot convert a %s", ottl_vtype_name(v.t));
    }
}

static int fn_string(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc != 0)
        return rc;
    memset(out, 0, sizeof(*out));
    if (v.t == OTTL_NIL)
        return 0;
    if (v.t == OTTL_STR) {
        *out = v;
        return 0;
    }
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    char tmp[OTTL_TEXT_TMP];
    const char *p;
    size_t n;
    if ((rc = ottl_value_text(a, &v, true, tmp, &p, &n, ev->err)) != 0)
        return kt_err_prefix(ev->err, "String: ");
    if (p == tmp && (p = kt_arena_strndup(a, tmp, n)) == NULL)
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    set_result_str(out, p, n);
    return 0;
}

/* The digest of a string argument as lowercase hex in the arena, as the Collector's MD5,
 * SHA1, SHA256, SHA512 and XXH3 return it. */
enum digest { DIGEST_MD5, DIGEST_SHA1, DIGEST_SHA256, DIGEST_SHA512, DIGEST_XXH3 };

static int hex_digest(struct ottl_eval *ev, const struct ottl_node *call, enum digest d,
                      struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_want_string(ev, call, 0, &v);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    const unsigned char *in = (const unsigned char *)v.s.p;
    unsigned char sum[64];
    size_t n = 0;
    switch (d) {
    case DIGEST_MD5: n = 16, rc = mbedtls_md5_ret(in, v.s.n, sum); break;
    case DIGEST_SHA1: n = 20, rc = mbedtls_sha1_ret(in, v.s.n, sum); break;
    case DIGEST_SHA256: n = 32, rc = mbedtls_sha256_ret(in, v.s.n, sum, 0); break;
    case DIGEST_SHA512: n = 64, rc = mbedtls_sha512_ret(in, v.s.n, sum, 0); break;
    case DIGEST_XXH3: {
        /* big-endian, as Go's hash.Hash Sum appends a 64-bit sum */
        XXH64_hash_t h = XXH3_64bits(in, v.s.n);
        for (n = 0; n < 8; n++)
            sum[n] = (unsigned char)(h >> (56 - 8 * n));
        break;
    }
    }
    if (rc != 0)
        return kt_err_set(ev->err, KT_EINVAL, "%s failed", call->call.fn->name);
    char *hex = kt_arena_alloc(a, 2 * n + 1);
    if (hex == NULL)
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    kt_hex_encode(sum, n, hex);
    set_result_str(out, hex, 2 * n);
    return 0;
}

static int fn_md5(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return hex_digest(ev, call, DIGEST_MD5, out);
}

static int fn_sha1(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return hex_digest(ev, call, DIGEST_SHA1, out);
}

static int fn_sha256(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return hex_digest(ev, call, DIGEST_SHA256, out);
}

static int fn_sha512(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return hex_digest(ev, call, DIGEST_SHA512, out);
}

static int fn_xxh3(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return hex_digest(ev, call, DIGEST_XXH3, out);
}

/* FNV-1a 64 as an int64 (the Collector's FNV converts the uint64 sum, so it may be
 * negative). */
static int fn_fnv(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_want_string(ev, call, 0, &v);
    if (rc != 0)
        return rc;
    out->t = OTTL_INT;
    out->i = (int64_t)ottl_hash_fnv1a64(v.s.p, v.s.n);
    return 0;
}

/* Murmur3Hash: the 32-bit MurmurHash3 (seed 0) as hex of its little-endian bytes, as the
 * Collector (v0.161.0, differential test) returns it; that version has no Murmur3Hex. */
static int fn_murmur3_hash(struct ottl_eval *ev, const struct ottl_node *call,
                           struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_want_string(ev, call, 0, &v);
    if (rc != 0)
        return rc;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    uint32_t h = ottl_hash_murmur3_32(v.s.p, v.s.n, 0);
    unsigned char le[4] = {(unsigned char)h, (unsigned char)(h >> 8), (unsigned char)(h >> 16),
                           (unsigned char)(h >> 24)};
    char *hex = kt_arena_alloc(a, 9);
    if (hex == NULL)
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    kt_hex_encode(le, sizeof(le), hex);
    set_result_str(out, hex, 8);
    return 0;
}

/* HasPrefix / HasSuffix: both arguments strings (a nil or other type fails, as the
 * Collector's string getters do). */
static int affix(struct ottl_eval *ev, const struct ottl_node *call, bool suffix,
                 struct ottl_value *out)
{
    struct ottl_value v, x;
    int rc = ottl_want_string(ev, call, 0, &v);
    if (rc == 0)
        rc = ottl_want_string(ev, call, 1, &x);
    if (rc != 0)
        return rc;
    out->t = OTTL_BOOL;
    out->b = ottl_has_affix(&v, &x, suffix);
    return 0;
}

static int fn_has_prefix(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return affix(ev, call, false, out);
}

static int fn_has_suffix(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return affix(ev, call, true, out);
}

static int want_int(struct ottl_eval *ev, const struct ottl_node *call, size_t arg,
                    struct ottl_value *v)
{
    int rc = ottl_eval_value(ev, call->call.args[arg], v);
    if (rc != 0)
        return rc;
    if (v->t != OTTL_INT)
        return kt_err_set(ev->err, KT_EINVAL, "%s: argument %zu must be an int, got %s",
                          call->call.fn->name, arg + 1, ottl_vtype_name(v->t));
    return 0;
}

/* Substring(target, start, length[, utf8_safe]) as the Collector's: in bytes, or in
 * without the cut characters' bytes when utf8_safe is true; a negative start, a length not above
 * zero or a range past the end fail. The result is copied to the arena to be NUL-terminated like
 * every string result. */
static int fn_substring(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    struct ottl_value v, start, len;
    int rc = want_int(ev, call, 1, &start);
    if (rc != 0)
        return rc;
    if (start.i < 0)
        return kt_err_set(ev->err, KT_EINVAL, "Substring: start %" PRId64 " cannot be negative",
                          start.i);
    if ((rc = want_int(ev, call, 2, &len)) != 0)
        return rc;
    if (len.i <= 0)
        return kt_err_set(ev->err, KT_EINVAL, "Substring: length %" PRId64 " must be above zero",
                          len.i);
    if ((rc = ottl_want_string(ev, call, 0, &v)) != 0)
        return rc;
    bool chars = false;
    if (call->call.args[3] != NULL) {
        struct ottl_value u;
        if ((rc = ottl_eval_value(ev, call->call.args[3], &u)) != 0)
            return rc;
        if (u.t != OTTL_BOOL)
            return kt_err_set(ev->err, KT_EINVAL, "Substring: utf8_safe must be a bool, got %s",
                              ottl_vtype_name(u.t));
        chars = u.b;
    }
    if ((uint64_t)start.i > v.s.n || (uint64_t)len.i > v.s.n - (uint64_t)start.i)
        return kt_err_set(ev->err, KT_EINVAL,
                          "Substring: start %" PRId64 " + length %" PRId64
                          " is past the end of a string of %zu bytes",
                          start.i, len.i, v.s.n);
    size_t from = (size_t)start.i, end = from + (size_t)len.i;
    /* utf8_safe (Collector v0.161.0, differential test): the byte range, less the parts of
     * characters it cuts at either edge. */
    while (chars && from < end && ((unsigned char)v.s.p[from] & 0xc0) == 0x80)
        from++;
    while (chars && end > from && end < v.s.n && ((unsigned char)v.s.p[end] & 0xc0) == 0x80)
        end--;
    size_t n = end - from;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    char *p = kt_arena_strndup(a, v.s.p + from, n);
    if (p == NULL)
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    set_result_str(out, p, n);
    return 0;
}

/* IsString, IsBool, IsInt, IsDouble, IsMap, IsList: whether the value has that type; nil
 * and every other type are false, not errors (the Collector maps its getters' type errors
 * to false). A literal list or map counts as the Collector's []any / map[string]any. */
static int is_type(struct ottl_eval *ev, const struct ottl_node *call, enum ottl_vtype t,
                   struct ottl_value *out)
{
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc != 0)
        return rc;
    out->t = OTTL_BOOL;
    if (v.t == OTTL_LIST)
        out->b = (t == OTTL_MAP && v.list->kind == OTTL_N_MAP) ||
                 (t == OTTL_ARRAY && v.list->kind == OTTL_N_LIST);
    else if (v.t == OTTL_MSG)
        out->b = t == OTTL_ARRAY && v.msg.n != NULL; /* the slices, as for Len */
    else
        out->b = v.t == t;
    return 0;
}

static int fn_is_string(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return is_type(ev, call, OTTL_STR, out);
}

static int fn_is_bool(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return is_type(ev, call, OTTL_BOOL, out);
}

static int fn_is_int(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return is_type(ev, call, OTTL_INT, out);
}

static int fn_is_double(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return is_type(ev, call, OTTL_DOUBLE, out);
}

static int fn_is_map(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return is_type(ev, call, OTTL_MAP, out);
}

static int fn_is_list(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    return is_type(ev, call, OTTL_ARRAY, out);
}

static int fn_isrootspan(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)call;
    const Opentelemetry__Proto__Trace__V1__Span *s = ev->t->span;
    if (s == NULL)
        return kt_err_set(ev->err, KT_EINVAL, "IsRootSpan: no span in this context");
    bool root = true;
    for (size_t i = 0; i < s->parent_span_id.len; i++)
        root = root && s->parent_span_id.data[i] == 0;
    out->t = OTTL_BOOL;
    out->b = root;
    return 0;
}

/* ---- editors ---- */

static int fn_set(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)out;
    struct ottl_value v;
    int rc = ottl_eval_value(ev, call->call.args[1], &v);
    if (rc != 0)
        return rc;
    return ottl_path_set(ev, call->call.args[0], &v);
}

static bool key_is(const ottl_kv *kv, const char *key, size_t n)
{
    return ottl_key_eq(kv->key, key, n);
}

struct key_arg {
    const char *key;
    size_t n;
};

static bool keep_not_key(const ottl_kv *kv, void *arg)
{
    const struct key_arg *k = arg;
    return !key_is(kv, k->key, k->n);
}

static int fn_delete_key(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)out;
    struct ottl_map m;
    struct ottl_value key;
    int rc = want_map(ev, call, &m);
    if (rc == 0)
        rc = ottl_want_string(ev, call, 1, &key);
    if (rc != 0 || m.kv == NULL)
        return rc;
    struct key_arg k = {key.s.p, key.s.n};
    ottl_map_filter(&m, keep_not_key, &k);
    return 0;
}

struct regex_arg {
    const struct ottl_regex *re;
    bool keep_matching;
    int rc;
    struct kt_err *err;
};

static bool keep_by_regex(const ottl_kv *kv, void *arg)
{
    struct regex_arg *r = arg;
    if (r->rc != 0)
        return true;
    const char *k = kv->key != NULL ? kv->key : "";
    bool m = false;
    r->rc = ottl_regex_match(r->re, k, strlen(k), &m, r->err);
    if (r->rc != 0)
        return true;
    return m == r->keep_matching;
}

static int filter_by_regex(struct ottl_eval *ev, const struct ottl_node *call, bool keep)
{
    struct ottl_map m;
    int rc = want_map(ev, call, &m);
    if (rc != 0 || m.kv == NULL)
        return rc;
    struct regex_arg r = {call->call.re, keep, 0, ev->err};
    ottl_map_filter(&m, keep_by_regex, &r);
    return r.rc;
}

static int fn_delete_matching_keys(struct ottl_eval *ev, const struct ottl_node *call,
                                   struct ottl_value *out)
{
    (void)out;
    return filter_by_regex(ev, call, false);
}

static int fn_keep_matching_keys(struct ottl_eval *ev, const struct ottl_node *call,
                                 struct ottl_value *out)
{
    (void)out;
    return filter_by_regex(ev, call, true);
}

static bool in_list(const ottl_kv *kv, void *arg)
{
    const struct ottl_node *list = arg;
    for (size_t i = 0; i < list->list.n; i++) {
        const struct ottl_value *s = &list->list.items[i]->lit;
        if (key_is(kv, s->s.p, s->s.n))
            return true;
    }
    return false;
}

static int fn_keep_keys(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)out;
    struct ottl_map m;
    int rc = want_map(ev, call, &m);
    if (rc != 0 || m.kv == NULL)
        return rc;
    ottl_map_filter(&m, in_list, (void *)call->call.args[1]);
    return 0;
}

/* replace_pattern with its optional function (SHA256, the one kotel has) and
 * replacement_format, as the Collector (v0.161.0) does it: each match is replaced by the
 * hash of its expanded replacement, put into the format's %s. *changed: something
 * matched. */
static int replace_with_function(struct ottl_eval *ev, const struct ottl_node *call,
                                 const struct ottl_value *v, const struct ottl_value *repl,
                                 const char **p, size_t *n, bool *changed)
{
    *changed = false;
    struct kt_arena *a = ottl_eval_arena(ev);
    if (a == NULL)
        return KT_EINVAL;
    struct ottl_value fmt = {.t = OTTL_NIL};
    int rc;
    if (call->call.args[4] != NULL && (rc = ottl_want_string(ev, call, 4, &fmt)) != 0)
        return rc;
    const char *pct = NULL;
    if (fmt.t == OTTL_STR) {
        for (size_t i = 0; i < fmt.s.n; i++) {
            if (fmt.s.p[i] != '%')
                continue;
            if (i + 1 >= fmt.s.n || fmt.s.p[i + 1] != 's')
                pct = NULL, i = fmt.s.n;
            else if (pct == NULL)
                pct = fmt.s.p + i;
        }
        if (pct == NULL)
            return kt_err_set(ev->err, KT_EINVAL,
                              "replace_pattern: replacement_format must hold one %%s and no "
                              "other format specifiers");
    }
    const struct ottl_regex *re = call->call.re;
    struct ottl_abuf b = {a, NULL, 0, 0, false};
    size_t pos = 0, last = 0, prev_end = (size_t)-1;
    while (pos <= v->s.n) {
        int groups = 0;
        if ((rc = match_at(re, v->s.p, v->s.n, pos, &groups, ev->err)) < 0)
            return rc;
        if (rc == 0)
            break;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
        size_t ms = ov[0], me = ov[1];
        pos = me > ms ? me : ms >= v->s.n ? v->s.n + 1 : utf8_step(v->s.p, v->s.n, ms);
        if (ms == me && ms == prev_end)
            continue;
        prev_end = me;
        *changed = true;
        struct ottl_abuf e = {a, NULL, 0, 0, false};
        expand(&e, re, v->s.p, groups, repl->s.p, repl->s.n);
        unsigned char sum[32];
        char hex[65];
        if (e.oom)
            return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
        if (mbedtls_sha256_ret((const unsigned char *)(e.p != NULL ? e.p : ""), e.n, sum, 0) != 0)
            return kt_err_set(ev->err, KT_EINVAL, "SHA256 failed");
        kt_hex_encode(sum, sizeof(sum), hex);
        ottl_abuf_put(&b, v->s.p + last, ms - last);
        if (pct != NULL) {
            ottl_abuf_put(&b, fmt.s.p, (size_t)(pct - fmt.s.p));
            ottl_abuf_put(&b, hex, 64);
            ottl_abuf_put(&b, pct + 2, fmt.s.n - (size_t)(pct - fmt.s.p) - 2);
        } else {
            ottl_abuf_put(&b, hex, 64);
        }
        last = me;
    }
    ottl_abuf_put(&b, v->s.p + last, v->s.n - last);
    if (b.oom)
        return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
    *p = b.p;
    *n = b.n;
    return 0;
}

static int fn_replace_pattern(struct ottl_eval *ev, const struct ottl_node *call,
                              struct ottl_value *out)
{
    (void)out;
    struct ottl_value v, repl;
    int rc = ottl_eval_value(ev, call->call.args[0], &v);
    if (rc != 0)
        return rc;
    if (v.t != OTTL_STR) /* as in the Collector, only strings are rewritten */
        return 0;
    if ((rc = ottl_want_string(ev, call, 2, &repl)) != 0)
        return rc;
    const char *p;
    size_t n;
    bool changed;
    if (call->call.args[3] != NULL)
        rc = replace_with_function(ev, call, &v, &repl, &p, &n, &changed);
    else
        rc = regex_replace(ev, call->call.re, v.s.p, v.s.n, repl.s.p, repl.s.n, &p, &n, &changed);
    if (rc != 0 || !changed)
        return rc;
    struct ottl_value nv = {.t = OTTL_STR, .s = {p, n}};
    return ottl_path_set(ev, call->call.args[0], &nv);
}

static int fn_replace_all_patterns(struct ottl_eval *ev, const struct ottl_node *call,
                                   struct ottl_value *out)
{
    (void)out;
    struct ottl_map m;
    struct ottl_value repl;
    int rc = want_map(ev, call, &m);
    if (rc == 0)
        rc = ottl_want_string(ev, call, 3, &repl);
    if (rc != 0 || m.kv == NULL)
        return rc;
    bool keys = call->call.args[1]->lit.s.n == 3; /* "key"; the parser allowed only key|value */
    ottl_kv **kv = *m.kv;
    bool renamed = false;
    for (size_t i = 0; i < *m.n; i++) {
        const char *s;
        size_t sn;
        if (keys) {
            s = kv[i]->key != NULL ? kv[i]->key : "";
            sn = strlen(s);
        } else {
            ottl_any *av = kv[i]->value;
            if (av == NULL ||
                av->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
                continue;
            s = av->string_value != NULL ? av->string_value : "";
            sn = strlen(s);
        }
        const char *p;
        size_t n;
        bool changed;
        rc = regex_replace(ev, call->call.re, s, sn, repl.s.p, repl.s.n, &p, &n, &changed);
        if (rc != 0)
            return rc;
        if (!changed)
            continue;
        /* abuf results are NUL-terminated arena strings, usable as protobuf strings. */
        if (keys) {
            kv[i]->key = (char *)p;
            renamed = true;
        } else {
            kv[i]->value->string_value = (char *)p;
        }
    }
    if (!renamed)
        return 0;
    /* A renamed key may now equal another: the first position keeps the last value, as a
     * map rebuilt by successive puts would. */
    size_t j = 0;
    for (size_t i = 0; i < *m.n; i++) {
        size_t k = 0;
        while (k < j && strcmp(kv[k]->key, kv[i]->key) != 0)
            k++;
        if (k < j)
            kv[k]->value = kv[i]->value;
        else
            kv[j++] = kv[i];
    }
    *m.n = j;
    return 0;
}

static int fn_truncate_all(struct ottl_eval *ev, const struct ottl_node *call,
                           struct ottl_value *out)
{
    (void)out;
    struct ottl_map m;
    int rc = want_map(ev, call, &m);
    if (rc != 0 || m.kv == NULL)
        return rc;
    size_t limit = (size_t)call->call.args[1]->lit.i;
    ottl_kv **kv = *m.kv;
    for (size_t i = 0; i < *m.n; i++) {
        ottl_any *av = kv[i]->value;
        if (av == NULL ||
            av->value_case != OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE ||
            av->string_value == NULL)
            continue;
        size_t n = strlen(av->string_value);
        if (n <= limit)
            continue;
        /* Cut at a character boundary so the value stays valid UTF-8. */
        size_t cut = limit;
        while (cut > 0 && ((unsigned char)av->string_value[cut] & 0xc0) == 0x80)
            cut--;
        struct kt_arena *a = ottl_eval_arena(ev);
        if (a == NULL)
            return KT_EINVAL;
        char *s = kt_arena_strndup(a, av->string_value, cut);
        if (s == NULL)
            return kt_err_set(ev->err, KT_ENOMEM, "out of memory");
        av->string_value = s;
    }
    return 0;
}

static int fn_limit(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out)
{
    (void)out;
    struct ottl_map m;
    int rc = want_map(ev, call, &m);
    if (rc != 0 || m.kv == NULL)
        return rc;
    size_t limit = (size_t)call->call.args[1]->lit.i;
    if (*m.n <= limit)
        return 0;
    const struct ottl_node *prio = call->call.args[2];
    ottl_kv **kv = *m.kv;
    size_t n_prio = 0;
    for (size_t i = 0; i < *m.n; i++)
        n_prio += in_list(kv[i], (void *)prio);
    /* Priority keys stay; the first others in order fill the remaining room. */
    size_t room = limit > n_prio ? limit - n_prio : 0, j = 0;
    for (size_t i = 0; i < *m.n; i++) {
        bool keep = in_list(kv[i], (void *)prio);
        if (!keep && room > 0) {
            keep = true;
            room--;
        }
        if (keep)
            kv[j++] = kv[i];
    }
    *m.n = j;
    return 0;
}

/* ---- parse-time checks ---- */

static int check_nonneg(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const struct ottl_node *l = call->call.args[1];
    if (l->lit.i < 0)
        return ottl_syntax_error(err, src, l->pos, "%s: limit must not be negative",
                                 call->call.fn->name);
    return 0;
}

/* The Collector converts a literal argument of Int when it compiles the statement, so a
 * string literal that is no integer is a configuration error there and here. */
static int check_int(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const struct ottl_node *a = call->call.args[0];
    int64_t x;
    if (a->kind == OTTL_N_LIT && a->lit.t == OTTL_STR && !int_text(a->lit.s.p, a->lit.s.n, &x))
        return ottl_syntax_error(err, src, a->pos, "Int: \"%.*s\" is not an integer",
                                 (int)a->lit.s.n, a->lit.s.p);
    return 0;
}

static int check_limit(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    int rc = check_nonneg(call, src, err);
    if (rc != 0)
        return rc;
    const struct ottl_node *prio = call->call.args[2];
    if ((uint64_t)prio->list.n > (uint64_t)call->call.args[1]->lit.i)
        return ottl_syntax_error(err, src, prio->pos,
                                 "limit: %zu priority keys do not fit in a limit of %" PRId64,
                                 prio->list.n, call->call.args[1]->lit.i);
    return 0;
}

static int check_mode(const struct ottl_node *call, const char *src, struct kt_err *err)
{
    const struct ottl_node *mode = call->call.args[1];
    if (strcmp(mode->lit.s.p, "key") != 0 && strcmp(mode->lit.s.p, "value") != 0)
        return ottl_syntax_error(err, src, mode->pos,
                                 "replace_all_patterns: mode must be \"key\" or \"value\", got "
                                 "\"%s\"",
                                 mode->lit.s.p);
    return 0;
}

const struct ottl_func ottl_funcs[] = {
    {"Bool", false, "g", "target", -1, ottl_check_like, ottl_fn_bool, 0},
    {"Coalesce", false, "l", "values", -1, ottl_check_coalesce, ottl_fn_coalesce, 0},
    {"Concat", false, "lg", "vals, delimiter", -1, NULL, fn_concat, 0},
    {"ConvertCase", false, "gs", "target, to_case", -1, ottl_check_convert_case,
     ottl_fn_convert_case, 0},
    {"Day", false, "g", "time", -1, ottl_check_time_args, ottl_fn_time_field, 0},
    {"Decode", false, "gg", "target, encoding", -1, ottl_check_decode, ottl_fn_decode, 0},
    {"Double", false, "g", "target", -1, ottl_check_like, ottl_fn_double, 0},
    {"Duration", false, "g", "duration", -1, ottl_check_time_args, ottl_fn_duration, 0},
    {"ExtractGrokPatterns", false, "gG?gS",
     "target, pattern, named_captures_only, pattern_definitions", -1,
     ottl_check_extract_grok_patterns, ottl_fn_extract_grok_patterns, 0},
    {"ExtractPatterns", false, "gr", "target, pattern", -1, NULL, ottl_fn_extract_patterns, 0},
    {"FNV", false, "g", "target", -1, NULL, fn_fnv, 0},
    {"Format", false, "sl", "format, vals", -1, NULL, ottl_fn_format, 0},
    {"FormatTime", false, "gs", "time, format", -1, ottl_check_format_time, ottl_fn_format_time, 0},
    {"HasPrefix", false, "gg", "target, prefix", -1, NULL, fn_has_prefix, 0},
    {"HasSuffix", false, "gg", "target, suffix", -1, NULL, fn_has_suffix, 0},
    {"Hex", false, "g", "target", -1, ottl_check_like, ottl_fn_hex, 0},
    {"Hour", false, "g", "time", -1, ottl_check_time_args, ottl_fn_time_field, 0},
    {"Hours", false, "g", "duration", -1, ottl_check_time_args, ottl_fn_duration_in, 0},
    {"Index", false, "gg", "target, value", -1, NULL, ottl_fn_index, 0},
    {"Int", false, "g", "target", -1, check_int, fn_int, 0},
    {"IsBool", false, "g", "target", -1, NULL, fn_is_bool, 0},
    {"IsDouble", false, "g", "target", -1, NULL, fn_is_double, 0},
    {"IsInCIDR", false, "gl", "target, networks", -1, ottl_check_is_in_cidr, ottl_fn_is_in_cidr, 0},
    {"IsInt", false, "g", "target", -1, NULL, fn_is_int, 0},
    {"IsList", false, "g", "target", -1, NULL, fn_is_list, 0},
    {"IsMap", false, "g", "target", -1, NULL, fn_is_map, 0},
    {"IsMatch", false, "gr", "target, pattern", -1, NULL, fn_ismatch, 0},
    {"IsRootSpan", false, "", "", OTTL_CTX_SPAN, NULL, fn_isrootspan,
     OTTL_FIELD(OTTL_P_SPAN_PARENT_ID)},
    {"IsString", false, "g", "target", -1, NULL, fn_is_string, 0},
    {"Keys", false, "g", "target", -1, NULL, ottl_fn_keys, 0},
    {"Len", false, "g", "target", -1, NULL, fn_len, 0},
    {"Log", false, "g", "target", -1, NULL, ottl_fn_log, 0},
    {"MD5", false, "g", "target", -1, NULL, fn_md5, 0},
    {"Microseconds", false, "g", "duration", -1, ottl_check_time_args, ottl_fn_duration_in, 0},
    {"Milliseconds", false, "g", "duration", -1, ottl_check_time_args, ottl_fn_duration_in, 0},
    {"Minute", false, "g", "time", -1, ottl_check_time_args, ottl_fn_time_field, 0},
    {"Minutes", false, "g", "duration", -1, ottl_check_time_args, ottl_fn_duration_in, 0},
    {"Month", false, "g", "time", -1, ottl_check_time_args, ottl_fn_time_field, 0},
    {"Murmur3Hash", false, "g", "target", -1, NULL, fn_murmur3_hash, 0},
    {"Nanosecond", false, "g", "time", -1, ottl_check_time_args, ottl_fn_time_field, 0},
    {"Nanoseconds", false, "g", "duration", -1, ottl_check_time_args, ottl_fn_duration_in, 0},
    {"Now", false, "", "", -1, NULL, ottl_fn_now, 0},
    {"ParseCSV", false, "gg?sss", "target, header, delimiter, header_delimiter, mode", -1,
     ottl_check_parse_csv, ottl_fn_parse_csv, 0},
    {"ParseJSON", false, "g", "target", -1, NULL, ottl_fn_parse_json, 0},
    {"ParseKeyValue", false, "g?ss", "target, delimiter, pair_delimiter", -1,
     ottl_check_parse_key_value, ottl_fn_parse_key_value, 0},
    {"ParseSeverity", false, "gg", "target, mapping", -1, NULL, ottl_fn_parse_severity, 0},
    {"SHA1", false, "g", "target", -1, NULL, fn_sha1, 0},
    {"SHA256", false, "g", "target", -1, NULL, fn_sha256, 0},
    {"SHA512", false, "g", "target", -1, NULL, fn_sha512, 0},
    {"Second", false, "g", "time", -1, ottl_check_time_args, ottl_fn_time_field, 0},
    {"Seconds", false, "g", "duration", -1, ottl_check_time_args, ottl_fn_duration_in, 0},
    {"SliceToMap", false, "g?SS", "target, key_path, value_path", -1, NULL, ottl_fn_slice_to_map,
     0},
    {"Sort", false, "g?s", "target, order", -1, ottl_check_sort, ottl_fn_sort, 0},
    {"SpanID", false, "g", "target", -1, ottl_check_like, ottl_fn_span_id, 0},
    {"Split", false, "gg", "target, delimiter", -1, ottl_check_strings, ottl_fn_split, 0},
    {"String", false, "g", "target", -1, NULL, fn_string, 0},
    {"Substring", false, "ggg?g", "target, start, length, utf8_safe", -1, NULL, fn_substring, 0},
    {"Time", false, "gs?ss", "time, format, location, locale", -1, ottl_check_time, ottl_fn_time,
     0},
    {"ToCamelCase", false, "g", "target", -1, ottl_check_strings, ottl_fn_camel, 0},
    {"ToLowerCase", false, "g", "target", -1, ottl_check_strings, ottl_fn_lower, 0},
    {"ToSnakeCase", false, "g", "target", -1, ottl_check_strings, ottl_fn_snake, 0},
    {"ToUpperCase", false, "g", "target", -1, ottl_check_strings, ottl_fn_upper, 0},
    {"TraceID", false, "g", "target", -1, ottl_check_like, ottl_fn_trace_id, 0},
    {"Trim", false, "g?s", "target, replacement", -1, ottl_check_strings, ottl_fn_trim, 0},
    {"TrimPrefix", false, "gg", "target, prefix", -1, ottl_check_strings, ottl_fn_trim_prefix, 0},
    {"TrimSuffix", false, "gg", "target, suffix", -1, ottl_check_strings, ottl_fn_trim_suffix, 0},
    {"TruncateTime", false, "gg", "time, duration", -1, ottl_check_time_args, ottl_fn_truncate_time,
     0},
    {"URL", false, "g", "uri", -1, NULL, ottl_fn_url, 0},
    {"UUID", false, "", "", -1, NULL, ottl_fn_uuid, 0},
    {"Unix", false, "g?g", "seconds, nanoseconds", -1, ottl_check_time_args, ottl_fn_unix, 0},
    {"UnixMicro", false, "g", "time", -1, ottl_check_time_args, ottl_fn_unix_of, 0},
    {"UnixMilli", false, "g", "time", -1, ottl_check_time_args, ottl_fn_unix_of, 0},
    {"UnixNano", false, "g", "time", -1, ottl_check_time_args, ottl_fn_unix_of, 0},
    {"UnixSeconds", false, "g", "time", -1, ottl_check_time_args, ottl_fn_unix_of, 0},
    {"UserAgent", false, "g", "user_agent", -1, NULL, ottl_fn_user_agent, 0},
    {"Values", false, "g", "target", -1, NULL, ottl_fn_values, 0},
    {"Weekday", false, "g", "time", -1, ottl_check_time_args, ottl_fn_time_field, 0},
    {"XXH3", false, "g", "target", -1, NULL, fn_xxh3, 0},
    {"Year", false, "g", "time", -1, ottl_check_time_args, ottl_fn_time_field, 0},
    {"aggregate_on_attribute_value", true, "ssSs",
     "aggregation_function, attribute, values, new_value", OTTL_CTX_METRIC, ottl_check_aggregate,
     ottl_fn_aggregate_on_attribute_value, 0},
    {"aggregate_on_attributes", true, "s?S", "aggregation_function, attributes", OTTL_CTX_METRIC,
     ottl_check_aggregate, ottl_fn_aggregate_on_attributes, 0},
    {"append", true, "p?gl", "target, value, values", -1, ottl_check_append, ottl_fn_append, 0},
    {"convert_gauge_to_sum", true, "sg", "string_agg_temp, monotonic", OTTL_CTX_METRIC,
     ottl_check_temporality, ottl_fn_convert_gauge_to_sum, 0},
    {"convert_sum_to_gauge", true, "", "", OTTL_CTX_METRIC, NULL, ottl_fn_convert_sum_to_gauge, 0},
    {"convert_summary_count_val_to_sum", true, "sg?s", "string_agg_temp, monotonic, suffix",
     OTTL_CTX_DATAPOINT, ottl_check_temporality, ottl_fn_convert_summary_count_val_to_sum, 0},
    {"convert_summary_quantile_val_to_gauge", true, "?ss", "attribute_key, suffix", OTTL_CTX_METRIC,
     NULL, ottl_fn_convert_summary_quantile_val_to_gauge, 0},
    {"convert_summary_sum_val_to_sum", true, "sg?s", "string_agg_temp, monotonic, suffix",
     OTTL_CTX_DATAPOINT, ottl_check_temporality, ottl_fn_convert_summary_sum_val_to_sum, 0},
    {"copy_metric", true, "?ggg", "name, description, unit", OTTL_CTX_METRIC,
     ottl_check_copy_metric, ottl_fn_copy_metric, 0},
    {"delete_index", true, "pg?g", "target, start_index, end_index", -1, ottl_check_delete_index,
     ottl_fn_delete_index, 0},
    {"delete_key", true, "mg", "target, key", -1, NULL, fn_delete_key, 0},
    {"delete_matching_keys", true, "mr", "target, pattern", -1, NULL, fn_delete_matching_keys, 0},
    {"extract_count_metric", true, "g?s", "monotonic, suffix", OTTL_CTX_METRIC,
     ottl_check_bool_first, ottl_fn_extract_count_metric, 0},
    {"extract_sum_metric", true, "g?s", "monotonic, suffix", OTTL_CTX_METRIC, ottl_check_bool_first,
     ottl_fn_extract_sum_metric, 0},
    {"flatten", true, "m?sig", "target, prefix, depth, resolve_conflicts", -1, ottl_check_flatten,
     ottl_fn_flatten, 0},
    {"keep_keys", true, "mS", "target, keys", -1, NULL, fn_keep_keys, 0},
    {"keep_matching_keys", true, "mr", "target, pattern", -1, NULL, fn_keep_matching_keys, 0},
    {"limit", true, "miS", "target, limit, priority_keys", -1, check_limit, fn_limit, 0},
    {"merge_maps", true, "mgs", "target, source, strategy", -1, ottl_check_merge_maps,
     ottl_fn_merge_maps, 0},
    {"replace_all_matches", true, "mgg?Fg",
     "target, pattern, replacement, function, replacement_format", -1, ottl_check_strings,
     ottl_fn_replace_all_matches, 0},
    {"replace_all_patterns", true, "msrg", "target, mode, regex_pattern, replacement", -1,
     check_mode, fn_replace_all_patterns, 0},
    {"replace_match", true, "pgg?Fg", "target, pattern, replacement, function, replacement_format",
     -1, ottl_check_strings, ottl_fn_replace_match, 0},
    {"replace_pattern", true, "prg?Fg",
     "target, regex_pattern, replacement, function, replacement_format", -1, NULL,
     fn_replace_pattern, 0},
    {"scale_metric", true, "g?g", "multiplier, unit", OTTL_CTX_METRIC, ottl_check_scale,
     ottl_fn_scale_metric, 0},
    {"set", true, "pg", "target, value", -1, NULL, fn_set, 0},
    {"truncate_all", true, "mi", "target, limit", -1, check_nonneg, fn_truncate_all, 0},
};
const size_t ottl_n_funcs = sizeof(ottl_funcs) / sizeof(ottl_funcs[0]);
