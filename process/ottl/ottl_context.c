/* OTTL contexts: their names and which signal has which. Both the parser (context
 * inference) and the evaluator (messages) use them, so they live apart from either. */
#include <string.h>

#include "ottl.h"

static const char *const ctx_names[] = {"resource", "scope",     "span", "spanevent",
                                        "metric",   "datapoint", "log"};

/* The contexts of each signal, as ottl_context_check's message lists them. */
static const char *const signal_contexts[KT_SIGNAL_COUNT] = {
    "resource, scope, span and spanevent", "resource, scope, metric and datapoint",
    "resource, scope and log"};

const char *ottl_context_name(enum ottl_context c)
{
    unsigned i = (unsigned)c;
    return i < sizeof(ctx_names) / sizeof(ctx_names[0]) ? ctx_names[i] : "?";
}

static bool context_valid(enum ottl_context c, enum kt_signal sig)
{
    switch (c) {
    case OTTL_CTX_RESOURCE:
    case OTTL_CTX_SCOPE: return true;
    case OTTL_CTX_SPAN:
    case OTTL_CTX_SPANEVENT: return sig == KT_SIGNAL_TRACES;
    case OTTL_CTX_METRIC:
    case OTTL_CTX_DATAPOINT: return sig == KT_SIGNAL_METRICS;
    case OTTL_CTX_LOG: return sig == KT_SIGNAL_LOGS;
    }
    return false;
}

int ottl_context_check(enum ottl_context c, enum kt_signal sig, const char *section,
                       const char *key, const char *src, struct kt_err *err)
{
    if (context_valid(c, sig))
        return 0;
    return kt_err_set(err, KT_EINVAL, "[%s] %s: '%s' uses %s paths; %s may use %s paths", section,
                      key, src, ottl_context_name(c), key, signal_contexts[sig]);
}

int ottl_context_parse(const char *name, enum ottl_context *out)
{
    for (size_t i = 0; i < sizeof(ctx_names) / sizeof(ctx_names[0]); i++) {
        if (strcmp(name, ctx_names[i]) == 0) {
            *out = (enum ottl_context)i;
            return 0;
        }
    }
    return KT_EINVAL;
}

bool ottl_context_within(enum ottl_context c, enum ottl_context at)
{
    if (c == at || c == OTTL_CTX_RESOURCE || (c == OTTL_CTX_SCOPE && at != OTTL_CTX_RESOURCE))
        return true;
    return (c == OTTL_CTX_SPAN && at == OTTL_CTX_SPANEVENT) ||
           (c == OTTL_CTX_METRIC && at == OTTL_CTX_DATAPOINT);
}
