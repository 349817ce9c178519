/*
 * The admin section: the address of the admin listener, the file that
 * holds its bearer token, its per-connection time bound and the size of
 * the metrics' route table.
 *
 * Without the section there is no admin listener. With it, listen
 * defaults to loopback (CONFIG_ADMIN_LISTEN) and token_file is
 * required: the admin API never runs without authentication.
 */
#include <stddef.h>
#include <string.h>

#include "config/internal.h"
#include "telemetry/telemetry.h"

#define CONFIG_ADMIN_LISTEN "127.0.0.1:9901"
#define HOUR_MS ((uint64_t)3600 * 1000)

/* admin.listen: one "host:port", an IP literal (no name lookup). */
static int
admin_listen(struct config_loader *ld, const struct config_node *v,
             void *dst, const struct config_field *f, const char *where)
{
    (void)dst;
    (void)f;
    return config_parse_ip_port(ld, v, ld->c->admin_listen, where);
}

static const struct config_field admin_fields[] = {
    {.key = "listen", .parse = admin_listen},
    {.key = "token_file", .parse = config_parse_path, .required = true,
     .offset = offsetof(struct config, admin_token_file),
     .size = sizeof(((struct config *)0)->admin_token_file)},
    {.key = "timeout", .parse = config_parse_duration,
     .offset = offsetof(struct config, admin_timeout_ms),
     .size = sizeof(((struct config *)0)->admin_timeout_ms), .min = 100,
     .max = HOUR_MS},
    {.key = "metrics_routes", .parse = config_parse_uint,
     .offset = offsetof(struct config, metrics_max_routes),
     .size = sizeof(((struct config *)0)->metrics_max_routes), .min = 1,
     .max = 65536},
    {.key = NULL},
};

void
config_admin_defaults(struct config *c)
{
    c->admin_listen = NULL;
    c->admin_token_file = NULL;
    c->admin_timeout_ms = 5000;
    c->metrics_max_routes = METRICS_MAX_ROUTES_DEFAULT;
}

int
config_parse_admin(struct config_loader *ld, const struct config_node *v,
                   void *dst, const struct config_field *f, const char *where)
{
    char err[160];
    struct config *c = ld->c;

    (void)dst;
    (void)f;
    (void)where;
    c->admin_listen = config_alloc(ld, sizeof(*c->admin_listen));
    if (c->admin_listen == NULL)
        return AW_NOMEM;
    if (config_addr_parse(CONFIG_ADMIN_LISTEN, false, c->admin_listen, err,
                          sizeof(err)) != AW_OK)
        return AW_ERROR;
    return config_walk_map(ld, v, admin_fields, c, "admin");
}
