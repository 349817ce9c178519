/*
 * json_verdict FILE...: apiward's verdict on each file, one line each,
 * for tests/unit/json_differential.py:
 *
 *   <name> accept
 *   <name> refuse <reason> <offset>
 *
 * <name> is the file's base name. Each file is parsed by json_parse with
 * the default limits, from a buffer of its exact size. Exit status 0
 * when every file could be read, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"

#define VERDICT_ARENA_MAX ((size_t)64 << 20)

/* The whole file into a heap buffer of its size; NULL when unreadable. */
static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0) {
        rewind(f);
        buf = malloc(size > 0 ? (size_t)size : 1);
        if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)size;
    }
    fclose(f);
    return buf;
}

static void
verdict(const char *path, const char *buf, size_t len)
{
    const char *name = strrchr(path, '/');
    struct json_limits lim;
    struct json_value *v;
    struct json_error err;
    struct arena a;

    name = name != NULL ? name + 1 : path;
    json_limits_default(&lim);
    arena_init(&a, 4096, VERDICT_ARENA_MAX);
    if (json_parse(buf, len, &lim, &a, &v, &err) == AW_OK)
        printf("%s accept\n", name);
    else
        printf("%s refuse %s %zu\n", name, err.reason, err.offset);
    arena_fini(&a);
}

int
main(int argc, char **argv)
{
    int status = 0;

    for (int i = 1; i < argc; i++) {
        size_t len = 0;
        char *buf = slurp(argv[i], &len);

        if (buf == NULL) {
            fprintf(stderr, "json_verdict: cannot read %s\n", argv[i]);
            status = 1;
            continue;
        }
        verdict(argv[i], buf, len);
        free(buf);
    }
    return status;
}
