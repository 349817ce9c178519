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
    const char *host;  /* exact host, "*.suffix", or NULL for any */
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
 * names the route) for a bad template, too many parameters or segments,
 * or two equally specific routes; AW_NOMEM.
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
 * with a port, which is ignored; host comparison is case-insensitive.
 * On ROUTE_BAD_METHOD, *allowed receives the bitmask of methods that
 * would have matched (for the Allow header).
 */
enum route_result route_match(const struct route_table *t, struct slice host,
                              enum http_method method, struct slice path,
                              const struct route_def **def,
                              struct route_params *params, uint32_t *allowed);

#endif
