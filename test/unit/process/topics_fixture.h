/* topics_fixture: a process configuration from --set style lines and its topic selection,
 * for the tests of topics.c and of what a replay reads. */
#ifndef TEST_UNIT_PROCESS_TOPICS_FIXTURE_H
#define TEST_UNIT_PROCESS_TOPICS_FIXTURE_H

#include <string.h>

#include "../../../process/conf.h"
#include "../../../process/topics.h"
#include "kt_config.h"
#include "kt_err.h"

/* conf is loaded from sets (free it with process_conf_free); the selection is returned
 * (topics_free). A failure fails the test. */
static struct topics *topics_load(struct process_conf *conf, const char *const *sets, size_t n)
{
    memset(conf, 0, sizeof(*conf));
    struct kt_err err = {0};
    if (kt_config_load(&process_conf_schema, conf, NULL, sets, n, &err) != 0)
        fail_msg("config: %s", err.msg);
    struct topics *t = NULL;
    if (topics_new(conf, &t, &err) != 0)
        fail_msg("topics_new: %s", err.msg);
    return t;
}

#endif
