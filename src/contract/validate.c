/*
 * The streaming validator: a compiled schema run over the tokens of one
 * JSON instance, with no tree built.
 *
 * Every value of the instance gets a frame (one per depth, reused), and
 * every (schema, value) pair being evaluated an eval. The evals live on
 * one stack: those of a value sit above the evals of its container,
 * so when the value ends its evals are on top, are finished (each
 * yields pass or fail), report to their parents and are popped.
 *
 * An eval's parent is either an eval of the same value (allOf, anyOf,
 * oneOf, not, if/then/else, $ref, dependentSchemas: the combinators and
 * in-place applicators, which all see the value at once) or an eval of
 * the container (properties, patternProperties, additionalProperties,
 * items, prefixItems, contains, propertyNames). Parents always sit below
 * their children, so finishing a value's evals from the top down
 * finishes children before parents.
 *
 * Most members and items are scalars checked by one schema of their
 * own. Such a schema is not pushed as an eval when it is seeded: the
 * value's frame keeps it aside (frame.leaf), and when the value turns
 * out to be a scalar with nothing else to evaluate it, its first token
 * is checked against it directly and the container eval failed if it
 * fails. Anything else (a container, a second schema, an eval pushed
 * for the value by another keyword) pushes it as an ordinary eval
 * first.
 *
 * Errors: an eval under anyOf, oneOf, not, if, then, else, contains,
 * propertyNames or dependentSchemas is speculative: its failures are
 * not reported, only the combinator's own when it fails in a
 * non-speculative eval. Every error is the instance's JSON pointer and a
 * keyword, never the value.
 */
#include <string.h>

#include "schema_int.h"

/* Eval roles: how an eval reports to its parent. */
enum role {
    R_ROOT,
    R_AND,       /* allOf, $ref, and every child value's schema */
    R_ANY,
    R_ONE,
    R_NOT,
    R_IF,
    R_THEN,
    R_ELSE,
    R_DEP,       /* dependentSchemas, branch = the key's tracked bit */
    R_CONTAINS,
    R_NAMES,     /* propertyNames, run over a member name */
    R_DISC,      /* reads the discriminator's value for its parent */
    R_UNEVAL,    /* unevaluatedProperties on one member (or
                    unevaluatedItems on one item), branch = the
                    container eval's position in its frame */
};

enum {
    EV_FAILED = 1u << 0,
    EV_SPEC = 1u << 1,
    EV_IF_OK = 1u << 2,
    EV_THEN_FAIL = 1u << 3,
    EV_ELSE_FAIL = 1u << 4,
    EV_NOT_HIT = 1u << 5,
};

struct eval {
    const struct schema *s;
    uint32_t parent;
    uint8_t role;
    uint8_t flags;
    uint16_t branch;      /* R_ANY, R_ONE: index; R_DEP: tracked bit */
    uint32_t count;       /* members or items seen */
    uint32_t contains;    /* items that matched contains */
    uint32_t any_ok;      /* anyOf branches that passed */
    uint32_t one_ok;      /* oneOf branches that passed */
    int32_t disc;         /* discriminator branch; -1 not seen, -2
                             unknown value */
    uint64_t seen;        /* tracked names present */
    uint64_t ok_bits;     /* anyOf/oneOf branches that passed */
    uint64_t dep_fail;    /* dependentSchemas that failed, by key bit */
};

enum { K_NONE, K_OBJ, K_ARR };

/* One member of an object that an unevaluatedProperties applies to. */
struct umember {
    uint64_t direct;      /* evals of the object (by position) whose own
                             keywords evaluated the member */
    uint64_t failed;      /* evals whose unevaluatedProperties schema
                             the member's value failed */
};

#define UNEVAL_MAX_EVALS 64   /* evals of one object an
                                 unevaluatedProperties can look through */

struct frame {
    uint32_t ev_begin, ev_end;
    uint32_t index;       /* next item of an array */
    uint32_t path_len;    /* path length before this value's segment */
    uint8_t kind;
    bool hash;            /* this value's hash is needed */
    bool child_hash;      /* its members' or items' hashes are needed */
    bool unique;          /* keep item hashes for uniqueItems */
    uint64_t h;           /* running hash */
    uint64_t name_h;      /* hash of the current member's name */
    uint64_t *items;      /* item hashes, for uniqueItems */
    uint32_t nitems, items_cap;
    bool uneval;          /* an eval has unevaluatedProperties */
    struct umember *um;   /* its members, in order */
    uint32_t num, um_cap;
    const struct schema *leaf;  /* a schema set aside for this value, */
    uint32_t leaf_parent;       /* seeded by the eval at this index */
};

/* Flags of a schema that needs an eval of its own even on a scalar. */
#define S_NOT_LEAF (S_FALSE | S_READONLY | S_WRITEONLY | S_HAS_ENUM | \
                    S_INPLACE | S_UNEVAL | S_UNEVAL_ITEMS | S_TRIVIAL)

#define MAX_EVALS_DEFAULT SCHEMA_MAX_EVALS_DEFAULT
#define MAX_FRAMES 1024       /* beyond any JSON depth bound we accept */
#define MAX_PATH (64 * 1024)  /* bytes of the instance pointer */
#define MAX_EXPAND 128        /* in-place applicators nested on one value */
#define MATCH_LIMIT 1000000   /* PCRE2 backtracking bound per match */
#define MATCH_HEAP_KIB 1024   /* PCRE2 backtracking memory per match */

struct schema_validator {
    const struct schema *root;
    unsigned flags;
    struct arena *a;

    struct eval *ev;
    uint32_t nev, ev_cap, max_ev;
    struct frame *fr;
    uint32_t fr_cap;
    char *path;
    uint32_t path_len, path_cap;

    struct schema_error *errs;
    size_t nerr, max_errors;

    unsigned str_kind;    /* SCHEMA_STRING_* of the last string */
    int rc;               /* sticky failure of the validator itself */
    bool ended;           /* the top-level value has ended */
    bool valid;           /* the root eval's result */
    bool keep;            /* schema_validator_keep after the last NAME */
    bool started;         /* the root's applicators are expanded */
    struct frame *seeding; /* the frame whose value is being seeded,
                              when its schemas may be set aside */
    uint64_t last_h;      /* hash of the value that just ended */

    /* The current scalar token, decoded lazily. */
    const struct json_token *tok;
    struct dec num;
    bool num_ok, num_done;
    char numbuf[DEC_MAX_DIGITS];

    pcre2_general_context *gctx;
    pcre2_match_context *mctx;
    pcre2_match_data *md;
};

/* ------------------------------------------------------------------ */
/* Errors and the instance pointer                                     */
/* ------------------------------------------------------------------ */

/* Record a failure of the validator itself (a bound, the arena). */
static void
vfail(struct schema_validator *v, int rc)
{
    if (v->rc == AW_OK)
        v->rc = rc;
}

static void
add_error(struct schema_validator *v, const char *keyword)
{
    char *p;

    if (v->nerr == v->max_errors)
        return;
    p = arena_dup(v->a, v->path, v->path_len + 1);
    if (p == NULL) {
        vfail(v, AW_NOMEM);
        return;
    }
    p[v->path_len] = '\0';
    v->errs[v->nerr++] = (struct schema_error){p, keyword};
}

/* The eval fails with keyword; reported unless speculative. */
static void
ev_fail(struct schema_validator *v, struct eval *e, const char *keyword)
{
    e->flags |= EV_FAILED;
    if (!(e->flags & EV_SPEC))
        add_error(v, keyword);
}

static bool
path_room(struct schema_validator *v, size_t n)
{
    uint32_t cap = v->path_cap;
    char *p;

    if (v->path_len + n + 1 <= cap)
        return true;
    while (cap < v->path_len + n + 1)
        cap *= 2;
    if (cap > MAX_PATH)
        return false;
    p = arena_alloc(v->a, cap);
    if (p == NULL)
        return false;
    memcpy(p, v->path, v->path_len + 1);
    v->path = p;
    v->path_cap = cap;
    return true;
}

/* Append "/" and a member name, escaped as RFC 6901 says. A pointer
 * past MAX_PATH keeps its first bytes: errors then name an ancestor. */
static void
path_push_name(struct schema_validator *v, struct slice name)
{
    size_t extra = 1 + name.len;
    char *p;

    /* The escapes are counted only when the pointer may lack room for
     * every byte of the name escaped. */
    if (v->path_len + 2 * name.len + 2 > v->path_cap) {
        for (size_t i = 0; i < name.len; i++)
            extra += name.ptr[i] == '~' || name.ptr[i] == '/';
        if (!path_room(v, extra))
            return;
    }
    p = v->path + v->path_len;
    *p++ = '/';
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];

        if (unlikely(c == '~' || c == '/')) {
            *p++ = '~';
            c = c == '~' ? '0' : '1';
        }
        *p++ = c;
    }
    *p = '\0';
    v->path_len = (uint32_t)(p - v->path);
}

static void
path_push_index(struct schema_validator *v, uint32_t i)
{
    char num[12];
    int n = 0;

    do
        num[n++] = (char)('0' + i % 10);
    while ((i /= 10) > 0 && n < 11);
    if (!path_room(v, (size_t)n + 1))
        return;
    v->path[v->path_len++] = '/';
    while (n > 0)
        v->path[v->path_len++] = num[--n];
    v->path[v->path_len] = '\0';
}

static void
path_pop(struct schema_validator *v, uint32_t len)
{
    v->path_len = len;
    v->path[len] = '\0';
}

/* ------------------------------------------------------------------ */
/* Frames and evals                                                    */
/* ------------------------------------------------------------------ */

/* Grow the frames to hold depth d; NULL past MAX_FRAMES or memory. */
static struct frame *
frame_grow(struct schema_validator *v, unsigned d)
{
    uint32_t cap = v->fr_cap * 2;
    struct frame *f;

    while (cap <= d)
        cap *= 2;
    if (cap > MAX_FRAMES || (f = arena_alloc(v->a, cap *
                                             sizeof(*f))) == NULL) {
        vfail(v, cap > MAX_FRAMES ? AW_TOOBIG : AW_NOMEM);
        return NULL;
    }
    memcpy(f, v->fr, v->fr_cap * sizeof(*f));
    memset(f + v->fr_cap, 0, (cap - v->fr_cap) * sizeof(*f));
    v->fr = f;
    v->fr_cap = cap;
    return &v->fr[d];
}

static inline struct frame *
frame_at(struct schema_validator *v, unsigned d)
{
    if (likely(d < v->fr_cap))
        return &v->fr[d];
    return frame_grow(v, d);
}

/* True when s admits everything and applies nothing. */
static inline bool
trivial(const struct schema *s)
{
    return (s->flags & S_TRIVIAL) != 0;
}

static bool
ev_room(struct schema_validator *v)
{
    uint32_t cap;
    struct eval *e;

    if (v->nev >= v->max_ev) {
        vfail(v, AW_TOOBIG);
        return false;
    }
    if (v->nev < v->ev_cap)
        return true;
    cap = MIN(v->ev_cap * 2, v->max_ev);
    e = arena_alloc(v->a, cap * sizeof(*e));
    if (e == NULL) {
        vfail(v, AW_NOMEM);
        return false;
    }
    memcpy(e, v->ev, v->nev * sizeof(*e));
    v->ev = e;
    v->ev_cap = cap;
    return true;
}

static void push_eval(struct schema_validator *v, const struct schema *s,
                      uint32_t parent, enum role role, bool spec,
                      unsigned branch, unsigned depth);

static void
push_list(struct schema_validator *v, const struct schema *const *list,
          uint32_t n, uint32_t parent, enum role role, bool spec,
          unsigned depth)
{
    for (uint32_t i = 0; i < n; i++)
        push_eval(v, list[i], parent, role, spec, i, depth);
}

/*
 * The target of the "$dynamicRef" of the eval at index i: the outermost
 * resource on the evaluation path (the evals from i up to the root)
 * that declares its name as a "$dynamicAnchor", else the static target.
 */
static const struct schema *
dynamic_target(const struct schema_validator *v, uint32_t i)
{
    const struct schema *s = v->ev[i].s, *found = s->dyn_ref;

    if (s->dyn_name.len == 0)
        return found;
    for (uint32_t j = i;; j = v->ev[j].parent) {
        const struct sres *r = v->ev[j].s->res;

        for (uint32_t k = 0; r != NULL && k < r->n; k++)
            if (slice_eq(r->anchors[k].name, s->dyn_name))
                found = r->anchors[k].s;
        if (v->ev[j].role == R_ROOT)
            return found;
    }
}

/* The in-place applicators of the eval at index i, on the same value. */
static void
expand(struct schema_validator *v, uint32_t i, bool spec, unsigned depth)
{
    const struct schema *s = v->ev[i].s;

    if (s->ref != NULL)
        push_eval(v, s->ref, i, R_AND, spec, 0, depth + 1);
    if (s->dyn_ref != NULL)
        push_eval(v, dynamic_target(v, i), i, R_AND, spec, 0, depth + 1);
    push_list(v, s->all_of, s->nall, i, R_AND, spec, depth + 1);
    push_list(v, s->any_of, s->nany, i, R_ANY, true, depth + 1);
    push_list(v, s->one_of, s->none, i, R_ONE, true, depth + 1);
    if (s->not_ != NULL)
        push_eval(v, s->not_, i, R_NOT, true, 0, depth + 1);
    if (s->if_ != NULL) {
        push_eval(v, s->if_, i, R_IF, true, 0, depth + 1);
        if (s->then_ != NULL)
            push_eval(v, s->then_, i, R_THEN, true, 0, depth + 1);
        if (s->else_ != NULL)
            push_eval(v, s->else_, i, R_ELSE, true, 0, depth + 1);
    }
    for (uint32_t k = 0; k < s->ndepschemas; k++)
        push_eval(v, s->depschemas[k].s, i, R_DEP, true,
                  (unsigned)s->depschemas[k].key, depth + 1);
}

/*
 * A new eval of s for the value about to start (or just started), with
 * its in-place applicators. A schema that admits everything is not
 * pushed where its result could not matter (R_AND).
 */
static void
push_eval(struct schema_validator *v, const struct schema *s,
          uint32_t parent, enum role role, bool spec, unsigned branch,
          unsigned depth)
{
    struct eval *e;
    uint32_t i;

    if (v->rc != AW_OK || (role == R_AND && trivial(s)))
        return;
    if (depth > MAX_EXPAND) {
        vfail(v, AW_TOOBIG);
        return;
    }
    if (!ev_room(v))
        return;
    i = v->nev++;
    e = &v->ev[i];
    memset(e, 0, sizeof(*e));
    e->s = s;
    e->parent = parent;
    e->role = (uint8_t)role;
    e->branch = (uint16_t)branch;
    e->flags = spec ? EV_SPEC : 0;
    e->disc = -1;
    if ((s->flags & S_READONLY) && (v->flags & SCHEMA_REQUEST))
        ev_fail(v, e, "readOnly");
    if ((s->flags & S_WRITEONLY) && (v->flags & SCHEMA_RESPONSE) &&
        !(v->flags & SCHEMA_FILTER))
        ev_fail(v, e, "writeOnly");
    if (s->flags & S_INPLACE)
        expand(v, i, spec, depth);
}

/* ------------------------------------------------------------------ */
/* Scalars                                                             */
/* ------------------------------------------------------------------ */

/* The current NUMBER token as a decimal; false when unreadable. */
static bool
tok_num(struct schema_validator *v)
{
    if (!v->num_done) {
        v->num_done = true;
        v->num_ok = dec_parse(v->tok->text, v->numbuf, sizeof(v->numbuf),
                              &v->num) == AW_OK;
    }
    return v->num_ok;
}

static uint64_t
scalar_hash(struct schema_validator *v, const struct json_token *t)
{
    switch (t->kind) {
    case JSON_TOK_NULL:
        return hash_bytes(H_NULL, NULL, 0);
    case JSON_TOK_FALSE:
        return hash_bytes(H_FALSE, NULL, 0);
    case JSON_TOK_TRUE:
        return hash_bytes(H_TRUE, NULL, 0);
    case JSON_TOK_NUMBER:
        if (tok_num(v))
            return hash_dec(&v->num);
        return hash_bytes(H_NUM, t->text.ptr, t->text.len);
    default:
        return hash_bytes(H_STR, t->text.ptr, t->text.len);
    }
}

static void *
on_pcre_alloc(size_t n, void *ctx)
{
    return arena_alloc(ctx, n);
}

static void
on_pcre_free(void *p, void *ctx)
{
    (void)p;
    (void)ctx;              /* arena memory goes with the arena */
}

/* 1 when re matches somewhere in s, 0 when not, -1 when the match could
 * not be decided (a bound was hit, or no memory). */
static int
regex_match(struct schema_validator *v, pcre2_code *re, struct slice s)
{
    int rc;

    if (v->md == NULL) {
        v->gctx = pcre2_general_context_create(on_pcre_alloc, on_pcre_free,
                                               v->a);
        v->mctx = v->gctx ? pcre2_match_context_create(v->gctx) : NULL;
        v->md = v->gctx ? pcre2_match_data_create(1, v->gctx) : NULL;
        if (v->md == NULL || v->mctx == NULL) {
            v->md = NULL;
            return -1;
        }
        pcre2_set_match_limit(v->mctx, MATCH_LIMIT);
        pcre2_set_depth_limit(v->mctx, MATCH_LIMIT / 100);
        /* The interpreter's backtracking frames come from the arena. */
        pcre2_set_heap_limit(v->mctx, MATCH_HEAP_KIB);
    }
    /* The JSON parser has checked the UTF-8 already. */
    rc = pcre2_match(re, (PCRE2_SPTR)s.ptr, s.len, 0, PCRE2_NO_UTF_CHECK,
                     v->md, v->mctx);
    if (rc >= 0)
        return 1;
    return rc == PCRE2_ERROR_NOMATCH ? 0 : -1;
}

/* Code points of valid UTF-8. */
static size_t
utf8_len(struct slice s)
{
    size_t n = 0;

    for (size_t i = 0; i < s.len; i++)
        n += ((unsigned char)s.ptr[i] & 0xc0) != 0x80;
    return n;
}

/*
 * Formats whose valid values are made of digits, hex, letters and a few
 * separators only. Not email: a quoted local part may hold quotes,
 * blanks and braces.
 */
static bool
format_closed(enum schema_format f)
{
    return f == FMT_DATE_TIME || f == FMT_DATE || f == FMT_TIME ||
           f == FMT_UUID || f == FMT_IPV4 || f == FMT_IPV6 ||
           f == FMT_HOSTNAME;
}

static void
check_string(struct schema_validator *v, struct eval *e, struct slice str)
{
    const struct schema *s = e->s;

    /* A code point takes 1 to 4 bytes: count only when the byte length
     * leaves the answer open. */
    if ((s->min_len > 0 && str.len / 4 < s->min_len) ||
        (s->max_len != SCHEMA_NO_MAX && str.len > s->max_len)) {
        size_t n = utf8_len(str);

        if (n < s->min_len)
            ev_fail(v, e, "minLength");
        if (n > s->max_len)
            ev_fail(v, e, "maxLength");
    }
    if (s->pattern != NULL && regex_match(v, s->pattern, str) != 1)
        ev_fail(v, e, "pattern");
    if (s->format == FMT_URI || s->format == FMT_URI_REFERENCE)
        v->str_kind |= SCHEMA_STRING_URI;
    if (s->format != FMT_NONE &&
        !format_check((enum schema_format)s->format, str))
        ev_fail(v, e, "format");
    else if (format_closed((enum schema_format)s->format))
        v->str_kind |= SCHEMA_STRING_CLOSED;
}

static void
check_number(struct schema_validator *v, struct eval *e)
{
    const struct schema *s = e->s;
    const struct dec *d = &v->num;

    if (!tok_num(v)) {
        ev_fail(v, e, "type");
        return;
    }
    if (s->flags & S_HAS_MIN) {
        int c = dec_cmp(d, &s->min);

        if (c < 0 || (c == 0 && (s->flags & S_MIN_EXCL)))
            ev_fail(v, e, s->flags & S_MIN_EXCL ? "exclusiveMinimum"
                                                : "minimum");
    }
    if (s->flags & S_HAS_MAX) {
        int c = dec_cmp(d, &s->max);

        if (c > 0 || (c == 0 && (s->flags & S_MAX_EXCL)))
            ev_fail(v, e, s->flags & S_MAX_EXCL ? "exclusiveMaximum"
                                                : "maximum");
    }
    if ((s->flags & S_HAS_MULT) && !dec_multiple(d, &s->mult))
        ev_fail(v, e, "multipleOf");
}

static bool
enum_has(const struct schema *s, uint64_t h)
{
    for (uint32_t i = 0; i < s->nenums; i++)
        if (s->enums[i] == h)
            return true;
    return false;
}

/* The T_* bits of the value that starts with token t. */
static unsigned
instance_type(struct schema_validator *v, const struct json_token *t)
{
    switch (t->kind) {
    case JSON_TOK_NULL:
        return T_NULL;
    case JSON_TOK_FALSE:
    case JSON_TOK_TRUE:
        return T_BOOL;
    case JSON_TOK_NUMBER:
        return T_NUM | (tok_num(v) && dec_is_int(&v->num) ? T_INT : 0);
    case JSON_TOK_STRING:
        return T_STR;
    case JSON_TOK_ARRAY_BEGIN:
        return T_ARR;
    default:
        return T_OBJ;
    }
}

/* The checks a value's first token decides. */
static void
check_start(struct schema_validator *v, struct eval *e,
            const struct json_token *t, unsigned type)
{
    const struct schema *s = e->s;

    if (s->flags & S_FALSE) {
        ev_fail(v, e, "false");
        return;
    }
    if (!(s->types & type))
        ev_fail(v, e, "type");
    if (t->kind == JSON_TOK_STRING && (s->flags & S_STRING_KW))
        check_string(v, e, t->text);
    else if (t->kind == JSON_TOK_NUMBER && (s->flags & S_NUMBER_KW))
        check_number(v, e);
}

/* The discriminator's value, read for the parent eval. */
static void
read_discriminator(struct schema_validator *v, struct eval *e,
                   const struct json_token *t)
{
    struct eval *p = &v->ev[e->parent];
    const struct schema *s = p->s;

    p->disc = -2;
    if (t->kind != JSON_TOK_STRING)
        return;
    for (uint32_t i = 0; i < s->ndisc; i++)
        if (slice_eq(s->disc[i].value, t->text))
            p->disc = (int32_t)s->disc[i].branch;
}

/* ------------------------------------------------------------------ */
/* The end of a value                                                  */
/* ------------------------------------------------------------------ */

static void
finish_object(struct schema_validator *v, struct eval *e)
{
    const struct schema *s = e->s;

    if (e->count < s->min_props)
        ev_fail(v, e, "minProperties");
    if (e->count > s->max_props)
        ev_fail(v, e, "maxProperties");
    if (s->required & ~e->seen)
        ev_fail(v, e, "required");
    for (uint32_t i = 0; i < s->ndeps; i++)
        if ((e->seen >> s->deps[i].key & 1) && (s->deps[i].need & ~e->seen))
            ev_fail(v, e, "dependentRequired");
    if (e->dep_fail & e->seen)
        ev_fail(v, e, "dependentSchemas");
}

static void
finish_array(struct schema_validator *v, struct eval *e,
             const struct frame *f, bool dup)
{
    const struct schema *s = e->s;

    if (e->count < s->min_items)
        ev_fail(v, e, "minItems");
    if (e->count > s->max_items)
        ev_fail(v, e, "maxItems");
    if (s->contains != NULL && e->contains < s->min_contains)
        ev_fail(v, e, s->min_contains == 1 ? "contains" : "minContains");
    if (s->contains != NULL && e->contains > s->max_contains)
        ev_fail(v, e, "maxContains");
    if ((s->flags & S_UNIQUE) && dup)
        ev_fail(v, e, "uniqueItems");
    (void)f;
}

/*
 * oneOf/anyOf, not, if/then/else. With a discriminator on an object,
 * the branch its value selects must hold and decides alone.
 */
static void
finish_combinators(struct schema_validator *v, struct eval *e, bool object)
{
    const struct schema *s = e->s;

    if (object && s->ndisc > 0) {
        const char *kw = s->none ? "oneOf" : "anyOf";

        if (e->disc < 0)
            ev_fail(v, e, "discriminator");
        else if (!(e->ok_bits >> e->disc & 1))
            ev_fail(v, e, kw);
    } else {
        if (s->nany > 0 && e->any_ok == 0)
            ev_fail(v, e, "anyOf");
        if (s->none > 0 && e->one_ok != 1)
            ev_fail(v, e, "oneOf");
    }
    if (e->flags & EV_NOT_HIT)
        ev_fail(v, e, "not");
    if ((e->flags & EV_IF_OK) && (e->flags & EV_THEN_FAIL))
        ev_fail(v, e, "then");
    if (!(e->flags & EV_IF_OK) && (e->flags & EV_ELSE_FAIL))
        ev_fail(v, e, "else");
}

/* Hand the result of the finished eval e, of a value whose container
 * is the frame pf (NULL at the top), to its parent. */
static void
report(struct schema_validator *v, struct eval *e, struct frame *pf)
{
    bool ok = !(e->flags & EV_FAILED);
    struct eval *p = e->role == R_ROOT ? NULL : &v->ev[e->parent];

    switch ((enum role)e->role) {
    case R_ROOT:
        v->valid = ok;
        v->ended = true;
        return;
    case R_AND:
        p->flags |= ok ? 0 : EV_FAILED;
        return;
    case R_ANY:
    case R_ONE:
        if (ok) {
            *(e->role == R_ANY ? &p->any_ok : &p->one_ok) += 1;
            if (e->branch < 64)
                p->ok_bits |= 1ULL << e->branch;
        }
        return;
    case R_NOT:
        p->flags |= ok ? EV_NOT_HIT : 0;
        return;
    case R_IF:
        p->flags |= ok ? EV_IF_OK : 0;
        return;
    case R_THEN:
        p->flags |= ok ? 0 : EV_THEN_FAIL;
        return;
    case R_ELSE:
        p->flags |= ok ? 0 : EV_ELSE_FAIL;
        return;
    case R_DEP:
        p->dep_fail |= ok ? 0 : 1ULL << e->branch;
        return;
    case R_CONTAINS:
        p->contains += ok;
        /* A matching item is evaluated, for unevaluatedItems. */
        if (ok && pf != NULL && pf->uneval && pf->num > 0 &&
            e->parent - pf->ev_begin < 64)
            pf->um[pf->num - 1].direct |= 1ULL << (e->parent - pf->ev_begin);
        return;
    case R_NAMES:
        if (!ok)
            ev_fail(v, p, "propertyNames");
        return;
    case R_UNEVAL:
        if (!ok && pf != NULL && pf->num > 0)
            pf->um[pf->num - 1].failed |= 1ULL << e->branch;
        return;
    case R_DISC:
        return;
    }
}

/* Does the annotation of the passing eval e reach its parent? */
static bool
annotation_reaches(const struct schema_validator *v, const struct eval *e)
{
    const struct eval *p = &v->ev[e->parent];

    switch ((enum role)e->role) {
    case R_AND:
    case R_ANY:
    case R_ONE:
    case R_IF:
        return true;
    case R_THEN:
        return (p->flags & EV_IF_OK) != 0;
    case R_ELSE:
        return !(p->flags & EV_IF_OK);
    case R_DEP:
        return (p->seen >> e->branch & 1) != 0;
    default:
        return false;       /* not, and the container's roles */
    }
}

/*
 * unevaluatedProperties of the eval at index u, at the object's end.
 * A member is evaluated when the eval's own keywords, or those of an
 * in-place subschema that passed along a chain of passing ones (a
 * failed anyOf branch, a then whose if failed, anything under not does
 * not count), evaluated it; a passing subschema with its own
 * unevaluatedProperties evaluated them all. Every other member's value
 * must have passed the unevaluatedProperties schema.
 */
static void
finish_uneval(struct schema_validator *v, const struct frame *f, uint32_t u)
{
    uint64_t reach = 1ULL << (u - f->ev_begin);
    uint32_t own = f->kind == K_OBJ ? S_UNEVAL : S_UNEVAL_ITEMS;

    for (uint32_t j = u + 1; j < f->ev_end; j++) {
        const struct eval *e = &v->ev[j];

        if (e->parent < u || e->parent >= j || (e->flags & EV_FAILED) ||
            !(reach >> (e->parent - f->ev_begin) & 1) ||
            !annotation_reaches(v, e))
            continue;
        if (e->s->flags & own)
            return;
        reach |= 1ULL << (j - f->ev_begin);
    }
    for (uint32_t m = 0; m < f->num; m++)
        if (!(f->um[m].direct & reach) &&
            (f->um[m].failed >> (u - f->ev_begin) & 1)) {
            ev_fail(v, &v->ev[u], f->kind == K_OBJ ? "unevaluatedProperties"
                                                   : "unevaluatedItems");
            return;
        }
}

static int
hash_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

/* True when two items hashed equal (sorted, so n log n). */
static bool
has_duplicate(struct frame *f)
{
    if (f->nitems < 2)
        return false;
    qsort(f->items, f->nitems, sizeof(*f->items), hash_cmp);
    for (uint32_t i = 1; i < f->nitems; i++)
        if (f->items[i] == f->items[i - 1])
            return true;
    return false;
}

/* Fold the hash h of a value that ended into its container's frame. */
static void
hash_into_parent(struct schema_validator *v, struct frame *pf, uint64_t h)
{
    if (pf->kind == K_OBJ && pf->hash)
        pf->h += hash_pair(pf->name_h, h);
    else if (pf->kind == K_ARR && pf->hash)
        pf->h = hash_pair(pf->h, h);
    if (pf->kind != K_ARR || !pf->unique)
        return;
    if (pf->nitems == pf->items_cap) {
        uint32_t cap = pf->items_cap ? pf->items_cap * 2 : 16;
        uint64_t *it = arena_alloc(v->a, cap * sizeof(*it));

        if (it == NULL) {
            vfail(v, AW_NOMEM);
            return;
        }
        if (pf->nitems > 0)
            memcpy(it, pf->items, pf->nitems * sizeof(*it));
        pf->items = it;
        pf->items_cap = cap;
    }
    pf->items[pf->nitems++] = h;
}

/* The value at depth d ended (its last token was h's source): finish
 * its evals from the top down and pop them. */
static void
value_end(struct schema_validator *v, unsigned d, uint64_t h)
{
    struct frame *f = &v->fr[d];
    bool dup = f->kind == K_ARR && f->unique && has_duplicate(f);

    if (f->kind == K_OBJ && f->hash)
        h = hash_pair(hash_bytes(H_OBJ, NULL, 0), f->h);
    else if (f->kind == K_ARR)
        h = f->h;
    for (uint32_t i = f->ev_end; i-- > f->ev_begin;) {
        struct eval *e = &v->ev[i];

        if (e->role == R_DISC)
            continue;
        if (f->kind == K_OBJ && (e->s->flags & (S_OBJECT_KW | S_NEED_NAMES)))
            finish_object(v, e);
        else if (f->kind == K_ARR && (e->s->flags & S_ARRAY_KW))
            finish_array(v, e, f, dup);
        if ((e->s->flags & S_HAS_ENUM) && !enum_has(e->s, h))
            ev_fail(v, e, e->s->nenums == 1 ? "const" : "enum");
        else if (e->s->flags & S_HAS_ENUM)
            v->str_kind |= SCHEMA_STRING_CLOSED;
        if (e->s->flags & S_INPLACE)
            finish_combinators(v, e, f->kind == K_OBJ);
        if ((f->kind == K_OBJ && (e->s->flags & S_UNEVAL)) ||
            (f->kind == K_ARR && (e->s->flags & S_UNEVAL_ITEMS)))
            finish_uneval(v, f, i);
        report(v, e, d > 0 ? &v->fr[d - 1] : NULL);
    }
    if (d > 0 && f->hash)
        hash_into_parent(v, &v->fr[d - 1], h);
    v->nev = f->ev_begin;
    f->kind = K_NONE;
    path_pop(v, f->path_len);
}

/* ------------------------------------------------------------------ */
/* The start of a value                                                */
/* ------------------------------------------------------------------ */

/* Push the schema set aside for the value of frame f, if any, as an
 * ordinary eval. */
static void
leaf_push(struct schema_validator *v, struct frame *f)
{
    const struct schema *x = f->leaf;

    if (x == NULL)
        return;
    f->leaf = NULL;
    push_eval(v, x, f->leaf_parent, R_AND,
              v->ev[f->leaf_parent].flags & EV_SPEC, 0, 0);
}

/*
 * The scalar whose first token is t was left with the set-aside schema
 * of frame f alone: check it as its eval would, fail the container eval
 * if it fails, and end the value.
 */
static void
leaf_check(struct schema_validator *v, struct frame *f,
           const struct json_token *t, unsigned type)
{
    struct eval e = {.s = f->leaf, .parent = f->leaf_parent, .role = R_AND,
                     .disc = -1};

    e.flags = v->ev[f->leaf_parent].flags & EV_SPEC;
    f->leaf = NULL;
    check_start(v, &e, t, type);
    if (e.flags & EV_FAILED)
        v->ev[e.parent].flags |= EV_FAILED;
    f->kind = K_NONE;
    path_pop(v, f->path_len);
}

/* The schema x applies to a member or item for the container eval at
 * index pi: false fails the container with keyword kw. */
static void
seed(struct schema_validator *v, const struct schema *x, uint32_t pi,
     const char *kw)
{
    struct frame *f = v->seeding;

    if (x->flags & S_FALSE) {
        ev_fail(v, &v->ev[pi], kw);
        return;
    }
    if (f != NULL && f->leaf == NULL && v->nev == f->ev_begin &&
        !(x->flags & S_NOT_LEAF)) {
        f->leaf = x;
        f->leaf_parent = pi;
        return;
    }
    if (f != NULL)
        leaf_push(v, f);
    push_eval(v, x, pi, R_AND, v->ev[pi].flags & EV_SPEC, 0, 0);
}

static void uneval_member(struct schema_validator *v, struct frame *of,
                          uint64_t direct);

/*
 * Seed the evals of item number idx from the array's evals. Returns
 * the evals (by position) whose prefixItems or items took the item.
 */
static uint64_t
seed_item(struct schema_validator *v, const struct frame *pf, uint32_t idx)
{
    uint64_t direct = 0;

    for (uint32_t i = pf->ev_begin; i < pf->ev_end; i++) {
        const struct schema *s = v->ev[i].s;
        uint64_t bit = i - pf->ev_begin < 64 ? 1ULL << (i - pf->ev_begin)
                                              : 0;

        v->ev[i].count++;
        if (!(s->flags & S_ARRAY_KW))
            continue;
        if (idx < s->nprefix || s->items != NULL)
            direct |= bit;
        if (idx < s->nprefix)
            seed(v, s->prefix[idx], i, "prefixItems");
        else if (s->items != NULL)
            seed(v, s->items, i, "items");
        if (s->contains != NULL && trivial(s->contains))
            v->ev[i].contains++;
        else if (s->contains != NULL && !(s->contains->flags & S_FALSE))
            push_eval(v, s->contains, i, R_CONTAINS, true, 0, 0);
    }
    return direct;
}

static bool
ev_wants_hash(struct schema_validator *v, const struct frame *f)
{
    for (uint32_t i = f->ev_begin; i < f->ev_end; i++)
        if (v->ev[i].s->flags & S_HAS_ENUM)
            return true;
    return false;
}

/* The first token of a value at depth d. */
static void
value_begin(struct schema_validator *v, const struct json_token *t)
{
    unsigned d = t->depth;
    struct frame *f = frame_at(v, d), *pf = d > 0 ? &v->fr[d - 1] : NULL;
    unsigned type;
    uint64_t direct;

    if (f == NULL)
        return;
    if (pf != NULL && pf->kind == K_ARR) {
        f->path_len = v->path_len;
        path_push_index(v, pf->index);
        f->ev_begin = v->nev;
        f->leaf = NULL;
        v->seeding = pf->unique || pf->child_hash ? NULL : f;
        direct = seed_item(v, pf, pf->index++);
        v->seeding = NULL;
        if (pf->uneval)
            uneval_member(v, pf, direct);
        f->ev_end = v->nev;
    }
    v->tok = t;
    v->num_done = false;
    type = instance_type(v, t);
    f->hash = pf != NULL && pf->child_hash;
    if (f->leaf != NULL) {
        if (f->ev_end == f->ev_begin && !f->hash &&
            t->kind != JSON_TOK_OBJECT_BEGIN &&
            t->kind != JSON_TOK_ARRAY_BEGIN) {
            leaf_check(v, f, t, type);
            return;
        }
        leaf_push(v, f);
        f->ev_end = v->nev;
    }
    for (uint32_t i = f->ev_begin; i < f->ev_end; i++) {
        if (v->ev[i].role == R_DISC)
            read_discriminator(v, &v->ev[i], t);
        else
            check_start(v, &v->ev[i], t, type);
        f->hash |= (v->ev[i].s->flags & S_HAS_ENUM) != 0;
    }
    if (t->kind == JSON_TOK_OBJECT_BEGIN || t->kind == JSON_TOK_ARRAY_BEGIN) {
        bool arr = t->kind == JSON_TOK_ARRAY_BEGIN;

        f->kind = arr ? K_ARR : K_OBJ;
        f->index = 0;
        f->h = arr && f->hash ? hash_bytes(H_ARR, NULL, 0) : 0;
        f->nitems = 0;
        f->unique = false;
        for (uint32_t i = f->ev_begin; arr && i < f->ev_end; i++)
            f->unique |= (v->ev[i].s->flags & S_UNIQUE) != 0;
        f->child_hash = f->hash || f->unique;
        f->uneval = false;
        f->num = 0;
        for (uint32_t i = f->ev_begin; i < f->ev_end; i++)
            f->uneval |= (v->ev[i].s->flags &
                          (arr ? S_UNEVAL_ITEMS : S_UNEVAL)) != 0;
        if (f->uneval && f->ev_end - f->ev_begin > UNEVAL_MAX_EVALS)
            vfail(v, AW_TOOBIG);
        return;
    }
    f->kind = K_NONE;
    value_end(v, d, f->hash ? scalar_hash(v, t) : 0);
}

/* ------------------------------------------------------------------ */
/* Members                                                             */
/* ------------------------------------------------------------------ */

/* Run propertyNames of every object eval over the name, as a string
 * value at depth d. */
static void
check_names(struct schema_validator *v, const struct frame *of,
            const struct json_token *t)
{
    struct frame *f = &v->fr[t->depth];
    struct json_token st;

    for (uint32_t i = of->ev_begin; i < of->ev_end; i++) {
        const struct schema *s = v->ev[i].s;

        if (s->names == NULL || v->rc != AW_OK)
            continue;
        st = *t;
        st.kind = JSON_TOK_STRING;
        f->path_len = v->path_len;
        f->ev_begin = v->nev;
        push_eval(v, s->names, i, R_NAMES, true, 0, 0);
        f->ev_end = v->nev;
        f->hash = false;
        v->tok = &st;
        v->num_done = false;
        for (uint32_t j = f->ev_begin; j < f->ev_end; j++)
            check_start(v, &v->ev[j], &st, T_STR);
        f->kind = K_NONE;
        value_end(v, t->depth, ev_wants_hash(v, f) ? scalar_hash(v, &st)
                                                   : 0);
    }
}

/* Does any object eval list the name (properties, a pattern, or an
 * additionalProperties schema other than false)? And is any of them
 * closed to names it does not list? */
static void
member_known(struct schema_validator *v, const struct frame *of,
             struct slice name, bool *known, bool *closed)
{
    *known = false;
    *closed = false;
    for (uint32_t i = of->ev_begin; i < of->ev_end && !*known; i++) {
        const struct schema *s = v->ev[i].s;
        const struct sprop *p = schema_prop(s, name);

        if (v->ev[i].role == R_DISC || (s->flags & S_FALSE))
            continue;
        if ((p != NULL && p->s != NULL) ||
            (s->additional != NULL && !(s->additional->flags & S_FALSE)))
            *known = true;
        for (uint32_t k = 0; k < s->npats && !*known; k++)
            *known = regex_match(v, s->pats[k].re, name) == 1;
        if ((s->flags & S_CLOSED) ||
            (s->additional != NULL && (s->additional->flags & S_FALSE)))
            *closed = true;
    }
}

/* What seed_member found. */
enum {
    SEED_LISTED = 1,      /* properties, a pattern, or an
                             additionalProperties schema other than
                             false */
    SEED_EVALUATED = 2,   /* one of the three applied (false too) */
};

/* Seed the member value's evals from the object eval at index i;
 * returns SEED_* bits. */
static unsigned
seed_member(struct schema_validator *v, uint32_t i, struct slice name)
{
    struct eval *e = &v->ev[i];
    const struct schema *s = e->s;
    const struct sprop *p;
    bool matched = false;

    e->count++;
    if (!(s->flags & (S_OBJECT_KW | S_NEED_NAMES)))
        return 0;
    p = s->nprops > 0 ? schema_prop(s, name) : NULL;
    if (p != NULL && p->bit >= 0)
        v->ev[i].seen |= 1ULL << p->bit;
    if (p != NULL && p->s != NULL) {
        matched = true;
        seed(v, p->s, i, "properties");
    }
    for (uint32_t k = 0; k < s->npats; k++) {
        int m = regex_match(v, s->pats[k].re, name);

        if (m < 0)
            ev_fail(v, &v->ev[i], "patternProperties");
        if (m == 1) {
            matched = true;
            seed(v, s->pats[k].s, i, "patternProperties");
        }
    }
    if (!matched && s->additional != NULL)
        seed(v, s->additional, i, "additionalProperties");
    if (s->ndisc > 0 && slice_eq(s->disc_name, name) && ev_room(v)) {
        struct eval *d = &v->ev[v->nev++];

        memset(d, 0, sizeof(*d));
        d->s = s;
        d->parent = i;
        d->role = R_DISC;
        d->flags = EV_SPEC;
    }
    if (matched)
        return SEED_LISTED | SEED_EVALUATED;
    if (s->additional == NULL)
        return 0;
    return SEED_EVALUATED |
           (s->additional->flags & S_FALSE ? 0u : SEED_LISTED);
}

/*
 * Note a member of an object with unevaluatedProperties (or an item of
 * an array with unevaluatedItems): which evals evaluated it, and the
 * unevaluated* schemas of the others, seeded speculatively (whether
 * they count is known at the container's end).
 */
static void
uneval_member(struct schema_validator *v, struct frame *of, uint64_t direct)
{
    if (of->num == of->um_cap) {
        uint32_t cap = of->um_cap ? of->um_cap * 2 : 16;
        struct umember *um = arena_alloc(v->a, cap * sizeof(*um));

        if (um == NULL) {
            vfail(v, AW_NOMEM);
            return;
        }
        if (of->num > 0)
            memcpy(um, of->um, of->num * sizeof(*um));
        of->um = um;
        of->um_cap = cap;
    }
    of->um[of->num++] = (struct umember){direct, 0};
    for (uint32_t i = of->ev_begin; i < of->ev_end; i++) {
        const struct schema *s = v->ev[i].s;
        const struct schema *u = of->kind == K_OBJ ? s->uneval_props
                                                   : s->uneval_items;
        uint32_t bit = i - of->ev_begin;

        if (u == NULL || (direct >> bit & 1) || v->ev[i].role == R_DISC)
            continue;
        if (u->flags & S_FALSE)
            of->um[of->num - 1].failed |= 1ULL << bit;
        else if (!trivial(u))
            push_eval(v, u, i, R_UNEVAL, true, bit, 0);
    }
}

/*
 * SCHEMA_STRICT: a name no eval of the object lists fails every closed
 * schema among them. A name that any eval lists is listed for all, the
 * branches of anyOf/oneOf included, even one that does not match: the
 * price of accepting allOf-composed objects.
 */
static void
refuse_unlisted(struct schema_validator *v, const struct frame *of)
{
    for (uint32_t i = of->ev_begin; i < of->ev_end; i++)
        if (v->ev[i].role != R_DISC && (v->ev[i].s->flags & S_CLOSED))
            ev_fail(v, &v->ev[i], "additionalProperties");
}

/* True when a writeOnly schema applies to the member value. */
static bool
member_write_only(struct schema_validator *v, const struct frame *f)
{
    for (uint32_t i = f->ev_begin; i < v->nev; i++)
        if (v->ev[i].s->flags & S_WRITEONLY)
            return true;
    return false;
}

/*
 * A member name at depth d: the object is the frame at d - 1, the
 * member's value will be the frame at d.
 */
static void
on_name(struct schema_validator *v, const struct json_token *t)
{
    unsigned d = t->depth;
    struct frame *f = frame_at(v, d), *of = &v->fr[d - 1];
    bool filter = (v->flags & (SCHEMA_FILTER | SCHEMA_RESPONSE)) ==
                  (SCHEMA_FILTER | SCHEMA_RESPONSE);
    bool known = true, closed = false;
    uint32_t before = v->path_len;

    if (f == NULL)
        return;
    v->keep = true;
    path_push_name(v, t->text);
    if (of->hash)
        of->name_h = hash_bytes(H_NAME, t->text.ptr, t->text.len);
    check_names(v, of, t);
    if (filter)
        member_known(v, of, t->text, &known, &closed);
    f->path_len = before;
    f->ev_begin = v->nev;
    f->leaf = NULL;
    if (!known && closed) {
        v->keep = false;    /* filtered out: nothing applies to it */
    } else {
        uint64_t direct = 0;

        known = false;
        v->seeding = filter || of->child_hash ? NULL : f;
        for (uint32_t i = of->ev_begin; i < of->ev_end; i++) {
            unsigned r = v->ev[i].role != R_DISC
                             ? seed_member(v, i, t->text) : 0;

            known |= (r & SEED_LISTED) != 0;
            if ((r & SEED_EVALUATED) && i - of->ev_begin < 64)
                direct |= 1ULL << (i - of->ev_begin);
        }
        v->seeding = NULL;
        if (!known && (v->flags & SCHEMA_STRICT))
            refuse_unlisted(v, of);
        if (of->uneval)
            uneval_member(v, of, direct);
        if (filter && member_write_only(v, f)) {
            v->nev = f->ev_begin;
            v->keep = false;
            of->num -= of->uneval && of->num > 0;
        }
    }
    f->ev_end = v->nev;
}

/* ------------------------------------------------------------------ */
/* Public                                                              */
/* ------------------------------------------------------------------ */

struct schema_validator *
schema_validator_new(const struct schema *s, unsigned flags,
                     unsigned max_errors, struct arena *a)
{
    struct schema_validator *v = arena_alloc(a, sizeof(*v));

    if (v == NULL)
        return NULL;
    memset(v, 0, sizeof(*v));
    v->root = s;
    v->flags = flags;
    v->a = a;
    v->max_errors = MAX(max_errors, 1);
    v->max_ev = MAX_EVALS_DEFAULT;
    v->ev_cap = 32;
    v->fr_cap = 8;
    v->path_cap = 256;
    v->keep = true;
    v->ev = arena_alloc(a, v->ev_cap * sizeof(*v->ev));
    v->fr = arena_alloc(a, v->fr_cap * sizeof(*v->fr));
    v->path = arena_alloc(a, v->path_cap);
    v->errs = arena_alloc(a, v->max_errors * sizeof(*v->errs));
    if (v->ev == NULL || v->fr == NULL || v->path == NULL || v->errs == NULL)
        return NULL;
    memset(v->fr, 0, v->fr_cap * sizeof(*v->fr));
    v->path[0] = '\0';
    v->ev[0] = (struct eval){.s = s, .role = R_ROOT, .disc = -1};
    v->nev = 1;
    v->fr[0].ev_end = 1;
    return v;
}

void
schema_validator_set_max_evals(struct schema_validator *v, unsigned max)
{
    v->max_ev = MAX(max, 1);
}

int
schema_validator_token(void *ctx, const struct json_token *t)
{
    struct schema_validator *v = ctx;

    if (v->rc != AW_OK)
        return v->rc;
    if (!v->started) {
        /* Expanded here rather than in schema_validator_new, so that
         * schema_validator_set_max_evals bounds it too. */
        v->started = true;
        expand(v, 0, false, 0);
        v->fr[0].ev_end = v->nev;
    }
    if (t->kind == JSON_TOK_STRING)
        v->str_kind = 0;
    switch (t->kind) {
    case JSON_TOK_NAME:
        if (t->depth > 0)
            on_name(v, t);
        break;
    case JSON_TOK_OBJECT_END:
    case JSON_TOK_ARRAY_END:
        if (t->depth < v->fr_cap && v->fr[t->depth].kind != K_NONE)
            value_end(v, t->depth, 0);
        break;
    default:
        value_begin(v, t);
        break;
    }
    if (v->rc != AW_OK && v->rc != AW_NOMEM) {
        path_pop(v, 0);
        add_error(v, "limit");
    }
    return v->rc;
}

bool
schema_validator_keep(const struct schema_validator *v)
{
    return v->keep;
}

bool
schema_validator_done(struct schema_validator *v,
                      const struct schema_error **errors, size_t *n)
{
    bool ok = v->rc == AW_OK && v->ended && v->valid && v->nerr == 0;

    *errors = ok ? NULL : v->errs;
    *n = ok ? 0 : v->nerr;
    return ok;
}

unsigned
schema_validator_string(const struct schema_validator *v)
{
    return v->str_kind;
}
