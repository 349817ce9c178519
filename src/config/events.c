/*
 * The events section: where security events go and how much a worker
 * may queue before events are dropped (and counted). A ring holds at
 * least two of the longest lines (EVENTS_LINE_MAX).
 */
#include <stddef.h>

#include "config/internal.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)

const struct config_field config_events_fields[] = {
    {.key = "file", .parse = config_parse_log_dest,
     .offset = offsetof(struct config, events_file),
     .size = sizeof(((struct config *)0)->events_file)},
    {.key = "buffer", .parse = config_parse_size,
     .offset = offsetof(struct config, events_buffer),
     .size = sizeof(((struct config *)0)->events_buffer), .min = 32 * KIB,
     .max = 64 * MIB},
    {.key = NULL},
};
