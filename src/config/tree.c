/*
 * The YAML tree: libfyaml's event parser turned into config_node values
 * that remember the line and column they were written at.
 *
 * Only the plain data model is accepted. Anchors, aliases and tags are
 * refused: a configuration read by security reviewers should say what
 * it means where it says it, and aliases are also the way to make a
 * small file expand into a huge one.
 */
#include <string.h>

#include <libfyaml.h>

#include "config/internal.h"

/* The open collections, innermost last, and where the parser is. */
struct tree_builder {
    struct config_loader *ld;
    struct config_node *stack[CONFIG_MAX_DEPTH];
    struct config_node *pending[CONFIG_MAX_DEPTH]; /* key without value */
    unsigned depth;
    unsigned documents;
    int line; /* 1-based position of the last event that had one */
    int col;
};

static struct config_node *
tree_node_new(struct tree_builder *b, enum config_node_type type)
{
    struct config_node *n = arena_alloc(&b->ld->tree, sizeof(*n));

    if (n == NULL) {
        b->ld->nomem = true;
        return NULL;
    }
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->line = b->line;
    n->col = b->col;
    return n;
}

static void
tree_append(struct config_node *parent, struct config_node *n)
{
    if (parent->last == NULL)
        parent->first = n;
    else
        parent->last->next = n;
    parent->last = n;
    parent->n++;
}

/*
 * Add n as a key of mapping m. A key that is not a scalar, or repeats
 * an earlier key, is recorded as a problem and kept with dup set, so
 * that its value is still consumed but never read.
 */
static void
tree_add_key(struct tree_builder *b, struct config_node *m,
             struct config_node *n)
{
    char q[64];

    if (n->type != CONFIG_NODE_SCALAR) {
        config_error(b->ld, n, "mapping keys must be strings, not %s",
                     config_node_kind(n));
        n->dup = true;
    }
    for (struct config_node *k = m->first; k != NULL && !n->dup; k = k->next) {
        if (!k->dup && k->len == n->len &&
            memcmp(k->text, n->text, n->len) == 0) {
            config_error(b->ld, n, "duplicate key '%s' (first at line %d)",
                         config_node_quote(n, q, sizeof(q)), k->line);
            n->dup = true;
        }
    }
    tree_append(m, n);
    b->pending[b->depth - 1] = n;
}

/*
 * Hang a new node under the innermost open collection, or make it the
 * root. Returns AW_INVALID when a collection grows past its bound.
 */
static int
tree_attach(struct tree_builder *b, struct config_node *n)
{
    struct config_node *parent;
    size_t bound;

    if (b->depth == 0) {
        b->ld->root = n;
        return AW_OK;
    }
    parent = b->stack[b->depth - 1];
    bound = parent->type == CONFIG_NODE_MAP ? CONFIG_MAX_MAP_KEYS
                                            : CONFIG_MAX_SEQ_ITEMS;
    if (b->pending[b->depth - 1] != NULL) {
        b->pending[b->depth - 1]->value = n;
        b->pending[b->depth - 1] = NULL;
        return AW_OK;
    }
    if (parent->n >= bound) {
        config_error(b->ld, parent, "more than %zu entries in one %s", bound,
                     config_node_kind(parent));
        return AW_INVALID;
    }
    if (parent->type == CONFIG_NODE_SEQ)
        tree_append(parent, n);
    else
        tree_add_key(b, parent, n);
    return AW_OK;
}

/* Refuse the anchor and tag properties of a node (not fatal). */
static void
tree_check_props(struct tree_builder *b, const struct config_node *n,
                 struct fy_token *anchor, struct fy_token *tag)
{
    if (anchor != NULL)
        config_error(b->ld, n, "YAML anchors are not supported");
    if (tag != NULL)
        config_error(b->ld, n, "YAML tags are not supported");
}

static int
tree_on_open(struct tree_builder *b, enum config_node_type type,
             struct fy_token *anchor, struct fy_token *tag)
{
    struct config_node *n = tree_node_new(b, type);
    int rc;

    if (n == NULL)
        return AW_NOMEM;
    tree_check_props(b, n, anchor, tag);
    if (b->depth == CONFIG_MAX_DEPTH) {
        config_error(b->ld, n, "nesting deeper than %d levels",
                     CONFIG_MAX_DEPTH);
        return AW_INVALID;
    }
    rc = tree_attach(b, n);
    if (rc != AW_OK)
        return rc;
    b->stack[b->depth] = n;
    b->pending[b->depth] = NULL;
    b->depth++;
    return AW_OK;
}

static int
tree_on_scalar(struct tree_builder *b, struct fy_event *e)
{
    struct config_node *n = tree_node_new(b, CONFIG_NODE_SCALAR);
    const char *text = "";
    size_t len = 0;

    if (n == NULL)
        return AW_NOMEM;
    tree_check_props(b, n, e->scalar.anchor, e->scalar.tag);
    if (e->scalar.value != NULL) {
        enum fy_scalar_style style = fy_token_scalar_style(e->scalar.value);

        text = fy_token_get_text(e->scalar.value, &len);
        n->plain = style == FYSS_PLAIN;
        /* The mark of a quoted scalar is past its opening quote. */
        if ((style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED) &&
            n->col > 1)
            n->col--;
    } else {
        n->plain = true;
    }
    n->text = arena_dup(&b->ld->tree, text != NULL ? text : "", len);
    if (n->text == NULL) {
        b->ld->nomem = true;
        return AW_NOMEM;
    }
    n->len = len;
    return tree_attach(b, n);
}

/*
 * An alias is refused; a null scalar takes its place so that the rest
 * of the file is still checked.
 */
static int
tree_on_alias(struct tree_builder *b)
{
    struct config_node *n = tree_node_new(b, CONFIG_NODE_SCALAR);

    if (n == NULL)
        return AW_NOMEM;
    if (n->col > 1)
        n->col--; /* the mark is past the '*' */
    config_error(b->ld, n, "YAML aliases are not supported");
    n->text = "";
    n->plain = true;
    return tree_attach(b, n);
}

static int
tree_on_event(struct tree_builder *b, struct fy_event *e)
{
    const struct fy_mark *m = fy_event_start_mark(e);

    /* An empty value has no mark; it is reported where its key is. */
    if (m != NULL) {
        b->line = m->line + 1;
        b->col = m->column + 1;
    }
    switch (e->type) {
    case FYET_DOCUMENT_START:
        if (++b->documents > 1) {
            config_error_at(b->ld, b->line, b->col,
                            "only one YAML document is allowed");
            return AW_INVALID;
        }
        return AW_OK;
    case FYET_MAPPING_START:
        return tree_on_open(b, CONFIG_NODE_MAP, e->mapping_start.anchor,
                            e->mapping_start.tag);
    case FYET_SEQUENCE_START:
        return tree_on_open(b, CONFIG_NODE_SEQ, e->sequence_start.anchor,
                            e->sequence_start.tag);
    case FYET_MAPPING_END:
    case FYET_SEQUENCE_END:
        if (b->depth > 0)
            b->depth--;
        return AW_OK;
    case FYET_SCALAR:
        return tree_on_scalar(b, e);
    case FYET_ALIAS:
        return tree_on_alias(b);
    default:
        return AW_OK;
    }
}

/* The library's own output is discarded: its errors are collected. */
static void
tree_on_diag_output(struct fy_diag *diag, void *user, const char *buf,
                    size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

/*
 * Turn the parser's collected errors into problems. The positions the
 * library records for errors are already 1-based.
 */
static void
tree_report_syntax(struct tree_builder *b, struct fy_diag *diag)
{
    void *iter = NULL;
    struct fy_diag_error *de;
    bool any = false;

    while ((de = fy_diag_errors_iterate(diag, &iter)) != NULL) {
        if (de->type < FYET_ERROR)
            continue;
        config_error_at(b->ld, de->line > 0 ? de->line : b->line,
                        de->line > 0 ? de->column : b->col,
                        "YAML syntax error: %s", de->msg);
        any = true;
    }
    if (!any)
        config_error_at(b->ld, b->line, b->col, "YAML syntax error");
}

/* Feed every event of the parser to the builder until the end or a stop. */
static int
tree_run(struct tree_builder *b, struct fy_parser *p, struct fy_diag *diag)
{
    struct fy_event *e;
    int rc = AW_OK;

    while (rc == AW_OK && (e = fy_parser_parse(p)) != NULL) {
        rc = tree_on_event(b, e);
        fy_parser_event_free(p, e);
    }
    if (rc == AW_OK && fy_parser_get_stream_error(p)) {
        tree_report_syntax(b, diag);
        rc = AW_INVALID;
    }
    return rc;
}

int
config_tree_parse(struct config_loader *ld, const char *buf, size_t len)
{
    struct tree_builder b = {.ld = ld, .line = 1, .col = 1};
    struct fy_diag_cfg dcfg;
    struct fy_parse_cfg pcfg;
    struct fy_diag *diag;
    struct fy_parser *p = NULL;
    int rc = AW_NOMEM;

    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = tree_on_diag_output;
    diag = fy_diag_create(&dcfg);
    if (diag == NULL)
        goto out;
    fy_diag_set_collect_errors(diag, true);

    memset(&pcfg, 0, sizeof(pcfg));
    pcfg.flags = FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2 | FYPCF_JSON_NONE;
    pcfg.diag = diag;
    p = fy_parser_create(&pcfg);
    if (p == NULL || fy_parser_set_string(p, buf, len) != 0)
        goto out;

    rc = tree_run(&b, p, diag);
    if (ld->nomem)
        rc = AW_NOMEM;
out:
    if (p != NULL)
        fy_parser_destroy(p);
    if (diag != NULL)
        fy_diag_destroy(diag);
    return rc;
}

const struct config_node *
config_map_get(const struct config_node *m, const char *key)
{
    size_t len = strlen(key);

    for (const struct config_node *k = m->first; k != NULL; k = k->next) {
        if (!k->dup && k->len == len && memcmp(k->text, key, len) == 0)
            return k->value;
    }
    return NULL;
}

bool
config_node_is_null(const struct config_node *n)
{
    if (n->type != CONFIG_NODE_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->text, "~") == 0 ||
           strcmp(n->text, "null") == 0 || strcmp(n->text, "Null") == 0 ||
           strcmp(n->text, "NULL") == 0;
}

const char *
config_node_kind(const struct config_node *n)
{
    if (n->type == CONFIG_NODE_MAP)
        return "a mapping";
    if (n->type == CONFIG_NODE_SEQ)
        return "a list";
    if (config_node_is_null(n))
        return "nothing";
    return n->plain ? "a plain scalar" : "a quoted string";
}

const char *
config_node_quote(const struct config_node *n, char *dst, size_t cap)
{
    if (n->type != CONFIG_NODE_SCALAR) {
        slice_copy_cstr(dst, cap, (struct slice){"...", 3});
        return dst;
    }
    return log_escape(dst, cap, (struct slice){n->text, n->len});
}
