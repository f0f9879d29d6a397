/* cfgi_yaml: a Collector YAML file loaded into a small tree that keeps each node's line, so
 * kotel-config import can name the line of every setting it does not carry over. */
#ifndef CFGI_YAML_H
#define CFGI_YAML_H

#include <stddef.h>

#include "kt_err.h"

enum cfgi_kind { CFGI_SCALAR, CFGI_MAP, CFGI_SEQ };

struct cfgi_node {
    enum cfgi_kind kind;
    char *key;   /* owned; the mapping key naming this node, NULL in a sequence or at the root */
    char *value; /* owned; the text of a scalar, NULL otherwise */
    int line;    /* 1-based line of the node (of its key, in a mapping) */
    struct cfgi_node *child; /* first child of a map or sequence */
    struct cfgi_node *next;  /* next sibling */
};

/* Parses len bytes of YAML into *out (the caller frees it with cfgi_node_free). Anchors,
 * aliases and multi-document streams are refused: the Collector uses neither. */
int cfgi_yaml_load(const char *data, size_t len, struct cfgi_node **out, struct kt_err *err);
void cfgi_node_free(struct cfgi_node *n);
/* The child of map n under key, or NULL; borrows. */
const struct cfgi_node *cfgi_node_get(const struct cfgi_node *n, const char *key);

#endif
