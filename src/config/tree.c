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
    const char *buf; /* the whole input, which marks index into */
    size_t len;
    struct config_node *stack[CONFIG_MAX_DEPTH];
    struct config_node *pending[CONFIG_MAX_DEPTH]; /* key without value */
    unsigned depth;
    unsigned documents;
    int line; /* 1-based position of the last event that had one */
    int col;
};

/* A zeroed node at the builder's current position; NULL when full. */
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

/* Link n as the last child of parent. */
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

/*
 * A mapping or sequence starts: attach it and make it the innermost
 * open collection. Nesting past CONFIG_MAX_DEPTH stops the load.
 */
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

/*
 * Decode the body of a single-quoted scalar (YAML 1.2 section 7.3.2):
 * "''" is one quote; a line break with the blanks around it folds to a
 * space, and each further empty line gives one newline. libfyaml 0.7
 * both leaks and drops characters on scalars with many "''" escapes, so
 * these are decoded here from the input itself. out has room for len
 * bytes, which the result never exceeds. Returns the decoded length.
 */
static size_t
tree_unquote_single(const char *s, size_t len, char *out)
{
    size_t o = 0, i = 0;

    while (i < len) {
        unsigned breaks = 0;

        if (s[i] == '\'' && i + 1 < len && s[i + 1] == '\'') {
            out[o++] = '\'';
            i += 2;
            continue;
        }
        if (s[i] != '\n' && s[i] != '\r') {
            out[o++] = s[i++];
            continue;
        }
        while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
            o--;
        for (; i < len && strchr(" \t\r\n", s[i]) != NULL; i++) {
            bool crlf = s[i] == '\r' && i + 1 < len && s[i + 1] == '\n';

            if ((s[i] == '\n' || s[i] == '\r') && !crlf)
                breaks++;
        }
        if (breaks == 1)
            out[o++] = ' ';
        while (breaks-- > 1)
            out[o++] = '\n';
    }
    return o;
}

/*
 * Where the scalar's bytes sit in the input, or false when the parser
 * gave no usable marks (an empty value).
 */
static bool
tree_scalar_span(const struct tree_builder *b, struct fy_event *e,
                 size_t *start, size_t *len)
{
    const struct fy_mark *m0 = fy_event_start_mark(e);
    const struct fy_mark *m1 = fy_event_end_mark(e);

    if (m0 == NULL || m1 == NULL || m1->input_pos < m0->input_pos ||
        m1->input_pos > b->len)
        return false;
    *start = m0->input_pos;
    *len = m1->input_pos - m0->input_pos;
    return true;
}

/*
 * Bound a scalar before asking libfyaml for its text: the library folds
 * lines in time quadratic in their number, so a value of many thousand
 * empty lines would stall the load. No setting needs a long value.
 */
static bool
tree_scalar_fits(const char *s, size_t len)
{
    size_t lines = 0;

    if (len > CONFIG_MAX_SCALAR_BYTES)
        return false;
    for (size_t i = 0; i < len; i++)
        lines += s[i] == '\n';
    return lines <= CONFIG_MAX_SCALAR_LINES;
}

/* Fill n->text and n->len from the scalar event e. */
static int
tree_scalar_text(struct tree_builder *b, struct fy_event *e,
                 struct config_node *n, enum fy_scalar_style style)
{
    size_t start = 0, raw = 0, len = 0;
    const char *text = "";
    char *copy;
    bool span = tree_scalar_span(b, e, &start, &raw);

    if (span && !tree_scalar_fits(b->buf + start, raw)) {
        config_error(b->ld, n, "a value longer than %d bytes or %d lines",
                     CONFIG_MAX_SCALAR_BYTES, CONFIG_MAX_SCALAR_LINES);
    } else if (span && style == FYSS_SINGLE_QUOTED) {
        copy = arena_alloc(&b->ld->tree, raw + 1);
        if (copy == NULL)
            return AW_NOMEM;
        len = tree_unquote_single(b->buf + start, raw, copy);
        copy[len] = '\0';
        n->text = copy;
        n->len = len;
        return AW_OK;
    } else if (e->scalar.value != NULL) {
        text = fy_token_get_text(e->scalar.value, &len);
    }
    n->text = arena_dup(&b->ld->tree, text != NULL ? text : "", len);
    n->len = len;
    return n->text != NULL ? AW_OK : AW_NOMEM;
}

/* A scalar: its style, its position (at the quote) and its text. */
static int
tree_on_scalar(struct tree_builder *b, struct fy_event *e)
{
    struct config_node *n = tree_node_new(b, CONFIG_NODE_SCALAR);
    enum fy_scalar_style style = FYSS_PLAIN;

    if (n == NULL)
        return AW_NOMEM;
    tree_check_props(b, n, e->scalar.anchor, e->scalar.tag);
    if (e->scalar.value != NULL)
        style = fy_token_scalar_style(e->scalar.value);
    n->plain = style == FYSS_PLAIN;
    /* The mark of a quoted scalar is past its opening quote. */
    if ((style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED) &&
        n->col > 1)
        n->col--;
    if (tree_scalar_text(b, e, n, style) != AW_OK) {
        b->ld->nomem = true;
        return AW_NOMEM;
    }
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

/*
 * Dispatch one parser event. Returns AW_OK to go on, AW_INVALID to stop
 * (the problem is recorded) or AW_NOMEM.
 */
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

/*
 * Length of the UTF-8 sequence at s[0..n), or 0 when it is malformed:
 * overlong forms, surrogates and code points past U+10FFFF included.
 */
static size_t
tree_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t len;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        len = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        len = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (s[0] == 0xe0)
        lo = 0xa0;
    else if (s[0] == 0xed)
        hi = 0x9f;
    else if (s[0] == 0xf0)
        lo = 0x90;
    else if (s[0] == 0xf4)
        hi = 0x8f;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/*
 * Refuse a file that is not UTF-8 before libfyaml sees it: besides
 * being what YAML requires, this keeps the parser of libfyaml 0.7 out of
 * a loop it enters on some malformed bytes in a directive line.
 */
static int
tree_check_utf8(struct config_loader *ld, const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;
    int line = 1, col = 1;
    size_t i = 0;

    while (i < len) {
        size_t n = tree_utf8_len(s + i, len - i);

        if (n == 0) {
            config_error_at(ld, line, col,
                            "the file is not valid UTF-8 "
                            "(byte 0x%02x)",
                            s[i]);
            return AW_INVALID;
        }
        col = s[i] == '\n' ? 1 : col + 1;
        line += s[i] == '\n';
        i += n;
    }
    return AW_OK;
}

int
config_tree_parse(struct config_loader *ld, const char *buf, size_t len)
{
    struct tree_builder b = {
        .ld = ld, .buf = buf, .len = len, .line = 1, .col = 1};
    struct fy_diag_cfg dcfg;
    struct fy_parse_cfg pcfg;
    struct fy_diag *diag;
    struct fy_parser *p = NULL;
    int rc = tree_check_utf8(ld, buf, len);

    if (rc != AW_OK)
        return rc;
    rc = AW_NOMEM;
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
