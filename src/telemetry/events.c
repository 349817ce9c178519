/*
 * Security events: one JSON line per event, shaped after the Elastic
 * Common Schema (ECS 8), on a sink of their own.
 *
 * The line is built on the stack and copied into the worker's ring: an
 * event costs no allocation. Every string is cut to a fixed length and
 * JSON-escaped, since most of them (path, subject, object id) come from
 * the client.
 *
 * ECS keeps event.outcome to "success", "failure" and "unknown"; the
 * gateway's own outcome ("denied", "monitored") goes to apiward.outcome
 * and decides event.outcome and event.type: a denied request failed and
 * was denied, a monitored one (evaluated as a denial, not enforced)
 * succeeded and was allowed. Events that are not about a request (a
 * configuration reload, a key fetch) pass "success" or "failure"
 * themselves, with event.type "change" (a reload) or "info", and "error".
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "telemetry_int.h"

#define EVENTS_ECS_VERSION "8.11.0"
#define EVENTS_CUT_PATH 512
#define EVENTS_CUT_OBJECT 256
#define EVENTS_CUT 128
#define EVENTS_CUT_FINDINGS 2048

static struct sink events = SINK_INIT("security events");
static struct sink events_syslog = SINK_INIT("security events");

/* What every syslog message of this process shares. */
static struct {
    bool cef;
    unsigned facility;
    char host[256];          /* HOSTNAME: printable, no space, or "-" */
    char pid[16];            /* PROCID */
} sys;

/*
 * One lock per ring. A worker is its ring's only producer, except that
 * the main thread emits on ring 0 too; the lock keeps the two apart and
 * is otherwise uncontended. It is held for one memcpy of a line.
 */
static atomic_flag *events_locks;

/* One "key":"value" of an object; value NULL leaves it out. */
struct ev_field {
    const char *key;
    const char *value;
    size_t cut;
};

static void
ev_escaped(struct bld *o, const char *s, size_t cut)
{
    bld_json_string(o, (struct slice){s, strlen(s)}, cut);
}

/* "k":"v",... over the fields that are set, comma separated. */
static void
ev_members(struct bld *o, const struct ev_field *f, size_t n)
{
    bool first = true;

    for (size_t i = 0; i < n; i++) {
        if (f[i].value == NULL)
            continue;
        if (first)
            bld_lit(o, "\"");
        else
            bld_lit(o, ",\"");
        bld_str(o, f[i].key);
        bld_lit(o, "\":");
        ev_escaped(o, f[i].value, f[i].cut);
        first = false;
    }
}

static bool
ev_any(const struct ev_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (f[i].value != NULL)
            return true;
    return false;
}

/*
 * ,"name":{members} over the fields that are set; nothing at all when
 * none is, so that no empty object is written.
 */
static void
ev_object(struct bld *o, const char *name, const struct ev_field *f,
          size_t n)
{
    if (!ev_any(f, n))
        return;
    bld_lit(o, ",\"");
    bld_str(o, name);
    bld_lit(o, "\":{");
    ev_members(o, f, n);
    bld_lit(o, "}");
}

/* ISO 8601 UTC with milliseconds. */
static void
ev_timestamp(struct bld *o)
{
    char when[CLOCK_UTC_LEN + 1];

    clock_utc_text(when);
    bld_lit(o, "{\"@timestamp\":\"");
    bld_add(o, (struct slice){when, CLOCK_UTC_LEN});
    bld_lit(o, "\",\"ecs\":{\"version\":\"" EVENTS_ECS_VERSION "\"}");
}

/* event.*: what happened, how it ended, how bad it is. */
static void
ev_event(struct bld *o, const struct security_event *e)
{
    const char *outcome = "unknown", *type = "info";
    int severity = e->severity < 1 ? 1 : e->severity > 10 ? 10 : e->severity;

    if (e->outcome != NULL && strcmp(e->outcome, "success") == 0) {
        outcome = "success";
        type = e->category != NULL &&
               strcmp(e->category, "configuration") == 0 ? "change" : "info";
    } else if (e->outcome != NULL && strcmp(e->outcome, "failure") == 0) {
        outcome = "failure";
        type = "error";
    } else if (e->outcome != NULL && strcmp(e->outcome, "denied") == 0) {
        outcome = "failure";
        type = "denied";
    } else if (e->outcome != NULL && strcmp(e->outcome, "monitored") == 0) {
        outcome = "success";
        type = "allowed";
    } else if (e->outcome != NULL && strcmp(e->outcome, "masked") == 0) {
        outcome = "success";
        type = "change";
    }
    bld_lit(o, ",\"event\":{\"kind\":");
    ev_escaped(o, e->kind != NULL ? e->kind : "alert", EVENTS_CUT);
    bld_lit(o, ",\"category\":[");
    ev_escaped(o, e->category != NULL ? e->category : "intrusion_detection",
               EVENTS_CUT);
    bld_lit(o, "],\"type\":[\"");
    bld_str(o, type);
    bld_lit(o, "\"]");
    if (e->action != NULL) {
        bld_lit(o, ",\"action\":");
        ev_escaped(o, e->action, EVENTS_CUT);
    }
    if (e->reason != NULL) {
        bld_lit(o, ",\"reason\":");
        ev_escaped(o, e->reason, EVENTS_CUT);
    }
    bld_lit(o, ",\"outcome\":\"");
    bld_str(o, outcome);
    bld_lit(o, "\",\"severity\":");
    bld_u64(o, (uint64_t)severity);
    bld_lit(o, "}");
}

/* Everything after event.*, object by object. */
static void
ev_context(struct bld *o, const struct security_event *e)
{
    const struct ev_field rule[] = {{"id", e->rule_id, EVENTS_CUT}};
    const struct ev_field source[] = {{"ip", e->client_ip, EVENTS_CUT}};
    const struct ev_field user[] = {{"name", e->subject, EVENTS_CUT}};
    const struct ev_field req[] = {{"method", e->method, EVENTS_CUT},
                                   {"id", e->request_id, EVENTS_CUT}};
    const struct ev_field url[] = {{"path", e->path, EVENTS_CUT_PATH}};
    const struct ev_field aw[] = {
        {"route", e->route, EVENTS_CUT},
        {"outcome", e->outcome, EVENTS_CUT},
        {"issuer", e->issuer, EVENTS_CUT},
        {"auth_method", e->auth_method, EVENTS_CUT},
        {"credential_id", e->credential_id, EVENTS_CUT},
        {"object_id", e->object_id, EVENTS_CUT_OBJECT},
        {"detector", e->detector, EVENTS_CUT},
        {"location", e->location, EVENTS_CUT},
        {"excerpt", e->excerpt, EVENTS_CUT},
        {"findings", e->findings, EVENTS_CUT_FINDINGS},
    };
    ev_object(o, "rule", rule, ARRAY_LEN(rule));
    ev_object(o, "source", source, ARRAY_LEN(source));
    ev_object(o, "user", user, ARRAY_LEN(user));
    if (ev_any(req, ARRAY_LEN(req))) {
        bld_lit(o, ",\"http\":{\"request\":{");
        ev_members(o, req, ARRAY_LEN(req));
        bld_lit(o, "}}");
    }
    ev_object(o, "url", url, ARRAY_LEN(url));
    ev_object(o, "apiward", aw, ARRAY_LEN(aw));
    if (e->score > 0 && ev_any(aw, ARRAY_LEN(aw)) && !o->overflow) {
        /* Inside the apiward object, before its closing brace. */
        o->b.end--;
        bld_lit(o, ",\"score\":");
        bld_u64(o, e->score);
        bld_lit(o, "}");
    }
}

/* The whole line of e into o, ending in a newline. */
static void
ev_format(struct bld *o, const struct security_event *e)
{
    ev_timestamp(o);
    ev_event(o, e);
    ev_context(o, e);
    bld_lit(o, "}\n");
}

/* RFC 5424 severity of an event's 1..10 severity. */
static int
syslog_severity(int severity)
{
    return severity >= 9 ? 2 : severity >= 7 ? 3 : severity >= 5 ? 4
         : severity >= 3 ? 5 : 6;
}

/* MSGID: the action, printable ASCII without spaces, at most 32. */
static void
syslog_msgid(char *dst, const char *action)
{
    size_t n = 0;

    for (; action != NULL && action[n] != '\0' && n < 32; n++)
        dst[n] = action[n] > ' ' && action[n] < 0x7f ? action[n] : '_';
    if (n == 0)
        dst[n++] = '-';
    dst[n] = '\0';
}

/*
 * The syslog record of e: "LEN SP <PRI>1 TIMESTAMP HOSTNAME apiward
 * PROCID MSGID - MSG", MSG the JSON line json[0..json_len) without its
 * line end, or the CEF message. False when it does not fit.
 */
static bool
syslog_record(struct buf *rec, const struct security_event *e,
              const char *json, size_t json_len)
{
    char msg[EVENTS_LINE_MAX], head_mem[400], msgid[33];
    char when[CLOCK_UTC_LEN + 1], num[FMT_U64_MAX];
    struct buf m = {msg, 0, 0, sizeof(msg)};
    struct bld h = {{head_mem, 0, 0, sizeof(head_mem)}, false};

    if (sys.cef ? cef_format(&m, e) != AW_OK
                : buf_append(&m, json, json_len - 1) != AW_OK)
        return false;
    clock_utc_text(when);
    syslog_msgid(msgid, e->action);
    bld_lit(&h, "<");
    bld_u64(&h, sys.facility * 8 + (unsigned)syslog_severity(e->severity));
    bld_lit(&h, ">1 ");
    bld_add(&h, (struct slice){when, CLOCK_UTC_LEN});
    bld_lit(&h, " ");
    bld_str(&h, sys.host);
    bld_lit(&h, " apiward ");
    bld_str(&h, sys.pid);
    bld_lit(&h, " ");
    bld_str(&h, msgid);
    bld_lit(&h, " - ");
    if (h.overflow)
        return false;
    return buf_append(rec, num, fmt_u64(num, h.b.end + m.end)) == AW_OK &&
           buf_append(rec, " ", 1) == AW_OK &&
           buf_append(rec, head_mem, h.b.end) == AW_OK &&
           buf_append(rec, msg, m.end) == AW_OK;
}

void
events_emit(unsigned worker, const struct security_event *e)
{
    char line[EVENTS_LINE_MAX], rec_mem[EVENTS_LINE_MAX + 512];
    struct bld o = {{line, 0, 0, sizeof(line)}, false};
    struct buf rec = {rec_mem, 0, 0, sizeof(rec_mem)};
    bool to_file = sink_enabled(&events);
    bool to_syslog = sink_enabled(&events_syslog);
    unsigned r;

    if (!to_file && !to_syslog)
        return;
    ev_format(&o, e);
    if (o.overflow) {
        sink_drop(to_file ? &events : &events_syslog);
        return;
    }
    if (to_syslog && !syslog_record(&rec, e, line, o.b.end)) {
        sink_drop(&events_syslog);
        to_syslog = false;
    }
    r = worker < events.nrings || worker < events_syslog.nrings ? worker : 0;
    while (atomic_flag_test_and_set_explicit(&events_locks[r],
                                             memory_order_acquire))
        ;
    if (to_file)
        sink_write(&events, r, line, o.b.end);
    if (to_syslog)
        sink_write(&events_syslog, r, rec.data, rec.end);
    atomic_flag_clear_explicit(&events_locks[r], memory_order_release);
}

bool
events_enabled(void)
{
    return sink_enabled(&events) || sink_enabled(&events_syslog);
}

/* The ring locks, made by the first stream that starts. */
static int
events_locks_init(unsigned nworkers)
{
    if (events_locks != NULL)
        return AW_OK;
    events_locks = calloc(nworkers, sizeof(*events_locks));
    if (events_locks == NULL)
        return AW_NOMEM;
    for (unsigned i = 0; i < nworkers; i++)
        atomic_flag_clear(&events_locks[i]);
    return AW_OK;
}

/* Free the locks once neither stream is open. */
static void
events_locks_fini(void)
{
    if (sink_enabled(&events) || sink_enabled(&events_syslog))
        return;
    free(events_locks);
    events_locks = NULL;
}

int
events_start(const char *dest, size_t ring_bytes, unsigned nworkers)
{
    int rc;

    if (dest == NULL || strcmp(dest, "off") == 0)
        return AW_OK;
    if (nworkers == 0)
        nworkers = 1;
    rc = events_locks_init(nworkers);
    if (rc == AW_OK)
        rc = sink_open(&events, dest, ring_bytes, nworkers);
    if (rc != AW_OK)
        events_locks_fini();
    return rc;
}

/* HOSTNAME of RFC 5424: printable ASCII without spaces, or "-". */
static void
syslog_host(char *dst, size_t cap)
{
    if (gethostname(dst, cap - 1) != 0 || dst[0] == '\0') {
        snprintf(dst, cap, "-");
        return;
    }
    dst[cap - 1] = '\0';
    for (char *p = dst; *p != '\0'; p++)
        if (*p <= ' ' || *p >= 0x7f)
            *p = '_';
}

int
events_syslog_start(const struct events_syslog *o, size_t ring_bytes,
                    unsigned nworkers)
{
    int rc;

    if (nworkers == 0)
        nworkers = 1;
    sys.cef = o->cef;
    sys.facility = MIN(o->facility, 23u);
    syslog_host(sys.host, sizeof(sys.host));
    snprintf(sys.pid, sizeof(sys.pid), "%ld", (long)getpid());
    rc = events_locks_init(nworkers);
    if (rc == AW_OK && o->tcp && o->tls_ca != NULL)
        rc = syslog_tls_init(&events_syslog, o->tls_ca, o->tls_name);
    if (rc == AW_OK)
        rc = sink_open_syslog(&events_syslog,
                              !o->tcp ? SINK_SYSLOG_UDP
                              : o->tls_ca != NULL ? SINK_SYSLOG_TLS
                                                  : SINK_SYSLOG_TCP,
                              o->peer, (socklen_t)o->peer_len, o->peer_text,
                              ring_bytes, nworkers);
    if (rc != AW_OK) {
        syslog_tls_fini(&events_syslog);
        events_locks_fini();
    }
    return rc;
}

uint64_t
events_syslog_sent(void)
{
    return atomic_load(&events_syslog.sent);
}

void
events_reopen(void)
{
    sink_reopen(&events);
}

void
events_stop(void)
{
    sink_close(&events);
    sink_close(&events_syslog);
    events_locks_fini();
}

uint64_t
events_dropped(void)
{
    return atomic_load(&events.dropped) + atomic_load(&events_syslog.dropped);
}
