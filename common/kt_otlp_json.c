/* kt_otlp_json: OTLP/JSON to and from protobuf, driven by the protobuf-c descriptors.
 *
 * One generic walker handles every message of the schema, so a field added to the protos
 * needs no code here. JSON is parsed with jansson into a tree, the tree is turned into
 * protobuf-c messages allocated from a per-call arena (one free for the whole request) and
 * packed. The reverse direction takes bytes kt_otlp_validate_flags has checked (each tier
 * validates once, where the bytes come in), unpacks them into the arena and writes JSON
 * directly into the caller's kt_buf. */
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

#include <jansson.h>
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

/* ---- error paths ---------------------------------------------------------------------- */

/* The path is kept as a stack of frames and only rendered when something fails, so the
 * common case pays a store per level, not a string build. */
#define PATH_MAX_FRAMES (2 * KT_OTLP_JSON_MAX_DEPTH + 8)

enum frame_kind {
    FRAME_KEY,   /* a JSON member name, as the sender wrote it */
    FRAME_FIELD, /* a proto field name, rendered in lowerCamelCase */
    FRAME_INDEX,
};

struct frame {
    const char *name;
    size_t idx;
    enum frame_kind kind;
};

struct path {
    unsigned n;
    struct frame v[PATH_MAX_FRAMES];
};

static void path_push(struct path *p, enum frame_kind kind, const char *name, size_t idx)
{
    if (p->n < PATH_MAX_FRAMES) {
        p->v[p->n].kind = kind;
        p->v[p->n].name = name;
        p->v[p->n].idx = idx;
    }
    p->n++;
}

static void path_pop(struct path *p)
{
    p->n--;
}

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

static void path_render(const struct path *p, char *buf, size_t cap)
{
    struct sbuf s = {buf, cap, 0};
    unsigned n = p->n < PATH_MAX_FRAMES ? p->n : PATH_MAX_FRAMES;
    for (unsigned i = 0; i < n; i++) {
        const struct frame *f = &p->v[i];
        if (f->kind == FRAME_INDEX) {
            char tmp[32];
            snprintf(tmp, sizeof(tmp), "[%zu]", f->idx);
            sb_puts(&s, tmp);
            continue;
        }
        if (i > 0)
            sb_putc(&s, '.');
        if (f->kind == FRAME_FIELD)
            sb_put_camel(&s, f->name);
        else
            sb_puts(&s, f->name);
    }
    if (p->n > n)
        sb_puts(&s, "...");
    if (cap > 0)
        buf[s.len] = '\0';
}

static int path_fail(const struct path *p, struct kt_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int path_fail(const struct path *p, struct kt_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return KT_EINVAL;
    char where[256];
    char what[256];
    path_render(p, where, sizeof(where));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (where[0] == '\0')
        return kt_err_set(err, KT_EINVAL, "%s", what);
    return kt_err_set(err, KT_EINVAL, "%s: %s", where, what);
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

/* ---- JSON -> protobuf ----------------------------------------------------------------- */

struct j2p {
    struct kt_arena *arena;
    struct kt_err *err;
    struct path path;
};

#define J2P_FAIL(c, ...) path_fail(&(c)->path, (c)->err, __VA_ARGS__)

static const char *json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

/* True when key is the field's proto name or its lowerCamelCase JSON name. */
static bool name_matches(const char *name, const char *key)
{
    if (name[0] != key[0])
        return false;
    if (strcmp(name, key) == 0)
        return true;
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
        if (*key++ != c)
            return false;
    }
    return *key == '\0';
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *d,
                                                  const char *key)
{
    for (unsigned i = 0; i < d->n_fields; i++)
        if (name_matches(d->fields[i].name, key))
            return &d->fields[i];
    return NULL;
}

/* An optionally negative run of decimal digits, nothing else; false also when the
 * magnitude does not fit 64 bits. */
static bool parse_decimal(const char *s, bool *neg, uint64_t *mag)
{
    *neg = false;
    if (*s == '-') {
        *neg = true;
        s++;
    }
    if (*s == '\0')
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned dgt = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - dgt) / 10)
            return false;
        v = v * 10 + dgt;
    }
    *mag = v;
    return true;
}

/* A JSON real standing for an integer must be integral and small enough to be exact. */
static int j2p_real_as_int(struct j2p *c, double dv)
{
    if (dv != floor(dv))
        return J2P_FAIL(c, "want an integer, got %g", dv);
    if (fabs(dv) > EXACT_DOUBLE_INT)
        return J2P_FAIL(c, "%.17g is too large to be exact as a JSON number; send it as a string",
                        dv);
    return 0;
}

static int j2p_int(struct j2p *c, json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t x;
    switch (json_typeof(v)) {
    case JSON_INTEGER: x = (int64_t)json_integer_value(v); break;
    case JSON_REAL: {
        double dv = json_real_value(v);
        int rc = j2p_real_as_int(c, dv);
        if (rc != 0)
            return rc;
        x = (int64_t)dv;
        break;
    }
    case JSON_STRING: {
        bool neg;
        uint64_t mag;
        const char *s = json_string_value(v);
        if (!parse_decimal(s, &neg, &mag))
            return J2P_FAIL(c, "want a decimal integer, got \"%.40s\"", s);
        if (neg) {
            if (mag > (uint64_t)INT64_MAX + 1)
                return J2P_FAIL(c, "%.40s is out of range", s);
            x = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
        } else {
            if (mag > (uint64_t)INT64_MAX)
                return J2P_FAIL(c, "%.40s is out of range", s);
            x = (int64_t)mag;
        }
        break;
    }
    default: return J2P_FAIL(c, "want an integer, got %s", json_type_name(v));
    }
    if (x < lo || x > hi)
        return J2P_FAIL(c, "%lld is out of range [%lld, %lld]", (long long)x, (long long)lo,
                        (long long)hi);
    *out = x;
    return 0;
}

static int j2p_uint(struct j2p *c, json_t *v, uint64_t hi, uint64_t *out)
{
    uint64_t x;
    switch (json_typeof(v)) {
    case JSON_INTEGER: {
        json_int_t iv = json_integer_value(v);
        if (iv < 0)
            return J2P_FAIL(c, "%lld is out of range [0, %llu]", (long long)iv,
                            (unsigned long long)hi);
        x = (uint64_t)iv;
        break;
    }
    case JSON_REAL: {
        double dv = json_real_value(v);
        int rc = j2p_real_as_int(c, dv);
        if (rc != 0)
            return rc;
        if (dv < 0)
            return J2P_FAIL(c, "%g is out of range [0, %llu]", dv, (unsigned long long)hi);
        x = (uint64_t)dv;
        break;
    }
    case JSON_STRING: {
        bool neg;
        uint64_t mag;
        const char *s = json_string_value(v);
        if (!parse_decimal(s, &neg, &mag))
            return J2P_FAIL(c, "want a decimal integer, got \"%.40s\"", s);
        if (neg && mag != 0)
            return J2P_FAIL(c, "%.40s is out of range [0, %llu]", s, (unsigned long long)hi);
        x = mag;
        break;
    }
    default: return J2P_FAIL(c, "want an integer, got %s", json_type_name(v));
    }
    if (x > hi)
        return J2P_FAIL(c, "%llu is out of range [0, %llu]", (unsigned long long)x,
                        (unsigned long long)hi);
    *out = x;
    return 0;
}

/* Plain JSON number syntax, so strtod's extras (hex floats, "inf", "nan") stay out. */
static bool looks_numeric(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.' || *s == 'e' ||
              *s == 'E'))
            return false;
    return true;
}

static int j2p_double(struct j2p *c, json_t *v, double *out)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER: *out = (double)json_integer_value(v); return 0;
    case JSON_REAL: *out = json_real_value(v); return 0;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        if (strcmp(s, "NaN") == 0) {
            *out = NAN;
            return 0;
        }
        if (strcmp(s, "Infinity") == 0) {
            *out = INFINITY;
            return 0;
        }
        if (strcmp(s, "-Infinity") == 0) {
            *out = -INFINITY;
            return 0;
        }
        if (looks_numeric(s)) {
            char *end;
            errno = 0;
            double dv = strtod(s, &end);
            if (*end == '\0' && !(errno == ERANGE && isinf(dv))) {
                *out = dv;
                return 0;
            }
        }
        return J2P_FAIL(c, "want a number, \"NaN\", \"Infinity\" or \"-Infinity\", got \"%.40s\"",
                        s);
    }
    default: return J2P_FAIL(c, "want a number, got %s", json_type_name(v));
    }
}

static int j2p_enum(struct j2p *c, const ProtobufCFieldDescriptor *f, json_t *v, int32_t *out)
{
    if (json_is_string(v)) {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        const char *s = json_string_value(v);
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value_by_name(ed, s);
        if (ev != NULL) {
            *out = ev->value;
            return 0;
        }
        bool neg;
        uint64_t mag;
        if (!parse_decimal(s, &neg, &mag))
            return J2P_FAIL(c, "unknown %s value \"%.40s\"", ed->short_name, s);
    }
    int64_t x;
    int rc = j2p_int(c, v, INT32_MIN, INT32_MAX, &x);
    if (rc == 0)
        *out = (int32_t)x;
    return rc;
}

static void describe_char(unsigned char ch, char *buf, size_t cap)
{
    if (ch > 0x20 && ch < 0x7f)
        snprintf(buf, cap, "'%c'", ch);
    else
        snprintf(buf, cap, "byte 0x%02x", ch);
}

static int j2p_hex(struct j2p *c, const char *s, size_t n, size_t want, ProtobufCBinaryData *out)
{
    out->len = 0;
    out->data = NULL;
    if (n == 0)
        return 0;
    if (n != want * 2)
        return J2P_FAIL(c, "want %zu hex characters, got %zu", want * 2, n);
    uint8_t *p = kt_arena_alloc(c->arena, want);
    if (p == NULL)
        return KT_ENOMEM;
    for (size_t i = 0; i < want; i++) {
        int hi = kt_hex_digit((unsigned char)s[2 * i]);
        int lo = kt_hex_digit((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            size_t at = hi < 0 ? 2 * i : 2 * i + 1;
            char ch[16];
            describe_char((unsigned char)s[at], ch, sizeof(ch));
            return J2P_FAIL(c, "invalid hex character %s at offset %zu", ch, at);
        }
        p[i] = (uint8_t)(hi << 4 | lo);
    }
    out->data = p;
    out->len = want;
    return 0;
}

/* Standard or URL-safe alphabet, padded or not, as proto3 JSON parsers accept. */
static int j2p_base64(struct j2p *c, const char *s, size_t n, ProtobufCBinaryData *out)
{
    out->len = 0;
    out->data = NULL;
    size_t m = n;
    if (m > 0 && s[m - 1] == '=') {
        m--;
        if (m > 0 && s[m - 1] == '=')
            m--;
        if (n % 4 != 0)
            return J2P_FAIL(c, "invalid base64: padded length %zu is not a multiple of 4", n);
    }
    if (m % 4 == 1)
        return J2P_FAIL(c, "invalid base64: length %zu", n);
    if (m == 0)
        return 0;
    size_t len = m / 4 * 3 + (m % 4 == 0 ? 0 : m % 4 - 1);
    uint8_t *p = kt_arena_alloc(c->arena, len);
    if (p == NULL)
        return KT_ENOMEM;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < m; i++) {
        int v = kt_base64_digit((unsigned char)s[i]);
        if (v < 0) {
            char ch[16];
            describe_char((unsigned char)s[i], ch, sizeof(ch));
            return J2P_FAIL(c, "invalid base64 character %s at offset %zu", ch, i);
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            p[o++] = (uint8_t)(acc >> bits);
        }
    }
    out->data = p;
    out->len = o;
    return 0;
}

static int j2p_message(struct j2p *c, const ProtobufCMessageDescriptor *d, json_t *obj,
                       unsigned depth, ProtobufCMessage **out);

/* Converts one JSON value (never null) into the C storage of one field element. */
static int j2p_value(struct j2p *c, const ProtobufCFieldDescriptor *f, json_t *v, void *dst,
                     unsigned depth)
{
    int rc = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32: {
        int64_t x;
        rc = j2p_int(c, v, INT32_MIN, INT32_MAX, &x);
        if (rc == 0)
            *(int32_t *)dst = (int32_t)x;
        return rc;
    }
    case PROTOBUF_C_TYPE_ENUM: return j2p_enum(c, f, v, dst);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32: {
        uint64_t x;
        rc = j2p_uint(c, v, UINT32_MAX, &x);
        if (rc == 0)
            *(uint32_t *)dst = (uint32_t)x;
        return rc;
    }
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64: {
        int64_t x;
        rc = j2p_int(c, v, INT64_MIN, INT64_MAX, &x);
        if (rc == 0)
            *(int64_t *)dst = x;
        return rc;
    }
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t x;
        rc = j2p_uint(c, v, UINT64_MAX, &x);
        if (rc == 0)
            *(uint64_t *)dst = x;
        return rc;
    }
    case PROTOBUF_C_TYPE_FLOAT: {
        double x;
        rc = j2p_double(c, v, &x);
        if (rc != 0)
            return rc;
        if (isfinite(x) && fabs(x) > FLT_MAX)
            return J2P_FAIL(c, "%g is out of range for a float", x);
        *(float *)dst = (float)x;
        return 0;
    }
    case PROTOBUF_C_TYPE_DOUBLE: return j2p_double(c, v, dst);
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return J2P_FAIL(c, "want true or false, got %s", json_type_name(v));
        *(protobuf_c_boolean *)dst = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_STRING:
        if (!json_is_string(v))
            return J2P_FAIL(c, "want a string, got %s", json_type_name(v));
        /* Borrowed: the jansson tree outlives the pack. */
        *(const char **)dst = json_string_value(v);
        return 0;
    case PROTOBUF_C_TYPE_BYTES: {
        if (!json_is_string(v))
            return J2P_FAIL(c, "want a string, got %s", json_type_name(v));
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        size_t idlen = id_field_len(f);
        if (idlen != 0)
            return j2p_hex(c, s, n, idlen, dst);
        return j2p_base64(c, s, n, dst);
    }
    case PROTOBUF_C_TYPE_MESSAGE: return j2p_message(c, f->descriptor, v, depth + 1, dst);
    }
    return J2P_FAIL(c, "unsupported field type %d", (int)f->type);
}

static int j2p_field(struct j2p *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
                     json_t *v, unsigned depth)
{
    uint8_t *base = (uint8_t *)m;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        if (!json_is_array(v))
            return J2P_FAIL(c, "want an array, got %s", json_type_name(v));
        size_t n = json_array_size(v);
        size_t es = elem_size(f->type);
        uint8_t *arr = NULL;
        if (n > 0) {
            if (n > SIZE_MAX / es)
                return KT_ENOMEM;
            arr = kt_arena_alloc(c->arena, n * es);
            if (arr == NULL)
                return KT_ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(v, i);
            path_push(&c->path, FRAME_INDEX, NULL, i);
            if (json_is_null(e))
                return J2P_FAIL(c, "null is not a valid array element");
            int rc = j2p_value(c, f, e, arr + i * es, depth);
            if (rc != 0)
                return rc;
            path_pop(&c->path);
        }
        *(size_t *)(base + f->quantifier_offset) = n;
        *(void **)(base + f->offset) = arr;
        return 0;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t *pcase = (uint32_t *)(base + f->quantifier_offset);
        if (*pcase != 0 && *pcase != f->id) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(m->descriptor, *pcase);
            char name[64];
            camel_name(other != NULL ? other->name : "?", name, sizeof(name));
            return J2P_FAIL(c, "conflicts with %s: only one member of a oneof may be set", name);
        }
        int rc = j2p_value(c, f, v, base + f->offset, depth);
        if (rc == 0)
            *pcase = f->id;
        return rc;
    }
    int rc = j2p_value(c, f, v, base + f->offset, depth);
    /* proto2-style and proto3 `optional` scalars carry a has_ flag. */
    if (rc == 0 && f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset != 0 &&
        f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
        *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    return rc;
}

static int j2p_message(struct j2p *c, const ProtobufCMessageDescriptor *d, json_t *obj,
                       unsigned depth, ProtobufCMessage **out)
{
    if (!json_is_object(obj))
        return J2P_FAIL(c, "want an object, got %s", json_type_name(obj));
    if (depth > KT_OTLP_JSON_MAX_DEPTH)
        return J2P_FAIL(c, "messages nested deeper than %d levels", KT_OTLP_JSON_MAX_DEPTH);
    ProtobufCMessage *m = kt_arena_alloc(c->arena, d->sizeof_message);
    if (m == NULL)
        return KT_ENOMEM;
    d->message_init(m);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        if (json_is_null(v))
            continue;
        const ProtobufCFieldDescriptor *f = find_field(d, key);
        if (f == NULL)
            continue;
        path_push(&c->path, FRAME_KEY, key, 0);
        int rc = j2p_field(c, m, f, v, depth);
        if (rc != 0)
            return rc;
        path_pop(&c->path);
    }
    *out = m;
    return 0;
}

static bool is_json_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r';
}

int kt_otlp_json_to_proto(enum kt_signal sig, const char *json, size_t len, struct kt_buf *out,
                          struct kt_err *err)
{
    const ProtobufCMessageDescriptor *d = request_descriptor(sig);
    if (d == NULL)
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

    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        if (json_error_code(&jerr) == json_error_out_of_memory)
            return kt_err_set(err, KT_ENOMEM, "out of memory parsing JSON");
        return kt_err_set(err, KT_EINVAL, "invalid JSON at line %d, column %d: %s", jerr.line,
                          jerr.column, jerr.text);
    }
    int rc;
    if (!json_is_object(root)) {
        rc = kt_err_set(err, KT_EINVAL, "want a JSON object at top level, got %s",
                        json_type_name(root));
        json_decref(root);
        return rc;
    }

    alignas(max_align_t) unsigned char stack[ARENA_INLINE];
    struct kt_arena arena;
    kt_arena_init(&arena, stack, sizeof(stack));
    struct j2p c;
    c.arena = &arena;
    c.err = err;
    c.path.n = 0;

    ProtobufCMessage *msg = NULL;
    rc = j2p_message(&c, d, root, 1, &msg);
    if (rc == 0) {
        size_t sz = protobuf_c_message_get_packed_size(msg);
        if (sz > 0) {
            rc = kt_buf_reserve(out, sz);
            if (rc == 0) {
                size_t n = protobuf_c_message_pack(msg, out->p + out->len);
                out->len += n;
            }
        }
    }
    if (rc == KT_ENOMEM)
        kt_err_set(err, KT_ENOMEM, "out of memory converting JSON");
    kt_arena_free(&arena);
    json_decref(root);
    return rc;
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
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int rc = kt_buf_reserve(b, (n + 2) / 3 * 4 + 2);
    if (rc != 0)
        return rc;
    uint8_t *o = b->p + b->len;
    *o++ = '"';
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = (uint8_t)tab[v >> 18];
        *o++ = (uint8_t)tab[(v >> 12) & 63];
        *o++ = (uint8_t)tab[(v >> 6) & 63];
        *o++ = (uint8_t)tab[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = (uint8_t)tab[v >> 18];
        *o++ = (uint8_t)tab[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = (uint8_t)tab[v >> 18];
        *o++ = (uint8_t)tab[(v >> 12) & 63];
        *o++ = (uint8_t)tab[(v >> 6) & 63];
        *o++ = '=';
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
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
