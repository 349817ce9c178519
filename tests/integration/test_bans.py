"""Bans listed and lifted through the admin API, end to end.

A real gateway with its abuse detectors and admin listener on loopback
bans this test's client for real (4xx bursts, enumeration with a PyJWT
token); the test lists the ban, lifts it and checks that the client
passes again, that the lift is a security event and a metric, and that
bad requests to the endpoints change nothing. The fleet case, with a
real redis-server and two gateways, is in test_ratelimit_fleet.py.
"""
import json
import re

import pytest

from harness import assert_problem, free_port, wait_for
from idp import SigningKey, claims, jwks
from test_admin import ADMIN_TOKEN, Env, port_open, write_token

ISS = "https://idp.test/"
AUD = "api"
ID_RE = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture(scope="module")
def signer():
    return SigningKey("ES256", "bans-1")


def ban_env(gateways, upstream, tmp_path, signer, **abuse):
    """A gateway whose detectors ban quickly, with its admin listener."""
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks(signer)))
    token_file = tmp_path / "admin.token"
    write_token(str(token_file))
    events = tmp_path / "events.log"
    admin_port = free_port()
    routes = [
        {"name": "open", "path": "/open", "upstream": "demo"},
        {"name": "users", "path": "/users/{id}", "upstream": "demo"},
        {"name": "items", "path": "/items/{id}", "upstream": "demo",
         "auth": {"methods": ["jwt"]}, "authz": {"authenticated": True}},
    ]
    gw = gateways([upstream.addr], routes=routes,
                  identity={"issuers": {"idp": {
                      "issuer": ISS, "audiences": [AUD],
                      "keys": {"file": str(keys)}}}},
                  abuse=dict(abuse, ban={"duration": "30s", "max": "5m",
                                         "factor": 2, "memory": "1h"}),
                  events={"file": str(events)},
                  admin={"listen": "127.0.0.1:%d" % admin_port,
                         "token_file": str(token_file), "timeout": "2s"})
    wait_for(lambda: port_open(admin_port), 5, what="the admin listener")
    return Env(gw, upstream, admin_port, str(events))


def bans(env, query=""):
    status, _, body = env.admin("GET", "/bans" + query)
    assert status == 200, body
    return json.loads(body)


def problem_type(body):
    return json.loads(body)["type"]


def metric(env, name):
    for line in env.metrics().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError("no %s in the metrics" % name)


def ban_address(env):
    """Six 404s in a row: the client errors detector bans 127.0.0.1."""
    got = [env.gw.get("/nothing/%d" % i).status for i in range(6)]
    assert got == [404] * 6
    assert_problem(env.gw.get("/open"), 429, "abuse.banned")


def test_list_and_lift_an_address_ban(gateways, upstream, tmp_path, signer):
    env = ban_env(gateways, upstream, tmp_path, signer,
                  client_errors={"threshold": 5, "window": "1m"})
    assert bans(env) == {"bans": [], "total": 0, "truncated": False}
    ban_address(env)

    listed = bans(env)
    assert listed["total"] == 1 and not listed["truncated"]
    (b,) = listed["bans"]
    assert b["subject"] == "ip:127.0.0.1"
    assert b["reason"] == "abuse.client_errors"
    assert b["level"] == 0 and b["source"] == "gateway"
    assert b["shared"] is False
    assert 0 < b["seconds_left"] <= 30
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", b["expires"])
    assert ID_RE.match(b["id"])
    assert "fleet" not in listed

    status, _, body = env.admin("DELETE", "/bans/" + b["id"])
    assert status == 200, body
    answer = json.loads(body)
    assert answer == {"lifted": True, "id": b["id"],
                      "subject": "ip:127.0.0.1", "gateway": 1,
                      "fleet": None}
    # The client passes again at once, and the list is empty.
    assert env.gw.get("/open").status == 200
    assert bans(env)["bans"] == []

    ev = env.wait_events(lambda e: e["event"].get("action") ==
                         "abuse.ban_lifted", "the lift's event")[-1]
    assert ev["event"]["outcome"] == "success"
    assert ev["source"]["ip"] == "127.0.0.1"
    assert "ip:127.0.0.1" in json.dumps(ev)
    assert ADMIN_TOKEN not in json.dumps(env.events())
    assert metric(env, "apiward_bans_lifted_total") == 1
    assert metric(env, "apiward_bans_total") == 1

    # Gone: a second lift is a 404 and counts nothing.
    status, fields, body = env.admin("DELETE", "/bans/" + b["id"])
    assert status == 404
    assert fields["content-type"] == "application/problem+json"
    assert problem_type(body) == "urn:apiward:problem:admin.ban_not_found"
    assert metric(env, "apiward_bans_lifted_total") == 1


def test_lift_by_subject_forgives_the_offences(gateways, upstream, tmp_path,
                                               signer):
    env = ban_env(gateways, upstream, tmp_path, signer,
                  enumeration={"threshold": 3, "window": "1m"})
    tok = signer.token(claims(ISS, AUD, sub="walker"))
    hdr = [("Authorization", "Bearer " + tok)]

    def walk():
        for i in range(4):
            assert env.gw.get("/items/%d" % i, hdr).status == 200
        return env.gw.get("/items/9", hdr)

    assert_problem(walk(), 429, "abuse.banned")
    (b,) = bans(env)["bans"]
    assert b["subject"] == "sub:idp:walker"
    assert b["reason"] == "abuse.enumeration"
    assert tok not in json.dumps(b)

    # The subject, percent-encoded in part, names the ban as well.
    status, _, body = env.admin("DELETE", "/bans/sub%3Aidp%3awalker")
    assert status == 200, body
    assert json.loads(body)["id"] == b["id"]
    assert env.gw.get("/items/1", hdr).status == 200

    # The offence was forgotten: banned again (the detector is still
    # past its threshold, so one new id does it), it is a first ban
    # (30 s), not a second (60 s).
    assert env.gw.get("/items/10", hdr).status == 200
    r = env.gw.get("/items/11", hdr)
    assert_problem(r, 429, "abuse.banned")
    assert int(r.header("Retry-After")) <= 30
    assert bans(env)["bans"][0]["level"] == 0


def test_limit_bounds_the_list(gateways, upstream, tmp_path, signer):
    env = ban_env(gateways, upstream, tmp_path, signer,
                  enumeration={"threshold": 3, "window": "1m"})
    tok = signer.token(claims(ISS, AUD, sub="walker"))
    hdr = [("Authorization", "Bearer " + tok)]
    for i in range(5):
        env.gw.get("/items/%d" % i, hdr)
    for i in range(5):
        env.gw.get("/users/%d" % i)
    assert_problem(env.gw.get("/open"), 429, "abuse.banned")
    assert bans(env)["total"] == 2
    one = bans(env, "?limit=1")
    assert len(one["bans"]) == 1 and one["total"] == 2 and one["truncated"]
    subjects = {b["subject"] for b in bans(env, "?limit=500")["bans"]}
    assert subjects == {"ip:127.0.0.1", "sub:idp:walker"}


BAD = [
    ("GET", "/bans?limit=0", 400, "admin.bad_request"),
    ("GET", "/bans?limit=501", 400, "admin.bad_request"),
    ("GET", "/bans?limit=x", 400, "admin.bad_request"),
    ("GET", "/bans?all=1", 400, "admin.bad_request"),
    ("POST", "/bans", 405, "admin.method_not_allowed"),
    ("GET", "/bans/" + "0" * 32, 405, "admin.method_not_allowed"),
    ("DELETE", "/bans/%zz", 400, "http.bad_target"),
    ("DELETE", "/bans/a%2fb", 404, "admin.not_found"),
    ("DELETE", "/bans/%00", 404, "admin.not_found"),
    ("DELETE", "/bans/" + "x" * 300, 404, "admin.not_found"),
    ("DELETE", "/bans/" + "0" * 32, 404, "admin.ban_not_found"),
    ("DELETE", "/bans/ip:127.0.0.2", 404, "admin.ban_not_found"),
]


def test_bad_requests_change_nothing(gateways, upstream, tmp_path, signer):
    env = ban_env(gateways, upstream, tmp_path, signer,
                  client_errors={"threshold": 5, "window": "1m"})
    ban_address(env)
    for method, path, status, reason in BAD:
        got, fields, body = env.admin(method, path)
        assert got == status, (method, path, body)
        assert problem_type(body) == "urn:apiward:problem:" + reason
    # Without the token, or with a wrong one, nothing is listed or lifted.
    for token in (None, ADMIN_TOKEN + "x"):
        for method, path in (("GET", "/bans"),
                             ("DELETE", "/bans/ip:127.0.0.1")):
            got, _, body = env.admin(method, path, token=token)
            assert got == 401
            assert problem_type(body) == \
                "urn:apiward:problem:admin.unauthorized"
    assert bans(env)["total"] == 1
    assert_problem(env.gw.get("/open"), 429, "abuse.banned")
    assert metric(env, "apiward_bans_lifted_total") == 0
    assert env.gw.alive()
