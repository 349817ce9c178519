/*
 * The inspect stage: injection, SSRF and path tricks in the values of a
 * request, on routes whose settings turn inspection on (config.h,
 * struct config_inspect).
 *
 * Values are read where they are, once: the segments of the normalised
 * path, query names and values, the configured header fields and the
 * cookies while the head is still in the input buffer; a JSON body
 * token by token as it streams in (string values, and member names for
 * NoSQL operators); a form body once it is read whole; an XML body
 * once it is read whole, as one value for the XXE detector alone (the
 * others would take its markup for injected tags). Each value is
 * decoded further only when it holds something to decode, narrowed to
 * the detectors whose patterns it holds (inspect_db_candidates), and
 * given to inspect_eval, which keeps the best verdict. SSRF is looked
 * for in query, form and JSON values only: a Referer or a cookie holds
 * URLs the backend does not fetch (an intranet page's address is a
 * Referer like any other). Findings that an
 * allow entry covers are never looked for. The scores of the findings
 * add up over the request.
 *
 * As for the contract, the verdict is kept and applied only in the
 * stage itself, after authentication, authorization, limits and the
 * contract: in block mode a request whose score reaches the threshold
 * is refused with 403 naming the location and the detector, never the
 * value. Every finding kept is an event with an excerpt cut and escaped
 * by inspect_excerpt; in log mode the request passes and the access log
 * names the strongest finding.
 */
#include <stdio.h>
#include <string.h>

#include "proxy_int.h"
#include "telemetry/telemetry.h"

#define INSPECT_KEEP 4            /* findings kept for events and logs */
#define INSPECT_LOCATION_CAP 160  /* "json:/a/b" and the like, cut */
#define INSPECT_EXCERPT_CAP 136   /* an escaped window, up to 4 bytes
                                     per byte of INSPECT_WINDOW_MAX */
#define INSPECT_POINTER_CAP 512   /* a JSON pointer followed; longer
                                     ones are cut */
#define INSPECT_DEC_FIRST 256     /* least size of a decode buffer */
#define INSPECT_MEMBERS_MAX 512   /* the problem's extra members */

enum inspect_body {
    INSPECT_BODY_NONE,
    INSPECT_BODY_JSON,
    INSPECT_BODY_FORM,
    INSPECT_BODY_XML,
};

/* One finding, copied out of the value it was found in. */
struct inspect_finding {
    const char *detector;
    const char *reason;
    const char *rule;
    unsigned score;
    char location[INSPECT_LOCATION_CAP];
    char excerpt[INSPECT_EXCERPT_CAP];
};

/* Where a value is: for allow entries, SSRF names and messages. */
struct inspect_place {
    enum config_inspect_where at;
    struct slice name; /* parameter, header, cookie or field name, or a
                          JSON pointer; borrowed */
    unsigned pos;      /* path: the segment's position, from 1; 0 for
                          the whole path */
};

/* A decode buffer in the request arena, grown when a value needs it. */
struct inspect_buf {
    char *p;
    size_t cap;
};

/* The inspection of one request (in the request arena). */
struct inspect_req {
    const struct config_inspect *in;
    struct inspect_scratch *scratch; /* the worker's */
    struct arena *arena;
    unsigned nvalues;
    unsigned score;                  /* the findings' sum, saturated */
    unsigned nfound;
    bool too_many;                   /* past max_values */
    bool nomem;                      /* the arena ran out: refused */
    struct inspect_finding *kept[INSPECT_KEEP]; /* the strongest
                                        findings, in no order */
    unsigned nkept;
    struct inspect_buf dec;          /* percent and entity decoding */
    struct inspect_buf html;         /* entities, for xss */
    struct inspect_buf name;         /* a decoded parameter name */

    /* The body. */
    enum inspect_body body;
    struct json_stream *stream;      /* NULL: the body is not streamed
                                        here (none, form, or fused with
                                        the contract's parser) */
    const char *json_reason;         /* a malformed JSON body's json.*
                                        reason; NULL: well formed */
    char *ptr;                       /* the JSON pointer of the token */
    size_t ptr_len;
    size_t *mark;                    /* by depth: pointer length of the
                                        container opened there */
    uint32_t *index;                 /* by depth: next item's index */
    bool *is_array;
    unsigned max_depth;
    size_t *ptr_lens;                /* lengths of ssrf.pointers */
    bool logged;                     /* passed with findings (log mode or
                                        under the threshold) */
};

static const enum inspect_origin origin_of[] = {
    [INSPECT_AT_PATH] = INSPECT_PATH_SEGMENT,
    [INSPECT_AT_QUERY] = INSPECT_QUERY_PARAM,
    [INSPECT_AT_HEADER] = INSPECT_HEADER,
    [INSPECT_AT_COOKIE] = INSPECT_COOKIE,
    [INSPECT_AT_FORM] = INSPECT_FORM_FIELD,
    [INSPECT_AT_JSON] = INSPECT_JSON_VALUE,
    [INSPECT_AT_XML] = INSPECT_XML_BODY,
};

static const char *const kind_name[] = {
    [INSPECT_AT_PATH] = "path",     [INSPECT_AT_QUERY] = "query",
    [INSPECT_AT_HEADER] = "header", [INSPECT_AT_COOKIE] = "cookie",
    [INSPECT_AT_FORM] = "form",     [INSPECT_AT_JSON] = "json",
    [INSPECT_AT_XML] = "xml",
};

/* True when name is one of list[0..n) (case-sensitive). */
static bool
listed(char *const *list, size_t n, struct slice name)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(list[i]) == name.len &&
            memcmp(list[i], name.ptr, name.len) == 0)
            return true;
    return false;
}

/* "kind:name", "path:N", or "path" and "xml" for a whole path and an
   XML body, of p into dst, cut to cap. */
static void
place_text(const struct inspect_place *p, char *dst, size_t cap)
{
    if (p->at == INSPECT_AT_PATH && p->pos == 0)
        snprintf(dst, cap, "path");
    else if (p->at == INSPECT_AT_XML)
        snprintf(dst, cap, "xml");
    else if (p->at == INSPECT_AT_PATH)
        snprintf(dst, cap, "path:%u", p->pos);
    else
        snprintf(dst, cap, "%s:%.*s", kind_name[p->at],
                 (int)MIN(p->name.len, cap), p->name.ptr);
}

/*
 * Keep a finding: add its score, and copy it when fewer than
 * INSPECT_KEEP are kept or it outscores the weakest kept.
 */
static void
found(struct inspect_req *k, const struct inspect_place *p,
      const struct inspect_value *v, const struct inspect_verdict *vd)
{
    struct inspect_finding *f;
    unsigned slot = k->nkept;

    k->nfound++;
    k->score = k->score + vd->score < k->score ? ~0u : k->score + vd->score;
    if (slot == INSPECT_KEEP) {
        slot = 0;
        for (unsigned i = 1; i < INSPECT_KEEP; i++)
            if (k->kept[i]->score < k->kept[slot]->score)
                slot = i;
        if (k->kept[slot]->score >= vd->score)
            return;
        f = k->kept[slot];
    } else {
        f = arena_alloc(k->arena, sizeof(*f));
        if (f == NULL) {
            k->nomem = true;
            return;
        }
        k->kept[k->nkept++] = f;
    }
    f->detector = vd->detector;
    f->reason = vd->reason;
    f->rule = vd->rule;
    f->score = vd->score;
    place_text(p, f->location, sizeof(f->location));
    inspect_excerpt(v, vd, f->excerpt, sizeof(f->excerpt));
}

/* A buffer of at least need bytes from the arena; NULL when full. */
static char *
buf_for(struct inspect_req *k, struct inspect_buf *b, size_t need)
{
    size_t n = need > INSPECT_DEC_FIRST ? need : INSPECT_DEC_FIRST;

    if (b->cap >= need)
        return b->p;
    b->p = arena_alloc(k->arena, n);
    b->cap = b->p != NULL ? n : 0;
    return b->p;
}

/* True when s holds something mode would decode. */
static bool
has_escapes(struct slice s, unsigned mode)
{
    return memchr(s.ptr, '%', s.len) != NULL ||
           ((mode & INSPECT_DECODE_PLUS) && memchr(s.ptr, '+', s.len)) ||
           ((mode & INSPECT_DECODE_HTML) && memchr(s.ptr, '&', s.len));
}

/*
 * Decode v's text by mode in rounds into b, when it holds anything to
 * decode; v->text then points into b. A mode of 0 leaves the text as it
 * is. False when out of memory.
 */
static bool
decode_into(struct inspect_req *k, struct inspect_buf *b,
            struct inspect_value *v, unsigned mode, unsigned rounds)
{
    size_t len = 0;
    char *out;

    if (mode == 0 || !has_escapes(v->text, mode))
        return true;
    out = buf_for(k, b, v->text.len);
    if (out == NULL ||
        inspect_decode(v->text, mode, rounds, out, b->cap, &len, &v->flags) !=
            AW_OK) {
        k->nomem = true;
        return false;
    }
    v->text = (struct slice){out, len};
    return true;
}

/*
 * Cross-site scripting reads text with HTML references decoded too,
 * which the other detectors must not see (an &amp; is no shell '&').
 * Returns the XSS verdict's value in *hv when it found one.
 */
static bool
xss_decoded(struct inspect_req *k, const struct inspect_value *v,
            struct inspect_value *hv, struct inspect_verdict *vd)
{
    *hv = *v;
    if (!decode_into(k, &k->html, hv, INSPECT_DECODE_HTML,
                     k->in->decode_rounds))
        return false;
    return inspect_db_candidates(k->in->db, k->scratch, hv->text,
                                 INSPECT_XSS) != 0 &&
           inspect_xss_match(hv, vd);
}

/*
 * Inspect one value at p with the detectors of mask (SSRF added by the
 * caller for URL values). text is as the layer that owns its syntax
 * gave it (raw for path, query, form and cookies, whose first decoding
 * is mode's first round); rounds bound inspect_decode.
 */
static void
inspect_text(struct inspect_req *k, const struct inspect_place *p,
             struct slice text, unsigned mode, unsigned rounds, unsigned mask)
{
    const struct config_inspect *in = k->in;
    struct inspect_value v = {text, origin_of[p->at], p->name, 0};
    struct inspect_value hv;
    struct inspect_verdict vd, hvd;
    bool hit, html;

    if (k->too_many || text.len == 0 || mask == 0)
        return;
    if (++k->nvalues > in->max_values) {
        k->too_many = true;
        return;
    }
    if (in->nallow > 0)
        mask &= ~config_inspect_allowed(in, p->at, p->name, p->pos);
    if (mask == 0 || !decode_into(k, &k->dec, &v, mode, rounds))
        return;
    html = (mask & INSPECT_XSS) && memchr(v.text.ptr, '&', v.text.len);
    mask = inspect_db_candidates(in->db, k->scratch, v.text, mask);
    if (html)
        mask &= ~INSPECT_XSS;
    hit = mask != 0 && inspect_eval(&v, mask, &in->ssrf, &vd);
    if (html && xss_decoded(k, &v, &hv, &hvd) &&
        (!hit || hvd.score > vd.score)) {
        found(k, p, &hv, &hvd);
        return;
    }
    if (hit)
        found(k, p, &v, &vd);
}

/*
 * Every segment of the normalised path, numbered from 1; and the whole
 * path for path traversal, whose paths of well-known secrets
 * (/.ssh/id_rsa, /.git/config) span segments. The whole path is
 * location "path".
 */
static void
inspect_path(struct inspect_req *k, struct slice path)
{
    struct inspect_place p = {INSPECT_AT_PATH, SLICE_NULL, 0};
    size_t i = 0;

    while (i < path.len) {
        size_t start;

        while (i < path.len && path.ptr[i] == '/')
            i++;
        start = i;
        while (i < path.len && path.ptr[i] != '/')
            i++;
        if (i == start)
            continue;
        p.pos++;
        inspect_text(k, &p, (struct slice){path.ptr + start, i - start},
                     INSPECT_DECODE_PERCENT, k->in->decode_rounds + 1,
                     k->in->detectors & ~INSPECT_SSRF);
    }
    /* After the segments, which name a finding more precisely. */
    p.pos = 0;
    if (path.len > 1 && memchr(path.ptr + 1, '/', path.len - 1) != NULL)
        inspect_text(k, &p, path, INSPECT_DECODE_PERCENT,
                     k->in->decode_rounds + 1,
                     k->in->detectors & INSPECT_TRAVERSAL);
}

/*
 * Name and value pairs of a query or a form body: the name (decoded
 * once, as the application reads it) is inspected as a value too, and
 * names the place of the value. Values of the configured URL
 * parameters go through SSRF checks whatever the detectors.
 */
static void
inspect_pairs(struct inspect_req *k, struct slice q,
              enum config_inspect_where at)
{
    const struct config_inspect *in = k->in;
    const unsigned mode = INSPECT_DECODE_PERCENT | INSPECT_DECODE_PLUS;
    struct slice name, value;
    size_t pos = 0;

    while (http_query_next(q, &pos, &name, &value)) {
        struct inspect_value nv = {name, origin_of[at], SLICE_NULL, 0};
        struct inspect_place p = {at, SLICE_NULL, 0};
        unsigned mask = in->detectors;

        if (!decode_into(k, &k->name, &nv, mode, 1))
            return;
        p.name = nv.text;
        inspect_text(k, &p, nv.text, INSPECT_DECODE_PERCENT,
                     in->decode_rounds, in->detectors);
        if (in->nssrf_params > 0 &&
            listed(in->ssrf_params, in->nssrf_params, p.name))
            mask |= INSPECT_SSRF;
        inspect_text(k, &p, value, mode, in->decode_rounds + 1, mask);
    }
}

/* The configured header fields, every occurrence. */
static void
inspect_headers(struct inspect_req *k, const struct http_request *h)
{
    const struct config_inspect *in = k->in;

    for (unsigned i = 0; i < h->nheaders; i++) {
        for (size_t j = 0; j < in->nheaders; j++) {
            struct inspect_place p = {
                INSPECT_AT_HEADER,
                {in->headers[j], strlen(in->headers[j])}, 0};

            if (!slice_is(h->headers[i].name, in->headers[j]))
                continue;
            inspect_text(k, &p, h->headers[i].value, INSPECT_DECODE_PERCENT,
                         in->decode_rounds, in->detectors & ~INSPECT_SSRF);
        }
    }
}

/* The cookies of one Cookie field: "a=1; b=2". */
static void
inspect_cookie_field(struct inspect_req *k, struct slice v)
{
    struct inspect_place p = {INSPECT_AT_COOKIE, SLICE_NULL, 0};
    struct slice value;
    size_t pos = 0;

    while (http_cookie_next(v, &pos, &p.name, &value))
        inspect_text(k, &p, value, INSPECT_DECODE_PERCENT,
                     k->in->decode_rounds + 1,
                     k->in->detectors & ~INSPECT_SSRF);
}

static void
inspect_cookies(struct inspect_req *k, const struct http_request *h)
{
    for (unsigned i = 0; i < h->nheaders; i++)
        if (slice_is(h->headers[i].name, "cookie"))
            inspect_cookie_field(k, h->headers[i].value);
}

/* The part of a Content-Type value before its parameters. */
static struct slice
media_type(struct slice v)
{
    size_t len = 0;

    while (len < v.len && v.ptr[len] != ';')
        len++;
    return slice_trim_blanks((struct slice){v.ptr, len});
}

/*
 * True when a media type names XML: application/xml, text/xml, or a
 * subtype ending in +xml (application/soap+xml, image/svg+xml), in any
 * case.
 */
static bool
media_is_xml(struct slice t)
{
    const char *slash = memchr(t.ptr, '/', t.len);

    if (slice_is(t, "application/xml") || slice_is(t, "text/xml"))
        return true;
    return slash != NULL && slash != t.ptr &&
           (size_t)(t.ptr + t.len - slash) > 5 &&
           slice_is((struct slice){t.ptr + t.len - 4, 4}, "+xml");
}

/*
 * Which body is inspected, judged from the head: JSON, a urlencoded
 * form, or XML when the XXE detector is on; any other body is
 * forwarded as it streams, unread. With several Content-Type fields
 * (which the backend may read either way) a body any of them calls
 * JSON is read as JSON, else one any calls a form as a form, else one
 * any calls XML as XML.
 */
static enum inspect_body
body_kind(const struct http_request *h, unsigned detectors)
{
    enum inspect_body kind = INSPECT_BODY_NONE;
    bool has_body = h->framing == HTTP_BODY_CHUNKED ||
                    (h->framing == HTTP_BODY_LENGTH && h->content_length > 0);

    for (unsigned i = 0; has_body && i < h->nheaders; i++) {
        struct slice v = h->headers[i].value;

        if (!slice_is(h->headers[i].name, "content-type"))
            continue;
        if (proxy_media_is_json(v))
            return INSPECT_BODY_JSON;
        if (slice_is(media_type(v), "application/x-www-form-urlencoded"))
            kind = INSPECT_BODY_FORM;
        else if (kind == INSPECT_BODY_NONE && (detectors & INSPECT_XXE) &&
                 media_is_xml(media_type(v)))
            kind = INSPECT_BODY_XML;
    }
    return kind;
}

/*
 * Make the worker's scratch fit db, reserving it only for a database
 * it was not reserved for yet: a scratch only grows, so it still fits
 * every database it was reserved for. A database is known by its
 * snapshot's generation with its address, which a later snapshot may
 * reuse for another one. AW_OK or AW_NOMEM.
 */
static int
scratch_fit(struct worker *w, const struct config *cfg,
            const struct inspect_db *db)
{
    const size_t n = PROXY_FITTED_DBS;
    int rc;

    for (size_t i = 0; i < n; i++)
        if (w->inspect_fitted[i].db == db &&
            w->inspect_fitted[i].generation == cfg->generation)
            return AW_OK;
    rc = inspect_scratch_reserve(&w->inspect_scratch, db);
    if (rc != AW_OK)
        return rc;
    memmove(&w->inspect_fitted[1], &w->inspect_fitted[0],
            (n - 1) * sizeof(w->inspect_fitted[0]));
    w->inspect_fitted[0].generation = cfg->generation;
    w->inspect_fitted[0].db = db;
    return AW_OK;
}

int
proxy_inspect_head(struct conn *c, struct request *r)
{
    const struct config_inspect *in = r->route->inspect;
    struct inspect_req *k;

    if (in == NULL)
        return AW_OK;
    k = arena_alloc(&c->arena, sizeof(*k));
    if (k == NULL)
        return AW_NOMEM;
    memset(k, 0, sizeof(*k));
    k->in = in;
    k->arena = &c->arena;
    if (scratch_fit(c->w, r->cfg, in->db) != AW_OK)
        return AW_NOMEM;
    k->scratch = c->w->inspect_scratch;
    r->inspect = k;
    inspect_path(k, r->path);
    if (r->h.query.ptr != NULL)
        inspect_pairs(k, r->h.query, INSPECT_AT_QUERY);
    inspect_headers(k, &r->h);
    if (in->cookies)
        inspect_cookies(k, &r->h);
    k->body = body_kind(&r->h, in->detectors);
    return k->nomem ? AW_NOMEM : AW_OK;
}

bool
proxy_inspect_wants_json(const struct request *r)
{
    return r->inspect != NULL && r->inspect->body == INSPECT_BODY_JSON;
}

bool
proxy_inspect_wants_body(const struct request *r)
{
    return r->inspect != NULL && r->inspect->body != INSPECT_BODY_NONE;
}

/*
 * JSON BODIES
 *
 * The pointer of each token is kept as the tokens come: a member name
 * or an array index is appended to the pointer of its container (whose
 * length is kept by depth), so that a string's place is known without
 * a tree. A pointer longer than INSPECT_POINTER_CAP is cut; a cut
 * pointer keeps its start, so an allow entry or an SSRF pointer (at
 * most 256 bytes) never covers a value that is not below it.
 */

/*
 * Append s, escaped as RFC 6901 says, to the pointer; cut when full.
 * Member names are short: one loop over the bytes beats scanning them
 * for the two that need an escape first.
 */
static void
ptr_append(struct inspect_req *k, struct slice s)
{
    char *p = k->ptr;
    size_t n = k->ptr_len;

    if (n < INSPECT_POINTER_CAP)
        p[n++] = '/';
    for (size_t i = 0; i < s.len && n + 2 <= INSPECT_POINTER_CAP; i++) {
        char ch = s.ptr[i];

        if (ch == '~' || ch == '/') {
            p[n++] = '~';
            p[n++] = ch == '~' ? '0' : '1';
        } else {
            p[n++] = ch;
        }
    }
    k->ptr_len = n;
}

/* True when ptr is one of the configured URL pointers. */
static bool
url_pointer(const struct inspect_req *k, struct slice ptr)
{
    const struct config_inspect *in = k->in;

    for (size_t i = 0; i < in->nssrf_pointers; i++)
        if (k->ptr_lens[i] == ptr.len &&
            memcmp(in->ssrf_pointers[i], ptr.ptr, ptr.len) == 0)
            return true;
    return false;
}

/* Point at the next item of the array at depth d - 1. */
static void
ptr_item(struct inspect_req *k, unsigned d)
{
    char num[16];
    size_t i = sizeof(num);
    uint32_t n = k->index[d - 1]++;

    do {
        num[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    k->ptr_len = k->mark[d - 1];
    ptr_append(k, (struct slice){num + i, sizeof(num) - i});
}

/*
 * True when a member name may name a NoSQL operator: the detector wants
 * a '$', which a percent-encoding may hide. Most names hold neither,
 * and skip the scan.
 */
static bool
name_may_be_operator(struct slice name)
{
    for (size_t i = 0; i < name.len; i++)
        if (name.ptr[i] == '$' || name.ptr[i] == '%')
            return true;
    return false;
}

/*
 * A token of the body, with the detectors that apply to it when it is
 * a string (the schema may narrow them; the caller decides). Member
 * names are read for NoSQL operators only.
 */
static void
json_token(struct inspect_req *k, const struct json_token *t, unsigned mask)
{
    const struct config_inspect *in = k->in;
    struct inspect_place p = {INSPECT_AT_JSON, SLICE_NULL, 0};
    unsigned d = t->depth;

    if (d > k->max_depth)
        return;
    if (d > 0 && t->kind != JSON_TOK_NAME && k->is_array[d - 1] &&
        t->kind != JSON_TOK_OBJECT_END && t->kind != JSON_TOK_ARRAY_END)
        ptr_item(k, d);
    switch (t->kind) {
    case JSON_TOK_OBJECT_BEGIN:
    case JSON_TOK_ARRAY_BEGIN:
        k->mark[d] = k->ptr_len;
        k->index[d] = 0;
        k->is_array[d] = t->kind == JSON_TOK_ARRAY_BEGIN;
        return;
    case JSON_TOK_NAME:
        k->ptr_len = k->mark[d - 1];
        ptr_append(k, t->text);
        p.name = (struct slice){k->ptr, k->ptr_len};
        if (name_may_be_operator(t->text))
            inspect_text(k, &p, t->text, INSPECT_DECODE_PERCENT,
                         in->decode_rounds,
                         mask & in->detectors & INSPECT_NOSQL);
        return;
    case JSON_TOK_STRING:
        p.name = (struct slice){k->ptr, k->ptr_len};
        if (in->nssrf_pointers > 0 && url_pointer(k, p.name))
            mask |= INSPECT_SSRF;
        inspect_text(k, &p, t->text, INSPECT_DECODE_PERCENT,
                     in->decode_rounds, mask);
        return;
    default:
        return;
    }
}

static int
on_json_token(void *ctx, const struct json_token *t)
{
    struct inspect_req *k = ctx;

    json_token(k, t, k->in->detectors);
    return AW_OK;
}

/*
 * The detectors a string gets under a schema. Only strings are read
 * (member names were checked by the schema); a string the schema
 * closes (an enum, a const, a date or uuid and the like) cannot carry
 * an injection once valid, and a uri gets the SSRF checks besides.
 */
static unsigned
schema_mask(const struct config_inspect *in, const struct json_token *t,
            unsigned string_kind)
{
    if (t->kind != JSON_TOK_STRING || (string_kind & SCHEMA_STRING_CLOSED))
        return 0;
    if (string_kind & SCHEMA_STRING_URI)
        return in->detectors | INSPECT_SSRF;
    return in->detectors;
}

void
proxy_inspect_json_token(struct request *r, const struct json_token *t,
                         bool schema, unsigned string_kind)
{
    struct inspect_req *k = r->inspect;

    if (k == NULL || k->body != INSPECT_BODY_JSON || k->mark == NULL)
        return;
    if (!schema) {
        json_token(k, t, k->in->detectors);
        return;
    }
    /* Names still move the pointer, with no detector. */
    json_token(k, t, schema_mask(k->in, t, string_kind));
}

/* Room for the pointer and the per-depth state of max_depth levels. */
static int
json_begin(struct inspect_req *k, unsigned max_depth)
{
    size_t n = (size_t)max_depth + 1;

    k->max_depth = max_depth;
    k->ptr = arena_alloc(k->arena, INSPECT_POINTER_CAP);
    k->mark = arena_alloc(k->arena, n * sizeof(*k->mark));
    k->index = arena_alloc(k->arena, n * sizeof(*k->index));
    k->is_array = arena_alloc(k->arena, n * sizeof(*k->is_array));
    k->ptr_lens = arena_alloc(k->arena, (k->in->nssrf_pointers + 1) *
                                            sizeof(*k->ptr_lens));
    if (k->ptr == NULL || k->mark == NULL || k->index == NULL ||
        k->is_array == NULL || k->ptr_lens == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < k->in->nssrf_pointers; i++)
        k->ptr_lens[i] = strlen(k->in->ssrf_pointers[i]);
    memset(k->is_array, 0, n * sizeof(*k->is_array));
    return AW_OK;
}

int
proxy_inspect_body_begin(struct conn *c, struct request *r)
{
    struct inspect_req *k = r->inspect;
    struct json_limits lim;
    int rc;

    if (k == NULL || k->body != INSPECT_BODY_JSON)
        return AW_OK;
    if (r->contract != NULL && r->contract->stream != NULL)
        return json_begin(k, r->contract->body.json_limits->max_depth);
    json_limits_default(&lim);
    lim.max_bytes = (size_t)r->body_max;
    rc = json_begin(k, lim.max_depth);
    if (rc != AW_OK)
        return rc;
    k->stream = json_stream_new(&lim, on_json_token, k, &c->arena);
    return k->stream != NULL ? AW_OK : AW_NOMEM;
}

void
proxy_inspect_feed(struct request *r, const char *p, size_t n)
{
    struct inspect_req *k = r->inspect;
    struct json_error err;

    /* A failure is sticky in the parser; json_stream_finish reports it. */
    if (k != NULL && k->stream != NULL && n > 0)
        (void)json_stream_feed(k->stream, p, n, &err);
}

/*
 * An XML body, whole and undecoded (a '%' in XML is markup), is one
 * value for the XXE detector; allow entries name it "xml".
 */
static void
inspect_xml(struct inspect_req *k, struct slice body)
{
    struct inspect_place p = {INSPECT_AT_XML, SLICE_NULL, 0};

    inspect_text(k, &p, body, 0, 0, k->in->detectors & INSPECT_XXE);
}

void
proxy_inspect_body_end(struct conn *c, struct request *r)
{
    struct inspect_req *k = r->inspect;
    struct json_error err = {0};

    (void)c;
    if (k == NULL)
        return;
    if (k->body == INSPECT_BODY_FORM && r->body_len > 0)
        inspect_pairs(k, (struct slice){r->body, r->body_len},
                      INSPECT_AT_FORM);
    if (k->body == INSPECT_BODY_XML)
        inspect_xml(k, (struct slice){r->body, r->body_len});
    if (k->stream == NULL || json_stream_finish(k->stream, &err) == AW_OK)
        return;
    k->json_reason = err.reason != NULL ? err.reason : "json.syntax";
}

/*
 * THE DECISION
 */

/* The strongest finding kept; NULL when none. */
static const struct inspect_finding *
strongest(const struct inspect_req *k)
{
    const struct inspect_finding *best = NULL;

    for (unsigned i = 0; i < k->nkept; i++)
        if (best == NULL || k->kept[i]->score > best->score)
            best = k->kept[i];
    return best;
}

/* One event per finding kept; outcome says whether it was refused. */
static void
inspect_events(struct conn *c, struct request *r, const char *outcome)
{
    const struct inspect_req *k = r->inspect;
    char method[16], path[513];
    struct security_event e = {0};

    if (!events_enabled())
        return;
    slice_copy_cstr(method, sizeof(method), r->method);
    slice_copy_cstr(path, sizeof(path), r->path);
    e.action = "inspect.finding";
    e.category = "intrusion_detection";
    e.outcome = outcome;
    e.request_id = r->id;
    e.method = method;
    e.path = path;
    e.route = r->route->name;
    e.client_ip = c->peer_text;
    for (unsigned i = 0; i < k->nkept; i++) {
        const struct inspect_finding *f = k->kept[i];

        /* A finding in the path has the payload in it: the excerpt is
           all of it an event may carry. */
        if (strncmp(f->location, "path:", 5) == 0)
            e.path = NULL;
    }
    for (unsigned i = 0; i < k->nkept; i++) {
        const struct inspect_finding *f = k->kept[i];

        e.reason = f->reason;
        e.rule_id = f->rule;
        e.detector = f->detector;
        e.location = f->location;
        e.excerpt = f->excerpt;
        e.score = f->score;
        e.severity = f->score >= 80 ? 7 : 5;
        events_emit(c->w->id, &e);
    }
    if (k->too_many) {
        e = (struct security_event){
            .action = "inspect.finding", .reason = "inspect.too_many_values",
            .outcome = outcome, .severity = 4, .request_id = r->id,
            .method = method, .path = e.path, .route = r->route->name,
            .client_ip = c->peer_text};
        events_emit(c->w->id, &e);
    }
}

/* ,"location":"...","detector":"..." for the problem, in the arena. */
static struct slice
problem_members(struct conn *c, const struct inspect_finding *f)
{
    struct buf b = {arena_alloc(&c->arena, INSPECT_MEMBERS_MAX), 0, 0,
                    INSPECT_MEMBERS_MAX};

    if (b.data == NULL ||
        buf_append(&b, ",\"location\":\"", 13) != AW_OK ||
        json_escape_append(&b, (struct slice){f->location,
                                              strlen(f->location)},
                           INSPECT_LOCATION_CAP) != AW_OK ||
        buf_printf(&b, "\",\"detector\":\"%s\"", f->detector) != AW_OK)
        return SLICE_NULL;
    return (struct slice){b.data, b.end};
}

/* Refuse r in block mode: the strongest finding names the reason. */
static void
inspect_refuse(struct conn *c, struct request *r)
{
    const struct inspect_req *k = r->inspect;
    const struct inspect_finding *f = strongest(k);

    if (k->too_many) {
        conn_refuse(c, 403, "inspect.too_many_values",
                    "The request holds more values than are inspected.");
        return;
    }
    r->problem_members = problem_members(c, f);
    conn_refuse(c, 403, f->reason,
                "A value of the request looks like an attack; the "
                "location and the detector are named.");
}

int
proxy_inspect(struct conn *c, struct request *r)
{
    struct inspect_req *k = r->inspect;
    const struct config_inspect *in;
    bool refuse;

    if (k == NULL)
        return AW_OK;
    in = k->in;
    if (k->nomem) {
        conn_refuse(c, 500, "gateway.no_memory", "Out of request memory.");
        return AW_DECLINED;
    }
    if (k->json_reason != NULL && !in->monitor) {
        conn_refuse(c, 400, k->json_reason, "The body is not valid JSON.");
        return AW_DECLINED;
    }
    refuse = !in->monitor && (k->too_many ||
                              (k->nkept > 0 && k->score >= in->threshold));
    if (k->nkept > 0 || k->too_many)
        inspect_events(c, r, refuse ? "denied" : "monitored");
    if (refuse) {
        inspect_refuse(c, r);
        return AW_DECLINED;
    }
    k->logged = k->nkept > 0 || k->too_many;
    return AW_OK;
}

const char *
proxy_inspect_logged(const struct request *r, const char **location)
{
    const struct inspect_req *k = r->inspect;
    const struct inspect_finding *f;

    if (k == NULL || !k->logged)
        return NULL;
    f = strongest(k);
    if (f == NULL) {
        *location = NULL;
        return "inspect.too_many_values";
    }
    *location = f->location;
    return f->reason;
}
