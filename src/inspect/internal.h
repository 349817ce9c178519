/*
 * inspect internals shared by the detectors in src/inspect/ and by
 * nothing else: filling a verdict and a few byte helpers.
 */
#ifndef APIWARD_INSPECT_INTERNAL_H
#define APIWARD_INSPECT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "inspect/inspect.h"

/*
 * Fill *out for detector det (reason "inspect.<det>" given as reason)
 * with a window of at most INSPECT_WINDOW_MAX bytes of v's text starting
 * at offset, and never all of a value of two bytes or more (a short
 * value's window is its first half). Returns true, so that a detector
 * can end with "return inspect_found(...)".
 */
bool inspect_found(const struct inspect_value *v, const char *det,
                   const char *reason, const char *rule, unsigned score,
                   size_t offset, struct inspect_verdict *out);

/* ASCII lower case of c; other bytes unchanged. */
static inline unsigned char
inspect_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* True when s[0..len) starts with the lower-case literal lit, ASCII
   case folded. */
bool inspect_prefix_nocase(const char *s, size_t len, const char *lit);

/*
 * The offset of the first occurrence of the lower-case literal lit in
 * s, ASCII case folded, at or after from; SIZE_MAX when there is none.
 * Linear in len for a literal without a repeated first byte.
 */
size_t inspect_find_nocase(struct slice s, size_t from, const char *lit);

/* A detector that takes nothing but the value, with its mask bit. */
struct inspect_detector_fn {
    unsigned bit;
    bool (*match)(const struct inspect_value *v,
                  struct inspect_verdict *out);
};

/* Every such detector (all but SSRF, which takes options), in the
   order inspect_eval runs them; *n is set to their number. */
const struct inspect_detector_fn *inspect_detectors(size_t *n);

/*
 * One pattern of the pattern databases (db.c): a necessary condition of
 * the listed rules of one detector. When one of those rules matches a
 * value, at least one pattern that lists the rule matches the same
 * text, whatever the value's origin and the SSRF options.
 */
struct inspect_pattern {
    unsigned detector; /* INSPECT_* bit */
    const char *rules; /* the rules it stands for, space separated, or
                          "*" for all of the detector's */
    const char *expr;  /* Vectorscan expression */
    unsigned flags;    /* HS_FLAG_* beside HS_FLAG_SINGLEMATCH, or
                          INSPECT_PATTERN_IN_C */
    /* NULL, or a check of the text around each match of expr (end is
       the offset just past it) that must also hold: a short look at a
       few bytes, cheaper than the same condition as a pattern. With
       INSPECT_PATTERN_IN_C, the check of the whole value (end 0). */
    bool (*confirm)(struct slice text, size_t end);
    const char *then;  /* what confirm checks, for messages */
};

/* In inspect_pattern.flags: expr is not given to Vectorscan, confirm
   decides alone. */
#define INSPECT_PATTERN_IN_C (1u << 31)

/* The patterns of every detector; their index is their Vectorscan id.
   Tests read them to name the pattern that should have matched. */
const struct inspect_pattern *inspect_db_patterns(size_t *n);

#endif
