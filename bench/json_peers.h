/*
 * Other JSON parsers for bench/json.c, one file each (their headers
 * clash with apiward's and with each other's). Each parse function
 * builds the library's tree of p[0..n), frees it, and returns 0 when the
 * text was accepted, -1 when not. A file is built only when its library
 * is installed, and then defines HAVE_<LIBRARY> for bench/json.c.
 */
#ifndef APIWARD_BENCH_JSON_PEERS_H
#define APIWARD_BENCH_JSON_PEERS_H

#include <stddef.h>

/* jansson, refusing duplicate member names as apiward does. */
int peer_jansson_parse(const char *p, size_t n);

/* json-c in strict mode; init makes the reused tokener, fini frees it. */
void peer_jsonc_init(void);
void peer_jsonc_fini(void);
int peer_jsonc_parse(const char *p, size_t n);

/* cJSON, which has no strict mode. */
int peer_cjson_parse(const char *p, size_t n);

#endif
