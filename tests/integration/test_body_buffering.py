"""Routes with buffer_body: the request body is read whole, within
limits.max_buffered_body, parsed as JSON, and forwarded with a
Content-Length; every other route keeps streaming bodies as they come.

Each test checks what the client got and what reached the backend: a
refused body must never reach it, a buffered one must arrive whole and
framed by length."""

import json
import os
import subprocess
import time

import pytest

from harness import assert_problem, build_request

PEPPER = "body-buffering-test-pepper-0123456789abcdef"

JSON = [("Content-Type", "application/json")]


def routes():
    return [
        {"name": "buf", "path": "/buf", "prefix": True, "upstream": "demo",
         "buffer_body": True},
        {"name": "small", "path": "/small", "prefix": True,
         "upstream": "demo", "buffer_body": True, "max_body": "2k"},
        {"name": "keyed", "path": "/keyed", "prefix": True,
         "upstream": "demo", "buffer_body": True,
         "auth": {"methods": ["api_key"]}},
        {"name": "stream", "path": "/stream", "prefix": True,
         "upstream": "demo"},
    ]


def plain_routes():
    """The routes that need no identity section."""
    return [r for r in routes() if "auth" not in r]


def api_key(binary, workdir):
    """A fresh API key, its keys file and pepper in workdir."""
    pepper = os.path.join(workdir, "pepper")
    with open(pepper, "w") as f:
        f.write(PEPPER)
    os.chmod(pepper, 0o600)
    p = subprocess.run([binary, "key", "new", "--consumer", "c-body",
                        "--pepper-file", pepper], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
    key = next(ln for ln in lines if ln.startswith("aw_"))
    marker = next(ln for ln in lines if ln.startswith("Line to append"))
    line = lines[lines.index(marker) + 1]
    with open(os.path.join(workdir, "api-keys"), "w") as f:
        f.write(line + "\n")
    return key


class Env:
    def __init__(self, gw, up, key):
        self.gw = gw
        self.up = up
        self.key = key


@pytest.fixture
def env(gateways, upstream, apiward_bin, tmp_path):
    key = api_key(apiward_bin, str(tmp_path))
    ident = {"api_keys": {"file": os.path.join(str(tmp_path), "api-keys"),
                          "pepper_file": os.path.join(str(tmp_path),
                                                      "pepper")}}
    gw = gateways([upstream.addr], routes=routes(), identity=ident,
                  limits={"max_buffered_body": "64k"},
                  timeouts={"body": "1s"})
    return Env(gw, upstream, key)


def chunked(payload, size):
    """payload framed as chunks of at most size bytes, with a trailer."""
    out = b""
    for i in range(0, len(payload), size):
        part = payload[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\nX-Trailer: t\r\n\r\n"


def assert_length_framed(req, body):
    assert req.body == body
    assert req.framing == "length", req.head
    assert req.header("content-length") == str(len(body)), req.head
    assert "transfer-encoding" not in req.names(), req.head


def test_content_length_body_is_read_whole_and_forwarded(env):
    body = json.dumps({"owner_id": "u-1", "items": [1, 2, 3]}).encode()
    with env.gw.client() as c:
        c.request("POST", "/buf/orders", JSON, body)
        resp = c.read_response()
    assert resp.status == 200, resp
    assert_length_framed(env.up.last(), body)


def test_chunked_body_is_dechunked_and_forwarded_with_length(env):
    body = json.dumps({"k%d" % i: "v" * 50 for i in range(400)}).encode()
    assert len(body) > 16 * 1024   # past the first buffer: it must grow
    with env.gw.client() as c:
        c.send(build_request("PUT", "/buf/doc",
                             JSON + [("Transfer-Encoding", "chunked")]) +
               chunked(body, 1000))
        resp = c.read_response()
    assert resp.status == 200, resp
    assert_length_framed(env.up.last(), body)


def test_chunked_body_sent_in_pieces_is_reassembled(env):
    body = b'{"a": "' + b"x" * 3000 + b'"}'
    wire = build_request("POST", "/buf/slow",
                         JSON + [("Transfer-Encoding", "chunked")]) + \
        chunked(body, 700)
    with env.gw.client() as c:
        for i in range(0, len(wire), 333):
            c.send(wire[i:i + 333])
            time.sleep(0.005)
        resp = c.read_response()
    assert resp.status == 200, resp
    assert_length_framed(env.up.last(), body)


@pytest.mark.parametrize("path,size", [
    ("/buf/big", 64 * 1024 + 1),    # limits.max_buffered_body
    ("/small/big", 2049),           # the route's lower max_body
])
def test_declared_length_over_the_bound_is_refused_unread(env, path, size):
    with env.gw.client() as c:
        c.request("POST", path, JSON + [("Content-Length", str(size))])
        resp = c.read_response(timeout=2)
        assert_problem(resp, 413, "http.body_too_large")
        assert c.wait_closed(), "connection left open with a body unread"
    assert env.up.count() == 0


def test_length_at_the_bound_is_accepted(env):
    body = b'{"s": "' + b"y" * (2048 - 9) + b'"}'
    assert len(body) == 2048
    with env.gw.client() as c:
        c.request("POST", "/small/edge", JSON, body)
        resp = c.read_response()
    assert resp.status == 200, resp
    assert_length_framed(env.up.last(), body)


def test_chunked_body_outgrowing_the_bound_is_refused(env):
    body = b"[" + b"1," * (40 * 1024) + b"1]"
    with env.gw.client() as c:
        c.send(build_request("POST", "/buf/grow",
                             JSON + [("Transfer-Encoding", "chunked")]) +
               chunked(body, 4096))
        resp = c.read_response()
        assert_problem(resp, 413, "http.body_too_large")
        assert c.wait_closed()
    assert env.up.count() == 0


def test_slow_body_times_out(env):
    with env.gw.client() as c:
        c.request("POST", "/buf/slow", JSON + [("Content-Length", "20")])
        c.send(b'{"half":')
        t0 = time.monotonic()
        resp = c.read_response(timeout=5)
        waited = time.monotonic() - t0
        assert_problem(resp, 408, "http.body_timeout")
        assert c.wait_closed()
    assert 0.5 < waited < 4, "body timeout of 1s took %.2fs" % waited
    assert env.up.count() == 0
    entry = env.gw.wait_access_entries(1)[-1]
    assert entry["reason"] == "http.body_timeout"
    assert entry["stage"] == "body", entry


def test_client_leaving_mid_body_forwards_nothing(env):
    with env.gw.client() as c:
        c.request("POST", "/buf/gone", JSON + [("Content-Length", "100")])
        c.send(b'{"a":')
    time.sleep(0.3)
    assert env.up.count() == 0
    assert env.gw.get("/buf/after").status == 200


@pytest.mark.parametrize("body,why", [
    (b'{"a": 1,}', "json.syntax"),
    (b'{"a": 1, "a": 2}', "json.duplicate_key"),
    (b'{"a": "\xff"}', "json.bad_utf8"),
    (b'{"a": 1} trailing', "json.syntax"),
    (b"[" * 40 + b"]" * 40, "json.too_deep"),
])
def test_malformed_json_is_refused(env, body, why):
    with env.gw.client() as c:
        c.request("POST", "/buf/x", JSON, body)
        resp = c.read_response()
    assert_problem(resp, 400, "body.malformed_json")
    assert why in resp.json()["detail"], resp.json()
    assert env.up.count() == 0


@pytest.mark.parametrize("fields", [
    [("Content-Type", "text/plain")],
    [("Content-Type", "application/x-www-form-urlencoded")],
    [("Content-Type", "application/jsonx")],
    [("Content-Type", "application/+json")],
    [("Content-Type", "json")],
    [],
    [("Content-Type", "application/json"), ("Content-Type", "text/plain")],
])
def test_other_media_types_are_refused_unread(env, fields):
    with env.gw.client() as c:
        c.request("POST", "/buf/x", fields + [("Content-Length", "7"),
                                             ("Expect", "100-continue")])
        resp = c.read_response(timeout=2)
        assert_problem(resp, 415, "body.unsupported_media_type")
        assert c.wait_closed()
    assert env.up.count() == 0
    entry = env.gw.wait_access_entries(1)[-1]
    assert entry["stage"] == "body", entry


@pytest.mark.parametrize("ctype", [
    "application/json",
    "Application/JSON; charset=utf-8",
    "application/merge-patch+json",
    "application/vnd.example.order+JSON ; version=2",
])
def test_json_media_types_are_accepted(env, ctype):
    with env.gw.client() as c:
        c.request("PATCH", "/buf/x", [("Content-Type", ctype)], b'{"a":1}')
        resp = c.read_response()
    assert resp.status == 200, resp
    assert env.up.last().header("content-type") == ctype


def test_empty_body_goes_through(env):
    with env.gw.client() as c:
        c.send(build_request("POST", "/buf/empty",
                             [("Transfer-Encoding", "chunked")]) +
               b"0\r\n\r\n" + build_request("GET", "/buf/next"))
        resp = c.read_response()
        assert resp.status == 415, resp   # chunked: a body, of no type
    with env.gw.client() as c:
        c.request("POST", "/buf/empty", [("Content-Length", "0")])
        resp = c.read_response()
    assert resp.status == 200, resp
    assert env.up.last().body == b""


def test_expect_continue_is_answered_before_reading(env):
    body = b'{"x": [true, false, null]}'
    with env.gw.client() as c:
        c.request("POST", "/buf/cont",
                  JSON + [("Expect", "100-continue"),
                          ("Content-Length", str(len(body)))])
        interim = c.read_response(timeout=2)
        assert interim.status == 100, interim
        c.send(body)
        resp, interims = c.read_final()
    assert resp.status == 200, resp
    assert interims == [], "a second 100 Continue was sent"
    req = env.up.last()
    assert_length_framed(req, body)
    assert "expect" not in req.names()


def test_expect_continue_over_the_bound_gets_no_continue(env):
    with env.gw.client() as c:
        c.request("POST", "/buf/cont",
                  JSON + [("Expect", "100-continue"),
                          ("Content-Length", str(65 * 1024))])
        resp = c.read_response(timeout=2)
    assert_problem(resp, 413, "http.body_too_large")


def test_body_is_not_read_before_authentication(env):
    """An unknown caller gets its 401 before any 100 Continue: the gateway
    holds no body for it."""
    with env.gw.client() as c:
        c.request("POST", "/keyed/x",
                  JSON + [("Expect", "100-continue"),
                          ("Content-Length", "9")])
        resp = c.read_response(timeout=2)
        assert resp.status == 401, resp
    with env.gw.client() as c:
        c.request("POST", "/keyed/x",
                  JSON + [("X-API-Key", env.key),
                          ("Expect", "100-continue"),
                          ("Content-Length", "9")])
        assert c.read_response(timeout=2).status == 100
        c.send(b'{"k": 10}')
        resp, _ = c.read_final()
    assert resp.status == 200, resp
    assert_length_framed(env.up.last(), b'{"k": 10}')
    assert env.up.count() == 1


def test_pipelined_requests_after_a_buffered_body(env):
    one = b'{"n": 1}'
    two = b'{"n": 2, "pad": "' + b"z" * 5000 + b'"}'
    wire = (build_request("POST", "/buf/1", JSON, one) +
            build_request("GET", "/buf/2") +
            build_request("POST", "/buf/3",
                          JSON + [("Transfer-Encoding", "chunked")]) +
            chunked(two, 999) +
            build_request("POST", "/stream/4", body=b"raw bytes") +
            build_request("POST", "/buf/5", JSON, b"[5]"))
    with env.gw.client() as c:
        c.send(wire)
        statuses = [c.read_response().status for _ in range(5)]
        assert c.pending() == b""
    assert statuses == [200] * 5
    got = [(r.target, r.body) for r in env.up.requests]
    assert got == [("/buf/1", one), ("/buf/2", b""), ("/buf/3", two),
                   ("/stream/4", b"raw bytes"), ("/buf/5", b"[5]")]


def test_keep_alive_after_buffered_bodies(env):
    """A body read whole is consumed to its end: the client connection
    serves the next request."""
    with env.gw.client() as c:
        for i in range(5):
            c.request("POST", "/buf/%d" % i, JSON, b"[%d]" % i)
            resp = c.read_response()
            assert resp.status == 200, resp
            assert not resp.wants_close(), resp
    assert env.up.count() == 5


def test_other_routes_keep_streaming_chunked_bodies(env):
    body = b"not json at all" * 100
    with env.gw.client() as c:
        c.send(build_request("POST", "/stream/x",
                             [("Transfer-Encoding", "chunked"),
                              ("Content-Type", "text/plain")]) +
               chunked(body, 256))
        resp = c.read_response()
    assert resp.status == 200, resp
    req = env.up.last()
    assert req.body == body
    assert req.framing == "chunked", "a streaming route lost its framing"


def test_buffered_body_reaches_the_backend_after_retry(gateways, upstream,
                                                       tmp_path):
    """A connect failure is retried on the next server; the body read
    whole is sent there from its start."""
    dead = "127.0.0.1:1"
    gw = gateways([dead, upstream.addr], routes=plain_routes(),
                  upstream={"max_fails": 0})
    body = b'{"retry": "' + b"r" * 30000 + b'"}'
    for _ in range(2):
        with gw.client() as c:
            c.request("PUT", "/buf/r", JSON, body)
            resp = c.read_response()
        assert resp.status == 200, resp
        assert_length_framed(upstream.last(), body)


@pytest.mark.parametrize("value", ["512", "65m", "lots"])
def test_max_buffered_body_out_of_range_is_refused(gateways, upstream,
                                                   value):
    gw = gateways([upstream.addr], limits={"max_buffered_body": value},
                  start=False)
    p = subprocess.run([gw.binary, "check", "-c", gw.config_path],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "max_buffered_body" in p.stderr + p.stdout


def test_buffer_body_must_be_a_boolean(gateways, upstream):
    r = plain_routes()
    r[0]["buffer_body"] = "sometimes"
    gw = gateways([upstream.addr], routes=r, start=False)
    p = subprocess.run([gw.binary, "check", "-c", gw.config_path],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "buffer_body" in p.stderr + p.stdout
