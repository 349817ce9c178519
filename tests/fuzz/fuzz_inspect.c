/*
 * libFuzzer driver for the detectors other than SQL and URLs: path
 * traversal, CRLF, NoSQL operators, command, template and LDAP
 * injection, XSS and XML external entities, each on the raw input under
 * every origin and on the input after bounded decoding.
 *
 * No detector may read outside the value (ASan), and a verdict's window
 * must lie inside it and name its detector and rule.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef bool (*detect_fn)(const struct inspect_value *v,
                          struct inspect_verdict *out);

static const detect_fn detectors[] = {
    inspect_traversal_match, inspect_crlf_match, inspect_nosql_match,
    inspect_cmdi_match,      inspect_template_match, inspect_ldap_match,
    inspect_xss_match,       inspect_xxe_match,
};

static void
check(bool cond)
{
    if (!cond)
        abort();
}

static void
run_all(struct slice text, enum inspect_origin origin)
{
    struct inspect_value v = {text, origin, SLICE_NULL, 0};

    for (size_t i = 0; i < sizeof(detectors) / sizeof(detectors[0]); i++) {
        struct inspect_verdict vd;

        if (!detectors[i](&v, &vd))
            continue;
        check(vd.offset <= text.len && vd.length <= text.len - vd.offset);
        check(vd.length <= INSPECT_WINDOW_MAX);
        check(vd.detector != NULL && vd.rule != NULL && vd.reason != NULL);
        check(vd.score >= 1 && vd.score <= 100);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice in = {(const char *)data, size};
    unsigned flags = 0;
    size_t len = 0;
    char *buf;

    /* The decoded copy lives in a block of the input's size, so that
       ASan sees a read past its end, as it does for libFuzzer's input. */
    buf = malloc(size > 0 ? size : 1);
    if (buf == NULL)
        return 0;
    for (int o = INSPECT_PATH_SEGMENT; o <= INSPECT_XML_BODY; o++)
        run_all(in, (enum inspect_origin)o);
    check(inspect_decode(in, INSPECT_DECODE_PERCENT | INSPECT_DECODE_HTML,
                         INSPECT_DECODE_ROUNDS, buf, size, &len,
                         &flags) == AW_OK);
    check(len <= size);
    run_all((struct slice){buf, len}, INSPECT_QUERY_PARAM);
    free(buf);
    return 0;
}
