"""What the gateway adds, removes and rewrites on the way through."""

import re

import pytest

from harness import (HOP_BY_HOP, TOKEN_RE, TRACEPARENT_RE, RawClient,
                     assert_problem, http_response)


def forwarded_request(shared, headers, target="/api/x", source=None):
    with RawClient(shared.gw.port, source=source) as c:
        c.request("GET", target, headers)
        resp = c.read_response()
    assert resp.status == 200, resp
    return shared.up.last()


def test_head_is_reserialised(shared):
    req = forwarded_request(shared, [("X-Pad", "   spaced value   "),
                                     ("x-lower", "v"), ("Accept", "*/*")],
                            target="/api/x?q=1")
    assert req.head.startswith(b"GET /api/x?q=1 HTTP/1.1\r\n"), req.head
    assert not re.search(rb"(?<!\r)\n", req.head), "bare LF in forwarded head"
    for name, value in req.fields:
        assert TOKEN_RE.match(name), "bad field name %r" % name
        assert value == value.strip(" \t"), "unstripped value %r" % value
    assert req.header("x-pad") == "spaced value"
    assert req.header("x-lower") == "v"
    assert len(req.headers("host")) == 1


def test_hop_by_hop_fields_are_removed(shared):
    req = forwarded_request(shared, [
        ("Connection", "keep-alive, X-Secret-Hop"),
        ("X-Secret-Hop", "1"),
        ("Keep-Alive", "timeout=5"),
        ("TE", "trailers"),
        ("Upgrade", "foo/1"),
        ("Proxy-Connection", "keep-alive"),
        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
        ("X-End-To-End", "kept"),
    ])
    leaked = [n for n in req.names()
              if n in HOP_BY_HOP + ("x-secret-hop",) and n != "connection"]
    assert not leaked, "hop-by-hop fields forwarded: %r" % leaked
    conn = (req.header("connection") or "").lower()
    assert "x-secret-hop" not in conn
    assert req.header("x-end-to-end") == "kept"


def test_untrusted_client_cannot_forge_forwarding_fields(shared):
    req = forwarded_request(shared, [
        ("X-Forwarded-For", "203.0.113.7"),
        ("X-Forwarded-Proto", "https"),
        ("Forwarded", "for=203.0.113.7;proto=https"),
    ])
    assert req.headers("x-forwarded-for") == ["127.0.0.1"], req.fields
    assert req.headers("x-forwarded-proto") == ["http"], req.fields
    fwd = ",".join(req.headers("forwarded"))
    assert re.search(r'for="?127\.0\.0\.1"?', fwd), "Forwarded is %r" % fwd
    assert "proto=http" in fwd.replace('"', ""), "Forwarded is %r" % fwd
    assert "203.0.113.7" not in fwd and "https" not in fwd


def test_forwarding_fields_set_without_client_values(shared):
    req = forwarded_request(shared, [])
    assert req.header("x-forwarded-for") == "127.0.0.1"
    assert req.header("x-forwarded-proto") == "http"
    assert re.search(r'for="?127\.0\.0\.1"?', req.header("forwarded") or "")


def test_trusted_proxy_chain_is_extended(shared):
    """A peer inside trusted_proxies (127.0.0.2/32) keeps its chain."""
    req = forwarded_request(shared, [("X-Forwarded-For", "203.0.113.7")],
                            source="127.0.0.2")
    chain = [p.strip() for p in ",".join(req.headers("x-forwarded-for"))
             .split(",")]
    assert chain == ["203.0.113.7", "127.0.0.2"], chain


REQUEST_ID_RE = re.compile(r"^[\x21-\x7e]{8,200}$")


def test_request_id_created(shared):
    req = forwarded_request(shared, [])
    rid = req.header("x-request-id")
    assert rid and REQUEST_ID_RE.match(rid), "X-Request-Id is %r" % rid
    other = forwarded_request(shared, []).header("x-request-id")
    assert other != rid, "two requests got the same id"


def test_valid_request_id_is_kept(shared):
    rid = "0f8e7d6c-5b4a-4392-8170-6e5d4c3b2a19"
    req = forwarded_request(shared, [("X-Request-Id", rid)])
    assert req.headers("x-request-id") == [rid]


@pytest.mark.parametrize("bad", ['evil" <id>', "x" * 1000])
def test_invalid_request_id_is_replaced(shared, bad):
    req = forwarded_request(shared, [("X-Request-Id", bad)])
    ids = req.headers("x-request-id")
    assert len(ids) == 1 and ids[0] != bad, ids
    assert REQUEST_ID_RE.match(ids[0])


TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_valid_traceparent_is_propagated(shared):
    sent = "00-%s-00f067aa0ba902b7-01" % TRACE
    req = forwarded_request(shared, [("traceparent", sent)])
    values = req.headers("traceparent")
    assert len(values) == 1, values
    m = TRACEPARENT_RE.match(values[0])
    assert m, "forwarded traceparent %r is malformed" % values[0]
    assert m.group(1) == TRACE, "trace id changed: %r" % values[0]
    assert m.group(2) != "0" * 16


def test_traceparent_created_when_absent(shared):
    req = forwarded_request(shared, [])
    tp = req.header("traceparent")
    m = TRACEPARENT_RE.match(tp or "")
    assert m, "created traceparent %r is malformed" % tp
    assert m.group(1) != "0" * 32 and m.group(2) != "0" * 16


@pytest.mark.parametrize("bad", [
    "garbage",
    "00-%s-00f067aa0ba902b7-01" % ("0" * 32),
    "00-%s-%s-01" % (TRACE, "0" * 16),
    "00-%s-00f067aa0ba902b7-01" % TRACE.upper(),
    "ff-%s-00f067aa0ba902b7-01" % TRACE,
    "00-%s-00f067aa0ba902b7" % TRACE,
])
def test_malformed_traceparent_is_replaced(shared, bad):
    req = forwarded_request(shared, [("traceparent", bad)])
    values = req.headers("traceparent")
    assert len(values) == 1, values
    m = TRACEPARENT_RE.match(values[0])
    assert m, "traceparent %r forwarded for %r" % (values[0], bad)
    assert values[0] != bad
    assert m.group(1) != "0" * 32 and m.group(2) != "0" * 16


def check_server_header(resp):
    for server in resp.headers("server"):
        assert not re.search(r"\d", server), \
            "Server header reveals a version: %r" % server


def test_security_headers_on_proxied_response(shared):
    resp = shared.gw.get("/api/x")
    assert resp.status == 200
    assert resp.header("x-content-type-options") == "nosniff", resp.fields
    check_server_header(resp)


def test_security_headers_on_gateway_error(shared):
    resp = shared.gw.get("/nope")
    assert_problem(resp, 404, "route.not_found")
    assert resp.header("x-content-type-options") == "nosniff", resp.fields
    check_server_header(resp)


def test_response_hop_by_hop_fields_are_removed(gateways, upstreams):
    up = upstreams(lambda req, ctx: http_response(200, b"ok", [
        ("Connection", "X-Up-Hop"), ("X-Up-Hop", "1"),
        ("Keep-Alive", "timeout=99"), ("Proxy-Authenticate", "Basic"),
        ("X-Up-Kept", "yes")]))
    gw = gateways([up.addr])
    resp = gw.get("/api/x")
    assert resp.status == 200 and resp.body == b"ok", resp
    names = [n.lower() for n, _ in resp.fields]
    for hop in ("x-up-hop", "keep-alive", "proxy-authenticate"):
        assert hop not in names, "%s forwarded to the client" % hop
    assert resp.header("x-up-kept") == "yes"
