/*
 * Path traversal: ".." segments that climb out of the directory a value
 * is meant to stay in, the spellings that slip past a check for "../"
 * (backslashes, overlong UTF-8 and fullwidth dots and slashes that a
 * lax decoder or a Unicode normaliser turns into ASCII, "..;/" that
 * servlet containers strip, "....//" left behind by a filter that
 * removes "../" once), absolute paths to well-known secrets, and NUL
 * bytes that cut a path short in C file APIs.
 *
 * A ".." must be a whole segment: "wait.." and "file..txt" are not. In
 * free text (JSON strings, form fields) one relative link such as
 * "../README.md" is ordinary, so two segments in a row are needed
 * there; in paths, parameters, headers and cookies one is enough.
 */
#include <string.h>

#include "internal.h"

/*
 * The byte at s[*i] as a path reader may see it: overlong two-, three-
 * and four-byte forms, fullwidth forms and the division slash and set
 * minus of '.', '/' and '\\' become those bytes. Advances *i past what
 * was read.
 */
static unsigned char
path_char(struct slice s, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s.ptr + *i;
    size_t left = s.len - *i;
    unsigned cp = 0x100;
    size_t n = 1;

    if (left >= 2 && (p[0] == 0xc0 || p[0] == 0xc1) &&
        (p[1] & 0xc0) == 0x80) {
        cp = (unsigned)(p[0] & 1) << 6 | (p[1] & 0x3f);
        n = 2;
    } else if (left >= 3 && p[0] == 0xe0 && (p[1] & 0xe0) == 0x80 &&
               (p[2] & 0xc0) == 0x80) {
        cp = (unsigned)(p[1] & 0x3f) << 6 | (p[2] & 0x3f);
        n = 3;
    } else if (left >= 4 && p[0] == 0xf0 && p[1] == 0x80 &&
               (p[2] & 0xe0) == 0x80 && (p[3] & 0xc0) == 0x80) {
        cp = (unsigned)(p[2] & 0x3f) << 6 | (p[3] & 0x3f);
        n = 4;
    } else if (left >= 3 && p[0] == 0xef && p[1] == 0xbc &&
               (p[2] == 0x8e || p[2] == 0x8f || p[2] == 0xbc)) {
        cp = p[2] == 0x8e ? '.' : p[2] == 0x8f ? '/' : '\\';
        n = 3;
    } else if (left >= 3 && p[0] == 0xe2 && p[1] == 0x88 &&
               (p[2] == 0x95 || p[2] == 0x96)) {
        /* U+2215 and U+2216, which Windows' best-fit mapping turns into
           '/' and '\\'. */
        cp = p[2] == 0x95 ? '/' : '\\';
        n = 3;
    }
    if (cp == '.' || cp == '/' || cp == '\\') {
        *i += n;
        return (unsigned char)cp;
    }
    *i += 1;
    return p[0];
}

static bool
is_sep(unsigned char c)
{
    return c == '/' || c == '\\';
}

/* Files whose mere naming in a value is a probe. Lower case, and each
   starts with '/', '\\' or 'w', which find_sensitive relies on. */
static const char *const sensitive[] = {
    "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/hosts",
    "/proc/self/", "/proc/version", "/.ssh/", "/id_rsa", "/.aws/",
    "/.git/config", "/.htpasswd", "/.htaccess", "web-inf/web.xml",
    "\\win.ini", "/win.ini", "\\boot.ini", "\\windows\\system32",
    "/windows/system32", "\\system32\\", "/.env",
};

/* The offset of the first sensitive path in s, or SIZE_MAX. One pass:
   the names are tried only where a byte could start one of them. */
static size_t
find_sensitive(struct slice s)
{
    for (size_t at = 0; at < s.len; at++) {
        unsigned char c = inspect_lower((unsigned char)s.ptr[at]);

        if (c != '/' && c != '\\' && c != 'w')
            continue;
        for (size_t i = 0; i < ARRAY_LEN(sensitive); i++)
            if ((unsigned char)sensitive[i][0] == c &&
                inspect_prefix_nocase(s.ptr + at, s.len - at, sensitive[i]))
                return at;
    }
    return SIZE_MAX;
}

/* Dot-only segments: how many, how many in a row at most, the first. */
struct climb {
    unsigned count;
    unsigned run;
    unsigned best_run;
    size_t first;
};

/* One segment ended at separator c (0 at the end of the value). */
static void
end_segment(struct climb *cl, size_t start, unsigned dots, unsigned other,
            bool after_sep, unsigned char c)
{
    /* "..", or "...." and longer between separators ("....//"). */
    bool up = other == 0 && (dots == 2 ||
                             (dots > 2 && after_sep && is_sep(c)));

    if (dots == 0 && other == 0)
        return;                 /* "//" and ";/" leave a run unbroken */
    if (!up) {
        cl->run = 0;
        return;
    }
    if (cl->count++ == 0)
        cl->first = start;
    cl->run++;
    cl->best_run = MAX(cl->best_run, cl->run);
}

static void
scan_segments(struct slice s, struct climb *cl)
{
    size_t start = 0;
    unsigned dots = 0, other = 0;
    bool after_sep = true;

    memset(cl, 0, sizeof(*cl));
    for (size_t i = 0; i < s.len;) {
        unsigned char c = path_char(s, &i);

        if (is_sep(c) || c == ';') {
            end_segment(cl, start, dots, other, after_sep, c);
            dots = other = 0;
            after_sep = c != ';';
            start = i;
        } else if (c == '.') {
            dots++;
        } else {
            other++;
        }
    }
    end_segment(cl, start, dots, other, after_sep, 0);
}

bool
inspect_traversal_match(const struct inspect_value *v,
                        struct inspect_verdict *out)
{
    bool free_text = v->origin == INSPECT_JSON_VALUE ||
                     v->origin == INSPECT_FORM_FIELD;
    const char *nul = v->text.len > 0 ? memchr(v->text.ptr, 0, v->text.len)
                                      : NULL;
    struct climb cl;
    size_t at;

    if (nul != NULL)
        return inspect_found(v, "traversal", "inspect.traversal",
                             "nul_byte", 70, (size_t)(nul - v->text.ptr),
                             out);
    scan_segments(v->text, &cl);
    if (cl.count > 0 && (!free_text || cl.best_run >= 2))
        return inspect_found(v, "traversal", "inspect.traversal",
                             "dot_dot", cl.best_run >= 2 ? 90 : 75,
                             cl.first, out);
    at = find_sensitive(v->text);
    if (at != SIZE_MAX)
        return inspect_found(v, "traversal", "inspect.traversal",
                             "sensitive_file", 80, at, out);
    return false;
}
