/*
 * URI references for schema identifiers; see schema_uri.c.
 */
#ifndef APIWARD_CONTRACT_SCHEMA_URI_H
#define APIWARD_CONTRACT_SCHEMA_URI_H

#include <stddef.h>

#include "base/base.h"

#define URI_MAX 2048  /* longest identifier or reference handled */

/*
 * Resolve the reference ref against base (NULL or "" for none) as RFC
 * 3986 section 5.2 says, into out[0..cap), NUL-terminated. AW_OK, or
 * AW_TOOBIG when the result would not fit.
 */
int uri_resolve(const char *base, const char *ref, char *out, size_t cap);

/* Offset of the '#' in uri, or its length when it has none. */
size_t uri_fragment_at(const char *uri);

#endif
