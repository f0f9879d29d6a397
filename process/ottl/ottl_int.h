/* ottl internals shared by the lexer, parser, evaluator and function library. Nothing here
 * is for other modules, and no file outside process/ottl/ includes it (its unit tests
 * aside): they use ottl.h. */
#ifndef PROCESS_OTTL_OTTL_INT_H
#define PROCESS_OTTL_OTTL_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ottl.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue ottl_kv;
typedef Opentelemetry__Proto__Common__V1__AnyValue ottl_any;

/* Nesting of parentheses, lists and calls a source may use: bounds parser recursion. */
#define OTTL_MAX_DEPTH 64

/* ---- lexer ---- */

enum ottl_tok {
    OTTL_T_EOF,
    OTTL_T_IDENT,
    OTTL_T_STRING,
    OTTL_T_INT,
    OTTL_T_FLOAT,
    OTTL_T_LPAREN,
    OTTL_T_RPAREN,
    OTTL_T_LBRACK,
    OTTL_T_RBRACK,
    OTTL_T_COMMA,
    OTTL_T_DOT,
    OTTL_T_EQ,
    OTTL_T_NE,
    OTTL_T_LT,
    OTTL_T_LE,
    OTTL_T_GT,
    OTTL_T_GE,
    OTTL_T_ASSIGN,
    OTTL_T_MINUS,
    OTTL_T_PLUS,
    OTTL_T_STAR,
    OTTL_T_SLASH,
    OTTL_T_LBRACE,
    OTTL_T_RBRACE,
    OTTL_T_COLON,
};

struct ottl_token {
    enum ottl_tok kind;
    size_t pos; /* byte offset of the token in the source */
    size_t len; /* source bytes it spans */
    /* IDENT: the name, pointing into the source (not terminated). STRING: the decoded value,
     * NUL-terminated, in the arena given to ottl_lex. */
    const char *s;
    size_t n;
    int64_t i; /* INT */
    double d;  /* FLOAT */
};

/* Splits src into tokens, the last one EOF. The array and decoded strings come from a.
 * Errors: "column N: unterminated string in '<src>'" and the like. */
int ottl_lex(const char *src, struct kt_arena *a, struct ottl_token **toks, size_t *n,
             struct kt_err *err);
/* "end of input", "'=='", "identifier 'foo'", "string \"x\"", "number 12" for messages. */
void ottl_tok_describe(const struct ottl_token *t, char *buf, size_t size);
/* "column N: <what> in '<src>'", N 1-based. */
int ottl_syntax_error(struct kt_err *err, const char *src, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- values ---- */

enum ottl_vtype {
    OTTL_NIL,
    OTTL_BOOL,
    OTTL_INT,
    OTTL_DOUBLE,
    OTTL_STR,
    OTTL_BYTES,
    OTTL_MAP,   /* attributes or a kvlist, by reference so editors can change it */
    OTTL_ARRAY, /* an AnyValue array */
    OTTL_LIST,  /* a list or map literal (its node's kind says which), evaluated when used */
    /* A trace ID (16 bytes) or span ID (8) in s: the Collector's pcommon.TraceID and SpanID,
     * which equal only an ID of the same kind and bytes, order nothing and cannot be set
     * into a map. */
    OTTL_ID,
    OTTL_TIME,     /* an instant and the zone it reads in (Go's time.Time): tm */
    OTTL_DURATION, /* nanoseconds (Go's time.Duration): i */
    /* A message-valued field of a data point, by reference (pdata's ExemplarSlice,
     * SummaryDataPointValueAtQuantileSlice, ExponentialHistogramDataPointBuckets): msg.
     * It equals only itself, orders nothing, and the parser lets it go only where the
     * Collector can use one: comparisons, Len, IsList and set. */
    OTTL_MSG,
};

enum ottl_msg_kind { OTTL_MSG_EXEMPLARS, OTTL_MSG_QUANTILES, OTTL_MSG_BUCKETS };

/* Where the field lives in its data point, so a value can be compared (by field) and
 * copied from: a repeated field's pointer array (Exemplar ***, ValueAtQuantile ***) and its
 * length n; for buckets the Buckets ** field, n NULL (protobuf-c leaves an absent one NULL,
 * which reads as empty buckets, as pdata's always-present ones). */
struct ottl_msg {
    enum ottl_msg_kind kind;
    void *field;
    size_t *n;
};

struct ottl_tz;

/* An instant as nanoseconds since the epoch, and the zone its calendar fields (Hour,
 * FormatTime) read in: tz when not NULL, else the fixed offset off seconds east of UTC,
 * named name (UTC when off is 0 and name NULL; "" prints as the offset, as Go's FixedZone
 * without a name does). */
struct ottl_time {
    int64_t ns;
    const struct ottl_tz *tz;
    const char *name;
    int32_t off;
};

/* Where a map's KeyValue pointer array and its length live in the owning message. */
struct ottl_map {
    ottl_kv ***kv;
    size_t *n;
};

struct ottl_node;

struct ottl_value {
    enum ottl_vtype t;
    union {
        bool b;
        int64_t i;
        double d;
        struct {
            const char *p; /* STR / BYTES; not necessarily terminated */
            size_t n;
        } s;
        struct ottl_map m;
        const Opentelemetry__Proto__Common__V1__ArrayValue *arr;
        const struct ottl_node *list;
        struct ottl_time tm;
        struct ottl_msg msg;
    };
};

const char *ottl_vtype_name(enum ottl_vtype t);
/* The value of an attribute or list item (nil for NULL or an unset one); strings and bytes
 * point into av. */
void ottl_value_from_any(const ottl_any *av, struct ottl_value *out);

/* ---- syntax tree ---- */

#define OTTL_PF_MAP 0x1      /* a map: usable bare by map editors and with ["key"] */
#define OTTL_PF_READONLY 0x2 /* set() refuses it */
#define OTTL_PF_KEY 0x4      /* not a map, but takes one ["key"] (span.trace_state) */
#define OTTL_PF_MORE 0x8     /* read and set by ottl_paths.c */
#define OTTL_PF_TIME 0x10    /* a timestamp read and set as a time (span.start_time) */
#define OTTL_PF_MSG 0x20     /* reads as an OTTL_MSG (datapoint.exemplars) */

struct ottl_path_def {
    const char *name;
    enum ottl_context ctx;
    enum ottl_path_id id;
    unsigned flags;
};

enum ottl_nkind {
    OTTL_N_LIT,
    OTTL_N_PATH,
    OTTL_N_CALL,
    OTTL_N_LIST,
    OTTL_N_MAP, /* {"k": v, ...}: list.items are the values, list.keys their keys */
    OTTL_N_AND,
    OTTL_N_OR,
    OTTL_N_NOT,
    OTTL_N_CMP,
    OTTL_N_MATH, /* l arith r */
    OTTL_N_NEG,  /* -l */
};

enum ottl_cmp { OTTL_CMP_EQ, OTTL_CMP_NE, OTTL_CMP_LT, OTTL_CMP_LE, OTTL_CMP_GT, OTTL_CMP_GE };

struct ottl_grok_group;

struct ottl_regex {
    pcre2_code *code;
    pcre2_match_data *md; /* sized for the pattern's groups, reused by every match */
    struct ottl_regex *next;
    /* ExtractGrokPatterns: the field and type of each group, by group number; NULL elsewhere */
    const struct ottl_grok_group *grok;
};

struct ottl_func;
struct ottl_eval;

/* An index after a path's first ["key"]: ["key"] into a map or [N] into an array. */
struct ottl_index {
    const char *s; /* NULL: an array index */
    size_t n;
    int64_t i;
};

struct ottl_node {
    enum ottl_nkind kind;
    size_t pos;
    union {
        struct ottl_value lit;
        struct {
            const struct ottl_path_def *def;
            const char *key; /* NULL: the whole field */
            size_t keylen;
            /* Further indexes, attributes["a"]["b"][0]: into the value under key. */
            const struct ottl_index *more;
            size_t n_more;
            /* OTTL_PF_MORE: ottl_paths.c's reader and writer, picked by the parser so that
             * the evaluator calls them without naming that file (which uses its helpers). */
            int (*get)(struct ottl_eval *ev, const struct ottl_node *n, struct ottl_value *out);
            int (*set)(struct ottl_eval *ev, const struct ottl_node *n, const struct ottl_value *v);
        } path;
        struct {
            const struct ottl_func *fn;
            struct ottl_node **args;
            size_t n_args;
            struct ottl_regex *re; /* the call's literal pattern, compiled */
        } call;
        struct {
            struct ottl_node **items;
            size_t n;
            const struct ottl_index *keys; /* OTTL_N_MAP: one per item */
        } list;
        struct {
            struct ottl_node *l, *r; /* NOT and NEG use l */
            enum ottl_cmp op;
            char arith; /* MATH: '+', '-', '*' or '/' */
        } bin;
    };
};

/* What a condition or statement owns: every node and string comes from arena. */
struct ottl_prog {
    struct kt_arena arena;
    struct ottl_regex *regexes;
    const char *src; /* copy, in arena */
    enum ottl_context ctx;
    const struct ottl_func *ctx_fn; /* the first function that implies a context, or NULL */
    bool path_ctx;                  /* some path names a context */
};

struct ottl_condition {
    struct ottl_prog p;
    struct ottl_node *root;
};

struct ottl_statement {
    struct ottl_prog p;
    struct ottl_node *call;
    struct ottl_node *where; /* NULL: always */
};

/* ---- evaluation ---- */

struct ottl_eval {
    const struct ottl_tctx *t;
    struct kt_err *err;
};

int ottl_eval_value(struct ottl_eval *ev, const struct ottl_node *n, struct ottl_value *out);

/* The map a map-typed path names (attributes, a kvlist attribute or body, a kvlist under
 * further indexes: attributes["a"]["b"]). m->kv is NULL when there is no map there. */
int ottl_path_map(struct ottl_eval *ev, const struct ottl_node *path, struct ottl_map *m);
int ottl_path_set(struct ottl_eval *ev, const struct ottl_node *path, const struct ottl_value *v);

/* Is k (a key of a map, NUL-terminated; NULL is "") the n bytes of key? Most keys of a map
 * differ in their first byte: that is checked before the call (lookups by name run many
 * times per span). */
static inline bool ottl_key_eq(const char *k, const char *key, size_t n)
{
    if (k == NULL)
        k = "";
    return k[0] == (n > 0 ? key[0] : '\0') && strncmp(k, key, n) == 0 && k[n] == '\0';
}

/* Does string v start (suffix: end) with string x? HasPrefix and TrimPrefix agree on it. */
static inline bool ottl_has_affix(const struct ottl_value *v, const struct ottl_value *x,
                                  bool suffix)
{
    return x->s.n <= v->s.n && memcmp(v->s.p + (suffix ? v->s.n - x->s.n : 0), x->s.p, x->s.n) == 0;
}

/* The value an AnyValue holds (NIL for none); maps and arrays by reference. */
void ottl_value_from_any(const ottl_any *av, struct ottl_value *out);
/* Writes v into av, copying maps, arrays and literals whole into a (depth: 0). */
int ottl_value_to_any(struct ottl_eval *ev, struct kt_arena *a, const struct ottl_value *v,
                      ottl_any *av, int depth);
/* The entry under key, or NULL. */
ottl_kv *ottl_map_find(const struct ottl_map *m, const char *key, size_t keylen);
/* Appends an entry under key with an unset value (in a), or NULL when out of memory. */
ottl_kv *ottl_map_add(struct kt_arena *a, const struct ottl_map *m, const char *key, size_t keylen);

/* Removes the entries keep() says no to, keeping the order of the rest. */
void ottl_map_filter(const struct ottl_map *m, bool (*keep)(const ottl_kv *kv, void *arg),
                     void *arg);

#define OTTL_TEXT_TMP 72

/* Renders a value as text: strings as is, numbers and bools in tmp (OTTL_TEXT_TMP bytes),
 * bytes as lowercase hex (in tmp when short, else in a), doubles shortest round-trip.
 * Maps and arrays render as JSON into a when json_ok, else give KT_EINVAL; NIL gives
 * p == NULL. */
int ottl_value_text(struct kt_arena *a, const struct ottl_value *v, bool json_ok, char *tmp,
                    const char **p, size_t *n, struct kt_err *err);

/* A string built up in an arena; p stays NUL-terminated. */
struct ottl_abuf {
    struct kt_arena *a;
    char *p;
    size_t n, cap;
    bool oom;
};
void ottl_abuf_put(struct ottl_abuf *b, const char *s, size_t n);
/* v as Go's encoding/json writes the Collector's raw form of it: map keys sorted, bytes in
 * base64, doubles as ottl_go_float; html escapes <, > and & (json.Marshal) or not (pdata's
 * AsString). Sets b->oom when out of memory. */
void ottl_json_value(struct ottl_abuf *b, const struct ottl_value *v, bool html);
/* A double as Go's JSON and pdata's AsString write it (ES6 number to string): the shortest
 * digits that read back as d, plainly unless below 1e-6 or from 1e21 on ("1e+21",
 * "1.5e-7"); NaN, Infinity, -Infinity. size: 32 or more. */
void ottl_go_float(double d, char *buf, size_t size);

/* The tctx arena, or NULL with err set when the caller gave none. */
struct kt_arena *ottl_eval_arena(struct ottl_eval *ev);

/* ---- functions ---- */

/* Argument kinds, one letter each in ottl_func.args:
 *   g any value   p a settable path   m a map path   r a regex literal   s a string literal
 *   i an int literal   S a list of string literals   l a list literal (items any value)
 *   F a function name (a bare converter name: SHA256)
 *   G a grok pattern literal (compiled with the call's definitions: ottl_grok_expand)
 * Kinds after a '?' are optional: an absent one is a NULL in call.args. */
struct ottl_func {
    const char *name;
    bool editor;
    const char *args;
    /* "target, pattern": the parameters' names, for named arguments (the Collector's) and
     * arity messages */
    const char *arg_names;
    int ctx; /* -1, or the context the function implies (IsRootSpan: span) */
    /* Further checks at parse time (limits, modes); NULL when none. */
    int (*check)(const struct ottl_node *call, const char *src, struct kt_err *err);
    int (*call)(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
    /* Fields it reads from the context without a path argument naming them. */
    ottl_fields reads;
};

/* Evaluates argument arg of call, which must give a string: nil and other types fail with
 * "<fn>: argument N must be a string, got <type>". */
int ottl_want_string(struct ottl_eval *ev, const struct ottl_node *call, size_t arg,
                     struct ottl_value *v);

extern const struct ottl_func ottl_funcs[];
extern const size_t ottl_n_funcs;

/* ottl_funcs_map.c: the map, list and parsing functions (Keys, ParseJSON, merge_maps, Sort, ...).
 */
int ottl_fn_append(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_coalesce(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_sort(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_slice_to_map(struct ottl_eval *ev, const struct ottl_node *call,
                         struct ottl_value *out);
int ottl_fn_delete_index(struct ottl_eval *ev, const struct ottl_node *call,
                         struct ottl_value *out);
int ottl_fn_flatten(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_keys(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_merge_maps(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_parse_csv(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_parse_json(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_parse_key_value(struct ottl_eval *ev, const struct ottl_node *call,
                            struct ottl_value *out);
int ottl_fn_values(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_check_append(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_coalesce(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_sort(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_delete_index(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_flatten(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_merge_maps(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_parse_csv(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_parse_key_value(const struct ottl_node *call, const char *src, struct kt_err *err);
/* For converters that build maps: a new AnyValue, an empty map result in out (an arena
 * kvlist), and a put into such a map (val taken; *cap its room, 0 at first). */
ottl_any *ottl_any_new(struct kt_arena *a);
int ottl_map_result(struct ottl_eval *ev, struct kt_arena *a, struct ottl_value *out);
int ottl_map_put(struct ottl_eval *ev, struct kt_arena *a, const struct ottl_map *m, size_t *cap,
                 const char *key, size_t keylen, ottl_any *val);

/* ottl_funcs_str.c: string, conversion and ID converters and the glob editors (issue 14). */
int ottl_fn_lower(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_upper(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_snake(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_camel(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_convert_case(struct ottl_eval *ev, const struct ottl_node *call,
                         struct ottl_value *out);
int ottl_fn_trim(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_trim_prefix(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_trim_suffix(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_split(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_index(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_double(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_bool(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_hex(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_span_id(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_trace_id(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_uuid(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_format(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_decode(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_replace_match(struct ottl_eval *ev, const struct ottl_node *call,
                          struct ottl_value *out);
int ottl_fn_replace_all_matches(struct ottl_eval *ev, const struct ottl_node *call,
                                struct ottl_value *out);
int ottl_check_strings(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_convert_case(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_decode(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_like(const struct ottl_node *call, const char *src, struct kt_err *err);
/* The Collector's float-like conversion (Double, Log): nil gives *has false. */
int ottl_to_double(struct kt_arena *a, const struct ottl_value *v, double *d, bool *has,
                   struct kt_err *err);

/* ottl_funcs_extract.c: extraction, network and parsing converters (issue 14). */
int ottl_fn_extract_patterns(struct ottl_eval *ev, const struct ottl_node *call,
                             struct ottl_value *out);
int ottl_fn_extract_grok_patterns(struct ottl_eval *ev, const struct ottl_node *call,
                                  struct ottl_value *out);
int ottl_fn_is_in_cidr(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_url(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_user_agent(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_log(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_parse_severity(struct ottl_eval *ev, const struct ottl_node *call,
                           struct ottl_value *out);
int ottl_check_extract_grok_patterns(const struct ottl_node *call, const char *src,
                                     struct kt_err *err);
int ottl_check_is_in_cidr(const struct ottl_node *call, const char *src, struct kt_err *err);
/* ExtractGrokPatterns' pattern (argument 2, kind 'G'), for the parser once the arguments
 * are checked: expand gives the regex (in p's arena) and what its generated groups capture;
 * the parser compiles it into call->call.re; bind tells each group of it its field. */
struct ottl_grok_caps;
int ottl_grok_expand(struct ottl_prog *p, const struct ottl_node *call, const char *src,
                     const char **re, size_t *re_n, struct ottl_grok_caps **caps,
                     struct kt_err *err);
int ottl_grok_bind(struct ottl_prog *p, struct ottl_node *call, const struct ottl_grok_caps *caps,
                   const char *src, struct kt_err *err);

/* ottl_funcs_metric.c: the metric editors of the transform processor (issue 14). */
int ottl_fn_aggregate_on_attribute_value(struct ottl_eval *ev, const struct ottl_node *call,
                                         struct ottl_value *out);
int ottl_fn_aggregate_on_attributes(struct ottl_eval *ev, const struct ottl_node *call,
                                    struct ottl_value *out);
int ottl_fn_convert_gauge_to_sum(struct ottl_eval *ev, const struct ottl_node *call,
                                 struct ottl_value *out);
int ottl_fn_convert_sum_to_gauge(struct ottl_eval *ev, const struct ottl_node *call,
                                 struct ottl_value *out);
int ottl_fn_convert_summary_quantile_val_to_gauge(struct ottl_eval *ev,
                                                  const struct ottl_node *call,
                                                  struct ottl_value *out);
int ottl_fn_convert_summary_count_val_to_sum(struct ottl_eval *ev, const struct ottl_node *call,
                                             struct ottl_value *out);
int ottl_fn_convert_summary_sum_val_to_sum(struct ottl_eval *ev, const struct ottl_node *call,
                                           struct ottl_value *out);
int ottl_fn_copy_metric(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_extract_count_metric(struct ottl_eval *ev, const struct ottl_node *call,
                                 struct ottl_value *out);
int ottl_fn_extract_sum_metric(struct ottl_eval *ev, const struct ottl_node *call,
                               struct ottl_value *out);
int ottl_fn_scale_metric(struct ottl_eval *ev, const struct ottl_node *call,
                         struct ottl_value *out);
int ottl_check_aggregate(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_copy_metric(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_bool_first(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_scale(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_temporality(const struct ottl_node *call, const char *src, struct kt_err *err);

/* ottl_paths.c: the paths past names, attributes and values (issue 14), the OTTL_PF_MORE
 * ones: a path node's get and set, called once the context's object is known to be there. */
int ottl_path_get_more(struct ottl_eval *ev, const struct ottl_node *n, struct ottl_value *out);
int ottl_path_set_more(struct ottl_eval *ev, const struct ottl_node *n, const struct ottl_value *v);
/* An ID's lowercase hex (an absent one as size zero bytes, as pdata reads it), in a
 * per-thread ring of small buffers, so reading one costs no allocation. */
int ottl_id_text(struct ottl_eval *ev, const ProtobufCBinaryData *b, size_t size,
                 struct ottl_value *out);
/* Sets a string field to a copy of string v in the arena; another type is an error. */
int ottl_set_str_field(struct ottl_eval *ev, const struct ottl_path_def *d,
                       const struct ottl_value *v, char **field);
/* Sets an ID from its 2 * bytes hex digits ("" clears it when empty_ok). */
int ottl_set_id_hex(struct ottl_eval *ev, const struct ottl_path_def *d, const struct ottl_value *v,
                    size_t bytes, bool empty_ok, ProtobufCBinaryData *field);
/* The Collector's type name of a value: "TraceID", "ExemplarSlice", ... or ottl_vtype_name's. */
const char *ottl_value_type_name(const struct ottl_value *v);

/* ottl_hash.c: the hashes no linked library has. */
uint64_t ottl_hash_fnv1a64(const void *data, size_t n);
uint32_t ottl_hash_murmur3_32(const void *data, size_t n, uint32_t seed);

/* ottl_time.c: the calendar and zones under time values (issue 14). */
int64_t ottl_floor_div(int64_t a, int64_t b);
int64_t ottl_floor_mod(int64_t a, int64_t b);
/* The date of a day since 1970-01-01. */
void ottl_civil_from_days(int64_t z, int64_t *y, int *m, int *d);
int ottl_days_in(int m, int64_t y);
/* The zone named name (n bytes) as Go's LoadLocation finds it: "" and "UTC" are UTC (*out
 * NULL), "Local" is UTC here; anything else a file of the tz database ("unknown time zone X"
 * when there is none). Loaded once, then found without a lock. */
int ottl_tz_get(const char *name, size_t n, const struct ottl_tz **out, struct kt_err *err);

struct ottl_zinfo {
    int32_t off;
    const char *abbr;
    int64_t start, end; /* the seconds the offset holds for: [start, end) */
};

struct ottl_tfields {
    int64_t year;
    int mon, day, hour, min, sec, wday;
    int32_t nsec, off;
    const char *abbr;
};

void ottl_tz_lookup(const struct ottl_tz *z, int64_t sec, struct ottl_zinfo *zi);
/* Go's Location.lookupName: the offset of the abbreviation in effect around sec (local
 * seconds as if UTC), else of any type of that name. */
bool ottl_tz_lookup_name(const struct ottl_tz *z, const char *name, size_t n, int64_t sec,
                         int32_t *off);
/* The offset and abbreviation a time reads in. */
void ottl_time_zone(const struct ottl_time *t, int32_t *off, const char **abbr);
void ottl_time_fields(const struct ottl_time *t, struct ottl_tfields *f);
/* Go's Date(y, m, d, H, M, S, ns, tz) as nanoseconds since the epoch, local time resolved as
 * Go does around a transition; KT_EINVAL when no int64 of nanoseconds holds it. */
int ottl_date_in(const struct ottl_tz *tz, int64_t y, int m, int d, int H, int M, int S,
                 int32_t nsec, int64_t *ns);
/* Go's RFC 3339 text with nanoseconds ("2006-01-02T15:04:05.999999999Z07:00") into buf,
 * NUL-terminated; its length. */
size_t ottl_time_rfc3339(const struct ottl_time *t, char *buf, size_t size);

/* ottl_funcs_time.c: time and duration converters (issue 14). */
int ottl_fn_time(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_now(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_duration(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_format_time(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
int ottl_fn_truncate_time(struct ottl_eval *ev, const struct ottl_node *call,
                          struct ottl_value *out);
int ottl_fn_unix(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
/* UnixNano, UnixMicro, UnixMilli, UnixSeconds: the function's name picks the unit. */
int ottl_fn_unix_of(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
/* Nanoseconds ... Hours of a duration: the name picks the unit. */
int ottl_fn_duration_in(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
/* Year, Month, Day, Hour, Minute, Second, Nanosecond, Weekday of a time in its zone. */
int ottl_fn_time_field(struct ottl_eval *ev, const struct ottl_node *call, struct ottl_value *out);
/* Literal arguments of the type each parameter takes (the other time converters' check). */
int ottl_check_time_args(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_time(const struct ottl_node *call, const char *src, struct kt_err *err);
int ottl_check_format_time(const struct ottl_node *call, const char *src, struct kt_err *err);

int ottl_regex_compile(struct ottl_prog *p, const char *pat, size_t n, struct ottl_regex **out,
                       struct kt_err *err);

#endif
