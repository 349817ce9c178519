/*
 * The admin API's endpoints, and the answers they share.
 *
 * Every answer is built whole in a buffer of fixed size before it is
 * sent: JSON answers in ADMIN_MAX_ANSWER bytes (an outline of a very
 * large configuration is cut short and says so), metrics in
 * ADMIN_MAX_METRICS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"
#include "identity/identity.h"
#include "json/json.h"
#include "telemetry/telemetry.h"

#define ADMIN_MAX_ANSWER 65536

void
jb_printf(struct jb *j, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (j->overflow)
        return;
    va_start(ap, fmt);
    n = vsnprintf(j->b.data + j->b.end, buf_room(&j->b), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= buf_room(&j->b))
        j->overflow = true;
    else
        j->b.end += (size_t)n;
}

void
jb_str(struct jb *j, const char *s)
{
    jb_printf(j, "\"");
    if (!j->overflow &&
        json_escape_append(&j->b, (struct slice){s, strlen(s)}, 1024) !=
            AW_OK)
        j->overflow = true;
    jb_printf(j, "\"");
}

static const char *
status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 502: return "Bad Gateway";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return status >= 500 ? "Server Error" : "Client Error";
    }
}

int
admin_reply(struct admin_conn *ac, int status, const char *type,
            const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                     "Content-Length: %zu\r\nCache-Control: no-store\r\n"
                     "%sConnection: close\r\n\r\n",
                     status, status_text(status), type, len,
                     status == 401 ? "WWW-Authenticate: Bearer "
                                     "realm=\"apiward-admin\"\r\n" : "");
    int rc = admin_send(ac, head, (size_t)n);

    if (rc == AW_OK && len > 0)
        rc = admin_send(ac, body, len);
    return rc;
}

void
admin_problem(struct admin_conn *ac, int status, const char *reason,
              const char *detail)
{
    char out[1024];
    struct jb j = {{out, 0, 0, sizeof(out)}, false};

    jb_printf(&j, "{\"type\":");
    jb_printf(&j, "\"urn:apiward:problem:%s\"", reason);
    jb_printf(&j, ",\"title\":");
    jb_str(&j, status_text(status));
    jb_printf(&j, ",\"status\":%d,\"detail\":", status);
    jb_str(&j, detail);
    jb_printf(&j, "}");
    admin_reply(ac, status, "application/problem+json", out,
                j.overflow ? 0 : j.b.end);
}

void
admin_reply_json(struct admin_conn *ac, int status, struct jb *j)
{
    if (j->overflow) {
        admin_problem(ac, 500, "admin.answer_too_large",
                      "The answer does not fit in the admin buffer.");
        return;
    }
    admin_reply(ac, status, "application/json", j->b.data, j->b.end);
}

static void
on_health(struct admin_conn *ac, struct jb *j)
{
    jb_printf(j, "{\"status\":\"ok\",\"version\":\"%s\"}", APIWARD_VERSION);
    admin_reply_json(ac, 200, j);
}

static void
on_ready(struct admin_conn *ac, struct jb *j)
{
    bool ready = keystore_ready();

    jb_printf(j, "{\"ready\":%s}", ready ? "true" : "false");
    admin_reply_json(ac, ready ? 200 : 503, j);
}

static void
on_metrics(struct admin_conn *ac)
{
    struct buf b;
    int rc;

    if (buf_init(&b, ADMIN_MAX_METRICS) != AW_OK) {
        admin_problem(ac, 503, "admin.no_memory",
                      "No memory for the metrics text.");
        return;
    }
    rc = metrics_render(&b);
    if (rc == AW_OK)
        rc = admin_metrics_extra(&b);
    if (rc != AW_OK)
        log_warn("admin: the metrics text passed %zu bytes and was cut",
                 ADMIN_MAX_METRICS);
    admin_reply(ac, 200, "text/plain; version=0.0.4; charset=utf-8", b.data,
                b.end);
    buf_fini(&b);
}

/* "name":[ "a", "b" ] over n items picked by get. */
static void
outline_names(struct jb *j, const char *name, size_t n,
              const char *(*get)(const struct config *, size_t),
              const struct config *c)
{
    jb_printf(j, ",\"%s\":[", name);
    for (size_t i = 0; i < n; i++) {
        jb_printf(j, i > 0 ? "," : "");
        jb_str(j, get(c, i));
    }
    jb_printf(j, "]");
}

static const char *
get_listener(const struct config *c, size_t i)
{
    return c->listeners[i].text;
}

static const char *
get_issuer(const struct config *c, size_t i)
{
    return c->issuers[i].name;
}

static void
outline_routes(struct jb *j, const struct config *c)
{
    jb_printf(j, ",\"routes\":[");
    for (size_t i = 0; i < c->nroutes; i++) {
        const struct config_route *r = &c->routes[i];

        jb_printf(j, i > 0 ? ",{\"name\":" : "{\"name\":");
        jb_str(j, r->name);
        jb_printf(j, ",\"path\":");
        jb_str(j, r->path);
        jb_printf(j, ",\"upstream\":");
        jb_str(j, r->upstream->name);
        jb_printf(j, ",\"authenticated\":%s}", r->auth ? "true" : "false");
    }
    jb_printf(j, "]");
}

static void
outline_upstreams(struct jb *j, const struct config *c)
{
    jb_printf(j, ",\"upstreams\":[");
    for (size_t i = 0; i < c->nupstreams; i++) {
        const struct config_upstream *u = &c->upstreams[i];

        jb_printf(j, i > 0 ? ",{\"name\":" : "{\"name\":");
        jb_str(j, u->name);
        jb_printf(j, ",\"servers\":[");
        for (size_t k = 0; k < u->nservers; k++) {
            jb_printf(j, k > 0 ? "," : "");
            jb_str(j, u->servers[k].text);
        }
        jb_printf(j, "]}");
    }
    jb_printf(j, "]");
}

/*
 * /config: what runs, not the file. The outline names listeners,
 * upstreams, routes and issuers; it holds no value that could be a
 * secret (no token, key, pepper, client secret or URL with credentials),
 * so there is nothing to mask: secrets are left out, not starred.
 */
static void
on_config(struct admin_conn *ac, struct jb *j)
{
    struct config *c = config_current();

    if (c == NULL) {
        admin_problem(ac, 503, "admin.no_config",
                      "No configuration is serving yet.");
        return;
    }
    jb_printf(j, "{\"version\":\"%s\",\"generation\":%llu,\"hash\":",
              APIWARD_VERSION, (unsigned long long)c->generation);
    jb_str(j, c->hash);
    jb_printf(j, ",\"path\":");
    jb_str(j, c->path != NULL ? c->path : "");
    jb_printf(j, ",\"workers\":%u", c->workers);
    outline_names(j, "listeners", c->nlisteners, get_listener, c);
    outline_upstreams(j, c);
    outline_routes(j, c);
    outline_names(j, "issuers", c->nissuers, get_issuer, c);
    jb_printf(j, ",\"api_keys\":%s,\"introspection\":%s",
              c->api_keys != NULL ? "true" : "false",
              c->introspection != NULL ? "true" : "false");
    jb_printf(j, ",\"access_log\":");
    jb_str(j, c->access_log);
    jb_printf(j, ",\"events\":");
    jb_str(j, c->events_file);
    jb_printf(j, ",\"secrets\":\"omitted\"}");
    config_unref(c);
    admin_reply_json(ac, 200, j);
}

static void
on_reload(struct admin_conn *ac, struct jb *j)
{
    struct config *c;

    if (ac->hooks->reload == NULL || ac->hooks->reload() != AW_OK) {
        admin_problem(ac, 500, "admin.reload_failed",
                      "The configuration did not load; the running one "
                      "keeps serving. The diagnostic log says why.");
        return;
    }
    c = config_current();
    if (c == NULL) {
        admin_problem(ac, 503, "admin.no_config",
                      "No configuration is serving yet.");
        return;
    }
    jb_printf(j, "{\"reloaded\":true,\"generation\":%llu,\"hash\":",
              (unsigned long long)c->generation);
    jb_str(j, c->hash);
    jb_printf(j, "}");
    config_unref(c);
    admin_reply_json(ac, 200, j);
}

static int
hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* 64 hex digits into 32 bytes; false for anything else. */
static bool
parse_digest(struct slice s, unsigned char d[32])
{
    if (s.len != 64)
        return false;
    for (size_t i = 0; i < 32; i++) {
        int hi = hex_value(s.ptr[2 * i]), lo = hex_value(s.ptr[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return false;
        d[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

static void
evicted(struct admin_conn *ac, struct jb *j)
{
    jb_printf(j, "{\"evicted\":true}");
    admin_reply_json(ac, 200, j);
}

/* DELETE /introspection/<hex of SHA-256 of the token>. */
static void
on_evict_digest(struct admin_conn *ac, struct jb *j, struct slice hex)
{
    unsigned char d[32];

    if (!parse_digest(hex, d)) {
        admin_problem(ac, 404, "admin.not_found",
                      "Expected /introspection/ and 64 hex digits of "
                      "the token's SHA-256.");
        return;
    }
    identity_introspect_evict_digest(d);
    evicted(ac, j);
}

/* POST /introspection/evict with {"token": "..."}. */
static void
on_evict_token(struct admin_conn *ac, struct jb *j)
{
    struct json_limits lim;
    struct json_value *v = NULL;
    struct json_error err;
    struct arena a;
    struct slice tok;

    json_limits_default(&lim);
    lim.max_bytes = ADMIN_MAX_BODY;
    lim.max_depth = 4;
    arena_init(&a, 4096, 4 * ADMIN_MAX_BODY);
    if (json_parse(ac->body.ptr, ac->body.len, &lim, &a, &v, &err) != AW_OK ||
        (tok = json_str(json_get(v, "token"))).ptr == NULL || tok.len == 0) {
        arena_fini(&a);
        admin_problem(ac, 400, "admin.bad_body",
                      "Expected a JSON object with a non-empty string "
                      "\"token\".");
        return;
    }
    identity_introspect_evict(tok.ptr, tok.len);
    arena_fini(&a);
    evicted(ac, j);
}

/*
 * POST /api-keys/<id>/revoke: refuse the key from now on, in this
 * process only (the keys file's revocation list is the persistent
 * place). rest is the path after "/api-keys/".
 */
static void
on_revoke_key(struct admin_conn *ac, struct jb *j, struct slice rest)
{
    static const char tail[] = "/revoke";
    size_t tl = sizeof(tail) - 1;

    if (rest.len <= tl ||
        memcmp(rest.ptr + rest.len - tl, tail, tl) != 0) {
        admin_problem(ac, 404, "admin.not_found",
                      "Expected /api-keys/<id>/revoke.");
        return;
    }
    int rc = apikey_revoke_runtime((struct slice){rest.ptr,
                                                  rest.len - tl});
    if (rc == AW_INVALID) {
        admin_problem(ac, 404, "admin.not_found",
                      "A key id is 8 to 16 characters of a-z 0-9.");
        return;
    }
    if (rc != AW_OK) {
        admin_problem(ac, 507, "admin.revocations_full",
                      "The runtime revocation set is full; list the id "
                      "in the keys file's revocation list and reload.");
        return;
    }
    jb_printf(j, "{\"revoked\":true}");
    admin_reply_json(ac, 200, j);
}

/* One endpoint: method, exact path or prefix, and its handler. */
struct endpoint {
    const char *path;
    bool prefix;
    enum http_method method;
    int id;
};

enum { EP_HEALTH, EP_READY, EP_METRICS, EP_CONFIG, EP_RELOAD, EP_EVICT,
       EP_EVICT_DIGEST, EP_REVOKE_KEY, EP_BANS, EP_BAN_LIFT };

static const struct endpoint endpoints[] = {
    {"/health", false, HTTP_GET, EP_HEALTH},
    {"/ready", false, HTTP_GET, EP_READY},
    {"/metrics", false, HTTP_GET, EP_METRICS},
    {"/config", false, HTTP_GET, EP_CONFIG},
    {"/reload", false, HTTP_POST, EP_RELOAD},
    {"/introspection/evict", false, HTTP_POST, EP_EVICT},
    {"/introspection/", true, HTTP_DELETE, EP_EVICT_DIGEST},
    {"/api-keys/", true, HTTP_POST, EP_REVOKE_KEY},
    {"/bans", false, HTTP_GET, EP_BANS},
    {"/bans/", true, HTTP_DELETE, EP_BAN_LIFT},
};

static bool
path_matches(const struct endpoint *e, struct slice path)
{
    size_t n = strlen(e->path);

    if (e->prefix)
        return path.len > n && memcmp(path.ptr, e->path, n) == 0;
    return path.len == n && memcmp(path.ptr, e->path, n) == 0;
}

static void
run(struct admin_conn *ac, struct jb *j, int id, struct slice path)
{
    switch (id) {
    case EP_HEALTH: on_health(ac, j); break;
    case EP_READY: on_ready(ac, j); break;
    case EP_METRICS: on_metrics(ac); break;
    case EP_CONFIG: on_config(ac, j); break;
    case EP_RELOAD: on_reload(ac, j); break;
    case EP_EVICT: on_evict_token(ac, j); break;
    case EP_BANS: admin_bans_list(ac, ac->req.query); break;
    case EP_BAN_LIFT:
        admin_bans_lift(ac, (struct slice){path.ptr + 6, path.len - 6});
        break;
    case EP_REVOKE_KEY:
        on_revoke_key(ac, j, (struct slice){path.ptr + 10, path.len - 10});
        break;
    default:
        on_evict_digest(ac, j, (struct slice){path.ptr + 15, path.len - 15});
        break;
    }
}

void
admin_dispatch(struct admin_conn *ac)
{
    static char out[ADMIN_MAX_ANSWER];
    struct jb j = {{out, 0, 0, sizeof(out)}, false};
    struct slice path = ac->req.path;
    bool path_known = false;

    /* Only the ban list reads a query (its limit). */
    if (ac->req.query.ptr != NULL && !slice_eq(path, SLICE_LIT("/bans"))) {
        admin_problem(ac, 400, "admin.bad_request",
                      "The admin API takes no query string.");
        return;
    }
    for (size_t i = 0; i < ARRAY_LEN(endpoints); i++) {
        if (!path_matches(&endpoints[i], path))
            continue;
        path_known = true;
        if (endpoints[i].method == ac->req.method) {
            run(ac, &j, endpoints[i].id, path);
            return;
        }
    }
    if (path_known)
        admin_problem(ac, 405, "admin.method_not_allowed",
                      "This endpoint takes another method.");
    else
        admin_problem(ac, 404, "admin.not_found",
                      "The admin API has no such endpoint.");
}
