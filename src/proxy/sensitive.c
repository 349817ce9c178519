/*
 * Sensitive data in response bodies (inspect.responses, see
 * docs/inspect.md): a route whose responses.sensitive is log, mask or
 * block has every response body it can read held whole (hold.c) and
 * scanned for the kinds it asks for (src/inspect/sensitive.c).
 *
 *   log    an event names the kinds, their counts, and each finding's
 *          offset, length and masked form (never the value); the body
 *          passes as it came;
 *   mask   the same event, and the body is sent masked: the same length,
 *          so JSON stays valid and the Content-Length holds;
 *   block  the same event, and the client gets a 502 problem
 *          inspect.sensitive_data instead of the body.
 *
 * Only a body in the identity encoding, of a JSON or text media type,
 * and within responses.max_body is read: a compressed body cannot be
 * scanned without inflating it, and a larger one would cost its whole
 * size in memory. Such a body passes with an event
 * (inspect.sensitive_unscanned), whatever the mode. A scan that fails
 * (no memory for Vectorscan's scratch) fails closed in mask and block
 * modes.
 */
#include <stdio.h>
#include <string.h>

#include "inspect/inspect.h"
#include "proxy_int.h"

#define FINDINGS_LISTED 16   /* findings described in one event */
#define FINDINGS_MAX 2048    /* bytes of that description */
#define MASKED_SHOWN 24      /* bytes of a masked form in it */

/* The value of the first field called name; ptr NULL when absent. */
static struct slice
field(const struct http_response *res, const char *name)
{
    for (unsigned i = 0; i < res->nheaders; i++)
        if (slice_is(res->headers[i].name, name))
            return res->headers[i].value;
    return SLICE_NULL;
}

/* s without blanks around it and without ";parameters". */
static struct slice
media_type(struct slice s)
{
    size_t a = 0, b = 0;

    while (b < s.len && s.ptr[b] != ';')
        b++;
    while (a < b && (s.ptr[a] == ' ' || s.ptr[a] == '\t'))
        a++;
    while (b > a && (s.ptr[b - 1] == ' ' || s.ptr[b - 1] == '\t'))
        b--;
    return (struct slice){s.ptr + a, b - a};
}

static bool
prefix_nocase(struct slice s, const char *lit)
{
    size_t n = strlen(lit);

    return s.len >= n && slice_is((struct slice){s.ptr, n}, lit);
}

/*
 * Whether a Content-Type is scanned: JSON (application/json and every
 * +json type) and text (text/...). *json says it is JSON.
 */
static bool
scanned_type(struct slice ctype, bool *json)
{
    struct slice t = media_type(ctype);

    *json = slice_is(t, "application/json") ||
            (t.len > 5 && slice_is((struct slice){t.ptr + t.len - 5, 5},
                                   "+json"));
    return *json || prefix_nocase(t, "text/");
}

/* An absent Content-Encoding, or "identity". */
static bool
identity_encoding(struct slice enc)
{
    return enc.ptr == NULL || slice_is(media_type(enc), "identity");
}

/*
 * An event about a response's sensitive data: kinds ("card,email") as
 * the rule, findings the description of each.
 */
static void
sensitive_event(struct conn *c, struct request *r, const char *reason,
                const char *outcome, int severity, const char *kinds,
                const char *findings)
{
    proxy_record_event_with(c, r, reason, reason, outcome, severity, kinds,
                            findings);
}

void
proxy_sensitive_unscanned(struct conn *c, struct request *r,
                          const char *why)
{
    sensitive_event(c, r, "inspect.sensitive_unscanned", "success", 3, why,
                    NULL);
}

int
proxy_sensitive_response(struct conn *c, struct request *r, int rc)
{
    const struct config_sensitive *s = r->route->sensitive;
    struct hold *h;
    bool json;
    size_t max;

    if (s == NULL || r->res.framing == HTTP_BODY_NONE ||
        (r->res.framing == HTTP_BODY_LENGTH && r->res.content_length == 0) ||
        !scanned_type(field(&r->res, "content-type"), &json))
        return rc;
    if (!identity_encoding(field(&r->res, "content-encoding"))) {
        proxy_sensitive_unscanned(c, r, "compressed");
        return rc;
    }
    if (r->res.framing == HTTP_BODY_LENGTH &&
        r->res.content_length > s->max_body) {
        proxy_sensitive_unscanned(c, r, "too_large");
        return rc;
    }
    max = r->res.framing == HTTP_BODY_LENGTH ? (size_t)r->res.content_length
                                             : (size_t)s->max_body;
    h = proxy_hold_want(c, r, max);
    if (h == NULL)
        return AW_NOMEM;
    h->scan = true;
    h->scan_json = json;
    if (s->mode == SENSITIVE_MASK)
        c->arena.max += max;    /* the masked copy */
    return AW_AGAIN;
}

/* What one scan found, and the masked copy it writes. */
struct tally {
    struct slice text;
    char *out;                  /* mask mode: the copy masked; or NULL */
    unsigned flags;             /* INSPECT_SENS_MASK_* */
    unsigned counts[INSPECT_SENS_NKINDS];
    unsigned kinds;
    size_t n;
    struct buf list;            /* "kind@offset+length masked, ..." */
};

/* Add "kind@offset+length masked-form" to the description. */
static void
describe(struct tally *t, const struct inspect_sensitive_find *f)
{
    char shown[MASKED_SHOWN];
    size_t n = inspect_sensitive_mask(t->text, f, t->flags, shown,
                                      sizeof(shown));
    size_t mark = t->list.end;

    if (buf_printf(&t->list, "%s%s@%zu+%zu %.*s%s", t->n > 1 ? ", " : "",
                   inspect_sensitive_name(f->kind), f->offset, f->length,
                   (int)n, shown, n < f->length ? "..." : "") != AW_OK)
        t->list.end = mark;
}

static int
on_find(void *ctx, const struct inspect_sensitive_find *f)
{
    struct tally *t = ctx;

    t->counts[__builtin_ctz(f->kind)]++;
    t->kinds |= f->kind;
    t->n++;
    if (t->out != NULL)
        inspect_sensitive_mask(t->text, f, t->flags, t->out + f->offset,
                               f->length);
    if (t->n <= FINDINGS_LISTED && t->list.data != NULL)
        describe(t, f);
    return 0;
}

/* "card:2 email:1" into buf: each kind found and how often. */
static void
kind_counts(const struct tally *t, char *buf, size_t cap)
{
    size_t o = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < INSPECT_SENS_NKINDS && o < cap; i++) {
        if (t->counts[i] == 0)
            continue;
        o += (size_t)snprintf(buf + o, cap - o, "%s%s:%u", o > 0 ? " " : "",
                              inspect_sensitive_name(1u << i), t->counts[i]);
    }
}

/* Scan body into *t. AW_OK, or AW_ERROR when the scan could not run. */
static int
scan(struct conn *c, const struct config_sensitive *s, struct slice body,
     struct tally *t)
{
    struct worker *w = c->w;

    if (inspect_sensitive_scratch_reserve(&w->sensitive_scratch, s->db) !=
        AW_OK)
        return AW_ERROR;
    return inspect_sensitive_scan(s->db, w->sensitive_scratch, body,
                                  s->kinds, on_find, t) == AW_OK
               ? AW_OK : AW_ERROR;
}

/* The refusal of a body that may not be sent. */
static int
refuse(struct conn *c, struct request *r)
{
    r->stage = STAGE_INSPECT;
    conn_refuse(c, 502, "inspect.sensitive_data",
                "The upstream server's response carries sensitive data.");
    return AW_DECLINED;
}

int
proxy_sensitive_decide(struct conn *c, struct request *r, struct slice *body)
{
    const struct config_sensitive *s = r->route->sensitive;
    static const char *const outcomes[] = {"success", "monitored", "masked",
                                           "denied"};
    struct tally t = {.text = *body};
    char kinds[160];

    t.flags = r->hold->scan_json ? INSPECT_SENS_MASK_JSON : 0;
    t.list = (struct buf){arena_alloc(&c->arena, FINDINGS_MAX), 0, 0,
                          FINDINGS_MAX - 1};
    if (s->mode == SENSITIVE_MASK && body->len > 0) {
        t.out = arena_alloc(&c->arena, body->len);
        if (t.out != NULL)
            memcpy(t.out, body->ptr, body->len);
    }
    if ((s->mode == SENSITIVE_MASK && t.out == NULL && body->len > 0) ||
        scan(c, s, *body, &t) != AW_OK) {
        log_warn("sensitive data: a response body of %zu bytes could not "
                 "be scanned", body->len);
        proxy_sensitive_unscanned(c, r, "scan_failed");
        return s->mode == SENSITIVE_LOG ? AW_OK : refuse(c, r);
    }
    if (t.n == 0)
        return AW_OK;
    if (t.list.data != NULL) {
        if (t.n > FINDINGS_LISTED)
            (void)buf_printf(&t.list, ", ...");
        t.list.data[t.list.end] = '\0';   /* its room was kept */
    }
    kind_counts(&t, kinds, sizeof(kinds));
    sensitive_event(c, r, "inspect.sensitive_data", outcomes[s->mode],
                    s->mode == SENSITIVE_BLOCK ? 7 : 5, kinds,
                    t.list.data);
    if (s->mode == SENSITIVE_BLOCK)
        return refuse(c, r);
    if (s->mode == SENSITIVE_MASK)
        *body = (struct slice){t.out, body->len};
    return AW_OK;
}
