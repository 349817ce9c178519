/*
 * Path templates and the matching of a request to an operation.
 *
 * The route table of src/route does the work: each template becomes a
 * route whose segments holding a parameter are whole-segment
 * parameters ("/files/{name}.{ext}" is the route "/files/{p0}"), so
 * the table's rules apply (a literal segment beats a parameter, then
 * the longer template wins, no allocation per match). A segment that
 * mixes literals and parameters is then split by openapi_match.
 *
 * Consequence: two templates that differ only inside such segments
 * ("/files/{name}.json" and "/files/{id}") are the same route to the
 * table and are refused at load as equally specific.
 */
#include <stdio.h>
#include <string.h>

#include "contract/openapi_int.h"

/* Append a part to the segment being parsed. */
static int
oas_part_add(struct oas_build *b, struct oas_part *parts, unsigned *n,
             const struct oas_loc *at, struct oas_part part)
{
    if (*n == 8)
        return oas_fail(b, at, AW_INVALID, "a template segment with more "
                        "than 8 parts");
    parts[(*n)++] = part;
    return AW_OK;
}

/* Record a template parameter name, refusing repeats. */
static int
oas_param_name(struct oas_build *b, struct oas_path *p,
               const struct oas_loc *at, struct slice name, int *index)
{
    char *copy;

    if (name.len == 0)
        return oas_fail(b, at, AW_INVALID, "an empty {} in the template");
    for (unsigned i = 0; i < p->nparams; i++)
        if (strlen(p->pname[i]) == name.len &&
            memcmp(p->pname[i], name.ptr, name.len) == 0)
            return oas_fail(b, at, AW_INVALID, "a template parameter "
                            "appears twice");
    if (p->nparams == OPENAPI_MAX_PATH_PARAMS)
        return oas_fail(b, at, AW_INVALID, "more than %d template "
                        "parameters", OPENAPI_MAX_PATH_PARAMS);
    copy = arena_dup(&b->api->arena, name.ptr, name.len);
    if (copy == NULL)
        return AW_NOMEM;
    *index = (int)p->nparams;
    p->pname[p->nparams++] = copy;
    return AW_OK;
}

/*
 * Split one segment into literal and parameter parts. Two parameters
 * side by side cannot be told apart and are refused.
 */
static int
oas_seg_parse(struct oas_build *b, struct oas_path *p,
              const struct oas_loc *at, struct slice seg,
              struct oas_part *parts, unsigned *n)
{
    size_t i = 0;
    int rc;

    *n = 0;
    while (i < seg.len) {
        const char *open = memchr(seg.ptr + i, '{', seg.len - i);
        size_t lit = open != NULL ? (size_t)(open - seg.ptr) - i
                                  : seg.len - i;
        const char *close;
        int index = -1;

        if (memchr(seg.ptr + i, '}', lit) != NULL)
            return oas_fail(b, at, AW_INVALID, "a '}' without '{' in the "
                            "template");
        if (lit > 0) {
            rc = oas_part_add(b, parts, n, at, (struct oas_part){
                                  {seg.ptr + i, lit}, -1});
            if (rc != AW_OK)
                return rc;
        }
        if (open == NULL)
            break;
        close = memchr(open, '}', seg.len - (size_t)(open - seg.ptr));
        if (close == NULL || memchr(open + 1, '{', (size_t)(close - open)))
            return oas_fail(b, at, AW_INVALID, "a '{' without '}' in the "
                            "template");
        if (*n > 0 && parts[*n - 1].param >= 0)
            return oas_fail(b, at, AW_INVALID, "two template parameters "
                            "side by side cannot be told apart");
        rc = oas_param_name(b, p, at, (struct slice){open + 1,
                            (size_t)(close - open) - 1}, &index);
        if (rc == AW_OK)
            rc = oas_part_add(b, parts, n, at, (struct oas_part){
                                  SLICE_NULL, index});
        if (rc != AW_OK)
            return rc;
        i = (size_t)(close - seg.ptr) + 1;
    }
    return AW_OK;
}

/* Keep a segment that holds parameters, for openapi_match. */
static int
oas_seg_keep(struct oas_build *b, struct oas_path *p, struct oas_seg *segs,
             const struct oas_part *parts, unsigned n)
{
    struct oas_part *copy = arena_alloc(&b->api->arena, n * sizeof(*copy));

    if (copy == NULL)
        return AW_NOMEM;
    memcpy(copy, parts, n * sizeof(*copy));
    segs[p->nsegs++] = (struct oas_seg){copy, n};
    return AW_OK;
}

int
oas_template_parse(struct oas_build *b, struct oas_path *p,
                   const struct oas_loc *at, const char **route)
{
    size_t len = strlen(p->tpl), o = 0, i = 1;
    struct oas_seg *segs = arena_alloc(&b->api->arena,
                                       ROUTE_MAX_SEGMENTS * sizeof(*segs));
    char *r = arena_alloc(&b->api->arena, len + 4 * ROUTE_MAX_SEGMENTS + 2);

    if (segs == NULL || r == NULL)
        return AW_NOMEM;
    p->segs = segs;
    for (;;) {
        const char *slash = memchr(p->tpl + i, '/', len - i);
        size_t end = slash != NULL ? (size_t)(slash - p->tpl) : len;
        struct oas_part parts[8];
        unsigned n;
        int rc = oas_seg_parse(b, p, at, (struct slice){p->tpl + i, end - i},
                               parts, &n);

        if (rc != AW_OK)
            return rc;
        r[o++] = '/';
        if (n == 1 && parts[0].param < 0) {
            memcpy(r + o, parts[0].lit.ptr, parts[0].lit.len);
            o += parts[0].lit.len;
        } else if (n > 0) {
            if (p->nsegs == ROUTE_MAX_SEGMENTS)
                return oas_fail(b, at, AW_INVALID, "too many segments");
            o += (size_t)snprintf(r + o, 8, "{p%u}", p->nsegs);
            rc = oas_seg_keep(b, p, segs, parts, n);
            if (rc != AW_OK)
                return rc;
        }
        if (slash == NULL)
            break;
        i = end + 1;
    }
    r[o] = '\0';
    *route = r;
    return AW_OK;
}

int
oas_routes_build(struct oas_build *b)
{
    struct openapi *api = b->api;
    struct route_def *defs = arena_alloc(&api->arena, (api->npaths + 1) *
                                                          sizeof(*defs));
    size_t n = 0;
    char msg[256];
    int rc;

    if (defs == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < api->npaths; i++) {
        uint32_t methods = 0;

        for (unsigned m = 0; m < HTTP_METHOD_COUNT; m++)
            if (api->paths[i].ops[m] != NULL)
                methods |= 1u << m;
        if (methods == 0)
            continue; /* no operation: no route (0 would mean any) */
        defs[n++] = (struct route_def){.name = api->paths[i].tpl,
                                       .methods = methods,
                                       .path = api->routes_tpl[i],
                                       .data = &api->paths[i]};
    }
    rc = route_table_new(defs, n, &api->routes, msg, sizeof(msg));
    if (rc != AW_OK)
        return oas_fail(b, &(struct oas_loc){0, "/paths"}, rc,
                        "templates that cannot be matched: %s", msg);
    return AW_OK;
}

/* Find lit in s[lo..hi) from the right; the offset or -1. */
static long
oas_rfind(struct slice s, size_t lo, size_t hi, struct slice lit)
{
    if (hi < lo || hi - lo < lit.len)
        return -1;
    for (size_t x = hi - lit.len + 1; x-- > lo;)
        if (memcmp(s.ptr + x, lit.ptr, lit.len) == 0)
            return (long)x;
    return -1;
}

/*
 * Split the value of a segment by its parts. Literals at either end
 * must be there; between parameters, each separator is taken at its
 * rightmost place that leaves every parameter at least one byte, so an
 * earlier parameter takes as much as it can ("a.b.c" against
 * "{name}.{ext}" gives "a.b" and "c"). False when the value does not
 * fit the parts.
 */
static bool
oas_seg_split(const struct oas_seg *seg, struct slice v,
              struct openapi_match *m)
{
    size_t lo = 0, hi = v.len;
    unsigned first = 0, last = seg->nparts;

    if (seg->parts[0].param < 0) {
        struct slice l = seg->parts[first++].lit;

        if (v.len < l.len || memcmp(v.ptr, l.ptr, l.len) != 0)
            return false;
        lo = l.len;
    }
    if (seg->parts[last - 1].param < 0) {
        struct slice l = seg->parts[--last].lit;

        if (hi - lo < l.len || memcmp(v.ptr + hi - l.len, l.ptr, l.len))
            return false;
        hi -= l.len;
    }
    for (unsigned k = last; k-- > first + 1;) {
        const struct oas_part *pt = &seg->parts[k];
        long x;

        if (pt->param < 0)
            continue;
        x = oas_rfind(v, lo + 1, hi - 1, seg->parts[k - 1].lit);
        if (x < 0)
            return false;
        m->value[pt->param] = (struct slice){
            v.ptr + x + seg->parts[k - 1].lit.len,
            hi - (size_t)x - seg->parts[k - 1].lit.len};
        hi = (size_t)x;
        k--;
    }
    if (hi <= lo)
        return false;
    m->value[seg->parts[first].param] = (struct slice){v.ptr + lo, hi - lo};
    return true;
}

/* Fill m's values from the route's parameters ("p<k>" is segment k). */
static bool
oas_match_values(const struct oas_path *p, const struct route_params *rp,
                 struct openapi_match *m)
{
    for (unsigned i = 0; i < rp->n; i++) {
        uint64_t k;
        const struct oas_seg *seg;

        if (slice_to_u64((struct slice){rp->name[i].ptr + 1,
                                        rp->name[i].len - 1},
                         p->nsegs - 1, &k) != AW_OK)
            return false;
        seg = &p->segs[k];
        if (seg->nparts == 1)
            m->value[seg->parts[0].param] = rp->value[i];
        else if (!oas_seg_split(seg, rp->value[i], m))
            return false;
    }
    m->n = p->nparams;
    for (unsigned i = 0; i < p->nparams; i++)
        m->name[i] = p->pname[i];
    return true;
}

enum openapi_result
openapi_match(const struct openapi *api, enum http_method method,
              struct slice path, struct openapi_match *m)
{
    const struct route_def *def = NULL;
    struct route_params rp;
    struct slice rest = path;
    enum route_result r;
    const struct oas_path *p;

    memset(m, 0, sizeof(*m));
    if (api->base.len > 0) {
        if (path.len < api->base.len ||
            memcmp(path.ptr, api->base.ptr, api->base.len) != 0 ||
            (path.len > api->base.len && path.ptr[api->base.len] != '/'))
            return OPENAPI_NOT_FOUND;
        rest = (struct slice){path.ptr + api->base.len,
                              path.len - api->base.len};
        if (rest.len == 0)
            rest = SLICE_LIT("/");
    }
    if (api->routes == NULL)
        return OPENAPI_NOT_FOUND;
    r = route_match(api->routes, SLICE_NULL, method, rest, &def, &rp,
                    &m->allowed);
    if (r == ROUTE_BAD_METHOD)
        return OPENAPI_BAD_METHOD;
    if (r != ROUTE_FOUND)
        return OPENAPI_NOT_FOUND;
    p = def->data;
    if (!oas_match_values(p, &rp, m)) {
        memset(m, 0, sizeof(*m));
        return OPENAPI_NOT_FOUND;
    }
    m->op = p->ops[method];
    return OPENAPI_FOUND;
}
