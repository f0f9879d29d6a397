/* kotel-kafka-admin: the few cluster operations the tests, the bench and scripts/kafka.sh
 * need, through librdkafka's admin API (a JVM start per topic would cost seconds).
 *
 *   kotel-kafka-admin -b BOOTSTRAP [-X prop=value]... [-t TIMEOUT_MS] COMMAND ...
 *     has-broker ID                   exit 0 if broker ID is in the cluster's metadata
 *     create TOPIC... --partitions P [--replication R] [--config k=v]...
 *                                     creates the topics and waits until every partition has
 *                                     a leader in the metadata (an existing topic is an error)
 *     delete TOPIC...                 deletes the topics (missing ones are ignored)
 *     describe TOPIC                  one line per partition: "P leader L replicas a,b isr a,b"
 *     leader TOPIC PARTITION          prints the leader's broker id
 *     group GROUP                     the coordinator's view of a consumer group: a line
 *                                     "state S", then per member
 *                                     "member CLIENT_ID HOST TOPIC:P,TOPIC:P,..." ("-" when
 *                                     it holds nothing)
 *     offsets GROUP [TOPIC...]        the group's committed offsets: "TOPIC PARTITION OFFSET"
 *                                     per line, sorted; with topics, every partition of
 *                                     those (-1001 when none is committed), which the
 *                                     devbroker's mock cluster needs: it answers no
 *                                     request for all of a group's offsets
 *     produce TOPIC PARTITION TIME_MS  one message, its value read from stdin, with the
 *                                     timestamp TIME_MS (kcat cannot set one)
 *
 * -X passes a librdkafka property (security.protocol, sasl.*, ssl.*) so that any listener of
 * the test cluster can be used. Exit 0 on success, 1 with a message on stderr otherwise. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define ADM_MAX_PROPS 32
#define ADM_MAX_CONFIGS 16

struct adm {
    rd_kafka_t *rk;
    rd_kafka_conf_t *tmpl; /* the configuration rk was made from, for one-broker handles */
    int timeout_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int usage(void)
{
    fprintf(stderr,
            "usage: kotel-kafka-admin -b BOOTSTRAP [-X prop=value]... [-t TIMEOUT_MS] COMMAND\n"
            "  has-broker ID\n"
            "  create TOPIC... --partitions P [--replication R] [--config k=v]...\n"
            "  delete TOPIC...\n"
            "  describe TOPIC\n"
            "  leader TOPIC PARTITION\n"
            "  group GROUP\n"
            "  offsets GROUP [TOPIC...]\n"
            "  produce TOPIC PARTITION TIME_MS  (value on stdin)\n");
    return 2;
}

/* Metadata of all topics, or NULL with a message. The caller frees it. */
static const rd_kafka_metadata_t *metadata(struct adm *a)
{
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(a->rk, 1, NULL, &md, a->timeout_ms);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kotel-kafka-admin: metadata: %s\n", rd_kafka_err2str(e));
        return NULL;
    }
    return md;
}

static const rd_kafka_metadata_topic_t *find_topic(const rd_kafka_metadata_t *md, const char *name)
{
    for (int i = 0; i < md->topic_cnt; i++)
        if (strcmp(md->topics[i].topic, name) == 0)
            return &md->topics[i];
    return NULL;
}

static int cmd_has_broker(struct adm *a, int argc, char **argv)
{
    if (argc != 1)
        return usage();
    int32_t id = (int32_t)atoi(argv[0]);
    const rd_kafka_metadata_t *md = metadata(a);
    if (md == NULL)
        return 1;
    int rc = 1;
    for (int i = 0; i < md->broker_cnt; i++)
        if (md->brokers[i].id == id)
            rc = 0;
    rd_kafka_metadata_destroy(md);
    if (rc != 0)
        fprintf(stderr, "kotel-kafka-admin: broker %" PRId32 " is not in the metadata\n", id);
    return rc;
}

/* Every named topic is in the metadata with every partition led. */
static bool topics_ready(const rd_kafka_metadata_t *md, char **topics, int n, int partitions)
{
    for (int i = 0; i < n; i++) {
        const rd_kafka_metadata_topic_t *t = find_topic(md, topics[i]);
        if (t == NULL || t->err != RD_KAFKA_RESP_ERR_NO_ERROR || t->partition_cnt != partitions)
            return false;
        for (int p = 0; p < t->partition_cnt; p++)
            if (t->partitions[p].leader < 0)
                return false;
    }
    return true;
}

/* Whether broker b itself (a handle whose only bootstrap server is b) lists the topics led. */
static bool broker_sees(struct adm *a, const rd_kafka_metadata_broker_t *b, char **topics, int n,
                        int partitions)
{
    char addr[300], errstr[512];
    snprintf(addr, sizeof(addr), "%s:%d", b->host, b->port);
    rd_kafka_conf_t *conf = rd_kafka_conf_dup(a->tmpl);
    if (rd_kafka_conf_set(conf, "bootstrap.servers", addr, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return false;
    }
    const rd_kafka_metadata_t *md = NULL;
    bool ok = rd_kafka_metadata(rk, 1, NULL, &md, a->timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR &&
              topics_ready(md, topics, n, partitions);
    if (md != NULL)
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return ok;
}

/* Runs one admin request and returns its result event (or NULL with a message). */
static rd_kafka_event_t *admin_wait(struct adm *a, rd_kafka_queue_t *q, const char *what)
{
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, a->timeout_ms + 1000);
    if (ev == NULL) {
        fprintf(stderr, "kotel-kafka-admin: %s: no answer within %d ms\n", what, a->timeout_ms);
        return NULL;
    }
    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kotel-kafka-admin: %s: %s\n", what, rd_kafka_event_error_string(ev));
        rd_kafka_event_destroy(ev);
        return NULL;
    }
    return ev;
}

static int cmd_create(struct adm *a, int argc, char **argv)
{
    char *topics[256];
    int n = 0, partitions = 0, replication = -1, n_cfg = 0;
    char *cfg[ADM_MAX_CONFIGS];
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc)
            partitions = atoi(argv[++i]);
        else if (strcmp(argv[i], "--replication") == 0 && i + 1 < argc)
            replication = atoi(argv[++i]);
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && n_cfg < ADM_MAX_CONFIGS)
            cfg[n_cfg++] = argv[++i];
        else if (argv[i][0] != '-' && n < 256)
            topics[n++] = argv[i];
        else
            return usage();
    }
    if (n == 0 || partitions <= 0)
        return usage();

    rd_kafka_NewTopic_t *nt[256];
    char errstr[512];
    for (int i = 0; i < n; i++) {
        nt[i] = rd_kafka_NewTopic_new(topics[i], partitions, replication, errstr, sizeof(errstr));
        if (nt[i] == NULL) {
            fprintf(stderr, "kotel-kafka-admin: %s: %s\n", topics[i], errstr);
            return 1;
        }
        for (int c = 0; c < n_cfg; c++) {
            char *eq = strchr(cfg[c], '=');
            if (eq == NULL)
                return usage();
            *eq = '\0';
            rd_kafka_NewTopic_set_config(nt[i], cfg[c], eq + 1);
            *eq = '=';
        }
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(a->rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(a->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, a->timeout_ms, errstr, sizeof(errstr));
    rd_kafka_AdminOptions_set_request_timeout(opt, a->timeout_ms, errstr, sizeof(errstr));
    rd_kafka_CreateTopics(a->rk, nt, (size_t)n, opt, q);
    rd_kafka_event_t *ev = admin_wait(a, q, "create");
    int rc = ev == NULL ? 1 : 0;
    if (ev != NULL) {
        size_t cnt;
        const rd_kafka_topic_result_t **res =
            rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            if (rd_kafka_topic_result_error(res[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                fprintf(stderr, "kotel-kafka-admin: create %s: %s\n",
                        rd_kafka_topic_result_name(res[i]),
                        rd_kafka_topic_result_error_string(res[i]));
                rc = 1;
            }
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    for (int i = 0; i < n; i++)
        rd_kafka_NewTopic_destroy(nt[i]);
    if (rc != 0)
        return rc;

    /* The controller has the topics, and the brokers learn of them a moment later, each at
     * its own pace. Wait until every broker's metadata shows them led: a client started
     * next may ask any broker, and one that answers "unknown topic" after another said
     * "4 partitions" makes librdkafka fail queued messages with "Unknown partition". */
    int64_t deadline = now_ms() + a->timeout_ms;
    const rd_kafka_metadata_t *md = NULL;
    while ((md = metadata(a)) == NULL || !topics_ready(md, topics, n, partitions)) {
        if (md != NULL)
            rd_kafka_metadata_destroy(md);
        if (now_ms() > deadline)
            goto timeout;
        sleep_ms(100);
    }
    for (int b = 0; b < md->broker_cnt; b++) {
        while (!broker_sees(a, &md->brokers[b], topics, n, partitions)) {
            if (now_ms() > deadline) {
                rd_kafka_metadata_destroy(md);
                goto timeout;
            }
            sleep_ms(100);
        }
    }
    rd_kafka_metadata_destroy(md);
    return 0;
timeout:
    fprintf(stderr, "kotel-kafka-admin: created topics are not led on every broker after %d ms\n",
            a->timeout_ms);
    return 1;
}

static int cmd_delete(struct adm *a, int argc, char **argv)
{
    if (argc < 1 || argc > 256)
        return usage();
    rd_kafka_DeleteTopic_t *dt[256];
    for (int i = 0; i < argc; i++)
        dt[i] = rd_kafka_DeleteTopic_new(argv[i]);
    char errstr[512];
    rd_kafka_queue_t *q = rd_kafka_queue_new(a->rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(a->rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, a->timeout_ms, errstr, sizeof(errstr));
    rd_kafka_DeleteTopics(a->rk, dt, (size_t)argc, opt, q);
    rd_kafka_event_t *ev = admin_wait(a, q, "delete");
    int rc = ev == NULL ? 1 : 0;
    if (ev != NULL) {
        size_t cnt;
        const rd_kafka_topic_result_t **res =
            rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &cnt);
        for (size_t i = 0; i < cnt; i++) {
            rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
            if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
                fprintf(stderr, "kotel-kafka-admin: delete %s: %s\n",
                        rd_kafka_topic_result_name(res[i]),
                        rd_kafka_topic_result_error_string(res[i]));
                rc = 1;
            }
        }
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    for (int i = 0; i < argc; i++)
        rd_kafka_DeleteTopic_destroy(dt[i]);
    return rc;
}

static void print_ids(const int32_t *v, int n)
{
    for (int i = 0; i < n; i++)
        printf("%s%" PRId32, i ? "," : "", v[i]);
}

static int cmd_describe(struct adm *a, int argc, char **argv, int only_partition)
{
    if (argc != 1)
        return usage();
    const rd_kafka_metadata_t *md = metadata(a);
    if (md == NULL)
        return 1;
    int rc = 1;
    const rd_kafka_metadata_topic_t *t = find_topic(md, argv[0]);
    if (t == NULL || t->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kotel-kafka-admin: topic %s: %s\n", argv[0],
                t ? rd_kafka_err2str(t->err) : "not in the metadata");
        goto out;
    }
    for (int p = 0; p < t->partition_cnt; p++) {
        const rd_kafka_metadata_partition_t *mp = &t->partitions[p];
        if (only_partition >= 0) {
            if (mp->id != only_partition)
                continue;
            printf("%" PRId32 "\n", mp->leader);
            rc = 0;
            goto out;
        }
        printf("%" PRId32 " leader %" PRId32 " replicas ", mp->id, mp->leader);
        print_ids(mp->replicas, mp->replica_cnt);
        printf(" isr ");
        print_ids(mp->isrs, mp->isr_cnt);
        printf("\n");
    }
    rc = only_partition >= 0 ? 1 : 0;
    if (rc != 0)
        fprintf(stderr, "kotel-kafka-admin: %s has no partition %d\n", argv[0], only_partition);
out:
    rd_kafka_metadata_destroy(md);
    return rc;
}

static int cmd_group(struct adm *a, int argc, char **argv)
{
    if (argc != 1)
        return usage();
    char errstr[512];
    rd_kafka_queue_t *q = rd_kafka_queue_new(a->rk);
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(a->rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    rd_kafka_AdminOptions_set_request_timeout(opt, a->timeout_ms, errstr, sizeof(errstr));
    const char *groups[1] = {argv[0]};
    rd_kafka_DescribeConsumerGroups(a->rk, groups, 1, opt, q);
    rd_kafka_event_t *ev = admin_wait(a, q, "group");
    int rc = 1;
    if (ev == NULL)
        goto out;
    size_t cnt;
    const rd_kafka_ConsumerGroupDescription_t **gs = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
    if (cnt != 1) {
        fprintf(stderr, "kotel-kafka-admin: group %s: %zu results\n", argv[0], cnt);
        goto out_ev;
    }
    const rd_kafka_error_t *ge = rd_kafka_ConsumerGroupDescription_error(gs[0]);
    if (ge != NULL) {
        fprintf(stderr, "kotel-kafka-admin: group %s: %s\n", argv[0], rd_kafka_error_string(ge));
        goto out_ev;
    }
    printf("state %s\n",
           rd_kafka_consumer_group_state_name(rd_kafka_ConsumerGroupDescription_state(gs[0])));
    size_t n = rd_kafka_ConsumerGroupDescription_member_count(gs[0]);
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member(gs[0], i);
        const rd_kafka_topic_partition_list_t *l =
            rd_kafka_MemberAssignment_partitions(rd_kafka_MemberDescription_assignment(m));
        printf("member %s %s ", rd_kafka_MemberDescription_client_id(m),
               rd_kafka_MemberDescription_host(m));
        if (l == NULL || l->cnt == 0)
            printf("-");
        for (int p = 0; l != NULL && p < l->cnt; p++)
            printf("%s%s:%" PRId32, p ? "," : "", l->elems[p].topic, l->elems[p].partition);
        printf("\n");
    }
    rc = 0;
out_ev:
    rd_kafka_event_destroy(ev);
out:
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    return rc;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_offsets(struct adm *a, int argc, char **argv)
{
    if (argc < 1)
        return usage();
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (argc > 1) {
        const rd_kafka_metadata_t *md = metadata(a);
        if (md == NULL)
            return 1;
        parts = rd_kafka_topic_partition_list_new(argc);
        for (int i = 1; i < argc; i++) {
            const rd_kafka_metadata_topic_t *t = find_topic(md, argv[i]);
            for (int p = 0; t != NULL && p < t->partition_cnt; p++)
                rd_kafka_topic_partition_list_add(parts, argv[i], t->partitions[p].id);
        }
        rd_kafka_metadata_destroy(md);
    }
    char errstr[512];
    rd_kafka_queue_t *q = rd_kafka_queue_new(a->rk);
    rd_kafka_AdminOptions_t *opt =
        rd_kafka_AdminOptions_new(a->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    rd_kafka_AdminOptions_set_request_timeout(opt, a->timeout_ms, errstr, sizeof(errstr));
    rd_kafka_ListConsumerGroupOffsets_t *req =
        rd_kafka_ListConsumerGroupOffsets_new(argv[0], parts);
    if (parts != NULL)
        rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_ListConsumerGroupOffsets(a->rk, &req, 1, opt, q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_event_t *ev = admin_wait(a, q, "offsets");
    int rc = 1;
    char **lines = NULL;
    int n = 0;
    if (ev == NULL)
        goto out;
    size_t cnt;
    const rd_kafka_group_result_t **gs = rd_kafka_ListConsumerGroupOffsets_result_groups(
        rd_kafka_event_ListConsumerGroupOffsets_result(ev), &cnt);
    if (cnt != 1 || rd_kafka_group_result_error(gs[0]) != NULL) {
        fprintf(stderr, "kotel-kafka-admin: offsets %s: %s\n", argv[0],
                cnt != 1 ? "no result" : rd_kafka_error_string(rd_kafka_group_result_error(gs[0])));
        goto out_ev;
    }
    const rd_kafka_topic_partition_list_t *l = rd_kafka_group_result_partitions(gs[0]);
    lines = calloc(l != NULL && l->cnt > 0 ? (size_t)l->cnt : 1, sizeof(*lines));
    for (int i = 0; lines != NULL && l != NULL && i < l->cnt; i++) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%s %" PRId32 " %" PRId64, l->elems[i].topic,
                 l->elems[i].partition, l->elems[i].offset);
        lines[n++] = strdup(buf);
    }
    qsort(lines, (size_t)n, sizeof(*lines), cmp_line);
    for (int i = 0; i < n; i++)
        printf("%s\n", lines[i]);
    rc = lines != NULL ? 0 : 1;
out_ev:
    rd_kafka_event_destroy(ev);
out:
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_queue_destroy(q);
    return rc;
}

static int cmd_produce(struct adm *a, int argc, char **argv)
{
    if (argc != 3)
        return usage();
    size_t cap = 1 << 16, n = 0;
    char *value = malloc(cap);
    for (size_t got; value != NULL && (got = fread(value + n, 1, cap - n, stdin)) > 0;) {
        n += got;
        if (n == cap) {
            char *v = realloc(value, cap * 2);
            if (v == NULL) {
                free(value);
                value = NULL;
                break;
            }
            value = v;
            cap *= 2;
        }
    }
    if (value == NULL) {
        fprintf(stderr, "kotel-kafka-admin: produce: out of memory\n");
        return 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        a->rk, RD_KAFKA_V_TOPIC(argv[0]), RD_KAFKA_V_PARTITION((int32_t)atoi(argv[1])),
        RD_KAFKA_V_TIMESTAMP(strtoll(argv[2], NULL, 10)), RD_KAFKA_V_VALUE(value, n),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    free(value);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        e = rd_kafka_flush(a->rk, a->timeout_ms);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && rd_kafka_outq_len(a->rk) > 0)
        e = RD_KAFKA_RESP_ERR__TIMED_OUT;
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fprintf(stderr, "kotel-kafka-admin: produce %s: %s\n", argv[0], rd_kafka_err2str(e));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *bootstrap = NULL;
    const char *props[ADM_MAX_PROPS];
    int n_props = 0;
    struct adm a = {.timeout_ms = 30000};
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "-b") == 0 && i + 1 < argc)
            bootstrap = argv[++i];
        else if (strcmp(argv[i], "-X") == 0 && i + 1 < argc && n_props < ADM_MAX_PROPS)
            props[n_props++] = argv[++i];
        else if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            a.timeout_ms = atoi(argv[++i]);
        else
            return usage();
    }
    if (bootstrap == NULL || i >= argc)
        return usage();

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK)
        goto conf_err;
    /* Quiet: a broker that is still starting logs connection refusals we expect. */
    if (rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        goto conf_err;
    for (int p = 0; p < n_props; p++) {
        char name[256];
        const char *eq = strchr(props[p], '=');
        if (eq == NULL || (size_t)(eq - props[p]) >= sizeof(name)) {
            fprintf(stderr, "kotel-kafka-admin: -X %s: want prop=value\n", props[p]);
            rd_kafka_conf_destroy(conf);
            return 2;
        }
        memcpy(name, props[p], (size_t)(eq - props[p]));
        name[eq - props[p]] = '\0';
        if (rd_kafka_conf_set(conf, name, eq + 1, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
            goto conf_err;
    }
    a.tmpl = rd_kafka_conf_dup(conf);
    a.rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (a.rk == NULL) {
        rd_kafka_conf_destroy(a.tmpl);
        goto conf_err;
    }

    const char *cmd = argv[i++];
    int rest = argc - i;
    char **args = argv + i;
    int rc;
    if (strcmp(cmd, "has-broker") == 0)
        rc = cmd_has_broker(&a, rest, args);
    else if (strcmp(cmd, "create") == 0)
        rc = cmd_create(&a, rest, args);
    else if (strcmp(cmd, "delete") == 0)
        rc = cmd_delete(&a, rest, args);
    else if (strcmp(cmd, "describe") == 0)
        rc = cmd_describe(&a, rest, args, -1);
    else if (strcmp(cmd, "group") == 0)
        rc = cmd_group(&a, rest, args);
    else if (strcmp(cmd, "offsets") == 0)
        rc = cmd_offsets(&a, rest, args);
    else if (strcmp(cmd, "produce") == 0)
        rc = cmd_produce(&a, rest, args);
    else if (strcmp(cmd, "leader") == 0)
        rc = rest == 2 ? cmd_describe(&a, 1, args, atoi(args[1])) : usage();
    else
        rc = usage();
    rd_kafka_destroy(a.rk);
    rd_kafka_conf_destroy(a.tmpl);
    return rc;

conf_err:
    fprintf(stderr, "kotel-kafka-admin: %s\n", errstr);
    rd_kafka_conf_destroy(conf);
    return 2;
}
