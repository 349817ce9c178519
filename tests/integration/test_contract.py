"""Routes bound to an OpenAPI document: the gateway lets through only what
the document describes (unknown paths 404, unknown methods 405, parameters,
media types and bodies checked), refuses mass assignment, and checks the
backend's responses (log, block with a 502, filter out what the schema does
not list).

The document is OWASP crAPI's (../shared/testdata/openapi/crAPI), in front
of a small backend that answers its paths with the spec's own examples.
readOnly, writeOnly and deprecated, which crAPI does not use, come from a
short document written here. Every malicious request carries a sentinel
value, and no problem document may contain it."""

import json
import os
import subprocess

import pytest

from harness import (assert_problem, build_request, free_port,
                     http_response, wait_for)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TESTDATA = os.path.join(REPO, "..", "shared", "testdata")
CRAPI = os.path.join(TESTDATA, "openapi", "crAPI", "openapi-spec",
                     "crapi-openapi-spec.json")

SENTINEL = "Zq9-SENTINEL-value-7Xw"
JSON = [("Content-Type", "application/json")]

AUTHOR = {"nickname": "Hacker", "email": "hacker@darkweb.com",
          "vehicleid": "abac4018-5a38-466c-ab7f-361908afeab6",
          "profile_pic_url": "", "created_at": "2021-09-16T01:46:32.432Z"}
POST = {"id": "ConZLXacq3MqhbLQDrbNLf", "title": "Title 3",
        "content": "Hello world 3", "author": AUTHOR, "comments": [],
        "authorid": 3, "CreatedAt": "2021-09-16T01:46:32.432Z"}

# The second document: readOnly in a request, writeOnly in a response,
# and a deprecated operation.
ITEMS = {
    "openapi": "3.0.3",
    "info": {"title": "items", "version": "1"},
    "servers": [{"url": "http://items.test/api"}],
    "paths": {
        "/items": {"post": {
            "operationId": "add_item",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {
                    "$ref": "#/components/schemas/Item"}}}},
            "responses": {"200": {"description": "ok", "content": {
                "application/json": {"schema": {
                    "$ref": "#/components/schemas/Item"}}}}}}},
        "/items/{id}": {"get": {
            "operationId": "get_item",
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "ok", "content": {
                "application/json": {"schema": {
                    "$ref": "#/components/schemas/Item"}}}}}}},
        "/old": {"get": {
            "operationId": "old_thing", "deprecated": True,
            "responses": {"200": {"description": "ok"}}}},
    },
    "components": {"schemas": {"Item": {
        "type": "object", "required": ["name"],
        "properties": {
            "id": {"type": "integer", "readOnly": True},
            "name": {"type": "string"},
            "secret": {"type": "string", "writeOnly": True}}}}},
}


class Backend:
    """crAPI's paths answered from the spec's examples.

    mode changes what comes back: "leak" adds fields the schema does not
    list, "invalid" breaks the schema, "big" answers a long list."""

    def __init__(self):
        self.mode = "ok"

    def answer(self, req):
        path = req.path
        if path == "/community/api/v2/community/posts/recent":
            return self.posts()
        if path == "/workshop/api/shop/orders":
            doc = {"id": 30, "message": "Order sent successfully.",
                   "credit": 155}
            if self.mode == "invalid":
                doc = {"id": "thirty", "message": "no credit"}
            return 200, doc
        if path.startswith("/api/items/"):
            return 200, {"id": 7, "name": "x", "secret": "s3cr3t-from-db"}
        if path == "/api/items":
            return 200, {"id": 8, "name": "y"}
        return 200, {"message": "ok", "status": 200}

    def posts(self):
        post = dict(POST)
        if self.mode == "leak":
            post["author"] = dict(AUTHOR, password_hash="$2b$12$leak")
            post["internal_flags"] = {"admin": True}
        if self.mode == "big":
            return 200, [post] * 400
        return 200, [post]

    def __call__(self, req, ctx):
        status, doc = self.answer(req)
        body = json.dumps(doc).encode()
        if self.mode == "chunked":
            head = ("HTTP/1.1 %d OK\r\nContent-Type: application/json\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n" % status).encode()
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 100]),
                                                 body[i:i + 100])
                              for i in range(0, len(body), 100))
            return head + chunks + b"0\r\n\r\n"
        return http_response(status, body, [("Content-Type",
                                              "application/json")])


def contract_routes():
    return [
        {"name": "items", "path": "/api/", "prefix": True,
         "upstream": "demo", "contract": "items"},
        {"name": "blocked", "path": "/workshop/api/shop/orders",
         "upstream": "demo", "contract": "crapi_block"},
        {"name": "crapi", "path": "/", "prefix": True, "upstream": "demo",
         "contract": "crapi"},
    ]


def contracts(tmp_path, **crapi):
    items = tmp_path / "items.json"
    items.write_text(json.dumps(ITEMS))
    main = {"name": "crapi", "openapi": CRAPI, "responses": "filter",
            "max_response_buffer": "16k", "json": {"max_depth": 8}}
    main.update(crapi)
    return [
        main,
        {"name": "crapi_block", "openapi": CRAPI, "responses": "block"},
        {"name": "items", "openapi": str(items), "responses": "filter"},
    ]


@pytest.fixture
def backend():
    return Backend()


def start(gateways, upstreams, backend, tmp_path, **crapi):
    up = upstreams(backend, name="crapi")
    events = tmp_path / "events.log"
    gw = gateways([up.addr], routes=contract_routes(),
                  contracts=contracts(tmp_path, **crapi),
                  events={"file": str(events)})
    gw.events_path = str(events)
    return gw, up


@pytest.fixture
def env(gateways, upstreams, backend, tmp_path):
    return start(gateways, upstreams, backend, tmp_path)


def events(gw, pred, timeout=3):
    def read():
        try:
            with open(gw.events_path) as f:
                return [e for e in (json.loads(x) for x in f if x.strip())
                        if pred(json.dumps(e))]
        except OSError:
            return []
    return wait_for(read, timeout, what="a matching event")


def post(gw, path, doc, headers=JSON):
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    with gw.client() as c:
        c.request("POST", path, headers, body)
        return c.read_response()


def refused(resp, status, reason):
    """A problem that names reason and echoes nothing that was sent."""
    doc = assert_problem(resp, status, reason)
    assert SENTINEL.encode() not in resp.body, resp.body
    assert b"admin" not in resp.body, resp.body
    return doc


SIGNUP = {"email": "a@example.com", "name": "A", "number": "6915656974",
          "password": "Test!123"}


def test_valid_requests_pass(env):
    gw, up = env
    resp = post(gw, "/identity/api/auth/signup", SIGNUP)
    assert resp.status == 200, resp
    assert json.loads(up.last().body) == SIGNUP
    resp = gw.get("/community/api/v2/community/posts/recent?limit=30&"
                  "offset=0")
    assert resp.status == 200, resp
    assert resp.json() == [POST]
    resp = gw.get("/workshop/api/shop/orders/all?limit=30&offset=0")
    assert resp.status == 200, resp
    entry = [e for e in gw.wait_access_entries(3)
             if e.get("path") == "/workshop/api/shop/orders/all"][-1]
    assert entry["operation"] == "get_orders", entry
    assert entry["template"] == "/workshop/api/shop/orders/all", entry


def test_unknown_path_and_method(env):
    gw, up = env
    refused(gw.get("/identity/api/auth/" + SENTINEL), 404,
            "contract.unknown_path")
    with gw.client() as c:
        c.request("DELETE", "/identity/api/auth/signup")
        resp = c.read_response()
    refused(resp, 405, "contract.method_not_allowed")
    assert resp.header("allow") == "POST", resp
    assert up.count() == 0


@pytest.mark.parametrize("target,reason", [
    ("/workshop/api/shop/orders/all?limit=30", "contract.missing_parameter"),
    ("/workshop/api/shop/orders/all?limit=%s&offset=0" % SENTINEL,
     "contract.invalid_parameter"),
    ("/workshop/api/shop/orders/%s" % SENTINEL,
     "contract.invalid_parameter"),
    ("/workshop/api/shop/orders/all?limit=1&offset=0&%s=1" % SENTINEL,
     "contract.unknown_parameter"),
])
def test_parameters(env, target, reason):
    gw, up = env
    doc = refused(gw.get(target), 400, reason)
    if reason == "contract.missing_parameter":
        assert doc["errors"][0]["in"] == "query", doc
        assert doc["errors"][0]["name"] == "offset", doc
    elif reason == "contract.invalid_parameter":
        assert doc["errors"][0]["name"] in ("limit", "order_id"), doc
    assert up.count() == 0


def test_media_type(env):
    gw, up = env
    resp = post(gw, "/identity/api/auth/signup",
                SENTINEL.encode(), [("Content-Type", "text/plain")])
    refused(resp, 415, "contract.unsupported_media_type")
    assert up.count() == 0


@pytest.mark.parametrize("body,reason", [
    (b'{"email": "' + SENTINEL.encode() + b'", ', "json.syntax"),
    (b'{"email": "a", "email": "' + SENTINEL.encode() + b'"}',
     "json.duplicate_key"),
    (b'{"email":' + b'[' * 20 + b'"' + SENTINEL.encode() + b'"' +
     b']' * 20 + b'}', "json.too_deep"),
])
def test_malformed_json(env, body, reason):
    gw, up = env
    refused(post(gw, "/identity/api/auth/signup", body), 400, reason)
    assert up.count() == 0


def test_mass_assignment_is_refused(env):
    gw, up = env
    doc = refused(post(gw, "/identity/api/auth/signup",
                       dict(SIGNUP, role="admin", name=SENTINEL)),
                  422, "contract.invalid_body")
    assert {"pointer": "/role", "keyword": "additionalProperties"} in \
        doc["errors"], doc
    assert up.count() == 0


def test_wrong_types_and_missing_members(env):
    gw, up = env
    bad = dict(SIGNUP, number=6915656974, password=SENTINEL)
    del bad["email"]
    doc = refused(post(gw, "/identity/api/auth/signup", bad), 422,
                  "contract.invalid_body")
    keywords = {(e["pointer"], e["keyword"]) for e in doc["errors"]}
    assert ("/number", "type") in keywords, doc
    assert any(k == "required" for _, k in keywords), doc
    assert up.count() == 0


def test_read_only_member_is_refused(env):
    gw, up = env
    doc = refused(post(gw, "/api/items", {"id": 1, "name": SENTINEL}), 422,
                  "contract.invalid_body")
    assert {"pointer": "/id", "keyword": "readOnly"} in doc["errors"], doc
    assert post(gw, "/api/items", {"name": "ok"}).status == 200
    assert up.count() == 1


def test_violations_raise_events(env):
    gw, _ = env
    post(gw, "/identity/api/auth/signup", dict(SIGNUP, role="admin"))
    ev = events(gw, lambda t: "contract.invalid_body" in t)
    assert ev[-1]["event"]["action"] == "contract.violation", ev[-1]


@pytest.mark.parametrize("mode", ["ok", "chunked"])
def test_response_leaks_are_filtered(env, backend, mode):
    gw, _ = env
    backend.mode = "leak"
    resp = gw.get("/community/api/v2/community/posts/recent")
    assert resp.status == 200, resp
    assert resp.json() == [POST]
    assert b"password_hash" not in resp.body
    assert resp.header("content-length") == str(len(resp.body))
    if mode == "chunked":
        backend.mode = "chunked"
        resp = gw.get("/community/api/v2/community/posts/recent")
        assert resp.json() == [POST]


def test_write_only_member_is_filtered(env):
    gw, _ = env
    resp = gw.get("/api/items/7")
    assert resp.status == 200, resp
    assert resp.json() == {"id": 7, "name": "x"}


def test_invalid_response_is_blocked(env, backend):
    gw, _ = env
    resp = post(gw, "/workshop/api/shop/orders",
                {"product_id": 1, "quantity": 1})
    assert resp.status == 200, resp
    assert resp.json()["credit"] == 155
    backend.mode = "invalid"
    resp = post(gw, "/workshop/api/shop/orders",
                {"product_id": 1, "quantity": 1})
    assert_problem(resp, 502, "contract.invalid_response")
    assert b"thirty" not in resp.body


@pytest.mark.parametrize("mode", ["big", "chunked"])
def test_big_response_passes_unchanged(env, backend, mode):
    gw, _ = env
    backend.mode = "big"
    whole = gw.get("/community/api/v2/community/posts/recent")
    assert whole.status == 200, whole
    assert len(whole.body) > 16 * 1024
    assert whole.json() == [POST] * 400
    ev = events(gw, lambda t: "contract.response_too_large" in t)
    assert ev


def test_monitor_mode_lets_through(gateways, upstreams, backend, tmp_path):
    gw, up = start(gateways, upstreams, backend, tmp_path, mode="monitor")
    resp = post(gw, "/identity/api/auth/signup", dict(SIGNUP, role="admin"))
    assert resp.status == 200, resp
    assert json.loads(up.last().body)["role"] == "admin"
    assert gw.get("/nowhere").status == 200
    entry = [e for e in gw.wait_access_entries(2)
             if e.get("path") == "/identity/api/auth/signup"][-1]
    assert entry.get("contract_monitored") is True, entry
    ev = events(gw, lambda t: "monitored" in t and "contract" in t)
    assert ev


def test_deprecated_operation(gateways, upstreams, backend, tmp_path):
    gw, _ = start(gateways, upstreams, backend, tmp_path)
    assert gw.get("/api/old").status == 200
    assert events(gw, lambda t: "contract.deprecated" in t)
    cfg = dict(gw.config)
    cfg["contracts"] = contracts(tmp_path)
    cfg["contracts"][2]["deprecated"] = "block"
    gw.reload(cfg)
    wait_for(lambda: gw.get("/api/old").status == 410, 5,
             what="the reload")


def test_reload_with_a_new_document(gateways, upstreams, backend, tmp_path):
    gw, _ = start(gateways, upstreams, backend, tmp_path)
    assert gw.get("/api/items/7").status == 200
    spec = dict(ITEMS, paths={"/things": ITEMS["paths"]["/items"]})
    path = tmp_path / "items2.json"
    path.write_text(json.dumps(spec))
    cfg = dict(gw.config)
    cfg["contracts"] = contracts(tmp_path)
    cfg["contracts"][2]["openapi"] = str(path)
    gw.reload(cfg)
    wait_for(lambda: gw.get("/api/items/7").status == 404, 5,
             what="the reload")
    assert post(gw, "/api/things", {"name": "n"}).status == 200


def test_reload_keeps_serving_when_the_document_is_bad(
        gateways, upstreams, backend, tmp_path):
    gw, _ = start(gateways, upstreams, backend, tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text('{"openapi": "3.0.3", "paths": {"/x": {"get": '
                   '{"responses": {"200": {"description": "d", "content": '
                   '{"application/json": {"schema": {"type": "nope"}}}}}}}}}')
    cfg = dict(gw.config)
    cfg["contracts"] = contracts(tmp_path)
    cfg["contracts"][2]["openapi"] = str(bad)
    gw.reload(cfg)
    wait_for(lambda: "bad.json" in gw.stderr(), 5, what="the reload report")
    assert gw.get("/api/items/7").status == 200


def test_authentication_comes_before_the_contract(gateways, upstreams,
                                                  backend, tmp_path,
                                                  apiward_bin):
    from test_body_buffering import api_key
    key = api_key(apiward_bin, str(tmp_path))
    up = upstreams(backend, name="crapi")
    routes = [{"name": "crapi", "path": "/", "prefix": True,
               "upstream": "demo", "contract": "crapi",
               "auth": {"methods": ["api_key"]}}]
    ident = {"api_keys": {"file": os.path.join(str(tmp_path), "api-keys"),
                          "pepper_file": os.path.join(str(tmp_path),
                                                      "pepper")}}
    gw = gateways([up.addr], routes=routes, identity=ident,
                  contracts=contracts(tmp_path))
    assert_problem(post(gw, "/identity/api/auth/signup", b"{bad"), 401)
    assert_problem(gw.get("/nowhere"), 401)
    auth = [("X-API-Key", key)]
    assert_problem(post(gw, "/identity/api/auth/signup", b"{bad",
                        JSON + auth), 400, "json.syntax")
    assert post(gw, "/identity/api/auth/signup", SIGNUP,
                JSON + auth).status == 200


def test_openapi_one_liner(gateways, upstreams, backend):
    up = upstreams(backend, name="crapi")
    port = free_port()
    gw = gateways(args=["proxy", "--listen", "127.0.0.1:%d" % port,
                        "--to", "http://%s" % up.addr, "--openapi", CRAPI],
                  port=port)
    assert post(gw, "/identity/api/auth/signup", SIGNUP).status == 200
    refused(gw.get("/admin/" + SENTINEL), 404, "contract.unknown_path")
    refused(post(gw, "/identity/api/auth/signup",
                 dict(SIGNUP, role="admin")), 422, "contract.invalid_body")
    assert up.count() == 1


def test_one_liner_refuses_a_missing_document(apiward_bin, tmp_path):
    p = subprocess.run([apiward_bin, "proxy", "--to", "http://127.0.0.1:9",
                        "--openapi", str(tmp_path / "none.yaml")],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode != 0
    assert "none.yaml" in p.stderr


def test_keep_alive_after_refusals(env):
    gw, up = env
    with gw.client() as c:
        c.request("POST", "/identity/api/auth/signup", JSON,
                  json.dumps(dict(SIGNUP, role="admin")).encode())
        assert c.read_response().status == 422
        c.request("POST", "/identity/api/auth/signup", JSON,
                  json.dumps(SIGNUP).encode())
        assert c.read_response().status == 200
    assert up.count() == 1


def chunked(payload, size):
    return b"".join(b"%x\r\n" % len(payload[i:i + size]) +
                    payload[i:i + size] + b"\r\n"
                    for i in range(0, len(payload), size)) + b"0\r\n\r\n"


@pytest.mark.parametrize("extra,status", [({}, 200), ({"role": "admin"}, 422)])
def test_chunked_body_split_anywhere(env, extra, status):
    """The validator sees the body piece by piece, split inside names,
    strings and escapes, and judges it as a whole."""
    gw, up = env
    doc = dict(SIGNUP, name="A \\u00e9 \"q\"", **extra)
    body = json.dumps(doc).encode()
    wire = build_request("POST", "/identity/api/auth/signup",
                         JSON + [("Transfer-Encoding", "chunked")]) + \
        chunked(body, 7)
    with gw.client() as c:
        for i in range(0, len(wire), 5):
            c.send(wire[i:i + 5])
        resp = c.read_response()
    assert resp.status == status, resp
    if status == 200:
        assert json.loads(up.last().body) == doc
        assert up.last().header("content-length") == str(len(body))
    else:
        assert up.count() == 0


def test_body_over_the_buffered_bound_is_refused_unread(env):
    gw, up = env
    with gw.client() as c:
        c.request("POST", "/identity/api/auth/signup",
                  JSON + [("Content-Length", str(2 << 20))])
        resp = c.read_response(timeout=2)
        assert_problem(resp, 413, "http.body_too_large")
        assert c.wait_closed()
    assert up.count() == 0


def test_refusal_before_the_body_closes_the_connection(env):
    """A request refused on its head (an unknown path) is answered
    without reading its body, which cannot then be skipped safely."""
    gw, up = env
    with gw.client() as c:
        c.request("POST", "/nowhere", JSON + [("Content-Length", "100")])
        resp = c.read_response(timeout=2)
        assert_problem(resp, 404, "contract.unknown_path")
        assert c.wait_closed()
    assert up.count() == 0


def test_filtered_responses_on_one_connection(env, backend):
    """Held and filtered responses leave the connection in step: the
    next request on it gets its own answer."""
    gw, up = env
    backend.mode = "leak"
    with gw.client() as c:
        for _ in range(3):
            c.request("GET", "/community/api/v2/community/posts/recent")
            resp = c.read_response()
            assert resp.status == 200, resp
            assert resp.json() == [POST]
            c.request("GET", "/api/items/7")
            assert c.read_response().json() == {"id": 7, "name": "x"}
    assert up.connections <= 2
