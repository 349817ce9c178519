/*
 * libFuzzer driver for the encoders that carry client text into
 * security events: cef_format (CEF header and extension escaping) and
 * json_escape_append (the JSON strings of ECS lines and access logs).
 *
 * The input is cut at NUL bytes into the event's fields. Whatever they
 * hold, a CEF message must be printable ASCII on one line, with exactly
 * seven unescaped '|' before its extension and every unescaped '=' of
 * the extension right after a key; a JSON string made by the escaper
 * must parse back as one string.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "json/json.h"
#include "telemetry/telemetry_int.h"

#define FIELDS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool cond)
{
    if (!cond)
        abort();
}

/* Split a NUL-terminated copy of data into up to FIELDS strings. */
static void
split(char *text, size_t len, const char **f)
{
    size_t n = 0, start = 0;

    for (size_t i = 0; i <= len && n < FIELDS; i++) {
        if (i == len || text[i] == '\0') {
            text[i] = '\0';
            f[n++] = text + start;
            start = i + 1;
        }
    }
    while (n < FIELDS)
        f[n++] = NULL;
}

/* The checks on one CEF message m[0..n). */
static void
check_cef(const char *m, size_t n)
{
    unsigned pipes = 0;
    size_t i = 0;

    for (; i < n && pipes < 7; i++) {
        check(m[i] >= 0x20 && m[i] < 0x7f);
        if (m[i] == '\\')
            i++;
        else if (m[i] == '|')
            pipes++;
    }
    check(pipes == 7);
    for (; i < n; i++) {
        check(m[i] >= 0x20 && m[i] < 0x7f);
        if (m[i] == '\\') {
            i++;
            check(i < n);
            continue;
        }
        if (m[i] == '=') {
            size_t k = i;

            while (k > 0 && ((m[k - 1] >= 'a' && m[k - 1] <= 'z') ||
                             (m[k - 1] >= 'A' && m[k - 1] <= 'Z') ||
                             (m[k - 1] >= '0' && m[k - 1] <= '9')))
                k--;
            check(k < i && (k == 0 || m[k - 1] == ' ' || m[k - 1] == '|'));
        }
    }
}

static void
check_json(const char *s)
{
    char mem[4096];
    struct buf b = {mem, 0, 0, sizeof(mem)};
    struct json_limits lim;
    struct json_value *v = NULL;
    struct json_error err;
    struct arena a;

    check(buf_append(&b, "\"", 1) == AW_OK);
    if (json_escape_append(&b, (struct slice){s, strlen(s)}, 512) != AW_OK)
        return;
    if (buf_append(&b, "\"", 1) != AW_OK)
        return;
    json_limits_default(&lim);
    arena_init(&a, 4096, 1 << 20);
    check(json_parse(b.data, b.end, &lim, &a, &v, &err) == AW_OK);
    check(v->type == JSON_STRING);
    arena_fini(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), out[16384];
    struct buf b = {out, 0, 0, sizeof(out)};
    const char *f[FIELDS];
    struct security_event e = {0};

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    split(text, size, f);
    e.action = f[0];
    e.reason = f[1];
    e.path = f[2];
    e.subject = f[3];
    e.object_id = f[4];
    e.method = f[5];
    e.client_ip = f[6];
    e.route = f[7];
    e.severity = size > 0 ? (int)data[0] - 100 : 0;
    if (cef_format(&b, &e) == AW_OK)
        check_cef(b.data, b.end);
    for (int i = 0; i < FIELDS; i++)
        if (f[i] != NULL)
            check_json(f[i]);
    free(text);
    return 0;
}
