#include "tail_sampler.h"

#include <stdlib.h>
#include <string.h>

#include "kt_idmap.h"
#include "kt_log.h"
#include "kt_prom.h"
#include "sampling_policy.h"

#define NIL KT_IDMAP_NONE

/* ---- id_lru: trace IDs whose decision is remembered, least recently used evicted ---- */

struct lru_ent {
    uint8_t id[16];
    uint32_t prev, next; /* toward head (newest) / toward tail (oldest) */
};

struct id_lru {
    struct lru_ent *e;
    uint32_t n, alloc, cap;
    uint32_t head, tail;
    struct kt_idmap tab; /* keys: the entries' IDs */
};

static void lru_unlink(struct id_lru *l, uint32_t i)
{
    struct lru_ent *e = &l->e[i];
    if (e->prev != NIL)
        l->e[e->prev].next = e->next;
    else
        l->head = e->next;
    if (e->next != NIL)
        l->e[e->next].prev = e->prev;
    else
        l->tail = e->prev;
}

static void lru_push_head(struct id_lru *l, uint32_t i)
{
    l->e[i].prev = NIL;
    l->e[i].next = l->head;
    if (l->head != NIL)
        l->e[l->head].prev = i;
    l->head = i;
    if (l->tail == NIL)
        l->tail = i;
}

/* True when id is remembered; it becomes the most recently used. */
static bool lru_touch(struct id_lru *l, const uint8_t id[16])
{
    uint32_t i = kt_idmap_find(&l->tab, l->e, sizeof(*l->e), id);
    if (i == NIL)
        return false;
    if (l->head != i) {
        lru_unlink(l, i);
        lru_push_head(l, i);
    }
    return true;
}

/* Remembers id, evicting the least recently used when full. Entries are allocated as the
 * cache fills, so a large configured size costs nothing until it is used. */
static int lru_add(struct id_lru *l, const uint8_t id[16])
{
    if (l->cap == 0)
        return 0;
    if (lru_touch(l, id))
        return 0;
    uint32_t i;
    if (l->n == l->cap) {
        i = l->tail;
        kt_idmap_remove(&l->tab, l->e, sizeof(*l->e), i);
        lru_unlink(l, i);
    } else {
        if (l->n == l->alloc) {
            uint32_t na = l->alloc < 32 ? 64 : l->alloc * 2;
            if (na > l->cap)
                na = l->cap;
            struct lru_ent *ne = realloc(l->e, (size_t)na * sizeof(*ne));
            if (ne == NULL)
                return KT_ENOMEM;
            l->e = ne;
            l->alloc = na;
        }
        if (kt_idmap_reserve(&l->tab, l->e, sizeof(*l->e), 1) != 0)
            return KT_ENOMEM;
        i = l->n++;
    }
    memcpy(l->e[i].id, id, 16);
    kt_idmap_put(&l->tab, l->e, sizeof(*l->e), i);
    lru_push_head(l, i);
    return 0;
}

static void lru_free(struct id_lru *l)
{
    free(l->e);
    kt_idmap_free(&l->tab);
}

/* ---- held traces ---- */

/* Per offer, after the trace's token array: its encoded length and span count. Offers are
 * stored back to back in the trace's buffer, so offsets follow from the lengths. */
struct offer_meta {
    uint32_t len;
    uint32_t n_spans;
};

struct held_trace {
    uint8_t id[16];  /* first: the hash table reads keys at offset 0 */
    uint64_t due_ms; /* decision time: first offer + decision_wait, or earlier (root span) */
    struct sampling_summary sum;
    uint32_t prev, next; /* in queue q; next also chains free records */
    uint8_t q;           /* Q_WAIT or Q_ROOT */
    uint8_t *enc;
    uint32_t enc_len, enc_cap;
    /* One allocation: void *tokens[cap_offers] then struct offer_meta[cap_offers], so the
     * tokens can go to export as they are. */
    void *offers;
    uint32_t n_offers, cap_offers;
    uint32_t n_spans;
};

/* Held traces wait in one of two queues, each in order of due_ms because every trace in it
 * waits the same time from a non-decreasing now: Q_WAIT, decision_wait after the first offer,
 * and Q_ROOT, decision_wait_after_root_received after the offer with the root span, when that
 * comes sooner. The next trace due is the earlier of the two heads. */
enum { Q_WAIT, Q_ROOT, N_QUEUES };

struct queue {
    uint32_t head, tail; /* head is due first */
};

struct tail_sampler {
    struct sampling_policies *pol;
    tail_sampler_export_fn exp;
    tail_sampler_release_fn rel;
    void *ctx;
    uint64_t wait_ms;
    uint64_t root_wait_ms; /* decision_wait_after_root_received; 0 = off */
    uint32_t max_traces;
    uint64_t max_bytes;    /* bytes_held over this decide the oldest early; 0 = no bound */
    uint64_t max_trace;    /* maximum_trace_size_bytes; 0 = no bound */
    struct held_trace *tr; /* records, grown up to max_traces */
    uint64_t *bits;        /* match bitmaps, `words` per record, parallel to tr */
    size_t words;
    uint32_t n_alloc;
    uint32_t free_head;
    struct queue q[N_QUEUES];
    struct kt_idmap held; /* keys: the records' IDs */
    struct id_lru sampled, not_sampled;
    uint64_t last_now_ms;
    struct tail_sampler_stats st;
};

static void **trace_tokens(const struct held_trace *t)
{
    return (void **)t->offers;
}

static struct offer_meta *trace_meta(const struct held_trace *t)
{
    return (struct offer_meta *)((void **)t->offers + t->cap_offers);
}

static uint64_t trace_bytes(const struct tail_sampler *s, const struct held_trace *t)
{
    return sizeof(*t) + s->words * sizeof(uint64_t) + t->enc_cap +
           (uint64_t)t->cap_offers * (sizeof(void *) + sizeof(struct offer_meta));
}

static uint64_t *trace_bits(struct tail_sampler *s, uint32_t i)
{
    return s->words == 0 ? NULL : s->bits + (size_t)i * s->words;
}

static int grow_records(struct tail_sampler *s)
{
    if (s->n_alloc >= s->max_traces)
        return KT_ENOMEM;
    uint32_t na = s->n_alloc < 32 ? 64 : s->n_alloc * 2;
    if (na > s->max_traces || na < s->n_alloc)
        na = s->max_traces;
    struct held_trace *nt = realloc(s->tr, (size_t)na * sizeof(*nt));
    if (nt == NULL)
        return KT_ENOMEM;
    s->tr = nt;
    if (s->words > 0) {
        uint64_t *nb = realloc(s->bits, (size_t)na * s->words * sizeof(*nb));
        if (nb == NULL)
            return KT_ENOMEM;
        s->bits = nb;
    }
    for (uint32_t i = na; i-- > s->n_alloc;) {
        s->tr[i].next = s->free_head;
        s->free_head = i;
    }
    s->n_alloc = na;
    return 0;
}

static uint64_t add_ms(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static void queue_push(struct tail_sampler *s, uint32_t i, uint8_t qi)
{
    struct queue *q = &s->q[qi];
    struct held_trace *t = &s->tr[i];
    t->q = qi;
    t->next = NIL;
    t->prev = q->tail;
    if (q->tail != NIL)
        s->tr[q->tail].next = i;
    else
        q->head = i;
    q->tail = i;
}

static void queue_remove(struct tail_sampler *s, uint32_t i)
{
    struct held_trace *t = &s->tr[i];
    struct queue *q = &s->q[t->q];
    if (t->prev != NIL)
        s->tr[t->prev].next = t->next;
    else
        q->head = t->next;
    if (t->next != NIL)
        s->tr[t->next].prev = t->prev;
    else
        q->tail = t->prev;
}

/* The held trace due first, NIL when none is held. */
static uint32_t next_due(const struct tail_sampler *s)
{
    uint32_t a = s->q[Q_WAIT].head, b = s->q[Q_ROOT].head;
    if (a == NIL || (b != NIL && s->tr[b].due_ms < s->tr[a].due_ms))
        return b;
    return a;
}

static int trace_create(struct tail_sampler *s, const uint8_t id[16], uint64_t now_ms,
                        uint32_t *out)
{
    if (s->free_head == NIL && grow_records(s) != 0)
        return KT_ENOMEM;
    if (kt_idmap_reserve(&s->held, s->tr, sizeof(*s->tr), 1) != 0)
        return KT_ENOMEM;
    uint32_t i = s->free_head;
    struct held_trace *t = &s->tr[i];
    s->free_head = t->next;
    memset(t, 0, sizeof(*t));
    memcpy(t->id, id, 16);
    t->due_ms = add_ms(now_ms, s->wait_ms);
    if (s->words > 0)
        memset(trace_bits(s, i), 0, s->words * sizeof(uint64_t));
    kt_idmap_put(&s->held, s->tr, sizeof(*s->tr), i);
    queue_push(s, i, Q_WAIT);
    s->st.traces_held++;
    s->st.bytes_held += trace_bytes(s, t);
    *out = i;
    return 0;
}

/* Takes the trace out of the table and the queue; its storage stays until trace_release. */
static void trace_unlink(struct tail_sampler *s, uint32_t i)
{
    struct held_trace *t = &s->tr[i];
    kt_idmap_remove(&s->held, s->tr, sizeof(*s->tr), i);
    queue_remove(s, i);
    s->st.traces_held--;
    s->st.spans_held -= t->n_spans;
    s->st.bytes_held -= trace_bytes(s, t);
}

static void trace_release(struct tail_sampler *s, uint32_t i)
{
    struct held_trace *t = &s->tr[i];
    free(t->enc);
    free(t->offers);
    t->enc = NULL;
    t->offers = NULL;
    t->next = s->free_head;
    s->free_head = i;
}

/* Room for one more offer of n bytes. On failure the trace is as it was. */
static int trace_reserve(struct tail_sampler *s, struct held_trace *t, size_t n)
{
    if (n > UINT32_MAX - t->enc_len)
        return KT_ETOOBIG;
    uint64_t before = trace_bytes(s, t);
    size_t need = t->enc_len + n;
    if (need > t->enc_cap) {
        /* Exact for the first offer (most traces have one); then 1/8 slack, enough to make
         * appends amortised linear while keeping the overhead a small fraction of the spans. */
        size_t ncap = t->enc_len == 0 ? need : need + need / 8;
        if (ncap > UINT32_MAX)
            ncap = UINT32_MAX;
        uint8_t *ne = realloc(t->enc, ncap == 0 ? 1 : ncap);
        if (ne == NULL)
            return KT_ENOMEM;
        t->enc = ne;
        t->enc_cap = (uint32_t)ncap;
    }
    if (t->n_offers == t->cap_offers) {
        uint32_t oc = t->cap_offers, nc = oc == 0 ? 1 : oc * 2;
        size_t per = sizeof(void *) + sizeof(struct offer_meta);
        void *no = realloc(t->offers, (size_t)nc * per);
        if (no == NULL) {
            s->st.bytes_held += trace_bytes(s, t) - before;
            return KT_ENOMEM;
        }
        /* The metadata array starts after the tokens: move it up to its new place. */
        memmove((void **)no + nc, (void **)no + oc, (size_t)oc * sizeof(struct offer_meta));
        t->offers = no;
        t->cap_offers = nc;
    }
    s->st.bytes_held += trace_bytes(s, t) - before;
    return 0;
}

/* too_large: maximum_trace_size_bytes was passed, which decides without the policies. */
static void decide(struct tail_sampler *s, uint32_t i, uint64_t now_ms, bool too_large)
{
    struct held_trace *t = &s->tr[i];
    bool keep =
        !too_large && sampling_policy_decide(s->pol, t->id, &t->sum, trace_bits(s, i), now_ms);
    /* Failing to remember only means late spans start a new trace: not worth failing for. */
    (void)lru_add(keep ? &s->sampled : &s->not_sampled, t->id);
    trace_unlink(s, i);
    if (keep) {
        s->st.sampled++;
        struct kt_slice enc = {t->enc, t->enc_len};
        s->exp(s->ctx, enc, t->n_spans, trace_tokens(t), t->n_offers);
    } else {
        too_large ? s->st.too_large++ : s->st.not_sampled++;
        void **tok = trace_tokens(t);
        for (uint32_t k = 0; k < t->n_offers; k++)
            s->rel(s->ctx, tok[k]);
    }
    trace_release(s, i);
}

/* Whether decoded holds a root span: one without a parent (an empty or all-zero parent span
 * ID, as pdata's IsEmpty). */
static bool has_root(const Opentelemetry__Proto__Trace__V1__TracesData *decoded)
{
    static const uint8_t zero[8];
    for (size_t r = 0; r < decoded->n_resource_spans; r++) {
        const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = decoded->resource_spans[r];
        for (size_t k = 0; rs != NULL && k < rs->n_scope_spans; k++) {
            const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[k];
            for (size_t j = 0; ss != NULL && j < ss->n_spans; j++) {
                const ProtobufCBinaryData *pid = &ss->spans[j]->parent_span_id;
                if (pid->len == 0 || (pid->len == 8 && memcmp(pid->data, zero, 8) == 0))
                    return true;
            }
        }
    }
    return false;
}

/* ---- API ---- */

bool tail_sampler_enabled(const struct process_conf *conf)
{
    switch (conf->tail_sampling.enabled) {
    case PROCESS_ON: return true;
    case PROCESS_OFF: return false;
    default: return conf->tail_sampling.n_policies > 0;
    }
}

int tail_sampler_new(const struct process_conf *conf, tail_sampler_export_fn exp,
                     tail_sampler_release_fn rel, void *ctx, struct tail_sampler **out,
                     struct kt_err *err)
{
    *out = NULL;
    if (conf->tail_sampling.enabled == PROCESS_ON && conf->tail_sampling.n_policies == 0)
        return kt_err_set(err, KT_EINVAL,
                          "[tail_sampling] enabled: true, but no [tail_sampling.policy.NAME] "
                          "section is configured");
    if (conf->tail_sampling.num_traces == 0 || conf->tail_sampling.num_traces >= NIL)
        return kt_err_set(err, KT_EINVAL, "[tail_sampling] num_traces: want 1 to %u, got %llu",
                          NIL - 1, (unsigned long long)conf->tail_sampling.num_traces);
    if (conf->tail_sampling.sampled_cache_size >= NIL)
        return kt_err_set(err, KT_EINVAL, "[tail_sampling] sampled_cache_size: want at most %u",
                          NIL - 1);
    if (conf->tail_sampling.non_sampled_cache_size >= NIL)
        return kt_err_set(err, KT_EINVAL, "[tail_sampling] non_sampled_cache_size: want at most %u",
                          NIL - 1);
    struct tail_sampler *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return kt_err_set(err, KT_ENOMEM, "out of memory");
    int rc = sampling_policy_compile(conf->tail_sampling.policies, conf->tail_sampling.n_policies,
                                     conf->tail_sampling.sample_on_first_match, &s->pol, err);
    if (rc != 0) {
        free(s);
        return rc;
    }
    s->exp = exp;
    s->rel = rel;
    s->ctx = ctx;
    s->wait_ms = conf->tail_sampling.decision_wait_ms;
    s->root_wait_ms = conf->tail_sampling.decision_wait_after_root_received_ms;
    s->max_traces = (uint32_t)conf->tail_sampling.num_traces;
    s->max_bytes = process_limit_sampler_bytes(conf);
    s->max_trace = conf->tail_sampling.maximum_trace_size_bytes;
    s->words = sampling_policy_match_words(s->pol);
    s->free_head = NIL;
    for (int k = 0; k < N_QUEUES; k++)
        s->q[k].head = s->q[k].tail = NIL;
    s->sampled.cap = (uint32_t)conf->tail_sampling.sampled_cache_size;
    s->not_sampled.cap = (uint32_t)conf->tail_sampling.non_sampled_cache_size;
    s->sampled.head = s->sampled.tail = NIL;
    s->not_sampled.head = s->not_sampled.tail = NIL;
    kt_idmap_init(&s->held);
    kt_idmap_init(&s->sampled.tab);
    kt_idmap_init(&s->not_sampled.tab);
    *out = s;
    return 0;
}

int tail_sampler_offer(struct tail_sampler *s, const uint8_t trace_id[16],
                       const Opentelemetry__Proto__Trace__V1__TracesData *decoded,
                       struct kt_slice encoded, size_t n_spans, void *token, uint64_t now_ms)
{
    if (now_ms > s->last_now_ms)
        s->last_now_ms = now_ms;
    if (n_spans > UINT32_MAX)
        return KT_ETOOBIG;
    uint32_t i = kt_idmap_find(&s->held, s->tr, sizeof(*s->tr), trace_id);
    bool created = false;
    if (i == NIL) {
        if (lru_touch(&s->sampled, trace_id)) {
            s->st.late_sampled += n_spans;
            s->exp(s->ctx, encoded, n_spans, &token, 1);
            return 0;
        }
        if (lru_touch(&s->not_sampled, trace_id)) {
            s->st.late_dropped += n_spans;
            s->rel(s->ctx, token);
            return 0;
        }
        if (s->st.traces_held >= s->max_traces && next_due(s) != NIL) {
            s->st.decided_early++;
            decide(s, next_due(s), now_ms, false);
        }
        int rc = trace_create(s, trace_id, now_ms, &i);
        if (rc != 0)
            return rc;
        created = true;
    }
    struct held_trace *t = &s->tr[i];
    int rc = trace_reserve(s, t, encoded.n);
    if (rc != 0) {
        if (created) {
            trace_unlink(s, i);
            trace_release(s, i);
        }
        return rc;
    }
    if (encoded.n > 0)
        memcpy(t->enc + t->enc_len, encoded.p, encoded.n);
    t->enc_len += (uint32_t)encoded.n;
    trace_tokens(t)[t->n_offers] = token;
    trace_meta(t)[t->n_offers].len = (uint32_t)encoded.n;
    trace_meta(t)[t->n_offers].n_spans = (uint32_t)n_spans;
    t->n_offers++;
    t->n_spans += (uint32_t)n_spans;
    t->sum.n_bytes += encoded.n;
    s->st.spans_held += n_spans;
    /* The Collector's bound, on the encoded bytes of the spans received (its measure, the
     * serialized resource spans, is a few bytes less per message). */
    if (s->max_trace > 0 && t->enc_len > s->max_trace) {
        decide(s, i, now_ms, true);
        return 0;
    }
    if (decoded != NULL)
        sampling_policy_observe(s->pol, decoded, &t->sum, trace_bits(s, i));
    /* The Collector's decision_wait_after_root_received: the root span's arrival brings the
     * decision forward (never back). */
    if (s->root_wait_ms > 0 && t->q == Q_WAIT && decoded != NULL && has_root(decoded) &&
        add_ms(now_ms, s->root_wait_ms) < t->due_ms) {
        queue_remove(s, i);
        t->due_ms = add_ms(now_ms, s->root_wait_ms);
        queue_push(s, i, Q_ROOT);
    }
    /* Over the byte budget, as over num_traces: the oldest traces are decided early (this
     * one too, when it is the oldest left). */
    while (s->max_bytes > 0 && s->st.bytes_held > s->max_bytes && next_due(s) != NIL) {
        s->st.decided_early++;
        decide(s, next_due(s), now_ms, false);
    }
    return 0;
}

void tail_sampler_tick(struct tail_sampler *s, uint64_t now_ms)
{
    if (now_ms > s->last_now_ms)
        s->last_now_ms = now_ms;
    uint32_t i;
    while ((i = next_due(s)) != NIL && s->tr[i].due_ms <= now_ms)
        decide(s, i, now_ms, false);
}

/* Drops the matching offers of one trace, packing the rest. Returns the offers left. */
static uint32_t forget_offers(struct tail_sampler *s, struct held_trace *t,
                              bool (*match)(void *token, void *arg), void *arg)
{
    void **tok = trace_tokens(t);
    struct offer_meta *meta = trace_meta(t);
    uint32_t kept = 0, rd = 0, wr = 0;
    for (uint32_t k = 0; k < t->n_offers; k++) {
        struct offer_meta m = meta[k];
        if (match(tok[k], arg)) {
            t->n_spans -= m.n_spans;
            s->st.spans_held -= m.n_spans;
        } else {
            if (wr != rd)
                memmove(t->enc + wr, t->enc + rd, m.len);
            wr += m.len;
            tok[kept] = tok[k];
            meta[kept] = m;
            kept++;
        }
        rd += m.len;
    }
    t->n_offers = kept;
    t->enc_len = wr;
    return kept;
}

void tail_sampler_forget(struct tail_sampler *s, bool (*match)(void *token, void *arg), void *arg)
{
    for (int k = 0; k < N_QUEUES; k++) {
        uint32_t i = s->q[k].head;
        while (i != NIL) {
            uint32_t next = s->tr[i].next;
            if (forget_offers(s, &s->tr[i], match, arg) == 0) {
                trace_unlink(s, i);
                trace_release(s, i);
            }
            i = next;
        }
    }
}

void tail_sampler_decide_all(struct tail_sampler *s)
{
    uint32_t i;
    while ((i = next_due(s)) != NIL)
        decide(s, i, s->last_now_ms, false);
}

void tail_sampler_drop_all(struct tail_sampler *s)
{
    uint32_t i;
    while ((i = next_due(s)) != NIL) {
        struct held_trace *t = &s->tr[i];
        trace_unlink(s, i);
        s->st.dropped_on_shutdown++;
        void **tok = trace_tokens(t);
        for (uint32_t k = 0; k < t->n_offers; k++)
            s->rel(s->ctx, tok[k]);
        trace_release(s, i);
    }
}

ottl_fields tail_sampler_fields(const struct tail_sampler *s)
{
    return sampling_policy_fields(s->pol);
}

bool tail_sampler_counts_bytes(const struct tail_sampler *s)
{
    return s->max_trace > 0 || sampling_policy_counts_bytes(s->pol);
}

bool tail_sampler_keyed_span_attrs(const struct tail_sampler *s)
{
    return sampling_policy_keyed_span_attrs(s->pol);
}

size_t tail_sampler_span_attr_keys(const struct tail_sampler *s, const char **keys, size_t cap)
{
    return sampling_policy_span_attr_keys(s->pol, keys, cap);
}

void tail_sampler_get_stats(const struct tail_sampler *s, struct tail_sampler_stats *out)
{
    *out = s->st;
}

void tail_sampler_write_metrics(const struct tail_sampler *s, struct kt_buf *b)
{
    const struct tail_sampler_stats *st = &s->st;
    const struct {
        const char *name, *type, *help, *labels;
        uint64_t v;
    } m[] = {
        {"kotel_process_tail_sampling_traces_pending", "gauge",
         "Traces held waiting for their decision (decision_wait after their first span).", NULL,
         st->traces_held},
        {"kotel_process_tail_sampling_spans_pending", "gauge", "Spans of the traces held.", NULL,
         st->spans_held},
        {"kotel_process_tail_sampling_pending_bytes", "gauge",
         "Memory of the traces held: their spans' encoded bytes, headers and offer lists.", NULL,
         st->bytes_held},
        {"kotel_process_tail_sampling_traces_total", "counter",
         "Traces decided, by decision of all policies together.", "decision=\"sampled\"",
         st->sampled},
        {"kotel_process_tail_sampling_traces_total", NULL, NULL, "decision=\"not_sampled\"",
         st->not_sampled},
        {"kotel_process_tail_sampling_traces_decided_early_total", "counter",
         "Traces decided before decision_wait because num_traces or the memory share of the "
         "sampler was reached.",
         NULL, st->decided_early},
        {"kotel_process_tail_sampling_late_spans_total", "counter",
         "Spans arriving after their trace was decided, which follow that decision: exported "
         "(sampled) or dropped (not_sampled).",
         "decision=\"sampled\"", st->late_sampled},
        {"kotel_process_tail_sampling_late_spans_total", NULL, NULL, "decision=\"not_sampled\"",
         st->late_dropped},
        {"kotel_process_tail_sampling_traces_dropped_too_large_total", "counter",
         "Traces not sampled because their spans grew over maximum_trace_size_bytes.", NULL,
         st->too_large},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        if (m[i].type != NULL)
            kt_prom_family(b, m[i].name, m[i].type, m[i].help);
        kt_prom_u64(b, m[i].name, m[i].labels, m[i].v);
    }
    sampling_policy_write_metrics(s->pol, b);
}

uint64_t tail_sampler_next_deadline_ms(const struct tail_sampler *s)
{
    uint32_t i = next_due(s);
    return i == NIL ? UINT64_MAX : s->tr[i].due_ms;
}

void tail_sampler_free(struct tail_sampler *s)
{
    if (s == NULL)
        return;
    for (int k = 0; k < N_QUEUES; k++) {
        for (uint32_t i = s->q[k].head; i != NIL; i = s->tr[i].next) {
            free(s->tr[i].enc);
            free(s->tr[i].offers);
        }
    }
    free(s->tr);
    free(s->bits);
    kt_idmap_free(&s->held);
    lru_free(&s->sampled);
    lru_free(&s->not_sampled);
    sampling_policy_free(s->pol);
    free(s);
}
