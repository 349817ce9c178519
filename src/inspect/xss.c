/*
 * Cross-site scripting, in the two places a value reaches a page: as
 * HTML (element content or an attribute value) and as a URL (a link's
 * href, a redirect target).
 *
 * In HTML what runs script is a <script> element, elements that load
 * or embed documents (iframe, object, embed, frame, base, meta, link),
 * an event handler attribute (onerror=, onload=, ...) on any element,
 * or a javascript:, vbscript: or data:text/html URL in an attribute.
 * A value can also close the attribute it was put in and add a handler:
 * '" onmouseover="...'. Tags are read as browsers read them: a name of
 * letters right after '<', ended by a blank, '/' or '>'; attributes
 * are names and values as the HTML tokenizer reads them. "<b>bold</b>",
 * "a < b", "I <3 it" and '<p title="onclick=x">' are not script.
 *
 * Browsers ignore tabs and newlines inside a URL scheme and blanks and
 * controls before it, so "java\tscript:" counts; a value that starts
 * with such a scheme counts when what follows looks like code, so the
 * book title "JavaScript: The Good Parts" passes. Character references
 * are the caller's to decode (inspect_decode, INSPECT_DECODE_HTML).
 *
 * A style attribute runs script in older browsers through expression()
 * or a script URL in url(); both count.
 *
 * Not covered: script inside CSS elsewhere (a <style> element), values
 * that land inside a <script> element or a JavaScript string, and DOM
 * clobbering; such payloads pass.
 */
#include <string.h>

#include "internal.h"

/* Elements that run or load active content by merely being there. */
static const char *const active_tags[] = {
    "script", "iframe", "object", "embed", "frame", "frameset", "applet",
    "base", "meta", "link", "portal", "import",
};

static bool
is_letter(unsigned char c)
{
    return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool
is_blank(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/*
 * If s[i..) starts with a script-capable URL scheme, with tabs and
 * newlines allowed anywhere inside it and blanks and controls before
 * it, return the offset after its ':'; else 0.
 */
static size_t
script_scheme(struct slice s, size_t i)
{
    static const char *const schemes[] = {"javascript:", "vbscript:",
                                          "data:text/html",
                                          "data:image/svg+xml"};

    while (i < s.len && (unsigned char)s.ptr[i] <= ' ')
        i++;
    for (size_t k = 0; k < ARRAY_LEN(schemes); k++) {
        const char *p = schemes[k];
        size_t j = i;

        while (*p != '\0' && j < s.len) {
            if (s.ptr[j] == '\t' || s.ptr[j] == '\n' || s.ptr[j] == '\r') {
                j++;
                continue;
            }
            if (inspect_lower((unsigned char)s.ptr[j]) != (unsigned char)*p)
                break;
            j++;
            p++;
        }
        if (*p == '\0')
            return j;
    }
    return 0;
}

/* True when the text after a javascript: scheme looks like code rather
   than the rest of a sentence. */
static bool
code_like(struct slice s, size_t i)
{
    for (; i < s.len; i++)
        if (strchr("()`=;%[]{}'\"", s.ptr[i]) != NULL)
            return true;
    return false;
}

/*
 * True when s[i..) is an event handler attribute: "on", at least three
 * letters, blanks, '='. i must start an attribute name (after a blank,
 * '/', a quote, or the tag name).
 */
static bool
event_handler(struct slice s, size_t i)
{
    size_t j = i + 2;

    if (!inspect_prefix_nocase(s.ptr + i, s.len - i, "on"))
        return false;
    while (j < s.len && is_letter((unsigned char)s.ptr[j]))
        j++;
    if (j - i < 5)
        return false;
    while (j < s.len && is_blank((unsigned char)s.ptr[j]))
        j++;
    return j < s.len && s.ptr[j] == '=';
}

/* True when the CSS in s[v..end) calls expression() or names a script
   URL in url(), quoted or not. */
static bool
css_script(struct slice s, size_t v, size_t end)
{
    struct slice css = {s.ptr, end};

    for (size_t k = v; k < end; k++) {
        size_t j;

        if (inspect_prefix_nocase(s.ptr + k, end - k, "expression("))
            return true;
        if (!inspect_prefix_nocase(s.ptr + k, end - k, "url("))
            continue;
        for (j = k + 4; j < end && (is_blank((unsigned char)s.ptr[j]) ||
                                    s.ptr[j] == '"' || s.ptr[j] == '\'');
             j++)
            ;
        if (script_scheme(css, j) > 0)
            return true;
    }
    return false;
}

/*
 * Read an attribute value at s[*i..) (after '=' and blanks): quoted by
 * '"', '\'' or '`' (old Internet Explorer's third quote), or unquoted
 * up to a blank or '>'. True when it is a script URL followed by code,
 * or, for a style attribute (style true), CSS that runs script; *i
 * moves past it.
 */
static bool
attribute_value(struct slice s, size_t *i, bool style)
{
    size_t v = *i, end, after;
    char q = v < s.len ? s.ptr[v] : 0;

    if (q == '"' || q == '\'' || q == '`') {
        const char *close = memchr(s.ptr + v + 1, q, s.len - v - 1);

        v++;
        end = close != NULL ? (size_t)(close - s.ptr) : s.len;
        *i = close != NULL ? end + 1 : s.len;
    } else {
        for (end = v; end < s.len && !is_blank((unsigned char)s.ptr[end]) &&
                      s.ptr[end] != '>';
             end++)
            ;
        *i = end;
    }
    if (style && css_script(s, v, end))
        return true;
    /* As for a whole value: a data: document counts as it is, a script
       scheme when code follows it ("javascript: the good parts" in a
       title does not). */
    after = script_scheme(s, v);
    return after > 0 && after <= end &&
           (s.ptr[after - 1] != ':' ||
            code_like((struct slice){s.ptr, end}, after));
}

/*
 * The attributes of the tag whose name ends at s[i], read as the HTML
 * tokenizer reads them: a name ends at a blank, '/', '>' or '='; a
 * value follows '='. A handler counts as a name, a script URL as a
 * value, so title="onclick=x" is text. Stops at '>', at a '<' where a
 * name would start (so that a run of unclosed tags is read once, not
 * once per tag) or at the end; *stop gets where.
 */
static bool
tag_attributes(struct slice s, size_t i, size_t *hit, size_t *stop)
{
    while (i < s.len) {
        size_t name, j;
        bool style;

        while (i < s.len && (is_blank((unsigned char)s.ptr[i]) ||
                             s.ptr[i] == '/'))
            i++;
        if (i >= s.len || s.ptr[i] == '>' || s.ptr[i] == '<')
            break;
        name = i++;
        while (i < s.len && !is_blank((unsigned char)s.ptr[i]) &&
               s.ptr[i] != '/' && s.ptr[i] != '>' && s.ptr[i] != '=')
            i++;
        style = i - name == 5 &&
                inspect_prefix_nocase(s.ptr + name, 5, "style");
        if (event_handler(s, name)) {
            *hit = name;
            return true;
        }
        for (j = i; j < s.len && is_blank((unsigned char)s.ptr[j]); j++)
            ;
        if (j >= s.len || s.ptr[j] != '=')
            continue;
        for (i = j + 1; i < s.len && is_blank((unsigned char)s.ptr[i]); i++)
            ;
        if (attribute_value(s, &i, style)) {
            *hit = name;
            return true;
        }
    }
    *stop = i;
    return false;
}

static bool
active_tag(struct slice name)
{
    for (size_t i = 0; i < ARRAY_LEN(active_tags); i++)
        if (slice_is(name, active_tags[i]))
            return true;
    return false;
}

/* Tags: '<', a letter, letters and digits, then a blank, '/' or '>' (or
   the end, for a payload cut short). */
static bool
match_tags(const struct inspect_value *v, struct inspect_verdict *out)
{
    struct slice s = v->text;

    for (size_t i = 0; i + 1 < s.len; i++) {
        size_t j = i + 1, hit, stop;
        struct slice name;

        if (s.ptr[i] != '<' || !is_letter((unsigned char)s.ptr[j]))
            continue;
        while (j < s.len && (is_letter((unsigned char)s.ptr[j]) ||
                             (s.ptr[j] >= '0' && s.ptr[j] <= '9')))
            j++;
        if (j < s.len && !is_blank((unsigned char)s.ptr[j]) &&
            s.ptr[j] != '/' && s.ptr[j] != '>')
            continue;
        name = (struct slice){s.ptr + i + 1, j - i - 1};
        if (active_tag(name))
            return inspect_found(v, "xss", "inspect.xss", "active_tag", 90,
                                 i, out);
        if (tag_attributes(s, j, &hit, &stop))
            return inspect_found(v, "xss", "inspect.xss", "tag_attribute",
                                 90, hit, out);
        i = stop - 1;
    }
    return false;
}

/* A value that closes an attribute and adds a handler:
   '" onmouseover=alert(1) x="'. */
static bool
match_breakout(const struct inspect_value *v, struct inspect_verdict *out)
{
    struct slice s = v->text;

    for (size_t i = 0; i + 1 < s.len; i++) {
        size_t j = i + 1;

        if (s.ptr[i] != '"' && s.ptr[i] != '\'')
            continue;
        while (j < s.len && (is_blank((unsigned char)s.ptr[j]) ||
                             s.ptr[j] == '/'))
            j++;
        if (j > i + 1 && event_handler(s, j))
            return inspect_found(v, "xss", "inspect.xss",
                                 "attribute_breakout", 85, i, out);
    }
    return false;
}

bool
inspect_xss_match(const struct inspect_value *v, struct inspect_verdict *out)
{
    size_t after = script_scheme(v->text, 0);

    /* A data: document is markup whatever it holds; a script scheme
       must be followed by code. */
    if (after > 0 && (v->text.ptr[after - 1] != ':' ||
                      code_like(v->text, after)))
        return inspect_found(v, "xss", "inspect.xss", "script_url", 90, 0,
                             out);
    return match_tags(v, out) || match_breakout(v, out);
}
