/*
 * libFuzzer driver for the configuration loader.
 *
 * The input is a YAML file, loaded from memory with host-name resolution
 * off so that no input reaches the network. Whatever the bytes, the
 * loader must either produce a snapshot whose references hold together
 * or report at least one positioned problem. An input that starts with
 * "#addr\n" instead feeds each following line to the address, range
 * and URL parsers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_NAME "fuzz.yaml"

/* A loaded snapshot must be complete: every pointer the proxy follows. */
static void
fuzz_check_snapshot(const struct config *c)
{
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
    struct sockaddr_in a4 = {.sin_family = AF_INET};

    if (c->refs != 1 || c->nlisteners == 0 || c->nlisteners > 16 ||
        c->nupstreams == 0 || c->nroutes == 0 || c->route_table == NULL)
        abort();
    for (size_t i = 0; i < c->nroutes; i++) {
        const struct config_route *r = &c->routes[i];

        if (r->upstream < c->upstreams ||
            r->upstream >= c->upstreams + c->nupstreams || r->path[0] != '/' ||
            r->index != i || r->max_body_bytes > c->limits.max_body_bytes)
            abort();
    }
    for (size_t i = 0; i < c->nupstreams; i++)
        if (c->upstreams[i].nservers == 0)
            abort();
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &a6.sin6_addr);
    inet_pton(AF_INET, "10.1.2.3", &a4.sin_addr);
    /* The mapped and plain forms of one address must agree. */
    if (config_is_trusted_proxy(c, (struct sockaddr *)&a6) !=
        config_is_trusted_proxy(c, (struct sockaddr *)&a4))
        abort();
}

/*
 * The identity part of a snapshot: every issuer holds a key source and
 * something to check, and every route's auth points into the snapshot.
 */
static void
fuzz_check_identity(const struct config *c)
{
    for (size_t i = 0; i < c->nissuers; i++) {
        const struct config_issuer *iss = &c->issuers[i];

        if (iss->index != i || iss->keys == NULL || iss->algorithms == 0 ||
            iss->naudiences == 0 || iss->issuer == NULL)
            abort();
    }
    for (size_t i = 0; i < c->nroutes; i++) {
        const struct config_route_auth *ra = c->routes[i].auth;

        if (ra == NULL)
            continue;
        if (ra->methods == 0 ||
            (ra->methods & ~(uint32_t)(AUTH_METHOD_JWT | AUTH_METHOD_API_KEY)))
            abort();
        if ((ra->methods & AUTH_METHOD_JWT) && ra->nissuers == 0)
            abort();
        if ((ra->methods & AUTH_METHOD_API_KEY) && c->api_keys == NULL)
            abort();
        for (size_t j = 0; j < ra->nissuers; j++)
            if (ra->issuers[j] < c->issuers ||
                ra->issuers[j] >= c->issuers + c->nissuers)
                abort();
    }
}

static void
fuzz_check_errors(const struct config_errors *errs)
{
    if (errs->n == 0 || errs->n > CONFIG_MAX_ERRORS)
        abort();
    for (size_t i = 0; i < errs->n; i++) {
        if (memchr(errs->msg[i], '\0', sizeof(errs->msg[i])) == NULL ||
            strncmp(errs->msg[i], FUZZ_NAME ":", strlen(FUZZ_NAME) + 1) != 0)
            abort();
    }
}

/* One line through each address parser; results must be sane. */
static void
fuzz_addr_line(const char *line)
{
    struct config_addr a;
    struct config_cidr r;
    char err[128], hostport[300];

    if (config_addr_parse(line, false, &a, err, sizeof(err)) == AW_OK &&
        (a.text[0] == '\0' || a.len == 0))
        abort();
    if (config_cidr_parse(line, &r, err, sizeof(err)) == AW_OK &&
        r.bits > (r.family == AF_INET ? 32u : 128u))
        abort();
    if (config_url_to_addr(line, hostport, sizeof(hostport), err,
                           sizeof(err)) == AW_OK) {
        if (strchr(hostport, ':') == NULL)
            abort();
        config_addr_parse(hostport, false, &a, err, sizeof(err));
    }
}

static void
fuzz_addrs(const uint8_t *data, size_t size)
{
    char line[512];
    size_t start = 0;

    while (start < size) {
        const uint8_t *nl = memchr(data + start, '\n', size - start);
        size_t end = nl != NULL ? (size_t)(nl - data) : size;
        size_t len = MIN(end - start, sizeof(line) - 1);

        memcpy(line, data + start, len);
        line[len] = '\0';
        fuzz_addr_line(line);
        start = end + 1;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config_errors errs;
    struct config *c = NULL;
    int rc;

    if (size >= 6 && memcmp(data, "#addr\n", 6) == 0) {
        fuzz_addrs(data + 6, size - 6);
        return 0;
    }
    rc = config_load_string(FUZZ_NAME, (const char *)data, size,
                            CONFIG_LOAD_NO_RESOLVE, &c, &errs);
    if (rc == AW_OK) {
        if (errs.n != 0)
            abort();
        fuzz_check_snapshot(c);
        fuzz_check_identity(c);
        config_unref(c);
    } else if (rc == AW_INVALID) {
        fuzz_check_errors(&errs);
    } else if (rc != AW_NOMEM) {
        abort();
    }
    return 0;
}
