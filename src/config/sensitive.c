/*
 * inspect.responses: which response bodies are scanned for sensitive
 * data, for which kinds, and what a finding does (docs/inspect.md).
 *
 *   inspect:
 *     responses:
 *       sensitive: mask          # off | log | mask | block
 *       kinds: [card, iban, jwt] # default: every kind
 *       max_body: 1m             # larger bodies pass unscanned
 *
 * The top-level block gives the defaults; a route's inspect.responses
 * overrides them key by key (src/config/inspect.c reads the rest of the
 * inspect section and calls here for this block). Each distinct set of
 * kinds is compiled into one pattern database per snapshot, shared by
 * every route that asks for that set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SENSITIVE_DBS_MAX 256      /* distinct kind sets: 2^8 at most */
#define SENSITIVE_MAX_BODY_DEFAULT (1024 * 1024)
#define SENSITIVE_MAX_BODY_MAX (64ull * 1024 * 1024)
#define SENSITIVE_NAME_MAX 16

void
config_sensitive_defaults(struct config_sensitive *s)
{
    *s = (struct config_sensitive){
        .mode = SENSITIVE_OFF,
        .kinds = INSPECT_SENS_ALL,
        .max_body = SENSITIVE_MAX_BODY_DEFAULT,
    };
}

/* responses.sensitive: off, log, mask or block. */
static int
sensitive_mode(struct config_loader *ld, const struct config_node *v,
               void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"off", "log", "mask", "block"};
    struct config_sensitive *s = dst;
    int i, rc;

    (void)f;
    rc = config_parse_choice(ld, v, SENSITIVE_NAME_MAX, names,
                             ARRAY_LEN(names), where, &i);
    if (rc == AW_OK)
        s->mode = (enum config_sensitive_mode)i;
    return rc;
}

/* The bit of one entry of responses.kinds. */
static int
sensitive_kind_bit(struct config_loader *ld, const struct config_node *it,
                   const char *where, uint32_t *bit)
{
    static const char *const names[INSPECT_SENS_NKINDS] = {
        "card", "iban", "national_id", "email", "jwt", "private_key",
        "cloud_key", "api_key",
    };
    int i;
    int rc = config_parse_choice(ld, it, SENSITIVE_NAME_MAX, names,
                                 ARRAY_LEN(names), where, &i);

    if (rc == AW_OK)
        *bit = inspect_sensitive_parse((struct slice){names[i],
                                                      strlen(names[i])});
    return rc;
}

static const struct config_bits sensitive_kind_bits = {
    .maxlen = SENSITIVE_NAME_MAX,
    .bit_of = sensitive_kind_bit,
    .empty = "an empty list finds nothing; write sensitive: off to scan "
             "no response",
};

static int
sensitive_kinds(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    struct config_sensitive *s = dst;
    uint32_t bits;
    int rc;

    (void)f;
    rc = config_parse_bits(ld, v, &sensitive_kind_bits, where, &bits);
    if (rc == AW_OK)
        s->kinds = bits;
    return rc;
}

static const struct config_field sensitive_fields[] = {
    {.key = "sensitive", .parse = sensitive_mode},
    {.key = "kinds", .parse = sensitive_kinds},
    {.key = "max_body",
     .parse = config_parse_size,
     .offset = offsetof(struct config_sensitive, max_body),
     .size = sizeof(uint64_t),
     .min = 1,
     .max = SENSITIVE_MAX_BODY_MAX},
    {.key = NULL},
};

/*
 * The pattern database of s's kinds: the one compiled already for the
 * same set in this snapshot, or a new one.
 */
static int
sensitive_db(struct config_loader *ld, const struct config_node *v,
             struct config_sensitive *s, const char *where)
{
    struct config *c = ld->c;
    struct inspect_sensitive_db *db;
    char err[200] = "";
    int rc;

    for (size_t i = 0; i < c->nsensitive_dbs; i++) {
        if (inspect_sensitive_db_kinds(c->sensitive_dbs[i]) == s->kinds) {
            s->db = c->sensitive_dbs[i];
            return AW_OK;
        }
    }
    if (c->sensitive_dbs == NULL) {
        c->sensitive_dbs = config_alloc(ld, SENSITIVE_DBS_MAX *
                                                sizeof(*c->sensitive_dbs));
        if (c->sensitive_dbs == NULL)
            return AW_NOMEM;
    }
    rc = inspect_sensitive_db_compile(s->kinds, &db, err, sizeof(err));
    if (rc == AW_NOMEM)
        return rc;
    if (rc != AW_OK) {
        config_error(ld, v, "%s: %s", where, err);
        return AW_INVALID;
    }
    c->sensitive_dbs[c->nsensitive_dbs++] = db;
    s->db = db;
    return AW_OK;
}

int
config_parse_sensitive(struct config_loader *ld, const struct config_node *v,
                       struct config_sensitive *s, const char *where)
{
    int rc = config_walk_map(ld, v, sensitive_fields, s, where);

    if (rc == AW_OK && s->mode != SENSITIVE_OFF)
        rc = sensitive_db(ld, v, s, where);
    return rc;
}

int
config_sensitive_builtin(struct config_loader *ld, struct config_sensitive *s)
{
    struct config_node none = {.type = CONFIG_NODE_MAP};

    config_sensitive_defaults(s);
    s->mode = SENSITIVE_LOG;
    return sensitive_db(ld, &none, s, "--inspect");
}

void
config_sensitive_free(struct config *c)
{
    for (size_t i = 0; i < c->nsensitive_dbs; i++)
        inspect_sensitive_db_free(c->sensitive_dbs[i]);
}
