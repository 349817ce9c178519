/*
 * NoSQL operator injection: a member name or parameter name that is a
 * MongoDB query operator. A login that passes {"password": {"$ne": ""}}
 * or "password[$ne]=" (which Express and PHP turn into that object)
 * matches every document.
 *
 * The value given is a name: a JSON member name or a query or form
 * parameter name. Only the operators of the query language count, so
 * "$schema", "$id" and "$ref" of JSON Schema, and prices such as "$100",
 * pass. A value that holds JSON with an operator as a member name
 * ('{"$ne": null}', which applications that parse a parameter as JSON
 * turn into a query) counts too.
 */
#include <string.h>

#include "internal.h"

/* Query and aggregation operators that change what a filter matches or
   run code. Lower case; matched ASCII case folded. */
static const char *const operators[] = {
    "$ne", "$eq", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex",
    "$where", "$exists", "$expr", "$function", "$accumulator", "$or",
    "$and", "$nor", "$not", "$elemmatch", "$all", "$size", "$type",
    "$mod", "$text", "$jsonschema", "$options", "$lookup", "$unionwith",
    "$merge", "$out",
};

static bool
is_operator(const char *s, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(operators); i++)
        if (strlen(operators[i]) == len &&
            inspect_prefix_nocase(s, len, operators[i]))
            return true;
    return false;
}

/* The offset of the first '"$op":' in s (JSON member name that is an
   operator, blanks allowed before the colon), or SIZE_MAX. */
static size_t
json_operator(struct slice s)
{
    for (size_t i = 0; i + 2 < s.len; i++) {
        const char *q;
        size_t j;

        if (s.ptr[i] != '"' || s.ptr[i + 1] != '$')
            continue;
        q = memchr(s.ptr + i + 1, '"', s.len - i - 1);
        if (q == NULL)
            return SIZE_MAX;
        j = (size_t)(q - s.ptr);
        if (is_operator(s.ptr + i + 1, j - i - 1)) {
            for (j++; j < s.len && (s.ptr[j] == ' ' || s.ptr[j] == '\t');
                 j++)
                ;
            if (j < s.len && s.ptr[j] == ':')
                return i;
        }
        i = j - 1;
    }
    return SIZE_MAX;
}

bool
inspect_nosql_match(const struct inspect_value *v,
                    struct inspect_verdict *out)
{
    struct slice s = v->text;
    size_t start = 0, at;

    /* The name itself, then each bracketed part: a[$ne], a[b][$gt]. */
    for (size_t i = 0; i <= s.len; i++) {
        if (i < s.len && s.ptr[i] != '[' && s.ptr[i] != ']')
            continue;
        if (i > start && s.ptr[start] == '$' &&
            is_operator(s.ptr + start, i - start))
            return inspect_found(v, "nosql", "inspect.nosql", "operator",
                                 85, start, out);
        start = i + 1;
    }
    at = json_operator(s);
    if (at != SIZE_MAX)
        return inspect_found(v, "nosql", "inspect.nosql", "json_operator",
                             85, at, out);
    return false;
}
