/*
 * identity internals: declarations shared by the files of src/identity
 * (and their tests and fuzz targets) but not by other modules. Like
 * identity.h, each part is one delimited section.
 */
#ifndef APIWARD_IDENTITY_INT_H
#define APIWARD_IDENTITY_INT_H

#include <stddef.h>

#include "identity/identity.h"

/* ==================================================================== */
/* API KEYS (apikey helper)                                             */
/* ==================================================================== */

/*
 * apikey_store_load without files: text[0..len) is the content of a
 * keys file, named name in messages, and pepper[0..pepper_len) the
 * pepper as it would be after reading. Same checks and results; the
 * fuzz target drives the keys-file parser through it.
 */
int apikey_store_parse(const char *name, const char *text, size_t len,
                       const unsigned char *pepper, size_t pepper_len,
                       char **revoked, size_t nrevoked,
                       struct apikey_store **out, char *err, size_t errlen);

/* ==================================================================== */
/* end of API KEYS                                                      */
/* ==================================================================== */

#endif
