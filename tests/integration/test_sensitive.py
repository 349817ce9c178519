"""Sensitive data in responses (inspect.responses): a real backend
answers card numbers, IBANs, JWTs minted with PyJWT, PEM private keys
made by cryptography and an API key made by `apiward key new`; the
gateway logs them (an event naming kinds, offsets and masked forms, never
the value), masks them (same length, valid JSON, Content-Length right) or
blocks the response (502 inspect.sensitive_data), for bodies sent with a
Content-Length and chunked, and on a route whose contract filters its
responses too. Compressed and oversized bodies pass unscanned with an
event."""

import gzip
import json
import os
import subprocess

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from harness import assert_problem, http_response, wait_for

CARD = "4111 1111 1111 1111"
AMEX = 378282246310005
IBAN = "DE89370400440532013000"
CLEAN = {"id": "ord_7f3a9c21", "ts": 1716212345678,
         "uuid": "123e4567-e89b-12d3-a456-426614174000",
         "order_no": "2024011512345678", "phone": "+1 (415) 555-0132",
         "price": 1249.99, "note": "leave it at the back door"}

ITEMS = {
    "openapi": "3.0.3",
    "info": {"title": "items", "version": "1"},
    "paths": {"/items/{id}": {"get": {
        "parameters": [{"name": "id", "in": "path", "required": True,
                        "schema": {"type": "integer"}}],
        "responses": {"200": {"description": "ok", "content": {
            "application/json": {"schema": {
                "type": "object",
                "properties": {"id": {"type": "integer"},
                               "name": {"type": "string"}}}}}}}}}},
}


def make_secrets(apiward_bin, tmp_path):
    """The values the backend leaks, each made by the real tool."""
    token = jwt.encode({"sub": "alice", "scope": "admin"}, "k" * 32,
                       algorithm="HS256")
    rsa_pem = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption()).decode()
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    pepper = tmp_path / "pepper"
    pepper.write_bytes(os.urandom(48).hex().encode())
    pepper.chmod(0o600)
    out = subprocess.run([apiward_bin, "key", "new", "--consumer", "t",
                          "--pepper-file", str(pepper)], check=True,
                         capture_output=True, text=True).stdout
    key = next(w for w in out.split() if w.startswith("aw_"))
    return {"jwt": token, "rsa": rsa_pem, "ec": ec_pem, "api_key": key}


class Backend:
    """Answers each path with a document; chunked when the query asks."""

    def __init__(self, secrets):
        self.s = secrets

    def doc(self, path):
        s = self.s
        if path.endswith("/cards"):
            return {"pan": CARD, "amex": AMEX, "clean": CLEAN}
        if path.endswith("/iban"):
            return {"iban": IBAN, "clean": CLEAN}
        if path.endswith("/jwt"):
            return {"token": s["jwt"], "clean": CLEAN}
        if path.endswith("/pem"):
            return {"rsa": s["rsa"], "ec": s["ec"]}
        if path.endswith("/key"):
            return {"key": s["api_key"], "clean": CLEAN}
        if path.endswith("/all"):
            return {"pan": CARD, "amex": AMEX, "iban": IBAN,
                    "token": s["jwt"], "ec": s["ec"], "key": s["api_key"],
                    "clean": CLEAN}
        if path.startswith("/items/"):
            return {"id": 7, "name": CARD, "pan": "5555555555554444"}
        if path.endswith("/big"):
            return {"pan": CARD, "pad": "x" * 8192}
        return CLEAN

    def __call__(self, req, ctx):
        path = req.target.split("?")[0]
        body = json.dumps(self.doc(path)).encode()
        ctype = "application/json"
        headers = [("Content-Type", ctype)]
        if path.endswith("/text"):
            body = ("card %s on file\n" % CARD).encode()
            headers = [("Content-Type", "text/plain; charset=utf-8")]
        if path.endswith("/gzip"):
            body = gzip.compress(json.dumps({"pan": CARD}).encode())
            headers.append(("Content-Encoding", "gzip"))
        if path.endswith("/image"):
            headers = [("Content-Type", "application/octet-stream")]
        if "chunked" in req.target or any(n.lower() == "x-chunked"
                                          for n, _ in req.fields):
            head = ("HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n" % headers[0][1])
            chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 37]),
                                                 body[i:i + 37])
                              for i in range(0, len(body), 37))
            return head.encode() + chunks + b"0\r\n\r\n"
        return http_response(200, body, headers)


def routes():
    def scanned(name, mode):
        return {"name": name, "path": "/%s/" % name, "prefix": True,
                "upstream": "demo",
                "inspect": {"responses": {"sensitive": mode}}}
    return [
        scanned("log", "log"),
        scanned("mask", "mask"),
        scanned("block", "block"),
        {"name": "small", "path": "/small/", "prefix": True,
         "upstream": "demo",
         "inspect": {"responses": {"sensitive": "mask", "max_body": "4k"}}},
        {"name": "cards_only", "path": "/cards_only/", "prefix": True,
         "upstream": "demo",
         "inspect": {"responses": {"sensitive": "block", "kinds": ["card"]}}},
        {"name": "items", "path": "/items/", "prefix": True,
         "upstream": "demo", "contract": "items",
         "inspect": {"responses": {"sensitive": "mask"}}},
        {"name": "plain", "path": "/", "prefix": True, "upstream": "demo",
         "inspect": "off"},
    ]


@pytest.fixture
def env(apiward_bin, gateways, upstreams, tmp_path):
    secrets = make_secrets(apiward_bin, tmp_path)
    up = upstreams(Backend(secrets), name="leaky")
    spec = tmp_path / "items.json"
    spec.write_text(json.dumps(ITEMS))
    events = tmp_path / "events.log"
    gw = gateways([up.addr], routes=routes(),
                  inspect={"responses": {"sensitive": "log"}},
                  contracts=[{"name": "items", "openapi": str(spec),
                              "responses": "filter"}],
                  events={"file": str(events)})
    gw.events_path = str(events)
    return gw, secrets


def events(gw, pred, timeout=3):
    def read():
        try:
            with open(gw.events_path) as f:
                return [e for e in (json.loads(x) for x in f if x.strip())
                        if pred(e)]
        except OSError:
            return []
    return wait_for(read, timeout, what="a matching event")


def by_path(path):
    return lambda e: e.get("url", {}).get("path") == path


def assert_no_secret(text, secrets):
    for value in [CARD, str(AMEX), IBAN] + list(secrets.values()):
        assert value not in text
    for pem in (secrets["rsa"], secrets["ec"]):
        assert pem.split("\n")[1] not in text


@pytest.mark.parametrize("chunked", [False, True])
def test_log_passes_and_names_findings(env, chunked):
    gw, secrets = env
    target = "/log/all" + ("?chunked" if chunked else "")
    resp = gw.get(target)
    assert resp.status == 200, resp
    doc = resp.json()
    assert doc["pan"] == CARD and doc["key"] == secrets["api_key"]
    assert resp.header("content-length") == str(len(resp.body))
    [ev] = events(gw, by_path("/log/all"))
    assert ev["event"]["action"] == "inspect.sensitive_data"
    assert ev["event"]["category"] == ["intrusion_detection"]
    assert ev["apiward"]["outcome"] == "monitored"
    assert ev["rule"]["id"] == ("card:2 iban:1 jwt:1 private_key:1 "
                                "api_key:1")
    findings = ev["apiward"]["findings"]
    assert "card@" in findings and "**** **** **** 1111" in findings
    assert "card@39+15 999999999990005" in findings
    assert "aw_" + secrets["api_key"].split("_")[1] + "_***" in findings
    assert_no_secret(json.dumps(ev), secrets)


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("what", ["cards", "iban", "jwt", "pem", "key",
                                  "all"])
def test_mask_keeps_length_and_json(env, what, chunked):
    gw, secrets = env
    backend = Backend(secrets)
    sent = json.dumps(backend.doc("/" + what)).encode()
    resp = gw.get("/mask/" + what + ("?chunked" if chunked else ""))
    assert resp.status == 200, resp
    assert len(resp.body) == len(sent)
    assert resp.header("content-length") == str(len(sent))
    assert resp.header("transfer-encoding") is None
    doc = resp.json()
    assert_no_secret(resp.body.decode(), secrets)
    if what in ("cards", "all"):
        assert doc["pan"] == "**** **** **** 1111"
        assert doc["amex"] == 999999999990005
    if what in ("iban", "all"):
        assert doc["iban"] == "*" * len(IBAN)
    if what in ("jwt", "all"):
        assert set(doc["token"]) == {"*"}
    if what == "pem":
        for k in ("rsa", "ec"):
            assert doc[k].startswith("*****") and "\n" in doc[k]
            assert len(doc[k]) == len(secrets[k])
    if what in ("key", "all"):
        head = "aw_" + secrets["api_key"].split("_")[1] + "_"
        assert doc["key"] == head + "*" * 43
    if what != "pem":
        assert doc["clean"] == CLEAN
    ev = events(gw, by_path("/mask/" + what))
    assert ev[-1]["apiward"]["outcome"] == "masked"


def test_clean_body_passes_untouched(env):
    gw, _ = env
    resp = gw.get("/mask/clean")
    assert resp.status == 200, resp
    assert resp.json() == CLEAN
    assert resp.body == json.dumps(CLEAN).encode()


def test_text_body_is_masked(env):
    gw, _ = env
    resp = gw.get("/mask/text")
    assert resp.status == 200, resp
    assert resp.body == b"card **** **** **** 1111 on file\n"


@pytest.mark.parametrize("chunked", [False, True])
def test_block_answers_502(env, chunked):
    gw, secrets = env
    resp = gw.get("/block/jwt" + ("?chunked" if chunked else ""))
    assert_problem(resp, 502, "inspect.sensitive_data")
    assert_no_secret(resp.body.decode(), secrets)
    [ev] = events(gw, lambda e: by_path("/block/jwt")(e) and
                  e["apiward"]["outcome"] == "denied")
    assert ev["rule"]["id"] == "jwt:1"
    assert gw.get("/block/clean").status == 200
    entry = [e for e in gw.wait_access_entries(2)
             if e.get("path") == "/block/jwt"][-1]
    assert entry["status"] == 502
    assert entry["reason"] == "inspect.sensitive_data"


def test_kinds_limit_what_is_looked_for(env):
    gw, _ = env
    assert gw.get("/cards_only/jwt").status == 200
    assert_problem(gw.get("/cards_only/cards"), 502, "inspect.sensitive_data")


def test_contract_filter_then_mask(env):
    """The contract drops what its schema does not list, then the scan
    masks what is left: the dropped card is gone, the kept one masked."""
    gw, _ = env
    for headers in ([], [("X-Chunked", "1")]):
        resp = gw.get("/items/7", headers)
        assert resp.status == 200, resp
        assert resp.json() == {"id": 7, "name": "**** **** **** 1111"}
        assert resp.header("content-length") == str(len(resp.body))
        assert b"5555" not in resp.body


@pytest.mark.parametrize("path", ["/mask/gzip", "/small/big",
                                  "/small/big?chunked"])
def test_unscannable_passes_with_event(env, path):
    gw, _ = env
    resp = gw.get(path)
    assert resp.status == 200, resp
    if path.endswith("gzip"):
        assert json.loads(gzip.decompress(resp.body))["pan"] == CARD
    else:
        assert resp.json()["pan"] == CARD
    why = "compressed" if "gzip" in path else "too_large"
    [ev] = events(gw, lambda e: by_path(path.split("?")[0])(e) and
                  e["event"]["action"] == "inspect.sensitive_unscanned")
    assert ev["rule"]["id"] == why


def test_other_types_and_routes_are_not_scanned(env):
    gw, _ = env
    assert gw.get("/mask/image").status == 200
    resp = gw.get("/cards")        # inspect: off
    assert resp.json()["pan"] == CARD
    gw.get("/log/clean")
    gw.get("/log/cards")           # an event marks that events are out
    events(gw, by_path("/log/cards"))
    with open(gw.events_path) as f:
        paths = [json.loads(x).get("url", {}).get("path") for x in f]
    assert not set(paths) & {"/mask/image", "/cards", "/log/clean"}


@pytest.mark.parametrize("block, message", [
    ({"responses": {"sensitive": "shout"}}, "off, log, mask, block"),
    ({"responses": {"kinds": ["card", "passport"]}}, "passport"),
    ({"responses": {"kinds": []}}, "empty"),
    ({"responses": {"max_body": "1g"}}, "max_body"),
])
def test_bad_settings_are_refused(apiward_bin, tmp_path, block, message):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(json.dumps({
        "server": {"listen": ["127.0.0.1:1"]},
        "upstreams": {"u": {"servers": ["127.0.0.1:2"]}},
        "inspect": block,
        "routes": [{"name": "r", "path": "/", "prefix": True,
                    "upstream": "u", "authz": {"public": True}}]}))
    out = subprocess.run([apiward_bin, "check", "-c", str(cfg)],
                         capture_output=True, text=True)
    assert out.returncode != 0
    assert "inspect.responses" in out.stdout + out.stderr
    assert message in out.stdout + out.stderr
