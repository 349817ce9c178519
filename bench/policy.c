/*
 * Decision cost of the policy evaluator: a 50-route configuration with
 * a named policy, role and scope requirements, header, claim, ip and
 * time conditions and an object rule, compiled by the real loader; one
 * route's program evaluated over and over on a prepared request.
 *
 *   build/bench/apiward-bench-policy [iterations]
 *
 * prints nanoseconds per decision, best of five rounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "config/config.h"
#include "identity/identity.h"
#include "json/json.h"
#include "policy/policy.h"
#include "route/route.h"

#define ROUTES 50

/* The configuration text: 50 routes that each name the policy. */
static char *
make_config(void)
{
    size_t cap = 64 * 1024, n = 0;
    char *s = malloc(cap);

    if (s == NULL)
        return NULL;
    n += (size_t)snprintf(s + n, cap - n,
        "upstreams:\n  api: {servers: [\"127.0.0.1:9\"]}\n"
        "identity:\n  api_keys: {file: " SRCDIR "/examples/demo-api-keys,\n"
        "    pepper_file: " SRCDIR "/examples/demo-pepper}\n"
        "policies:\n  p:\n    objects:\n"
        "      - {value: path.id, equals: claim.sub, "
        "unless: {roles: [admin]}}\n"
        "    rules:\n"
        "      - {id: off, effect: deny, when: [{ip: [10.0.0.0/8]}]}\n"
        "      - {id: risk, effect: deny, when: [{claim: risk, gt: 80}]}\n"
        "routes:\n");
    for (int i = 0; i < ROUTES; i++)
        n += (size_t)snprintf(s + n, cap - n,
            "  - name: r%d\n    path: \"/v1/r%d/{id}\"\n    upstream: api\n"
            "    auth: {methods: [api_key]}\n    authz:\n      policy: p\n"
            "      rules:\n"
            "        - {id: admins, roles: [admin]}\n"
            "        - id: readers\n          scopes: [read]\n"
            "          when:\n"
            "            - {header: X-Tenant, one_of: [a, b, c]}\n"
            "            - {claim: tier, equals: gold}\n"
            "            - {time: {hours: \"00:00-24:00\", zone: UTC}}\n",
            i, i);
    return s;
}

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int
main(int argc, char **argv)
{
    uint64_t iters = 2000000;
    char *text = make_config();
    struct config_errors errs;
    struct config *cfg = NULL;
    struct arena a;
    struct json_value *claims = NULL;
    struct json_limits l;
    struct json_error je;
    struct principal p = {0};
    struct slice scopes[1] = {SLICE_LIT("read")};
    struct slice roles[1] = {SLICE_LIT("user")};
    struct slice headers[POLICY_MAX_SLOTS] = {SLICE_LIT("b")};
    struct route_params params = {.n = 1};
    struct sockaddr_in peer = {.sin_family = AF_INET};
    struct policy_input in = {0};
    struct policy_decision d;
    const char *cl = "{\"sub\":\"42\",\"tier\":\"gold\",\"risk\":10}";
    double best = 0;

    if (argc > 1 && (slice_to_u64((struct slice){argv[1], strlen(argv[1])},
                                  UINT64_C(1) << 40, &iters) != AW_OK ||
                     iters == 0)) {
        fprintf(stderr, "usage: %s [ITERATIONS]\n", argv[0]);
        return 2;
    }

    if (text == NULL || config_load_string("bench", text, strlen(text),
                                           CONFIG_LOAD_NO_RESOLVE, &cfg,
                                           &errs) != AW_OK) {
        config_errors_print(&errs, stderr);
        return 1;
    }
    arena_init(&a, 4096, 1 << 20);
    json_limits_default(&l);
    if (json_parse(cl, strlen(cl), &l, &a, &claims, &je) != AW_OK)
        return 1;
    p.kind = AUTH_API_KEY;
    p.subject = SLICE_LIT("42");
    p.consumer = SLICE_LIT("");
    p.claims = claims;
    p.scopes = scopes;
    p.nscopes = 1;
    p.roles = roles;
    p.nroles = 1;
    params.value[0] = SLICE_LIT("42");
    inet_pton(AF_INET, "192.0.2.7", &peer.sin_addr);
    in.principal = &p;
    in.client = (const struct sockaddr *)&peer;
    in.headers = headers;
    in.params = &params;
    in.now = (int64_t)time(NULL);
    for (int round = 0; round < 5; round++) {
        const struct policy_program *prog = cfg->routes[round * 7].authz;
        double t0 = now_ns(), ns;

        for (uint64_t i = 0; i < iters; i++)
            policy_eval(prog, &in, &d);
        ns = (now_ns() - t0) / (double)iters;
        if (!d.allow) {
            fprintf(stderr, "unexpected decision %s\n", d.reason);
            return 1;
        }
        best = round == 0 || ns < best ? ns : best;
    }
    printf("policy decision, %d-route policy (2 deny, 2 allow rules, 3 "
           "conditions, 1 object rule): %.1f ns per decision\n",
           ROUTES, best);
    arena_fini(&a);
    config_unref(cfg);
    free(text);
    return 0;
}
