/* Unit tests for kt_cli: the command line, --print-config and --help, on the schema of
 * config_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config_fixture.h"
#include "kt_cli.h"
#include "../test_capture.h"

/* ---- helpers ---- */

struct cli_result {
    int rc;
    char *out;
    char *err;
};

/* Runs kt_cli_run with stdout and stderr captured. */
static struct cli_result run_cli(struct tconf *c, int argc, const char **argv)
{
    struct test_capture cap;
    test_capture_start(&cap);
    struct cli_result r;
    r.rc = kt_cli_run(&schema, c, argc, (char **)argv);
    test_capture_stop(&cap);
    r.out = cap.out;
    r.err = cap.err;
    return r;
}

static void cli_result_free(struct cli_result *r)
{
    free(r->out);
    free(r->err);
}

/* ---- printing ---- */

static char *print_to_string(const struct tconf *c)
{
    char path[64];
    write_tmp(path, "");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    kt_cli_print_config(&schema, c, f);
    fclose(f);
    char *text = test_read_file(path);
    unlink(path);
    return text;
}

static void test_print_then_reload_round_trips(void **state)
{
    (void)state;
    struct tconf a = {0}, b = {0};
    load_text_ok(&a, "[main]\n"
                     "name = \"  lead; $HOME $${x} $$$$ \"\n"
                     "count = 18446744073709551615\n"
                     "ratio = 0.1\n"
                     "enabled = no\n"
                     "timeout = 90500ms\n"
                     "max_bytes = 1000000\n"
                     "color = blue\n"
                     "hosts = h1:1, h2:2, h3:3\n"
                     "[exporter.retry]\n"
                     "backoff = 2h\n"
                     "[kafka]\n"
                     "client_id = \"\"quoted\"\"\n"
                     "rdkafka.linger.ms = 5\n"
                     "rdkafka.debug = broker,topic\n");
    assert_string_equal(a.name, "  lead; $HOME ${x} $$ ");
    char *text = print_to_string(&a);
    char path[64];
    write_tmp(path, text);
    struct kt_err err = {0, ""};
    int rc = kt_config_load(&schema, &b, path, NULL, 0, &err);
    unlink(path);
    if (rc != 0)
        fail_msg("reload failed: %s\n%s", err.msg, text);
    assert_string_equal(b.name, a.name);
    assert_true(b.count == a.count);
    assert_true(b.ratio == a.ratio);
    assert_int_equal(b.enabled, a.enabled);
    assert_int_equal(b.timeout_ms, a.timeout_ms);
    assert_int_equal(b.max_bytes, a.max_bytes);
    assert_int_equal(b.color, a.color);
    assert_int_equal(b.hosts.n, a.hosts.n);
    for (size_t i = 0; i < a.hosts.n; i++)
        assert_string_equal(b.hosts.v[i], a.hosts.v[i]);
    assert_null(b.password);
    assert_string_equal(b.token, a.token);
    assert_int_equal(b.max_attempts, a.max_attempts);
    assert_int_equal(b.backoff_ms, a.backoff_ms);
    assert_string_equal(b.client_id, "\"quoted\"");
    assert_int_equal(b.props.n, a.props.n);
    for (size_t i = 0; i < a.props.n; i++)
        assert_string_equal(b.props.v[i], a.props.v[i]);
    /* Human units, and an unset string as a comment rather than an empty value. */
    assert_non_null(strstr(text, "timeout = 90500ms\n"));
    assert_non_null(strstr(text, "backoff = 2h\n"));
    assert_non_null(strstr(text, "max_bytes = 1MB\n"));
    assert_non_null(strstr(text, "# password = (not set)\n"));
    assert_non_null(strstr(text, "[exporter.retry]\n"));
    free(text);
    kt_config_free(&schema, &a);
    kt_config_free(&schema, &b);
}

static void test_print_masks_secrets(void **state)
{
    (void)state;
    struct tconf c = {0};
    load_text_ok(&c, "[auth]\npassword = hunter2\n"
                     "[kafka]\nrdkafka.sasl.password = s3cret\nrdkafka.linger.ms = 5\n");
    char *text = print_to_string(&c);
    assert_non_null(strstr(text, "password = ****\n"));
    assert_non_null(strstr(text, "rdkafka.sasl.password = ****\n"));
    assert_non_null(strstr(text, "rdkafka.linger.ms = 5\n"));
    assert_null(strstr(text, "hunter2"));
    assert_null(strstr(text, "s3cret"));
    free(text);
    kt_config_free(&schema, &c);
}

/* A value set through --set or ${VAR} may be longer than a file's line may be: printing it
 * would give a file that does not load. Found by fuzz_config. */
static void test_print_comments_out_a_value_longer_than_a_line(void **state)
{
    (void)state;
    char set[300];
    int n = snprintf(set, sizeof(set), "main.name=");
    memset(set + n, 'x', 200);
    set[n + 200] = '\0';
    struct tconf a = {0};
    struct kt_err err = {0, ""};
    const char *sets[] = {set, "main.hosts=a,b"};
    assert_int_equal(load(&a, NULL, sets, 2, &err), 0);
    char *text = print_to_string(&a);
    assert_non_null(
        strstr(text, "# name: not shown: longer than the 198 characters a line may hold\n"));
    assert_non_null(strstr(text, "hosts = a\nhosts = b\n"));

    char path[64];
    write_tmp(path, text);
    struct tconf b = {0};
    int rc = load(&b, path, NULL, 0, &err);
    unlink(path);
    if (rc != 0)
        fail_msg("reload failed: %s", err.msg);
    assert_string_equal(b.name, "kotel");
    free(text);
    kt_config_free(&schema, &a);
    kt_config_free(&schema, &b);
}

/* ---- the example file and the man page ---- */

/* A schema whose docs use every form of the doc text: a first line, a continuation, an
 * indented line, an empty line, and roff's special characters. */
static const struct kt_option doc_options[] = {
    {"main", "name", KT_OPT_STRING, "kotel", OFF(name), NULL, 0,
     "First line.\n"
     "Second line continues it with words enough to wrap past the ninety-four column limit of "
     "the comments of an example file.\n"
     "  kafka   indented,   spaces kept\n"
     "\n"
     "A new paragraph."},
    {"main", "count", KT_OPT_UINT, "1", OFF(count), "1..", 0,
     "Count.\n"
     ".starts with a dot and holds a \\ backslash"},
    {"kafka", "rdkafka", KT_OPT_PREFIX, NULL, OFF(props), NULL, 0, "Passthrough.\n rdkafka.a = 1"},
};

static const struct kt_section_doc doc_sections[] = {{"main", "Section prose."}};

static const struct kt_config_schema doc_schema = {
    .program = "kotel-doc",
    .version = "1.2.3",
    .summary = "a documented test program",
    .description = "It documents.",
    .opts = doc_options,
    .n_opts = sizeof(doc_options) / sizeof(doc_options[0]),
    .sections = doc_sections,
    .n_sections = 1,
    .signals = "SIGHUP does nothing.",
    .see_also = "kotel-test(1)",
};

static char *print_with(void (*print)(const struct kt_config_schema *, FILE *),
                        const struct kt_config_schema *s)
{
    char path[64];
    write_tmp(path, "");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    print(s, f);
    fclose(f);
    char *text = test_read_file(path);
    unlink(path);
    return text;
}

static void test_print_example_loads_back_to_the_defaults(void **state)
{
    (void)state;
    char *text = print_with(kt_cli_print_example, &schema);
    char path[64];
    write_tmp(path, text);
    struct tconf a = {0}, b = {0};
    struct kt_err err = {0, ""};
    int rc = load(&a, path, NULL, 0, &err);
    unlink(path);
    if (rc != 0)
        fail_msg("the example does not load: %s\n%s", err.msg, text);
    assert_int_equal(load(&b, NULL, NULL, 0, &err), 0);
    char *from_example = print_to_string(&a);
    char *defaults = print_to_string(&b);
    assert_string_equal(from_example, defaults);
    /* Every key, with its type, and the handler's sections described. */
    assert_non_null(strstr(text, "\n[main]\n# A name.\nname = kotel\n"));
    assert_non_null(strstr(text, "# A count.\n# (integer, at least 1)\ncount = 8192\n"));
    assert_non_null(strstr(text, "# (string, required)\n# token = (no default)\n"));
    assert_non_null(strstr(text, "# (string, secret)\n# password = (no default)\n"));
    assert_non_null(strstr(text, "# A list.\n# (list)\nhosts = localhost:9092\n"));
    assert_non_null(strstr(text, "# Passthrough.\n# (passthrough)\n"));
    assert_non_null(strstr(text, "\n# Policies, one section each.\n"));
    assert_non_null(strstr(text, "# kotel-test configuration: every option"));
    free(from_example);
    free(defaults);
    free(text);
    kt_config_free(&schema, &a);
    kt_config_free(&schema, &b);
}

static void test_print_example_wraps_paragraphs_and_keeps_indented_lines(void **state)
{
    (void)state;
    char *text = print_with(kt_cli_print_example, &doc_schema);
    for (const char *line = text; *line;) {
        size_t n = strcspn(line, "\n");
        if (n > 94)
            fail_msg("a line of %zu characters: %.*s", n, (int)n, line);
        line += n + (line[n] == '\n');
    }
    assert_non_null(strstr(text, "# It documents.\n"));
    assert_non_null(
        strstr(text, "\n# Section prose.\n[main]\n# First line. Second line continues"));
    assert_non_null(strstr(text, "#  kafka   indented,   spaces kept\n#\n# A new paragraph.\n"
                                 "name = kotel\n"));
    assert_non_null(strstr(text, "# Count. .starts with a dot and holds a \\ backslash\n"));
    assert_non_null(strstr(text, "# Passthrough.\n# rdkafka.a = 1\n# (passthrough)\n"));
    free(text);

    /* --help shows the first line only. */
    struct tconf c = {0};
    struct test_capture cap;
    test_capture_start(&cap);
    const char *argv[] = {"kotel-doc", "--help", NULL};
    int rc = kt_cli_run(&doc_schema, &c, 2, (char **)argv);
    test_capture_stop(&cap);
    assert_int_equal(rc, KT_CLI_EXIT0);
    assert_non_null(strstr(cap.out, "  name = kotel  (string)\n      First line.\n"));
    assert_null(strstr(cap.out, "Second line"));
    free(cap.out);
    free(cap.err);
}

static void test_print_man_has_every_section_and_escapes_roff(void **state)
{
    (void)state;
    char *text = print_with(kt_cli_print_man, &doc_schema);
    assert_non_null(strstr(text, ".TH KOTEL-DOC 1 \"\" \"kotel 1.2.3\""));
    assert_non_null(strstr(text, ".SH NAME\nkotel-doc \\- a documented test program\n"));
    static const char *const heads[] = {".SH SYNOPSIS\n",
                                        ".SH DESCRIPTION\nIt documents.\n",
                                        ".SH OPTIONS\n",
                                        ".SH CONFIGURATION\n",
                                        ".SH SIGNALS\nSIGHUP does nothing.\n",
                                        ".SH FILES\n",
                                        ".SH SEE ALSO\nkotel-test(1)\n"};
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
        if (strstr(text, heads[i]) == NULL)
            fail_msg("no %s in:\n%s", heads[i], text);
    assert_non_null(strstr(text, ".SS [main]\nSection prose.\n.TP\n\\fBname\\fR = kotel\n"
                                 "(string)\n.br\nFirst line.\nSecond line"));
    assert_non_null(strstr(text, ".nf\n kafka   indented,   spaces kept\n.fi\n.IP\n"
                                 "A new paragraph.\n"));
    /* A leading dot would be a request, a backslash an escape. */
    assert_non_null(strstr(text, "\\&.starts with a dot and holds a \\e backslash\n"));
    assert_non_null(strstr(text, "\\fB\\-\\-print\\-example\\-config\\fR\n"));
    free(text);
}

static void test_cli_print_example_and_man_read_no_configuration(void **state)
{
    (void)state;
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "-c", "/nonexistent/kotel.ini", "--print-example-config",
                          NULL};
    struct cli_result r = run_cli(&c, 4, argv);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_non_null(strstr(r.out, "\n[auth]\n"));
    assert_string_equal(r.err, "");
    cli_result_free(&r);
    const char *argv_man[] = {"kotel-test", "--print-man", NULL};
    r = run_cli(&c, 2, argv_man);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_non_null(strstr(r.out, ".SH CONFIGURATION\n"));
    assert_string_equal(r.err, "");
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

/* ---- the command line ---- */

static void test_cli_check_prints_ok_and_exits_0(void **state)
{
    (void)state;
    char path[64], want[128];
    write_tmp(path, "[auth]\ntoken = t\n");
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "-c", path, "--check", NULL};
    struct cli_result r = run_cli(&c, 4, argv);
    unlink(path);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    snprintf(want, sizeof(want), "%s: configuration OK\n", path);
    assert_string_equal(r.out, want);
    assert_string_equal(r.err, "");
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

static void test_cli_check_reports_errors_on_stderr_and_exits_2(void **state)
{
    (void)state;
    char path[64], want[256];
    write_tmp(path, "[auth]\ntoken = t\n[main]\ncuont = 1\n");
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "--config", path, "--check", NULL};
    struct cli_result r = run_cli(&c, 4, argv);
    unlink(path);
    assert_int_equal(r.rc, KT_CLI_EXIT2);
    snprintf(want, sizeof(want),
             "kotel-test: %s:4: [main] cuont: unknown key (did you mean count?)\n", path);
    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

static void test_cli_print_config_masks_secrets_and_exits_0(void **state)
{
    (void)state;
    struct tconf c = {0};
    const char *argv[] = {"kotel-test",     "--set", "auth.token=t", "--set=auth.password=pw",
                          "--print-config", NULL};
    struct cli_result r = run_cli(&c, 5, argv);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_non_null(strstr(r.out, "[auth]\npassword = ****\ntoken = t\n"));
    assert_null(strstr(r.out, "pw\n"));
    assert_string_equal(r.err, "");
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

static void test_cli_help_lists_every_option(void **state)
{
    (void)state;
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "--help", NULL};
    struct cli_result r = run_cli(&c, 2, argv);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_non_null(strstr(r.out, "Usage: kotel-test [-c FILE]"));
    for (size_t i = 0; i < schema.n_opts; i++)
        assert_non_null(strstr(r.out, test_options[i].doc));
    assert_non_null(strstr(r.out, "[exporter.retry]\n  max_attempts = 5  (integer)\n"));
    assert_non_null(strstr(r.out, "  count = 8192  (integer, at least 1)\n"));
    assert_non_null(strstr(r.out, "  timeout = 200ms  (duration, 1ms to 1h)\n"));
    assert_non_null(strstr(r.out, "  color = red  (one of red|green|blue)\n"));
    assert_non_null(strstr(r.out, "  token  (string, required; no default)\n"));
    assert_non_null(strstr(r.out, "  rdkafka.<name> = value  (passthrough)\n"));
    cli_result_free(&r);

    const char *argv_h[] = {"kotel-test", "-h", NULL};
    r = run_cli(&c, 2, argv_h);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    cli_result_free(&r);
}

static void test_cli_version_prints_program_and_version(void **state)
{
    (void)state;
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "-V", NULL};
    struct cli_result r = run_cli(&c, 2, argv);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_string_equal(r.out, "kotel-test 9.9.9\n");
    cli_result_free(&r);
    const char *argv_long[] = {"kotel-test", "--version", NULL};
    r = run_cli(&c, 2, argv_long);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_string_equal(r.out, "kotel-test 9.9.9\n");
    cli_result_free(&r);
}

static void test_cli_bad_flags_are_usage_errors(void **state)
{
    (void)state;
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "--bogus", NULL};
    struct cli_result r = run_cli(&c, 2, argv);
    assert_int_equal(r.rc, KT_CLI_EXIT2);
    assert_non_null(strstr(r.err, "kotel-test: unknown option '--bogus'\n"));
    assert_non_null(strstr(r.err, "Usage: kotel-test"));
    assert_string_equal(r.out, "");
    cli_result_free(&r);

    const char *argv_c[] = {"kotel-test", "-c", NULL};
    r = run_cli(&c, 2, argv_c);
    assert_int_equal(r.rc, KT_CLI_EXIT2);
    assert_non_null(strstr(r.err, "kotel-test: a FILE must follow '-c'\n"));
    cli_result_free(&r);

    const char *argv_pos[] = {"kotel-test", "stray", NULL};
    r = run_cli(&c, 2, argv_pos);
    assert_int_equal(r.rc, KT_CLI_EXIT2);
    assert_non_null(strstr(r.err, "kotel-test: unexpected argument 'stray'\n"));
    cli_result_free(&r);

    const char *argv_set[] = {"kotel-test", "--set", "auth.token=t", "--set", "main.cout=1", NULL};
    r = run_cli(&c, 5, argv_set);
    assert_int_equal(r.rc, KT_CLI_EXIT2);
    assert_string_equal(r.err, "kotel-test: --set main.cout: unknown key (did you mean count?)\n");
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

static void test_cli_loads_config_and_returns_run(void **state)
{
    (void)state;
    char path[64];
    write_tmp(path, "[auth]\ntoken = t\n[main]\ncount = 1\nname = file\n");
    struct tconf c = {0};
    char carg[80];
    snprintf(carg, sizeof(carg), "--config=%s", path);
    const char *argv[] = {"kotel-test", carg, "--set", "main.count=3", "--set=main.name=z", NULL};
    struct cli_result r = run_cli(&c, 5, argv);
    unlink(path);
    assert_int_equal(r.rc, KT_CLI_RUN);
    assert_int_equal(c.count, 3);
    assert_string_equal(c.name, "z");
    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "");
    cli_result_free(&r);
    kt_config_free(&schema, &c);

    /* Without -c: defaults plus overrides. */
    const char *argv_def[] = {"kotel-test", "--set", "auth.token=t", NULL};
    r = run_cli(&c, 3, argv_def);
    assert_int_equal(r.rc, KT_CLI_RUN);
    assert_int_equal(c.count, 8192);
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

/* ---- a program's own options ---- */

static const struct kt_cli_opt extra_opts[] = {
    {"--dump", "TOPIC", "print TOPIC"},
    {"--all", NULL, "everything"},
};
static const struct kt_cli_extra extra = {"--dump TOPIC [--all]", extra_opts, 2};

/* Runs kt_cli_run_extra with stdout and stderr captured; given gets 2 entries. */
static struct cli_result run_extra(struct tconf *c, int argc, const char *const *argv,
                                   const char **given)
{
    struct test_capture cap;
    test_capture_start(&cap);
    struct cli_result r;
    given[0] = given[1] = NULL;
    const struct kt_cli_extra *tables[] = {&extra};
    const char **const given_all[] = {given};
    r.rc = kt_cli_run_extra(&schema, tables, 1, given_all, c, argc, (char **)argv);
    test_capture_stop(&cap);
    r.out = cap.out;
    r.err = cap.err;
    return r;
}

static void test_cli_extra_options_are_handed_back_with_the_config_loaded(void **state)
{
    (void)state;
    struct tconf c = {0};
    const char *given[2];
    const char *argv[] = {"kotel-test", "--dump", "t1", "--set", "auth.token=t", "--all", NULL};
    struct cli_result r = run_extra(&c, 6, argv, given);
    assert_int_equal(r.rc, KT_CLI_RUN);
    assert_string_equal(given[0], "t1");
    assert_string_equal(given[1], "");
    assert_string_equal(c.token, "t");
    cli_result_free(&r);
    kt_config_free(&schema, &c);

    const char *argv_eq[] = {"kotel-test", "--set", "auth.token=t", "--dump=t2", NULL};
    r = run_extra(&c, 4, argv_eq, given);
    assert_int_equal(r.rc, KT_CLI_RUN);
    assert_string_equal(given[0], "t2");
    assert_null(given[1]);
    cli_result_free(&r);
    kt_config_free(&schema, &c);
}

static void test_cli_extra_option_misuse_is_a_usage_error(void **state)
{
    (void)state;
    static const struct {
        int argc;
        const char *argv[4];
        const char *msg;
    } cases[] = {
        {4, {"kotel-test", "--dump", "a", "--dump=b"}, "given twice: '--dump'"},
        {2, {"kotel-test", "--dump"}, "a value must follow '--dump'"},
        {2, {"kotel-test", "--all=yes"}, "takes no value: '--all=yes'"},
        {2, {"kotel-test", "--dumpster"}, "unknown option '--dumpster'"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tconf c = {0};
        const char *given[2];
        struct cli_result r = run_extra(&c, cases[i].argc, cases[i].argv, given);
        assert_int_equal(r.rc, KT_CLI_EXIT2);
        if (strstr(r.err, cases[i].msg) == NULL)
            fail_msg("want '%s' in: %s", cases[i].msg, r.err);
        assert_non_null(strstr(r.err, "kotel-test [-c FILE] [--set section.key=value]... "
                                      "--dump TOPIC [--all]\n"));
        cli_result_free(&r);
        kt_config_free(&schema, &c);
    }
}

static void test_cli_extra_options_are_in_help_and_man(void **state)
{
    (void)state;
    struct tconf c = {0};
    const char *given[2];
    const char *argv[] = {"kotel-test", "--help", NULL};
    struct cli_result r = run_extra(&c, 2, argv, given);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_non_null(strstr(r.out, "\n      --dump TOPIC             print TOPIC\n"
                                  "      --all                    everything\n"));
    cli_result_free(&r);

    const char *argv_man[] = {"kotel-test", "--print-man", NULL};
    r = run_extra(&c, 2, argv_man, given);
    assert_int_equal(r.rc, KT_CLI_EXIT0);
    assert_non_null(strstr(r.out, ".TP\n\\fB\\-\\-dump\\fR \\fITOPIC\\fR\nprint TOPIC\n"));
    assert_non_null(strstr(r.out, ".TP\n\\fB\\-\\-all\\fR\neverything\n"));
    assert_non_null(strstr(r.out, ".br\n.B kotel-test\n\\-\\-dump TOPIC [\\-\\-all]\n"));
    cli_result_free(&r);
}

static void test_cli_extra_tables_each_get_their_options_and_usage_line(void **state)
{
    (void)state;
    static const struct kt_cli_opt more_opts[] = {{"--again", "N", "repeat N times"}};
    static const struct kt_cli_extra more = {"--again N", more_opts, 1};
    const struct kt_cli_extra *tables[] = {&extra, &more};
    const char *given[2] = {NULL, NULL}, *given_more[1] = {NULL};
    const char **const given_all[] = {given, given_more};
    struct tconf c = {0};
    const char *argv[] = {"kotel-test", "--set", "auth.token=t", "--again", "3", "--all", NULL};
    struct test_capture cap;
    test_capture_start(&cap);
    int rc = kt_cli_run_extra(&schema, tables, 2, given_all, &c, 6, (char **)argv);
    test_capture_stop(&cap);
    assert_int_equal(rc, KT_CLI_RUN);
    assert_null(given[0]);
    assert_string_equal(given[1], "");
    assert_string_equal(given_more[0], "3");
    test_capture_free(&cap);
    kt_config_free(&schema, &c);

    const char *argv_help[] = {"kotel-test", "--help", NULL};
    test_capture_start(&cap);
    rc = kt_cli_run_extra(&schema, tables, 2, given_all, &c, 2, (char **)argv_help);
    test_capture_stop(&cap);
    assert_int_equal(rc, KT_CLI_EXIT0);
    assert_non_null(strstr(cap.out, "... --dump TOPIC [--all]\n"
                                    "       kotel-test [-c FILE] [--set section.key=value]... "
                                    "--again N\n"));
    assert_non_null(strstr(cap.out, "      --all                    everything\n"
                                    "      --again N                repeat N times\n"));
    test_capture_free(&cap);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_then_reload_round_trips),
        cmocka_unit_test(test_print_masks_secrets),
        cmocka_unit_test(test_print_comments_out_a_value_longer_than_a_line),
        cmocka_unit_test(test_print_example_loads_back_to_the_defaults),
        cmocka_unit_test(test_print_example_wraps_paragraphs_and_keeps_indented_lines),
        cmocka_unit_test(test_print_man_has_every_section_and_escapes_roff),
        cmocka_unit_test(test_cli_print_example_and_man_read_no_configuration),
        cmocka_unit_test(test_cli_check_prints_ok_and_exits_0),
        cmocka_unit_test(test_cli_check_reports_errors_on_stderr_and_exits_2),
        cmocka_unit_test(test_cli_print_config_masks_secrets_and_exits_0),
        cmocka_unit_test(test_cli_help_lists_every_option),
        cmocka_unit_test(test_cli_version_prints_program_and_version),
        cmocka_unit_test(test_cli_bad_flags_are_usage_errors),
        cmocka_unit_test(test_cli_loads_config_and_returns_run),
        cmocka_unit_test(test_cli_extra_options_are_handed_back_with_the_config_loaded),
        cmocka_unit_test(test_cli_extra_option_misuse_is_a_usage_error),
        cmocka_unit_test(test_cli_extra_options_are_in_help_and_man),
        cmocka_unit_test(test_cli_extra_tables_each_get_their_options_and_usage_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
