/*
 * `apiward policy explain`: the decision the gateway would make for one
 * request, and the rules that led to it, without a server.
 *
 * The request goes through the same steps as on the wire: the path is
 * normalised with the file's normalization settings, matched against
 * the route table, and the route's program is evaluated by policy_eval.
 * The principal is built from --claims the way the identity stage
 * builds it from a verified token (sub, scope or scp, roles), without
 * any signature: explain answers "what would the policy say", not
 * "would this token pass".
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "http/http.h"
#include "identity/identity.h"
#include "json/json.h"
#include "policy/policy.h"
#include "route/route.h"

#define EXPLAIN_MAX_HEADERS 32
#define EXPLAIN_MAX_LIST 64

static const char explain_usage[] =
    "usage: apiward policy explain -c FILE --method M --path PATH\n"
    "         [--host H] [--claims JSON] [--client ADDR] [--body JSON]\n"
    "         [--header 'Name: value']... [--time YYYY-MM-DDTHH:MM:SSZ]\n"
    "exit 0 allow, 1 deny, 2 usage or configuration error\n";

/* Everything one explanation holds; lives on the stack of the command. */
struct explain {
    struct config *cfg;
    struct arena a;
    struct principal p;
    struct slice roles[EXPLAIN_MAX_LIST];
    struct slice scopes[EXPLAIN_MAX_LIST];
    struct sockaddr_storage client;
    struct slice headers[POLICY_MAX_SLOTS];
    struct slice query[POLICY_MAX_SLOTS];
    struct route_params params;
    struct policy_input in;
};

/* The value of --name VALUE or --name=VALUE from argv[from..argc). */
static const char *
arg(int argc, char **argv, const char *name)
{
    size_t len = strlen(name);

    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], name) == 0)
            return i + 1 < argc ? argv[i + 1] : NULL;
        if (strncmp(argv[i], name, len) == 0 && argv[i][len] == '=')
            return argv[i] + len + 1;
    }
    return NULL;
}

/* Split a space-separated string into out; returns the count. */
static unsigned
split_spaces(struct slice s, struct slice *out, unsigned max)
{
    unsigned n = 0;
    size_t i = 0;

    while (i < s.len && n < max) {
        size_t start;

        while (i < s.len && s.ptr[i] == ' ')
            i++;
        start = i;
        while (i < s.len && s.ptr[i] != ' ')
            i++;
        if (i > start)
            out[n++] = (struct slice){s.ptr + start, i - start};
    }
    return n;
}

/* Strings of an array (or one string) into out; returns the count. */
static unsigned
strings_of(const struct json_value *v, struct slice *out, unsigned max)
{
    unsigned n = 0;

    if (json_is(v, JSON_STRING))
        return split_spaces(v->u.str, out, max);
    if (!json_is(v, JSON_ARRAY))
        return 0;
    for (size_t i = 0; i < v->u.arr.n && n < max; i++)
        if (json_is(v->u.arr.items[i], JSON_STRING))
            out[n++] = v->u.arr.items[i]->u.str;
    return n;
}

/* A JWT-like principal from --claims; roles from "roles". */
static int
explain_principal(struct explain *x, const char *text)
{
    struct json_value *claims = NULL;
    struct json_limits l;
    struct json_error e;
    const struct json_value *scope;

    json_limits_default(&l);
    if (json_parse(text, strlen(text), &l, &x->a, &claims, &e) != AW_OK ||
        !json_is(claims, JSON_OBJECT)) {
        fprintf(stderr, "apiward policy explain: --claims is not a JSON "
                        "object (%s)\n", e.reason ? e.reason : "json.type");
        return AW_INVALID;
    }
    x->p.kind = AUTH_JWT;
    x->p.claims = claims;
    x->p.subject = json_str(json_get(claims, "sub"));
    if (x->p.subject.ptr == NULL)
        x->p.subject = SLICE_LIT("");
    x->p.issuer = x->p.consumer = SLICE_LIT("");
    scope = json_get(claims, "scope");
    if (scope == NULL)
        scope = json_get(claims, "scp");
    x->p.scopes = x->scopes;
    x->p.nscopes = strings_of(scope, x->scopes, EXPLAIN_MAX_LIST);
    x->p.roles = x->roles;
    x->p.nroles = strings_of(json_get(claims, "roles"), x->roles,
                             EXPLAIN_MAX_LIST);
    return AW_OK;
}

/* --header 'Name: value' options into the program's header slots. */
static int
explain_headers(struct explain *x, int argc, char **argv)
{
    const struct policy_set *s = x->cfg->policy;

    for (int i = 2; i + 1 < argc; i++) {
        const char *h = argv[i + 1], *colon;

        if (strcmp(argv[i], "--header") != 0)
            continue;
        colon = strchr(h, ':');
        if (colon == NULL) {
            fprintf(stderr, "apiward policy explain: --header needs "
                            "'Name: value'\n");
            return AW_INVALID;
        }
        for (unsigned k = 0; s != NULL && k < s->nheaders; k++) {
            const char *v = colon + 1;

            if (!slice_eq_nocase(s->headers[k],
                                 (struct slice){h, (size_t)(colon - h)}))
                continue;
            while (*v == ' ' || *v == '\t')
                v++;
            x->headers[k] = (struct slice){v, strlen(v)};
        }
    }
    return AW_OK;
}

/* The raw query string's parameters the policy reads (not decoded). */
static void
explain_query(struct explain *x, struct slice q)
{
    const struct policy_set *s = x->cfg->policy;
    size_t i = 0;

    while (s != NULL && i < q.len) {
        const char *amp = memchr(q.ptr + i, '&', q.len - i);
        size_t end = amp != NULL ? (size_t)(amp - q.ptr) : q.len;
        const char *eq = memchr(q.ptr + i, '=', end - i);

        for (unsigned k = 0; eq != NULL && k < s->nquery; k++)
            if (slice_eq(s->query[k],
                         (struct slice){q.ptr + i, (size_t)(eq - q.ptr) - i}))
                x->query[k] = (struct slice){eq + 1,
                                             (size_t)(q.ptr + end - eq - 1)};
        i = end + 1;
    }
}

/* --client ADDR (default 127.0.0.1) and --time (default now). */
static int
explain_client_time(struct explain *x, const char *client, const char *when)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)&x->client;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&x->client;
    struct tm tm = {0};

    if (inet_pton(AF_INET, client, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
    } else if (inet_pton(AF_INET6, client, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
    } else {
        fprintf(stderr, "apiward policy explain: --client is not an IP "
                        "address\n");
        return AW_INVALID;
    }
    x->in.now = (int64_t)time(NULL);
    if (when == NULL)
        return AW_OK;
    if (strlen(when) != 20 || strptime(when, "%Y-%m-%dT%H:%M:%SZ", &tm) ==
                                  NULL) {
        fprintf(stderr, "apiward policy explain: --time is "
                        "YYYY-MM-DDTHH:MM:SSZ\n");
        return AW_INVALID;
    }
    x->in.now = (int64_t)timegm(&tm);
    return AW_OK;
}

static void
on_step(void *arg, const char *id, const char *kind, bool matched,
        const char *reason)
{
    (void)arg;
    printf("  %-6s %-32s %s%s%s\n", kind, id,
           matched ? (strcmp(kind, "object") == 0 ? "holds" : "matches")
                   : "fails",
           reason != NULL ? ": " : "", reason != NULL ? reason : "");
}

/* Match the route; prints and returns NULL when none serves. */
static const struct config_route *
explain_route(struct explain *x, const char *method, const char *target,
              const char *host, struct slice *query)
{
    const char *q = strchr(target, '?');
    struct slice raw = {target, q != NULL ? (size_t)(q - target)
                                          : strlen(target)};
    const struct route_def *def;
    struct http_error err;
    struct slice path;
    uint32_t allowed;
    enum http_method m = http_method_from((struct slice){method,
                                                         strlen(method)});

    *query = q != NULL ? (struct slice){q + 1, strlen(q + 1)} : SLICE_NULL;
    if (http_normalize_path(raw, &x->cfg->norm, &x->a, &path, &err) != AW_OK) {
        printf("refused before routing: %s\n", err.reason);
        return NULL;
    }
    printf("path:   %.*s\n", (int)path.len, path.ptr);
    if (route_match(x->cfg->route_table, (struct slice){host, strlen(host)},
                    m, path, &def, &x->params, &allowed) != ROUTE_FOUND) {
        printf("route:  none (404 or 405 before authorization)\n");
        return NULL;
    }
    return def->data;
}

/* Evaluate and print; returns the exit code. */
static int
explain_decide(struct explain *x, const struct config_route *r)
{
    const struct policy_program *p = r->authz;
    struct policy_decision d;

    printf("route:  %s%s%s%s%s\n", r->name, p->policy ? " (policy " : "",
           p->policy ? p->policy : "", p->policy ? ")" : "",
           p->public_route ? ", public" : "");
    if (r->auth != NULL && x->p.kind == AUTH_NONE)
        printf("note:   the route authenticates; without --claims the "
               "gateway answers 401 first\n");
    x->in.principal = &x->p;
    x->in.client = (const struct sockaddr *)&x->client;
    x->in.client_trusted = config_is_trusted_proxy(x->cfg, x->in.client);
    x->in.country_db = x->cfg->geo_country;
    x->in.asn_db = x->cfg->geo_asn;
    x->in.headers = x->headers;
    x->in.query = x->query;
    x->in.params = &x->params;
    x->in.on_step = on_step;
    policy_eval(p, &x->in, &d);
    printf("decision: %s (%s%s%s)%s\n", d.allow ? "allow" : "deny",
           d.reason, d.rule_id ? ", rule " : "", d.rule_id ? d.rule_id : "",
           !d.allow && !d.enforce ? " in monitor mode: let through" : "");
    return d.allow || !d.enforce ? 0 : 1;
}

/* Set up everything but the route; 0 or the exit code 2. */
static int
explain_setup(struct explain *x, int argc, char **argv)
{
    const char *claims = arg(argc, argv, "--claims");
    const char *body = arg(argc, argv, "--body");
    const char *client = arg(argc, argv, "--client");
    struct json_value *b = NULL;
    struct json_limits l;
    struct json_error e;

    if (claims != NULL && explain_principal(x, claims) != AW_OK)
        return 2;
    if (explain_headers(x, argc, argv) != AW_OK ||
        explain_client_time(x, client ? client : "127.0.0.1",
                            arg(argc, argv, "--time")) != AW_OK)
        return 2;
    if (body == NULL)
        return 0;
    json_limits_default(&l);
    if (json_parse(body, strlen(body), &l, &x->a, &b, &e) != AW_OK) {
        fprintf(stderr, "apiward policy explain: --body is not JSON (%s)\n",
                e.reason);
        return 2;
    }
    x->in.body = b;
    return 0;
}

int
policy_explain_cmd(int argc, char **argv)
{
    const char *file = arg(argc, argv, "-c");
    const char *method = arg(argc, argv, "--method");
    const char *target = arg(argc, argv, "--path");
    const char *host = arg(argc, argv, "--host");
    struct config_errors errs;
    const struct config_route *r;
    struct explain x;
    struct slice query;
    int rc;

    if (argc < 2 || strcmp(argv[1], "explain") != 0 || file == NULL ||
        method == NULL || target == NULL || target[0] != '/') {
        fputs(explain_usage, stderr);
        return 2;
    }
    memset(&x, 0, sizeof(x));
    if (config_load(file, &x.cfg, &errs) != AW_OK) {
        config_errors_print(&errs, stderr);
        return 2;
    }
    arena_init(&x.a, 4096, 16u << 20);
    rc = explain_setup(&x, argc, argv);
    r = rc == 0 ? explain_route(&x, method, target, host ? host : "localhost",
                                &query)
                : NULL;
    if (r != NULL) {
        explain_query(&x, query);
        rc = explain_decide(&x, r);
    } else if (rc == 0) {
        rc = 1;
    }
    arena_fini(&x.a);
    config_unref(x.cfg);
    return rc;
}
