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

#include "inspect/inspect.h"
#include "support/dbcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Print the miss and the patterns that should have matched; abort. */
static void
miss(void *ctx, struct slice text, const struct dbcheck_miss *m)
{
    char esc[1024];

    (void)ctx;
    log_escape(esc, sizeof(esc),
               (struct slice){text.ptr, text.len < 400 ? text.len : 400});
    if (m->vd != NULL)
        fprintf(stderr, "inspect_db missed %s (rule %s, origin %d) on a "
                "value of %zu bytes: \"%s\"\n", m->vd->detector,
                m->vd->rule, (int)m->origin, text.len, esc);
    else
        fprintf(stderr, "on a value of %zu bytes: \"%s\"\n", text.len, esc);
    dbcheck_print_patterns(stderr, "  ", m);
    abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    struct slice in = {(const char *)data, size};
    unsigned flags = 0;
    size_t len = 0;
    char err[256];
    char *buf;

    if (!ready) {
        if (dbcheck_setup(err, sizeof(err)) != AW_OK) {
            fprintf(stderr, "inspect_db: %s\n", err);
            abort();
        }
        ready = true;
    }
    dbcheck_value(in, true, miss, NULL);
    buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        return 0;
    if (inspect_decode(in, INSPECT_DECODE_PERCENT | INSPECT_DECODE_HTML,
                       INSPECT_DECODE_ROUNDS, buf, size, &len,
                       &flags) == AW_OK)
        dbcheck_value((struct slice){buf, len}, true, miss, NULL);
    free(buf);
    return 0;
}
