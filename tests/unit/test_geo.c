/*
 * Unit tests of src/policy/geo.c and of the geo section of the
 * configuration, over MaxMind's own test databases.
 *
 * For GeoIP2-Country-Test, GeoIP2-City-Test, GeoLite2-Country-Test,
 * GeoLite2-City-Test and GeoLite2-ASN-Test, source-data/<Name>.json is
 * the oracle: the first, middle and last address of every network it
 * lists must give the record of the most specific listed network that
 * holds it (a network may hold smaller ones with records of their own).
 * Every database under bad-data/, and the deliberately broken ones of
 * test-data/, must be refused or answer "unknown", never crash.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "json/json.h"
#include "policy/geo.h"

#define MMDB TESTDATA "/MaxMind-DB"
#define MAX_NETS 1024
#define ORACLE_ARENA ((size_t)64 << 20)

/* One network of an oracle file and what its record says. */
struct net {
    int family;          /* AF_INET or AF_INET6 */
    uint8_t addr[16];    /* the first 4 bytes for AF_INET */
    unsigned bits;
    char country[3];     /* country.iso_code, "" when absent */
    uint32_t asn;        /* autonomous_system_number, 0 when absent */
};

struct oracle {
    struct net nets[MAX_NETS];
    size_t n;
};

static struct geo_db *
open_ok(const char *path)
{
    struct geo_db *db = NULL;
    char err[256] = "";

    if (geo_open(path, &db, err, sizeof(err)) != AW_OK)
        fail_msg("%s: %s", path, err);
    return db;
}

static char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/*
 * "1.2.3.0/24", "2001:db8::/32" or "::1.2.3.0/120" (an IPv4 network in
 * the IPv6 tree, which an IPv4 lookup must find) into n.
 */
static void
parse_network(struct slice key, struct net *n)
{
    static const uint8_t zero[12];
    char text[80], *slash;

    assert_true(key.len < sizeof(text));
    memcpy(text, key.ptr, key.len);
    text[key.len] = '\0';
    slash = strchr(text, '/');
    assert_non_null(slash);
    *slash = '\0';
    n->bits = (unsigned)strtoul(slash + 1, NULL, 10);
    if (inet_pton(AF_INET, text, n->addr) == 1) {
        n->family = AF_INET;
        return;
    }
    assert_int_equal(inet_pton(AF_INET6, text, n->addr), 1);
    n->family = AF_INET6;
    if (memcmp(n->addr, zero, 12) == 0 && n->bits >= 96) {
        memmove(n->addr, n->addr + 12, 4);
        n->family = AF_INET;
        n->bits -= 96;
    }
}

/* The record's country code and ASN into n. */
static void
parse_record(const struct json_value *rec, struct net *n)
{
    struct slice iso = json_str(json_get(json_get(rec, "country"),
                                         "iso_code"));
    int64_t asn = 0;

    if (iso.ptr != NULL) {
        assert_int_equal(iso.len, 2);
        memcpy(n->country, iso.ptr, 2);
    }
    if (json_int(json_get(rec, "autonomous_system_number"), &asn))
        n->asn = (uint32_t)asn;
}

static void
load_oracle(const char *name, struct oracle *o)
{
    char path[512];
    struct json_limits lim;
    struct json_error jerr;
    struct json_value *doc;
    struct arena a;
    size_t len;
    char *buf;

    snprintf(path, sizeof(path), "%s/source-data/%s.json", MMDB, name);
    buf = read_all(path, &len);
    json_limits_default(&lim);
    lim.max_bytes = len;
    arena_init(&a, 1 << 20, ORACLE_ARENA);
    assert_int_equal(json_parse(buf, len, &lim, &a, &doc, &jerr), AW_OK);
    assert_int_equal(doc->type, JSON_ARRAY);
    assert_true(doc->u.arr.n > 0 && doc->u.arr.n <= MAX_NETS);
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i < doc->u.arr.n; i++) {
        const struct json_value *item = doc->u.arr.items[i];

        assert_int_equal(item->type, JSON_OBJECT);
        assert_int_equal(item->u.obj.n, 1);
        parse_network(item->u.obj.members[0].name, &o->nets[i]);
        parse_record(item->u.obj.members[0].value, &o->nets[i]);
    }
    o->n = doc->u.arr.n;
    arena_fini(&a);
    free(buf);
}

static unsigned
max_bits(int family)
{
    return family == AF_INET ? 32 : 128;
}

static bool
net_holds(const struct net *n, int family, const uint8_t *addr)
{
    unsigned full = n->bits / 8, rest = n->bits % 8;

    if (n->family != family || memcmp(n->addr, addr, full) != 0)
        return false;
    return rest == 0 ||
           ((n->addr[full] ^ addr[full]) & (0xff00 >> rest) & 0xff) == 0;
}

/* The most specific network holding addr, or NULL. */
static const struct net *
oracle_find(const struct oracle *o, int family, const uint8_t *addr)
{
    const struct net *best = NULL;

    for (size_t i = 0; i < o->n; i++)
        if (net_holds(&o->nets[i], family, addr) &&
            (best == NULL || o->nets[i].bits > best->bits))
            best = &o->nets[i];
    return best;
}

/* Look addr up as itself and, for IPv4, as ::ffff:a.b.c.d too. */
static void
lookup_both(const struct geo_db *cdb, const struct geo_db *adb, int family,
            const uint8_t *addr, struct geo_result *res,
            struct geo_result *mapped)
{
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};

    if (family == AF_INET6) {
        memcpy(&s6.sin6_addr, addr, 16);
        geo_lookup(cdb, adb, (struct sockaddr *)&s6, res);
        *mapped = *res;
        return;
    }
    memcpy(&s4.sin_addr, addr, 4);
    geo_lookup(cdb, adb, (struct sockaddr *)&s4, res);
    s6.sin6_addr.s6_addr[10] = 0xff;
    s6.sin6_addr.s6_addr[11] = 0xff;
    memcpy(&s6.sin6_addr.s6_addr[12], addr, 4);
    geo_lookup(cdb, adb, (struct sockaddr *)&s6, mapped);
}

/*
 * Check one address against the oracle; returns the number of checks
 * that failed, after printing each.
 */
static int
check_addr(const struct oracle *o, const struct geo_db *cdb,
           const struct geo_db *adb, int family, const uint8_t *addr)
{
    const struct net *want = oracle_find(o, family, addr);
    struct geo_result got, mapped;
    const char *country = want != NULL ? want->country : "";
    uint32_t asn = want != NULL ? want->asn : 0;
    char text[64];

    lookup_both(cdb, adb, family, addr, &got, &mapped);
    if ((cdb == NULL || strcmp(got.country, country) == 0) &&
        (adb == NULL || got.asn == asn) &&
        memcmp(&got, &mapped, sizeof(got)) == 0)
        return 0;
    inet_ntop(family, addr, text, sizeof(text));
    print_error("%s: want %s/%u, got %s/%u (mapped %s/%u)\n", text, country,
                asn, got.country, got.asn, mapped.country, mapped.asn);
    return 1;
}

/* The first, middle and last address of n into out[0..3). */
static void
net_samples(const struct net *n, uint8_t out[3][16])
{
    unsigned len = max_bits(n->family) / 8;

    for (int k = 0; k < 3; k++)
        memcpy(out[k], n->addr, 16);
    for (unsigned b = n->bits; b < len * 8; b++)
        out[2][b / 8] |= (uint8_t)(0x80 >> (b % 8));
    if (n->bits < len * 8)
        out[1][n->bits / 8] |= (uint8_t)(0x80 >> (n->bits % 8));
}

/* Every network's samples, plus addresses no test database covers. */
static int
check_oracle(const struct oracle *o, const struct geo_db *cdb,
             const struct geo_db *adb)
{
    static const char *const outside[] = {"10.0.0.1", "127.0.0.1",
                                          "192.168.1.1", "::1", "fe80::1"};
    int failed = 0;

    for (size_t i = 0; i < o->n; i++) {
        uint8_t s[3][16];

        net_samples(&o->nets[i], s);
        for (int k = 0; k < 3; k++)
            failed += check_addr(o, cdb, adb, o->nets[i].family, s[k]);
    }
    for (size_t i = 0; i < ARRAY_LEN(outside); i++) {
        uint8_t a[16] = {0};
        int fam = strchr(outside[i], ':') != NULL ? AF_INET6 : AF_INET;

        assert_int_equal(inet_pton(fam, outside[i], a), 1);
        failed += check_addr(o, cdb, adb, fam, a);
    }
    return failed;
}

static void
check_country_db(const char *name)
{
    static struct oracle o;
    char path[512];
    struct geo_db *db;
    size_t known = 0;

    snprintf(path, sizeof(path), "%s/test-data/%s.mmdb", MMDB, name);
    db = open_ok(path);
    assert_int_equal(geo_kinds(db), GEO_KIND_COUNTRY);
    load_oracle(name, &o);
    for (size_t i = 0; i < o.n; i++)
        known += o.nets[i].country[0] != '\0';
    assert_true(known > o.n / 2);    /* the oracle is not vacuous */
    assert_int_equal(check_oracle(&o, db, NULL), 0);
    geo_unref(db);
}

static void
test_country_oracle(void **state)
{
    check_country_db("GeoIP2-Country-Test");
    check_country_db("GeoLite2-Country-Test");
}

static void
test_city_oracle(void **state)
{
    check_country_db("GeoIP2-City-Test");
    check_country_db("GeoLite2-City-Test");
}

/* The ASN database, alone and beside a country database. */
static void
test_asn_oracle(void **state)
{
    static struct oracle o;
    struct geo_db *adb = open_ok(MMDB "/test-data/GeoLite2-ASN-Test.mmdb");
    struct geo_db *cdb = open_ok(MMDB "/test-data/GeoIP2-Country-Test.mmdb");

    assert_int_equal(geo_kinds(adb), GEO_KIND_ASN);
    load_oracle("GeoLite2-ASN-Test", &o);
    assert_int_equal(check_oracle(&o, NULL, adb), 0);
    geo_unref(adb);
    geo_unref(cdb);
}

/* The examples written out in the test data's SOURCE.md. */
static void
test_documented_examples(void **state)
{
    static const struct {
        const char *ip;
        const char *country;
    } cases[] = {
        {"81.2.69.142", "GB"},   {"2.125.160.216", "GB"},
        {"89.160.20.112", "SE"}, {"216.160.83.56", "US"},
        {"2001:218::1", "JP"},   {"::ffff:81.2.69.142", "GB"},
    };
    struct geo_db *cdb = open_ok(MMDB "/test-data/GeoIP2-City-Test.mmdb");
    struct geo_db *adb = open_ok(MMDB "/test-data/GeoLite2-ASN-Test.mmdb");
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    struct geo_result res;

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};

        assert_int_equal(inet_pton(AF_INET6, cases[i].ip, &s6.sin6_addr) ||
                             inet_pton(AF_INET, cases[i].ip, &s4.sin_addr),
                         1);
        geo_lookup(cdb, NULL,
                   strchr(cases[i].ip, ':') != NULL ? (struct sockaddr *)&s6
                                                    : (struct sockaddr *)&s4,
                   &res);
        assert_string_equal(res.country, cases[i].country);
        assert_int_equal(res.asn, 0);
    }
    assert_int_equal(inet_pton(AF_INET, "1.128.0.1", &s4.sin_addr), 1);
    geo_lookup(NULL, adb, (struct sockaddr *)&s4, &res);
    assert_int_equal(res.asn, 1221);
    assert_string_equal(res.country, "");
    geo_unref(cdb);
    geo_unref(adb);
}

/* No database, no address, or a family that is not IP: unknown. */
static void
test_unknown_inputs(void **state)
{
    struct geo_db *cdb = open_ok(MMDB "/test-data/GeoIP2-Country-Test.mmdb");
    struct sockaddr_un su = {.sun_family = AF_UNIX};
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    struct geo_result res;

    inet_pton(AF_INET, "81.2.69.142", &s4.sin_addr);
    geo_lookup(NULL, NULL, (struct sockaddr *)&s4, &res);
    assert_string_equal(res.country, "");
    assert_int_equal(res.asn, 0);
    geo_lookup(cdb, cdb, (struct sockaddr *)&su, &res);
    assert_string_equal(res.country, "");
    geo_lookup(cdb, cdb, NULL, &res);
    assert_string_equal(res.country, "");
    /* A country database asked for an ASN has none to give. */
    geo_lookup(cdb, cdb, (struct sockaddr *)&s4, &res);
    assert_string_equal(res.country, "GB");
    assert_int_equal(res.asn, 0);
    geo_unref(cdb);
    geo_unref(NULL);
}

static void
test_kinds_and_refs(void **state)
{
    static const struct {
        const char *file;
        unsigned kinds;
    } cases[] = {
        {"GeoIP2-Country-Test", GEO_KIND_COUNTRY},
        {"GeoIP2-Country-Shield-Test", GEO_KIND_COUNTRY},
        {"GeoLite2-City-Test", GEO_KIND_COUNTRY},
        {"GeoLite2-ASN-Test", GEO_KIND_ASN},
        {"GeoIP2-ISP-Test", 0},
        {"GeoIP2-Anonymous-IP-Test", 0},
        {"GeoIP2-Enterprise-Test", 0},
        {"MaxMind-DB-test-ipv4-24", 0},
    };

    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char path[512];
        struct geo_db *db;

        snprintf(path, sizeof(path), "%s/test-data/%s.mmdb", MMDB,
                 cases[i].file);
        db = open_ok(path);
        assert_int_equal(geo_kinds(db), cases[i].kinds);
        assert_ptr_equal(geo_ref(db), db);
        geo_unref(db);
        assert_true(strlen(geo_type(db)) > 0);
        geo_unref(db);
    }
}

static void
expect_refused(const char *path, const char *want)
{
    struct geo_db *db = (struct geo_db *)&db;   /* must stay untouched */
    char err[256] = "";

    assert_int_equal(geo_open(path, &db, err, sizeof(err)), AW_INVALID);
    assert_ptr_equal(db, (struct geo_db *)&db);
    if (strstr(err, want) == NULL)
        fail_msg("%s: '%s' does not say '%s'", path, err, want);
}

/* Missing, not regular, empty, not a database, invalid metadata. */
static void
test_open_refuses(void **state)
{
    char dir[] = "/tmp/test_geo.XXXXXX", fifo[64], text[64];
    FILE *f;

    assert_non_null(mkdtemp(dir));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    snprintf(text, sizeof(text), "%s/text", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    f = fopen(text, "w");
    assert_non_null(f);
    fclose(f);
    expect_refused("/nonexistent/x.mmdb", "cannot open");
    expect_refused(dir, "not a regular file");
    expect_refused(fifo, "not a regular file");   /* and does not hang */
    expect_refused(text, "not a valid MaxMind DB");
    f = fopen(text, "w");
    assert_non_null(f);
    fputs("{\"not\": \"a database\"}\n", f);
    fclose(f);
    expect_refused(text, "not a valid MaxMind DB");
    expect_refused(MMDB "/test-data/GeoIP2-City-Test-Invalid-Node-Count.mmdb",
                   "not a valid MaxMind DB");
    unlink(fifo);
    unlink(text);
    rmdir(dir);
}

/* Addresses in and around every test database's networks. */
static const char *const probe_addrs[] = {
    "0.0.0.0",     "1.1.1.1",      "1.1.1.3",          "1.1.1.32",
    "1.1.1.33",    "2.2.3.4",      "81.2.69.142",      "255.255.255.255",
    "::",          "::1",          "::1:ffff:ffff",    "::2:0:40",
    "2001:218::1", "::ffff:1.1.1.1", "ffff:ffff::1",   "abcd::1",
};

/* Open path; if it opens, every probe must answer without harm. */
static void
probe_db(const char *path)
{
    struct geo_db *db = NULL;
    char err[256];

    if (geo_open(path, &db, err, sizeof(err)) != AW_OK) {
        assert_true(strlen(err) > 0);
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(probe_addrs); i++) {
        struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
        struct sockaddr_in s4 = {.sin_family = AF_INET};
        struct sockaddr *sa = (struct sockaddr *)&s6;
        struct geo_result res;

        if (inet_pton(AF_INET, probe_addrs[i], &s4.sin_addr) == 1)
            sa = (struct sockaddr *)&s4;
        else
            assert_int_equal(
                inet_pton(AF_INET6, probe_addrs[i], &s6.sin6_addr), 1);
        geo_lookup(db, db, sa, &res);
        assert_true(res.country[0] == '\0' ||
                    (strlen(res.country) == 2 && res.country[0] >= 'A' &&
                     res.country[0] <= 'Z'));
    }
    geo_unref(db);
}

/* Every .mmdb of a directory; returns how many were probed. */
static size_t
probe_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[1024];
        size_t len = strlen(e->d_name);

        if (len < 5 || strcmp(e->d_name + len - 5, ".mmdb") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        probe_db(path);
        n++;
    }
    closedir(d);
    return n;
}

static void
test_bad_data(void **state)
{
    size_t n = probe_dir(MMDB "/bad-data/libmaxminddb") +
               probe_dir(MMDB "/bad-data/maxminddb-golang") +
               probe_dir(MMDB "/bad-data/maxminddb-python");

    assert_int_equal(n, 21);
    /* The valid databases too, including the four broken on purpose. */
    assert_true(probe_dir(MMDB "/test-data") >= 40);
}

/* A broken data section: lookups fail, the country stays unknown. */
static void
test_broken_double_format(void **state)
{
    struct geo_db *db =
        open_ok(MMDB "/test-data/GeoIP2-City-Test-Broken-Double-Format.mmdb");
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    struct geo_result res;

    inet_pton(AF_INET, "2.125.160.216", &s4.sin_addr);
    geo_lookup(db, NULL, (struct sockaddr *)&s4, &res);
    assert_true(res.country[0] == '\0' || strcmp(res.country, "GB") == 0);
    geo_unref(db);
}

struct lookup_job {
    const struct oracle *o;
    const struct geo_db *db;
    int failed;
};

static void *
lookup_thread(void *arg)
{
    struct lookup_job *j = arg;

    for (int round = 0; round < 20; round++)
        j->failed += check_oracle(j->o, j->db, NULL);
    return NULL;
}

/* Four threads share one database; every answer stays right. */
static void
test_threads(void **state)
{
    static struct oracle o;
    struct geo_db *db = open_ok(MMDB "/test-data/GeoIP2-City-Test.mmdb");
    struct lookup_job jobs[4];
    pthread_t t[4];

    load_oracle("GeoIP2-City-Test", &o);
    for (int i = 0; i < 4; i++) {
        jobs[i] = (struct lookup_job){&o, db, 0};
        assert_int_equal(
            pthread_create(&t[i], NULL, lookup_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(jobs[i].failed, 0);
    }
    geo_unref(db);
}

/* ---- the geo section of the configuration ---- */

#define MINIMAL                                                                \
    "upstreams:\n"                                                             \
    "  demo:\n"                                                                \
    "    servers: [\"127.0.0.1:9000\"]\n"                                      \
    "routes:\n"                                                                \
    "  - name: all\n"                                                          \
    "    path: /\n"                                                            \
    "    prefix: true\n"                                                       \
    "    upstream: demo\n"                                                    \
    "    authz: {public: true}\n"

static int
load_text(const char *dir, const char *text, struct config **c,
          struct config_errors *errs)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/t.yaml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return config_load(path, c, errs);
}

/* The first problem must contain want. */
static void
expect_config_error(const char *dir, const char *text, const char *want)
{
    struct config_errors errs;
    struct config *c = NULL;

    assert_int_equal(load_text(dir, text, &c, &errs), AW_INVALID);
    assert_null(c);
    assert_true(errs.n > 0);
    if (strstr(errs.msg[0], want) == NULL)
        fail_msg("'%s' does not say '%s'", errs.msg[0], want);
}

/* Relative paths from the file's directory; both slots; reload. */
static void
test_config_geo(void **state)
{
    char dir[] = "/tmp/test_geo.XXXXXX", link[64];
    struct config_errors errs;
    struct config *c = NULL, *c2 = NULL;
    struct sockaddr_in s4 = {.sin_family = AF_INET};
    struct geo_result res;

    assert_non_null(mkdtemp(dir));
    snprintf(link, sizeof(link), "%s/country.mmdb", dir);
    assert_int_equal(symlink(MMDB "/test-data/GeoIP2-City-Test.mmdb", link),
                     0);
    assert_int_equal(load_text(dir,
                               "geo:\n  country_db: country.mmdb\n"
                               "  asn_db: " MMDB
                               "/test-data/GeoLite2-ASN-Test.mmdb\n" MINIMAL,
                               &c, &errs),
                     AW_OK);
    assert_non_null(c->geo_country);
    assert_non_null(c->geo_asn);
    inet_pton(AF_INET, "89.160.20.112", &s4.sin_addr);
    geo_lookup(c->geo_country, c->geo_asn, (struct sockaddr *)&s4, &res);
    assert_string_equal(res.country, "SE");
    assert_int_equal(res.asn, 29518);
    /* A holder keeps the database beyond the snapshot. */
    struct geo_db *kept = geo_ref(c->geo_country);

    config_unref(c);
    geo_lookup(kept, NULL, (struct sockaddr *)&s4, &res);
    assert_string_equal(res.country, "SE");
    geo_unref(kept);
    assert_int_equal(load_text(dir, MINIMAL, &c2, &errs), AW_OK);
    assert_null(c2->geo_country);
    assert_null(c2->geo_asn);
    config_unref(c2);
    unlink(link);
    rmdir(dir);
}

static void
test_config_geo_errors(void **state)
{
    char dir[] = "/tmp/test_geo.XXXXXX", path[64];
    struct config_errors errs;
    struct config *c = NULL;

    assert_non_null(mkdtemp(dir));
    expect_config_error(dir,
                        "geo:\n  country_db: " MMDB
                        "/test-data/GeoLite2-ASN-Test.mmdb\n" MINIMAL,
                        "is a 'GeoLite2-ASN' database, not a Country or City");
    expect_config_error(dir,
                        "geo:\n  asn_db: " MMDB
                        "/test-data/GeoIP2-City-Test.mmdb\n" MINIMAL,
                        "not an ASN database");
    expect_config_error(dir, "geo:\n  country_db: missing.mmdb\n" MINIMAL,
                        "cannot open");
    expect_config_error(dir,
                        "geo:\n  country_db: " MMDB
                        "/bad-data/maxminddb-golang/"
                        "cyclic-data-structure.mmdb\n" MINIMAL,
                        "not a valid MaxMind DB file");
    expect_config_error(dir, "geo:\n  city_db: x.mmdb\n" MINIMAL, "city_db");
    expect_config_error(dir, "geo: [a]\n" MINIMAL, "geo");
    /* Both slots wrong: both reported, nothing leaked. */
    assert_int_equal(load_text(dir,
                               "geo:\n  country_db: " MMDB
                               "/test-data/GeoLite2-ASN-Test.mmdb\n"
                               "  asn_db: " MMDB
                               "/test-data/GeoLite2-City-Test.mmdb\n" MINIMAL,
                               &c, &errs),
                     AW_INVALID);
    assert_int_equal(errs.n, 2);
    /* A good database in one slot and a bad key elsewhere: no leak. */
    assert_int_equal(load_text(dir,
                               "geo:\n  country_db: " MMDB
                               "/test-data/GeoIP2-Country-Test.mmdb\n"
                               "server: {workers: -1}\n" MINIMAL,
                               &c, &errs),
                     AW_INVALID);
    /* From memory there is no directory to resolve against. */
    static const char mem[] = "geo: {country_db: c.mmdb}\n" MINIMAL;
    assert_int_equal(config_load_string("mem", mem, strlen(mem),
                                        CONFIG_LOAD_NO_RESOLVE, &c, &errs),
                     AW_INVALID);
    assert_non_null(strstr(errs.msg[0], "absolute"));
    snprintf(path, sizeof(path), "%s/t.yaml", dir);
    unlink(path);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_country_oracle),
        cmocka_unit_test(test_city_oracle),
        cmocka_unit_test(test_asn_oracle),
        cmocka_unit_test(test_documented_examples),
        cmocka_unit_test(test_unknown_inputs),
        cmocka_unit_test(test_kinds_and_refs),
        cmocka_unit_test(test_open_refuses),
        cmocka_unit_test(test_bad_data),
        cmocka_unit_test(test_broken_double_format),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_config_geo),
        cmocka_unit_test(test_config_geo_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
