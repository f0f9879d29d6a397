/* The OTTL evaluator's unit tests share this: a transform context `tc` (with its arena) that
 * each test file's setup fills, and helpers that compile and run a condition or statement
 * against it, failing the test on an outcome other than the one asked for. Include it once,
 * after cmocka.h. */
#ifndef TEST_OTTL_EVAL_FIXTURE_H
#define TEST_OTTL_EVAL_FIXTURE_H

#include <stdbool.h>
#include <string.h>

#include "../../../../process/ottl/ottl.h"
#include "kt_arena.h"
#include "kt_err.h"

static struct kt_arena arena;
static struct ottl_tctx tc;

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

#endif
