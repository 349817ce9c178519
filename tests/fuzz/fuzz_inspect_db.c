/*
 * libFuzzer driver for the pattern databases (src/inspect/db.c): every
 * detector that matches a value must be among the candidates that
 * inspect_db_candidates names for it, since the patterns are necessary
 * conditions of the detectors' rules.
 *
 * The input is checked raw and after bounded decoding (percent and
 * HTML references), every detector under every origin, SSRF under the
 * default options and under options that refuse more (one allowed
 * scheme, a short length bound). A miss prints the detector, its rule,
 * the value escaped and the patterns that should have matched it, then
 * aborts. Each pattern is also run by PCRE2, which reads the same
 * syntax: where PCRE2 finds one (and its confirmation holds) and the
 * db does not name its detector, Vectorscan missed a match, and the
 * target aborts too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "inspect/inspect.h"
#include "inspect/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ALL ((1u << 9) - 1)

typedef bool (*detect_fn)(const struct inspect_value *v,
                          struct inspect_verdict *out);

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

static struct inspect_db *db;
static struct inspect_scratch *scratch;
static pcre2_code *pcre[64];
static pcre2_match_data *match;
static pcre2_match_context *limits;

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

static void
miss(const struct inspect_verdict *vd, unsigned bit, struct slice text,
     enum inspect_origin origin)
{
    const struct inspect_pattern *p;
    char esc[1024];
    size_t n;

    log_escape(esc, sizeof(esc),
               (struct slice){text.ptr, text.len < 400 ? text.len : 400});
    fprintf(stderr, "inspect_db missed %s (rule %s, origin %d) on a value "
            "of %zu bytes: \"%s\"\n", vd->detector, vd->rule, (int)origin,
            text.len, esc);
    p = inspect_db_patterns(&n);
    for (size_t i = 0; i < n; i++)
        if (p[i].detector == bit && lists_rule(p[i].rules, vd->rule))
            fprintf(stderr, "  pattern %zu should match: %s%s%s\n", i,
                    p[i].expr, p[i].then != NULL ? ", then " : "",
                    p[i].then != NULL ? p[i].then : "");
    abort();
}

/* True when PCRE2 finds pattern i in text where its confirmation, if
   any, holds (confirmed patterns are single bytes: each start is
   tried). */
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

static void
check_library(struct slice text, unsigned cand)
{
    const struct inspect_pattern *p;
    char esc[1024];
    size_t n;

    p = inspect_db_patterns(&n);
    for (size_t i = 0; i < n; i++) {
        if (pcre[i] == NULL || (cand & p[i].detector) ||
            !pcre_finds(p, i, text))
            continue;
        log_escape(esc, sizeof(esc),
                   (struct slice){text.ptr, text.len < 400 ? text.len : 400});
        fprintf(stderr, "Vectorscan missed pattern %zu (%s) on a value of "
                "%zu bytes: \"%s\"\n", i, p[i].expr, text.len, esc);
        abort();
    }
}

static void
check(struct slice text)
{
    static const char *const one_scheme[] = {"gopher"};
    struct inspect_ssrf_opts opts[2];
    unsigned cand = inspect_db_candidates(db, scratch, text, ALL);

    inspect_ssrf_opts_default(&opts[0]);
    inspect_ssrf_opts_default(&opts[1]);
    opts[1].schemes = one_scheme;
    opts[1].nschemes = 1;
    opts[1].max_len = 12;
    check_library(text, cand);
    for (int o = INSPECT_PATH_SEGMENT; o <= INSPECT_JSON_VALUE; o++) {
        struct inspect_value v = {text, (enum inspect_origin)o, SLICE_NULL,
                                  0};
        struct inspect_verdict vd;

        for (size_t d = 0; d < sizeof(detectors) / sizeof(detectors[0]); d++)
            if (!(cand & detectors[d].bit) && detectors[d].fn(&v, &vd))
                miss(&vd, detectors[d].bit, text, v.origin);
        for (size_t k = 0; k < 2; k++)
            if (!(cand & INSPECT_SSRF) &&
                inspect_ssrf_match(&v, &opts[k], &vd))
                miss(&vd, INSPECT_SSRF, text, v.origin);
    }
}

/* The db, its scratch, and every pattern compiled by PCRE2. */
static int
setup(char *err, size_t errlen)
{
    const struct inspect_pattern *p;
    PCRE2_SIZE at;
    size_t n;
    int code;

    snprintf(err, errlen, "setup failed");
    if (inspect_db_compile(ALL, &db, err, errlen) != AW_OK ||
        inspect_scratch_reserve(&scratch, db) != AW_OK)
        return AW_ERROR;
    p = inspect_db_patterns(&n);
    for (size_t i = 0; i < n && i < sizeof(pcre) / sizeof(pcre[0]); i++) {
        if (p[i].flags & INSPECT_PATTERN_IN_C)
            continue;
        pcre[i] = pcre2_compile((PCRE2_SPTR)p[i].expr, PCRE2_ZERO_TERMINATED,
                                (p[i].flags & HS_FLAG_CASELESS)
                                    ? PCRE2_CASELESS
                                    : 0,
                                &code, &at, NULL);
        if (pcre[i] == NULL) {
            snprintf(err, errlen, "pcre2_compile refused pattern %zu", i);
            return AW_ERROR;
        }
    }
    match = pcre2_match_data_create(4, NULL);
    limits = pcre2_match_context_create(NULL);
    if (limits == NULL)
        return AW_ERROR;
    pcre2_set_match_limit(limits, 100000);
    return match != NULL ? AW_OK : AW_ERROR;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice in = {(const char *)data, size};
    unsigned flags = 0;
    size_t len = 0;
    char err[256];
    char *buf;

    if (db == NULL && setup(err, sizeof(err)) != AW_OK) {
        fprintf(stderr, "inspect_db: %s\n", err);
        abort();
    }
    check(in);
    buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        return 0;
    if (inspect_decode(in, INSPECT_DECODE_PERCENT | INSPECT_DECODE_HTML,
                       INSPECT_DECODE_ROUNDS, buf, size, &len,
                       &flags) == AW_OK)
        check((struct slice){buf, len});
    free(buf);
    return 0;
}
