/* kt_otlp_json: OTLP/JSON to and from protobuf, driven by the protobuf-c descriptors.
 *
 * One generic transcoder handles every message of the schema, so a field added to the
 * protos needs no code here. JSON is read token by token and written as protobuf as it
 * comes (see "JSON -> protobuf" below): no tree, no recursion on the input. The reverse
 * direction takes bytes kt_otlp_validate_flags has checked (each tier validates once,
 * where the bytes come in), unpacks them into a per-call arena and writes JSON directly
 * into the caller's kt_buf. */
#include "kt_otlp_json.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "kt_arena.h"
#include "kt_codec.h"
#include "kt_utf8.h"
#include "opentelemetry/proto/collector/logs/v1/logs_service.pb-c.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.pb-c.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

/* Doubles beyond 2^53 are not all integers a JSON number can carry exactly. */
#define EXACT_DOUBLE_INT 9007199254740992.0

static const ProtobufCMessageDescriptor *request_descriptor(enum kt_signal sig)
{
    switch (sig) {
    case KT_SIGNAL_TRACES:
        return &opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor;
    case KT_SIGNAL_METRICS:
        return &opentelemetry__proto__collector__metrics__v1__export_metrics_service_request__descriptor;
    case KT_SIGNAL_LOGS:
        return &opentelemetry__proto__collector__logs__v1__export_logs_service_request__descriptor;
    }
    return NULL;
}

/* Decoding uses a kt_arena whose first 4 KiB live on the stack, so small requests do not
 * touch malloc at all. */
#define ARENA_INLINE 4096

/* ---- shared helpers ------------------------------------------------------------------- */

struct sbuf {
    char *p;
    size_t cap;
    size_t len;
};

static void sb_putc(struct sbuf *s, char c)
{
    if (s->len + 1 < s->cap)
        s->p[s->len++] = c;
}

static void sb_puts(struct sbuf *s, const char *str)
{
    while (*str)
        sb_putc(s, *str++);
}

/* protobuf's JSON name: drop each '_' and upper-case the letter after it. */
static void sb_put_camel(struct sbuf *s, const char *name)
{
    bool up = false;
    for (; *name; name++) {
        char c = *name;
        if (c == '_') {
            up = true;
            continue;
        }
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        up = false;
        sb_putc(s, c);
    }
}

static void camel_name(const char *name, char *buf, size_t cap)
{
    struct sbuf s = {buf, cap, 0};
    sb_put_camel(&s, name);
    buf[s.len] = '\0';
}

/* ---- shared helpers ------------------------------------------------------------------- */

/* OTLP writes trace and span IDs as hex; the value is the ID's byte length. */
static size_t id_field_len(const ProtobufCFieldDescriptor *f)
{
    if (f->type != PROTOBUF_C_TYPE_BYTES)
        return 0;
    if (strcmp(f->name, "trace_id") == 0)
        return 16;
    if (strcmp(f->name, "span_id") == 0 || strcmp(f->name, "parent_span_id") == 0)
        return 8;
    return 0;
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM: return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return 8;
    case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
    }
    return sizeof(void *);
}

/* ---- JSON -> protobuf ------------------------------------------------------------------
 *
 * A pull tokenizer reads the body one token at a time and a transcoder writes protobuf
 * straight into the caller's buffer, with an explicit stack of the objects and arrays
 * open: nothing recurses on the input's depth and no tree is built, so the memory is the
 * output, the stack and one scratch buffer for strings with escapes. A nested message is
 * written behind a length slot of 5 bytes that shrinks to its varint once the message is
 * closed. Members are written in the order they come; a message whose members came out
 * of field-number order is put in order when it closes, so the bytes are protobuf-c's
 * (kt_otlp_proto_to_json and back reproduces them). The decoder stops after any token, so
 * a large body can be converted a slice at a time. */

/* Bytes kept free in front of a nested message until its length is known. */
#define SLOT 5
/* Members of the largest OTLP message (Span has 16), for the per-member bookkeeping. */
#define MAX_FIELDS 32

enum tok_kind {
    T_EOF,
    T_LBRACE,
    T_RBRACE,
    T_LBRACKET,
    T_RBRACKET,
    T_COLON,
    T_COMMA,
    T_STRING,
    T_NUMBER,
    T_TRUE,
    T_FALSE,
    T_NULL,
};

struct tok {
    enum tok_kind k;
    size_t at; /* offset of its first byte in the body */
    /* T_STRING: the text decoded (a view into the body, or into the scratch buffer when it
     * had escapes, valid until the next token); T_NUMBER: the text as sent. */
    const char *s;
    size_t n;
    size_t raw_at, raw_n; /* T_STRING: the text between the quotes, as sent */
    bool integral;        /* T_NUMBER without fraction or exponent */
};

enum frame_kind {
    F_MSG,      /* an object holding message d */
    F_REP,      /* an array holding repeated field f */
    F_SKIP_OBJ, /* inside a member kotel does not know: read, checked, dropped */
    F_SKIP_ARR,
};

enum frame_state {
    S_FIRST, /* after '{' or '[' */
    S_KEY,   /* object: after ',' */
    S_COLON, /* object: after a member name */
    S_VALUE, /* object: after ':'; array: after ',' */
    S_NEXT,  /* after a value */
};

struct frame {
    uint8_t kind;  /* enum frame_kind */
    uint8_t state; /* enum frame_state */
    uint8_t any_depth;
    bool sorted;   /* F_MSG: members written in field-number order so far */
    int8_t last;   /* F_MSG: index of the member written last, -1 before the first */
    int8_t cur;    /* F_MSG: index of the member being read, -1: unknown or none */
    uint32_t seen; /* F_MSG: bit i: member i was given (not null) */
    const ProtobufCMessageDescriptor *d;
    const ProtobufCFieldDescriptor *f; /* F_REP */
    size_t key_at, key_n;              /* objects: the member being read, as sent (for paths) */
    size_t idx;                        /* arrays: index of the element being read */
    size_t slot;   /* where the length slot starts; SIZE_MAX: none (the request) */
    size_t tag_at; /* F_REP packed: where its tag starts, to drop an empty one */
};

struct kt_otlp_json_dec {
    const char *in;
    size_t len, pos;
    struct kt_buf *out;
    size_t out_start;
    struct kt_otlp_limits lim; /* max_string_bytes 0 made UINT64_MAX; max_attributes 0: none */
    const ProtobufCMessageDescriptor *root;
    struct frame *st; /* the open objects and arrays */
    size_t n_st, cap_st;
    size_t *runs; /* per F_MSG frame, MAX_FIELDS pairs: where each member's bytes start and
                   * end, indexed like st */
    size_t cap_runs;
    unsigned skip_depth; /* frames of F_SKIP_* open */
    struct kt_buf scratch;
    size_t temp_peak; /* largest reordering copy */
    bool done;        /* the request object is closed */
    int failed;       /* the error returned, again, by later steps */
};

size_t kt_otlp_json_dec_mem(const struct kt_otlp_json_dec *d)
{
    return sizeof(*d) + d->cap_st * sizeof(*d->st) + d->cap_runs * sizeof(*d->runs) +
           d->scratch.cap + d->temp_peak;
}

/* ---- errors ---- */

static void sb_put_n(struct sbuf *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_putc(s, p[i]);
}

/* The whole path; path_render shortens it. */
static void path_render_all(const struct kt_otlp_json_dec *d, char *buf, size_t cap)
{
    struct sbuf s = {buf, cap, 0};
    for (size_t i = 0; i < d->n_st; i++) {
        const struct frame *fr = &d->st[i];
        if (fr->kind == F_REP || fr->kind == F_SKIP_ARR) {
            if (fr->state == S_FIRST && i + 1 == d->n_st)
                continue;
            char tmp[32];
            snprintf(tmp, sizeof(tmp), "[%zu]", fr->idx);
            sb_puts(&s, tmp);
            continue;
        }
        if (fr->state != S_VALUE && fr->state != S_NEXT && i + 1 == d->n_st)
            continue;
        if (fr->key_n == 0 && fr->state != S_VALUE)
            continue;
        if (s.len > 0)
            sb_putc(&s, '.');
        if (fr->key_n > 64) {
            sb_put_n(&s, d->in + fr->key_at, 61);
            sb_puts(&s, "...");
        } else {
            sb_put_n(&s, d->in + fr->key_at, fr->key_n);
        }
    }
    if (cap > 0)
        buf[s.len] = '\0';
}

/* A path through deep AnyValue trees would not fit an error message: its start (up to an
 * attribute's value) and its end are kept, the middle becomes [...]. */
#define PATH_KEEP_HEAD 120
#define PATH_KEEP_TAIL 100

/* The JSON path of the value being read: member names as the sender spelled them (escapes
 * as sent, long ones cut), array indexes in brackets. */
static void path_render(const struct kt_otlp_json_dec *d, char *buf, size_t cap)
{
    char full[8192];
    path_render_all(d, full, sizeof(full));
    size_t n = strlen(full);
    if (n <= PATH_KEEP_HEAD + PATH_KEEP_TAIL + 5 || cap < PATH_KEEP_HEAD + PATH_KEEP_TAIL + 6) {
        snprintf(buf, cap, "%s", full);
        return;
    }
    /* Cut where a member starts, so no name is cut in two. */
    size_t head = PATH_KEEP_HEAD, tail = n - PATH_KEEP_TAIL;
    while (head > 0 && full[head] != '.')
        head--;
    while (tail < n && full[tail] != '.')
        tail++;
    snprintf(buf, cap, "%.*s.[...]%s", (int)head, full, full + tail);
}

static int dec_fail_code(struct kt_otlp_json_dec *d, struct kt_err *err, int code, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5), cold));

static int dec_fail_code(struct kt_otlp_json_dec *d, struct kt_err *err, int code, const char *fmt,
                         ...)
{
    char where[240];
    char what[256];
    path_render(d, where, sizeof(where));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (where[0] == '\0')
        return kt_err_set(err, code, "%s", what);
    return kt_err_set(err, code, "%s: %s", where, what);
}

#define FAIL(d, err, ...) dec_fail_code((d), (err), KT_EINVAL, __VA_ARGS__)
#define FAIL_LIMIT(d, err, ...) dec_fail_code((d), (err), KT_ETOOBIG, __VA_ARGS__)

/* A syntax error: where, as a line and a column (in bytes, from 1) of the body. */
static int syntax_fail(const struct kt_otlp_json_dec *d, struct kt_err *err, size_t at,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5), cold));

static int syntax_fail(const struct kt_otlp_json_dec *d, struct kt_err *err, size_t at,
                       const char *fmt, ...)
{
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < at && i < d->len; i++) {
        if (d->in[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return kt_err_set(err, KT_EINVAL, "invalid JSON at line %zu, column %zu: %s", line,
                      at - line_start + 1, what);
}

static void describe_char(unsigned char ch, char *buf, size_t cap)
{
    if (ch > 0x20 && ch < 0x7f)
        snprintf(buf, cap, "'%c'", ch);
    else
        snprintf(buf, cap, "byte 0x%02x", ch);
}

static const char *tok_name(enum tok_kind k)
{
    switch (k) {
    case T_EOF: return "end of input";
    case T_LBRACE: return "'{'";
    case T_RBRACE: return "'}'";
    case T_LBRACKET: return "'['";
    case T_RBRACKET: return "']'";
    case T_COLON: return "':'";
    case T_COMMA: return "','";
    case T_STRING: return "a string";
    case T_NUMBER: return "a number";
    case T_TRUE:
    case T_FALSE: return "a boolean";
    case T_NULL: return "null";
    }
    return "a token";
}

/* What a value token is, for type errors ("want a string, got number"). */
static const char *value_type_name(enum tok_kind k)
{
    switch (k) {
    case T_LBRACE: return "object";
    case T_LBRACKET: return "array";
    case T_STRING: return "string";
    case T_NUMBER: return "number";
    case T_TRUE:
    case T_FALSE: return "boolean";
    case T_NULL: return "null";
    default: return "value";
    }
}

/* ---- the tokenizer (RFC 8259) ---- */

static bool is_json_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

static int hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = kt_hex_digit((unsigned char)p[i]);
        if (h < 0)
            return -1;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return 0;
}

static int string_too_long(struct kt_otlp_json_dec *d, struct kt_err *err)
{
    return FAIL_LIMIT(d, err, "a string of more than %llu bytes ([receiver] max_string_bytes)",
                      (unsigned long long)d->lim.max_string_bytes);
}

/* The string whose opening quote is at d->pos. Without escapes it is a view into the body;
 * with them it is decoded into the scratch buffer. */
static int lex_string(struct kt_otlp_json_dec *d, struct tok *t, struct kt_err *err)
{
    const uint8_t *in = (const uint8_t *)d->in;
    size_t end = d->len;
    size_t i = d->pos + 1;
    size_t start = i;
    uint64_t max = d->lim.max_string_bytes;
    /* The common case: no escapes; only the length and the bytes to check. */
    for (;;) {
        if (i >= end)
            return syntax_fail(d, err, d->pos, "string without its closing quote");
        uint8_t ch = in[i];
        if (ch == '"' || ch == '\\')
            break;
        if (ch < 0x20)
            return syntax_fail(d, err, i, "control character 0x%02x in a string", ch);
        if (ch < 0x80) {
            i++;
        } else {
            size_t k = kt_utf8_seq_len(in + i, end - i);
            if (k == 0)
                return syntax_fail(d, err, i, "invalid UTF-8 in a string");
            i += k;
        }
        if (i - start > max)
            return string_too_long(d, err);
    }
    t->raw_at = start;
    if (in[i] == '"') {
        t->s = d->in + start;
        t->n = i - start;
        t->raw_n = t->n;
        d->pos = i + 1;
        return 0;
    }
    /* Escapes: decode into scratch, which never holds more than the string as sent. */
    struct kt_buf *sc = &d->scratch;
    kt_buf_reset(sc);
    if (kt_buf_append(sc, in + start, i - start) != 0)
        return KT_ENOMEM;
    for (;;) {
        if (i >= end)
            return syntax_fail(d, err, d->pos, "string without its closing quote");
        uint8_t ch = in[i];
        if (ch == '"')
            break;
        if (ch < 0x20)
            return syntax_fail(d, err, i, "control character 0x%02x in a string", ch);
        if (ch != '\\') {
            size_t k = ch < 0x80 ? 1 : kt_utf8_seq_len(in + i, end - i);
            if (k == 0)
                return syntax_fail(d, err, i, "invalid UTF-8 in a string");
            if (kt_buf_append(sc, in + i, k) != 0)
                return KT_ENOMEM;
            i += k;
        } else {
            if (i + 1 >= end)
                return syntax_fail(d, err, d->pos, "string without its closing quote");
            uint8_t e = in[i + 1];
            uint8_t o[4];
            size_t on = 1;
            switch (e) {
            case '"': o[0] = '"'; break;
            case '\\': o[0] = '\\'; break;
            case '/': o[0] = '/'; break;
            case 'b': o[0] = '\b'; break;
            case 'f': o[0] = '\f'; break;
            case 'n': o[0] = '\n'; break;
            case 'r': o[0] = '\r'; break;
            case 't': o[0] = '\t'; break;
            case 'u': {
                uint32_t cp, lo;
                if (i + 6 > end || hex4(d->in + i + 2, &cp) != 0)
                    return syntax_fail(d, err, i, "invalid \\u escape");
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return syntax_fail(d, err, i,
                                       "invalid Unicode '\\u%04X' (a lone low surrogate)", cp);
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (i + 12 > end || in[i + 6] != '\\' || in[i + 7] != 'u' ||
                        hex4(d->in + i + 8, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
                        return syntax_fail(d, err, i,
                                           "invalid Unicode '\\u%04X' (a high surrogate without "
                                           "its low surrogate)",
                                           cp);
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    i += 6;
                }
                /* A NUL would cut the string short wherever it is read as a C string
                 * downstream (protobuf-c decodes strings as C strings). */
                if (cp == 0)
                    return syntax_fail(d, err, i, "\\u0000 is not allowed");
                on = kt_utf8_put(o, cp);
                i += 4;
                break;
            }
            default: {
                char desc[16];
                describe_char(e, desc, sizeof(desc));
                return syntax_fail(d, err, i, "invalid escape \\%s", desc);
            }
            }
            if (kt_buf_append(sc, o, on) != 0)
                return KT_ENOMEM;
            i += 2;
        }
        if (sc->len > max)
            return string_too_long(d, err);
    }
    t->s = (const char *)sc->p;
    t->n = sc->len;
    t->raw_n = i - start;
    d->pos = i + 1;
    return 0;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int lex_number(struct kt_otlp_json_dec *d, struct tok *t, struct kt_err *err)
{
    const char *in = d->in;
    size_t end = d->len;
    size_t i = d->pos;
    bool integral = true;
    if (in[i] == '-')
        i++;
    if (i < end && in[i] == '0') {
        i++;
    } else if (i < end && in[i] >= '1' && in[i] <= '9') {
        while (i < end && is_digit(in[i]))
            i++;
    } else {
        return syntax_fail(d, err, d->pos, "invalid number");
    }
    if (i < end && in[i] == '.') {
        integral = false;
        i++;
        if (i >= end || !is_digit(in[i]))
            return syntax_fail(d, err, d->pos, "invalid number");
        while (i < end && is_digit(in[i]))
            i++;
    }
    if (i < end && (in[i] == 'e' || in[i] == 'E')) {
        integral = false;
        i++;
        if (i < end && (in[i] == '+' || in[i] == '-'))
            i++;
        if (i >= end || !is_digit(in[i]))
            return syntax_fail(d, err, d->pos, "invalid number");
        while (i < end && is_digit(in[i]))
            i++;
    }
    if (i - d->pos > 1024)
        return syntax_fail(d, err, d->pos, "number of more than 1024 characters");
    t->s = in + d->pos;
    t->n = i - d->pos;
    t->integral = integral;
    d->pos = i;
    return 0;
}

static int lex_literal(struct kt_otlp_json_dec *d, struct tok *t, const char *lit, enum tok_kind k,
                       struct kt_err *err)
{
    size_t n = strlen(lit);
    if (d->len - d->pos < n || memcmp(d->in + d->pos, lit, n) != 0)
        return syntax_fail(d, err, d->pos, "invalid literal");
    t->k = k;
    d->pos += n;
    return 0;
}

static int next_token(struct kt_otlp_json_dec *d, struct tok *t, struct kt_err *err)
{
    while (d->pos < d->len && is_json_space(d->in[d->pos]))
        d->pos++;
    t->at = d->pos;
    if (d->pos == d->len) {
        t->k = T_EOF;
        return 0;
    }
    char ch = d->in[d->pos];
    switch (ch) {
    case '{': t->k = T_LBRACE; break;
    case '}': t->k = T_RBRACE; break;
    case '[': t->k = T_LBRACKET; break;
    case ']': t->k = T_RBRACKET; break;
    case ':': t->k = T_COLON; break;
    case ',': t->k = T_COMMA; break;
    case '"': t->k = T_STRING; return lex_string(d, t, err);
    case 't': return lex_literal(d, t, "true", T_TRUE, err);
    case 'f': return lex_literal(d, t, "false", T_FALSE, err);
    case 'n': return lex_literal(d, t, "null", T_NULL, err);
    default:
        if (ch == '-' || is_digit(ch)) {
            t->k = T_NUMBER;
            return lex_number(d, t, err);
        }
        char desc[16];
        describe_char((unsigned char)ch, desc, sizeof(desc));
        return syntax_fail(d, err, d->pos, "unexpected %s", desc);
    }
    d->pos++;
    return 0;
}

/* ---- scalar values ---- */

/* True when key (n bytes, any bytes) is the field's proto name or its lowerCamelCase JSON
 * name. */
static bool name_matches(const char *name, const char *key, size_t n)
{
    if (n == 0 || name[0] != key[0])
        return false;
    if (strncmp(name, key, n) == 0 && name[n] == '\0')
        return true;
    size_t k = 0;
    bool up = false;
    for (; *name; name++) {
        char c = *name;
        if (c == '_') {
            up = true;
            continue;
        }
        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        up = false;
        if (k == n || key[k++] != c)
            return false;
    }
    return k == n;
}

static int find_field(const ProtobufCMessageDescriptor *d, const char *key, size_t n)
{
    for (unsigned i = 0; i < d->n_fields; i++)
        if (name_matches(d->fields[i].name, key, n))
            return (int)i;
    return -1;
}

/* An optionally negative run of decimal digits, nothing else; false also when the
 * magnitude does not fit 64 bits. */
static bool parse_decimal(const char *s, size_t n, bool *neg, uint64_t *mag)
{
    size_t i = 0;
    *neg = false;
    if (i < n && s[i] == '-') {
        *neg = true;
        i++;
    }
    if (i == n)
        return false;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned dgt = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - dgt) / 10)
            return false;
        v = v * 10 + dgt;
    }
    *mag = v;
    return true;
}

/* strtod on a token that is not NUL-terminated. */
static double token_strtod(const char *s, size_t n, bool *ok)
{
    char buf[1040];
    *ok = false;
    if (n >= sizeof(buf))
        return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    double dv = strtod(buf, &end);
    *ok = end == buf + n && !(errno == ERANGE && isinf(dv));
    return dv;
}

/* A JSON number standing for an integer, as a signed magnitude; a number with a fraction
 * or an exponent must be integral and small enough to be exact. */
static int number_as_int(struct kt_otlp_json_dec *d, const struct tok *t, bool *neg, uint64_t *mag,
                         struct kt_err *err)
{
    if (t->integral) {
        if (!parse_decimal(t->s, t->n, neg, mag))
            return FAIL(d, err, "%.*s is out of range", (int)(t->n > 40 ? 40 : t->n), t->s);
        return 0;
    }
    bool ok;
    double dv = token_strtod(t->s, t->n, &ok);
    if (!ok)
        return FAIL(d, err, "number %.*s is out of range", (int)(t->n > 40 ? 40 : t->n), t->s);
    if (dv != floor(dv))
        return FAIL(d, err, "want an integer, got %g", dv);
    if (fabs(dv) > EXACT_DOUBLE_INT)
        return FAIL(d, err, "%.17g is too large to be exact as a JSON number; send it as a string",
                    dv);
    *neg = dv < 0;
    *mag = (uint64_t)fabs(dv);
    return 0;
}

static int token_int_parts(struct kt_otlp_json_dec *d, const struct tok *t, bool *neg,
                           uint64_t *mag, struct kt_err *err)
{
    if (t->k == T_NUMBER)
        return number_as_int(d, t, neg, mag, err);
    if (t->k == T_STRING) {
        if (!parse_decimal(t->s, t->n, neg, mag))
            return FAIL(d, err, "want a decimal integer, got \"%.*s\"",
                        (int)(t->n > 40 ? 40 : t->n), t->s);
        return 0;
    }
    return FAIL(d, err, "want an integer, got %s", value_type_name(t->k));
}

static int tok_int(struct kt_otlp_json_dec *d, const struct tok *t, int64_t lo, int64_t hi,
                   int64_t *out, struct kt_err *err)
{
    bool neg;
    uint64_t mag;
    int rc = token_int_parts(d, t, &neg, &mag, err);
    if (rc != 0)
        return rc;
    int shown = (int)(t->n > 40 ? 40 : t->n);
    int64_t x;
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1)
            return FAIL(d, err, "%.*s is out of range", shown, t->s);
        x = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (uint64_t)INT64_MAX)
            return FAIL(d, err, "%.*s is out of range", shown, t->s);
        x = (int64_t)mag;
    }
    if (x < lo || x > hi)
        return FAIL(d, err, "%lld is out of range [%lld, %lld]", (long long)x, (long long)lo,
                    (long long)hi);
    *out = x;
    return 0;
}

static int tok_uint(struct kt_otlp_json_dec *d, const struct tok *t, uint64_t hi, uint64_t *out,
                    struct kt_err *err)
{
    bool neg;
    uint64_t mag;
    int rc = token_int_parts(d, t, &neg, &mag, err);
    if (rc != 0)
        return rc;
    if (neg && mag != 0)
        return FAIL(d, err, "-%llu is out of range [0, %llu]", (unsigned long long)mag,
                    (unsigned long long)hi);
    if (mag > hi)
        return FAIL(d, err, "%llu is out of range [0, %llu]", (unsigned long long)mag,
                    (unsigned long long)hi);
    *out = mag;
    return 0;
}

/* Plain JSON number syntax, so strtod's extras (hex floats, "inf", "nan") stay out. */
static bool looks_numeric(const char *s, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '+' || s[i] == '.' ||
              s[i] == 'e' || s[i] == 'E'))
            return false;
    return true;
}

static bool tok_is(const struct tok *t, const char *lit)
{
    return t->n == strlen(lit) && memcmp(t->s, lit, t->n) == 0;
}

static int tok_double(struct kt_otlp_json_dec *d, const struct tok *t, double *out,
                      struct kt_err *err)
{
    bool ok;
    switch (t->k) {
    case T_NUMBER:
        *out = token_strtod(t->s, t->n, &ok);
        if (!ok)
            return FAIL(d, err, "number %.*s is out of range", (int)(t->n > 40 ? 40 : t->n), t->s);
        return 0;
    case T_STRING:
        if (tok_is(t, "NaN")) {
            *out = NAN;
            return 0;
        }
        if (tok_is(t, "Infinity")) {
            *out = INFINITY;
            return 0;
        }
        if (tok_is(t, "-Infinity")) {
            *out = -INFINITY;
            return 0;
        }
        if (looks_numeric(t->s, t->n)) {
            *out = token_strtod(t->s, t->n, &ok);
            if (ok)
                return 0;
        }
        return FAIL(d, err, "want a number, \"NaN\", \"Infinity\" or \"-Infinity\", got \"%.*s\"",
                    (int)(t->n > 40 ? 40 : t->n), t->s);
    default: return FAIL(d, err, "want a number, got %s", value_type_name(t->k));
    }
}

static int tok_enum(struct kt_otlp_json_dec *d, const ProtobufCFieldDescriptor *f,
                    const struct tok *t, int32_t *out, struct kt_err *err)
{
    if (t->k == T_STRING) {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        char name[64];
        if (t->n < sizeof(name) && memchr(t->s, '\0', t->n) == NULL) {
            memcpy(name, t->s, t->n);
            name[t->n] = '\0';
            const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, name);
            if (ev != NULL) {
                *out = ev->value;
                return 0;
            }
        }
        bool neg;
        uint64_t mag;
        if (!parse_decimal(t->s, t->n, &neg, &mag))
            return FAIL(d, err, "unknown %s value \"%.*s\"", ed->short_name,
                        (int)(t->n > 40 ? 40 : t->n), t->s);
    }
    int64_t x;
    int rc = tok_int(d, t, INT32_MIN, INT32_MAX, &x, err);
    if (rc == 0)
        *out = (int32_t)x;
    return rc;
}

/* ---- writing protobuf ---- */

static int put_tag(struct kt_buf *b, const ProtobufCFieldDescriptor *f, unsigned wt)
{
    return kt_buf_append_varint(b, (uint64_t)f->id << 3 | wt);
}

static int put_fixed(struct kt_buf *b, uint64_t v, size_t n)
{
    uint8_t tmp[8];
    for (size_t i = 0; i < n; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    return kt_buf_append(b, tmp, n);
}

static int open_slot(struct kt_buf *b, size_t *slot)
{
    static const uint8_t zero[SLOT];
    *slot = b->len;
    return kt_buf_append(b, zero, SLOT);
}

/* The bytes after the slot are complete: write their length in front, shrinking the slot
 * to the varint. */
static void close_slot(struct kt_buf *b, size_t slot)
{
    size_t n = b->len - slot - SLOT;
    size_t k = kt_varint_size(n);
    if (k < SLOT)
        memmove(b->p + slot + k, b->p + slot + SLOT, n);
    kt_varint_put(b->p + slot, n);
    b->len -= SLOT - k;
}

static int hex_value(struct kt_otlp_json_dec *d, const struct tok *t, size_t want,
                     const ProtobufCFieldDescriptor *f, bool tagged, struct kt_err *err)
{
    if (t->n != 0 && t->n != want * 2)
        return FAIL(d, err, "want %zu hex characters, got %zu", want * 2, t->n);
    for (size_t i = 0; i < t->n; i++) {
        if (kt_hex_digit((unsigned char)t->s[i]) < 0) {
            char ch[16];
            describe_char((unsigned char)t->s[i], ch, sizeof(ch));
            return FAIL(d, err, "invalid hex character %s at offset %zu", ch, i);
        }
    }
    struct kt_buf *b = d->out;
    int rc = 0;
    if (tagged)
        rc = put_tag(b, f, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    if (rc == 0)
        rc = kt_buf_append_varint(b, t->n / 2);
    if (rc == 0)
        rc = kt_buf_reserve(b, t->n / 2);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < t->n / 2; i++)
        b->p[b->len++] = (uint8_t)(kt_hex_digit((unsigned char)t->s[2 * i]) << 4 |
                                   kt_hex_digit((unsigned char)t->s[2 * i + 1]));
    return 0;
}

/* Standard or URL-safe alphabet, padded or not, as proto3 JSON parsers accept. */
static int base64_value(struct kt_otlp_json_dec *d, const struct tok *t,
                        const ProtobufCFieldDescriptor *f, bool tagged, struct kt_err *err)
{
    const char *s = t->s;
    size_t n = t->n, m = n;
    if (m > 0 && s[m - 1] == '=') {
        m--;
        if (m > 0 && s[m - 1] == '=')
            m--;
        if (n % 4 != 0)
            return FAIL(d, err, "invalid base64: padded length %zu is not a multiple of 4", n);
    }
    if (m % 4 == 1)
        return FAIL(d, err, "invalid base64: length %zu", n);
    for (size_t i = 0; i < m; i++) {
        if (kt_base64_digit((unsigned char)s[i]) < 0) {
            char ch[16];
            describe_char((unsigned char)s[i], ch, sizeof(ch));
            return FAIL(d, err, "invalid base64 character %s at offset %zu", ch, i);
        }
    }
    size_t len = m / 4 * 3 + (m % 4 == 0 ? 0 : m % 4 - 1);
    struct kt_buf *b = d->out;
    int rc = 0;
    if (tagged)
        rc = put_tag(b, f, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED);
    if (rc == 0)
        rc = kt_buf_append_varint(b, len);
    if (rc == 0)
        rc = kt_buf_reserve(b, len);
    if (rc != 0)
        return rc;
    uint32_t acc = 0;
    unsigned bits = 0;
    for (size_t i = 0; i < m; i++) {
        acc = acc << 6 | (uint32_t)kt_base64_digit((unsigned char)s[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            b->p[b->len++] = (uint8_t)(acc >> bits);
        }
    }
    return 0;
}

/* Whether protobuf-c writes the field even when it holds its default: members of a oneof,
 * proto3 `optional` and proto2 fields have presence; plain proto3 scalars do not. */
static bool has_presence(const ProtobufCFieldDescriptor *f)
{
    return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || f->label == PROTOBUF_C_LABEL_OPTIONAL ||
           f->label == PROTOBUF_C_LABEL_REQUIRED;
}

/* Writes one scalar value of field f: with its tag unless it is an element of a packed
 * array, and not at all when it is a default protobuf-c leaves out. */
static int scalar_value(struct kt_otlp_json_dec *d, const ProtobufCFieldDescriptor *f,
                        const struct tok *t, bool packed_elem, struct kt_err *err)
{
    struct kt_buf *b = d->out;
    bool always = packed_elem || f->label == PROTOBUF_C_LABEL_REPEATED || has_presence(f);
    bool tagged = !packed_elem;
    uint64_t v = 0; /* the varint or fixed bits */
    unsigned wt = PROTOBUF_C_WIRE_TYPE_VARINT;
    size_t fixed = 0;
    int rc;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        int64_t x;
        if ((rc = tok_int(d, t, INT32_MIN, INT32_MAX, &x, err)) != 0)
            return rc;
        if (f->type == PROTOBUF_C_TYPE_SINT32)
            v = ((uint32_t)x << 1) ^ (0u - ((uint32_t)x >> 31)); /* zigzag */
        else if (f->type == PROTOBUF_C_TYPE_SFIXED32)
            v = (uint32_t)(int32_t)x;
        else
            v = (uint64_t)x; /* negative int32: ten bytes, as protobuf writes it */
        if (f->type == PROTOBUF_C_TYPE_SFIXED32)
            fixed = 4;
        always |= x != 0;
        break;
    }
    case PROTOBUF_C_TYPE_ENUM: {
        int32_t x = 0;
        if ((rc = tok_enum(d, f, t, &x, err)) != 0)
            return rc;
        v = (uint64_t)(int64_t)x;
        always |= x != 0;
        break;
    }
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        uint64_t x;
        if ((rc = tok_uint(d, t, UINT32_MAX, &x, err)) != 0)
            return rc;
        v = x;
        if (f->type == PROTOBUF_C_TYPE_FIXED32)
            fixed = 4;
        always |= x != 0;
        break;
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t x;
        if ((rc = tok_int(d, t, INT64_MIN, INT64_MAX, &x, err)) != 0)
            return rc;
        if (f->type == PROTOBUF_C_TYPE_SINT64)
            v = ((uint64_t)x << 1) ^ (0u - ((uint64_t)x >> 63)); /* zigzag */
        else
            v = (uint64_t)x;
        if (f->type == PROTOBUF_C_TYPE_SFIXED64)
            fixed = 8;
        always |= x != 0;
        break;
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t x;
        if ((rc = tok_uint(d, t, UINT64_MAX, &x, err)) != 0)
            return rc;
        v = x;
        if (f->type == PROTOBUF_C_TYPE_FIXED64)
            fixed = 8;
        always |= x != 0;
        break;
    }
    case PROTOBUF_C_TYPE_FLOAT: {
        double x;
        if ((rc = tok_double(d, t, &x, err)) != 0)
            return rc;
        if (isfinite(x) && fabs(x) > FLT_MAX)
            return FAIL(d, err, "%g is out of range for a float", x);
        float fv = (float)x;
        uint32_t bits;
        memcpy(&bits, &fv, 4);
        v = bits;
        fixed = 4;
        always |= fv != 0;
        break;
    }
    case PROTOBUF_C_TYPE_DOUBLE: {
        double x;
        if ((rc = tok_double(d, t, &x, err)) != 0)
            return rc;
        memcpy(&v, &x, 8);
        fixed = 8;
        always |= x != 0;
        break;
    }
    case PROTOBUF_C_TYPE_BOOL:
        if (t->k != T_TRUE && t->k != T_FALSE)
            return FAIL(d, err, "want true or false, got %s", value_type_name(t->k));
        v = t->k == T_TRUE;
        always |= v != 0;
        break;
    case PROTOBUF_C_TYPE_STRING:
        if (t->k != T_STRING)
            return FAIL(d, err, "want a string, got %s", value_type_name(t->k));
        if (!always && t->n == 0)
            return 0;
        if ((rc = put_tag(b, f, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)) != 0 ||
            (rc = kt_buf_append_varint(b, t->n)) != 0)
            return rc;
        return kt_buf_append(b, t->s, t->n);
    case PROTOBUF_C_TYPE_BYTES: {
        if (t->k != T_STRING)
            return FAIL(d, err, "want a string, got %s", value_type_name(t->k));
        if (!always && t->n == 0)
            return 0;
        size_t idlen = id_field_len(f);
        if (idlen != 0)
            return hex_value(d, t, idlen, f, true, err);
        return base64_value(d, t, f, true, err);
    }
    case PROTOBUF_C_TYPE_MESSAGE: break;
    }
    if (!always)
        return 0;
    if (fixed != 0)
        wt = fixed == 8 ? PROTOBUF_C_WIRE_TYPE_64BIT : PROTOBUF_C_WIRE_TYPE_32BIT;
    if (tagged && (rc = put_tag(b, f, wt)) != 0)
        return rc;
    return fixed != 0 ? put_fixed(b, v, fixed) : kt_buf_append_varint(b, v);
}

/* ---- the transcoder ---- */

static bool is_packed(const ProtobufCFieldDescriptor *f)
{
    return (f->flags & PROTOBUF_C_FIELD_FLAG_PACKED) != 0;
}

/* Opens a frame; md: the message of an F_MSG frame. */
static int push(struct kt_otlp_json_dec *d, enum frame_kind kind,
                const ProtobufCMessageDescriptor *md, struct kt_err *err)
{
    /* The bookkeeping per member is sized for OTLP's messages (a test checks them all). */
    if (md != NULL && md->n_fields > MAX_FIELDS)
        return kt_err_set(err, KT_EINVAL, "%s has more than %d fields", md->name, MAX_FIELDS);
    if (KT_GROW(d->st, d->n_st + 1, d->cap_st) != 0)
        return KT_ENOMEM;
    if (kind == F_MSG && KT_GROW(d->runs, (d->n_st + 1) * 2 * MAX_FIELDS, d->cap_runs) != 0)
        return KT_ENOMEM;
    struct frame *fr = &d->st[d->n_st];
    memset(fr, 0, sizeof(*fr));
    fr->kind = (uint8_t)kind;
    fr->state = S_FIRST;
    fr->sorted = true;
    fr->last = -1;
    fr->cur = -1;
    fr->slot = SIZE_MAX;
    fr->d = md;
    if (d->n_st > 0)
        fr->any_depth = d->st[d->n_st - 1].any_depth;
    d->n_st++;
    return 0;
}

static size_t *frame_runs(struct kt_otlp_json_dec *d, size_t i)
{
    return d->runs + i * 2 * MAX_FIELDS;
}

/* A message whose members came out of field-number order is rewritten in order, as
 * protobuf-c packs it: each member is one run of bytes (a member given twice is refused). */
static int reorder(struct kt_otlp_json_dec *d, size_t i)
{
    struct frame *fr = &d->st[i];
    size_t *runs = frame_runs(d, i);
    size_t start = fr->slot == SIZE_MAX ? d->out_start : fr->slot + SLOT;
    size_t n = d->out->len - start;
    uint8_t *tmp = malloc(n);
    if (tmp == NULL)
        return KT_ENOMEM;
    if (n > d->temp_peak)
        d->temp_peak = n;
    memcpy(tmp, d->out->p + start, n);
    size_t o = start;
    for (unsigned k = 0; k < fr->d->n_fields; k++) {
        if (!(fr->seen & (1u << k)))
            continue;
        size_t a = runs[2 * k] - start, z = runs[2 * k + 1] - start;
        memcpy(d->out->p + o, tmp + a, z - a);
        o += z - a;
    }
    free(tmp);
    return 0;
}

static bool is_key_value(const ProtobufCFieldDescriptor *f)
{
    return f->type == PROTOBUF_C_TYPE_MESSAGE &&
           f->descriptor == &opentelemetry__proto__common__v1__key_value__descriptor;
}

/* A value starts for field f (NULL: a member kotel ignores) of the frame on top (none: the
 * request itself). elem: it is an element of f's array. */
static int begin_value(struct kt_otlp_json_dec *d, const ProtobufCFieldDescriptor *f, bool elem,
                       const struct tok *t, bool *opened, struct kt_err *err)
{
    *opened = false;
    if (d->n_st == 0) {
        if (t->k != T_LBRACE)
            return kt_err_set(err, KT_EINVAL, "want a JSON object at top level, got %s",
                              value_type_name(t->k));
        int rc = push(d, F_MSG, d->root, err);
        if (rc != 0)
            return rc;
        *opened = true;
        return 0;
    }
    if (f == NULL) {
        if (t->k != T_LBRACE && t->k != T_LBRACKET)
            return 0;
        if (d->skip_depth >= KT_OTLP_JSON_MAX_DEPTH)
            return FAIL_LIMIT(d, err,
                              "JSON nested deeper than %d levels inside a member kotel "
                              "ignores",
                              KT_OTLP_JSON_MAX_DEPTH);
        int rc = push(d, t->k == T_LBRACE ? F_SKIP_OBJ : F_SKIP_ARR, NULL, err);
        if (rc != 0)
            return rc;
        d->skip_depth++;
        *opened = true;
        return 0;
    }
    struct kt_buf *b = d->out;
    int rc;
    if (f->label == PROTOBUF_C_LABEL_REPEATED && !elem) {
        if (t->k != T_LBRACKET)
            return FAIL(d, err, "want an array, got %s", value_type_name(t->k));
        size_t tag_at = b->len, slot = SIZE_MAX;
        if (is_packed(f)) {
            if ((rc = put_tag(b, f, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)) != 0 ||
                (rc = open_slot(b, &slot)) != 0)
                return rc;
        }
        if ((rc = push(d, F_REP, NULL, err)) != 0)
            return rc;
        struct frame *fr = &d->st[d->n_st - 1];
        fr->f = f;
        fr->tag_at = tag_at;
        fr->slot = slot;
        *opened = true;
        return 0;
    }
    if (elem && t->k == T_NULL)
        return FAIL(d, err, "null is not a valid array element");
    if (elem && is_key_value(f) && d->lim.max_attributes != 0 &&
        d->st[d->n_st - 1].idx >= d->lim.max_attributes)
        return FAIL_LIMIT(d, err,
                          "more than %llu key-value pairs in one list ([receiver] "
                          "max_attributes)",
                          (unsigned long long)d->lim.max_attributes);
    if (f->type != PROTOBUF_C_TYPE_MESSAGE)
        return scalar_value(d, f, t, elem && is_packed(f), err);
    if (t->k != T_LBRACE)
        return FAIL(d, err, "want an object, got %s", value_type_name(t->k));
    unsigned any = d->st[d->n_st - 1].any_depth;
    if (f->descriptor == &opentelemetry__proto__common__v1__any_value__descriptor &&
        ++any > KT_OTLP_MAX_ANY_DEPTH)
        return FAIL_LIMIT(d, err, "AnyValue nested deeper than %d levels", KT_OTLP_MAX_ANY_DEPTH);
    size_t slot;
    if ((rc = put_tag(b, f, PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)) != 0 ||
        (rc = open_slot(b, &slot)) != 0)
        return rc;
    if ((rc = push(d, F_MSG, f->descriptor, err)) != 0)
        return rc;
    struct frame *fr = &d->st[d->n_st - 1];
    fr->slot = slot;
    fr->any_depth = (uint8_t)any;
    *opened = true;
    return 0;
}

/* A value of the frame on top is complete (written, or skipped). */
static void end_value(struct kt_otlp_json_dec *d)
{
    if (d->n_st == 0) {
        d->done = true;
        return;
    }
    struct frame *fr = &d->st[d->n_st - 1];
    fr->state = S_NEXT;
    if (fr->kind == F_MSG && fr->cur >= 0 && (fr->seen & (1u << fr->cur)))
        frame_runs(d, d->n_st - 1)[2 * fr->cur + 1] = d->out->len;
}

/* Closes the frame on top ('}' or ']'). */
static int pop(struct kt_otlp_json_dec *d)
{
    struct frame *fr = &d->st[d->n_st - 1];
    struct kt_buf *b = d->out;
    switch ((enum frame_kind)fr->kind) {
    case F_MSG:
        if (!fr->sorted) {
            int rc = reorder(d, d->n_st - 1);
            if (rc != 0)
                return rc;
        }
        if (fr->slot != SIZE_MAX)
            close_slot(b, fr->slot);
        break;
    case F_REP:
        if (fr->slot != SIZE_MAX) {
            if (fr->idx == 0 && fr->state == S_FIRST)
                b->len = fr->tag_at; /* protobuf-c writes no empty packed array */
            else
                close_slot(b, fr->slot);
        }
        break;
    case F_SKIP_OBJ:
    case F_SKIP_ARR: d->skip_depth--; break;
    }
    d->n_st--;
    end_value(d);
    return 0;
}

/* The field a value at the top of the stack belongs to, for begin_value. */
static const ProtobufCFieldDescriptor *value_field(struct kt_otlp_json_dec *d, bool *elem)
{
    struct frame *fr = &d->st[d->n_st - 1];
    *elem = fr->kind == F_REP;
    if (fr->kind == F_REP)
        return fr->f;
    if (fr->kind == F_MSG && fr->cur >= 0)
        return &fr->d->fields[fr->cur];
    return NULL;
}

/* A member's value is about to be read: null means absent; a member given twice or a
 * second member of a oneof is refused; its bytes start here. */
static int begin_member(struct kt_otlp_json_dec *d, const struct tok *t, struct kt_err *err)
{
    size_t i = d->n_st - 1;
    struct frame *fr = &d->st[i];
    if (fr->kind != F_MSG || fr->cur < 0)
        return 0;
    if (t->k == T_NULL) {
        fr->cur = -1;
        return 0;
    }
    const ProtobufCFieldDescriptor *f = &fr->d->fields[fr->cur];
    if (fr->seen & (1u << fr->cur))
        return FAIL(d, err, "given twice");
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        for (unsigned k = 0; k < fr->d->n_fields; k++) {
            const ProtobufCFieldDescriptor *o = &fr->d->fields[k];
            if ((fr->seen & (1u << k)) && (o->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
                o->quantifier_offset == f->quantifier_offset) {
                char name[64];
                camel_name(o->name, name, sizeof(name));
                return FAIL(d, err, "conflicts with %s: only one member of a oneof may be set",
                            name);
            }
        }
    }
    fr->seen |= 1u << fr->cur;
    if (fr->cur < fr->last)
        fr->sorted = false;
    fr->last = fr->cur;
    size_t *runs = frame_runs(d, i);
    runs[2 * fr->cur] = runs[2 * fr->cur + 1] = d->out->len;
    return 0;
}

static int value_token(struct kt_otlp_json_dec *d, const struct tok *t, struct kt_err *err)
{
    bool elem = false;
    const ProtobufCFieldDescriptor *f = NULL;
    int rc;
    if (d->n_st > 0) {
        if ((rc = begin_member(d, t, err)) != 0)
            return rc;
        f = value_field(d, &elem);
        if (d->st[d->n_st - 1].kind == F_MSG && t->k == T_NULL)
            f = NULL; /* absent */
    }
    bool opened;
    if ((rc = begin_value(d, f, elem, t, &opened, err)) != 0)
        return rc;
    if (!opened)
        end_value(d);
    return 0;
}

static int key_token(struct kt_otlp_json_dec *d, const struct tok *t)
{
    struct frame *fr = &d->st[d->n_st - 1];
    fr->key_at = t->raw_at;
    fr->key_n = t->raw_n;
    fr->cur = -1;
    fr->state = S_COLON;
    if (fr->kind == F_MSG) {
        fr->cur = (int8_t)find_field(fr->d, t->s, t->n);
    }
    return 0;
}

/* One token, in the state of the frame on top. */
static int step_token(struct kt_otlp_json_dec *d, const struct tok *t, struct kt_err *err)
{
    if (d->done) {
        if (t->k == T_EOF)
            return 0;
        return syntax_fail(d, err, t->at, "end of input expected after the request object");
    }
    if (t->k == T_EOF)
        return syntax_fail(d, err, t->at, "unexpected end of input");
    if (d->n_st == 0 && t->k != T_LBRACE && t->k != T_LBRACKET && t->k != T_STRING &&
        t->k != T_NUMBER && t->k != T_TRUE && t->k != T_FALSE && t->k != T_NULL)
        return syntax_fail(d, err, t->at, "want a value, got %s", tok_name(t->k));
    if (d->n_st == 0)
        return value_token(d, t, err);
    struct frame *fr = &d->st[d->n_st - 1];
    bool obj = fr->kind == F_MSG || fr->kind == F_SKIP_OBJ;
    switch ((enum frame_state)fr->state) {
    case S_FIRST:
        if (obj && t->k == T_RBRACE)
            return pop(d);
        if (!obj && t->k == T_RBRACKET)
            return pop(d);
        if (obj) {
            if (t->k != T_STRING)
                return syntax_fail(d, err, t->at, "want a member name or '}', got %s",
                                   tok_name(t->k));
            return key_token(d, t);
        }
        if (t->k == T_RBRACE || t->k == T_COLON || t->k == T_COMMA)
            return syntax_fail(d, err, t->at, "want a value or ']', got %s", tok_name(t->k));
        fr->state = S_VALUE;
        return value_token(d, t, err);
    case S_KEY:
        if (t->k != T_STRING)
            return syntax_fail(d, err, t->at, "want a member name, got %s", tok_name(t->k));
        return key_token(d, t);
    case S_COLON:
        if (t->k != T_COLON)
            return syntax_fail(d, err, t->at, "want ':' after a member name, got %s",
                               tok_name(t->k));
        fr->state = S_VALUE;
        return 0;
    case S_VALUE:
        if (t->k == T_RBRACE || t->k == T_RBRACKET || t->k == T_COLON || t->k == T_COMMA)
            return syntax_fail(d, err, t->at, "want a value, got %s", tok_name(t->k));
        return value_token(d, t, err);
    case S_NEXT:
        if (t->k == T_COMMA) {
            if (obj) {
                fr->state = S_KEY;
                fr->cur = -1;
                fr->key_n = 0;
            } else {
                fr->state = S_VALUE;
                fr->idx++;
            }
            return 0;
        }
        if (obj && t->k == T_RBRACE)
            return pop(d);
        if (!obj && t->k == T_RBRACKET)
            return pop(d);
        return syntax_fail(d, err, t->at, "want ',' or '%c', got %s", obj ? '}' : ']',
                           tok_name(t->k));
    }
    return KT_EINVAL;
}

void kt_otlp_json_dec_free(struct kt_otlp_json_dec *d)
{
    if (d == NULL)
        return;
    free(d->st);
    free(d->runs);
    kt_buf_free(&d->scratch);
    free(d);
}

int kt_otlp_json_dec_new(enum kt_signal sig, const char *json, size_t len,
                         const struct kt_otlp_limits *lim, struct kt_buf *out,
                         struct kt_otlp_json_dec **dec, struct kt_err *err)
{
    *dec = NULL;
    const ProtobufCMessageDescriptor *rd = request_descriptor(sig);
    if (rd == NULL)
        return kt_err_set(err, KT_EINVAL, "unknown signal %d", (int)sig);
    /* Some clients prefix a UTF-8 byte order mark; it carries nothing. */
    if (len >= 3 && memcmp(json, "\xEF\xBB\xBF", 3) == 0) {
        json += 3;
        len -= 3;
    }
    size_t i = 0;
    while (i < len && is_json_space(json[i]))
        i++;
    if (i == len)
        return kt_err_set(err, KT_EINVAL, "empty body");
    struct kt_otlp_json_dec *d = calloc(1, sizeof(*d));
    if (d == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory converting JSON");
    d->in = json;
    d->len = len;
    d->out = out;
    d->out_start = out->len;
    d->root = rd;
    if (lim != NULL)
        d->lim = *lim;
    if (d->lim.max_string_bytes == 0)
        d->lim.max_string_bytes = UINT64_MAX;
    *dec = d;
    return 0;
}

int kt_otlp_json_dec_step(struct kt_otlp_json_dec *d, size_t max_bytes, struct kt_err *err)
{
    if (d->failed != 0)
        return d->failed;
    size_t stop = d->len - d->pos > max_bytes ? d->pos + max_bytes : d->len;
    int rc = 0;
    for (;;) {
        struct tok t;
        if ((rc = next_token(d, &t, err)) != 0 || (rc = step_token(d, &t, err)) != 0)
            break;
        if (t.k == T_EOF)
            return 0;
        if (d->pos >= stop && d->pos < d->len)
            return KT_EAGAIN;
    }
    if (rc == KT_ENOMEM)
        kt_err_set(err, KT_ENOMEM, "out of memory converting JSON");
    d->out->len = d->out_start;
    d->failed = rc;
    return rc;
}

int kt_otlp_json_to_proto_limits(enum kt_signal sig, const char *json, size_t len,
                                 const struct kt_otlp_limits *lim, struct kt_buf *out,
                                 struct kt_err *err)
{
    struct kt_otlp_json_dec *d;
    int rc = kt_otlp_json_dec_new(sig, json, len, lim, out, &d, err);
    if (rc == 0)
        rc = kt_otlp_json_dec_step(d, SIZE_MAX, err);
    kt_otlp_json_dec_free(d);
    return rc;
}

int kt_otlp_json_to_proto(enum kt_signal sig, const char *json, size_t len, struct kt_buf *out,
                          struct kt_err *err)
{
    return kt_otlp_json_to_proto_limits(sig, json, len, NULL, out, err);
}

/* ---- protobuf -> JSON writing --------------------------------------------------------- */

static int put(struct kt_buf *b, const char *s, size_t n)
{
    return kt_buf_append(b, s, n);
}

#define PUT_LIT(b, lit) put((b), (lit), sizeof(lit) - 1)

static int put_u64(struct kt_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return put(b, tmp + i, sizeof(tmp) - i);
}

static int put_i64(struct kt_buf *b, int64_t v)
{
    if (v >= 0)
        return put_u64(b, (uint64_t)v);
    int rc = kt_buf_append_byte(b, '-');
    if (rc != 0)
        return rc;
    return put_u64(b, (uint64_t)(-(v + 1)) + 1);
}

/* The shortest %g form that reads back to the same value, so 0.1 is written "0.1", not
 * 0.10000000000000001. Negative zero gets a fraction because "-0" reads back as the
 * integer 0 and would lose its sign. */
static int put_double(struct kt_buf *b, double v, bool is_float)
{
    if (isnan(v))
        return PUT_LIT(b, "\"NaN\"");
    if (isinf(v))
        return v > 0 ? PUT_LIT(b, "\"Infinity\"") : PUT_LIT(b, "\"-Infinity\"");
    if (v == 0)
        return signbit(v) ? PUT_LIT(b, "-0.0") : PUT_LIT(b, "0");
    char tmp[40];
    int prec_min = is_float ? 6 : 15;
    int prec_max = is_float ? 9 : 17;
    int n = 0;
    for (int prec = prec_min; prec <= prec_max; prec++) {
        n = snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (prec == prec_max)
            break;
        if (is_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v)
            break;
    }
    return put(b, tmp, (size_t)n);
}

/* Escapes for JSON; bytes that are not UTF-8 become U+FFFD so the output always parses. */
static int put_string(struct kt_buf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    int rc = kt_buf_reserve(b, n + 2);
    if (rc != 0)
        return rc;
    b->p[b->len++] = '"';
    size_t start = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char ch = s[i];
        if (ch >= 0x20 && ch < 0x80 && ch != '"' && ch != '\\') {
            i++;
            continue;
        }
        if (ch >= 0x80) {
            size_t k = kt_utf8_seq_len(s + i, n - i);
            if (k != 0) {
                i += k;
                continue;
            }
        }
        rc = put(b, str + start, i - start);
        if (rc != 0)
            return rc;
        char esc[8];
        size_t elen = 2;
        esc[0] = '\\';
        switch (ch) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            if (ch >= 0x80) {
                memcpy(esc, "\\ufffd", 6);
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = kt_hex_lower(ch >> 4);
                esc[5] = kt_hex_lower(ch);
            }
            elen = 6;
            break;
        }
        rc = put(b, esc, elen);
        if (rc != 0)
            return rc;
        i++;
        start = i;
    }
    rc = put(b, str + start, n - start);
    if (rc != 0)
        return rc;
    return kt_buf_append_byte(b, '"');
}

static int put_hex(struct kt_buf *b, const uint8_t *p, size_t n)
{
    int rc = kt_buf_reserve(b, 2 * n + 2);
    if (rc != 0)
        return rc;
    char *o = (char *)b->p + b->len;
    *o++ = '"';
    kt_hex_encode(p, n, o); /* its NUL lands where the closing quote goes */
    o += 2 * n;
    *o++ = '"';
    b->len += 2 * n + 2;
    return 0;
}

static int put_base64(struct kt_buf *b, const uint8_t *p, size_t n)
{
    size_t len = kt_base64_len(n);
    int rc = kt_buf_reserve(b, len + 3);
    if (rc != 0)
        return rc;
    char *o = (char *)b->p + b->len;
    *o++ = '"';
    kt_base64_encode(p, n, o); /* its NUL lands where the closing quote goes */
    o[len] = '"';
    b->len += len + 2;
    return 0;
}

static int put_key(struct kt_buf *b, const char *name, bool first)
{
    size_t n = strlen(name);
    int rc = kt_buf_reserve(b, n + 4);
    if (rc != 0)
        return rc;
    uint8_t *o = b->p + b->len;
    if (!first)
        *o++ = ',';
    *o++ = '"';
    bool up = false;
    for (; *name; name++) {
        char ch = *name;
        if (ch == '_') {
            up = true;
            continue;
        }
        if (up && ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        up = false;
        *o++ = (uint8_t)ch;
    }
    *o++ = '"';
    *o++ = ':';
    b->len = (size_t)(o - b->p);
    return 0;
}

static int write_message(struct kt_buf *b, const ProtobufCMessage *m);

static int write_value(struct kt_buf *b, const ProtobufCFieldDescriptor *f, const void *member)
{
    int rc;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_ENUM: return put_i64(b, *(const int32_t *)member);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: return put_u64(b, *(const uint32_t *)member);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if ((rc = kt_buf_append_byte(b, '"')) != 0 ||
            (rc = put_i64(b, *(const int64_t *)member)) != 0)
            return rc;
        return kt_buf_append_byte(b, '"');
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if ((rc = kt_buf_append_byte(b, '"')) != 0 ||
            (rc = put_u64(b, *(const uint64_t *)member)) != 0)
            return rc;
        return kt_buf_append_byte(b, '"');
    case PROTOBUF_C_TYPE_FLOAT: return put_double(b, *(const float *)member, true);
    case PROTOBUF_C_TYPE_DOUBLE: return put_double(b, *(const double *)member, false);
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)member ? PUT_LIT(b, "true") : PUT_LIT(b, "false");
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)member;
        return s != NULL ? put_string(b, s, strlen(s)) : PUT_LIT(b, "\"\"");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = member;
        if (id_field_len(f) != 0)
            return put_hex(b, bd->data, bd->len);
        return put_base64(b, bd->data, bd->len);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)member;
        return sub != NULL ? write_message(b, sub) : PUT_LIT(b, "{}");
    }
    }
    return KT_EINVAL;
}

/* What protobuf-c leaves off the wire for a proto3 field without presence. */
static bool field_is_default(const ProtobufCFieldDescriptor *f, const void *member)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM: return *(const uint32_t *)member == 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: return *(const uint64_t *)member == 0;
    case PROTOBUF_C_TYPE_FLOAT: return *(const float *)member == 0;
    case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)member == 0;
    case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)member == 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(const char *const *)member;
        return s == NULL || s[0] == '\0';
    }
    case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)member)->len == 0;
    case PROTOBUF_C_TYPE_MESSAGE: return *(const void *const *)member == NULL;
    }
    return true;
}

static bool field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const uint8_t *base = (const uint8_t *)m;
    const void *member = base + f->offset;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
            return false;
        /* protobuf-c packs a oneof string or message only when its pointer is set. */
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
            return *(const void *const *)member != NULL;
        return true;
    }
    switch (f->label) {
    case PROTOBUF_C_LABEL_REQUIRED: return true;
    case PROTOBUF_C_LABEL_OPTIONAL:
        if (f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE)
            return *(const void *const *)member != NULL;
        if (f->quantifier_offset != 0)
            return *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
        return !field_is_default(f, member);
    case PROTOBUF_C_LABEL_REPEATED: return *(const size_t *)(base + f->quantifier_offset) != 0;
    case PROTOBUF_C_LABEL_NONE: break;
    }
    return !field_is_default(f, member);
}

static int write_message(struct kt_buf *b, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const uint8_t *base = (const uint8_t *)m;
    int rc = kt_buf_append_byte(b, '{');
    if (rc != 0)
        return rc;
    bool first = true;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (!field_present(m, f))
            continue;
        rc = put_key(b, f->name, first);
        if (rc != 0)
            return rc;
        first = false;
        if (f->label != PROTOBUF_C_LABEL_REPEATED) {
            rc = write_value(b, f, base + f->offset);
            if (rc != 0)
                return rc;
            continue;
        }
        size_t n = *(const size_t *)(base + f->quantifier_offset);
        const uint8_t *arr = *(const uint8_t *const *)(base + f->offset);
        size_t es = elem_size(f->type);
        rc = kt_buf_append_byte(b, '[');
        for (size_t k = 0; k < n && rc == 0; k++) {
            if (k > 0)
                rc = kt_buf_append_byte(b, ',');
            if (rc == 0)
                rc = write_value(b, f, arr + k * es);
        }
        if (rc == 0)
            rc = kt_buf_append_byte(b, ']');
        if (rc != 0)
            return rc;
    }
    return kt_buf_append_byte(b, '}');
}

int kt_otlp_proto_to_json(enum kt_signal sig, struct kt_slice pb, struct kt_buf *out,
                          struct kt_err *err)
{
    const ProtobufCMessageDescriptor *d = request_descriptor(sig);
    if (d == NULL)
        return kt_err_set(err, KT_EINVAL, "unknown signal %d", (int)sig);
    static const uint8_t empty[1];
    const uint8_t *data = pb.p != NULL ? pb.p : empty;
    int rc;

    alignas(max_align_t) unsigned char stack[ARENA_INLINE];
    struct kt_arena arena;
    kt_arena_init(&arena, stack, sizeof(stack));
    ProtobufCAllocator *alloc_p = kt_arena_pb(&arena);
    ProtobufCMessage *msg = protobuf_c_message_unpack(d, alloc_p, pb.n, data);
    if (msg == NULL) {
        rc = arena.failed ? kt_err_set(err, KT_ENOMEM, "out of memory unpacking protobuf")
                          : kt_err_set(err, KT_EINVAL, "malformed protobuf %s", d->name);
        kt_arena_free(&arena);
        return rc;
    }
    size_t start = out->len;
    rc = write_message(out, msg);
    if (rc != 0) {
        out->len = start;
        kt_err_set(err, rc, "out of memory writing JSON");
    }
    kt_arena_free(&arena);
    return rc;
}

/* ---- HTTP response bodies ------------------------------------------------------------- */

int kt_otlp_json_status(int code, const char *message, struct kt_buf *out)
{
    size_t start = out->len;
    int rc = PUT_LIT(out, "{\"code\":");
    if (rc == 0)
        rc = put_i64(out, code);
    if (rc == 0)
        rc = PUT_LIT(out, ",\"message\":");
    if (rc == 0)
        rc = message != NULL ? put_string(out, message, strlen(message)) : PUT_LIT(out, "\"\"");
    if (rc == 0)
        rc = kt_buf_append_byte(out, '}');
    if (rc != 0)
        out->len = start;
    return rc;
}

int kt_otlp_json_export_response(enum kt_signal sig, uint64_t rejected, const char *error_message,
                                 struct kt_buf *out)
{
    const char *count_key;
    switch (sig) {
    case KT_SIGNAL_TRACES: count_key = "{\"partialSuccess\":{\"rejectedSpans\":\""; break;
    case KT_SIGNAL_METRICS: count_key = "{\"partialSuccess\":{\"rejectedDataPoints\":\""; break;
    case KT_SIGNAL_LOGS: count_key = "{\"partialSuccess\":{\"rejectedLogRecords\":\""; break;
    default: return KT_EINVAL;
    }
    bool has_msg = error_message != NULL && error_message[0] != '\0';
    if (rejected == 0 && !has_msg)
        return PUT_LIT(out, "{}");
    /* The proto field is int64. */
    if (rejected > (uint64_t)INT64_MAX)
        rejected = (uint64_t)INT64_MAX;
    size_t start = out->len;
    int rc;
    if (rejected != 0) {
        rc = put(out, count_key, strlen(count_key));
        if (rc == 0)
            rc = put_u64(out, rejected);
        if (rc == 0)
            rc = kt_buf_append_byte(out, '"');
        if (rc == 0 && has_msg)
            rc = kt_buf_append_byte(out, ',');
    } else {
        rc = PUT_LIT(out, "{\"partialSuccess\":{");
    }
    if (rc == 0 && has_msg) {
        rc = PUT_LIT(out, "\"errorMessage\":");
        if (rc == 0)
            rc = put_string(out, error_message, strlen(error_message));
    }
    if (rc == 0)
        rc = PUT_LIT(out, "}}");
    if (rc != 0)
        out->len = start;
    return rc;
}
