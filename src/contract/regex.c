/*
 * ECMA-262 regular expressions, as JSON Schema means them, rewritten
 * for PCRE2 (compiled with PCRE2_UTF and PCRE2_DOLLAR_ENDONLY, without
 * PCRE2_UCP so that \d, \w and \b stay ASCII as in ECMA-262).
 *
 * Two differences are bridged here:
 * - \s and \S: ECMA-262 white space includes NBSP, U+FEFF, the line and
 *   paragraph separators and every Zs character; PCRE2 without UCP only
 *   knows ASCII white space. \s is widened everywhere, \S outside
 *   character classes (a \S inside a class stays ASCII);
 * - long Unicode property names (\p{Letter}, \p{digit},
 *   \p{Script=Greek}) become the short ones PCRE2 10.42 knows.
 * Every other construct is passed through, so PCRE2 syntax that
 * ECMA-262 lacks (possessive quantifiers, (?#...), inline flags) is
 * accepted rather than refused.
 */
#include <string.h>

#include "schema_int.h"

#define WS_EXTRA "\\x{a0}\\x{feff}\\x{2028}\\x{2029}\\p{Zs}"

static const struct {
    const char *lng, *shrt;
} props[] = {
    {"Letter", "L"},           {"Cased_Letter", "L&"},
    {"Uppercase_Letter", "Lu"}, {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"}, {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},     {"Mark", "M"},
    {"Number", "N"},            {"Decimal_Number", "Nd"},
    {"digit", "Nd"},            {"Letter_Number", "Nl"},
    {"Other_Number", "No"},     {"Punctuation", "P"},
    {"punct", "P"},             {"Symbol", "S"},
    {"Separator", "Z"},         {"Space_Separator", "Zs"},
    {"Other", "C"},             {"Control", "Cc"},
    {"cntrl", "Cc"},
};

struct out {
    char *p;
    size_t len, cap;
    bool ok;
};

static void
emit(struct out *o, const char *s, size_t n)
{
    if (!o->ok || o->cap - o->len <= n) {
        o->ok = false;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void
emit_str(struct out *o, const char *s)
{
    emit(o, s, strlen(s));
}

/* \p{...} or \P{...} at in[i] (the backslash); returns the bytes read. */
static size_t
emit_property(struct out *o, struct slice in, size_t i)
{
    const char *close = memchr(in.ptr + i, '}', in.len - i);
    struct slice name;
    const char *eq;

    if (i + 3 >= in.len || in.ptr[i + 2] != '{' || close == NULL) {
        emit(o, in.ptr + i, 2);
        return 2;
    }
    name = (struct slice){in.ptr + i + 3, (size_t)(close - in.ptr) - i - 3};
    eq = memchr(name.ptr, '=', name.len);
    if (eq != NULL)             /* Script=Greek, gc=Letter */
        name = (struct slice){eq + 1, name.len - (size_t)(eq + 1 -
                                                          name.ptr)};
    emit(o, in.ptr + i, 3);
    for (size_t k = 0; k < ARRAY_LEN(props); k++)
        if (name.len == strlen(props[k].lng) &&
            memcmp(name.ptr, props[k].lng, name.len) == 0) {
            name = (struct slice){props[k].shrt, strlen(props[k].shrt)};
            break;
        }
    emit(o, name.ptr, name.len);
    emit(o, "}", 1);
    return (size_t)(close - in.ptr) - i + 1;
}

int
regex_translate(struct slice in, char *buf, size_t cap, size_t *len)
{
    struct out o = {buf, 0, cap, cap > 0};
    bool in_class = false;

    if (cap > 0)
        buf[0] = '\0';
    for (size_t i = 0; i < in.len && o.ok;) {
        char c = in.ptr[i];

        if (c == '\\' && i + 1 < in.len) {
            char n = in.ptr[i + 1];

            if (n == 'p' || n == 'P') {
                i += emit_property(&o, in, i);
                continue;
            }
            if (n == 's')
                emit_str(&o, in_class ? "\\s" WS_EXTRA
                                      : "[\\s" WS_EXTRA "]");
            else if (n == 'S' && !in_class)
                emit_str(&o, "[^\\s" WS_EXTRA "]");
            else
                emit(&o, in.ptr + i, 2);
            i += 2;
            continue;
        }
        if (c == '[' && !in_class)
            in_class = true;
        else if (c == ']' && in_class)
            in_class = false;
        emit(&o, &c, 1);
        i++;
    }
    *len = o.len;
    return o.ok ? AW_OK : AW_TOOBIG;
}
