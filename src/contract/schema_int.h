/*
 * Internals shared by the schema compiler (schema.c, schema_ref.c), the
 * validator (validate.c) and their helpers (number.c, format.c,
 * hash.c). Nothing here is exported beyond src/contract.
 *
 * A compiled schema is a node of plain data: every keyword became a
 * field, every subschema a pointer to another node of the same set, and
 * a "$ref" a pointer to its target, so the validator never looks at the
 * source document.
 */
#ifndef APIWARD_CONTRACT_SCHEMA_INT_H
#define APIWARD_CONTRACT_SCHEMA_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "contract.h"

/* Instance types as the type keyword names them. */
enum {
    T_NULL = 1u << 0,
    T_BOOL = 1u << 1,
    T_INT = 1u << 2,   /* a number with no fractional part */
    T_NUM = 1u << 3,   /* any number, integers included */
    T_STR = 1u << 4,
    T_ARR = 1u << 5,
    T_OBJ = 1u << 6,
    T_ALL = 0x7f,
};

/* Node flags. */
enum {
    S_FALSE = 1u << 0,      /* the schema false: nothing is valid */
    S_READONLY = 1u << 1,
    S_WRITEONLY = 1u << 2,
    S_CLOSED = 1u << 3,     /* "properties" with neither
                               additionalProperties nor
                               patternProperties: SCHEMA_STRICT closes it */
    S_UNIQUE = 1u << 4,     /* uniqueItems: true */
    S_MIN_EXCL = 1u << 5,   /* the minimum is exclusive */
    S_MAX_EXCL = 1u << 6,
    S_HAS_MIN = 1u << 7,
    S_HAS_MAX = 1u << 8,
    S_HAS_MULT = 1u << 9,
    S_HAS_ENUM = 1u << 10,  /* enum or const */
    S_OBJECT_KW = 1u << 11, /* has a keyword that reads members */
    S_ARRAY_KW = 1u << 12,  /* has a keyword that reads items */
    S_STRING_KW = 1u << 13,
    S_NUMBER_KW = 1u << 14,
    S_NEED_NAMES = 1u << 15, /* tracks which names are present */
    S_INPLACE = 1u << 16,   /* has $ref, allOf, anyOf, oneOf, not, if or
                               dependentSchemas */
    S_TRIVIAL = 1u << 17,   /* admits everything, applies nothing */
    S_UNEVAL = 1u << 18,    /* has unevaluatedProperties */
    S_UNEVAL_ITEMS = 1u << 19, /* has unevaluatedItems */
};

/* Formats asserted. */
enum schema_format {
    FMT_NONE,
    FMT_DATE_TIME,
    FMT_DATE,
    FMT_TIME,
    FMT_EMAIL,
    FMT_UUID,
    FMT_URI,
    FMT_URI_REFERENCE,
    FMT_IPV4,
    FMT_IPV6,
    FMT_HOSTNAME,
};

/*
 * An exact decimal: the integer spelled by dig[0..n) times 10^exp, with
 * no leading or trailing zero digit (zero is n == 0, never negative).
 */
struct dec {
    const char *dig;
    uint32_t n;
    int32_t exp;
    bool neg;
};

/* Most decimal digits a number may have (the JSON parser bounds the
 * text of a number to fewer characters by default). */
#define DEC_MAX_DIGITS 800

/*
 * Parse the JSON number text t into d, its digits written to
 * buf[0..cap). AW_OK, AW_INVALID for text that is not a JSON number,
 * AW_TOOBIG past cap digits.
 */
int dec_parse(struct slice t, char *buf, size_t cap, struct dec *d);

/* <0, 0, >0 as a is below, equal to or above b. */
int dec_cmp(const struct dec *a, const struct dec *b);

/* True when d has no fractional part. */
bool dec_is_int(const struct dec *d);

/* True when a is an integer multiple of m (m > 0), computed exactly. */
bool dec_multiple(const struct dec *a, const struct dec *m);

/*
 * Rewrite the ECMA-262 pattern in for PCRE2 into buf[0..*len) (see
 * regex.c for what changes). AW_OK, or AW_TOOBIG when it does not fit;
 * REGEX_GROWTH bytes per input byte always fit.
 */
int regex_translate(struct slice in, char *buf, size_t cap, size_t *len);
#define REGEX_GROWTH 48

/* True when s (UTF-8) is valid for the format f. */
bool format_check(enum schema_format f, struct slice s);

/* The format named n, or FMT_NONE when it is not one we assert. */
enum schema_format format_by_name(struct slice n);

/*
 * Keyed 64-bit hashes (SipHash-2-4 under a key drawn once per process)
 * of canonical JSON values, for enum, const and uniqueItems: equal
 * values hash equal, and an attacker who does not know the key cannot
 * aim for a collision.
 */
uint64_t hash_bytes(uint64_t tag, const void *p, size_t n);
uint64_t hash_pair(uint64_t a, uint64_t b);
uint64_t hash_dec(const struct dec *d);
uint64_t hash_value(const struct json_value *v);

/* Hash tags of the scalar kinds and of the container folds. */
enum { H_NULL = 1, H_FALSE, H_TRUE, H_NUM, H_STR, H_ARR, H_OBJ, H_NAME };

/* A member name an object schema knows: from properties, or tracked
 * (required, dependent*, discriminator) as bit number bit. */
struct sprop {
    struct slice name;
    const struct schema *s;   /* properties[name], or NULL */
    int bit;                  /* -1 when not tracked */
};

struct spattern {
    pcre2_code *re;
    const struct schema *s;
};

/* dependentRequired: when name bit key is present, every bit of need. */
struct sdep {
    int key;
    uint64_t need;
};

/* dependentSchemas: when name bit key is present, s applies. */
struct sdepschema {
    int key;
    const struct schema *s;
};

/* A discriminator value and the branch of oneOf/anyOf it selects. */
struct sdisc {
    struct slice value;
    unsigned branch;
};

/* A "$dynamicAnchor" of a resource. */
struct sdyn {
    struct slice name;
    const struct schema *s;
};

/* A schema resource (a document or a "$id"), for "$dynamicRef": the
 * dynamic anchors it declares. */
struct sres {
    const char *base;
    struct sdyn *anchors;
    uint32_t n;
    struct sres *next;
};

#define SCHEMA_MAX_TRACKED 64  /* names per object schema that required,
                                  dependent* and the discriminator track */
#define SCHEMA_MAX_BRANCHES 64 /* branches of a oneOf/anyOf that a
                                  discriminator selects among */
#define SCHEMA_NO_MAX UINT32_MAX

struct schema {
    uint32_t flags;
    uint8_t types;            /* T_* bits admitted */
    uint8_t format;           /* enum schema_format */

    struct dec min, max, mult;

    uint32_t min_len, max_len;
    pcre2_code *pattern;

    uint32_t min_items, max_items;
    const struct schema **prefix;
    uint32_t nprefix;
    const struct schema *items;   /* items past the prefix, or NULL */
    const struct schema *contains;
    const struct schema *uneval_items; /* unevaluatedItems */
    uint32_t min_contains, max_contains;

    uint32_t min_props, max_props;
    struct sprop *props;          /* sorted by (length, bytes) */
    uint32_t nprops;
    struct spattern *pats;
    uint32_t npats;
    const struct schema *additional;  /* NULL: any */
    const struct schema *names;       /* propertyNames */
    const struct schema *uneval_props; /* unevaluatedProperties */
    uint64_t required;                /* tracked bits */
    struct sdep *deps;
    uint32_t ndeps;
    struct sdepschema *depschemas;
    uint32_t ndepschemas;

    const struct schema **all_of, **any_of, **one_of;
    uint32_t nall, nany, none;
    const struct schema *not_;
    const struct schema *if_, *then_, *else_;
    const struct schema *ref;
    const struct schema *dyn_ref; /* "$dynamicRef" resolved statically */
    struct slice dyn_name;        /* its anchor name when the target
                                     declares it as a $dynamicAnchor:
                                     the dynamic scope may then choose
                                     another target */
    const struct sres *res;       /* the resource the node is in */
    uint8_t mark;                 /* compile-time cycle check: 0 not
                                     seen, 1 on the path, 2 done */

    uint64_t *enums;              /* hashes of enum or const values */
    uint32_t nenums;

    int disc_bit;                 /* tracked bit of the discriminator's
                                     propertyName, -1 without one */
    struct slice disc_name;
    struct sdisc *disc;
    uint32_t ndisc;
};

/* The sprop of name in s, or NULL. */
const struct sprop *schema_prop(const struct schema *s, struct slice name);

#endif
