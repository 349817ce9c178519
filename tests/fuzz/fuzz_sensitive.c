/*
 * libFuzzer driver for the sensitive-data scanner and masker.
 *
 * Every finding must lie inside the input, be of a kind asked for and
 * of a known rule; masking must keep the length, change no byte outside
 * the findings, and keep a body that is valid JSON valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"
#include "json/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct inspect_sensitive_db *db;
static struct inspect_sensitive_scratch *scratch;

static void
check(bool cond)
{
    if (!cond)
        abort();
}

/* The scan's state: the input, its masked copy, where findings were. */
struct run {
    struct slice in;
    char *masked;
    unsigned char *covered;
    unsigned kinds;
    size_t count;
};

static int
on_find(void *ctx, const struct inspect_sensitive_find *f)
{
    struct run *r = ctx;

    check(f->length > 0 && f->offset <= r->in.len &&
          f->length <= r->in.len - f->offset);
    check((f->kind & r->kinds) != 0 && (f->kind & (f->kind - 1)) == 0);
    check(f->rule != NULL && inspect_sensitive_name(f->kind) != NULL);
    check(inspect_sensitive_mask(r->in, f, INSPECT_SENS_MASK_JSON,
                                 r->masked + f->offset, f->length) ==
          f->length);
    memset(r->covered + f->offset, 1, f->length);
    r->count++;
    return 0;
}

/* True when p[0..n) is one JSON value. */
static bool
is_json(const char *p, size_t n)
{
    struct json_limits lim;
    struct json_value *v;
    struct json_error err;
    struct arena a;
    int rc;

    json_limits_default(&lim);
    arena_init(&a, 4096, 64u << 20);
    rc = json_parse(p, n, &lim, &a, &v, &err);
    arena_fini(&a);
    return rc == AW_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct run r = {SLICE_NULL, NULL, NULL, 0, 0};
    char err[256];

    if (db == NULL) {
        check(inspect_sensitive_db_compile(INSPECT_SENS_ALL, &db, err,
                                           sizeof(err)) == AW_OK);
        check(inspect_sensitive_scratch_reserve(&scratch, db) == AW_OK);
    }
    if (size < 1)
        return 0;
    /* The first byte chooses the kinds; the rest is the body. */
    r.in = (struct slice){(const char *)data + 1, size - 1};
    r.kinds = data[0] == 0 ? INSPECT_SENS_ALL : data[0];
    r.masked = malloc(size);
    r.covered = calloc(1, size);
    check(r.masked != NULL && r.covered != NULL);
    memcpy(r.masked, r.in.ptr, r.in.len);
    check(inspect_sensitive_scan(db, scratch, r.in, r.kinds, on_find, &r) ==
          AW_OK);
    for (size_t i = 0; i < r.in.len; i++)
        check(r.covered[i] || r.masked[i] == r.in.ptr[i]);
    if (r.count > 0 && is_json(r.in.ptr, r.in.len))
        check(is_json(r.masked, r.in.len));
    free(r.masked);
    free(r.covered);
    return 0;
}
