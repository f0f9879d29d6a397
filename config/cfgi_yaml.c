#include "cfgi_yaml.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Deeper nesting than this is no Collector configuration; the bound keeps the recursion small
 * for outside bytes. */
#define CFGI_MAX_DEPTH 64

void cfgi_node_free(struct cfgi_node *n)
{
    while (n) {
        struct cfgi_node *next = n->next;
        cfgi_node_free(n->child);
        free(n->key);
        free(n->value);
        free(n);
        n = next;
    }
}

const struct cfgi_node *cfgi_node_get(const struct cfgi_node *n, const char *key)
{
    if (!n || n->kind != CFGI_MAP)
        return NULL;
    for (const struct cfgi_node *c = n->child; c; c = c->next)
        if (c->key && strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

static int next_event(yaml_parser_t *p, yaml_event_t *ev, struct kt_err *err)
{
    if (!yaml_parser_parse(p, ev))
        return kt_err_set(err, KT_EINVAL, "line %zu: not YAML: %s", p->problem_mark.line + 1,
                          p->problem ? p->problem : "parse error");
    return 0;
}

/* Builds the node that starts with ev (taken: deleted here), recursing into collections. */
static int build(yaml_parser_t *p, yaml_event_t *ev, int depth, struct cfgi_node **out,
                 struct kt_err *err)
{
    int rc = 0;
    struct cfgi_node *n = calloc(1, sizeof(*n));
    struct cfgi_node **tail;

    if (!n) {
        yaml_event_delete(ev);
        return kt_err_set(err, KT_ENOMEM, "out of memory reading the YAML");
    }
    n->line = (int)ev->start_mark.line + 1;
    if (depth > CFGI_MAX_DEPTH) {
        rc = kt_err_set(err, KT_EINVAL, "line %d: nested deeper than %d levels", n->line,
                        CFGI_MAX_DEPTH);
        goto out;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n->kind = CFGI_SCALAR;
        n->value = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (!n->value)
            rc = kt_err_set(err, KT_ENOMEM, "out of memory reading the YAML");
        goto out;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: break;
    case YAML_ALIAS_EVENT:
        rc = kt_err_set(err, KT_EUNSUPP, "line %d: YAML aliases are not supported", n->line);
        goto out;
    default: rc = kt_err_set(err, KT_EINVAL, "line %d: unexpected YAML event", n->line); goto out;
    }
    n->kind = ev->type == YAML_MAPPING_START_EVENT ? CFGI_MAP : CFGI_SEQ;
    tail = &n->child;
    for (;;) {
        yaml_event_t vev;
        char *key = NULL;
        int key_line = 0;

        yaml_event_delete(ev);
        rc = next_event(p, ev, err);
        if (rc < 0)
            goto out;
        if (ev->type == YAML_MAPPING_END_EVENT || ev->type == YAML_SEQUENCE_END_EVENT)
            break;
        if (n->kind == CFGI_MAP) {
            if (ev->type != YAML_SCALAR_EVENT) {
                rc = kt_err_set(err, KT_EUNSUPP, "line %zu: only scalar mapping keys",
                                ev->start_mark.line + 1);
                goto out;
            }
            key = strndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
            key_line = (int)ev->start_mark.line + 1;
            yaml_event_delete(ev);
            if (!key) {
                memset(ev, 0, sizeof(*ev));
                rc = kt_err_set(err, KT_ENOMEM, "out of memory reading the YAML");
                goto out;
            }
            rc = next_event(p, &vev, err);
            if (rc < 0) {
                free(key);
                memset(ev, 0, sizeof(*ev));
                goto out;
            }
        } else {
            vev = *ev;
        }
        memset(ev, 0, sizeof(*ev));
        rc = build(p, &vev, depth + 1, tail, err);
        if (rc < 0) {
            free(key);
            goto out;
        }
        if (key) {
            (*tail)->key = key;
            (*tail)->line = key_line;
        }
        tail = &(*tail)->next;
    }
out:
    yaml_event_delete(ev);
    if (rc < 0) {
        cfgi_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int cfgi_yaml_load(const char *data, size_t len, struct cfgi_node **out, struct kt_err *err)
{
    yaml_parser_t p;
    yaml_event_t ev;
    struct cfgi_node *root = NULL;
    int rc;

    *out = NULL;
    if (!yaml_parser_initialize(&p))
        return kt_err_set(err, KT_ENOMEM, "out of memory starting the YAML parser");
    yaml_parser_set_input_string(&p, (const unsigned char *)data, len);
    /* STREAM-START, then DOCUMENT-START (or STREAM-END for an empty file). */
    rc = next_event(&p, &ev, err);
    if (rc < 0)
        goto out;
    yaml_event_delete(&ev);
    rc = next_event(&p, &ev, err);
    if (rc < 0)
        goto out;
    if (ev.type != YAML_DOCUMENT_START_EVENT) {
        yaml_event_delete(&ev);
        rc = kt_err_set(err, KT_EINVAL, "empty YAML document");
        goto out;
    }
    yaml_event_delete(&ev);
    rc = next_event(&p, &ev, err);
    if (rc < 0)
        goto out;
    rc = build(&p, &ev, 0, &root, err);
    if (rc < 0)
        goto out;
    if (root->kind != CFGI_MAP) {
        rc = kt_err_set(err, KT_EINVAL, "line %d: the document is not a mapping", root->line);
        goto out;
    }
    rc = next_event(&p, &ev, err); /* DOCUMENT-END */
    if (rc < 0)
        goto out;
    yaml_event_delete(&ev);
    rc = next_event(&p, &ev, err);
    if (rc < 0)
        goto out;
    if (ev.type != YAML_STREAM_END_EVENT)
        rc = kt_err_set(err, KT_EUNSUPP, "line %zu: more than one YAML document",
                        ev.start_mark.line + 1);
    yaml_event_delete(&ev);
out:
    yaml_parser_delete(&p);
    if (rc < 0) {
        cfgi_node_free(root);
        return rc;
    }
    *out = root;
    return 0;
}
