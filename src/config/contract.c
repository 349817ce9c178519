/*
 * contracts: OpenAPI documents that routes enforce, and the key of a
 * route that names one, routes[].contract.
 *
 *     contracts:
 *       - name: shop
 *         openapi: shop.yaml          # relative to this file
 *         responses: filter
 *     routes:
 *       - {name: api, path: /api/, prefix: true, upstream: shop,
 *          contract: shop, authz: {public: true}}
 *
 * Each document is loaded and compiled into the snapshot once, here: a
 * document that fails to load fails the configuration, with the
 * loader's message (file and JSON pointer) under the contract's key. A
 * reload compiles the documents again, so an edited document takes
 * effect with the configuration that names it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/internal.h"
#include "contract/contract.h"

#define CONTRACT_MAX 64             /* contracts in a file */
#define CONTRACT_NAME_MAX 64
#define CONTRACT_PATH_MAX 1024
#define CONTRACT_WHERE_MAX 160
#define CONTRACT_CHOICE_MAX 32
#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)

/* The default of every key of a contract. */
static void
contract_defaults(struct config_contract *ct)
{
    ct->strict = true;
    ct->refuse_unknown_query = true;
    ct->block_deprecated = false;
    ct->responses = RESPONSES_OFF;
    ct->max_response_buffer = MIB;
    ct->monitor = false;
    ct->max_errors = 10;
    ct->max_evaluations = SCHEMA_MAX_EVALS_DEFAULT;
    json_limits_default(&ct->json);
}

/* One of a short list of words into the int at dst. */
static int
contract_word(struct config_loader *ld, const struct config_node *v,
              const char *const *names, size_t n, const char *where, int *dst)
{
    return config_parse_choice(ld, v, CONTRACT_CHOICE_MAX, names, n, where,
                               dst);
}

/* unknown_query: allow or refuse. */
static int
contract_unknown_query(struct config_loader *ld, const struct config_node *v,
                       void *dst, const struct config_field *f,
                       const char *where)
{
    static const char *const names[] = {"allow", "refuse"};
    int i;
    int rc = contract_word(ld, v, names, ARRAY_LEN(names), where, &i);

    (void)f;
    if (rc == AW_OK)
        *(bool *)dst = i == 1;
    return rc;
}

/* deprecated: log or block. */
static int
contract_deprecated(struct config_loader *ld, const struct config_node *v,
                    void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"log", "block"};
    int i;
    int rc = contract_word(ld, v, names, ARRAY_LEN(names), where, &i);

    (void)f;
    if (rc == AW_OK)
        *(bool *)dst = i == 1;
    return rc;
}

/* responses: off, log, block or filter. */
static int
contract_responses(struct config_loader *ld, const struct config_node *v,
                   void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"off", "log", "block", "filter"};
    static const enum config_responses modes[] = {
        RESPONSES_OFF, RESPONSES_LOG, RESPONSES_BLOCK, RESPONSES_FILTER,
    };
    int i;
    int rc = contract_word(ld, v, names, ARRAY_LEN(names), where, &i);

    (void)f;
    if (rc == AW_OK)
        *(enum config_responses *)dst = modes[i];
    return rc;
}

/* mode: block or monitor. */
static int
contract_mode(struct config_loader *ld, const struct config_node *v,
              void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"block", "monitor"};
    int i;
    int rc = contract_word(ld, v, names, ARRAY_LEN(names), where, &i);

    (void)f;
    if (rc == AW_OK)
        *(bool *)dst = i == 1;
    return rc;
}

/* The check of base_path: "/" and more, without a trailing '/'. */
static int
contract_check_base(struct config_loader *ld, const struct config_node *v,
                    const char *where)
{
    if (v->text[0] == '/' && (v->len == 1 || v->text[v->len - 1] != '/') &&
        memchr(v->text, '?', v->len) == NULL &&
        memchr(v->text, '{', v->len) == NULL)
        return AW_OK;
    config_error(ld, v,
                 "%s: a base path starts with '/', does not end with one "
                 "(but for \"/\" itself) and holds no '?' or template",
                 where);
    return AW_INVALID;
}

static int
contract_base_path(struct config_loader *ld, const struct config_node *v,
                   void *dst, const struct config_field *f, const char *where)
{
    (void)f;
    return config_store_string(ld, v, CONTRACT_PATH_MAX, contract_check_base,
                               where, dst);
}

static int
contract_name(struct config_loader *ld, const struct config_node *v,
              void *dst, const struct config_field *f, const char *where)
{
    (void)f;
    return config_store_string(ld, v, CONTRACT_NAME_MAX, config_check_name,
                               where, dst);
}

#define FIELD(k, fn, member, lo, hi)                                           \
    {                                                                          \
        .key = (k), .parse = (fn),                                             \
        .offset = offsetof(struct config_contract, member),                    \
        .size = sizeof(((struct config_contract *)0)->member), .min = (lo),    \
        .max = (hi)                                                            \
    }

/* contracts[].json: the bounds of a request body's JSON. */
static const struct config_field contract_json_schema[] = {
    FIELD("max_depth", config_parse_uint, json.max_depth, 1, 1000),
    FIELD("max_string", config_parse_size, json.max_string, 1, 16 * MIB),
    FIELD("max_members", config_parse_uint, json.max_members, 1, 1000000),
    FIELD("max_items", config_parse_uint, json.max_items, 1, 10000000),
    FIELD("max_number", config_parse_uint, json.max_number, 1, 4096),
    {.key = NULL},
};

/* Offsets of the nested json section are into the contract too. */
static int
contract_json(struct config_loader *ld, const struct config_node *v,
              void *dst, const struct config_field *f, const char *where)
{
    (void)f;
    return config_walk_map(ld, v, contract_json_schema,
                           (char *)dst - offsetof(struct config_contract, json),
                           where);
}

static const struct config_field contract_schema[] = {
    {.key = "name", .parse = contract_name, .required = true,
     .offset = offsetof(struct config_contract, name)},
    {.key = "openapi", .parse = config_parse_path, .required = true,
     .offset = offsetof(struct config_contract, openapi),
     .size = sizeof(((struct config_contract *)0)->openapi)},
    {.key = "base_path", .parse = contract_base_path,
     .offset = offsetof(struct config_contract, base_path)},
    FIELD("strict", config_parse_bool, strict, 0, 1),
    FIELD("unknown_query", contract_unknown_query, refuse_unknown_query, 0,
          0),
    FIELD("deprecated", contract_deprecated, block_deprecated, 0, 0),
    FIELD("responses", contract_responses, responses, 0, 0),
    FIELD("max_response_buffer", config_parse_size, max_response_buffer, KIB,
          64 * MIB),
    FIELD("mode", contract_mode, monitor, 0, 0),
    FIELD("max_errors", config_parse_uint, max_errors, 1, 100),
    FIELD("max_evaluations", config_parse_uint, max_evaluations, 16,
          1000000),
    {.key = "json", .parse = contract_json,
     .offset = offsetof(struct config_contract, json)},
    {.key = NULL},
};

/*
 * Load and compile the document of ct, once its keys are known good.
 * The loader's message names the file and the JSON pointer; it is
 * reported at the contract's openapi key.
 */
static int
contract_compile(struct config_loader *ld, const struct config_node *m,
                 struct config_contract *ct, const char *where)
{
    struct openapi_options o;
    char err[200];
    int rc;

    openapi_options_default(&o);
    o.base_path = ct->base_path;
    o.allow_unknown_query = !ct->refuse_unknown_query;
    o.strict = ct->strict;
    o.max_errors = ct->max_errors;
    o.json = ct->json;
    err[0] = '\0';
    rc = openapi_load(ct->openapi, &o, &ct->api, err, sizeof(err));
    if (rc == AW_IO) {
        config_error(ld, config_map_get(m, "openapi"),
                     "%s.openapi: cannot read %s: %s", where, ct->openapi,
                     strerror(errno));
        return AW_INVALID;
    }
    if (rc != AW_OK) {
        /* The document's own memory bound is a problem of the document,
         * not of the configuration's arena. */
        config_error(ld, config_map_get(m, "openapi"), "%s.openapi: %s: %s",
                     where, ct->openapi,
                     err[0] != '\0' ? err : "out of memory");
        return AW_INVALID;
    }
    return AW_OK;
}

/* One contract: its keys, then its document. */
static int
contract_one(struct config_loader *ld, const struct config_node *m,
             struct config_contract *ct, const char *where)
{
    int rc;

    contract_defaults(ct);
    rc = config_walk_map(ld, m, contract_schema, ct, where);
    if (rc != AW_OK || m->type != CONFIG_NODE_MAP)
        return rc;
    return contract_compile(ld, m, ct, where);
}

/* Refuse a name used before; the problem points at the repeat. */
static int
contract_unique(struct config_loader *ld, const struct config_node *m,
                size_t i)
{
    const struct config_contract *all = ld->c->contracts;

    for (size_t j = 0; j < i; j++) {
        if (all[j].name == NULL || all[i].name == NULL ||
            strcmp(all[j].name, all[i].name) != 0)
            continue;
        config_error(ld, config_map_get(m, "name"),
                     "contracts[%zu].name: '%s' is the name of "
                     "contracts[%zu] already", i, all[i].name, j);
        return AW_INVALID;
    }
    return AW_OK;
}

int
config_parse_contracts(struct config_loader *ld, const struct config_node *v,
                       void *dst, const struct config_field *f,
                       const char *where)
{
    struct config *c = ld->c;
    size_t i = 0;
    int rc = config_expect_entries(ld, v, CONFIG_NODE_SEQ, 1, CONTRACT_MAX,
                                   "contracts", where);

    (void)dst;
    (void)f;
    if (rc != AW_OK)
        return rc;
    c->contracts = config_alloc(ld, v->n * sizeof(*c->contracts));
    if (c->contracts == NULL)
        return AW_NOMEM;
    for (const struct config_node *m = v->first; m != NULL; m = m->next) {
        char path[CONTRACT_WHERE_MAX];
        int one;

        snprintf(path, sizeof(path), "%s[%zu]", where, i);
        one = contract_one(ld, m, &c->contracts[i], path);
        c->ncontracts = ++i;
        if (one == AW_NOMEM)
            return one;
        if (one != AW_OK || contract_unique(ld, m, i - 1) != AW_OK)
            rc = AW_INVALID;
    }
    return rc;
}

/*
 * routes[i].contract: the name of a contract parsed before, stored as
 * a pointer into c->contracts.
 */
int
config_parse_route_contract(struct config_loader *ld,
                            const struct config_node *v, void *dst,
                            const struct config_field *f, const char *where)
{
    const struct config *c = ld->c;
    char q[96];
    const char *s;
    int rc = config_expect_string(ld, v, CONTRACT_NAME_MAX, where, &s);

    (void)f;
    if (rc != AW_OK)
        return rc;
    for (size_t i = 0; i < c->ncontracts; i++) {
        if (c->contracts[i].name != NULL &&
            strcmp(c->contracts[i].name, s) == 0) {
            *(const struct config_contract **)dst = &c->contracts[i];
            return AW_OK;
        }
    }
    config_error(ld, v, "%s: no contract is named '%s'", where,
                 config_node_quote(v, q, sizeof(q)));
    return AW_INVALID;
}

void
config_contracts_free(struct config *c)
{
    for (size_t i = 0; i < c->ncontracts; i++)
        openapi_free(c->contracts[i].api);
}
