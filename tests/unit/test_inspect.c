/*
 * Unit tests of the inspection detectors (src/inspect): bounded
 * decoding, the SQL tokenizer and its rules, and the corpora.
 *
 * Each detector class has an attack corpus and a benign corpus in
 * tests/unit/inspect_corpus/<class>-attack.txt and -benign.txt, one
 * value per line, percent-escaped where a byte cannot be written plainly.
 * A line is decoded as the gateway would (inspect_decode, percent and
 * up to three rounds) and given to the detector. The test prints the
 * detection and false-positive rates of each class and requires every
 * attack to be found and no benign value to be flagged.
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

#define CORPUS SRCDIR "/tests/unit/inspect_corpus/"
#define LINE_MAX 4096

/* A detector under test, as one signature for the corpus runner. */
typedef bool (*detect_fn)(const struct inspect_value *v,
                          struct inspect_verdict *out);

static struct inspect_value
value_of(const char *s)
{
    struct inspect_value v = {{s, strlen(s)}, INSPECT_QUERY_PARAM,
                              SLICE_NULL, 0};

    return v;
}

/* Decode one corpus line into buf and run fn on it. */
static bool
detect_line(detect_fn fn, unsigned mode, const char *line, char *buf,
            size_t cap, struct inspect_verdict *vd)
{
    struct slice in = {line, strcspn(line, "\n")};
    struct inspect_value v = {SLICE_NULL, INSPECT_QUERY_PARAM, SLICE_NULL,
                              0};
    size_t len = 0;

    assert_int_equal(inspect_decode(in, mode, INSPECT_DECODE_ROUNDS, buf, cap,
                                    &len, &v.flags),
                     AW_OK);
    v.text = (struct slice){buf, len};
    if (!fn(&v, vd))
        return false;
    /* The window stays inside the value and within its bound, and is
       never the whole value. */
    assert_true(vd->offset <= len && vd->length <= len - vd->offset);
    assert_true(vd->length <= INSPECT_WINDOW_MAX);
    assert_true(len < 2 || vd->length < len);
    assert_non_null(vd->rule);
    assert_true(vd->score >= 1 && vd->score <= 100);
    return true;
}

/*
 * Run fn over one corpus file. Returns the number of values read and
 * sets *hits to how many were flagged; prints each miss (attack) or
 * false positive (benign) with the rule.
 */
static unsigned
run_corpus(detect_fn fn, unsigned mode, const char *cls, const char *kind,
           bool attack, unsigned *hits)
{
    char path[512], line[LINE_MAX], buf[LINE_MAX];
    unsigned n = 0;
    FILE *f;

    snprintf(path, sizeof(path), CORPUS "%s-%s.txt", cls, kind);
    f = fopen(path, "r");
    assert_non_null(f);
    *hits = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        struct inspect_verdict vd;
        bool hit;

        if (line[0] == '\n')
            continue;
        hit = detect_line(fn, mode, line, buf, sizeof(buf), &vd);
        n++;
        *hits += hit;
        if (hit != attack)
            printf("  %s %s: %s%s%s", cls, attack ? "missed" : "flagged",
                   hit ? vd.rule : "", hit ? " " : "", line);
    }
    fclose(f);
    return n;
}

/*
 * Both corpora of one class, decoded by mode (percent-decoding, plus
 * HTML references where the class reads HTML): prints the rates,
 * requires 100 % and 0 %.
 */
static void
check_class(detect_fn fn, const char *cls, unsigned mode)
{
    unsigned attacks, found, benign, flagged;

    attacks = run_corpus(fn, mode, cls, "attack", true, &found);
    benign = run_corpus(fn, mode, cls, "benign", false, &flagged);
    printf("inspect %-10s detection %3u/%-3u (%5.1f %%)  false positives "
           "%u/%u (%4.1f %%)\n", cls, found, attacks,
           100.0 * found / attacks, flagged, benign,
           100.0 * flagged / benign);
    assert_true(attacks >= 20 && benign >= 20);
    assert_int_equal(found, attacks);
    assert_int_equal(flagged, 0);
}

/* Decode s with mode; returns the flags and leaves the text in out. */
static unsigned
decode(const char *s, unsigned mode, char *out, size_t *len)
{
    unsigned flags = 0;

    assert_int_equal(inspect_decode((struct slice){s, strlen(s)}, mode,
                                    INSPECT_DECODE_ROUNDS, out, 256, len,
                                    &flags),
                     AW_OK);
    out[*len] = '\0';
    return flags;
}

static void
test_decode_percent(void **state)
{
    char out[256];
    size_t len;
    unsigned fl;

    fl = decode("a%20b+c", INSPECT_DECODE_PERCENT | INSPECT_DECODE_PLUS,
                out, &len);
    assert_string_equal(out, "a b c");
    assert_int_equal(fl, 0);

    /* %2527 is a quote encoded twice; %252B stays '+' (form's '+' is
       read in the first round only). */
    fl = decode("%2527%252B", INSPECT_DECODE_PERCENT | INSPECT_DECODE_PLUS,
                out, &len);
    assert_string_equal(out, "'+");
    assert_true(fl & INSPECT_DEC_MULTI);

    /* Four layers: three rounds are allowed and the value was still
       changing. */
    fl = decode("%25252541", INSPECT_DECODE_PERCENT, out, &len);
    assert_string_equal(out, "%41");
    assert_true(fl & INSPECT_DEC_ROUNDS);

    fl = decode("100%", INSPECT_DECODE_PERCENT, out, &len);
    assert_string_equal(out, "100%");
    assert_true(fl & INSPECT_DEC_BAD_PERCENT);

    fl = decode("%zz%4", INSPECT_DECODE_PERCENT, out, &len);
    assert_string_equal(out, "%zz%4");
    assert_true(fl & INSPECT_DEC_BAD_PERCENT);

    fl = decode("%u0027%u00e9", INSPECT_DECODE_PERCENT, out, &len);
    assert_string_equal(out, "'\xc3\xa9");
    assert_true(fl & INSPECT_DEC_PERCENT_U);
}

static void
test_decode_flags(void **state)
{
    char out[256];
    size_t len;
    unsigned fl;

    fl = decode("a%00b", INSPECT_DECODE_PERCENT, out, &len);
    assert_int_equal(len, 3);
    assert_true(fl & INSPECT_DEC_NUL);

    /* Overlong '/' and '.' are flagged and kept as they are. */
    fl = decode("%c0%af%e0%80%ae", INSPECT_DECODE_PERCENT, out, &len);
    assert_int_equal(len, 5);
    assert_memory_equal(out, "\xc0\xaf\xe0\x80\xae", 5);
    assert_true(fl & INSPECT_DEC_OVERLONG);
    assert_true(fl & INSPECT_DEC_BAD_UTF8);

    fl = decode("%ed%a0%80", INSPECT_DECODE_PERCENT, out, &len);
    assert_true(fl & INSPECT_DEC_BAD_UTF8);
    assert_false(fl & INSPECT_DEC_OVERLONG);

    fl = decode("caf%c3%a9 %f0%9f%98%80", INSPECT_DECODE_PERCENT, out, &len);
    assert_int_equal(fl, 0);

    fl = decode("%e2%82", INSPECT_DECODE_PERCENT, out, &len);
    assert_true(fl & INSPECT_DEC_BAD_UTF8);

    fl = decode("a%0d%0aSet-Cookie: x", INSPECT_DECODE_PERCENT, out, &len);
    assert_true(fl & INSPECT_DEC_CONTROL);
}

static void
test_decode_html(void **state)
{
    char out[256];
    size_t len;
    unsigned fl;

    fl = decode("&lt;script&gt;&#97;&#x6C;&#X65;rt&lpar;1&rpar;",
                INSPECT_DECODE_HTML, out, &len);
    assert_string_equal(out, "<script>alert(1)");
    assert_true(fl & INSPECT_DEC_ENTITY);

    /* Legacy names without ';', numeric references without ';' or with
       many leading zeros, as browsers read them. */
    decode("&lt&#0000106avascript&colon;", INSPECT_DECODE_HTML, out, &len);
    assert_string_equal(out, "<javascript:");

    /* Unknown names and '&' alone stay; &colon without ';' is not a
       legacy name. */
    decode("AT&T &bogus; &colon x&", INSPECT_DECODE_HTML, out, &len);
    assert_string_equal(out, "AT&T &bogus; &colon x&");

    /* NUL, surrogates and out-of-range values become U+FFFD. */
    decode("&#0;&#xD800;&#99999999999;", INSPECT_DECODE_HTML, out, &len);
    assert_string_equal(out, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");

    /* Percent over entity over percent: each round undoes both. */
    decode("%26lt%3Bsvg", INSPECT_DECODE_PERCENT | INSPECT_DECODE_HTML, out,
           &len);
    assert_string_equal(out, "<svg");
}

static void
test_decode_bounds(void **state)
{
    char out[8];
    size_t len;
    unsigned fl = 0;

    assert_int_equal(inspect_decode(SLICE_LIT("123456789"),
                                    INSPECT_DECODE_PERCENT, 3, out,
                                    sizeof(out), &len, &fl),
                     AW_TOOBIG);
    assert_int_equal(inspect_decode(SLICE_LIT("1"), INSPECT_DECODE_PERCENT,
                                    0, out, sizeof(out), &len, &fl),
                     AW_INVALID);
    assert_int_equal(inspect_decode(SLICE_NULL, INSPECT_DECODE_PERCENT, 3,
                                    out, sizeof(out), &len, &fl),
                     AW_OK);
    assert_int_equal(len, 0);

    /* Every entity and escape shrinks or keeps the length: the longest
       UTF-8 output per input byte fits the input's own room. */
    {
        static const char *grow[] = {"&#0", "&nbsp", "&#128", "&#x800",
                                     "&#65536", "%u0800", "&NewLine;"};
        char big[16];

        for (size_t i = 0; i < ARRAY_LEN(grow); i++) {
            size_t n = strlen(grow[i]);

            assert_int_equal(inspect_decode((struct slice){grow[i], n},
                                            INSPECT_DECODE_PERCENT |
                                                INSPECT_DECODE_HTML,
                                            3, big, n, &len, &fl),
                             AW_OK);
            assert_true(len <= n);
        }
    }
}

static void
check_fp(const char *in, enum inspect_sql_context ctx, const char *want)
{
    char fp[64];

    inspect_sql_fingerprint((struct slice){in, strlen(in)}, ctx, fp,
                            sizeof(fp));
    assert_string_equal(fp, want);
}

static void
test_sql_tokens(void **state)
{
    check_fp("1 or 1=1--", INSPECT_SQL_AS_IS, "n&n=nc");
    check_fp("x' or 'a'='a", INSPECT_SQL_SINGLE_QUOTE, "s&s=s");
    check_fp("x\" or 1=1", INSPECT_SQL_DOUBLE_QUOTE, "s&n=n");
    check_fp("no quote here", INSPECT_SQL_SINGLE_QUOTE, "s");
    check_fp("it''s' or 1", INSPECT_SQL_SINGLE_QUOTE, "s&n");
    /* Closed comments are blanks; MySQL's executable comment is code. */
    check_fp("1/**/union/**/select", INSPECT_SQL_AS_IS, "nUE");
    check_fp("/*!50000select*/ 1", INSPECT_SQL_AS_IS, "En");
    check_fp("1 /* open", INSPECT_SQL_AS_IS, "nc");
    check_fp("a # b", INSPECT_SQL_AS_IS, "bc");
    /* A line comment ended by a newline is a blank. */
    check_fp("1 union#x\nselect -- y\n2", INSPECT_SQL_AS_IS, "nUEn");
    check_fp("true false", INSPECT_SQL_AS_IS, "kk");
    /* Numbers: hex, exponent, a letter right after starts a word. */
    check_fp("0x7e 1.5e3 .5 1union", INSPECT_SQL_AS_IS, "nnnnU");
    check_fp("3rd", INSPECT_SQL_AS_IS, "nb");
    /* Quoted identifiers, prefixed strings, variables. */
    check_fp("`a b` [c d] N'x' @@version $1", INSPECT_SQL_AS_IS, "bbsvv");
    check_fp("[[[", INSPECT_SQL_AS_IS, "???");
    check_fp("count(*) sleep (5)", INSPECT_SQL_AS_IS, "f(o)f(n)");
    check_fp("a.b.c <=> != || :: x", INSPECT_SQL_AS_IS, "b==&ob");
    /* Backslash escapes hide the quote from MySQL only. */
    check_fp("a\\' or 1", INSPECT_SQL_SINGLE_QUOTE, "s");
}

static void
test_sql_lexer_tiles(void **state)
{
    static const char *inputs[] = {
        "x' union select 1,2-- -", "[a] `b` \"c", "/*! 1 */ */ /*",
        "@@a.b $9 0x 0b1 1e+ 1e+5", "'\\", "\xc3\xa9t\xc3\xa9 or 1",
    };

    for (size_t i = 0; i < ARRAY_LEN(inputs); i++) {
        for (int ctx = 0; ctx < 3; ctx++) {
            struct slice in = {inputs[i], strlen(inputs[i])};
            struct inspect_sql_lexer lx;
            struct inspect_sql_token t;
            size_t last = 0;

            inspect_sql_lexer_init(&lx, in, ctx, ctx != 2);
            while (inspect_sql_next(&lx, &t)) {
                assert_true(t.offset >= last && t.len > 0);
                assert_true(t.offset + t.len <= in.len);
                last = t.offset + t.len;
            }
        }
    }
}

static void
test_sqli_verdict(void **state)
{
    struct inspect_value v = value_of("some text then 1 union select "
                                      "password from users");
    struct inspect_verdict vd;
    char ex[64];

    assert_true(inspect_sqli_match(&v, &vd));
    assert_string_equal(vd.detector, "sqli");
    assert_string_equal(vd.reason, "inspect.sqli");
    assert_string_equal(vd.rule, "union_select");
    assert_int_equal(vd.offset, 17);
    assert_int_equal(vd.length, INSPECT_WINDOW_MAX);
    assert_string_equal(inspect_excerpt(&v, &vd, ex, sizeof(ex)),
                        "union select password from users");

    /* A short value is never shown whole. */
    v = value_of("sleep(5)");
    assert_true(inspect_sqli_match(&v, &vd));
    assert_int_equal(vd.offset, 0);
    assert_int_equal(vd.length, 4);
    assert_string_equal(inspect_excerpt(&v, &vd, ex, sizeof(ex)), "slee");

    v = value_of("");
    assert_false(inspect_sqli_match(&v, &vd));
}

/* A shape far into a long value is found: the window slides. */
static void
test_sqli_long_value(void **state)
{
    static char text[20000];
    struct inspect_value v;
    struct inspect_verdict vd;
    size_t n = 0;

    while (n + 8 < sizeof(text) - 64) {
        memcpy(text + n, "a, b (c)", 8);
        n += 8;
    }
    memcpy(text + n, "; drop table users", 18);
    v = (struct inspect_value){{text, n + 18}, INSPECT_JSON_VALUE,
                               SLICE_NULL, 0};
    assert_true(inspect_sqli_match(&v, &vd));
    assert_string_equal(vd.rule, "stacked_query");
    assert_int_equal(vd.offset, n);

    /* A value of nothing but openers stays linear and clean. */
    memset(text, '[', sizeof(text));
    v.text.len = sizeof(text);
    assert_false(inspect_sqli_match(&v, &vd));
    memset(text, '\'', sizeof(text));
    assert_false(inspect_sqli_match(&v, &vd));
}

static void
test_sqli_corpus(void **state)
{
    check_class(inspect_sqli_match, "sqli", INSPECT_DECODE_PERCENT);
}

static bool
ssrf_default(const struct inspect_value *v, struct inspect_verdict *out)
{
    struct inspect_ssrf_opts o;

    inspect_ssrf_opts_default(&o);
    return inspect_ssrf_match(v, &o, out);
}

static void
test_ssrf_corpus(void **state)
{
    check_class(ssrf_default, "ssrf", INSPECT_DECODE_PERCENT);
}

static void
test_url_parse(void **state)
{
    char buf[256];
    struct inspect_url u;

    assert_int_equal(inspect_url_parse(
                         SLICE_LIT("https://u:p@Example.COM:8443/a?b#c"),
                         buf, sizeof(buf), &u),
                     AW_OK);
    assert_true(slice_is(u.scheme, "https"));
    assert_true(slice_is(u.userinfo, "u:p"));
    assert_true(slice_is(u.host, "Example.COM"));
    assert_true(u.has_port && u.port_num == 8443);
    assert_true(slice_is(u.path, "/a?b#c"));

    /* The last '@' ends the userinfo; '#' ends the authority. */
    assert_int_equal(inspect_url_parse(SLICE_LIT("http://a@b@c/"), buf,
                                       sizeof(buf), &u),
                     AW_OK);
    assert_true(slice_is(u.host, "c"));
    assert_int_equal(inspect_url_parse(SLICE_LIT("http://a#@b/"), buf,
                                       sizeof(buf), &u),
                     AW_OK);
    assert_true(slice_is(u.host, "a"));

    /* Non-special schemes need "//" for an authority. */
    assert_int_equal(inspect_url_parse(SLICE_LIT("mailto:x@y"), buf,
                                       sizeof(buf), &u),
                     AW_OK);
    assert_false(u.has_authority);
    assert_int_equal(inspect_url_parse(SLICE_LIT("no url"), buf,
                                       sizeof(buf), &u),
                     AW_DECLINED);
    assert_int_equal(inspect_url_parse(SLICE_LIT("http://h:80x/"), buf,
                                       sizeof(buf), &u),
                     AW_INVALID);
    assert_int_equal(inspect_url_parse(SLICE_LIT("http://[::1]x/"), buf,
                                       sizeof(buf), &u),
                     AW_INVALID);
    assert_int_equal(inspect_url_parse(SLICE_LIT("http://h/"), buf, 3, &u),
                     AW_TOOBIG);
}

/* Classify host and return the class; addr gets the address. */
static enum inspect_host_class
host_class(const char *host, uint8_t *addr)
{
    struct inspect_ssrf_opts o;
    struct inspect_host h;
    char buf[256];

    inspect_ssrf_opts_default(&o);
    assert_int_equal(inspect_host_classify((struct slice){host,
                                                          strlen(host)},
                                           host[0] == '[', &o, buf,
                                           sizeof(buf), &h),
                     AW_OK);
    if (addr != NULL)
        memcpy(addr, h.addr, 16);
    return h.cls;
}

static void
test_host_forms(void **state)
{
    static const char *loop[] = {"127.0.0.1", "127.1", "0x7f.1",
                                 "0x7F.0.0.1", "2130706433",
                                 "017700000001", "0177.0.0.01",
                                 "127.0.0.1.", "0x7f000001"};
    uint8_t a[16];

    for (size_t i = 0; i < ARRAY_LEN(loop); i++) {
        assert_int_equal(host_class(loop[i], a), INSPECT_HOST_LOOPBACK);
        assert_memory_equal(a, "\x7f\x00\x00\x01", 4);
    }
    assert_int_equal(host_class("10.1.65535", a), INSPECT_HOST_PRIVATE);
    assert_memory_equal(a, "\x0a\x01\xff\xff", 4);
    assert_int_equal(host_class("10.1.65536", a), INSPECT_HOST_INVALID);
    assert_int_equal(host_class("08.1.1.1", a), INSPECT_HOST_INVALID);
    assert_int_equal(host_class("1.1.1.1", a), INSPECT_HOST_PUBLIC);
    assert_int_equal(host_class("99999999999999999999", a),
                     INSPECT_HOST_INVALID);
    assert_int_equal(host_class("172.15.255.255", a), INSPECT_HOST_PUBLIC);
    assert_int_equal(host_class("172.32.0.0", a), INSPECT_HOST_PUBLIC);
    assert_int_equal(host_class("100.63.255.255", a), INSPECT_HOST_PUBLIC);
    assert_int_equal(host_class("100.128.0.0", a), INSPECT_HOST_PUBLIC);

    assert_int_equal(host_class("[::ffff:169.254.169.254]", a),
                     INSPECT_HOST_METADATA);
    assert_int_equal(host_class("[1:2:3:4:5:6:7:8]", a),
                     INSPECT_HOST_PUBLIC);
    assert_memory_equal(a, "\0\1\0\2\0\3\0\4\0\5\0\6\0\7\0\x08", 16);
    assert_int_equal(host_class("[fe80::1%25eth0]", a),
                     INSPECT_HOST_LINK_LOCAL);
    assert_int_equal(host_class("[2001:db8::1]", a), INSPECT_HOST_RESERVED);
    static const char *bad6[] = {"[1:2:3:4:5:6:7:8:9]", "[1::2::3]",
                                 "[12345::]", "[::1.2.3]", "[:1]", "[1:]",
                                 "[::256.1.1.1]", "[]", "[g::]"};

    for (size_t i = 0; i < ARRAY_LEN(bad6); i++)
        assert_int_equal(host_class(bad6[i], a), INSPECT_HOST_INVALID);

    assert_int_equal(host_class("Example.COM", a), INSPECT_HOST_PUBLIC);
    assert_int_equal(host_class("x.LocalHost.", a), INSPECT_HOST_LOOPBACK);
    assert_int_equal(host_class("a..b", a), INSPECT_HOST_INVALID);
    assert_int_equal(host_class("xn--mnchen-3ya.de", a),
                     INSPECT_HOST_PUBLIC);
    assert_int_equal(host_class("xn--ls8h.la", a), INSPECT_HOST_PUBLIC);
    assert_int_equal(host_class("xn--abc-.la", a), INSPECT_HOST_INVALID);
    assert_string_equal(inspect_host_class_name(INSPECT_HOST_METADATA),
                        "metadata");
}

static void
test_ssrf_options(void **state)
{
    static const char *const schemes[] = {"https", "gopher"};
    static const char *const internal[] = {"build.example.com",
                                           "*.corp.example"};
    struct inspect_ssrf_opts o;
    struct inspect_verdict vd;
    struct inspect_value v;

    inspect_ssrf_opts_default(&o);
    o.allow_single_label = true;
    o.allow_userinfo = true;
    v = value_of("http://redis:6379/");
    assert_false(inspect_ssrf_match(&v, &o, &vd));
    v = value_of("http://u:p@example.com/");
    assert_false(inspect_ssrf_match(&v, &o, &vd));

    o.schemes = schemes;
    o.nschemes = ARRAY_LEN(schemes);
    o.internal = internal;
    o.ninternal = ARRAY_LEN(internal);
    v = value_of("http://example.com/");
    assert_true(inspect_ssrf_match(&v, &o, &vd));
    assert_string_equal(vd.rule, "scheme");
    v = value_of("gopher://example.com/");
    assert_false(inspect_ssrf_match(&v, &o, &vd));
    v = value_of("https://BUILD.example.com/");
    assert_true(inspect_ssrf_match(&v, &o, &vd));
    assert_string_equal(vd.rule, "internal_name");
    v = value_of("https://a.b.corp.example/");
    assert_true(inspect_ssrf_match(&v, &o, &vd));
    v = value_of("https://corp.example.org/");
    assert_false(inspect_ssrf_match(&v, &o, &vd));

    /* Longer than max_len: refused when it starts like a URL. */
    o.max_len = 16;
    v = value_of("https://example.com/a/long/path");
    assert_true(inspect_ssrf_match(&v, &o, &vd));
    assert_string_equal(vd.rule, "too_long");
    assert_string_equal(vd.reason, "inspect.ssrf");
    v = value_of("just some long prose, no link");
    assert_false(inspect_ssrf_match(&v, &o, &vd));
}

static void
test_other_corpora(void **state)
{
    check_class(inspect_traversal_match, "traversal", INSPECT_DECODE_PERCENT);
    check_class(inspect_crlf_match, "crlf", INSPECT_DECODE_PERCENT);
    check_class(inspect_nosql_match, "nosql", INSPECT_DECODE_PERCENT);
    check_class(inspect_cmdi_match, "cmdi", INSPECT_DECODE_PERCENT);
    check_class(inspect_template_match, "template", INSPECT_DECODE_PERCENT);
    check_class(inspect_ldap_match, "ldap", INSPECT_DECODE_PERCENT);
    check_class(inspect_xss_match, "xss",
                INSPECT_DECODE_PERCENT | INSPECT_DECODE_HTML);
    check_class(inspect_xxe_match, "xxe", INSPECT_DECODE_PERCENT);
}

/* Run fn on s with the given origin. */
static bool
detect_at(detect_fn fn, const char *s, enum inspect_origin origin,
          const char **rule)
{
    struct inspect_value v = value_of(s);
    struct inspect_verdict vd;

    v.origin = origin;
    if (!fn(&v, &vd))
        return false;
    if (rule != NULL)
        *rule = vd.rule;
    return true;
}

static void
test_origins(void **state)
{
    const char *rule = NULL;

    /* One relative link is ordinary in free text, not in a parameter. */
    assert_false(detect_at(inspect_traversal_match, "../README.md",
                           INSPECT_JSON_VALUE, NULL));
    assert_true(detect_at(inspect_traversal_match, "../README.md",
                          INSPECT_QUERY_PARAM, &rule));
    assert_string_equal(rule, "dot_dot");
    assert_true(detect_at(inspect_traversal_match, "../../etc/x",
                          INSPECT_JSON_VALUE, NULL));
    /* Empty segments do not break a run of climbs. */
    assert_true(detect_at(inspect_traversal_match, "..;/..;/x",
                          INSPECT_JSON_VALUE, NULL));
    assert_true(detect_at(inspect_traversal_match, "....//....//x",
                          INSPECT_JSON_VALUE, NULL));
    assert_false(detect_at(inspect_traversal_match, "../x/../y",
                           INSPECT_JSON_VALUE, NULL));
    assert_true(detect_at(inspect_traversal_match, "/etc/passwd",
                          INSPECT_JSON_VALUE, &rule));
    assert_string_equal(rule, "sensitive_file");

    /* Any line break in a header or cookie value. */
    assert_false(detect_at(inspect_crlf_match, "a\nb", INSPECT_QUERY_PARAM,
                           NULL));
    assert_true(detect_at(inspect_crlf_match, "a\nb", INSPECT_COOKIE,
                          &rule));
    assert_string_equal(rule, "line_break");
    assert_true(detect_at(inspect_crlf_match, "a\rb", INSPECT_HEADER, NULL));

    /* A blank line before markup ends the headers where a value is
       reflected into them; in free text it is a paragraph. */
    assert_true(detect_at(inspect_crlf_match, "x\r\n\r\n<html>",
                          INSPECT_QUERY_PARAM, &rule));
    assert_string_equal(rule, "response_splitting");
    assert_false(detect_at(inspect_crlf_match, "x\r\n\r\n<html>",
                           INSPECT_JSON_VALUE, NULL));
    assert_false(detect_at(inspect_crlf_match, "x\n\n<html>",
                           INSPECT_QUERY_PARAM, NULL));
}

/* The rule xxe names for s, or NULL when it passes. */
static const char *
xxe_rule(const char *s)
{
    const char *rule = NULL;

    return detect_at(inspect_xxe_match, s, INSPECT_XML_BODY, &rule) ? rule
                                                                    : NULL;
}

/* n copies of unit after head and before tail, into buf. */
static const char *
repeat(char *buf, size_t cap, const char *head, const char *unit, size_t n,
       const char *tail)
{
    size_t len = strlen(head);

    memcpy(buf, head, len);
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + len, unit, strlen(unit));
        len += strlen(unit);
    }
    assert_true(len + strlen(tail) < cap);
    memcpy(buf + len, tail, strlen(tail) + 1);
    return buf;
}

static void
test_xxe_rules(void **state)
{
    static char buf[4096];
    const char *r;

    assert_string_equal(xxe_rule("<!DOCTYPE a [<!ENTITY b SYSTEM "
                                 "\"file:///etc/passwd\">]><a>&b;</a>"),
                        "external_entity");
    assert_string_equal(xxe_rule("<!ENTITY b PUBLIC \"x\" \"http://h/\">"),
                        "external_entity");
    assert_string_equal(xxe_rule("<!DOCTYPE a [<!ENTITY % p \"x\">]>"),
                        "parameter_entity");
    assert_string_equal(xxe_rule("<!DOCTYPE a SYSTEM \"http://h/a.dtd\">"),
                        "external_dtd");
    /* Cut right after SYSTEM: still a fetch in the making. */
    assert_string_equal(xxe_rule("<!DOCTYPE a SYSTEM"), "external_dtd");
    assert_string_equal(xxe_rule("<!ENTITY b SYSTEM"), "external_entity");
    assert_string_equal(xxe_rule("<!DOCTYPE a [<!ENTITY b \"&c;\">]>"),
                        "entity_expansion");
    assert_string_equal(xxe_rule("<r xmlns:i=\"http://www.w3.org/2001/"
                                 "XInclude\"/>"),
                        "xinclude");

    /* A quote a parser would refuse does not hide what follows it. */
    assert_string_equal(xxe_rule("<!DOCTYPE a PUBLIC \"p [<!ENTITY x "
                                 "SYSTEM \"file:///etc/passwd\">]>"),
                        "external_entity");

    /* The bounds: 16 declarations pass, 17 do not; 64 references to
       declared entities pass, 65 do not, and none count without a
       declaration. */
    r = repeat(buf, sizeof(buf), "<!DOCTYPE a [", "<!ENTITY e \"x\">", 16,
               "]>");
    assert_null(xxe_rule(r));
    r = repeat(buf, sizeof(buf), "<!DOCTYPE a [", "<!ENTITY e \"x\">", 17,
               "]>");
    assert_string_equal(xxe_rule(r), "entity_expansion");
    r = repeat(buf, sizeof(buf), "<!DOCTYPE a [<!ENTITY e \"x\">]><a>",
               "&e;", 64, "</a>");
    assert_null(xxe_rule(r));
    r = repeat(buf, sizeof(buf), "<!DOCTYPE a [<!ENTITY e \"x\">]><a>",
               "&e;", 65, "</a>");
    assert_string_equal(xxe_rule(r), "entity_expansion");
    r = repeat(buf, sizeof(buf), "<a>", "&e;", 200, "</a>");
    assert_null(xxe_rule(r));
    r = repeat(buf, sizeof(buf), "<!DOCTYPE a [<!ENTITY e \"x\">]><a>",
               "&amp;&#38;", 100, "</a>");
    assert_null(xxe_rule(r));

    /* What passes: a public W3C DTD, the HTML legacy doctype, an
       internal entity of plain text, a public id without a system
       literal, and the empty and the shortest values. */
    assert_null(xxe_rule("<!DOCTYPE svg PUBLIC \"-//W3C//DTD SVG 1.1//EN\" "
                         "\"http://www.w3.org/Graphics/SVG/1.1/DTD/"
                         "svg11.dtd\"><svg/>"));
    assert_null(xxe_rule("<!doctype html system 'about:legacy-compat'>"));
    assert_null(xxe_rule("<!DOCTYPE a [<!ENTITY b \"plain &#169;\">]>"));
    assert_null(xxe_rule("<!DOCTYPE a PUBLIC \"-//A//B\">"));
    assert_null(xxe_rule(""));
    assert_null(xxe_rule("<!"));
    assert_null(xxe_rule("<!ENTITY"));
    assert_null(xxe_rule("<!DOCTYPE"));
    assert_null(xxe_rule("&"));

    /* The window starts at the declaration. */
    {
        struct inspect_value v = value_of("<a/><!ENTITY % p SYSTEM \"x\">");
        struct inspect_verdict vd;

        assert_true(inspect_xxe_match(&v, &vd));
        assert_int_equal(vd.offset, 4);
        assert_string_equal(vd.reason, "inspect.xxe");
        assert_string_equal(vd.detector, "xxe");
    }
}

static void
test_template_lookups(void **state)
{
    static char deep[400];
    const char *rule = NULL;
    size_t n = 0;

    assert_true(detect_at(inspect_template_match,
                          "${${lower:J}${upper:n}${x:-D}i:ldap://h/a}",
                          INSPECT_HEADER, &rule));
    assert_string_equal(rule, "jndi_lookup");
    /* An unclosed lookup is never evaluated by Log4j. */
    assert_false(detect_at(inspect_template_match, "${jndi:ldap://h/a",
                           INSPECT_HEADER, NULL));
    /* Nesting beyond the bound is read as text, without overflow. */
    for (int i = 0; i < 100; i++) {
        memcpy(deep + n, "${", 2);
        n += 2;
    }
    memcpy(deep + n, "x", 2);
    assert_false(detect_at(inspect_template_match, deep, INSPECT_HEADER,
                           NULL));
}

/*
 * Values built to make a careless scanner quadratic, or to run it past
 * a buffer: each detector must finish on them (the suite's timeout is
 * the bound) and find nothing in the harmless ones.
 */
static void
test_adversarial_lengths(void **state)
{
    static const char *units[] = {"[", "'", "<a ", "${", "{{", ")(", "..",
                                  "\r", "$(", "%", "&#", "/*", "`", " ",
                                  "<a x='", "<a =", "\"$ne", ")",
                                  "<!DOCTYPE a PUBLIC \"", "<!ENTITY a '&",
                                  "&a", "xi:includ"};
    static const detect_fn fns[] = {
        inspect_sqli_match, inspect_traversal_match, inspect_crlf_match,
        inspect_nosql_match, inspect_cmdi_match, inspect_template_match,
        inspect_ldap_match, inspect_xss_match, inspect_xxe_match,
        ssrf_default,
    };
    static char text[1 << 17];
    char *out = malloc(sizeof(text));

    assert_non_null(out);
    for (size_t u = 0; u < ARRAY_LEN(units); u++) {
        size_t k = strlen(units[u]), n = 0, len = 0;
        unsigned flags = 0;
        struct inspect_verdict vd;

        while (n + k < sizeof(text)) {
            memcpy(text + n, units[u], k);
            n += k;
        }
        assert_int_equal(inspect_decode((struct slice){text, n},
                                        INSPECT_DECODE_PERCENT |
                                            INSPECT_DECODE_HTML,
                                        INSPECT_DECODE_ROUNDS, out,
                                        sizeof(text), &len, &flags),
                         AW_OK);
        for (size_t f = 0; f < ARRAY_LEN(fns); f++) {
            struct inspect_value v = {{text, n}, INSPECT_QUERY_PARAM,
                                      SLICE_NULL, 0};

            if (fns[f](&v, &vd))
                assert_true(vd.offset + vd.length <= n);
        }
    }
    free(out);
}

static void
test_eval(void **state)
{
    static const char *const schemes[] = {"https"};
    struct inspect_ssrf_opts o;
    struct inspect_verdict vd = {0};
    struct inspect_value v;
    unsigned all = INSPECT_ALL;

    /* Both a traversal (dot_dot, 90 for a run) and SQL (union_select,
       95): the higher score wins. */
    v = value_of("../../x' union select password from users--");
    assert_true(inspect_eval(&v, all, NULL, &vd));
    assert_string_equal(vd.detector, "sqli");
    assert_true(inspect_eval(&v, INSPECT_TRAVERSAL | INSPECT_XSS, NULL,
                             &vd));
    assert_string_equal(vd.detector, "traversal");
    assert_false(inspect_eval(&v, INSPECT_XSS | INSPECT_LDAP, NULL, &vd));

    /* The SSRF options are passed through; NULL means the defaults. */
    v = value_of("http://example.com/");
    assert_false(inspect_eval(&v, all, NULL, &vd));
    inspect_ssrf_opts_default(&o);
    o.schemes = schemes;
    o.nschemes = 1;
    assert_true(inspect_eval(&v, INSPECT_SSRF, &o, &vd));
    assert_string_equal(vd.rule, "scheme");
    assert_false(inspect_eval(&v, 0, &o, &vd));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_percent),
        cmocka_unit_test(test_decode_flags),
        cmocka_unit_test(test_decode_html),
        cmocka_unit_test(test_decode_bounds),
        cmocka_unit_test(test_sql_tokens),
        cmocka_unit_test(test_sql_lexer_tiles),
        cmocka_unit_test(test_sqli_verdict),
        cmocka_unit_test(test_sqli_long_value),
        cmocka_unit_test(test_sqli_corpus),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_host_forms),
        cmocka_unit_test(test_ssrf_options),
        cmocka_unit_test(test_ssrf_corpus),
        cmocka_unit_test(test_other_corpora),
        cmocka_unit_test(test_origins),
        cmocka_unit_test(test_xxe_rules),
        cmocka_unit_test(test_template_lookups),
        cmocka_unit_test(test_adversarial_lengths),
        cmocka_unit_test(test_eval),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
