/*
 * Walking the YAML tree against the schema tables: problem recording,
 * unknown and missing keys, and the parse functions for the value types
 * every section shares (counts, sizes, durations, booleans).
 *
 * Values are typed strictly: a count must be a plain integer, a boolean
 * a plain true or false. YAML 1.1 spellings such as "yes" or "on" are
 * refused rather than guessed at, because the reader of the file and the
 * loader must agree on what a switch says.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config/internal.h"

#define WALK_PATH_MAX 160

/*
 * Start a message with "name:line:col: ". A long name keeps its end,
 * which tells files apart better than its beginning. Returns the
 * length written, always well below the message size.
 */
static size_t
walk_prefix(char *dst, size_t cap, const char *name, int line, int col)
{
    size_t len;
    int n;

    if (name == NULL)
        return 0;
    len = strlen(name);
    if (len > 96)
        n = snprintf(dst, cap, "...%s", name + len - 93);
    else
        n = snprintf(dst, cap, "%s", name);
    if (line > 0)
        n += snprintf(dst + n, cap - (size_t)n, ":%d:%d", line, col);
    n += snprintf(dst + n, cap - (size_t)n, ": ");
    return (size_t)n;
}

/*
 * Problems past CONFIG_MAX_ERRORS are only counted: a file broken in
 * hundreds of places is better fixed from its first screenful.
 */
void
config_error_at(struct config_loader *ld, int line, int col, const char *fmt,
                ...)
{
    struct config_errors *e = ld->errs;
    size_t cap = sizeof(e->msg[0]);
    size_t n;
    va_list ap;

    if (e->n == CONFIG_MAX_ERRORS) {
        e->dropped++;
        return;
    }
    n = walk_prefix(e->msg[e->n], cap, ld->name, line, col);
    va_start(ap, fmt);
    vsnprintf(e->msg[e->n] + n, cap - n, fmt, ap);
    va_end(ap);
    ld->pos[e->n] = (struct config_problem){line, col};
    e->n++;
}

void
config_error(struct config_loader *ld, const struct config_node *n,
             const char *fmt, ...)
{
    char msg[sizeof(ld->errs->msg[0])];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    config_error_at(ld, n->line, n->col, "%s", msg);
}

/* Order of problems: by line, then by column. */
static bool
problem_before(const struct config_problem *a, const struct config_problem *b)
{
    return a->line < b->line || (a->line == b->line && a->col < b->col);
}

void
config_errors_sort(struct config_loader *ld)
{
    struct config_errors *e = ld->errs;

    /* Insertion sort: at most CONFIG_MAX_ERRORS entries, and stable. */
    for (size_t i = 1; i < e->n; i++) {
        struct config_problem p = ld->pos[i];
        char msg[sizeof(e->msg[0])];
        size_t j = i;

        memcpy(msg, e->msg[i], sizeof(msg));
        while (j > 0 && problem_before(&p, &ld->pos[j - 1])) {
            ld->pos[j] = ld->pos[j - 1];
            memcpy(e->msg[j], e->msg[j - 1], sizeof(msg));
            j--;
        }
        ld->pos[j] = p;
        memcpy(e->msg[j], msg, sizeof(msg));
    }
}

/* Combine two outcomes: running out of memory outranks bad input. */
static int
walk_merge(int rc, int next)
{
    if (rc == AW_NOMEM || next == AW_NOMEM)
        return AW_NOMEM;
    return rc != AW_OK ? rc : next;
}

/* "where.key", or "key" at the top level. */
static void
walk_path(char *dst, size_t cap, const char *where, const char *key)
{
    if (where[0] == '\0')
        snprintf(dst, cap, "%s", key);
    else
        snprintf(dst, cap, "%s.%s", where, key);
}

/* Record every key of m that fields does not name, listing the valid. */
static int
walk_unknown_keys(struct config_loader *ld, const struct config_node *m,
                  const struct config_field *fields, const char *where)
{
    char known[280] = "";
    size_t used = 0;
    char q[64];
    int rc = AW_OK;

    for (const struct config_field *f = fields; f->key != NULL; f++) {
        int n = snprintf(known + used, sizeof(known) - used, "%s%s",
                         used == 0 ? "" : ", ", f->key);

        if (n < 0 || (size_t)n >= sizeof(known) - used)
            break;
        used += (size_t)n;
    }
    for (const struct config_node *k = m->first; k != NULL; k = k->next) {
        const struct config_field *f = fields;

        if (k->dup)
            continue;
        while (f->key != NULL && strcmp(f->key, k->text) != 0)
            f++;
        if (f->key != NULL && strlen(f->key) == k->len)
            continue;
        config_error(ld, k, "%s%sunknown key '%s' (expected one of: %s)", where,
                     where[0] != '\0' ? ": " : "",
                     config_node_quote(k, q, sizeof(q)), known);
        rc = AW_INVALID;
    }
    return rc;
}

/*
 * Unknown keys are looked for first, in file order; then each known key
 * is parsed in table order, which is what lets routes be checked after
 * the upstreams they name, wherever either appears in the file.
 */
int
config_walk_map(struct config_loader *ld, const struct config_node *m,
                const struct config_field *fields, void *base,
                const char *where)
{
    int rc = config_expect_map(ld, m, where[0] != '\0' ? where : "file");

    if (rc != AW_OK)
        return rc;
    rc = walk_unknown_keys(ld, m, fields, where);
    for (const struct config_field *f = fields; f->key != NULL; f++) {
        const struct config_node *v = config_map_get(m, f->key);
        char path[WALK_PATH_MAX];

        if (v == NULL) {
            if (f->required) {
                config_error(ld, m, "%s%smissing required key '%s'", where,
                             where[0] != '\0' ? ": " : "", f->key);
                rc = walk_merge(rc, AW_INVALID);
            }
            continue;
        }
        walk_path(path, sizeof(path), where, f->key);
        rc = walk_merge(rc, f->parse(ld, v, (char *)base + f->offset, f, path));
    }
    return rc;
}

/* Store v in an unsigned member of the given width; bounds were checked. */
static void
walk_store_uint(void *dst, size_t size, uint64_t v)
{
    if (size == sizeof(uint64_t)) {
        uint64_t x = v;

        memcpy(dst, &x, sizeof(x));
    } else {
        unsigned x = (unsigned)v;

        memcpy(dst, &x, sizeof(x));
    }
}

/* Print a byte count the way a user would write it ("16k"). */
static const char *
walk_fmt_size(uint64_t n, char *dst, size_t cap)
{
    if (n >= (1u << 20) && n % (1u << 20) == 0)
        snprintf(dst, cap, "%" PRIu64 "m", n >> 20);
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(dst, cap, "%" PRIu64 "k", n >> 10);
    else
        snprintf(dst, cap, "%" PRIu64, n);
    return dst;
}

/* Print milliseconds the way a user would write them ("10s"). */
static const char *
walk_fmt_ms(uint64_t ms, char *dst, size_t cap)
{
    if (ms >= 3600000 && ms % 3600000 == 0)
        snprintf(dst, cap, "%" PRIu64 "h", ms / 3600000);
    else if (ms >= 60000 && ms % 60000 == 0)
        snprintf(dst, cap, "%" PRIu64 "m", ms / 60000);
    else if (ms >= 1000 && ms % 1000 == 0)
        snprintf(dst, cap, "%" PRIu64 "s", ms / 1000);
    else
        snprintf(dst, cap, "%" PRIu64 "ms", ms);
    return dst;
}

/* "min to max" of a count field, for messages. */
static const char *
walk_fmt_range(const struct config_field *f, char *dst, size_t cap)
{
    snprintf(dst, cap, "%" PRIu64 " to %" PRIu64, f->min, f->max);
    return dst;
}

/* A scalar that holds a value (not a collection, not null). */
static int
walk_expect_scalar(struct config_loader *ld, const struct config_node *v,
                   const char *where, const char *what)
{
    if (v->type == CONFIG_NODE_SCALAR && !config_node_is_null(v))
        return AW_OK;
    config_error(ld, v, "%s: expected %s, got %s", where, what,
                 config_node_kind(v));
    return AW_INVALID;
}

/*
 * A count. Only a plain scalar is a number: '"4"' is a string in YAML,
 * and accepting it would make the file mean different things to the
 * gateway and to any other tool that reads it.
 */
int
config_parse_uint(struct config_loader *ld, const struct config_node *v,
                  void *dst, const struct config_field *f, const char *where)
{
    char q[64], lo[48];
    uint64_t n;
    int rc = walk_expect_scalar(ld, v, where, "a whole number");

    if (rc != AW_OK)
        return rc;
    if (!v->plain) {
        config_error(ld, v,
                     "%s: expected a whole number, got a quoted "
                     "string",
                     where);
        return AW_INVALID;
    }
    rc = slice_to_u64((struct slice){v->text, v->len}, UINT64_MAX, &n);
    if (rc != AW_OK) {
        config_error(ld, v, "%s: expected a whole number, got '%s'", where,
                     config_node_quote(v, q, sizeof(q)));
        return AW_INVALID;
    }
    if (n < f->min || n > f->max) {
        config_error(ld, v, "%s: %" PRIu64 " is out of range (%s)", where, n,
                     walk_fmt_range(f, lo, sizeof(lo)));
        return AW_INVALID;
    }
    walk_store_uint(dst, f->size, n);
    return AW_OK;
}

/*
 * A size such as "16k". Quoted or plain are both accepted: the unit
 * makes it a string in YAML either way. Bounds are printed the way a
 * user writes them, so that the message can be copied back.
 */
int
config_parse_size(struct config_loader *ld, const struct config_node *v,
                  void *dst, const struct config_field *f, const char *where)
{
    char q[64], lo[24], hi[24];
    uint64_t n;
    int rc = walk_expect_scalar(ld, v, where, "a size");

    if (rc != AW_OK)
        return rc;
    rc = size_parse((struct slice){v->text, v->len}, &n);
    if (rc == AW_INVALID) {
        config_error(ld, v,
                     "%s: '%s' is not a size (write e.g. 512, 16k, "
                     "1m)",
                     where, config_node_quote(v, q, sizeof(q)));
        return AW_INVALID;
    }
    if (rc != AW_OK || n < f->min || n > f->max) {
        config_error(ld, v, "%s: '%s' is out of range (%s to %s)", where,
                     config_node_quote(v, q, sizeof(q)),
                     walk_fmt_size(f->min, lo, sizeof(lo)),
                     walk_fmt_size(f->max, hi, sizeof(hi)));
        return AW_INVALID;
    }
    walk_store_uint(dst, f->size, n);
    return AW_OK;
}

/* A duration such as "250ms" or "10s", always stored in milliseconds. */
int
config_parse_duration(struct config_loader *ld, const struct config_node *v,
                      void *dst, const struct config_field *f,
                      const char *where)
{
    char q[64], lo[24], hi[24];
    uint64_t ms;
    int rc = walk_expect_scalar(ld, v, where, "a duration");

    if (rc != AW_OK)
        return rc;
    rc = duration_parse_ms((struct slice){v->text, v->len}, &ms);
    if (rc != AW_OK) {
        config_error(ld, v,
                     "%s: '%s' is not a duration (write e.g. "
                     "250ms, 10s, 5m)",
                     where, config_node_quote(v, q, sizeof(q)));
        return AW_INVALID;
    }
    if (ms < f->min || ms > f->max) {
        config_error(ld, v, "%s: '%s' is out of range (%s to %s)", where,
                     config_node_quote(v, q, sizeof(q)),
                     walk_fmt_ms(f->min, lo, sizeof(lo)),
                     walk_fmt_ms(f->max, hi, sizeof(hi)));
        return AW_INVALID;
    }
    walk_store_uint(dst, sizeof(uint64_t), ms);
    return AW_OK;
}

/*
 * A switch. The YAML 1.2 core schema spellings are taken; "yes", "on"
 * and the like were booleans only in YAML 1.1, and a quoted "true" is a
 * string, so both are refused rather than guessed at.
 */
int
config_parse_bool(struct config_loader *ld, const struct config_node *v,
                  void *dst, const struct config_field *f, const char *where)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    char q[64];

    (void)f;
    for (size_t i = 0; v->plain && i < ARRAY_LEN(yes); i++) {
        if (strcmp(v->text, yes[i]) == 0 || strcmp(v->text, no[i]) == 0) {
            *(bool *)dst = strcmp(v->text, yes[i]) == 0;
            return AW_OK;
        }
    }
    if (v->type != CONFIG_NODE_SCALAR || config_node_is_null(v))
        config_error(ld, v, "%s: expected true or false, got %s", where,
                     config_node_kind(v));
    else
        config_error(ld, v, "%s: expected true or false, got '%s'%s", where,
                     config_node_quote(v, q, sizeof(q)),
                     v->plain ? "" : " (quoted)");
    return AW_INVALID;
}

/* A nested mapping whose keys are listed in f->sub. */
int
config_parse_section(struct config_loader *ld, const struct config_node *v,
                     void *dst, const struct config_field *f, const char *where)
{
    return config_walk_map(ld, v, f->sub, dst, where);
}

int
config_expect_string(struct config_loader *ld, const struct config_node *v,
                     size_t max, const char *where, const char **out)
{
    int rc = walk_expect_scalar(ld, v, where, "a string");

    if (rc != AW_OK)
        return rc;
    if (v->len == 0) {
        config_error(ld, v, "%s: must not be empty", where);
        return AW_INVALID;
    }
    if (memchr(v->text, '\0', v->len) != NULL) {
        config_error(ld, v, "%s: must not contain a NUL byte", where);
        return AW_INVALID;
    }
    if (v->len > max) {
        config_error(ld, v, "%s: longer than %zu bytes", where, max);
        return AW_INVALID;
    }
    *out = v->text;
    return AW_OK;
}

int
config_expect_map(struct config_loader *ld, const struct config_node *v,
                  const char *where)
{
    if (v->type == CONFIG_NODE_MAP)
        return AW_OK;
    config_error(ld, v, "%s: expected a mapping, got %s", where,
                 config_node_kind(v));
    return AW_INVALID;
}

int
config_expect_seq(struct config_loader *ld, const struct config_node *v,
                  const char *where)
{
    if (v->type == CONFIG_NODE_SEQ)
        return AW_OK;
    config_error(ld, v, "%s: expected a list, got %s", where,
                 config_node_kind(v));
    return AW_INVALID;
}

int
config_expect_entries(struct config_loader *ld, const struct config_node *v,
                      enum config_node_type type, size_t min, size_t max,
                      const char *what, const char *where)
{
    int rc = type == CONFIG_NODE_MAP ? config_expect_map(ld, v, where)
                                     : config_expect_seq(ld, v, where);

    if (rc != AW_OK)
        return rc;
    if (v->n < min || v->n > max) {
        config_error(ld, v, "%s: expected %zu to %zu %s", where, min, max,
                     what);
        return AW_INVALID;
    }
    return AW_OK;
}

/*
 * The check runs before the copy, so that a refused value never reaches
 * the snapshot, where later checks (repeated route names) would see it.
 */
int
config_store_string(struct config_loader *ld, const struct config_node *v,
                    size_t max, config_check_fn *check, const char *where,
                    char **out)
{
    const char *s;
    int rc = config_expect_string(ld, v, max, where, &s);

    if (rc == AW_OK && check != NULL)
        rc = check(ld, v, where);
    if (rc != AW_OK)
        return rc;
    *out = config_strdup(ld, s, v->len);
    return *out != NULL ? AW_OK : AW_NOMEM;
}

/* One name of a bit list, added to *bits unless it is bad or repeated. */
static int
walk_bit_one(struct config_loader *ld, const struct config_node *it,
             const struct config_bits *spec, const char *where, uint32_t *bits)
{
    const char *s;
    uint32_t bit = 0;
    int rc = config_expect_string(ld, it, spec->maxlen, where, &s);

    if (rc == AW_OK)
        rc = spec->bit_of(ld, it, where, &bit);
    if (rc != AW_OK)
        return rc;
    if (*bits & bit) {
        config_error(ld, it, "%s: %s is listed twice", where, s);
        return AW_INVALID;
    }
    *bits |= bit;
    return AW_OK;
}

int
config_parse_bits(struct config_loader *ld, const struct config_node *v,
                  const struct config_bits *spec, const char *where,
                  uint32_t *bits)
{
    uint32_t set = 0;
    int rc = config_expect_seq(ld, v, where);

    if (rc != AW_OK)
        return rc;
    if (v->n == 0) {
        config_error(ld, v, "%s: %s", where, spec->empty);
        return AW_INVALID;
    }
    for (const struct config_node *it = v->first; it != NULL; it = it->next)
        if (walk_bit_one(ld, it, spec, where, &set) != AW_OK)
            rc = AW_INVALID;
    if (rc == AW_OK)
        *bits = set;
    return rc;
}

/*
 * Strings live in the snapshot's arena, so config_unref frees them all
 * at once and no setting has an owner of its own.
 */
char *
config_strdup(struct config_loader *ld, const char *s, size_t len)
{
    char *p = arena_dup(&ld->c->strings, s, len);

    if (p == NULL)
        ld->nomem = true;
    return p;
}

void *
config_alloc(struct config_loader *ld, size_t n)
{
    void *p = arena_alloc(&ld->c->strings, n);

    if (p == NULL) {
        ld->nomem = true;
        return NULL;
    }
    memset(p, 0, n);
    return p;
}
