"""Token introspection (RFC 7662) against a real endpoint on loopback.

The endpoint is a Python HTTP server in a thread. It checks the client's
credentials as RFC 6749 section 2.3.1 spells them (form-encoded, then
Basic, or in the form), answers from a table of tokens, counts the calls
per token, and can be made slow, failing or nonsensical.
"""

import base64
import json
import os
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness import assert_problem, wait_for

CLIENT_ID = "gw client"
# Characters that form encoding must escape, to prove it is applied.
SECRET = "s3cr+et/x=y&z"


class Endpoint:
    """An introspection endpoint with a table of answers."""

    def __init__(self, client_auth="basic"):
        self.client_auth = client_auth
        self.answers = {}
        self.calls = {}
        self.mode = "normal"
        self.delay = 0.0
        self.bad_auth = 0
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                endpoint.handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/introspect" % self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def count(self, token):
        with self.lock:
            return self.calls.get(token, 0)

    def client_ok(self, req, form):
        if self.client_auth == "post":
            return (form.get("client_id") == [CLIENT_ID] and
                    form.get("client_secret") == [SECRET] and
                    req.headers.get("Authorization") is None)
        auth = req.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        return (urllib.parse.unquote_plus(user) == CLIENT_ID and
                urllib.parse.unquote_plus(password) == SECRET and
                "client_secret" not in form)

    def reply(self, req, status, body, ctype="application/json"):
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def handle(self, req):
        n = int(req.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(req.rfile.read(n).decode(),
                                     keep_blank_values=True)
        token = form.get("token", [""])[0]
        with self.lock:
            self.calls[token] = self.calls.get(token, 0) + 1
            mode, delay = self.mode, self.delay
        if delay:
            time.sleep(delay)
        if not self.client_ok(req, form) or \
                form.get("token_type_hint") != ["access_token"] or \
                req.headers.get("Accept") != "application/json":
            with self.lock:
                self.bad_auth += 1
            self.reply(req, 401, b'{"error":"invalid_client"}')
        elif mode == "down":
            self.reply(req, 500, b"{}")
        elif mode == "garbage":
            self.reply(req, 200, b"<html>not json</html>", "text/html")
        else:
            answer = self.answers.get(token, {"active": False})
            self.reply(req, 200, json.dumps(answer).encode())


@pytest.fixture
def endpoint():
    ep = Endpoint()
    yield ep
    ep.stop()


def secret_file(tmp_path):
    path = os.path.join(str(tmp_path), "client_secret")
    with open(path, "w") as f:
        f.write(SECRET + "\n")
    os.chmod(path, 0o600)
    return path


def start(gateways, upstream, ep, tmp_path, methods=("introspection",),
          workers=2, **settings):
    intro = {"endpoint": ep.url, "client_auth": ep.client_auth,
             "client_id": CLIENT_ID,
             "client_secret_file": secret_file(tmp_path),
             "timeout": "1s", "negative_ttl": "1s", "leeway": "0s"}
    intro.update(settings)
    routes = [{"name": "orders", "path": "/orders", "prefix": True,
               "upstream": "demo", "auth": {"methods": list(methods)}}]
    return gateways([upstream.addr], routes=routes,
                    identity={"introspection": intro},
                    server={"workers": workers})


def bearer(token):
    return [("Authorization", "Bearer " + token)]


def test_active_token_is_forwarded_and_cached(gateways, upstream, endpoint,
                                              tmp_path):
    endpoint.answers["opaque-1"] = {
        "active": True, "sub": "alice", "client_id": "app", "scope": "a b",
        "exp": int(time.time()) + 3600}
    gw = start(gateways, upstream, endpoint, tmp_path, workers=1)
    r = gw.get("/orders/1", bearer("opaque-1"))
    assert r.status == 200, r
    seen = upstream.last()
    assert seen.header("X-Auth-Method") == "introspection"
    assert seen.header("X-Auth-Subject") == "alice"
    assert seen.header("X-Auth-Scopes") == "a b"
    assert seen.header("X-Auth-Consumer") == "app"
    assert seen.header("Authorization") is None
    assert endpoint.count("opaque-1") == 1
    for _ in range(3):
        assert gw.get("/orders/2", bearer("opaque-1")).status == 200
    assert endpoint.count("opaque-1") == 1
    assert endpoint.bad_auth == 0
    entry = gw.wait_access_entries(4)[-1]
    assert "opaque-1" not in json.dumps(entry)
    assert "opaque-1" not in gw.stderr() + gw.stdout()
    assert SECRET not in gw.stderr() + gw.stdout()


def test_inactive_token_and_negative_ttl(gateways, upstream, endpoint,
                                         tmp_path):
    gw = start(gateways, upstream, endpoint, tmp_path, workers=1)
    r = gw.get("/orders", bearer("revoked"))
    assert_problem(r, 401, "auth.token_inactive")
    assert "invalid_token" in (r.header("WWW-Authenticate") or "")
    assert_problem(gw.get("/orders", bearer("revoked")), 401,
                   "auth.token_inactive")
    assert endpoint.count("revoked") == 1
    time.sleep(1.2)
    endpoint.answers["revoked"] = {"active": True, "sub": "bob"}
    assert gw.get("/orders", bearer("revoked")).status == 200
    assert endpoint.count("revoked") == 2
    assert upstream.count() == 1


def test_positive_answer_expires_with_exp(gateways, upstream, endpoint,
                                          tmp_path):
    endpoint.answers["short"] = {"active": True, "sub": "c",
                                 "exp": int(time.time()) + 2}
    gw = start(gateways, upstream, endpoint, tmp_path, workers=1)
    assert gw.get("/orders", bearer("short")).status == 200
    assert gw.get("/orders", bearer("short")).status == 200
    assert endpoint.count("short") == 1
    wait_for(lambda: time.time() > endpoint.answers["short"]["exp"] + 0.1,
             5, what="exp to pass")
    assert_problem(gw.get("/orders", bearer("short")), 401,
                   "auth.token_expired")
    assert endpoint.count("short") == 2


def test_cache_ttl_caps_a_positive_answer(gateways, upstream, endpoint,
                                          tmp_path):
    endpoint.answers["capped"] = {"active": True, "sub": "d"}
    gw = start(gateways, upstream, endpoint, tmp_path, workers=1,
               cache_ttl="1s")
    assert gw.get("/orders", bearer("capped")).status == 200
    assert gw.get("/orders", bearer("capped")).status == 200
    assert endpoint.count("capped") == 1
    time.sleep(1.2)
    assert gw.get("/orders", bearer("capped")).status == 200
    assert endpoint.count("capped") == 2


def test_endpoint_down_then_recovers(gateways, upstream, endpoint, tmp_path):
    endpoint.answers["tok"] = {"active": True, "sub": "e"}
    gw = start(gateways, upstream, endpoint, tmp_path)
    endpoint.mode = "down"
    r = gw.get("/orders", bearer("tok"))
    assert_problem(r, 503, "auth.introspection_unavailable")
    assert r.header("WWW-Authenticate") is None or \
        "invalid_token" not in r.header("WWW-Authenticate")
    # A failure is not remembered: the next request asks again.
    assert_problem(gw.get("/orders", bearer("tok")), 503,
                   "auth.introspection_unavailable")
    assert endpoint.count("tok") == 2
    endpoint.mode = "normal"
    assert gw.get("/orders", bearer("tok")).status == 200
    assert upstream.count() == 1
    assert "introspection at" in gw.stderr() + gw.stdout()


def test_slow_endpoint_times_out(gateways, upstream, endpoint, tmp_path):
    endpoint.answers["tok"] = {"active": True, "sub": "f"}
    gw = start(gateways, upstream, endpoint, tmp_path)
    endpoint.delay = 1.5
    t0 = time.time()
    assert_problem(gw.get("/orders", bearer("tok"), timeout=10), 503,
                   "auth.introspection_unavailable")
    assert time.time() - t0 < 4
    endpoint.delay = 0
    assert gw.get("/orders", bearer("tok")).status == 200


def test_garbage_answer_is_unavailable(gateways, upstream, endpoint,
                                       tmp_path):
    gw = start(gateways, upstream, endpoint, tmp_path)
    endpoint.mode = "garbage"
    assert_problem(gw.get("/orders", bearer("tok")), 503,
                   "auth.introspection_unavailable")
    endpoint.answers["odd"] = {"active": "true"}
    endpoint.mode = "normal"
    assert_problem(gw.get("/orders", bearer("odd")), 503,
                   "auth.introspection_unavailable")
    assert upstream.count() == 0


def test_oversized_answer_is_unavailable(gateways, upstream, endpoint,
                                         tmp_path):
    endpoint.answers["big"] = {"active": True, "pad": "x" * 4000}
    gw = start(gateways, upstream, endpoint, tmp_path, max_response="1k")
    assert_problem(gw.get("/orders", bearer("big")), 503,
                   "auth.introspection_unavailable")


def test_client_auth_post(gateways, upstream, tmp_path):
    ep = Endpoint(client_auth="post")
    try:
        ep.answers["p"] = {"active": True, "sub": "g"}
        gw = start(gateways, upstream, ep, tmp_path)
        assert gw.get("/orders", bearer("p")).status == 200
        assert ep.bad_auth == 0
    finally:
        ep.stop()


def test_wrong_client_credentials_fail_closed(gateways, upstream, endpoint,
                                              tmp_path):
    endpoint.answers["tok"] = {"active": True, "sub": "h"}
    path = os.path.join(str(tmp_path), "wrong_secret")
    with open(path, "w") as f:
        f.write("not-the-secret")
    os.chmod(path, 0o600)
    gw = start(gateways, upstream, endpoint, tmp_path,
               client_secret_file=path)
    assert_problem(gw.get("/orders", bearer("tok")), 503,
                   "auth.introspection_unavailable")
    assert endpoint.bad_auth == 1
    assert upstream.count() == 0


def test_concurrent_lookups_share_one_request(gateways, upstream, endpoint,
                                              tmp_path):
    endpoint.answers["busy"] = {"active": True, "sub": "i"}
    gw = start(gateways, upstream, endpoint, tmp_path, workers=1)
    endpoint.delay = 0.5
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(
            lambda _: gw.get("/orders", bearer("busy")).status, range(6)))
    assert results == [200] * 6
    assert endpoint.count("busy") == 1


def test_in_flight_bound(gateways, upstream, endpoint, tmp_path):
    gw = start(gateways, upstream, endpoint, tmp_path, workers=1,
               max_in_flight=1)
    endpoint.delay = 0.6
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(gw.get, "/orders", bearer("one"))
        wait_for(lambda: endpoint.count("one") == 1, 3, what="first lookup")
        second = pool.submit(gw.get, "/orders", bearer("two"))
        assert_problem(second.result(), 503, "auth.introspection_busy")
        assert_problem(first.result(), 401, "auth.token_inactive")


def test_audience_and_route_claims(gateways, upstream, endpoint, tmp_path):
    endpoint.answers["a1"] = {"active": True, "aud": "api://orders",
                              "tenant": "acme"}
    endpoint.answers["a2"] = {"active": True, "aud": "api://other",
                              "tenant": "acme"}
    endpoint.answers["a3"] = {"active": True, "aud": ["x", "api://orders"],
                              "tenant": "evil"}
    intro = {"endpoint": endpoint.url, "client_id": CLIENT_ID,
             "client_secret_file": secret_file(tmp_path),
             "audiences": ["api://orders"]}
    routes = [{"name": "orders", "path": "/orders", "prefix": True,
               "upstream": "demo",
               "auth": {"methods": ["introspection"],
                        "claims": {"tenant": "acme"}}}]
    gw = gateways([upstream.addr], routes=routes,
                  identity={"introspection": intro})
    assert gw.get("/orders", bearer("a1")).status == 200
    assert_problem(gw.get("/orders", bearer("a2")), 401,
                   "auth.wrong_audience")
    assert_problem(gw.get("/orders", bearer("a3")), 401,
                   "auth.claim_mismatch")
    # From the cache, the route's rules are applied again.
    assert_problem(gw.get("/orders", bearer("a3")), 401,
                   "auth.claim_mismatch")


def test_which_tokens_are_introspected(gateways, upstream, endpoint,
                                       tmp_path):
    jws = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    endpoint.answers[jws] = {"active": True, "sub": "jws-shaped"}
    gw = start(gateways, upstream, endpoint, tmp_path)
    # Without jwt on the route, a JWS-shaped token is introspected too.
    assert gw.get("/orders", bearer(jws)).status == 200
    assert endpoint.count(jws) == 1
    assert_problem(gw.get("/orders"), 401, "auth.missing_credentials")
    assert_problem(gw.get("/orders", [("Authorization", "Bearer ")]), 401,
                   "auth.malformed_request")
