/*
 * XML external entities: a value read as an XML document (or a piece of
 * one) that makes the parser fetch or expand more than it holds.
 *
 * A parser that loads external entities reads files and URLs named in
 * a document type declaration: an entity declared with a SYSTEM or
 * PUBLIC identifier (`<!ENTITY x SYSTEM "file:///etc/passwd">`), any
 * parameter entity (`<!ENTITY % x ...>`, the tool of out-of-band
 * exfiltration, which needs no reference in the document itself), or a
 * DOCTYPE whose external subset lives elsewhere (`<!DOCTYPE x SYSTEM
 * "http://...">`). A parser that expands entities can be made to build
 * gigabytes from a few hundred bytes: entities whose text references
 * other entities (billion laughs), or one long entity referenced many
 * times (quadratic blowup). XInclude pulls other documents in wherever
 * the processor is switched on.
 *
 * Parsers differ in what they accept, so the reading is lenient where
 * strictness would let an attack through: the keywords DOCTYPE, ENTITY,
 * SYSTEM and PUBLIC match in any case, any XML blank (or none, where a
 * parser could still recover) may separate the tokens, and declarations
 * are found anywhere in the value, in an internal subset or not, inside
 * comments too. A fragment of a DTD is flagged as a whole DTD would be.
 *
 * What passes: documents without a DOCTYPE (SOAP envelopes, RSS, SVG,
 * most API payloads); `<!DOCTYPE html>`; a DOCTYPE naming a public DTD
 * whose system identifier is on www.w3.org (XHTML, SVG 1.1, MathML),
 * which catalogs resolve and which holds nothing of the server's; the
 * HTML legacy `SYSTEM "about:legacy-compat"`, which names nothing to
 * fetch; and an internal subset of a few entities whose text holds no
 * reference to another entity.
 *
 * Each byte is read a bounded number of times: the scan moves forward
 * past every declaration it reads, and the XInclude names are looked
 * for in two further passes. Nothing is allocated.
 */
#include <string.h>

#include "internal.h"

#define XXE_DECLS_MAX 16 /* entity declarations a value may hold */
#define XXE_REFS_MAX 64  /* references to entities a value that declares
                            entities may hold */

/* What the scan has found. rule is NULL until a rule matches. */
struct xxe_scan {
    struct slice s;
    const char *rule;
    unsigned score;
    size_t at;       /* where what matched starts */
    size_t decls;    /* entity declarations read */
    size_t refs;     /* references to entities other than the
                        predefined ones */
    size_t ref_over; /* offset of reference XXE_REFS_MAX + 1 */
};

static bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool
is_quote(unsigned char c)
{
    return c == '"' || c == '\'';
}

static size_t
skip_space(struct slice s, size_t i)
{
    while (i < s.len && is_space((unsigned char)s.ptr[i]))
        i++;
    return i;
}

/* Past a name: every byte up to a blank, a quote or a bracket. */
static size_t
skip_name(struct slice s, size_t i)
{
    while (i < s.len && !is_space((unsigned char)s.ptr[i]) &&
           !is_quote((unsigned char)s.ptr[i]) && s.ptr[i] != '>' &&
           s.ptr[i] != '[' && s.ptr[i] != '<')
        i++;
    return i;
}

/*
 * True when s[i..) starts with the lower-case keyword kw, in any case,
 * followed by a blank, a quote or the end of the value (a value cut
 * right after SYSTEM is still a fetch in the making).
 */
static bool
keyword(struct slice s, size_t i, const char *kw)
{
    size_t n = strlen(kw);

    if (i > s.len || !inspect_prefix_nocase(s.ptr + i, s.len - i, kw))
        return false;
    return i + n == s.len || is_space((unsigned char)s.ptr[i + n]) ||
           is_quote((unsigned char)s.ptr[i + n]);
}

/*
 * The quoted literal whose opening quote is s[i]: its text into *lit,
 * and the offset past its closing quote (the end of the value when it
 * is not closed).
 */
static size_t
literal(struct slice s, size_t i, struct slice *lit)
{
    const char *end = memchr(s.ptr + i + 1, s.ptr[i], s.len - i - 1);
    size_t close = end != NULL ? (size_t)(end - s.ptr) : s.len;

    *lit = (struct slice){s.ptr + i + 1, close - i - 1};
    return close < s.len ? close + 1 : s.len;
}

static void
hit(struct xxe_scan *x, const char *rule, unsigned score, size_t at)
{
    x->rule = rule;
    x->score = score;
    x->at = at;
}

/*
 * A reference starts at s[i] ('&' or '%'): the offset past it (its ';'
 * or the byte that ended it), with *named set when it names an entity
 * other than a character reference and the five predefined ones, which
 * expand to one character.
 */
static size_t
reference(struct slice s, size_t i, bool *named)
{
    static const char *const predefined[] = {"lt", "gt", "amp", "apos", "quot"};
    size_t j = i + 1;

    *named = false;
    while (j < s.len && !is_space((unsigned char)s.ptr[j]) &&
           !is_quote((unsigned char)s.ptr[j]) && s.ptr[j] != ';' &&
           s.ptr[j] != '&' && s.ptr[j] != '%' && s.ptr[j] != '<')
        j++;
    if (j == s.len || s.ptr[j] != ';' || j == i + 1)
        return j;
    if (s.ptr[i + 1] == '#')
        return j + 1;
    *named = true;
    for (size_t k = 0; k < ARRAY_LEN(predefined); k++)
        if (strlen(predefined[k]) == j - i - 1 &&
            memcmp(predefined[k], s.ptr + i + 1, j - i - 1) == 0)
            *named = false;
    return j + 1;
}

/* The offset in lit of its first reference to an entity, general or
   parameter; SIZE_MAX when it holds none. */
static size_t
nested_reference(struct slice lit)
{
    for (size_t i = 0; i < lit.len;) {
        bool named;
        size_t next;

        if (lit.ptr[i] != '&' && lit.ptr[i] != '%') {
            i++;
            continue;
        }
        next = reference(lit, i, &named);
        if (named)
            return i;
        i = next;
    }
    return SIZE_MAX;
}

/* True when a system literal names nothing of the server's: a W3C DTD
   or the HTML legacy doctype. */
static bool
harmless_system(struct slice sys, bool public_id)
{
    if (slice_is(sys, "about:legacy-compat"))
        return true;
    return public_id &&
           (inspect_prefix_nocase(sys.ptr, sys.len, "http://www.w3.org/") ||
            inspect_prefix_nocase(sys.ptr, sys.len, "https://www.w3.org/"));
}

/*
 * The external identifier of a DOCTYPE at s[i..) (past its name), the
 * declaration starting at start: SYSTEM and a literal, or PUBLIC and
 * two. A hit unless the system literal names nothing to fear.
 */
static void
doctype_external(struct xxe_scan *x, size_t i, size_t start)
{
    struct slice s = x->s, pub, sys;
    bool public_id = keyword(s, i, "public");

    if (!public_id && !keyword(s, i, "system"))
        return;
    i = skip_space(s, i + 6);
    if (public_id) {
        if (i == s.len || !is_quote((unsigned char)s.ptr[i]))
            return;
        i = skip_space(s, literal(s, i, &pub));
        /* No system literal: nothing to fetch (and no XML parser takes
           it). */
        if (i == s.len || !is_quote((unsigned char)s.ptr[i]))
            return;
    }
    if (i < s.len && is_quote((unsigned char)s.ptr[i])) {
        (void)literal(s, i, &sys);
        if (harmless_system(sys, public_id))
            return;
    }
    hit(x, "external_dtd", 80, start);
}

/*
 * A DOCTYPE whose keyword ends at s[i], starting at start. Returns i:
 * the scan goes on through the literals, so that a quote a parser
 * would refuse cannot hide a declaration from it.
 */
static size_t
doctype(struct xxe_scan *x, size_t i, size_t start)
{
    struct slice s = x->s;

    doctype_external(x, skip_space(s, skip_name(s, skip_space(s, i))), start);
    return i;
}

/*
 * An entity declaration whose keyword ends at s[i], starting at start:
 * a parameter entity, an external one, or an internal one whose text
 * references other entities. Returns the offset to go on from.
 */
static size_t
entity(struct xxe_scan *x, size_t i, size_t start)
{
    struct slice s = x->s, text;
    size_t j = skip_space(s, i), end, at;

    if (j < s.len && s.ptr[j] == '%') {
        hit(x, "parameter_entity", 90, start);
        return j + 1;
    }
    if (j == i)
        return i;
    if (++x->decls > XXE_DECLS_MAX) {
        hit(x, "entity_expansion", 85, start);
        return j;
    }
    j = skip_space(s, skip_name(s, j));
    if (keyword(s, j, "system") || keyword(s, j, "public")) {
        hit(x, "external_entity", 95, start);
        return j;
    }
    if (j == s.len || !is_quote((unsigned char)s.ptr[j]))
        return j;
    end = literal(s, j, &text);
    at = nested_reference(text);
    if (at != SIZE_MAX)
        hit(x, "entity_expansion", 85, (size_t)(text.ptr - s.ptr) + at);
    return end;
}

/* A '<!' at s[i]: a DOCTYPE or an ENTITY declaration, or anything else.
   Returns the offset to go on from. */
static size_t
markup(struct xxe_scan *x, size_t i)
{
    struct slice s = x->s;

    if (inspect_prefix_nocase(s.ptr + i, s.len - i, "<!doctype"))
        return doctype(x, i + 9, i);
    if (inspect_prefix_nocase(s.ptr + i, s.len - i, "<!entity"))
        return entity(x, i + 8, i);
    return i + 2;
}

/* A reference at s[i], counted when it names an entity. */
static size_t
counted_reference(struct xxe_scan *x, size_t i)
{
    bool named;
    size_t next = reference(x->s, i, &named);

    if (named && ++x->refs == XXE_REFS_MAX + 1)
        x->ref_over = i;
    return next;
}

/* The offset of the first XInclude name in s; SIZE_MAX when none. */
static size_t
xinclude(struct slice s)
{
    static const char *const names[] = {"xi:include", "w3.org/2001/xinclude",
                                        "w3.org/2003/xinclude"};
    size_t first = SIZE_MAX;

    for (size_t k = 0; k < ARRAY_LEN(names); k++) {
        size_t at = inspect_find_nocase(s, 0, names[k]);

        if (at < first)
            first = at;
    }
    return first;
}

bool
inspect_xxe_match(const struct inspect_value *v, struct inspect_verdict *out)
{
    struct xxe_scan x = {.s = v->text};
    size_t at;

    for (size_t i = 0; i < x.s.len && x.rule == NULL;) {
        if (x.s.ptr[i] == '<' && i + 1 < x.s.len && x.s.ptr[i + 1] == '!')
            i = markup(&x, i);
        else if (x.s.ptr[i] == '&')
            i = counted_reference(&x, i);
        else
            i++;
    }
    if (x.rule == NULL && x.decls > 0 && x.refs > XXE_REFS_MAX)
        hit(&x, "entity_expansion", 85, x.ref_over);
    if (x.rule != NULL)
        return inspect_found(v, "xxe", "inspect.xxe", x.rule, x.score, x.at,
                             out);
    at = xinclude(x.s);
    if (at != SIZE_MAX)
        return inspect_found(v, "xxe", "inspect.xxe", "xinclude", 85, at, out);
    return false;
}
