/* exporter: the OTLP exporter of kotel-process.
 *
 * Serialized *Data messages are batched per signal by concatenation (protobuf merges
 * repeated fields, so no item is decoded), sealed into one Export request at
 * send_batch_size items or after send_batch_timeout, and sent as OTLP/gRPC, OTLP/HTTP protobuf
 * or OTLP/HTTP JSON over [exporter] max_in_flight connections (otlp_client), one request on
 * each at a time. Signals whose endpoints (traces_endpoint, ...) are on different origins
 * (scheme, host, port) get connections, queues and retries of their own, so a backend that
 * is down holds back only the signals sent to it. Each request carries the tokens of everything in
 * it; every token is reported exactly once through done.
 *
 * Failures the backend may recover from (gRPC UNAVAILABLE and friends, HTTP 429/502/503/504,
 * lost connections, timeouts) are retried with exponential backoff and jitter, or after the
 * delay the backend asked for; a request keeps its connection while it waits, so with
 * max_in_flight 1 later requests wait behind it and the order of delivery is the order of
 * submission. With more, requests finish in any order: the consumer's offset watermark
 * (offsets.h) keeps commits in order. */
#ifndef PROCESS_EXPORTER_H
#define PROCESS_EXPORTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "conf.h"
#include "kt_buf.h"
#include "kt_err.h"
#include "kt_signal.h"

struct exporter;

/* status 0: exported (also when the backend reported a partial_success: it refused part
 * deliberately, which is logged and counted); KT_EINVAL: permanently refused by the backend
 * (message = the backend's message) or given up after [exporter.retry] max_elapsed_time;
 * KT_EAGAIN: not exported because the exporter is being freed. Called once per submitted
 * token, always from the loop, never inside exporter_submit. done may submit or flush, but
 * must not free the exporter. */
typedef void (*exporter_done_fn)(void *ctx, void *token, int status, const char *message);

/* Optional: data refused for good (what done would report as KT_EINVAL) is handed over
 * here instead, with the tokens of the request (the callee takes them; done is not called
 * for them). data is the refused *Data protobuf, borrowed for the call. ends[i] is where
 * the data submitted with tokens[i] ends in it (it starts where the previous one ends), so
 * the callee can tell the pieces apart; NULL when they cannot be told (OTLP/JSON, whose
 * protobuf is converted back). */
typedef void (*exporter_refused_fn)(void *ctx, enum kt_signal sig, struct kt_slice data,
                                    void *const *tokens, const size_t *ends, size_t n_tokens,
                                    const char *message);

/* Optional: writes into buf (cap bytes, NUL-terminated) where the data of tokens came from,
 * e.g. "otlp_spans [3] offsets 10..12", so a log line about a request names the messages
 * an operator can look up (kotel-process --dump). tokens are borrowed for the call. */
#define EXPORTER_ORIGIN_MAX 256
typedef void (*exporter_origin_fn)(void *ctx, void *const *tokens, size_t n_tokens, char *buf,
                                   size_t cap);

/* Reads the header values kept in files ("Key=@/path" in [exporter] headers) again, on
 * SIGHUP: requests not sent yet carry the new values. On an error (which names the header
 * and the file, never a value) the previous values stay. */
int exporter_reload(struct exporter *e, struct kt_err *err);

/* Checks what exporter_new would read from local files, without connecting: the endpoint
 * and, for https, the [exporter.tls] trust store, client certificate and key. Startup calls
 * it first, so a bad file is reported before Kafka is even asked. */
int exporter_check(const struct process_conf *conf, struct kt_err *err);

/* Validates [exporter] endpoint ("http://host:port[/path]" or "https://..."; the port
 * defaults to 80 / 443; a path is allowed for the http/protobuf and http/json protocols, which
 * append /v1/traces, /v1/metrics, /v1/logs to it) and headers ("Key=Value"); errors name the key.
 * Nothing is connected until the first request. conf must outlive the exporter. */
int exporter_new(const struct process_conf *conf, struct ev_loop *loop, exporter_done_fn done,
                 void *ctx, struct exporter **out, struct kt_err *err);

/* Most [exporter] headers_from_metadata keys. */
#define EXPORTER_META_MAX 8
/* Longest metadata value sent as a header. */
#define EXPORTER_META_VALUE_MAX 4096

/* The request metadata of submitted data: the values of [exporter] headers_from_metadata, in
 * its order; a value whose p is NULL is absent (the message had no such header). Data is
 * batched only with data of the same values (absent differs from empty), and its request
 * carries each present value as the header of that key's name. */
struct exporter_meta {
    struct kt_slice v[EXPORTER_META_MAX];
};

/* data: a serialized TracesData / MetricsData / LogsData of n_items items, copied; meta:
 * borrowed, NULL when every value is absent. Returns 0 (token now owned: done will be
 * called), or, with the token not taken: KT_EINVAL (bad signal), KT_ENOMEM, KT_EAGAIN (called
 * from a done callback inside exporter_free). Data whose metadata cannot be sent (a value
 * with a control character or over EXPORTER_META_VALUE_MAX bytes) or would open a batch past
 * [exporter] metadata_cardinality_limit is refused for good (done or refused, KT_EINVAL). */
int exporter_submit(struct exporter *e, enum kt_signal sig, struct kt_slice data, size_t n_items,
                    const struct exporter_meta *meta, void *token);

/* True while a request is being retried on every origin or queued bytes exceed
 * EXPORTER_CONGESTED_BYTES (or the export share of [limits] memory, when smaller): the
 * pipeline stops consuming then. */
bool exporter_congested(const struct exporter *e);

/* True while a request to sig's origin is being retried: the pipeline stops consuming that
 * signal's topics then (with per-signal endpoints on several origins, the others go on). */
bool exporter_signal_congested(const struct exporter *e, enum kt_signal sig);

/* Routes permanently refused data to fn (see exporter_refused_fn). */
void exporter_set_refused(struct exporter *e, exporter_refused_fn fn);
#define EXPORTER_CONGESTED_BYTES (64u << 20)

/* Names the origin of a request in its log lines with fn (see exporter_origin_fn). */
void exporter_set_origin(struct exporter *e, exporter_origin_fn fn);

/* Seals the open batches so they are sent now (shutdown). */
void exporter_flush(struct exporter *e);

/* Nothing open, queued or in flight. */
bool exporter_idle(const struct exporter *e);

/* done(..., KT_EAGAIN, "shutting down") for every token not yet reported, then frees. */
void exporter_free(struct exporter *e);

struct exporter_stats {
    uint64_t requests_ok;      /* answered OK (including partial_success) */
    uint64_t requests_retried; /* retry attempts scheduled */
    uint64_t requests_failed;  /* refused permanently or given up */
    uint64_t items_exported;   /* items the backend accepted */
    uint64_t items_refused;    /* items refused: partial_success counts, failed requests,
                                * metadata that cannot be batched */
};

void exporter_get_stats(const struct exporter *e, struct exporter_stats *out);
/* The exporter's families (Prometheus text, see kt_prom.h) appended to b. */
void exporter_write_metrics(const struct exporter *e, struct kt_buf *b);

/* Why a backend is not reachable (its last export attempt got no answer: connection
 * refused or lost, timeout, TLS or protocol failure), or NULL when every backend answered (or
 * nothing was sent yet). With several origins (per-signal endpoints), the first unreachable
 * one; *url (when url is not NULL) is then the configured URL naming it. Both are valid until
 * the next loop iteration. */
const char *exporter_unreachable(const struct exporter *e, const char **url);

/* Largest batch in bytes before it is sealed regardless of send_batch_size: under the 4 MiB
 * default message limit of gRPC servers (the Collector's included). */
#define EXPORTER_MAX_BATCH_BYTES ((4u << 20) - (64u << 10))

#endif
