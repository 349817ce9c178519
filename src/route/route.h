/*
 * route: host + method + path template -> route, compiled once per
 * configuration snapshot and matched per request without allocating.
 *
 * A path template is a sequence of '/'-separated segments, each either a
 * literal ("users"), a parameter that takes one whole segment ("{id}"), or,
 * as the last segment only, a rest parameter that takes the remaining
 * path, possibly empty ("{rest*}"). A route may instead be a prefix: it
 * matches its path and everything under it.
 *
 * When several routes match, the most specific wins, whatever their order
 * in the file: an exact host beats a wildcard host ("*.example.com"),
 * which beats any host; then, segment by segment from the left, a literal
 * beats a parameter, which beats a rest parameter or a prefix end; then a
 * longer template beats a shorter one. Two routes that are equally
 * specific for the same host and method are a configuration error.
 *
 * Details that follow from these rules:
 * - among wildcards, the longer suffix wins ("*.eu.example.com" over
 *   "*.example.com"); a wildcard needs at least one label in front, so
 *   "*.example.com" does not match "example.com";
 * - a route matches only if its method does too: a request that an
 *   exact-host route refuses by method may still reach a less specific
 *   route that accepts it; GET does not imply HEAD;
 * - trailing slashes count: "/users/{id}" matches "/users/42" but not
 *   "/users/42/"; a parameter never matches an empty segment; a rest
 *   parameter may take an empty remainder ("/files/{p*}" matches
 *   "/files/" but not "/files");
 * - on a path that ends where both an exact template and a prefix end,
 *   the exact template wins ("/api" over the prefix "/api");
 * - a prefix's trailing slash is dropped: as prefixes, "/api/" and
 *   "/api" are the same route, matching "/api", "/api/" and "/api/x" but
 *   not "/apix";
 * - literal segments must be written in the form http_normalize_path
 *   produces (upper-case escapes, unreserved characters not escaped);
 *   parameter values stay percent-encoded as they were in the path.
 */
#ifndef APIWARD_ROUTE_H
#define APIWARD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "http/http.h"

#define ROUTE_MAX_PARAMS 8
#define ROUTE_MAX_SEGMENTS 32

/* One route as written in the configuration. */
struct route_def {
    const char *name;  /* unique name, used in logs and metrics */
    const char *host;  /* exact host, "*.suffix", or NULL (or "*") for
                          any; no port; IPv6 with or without brackets */
    uint32_t methods;  /* bit (1u << enum http_method); 0 means any */
    const char *path;  /* template, starts with '/' */
    bool prefix;       /* match path and everything below it */
    void *data;        /* caller's per-route data, returned on match */
};

/* Captured parameters; slices point into the matched path. */
struct route_params {
    unsigned n;
    struct slice name[ROUTE_MAX_PARAMS];
    struct slice value[ROUTE_MAX_PARAMS];
};

struct route_table;

/*
 * Compile n definitions. The table copies what it needs from defs
 * (names, templates, host) except data, which stays the caller's.
 * Returns AW_OK with *out set; AW_INVALID with a message in err (which
 * names the route, or both routes of a conflict) for a bad template, a
 * bad host, unknown method bits, a repeated name, too many parameters or
 * segments, or two equally specific routes; AW_NOMEM. err is always
 * NUL-terminated when errlen > 0; *out is NULL on failure.
 */
int route_table_new(const struct route_def *defs, size_t n,
                    struct route_table **out, char *err, size_t errlen);

/* Free a table; accepts NULL. */
void route_table_free(struct route_table *t);

/* Outcome of route_match. */
enum route_result {
    ROUTE_FOUND,          /* *def and params are set */
    ROUTE_NOT_FOUND,      /* no route has this host and path */
    ROUTE_BAD_METHOD,     /* the path exists for other methods only */
};

/*
 * Find the route for a normalised path. host is the Host value, possibly
 * with a port, which is ignored; host comparison is case-insensitive and
 * one trailing dot is ignored. On ROUTE_BAD_METHOD, *allowed receives
 * the bitmask of methods that would have matched (for the Allow header),
 * gathered over every host group and route that has the path; otherwise
 * it is 0. params->n is 0 unless ROUTE_FOUND. Allocates nothing; t may
 * be shared by any number of threads. See route.c for the cost.
 */
enum route_result route_match(const struct route_table *t, struct slice host,
                              enum http_method method, struct slice path,
                              const struct route_def **def,
                              struct route_params *params, uint32_t *allowed);

#endif
