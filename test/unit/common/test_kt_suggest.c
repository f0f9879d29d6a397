/* kt_suggest: the nearest name within a plausible typo, ties to the first, case folded on
 * request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "kt_suggest.h"

static const char *nearest(const char *input, bool fold, const char *const *cands)
{
    static struct kt_suggest sg;
    kt_suggest_init(&sg, fold);
    for (; *cands != NULL; cands++)
        kt_suggest_consider(&sg, input, *cands);
    return sg.text;
}

static void test_suggest_finds_typos_and_transpositions(void **state)
{
    (void)state;
    const char *const keys[] = {"kafka", "brokers", "send_batch_size", "timeout", NULL};
    assert_string_equal(nearest("kafak", false, keys), "kafka");
    assert_string_equal(nearest("brokrs", false, keys), "brokers");
    assert_string_equal(nearest("send_batch_sise", false, keys), "send_batch_size");
    /* the closer of two wins, and the first of two equally close */
    const char *const two[] = {"abcdef", "abcdxy", "abcdeg", NULL};
    assert_string_equal(nearest("abcdex", false, two), "abcdef");
}

static void test_suggest_refuses_exact_far_and_long_names(void **state)
{
    (void)state;
    const char *const keys[] = {"kafka", "ab", NULL};
    assert_string_equal(nearest("kafka", false, keys), "");
    assert_string_equal(nearest("zookeeper", false, keys), "");
    /* two edits are more than a third of "ab" */
    assert_string_equal(nearest("xy", false, keys), "");
    char longer[KT_SUGGEST_MAX_LEN + 2];
    for (size_t i = 0; i < sizeof(longer) - 1; i++)
        longer[i] = 'k';
    longer[sizeof(longer) - 1] = '\0';
    const char *const big[] = {longer, NULL};
    longer[0] = 'x';
    assert_string_equal(nearest(longer + 1, false, big), "");
}

static void test_suggest_folds_case_only_when_asked(void **state)
{
    (void)state;
    const char *const funcs[] = {"SHA256", "set", "IsMatch", NULL};
    assert_string_equal(nearest("sha256", true, funcs), "SHA256");
    assert_string_equal(nearest("sha256", false, funcs), "");
    assert_string_equal(nearest("Set", true, funcs), "set");
    assert_string_equal(nearest("ismach", true, funcs), "IsMatch");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suggest_finds_typos_and_transpositions),
        cmocka_unit_test(test_suggest_refuses_exact_far_and_long_names),
        cmocka_unit_test(test_suggest_folds_case_only_when_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
