/*
 * Unit tests of the pattern databases (src/inspect/db.c): the patterns
 * are necessary conditions, so a detector that matches a value must be
 * among the candidates the db names for it.
 *
 * The values are every line of every corpus in tests/unit/inspect_corpus
 * (attack and benign), as the detector tests read them (percent-decoded,
 * and with HTML references too) and raw; generated variants of each
 * line (prefixes, suffixes, one byte left out, case changed, pairs of
 * lines joined, junk around it); and the long repetitions of
 * test_adversarial_lengths. Each detector runs under every origin (some
 * read it), SSRF also under options that refuse more. A
 * miss names the detector, the rule, the value and the patterns that
 * should have matched it. Every pattern is also run by PCRE2 on every
 * value: a pattern PCRE2 finds whose detector the db left out is a
 * match Vectorscan missed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inspect/inspect.h"
#include "support/dbcheck.h"

#define CORPUS SRCDIR "/tests/unit/inspect_corpus/"
#define CORPUS_LINE_MAX 4096
#define ALL INSPECT_ALL
#define MISSES_SHOWN 20

/* The misses found so far, the values checked, and whether PCRE2 is
   asked too. */
static unsigned misses;
static unsigned long checked;
static bool skip_library; /* for the many one-byte variants */

/* Print a miss (the first MISSES_SHOWN): the detector, its rule, the
   value (escaped, cut) and the patterns that should have matched. */
static void
report(void *ctx, struct slice text, const struct dbcheck_miss *m)
{
    const char *what = ctx;
    char esc[512];

    misses++;
    if (misses > MISSES_SHOWN)
        return;
    log_escape(esc, sizeof(esc),
               (struct slice){text.ptr, text.len < 200 ? text.len : 200});
    if (m->vd != NULL)
        printf("  db missed %s (rule %s, origin %d) on %s value of %zu "
               "bytes: \"%s\"\n", m->vd->detector, m->vd->rule,
               (int)m->origin, what, text.len, esc);
    else
        printf("  on %s value of %zu bytes: \"%s\"\n", what, text.len, esc);
    dbcheck_print_patterns(stdout, "    ", m);
}

/* Run every detector on text under every origin; each one that matches
   must be a candidate. */
static void
check_value(struct slice text, const char *what)
{
    checked++;
    dbcheck_value(text, !skip_library, report, (void *)what);
}

/* Decode s by mode into buf and check the result. */
static void
check_decoded(struct slice s, unsigned mode, char *buf, const char *what)
{
    unsigned flags = 0;
    size_t len = 0;

    assert_int_equal(inspect_decode(s, mode, INSPECT_DECODE_ROUNDS, buf,
                                    s.len, &len, &flags),
                     AW_OK);
    check_value((struct slice){buf, len}, what);
}

/* Variants of one value: prefixes and suffixes, each byte left out,
   upper and lower case, and junk around it. */
static void
check_variants(struct slice s)
{
    static const char *const around[] = {"x", " ", "'", "1", "\"", ";",
                                         "\t", "a b"};
    char buf[CORPUS_LINE_MAX * 2 + 16];

    skip_library = true;
    for (size_t i = 0; i < s.len; i++) {
        check_value((struct slice){s.ptr, i}, "prefix");
        check_value((struct slice){s.ptr + i + 1, s.len - i - 1}, "suffix");
        memcpy(buf, s.ptr, i);
        memcpy(buf + i, s.ptr + i + 1, s.len - i - 1);
        check_value((struct slice){buf, s.len - 1}, "byte-deleted");
    }
    skip_library = false;
    for (size_t i = 0; i < s.len; i++)
        buf[i] = (char)(s.ptr[i] >= 'a' && s.ptr[i] <= 'z' ? s.ptr[i] - 32
                                                           : s.ptr[i]);
    check_value((struct slice){buf, s.len}, "upper-case");
    for (size_t i = 0; i < s.len; i++)
        buf[i] = (char)(s.ptr[i] >= 'A' && s.ptr[i] <= 'Z' ? s.ptr[i] + 32
                                                           : s.ptr[i]);
    check_value((struct slice){buf, s.len}, "lower-case");
    for (size_t k = 0; k < ARRAY_LEN(around); k++) {
        size_t a = strlen(around[k]);

        memcpy(buf, around[k], a);
        memcpy(buf + a, s.ptr, s.len);
        check_value((struct slice){buf, a + s.len}, "junk-before");
        memcpy(buf, s.ptr, s.len);
        memcpy(buf + s.len, around[k], a);
        check_value((struct slice){buf, a + s.len}, "junk-after");
    }
}

/*
 * Every line of one corpus file, raw and decoded as the detector tests
 * decode, with its variants; each line is also joined to the one before
 * it. Returns the number of lines.
 */
static unsigned
check_corpus(const char *cls, const char *kind)
{
    static char line[CORPUS_LINE_MAX], prev[CORPUS_LINE_MAX],
        pair[CORPUS_LINE_MAX * 2 + 1], buf[CORPUS_LINE_MAX * 2 + 1];
    size_t prev_len = 0;
    unsigned n = 0;
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), CORPUS "%s-%s.txt", cls, kind);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        struct slice in = {line, strcspn(line, "\n")};
        unsigned flags = 0;
        size_t len = 0;

        if (in.len == 0)
            continue;
        n++;
        check_value(in, "raw corpus");
        check_decoded(in, INSPECT_DECODE_PERCENT, buf, "corpus");
        check_decoded(in, INSPECT_DECODE_PERCENT | INSPECT_DECODE_HTML, buf,
                      "html-decoded corpus");
        assert_int_equal(inspect_decode(in, INSPECT_DECODE_PERCENT |
                                                INSPECT_DECODE_HTML,
                                        INSPECT_DECODE_ROUNDS, buf, in.len,
                                        &len, &flags),
                         AW_OK);
        check_variants((struct slice){buf, len});
        memcpy(pair, prev, prev_len);
        pair[prev_len] = ' ';
        memcpy(pair + prev_len + 1, buf, len);
        check_value((struct slice){pair, prev_len + 1 + len}, "joined");
        memcpy(prev, buf, len);
        prev_len = len;
    }
    fclose(f);
    return n;
}

static int
setup(void **state)
{
    char err[256];

    if (dbcheck_setup(err, sizeof(err)) != AW_OK) {
        printf("inspect_db: %s\n", err);
        return -1;
    }
    return 0;
}

static int
teardown(void **state)
{
    dbcheck_teardown();
    return 0;
}

static void
test_corpora(void **state)
{
    static const char *const classes[] = {
        "sqli", "ssrf", "traversal", "crlf", "nosql", "cmdi", "template",
        "ldap", "xss", "xxe",
    };
    unsigned lines = 0;

    misses = 0;
    checked = 0;
    for (size_t i = 0; i < ARRAY_LEN(classes); i++) {
        lines += check_corpus(classes[i], "attack");
        lines += check_corpus(classes[i], "benign");
    }
    printf("inspect_db: %u corpus lines, %lu values checked, %u misses\n",
           lines, checked, misses);
    assert_true(lines > 800);
    assert_int_equal(misses, 0);
}

/* The long repetitions that make careless scanners quadratic, alone
   and around an attack of each class. */
static void
test_adversarial_lengths(void **state)
{
    static const char *const units[] = {
        "[", "'", "<a ", "${", "{{", ")(", "..", "\r", "$(", "%", "&#",
        "/*", "`", " ", "<a x='", "<a =", "\"$ne", ")", "-- x\n", "1 ",
        "/**/", "\t", "\xef\xbc\x8e",
    };
    static const char *const tails[] = {
        "", "' or 1=1--", "../../etc/passwd", "\r\nSet-Cookie: a=b",
        "${jndi:ldap://x/a}", "<script>", ";cat /etc/passwd", "*)(uid=*",
        "[$ne]",
    };
    static char text[1 << 15];

    misses = 0;
    for (size_t u = 0; u < ARRAY_LEN(units); u++) {
        for (size_t t = 0; t < ARRAY_LEN(tails); t++) {
            size_t k = strlen(units[u]), tl = strlen(tails[t]), n = 0;

            while (n + k + tl < sizeof(text)) {
                memcpy(text + n, units[u], k);
                n += k;
            }
            memcpy(text + n, tails[t], tl);
            check_value((struct slice){text, n + tl}, "adversarial");
            check_value((struct slice){text + n, tl}, "tail");
        }
    }
    assert_int_equal(misses, 0);
}

/* Values the fuzz target found missed, each with the reading that
   made a pattern too narrow. */
static void
test_found_by_fuzzing(void **state)
{
    static const struct slice values[] = {
        /* The URL parser takes a NUL after a leading '/' for a second
           slash (strchr finds the terminator). */
        {"\0\0/\0\0\0c=x))", 11},
        /* The SQL tokenizer reads a NUL as a comparison: a value that
           closes the quote and compares. */
        {"'\0 1", 4},
        /* A quote after a form feed closes the string: the tokenizer's
           blanks before a closing quote are space, tab, CR and LF. */
        {"x\f\"&&a(1)", 9},
        /* Vectorscan 5.4.9 missed the NUL near this value's end. */
        {"$%0$%0a\xc0" "ceaaaaaaaaaaaa\n\n\n\n]\n\nN'\n\n\n\n\n\n\n\n\n\n"
         "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\naaa55555555555555555555555555"
         "555555555555555555555555555555\0a", 116},
    };

    misses = 0;
    for (size_t i = 0; i < ARRAY_LEN(values); i++)
        check_value(values[i], "regression");
    assert_int_equal(misses, 0);
}

/* A db of some detectors names only those, and leaves the bits of the
   others as they were asked. */
static void
test_masks(void **state)
{
    struct inspect_scratch *s = NULL;
    struct inspect_db *db, *sub;
    char err[256];
    struct slice attack = SLICE_LIT("' or 1=1-- <script>");

    assert_int_equal(inspect_db_compile(INSPECT_SQLI | INSPECT_CRLF, &sub,
                                        err, sizeof(err)),
                     AW_OK);
    assert_int_equal(inspect_scratch_reserve(&s, sub), AW_OK);
    assert_int_equal(inspect_db_candidates(sub, s, attack, ALL),
                     ALL & ~INSPECT_CRLF);
    assert_int_equal(inspect_db_candidates(sub, s, SLICE_LIT("hello"),
                                           INSPECT_SQLI | INSPECT_XSS),
                     INSPECT_XSS);
    assert_int_equal(inspect_db_candidates(sub, s, SLICE_NULL, ALL),
                     ALL & ~(INSPECT_SQLI | INSPECT_CRLF));
    assert_int_equal(inspect_db_candidates(sub, s, attack, 0), 0);

    /* One scratch grown for a second db serves both. */
    assert_int_equal(inspect_db_compile(ALL, &db, err, sizeof(err)), AW_OK);
    assert_int_equal(inspect_scratch_reserve(&s, db), AW_OK);
    assert_int_equal(inspect_db_candidates(db, s, attack, ALL),
                     INSPECT_SQLI | INSPECT_XSS);
    assert_int_equal(inspect_db_candidates(sub, s, attack, ALL),
                     ALL & ~INSPECT_CRLF);
    assert_int_equal(inspect_db_candidates(db, s, SLICE_LIT("hello"), ALL),
                     0);
    inspect_scratch_free(s);
    inspect_db_free(sub);
    inspect_db_free(db);

    /* A db of no detector holds no patterns and answers with the mask. */
    assert_int_equal(inspect_db_compile(0, &sub, err, sizeof(err)), AW_OK);
    s = NULL;
    assert_int_equal(inspect_scratch_reserve(&s, sub), AW_OK);
    assert_int_equal(inspect_db_candidates(sub, s, attack, ALL), ALL);
    inspect_scratch_free(s);
    inspect_db_free(sub);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masks),
        cmocka_unit_test(test_corpora),
        cmocka_unit_test(test_adversarial_lengths),
        cmocka_unit_test(test_found_by_fuzzing),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
