/*
 * Security events in ArcSight's Common Event Format (CEF 0), for SIEMs
 * that read it rather than JSON:
 *
 *   CEF:0|apiward|apiward|VERSION|action|reason|severity|key=value ...
 *
 * The fields are those of the ECS line, under CEF's standard keys where
 * one exists (src, request, requestMethod, suser, outcome, act, cat,
 * externalId, rt) and custom string fields cs1..cs5 with their labels
 * otherwise. Header fields escape "\" and "|", extension values "\",
 * "=" and line ends; bytes outside printable ASCII become "?", since
 * most values come from the client and CEF has no escape for them.
 * Values are cut at the same lengths as in the JSON line.
 */
#include <string.h>
#include <time.h>

#include "telemetry_int.h"

#define CEF_CUT_PATH 512
#define CEF_CUT_OBJECT 256
#define CEF_CUT 128

/*
 * Bytes written as they are, 1 in a header and 2 in a value: printable
 * ASCII but the backslash, "|" in a header and "=" in a value.
 */
static const unsigned char cef_plain_byte[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x20 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 1, 3, 3, /* 0x30: '=' */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x40 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 3, 3, 3, /* 0x50: '\\' */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, /* 0x60 */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 3, 3, 0, /* 0x70: '|', DEL */
    /* 0x80-0xff: 0 */
};

static inline bool
cef_plain(unsigned char c, bool header)
{
    return (cef_plain_byte[c] & (header ? 1 : 2)) != 0;
}

/* s cut at max bytes, escaped for a header (header) or a value. Runs of
 * plain bytes are copied whole. */
static void
cef_escaped(struct bld *o, const char *s, size_t max, bool header)
{
    size_t i = 0;

    while (i < max && s[i] != '\0') {
        size_t run = i;
        unsigned char c;

        while (run < max && s[run] != '\0' &&
               cef_plain((unsigned char)s[run], header))
            run++;
        if (run > i) {
            bld_add(o, (struct slice){s + i, run - i});
            i = run;
            continue;
        }
        c = (unsigned char)s[i++];
        if (c == '\\' || c == '|' || c == '=') {
            char esc[2] = {'\\', (char)c};

            bld_add(o, (struct slice){esc, 2});
        } else if (c == '\n' || c == '\r') {
            bld_add(o, c == '\n' ? SLICE_LIT("\\n") : SLICE_LIT("\\r"));
        } else {
            bld_lit(o, "?");
        }
    }
}

/* " key=value" when value is set. */
static void
cef_ext(struct bld *o, const char *key, const char *value, size_t max)
{
    if (value == NULL)
        return;
    bld_lit(o, " ");
    bld_str(o, key);
    bld_lit(o, "=");
    cef_escaped(o, value, max, false);
}

/* A custom string field csN (1 to 6) with its label. */
static void
cef_custom(struct bld *o, int n, const char *label, const char *value,
           size_t max)
{
    static const char *const keys[][2] = {
        {"cs1Label", "cs1"}, {"cs2Label", "cs2"}, {"cs3Label", "cs3"},
        {"cs4Label", "cs4"}, {"cs5Label", "cs5"}, {"cs6Label", "cs6"},
    };

    if (value == NULL || n < 1 || n > (int)ARRAY_LEN(keys))
        return;
    cef_ext(o, keys[n - 1][0], label, CEF_CUT);
    cef_ext(o, keys[n - 1][1], value, max);
}

static void
cef_header(struct bld *o, const struct security_event *e, int severity)
{
    const char *action = e->action != NULL ? e->action : "event";

    bld_lit(o, "CEF:0|apiward|apiward|" APIWARD_VERSION "|");
    cef_escaped(o, action, CEF_CUT, true);
    bld_lit(o, "|");
    cef_escaped(o, e->reason != NULL ? e->reason : action, CEF_CUT, true);
    bld_lit(o, "|");
    bld_u64(o, (uint64_t)severity);
    bld_lit(o, "|");
}

int
cef_format(struct buf *out, const struct security_event *e)
{
    struct bld o = {*out, false};
    int severity = e->severity < 1 ? 1 : e->severity > 10 ? 10 : e->severity;

    cef_header(&o, e, severity);
    bld_lit(&o, "rt=");
    bld_u64(&o, clock_wall_ms());
    cef_ext(&o, "cat", e->category != NULL ? e->category
                                           : "intrusion_detection", CEF_CUT);
    cef_ext(&o, "act", e->outcome, CEF_CUT);
    cef_ext(&o, "src", e->client_ip, CEF_CUT);
    cef_ext(&o, "requestMethod", e->method, CEF_CUT);
    cef_ext(&o, "request", e->path, CEF_CUT_PATH);
    cef_ext(&o, "suser", e->subject, CEF_CUT);
    cef_ext(&o, "externalId", e->request_id, CEF_CUT);
    cef_custom(&o, 1, "route", e->route, CEF_CUT);
    cef_custom(&o, 2, "credentialId", e->credential_id, CEF_CUT);
    cef_custom(&o, 3, "issuer", e->issuer, CEF_CUT);
    cef_custom(&o, 4, "ruleId", e->rule_id, CEF_CUT);
    cef_custom(&o, 5, "objectId", e->object_id, CEF_CUT_OBJECT);
    cef_custom(&o, 6, "location", e->location, CEF_CUT);
    *out = o.b;
    return o.overflow ? AW_TOOBIG : AW_OK;
}
