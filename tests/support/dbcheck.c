/*
 * The pattern databases' check, shared by test_inspect_db and
 * fuzz_inspect_db (see dbcheck.h).
 */
#include <string.h>

#include <hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "dbcheck.h"
#include "inspect/internal.h"

#define ALL INSPECT_ALL
#define PATTERNS_MAX 64
#define PCRE_MATCH_LIMIT 100000

static struct inspect_db *db;
static struct inspect_scratch *scratch;
static pcre2_code *pcre[PATTERNS_MAX]; /* NULL for patterns checked in C */
static pcre2_match_data *match;
static pcre2_match_context *limits;

int
dbcheck_setup(char *err, size_t errlen)
{
    const struct inspect_pattern *p;
    size_t n;
    PCRE2_SIZE at;
    int code;

    p = inspect_db_patterns(&n);
    if (n > PATTERNS_MAX) {
        snprintf(err, errlen, "%zu patterns, room for %d", n, PATTERNS_MAX);
        return AW_ERROR;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i].flags & INSPECT_PATTERN_IN_C)
            continue;
        pcre[i] = pcre2_compile((PCRE2_SPTR)p[i].expr, PCRE2_ZERO_TERMINATED,
                                (p[i].flags & HS_FLAG_CASELESS)
                                    ? PCRE2_CASELESS
                                    : 0,
                                &code, &at, NULL);
        if (pcre[i] == NULL) {
            snprintf(err, errlen, "pcre2_compile refused pattern %zu at %zu",
                     i, (size_t)at);
            return AW_ERROR;
        }
    }
    match = pcre2_match_data_create(4, NULL);
    limits = pcre2_match_context_create(NULL);
    if (match == NULL || limits == NULL) {
        snprintf(err, errlen, "no memory for PCRE2");
        return AW_ERROR;
    }
    /* Past the limit (the SQL head backtracks on long runs of '-'),
       PCRE2 has no answer and the comparison is skipped. */
    pcre2_set_match_limit(limits, PCRE_MATCH_LIMIT);
    if (inspect_db_compile(ALL, &db, err, errlen) != AW_OK)
        return AW_ERROR;
    if (inspect_scratch_reserve(&scratch, db) != AW_OK) {
        snprintf(err, errlen, "no memory for the scratch");
        return AW_ERROR;
    }
    return AW_OK;
}

void
dbcheck_teardown(void)
{
    for (size_t i = 0; i < PATTERNS_MAX; i++) {
        pcre2_code_free(pcre[i]);
        pcre[i] = NULL;
    }
    pcre2_match_data_free(match);
    pcre2_match_context_free(limits);
    inspect_scratch_free(scratch);
    inspect_db_free(db);
    match = NULL;
    limits = NULL;
    scratch = NULL;
    db = NULL;
}

/*
 * True when pattern i matches text by PCRE2's reading: anywhere, or,
 * with a confirmation, at a match end where the confirmation holds
 * (the confirmed patterns are single bytes, so trying each start finds
 * every end).
 */
static bool
pcre_finds(const struct inspect_pattern *p, size_t i, struct slice text)
{
    const char *subject = text.len > 0 ? text.ptr : "";

    for (size_t from = 0; from <= text.len; from++) {
        PCRE2_SIZE *ov;

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

void
dbcheck_value(struct slice text, bool library, dbcheck_fn on_miss, void *ctx)
{
    static const char *const one_scheme[] = {"gopher"};
    const struct inspect_detector_fn *det;
    const struct inspect_pattern *p;
    struct inspect_ssrf_opts opts[2];
    unsigned cand = inspect_db_candidates(db, scratch, text, ALL);
    size_t ndet, n;

    inspect_ssrf_opts_default(&opts[0]);
    inspect_ssrf_opts_default(&opts[1]);
    opts[1].schemes = one_scheme;
    opts[1].nschemes = 1;
    opts[1].max_len = 12;
    p = inspect_db_patterns(&n);
    for (size_t i = 0; library && i < n; i++) {
        struct dbcheck_miss m = {NULL, p[i].detector, 0, i};

        if (pcre[i] != NULL && !(cand & p[i].detector) &&
            pcre_finds(p, i, text))
            on_miss(ctx, text, &m);
    }
    det = inspect_detectors(&ndet);
    for (int o = INSPECT_PATH_SEGMENT; o <= INSPECT_XML_BODY; o++) {
        struct inspect_value v = {text, (enum inspect_origin)o, SLICE_NULL,
                                  0};
        struct inspect_verdict vd;
        struct dbcheck_miss m = {&vd, 0, v.origin, 0};

        for (size_t d = 0; d < ndet; d++) {
            if (!(cand & det[d].bit) && det[d].match(&v, &vd)) {
                m.bit = det[d].bit;
                on_miss(ctx, text, &m);
            }
        }
        for (size_t k = 0; k < 2; k++) {
            if (!(cand & INSPECT_SSRF) &&
                inspect_ssrf_match(&v, &opts[k], &vd)) {
                m.bit = INSPECT_SSRF;
                on_miss(ctx, text, &m);
            }
        }
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

void
dbcheck_print_patterns(FILE *f, const char *indent,
                       const struct dbcheck_miss *m)
{
    const struct inspect_pattern *p;
    size_t n;

    p = inspect_db_patterns(&n);
    if (m->vd == NULL) {
        fprintf(f, "%sVectorscan missed pattern %zu: %s\n", indent,
                m->pattern, p[m->pattern].expr);
        return;
    }
    for (size_t i = 0; i < n; i++)
        if (p[i].detector == m->bit && lists_rule(p[i].rules, m->vd->rule))
            fprintf(f, "%spattern %zu should match: %s%s%s\n", indent, i,
                    p[i].expr, p[i].then != NULL ? ", then " : "",
                    p[i].then != NULL ? p[i].then : "");
}
