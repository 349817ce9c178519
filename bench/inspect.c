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
 *
 *   apiward-bench-inspect db [seconds-per-cell]
 *
 * The cost per value of all detectors together (inspect_eval, every
 * INSPECT_* bit), without a pattern database and with one (the scan of
 * inspect_db_candidates, then inspect_eval on the candidates alone), in
 * ns of one core's CPU time, best of three rounds. Values: the benign
 * and the attack lines of the tuning corpora (tests/unit/inspect_corpus)
 * and of the independent ones (bench/inspect_corpus), each decoded
 * once, and the strings (names and values) of a typical 1 KiB JSON
 * body, with the cost of the whole body.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inspect/inspect.h"

#define CORPUS SRCDIR "/tests/unit/inspect_corpus/"
#define BENCH_CORPUS SRCDIR "/bench/inspect_corpus/"
#define ALL_DETECTORS INSPECT_ALL
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
    {"xxe", "xxe", inspect_xxe_match},
};

static double
cpu_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Read the corpus file at path into s, each line decoded. */
static void
load_path(struct set *s, const char *path)
{
    char line[4096];
    FILE *f;

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

/* Read one corpus file of the tuning set into s, each line decoded. */
static void
load(struct set *s, const char *cls, const char *kind)
{
    char path[512];

    snprintf(path, sizeof(path), CORPUS "%s-%s.txt", cls, kind);
    load_path(s, path);
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

/* Every file of dir whose name ends in suffix ("-benign.txt"), in s. */
static void
load_dir(struct set *s, const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1024];

    if (d == NULL) {
        perror(dir);
        exit(1);
    }
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name), k = strlen(suffix);

        if (n < k || strcmp(e->d_name + n - k, suffix) != 0)
            continue;
        snprintf(path, sizeof(path), "%s%s", dir, e->d_name);
        load_path(s, path);
    }
    closedir(d);
}

/* An order as a shop's API receives it: names, an address, free text,
   a URL, codes and dates; 1 KiB. */
static const char body_1k[] =
    "{\"id\":\"ord_8f3a2c91\",\"customer\":{\"name\":\"Ren\xc3\xa9" "e "
    "O'Connor-Smith\",\"email\":\"renee.oconnor@example.com\",\"phone\":"
    "\"+1 415 555 0134\",\"address\":{\"line1\":\"1200 Market St, Suite "
    "400\",\"city\":\"San Francisco\",\"region\":\"CA\",\"postal_code\":"
    "\"94103\",\"country\":\"US\"}},\"items\":[{\"sku\":\"TSHIRT-BLK-M\","
    "\"name\":\"Logo T-shirt, black (M)\",\"quantity\":2,\"price\":"
    "\"19.99\"},{\"sku\":\"MUG-12OZ\",\"name\":\"Ceramic mug & coaster "
    "set\",\"quantity\":1,\"price\":\"14.50\"}],\"notes\":\"Please leave "
    "the parcel at the front desk; ring twice if nobody answers. The "
    "side door is locked after 6pm.\",\"gift_message\":\"Happy birthday, "
    "Sam! Hope you like it :)\",\"coupon\":\"SPRING-24\",\"currency\":"
    "\"USD\",\"created_at\":\"2024-03-18T09:41:27Z\",\"status\":"
    "\"pending\",\"avatar_url\":\"https://cdn.example.com/u/8f3a2c91/"
    "avatar.png\",\"tags\":[\"priority\",\"gift\",\"returning-customer\"],"
    "\"source\":\"web\",\"locale\":\"en-US\",\"user_agent\":\"Mozilla/5.0 "
    "(Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.3 Safari/605.1.15\",\"referrer\":\"https://www."
    "example.org/blog/spring-sale?utm_source=newsletter&utm_medium=email"
    "\",\"consent\":{\"marketing\":false,\"analytics\":true}}";

/* The strings of body_1k, names and values (it holds no escapes). */
static void
load_body(struct set *s)
{
    const char *p = body_1k, *end = body_1k + sizeof(body_1k) - 1;

    while ((p = memchr(p, '"', (size_t)(end - p))) != NULL) {
        const char *q = memchr(p + 1, '"', (size_t)(end - p - 1));

        s->v[s->n++] = (struct slice){p + 1, (size_t)(q - p - 1)};
        p = q + 1;
    }
}

/* One way of running every detector on a value. */
enum way { NO_DB, DB_SCAN, DB_THEN_DETECTORS };

/* ns per value of way over s, best of three rounds of at least secs;
   *ran gets the detectors run per value with the db. */
static double
measure_way(enum way way, const struct set *s, enum inspect_origin origin,
            const struct inspect_db *db, struct inspect_scratch *sc,
            double secs, double *ran)
{
    double best = 0;
    size_t count = 0;

    for (size_t i = 0; i < s->n; i++)
        count += (size_t)__builtin_popcount(
            inspect_db_candidates(db, sc, s->v[i], ALL_DETECTORS));
    *ran = (double)count / (double)s->n;
    for (int round = 0; round < 3; round++) {
        double start = cpu_seconds(), spent;
        size_t values = 0;

        do {
            for (size_t i = 0; i < s->n; i++) {
                struct inspect_value v = {s->v[i], origin, SLICE_NULL, 0};
                struct inspect_verdict vd;
                unsigned mask = ALL_DETECTORS;

                if (way != NO_DB)
                    mask = inspect_db_candidates(db, sc, s->v[i], mask);
                if (way != DB_SCAN && mask != 0)
                    inspect_eval(&v, mask, NULL, &vd);
            }
            values += s->n;
            spent = cpu_seconds() - start;
        } while (spent < secs);
        if (best == 0 || spent * 1e9 / (double)values < best)
            best = spent * 1e9 / (double)values;
    }
    return best;
}

/* One row of the db table; *without and *with get the ns per value
   with no db and with the db and the candidates. */
static void
print_db_row(const char *name, const struct set *s,
             enum inspect_origin origin, const struct inspect_db *db,
             struct inspect_scratch *sc, double secs, double *without,
             double *with)
{
    double ran, b;

    *without = measure_way(NO_DB, s, origin, db, sc, secs, &ran);
    b = measure_way(DB_SCAN, s, origin, db, sc, secs, &ran);
    *with = measure_way(DB_THEN_DETECTORS, s, origin, db, sc, secs, &ran);
    printf("| %s | %zu | %.0f | %.0f | %.0f | %.2f |\n", name, s->n,
           *without, b, *with, ran);
}

/* The db table: every detector on sets of values, without and with a
   pattern database. */
static int
main_db(double secs)
{
    static struct set sets[5];
    static const char *const names[] = {
        "tuning benign", "tuning attack", "independent benign",
        "independent attack", "1 KiB JSON body strings",
    };
    struct inspect_scratch *sc = NULL;
    struct inspect_db *db;
    char err[256];
    double a = 0, c = 0;

    if (inspect_db_compile(ALL_DETECTORS, &db, err, sizeof(err)) != AW_OK ||
        inspect_scratch_reserve(&sc, db) != AW_OK) {
        fprintf(stderr, "inspect_db: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < 5; i++) {
        sets[i].buf = malloc(PROSE_LEN * 4);
        if (sets[i].buf == NULL)
            return 1;
    }
    load_dir(&sets[0], CORPUS, "-benign.txt");
    load_dir(&sets[1], CORPUS, "-attack.txt");
    load_dir(&sets[2], BENCH_CORPUS, "-benign.txt");
    load_dir(&sets[3], BENCH_CORPUS, "-attack.txt");
    load_body(&sets[4]);
    printf("| values | count | no db ns/value | db scan alone ns/value | "
           "db scan, then the candidates ns/value | detectors run per "
           "value |\n| --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < 5; i++)
        print_db_row(names[i], &sets[i],
                     i == 4 ? INSPECT_JSON_VALUE : INSPECT_QUERY_PARAM, db,
                     sc, secs, &a, &c);
    printf("\nwhole 1 KiB body (%zu bytes, %zu strings): no db %.2f us, "
           "with db %.2f us\n", sizeof(body_1k) - 1, sets[4].n,
           a * (double)sets[4].n / 1e3, c * (double)sets[4].n / 1e3);
    for (size_t i = 0; i < 5; i++)
        free(sets[i].buf);
    inspect_scratch_free(sc);
    inspect_db_free(db);
    return 0;
}

int
main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 0.3;
    static struct set benign, attack, prose;

    if (argc > 1 && strcmp(argv[1], "db") == 0)
        return main_db(argc > 2 ? atof(argv[2]) : 0.3);

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
