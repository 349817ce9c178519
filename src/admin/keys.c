/*
 * What the admin module reports about the rest of the process: the
 * key-set and configuration gauges of /metrics, and the security events
 * of reloads and failed key fetches.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "admin_int.h"
#include "identity/identity.h"
#include "telemetry/telemetry.h"
#include "tls/tls.h"

/* Key sources whose failure count is remembered between fetches. */
#define KEYS_TRACKED 128

/* One gauge or counter line per issuer with a key source. */
static int
issuer_series(struct buf *out, const struct config *c, const char *name,
              int which)
{
    int rc = AW_OK;

    for (size_t i = 0; rc == AW_OK && i < c->nissuers; i++) {
        struct keysource_stats st;
        long long v;

        if (c->issuers[i].keys == NULL)
            continue;
        keysource_stats(c->issuers[i].keys, &st);
        v = which == 0 ? (long long)st.age_s
          : which == 1 ? (long long)st.nkeys
          : which == 2 ? (long long)st.fetches
          : which == 3 ? (long long)st.failures : (long long)st.failing;
        rc = buf_printf(out, "%s{issuer=\"", name);
        if (rc == AW_OK)
            rc = metrics_label_append(out, c->issuers[i].name);
        if (rc == AW_OK)
            rc = buf_printf(out, "\"} %lld\n", v);
    }
    return rc;
}

static int
key_metrics(struct buf *out, const struct config *c)
{
    static const char *const fam[][3] = {
        {"apiward_keyset_age_seconds", "gauge",
         "Seconds since the issuer's key set was last loaded (-1: never)"},
        {"apiward_keyset_keys", "gauge", "Keys in the issuer's key set"},
        {"apiward_keyset_fetches_total", "counter",
         "Fetches or reads of the issuer's key set"},
        {"apiward_keyset_fetch_failures_total", "counter",
         "Failed fetches or reads of the issuer's key set"},
        {"apiward_keyset_failing", "gauge",
         "1 while the last fetch of the issuer's key set failed"},
    };
    int rc = AW_OK;

    for (int i = 0; rc == AW_OK && i < (int)ARRAY_LEN(fam); i++) {
        rc = metrics_family(out, fam[i][0], fam[i][1], fam[i][2]);
        if (rc == AW_OK)
            rc = issuer_series(out, c, fam[i][0], i);
    }
    return rc;
}

/* Seconds until each certificate of each TLS listener expires. */
static int
cert_metrics(struct buf *out, const struct config *c)
{
    int64_t now = (int64_t)(clock_wall_ms() / 1000);
    int rc = metrics_family(out, "apiward_tls_certificate_expiry_seconds",
                            "gauge", "Seconds until a listener's "
                            "certificate expires (negative: expired)");

    for (size_t l = 0; rc == AW_OK && c->listener_tls != NULL &&
                       l < c->nlisteners; l++) {
        const struct config_tls *t = c->listener_tls[l];
        const char *path;
        int64_t secs;

        for (size_t i = 0; rc == AW_OK && t != NULL &&
                           tls_server_expiry(t->server, i, now, &path,
                                             &secs) == AW_OK; i++) {
            rc = buf_printf(out, "apiward_tls_certificate_expiry_seconds"
                                 "{listener=\"");
            if (rc == AW_OK)
                rc = metrics_label_append(out, c->listeners[l].text);
            if (rc == AW_OK)
                rc = buf_printf(out, "\",certificate=\"");
            if (rc == AW_OK)
                rc = metrics_label_append(out, path);
            if (rc == AW_OK)
                rc = buf_printf(out, "\"} %lld\n", (long long)secs);
        }
    }
    return rc;
}

int
admin_metrics_extra(struct buf *out)
{
    struct config *c = config_current();
    int rc;

    if (c == NULL)
        return AW_OK;
    rc = key_metrics(out, c);
    if (rc == AW_OK)
        rc = cert_metrics(out, c);
    if (rc == AW_OK)
        rc = admin_bans_metrics(out);

    if (rc == AW_OK)
        rc = metrics_family(out, "apiward_ready", "gauge",
                            "1 when every remote key set is loaded");
    if (rc == AW_OK)
        rc = buf_printf(out, "apiward_ready %d\n", keystore_ready() ? 1 : 0);
    if (rc == AW_OK)
        rc = metrics_family(out, "apiward_config_generation", "gauge",
                            "Generation of the configuration serving");
    if (rc == AW_OK)
        rc = buf_printf(out, "apiward_config_generation %llu\n",
                        (unsigned long long)c->generation);
    if (rc == AW_OK)
        rc = metrics_family(out, "apiward_build_info", "gauge",
                            "The running version");
    if (rc == AW_OK)
        rc = buf_printf(out, "apiward_build_info{version=\"%s\"} 1\n",
                        APIWARD_VERSION);
    config_unref(c);
    return rc;
}

void
admin_reload_event(bool ok)
{
    struct security_event e = {0};

    e.action = "config.reload";
    e.category = "configuration";
    e.kind = "event";
    e.outcome = ok ? "success" : "failure";
    e.reason = ok ? "config.reloaded" : "config.reload_failed";
    e.severity = ok ? 2 : 5;
    events_emit(0, &e);
}

/* Failure counts seen at the last call, by source. */
static struct {
    pthread_mutex_t lock;
    const struct keysource *src[KEYS_TRACKED];
    uint64_t failures[KEYS_TRACKED];
    unsigned n;
} seen = {.lock = PTHREAD_MUTEX_INITIALIZER};

/*
 * The remembered failure count of s, entering it with its count now
 * when it is new (a failure before the first look is not reported
 * twice: keystore_start's own failures are logged at start). NULL when
 * the table is full: such a source is not reported.
 */
static uint64_t *
seen_slot(const struct keysource *s, uint64_t now)
{
    for (unsigned i = 0; i < seen.n; i++)
        if (seen.src[i] == s)
            return &seen.failures[i];
    if (seen.n == KEYS_TRACKED)
        return NULL;
    seen.src[seen.n] = s;
    seen.failures[seen.n] = now;
    return &seen.failures[seen.n++];
}

static void
key_event(const struct config_issuer *is, const struct keysource_stats *st)
{
    struct security_event e = {0};

    e.action = "keys.fetch_failed";
    e.category = "configuration";
    e.kind = "event";
    e.outcome = "failure";
    e.reason = st->last_reason != NULL ? st->last_reason : "jwks.fetch_failed";
    e.severity = 5;
    e.issuer = is->name;
    events_emit(0, &e);
}

void
admin_keys_changed(void)
{
    struct config *c;

    if (!events_enabled())
        return;
    c = config_current();
    pthread_mutex_lock(&seen.lock);
    for (size_t i = 0; c != NULL && i < c->nissuers; i++) {
        struct keysource_stats st;
        uint64_t *last;

        if (c->issuers[i].keys == NULL)
            continue;
        keysource_stats(c->issuers[i].keys, &st);
        last = seen_slot(c->issuers[i].keys, st.failures);
        if (last != NULL && st.failures > *last)
            key_event(&c->issuers[i], &st);
        if (last != NULL)
            *last = st.failures;
    }
    pthread_mutex_unlock(&seen.lock);
    config_unref(c);
}
