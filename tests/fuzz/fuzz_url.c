/*
 * libFuzzer driver for the URL parser, the host classifier and the SSRF
 * detector.
 *
 * Every slice of a parsed URL must lie inside the parser's buffer and
 * in order; classification must succeed and give a known class; an IPv6
 * literal that inet_pton accepts must be accepted with the same bytes,
 * and one that it refuses must be refused (the input is then restricted
 * to the characters of a plain literal); a verdict's window stays
 * inside the value.
 */
#include <arpa/inet.h>
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
check_inside(struct slice s, const char *buf, size_t len)
{
    check(s.len == 0 || (s.ptr >= buf && s.ptr + s.len <= buf + len));
}

/* Compare with inet_pton for inputs made only of IPv6 literal bytes. */
static void
check_ipv6(const uint8_t *data, size_t size)
{
    struct inspect_ssrf_opts o;
    struct inspect_host h;
    char plain[64], text[64], buf[64];
    unsigned char want[16];
    bool ok;

    if (size == 0 || size > 45)
        return;
    memcpy(plain, data, size);
    plain[size] = '\0';
    if (strspn(plain, "0123456789abcdefABCDEF:.") < size)
        return;
    ok = inet_pton(AF_INET6, plain, want) == 1;
    text[0] = '[';
    memcpy(text + 1, plain, size);
    text[size + 1] = ']';
    inspect_ssrf_opts_default(&o);
    check(inspect_host_classify((struct slice){text, size + 2}, true, &o,
                                buf, sizeof(buf), &h) == AW_OK);
    check(ok == (h.cls != INSPECT_HOST_INVALID));
    if (ok)
        check(memcmp(h.addr, want, 16) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct slice in = {(const char *)data, size};
    struct inspect_value v = {in, INSPECT_QUERY_PARAM, SLICE_NULL, 0};
    struct inspect_ssrf_opts o;
    struct inspect_verdict vd;
    struct inspect_url u;
    struct inspect_host h;
    char *buf = malloc(size + 1), *hbuf = malloc(size + 1);

    if (buf == NULL || hbuf == NULL)
        goto done;
    inspect_ssrf_opts_default(&o);
    if (inspect_url_parse(in, buf, size, &u) == AW_OK) {
        check_inside(u.scheme, buf, size);
        check_inside(u.userinfo, buf, size);
        check_inside(u.host, buf, size);
        check_inside(u.port, buf, size);
        check_inside(u.path, buf, size);
        check(u.port_num <= 65535);
        check(inspect_host_classify(u.host, u.ipv6_literal, &o, hbuf, size,
                                    &h) == AW_OK);
        check(h.cls <= INSPECT_HOST_INVALID);
    }
    if (inspect_ssrf_match(&v, &o, &vd)) {
        check(vd.offset <= size && vd.length <= size - vd.offset);
        check(vd.length <= INSPECT_WINDOW_MAX && vd.rule != NULL);
    }
    check_ipv6(data, size);
done:
    free(buf);
    free(hbuf);
    return 0;
}
