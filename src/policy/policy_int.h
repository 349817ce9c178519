/*
 * policy internals shared by the files of src/policy/ and nothing else.
 */
#ifndef APIWARD_POLICY_INT_H
#define APIWARD_POLICY_INT_H

#include <stdint.h>

#include "policy/policy.h"

/* A zone's offsets: off[i] holds from at[i] until at[i + 1]. */
struct policy_zone {
    char name[64];
    unsigned n;       /* transitions */
    int64_t *at;      /* unix seconds, ascending */
    int32_t *off;     /* UTC offset in seconds after at[i] */
    int32_t before;   /* offset before the first transition */
};

/* Release a zone; accepts NULL. */
void policy_zone_free(struct policy_zone *z);

#endif
