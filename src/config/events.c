/*
 * The events section: where security events go and how much a worker
 * may queue before events are dropped (and counted). A ring holds at
 * least two of the longest lines (EVENTS_LINE_MAX). events.syslog sends
 * them to a syslog receiver as well, over UDP or TCP, as JSON or CEF.
 * The token_* and expired_replays keys tune the detectors of
 * suspicious token use.
 */
#include <stddef.h>
#include <string.h>

#include "config/internal.h"
#include "telemetry/telemetry.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)

/* events.syslog.address: "host:port", an IP literal. */
static int
syslog_address(struct config_loader *ld, const struct config_node *v,
               void *dst, const struct config_field *f, const char *where)
{
    (void)dst;
    (void)f;
    return config_parse_ip_port(ld, v, ld->c->events_syslog, where);
}

/* events.syslog.transport: udp, tcp or tls (TCP inside TLS). */
static int
syslog_transport(struct config_loader *ld, const struct config_node *v,
                 void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"udp", "tcp", "tls"};
    int i;
    int rc = config_parse_choice(ld, v, 8, names, ARRAY_LEN(names), where,
                                 &i);

    (void)dst;
    (void)f;
    if (rc == AW_OK) {
        ld->c->events_syslog_tcp = i >= 1;
        ld->c->events_syslog_tls = i == 2;
    }
    return rc;
}

/* events.syslog.format: json or cef. */
static int
syslog_format(struct config_loader *ld, const struct config_node *v,
              void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {"json", "cef"};
    int i;
    int rc = config_parse_choice(ld, v, 8, names, ARRAY_LEN(names), where,
                                 &i);

    (void)dst;
    (void)f;
    if (rc == AW_OK)
        ld->c->events_syslog_cef = i == 1;
    return rc;
}

/* events.syslog.facility: a name of RFC 5424's table. */
static int
syslog_facility(struct config_loader *ld, const struct config_node *v,
                void *dst, const struct config_field *f, const char *where)
{
    static const char *const names[] = {
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
        "uucp", "cron", "authpriv", "ftp", "ntp", "audit", "alert", "clock",
        "local0", "local1", "local2", "local3", "local4", "local5",
        "local6", "local7",
    };
    int i;
    int rc = config_parse_choice(ld, v, 16, names, ARRAY_LEN(names), where,
                                 &i);

    (void)dst;
    (void)f;
    if (rc == AW_OK)
        ld->c->events_syslog_facility = (unsigned)i;
    return rc;
}

/* events.syslog.server_name: a DNS name or an IP address. */
static int
syslog_server_name(struct config_loader *ld, const struct config_node *v,
                   void *dst, const struct config_field *f,
                   const char *where)
{
    (void)dst;
    (void)f;
    return config_store_string(ld, v, 253, NULL, where,
                               &ld->c->events_syslog_name);
}

static const struct config_field syslog_fields[] = {
    {.key = "address", .parse = syslog_address, .required = true},
    {.key = "transport", .parse = syslog_transport},
    {.key = "format", .parse = syslog_format},
    {.key = "facility", .parse = syslog_facility},
    {.key = "ca", .parse = config_parse_path,
     .offset = offsetof(struct config, events_syslog_ca),
     .size = sizeof(((struct config *)0)->events_syslog_ca)},
    {.key = "server_name", .parse = syslog_server_name},
    {.key = NULL},
};

static int
parse_syslog(struct config_loader *ld, const struct config_node *v,
             void *dst, const struct config_field *f, const char *where)
{
    struct config *c = ld->c;

    (void)dst;
    (void)f;
    int rc;

    c->events_syslog = config_alloc(ld, sizeof(*c->events_syslog));
    if (c->events_syslog == NULL)
        return AW_NOMEM;
    rc = config_walk_map(ld, v, syslog_fields, c, where);
    if (rc == AW_OK && c->events_syslog_tls && c->events_syslog_ca == NULL) {
        config_error(ld, v, "%s: transport tls needs ca, the CA "
                     "certificates that vouch for the receiver", where);
        rc = AW_INVALID;
    }
    return rc;
}

const struct config_field config_events_fields[] = {
    {.key = "file", .parse = config_parse_log_dest,
     .offset = offsetof(struct config, events_file),
     .size = sizeof(((struct config *)0)->events_file)},
    {.key = "buffer", .parse = config_parse_size,
     .offset = offsetof(struct config, events_buffer),
     .size = sizeof(((struct config *)0)->events_buffer), .min = 32 * KIB,
     .max = 64 * MIB},
    {.key = "syslog", .parse = parse_syslog},
    {.key = "token_addresses", .parse = config_parse_uint,
     .offset = offsetof(struct config, detect_addresses),
     .size = sizeof(((struct config *)0)->detect_addresses), .min = 0,
     .max = DETECT_MAX_ADDRESSES},
    {.key = "expired_replays", .parse = config_parse_uint,
     .offset = offsetof(struct config, detect_expired),
     .size = sizeof(((struct config *)0)->detect_expired), .min = 0,
     .max = 1000000},
    {.key = "token_window", .parse = config_parse_duration,
     .offset = offsetof(struct config, detect_window_ms),
     .size = sizeof(((struct config *)0)->detect_window_ms), .min = 1000,
     .max = 24 * 3600 * 1000},
    {.key = "token_entries", .parse = config_parse_uint,
     .offset = offsetof(struct config, detect_entries),
     .size = sizeof(((struct config *)0)->detect_entries), .min = 1024,
     .max = 1 << 24},
    {.key = NULL},
};
