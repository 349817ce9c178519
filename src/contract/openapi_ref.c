/*
 * The files of an OpenAPI document and the references between them.
 *
 * A "$ref" is either a JSON pointer fragment into the same file
 * ("#/components/parameters/limit") or a relative path to another file,
 * optionally with a fragment ("common.yaml#/Limit"). Other files are
 * read only from the document's own folder and the folders under it:
 * the path is resolved with realpath (symbolic links included) and must
 * stay under the document's folder, so "../../etc/passwd" or a link to
 * it is refused. URIs with a scheme (http:, file:) and absolute paths
 * are refused: a gateway does not fetch its contract over the network.
 * Every file counts against max_files and the shared value budget.
 *
 * Objects that are not schemas (parameters, request bodies, responses,
 * path items) are resolved here, hop by hop, and a cycle among them is
 * an error. Schemas keep their references: the schema compiler resolves
 * them, cycles included, through its fetch callback (openapi_schema.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "contract/openapi_int.h"

int
oas_fail(struct oas_build *b, const struct oas_loc *at, int rc,
         const char *fmt, ...)
{
    const struct openapi *api = b->api;
    size_t n = 0;
    va_list ap;
    int k;

    if (at != NULL && at->file > 0) {
        const char *p = api->files[at->file].path;
        size_t dl = api->dir != NULL ? strlen(api->dir) : 0;

        k = snprintf(b->err, b->errlen, "%s: ",
                     dl > 0 && strlen(p) > dl ? p + dl + 1 : p);
        n = k > 0 ? (size_t)k : 0;
    }
    if (at != NULL && n < b->errlen) {
        k = snprintf(b->err + n, b->errlen - n, "#%s: ", at->ptr);
        n += k > 0 ? (size_t)k : 0;
    }
    if (n < b->errlen) {
        va_start(ap, fmt);
        vsnprintf(b->err + n, b->errlen - n, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *
oas_ptr_add(struct oas_build *b, const char *ptr, const char *name)
{
    size_t pl = strlen(ptr), nl = strlen(name), o = pl + 1;
    char *s = arena_alloc(&b->api->arena, pl + 2 * nl + 2);

    if (s == NULL)
        return NULL;
    memcpy(s, ptr, pl);
    s[pl] = '/';
    for (size_t i = 0; i < nl; i++) {
        if (name[i] == '~' || name[i] == '/') {
            s[o++] = '~';
            s[o++] = name[i] == '~' ? '0' : '1';
        } else {
            s[o++] = name[i];
        }
    }
    s[o] = '\0';
    return s;
}

/* True when the escaped token tok equals the name. */
static bool
oas_token_is(struct slice tok, struct slice name)
{
    size_t j = 0;

    for (size_t i = 0; i < tok.len; i++, j++) {
        char c = tok.ptr[i];

        if (c == '~') {
            if (i + 1 == tok.len || (tok.ptr[i + 1] != '0' &&
                                     tok.ptr[i + 1] != '1'))
                return false;
            c = tok.ptr[++i] == '0' ? '~' : '/';
        }
        if (j == name.len || name.ptr[j] != c)
            return false;
    }
    return j == name.len;
}

/* One step down a pointer; NULL when there is nothing. */
static const struct json_value *
oas_ptr_step(const struct json_value *v, struct slice tok)
{
    uint64_t i;

    if (v->type == JSON_OBJECT) {
        for (size_t k = 0; k < v->u.obj.n; k++)
            if (oas_token_is(tok, v->u.obj.members[k].name))
                return v->u.obj.members[k].value;
        return NULL;
    }
    if (v->type != JSON_ARRAY || (tok.len > 1 && tok.ptr[0] == '0') ||
        slice_to_u64(tok, SIZE_MAX, &i) != AW_OK || i >= v->u.arr.n)
        return NULL;
    return v->u.arr.items[i];
}

const struct json_value *
oas_ptr_get(const struct json_value *root, const char *ptr)
{
    const struct json_value *v = root;
    const char *p = ptr;

    if (*p != '\0' && *p != '/')
        return NULL;
    while (v != NULL && *p == '/') {
        const char *end = strchr(p + 1, '/');
        size_t len = end != NULL ? (size_t)(end - p - 1) : strlen(p + 1);

        v = oas_ptr_step(v, (struct slice){p + 1, len});
        p += 1 + len;
    }
    return v;
}

const struct json_value *
oas_at(const struct oas_build *b, const struct oas_loc *at)
{
    return oas_ptr_get(b->api->files[at->file].root, at->ptr);
}

/*
 * Decode %XX escapes of a reference into the arena. NULL for a bad
 * escape or an encoded NUL (or no memory: *nomem is then set).
 */
static char *
oas_unescape(struct oas_build *b, struct slice s, bool *nomem)
{
    char *out = arena_alloc(&b->api->arena, s.len + 1);
    size_t o = 0;

    *nomem = out == NULL;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < s.len; i++) {
        int hi, lo;

        if (s.ptr[i] != '%') {
            out[o++] = s.ptr[i];
            continue;
        }
        hi = i + 2 < s.len ? hex_digit_value((unsigned char)s.ptr[i + 1])
                           : -1;
        lo = hi >= 0 ? hex_digit_value((unsigned char)s.ptr[i + 2]) : -1;
        if (lo < 0 || (hi == 0 && lo == 0))
            return NULL;
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    if (memchr(out, '\0', o) != NULL)
        return NULL;
    return out;
}

int
oas_read_file(struct openapi *api, const char *path, char **buf,
              size_t *len)
{
    size_t max = api->budget.max_bytes, got = 0;
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = AW_IO;

    if (fd < 0)
        return AW_IO;
    if (fstat(fd, &st) != 0)
        goto out;
    if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        goto out;
    }
    rc = AW_TOOBIG;
    if ((uint64_t)st.st_size > max)
        goto out;
    rc = AW_NOMEM;
    *buf = arena_alloc(&api->arena, (size_t)st.st_size + 1);
    if (*buf == NULL)
        goto out;
    rc = AW_IO;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, *buf + got, (size_t)st.st_size - got);

        if (n <= 0)
            goto out;
        got += (size_t)n;
    }
    (*buf)[got] = '\0';
    *len = got;
    rc = AW_OK;
out:
    if (rc != AW_OK) {
        int saved = errno;

        close(fd);
        errno = saved;
        return rc;
    }
    close(fd);
    return rc;
}

/* The folder part of a path, in the arena. */
static const char *
oas_dirname(struct oas_build *b, const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return ".";
    if (slash == path)
        return "/";
    return arena_dup(&b->api->arena, path, (size_t)(slash - path));
}

/*
 * Add the file at real path rp to the document (or find it there).
 * The message of a failure is recorded against "from".
 */
static int
oas_file_add(struct oas_build *b, const struct oas_loc *from, const char *rp,
             unsigned *index)
{
    struct openapi *api = b->api;
    char msg[256];
    struct oas_file *f;
    char *buf = NULL;
    size_t len = 0;
    int rc;

    for (unsigned i = 0; i < api->nfiles; i++) {
        if (strcmp(api->files[i].path, rp) == 0) {
            *index = i;
            return AW_OK;
        }
    }
    if (api->nfiles > api->opt.max_files)
        return oas_fail(b, from, AW_TOOBIG, "references reach more than "
                        "%u other files", api->opt.max_files);
    rc = oas_read_file(api, rp, &buf, &len);
    if (rc == AW_TOOBIG)
        return oas_fail(b, from, rc, "a referenced file is larger than "
                        "%zu bytes", api->budget.max_bytes);
    if (rc != AW_OK)
        return oas_fail(b, from, rc, "a referenced file cannot be read");
    f = &api->files[api->nfiles];
    *f = (struct oas_file){.path = arena_dup(&api->arena, rp, strlen(rp))};
    f->dir = f->path != NULL ? oas_dirname(b, f->path) : NULL;
    f->uri = arena_printf(&api->arena, "file://%s", rp);
    if (f->path == NULL || f->dir == NULL || f->uri == NULL)
        return oas_fail(b, from, AW_NOMEM, "out of memory");
    rc = oas_parse(buf, len, &api->budget, &api->arena, &f->root, msg,
                   sizeof(msg));
    if (rc != AW_OK) {
        struct oas_loc at = {api->nfiles, ""};

        api->nfiles++; /* so that the message names the file */
        return oas_fail(b, &at, rc, "%s", msg);
    }
    *index = api->nfiles++;
    return AW_OK;
}

/* True when the real path rp is under the document's folder. */
static bool
oas_confined(const struct openapi *api, const char *rp)
{
    size_t dl = strlen(api->dir);

    if (dl == 1 && api->dir[0] == '/')
        return rp[0] == '/';
    return strncmp(rp, api->dir, dl) == 0 && rp[dl] == '/';
}

/*
 * The file a relative reference names, resolved from the folder of the
 * file it is written in and confined to the document's folder.
 */
static int
oas_ref_file(struct oas_build *b, const struct oas_loc *from,
             struct slice part, unsigned *index)
{
    const struct openapi *api = b->api;
    bool nomem;
    char *rel, *path, *rp;
    int rc;

    if (api->dir == NULL)
        return oas_fail(b, from, AW_INVALID, "a reference to another file "
                        "in a document read from memory");
    rel = oas_unescape(b, part, &nomem);
    if (rel == NULL)
        return oas_fail(b, from, nomem ? AW_NOMEM : AW_INVALID,
                        "a reference with a bad %%-escape");
    if (rel[0] == '/' || strchr(rel, ':') != NULL)
        return oas_fail(b, from, AW_INVALID, "only relative references "
                        "to files of the document's folder are supported");
    path = arena_printf(&b->api->arena, "%s/%s",
                        api->files[from->file].dir, rel);
    if (path == NULL)
        return oas_fail(b, from, AW_NOMEM, "out of memory");
    rp = realpath(path, NULL);
    if (rp == NULL)
        return oas_fail(b, from, AW_INVALID, "a reference to a file that "
                        "does not exist");
    if (!oas_confined(api, rp)) {
        free(rp);
        return oas_fail(b, from, AW_INVALID, "a reference leaves the "
                        "document's folder");
    }
    rc = oas_file_add(b, from, rp, index);
    free(rp);
    return rc;
}

int
oas_ref_target(struct oas_build *b, const struct oas_loc *from,
               struct slice ref, struct oas_loc *to)
{
    const char *hash = memchr(ref.ptr, '#', ref.len);
    size_t flen = hash != NULL ? (size_t)(hash - ref.ptr) : ref.len;
    struct slice frag = SLICE_NULL;
    unsigned file = from->file;
    bool nomem;
    char *ptr;
    int rc;

    if (hash != NULL)
        frag = (struct slice){hash + 1, ref.len - flen - 1};
    if (flen > 0) {
        rc = oas_ref_file(b, from, (struct slice){ref.ptr, flen}, &file);
        if (rc != AW_OK)
            return rc;
    }
    ptr = oas_unescape(b, frag, &nomem);
    if (ptr == NULL)
        return oas_fail(b, from, nomem ? AW_NOMEM : AW_INVALID,
                        "a reference with a bad %%-escape");
    if (ptr[0] != '\0' && ptr[0] != '/')
        return oas_fail(b, from, AW_INVALID, "a reference whose fragment "
                        "is not a JSON pointer");
    *to = (struct oas_loc){file, ptr};
    if (oas_at(b, to) == NULL)
        return oas_fail(b, from, AW_INVALID, "a reference that does not "
                        "resolve");
    return AW_OK;
}

int
oas_deref(struct oas_build *b, struct oas_loc *at,
          const struct json_value **v)
{
    struct oas_loc first = *at;

    for (unsigned hops = 0;; hops++) {
        const struct json_value *val = oas_at(b, at);
        const struct json_value *ref = json_get(val, "$ref");
        struct oas_loc ref_at;
        int rc;

        if (ref == NULL) {
            *v = val;
            return val != NULL ? AW_OK
                               : oas_fail(b, at, AW_INVALID, "missing");
        }
        if (ref->type != JSON_STRING)
            return oas_fail(b, at, AW_INVALID, "$ref is not a string");
        if (hops == OAS_MAX_REF_HOPS)
            return oas_fail(b, &first, AW_INVALID, "references run in a "
                            "cycle or a chain longer than %d",
                            OAS_MAX_REF_HOPS);
        ref_at.file = at->file;
        ref_at.ptr = oas_ptr_add(b, at->ptr, "$ref");
        if (ref_at.ptr == NULL)
            return oas_fail(b, at, AW_NOMEM, "out of memory");
        rc = oas_ref_target(b, &ref_at, ref->u.str, at);
        if (rc != AW_OK)
            return rc;
    }
}

int
oas_file_by_uri(struct oas_build *b, const char *uri, unsigned *index)
{
    const struct openapi *api = b->api;
    struct oas_loc at = {0, ""};
    char *rp;
    int rc;

    for (unsigned i = 0; i < api->nfiles; i++) {
        if (strcmp(api->files[i].uri, uri) == 0) {
            *index = i;
            return AW_OK;
        }
    }
    if (api->dir == NULL || strncmp(uri, "file:///", 8) != 0)
        return oas_fail(b, &at, AW_INVALID, "a schema reference outside "
                        "the document's folder");
    rp = realpath(uri + 7, NULL);
    if (rp == NULL)
        return oas_fail(b, &at, AW_INVALID, "a schema reference to a file "
                        "that does not exist");
    if (!oas_confined(api, rp)) {
        free(rp);
        return oas_fail(b, &at, AW_INVALID, "a schema reference leaves "
                        "the document's folder");
    }
    rc = oas_file_add(b, &at, rp, index);
    free(rp);
    return rc;
}
