"""Rate limits, quotas, bans and in-flight bounds on one gateway.

Each test drives a real gateway process in front of a real upstream and
checks what the client sees (status, reason, Retry-After and the IETF
RateLimit fields), what the upstream received (refused requests never
reach it) and, for bans, the security event. Limits are slow (per
minute, per day) so that the exact admission counts do not depend on
how fast the test sends.
"""
import calendar
import json
import re
import threading
import subprocess
import time

import pytest

from harness import RawClient, assert_problem, build_request, wait_for
from idp import SigningKey, claims, jwks

ISS = "https://idp.test/"
AUD = "api"

POLICY_RE = re.compile(r'^"([A-Za-z0-9_.-]+)";q=(\d+);w=(\d+)$')
STATE_RE = re.compile(r'^"([A-Za-z0-9_.-]+)";r=(\d+);t=(\d+)$')


def routes(**extra):
    base = [
        {"name": "burst", "path": "/burst", "upstream": "demo",
         "limits": ["five_a_minute"]},
        {"name": "daily", "path": "/daily", "upstream": "demo",
         "limits": ["three_a_day"]},
        {"name": "tenant", "path": "/tenant", "upstream": "demo",
         "limits": ["per_tenant"]},
        {"name": "both", "path": "/both", "upstream": "demo",
         "limits": ["five_a_minute", "three_a_day"]},
        {"name": "users", "path": "/users/{id}", "upstream": "demo"},
        {"name": "open", "path": "/open", "upstream": "demo"},
    ]
    return base + extra.get("more", [])


RATE_LIMITS = {
    "five_a_minute": {"key": ["ip"], "rate": "1/m", "burst": 5},
    "three_a_day": {"key": ["ip", "route"], "quota": "3/day"},
    "per_tenant": {"key": ["header:X-Tenant"], "rate": "2/h"},
}


def problem(resp):
    return json.loads(resp.body)


@pytest.fixture
def limited(gateways, upstream):
    gw = gateways([upstream.addr], routes=routes(), rate_limits=RATE_LIMITS)
    return gw, upstream


def test_burst_admits_exactly_the_burst(limited):
    gw, up = limited
    got = [gw.get("/burst").status for _ in range(8)]
    assert got == [200] * 5 + [429] * 3
    assert up.count() == 5
    r = gw.get("/burst")
    assert_problem(r, 429, "ratelimit.exceeded")
    retry = int(r.header("Retry-After"))
    # One request comes back every 60 s.
    assert 1 <= retry <= 60
    m = POLICY_RE.match(r.header("RateLimit-Policy"))
    assert m and m.group(1) == "five_a_minute"
    assert int(m.group(2)) == 5 and int(m.group(3)) == 300
    s = STATE_RE.match(r.header("RateLimit"))
    assert s and s.group(1) == "five_a_minute"
    assert int(s.group(2)) == 0 and int(s.group(3)) == retry
    entry = [e for e in gw.wait_access_entries(9)
             if e.get("status") == 429][-1]
    assert entry["reason"] == "ratelimit.exceeded"
    assert entry["stage"] == "guard"


def test_limits_are_per_route_and_per_key(limited):
    gw, up = limited
    for _ in range(5):
        assert gw.get("/burst").status == 200
    assert gw.get("/burst").status == 429
    # Another route has its own limits.
    assert gw.get("/open").status == 200
    # A header key: each tenant has its own two; an absent header is one
    # more shared caller, not a way around the limit.
    for tenant in ("a", "b", None):
        hdrs = [("X-Tenant", tenant)] if tenant else []
        got = [gw.get("/tenant", hdrs).status for _ in range(3)]
        assert got == [200, 200, 429], tenant


def test_daily_quota(limited):
    gw, up = limited
    got = [gw.get("/daily").status for _ in range(4)]
    assert got == [200, 200, 200, 429]
    r = gw.get("/daily")
    assert_problem(r, 429, "ratelimit.quota_exhausted")
    now = time.time()
    midnight = calendar.timegm(time.gmtime(now)[:3] + (0, 0, 0)) + 86400
    assert abs(int(r.header("Retry-After")) - (midnight - now)) <= 5
    m = POLICY_RE.match(r.header("RateLimit-Policy"))
    assert m.groups() == ("three_a_day", "3", "86400")


def test_several_limits_refuse_without_counting(limited):
    gw, up = limited
    # The day's quota of /both is 3: the fourth is refused by it, and the
    # refusals do not use up the per-minute burst they share with /burst.
    got = [gw.get("/both").status for _ in range(6)]
    assert got == [200, 200, 200, 429, 429, 429]
    assert gw.get("/both").header("RateLimit-Policy").startswith(
        '"three_a_day"')
    got = [gw.get("/burst").status for _ in range(3)]
    assert got == [200, 200, 429]


def test_bad_limit_config_is_refused(gateways, upstream):
    bad = dict(RATE_LIMITS, broken={"key": ["ip", "cookie"], "rate": "5"})
    gw = gateways([upstream.addr], routes=routes(), rate_limits=bad,
                  start=False)
    proc = subprocess.run([gw.binary, "check", "-c", gw.config_path],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "rate_limits.broken" in text
    assert "header:NAME" in text
    assert "10/s" in text


# --- bans --------------------------------------------------------------

@pytest.fixture(scope="module")
def signer():
    return SigningKey("ES256", "rl-1")


def abuse_gateway(gateways, upstream, tmp_path, signer, **abuse):
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks(signer)))
    events = tmp_path / "events.log"
    extra = [{"name": "login", "path": "/login", "upstream": "demo",
              "auth": {"methods": ["jwt"]},
              "authz": {"authenticated": True}},
             {"name": "items", "path": "/items/{id}", "upstream": "demo",
              "auth": {"methods": ["jwt"]},
              "authz": {"authenticated": True}}]
    ban = {"duration": "30s", "max": "5m", "factor": 2, "memory": "1h"}
    gw = gateways([upstream.addr], routes=routes(more=extra),
                  rate_limits=RATE_LIMITS,
                  identity={"issuers": {"idp": {
                      "issuer": ISS, "audiences": [AUD],
                      "keys": {"file": str(keys)}}}},
                  abuse=dict(abuse, ban=ban),
                  events={"file": str(events)})
    gw.events_path = str(events)
    return gw


def read_events(gw, action, timeout=3):
    def read():
        try:
            with open(gw.events_path) as f:
                lines = [json.loads(x) for x in f if x.strip()]
        except OSError:
            return []
        return [e for e in lines if action in json.dumps(e)]
    return wait_for(read, timeout, what="event %s" % action)


def test_credential_stuffing_bans_the_address(gateways, upstream, tmp_path,
                                              signer):
    gw = abuse_gateway(gateways, upstream, tmp_path, signer,
                       auth_failures={"threshold": 5, "window": "1m"})
    good = signer.token(claims(ISS, AUD, sub="alice"))
    assert gw.get("/login", [("Authorization",
                              "Bearer " + good)]).status == 200
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    got = [gw.get("/login", [("Authorization", "Bearer " + forged)]).status
           for _ in range(6)]
    assert got == [401] * 6
    # The sixth failure crossed the threshold: the address is banned from
    # every route, even with a good token, for the first ban's 30 s.
    r = gw.get("/login", [("Authorization", "Bearer " + good)])
    assert_problem(r, 429, "abuse.banned")
    assert 25 <= int(r.header("Retry-After")) <= 30
    assert_problem(gw.get("/open"), 429, "abuse.banned")
    ev = read_events(gw, "abuse.ban_address")[-1]
    text = json.dumps(ev)
    assert "abuse.auth_failures" in text and "127.0.0.1" in text
    assert forged not in text and good not in text
    assert "banned" in gw.stderr()


def test_4xx_burst_bans_the_address(gateways, upstream, tmp_path, signer):
    gw = abuse_gateway(gateways, upstream, tmp_path, signer,
                       client_errors={"threshold": 10, "window": "1m"})
    got = [gw.get("/nothing/here/%d" % i).status for i in range(11)]
    assert got == [404] * 11
    assert_problem(gw.get("/open"), 429, "abuse.banned")
    ev = read_events(gw, "abuse.client_errors")
    assert ev


def test_enumeration_bans_the_caller(gateways, upstream, tmp_path, signer):
    gw = abuse_gateway(gateways, upstream, tmp_path, signer,
                       enumeration={"threshold": 5, "window": "1m"})
    # The same object many times is no enumeration.
    for _ in range(20):
        assert gw.get("/users/1").status == 200
    # 1 to 5 are five distinct ids; 6 is the sixth and crosses: it is
    # still answered, and the ban starts with the next request.
    got = [gw.get("/users/%d" % i).status for i in range(2, 7)]
    assert got == [200] * 5
    r = gw.get("/users/1")
    assert_problem(r, 429, "abuse.banned")
    ev = read_events(gw, "abuse.enumeration")[-1]
    assert "users" in json.dumps(ev)


def test_principal_ban_follows_the_token(gateways, upstream, tmp_path,
                                         signer):
    gw = abuse_gateway(gateways, upstream, tmp_path, signer,
                       enumeration={"threshold": 3, "window": "1m"})
    tok = signer.token(claims(ISS, AUD, sub="walker"))
    hdr = [("Authorization", "Bearer " + tok)]
    for i in range(0, 4):
        assert gw.get("/items/%d" % i, hdr).status == 200
    assert_problem(gw.get("/items/9", hdr), 429, "abuse.banned")
    # The address itself is not banned: anonymous requests go on.
    assert gw.get("/open").status == 200
    ev = read_events(gw, "abuse.ban_principal")[-1]
    assert "walker" in json.dumps(ev)


# --- in flight ---------------------------------------------------------

def slow(req, ctx):
    ctx.sleep(1.0)
    ctx.send(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")


def test_concurrency_bound(gateways, upstreams):
    up = upstreams(slow, name="slow")
    gw = gateways([up.addr], routes=[
        {"name": "one", "path": "/one", "upstream": "demo",
         "max_in_flight": 1},
        {"name": "other", "path": "/other", "upstream": "demo"}])
    results = []
    t = threading.Thread(target=lambda: results.append(gw.get("/one")))
    t.start()
    wait_for(lambda: up.count() == 1, 3, what="first request upstream")
    r = gw.get("/one")
    assert_problem(r, 503, "ratelimit.concurrency")
    assert r.header("Retry-After") == "1"
    t.join()
    assert results[0].status == 200
    assert gw.get("/one").status == 200
    # A client that goes away mid-request gives its place back.
    c = RawClient(gw.port)
    c.send(build_request("GET", "/one"))
    wait_for(lambda: up.count() == 3, 3, what="abandoned request upstream")
    c.close()
    wait_for(lambda: gw.get("/one", timeout=5).status == 200, 5,
             what="place given back")


def test_upstream_concurrency_bound(gateways, upstreams):
    up = upstreams(slow, name="slow")
    gw = gateways([up.addr], upstream={"max_in_flight": 1}, routes=[
        {"name": "a", "path": "/a", "upstream": "demo"},
        {"name": "b", "path": "/b", "upstream": "demo"}])
    t = threading.Thread(target=lambda: gw.get("/a"))
    t.start()
    wait_for(lambda: up.count() == 1, 3, what="first request upstream")
    assert_problem(gw.get("/b"), 503, "ratelimit.concurrency")
    t.join()
    assert gw.get("/b").status == 200
