/* cJSON for bench/json.c (see json_peers.h). */
#include <cjson/cJSON.h>

#include "json_peers.h"

int
peer_cjson_parse(const char *p, size_t n)
{
    cJSON *v = cJSON_ParseWithLength(p, n);

    if (v == NULL)
        return -1;
    cJSON_Delete(v);
    return 0;
}
