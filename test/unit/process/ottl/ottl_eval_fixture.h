/* The OTTL evaluator's unit tests share this: a transform context `tc` (with its arena) that
 * each test file's setup fills, and helpers that compile and run a condition or statement
 * against it, failing the test on an outcome other than the one asked for. Include it once,
 * after cmocka.h. */
#ifndef TEST_OTTL_EVAL_FIXTURE_H
#define TEST_OTTL_EVAL_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../../../../process/ottl/ottl.h"
#include "kt_arena.h"
#include "kt_err.h"

static struct kt_arena arena;
static struct ottl_tctx tc;

/* The cmocka teardown of every file: frees what its setup and tests built. */
static inline int teardown(void **state)
{
    (void)state;
    kt_arena_free(&arena);
    return 0;
}

/* Evaluates src, failing the test on a parse or evaluation error. */
static inline bool cond(const char *src)
{
    struct ottl_condition *c;
    struct kt_err err = {0};
    if (ottl_condition_parse(src, &c, &err) != 0)
        fail_msg("parse '%s': %s", src, err.msg);
    bool m = false;
    int rc = ottl_condition_eval(c, &tc, &m, &err);
    ottl_condition_free(c);
    if (rc != 0)
        fail_msg("eval '%s': %s", src, err.msg);
    return m;
}

/* Evaluates src expecting an evaluation error; returns its message. */
static inline const char *cond_err(const char *src)
{
    static struct kt_err err;
    struct ottl_condition *c;
    memset(&err, 0, sizeof(err));
    if (ottl_condition_parse(src, &c, &err) != 0)
        fail_msg("parse '%s': %s", src, err.msg);
    bool m = true;
    int rc = ottl_condition_eval(c, &tc, &m, &err);
    ottl_condition_free(c);
    assert_int_equal(rc, KT_EINVAL);
    assert_false(m);
    return err.msg;
}

/* Runs src (which must parse); returns what executing it returned. */
static inline int stmt_rc(const char *src, struct kt_err *err)
{
    struct ottl_statement *s;
    if (ottl_statement_parse(src, &s, err) != 0)
        fail_msg("parse '%s': %s", src, err->msg);
    int rc = ottl_statement_exec(s, &tc, err);
    ottl_statement_free(s);
    return rc;
}

/* Runs src, failing the test on a parse or execution error. */
static inline void stmt(const char *src)
{
    struct kt_err err = {0};
    if (stmt_rc(src, &err) != 0)
        fail_msg("exec '%s': %s", src, err.msg);
}

/* Runs src expecting an evaluation error (KT_EINVAL after a good parse); returns its message. */
static inline const char *stmt_err(const char *src)
{
    static struct kt_err err;
    memset(&err, 0, sizeof(err));
    assert_int_equal(stmt_rc(src, &err), KT_EINVAL);
    return err.msg;
}

/* Parses src expecting a configuration error; returns its message. */
static inline const char *parse_err(const char *src)
{
    static struct kt_err err;
    struct ottl_statement *s = NULL;
    memset(&err, 0, sizeof(err));
    if (ottl_statement_parse(src, &s, &err) == 0) {
        ottl_statement_free(s);
        fail_msg("'%s' parsed", src);
    }
    assert_int_equal(err.code, KT_EINVAL);
    return err.msg;
}

/* ---- building data in the fixture's arena ---- */

/* An AnyValue with no value set. */
static inline Opentelemetry__Proto__Common__V1__AnyValue *any(void)
{
    Opentelemetry__Proto__Common__V1__AnyValue *v = kt_arena_alloc(&arena, sizeof(*v));
    Opentelemetry__Proto__Common__V1__AnyValue init =
        OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
    *v = init;
    return v;
}

static inline Opentelemetry__Proto__Common__V1__AnyValue *any_str(const char *s)
{
    Opentelemetry__Proto__Common__V1__AnyValue *v = any();
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
    v->string_value = kt_arena_strndup(&arena, s, strlen(s));
    return v;
}

static inline Opentelemetry__Proto__Common__V1__AnyValue *any_int(int64_t i)
{
    Opentelemetry__Proto__Common__V1__AnyValue *v = any();
    v->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
    v->int_value = i;
    return v;
}

/* Appends key = v (taken) to the list *arr of *n entries, copying the pointer array. */
static inline void kv_add(Opentelemetry__Proto__Common__V1__KeyValue ***arr, size_t *n,
                          const char *key, Opentelemetry__Proto__Common__V1__AnyValue *v)
{
    Opentelemetry__Proto__Common__V1__KeyValue **na =
        kt_arena_alloc(&arena, (*n + 1) * sizeof(*na));
    if (*n)
        memcpy(na, *arr, *n * sizeof(*na));
    Opentelemetry__Proto__Common__V1__KeyValue *kv = kt_arena_alloc(&arena, sizeof(*kv));
    Opentelemetry__Proto__Common__V1__KeyValue init =
        OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
    *kv = init;
    kv->key = kt_arena_strndup(&arena, key, strlen(key));
    kv->value = v;
    na[*n] = kv;
    *arr = na;
    (*n)++;
}

/* The first entry of kv[0..n) named key; NULL when there is none. */
static inline const Opentelemetry__Proto__Common__V1__KeyValue *
kv_find(Opentelemetry__Proto__Common__V1__KeyValue **kv, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(kv[i]->key, key) == 0)
            return kv[i];
    return NULL;
}

#endif
