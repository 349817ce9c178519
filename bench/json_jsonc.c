/* json-c for bench/json.c (see json_peers.h). */
#include <limits.h>

#include <json-c/json.h>

#include "json_peers.h"

static struct json_tokener *tokener;

void
peer_jsonc_init(void)
{
    tokener = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
    if (tokener != NULL)
        json_tokener_set_flags(tokener, JSON_TOKENER_STRICT);
}

void
peer_jsonc_fini(void)
{
    json_tokener_free(tokener);
}

int
peer_jsonc_parse(const char *p, size_t n)
{
    struct json_object *v;

    if (tokener == NULL || n > INT_MAX)
        return -1;
    json_tokener_reset(tokener);
    v = json_tokener_parse_ex(tokener, p, (int)n);
    if (v == NULL)
        return -1;
    json_object_put(v);
    return 0;
}
