/* policy_conf: [tail_sampling.policy.NAME] sections built in code, for the tests of the
 * sampling policies and the tail sampler. */
#ifndef TEST_UNIT_PROCESS_POLICY_CONF_H
#define TEST_UNIT_PROCESS_POLICY_CONF_H

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../../process/conf.h"

/* A typed sentinel: a bare NULL may be a plain 0 in varargs. */
#define END ((const char *)NULL)

/* Appends [tail_sampling.policy.NAME] with the key, value pairs, ended by END. */
static void add_policy(struct process_conf *c, const char *name, ...)
{
    struct process_policy_conf *v =
        realloc(c->tail_sampling.policies, (c->tail_sampling.n_policies + 1) * sizeof(*v));
    assert_non_null(v);
    c->tail_sampling.policies = v;
    struct process_policy_conf *p = &v[c->tail_sampling.n_policies++];
    memset(p, 0, sizeof(*p));
    p->name = strdup(name);
    va_list ap;
    va_start(ap, name);
    for (;;) {
        const char *k = va_arg(ap, const char *);
        if (k == NULL)
            break;
        const char *val = va_arg(ap, const char *);
        assert_int_equal(kt_strlist_push(&p->keys, k), 0);
        assert_int_equal(kt_strlist_push(&p->values, val), 0);
    }
    va_end(ap);
}

#endif
