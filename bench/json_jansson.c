/* jansson for bench/json.c (see json_peers.h). */
#include <jansson.h>

#include "json_peers.h"

int
peer_jansson_parse(const char *p, size_t n)
{
    json_error_t err;
    json_t *v = json_loadb(p, n, JSON_REJECT_DUPLICATES, &err);

    if (v == NULL)
        return -1;
    json_decref(v);
    return 0;
}
