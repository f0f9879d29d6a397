/* dump: see dump.h. */
#include "dump.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <librdkafka/rdkafka.h>

#include "kt_buf.h"
#include "kt_codec.h"
#include "kt_kafka.h"
#include "kt_log.h"
#include "kt_otlp_json.h"
#include "kt_otlp_wire.h"
#include "kt_time.h"
#include "kt_utf8.h"
#include "topics.h"

#define PROG "kotel-process"
#define POLL_MS 500

static const struct kt_cli_opt dump_opts[DUMP_N_OPTS] = {
    [DUMP_OPT_TOPIC] = {"--dump", "TOPIC",
                        "print TOPIC's messages as JSON lines, exit (uses [kafka])"},
    [DUMP_OPT_PARTITION] = {"--partition", "P", "with --dump: partition P only (default: all)"},
    [DUMP_OPT_OFFSET] = {"--offset", "O", "with --dump: start at O, beginning (default) or end"},
    [DUMP_OPT_FROM] = {"--from", "TIME", "with --dump: start at TIME (2026-11-20T10:00:00Z)"},
    [DUMP_OPT_COUNT] = {"--count", "N", "with --dump: stop after N messages"},
};

const struct kt_cli_extra dump_cli = {
    "--dump TOPIC [--partition P] [--offset O | --from TIME] [--count N]",
    dump_opts,
    DUMP_N_OPTS,
};

enum start_kind { START_BEGINNING, START_END, START_OFFSET, START_TIME };

struct args {
    const char *topic;
    int32_t partition; /* -1: every partition */
    enum start_kind start;
    int64_t offset;  /* START_OFFSET */
    int64_t from_ms; /* START_TIME */
    uint64_t count;  /* 0: no bound */
};

struct part {
    int32_t id;
    int64_t start;
    int64_t end; /* the high watermark when the dump started: it stops there */
    bool done;
};

struct dump {
    const struct process_conf *conf;
    struct args a;
    rd_kafka_t *rk;
    struct part *parts;
    size_t n_parts;
    enum kt_signal sigs[KT_SIGNAL_COUNT]; /* the signals a message may hold, tried in order */
    int n_sigs;
    struct kt_buf pb, js; /* reused per message */
};

bool dump_requested(const char *const given[DUMP_N_OPTS])
{
    for (int i = 0; i < DUMP_N_OPTS; i++) {
        if (given[i] != NULL)
            return true;
    }
    return false;
}

/* ---- arguments ---- */

static int parse_args(const char *const given[DUMP_N_OPTS], struct args *a, struct kt_err *err)
{
    *a = (struct args){.partition = -1, .start = START_BEGINNING};
    a->topic = given[DUMP_OPT_TOPIC];
    if (a->topic == NULL) {
        for (int i = 1; i < DUMP_N_OPTS; i++) {
            if (given[i] != NULL)
                return kt_err_set(err, KT_EINVAL, "%s: only with --dump TOPIC", dump_opts[i].name);
        }
        return kt_err_set(err, KT_EINVAL, "--dump: a TOPIC must be given");
    }
    if (a->topic[0] == '\0')
        return kt_err_set(err, KT_EINVAL, "--dump: the topic name is empty");
    uint64_t v;
    if (given[DUMP_OPT_PARTITION] != NULL) {
        if (kt_parse_uint(given[DUMP_OPT_PARTITION], &v, err) != 0 || v > INT32_MAX)
            return kt_err_set(err, KT_EINVAL, "--partition: want a partition number, got '%s'",
                              given[DUMP_OPT_PARTITION]);
        a->partition = (int32_t)v;
    }
    const char *off = given[DUMP_OPT_OFFSET];
    if (off != NULL && given[DUMP_OPT_FROM] != NULL)
        return kt_err_set(err, KT_EINVAL, "--offset and --from: give one of them, not both");
    if (off != NULL) {
        if (strcmp(off, "beginning") == 0) {
            a->start = START_BEGINNING;
        } else if (strcmp(off, "end") == 0) {
            a->start = START_END;
        } else if (kt_parse_uint(off, &v, err) == 0 && v <= INT64_MAX) {
            a->start = START_OFFSET;
            a->offset = (int64_t)v;
        } else {
            return kt_err_set(err, KT_EINVAL,
                              "--offset: want an offset, 'beginning' or 'end', got '%s'", off);
        }
    }
    if (given[DUMP_OPT_FROM] != NULL) {
        if (kt_time_parse(given[DUMP_OPT_FROM], &a->from_ms) != 0)
            return kt_err_set(err, KT_EINVAL,
                              "--from: want an RFC 3339 time such as 2026-11-20T10:00:00Z, got "
                              "'%s'",
                              given[DUMP_OPT_FROM]);
        a->start = START_TIME;
    }
    if (given[DUMP_OPT_COUNT] != NULL) {
        if (kt_parse_uint(given[DUMP_OPT_COUNT], &a->count, err) != 0 || a->count == 0)
            return kt_err_set(err, KT_EINVAL,
                              "--count: want a number of messages, 1 or more, "
                              "got '%s'",
                              given[DUMP_OPT_COUNT]);
    }
    return 0;
}

/* ---- one message as one line ---- */

/* Text a reader can take as is: valid UTF-8 without control characters. */
static bool printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return false;
    }
    return kt_utf8_valid(p, n);
}

static json_t *base64_json(const uint8_t *p, size_t n)
{
    char *s = malloc(kt_base64_len(n) + 1);
    if (s == NULL)
        return NULL;
    kt_base64_encode(p, n, s);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static int add_key(json_t *line, const rd_kafka_message_t *m)
{
    if (m->key == NULL)
        return json_object_set_new(line, "key", json_null());
    if (printable(m->key, m->key_len))
        return json_object_set_new(line, "key", json_stringn(m->key, m->key_len));
    return json_object_set_new(line, "key_base64", base64_json(m->key, m->key_len));
}

/* Values that are text print as strings, others as {"base64": ...}; a name that appears
 * twice keeps its last value. */
static int add_headers(json_t *line, rd_kafka_message_t *m)
{
    json_t *h = json_object();
    if (h == NULL || json_object_set_new(line, "headers", h) != 0)
        return KT_ENOMEM;
    rd_kafka_headers_t *hdrs = NULL;
    if (rd_kafka_message_headers(m, &hdrs) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return 0;
    const char *name;
    const void *val;
    size_t n;
    for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &n) == 0; i++) {
        char safe[256];
        kt_escape_text(name, strlen(name), safe, sizeof(safe));
        json_t *v;
        if (val == NULL)
            v = json_null();
        else if (printable(val, n))
            v = json_stringn(val, n);
        else
            v = json_pack("{s:o}", "base64", base64_json(val, n));
        if (v == NULL || json_object_set_new(h, safe, v) != 0)
            return KT_ENOMEM;
    }
    return 0;
}

/* d->js holds OTLP/JSON from kt_otlp_proto_to_json: it becomes "data". */
static int add_data(struct dump *d, json_t *line, const char *encoding, enum kt_signal sig)
{
    json_error_t jerr;
    json_t *data = json_loadb((const char *)d->js.p, d->js.len, 0, &jerr);
    if (data == NULL) {
        /* Not expected of kt_otlp_proto_to_json's output, but one odd message must not end
         * the dump. */
        char msg[sizeof(jerr.text) + 64];
        snprintf(msg, sizeof(msg), "%s decoded, but jansson cannot read it back: %s", encoding,
                 jerr.text);
        return json_object_set_new(line, "error", json_string(msg)) != 0 ? KT_ENOMEM : 0;
    }
    if (json_object_set_new(line, "encoding", json_string(encoding)) != 0 ||
        json_object_set_new(line, "signal", json_string(kt_signal_name(sig))) != 0 ||
        json_object_set_new(line, "data", data) != 0)
        return KT_ENOMEM;
    return 0;
}

/* Tries otlp_proto, then otlp_json, for each signal the topic may hold; where several fit,
 * the first that holds items wins (an empty message fits them all). */
static int add_payload(struct dump *d, json_t *line, const rd_kafka_message_t *m)
{
    const struct kt_slice v = {m->payload, m->len};
    struct kt_err proto_err = {0, ""}, json_err = {0, ""}, e;
    int found = -1;
    for (int i = 0; i < d->n_sigs; i++) {
        size_t items = 0;
        if (kt_otlp_validate_flags(d->sigs[i], v, KT_OTLP_VALIDATE_NO_NUL, &items,
                                   i == 0 ? &proto_err : &e) != 0)
            continue;
        if (found < 0 || items > 0)
            found = i;
        if (items > 0)
            break;
    }
    if (found >= 0) {
        kt_buf_reset(&d->js);
        if (kt_otlp_proto_to_json(d->sigs[found], v, &d->js, &e) == 0)
            return add_data(d, line, "otlp_proto", d->sigs[found]);
        proto_err = e;
    }
    /* A failed conversion leaves pb empty, which is also what every later success held
     * when no signal had items: after the loop pb holds the winner's protobuf. */
    found = -1;
    for (int i = 0; i < d->n_sigs; i++) {
        kt_buf_reset(&d->pb);
        if (kt_otlp_json_to_proto(d->sigs[i], m->payload, m->len, &d->pb,
                                  i == 0 ? &json_err : &e) != 0)
            continue;
        if (found < 0 || d->pb.len > 0)
            found = i;
        if (d->pb.len > 0)
            break;
    }
    if (found >= 0) {
        /* Written back in the canonical form (lowerCamelCase, hex IDs), whatever spelling
         * the producer used. */
        kt_buf_reset(&d->js);
        if (kt_otlp_proto_to_json(d->sigs[found], kt_buf_slice(&d->pb), &d->js, &e) == 0)
            return add_data(d, line, "otlp_json", d->sigs[found]);
        json_err = e;
    }
    kt_err_escape(&proto_err);
    kt_err_escape(&json_err);
    char msg[2 * KT_ERR_MSG_MAX + 96];
    snprintf(msg, sizeof(msg),
             "neither otlp_proto nor otlp_json: as %s protobuf: %s; as OTLP/JSON: %s",
             kt_signal_name(d->sigs[0]), proto_err.msg, json_err.msg);
    return json_object_set_new(line, "error", json_string(msg));
}

/* Writes the message's line to stdout. Returns 0, KT_ENOMEM or KT_EIO (stdout closed). */
static int print_message(struct dump *d, rd_kafka_message_t *m)
{
    int rc = KT_ENOMEM;
    json_t *line = json_object();
    if (line == NULL)
        goto out;
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    char when[48];
    kt_time_format(ts, when, sizeof(when));
    if (json_object_set_new(line, "topic", json_string(rd_kafka_topic_name(m->rkt))) != 0 ||
        json_object_set_new(line, "partition", json_integer(m->partition)) != 0 ||
        json_object_set_new(line, "offset", json_integer(m->offset)) != 0 ||
        json_object_set_new(line, "timestamp", ts >= 0 ? json_string(when) : json_null()) != 0 ||
        json_object_set_new(line, "timestamp_ms", ts >= 0 ? json_integer(ts) : json_null()) != 0 ||
        add_key(line, m) != 0 || add_headers(line, m) != 0 || add_payload(d, line, m) != 0)
        goto out;
    rc = KT_EIO;
    if (json_dumpf(line, stdout, JSON_COMPACT) != 0 || fputc('\n', stdout) == EOF ||
        fflush(stdout) != 0)
        goto out;
    rc = 0;
out:
    json_decref(line);
    return rc;
}

/* ---- Kafka ---- */

static int make_consumer(struct dump *d, struct kt_err *err)
{
    const struct process_conf *c = d->conf;
    const struct kt_kafka_common common = {
        .brokers = &c->kafka.brokers,
        .client_id = c->kafka.client_id,
        .protocol_version = c->kafka.protocol_version,
        .auth = &c->kafka.auth,
    };
    /* Partitions are assigned, not subscribed: no group is joined and nothing committed, so
     * the pipeline's offsets stay where they are. librdkafka's assign still wants a group.id
     * to be set; a name of its own keeps even that apart from [kafka] group_id. The end of
     * each partition is an event. */
    return kt_kafka_plain_consumer_new(&common, &c->kafka.rdkafka, "kotel-process-dump", true,
                                       &d->rk, err);
}

/* Reads the topic's partitions (or checks --partition) within [kafka] connect_timeout. */
static int read_partitions(struct dump *d, struct kt_err *err)
{
    int timeout = (int)d->conf->kafka.connect_timeout_ms;
    char brokers[256];
    kt_kafka_brokers_join(&d->conf->kafka.brokers, brokers, sizeof(brokers));
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(d->rk, d->a.topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    int rc = KT_ENOMEM;
    if (rkt == NULL)
        goto out;
    rd_kafka_resp_err_t e = rd_kafka_metadata(d->rk, 0, rkt, &md, timeout);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rc = kt_err_set(err, KT_ETIMEDOUT,
                        "cannot read the metadata of the Kafka cluster at %s within [kafka] "
                        "connect_timeout (%" PRIu64 "ms): %s; check [kafka] brokers and auth",
                        brokers, d->conf->kafka.connect_timeout_ms, rd_kafka_err2str(e));
        goto out;
    }
    const struct rd_kafka_metadata_topic *t = md->topic_cnt == 1 ? &md->topics[0] : NULL;
    if (t == NULL || t->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        rc =
            kt_err_set(err, KT_ENOTFOUND, "topic \"%s\" does not exist on %s", d->a.topic, brokers);
        goto out;
    }
    if (t->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        rc = kt_err_set(err, KT_EIO, "topic \"%s\": %s", d->a.topic, rd_kafka_err2str(t->err));
        goto out;
    }
    rc = KT_ENOMEM;
    d->parts = calloc(t->partition_cnt > 0 ? (size_t)t->partition_cnt : 1, sizeof(*d->parts));
    if (d->parts == NULL)
        goto out;
    for (int i = 0; i < t->partition_cnt; i++) {
        if (d->a.partition < 0 || t->partitions[i].id == d->a.partition)
            d->parts[d->n_parts++].id = t->partitions[i].id;
    }
    rc = 0;
    if (d->n_parts == 0)
        rc = kt_err_set(err, KT_EINVAL,
                        "--partition: topic \"%s\" has no partition %" PRId32 " (it has %d)",
                        d->a.topic, d->a.partition, t->partition_cnt);
out:
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    if (rkt != NULL)
        rd_kafka_topic_destroy(rkt);
    return rc;
}

/* Sets each partition's start and end from its watermarks and the start asked for. */
static int find_offsets(struct dump *d, struct kt_err *err)
{
    int timeout = (int)d->conf->kafka.connect_timeout_ms;
    for (size_t i = 0; i < d->n_parts; i++) {
        struct part *p = &d->parts[i];
        int64_t lo;
        rd_kafka_resp_err_t e =
            rd_kafka_query_watermark_offsets(d->rk, d->a.topic, p->id, &lo, &p->end, timeout);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            return kt_err_set(err, KT_EIO, "%s [%" PRId32 "]: reading its offsets: %s", d->a.topic,
                              p->id, rd_kafka_err2str(e));
        p->start = d->a.start == START_END ? p->end : lo;
        if (d->a.start == START_OFFSET)
            p->start = d->a.offset < lo ? lo : d->a.offset > p->end ? p->end : d->a.offset;
    }
    if (d->a.start != START_TIME)
        return 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)d->n_parts);
    for (size_t i = 0; i < d->n_parts; i++)
        rd_kafka_topic_partition_list_add(l, d->a.topic, d->parts[i].id)->offset = d->a.from_ms;
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(d->rk, l, timeout);
    int rc = 0;
    for (int i = 0; e == RD_KAFKA_RESP_ERR_NO_ERROR && i < l->cnt; i++) {
        struct part *p = &d->parts[i];
        e = l->elems[i].err;
        /* No message at or after the time: nothing to print in that partition. */
        p->start = l->elems[i].offset < 0 ? p->end : l->elems[i].offset;
    }
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        rc = kt_err_set(err, KT_EIO, "%s: finding the offsets for --from: %s", d->a.topic,
                        rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static struct part *part_of(struct dump *d, int32_t id)
{
    for (size_t i = 0; i < d->n_parts; i++) {
        if (d->parts[i].id == id)
            return &d->parts[i];
    }
    return NULL;
}

/* Consumes from the start offsets until every partition reached its end (never, with
 * --offset end) or --count messages are printed. */
static int consume(struct dump *d, struct kt_err *err)
{
    bool follow = d->a.start == START_END;
    size_t open = 0;
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new((int)d->n_parts);
    for (size_t i = 0; i < d->n_parts; i++) {
        struct part *p = &d->parts[i];
        p->done = !follow && p->start >= p->end;
        if (p->done)
            continue;
        rd_kafka_topic_partition_list_add(l, d->a.topic, p->id)->offset = p->start;
        open++;
    }
    rd_kafka_resp_err_t e = open > 0 ? rd_kafka_assign(d->rk, l) : RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_topic_partition_list_destroy(l);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return kt_err_set(err, KT_EIO, "%s: assigning its partitions: %s", d->a.topic,
                          rd_kafka_err2str(e));
    uint64_t printed = 0;
    int rc = 0;
    while (rc == 0 && open > 0 && (d->a.count == 0 || printed < d->a.count)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(d->rk, POLL_MS);
        if (m == NULL)
            continue;
        struct part *p = part_of(d, m->partition);
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            /* Past the end read at the start too, even when the last offsets before it were
             * not messages (transaction markers, compacted away). */
            if (!follow && p != NULL && !p->done) {
                p->done = true;
                open--;
            }
        } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (rd_kafka_fatal_error(d->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR)
                rc = kt_err_set(err, KT_EIO, "%s: %s", d->a.topic, rd_kafka_message_errstr(m));
            else
                kt_warn("%s: %s", d->a.topic, rd_kafka_message_errstr(m));
        } else if (p != NULL && !p->done) {
            if (follow || m->offset < p->end) {
                rc = print_message(d, m);
                printed++;
                if (rc == KT_EIO)
                    kt_err_set(err, rc, "writing to stdout failed");
                else if (rc != 0)
                    kt_err_set(err, rc, "out of memory");
            }
            if (!follow && m->offset + 1 >= p->end) {
                p->done = true;
                open--;
            }
        }
        rd_kafka_message_destroy(m);
    }
    return rc;
}

int dump_run(const struct process_conf *conf, const char *const given[DUMP_N_OPTS])
{
    struct dump d = {.conf = conf, .pb = KT_BUF_INIT, .js = KT_BUF_INIT};
    struct kt_err err = {0, ""};
    if (parse_args(given, &d.a, &err) != 0) {
        fprintf(stderr, "%s: %s\nTry '%s --help'.\n", PROG, err.msg, PROG);
        return 2;
    }
    /* The signal whose topics (a list or a ^regex) hold the dumped one. */
    struct topics *sel = NULL;
    if (topics_new(conf, &sel, &err) == 0) {
        int s = topics_signal_of(sel, d.a.topic);
        if (s >= 0)
            d.sigs[d.n_sigs++] = (enum kt_signal)s;
    }
    topics_free(sel);
    if (d.n_sigs == 0) {
        for (int s = 0; s < KT_SIGNAL_COUNT; s++)
            d.sigs[d.n_sigs++] = (enum kt_signal)s;
    }
    int rc = kt_kafka_auth_check(&conf->kafka.auth, &err);
    if (rc == 0)
        rc = make_consumer(&d, &err);
    if (rc == 0)
        rc = read_partitions(&d, &err);
    if (rc == 0)
        rc = find_offsets(&d, &err);
    if (rc == 0)
        rc = consume(&d, &err);
    /* KT_EINVAL: the configuration or --partition is wrong, which is a usage error. */
    int code = rc == 0 ? 0 : rc == KT_EINVAL ? 2 : 1;
    if (rc != 0)
        fprintf(stderr, "%s: --dump: %s\n", PROG, err.msg);
    if (d.rk != NULL)
        rd_kafka_destroy(d.rk);
    free(d.parts);
    kt_buf_free(&d.pb);
    kt_buf_free(&d.js);
    return code;
}
