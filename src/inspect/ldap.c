/*
 * LDAP filter injection: a value that, placed in a filter such as
 * (&(uid=VALUE)(userPassword=...)), closes its component and opens
 * others (RFC 4515 syntax). The signs are a ")" followed by "(" and a
 * filter component (an attribute assertion or a "&", "|", "!"
 * operator), a value that starts by closing with "*)" or ")", or a
 * NUL byte that truncates the filter in C directory servers.
 *
 * The ")" must close a parenthesis the value did not open: injection
 * closes the component the query opened around the value. Prose and
 * code with balanced parentheses, "(see above)(maybe)" or
 * "type(self)(policy=p)", pass.
 */
#include <string.h>

#include "internal.h"

static bool
attr_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ';';
}

/*
 * True when s[i..) starts a filter component: "&", "|" or "!" followed
 * by "(" or ")", or an attribute description followed by =, ~=, >=, <=
 * (the attribute may be empty only for the operators).
 */
static bool
component(struct slice s, size_t i)
{
    size_t j = i;

    /* An operator, then its first filter, or an assertion straight
       after it, which lenient servers read ("(|uid=*)"). */
    if (i < s.len && s.ptr[i] != '\0' && strchr("&|!", s.ptr[i]) != NULL) {
        i++;
        j = i;
        if (i == s.len || s.ptr[i] == '(' || s.ptr[i] == ')')
            return true;
    }
    while (j < s.len && attr_byte((unsigned char)s.ptr[j]))
        j++;
    if (j == i || j >= s.len)
        return false;
    if (s.ptr[j] == '=')
        return true;
    return j + 1 < s.len && s.ptr[j] != '\0' &&
           strchr("~<>", s.ptr[j]) != NULL && s.ptr[j + 1] == '=';
}

/* True when s[j..) opens one or more parentheses and then a filter
   component: "(uid=", "((|userPassword=". */
static bool
opens_component(struct slice s, size_t j)
{
    if (j >= s.len || s.ptr[j] != '(')
        return false;
    while (j + 1 < s.len && s.ptr[j + 1] == '(')
        j++;
    return component(s, j + 1);
}

bool
inspect_ldap_match(const struct inspect_value *v, struct inspect_verdict *out)
{
    struct slice s = v->text;
    long depth = 0;

    /* Runs of ')' are taken whole, so each byte is looked at a fixed
       number of times. */
    for (size_t i = 0; i < s.len;) {
        size_t j = i;

        if (s.ptr[i] != ')') {
            depth += s.ptr[i] == '(';
            i++;
            continue;
        }
        while (j < s.len && s.ptr[j] == ')') {
            depth--;
            j++;
        }
        if (depth < 0 && opens_component(s, j))
            return inspect_found(v, "ldap", "inspect.ldap",
                                 "filter_injection", 85, i, out);
        i = j;
    }
    if (s.len >= 2 && s.ptr[0] == '*' && s.ptr[1] == ')')
        return inspect_found(v, "ldap", "inspect.ldap", "filter_injection",
                             80, 0, out);
    return false;
}
