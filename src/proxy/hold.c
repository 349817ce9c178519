/*
 * Holding a response whole before it is sent.
 *
 * Two stages need a whole response body before its first byte may go
 * to the client: the contract, when it blocks or filters responses
 * (contract.c), and the sensitive-data scan, when it logs, masks or
 * blocks what a body carries (sensitive.c). Each says so while the
 * response head is judged (proxy_hold_want, with the most it will
 * hold); once both have spoken the head is copied out of the upstream
 * buffer and the body is read into the request arena (conn.c's
 * pump_response_held). When it is read whole, the contract decides
 * first, on the body as the backend sent it, then the scan, on what
 * the contract lets through (a filtered body is scanned as filtered);
 * either may answer 502 instead. What is left is sent with its own
 * Content-Length.
 *
 * A body that passes the bound is sent on as it came, unjudged, with
 * an event from each holder: holding it would make every response cost
 * its whole size in memory. A route that holds nothing pays one NULL
 * test per piece of body.
 */
#include <string.h>

#include "proxy_int.h"

struct hold *
proxy_hold_want(struct conn *c, struct request *r, size_t max)
{
    struct hold *h = r->hold;

    if (h == NULL) {
        h = arena_alloc(&c->arena, sizeof(*h));
        if (h == NULL)
            return NULL;
        memset(h, 0, sizeof(*h));
        r->hold = h;
    }
    h->max = MAX(h->max, max);
    return h;
}

/* Move a slice that pointed into from[] to the same place in to[]. */
static struct slice
rebase(struct slice s, const char *from, char *to)
{
    return s.ptr == NULL ? s : (struct slice){to + (s.ptr - from), s.len};
}

/*
 * Copy the response head (bytes and header array) into the arena: the
 * upstream buffer and the worker's header array are reused while the
 * body is held.
 */
static int
keep_head(struct conn *c, struct request *r, struct upconn *u,
          struct hold *h)
{
    const char *from = u->in.data + u->in.start;
    size_t nh = r->res.nheaders;

    h->head = arena_dup(&c->arena, from, r->res.head_len);
    h->headers = arena_alloc(&c->arena, (nh + 1) * sizeof(*h->headers));
    if (h->head == NULL || h->headers == NULL)
        return AW_NOMEM;
    for (size_t i = 0; i < nh; i++) {
        h->headers[i].name = rebase(r->res.headers[i].name, from, h->head);
        h->headers[i].value = rebase(r->res.headers[i].value, from,
                                     h->head);
    }
    r->res.headers = h->headers;
    r->res.reason = rebase(r->res.reason, from, h->head);
    return AW_OK;
}

/*
 * The body buffer has room for one more read past the bound, so that
 * the piece that crosses it is kept too.
 */
int
proxy_hold_start(struct conn *c, struct request *r, struct upconn *u)
{
    struct hold *h = r->hold;

    h->cap = h->max + u->in.cap;
    c->arena.max += h->cap + r->res.head_len;
    h->body = arena_alloc(&c->arena, h->cap);
    if (h->body == NULL || keep_head(c, r, u, h) != AW_OK)
        return AW_NOMEM;
    h->active = true;
    return AW_OK;
}

bool
proxy_holding(const struct request *r)
{
    return r->hold != NULL && (r->hold->active || r->hold->spill.data != NULL);
}

int
proxy_hold_put(struct request *r, const char *p, size_t n)
{
    struct hold *h = r->hold;
    size_t take = MIN(n, h->cap - h->len);

    memcpy(h->body + h->len, p, take);
    h->len += take;
    proxy_contract_response_data(r, p, take);
    return h->len > h->max ? AW_TOOBIG : AW_OK;
}

/* Queue bytes as the body that follows the head being released. */
static void
spill(struct hold *h, const char *p, size_t n, bool ends)
{
    h->spill = (struct buf){(char *)p, 0, n, n};
    h->spill_ends = ends;
}

/*
 * Write the held head with the framing of a body of len bytes (or, with
 * as_received, the framing the backend sent). AW_OK or AW_TOOBIG. The
 * backend's ETag and digest fields are kept as they are: after a filter
 * or a mask they no longer match the body.
 */
static int
release_head(struct conn *c, struct request *r, bool as_received, size_t len)
{
    if (!as_received) {
        r->res.framing = HTTP_BODY_LENGTH;
        r->res.content_length = len;
    }
    return message_response_head(c, r);
}

int
proxy_hold_release(struct conn *c, struct request *r, bool complete)
{
    struct hold *h = r->hold;
    struct slice body = {h->body, h->len};
    int rc;

    h->active = false;
    if (!complete) {
        if (h->contract)
            proxy_contract_unheld(c, r);
        if (h->scan)
            proxy_sensitive_unscanned(c, r, "too_large");
        spill(h, h->body, h->len, h->complete);
        return release_head(c, r, true, 0);
    }
    if (h->contract) {
        rc = proxy_contract_decide(c, r, &body);
        if (rc != AW_OK)
            return rc;
    }
    if (h->scan) {
        rc = proxy_sensitive_decide(c, r, &body);
        if (rc != AW_OK)
            return rc;
    }
    spill(h, body.ptr, body.len, true);
    return release_head(c, r, false, body.len);
}
