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
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "telemetry_int.h"

#define CEF_CUT_PATH 512
#define CEF_CUT_OBJECT 256
#define CEF_CUT 128

/* A message being built; the first overflow is sticky. */
struct cef {
    struct buf *b;
    bool overflow;
};

static void
cef_raw(struct cef *o, const char *s, size_t n)
{
    if (!o->overflow && buf_append(o->b, s, n) != AW_OK)
        o->overflow = true;
}

/* s cut at max bytes, escaped for a header (header) or a value. */
static void
cef_escaped(struct cef *o, const char *s, size_t max, bool header)
{
    for (size_t i = 0; s[i] != '\0' && i < max; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\\' || (header && c == '|') || (!header && c == '=')) {
            char esc[2] = {'\\', (char)c};

            cef_raw(o, esc, 2);
        } else if (c == '\n' || c == '\r') {
            cef_raw(o, c == '\n' ? "\\n" : "\\r", 2);
        } else if (c < 0x20 || c >= 0x7f) {
            cef_raw(o, "?", 1);
        } else {
            cef_raw(o, (const char *)&s[i], 1);
        }
    }
}

/* " key=value" when value is set. */
static void
cef_ext(struct cef *o, const char *key, const char *value, size_t max)
{
    if (value == NULL)
        return;
    cef_raw(o, " ", 1);
    cef_raw(o, key, strlen(key));
    cef_raw(o, "=", 1);
    cef_escaped(o, value, max, false);
}

/* A custom string field csN with its label. */
static void
cef_custom(struct cef *o, int n, const char *label, const char *value,
           size_t max)
{
    char key[16];

    if (value == NULL)
        return;
    snprintf(key, sizeof(key), "cs%dLabel", n);
    cef_ext(o, key, label, CEF_CUT);
    snprintf(key, sizeof(key), "cs%d", n);
    cef_ext(o, key, value, max);
}

static void
cef_header(struct cef *o, const struct security_event *e, int severity)
{
    const char *action = e->action != NULL ? e->action : "event";
    char sev[16];

    cef_raw(o, "CEF:0|apiward|apiward|" APIWARD_VERSION "|",
            sizeof("CEF:0|apiward|apiward|" APIWARD_VERSION "|") - 1);
    cef_escaped(o, action, CEF_CUT, true);
    cef_raw(o, "|", 1);
    cef_escaped(o, e->reason != NULL ? e->reason : action, CEF_CUT, true);
    snprintf(sev, sizeof(sev), "|%d|", severity);
    cef_raw(o, sev, strlen(sev));
}

int
cef_format(struct buf *out, const struct security_event *e)
{
    struct cef o = {out, false};
    int severity = e->severity < 1 ? 1 : e->severity > 10 ? 10 : e->severity;
    char rt[24];

    snprintf(rt, sizeof(rt), "%llu", (unsigned long long)clock_wall_ms());
    cef_header(&o, e, severity);
    cef_raw(&o, "rt=", 3);
    cef_raw(&o, rt, strlen(rt));
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
    return o.overflow ? AW_TOOBIG : AW_OK;
}
