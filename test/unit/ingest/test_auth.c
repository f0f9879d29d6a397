/* auth: the tokens file's grammar and its errors (by line, never quoting a token), the
 * Authorization header's forms, names, the options that do not go together, and a reload
 * that keeps the tokens before it when the new file is bad. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <unistd.h>

#include "../../../ingest/auth.h"
#include "../../../ingest/conf.h"

struct fx {
    struct ingest_conf c;
    char path[64];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "/tmp/kt-auth-test-%d.tokens", (int)getpid());
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    unlink(f->path);
    kt_config_free(&ingest_conf_schema, &f->c);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    /* Owner-only, as a tokens file should be (else every load warns). */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

/* Loads the configuration from --set lines (the tokens file, when used, is f->path). */
static void load_conf(struct fx *f, const char *const *sets, size_t n)
{
    struct kt_err err = {0};
    kt_config_free(&ingest_conf_schema, &f->c);
    memset(&f->c, 0, sizeof(f->c));
    assert_int_equal(kt_config_load(&ingest_conf_schema, &f->c, NULL, sets, n, &err), 0);
}

static void use_file(struct fx *f, const char *text)
{
    char set[128];
    snprintf(set, sizeof(set), "receiver.auth.bearer_tokens_file=%s", f->path);
    const char *sets[] = {set};
    write_file(f->path, text);
    load_conf(f, sets, 1);
}

static enum auth_result check(struct auth *a, const char *hdr, const char **name)
{
    return auth_check(a, hdr, hdr ? strlen(hdr) : 0, name);
}

static void test_off_without_tokens(void **state)
{
    struct fx *f = *state;
    struct kt_err err = {0};
    load_conf(f, NULL, 0);
    struct auth *a = (struct auth *)1;
    assert_int_equal(auth_new(&f->c, NULL, &a, &err), 0);
    assert_null(a);
}

static void test_file_grammar_and_names(void **state)
{
    struct fx *f = *state;
    struct kt_err err = {0};
    use_file(f, "# clients\n\nteam-a:tokA.1~+/==\n  team_b@x:tokB-2  \r\nanonymous3\n");
    struct auth *a = NULL;
    assert_int_equal(auth_new(&f->c, NULL, &a, &err), 0);
    const char *name = "x";
    assert_int_equal(check(a, "Bearer tokA.1~+/==", &name), AUTH_OK);
    assert_string_equal(name, "team-a");
    assert_int_equal(check(a, "bearer    tokB-2 ", &name), AUTH_OK);
    assert_string_equal(name, "team_b@x");
    assert_int_equal(check(a, "BEARER anonymous3", &name), AUTH_OK);
    assert_null(name);
    /* The name is not part of the token, nor is a token a prefix of another. */
    assert_int_equal(check(a, "Bearer team-a:tokA.1~+/==", &name), AUTH_INVALID);
    assert_int_equal(check(a, "Bearer tokA.1~+/=", &name), AUTH_INVALID);
    assert_int_equal(check(a, "Bearer tokA.1~+/===", &name), AUTH_INVALID);
    assert_int_equal(check(a, "Bearer anonymous", &name), AUTH_INVALID);
    assert_int_equal(check(a, NULL, &name), AUTH_MISSING);
    assert_int_equal(check(a, "", &name), AUTH_BAD_SCHEME);
    assert_int_equal(check(a, "Bearer", &name), AUTH_BAD_SCHEME);
    assert_int_equal(check(a, "Bearer    ", &name), AUTH_BAD_SCHEME);
    assert_int_equal(check(a, "Basic tokB-2", &name), AUTH_BAD_SCHEME);
    assert_int_equal(check(a, "BearertokB-2", &name), AUTH_BAD_SCHEME);
    assert_int_equal(check(a, "tokB-2", &name), AUTH_BAD_SCHEME);
    assert_string_equal(auth_result_message(a, AUTH_BAD_SCHEME),
                        "authentication failed: want Authorization: Bearer <token>");
    auth_free(a);
}

static void test_scheme_option(void **state)
{
    struct fx *f = *state;
    struct kt_err err = {0};
    const char *sets[] = {"receiver.auth.bearer_token=s3cret", "receiver.auth.scheme=Token"};
    load_conf(f, sets, 2);
    struct auth *a = NULL;
    assert_int_equal(auth_new(&f->c, NULL, &a, &err), 0);
    const char *name;
    assert_int_equal(check(a, "token s3cret", &name), AUTH_OK);
    assert_null(name);
    assert_int_equal(check(a, "Bearer s3cret", &name), AUTH_BAD_SCHEME);
    auth_free(a);
}

/* Every error names the file and line and quotes no token. */
static void expect_file_error(struct fx *f, const char *text, const char *want, const char *secret)
{
    struct kt_err err = {0};
    use_file(f, text);
    struct auth *a = NULL;
    assert_int_not_equal(auth_new(&f->c, NULL, &a, &err), 0);
    assert_null(a);
    if (strstr(err.msg, want) == NULL)
        fail_msg("want '%s' in: %s", want, err.msg);
    if (secret != NULL && strstr(err.msg, secret) != NULL)
        fail_msg("the error quotes a token: %s", err.msg);
    assert_non_null(strstr(err.msg, f->path));
}

static void test_file_errors(void **state)
{
    struct fx *f = *state;
    char tmpl[512];
    expect_file_error(f, "ok1\nnot a token\n", ":2: not a bearer token", "not a token");
    expect_file_error(f, "ok1\nteam:bad=tok\n", ":2: not a bearer token", "bad=tok");
    expect_file_error(f, "bad name:tok1secret\n", ":1: the name before ':'", "tok1secret");
    expect_file_error(f, ":tok1secret\n", ":1: the name before ':'", "tok1secret");
    expect_file_error(f, "a:dupSecret\n# x\nb:dupSecret\n", ":3: the same token as an earlier line",
                      "dupSecret");
    expect_file_error(f, "# only\n\n   \n", "no tokens", NULL);
    expect_file_error(f, "", "no tokens", NULL);
    memset(tmpl, 'a', AUTH_TOKEN_MAX + 1);
    tmpl[AUTH_TOKEN_MAX + 1] = '\0';
    expect_file_error(f, tmpl, ":1: not a bearer token", tmpl);
    unlink(f->path);
    struct kt_err err = {0};
    struct auth *a = NULL;
    assert_int_not_equal(auth_new(&f->c, NULL, &a, &err), 0);
    assert_non_null(strstr(err.msg, "bearer_tokens_file: cannot read"));
}

static void test_option_conflicts(void **state)
{
    struct fx *f = *state;
    struct kt_err err = {0};
    struct auth *a = NULL;
    const char *both[] = {"receiver.auth.bearer_token=abc", "receiver.auth.bearer_tokens_file=/x"};
    load_conf(f, both, 2);
    assert_int_not_equal(auth_check_conf(&f->c, &err), 0);
    assert_non_null(strstr(err.msg, "both set"));
    assert_null(strstr(err.msg, "abc"));
    const char *tenant[] = {"receiver.auth.bearer_token=abc", "receiver.auth.tenant_header=tenant"};
    load_conf(f, tenant, 2);
    assert_int_not_equal(auth_new(&f->c, NULL, &a, &err), 0);
    assert_non_null(strstr(err.msg, "tenant_header is set without bearer_tokens_file"));
    const char *bad[] = {"receiver.auth.bearer_token=not valid!"};
    load_conf(f, bad, 1);
    assert_int_not_equal(auth_new(&f->c, NULL, &a, &err), 0);
    assert_non_null(strstr(err.msg, "[receiver.auth] bearer_token: not a bearer token"));
    assert_null(strstr(err.msg, "not valid!"));
    const char *scheme[] = {"receiver.auth.bearer_token=abc", "receiver.auth.scheme=Bear er"};
    load_conf(f, scheme, 2);
    assert_int_not_equal(auth_new(&f->c, NULL, &a, &err), 0);
    assert_non_null(strstr(err.msg, "[receiver.auth] scheme"));
    const char *hdr[] = {"receiver.auth.bearer_tokens_file=/x", "receiver.auth.tenant_header=a b"};
    load_conf(f, hdr, 2);
    assert_int_not_equal(auth_check_conf(&f->c, &err), 0);
    assert_non_null(strstr(err.msg, "[receiver.auth] tenant_header"));
}

static void test_reload_keeps_tokens_on_a_bad_file(void **state)
{
    struct fx *f = *state;
    struct kt_err err = {0};
    use_file(f, "a:first1\nb:second2\n");
    struct auth *a = NULL;
    assert_int_equal(auth_new(&f->c, NULL, &a, &err), 0);
    const char *name, *first_name;
    assert_int_equal(check(a, "Bearer first1", &first_name), AUTH_OK);
    /* Revoked: second2 is gone from the file. */
    write_file(f->path, "a:first1\nc:third3\n");
    auth_reload(a, "test");
    assert_int_equal(check(a, "Bearer second2", &name), AUTH_INVALID);
    assert_int_equal(check(a, "Bearer third3", &name), AUTH_OK);
    assert_string_equal(name, "c");
    /* A name given before a reload stays valid (requests in flight hold it). */
    assert_int_equal(check(a, "Bearer first1", &name), AUTH_OK);
    assert_ptr_equal(name, first_name);
    /* A bad file keeps what was loaded. */
    write_file(f->path, "a:first1\nbroken line\n");
    auth_reload(a, "test");
    assert_int_equal(check(a, "Bearer third3", &name), AUTH_OK);
    unlink(f->path);
    auth_reload(a, "test");
    assert_int_equal(check(a, "Bearer first1", &name), AUTH_OK);
    auth_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_off_without_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_grammar_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scheme_option, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_option_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_tokens_on_a_bad_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
