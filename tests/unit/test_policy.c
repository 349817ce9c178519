/*
 * Tests of the policy module: every condition, the order of rules,
 * object rules, monitor mode, time zones, and the loader's refusals.
 * Programs are compiled by the real config loader from YAML text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>

#include "config/config.h"
#include "identity/identity.h"
#include "json/json.h"
#include "policy/policy.h"
#include "route/route.h"

#define MMDB TESTDATA "/MaxMind-DB/test-data/"

#define HEAD                                                                   \
    "upstreams:\n  demo: {servers: [\"127.0.0.1:9\"]}\n"                       \
    "trusted_proxies: [\"10.9.0.0/16\"]\n"

/* One test's world: a snapshot, a principal, a request. */
struct world {
    struct config *cfg;
    struct arena a;
    struct principal p;
    struct slice roles[4], scopes[4];
    struct sockaddr_storage peer;
    struct slice headers[POLICY_MAX_SLOTS];
    struct slice query[POLICY_MAX_SLOTS];
    struct route_params params;
    const struct json_value *body;
    struct policy_input in;
    struct policy_decision d;
};

static void
load(struct world *w, const char *yaml)
{
    struct config_errors errs;
    int rc = config_load_string("t", yaml, strlen(yaml),
                                CONFIG_LOAD_NO_RESOLVE, &w->cfg, &errs);

    if (rc != AW_OK)
        config_errors_print(&errs, stderr);
    assert_int_equal(rc, AW_OK);
}

/* Expect yaml to be refused with a message holding want. */
static void
refused(const char *yaml, const char *want)
{
    struct config_errors errs;
    struct config *c = NULL;
    bool found = false;

    assert_int_equal(config_load_string("t", yaml, strlen(yaml),
                                        CONFIG_LOAD_NO_RESOLVE, &c, &errs),
                     AW_INVALID);
    for (size_t i = 0; i < errs.n; i++)
        found = found || strstr(errs.msg[i], want) != NULL;
    if (!found)
        config_errors_print(&errs, stderr);
    assert_true(found);
}

static const struct json_value *
parse(struct world *w, const char *text)
{
    struct json_value *v = NULL;
    struct json_limits l;
    struct json_error e;

    json_limits_default(&l);
    assert_int_equal(json_parse(text, strlen(text), &l, &w->a, &v, &e), AW_OK);
    return v;
}

/* A JWT principal with sub, roles and scopes and the claims given. */
static void
principal(struct world *w, const char *claims, const char *role,
          const char *scope)
{
    w->p.kind = AUTH_JWT;
    w->p.claims = parse(w, claims);
    w->p.subject = json_str(json_get(w->p.claims, "sub"));
    if (w->p.subject.ptr == NULL)
        w->p.subject = SLICE_LIT("");
    w->p.consumer = SLICE_LIT("");
    if (role != NULL) {
        w->roles[0] = (struct slice){role, strlen(role)};
        w->p.roles = w->roles;
        w->p.nroles = 1;
    }
    if (scope != NULL) {
        w->scopes[0] = (struct slice){scope, strlen(scope)};
        w->p.scopes = w->scopes;
        w->p.nscopes = 1;
    }
}

static void
client(struct world *w, const char *ip)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)&w->peer;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&w->peer;

    memset(&w->peer, 0, sizeof(w->peer));
    if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        return;
    }
    assert_int_equal(inet_pton(AF_INET6, ip, &s6->sin6_addr), 1);
    s6->sin6_family = AF_INET6;
}

/* Set the header field name (as written in the rules) to value. */
static void
header(struct world *w, const char *name, const char *value)
{
    const struct policy_set *s = w->cfg->policy;

    for (unsigned i = 0; i < s->nheaders; i++)
        if (slice_eq_nocase(s->headers[i], (struct slice){name, strlen(name)}))
            w->headers[i] = (struct slice){value, strlen(value)};
}

/* Evaluate route i's program; returns the reason. */
static const char *
eval(struct world *w, size_t route)
{
    w->in.principal = &w->p;
    w->in.client = (const struct sockaddr *)&w->peer;
    w->in.client_trusted = config_is_trusted_proxy(w->cfg, w->in.client);
    w->in.country_db = w->cfg->geo_country;
    w->in.asn_db = w->cfg->geo_asn;
    w->in.headers = w->headers;
    w->in.query = w->query;
    w->in.params = &w->params;
    w->in.body = w->body;
    policy_eval(w->cfg->routes[route].authz, &w->in, &w->d);
    return w->d.reason;
}

static int
setup(void **state)
{
    static struct world w;

    memset(&w, 0, sizeof(w));
    arena_init(&w.a, 4096, 1 << 20);
    client(&w, "192.0.2.1");
    w.in.now = 1764842400; /* 2025-12-04T10:00:00Z, a Thursday */
    *state = &w;
    return 0;
}

static int
teardown(void **state)
{
    struct world *w = *state;

    config_unref(w->cfg);
    arena_fini(&w->a);
    return 0;
}

static void
test_public_and_deny(void **state)
{
    struct world *w = *state;

    load(w, HEAD "routes:\n"
            "  - {name: open, path: /o, upstream: demo, authz: {public: true}}\n"
            "  - name: guarded\n    path: /g\n    upstream: demo\n"
            "    authz:\n      public: true\n      rules:\n"
            "        - {id: no-lab, effect: deny, when: [{ip: [192.0.2.0/24]}]}\n");
    assert_string_equal(eval(w, 0), "authz.public");
    assert_true(w->d.allow);
    assert_string_equal(eval(w, 1), "authz.denied");
    assert_string_equal(w->d.rule_id, "no-lab");
    client(w, "198.51.100.1");
    assert_string_equal(eval(w, 1), "authz.public");
}

#define AUTHED "    auth: {methods: [api_key]}\n"
#define KEYS                                                                   \
    "identity:\n  api_keys: {file: " SRCDIR "/examples/demo-api-keys,\n"       \
    "    pepper_file: " SRCDIR "/examples/demo-pepper}\n"

static void
test_requirements(void **state)
{
    struct world *w = *state;

    load(w, HEAD KEYS "routes:\n"
            "  - name: r\n    path: /r\n    upstream: demo\n" AUTHED
            "    authz:\n      rules:\n"
            "        - {id: admins, roles: [admin]}\n"
            "        - {id: readers, scopes: {any: [read, list]}}\n"
            "  - name: m\n    path: /m\n    upstream: demo\n" AUTHED
            "    authz:\n      rules:\n"
            "        - {id: keys, methods: [api_key], consumers: [ci]}\n");
    principal(w, "{\"sub\":\"7\"}", "admin", NULL);
    assert_string_equal(eval(w, 0), "authz.allowed");
    assert_string_equal(w->d.rule_id, "admins");
    principal(w, "{\"sub\":\"7\"}", "user", "list");
    assert_string_equal(eval(w, 0), "authz.allowed");
    assert_string_equal(w->d.rule_id, "readers");
    principal(w, "{\"sub\":\"7\"}", "user", "write");
    assert_string_equal(eval(w, 0), "authz.missing_role");
    assert_string_equal(w->d.rule_id, "admins");
    assert_string_equal(eval(w, 1), "authz.method_not_allowed");
    w->p.kind = AUTH_API_KEY;
    w->p.consumer = SLICE_LIT("ci");
    assert_string_equal(eval(w, 1), "authz.allowed");
    w->p.consumer = SLICE_LIT("other");
    assert_string_equal(eval(w, 1), "authz.consumer_not_allowed");
}

static void
test_missing_scope_all(void **state)
{
    struct world *w = *state;

    load(w, HEAD KEYS "routes:\n"
            "  - name: r\n    path: /r\n    upstream: demo\n" AUTHED
            "    authz: {rules: [{scopes: [read, write]}]}\n");
    principal(w, "{}", NULL, "read");
    assert_string_equal(eval(w, 0), "authz.missing_scope");
    assert_string_equal(w->d.rule_id, "r/1");
    assert_non_null(w->d.scopes);
    assert_int_equal(w->d.scopes->n, 2);
    w->scopes[1] = SLICE_LIT("write");
    w->p.nscopes = 2;
    assert_string_equal(eval(w, 0), "authz.allowed");
}

static void
test_ip(void **state)
{
    struct world *w = *state;

    load(w, HEAD "routes:\n"
            "  - name: r\n    path: /r\n    upstream: demo\n"
            "    authz:\n      public: true\n      rules:\n"
            "        - effect: deny\n"
            "          when: [{ip: [10.0.0.0/8, \"2001:db8::/32\"], "
            "not: true}]\n");
    client(w, "10.1.2.3");
    assert_string_equal(eval(w, 0), "authz.public");
    client(w, "::ffff:10.1.2.3");
    assert_string_equal(eval(w, 0), "authz.public");
    client(w, "2001:db8::5");
    assert_string_equal(eval(w, 0), "authz.public");
    client(w, "11.0.0.1");
    assert_string_equal(eval(w, 0), "authz.denied");
    client(w, "2001:db9::5");
    assert_string_equal(eval(w, 0), "authz.denied");
}

static void
test_headers(void **state)
{
    struct world *w = *state;

    load(w, HEAD KEYS "routes:\n"
            "  - name: r\n    path: /r\n    upstream: demo\n" AUTHED
            "    authz:\n      rules:\n"
            "        - when:\n"
            "            - {header: X-Tenant, one_of: [a, b]}\n"
            "            - {header: x-agent, regex: \"^curl/[0-9]+\"}\n"
            "            - {header: X-Risk, lt: 5, trusted: true}\n"
            "            - {header: X-Debug, present: true, not: true}\n");
    principal(w, "{}", NULL, NULL);
    header(w, "x-tenant", "a");
    header(w, "x-agent", "curl/8.1");
    header(w, "x-risk", "2.5");
    assert_string_equal(eval(w, 0), "authz.condition_failed");
    client(w, "10.9.1.1"); /* a trusted proxy: X-Risk now counts */
    assert_string_equal(eval(w, 0), "authz.allowed");
    header(w, "x-risk", "7");
    assert_string_equal(eval(w, 0), "authz.condition_failed");
    header(w, "x-risk", "high");
    assert_string_equal(eval(w, 0), "authz.condition_failed");
    header(w, "x-risk", "0");
    header(w, "x-agent", "wget/1");
    assert_string_equal(eval(w, 0), "authz.condition_failed");
    header(w, "x-agent", "curl/1");
    header(w, "x-tenant", "c");
    assert_string_equal(eval(w, 0), "authz.condition_failed");
    header(w, "x-tenant", "b");
    header(w, "x-debug", "1");
    assert_string_equal(eval(w, 0), "authz.condition_failed");
}

static void
test_claims(void **state)
{
    struct world *w = *state;

    load(w, HEAD KEYS "routes:\n"
            "  - name: r\n    path: /r\n    upstream: demo\n" AUTHED
            "    authz:\n      rules:\n"
            "        - when:\n"
            "            - {claim: org.tier, one_of: [gold, silver]}\n"
            "            - {claim: groups, equals: ops}\n"
            "            - {claim: email, regex: \"@example\\\\.com$\"}\n"
            "            - {claim: risk, le: 30}\n"
            "            - {claim: level, equals: \"3\"}\n");
    principal(w, "{\"org\":{\"tier\":\"gold\"},\"groups\":[\"dev\",\"ops\"],"
                 "\"email\":\"a@example.com\",\"risk\":30,\"level\":3}",
              NULL, NULL);
    assert_string_equal(eval(w, 0), "authz.allowed");
    principal(w, "{\"org\":{\"tier\":\"gold\"},\"groups\":[\"dev\",\"ops\"],"
                 "\"email\":\"a@example.com\",\"risk\":31,\"level\":3}",
              NULL, NULL);
    assert_string_equal(eval(w, 0), "authz.condition_failed");
    principal(w, "{\"org\":{\"tier\":\"gold\"},\"groups\":[\"dev\"],"
                 "\"email\":\"a@example.com\",\"risk\":1,\"level\":3}",
              NULL, NULL);
    assert_string_equal(eval(w, 0), "authz.condition_failed");
    principal(w, "{\"org\":{\"tier\":\"gold\"},\"groups\":\"ops\","
                 "\"email\":\"a@example.org\",\"risk\":1,\"level\":3}",
              NULL, NULL);
    assert_string_equal(eval(w, 0), "authz.condition_failed");
    /* A claim absent or of the wrong type is unknown: an allow fails. */
    principal(w, "{\"org\":{\"tier\":\"gold\"},\"groups\":\"ops\","
                 "\"email\":\"a@example.com\",\"risk\":\"1\",\"level\":3}",
              NULL, NULL);
    assert_string_equal(eval(w, 0), "authz.condition_failed");
}

static void
test_unknown_matches_deny(void **state)
{
    struct world *w = *state;

    load(w, HEAD KEYS "routes:\n"
            "  - name: r\n    path: /r\n    upstream: demo\n" AUTHED
            "    authz:\n      authenticated: true\n      rules:\n"
            "        - {id: risky, effect: deny, "
            "when: [{claim: risk, lt: 50, not: true}]}\n");
    principal(w, "{\"risk\":10}", NULL, NULL);
    assert_string_equal(eval(w, 0), "authz.allowed");
    assert_string_equal(w->d.rule_id, "r/authenticated");
    principal(w, "{\"risk\":90}", NULL, NULL);
    assert_string_equal(eval(w, 0), "authz.denied");
    principal(w, "{}", NULL, NULL);
    assert_string_equal(eval(w, 0), "authz.denied");
}

static void
test_time(void **state)
{
    struct world *w = *state;

    load(w, HEAD "routes:\n"
            "  - name: r\n    path: /r\n    upstream: demo\n"
            "    authz:\n      public: true\n      rules:\n"
            "        - effect: deny\n          when:\n"
            "            - time: {days: [mon, tue, wed, thu, fri], "
            "hours: \"08:00-18:00\", zone: Europe/Berlin}\n"
            "              not: true\n"
            "  - name: n\n    path: /n\n    upstream: demo\n"
            "    authz:\n      public: true\n      rules:\n"
            "        - effect: deny\n          when:\n"
            "            - time: {hours: \"22:00-06:00\", zone: UTC}\n");
    /* Thursday 10:00 UTC is 11:00 in Berlin (winter time). */
    assert_string_equal(eval(w, 0), "authz.public");
    w->in.now = 1764842400 + 7 * 3600; /* 18:00 Berlin */
    assert_string_equal(eval(w, 0), "authz.denied");
    w->in.now = 1764842400 + 7 * 3600 - 60; /* 17:59 */
    assert_string_equal(eval(w, 0), "authz.public");
    w->in.now = 1764842400 + 2 * 86400; /* Saturday */
    assert_string_equal(eval(w, 0), "authz.denied");
    /* 2025-07-03T16:30Z is 18:30 in Berlin (summer time). */
    w->in.now = 1751560200;
    assert_string_equal(eval(w, 0), "authz.denied");
    w->in.now = 1751560200 - 3600; /* 17:30 */
    assert_string_equal(eval(w, 0), "authz.public");
    w->in.now = 1764842400 - 5 * 3600; /* 05:00 UTC, in the wrap */
    assert_string_equal(eval(w, 1), "authz.denied");
    w->in.now = 1764842400; /* 10:00 UTC */
    assert_string_equal(eval(w, 1), "authz.public");
}

static void
test_zone_offsets(void **state)
{
    struct policy_set *s = policy_set_new();
    const struct policy_zone *z;
    char err[200];

    (void)state;
    assert_non_null(s);
    assert_int_equal(policy_zone_load(s, "America/New_York", &z, err,
                                      sizeof(err)), AW_OK);
    assert_int_equal(policy_zone_offset(z, 1764842400), -5 * 3600);
    assert_int_equal(policy_zone_offset(z, 1751560200), -4 * 3600);
    assert_int_equal(policy_zone_load(s, "Asia/Kolkata", &z, err,
                                      sizeof(err)), AW_OK);
    assert_int_equal(policy_zone_offset(z, 1764842400), 5 * 3600 + 1800);
    assert_int_equal(policy_zone_load(s, "../etc/passwd", &z, err,
                                      sizeof(err)), AW_INVALID);
    assert_int_equal(policy_zone_load(s, "Mars/Olympus", &z, err,
                                      sizeof(err)), AW_INVALID);
    policy_set_free(s);
}

static void
test_geo(void **state)
{
    struct world *w = *state;

    load(w, HEAD "geo:\n  country_db: " MMDB "GeoLite2-Country-Test.mmdb\n"
            "  asn_db: " MMDB "GeoLite2-ASN-Test.mmdb\n"
            "routes:\n"
            "  - name: r\n    path: /r\n    upstream: demo\n"
            "    authz:\n      public: true\n      rules:\n"
            "        - {id: uk, effect: deny, when: [{country: [GB]}]}\n"
            "        - {id: as, effect: deny, when: [{asn: [29518]}]}\n");
    client(w, "81.2.69.142");
    assert_string_equal(eval(w, 0), "authz.denied");
    assert_string_equal(w->d.rule_id, "uk");
    client(w, "89.160.20.112"); /* SE, AS29518 */
    assert_string_equal(eval(w, 0), "authz.denied");
    assert_string_equal(w->d.rule_id, "as");
    client(w, "2001:218::1"); /* JP, no ASN record: unknown, so denied */
    assert_string_equal(eval(w, 0), "authz.denied");
    assert_string_equal(w->d.rule_id, "as");
    client(w, "1.128.0.1"); /* no country record: unknown, so denied */
    assert_string_equal(eval(w, 0), "authz.denied");
    assert_string_equal(w->d.rule_id, "uk");
    client(w, "2001:220::1"); /* KR, no ASN record */
    assert_string_equal(eval(w, 0), "authz.denied");
}

static void
test_geo_allow(void **state)
{
    struct world *w = *state;

    load(w, HEAD KEYS "geo:\n  country_db: " MMDB
            "GeoLite2-Country-Test.mmdb\n"
            "routes:\n"
            "  - name: r\n    path: /r\n    upstream: demo\n" AUTHED
            "    authz: {rules: [{when: [{country: [JP, GB]}]}]}\n");
    principal(w, "{}", NULL, NULL);
    client(w, "2001:218::1");
    assert_string_equal(eval(w, 0), "authz.allowed");
    client(w, "192.0.2.1"); /* not in the database */
    assert_string_equal(eval(w, 0), "authz.condition_failed");
}

#define OBJECTS                                                                \
    "policies:\n  own:\n    authenticated: true\n    objects:\n"              \
    "      - {id: owner, value: path.user_id, equals: claim.sub,\n"            \
    "         unless: {roles: [admin]}}\n"

static void
test_objects(void **state)
{
    struct world *w = *state;

    load(w, HEAD KEYS OBJECTS "routes:\n"
            "  - name: u\n    path: \"/orgs/{org}/users/{user_id}\"\n"
            "    upstream: demo\n" AUTHED
            "    authz:\n      policy: own\n      objects:\n"
            "        - {id: tenant, value: path.org, equals: claim.org_id}\n"
            "  - name: q\n    path: /q\n    upstream: demo\n" AUTHED
            "    authz:\n      authenticated: true\n      objects:\n"
            "        - {value: query.owner, equals: principal.subject}\n"
            "        - {value: body.doc.owner_id, equals: claim.uid}\n");
    assert_false(w->cfg->routes[0].buffer_body);
    assert_true(w->cfg->routes[1].buffer_body);
    w->params.n = 2;
    w->params.value[0] = SLICE_LIT("acme");
    w->params.value[1] = SLICE_LIT("7");
    principal(w, "{\"sub\":\"7\",\"org_id\":\"acme\"}", "user", NULL);
    assert_string_equal(eval(w, 0), "authz.allowed");
    w->params.value[1] = SLICE_LIT("8");
    assert_string_equal(eval(w, 0), "authz.object_mismatch");
    assert_string_equal(w->d.rule_id, "owner");
    assert_true(slice_is(w->d.object_value, "8"));
    w->roles[0] = SLICE_LIT("admin");
    assert_string_equal(eval(w, 0), "authz.allowed");
    w->params.value[0] = SLICE_LIT("evil");
    assert_string_equal(eval(w, 0), "authz.object_mismatch");
    assert_string_equal(w->d.rule_id, "tenant");

    principal(w, "{\"sub\":\"7\",\"uid\":42}", NULL, NULL);
    w->query[0] = SLICE_LIT("7");
    w->body = parse(w, "{\"doc\":{\"owner_id\":42}}");
    assert_string_equal(eval(w, 1), "authz.allowed");
    w->body = parse(w, "{\"doc\":{\"owner_id\":\"42\"}}");
    assert_string_equal(eval(w, 1), "authz.allowed");
    w->body = parse(w, "{\"doc\":{\"owner_id\":43}}");
    assert_string_equal(eval(w, 1), "authz.object_mismatch");
    assert_true(slice_is(w->d.object_value, "43"));
    w->body = parse(w, "{\"doc\":{\"owner_id\":[42]}}");
    assert_string_equal(eval(w, 1), "authz.object_mismatch");
    w->body = NULL;
    assert_string_equal(eval(w, 1), "authz.object_mismatch");
    w->body = parse(w, "{\"doc\":{\"owner_id\":42}}");
    w->query[0] = SLICE_NULL;
    assert_string_equal(eval(w, 1), "authz.object_mismatch");
}

static void
test_monitor(void **state)
{
    struct world *w = *state;

    load(w, HEAD KEYS "routes:\n"
            "  - name: r\n    path: /r\n    upstream: demo\n" AUTHED
            "    authz: {monitor: true, rules: [{roles: [admin]}]}\n");
    principal(w, "{}", "user", NULL);
    assert_string_equal(eval(w, 0), "authz.missing_role");
    assert_false(w->d.allow);
    assert_false(w->d.enforce);
}

#define ROUTE_NO_AUTH "  - name: r\n    path: \"/u/{id}\"\n    upstream: demo\n"

static void
test_refusals(void **state)
{
    (void)state;
    refused(HEAD "routes:\n" ROUTE_NO_AUTH,
            "t:5:5: routes[0]: the route does not say who may call it");
    refused(HEAD "routes:\n" ROUTE_NO_AUTH "    authz: {policy: nope}\n",
            "no policy is named 'nope'");
    refused(HEAD "routes:\n" ROUTE_NO_AUTH "    authz: {}\n",
            "no allow rule, so nothing could pass");
    refused(HEAD "routes:\n" ROUTE_NO_AUTH
            "    authz: {public: true, authenticated: true}\n",
            "a public route takes deny rules only");
    refused(HEAD "routes:\n" ROUTE_NO_AUTH "    authz: {authenticated: true}\n",
            "the route has no auth section");
    refused(HEAD KEYS "routes:\n" ROUTE_NO_AUTH AUTHED
            "    authz: {authenticated: true, objects: [{value: path.uid, "
            "equals: claim.sub}]}\n",
            "has no parameter {uid}");
    refused(HEAD "routes:\n" ROUTE_NO_AUTH
            "    authz: {public: true, rules: [{effect: deny, when: "
            "[{country: [DE]}]}]}\n",
            "geo.country_db is not configured");
    refused(HEAD "routes:\n" ROUTE_NO_AUTH
            "    authz: {public: true, rules: [{effect: deny, when: "
            "[{header: x-a, regex: \"(\"}]}]}\n",
            "bad regular expression");
    refused(HEAD "routes:\n" ROUTE_NO_AUTH
            "    authz: {public: true, rules: [{effect: deny, when: "
            "[{time: {zone: Nowhere/Land}}]}]}\n",
            "no time zone 'Nowhere/Land'");
    refused(HEAD "routes:\n" ROUTE_NO_AUTH
            "    authz: {public: true, rules: [{effect: deny, when: "
            "[{header: x-a}]}]}\n",
            "a header or claim condition has one test");
    refused(HEAD "routes:\n" ROUTE_NO_AUTH
            "    authz: {public: true, rules: [{effect: deny, when: "
            "[{ip: [10.0.0.1/8]}]}]}\n",
            "routes[0].authz.rules[0].when[0].ip");
    refused(HEAD "routes:\n" ROUTE_NO_AUTH
            "    authz: {public: true, rules: [{effect: deny, when: "
            "[{time: {hours: \"9-17\"}}]}]}\n",
            "expected \"HH:MM-HH:MM\"");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_public_and_deny, setup, teardown),
        cmocka_unit_test_setup_teardown(test_requirements, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_scope_all, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_matches_deny, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_time, setup, teardown),
        cmocka_unit_test(test_zone_offsets),
        cmocka_unit_test_setup_teardown(test_geo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_geo_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitor, setup, teardown),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
