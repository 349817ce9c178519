/*
 * Template injection and Log4j lookups.
 *
 * Template engines evaluate expressions between delimiters: Jinja2 and
 * Twig "{{ }}" and "{% %}", Spring's SpEL and Java EL "${ }" and
 * "#{ }", ERB and JSP "<%= %>", FreeMarker "${ }" and "<# >". Users of
 * template editors write such delimiters legitimately around plain
 * names ("{{ user.name }}"), so an expression counts only when it does
 * more than name a value: arithmetic on literals (the "{{7*7}}" probe),
 * calls, Python dunder attributes (__class__, __globals__), SpEL type
 * references T(...), object creation, or names that reach the runtime
 * (self, config, request, Runtime, ProcessBuilder, Execute). A filter
 * called with arguments ("{{ x|date('Y') }}") is a call too, so
 * legitimate input to a template editor can be refused.
 *
 * Log4j 2 evaluates "${...}" lookups in logged text, nested ones first,
 * which lets "${${lower:j}${::-n}di:ldap://...}" spell "jndi" without
 * the word appearing. The lookups used for that (lower, upper, a
 * ":-" default, date with a quoted literal) are evaluated here, each
 * into a copy no longer than its input, and the result is checked for
 * a "jndi:" lookup.
 */
#include <string.h>

#include "internal.h"

#define LOOKUP_MAX 4096  /* bytes of one top-level ${...} evaluated */
#define LOOKUP_DEPTH 16  /* nesting of lookups followed */

/* Words that reach code or the runtime inside an expression. */
static const char *const risky_words[] = {
    "__", "t(", "new ", "getclass", "runtime", "processbuilder", "exec",
    "system", "popen", "import", "eval", "config", "self", "request",
    "lipsum", "cycler", "joiner", "namespace", "execute", "?new",
    "getruntime", "forname", "classloader", "constructor", "|attr",
    "subprocess", "os.", "file.", "io.", "`",
};

static bool
filler(char c)
{
    return c == ' ' || c == '\'' || c == '"';
}

/* True when an arithmetic operator sits between two digits, as in the
   7*7 and 7*'7' probes. */
static bool
arithmetic_probe(struct slice e)
{
    for (size_t i = 1; i + 1 < e.len; i++) {
        size_t a = i, b = i + 1;

        if (e.ptr[i] == '\0' || strchr("*+-/%", e.ptr[i]) == NULL)
            continue;
        while (a > 0 && filler(e.ptr[a - 1]))
            a--;
        while (b < e.len && filler(e.ptr[b]))
            b++;
        if (a > 0 && b < e.len && e.ptr[a - 1] >= '0' && e.ptr[a - 1] <= '9'
            && e.ptr[b] >= '0' && e.ptr[b] <= '9')
            return true;
    }
    return false;
}

/* True when expression e does more than name a value. */
static bool
risky(struct slice e)
{
    if (memchr(e.ptr, '(', e.len) != NULL || arithmetic_probe(e))
        return true;
    for (size_t i = 0; i < ARRAY_LEN(risky_words); i++)
        if (inspect_find_nocase(e, 0, risky_words[i]) != SIZE_MAX)
            return true;
    return false;
}

/* Delimiters of template expressions, and the rule each one is. */
static const struct {
    const char *open;
    const char *close;
    const char *rule;
} delims[] = {
    {"{{", "}}", "jinja_expression"},
    {"{%", "%}", "jinja_statement"},
    {"${", "}", "el_expression"},
    {"#{", "}", "el_expression"},
    {"<%", "%>", "erb_expression"},
    {"<#", ">", "freemarker_directive"},
    {"*{", "}", "el_expression"},       /* Thymeleaf selection */
    {"@{", "}", "el_expression"},       /* Thymeleaf link */
    {"%{", "}", "ognl_expression"},     /* Struts 2 OGNL */
};

/*
 * Look for each kind of delimited expression. Engines evaluate closed
 * expressions only, and "<%s>" or "{{" alone are common in code and
 * prose, so an unclosed one is not examined. Each kind resumes after
 * the expression it examined, so the scan is linear per kind.
 */
static bool
match_expression(const struct inspect_value *v, struct inspect_verdict *out)
{
    struct slice s = v->text;

    for (size_t k = 0; k < ARRAY_LEN(delims); k++) {
        size_t i = 0, at;

        while ((at = inspect_find_nocase(s, i, delims[k].open)) != SIZE_MAX) {
            size_t from = at + strlen(delims[k].open);
            size_t end = inspect_find_nocase(s, from, delims[k].close);
            struct slice e;

            if (end == SIZE_MAX)
                break;          /* no later expression closes either */
            e = (struct slice){s.ptr + from, end - from};
            if (e.len > 0 && risky(e))
                return inspect_found(v, "template", "inspect.template",
                                     delims[k].rule, 85, at, out);
            i = end;
        }
    }
    return false;
}

/*
 * Log4j lookup evaluation. A stack of open "${" holds where each one's
 * content starts in the output buffer; at "}" the content is replaced
 * by what Log4j would put there.
 */
struct lookup {
    char buf[LOOKUP_MAX];
    size_t len;
    size_t open[LOOKUP_DEPTH];
    unsigned depth;
};

/* What the lookup with content c evaluates to, written over c itself
   (it is never longer). Returns the new length, or SIZE_MAX when c is
   a JNDI lookup. */
static size_t
lookup_eval(char *c, size_t len)
{
    const char *dflt = memmem(c, len, ":-", 2);
    size_t start = 0, n;

    if (inspect_prefix_nocase(c, len, "jndi:"))
        return SIZE_MAX;
    if (dflt != NULL) {
        start = (size_t)(dflt - c) + 2;
    } else if (inspect_prefix_nocase(c, len, "lower:") ||
               inspect_prefix_nocase(c, len, "upper:") ||
               inspect_prefix_nocase(c, len, "date:")) {
        start = (size_t)((const char *)memchr(c, ':', len) - c) + 1;
    } else {
        return 0;   /* unknown lookups are left out of the name */
    }
    n = 0;
    for (size_t i = start; i < len; i++)
        if (c[i] != '\'')
            c[n++] = (char)inspect_lower((unsigned char)c[i]);
    return n;
}

/*
 * Evaluate the lookup that opens at s[at] (a "${"), up to LOOKUP_MAX
 * bytes. Returns true when a JNDI lookup appears; *end gets where
 * scanning resumes.
 */
static bool
lookup_scan(struct slice s, size_t at, struct lookup *lk, size_t *end)
{
    size_t i = at;

    lk->len = 0;
    lk->depth = 0;
    while (i < s.len && lk->len < LOOKUP_MAX) {
        if (s.ptr[i] == '$' && i + 1 < s.len && s.ptr[i + 1] == '{' &&
            lk->depth < LOOKUP_DEPTH) {
            lk->open[lk->depth++] = lk->len;
            i += 2;
        } else if (s.ptr[i] == '}' && lk->depth > 0) {
            size_t o = lk->open[--lk->depth];
            size_t n = lookup_eval(lk->buf + o, lk->len - o);

            if (n == SIZE_MAX)
                return true;
            lk->len = o + n;
            i++;
            if (lk->depth == 0)
                break;
        } else {
            lk->buf[lk->len++] = s.ptr[i++];
        }
    }
    *end = i;
    return false;
}

static bool
match_jndi(const struct inspect_value *v, struct inspect_verdict *out)
{
    struct lookup lk;
    size_t i = 0, at;

    while ((at = inspect_find_nocase(v->text, i, "${")) != SIZE_MAX) {
        if (lookup_scan(v->text, at, &lk, &i))
            return inspect_found(v, "template", "inspect.template",
                                 "jndi_lookup", 95, at, out);
        i = MAX(i, at + 2);
    }
    return false;
}

bool
inspect_template_match(const struct inspect_value *v,
                       struct inspect_verdict *out)
{
    return match_jndi(v, out) || match_expression(v, out);
}
