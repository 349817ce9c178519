/*
 * libFuzzer driver for credential extraction (identity_extract).
 *
 * The first byte picks the route's methods and where its API key is;
 * the rest is lines: "?query" sets the query string, "Name: value" adds
 * a header field. Whatever the bytes, a credential found must be a
 * non-empty arena copy, and a refusal must be a complete 401
 * invalid_request.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "identity/identity.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_FIELDS 16

/* Split one line into a header field, or the query when it starts '?'. */
static void
fuzz_line(struct slice line, struct http_header *h, unsigned *nh,
          struct slice *query)
{
    const char *colon = memchr(line.ptr, ':', line.len);
    size_t vstart;

    if (line.len > 0 && line.ptr[0] == '?') {
        *query = (struct slice){line.ptr + 1, line.len - 1};
        return;
    }
    if (colon == NULL || *nh == FUZZ_MAX_FIELDS)
        return;
    vstart = (size_t)(colon - line.ptr) + 1;
    while (vstart < line.len && line.ptr[vstart] == ' ')
        vstart++;
    h[*nh].name = (struct slice){line.ptr, (size_t)(colon - line.ptr)};
    h[*nh].value = (struct slice){line.ptr + vstart, line.len - vstart};
    (*nh)++;
}

/* The checks on one outcome; any breach aborts. */
static void
fuzz_check(int rc, const struct credential *cred,
           const struct auth_error *err, const struct http_header *h,
           unsigned nh)
{
    if (rc == AW_INVALID) {
        if (err->status != 401 || err->reason == NULL ||
            err->detail == NULL || err->bearer_error == NULL ||
            strcmp(err->bearer_error, "invalid_request") != 0)
            abort();
        return;
    }
    if (rc != AW_OK)
        abort();
    if (cred->kind == AUTH_NONE)
        return;
    if (cred->value.ptr == NULL || cred->value.len == 0)
        abort();
    for (unsigned i = 0; i < nh; i++)
        if (cred->value.ptr == h[i].value.ptr)
            abort();
    for (size_t i = 0; i < cred->value.len; i++)
        if ((unsigned char)cred->value.ptr[i] <= 0x20 ||
            (unsigned char)cred->value.ptr[i] >= 0x7f)
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_route_auth ra = {0};
    struct http_header h[FUZZ_MAX_FIELDS];
    struct slice query = {"", 0};
    struct credential cred;
    struct auth_error err;
    struct arena a;
    unsigned nh = 0;
    size_t start = 1;
    int rc;

    if (size == 0)
        return 0;
    ra.methods = (data[0] & 3) != 0 ? data[0] & 3 : AUTH_METHOD_JWT;
    ra.api_key_in_query = (data[0] & 4) != 0;
    ra.api_key_name = ra.api_key_in_query ? "api_key" : "X-API-Key";
    while (start < size) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl != NULL ? (size_t)(nl - data) : size;

        fuzz_line((struct slice){(const char *)data + start, end - start}, h,
                  &nh, &query);
        start = end + 1;
    }
    arena_init(&a, 1024, 1 << 20);
    rc = identity_extract(&ra, h, nh, query, &a, &cred, &err);
    fuzz_check(rc, &cred, &err, h, nh);
    arena_fini(&a);
    return 0;
}
