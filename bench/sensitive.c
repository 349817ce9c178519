/*
 * Cost of the sensitive-data scan (src/inspect/sensitive.c) on response
 * bodies, in nanoseconds of one core's CPU time (thread CPU time) per
 * KiB scanned, best of three rounds.
 *
 *   apiward-bench-sensitive [seconds-per-cell]
 *
 * Bodies, the same on every run, each 64 KiB and 1 KiB:
 *   clean      a JSON array of orders as an API returns them: ids,
 *              UUIDs, ISO and epoch-millisecond timestamps, prices,
 *              phone numbers, names and prose; nothing to find;
 *   candidates the same records, each also carrying a card number, an
 *              IBAN, an SSN, an e-mail address, a JWT, an AWS key id and
 *              an apiward API key (every validator runs, every one
 *              confirms);
 * each scanned for every kind, and the candidates body masked too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "inspect/inspect.h"

#define BIG (64 * 1024)
#define SMALL 1024

static const char clean_record[] =
    "{\"id\":\"ord_7f3a9c21\",\"uuid\":\"123e4567-e89b-12d3-a456-4266141"
    "74000\",\"created\":\"2024-05-17T09:41:07.123Z\",\"ts\":1716212345678,"
    "\"total\":1249.99,\"currency\":\"EUR\",\"items\":[{\"sku\":\"AB-1029-X"
    "\",\"qty\":2,\"price\":499.5},{\"sku\":\"ZX-77\",\"qty\":1,\"price\":2"
    "50.99}],\"phone\":\"+1 (415) 555-0132\",\"customer\":\"Ada Lovelace\","
    "\"note\":\"Leave the parcel at the back door, next to the blue bin.\","
    "\"order_no\":\"2024011512345678\",\"status\":\"shipped\"},";

static const char hot_record[] =
    "{\"id\":\"ord_7f3a9c21\",\"ts\":1716212345678,\"total\":1249.99,"
    "\"card\":\"4111 1111 1111 1111\",\"iban\":\"DE89370400440532013000\","
    "\"ssn\":\"536-22-8726\",\"email\":\"ada.lovelace@example.com\","
    "\"token\":\"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY"
    "3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c\",\"aws\":\"AKIAI"
    "OSFODNN7EXAMPLE\",\"key\":\"aw_k3y1d0ab2c_EEEEEEEEEEEEEEEEEEEEEEEEEEEE"
    "EEEEEEEEEEEEEEE\"},";

/* A JSON array of records, len bytes exactly (padded with spaces). */
static char *
body(const char *record, size_t len)
{
    char *b = malloc(len);
    size_t rl = strlen(record), o = 1;

    if (b == NULL)
        exit(1);
    memset(b, ' ', len);
    b[0] = '[';
    while (o + rl + 2 <= len) {
        memcpy(b + o, record, rl);
        o += rl;
    }
    b[o - 1] = ']';
    return b;
}

static double
cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct ctx {
    struct slice text;
    char *out;
    bool mask;
    size_t found;
};

static int
on_find(void *p, const struct inspect_sensitive_find *f)
{
    struct ctx *c = p;

    c->found++;
    if (c->mask)
        inspect_sensitive_mask(c->text, f, INSPECT_SENS_MASK_JSON,
                               c->out + f->offset, f->length);
    return 0;
}

/* ns per KiB of scanning text, best of three rounds of seconds each. */
static double
measure(const struct inspect_sensitive_db *db,
        struct inspect_sensitive_scratch *s, const char *text, size_t len,
        bool mask, double seconds, size_t *found)
{
    char *out = malloc(len);
    double best = 0;

    if (out == NULL)
        exit(1);
    for (int round = 0; round < 3; round++) {
        double t0 = cpu_ns(), t;
        size_t n = 0;
        struct ctx c = {{text, len}, out, mask, 0};

        do {
            if (mask)
                memcpy(out, text, len);
            c.found = 0;
            inspect_sensitive_scan(db, s, c.text, INSPECT_SENS_ALL, on_find,
                                   &c);
            n++;
            t = cpu_ns() - t0;
        } while (t < seconds * 1e9);
        t = t / n / (len / 1024.0);
        if (round == 0 || t < best)
            best = t;
        *found = c.found;
    }
    free(out);
    return best;
}

int
main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.5;
    struct inspect_sensitive_db *db;
    struct inspect_sensitive_scratch *s = NULL;
    char err[256];
    static const struct {
        const char *name;
        const char *record;
        size_t len;
        bool mask;
    } cells[] = {
        {"clean JSON", clean_record, BIG, false},
        {"clean JSON", clean_record, SMALL, false},
        {"candidates", hot_record, BIG, false},
        {"candidates", hot_record, SMALL, false},
        {"candidates, masked", hot_record, BIG, true},
        {"candidates, masked", hot_record, SMALL, true},
    };

    if (inspect_sensitive_db_compile(INSPECT_SENS_ALL, &db, err,
                                     sizeof(err)) != AW_OK ||
        inspect_sensitive_scratch_reserve(&s, db) != AW_OK) {
        fprintf(stderr, "apiward-bench-sensitive: %s\n", err);
        return 1;
    }
    printf("| body | size | findings | ns per KiB | MiB/s |\n");
    printf("| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < sizeof(cells) / sizeof(cells[0]); i++) {
        char *b = body(cells[i].record, cells[i].len);
        size_t found = 0;
        double ns = measure(db, s, b, cells[i].len, cells[i].mask, seconds,
                            &found);

        printf("| %s | %zu KiB | %zu | %.0f | %.0f |\n", cells[i].name,
               cells[i].len / 1024, found, ns, 1e9 / 1024.0 / ns);
        free(b);
    }
    inspect_sensitive_scratch_free(s);
    inspect_sensitive_db_free(db);
    return 0;
}
