/*
 * libFuzzer driver for the SQL tokenizer, the fingerprint and the SQL
 * injection detector, after bounded decoding.
 *
 * In every context and with backslash escapes on and off, tokens must
 * come in order, never overlap, never be empty and stay inside the
 * input; the fingerprint must count the same tokens; decoding must not
 * lengthen the text; a verdict's window must stay inside the value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool cond)
{
    if (!cond)
        abort();
}

static void
check_tokens(struct slice in, enum inspect_sql_context ctx, bool backslash)
{
    struct inspect_sql_lexer lx;
    struct inspect_sql_token t;
    size_t last = 0, count = 0;
    char fp[16];

    inspect_sql_lexer_init(&lx, in, ctx, backslash);
    while (inspect_sql_next(&lx, &t)) {
        check(t.len > 0 && t.offset >= last);
        check(t.offset + t.len <= in.len);
        last = t.offset + t.len;
        count++;
    }
    if (backslash)
        check(inspect_sql_fingerprint(in, ctx, fp, sizeof(fp)) == count);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice in = {(const char *)data, size};
    struct inspect_value v = {SLICE_NULL, INSPECT_QUERY_PARAM, SLICE_NULL,
                              0};
    struct inspect_verdict vd;
    char *buf = malloc(size + 1);
    size_t len = 0;

    if (buf == NULL)
        return 0;
    for (int ctx = 0; ctx < 3; ctx++) {
        check_tokens(in, ctx, true);
        check_tokens(in, ctx, false);
    }
    check(inspect_decode(in, INSPECT_DECODE_PERCENT | INSPECT_DECODE_PLUS |
                                 INSPECT_DECODE_HTML,
                         INSPECT_DECODE_ROUNDS, buf, size, &len,
                         &v.flags) == AW_OK);
    check(len <= size);
    v.text = (struct slice){buf, len};
    if (inspect_sqli_match(&v, &vd)) {
        check(vd.offset <= len && vd.length <= len - vd.offset);
        check(vd.length <= INSPECT_WINDOW_MAX && vd.rule != NULL);
    }
    free(buf);
    return 0;
}
