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

#include <hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "inspect/inspect.h"
#include "inspect/internal.h"

#define CORPUS SRCDIR "/tests/unit/inspect_corpus/"
#define CORPUS_LINE_MAX 4096
#define ALL ((1u << 9) - 1)
#define MISSES_SHOWN 20

typedef bool (*detect_fn)(const struct inspect_value *v,
                          struct inspect_verdict *out);

/* The detectors that take only the value. */
static const struct {
    unsigned bit;
    detect_fn fn;
} detectors[] = {
    {INSPECT_SQLI, inspect_sqli_match},
    {INSPECT_TRAVERSAL, inspect_traversal_match},
    {INSPECT_CRLF, inspect_crlf_match},
    {INSPECT_NOSQL, inspect_nosql_match},
    {INSPECT_CMDI, inspect_cmdi_match},
    {INSPECT_TEMPLATE, inspect_template_match},
    {INSPECT_LDAP, inspect_ldap_match},
    {INSPECT_XSS, inspect_xss_match},
};

/* The db under test, its scratch, and the misses found so far. */
static struct inspect_db *db;
static struct inspect_scratch *scratch;
static unsigned misses;
static unsigned long checked;
static bool skip_library; /* for the many one-byte variants */

/* Each pattern compiled by PCRE2, which reads the same syntax: where
   PCRE2 finds a pattern (and its confirmation holds), Vectorscan must
   have found it too. NULL for the patterns checked in C. */
static pcre2_code *pcre[64];
static pcre2_match_data *match;
static pcre2_match_context *limits;

/*
 * True when pattern i matches text by PCRE2's reading: anywhere, or,
 * with a confirmation, at a match end where the confirmation holds
 * (the confirmed patterns are single bytes, so trying each start
 * finds every end).
 */
static bool
pcre_finds(const struct inspect_pattern *p, size_t i, struct slice text)
{
    const char *subject = text.len > 0 ? text.ptr : "";

    for (size_t from = 0; from <= text.len; from++) {
        PCRE2_SIZE *ov;

        /* Past the match limit (the SQL head backtracks on long runs
           of '-'), PCRE2 has no answer and the check is skipped. */
        if (pcre2_match(pcre[i], (PCRE2_SPTR)subject, text.len, from, 0,
                        match, limits) < 0)
            return false;
        ov = pcre2_get_ovector_pointer(match);
        if (p[i].confirm == NULL || p[i].confirm(text, ov[1]))
            return true;
        from = ov[0];
    }
    return false;
}

/* Every pattern PCRE2 finds in text names a candidate. */
static void
check_library(struct slice text, unsigned cand, const char *what)
{
    const struct inspect_pattern *p;
    char esc[512];
    size_t n;

    p = inspect_db_patterns(&n);
    for (size_t i = 0; i < n; i++) {
        if (pcre[i] == NULL || (cand & p[i].detector) ||
            !pcre_finds(p, i, text))
            continue;
        misses++;
        if (misses > MISSES_SHOWN)
            continue;
        log_escape(esc, sizeof(esc),
                   (struct slice){text.ptr, text.len < 200 ? text.len : 200});
        printf("  Vectorscan missed pattern %zu (%s) on %s value of %zu "
               "bytes: \"%s\"\n", i, p[i].expr, what, text.len, esc);
    }
}

/* True when the space-separated list rules names rule (or is "*"). */
static bool
lists_rule(const char *rules, const char *rule)
{
    size_t n = strlen(rule);

    if (strcmp(rules, "*") == 0)
        return true;
    for (const char *p = rules; (p = strstr(p, rule)) != NULL; p += n)
        if ((p == rules || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* Print a miss: the detector, its rule, the value (escaped, cut) and
   the patterns of that rule, none of which matched. */
static void
report(const struct inspect_verdict *vd, unsigned bit, struct slice text,
       enum inspect_origin origin, const char *what)
{
    const struct inspect_pattern *p;
    char esc[512];
    size_t n;

    misses++;
    if (misses > MISSES_SHOWN)
        return;
    log_escape(esc, sizeof(esc),
               (struct slice){text.ptr, text.len < 200 ? text.len : 200});
    printf("  db missed %s (rule %s, origin %d) on %s value of %zu bytes: "
           "\"%s\"\n", vd->detector, vd->rule, (int)origin, what, text.len,
           esc);
    p = inspect_db_patterns(&n);
    for (size_t i = 0; i < n; i++)
        if (p[i].detector == bit && lists_rule(p[i].rules, vd->rule))
            printf("    pattern %zu should match: %s%s%s\n", i, p[i].expr,
                   p[i].then != NULL ? ", then " : "",
                   p[i].then != NULL ? p[i].then : "");
}

/* Run every detector on text under every origin; each one that matches
   must be a candidate. */
static void
check_value(struct slice text, const char *what)
{
    static const char *const one_scheme[] = {"gopher"};
    struct inspect_ssrf_opts opts[2];
    unsigned cand = inspect_db_candidates(db, scratch, text, ALL);

    inspect_ssrf_opts_default(&opts[0]);
    inspect_ssrf_opts_default(&opts[1]);
    opts[1].schemes = one_scheme;
    opts[1].nschemes = 1;
    opts[1].max_len = 12;
    checked++;
    if (!skip_library)
        check_library(text, cand, what);
    for (int o = INSPECT_PATH_SEGMENT; o <= INSPECT_JSON_VALUE; o++) {
        struct inspect_value v = {text, (enum inspect_origin)o, SLICE_NULL,
                                  0};
        struct inspect_verdict vd;

        for (size_t d = 0; d < ARRAY_LEN(detectors); d++)
            if (!(cand & detectors[d].bit) && detectors[d].fn(&v, &vd))
                report(&vd, detectors[d].bit, text, v.origin, what);
        for (size_t k = 0; k < ARRAY_LEN(opts); k++)
            if (!(cand & INSPECT_SSRF) &&
                inspect_ssrf_match(&v, &opts[k], &vd))
                report(&vd, INSPECT_SSRF, text, v.origin, what);
    }
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

/* Compile every pattern with PCRE2, as the library would read it. */
static int
setup_pcre(void)
{
    const struct inspect_pattern *p;
    PCRE2_SIZE at;
    size_t n;
    int code;

    p = inspect_db_patterns(&n);
    if (n > ARRAY_LEN(pcre))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (p[i].flags & INSPECT_PATTERN_IN_C)
            continue;
        pcre[i] = pcre2_compile((PCRE2_SPTR)p[i].expr, PCRE2_ZERO_TERMINATED,
                                (p[i].flags & HS_FLAG_CASELESS)
                                    ? PCRE2_CASELESS
                                    : 0,
                                &code, &at, NULL);
        if (pcre[i] == NULL) {
            printf("pcre2_compile refused pattern %zu at %zu\n", i,
                   (size_t)at);
            return -1;
        }
    }
    match = pcre2_match_data_create(4, NULL);
    limits = pcre2_match_context_create(NULL);
    if (limits == NULL)
        return -1;
    pcre2_set_match_limit(limits, 100000);
    return match != NULL ? 0 : -1;
}

static int
setup(void **state)
{
    char err[256];

    if (setup_pcre() != 0)
        return -1;

    if (inspect_db_compile(ALL, &db, err, sizeof(err)) != AW_OK) {
        printf("inspect_db_compile: %s\n", err);
        return -1;
    }
    return inspect_scratch_reserve(&scratch, db) == AW_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    for (size_t i = 0; i < ARRAY_LEN(pcre); i++)
        pcre2_code_free(pcre[i]);
    pcre2_match_data_free(match);
    pcre2_match_context_free(limits);
    inspect_scratch_free(scratch);
    inspect_db_free(db);
    return 0;
}

static void
test_corpora(void **state)
{
    static const char *const classes[] = {
        "sqli", "ssrf", "traversal", "crlf", "nosql", "cmdi", "template",
        "ldap", "xss",
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
    struct inspect_db *sub;
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
    assert_int_equal(inspect_scratch_reserve(&s, db), AW_OK);
    assert_int_equal(inspect_db_candidates(db, s, attack, ALL),
                     INSPECT_SQLI | INSPECT_XSS);
    assert_int_equal(inspect_db_candidates(sub, s, attack, ALL),
                     ALL & ~INSPECT_CRLF);
    assert_int_equal(inspect_db_candidates(db, s, SLICE_LIT("hello"), ALL),
                     0);
    inspect_scratch_free(s);
    inspect_db_free(sub);

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
