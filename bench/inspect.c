/*
 * Throughput of the inspection detectors, in MB/s of one core's CPU
 * time (thread CPU time), best of three rounds.
 *
 *   apiward-bench-inspect [seconds-per-cell]
 *
 * Inputs, the same on every run: the benign corpus of each class and its
 * attack corpus (tests/unit/inspect_corpus, decoded as the unit test
 * decodes them), each value inspected on its own, and one 64 KiB value
 * of prose built from the benign lines, which is the long free-text
 * case (a JSON string in a body). Rows are the detectors, and
 * inspect_decode alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inspect/inspect.h"

#define CORPUS SRCDIR "/tests/unit/inspect_corpus/"
#define VALUES_MAX 4096
#define PROSE_LEN (64 * 1024)

typedef bool (*detect_fn)(const struct inspect_value *v,
                          struct inspect_verdict *out);

/* A set of values to inspect, each decoded, stored back to back. */
struct set {
    char *buf;
    size_t len;
    struct slice v[VALUES_MAX];
    size_t n;
};

static bool
ssrf_default(const struct inspect_value *v, struct inspect_verdict *out)
{
    struct inspect_ssrf_opts o;

    inspect_ssrf_opts_default(&o);
    return inspect_ssrf_match(v, &o, out);
}

static bool
decode_only(const struct inspect_value *v, struct inspect_verdict *out)
{
    static char buf[PROSE_LEN];
    size_t len;
    unsigned flags = 0;

    (void)out;
    inspect_decode(v->text, INSPECT_DECODE_PERCENT | INSPECT_DECODE_HTML,
                   INSPECT_DECODE_ROUNDS, buf, sizeof(buf), &len, &flags);
    return len == 0;
}

static const struct {
    const char *name;
    const char *corpus;
    detect_fn fn;
} rows[] = {
    {"decode (percent+html)", "sqli", decode_only},
    {"sqli", "sqli", inspect_sqli_match},
    {"ssrf", "ssrf", ssrf_default},
    {"traversal", "traversal", inspect_traversal_match},
    {"crlf", "crlf", inspect_crlf_match},
    {"nosql", "nosql", inspect_nosql_match},
    {"cmdi", "cmdi", inspect_cmdi_match},
    {"template", "template", inspect_template_match},
    {"ldap", "ldap", inspect_ldap_match},
    {"xss", "xss", inspect_xss_match},
};

static double
cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read one corpus file into s, each line decoded. */
static void
load(struct set *s, const char *cls, const char *kind)
{
    char path[512], line[4096];
    FILE *f;

    snprintf(path, sizeof(path), CORPUS "%s-%s.txt", cls, kind);
    f = fopen(path, "r");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    while (fgets(line, sizeof(line), f) != NULL && s->n < VALUES_MAX) {
        struct slice in = {line, strcspn(line, "\n")};
        unsigned flags = 0;
        size_t len = 0;

        if (in.len == 0 || s->len + in.len > PROSE_LEN * 4)
            continue;
        inspect_decode(in, INSPECT_DECODE_PERCENT, INSPECT_DECODE_ROUNDS,
                       s->buf + s->len, in.len, &len, &flags);
        s->v[s->n++] = (struct slice){s->buf + s->len, len};
        s->len += len;
    }
    fclose(f);
}

/* One 64 KiB value: the benign lines of every class, joined by spaces,
   repeated. */
static void
make_prose(struct set *s)
{
    struct set all = {malloc(PROSE_LEN * 4), 0, {{0}}, 0};
    size_t n = 0;

    if (all.buf == NULL)
        exit(1);
    for (size_t r = 1; r < sizeof(rows) / sizeof(rows[0]); r++)
        load(&all, rows[r].corpus, "benign");
    while (n < PROSE_LEN) {
        for (size_t i = 0; i < all.n && n < PROSE_LEN; i++) {
            size_t k = all.v[i].len < PROSE_LEN - n ? all.v[i].len
                                                     : PROSE_LEN - n;

            memcpy(s->buf + n, all.v[i].ptr, k);
            n += k;
            if (n < PROSE_LEN)
                s->buf[n++] = ' ';
        }
    }
    s->v[0] = (struct slice){s->buf, n};
    s->n = 1;
    s->len = n;
    free(all.buf);
}

/* MB/s of fn over every value of s: best of three rounds of at least
   secs seconds each. Also counts the values flagged in one pass. */
static double
measure(detect_fn fn, const struct set *s, double secs, size_t *flagged)
{
    double best = 0;

    *flagged = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct inspect_value v = {s->v[i], INSPECT_QUERY_PARAM, SLICE_NULL,
                                  0};
        struct inspect_verdict vd;

        *flagged += fn(&v, &vd);
    }
    for (int round = 0; round < 3; round++) {
        double start = cpu_seconds(), spent;
        size_t bytes = 0;

        do {
            for (size_t i = 0; i < s->n; i++) {
                struct inspect_value v = {s->v[i], INSPECT_QUERY_PARAM,
                                          SLICE_NULL, 0};
                struct inspect_verdict vd;

                fn(&v, &vd);
                bytes += s->v[i].len;
            }
            spent = cpu_seconds() - start;
        } while (spent < secs);
        if (bytes / spent / 1e6 > best)
            best = bytes / spent / 1e6;
    }
    return best;
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    static struct set benign, attack, prose;

    benign.buf = malloc(PROSE_LEN * 4);
    attack.buf = malloc(PROSE_LEN * 4);
    prose.buf = malloc(PROSE_LEN);
    if (benign.buf == NULL || attack.buf == NULL || prose.buf == NULL)
        return 1;
    make_prose(&prose);
    printf("| detector | benign values MB/s | attack values MB/s | "
           "64 KiB prose MB/s |\n| --- | --- | --- | --- |\n");
    for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); r++) {
        size_t fb, fa, fp;
        double b, a, p;

        benign.n = benign.len = attack.n = attack.len = 0;
        load(&benign, rows[r].corpus, "benign");
        load(&attack, rows[r].corpus, "attack");
        b = measure(rows[r].fn, &benign, secs, &fb);
        a = measure(rows[r].fn, &attack, secs, &fa);
        p = measure(rows[r].fn, &prose, secs, &fp);
        printf("| %s | %.0f | %.0f | %.0f |\n", rows[r].name, b, a, p);
    }
    free(benign.buf);
    free(attack.buf);
    free(prose.buf);
    return 0;
}
