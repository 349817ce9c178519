"""Authorization end to end: PyJWT tokens against a file JWKS, a real
upstream and a real gateway process.

Each refusal is checked at the client (status, reason, challenge), at
the upstream (the request never arrived) and, where the rule asks for
one, in the security-event stream (which must never hold the token).
"""
import json
import os

import pytest

from harness import assert_problem, wait_for
from idp import SigningKey, claims, jwks

ISS = "https://idp.test/"
AUD = "api"


@pytest.fixture(scope="module")
def signer():
    return SigningKey("ES256", "authz-1")


def token(signer, **extra):
    return signer.token(claims(ISS, AUD, **extra))


def bearer(signer, **extra):
    return [("Authorization", "Bearer " + token(signer, **extra))]




POLICIES = {
    "own_user": {
        "authenticated": True,
        "objects": [{"id": "user-owner", "value": "path.user_id",
                     "equals": "claim.sub",
                     "unless": {"roles": ["admin"]}}],
    },
}


def authz_routes():
    return [
        {"name": "users", "path": "/users/{user_id}", "upstream": "demo",
         "auth": {"methods": ["jwt"]}, "authz": {"policy": "own_user"}},
        {"name": "orgs", "path": "/orgs/{org_id}/items", "upstream": "demo",
         "auth": {"methods": ["jwt"]},
         "authz": {"authenticated": True,
                   "objects": [{"id": "tenant", "value": "path.org_id",
                                "equals": "claim.org_id"}]}},
        {"name": "docs", "path": "/docs", "methods": ["POST"],
         "upstream": "demo", "auth": {"methods": ["jwt"]},
         "authz": {"authenticated": True,
                   "objects": [{"id": "doc-owner", "value": "body.owner_id",
                                "equals": "claim.sub"}]}},
        {"name": "admin", "path": "/admin/{rest*}", "upstream": "demo",
         "auth": {"methods": ["jwt"]}, "authz": {"rules": [{"id": "admins",
                                           "roles": ["admin"]}]}},
        {"name": "report", "path": "/report", "upstream": "demo",
         "auth": {"methods": ["jwt"]},
         "authz": {"rules": [{"id": "readers",
                              "scopes": ["reports:read"]}]}},
        {"name": "shadow", "path": "/shadow", "upstream": "demo",
         "auth": {"methods": ["jwt"]},
         "authz": {"monitor": True,
                   "rules": [{"id": "shadow-admins", "roles": ["admin"]}]}},
        {"name": "guarded", "path": "/guarded", "upstream": "demo",
         "auth": {"methods": ["jwt"]},
         "authz": {"authenticated": True,
                   "rules": [{"id": "no-debug", "effect": "deny",
                              "when": [{"header": "X-Debug",
                                        "present": True}]}]}},
        {"name": "posture", "path": "/posture", "upstream": "demo",
         "auth": {"methods": ["jwt"]},
         "authz": {"rules": [{"id": "low-risk", "when": [
             {"header": "X-Device-Risk", "le": 3, "trusted": True},
             {"claim": "amr_level", "ge": 2}]}]}},
        {"name": "lan", "path": "/lan", "upstream": "demo",
         "authz": {"public": True,
                   "rules": [{"id": "loopback-off", "effect": "deny",
                              "when": [{"ip": ["127.0.0.0/8"]}]}]}},
        {"name": "public", "path": "/public/{rest*}", "upstream": "demo",
         "authz": {"public": True}},
    ]


@pytest.fixture
def env(gateways, upstream, signer, tmp_path):
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks(signer)))
    events = tmp_path / "events.log"
    gw = gateways([upstream.addr], routes=authz_routes(),
                  identity={"issuers": {"idp": {
                      "issuer": ISS, "audiences": [AUD],
                      "keys": {"file": str(keys)}}}},
                  policies=POLICIES,
                  events={"file": str(events)})
    gw.events_path = str(events)
    return gw, upstream


def events(gw, n, timeout=3):
    def read():
        try:
            with open(gw.events_path) as f:
                return [json.loads(x) for x in f if x.strip()]
        except OSError:
            return []
    wait_for(lambda: len(read()) >= n, timeout, what="%d events" % n)
    return read()


def test_bola_across_users(env, signer):
    gw, up = env
    assert gw.get("/users/7", bearer(signer, sub="7")).status == 200
    assert up.last().path == "/users/7"
    up.reset()
    tok = token(signer, sub="7")
    r = gw.get("/users/8", [("Authorization", "Bearer " + tok)])
    assert_problem(r, 403, "authz.object_mismatch")
    assert up.count() == 0
    ev = [e for e in events(gw, 1)
          if "authz.object_mismatch" in json.dumps(e)]
    assert ev, "no object-mismatch event"
    text = json.dumps(ev[-1])
    assert "8" in text and "users" in text and "7" in text
    assert tok not in text and tok.split(".")[2] not in text
    entry = [e for e in gw.wait_access_entries(2)
             if e.get("path") == "/users/8"][-1]
    assert entry["reason"] == "authz.object_mismatch"
    assert entry["authz_rule"] == "user-owner"
    assert entry["stage"] == "authorize"


def test_admin_override(env, signer):
    gw, up = env
    r = gw.get("/users/8", bearer(signer, sub="7", roles=["admin"]))
    assert r.status == 200
    assert up.last().path == "/users/8"


def test_tenant_isolation(env, signer):
    gw, up = env
    assert gw.get("/orgs/acme/items",
                  bearer(signer, org_id="acme")).status == 200
    up.reset()
    assert_problem(gw.get("/orgs/globex/items", bearer(signer, org_id="acme")),
                   403, "authz.object_mismatch")
    assert_problem(gw.get("/orgs/acme/items", bearer(signer)),
                   403, "authz.object_mismatch")
    assert up.count() == 0


def test_body_owner(env, signer):
    gw, up = env
    hdr = bearer(signer, sub="7") + [("Content-Type", "application/json")]
    with gw.client() as c:
        c.request("POST", "/docs", headers=hdr, body=b'{"owner_id":"7"}')
        assert c.read_final()[0].status == 200
    up.reset()
    with gw.client() as c:
        c.request("POST", "/docs", headers=hdr, body=b'{"owner_id":"8"}')
        assert_problem(c.read_final()[0], 403, "authz.object_mismatch")
    assert up.count() == 0


def test_missing_role_is_escalation(env, signer):
    gw, up = env
    r = gw.get("/admin/panel", bearer(signer, sub="mallory", roles=["user"]))
    assert_problem(r, 403, "authz.missing_role")
    assert up.count() == 0
    ev = [e for e in events(gw, 1)
          if "privilege_escalation" in json.dumps(e)]
    assert ev and "mallory" in json.dumps(ev[-1])


def test_insufficient_scope(env, signer):
    gw, up = env
    r = gw.get("/report", bearer(signer, scope="reports:list"))
    assert_problem(r, 403, "authz.missing_scope")
    challenge = r.header("WWW-Authenticate")
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="reports:read"' in challenge
    assert gw.get("/report", bearer(signer, scope="x reports:read")
                  ).status == 200


def test_monitor_mode(env, signer):
    gw, up = env
    r = gw.get("/shadow", bearer(signer, roles=["user"]))
    assert r.status == 200
    assert up.last().path == "/shadow"
    entry = [e for e in gw.wait_access_entries(1)
             if e.get("path") == "/shadow"][-1]
    assert entry["authz"] == "authz.missing_role"
    assert entry["authz_monitored"] is True
    ev = [e for e in events(gw, 1) if "monitored" in json.dumps(e)]
    assert ev


def test_deny_wins(env, signer):
    gw, up = env
    assert gw.get("/guarded", bearer(signer)).status == 200
    up.reset()
    r = gw.get("/guarded", bearer(signer) + [("X-Debug", "1")])
    assert_problem(r, 403, "authz.denied")
    assert up.count() == 0


def test_ip_condition(env):
    gw, up = env
    assert_problem(gw.get("/lan"), 403, "authz.denied")
    assert up.count() == 0


def test_trusted_posture_header(env, signer):
    gw, up = env

    def hdr(risk, level=2):
        return bearer(signer, amr_level=level) + [("X-Device-Risk", risk)]

    # 127.0.0.1 is not a trusted proxy: its posture header is not read.
    assert_problem(gw.get("/posture", hdr("1")), 403,
                   "authz.condition_failed")
    with gw.client(source="127.0.0.2") as c:
        assert c.get("/posture", hdr("1")).status == 200
    with gw.client(source="127.0.0.2") as c:
        assert_problem(c.get("/posture", hdr("9")), 403,
                       "authz.condition_failed")
    with gw.client(source="127.0.0.2") as c:
        assert_problem(c.get("/posture", hdr("1", level=1)), 403,
                       "authz.condition_failed")


def test_repeated_header_is_refused(env, signer):
    gw, up = env
    with gw.client() as c:
        c.send(("GET /guarded HTTP/1.1\r\nHost: x\r\n"
                "Authorization: Bearer %s\r\nX-Debug: 1\r\nX-Debug: 2\r\n\r\n"
                % token(signer)).encode())
        assert_problem(c.read_final()[0], 400, "authz.ambiguous_value")
    assert up.count() == 0


CONFUSED = [
    "/ADMIN/panel", "/Admin/panel", "/admin./panel", "/admin%2Fpanel",
    "/%61dmin/panel", "//admin//panel", "/public/../admin/panel",
    "/public/%2e%2e/admin/panel", "/public/%2E%2E/admin/panel",
    "/./admin/panel", "/admin/./panel", "/public/..%2Fadmin/panel",
    "/admin%2e/panel", "/admin/panel/.", "/admin;x/panel",
]


@pytest.mark.parametrize("target", CONFUSED)
def test_path_confusion(env, signer, target):
    """A variant of the protected path reaches the upstream only through
    the protected route's checks: for a non-admin it never does, unless
    it is a different path that the public route owns and the upstream
    cannot read as /admin."""
    gw, up = env
    with gw.client() as c:
        c.send(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                "\r\n" % (target, token(signer, roles=["user"]))).encode())
        r = c.read_final()[0]
    assert r.status in (400, 403, 404), (target, r.status)
    for req in list(getattr(up, "requests", [])) or (
            [up.last()] if up.count() else []):
        assert "admin" not in req.path.lower(), (target, req.path)
    assert up.count() == 0, (target, up.last().path)


def test_route_without_authz_is_refused(apiward_bin, tmp_path):
    import subprocess
    cfg = tmp_path / "c.yaml"
    cfg.write_text("upstreams:\n  demo: {servers: [\"127.0.0.1:9\"]}\n"
                   "routes:\n  - name: r\n    path: /r\n    upstream: demo\n")
    p = subprocess.run([apiward_bin, "check", "-c", str(cfg)],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 1
    assert "%s:4:5: routes[0]: the route does not say who may call it" \
        % cfg in p.stderr
    assert "authz: {public: true}" in p.stderr


def test_policy_explain(apiward_bin, tmp_path):
    import subprocess
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        "upstreams:\n  demo: {servers: [\"127.0.0.1:9\"]}\n"
        "identity:\n  issuers:\n    idp:\n      issuer: \"%s\"\n"
        "      audiences: [api]\n      keys: {file: %s}\n"
        "routes:\n  - name: users\n    path: \"/users/{id}\"\n"
        "    upstream: demo\n    auth: {methods: [jwt]}\n"
        "    authz:\n      authenticated: true\n      objects:\n"
        "        - {id: owner, value: path.id, equals: claim.sub,\n"
        "           unless: {roles: [admin]}}\n"
        % (ISS, os.path.join(os.path.dirname(__file__), "..", "..",
                             "examples", "demo-jwks.json")))

    def explain(*extra):
        return subprocess.run([apiward_bin, "policy", "explain", "-c",
                               str(cfg), "--method", "GET"] + list(extra),
                              capture_output=True, text=True, timeout=10)

    p = explain("--path", "/users/7", "--claims", '{"sub":"7"}')
    assert p.returncode == 0, p.stdout + p.stderr
    assert "decision: allow" in p.stdout and "route:  users" in p.stdout
    p = explain("--path", "/users/8", "--claims", '{"sub":"7"}')
    assert p.returncode == 1
    assert "object owner" in p.stdout
    assert "authz.object_mismatch" in p.stdout
    p = explain("--path", "/users/8", "--claims",
                '{"sub":"7","roles":["admin"]}')
    assert p.returncode == 0
    assert explain("--path", "/users/8", "--claims", "[").returncode == 2
