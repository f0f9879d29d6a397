/* group_desc: see group_desc.h. */
#include "group_desc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kt_endian.h"
#include "kt_log.h"

struct group_desc {
    struct ev_loop *loop;
    rd_kafka_t *rk; /* borrowed */
    char *group;
    int timeout_ms;
    group_desc_fn fn;
    void *ctx;

    ev_async wake;
    pthread_t thread;
    bool started;
    bool busy; /* loop only: asked, and the answer not handed to fn yet */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;                              /* under mu */
    bool asked;                             /* under mu: the thread is to fetch one */
    bool done;                              /* under mu: rc and list hold an answer */
    rd_kafka_resp_err_t rc;                 /* under mu */
    const struct rd_kafka_group_list *list; /* under mu; owned */
};

/* ---- the consumer protocol's assignment ---- */

struct rd {
    const uint8_t *p;
    size_t n;
};

static bool rd_i16(struct rd *r, int16_t *v)
{
    if (r->n < 2)
        return false;
    *v = (int16_t)(uint16_t)((unsigned)r->p[0] << 8 | r->p[1]);
    r->p += 2;
    r->n -= 2;
    return true;
}

static bool rd_i32(struct rd *r, int32_t *v)
{
    if (r->n < 4)
        return false;
    *v = (int32_t)kt_get_be32(r->p);
    r->p += 4;
    r->n -= 4;
    return true;
}

int group_desc_parse_assignment(const uint8_t *p, size_t n, rd_kafka_topic_partition_list_t **out,
                                struct kt_err *err)
{
    struct rd r = {p, n};
    int16_t version;
    int32_t topics;
    int rc = 0;
    rd_kafka_topic_partition_list_t *l = NULL;
    char *name = NULL;
    if (!rd_i16(&r, &version) || !rd_i32(&r, &topics)) {
        rc = kt_err_set(err, KT_EPROTO, "assignment: %zu bytes, too short for its header", n);
        goto out;
    }
    if (version < 0 || topics < 0) {
        rc = kt_err_set(err, KT_EPROTO, "assignment: version %d, %" PRId32 " topics", version,
                        topics);
        goto out;
    }
    /* Each topic takes at least 6 bytes: no count larger than the input allows is believed. */
    if ((size_t)topics > r.n / 6) {
        rc = kt_err_set(err, KT_EPROTO, "assignment: %" PRId32 " topics in %zu bytes", topics, r.n);
        goto out;
    }
    l = rd_kafka_topic_partition_list_new(topics > 0 ? topics : 1);
    if (l == NULL) {
        rc = kt_err_set(err, KT_ENOMEM, "assignment: out of memory");
        goto out;
    }
    for (int32_t t = 0; t < topics; t++) {
        int16_t len;
        int32_t parts;
        if (!rd_i16(&r, &len) || len < 0 || (size_t)len > r.n) {
            rc = kt_err_set(err, KT_EPROTO, "assignment: topic %" PRId32 ": bad name length", t);
            goto out;
        }
        name = malloc((size_t)len + 1);
        if (name == NULL) {
            rc = kt_err_set(err, KT_ENOMEM, "assignment: out of memory");
            goto out;
        }
        memcpy(name, r.p, (size_t)len);
        name[len] = '\0';
        r.p += len;
        r.n -= (size_t)len;
        if (!rd_i32(&r, &parts) || parts < 0 || (size_t)parts > r.n / 4) {
            rc = kt_err_set(err, KT_EPROTO, "assignment: topic \"%.64s\": bad partition count",
                            name);
            goto out;
        }
        for (int32_t i = 0; i < parts; i++) {
            int32_t part = 0;
            rd_i32(&r, &part); /* the count was checked against the bytes left */
            rd_kafka_topic_partition_list_add(l, name, part);
        }
        free(name);
        name = NULL;
    }
    /* The user data that follows (the sticky assignor's generation) is not needed here. */
    *out = l;
    l = NULL;
out:
    free(name);
    if (l != NULL)
        rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

/* ---- the thread ---- */

static void *desc_main(void *arg)
{
    struct group_desc *gd = arg;
    pthread_mutex_lock(&gd->mu);
    while (!gd->stop) {
        if (!gd->asked) {
            pthread_cond_wait(&gd->cv, &gd->mu);
            continue;
        }
        gd->asked = false;
        pthread_mutex_unlock(&gd->mu);
        const struct rd_kafka_group_list *list = NULL;
        rd_kafka_resp_err_t rc = rd_kafka_list_groups(gd->rk, gd->group, &list, gd->timeout_ms);
        pthread_mutex_lock(&gd->mu);
        gd->rc = rc;
        gd->list = list;
        gd->done = true;
        if (!gd->stop)
            ev_async_send(gd->loop, &gd->wake);
    }
    pthread_mutex_unlock(&gd->mu);
    return NULL;
}

/* ---- on the loop ---- */

static const struct rd_kafka_group_info *find_group(const struct group_desc *gd,
                                                    const struct rd_kafka_group_list *list)
{
    for (int i = 0; list != NULL && i < list->group_cnt; i++)
        if (list->groups[i].group != NULL && strcmp(list->groups[i].group, gd->group) == 0)
            return &list->groups[i];
    return NULL;
}

/* Hands one answer to fn; takes list. */
static void deliver(struct group_desc *gd, rd_kafka_resp_err_t rc,
                    const struct rd_kafka_group_list *list)
{
    struct group_desc_result res = {0};
    struct group_member *members = NULL;
    rd_kafka_topic_partition_list_t **lists = NULL;
    const struct rd_kafka_group_info *gi = NULL;
    /* __PARTIAL: a broker did not answer in time, but the coordinator may have. */
    if (rc == RD_KAFKA_RESP_ERR_NO_ERROR || rc == RD_KAFKA_RESP_ERR__PARTIAL)
        gi = find_group(gd, list);
    if (gi == NULL) {
        res.error = rc != RD_KAFKA_RESP_ERR_NO_ERROR
                        ? rd_kafka_err2str(rc)
                        : "no broker lists the group (it has no members at the moment)";
        goto call;
    }
    if (gi->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        res.error = rd_kafka_err2str(gi->err);
        goto call;
    }
    res.state = gi->state != NULL ? gi->state : "";
    size_t n = gi->member_cnt > 0 ? (size_t)gi->member_cnt : 0;
    members = calloc(n + 1, sizeof(*members));
    lists = calloc(n + 1, sizeof(*lists));
    if (members == NULL || lists == NULL) {
        res.state = NULL;
        res.error = "out of memory";
        goto call;
    }
    for (size_t i = 0; i < n; i++) {
        const struct rd_kafka_group_member_info *mi = &gi->members[i];
        struct kt_err perr;
        members[i].id = mi->member_id != NULL ? mi->member_id : "";
        if (mi->member_assignment != NULL && mi->member_assignment_size > 0 &&
            group_desc_parse_assignment(mi->member_assignment, (size_t)mi->member_assignment_size,
                                        &lists[i], &perr) != 0)
            kt_debug("kafka: group \"%s\": member %s: %s", gd->group, members[i].id, perr.msg);
        members[i].assigned = lists[i];
    }
    res.n_members = n;
    res.members = members;
call:
    gd->fn(gd->ctx, &res);
    for (size_t i = 0; lists != NULL && i < res.n_members; i++)
        if (lists[i] != NULL)
            rd_kafka_topic_partition_list_destroy(lists[i]);
    free(lists);
    free(members);
    if (list != NULL)
        rd_kafka_group_list_destroy(list);
}

static void wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    (void)loop;
    (void)revents;
    struct group_desc *gd = a->data;
    pthread_mutex_lock(&gd->mu);
    bool done = gd->done;
    rd_kafka_resp_err_t rc = gd->rc;
    const struct rd_kafka_group_list *list = gd->list;
    gd->done = false;
    gd->list = NULL;
    pthread_mutex_unlock(&gd->mu);
    if (!done)
        return;
    gd->busy = false;
    deliver(gd, rc, list);
}

/* ---- lifetime ---- */

int group_desc_new(struct group_desc **out, struct ev_loop *loop, rd_kafka_t *rk, const char *group,
                   int timeout_ms, group_desc_fn fn, void *ctx, struct kt_err *err)
{
    struct group_desc *gd = calloc(1, sizeof(*gd));
    if (gd == NULL || (gd->group = strdup(group)) == NULL) {
        free(gd);
        return kt_err_set(err, KT_ENOMEM, "group description: out of memory");
    }
    gd->loop = loop;
    gd->rk = rk;
    gd->timeout_ms = timeout_ms;
    gd->fn = fn;
    gd->ctx = ctx;
    pthread_mutex_init(&gd->mu, NULL);
    pthread_cond_init(&gd->cv, NULL);
    ev_async_init(&gd->wake, wake_cb);
    gd->wake.data = gd;
    *out = gd;
    return 0;
}

bool group_desc_ask(struct group_desc *gd)
{
    if (gd->busy)
        return false;
    if (!gd->started) {
        int e = pthread_create(&gd->thread, NULL, desc_main, gd);
        if (e != 0) {
            kt_error("kafka: cannot start describing consumer group \"%s\": %s", gd->group,
                     strerror(e));
            return false;
        }
        gd->started = true;
        ev_async_start(gd->loop, &gd->wake);
        /* An async watcher alone must not keep the loop running at shutdown. */
        ev_unref(gd->loop);
    }
    gd->busy = true;
    pthread_mutex_lock(&gd->mu);
    gd->asked = true;
    pthread_cond_signal(&gd->cv);
    pthread_mutex_unlock(&gd->mu);
    return true;
}

void group_desc_free(struct group_desc *gd)
{
    if (gd == NULL)
        return;
    if (gd->started) {
        pthread_mutex_lock(&gd->mu);
        gd->stop = true;
        pthread_cond_signal(&gd->cv);
        pthread_mutex_unlock(&gd->mu);
        pthread_join(gd->thread, NULL);
        ev_ref(gd->loop);
        ev_async_stop(gd->loop, &gd->wake);
    }
    if (gd->list != NULL)
        rd_kafka_group_list_destroy(gd->list);
    pthread_mutex_destroy(&gd->mu);
    pthread_cond_destroy(&gd->cv);
    free(gd->group);
    free(gd);
}
