#include "pipeline.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "exporter.h"
#include "filter.h"
#include "kt_arena.h"
#include "kt_idmap.h"
#include "kt_log.h"
#include "kt_otlp_json.h"
#include "kt_otlp_wire.h"
#include "kt_prom.h"
#include "kt_utf8.h"
#include "metadata.h"
#include "tail_sampler.h"
#include "trace_decode.h"
#include "trace_encode.h"
#include "transform.h"

typedef Opentelemetry__Proto__Trace__V1__TracesData TracesData;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Metrics__V1__MetricsData MetricsData;
typedef Opentelemetry__Proto__Logs__V1__LogsData LogsData;

/* Sampler ticks: decisions are due at decision_wait granularity; 100ms is plenty. */
#define TICK_SECONDS 0.1
/* How often the sampler's memory and decisions are logged while it holds traces. */
#define SAMPLER_REPORT_SECONDS 60.0

/* [kafka.header_extraction] headers: at most this many. */
#define HEADER_EXTRACTION_MAX 64
#define ATTR_PREFIX "kafka.header."

/* Tokens handed to the sampler and exporter are one of these, told apart by the tag. */
enum { TOKEN_MSG = 0x4d, TOKEN_MULTI = 0x55 };

/* One Kafka message in flight. */
struct pmsg {
    uint8_t tag;
    bool revoked; /* its partition was revoked: finishing it commits nothing */
    /* Checked only down to its items (signal_plan.items_unchecked): the full check waits for
     * a backend that refuses it (refused_recheck). */
    bool unchecked;
    enum kt_signal sig;
    const char *topic; /* the consumer's: it outlives every message */
    int32_t partition;
    int64_t offset;
    uint64_t handle;
    uint32_t refs; /* pieces not finished yet, +1 while the message is being processed */
    uint32_t held; /* of those, pieces the tail sampler holds */
    struct pmsg *prev, *next;
    /* Its request metadata ([exporter] headers_from_metadata), in the same allocation; NULL
     * when no keys are configured. */
    struct exporter_meta *meta;
};

/* A sampled trace whose spans came from several messages: one exporter token for all. */
struct multi {
    uint8_t tag;
    size_t n;
    struct pmsg *m[];
};

/* What the configuration asks of one signal's messages, decided once (plan_signals). */
struct signal_plan {
    bool filter;    /* [filter] drops some of its items */
    bool transform; /* [transform] runs on every message (not deferred to sampled traces) */
    bool sample;    /* traces under tail sampling */
    /* None of the above nor a deferred transform: the validated bytes go to the exporter
     * as they are, which saves the decode that otherwise dominates the cost of a message. */
    bool pass_through;
    /* Pass-through to a protobuf backend: nothing in kotel reads the items, so the message is
     * checked only down to them (KT_OTLP_VALIDATE_STRUCTURE), which halves its cost. The
     * backend checks what it decodes; a refusal has the pieces checked in full then. */
    bool items_unchecked;
    /* Traces: decode spans only as deep as p->trace_need (trace_decode.h). */
    bool shallow;
    /* Traces, transformed on every message, nothing else: the transform is span attribute
     * edits made on the bytes (p->trace_edits), no objects at all. */
    bool edit_bytes;
};

/* A span's place in the decoded message, for grouping by trace. */
struct span_ref {
    uint32_t group;
    uint32_t ri, si;
    Span *span;
};

struct pipeline {
    const struct process_conf *conf;
    struct kt_otlp_vcache vcache; /* the resources and scopes of messages lately found valid */
    /* Resources lately decoded and attribute keys looked up, for shallow decodes. */
    struct trace_decode_cache *tdcache;
    struct ev_loop *loop;
    struct consumer *consumer;
    struct exporter *exporter;
    struct filter *filter;
    struct transform *transform;
    /* The trace transform as byte edits (span_edit.h), NULL when it is more than that. */
    struct span_edits *trace_edits;
    struct tail_sampler *sampler; /* NULL when tail sampling is off */
    struct pmsg *live;            /* every message in flight */
    size_t held_msgs;             /* messages with a piece in the tail sampler */
    ev_timer tick;
    ev_tstamp last_report;
    struct kt_log_limit rl_recheck; /* refused_recheck's line, once a second at most */
    bool shutting_down;
    bool freeing; /* in pipeline_free: callbacks must not touch the parts being freed */
    bool paused;
    /* Traces: the policies read nothing the transform touches, so it runs on sampled
     * traces only, as they are exported, instead of on every span. */
    bool defer_transform;
    /* Traces: what a message's decode must give (trace_decode.h). When filter and sampler
     * read no attributes, events or links and no transform runs first, spans are decoded
     * shallow and what is kept goes on as the bytes it arrived in. */
    ottl_fields trace_need;
    struct signal_plan plan[KT_SIGNAL_COUNT];
    struct kt_arena arena;        /* per message decode, reset after each */
    struct kt_arena export_arena; /* deferred transform, reset after each trace */
    struct kt_buf export_packed;
    struct kt_buf json_pb; /* otlp_json values converted to protobuf */
    struct kt_buf packed;  /* re-encoded data */
    struct span_ref *refs; /* grouping scratch, reused */
    struct span_ref *sorted;
    size_t refs_cap;
    uint32_t *group_n;
    uint8_t (*group_id)[16];
    struct kt_idmap groups; /* trace ID -> index into group_id, emptied per message */
    /* [kafka.header_extraction]: the attribute key of each header ("kafka.header.<name>"),
     * NULL when off; the rewritten message and the rewrite's scratch. */
    char **hx_keys;
    struct kt_buf hx_out;
    struct metadata_scratch hx_scratch;
    struct pipeline_signal_stats stats[KT_SIGNAL_COUNT];
};

/* ---- message lifetime ---- */

static struct pmsg *pmsg_new(struct pipeline *p, const struct consumer_msg *m)
{
    /* The metadata values are copied behind the message, as the record goes away after
     * on_message while its data may wait in a batch. */
    const struct kt_strlist *mk = &p->conf->exporter.headers_from_metadata;
    struct kt_slice v[EXPORTER_META_MAX] = {{NULL, 0}};
    size_t extra = 0;
    for (size_t i = 0; i < mk->n && i < EXPORTER_META_MAX; i++)
        if (metadata_header(m, mk->v[i], true, &v[i]))
            extra += v[i].n;
    if (mk->n > 0)
        extra += sizeof(struct exporter_meta);
    struct pmsg *pm = calloc(1, sizeof(*pm) + extra);
    if (pm == NULL)
        return NULL;
    if (mk->n > 0) {
        pm->meta = (struct exporter_meta *)(pm + 1);
        uint8_t *at = (uint8_t *)(pm->meta + 1);
        for (size_t i = 0; i < mk->n && i < EXPORTER_META_MAX; i++) {
            if (v[i].p == NULL)
                continue;
            if (v[i].n > 0)
                memcpy(at, v[i].p, v[i].n);
            pm->meta->v[i] = (struct kt_slice){at, v[i].n};
            at += v[i].n;
        }
    }
    pm->tag = TOKEN_MSG;
    pm->sig = m->sig;
    pm->topic = m->topic;
    pm->partition = m->partition;
    pm->offset = m->offset;
    pm->handle = m->handle;
    pm->refs = 1;
    pm->next = p->live;
    if (p->live)
        p->live->prev = pm;
    p->live = pm;
    return pm;
}

static void pmsg_unlink(struct pipeline *p, struct pmsg *pm)
{
    if (pm->prev)
        pm->prev->next = pm->next;
    else
        p->live = pm->next;
    if (pm->next)
        pm->next->prev = pm->prev;
    free(pm);
}

static void update_backpressure(struct pipeline *p);

/* A piece of the message is finished; the last one finishes the message. */
static void pmsg_unref(struct pipeline *p, struct pmsg *pm)
{
    if (--pm->refs > 0)
        return;
    if (!pm->revoked)
        consumer_msg_done(p->consumer, pm->handle);
    pmsg_unlink(p, pm);
}

/* The piece will never be finished (shutdown, revocation): forget it without committing. */
static void pmsg_abandon(struct pipeline *p, struct pmsg *pm)
{
    pm->revoked = true;
    pmsg_unref(p, pm);
}

/* Messages the sampler holds wait for their trace's decision_wait, bounded by num_traces;
 * kafka.max_pending_messages bounds the others, so backpressure tells them apart. */
static void sampler_hold(struct pipeline *p, struct pmsg *pm)
{
    pm->refs++;
    if (pm->held++ == 0)
        p->held_msgs++;
}

static void sampler_unhold(struct pipeline *p, struct pmsg *pm)
{
    if (--pm->held == 0)
        p->held_msgs--;
}

static void token_finish(struct pipeline *p, void *token, bool commit)
{
    uint8_t tag = *(uint8_t *)token;
    if (tag == TOKEN_MULTI) {
        struct multi *mt = token;
        for (size_t i = 0; i < mt->n; i++)
            commit ? pmsg_unref(p, mt->m[i]) : pmsg_abandon(p, mt->m[i]);
        free(mt);
    } else {
        commit ? pmsg_unref(p, token) : pmsg_abandon(p, token);
    }
}

/* ---- callbacks from the exporter and the sampler ---- */

static void exporter_done(void *ctx, void *token, int status, const char *message)
{
    struct pipeline *p = ctx;
    if (status == 0) {
        token_finish(p, token, true);
    } else if (status == KT_EINVAL) {
        /* Refused for good and its data could not be rebuilt for the dead-letter topic:
         * dropped deliberately, as exporter_refused would; the exporter logged why. */
        (void)message;
        token_finish(p, token, true);
    } else {
        token_finish(p, token, false);
    }
    update_backpressure(p);
}

/* The partitions an origin line names at most; the rest are counted. */
#define ORIGIN_PARTS 6

struct origin_range {
    const char *topic;
    int32_t partition;
    int64_t lo, hi;
};

static void origin_add(struct origin_range *r, size_t *n, size_t *more, const struct pmsg *pm)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(r[i].topic, pm->topic) == 0 && r[i].partition == pm->partition) {
            if (pm->offset < r[i].lo)
                r[i].lo = pm->offset;
            if (pm->offset > r[i].hi)
                r[i].hi = pm->offset;
            return;
        }
    }
    if (*n == ORIGIN_PARTS) {
        (*more)++;
        return;
    }
    r[(*n)++] = (struct origin_range){pm->topic, pm->partition, pm->offset, pm->offset};
}

/* exporter_origin_fn: the topic, partitions and offset ranges of the messages behind tokens,
 * so an export failure in the log can be looked up with kotel-process --dump. */
static void export_origin(void *ctx, void *const *tokens, size_t n_tokens, char *buf, size_t cap)
{
    (void)ctx;
    struct origin_range r[ORIGIN_PARTS];
    size_t n = 0, more = 0;
    for (size_t i = 0; i < n_tokens; i++) {
        const struct multi *mt = tokens[i];
        if (mt->tag == TOKEN_MULTI) {
            for (size_t j = 0; j < mt->n; j++)
                origin_add(r, &n, &more, mt->m[j]);
        } else {
            origin_add(r, &n, &more, tokens[i]);
        }
    }
    struct kt_buf b = KT_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        bool same_topic = i > 0 && strcmp(r[i].topic, r[i - 1].topic) == 0;
        kt_buf_printf(&b, "%s%s%s[%" PRId32 "] offset", i > 0 ? ", " : "",
                      same_topic ? "" : r[i].topic, same_topic ? "" : " ", r[i].partition);
        if (r[i].lo == r[i].hi)
            kt_buf_printf(&b, " %" PRId64, r[i].lo);
        else
            kt_buf_printf(&b, "s %" PRId64 "..%" PRId64, r[i].lo, r[i].hi);
    }
    if (more > 0)
        kt_buf_printf(&b, " and %zu messages of other partitions", more);
    snprintf(buf, cap, "%.*s", (int)b.len, b.p ? (const char *)b.p : "");
    kt_buf_free(&b);
}

/* Hands data to the exporter. If it cannot take it (out of memory), the messages stay
 * unfinished: their partition's commits stop there until a restart re-reads them, which
 * loses nothing. */
static void submit(struct pipeline *p, enum kt_signal sig, struct kt_slice data, size_t n,
                   void *token)
{
    /* A sampled trace of several messages goes with its first message's metadata: a trace
     * is one tenant's. */
    const struct pmsg *first = *(uint8_t *)token == TOKEN_MULTI ? ((struct multi *)token)->m[0]
                                                                : (const struct pmsg *)token;
    int rc = exporter_submit(p->exporter, sig, data, n, first->meta, token);
    if (rc != 0) {
        char from[EXPORTER_ORIGIN_MAX];
        export_origin(p, &token, 1, from, sizeof(from));
        kt_error("exporter refused %zu %s from %s (%s); their offsets stay uncommitted", n,
                 kt_signal_item_name(sig), from, kt_err_name(rc));
        token_finish(p, token, false);
    }
}

/* Data the backend refused for good, waiting for its dead-letter copy to be acknowledged
 * before its messages count as finished. */
struct refused {
    struct pipeline *p;
    size_t n;
    void *tokens[];
};

static void refused_acked(void *arg, bool delivered)
{
    struct refused *rf = arg;
    for (size_t i = 0; i < rf->n; i++)
        token_finish(rf->p, rf->tokens[i], delivered);
    update_backpressure(rf->p);
    free(rf);
}

/* Data dropped for good (refused by the backend, or a deferred transform failed under
 * error_mode = propagate): its messages finish once the copy in [kafka] dead_letter_topic
 * is acknowledged (at once without one). */
static void dead_letter_data(struct pipeline *p, enum kt_signal sig, const char *source,
                             struct kt_slice data, void *const *tokens, size_t n_tokens,
                             const char *message)
{
    struct refused *rf = malloc(sizeof(*rf) + n_tokens * sizeof(void *));
    if (rf != NULL) {
        rf->p = p;
        rf->n = n_tokens;
        memcpy(rf->tokens, tokens, n_tokens * sizeof(void *));
        if (consumer_dead_letter_data(p->consumer, source, data, message, refused_acked, rf) == 0)
            return;
        free(rf);
    }
    char from[EXPORTER_ORIGIN_MAX];
    export_origin(p, tokens, n_tokens, from, sizeof(from));
    kt_error("out of memory dead-lettering %s from %s; their offsets stay uncommitted",
             kt_signal_name(sig), from);
    for (size_t i = 0; i < n_tokens; i++)
        token_finish(p, tokens[i], false);
}

static bool token_unchecked(void *token)
{
    return *(uint8_t *)token == TOKEN_MSG && ((struct pmsg *)token)->unchecked;
}

/* The refused data held messages checked only down to their items: each piece is checked
 * in full now. The pieces that fail are dead-lettered one by one with what is wrong in
 * them; the others, all checked now, are sent again (refused once more, they go to the
 * dead-letter topic together). Returns false, having done nothing, when no piece fails:
 * the backend refused the data for another reason. */
static bool refused_recheck(struct pipeline *p, enum kt_signal sig, const char *source,
                            struct kt_slice data, void *const *tokens, const size_t *ends,
                            size_t n_tokens, const char *message)
{
    size_t bad = 0;
    for (size_t i = 0, at = 0; i < n_tokens; at = ends[i++]) {
        struct kt_slice piece = {data.p + at, ends[i] - at};
        if (token_unchecked(tokens[i]) && kt_otlp_validate(sig, piece, NULL, NULL) != 0)
            bad++;
    }
    if (bad == 0)
        return false;
    kt_log_limited(&p->rl_recheck, KT_LOG_WARN,
                   "%s refused by %s: %zu of %zu messages in the request fail kotel's full check "
                   "and are dead-lettered; the other %zu are sent again",
                   kt_signal_name(sig), p->conf->exporter.endpoint, bad, n_tokens, n_tokens - bad);
    for (size_t i = 0, at = 0; i < n_tokens; at = ends[i++]) {
        struct kt_slice piece = {data.p + at, ends[i] - at};
        struct kt_err err = {0};
        size_t n_items = 0;
        if (kt_otlp_validate(sig, piece, &n_items, &err) != 0) {
            char reason[KT_ERR_MSG_MAX + 256];
            snprintf(reason, sizeof(reason), "%s (the backend said: %s)", err.msg, message);
            dead_letter_data(p, sig, source, piece, &tokens[i], 1, reason);
            continue;
        }
        if (*(uint8_t *)tokens[i] == TOKEN_MSG)
            ((struct pmsg *)tokens[i])->unchecked = false;
        submit(p, sig, piece, n_items, tokens[i]);
    }
    return true;
}

/* The backend refused this data for good: retrying cannot help, so it is dropped
 * deliberately, after a copy reaches [kafka] dead_letter_topic when one is set. */
static void exporter_refused(void *ctx, enum kt_signal sig, struct kt_slice data,
                             void *const *tokens, const size_t *ends, size_t n_tokens,
                             const char *message)
{
    struct pipeline *p = ctx;
    char source[160];
    snprintf(source, sizeof(source), "%s refused by %s", kt_signal_name(sig),
             p->conf->exporter.endpoint);
    bool unchecked = false;
    for (size_t i = 0; i < n_tokens && !unchecked; i++)
        unchecked = token_unchecked(tokens[i]);
    if (unchecked && ends != NULL &&
        refused_recheck(p, sig, source, data, tokens, ends, n_tokens, message))
        return;
    dead_letter_data(p, sig, source, data, tokens, n_tokens, message);
}

static int pack_into(struct kt_buf *b, const ProtobufCMessage *msg);

/* Runs the deferred transform on one sampled trace. *out is valid until the next call. */
static int transform_sampled(struct pipeline *p, struct kt_slice encoded, struct kt_slice *out,
                             struct kt_err *err)
{
    int rc;
    if (p->trace_edits != NULL) {
        if ((rc = span_edits_apply(p->trace_edits, encoded, &p->export_packed)) != 0)
            return kt_err_set(err, rc, "cannot edit the span attributes of a sampled trace: %s",
                              kt_err_name(rc));
        *out = kt_buf_slice(&p->export_packed);
        return 0;
    }
    kt_arena_reset(&p->export_arena);
    TracesData *td;
    rc = trace_decode(encoded, TRACE_DECODE_ALL, &p->export_arena, &td);
    if (rc != 0)
        return kt_err_set(err, rc, "cannot decode a sampled trace to transform it: %s",
                          kt_err_name(rc));
    if ((rc = transform_traces(p->transform, td, &p->export_arena, err)) != 0) {
        kt_err_prefix(err, "[transform] error_mode = propagate: ");
        return rc;
    }
    if (pack_into(&p->export_packed, &td->base) != 0)
        return kt_err_set(err, KT_ENOMEM, "out of memory encoding a transformed trace");
    *out = kt_buf_slice(&p->export_packed);
    return 0;
}

static void sampler_export(void *ctx, struct kt_slice encoded, size_t n_spans, void *const *tokens,
                           size_t n_tokens)
{
    struct pipeline *p = ctx;
    for (size_t i = 0; i < n_tokens; i++)
        sampler_unhold(p, tokens[i]);
    if (p->defer_transform) {
        struct kt_err err = {0};
        int rc = transform_sampled(p, encoded, &encoded, &err);
        if (rc == KT_EINVAL) {
            /* As the same failure in the pass over a message would have it dead-lettered. */
            dead_letter_data(p, KT_SIGNAL_TRACES, "traces transform", encoded, tokens, n_tokens,
                             err.msg);
            return;
        }
        if (rc != 0) {
            char from[EXPORTER_ORIGIN_MAX];
            export_origin(p, tokens, n_tokens, from, sizeof(from));
            kt_error("%s (a sampled trace from %s); its offsets stay uncommitted", err.msg, from);
            for (size_t i = 0; i < n_tokens; i++)
                pmsg_abandon(p, tokens[i]);
            return;
        }
    }
    void *token = tokens[0];
    if (n_tokens > 1) {
        struct multi *mt = malloc(sizeof(*mt) + n_tokens * sizeof(mt->m[0]));
        if (mt == NULL) {
            /* Without memory the trace cannot be tracked; not committing it means the next
             * owner of the partition exports it. */
            char from[EXPORTER_ORIGIN_MAX];
            export_origin(p, tokens, n_tokens, from, sizeof(from));
            kt_error("out of memory exporting a sampled trace from %s; its offsets stay "
                     "uncommitted",
                     from);
            for (size_t i = 0; i < n_tokens; i++)
                pmsg_abandon(p, tokens[i]);
            return;
        }
        mt->tag = TOKEN_MULTI;
        mt->n = n_tokens;
        memcpy(mt->m, tokens, n_tokens * sizeof(void *));
        token = mt;
    }
    p->stats[KT_SIGNAL_TRACES].items_exported += n_spans;
    submit(p, KT_SIGNAL_TRACES, encoded, n_spans, token);
}

static void sampler_release(void *ctx, void *token)
{
    struct pipeline *p = ctx;
    sampler_unhold(p, token);
    pmsg_unref(p, token);
}

/* ---- the steps that differ by signal ---- */

static size_t count_spans(const ProtobufCMessage *msg)
{
    const TracesData *td = (const TracesData *)msg;
    size_t n = 0;
    for (size_t r = 0; r < td->n_resource_spans; r++)
        for (size_t s = 0; s < td->resource_spans[r]->n_scope_spans; s++)
            n += td->resource_spans[r]->scope_spans[s]->n_spans;
    return n;
}

static size_t count_points(const ProtobufCMessage *msg)
{
    const MetricsData *md = (const MetricsData *)msg;
    size_t n = 0;
    for (size_t r = 0; r < md->n_resource_metrics; r++) {
        const Opentelemetry__Proto__Metrics__V1__ResourceMetrics *rm = md->resource_metrics[r];
        for (size_t s = 0; s < rm->n_scope_metrics; s++) {
            const Opentelemetry__Proto__Metrics__V1__ScopeMetrics *sm = rm->scope_metrics[s];
            for (size_t i = 0; i < sm->n_metrics; i++) {
                const Opentelemetry__Proto__Metrics__V1__Metric *m = sm->metrics[i];
                switch (m->data_case) {
                case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_GAUGE:
                    n += m->gauge->n_data_points;
                    break;
                case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUM:
                    n += m->sum->n_data_points;
                    break;
                case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_HISTOGRAM:
                    n += m->histogram->n_data_points;
                    break;
                case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_EXPONENTIAL_HISTOGRAM:
                    n += m->exponential_histogram->n_data_points;
                    break;
                case OPENTELEMETRY__PROTO__METRICS__V1__METRIC__DATA_SUMMARY:
                    n += m->summary->n_data_points;
                    break;
                default: break;
                }
            }
        }
    }
    return n;
}

static size_t count_log_records(const ProtobufCMessage *msg)
{
    const LogsData *ld = (const LogsData *)msg;
    size_t n = 0;
    for (size_t r = 0; r < ld->n_resource_logs; r++)
        for (size_t s = 0; s < ld->resource_logs[r]->n_scope_logs; s++)
            n += ld->resource_logs[r]->scope_logs[s]->n_log_records;
    return n;
}

static int filter_traces_msg(struct filter *f, ProtobufCMessage *msg, struct kt_arena *a,
                             size_t *dropped, struct kt_err *err)
{
    return filter_traces(f, (TracesData *)msg, a, dropped, err);
}

static int filter_metrics_msg(struct filter *f, ProtobufCMessage *msg, struct kt_arena *a,
                              size_t *dropped, struct kt_err *err)
{
    return filter_metrics(f, (MetricsData *)msg, a, dropped, err);
}

static int filter_logs_msg(struct filter *f, ProtobufCMessage *msg, struct kt_arena *a,
                           size_t *dropped, struct kt_err *err)
{
    return filter_logs(f, (LogsData *)msg, a, dropped, err);
}

static int transform_traces_msg(struct transform *t, ProtobufCMessage *msg, struct kt_arena *a,
                                struct kt_err *err)
{
    return transform_traces(t, (TracesData *)msg, a, err);
}

static int transform_metrics_msg(struct transform *t, ProtobufCMessage *msg, struct kt_arena *a,
                                 struct kt_err *err)
{
    return transform_metrics(t, (MetricsData *)msg, a, err);
}

static int transform_logs_msg(struct transform *t, ProtobufCMessage *msg, struct kt_arena *a,
                              struct kt_err *err)
{
    return transform_logs(t, (LogsData *)msg, a, err);
}

/* One row per signal (signal_steps): the stages of on_message look nothing else up by
 * signal. */
struct signal_steps {
    const ProtobufCMessageDescriptor *descriptor; /* of its *Data message */
    /* Objects of value in p->arena; shallow as p->trace_need allows (traces). found: what
     * validating value found (KT_OTLP_FOUND_*). Returns 0, KT_EUNSUPP when a shallow decode
     * cannot represent it, or another KT_E*. */
    int (*decode)(struct pipeline *p, const struct signal_steps *s, struct kt_slice value,
                  unsigned found, bool shallow, ProtobufCMessage **out);
    size_t (*count)(const ProtobufCMessage *msg); /* items */
    int (*filter)(struct filter *f, ProtobufCMessage *msg, struct kt_arena *a, size_t *dropped,
                  struct kt_err *err);
    int (*transform)(struct transform *t, ProtobufCMessage *msg, struct kt_arena *a,
                     struct kt_err *err);
};

static int decode_traces(struct pipeline *p, const struct signal_steps *s, struct kt_slice value,
                         unsigned found, bool shallow, ProtobufCMessage **out)
{
    (void)s;
    return trace_decode_with(value, shallow ? p->trace_need : TRACE_DECODE_ALL, found, &p->arena,
                             p->tdcache, (TracesData **)out);
}

static int decode_unpack(struct pipeline *p, const struct signal_steps *s, struct kt_slice value,
                         unsigned found, bool shallow, ProtobufCMessage **out)
{
    (void)found;
    (void)shallow;
    *out = protobuf_c_message_unpack(s->descriptor, kt_arena_pb(&p->arena), value.n, value.p);
    return *out != NULL ? 0 : p->arena.failed ? KT_ENOMEM : KT_EINVAL;
}

static const struct signal_steps signal_steps[KT_SIGNAL_COUNT] = {
    [KT_SIGNAL_TRACES] = {&opentelemetry__proto__trace__v1__traces_data__descriptor, decode_traces,
                          count_spans, filter_traces_msg, transform_traces_msg},
    [KT_SIGNAL_METRICS] = {&opentelemetry__proto__metrics__v1__metrics_data__descriptor,
                           decode_unpack, count_points, filter_metrics_msg, transform_metrics_msg},
    [KT_SIGNAL_LOGS] = {&opentelemetry__proto__logs__v1__logs_data__descriptor, decode_unpack,
                        count_log_records, filter_logs_msg, transform_logs_msg},
};

/* Replaces b's contents with msg's serialization: trace data, the bulk, with trace_encode's
 * single pass; the rest with protobuf-c. */
static int pack_into(struct kt_buf *b, const ProtobufCMessage *msg)
{
    kt_buf_reset(b);
    if (msg->descriptor == &opentelemetry__proto__trace__v1__traces_data__descriptor)
        return trace_encode((const TracesData *)msg, b);
    size_t n = protobuf_c_message_get_packed_size(msg);
    if (kt_buf_reserve(b, n) != 0)
        return KT_ENOMEM;
    b->len = protobuf_c_message_pack(msg, b->p);
    return 0;
}

static int grow_scratch(struct pipeline *p, size_t n_spans)
{
    if (n_spans <= p->refs_cap)
        return 0;
    size_t cap = p->refs_cap ? p->refs_cap : 64;
    while (cap < n_spans)
        cap *= 2;
    struct span_ref *a = realloc(p->refs, cap * sizeof(*a));
    if (a == NULL)
        return KT_ENOMEM;
    p->refs = a;
    struct span_ref *b = realloc(p->sorted, cap * sizeof(*b));
    if (b == NULL)
        return KT_ENOMEM;
    p->sorted = b;
    uint32_t *gn = realloc(p->group_n, (cap + 1) * sizeof(*gn));
    if (gn == NULL)
        return KT_ENOMEM;
    p->group_n = gn;
    uint8_t(*gi)[16] = realloc(p->group_id, cap * sizeof(*gi));
    if (gi == NULL)
        return KT_ENOMEM;
    p->group_id = gi;
    p->refs_cap = cap;
    return 0;
}

/* Builds, in the arena, a TracesData holding the spans refs[0..n) (all of one trace, in
 * message order) under copies of their resource and scope wrappers. */
static TracesData *sub_traces(struct kt_arena *a, const TracesData *td, const struct span_ref *refs,
                              size_t n)
{
    TracesData *out = kt_arena_alloc(a, sizeof(*out));
    ResourceSpans **rsv = kt_arena_alloc(a, n * sizeof(*rsv));
    if (out == NULL || rsv == NULL)
        return NULL;
    opentelemetry__proto__trace__v1__traces_data__init(out);
    out->resource_spans = rsv;
    ResourceSpans *rs = NULL;
    ScopeSpans *ss = NULL;
    uint32_t cur_r = UINT32_MAX, cur_s = UINT32_MAX;
    for (size_t i = 0; i < n; i++) {
        const struct span_ref *r = &refs[i];
        if (r->ri != cur_r) {
            const ResourceSpans *src = td->resource_spans[r->ri];
            rs = kt_arena_alloc(a, sizeof(*rs));
            if (rs == NULL)
                return NULL;
            opentelemetry__proto__trace__v1__resource_spans__init(rs);
            rs->resource = src->resource;
            rs->schema_url = src->schema_url;
            rs->scope_spans = kt_arena_alloc(a, (n - i) * sizeof(ScopeSpans *));
            if (rs->scope_spans == NULL)
                return NULL;
            out->resource_spans[out->n_resource_spans++] = rs;
            cur_r = r->ri;
            cur_s = UINT32_MAX;
        }
        if (r->si != cur_s) {
            const ScopeSpans *src = td->resource_spans[r->ri]->scope_spans[r->si];
            ss = kt_arena_alloc(a, sizeof(*ss));
            if (ss == NULL)
                return NULL;
            opentelemetry__proto__trace__v1__scope_spans__init(ss);
            ss->scope = src->scope;
            ss->schema_url = src->schema_url;
            ss->spans = kt_arena_alloc(a, (n - i) * sizeof(Span *));
            if (ss->spans == NULL)
                return NULL;
            rs->scope_spans[rs->n_scope_spans++] = ss;
            cur_s = r->si;
        }
        ss->spans[ss->n_spans++] = r->span;
    }
    return out;
}

/* Hands one trace's spans to the sampler. On failure the message keeps the reference, so it
 * is never finished: its offsets stay uncommitted until a restart re-reads it. */
static int offer(struct pipeline *p, struct pmsg *pm, const uint8_t id[16], const TracesData *td,
                 struct kt_slice enc, size_t n_spans, uint64_t now)
{
    /* Held first: the sampler may export (a late span of a sampled trace) before returning. */
    sampler_hold(p, pm);
    int rc = tail_sampler_offer(p->sampler, id, td, enc, n_spans, pm, now);
    if (rc != 0)
        sampler_unhold(p, pm);
    return rc;
}

/* The group of a span's trace, added when new. *last is the group of the span before: spans
 * of one trace usually come together, and a message from kotel-ingest holds one trace, so
 * most spans need no lookup. Returns KT_IDMAP_NONE when out of memory. */
static uint32_t find_group(struct pipeline *p, uint32_t *n_groups, uint32_t *last,
                           const uint8_t *id, size_t len)
{
    uint8_t key[16] = {0};
    memcpy(key, id, len < 16 ? len : 16);
    if (*n_groups > 0 && memcmp(p->group_id[*last], key, 16) == 0)
        return *last;
    if (kt_idmap_reserve(&p->groups, p->group_id, sizeof(*p->group_id), 1) != 0)
        return KT_IDMAP_NONE;
    uint32_t g =
        kt_idmap_find_or_put(&p->groups, p->group_id, sizeof(*p->group_id), key, *n_groups);
    if (g == *n_groups) {
        memcpy(p->group_id[g], key, 16);
        p->group_n[g] = 0;
        (*n_groups)++;
    }
    *last = g;
    return g;
}

/* Offers each trace of td to the sampler. original: the message bytes when td is exactly
 * what was received (no filter or transform changed it), else NULL. */
static int offer_traces(struct pipeline *p, struct pmsg *pm, TracesData *td, size_t n_spans,
                        struct kt_slice original, bool shallow)
{
    uint64_t now = (uint64_t)(ev_now(p->loop) * 1000.0);
    if (grow_scratch(p, n_spans) != 0)
        return KT_ENOMEM;
    uint32_t n_groups = 0, last = 0;
    size_t k = 0;
    kt_idmap_reset(&p->groups);
    for (uint32_t r = 0; r < td->n_resource_spans; r++) {
        ResourceSpans *rs = td->resource_spans[r];
        for (uint32_t s = 0; s < rs->n_scope_spans; s++) {
            ScopeSpans *ss = rs->scope_spans[s];
            for (size_t i = 0; i < ss->n_spans; i++) {
                Span *sp = ss->spans[i];
                uint32_t g = find_group(p, &n_groups, &last, sp->trace_id.data, sp->trace_id.len);
                if (g == KT_IDMAP_NONE)
                    return KT_ENOMEM;
                p->group_n[g]++;
                p->refs[k++] = (struct span_ref){g, r, s, sp};
            }
        }
    }
    /* Shallow objects cannot be encoded into one message per trace. */
    if (shallow && (n_groups != 1 || original.p == NULL))
        return KT_EUNSUPP;
    if (n_groups == 1) {
        struct kt_slice enc = original;
        if (enc.p == NULL) {
            if (pack_into(&p->packed, &td->base) != 0)
                return KT_ENOMEM;
            enc = kt_buf_slice(&p->packed);
        }
        return offer(p, pm, p->group_id[0], td, enc, n_spans, now);
    }
    /* Counting sort by group keeps message order inside each trace. */
    uint32_t start = 0;
    for (uint32_t g = 0; g < n_groups; g++) {
        uint32_t c = p->group_n[g];
        p->group_n[g] = start;
        start += c;
    }
    for (size_t i = 0; i < k; i++)
        p->sorted[p->group_n[p->refs[i].group]++] = p->refs[i];
    size_t from = 0;
    for (uint32_t g = 0; g < n_groups; g++) {
        size_t to = p->group_n[g];
        TracesData *sub = sub_traces(&p->arena, td, &p->sorted[from], to - from);
        if (sub == NULL || pack_into(&p->packed, &sub->base) != 0)
            return KT_ENOMEM;
        int rc = offer(p, pm, p->group_id[g], sub, kt_buf_slice(&p->packed), to - from, now);
        if (rc != 0)
            return rc;
        from = to;
    }
    return 0;
}

/* ---- one message: decode, process, route ---- */

/* How a stage left the message. */
enum step {
    STEP_ON,          /* on to the next stage, or done */
    STEP_DEAD_LETTER, /* it can never be processed; err says why */
    STEP_NEEDS_FULL,  /* a shallow pass cannot finish it: start over from the full decode */
};

/* The message's objects as processing left them. */
struct processed {
    ProtobufCMessage *msg; /* NULL when the edits were made on the bytes (edit_bytes) */
    size_t left;           /* items */
    /* The bytes msg holds without encoding it (the message's own while nothing changed
     * them, or edit_bytes's), else {NULL, 0}. */
    struct kt_slice original;
};

/* [kafka.header_extraction]: the named record headers the message has become resource
 * attributes. A value that is not UTF-8 without NUL is left out: as a protobuf string it
 * would make the data unreadable for the backend. */
static enum step extract_headers(struct pipeline *p, const struct consumer_msg *m,
                                 struct kt_slice *value, struct kt_err *err)
{
    const struct kt_strlist *hl = &p->conf->kafka.header_extraction.headers;
    struct metadata_attr attrs[HEADER_EXTRACTION_MAX];
    size_t n = 0;
    for (size_t i = 0; i < hl->n; i++) {
        struct kt_slice v;
        if (!metadata_header(m, hl->v[i], false, &v) || memchr(v.p, 0, v.n) != NULL ||
            kt_utf8_check(v.p, v.n) != v.n)
            continue;
        attrs[n].key = (struct kt_slice){(const uint8_t *)p->hx_keys[i], strlen(p->hx_keys[i])};
        attrs[n++].value = v;
    }
    if (n == 0)
        return STEP_ON;
    int rc = metadata_set_resource_attrs(*value, attrs, n, &p->hx_scratch, &p->hx_out);
    if (rc != 0) {
        kt_err_set(err, rc, "[kafka.header_extraction]: cannot add the header attributes (%s)",
                   kt_err_name(rc));
        return STEP_DEAD_LETTER;
    }
    *value = kt_buf_slice(&p->hx_out);
    return STEP_ON;
}

/* Decode, part 1: the message as validated OTLP protobuf bytes (converted from otlp_json when
 * that is [kafka] encoding), its item count and what validating it found (KT_OTLP_FOUND_*).
 * Nothing is decoded into objects yet. */
static enum step decode_bytes(struct pipeline *p, const struct consumer_msg *m,
                              struct kt_slice *value, size_t *n_items, unsigned *found,
                              struct kt_err *err)
{
    *value = m->value;
    if (process_encoding_of(p->conf, m->sig) == PROCESS_ENC_OTLP_JSON) {
        kt_buf_reset(&p->json_pb);
        if (kt_otlp_json_to_proto(m->sig, (const char *)value->p, value->n, &p->json_pb, err) != 0)
            return STEP_DEAD_LETTER;
        *value = kt_buf_slice(&p->json_pb);
    }
    *n_items = 0;
    /* An OTLP/JSON backend gets JSON written from these bytes without another check. */
    unsigned flags =
        p->conf->exporter.protocol == PROCESS_PROTO_HTTP_JSON ? KT_OTLP_VALIDATE_NO_NUL : 0;
    if (p->plan[m->sig].items_unchecked)
        flags |= KT_OTLP_VALIDATE_STRUCTURE;
    if (kt_otlp_validate_cached(m->sig, *value, flags, NULL, &p->vcache, n_items, found, err) != 0)
        return STEP_DEAD_LETTER;
    /* The headers become resource attributes: the spans' bytes, which found is about, stay
     * as they are. */
    return p->hx_keys != NULL ? extract_headers(p, m, value, err) : STEP_ON;
}

/* Decode, part 2, and process: value's objects, then [filter] and the per-message
 * [transform] on them. */
static enum step process(struct pipeline *p, enum kt_signal sig, struct kt_slice value,
                         size_t n_items, unsigned found, bool shallow, struct processed *out,
                         struct kt_err *err)
{
    const struct signal_steps *s = &signal_steps[sig];
    const struct signal_plan *plan = &p->plan[sig];
    int rc;
    if (plan->edit_bytes) {
        if ((rc = span_edits_apply(p->trace_edits, value, &p->packed)) != 0) {
            kt_err_set(err, rc, "[transform]: cannot edit the span attributes: %s",
                       kt_err_name(rc));
            return STEP_DEAD_LETTER;
        }
        *out = (struct processed){NULL, n_items, kt_buf_slice(&p->packed)};
        return STEP_ON;
    }
    rc = s->decode(p, s, value, found, shallow, &out->msg);
    if (rc == KT_EUNSUPP && shallow)
        return STEP_NEEDS_FULL;
    if (rc != 0) {
        kt_err_set(err, rc, "%s",
                   rc == KT_ENOMEM ? "out of memory decoding" : "protobuf-c cannot decode it");
        return STEP_DEAD_LETTER;
    }
    bool changed = false;
    if (plan->filter) {
        size_t dropped = 0;
        if (s->filter(p->filter, out->msg, &p->arena, &dropped, err) != 0) {
            kt_err_prefix(err, "[filter] error_mode = propagate: ");
            return STEP_DEAD_LETTER;
        }
        /* What is left must be encoded anew, which shallow objects cannot be. */
        if (shallow && dropped > 0)
            return STEP_NEEDS_FULL;
        changed = dropped > 0;
        p->stats[sig].items_filtered += dropped;
    }
    if (plan->transform) {
        if (s->transform(p->transform, out->msg, &p->arena, err) != 0) {
            kt_err_prefix(err, "[transform] error_mode = propagate: ");
            return STEP_DEAD_LETTER;
        }
        changed = true;
    }
    out->left = changed ? s->count(out->msg) : n_items;
    out->original = changed ? (struct kt_slice){NULL, 0} : value;
    return STEP_ON;
}

/* Hands n items of the message to the exporter as one more piece of it. */
static void export_piece(struct pipeline *p, enum kt_signal sig, struct pmsg *pm,
                         struct kt_slice data, size_t n)
{
    pm->refs++;
    p->stats[sig].items_exported += n;
    submit(p, sig, data, n, pm);
}

/* Route: what is left goes to the tail sampler or the exporter; nothing left (all filtered
 * out) finishes the message with the caller's reference. A failure here is logged and leaves
 * the message unfinished, so it is read again after a restart or rebalance. */
static enum step route(struct pipeline *p, const struct consumer_msg *m, struct pmsg *pm,
                       const struct processed *d, bool shallow)
{
    if (d->left == 0)
        return STEP_ON;
    if (p->plan[m->sig].sample) {
        int rc = offer_traces(p, pm, (TracesData *)d->msg, d->left, d->original, shallow);
        if (rc == KT_EUNSUPP && shallow)
            return STEP_NEEDS_FULL;
        if (rc != 0)
            kt_error("%s [%d] offset %lld: tail sampler: %s; it will be re-read after a restart",
                     m->topic, m->partition, (long long)m->offset, kt_err_name(rc));
        return STEP_ON;
    }
    struct kt_slice data = d->original;
    if (data.p == NULL) {
        if (pack_into(&p->packed, d->msg) != 0) {
            kt_error("out of memory encoding %s [%d] offset %lld", m->topic, m->partition,
                     (long long)m->offset);
            pm->revoked = true;
            return STEP_ON;
        }
        data = kt_buf_slice(&p->packed);
    }
    export_piece(p, m->sig, pm, data, d->left);
    return STEP_ON;
}

/* Decodes, processes and routes a message that needs objects. The rare cases a shallow pass
 * cannot finish (spans filtered out, several traces in the message, a repeated resource)
 * start over from the full decode, which never asks for that: nothing was handed on yet, as
 * filter and offer_traces bail out before they give anything away. */
static enum step process_and_route(struct pipeline *p, const struct consumer_msg *m,
                                   struct pmsg *pm, struct kt_slice value, size_t n_items,
                                   unsigned found, struct kt_err *err)
{
    bool shallow = p->plan[m->sig].shallow;
    for (;;) {
        struct processed d;
        enum step st = process(p, m->sig, value, n_items, found, shallow, &d, err);
        if (st == STEP_ON)
            st = route(p, m, pm, &d, shallow);
        if (st != STEP_NEEDS_FULL)
            return st;
        shallow = false;
        kt_arena_reset(&p->arena);
    }
}

static void dead_letter(struct pipeline *p, const struct consumer_msg *m, struct pmsg *pm,
                        const char *reason)
{
    p->stats[m->sig].poison++;
    /* The consumer finishes the message once the dead-letter copy is acknowledged (or at
     * once without a dead-letter topic); the pipeline forgets it. */
    pm->revoked = true;
    if (consumer_dead_letter_msg(p->consumer, m, reason) != 0)
        kt_error("%s [%d] offset %lld: out of memory dead-lettering it; it will be re-read",
                 m->topic, m->partition, (long long)m->offset);
}

/* One Kafka message. It holds a reference of its own while here, so pieces finished along
 * the way (an export failing at once, a sampler decision) cannot finish it early. */
static void on_message(void *ctx, const struct consumer_msg *m)
{
    struct pipeline *p = ctx;
    struct pmsg *pm = pmsg_new(p, m);
    if (pm == NULL) {
        kt_error("out of memory tracking %s [%d] offset %lld; it will be re-read", m->topic,
                 m->partition, (long long)m->offset);
        return;
    }
    p->stats[m->sig].messages++;
    struct kt_err err = {0};
    struct kt_slice value;
    size_t n_items;
    unsigned found;
    enum step st = decode_bytes(p, m, &value, &n_items, &found, &err);
    if (st == STEP_ON) {
        p->stats[m->sig].items_in += n_items;
        if (!p->plan[m->sig].pass_through)
            st = process_and_route(p, m, pm, value, n_items, found, &err);
        else if (n_items > 0) {
            pm->unchecked = p->plan[m->sig].items_unchecked;
            export_piece(p, m->sig, pm, value, n_items);
        }
    }
    if (st == STEP_DEAD_LETTER)
        dead_letter(p, m, pm, err.msg);
    kt_arena_reset(&p->arena);
    pmsg_unref(p, pm);
    update_backpressure(p);
}

static bool match_revoked(void *token, void *arg)
{
    struct pipeline *p = arg;
    struct pmsg *pm = token;
    if (!pm->revoked)
        return false;
    /* The sampler drops this offer without a callback: its reference goes here. */
    sampler_unhold(p, pm);
    pmsg_unref(p, pm);
    return true;
}

static void on_revoke(void *ctx, const char *topic, int32_t partition)
{
    struct pipeline *p = ctx;
    size_t n = 0;
    for (struct pmsg *pm = p->live; pm; pm = pm->next) {
        if (pm->partition == partition && !pm->revoked && strcmp(pm->topic, topic) == 0) {
            pm->revoked = true;
            n++;
        }
    }
    /* Held traces of the partition go; the new owner re-reads them from the last commit.
     * Pieces already at the exporter finish there without committing anything. */
    if (p->sampler && n > 0)
        tail_sampler_forget(p->sampler, match_revoked, p);
    if (n > 0)
        kt_info("partition %s [%d] revoked with %zu messages in flight; their offsets stay "
                "uncommitted for the next owner",
                topic, partition, n);
}

static void update_backpressure(struct pipeline *p)
{
    if (p->freeing)
        return;
    size_t pending = consumer_pending(p->consumer);
    size_t unheld = pending > p->held_msgs ? pending - p->held_msgs : 0;
    /* Once paused, resumed only a quarter of the limit below it, not at every finished
     * message while the exporter keeps many in flight: a pause is a hold at first
     * (consumer_set_paused), but one that lasts drops what librdkafka fetched ahead, and
     * every resume is a poll round of its own. */
    size_t limit = p->conf->kafka.max_pending_messages;
    size_t slack = limit / 4 > 0 ? limit / 4 : 1;
    bool pause = p->shutting_down || exporter_congested(p->exporter) ||
                 unheld >= (p->paused ? limit - slack + 1 : limit);
    if (pause != p->paused) {
        p->paused = pause;
        kt_debug("consumption %s: %zu messages pending (%zu held by the sampler), exporter %s",
                 pause ? "paused" : "resumed", pending, p->held_msgs,
                 exporter_congested(p->exporter) ? "congested" : "keeping up");
        consumer_set_paused(p->consumer, pause);
    }
    for (int s = 0; s < KT_SIGNAL_COUNT; s++) {
        bool sp = !p->shutting_down && exporter_signal_congested(p->exporter, (enum kt_signal)s);
        if (sp != consumer_signal_paused(p->consumer, (enum kt_signal)s)) {
            kt_debug("consumption of %s %s: its backend %s", kt_signal_name((enum kt_signal)s),
                     sp ? "paused" : "resumed", sp ? "is being retried" : "answers again");
            consumer_set_signal_paused(p->consumer, (enum kt_signal)s, sp);
        }
    }
}

static void report_sampler(const struct pipeline *p, const char *when)
{
    struct tail_sampler_stats st;
    tail_sampler_get_stats(p->sampler, &st);
    kt_info("tail sampling%s: %llu traces held (%llu spans, %llu bytes); decided %llu sampled, "
            "%llu not sampled, %llu early (num_traces reached); late spans %llu kept, %llu "
            "dropped",
            when, (unsigned long long)st.traces_held, (unsigned long long)st.spans_held,
            (unsigned long long)st.bytes_held, (unsigned long long)st.sampled,
            (unsigned long long)st.not_sampled, (unsigned long long)st.decided_early,
            (unsigned long long)st.late_sampled, (unsigned long long)st.late_dropped);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    struct pipeline *p = w->data;
    if (p->sampler) {
        tail_sampler_tick(p->sampler, (uint64_t)(ev_now(loop) * 1000.0));
        if (ev_now(loop) - p->last_report >= SAMPLER_REPORT_SECONDS) {
            p->last_report = ev_now(loop);
            report_sampler(p, "");
        }
    }
    update_backpressure(p);
}

/* Decides what each signal's messages go through and how much of each trace message to
 * decode, from what the configuration reads. */
static void plan_signals(struct pipeline *p)
{
    ottl_fields reads = filter_fields(p->filter, KT_SIGNAL_TRACES);
    bool transform = transform_active(p->transform, KT_SIGNAL_TRACES);
    bool keyed = filter_keyed_span_attrs(p->filter, KT_SIGNAL_TRACES);
    if (p->sampler != NULL) {
        ottl_fields seen = tail_sampler_fields(p->sampler);
        reads |= seen;
        keyed = keyed && tail_sampler_keyed_span_attrs(p->sampler);
        p->defer_transform =
            transform && (transform_fields(p->transform, KT_SIGNAL_TRACES) & seen) == 0;
        /* Attribute policies read a few keys: a transform that only changes other span
         * attributes (delete_key, set of a literal key) changes no decision either. */
        const char *keys[16];
        size_t n_keys = tail_sampler_span_attr_keys(p->sampler, keys, 16);
        if (transform && !p->defer_transform && n_keys != SIZE_MAX)
            p->defer_transform =
                (transform_fields_beside(p->transform, KT_SIGNAL_TRACES, keys, n_keys) & seen) == 0;
        /* Sizes are measured on what the sampler is offered, after the transform. */
        if (tail_sampler_counts_bytes(p->sampler))
            p->defer_transform = false;
    }
    /* A transform that runs on every message may read and write anything. */
    p->trace_need = !transform || p->defer_transform ? reads : TRACE_DECODE_ALL;
    /* Span attributes read by key only: spans keep their bytes instead (trace_decode.h). */
    if (keyed && (p->trace_need & OTTL_FIELD(OTTL_P_SPAN_ATTRS)) &&
        p->trace_need != TRACE_DECODE_ALL)
        p->trace_need =
            (p->trace_need & ~OTTL_FIELD(OTTL_P_SPAN_ATTRS)) | OTTL_FIELD(OTTL_P_SPAN_ATTRS_KEYED);
    bool shallow = !trace_decode_needs_full(p->trace_need);
    if (p->sampler != NULL || filter_active(p->filter, KT_SIGNAL_TRACES))
        kt_info("traces: spans decoded %s%s%s",
                !shallow ? "in full"
                : p->trace_need & OTTL_FIELD(OTTL_P_SPAN_ATTRS_KEYED)
                    ? "without events or links, attributes read by key from their bytes"
                    : "without attributes, events or links",
                p->defer_transform ? "; transform on sampled traces only, as they are exported"
                                   : "",
                p->defer_transform && p->trace_edits != NULL
                    ? ", its span attribute edits made on the bytes"
                    : "");
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        enum kt_signal sig = (enum kt_signal)i;
        struct signal_plan *pl = &p->plan[i];
        bool traces = sig == KT_SIGNAL_TRACES;
        pl->filter = filter_active(p->filter, sig);
        pl->transform = transform_active(p->transform, sig) && !(traces && p->defer_transform);
        pl->sample = traces && p->sampler != NULL;
        pl->pass_through = !pl->sample && !pl->filter && !transform_active(p->transform, sig);
        pl->items_unchecked = pl->pass_through && p->hx_keys == NULL &&
                              p->conf->exporter.protocol != PROCESS_PROTO_HTTP_JSON;
        pl->shallow = traces && shallow;
        pl->edit_bytes =
            traces && pl->transform && !pl->filter && !pl->sample && p->trace_edits != NULL;
        if (pl->edit_bytes)
            kt_info("traces: [transform] only edits span attributes: made on the bytes, spans "
                    "not decoded");
    }
}

static int check_header_extraction(const struct process_conf *conf, struct kt_err *err)
{
    const struct kt_strlist *hl = &conf->kafka.header_extraction.headers;
    if (hl->n > HEADER_EXTRACTION_MAX)
        return kt_err_set(err, KT_EINVAL,
                          "[kafka.header_extraction] headers: %zu names, want at most %d", hl->n,
                          HEADER_EXTRACTION_MAX);
    for (size_t i = 0; i < hl->n; i++)
        if (hl->v[i][0] == '\0' || strlen(hl->v[i]) > 200)
            return kt_err_set(err, KT_EINVAL,
                              "[kafka.header_extraction] headers: '%s': want 1 to 200 characters",
                              hl->v[i]);
    if (conf->kafka.header_extraction.extract_headers && hl->n == 0)
        kt_warn("[kafka.header_extraction] extract_headers = true but headers is empty: nothing "
                "is extracted");
    return 0;
}

/* The attribute key of each extracted header, when extraction is on. */
static int header_keys(struct pipeline *p, struct kt_err *err)
{
    const struct kt_strlist *hl = &p->conf->kafka.header_extraction.headers;
    int rc = check_header_extraction(p->conf, err);
    if (rc != 0 || !p->conf->kafka.header_extraction.extract_headers || hl->n == 0)
        return rc;
    if ((p->hx_keys = calloc(hl->n, sizeof(char *))) == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    for (size_t i = 0; i < hl->n; i++) {
        size_t n = sizeof(ATTR_PREFIX) + strlen(hl->v[i]);
        if ((p->hx_keys[i] = malloc(n)) == NULL)
            return kt_err_set(err, KT_ENOMEM, "out of memory");
        snprintf(p->hx_keys[i], n, ATTR_PREFIX "%s", hl->v[i]);
    }
    return 0;
}

int pipeline_new(const struct process_conf *conf, struct ev_loop *loop, struct pipeline **out,
                 struct kt_err *err)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    kt_idmap_init(&p->groups);
    p->conf = conf;
    p->loop = loop;
    kt_arena_init(&p->arena, NULL, 0);
    kt_arena_init(&p->export_arena, NULL, 0);
    int rc;
    if ((p->tdcache = trace_decode_cache_new()) == NULL) {
        rc = kt_err_set(err, KT_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = filter_new(conf, &p->filter, err)) != 0)
        goto fail;
    if ((rc = transform_new(conf, &p->transform, err)) != 0)
        goto fail;
    if ((rc = transform_span_edits(p->transform, &p->trace_edits)) != 0) {
        kt_err_set(err, rc, "out of memory");
        goto fail;
    }
    if (tail_sampler_enabled(conf) &&
        (rc = tail_sampler_new(conf, sampler_export, sampler_release, p, &p->sampler, err)) != 0)
        goto fail;
    if ((rc = exporter_new(conf, loop, exporter_done, p, &p->exporter, err)) != 0)
        goto fail;
    if ((rc = header_keys(p, err)) != 0)
        goto fail;
    if ((rc = consumer_new(conf, loop, on_message, on_revoke, p, &p->consumer, err)) != 0)
        goto fail;
    exporter_set_refused(p->exporter, exporter_refused);
    exporter_set_origin(p->exporter, export_origin);
    plan_signals(p);
    ev_timer_init(&p->tick, tick_cb, TICK_SECONDS, TICK_SECONDS);
    p->tick.data = p;
    ev_timer_start(loop, &p->tick);
    p->last_report = ev_now(loop);
    p->rl_recheck = (struct kt_log_limit)KT_LOG_LIMIT(1.0, 1);
    *out = p;
    return 0;
fail:
    pipeline_free(p);
    return rc;
}

int pipeline_check(const struct process_conf *conf, struct kt_err *err)
{
    struct filter *f = NULL;
    struct transform *t = NULL;
    struct tail_sampler *s = NULL;
    /* The endpoints and the TLS files, as at startup. */
    int rc = exporter_check(conf, err);
    if (rc == 0)
        rc = check_header_extraction(conf, err);
    if (rc == 0)
        rc = filter_new(conf, &f, err);
    if (rc == 0)
        rc = transform_new(conf, &t, err);
    if (rc == 0 && tail_sampler_enabled(conf))
        rc = tail_sampler_new(conf, sampler_export, sampler_release, NULL, &s, err);
    tail_sampler_free(s);
    transform_free(t);
    filter_free(f);
    return rc;
}

int pipeline_reload(struct pipeline *p, struct kt_err *err)
{
    return exporter_reload(p->exporter, err);
}

void pipeline_begin_shutdown(struct pipeline *p)
{
    p->shutting_down = true;
    /* What is held now is not decided here: the next owner of the partitions re-reads it,
     * unless the operator chose to drop it (and commit past it). */
    if (p->sampler) {
        report_sampler(p, " at shutdown");
        if (p->conf->tail_sampling.drop_pending_traces_on_shutdown) {
            tail_sampler_drop_all(p->sampler);
            struct tail_sampler_stats st;
            tail_sampler_get_stats(p->sampler, &st);
            kt_info("tail sampling at shutdown: %llu pending traces dropped undecided "
                    "(drop_pending_traces_on_shutdown = true); their messages are committed",
                    (unsigned long long)st.dropped_on_shutdown);
        }
    }
    consumer_begin_shutdown(p->consumer);
    exporter_flush(p->exporter);
}

bool pipeline_drained(const struct pipeline *p)
{
    return exporter_idle(p->exporter);
}

void pipeline_free(struct pipeline *p)
{
    if (p == NULL)
        return;
    ev_timer_stop(p->loop, &p->tick);
    if (p->sampler)
        report_sampler(p, " at exit");
    p->freeing = true;
    /* Traces still held are not decided: their messages stay uncommitted and are re-read
     * by whoever owns the partition next. */
    if (p->sampler) {
        for (struct pmsg *pm = p->live; pm; pm = pm->next)
            pm->revoked = true;
        tail_sampler_forget(p->sampler, match_revoked, p);
    }
    if (p->exporter)
        exporter_free(p->exporter); /* reports outstanding tokens: abandoned */
    if (p->consumer)
        consumer_close(p->consumer);
    tail_sampler_free(p->sampler);
    filter_free(p->filter);
    span_edits_free(p->trace_edits);
    transform_free(p->transform);
    while (p->live)
        pmsg_unlink(p, p->live);
    kt_arena_free(&p->arena);
    trace_decode_cache_free(p->tdcache);
    kt_arena_free(&p->export_arena);
    kt_buf_free(&p->export_packed);
    kt_buf_free(&p->json_pb);
    kt_buf_free(&p->packed);
    for (size_t i = 0; p->hx_keys != NULL && i < p->conf->kafka.header_extraction.headers.n; i++)
        free(p->hx_keys[i]);
    free(p->hx_keys);
    kt_buf_free(&p->hx_out);
    metadata_scratch_free(&p->hx_scratch);
    free(p->refs);
    free(p->sorted);
    free(p->group_n);
    free(p->group_id);
    kt_idmap_free(&p->groups);
    free(p);
}

void pipeline_get_stats(const struct pipeline *p, struct pipeline_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        const struct pipeline_signal_stats *st = &p->stats[i];
        out->sig[i] = *st;
        out->messages += st->messages;
        out->poison += st->poison;
        out->items_in += st->items_in;
        out->items_filtered += st->items_filtered;
        out->items_exported += st->items_exported;
        out->filter_errors += filter_errors(p->filter, (enum kt_signal)i);
        out->transform_errors += transform_errors(p->transform, (enum kt_signal)i);
    }
}

const struct consumer *pipeline_consumer(const struct pipeline *p)
{
    return p->consumer;
}

const struct tail_sampler *pipeline_sampler(const struct pipeline *p)
{
    return p->sampler;
}

const struct exporter *pipeline_exporter(const struct pipeline *p)
{
    return p->exporter;
}

void pipeline_write_metrics(const struct pipeline *p, struct kt_buf *b)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } fams[] = {
        {"kotel_process_messages_consumed_total", "Kafka messages consumed.",
         offsetof(struct pipeline_signal_stats, messages)},
        {"kotel_process_poison_messages_total",
         "Kafka messages that could not be processed (not OTLP, undecodable, or a filter or "
         "transform failing under error_mode = propagate): dead-lettered.",
         offsetof(struct pipeline_signal_stats, poison)},
        {"kotel_process_items_consumed_total",
         "Items (spans, data points, log records) in the Kafka messages consumed.",
         offsetof(struct pipeline_signal_stats, items_in)},
        {"kotel_process_items_filtered_total", "Items dropped by [filter] conditions.",
         offsetof(struct pipeline_signal_stats, items_filtered)},
        {"kotel_process_items_submitted_total",
         "Items handed to the exporter (after filtering and tail sampling).",
         offsetof(struct pipeline_signal_stats, items_exported)},
    };
    char labels[64];
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        kt_prom_family(b, fams[f].name, "counter", fams[f].help);
        for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
            snprintf(labels, sizeof(labels), "signal=\"%s\"", kt_signal_name((enum kt_signal)i));
            kt_prom_u64(b, fams[f].name, labels,
                        *(const uint64_t *)((const char *)&p->stats[i] + fams[f].off));
        }
    }
    kt_prom_family(b, "kotel_process_filter_errors_total", "counter",
                   "[filter] condition evaluations that failed (handled as error_mode says).");
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        snprintf(labels, sizeof(labels), "signal=\"%s\"", kt_signal_name((enum kt_signal)i));
        kt_prom_u64(b, "kotel_process_filter_errors_total", labels,
                    filter_errors(p->filter, (enum kt_signal)i));
    }
    kt_prom_family(b, "kotel_process_transform_errors_total", "counter",
                   "[transform] statements that failed (handled as error_mode says).");
    for (int i = 0; i < KT_SIGNAL_COUNT; i++) {
        snprintf(labels, sizeof(labels), "signal=\"%s\"", kt_signal_name((enum kt_signal)i));
        kt_prom_u64(b, "kotel_process_transform_errors_total", labels,
                    transform_errors(p->transform, (enum kt_signal)i));
    }
    consumer_write_metrics(p->consumer, b);
    if (p->sampler != NULL)
        tail_sampler_write_metrics(p->sampler, b);
    exporter_write_metrics(p->exporter, b);
}

void pipeline_backlog(const struct pipeline *p, struct backlog_view *out)
{
    consumer_backlog(p->consumer, out);
}

void pipeline_replica(const struct pipeline *p, struct replica_view *out)
{
    consumer_replica(p->consumer, out);
}

const char *pipeline_not_ready(struct pipeline *p, char *buf, size_t cap)
{
    if (p->shutting_down) {
        snprintf(buf, cap, "shutting down");
        return buf;
    }
    const char *why = consumer_not_ready(p->consumer, buf, cap);
    if (why != NULL)
        return why;
    const char *url = p->conf->exporter.endpoint;
    why = exporter_unreachable(p->exporter, &url);
    if (why != NULL) {
        snprintf(buf, cap, "backend %s not reachable: %s", url, why);
        return buf;
    }
    return NULL;
}
