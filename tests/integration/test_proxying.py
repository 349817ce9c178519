"""Moving requests and responses through the gateway: connection reuse,
pipelining, bodies in both directions, streaming, timeouts and upstream
failures."""

import hashlib
import random
import threading
import time

import pytest

from harness import (ConnectionClosed, RawClient, assert_problem,
                     build_request, free_port, http_response, wait_for)


def test_upstream_connections_are_reused(gw, upstream):
    with gw.client() as c:
        for i in range(50):
            resp = c.get("/api/ka/%d" % i)
            assert resp.status == 200, resp
    assert upstream.count() == 50
    assert upstream.connections <= 2, \
        "50 keep-alive requests used %d upstream connections" \
        % upstream.connections


def test_upstream_pool_outlives_client_connections(gw, upstream):
    for i in range(20):
        resp = gw.get("/api/fresh/%d" % i)
        assert resp.status == 200, resp
    # Two workers, each with its own pool, may each open one or two.
    assert upstream.connections <= 4, \
        "20 requests on fresh client connections used %d upstream " \
        "connections" % upstream.connections


def test_pipelined_requests_answered_in_order(gateways, upstreams):
    def handler(req, ctx):
        if req.path == "/api/slow":
            ctx.sleep(0.3)
        return http_response(200, req.target)

    up = upstreams(handler)
    gw = gateways([up.addr])
    with gw.client() as c:
        c.send(build_request("GET", "/api/slow") +
               build_request("GET", "/api/b") +
               build_request("GET", "/api/c"))
        bodies = [c.read_response().body for _ in range(3)]
    assert bodies == [b"/api/slow", b"/api/b", b"/api/c"]


def test_expect_continue_body_gets_through(gw, upstream):
    with gw.client() as c:
        c.request("POST", "/api/upload",
                  [("Expect", "100-continue"), ("Content-Length", "11")])
        interim = c.read_response(timeout=2)
        assert interim.status == 100, \
            "expected 100 Continue before the body, got %r" % interim
        c.send(b"hello world")
        resp, _ = c.read_final()
    assert resp.status == 200, resp
    assert resp.json()["body"] == "hello world"
    assert upstream.last().body == b"hello world"


def test_expect_continue_over_limit_is_refused_at_once(gw, upstream):
    with gw.client() as c:
        c.request("POST", "/api/upload",
                  [("Expect", "100-continue"), ("Content-Length", "70000")])
        resp = c.read_response(timeout=2)
    assert_problem(resp, 413, "http.body_too_large")
    assert upstream.count() == 0


def no_body_handler(req, ctx):
    if req.path == "/api/204":
        return b"HTTP/1.1 204 No Content\r\nX-Kind: 204\r\n\r\n"
    if req.path == "/api/304":
        return (b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n"
                b"Content-Length: 50\r\n\r\n")
    if req.method == "HEAD":
        return b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
    return http_response(200, b"after")


@pytest.mark.parametrize("method,path,status", [
    ("HEAD", "/api/head", 200),
    ("GET", "/api/204", 204),
    ("GET", "/api/304", 304),
])
def test_bodiless_responses_keep_framing(gateways, upstreams, method, path,
                                         status):
    """A HEAD answer, a 204 and a 304 carry no body: the next response on
    the same connection must start right after their head."""
    up = upstreams(no_body_handler)
    gw = gateways([up.addr])
    with gw.client() as c:
        c.send(build_request(method, path) + build_request("GET", "/api/n"))
        first = c.read_response(head_request=(method == "HEAD"))
        assert first.status == status, first
        if method == "HEAD":
            assert first.header("content-length") == "1234", first
        second = c.read_response()
        assert second.status == 200 and second.body == b"after", second
        assert c.pending() == b"", "stray bytes after the responses"


def test_chunked_request_body_is_forwarded(gw, upstream):
    body = (b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n"
            b"X-Trailer: t\r\n\r\n")
    with gw.client() as c:
        c.send(build_request("POST", "/api/chunked",
                             [("Transfer-Encoding", "chunked")]) + body +
               build_request("GET", "/api/after"))
        resp = c.read_response()
        assert resp.status == 200, resp
        assert c.read_response().status == 200
    req = upstream.requests[0]
    assert req.body == b"hello world"
    assert req.framing in ("length", "chunked")
    names = req.names()
    assert not ("content-length" in names and
                "transfer-encoding" in names), req.head
    if req.framing == "length":
        assert req.header("content-length") == "11"
    assert upstream.requests[1].target == "/api/after"


def test_large_request_body_is_forwarded_intact(gw, upstream):
    body = random.Random(7).randbytes(900 * 1024)
    with gw.client() as c:
        c.request("PUT", "/files/blob", body=body)
        resp = c.read_response(timeout=10)
    assert resp.status == 200, resp
    doc = resp.json()
    assert doc["body_len"] == len(body)
    assert doc["body_sha256"] == hashlib.sha256(body).hexdigest()


def test_chunked_response_is_streamed(gateways, upstreams):
    go_on = threading.Event()

    def handler(req, ctx):
        ctx.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\nfirst\r\n")
        go_on.wait(5)
        ctx.send(b"4\r\nlast\r\n0\r\n\r\n")

    up = upstreams(handler)
    gw = gateways([up.addr])
    with gw.client() as c:
        c.request("GET", "/api/stream")
        deadline = time.monotonic() + 3
        seen = b""
        while b"first" not in seen and time.monotonic() < deadline:
            c.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = c.sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            seen += data
        go_on.set()
        assert b"first" in seen, \
            "first chunk not delivered while the upstream held the last " \
            "one; got %r" % seen
        c.reader.buf = seen
        resp = c.read_response()
    assert resp.status == 200
    assert resp.body == b"firstlast"


def test_ten_mib_response_is_streamed_intact(gateways, upstreams):
    blob = random.Random(3).randbytes(10 * 1024 * 1024)

    def handler(req, ctx):
        ctx.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n"
                 % len(blob))
        for i in range(0, len(blob), 256 * 1024):
            ctx.send(blob[i:i + 256 * 1024])

    up = upstreams(handler)
    gw = gateways([up.addr])
    with gw.client() as c:
        c.request("GET", "/api/big")
        resp = c.read_response(timeout=20)
    assert resp.status == 200
    assert len(resp.body) == len(blob)
    assert hashlib.sha256(resp.body).digest() == \
        hashlib.sha256(blob).digest()


def test_upstream_read_timeout_is_504(gateways, upstreams):
    def handler(req, ctx):
        ctx.sleep(3)
        return http_response(200, b"late")

    up = upstreams(handler)
    routes = [{"name": "api", "path": "/api", "prefix": True,
               "upstream": "demo", "read_timeout": "1s"}]
    gw = gateways([up.addr], routes=routes,
                  upstream={"retry_idempotent": False})
    t0 = time.monotonic()
    resp = gw.get("/api/slow", timeout=6)
    elapsed = time.monotonic() - t0
    assert_problem(resp, 504, "upstream.timeout")
    assert 0.8 <= elapsed < 2.5, "504 after %.1fs, read_timeout 1s" % elapsed


def test_upstream_closing_mid_response_closes_client(gateways, upstreams):
    def handler(req, ctx):
        ctx.send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" +
                 b"x" * 100)
        ctx.close()

    up = upstreams(handler)
    gw = gateways([up.addr])
    with gw.client() as c:
        c.request("GET", "/api/cut")
        try:
            resp = c.read_response(timeout=5)
        except ConnectionClosed:
            resp = None
        if resp is not None:
            assert resp.status >= 500 or len(resp.body) < 1000, \
                "a truncated upstream body was completed: %r" % resp
            closed = c.wait_closed(3)
        else:
            closed = True
        assert closed, "client connection left open after upstream cut"


def test_upstream_closing_mid_chunked_response_closes_client(gateways,
                                                             upstreams):
    def handler(req, ctx):
        ctx.send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"5\r\nhello\r\n")
        ctx.close()

    up = upstreams(handler)
    gw = gateways([up.addr])
    with gw.client() as c:
        c.request("GET", "/api/cut")
        deadline = time.monotonic() + 5
        data = b""
        try:
            data = c.reader.read_to_eof(deadline)
            closed = c.reader.eof
        except OSError:
            closed = False
        assert closed, "client connection left open after upstream cut"
        head, _, rest = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 200"):
            assert not rest.endswith(b"0\r\n\r\n"), \
                "truncated chunked body was terminated as if complete"


@pytest.mark.parametrize("answer", [
    b"NOT HTTP AT ALL\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
])
def test_bad_upstream_response_is_502(gateways, upstreams, answer):
    def handler(req, ctx):
        ctx.send(answer)
        ctx.close()

    up = upstreams(handler)
    gw = gateways([up.addr])
    resp = gw.get("/api/bad")
    assert_problem(resp, 502, "upstream.bad_response")


def test_refused_upstream_is_502(gateways):
    dead = "127.0.0.1:%d" % free_port()
    gw = gateways([dead], upstream={"max_fails": 0})
    resp = gw.get("/api/x")
    assert_problem(resp, 502, "upstream.unavailable")


def test_idle_client_connection_is_closed(gateways, upstream):
    gw = gateways([upstream.addr], timeouts={"idle": "1s"})
    with gw.client() as c:
        assert c.get("/api/x").status == 200
        t0 = time.monotonic()
        assert c.wait_closed(4), "idle connection kept past 4s (idle: 1s)"
        assert time.monotonic() - t0 >= 0.5


def test_keepalive_requests_limit(gateways, upstream):
    gw = gateways([upstream.addr], server={"keepalive_requests": 3})
    with gw.client() as c:
        for i in range(3):
            c.request("GET", "/api/%d" % i)
            last = c.read_response()
            assert last.status == 200
        assert c.wait_closed(3), "connection kept after keepalive_requests"


def test_concurrent_clients(gw, upstream):
    """Many clients at once all get their own answers."""
    failures = []

    def worker(n):
        try:
            with RawClient(gw.port) as c:
                for i in range(10):
                    target = "/api/c%d/%d" % (n, i)
                    resp = c.get(target)
                    if resp.status != 200 or resp.json()["target"] != target:
                        failures.append((target, resp))
        except Exception as e:
            failures.append((n, repr(e)))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert not failures, failures[:5]
    wait_for(lambda: upstream.count() == 160, 2, what="160 requests")


def drop_first_connection(req, ctx):
    """Read the first request of the first connection, then hang up."""
    if ctx.conn_id == 1:
        ctx.close()
        return None
    return http_response(200, req.method)


def test_idempotent_get_is_retried_once(gateways, upstreams):
    up = upstreams(drop_first_connection)
    gw = gateways([up.addr])
    resp = gw.get("/api/retry")
    assert resp.status == 200 and resp.body == b"GET", resp
    assert [r.conn_id for r in up.requests] == [1, 2], \
        "expected one retry on a fresh connection"


def test_post_is_not_retried(gateways, upstreams):
    up = upstreams(drop_first_connection)
    gw = gateways([up.addr])
    with gw.client() as c:
        c.request("POST", "/api/once", body=b"pay once")
        resp = c.read_response()
    assert_problem(resp, 502, "upstream.*")
    assert up.count() == 1, "a POST was sent %d times" % up.count()


def test_stale_pooled_connections_do_not_fail_gets(gw, upstream):
    for i in range(4):
        assert gw.get("/api/warm/%d" % i).status == 200
    upstream.drop_connections()
    time.sleep(0.1)
    statuses = [gw.get("/api/after/%d" % i).status for i in range(10)]
    assert statuses == [200] * 10, statuses


def test_upstream_connection_close_is_respected(gateways, upstreams):
    def handler(req, ctx):
        ctx.close()
        return http_response(200, req.target, [("Connection", "close")])

    up = upstreams(handler)
    gw = gateways([up.addr])
    with gw.client() as c:
        for i in range(5):
            resp = c.get("/api/cc/%d" % i)
            assert resp.status == 200, resp
            assert resp.body == b"/api/cc/%d" % i
    assert up.connections == 5


def test_close_delimited_upstream_body_is_delivered(gateways, upstreams):
    body = random.Random(5).randbytes(50000)

    def handler(req, ctx):
        ctx.send(b"HTTP/1.1 200 OK\r\nContent-Type: x/y\r\n\r\n" + body)
        ctx.close()

    up = upstreams(handler)
    gw = gateways([up.addr])
    with gw.client() as c:
        c.request("GET", "/api/eof")
        resp = c.read_response(timeout=5)
    assert resp.status == 200
    assert resp.body == body


def test_slow_body_times_out(gateways, upstream):
    gw = gateways([upstream.addr], timeouts={"body": "1s"})
    with gw.client() as c:
        c.request("POST", "/api/slowbody", [("Content-Length", "10")])
        c.send(b"12345")
        t0 = time.monotonic()
        resp = c.read_response(timeout=4)
        elapsed = time.monotonic() - t0
        assert_problem(resp, 408, "http.body_timeout")
        assert elapsed < 2.5, "408 after %.1fs, body timeout 1s" % elapsed
        assert c.wait_closed(3)


def test_pipelined_bad_request_after_good_one(gw, upstream):
    with gw.client() as c:
        c.send(build_request("GET", "/api/good") +
               b"GET /api/bad HTTP/1.1\r\n\r\n")
        first = c.read_response()
        assert first.status == 200, first
        second = c.read_response()
        assert_problem(second, 400, "http.missing_host")
        assert c.wait_closed(3)
    assert [r.target for r in upstream.requests] == ["/api/good"]


def test_large_header_within_limits_is_forwarded(gw, upstream):
    value = "v" * 12000
    with gw.client() as c:
        resp = c.get("/api/bighead", [("X-Large", value)])
    assert resp.status == 200, resp
    assert upstream.last().header("x-large") == value


@pytest.mark.parametrize("version,headers", [
    ("HTTP/1.1", [("Connection", "close")]),
    ("HTTP/1.0", []),
])
def test_client_close_is_honoured(gw, upstream, version, headers):
    with gw.client() as c:
        c.request("GET", "/api/bye", headers, version=version)
        resp = c.read_response()
        assert resp.status == 200, resp
        assert c.wait_closed(3), "connection kept open for %s" % version


def test_response_obs_fold_is_not_passed_through(gateways, upstreams):
    """RFC 9112 section 5.2: a gateway answers 502 or unfolds the value."""
    up = upstreams(lambda req, ctx: b"HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\n"
                   b"Content-Length: 2\r\n\r\nok")
    gw = gateways([up.addr])
    resp = gw.get("/api/fold")
    if resp.status == 502:
        assert_problem(resp, 502, "upstream.bad_response")
    else:
        assert resp.status == 200 and resp.body == b"ok", resp
        assert b"\r\n b" not in resp.head, "obs-fold forwarded"
        assert resp.header("x-fold") in (None, "a b"), resp.fields


def test_interim_upstream_response_then_final(gateways, upstreams):
    up = upstreams(lambda req, ctx: b"HTTP/1.1 103 Early Hints\r\n"
                   b"Link: </s.css>; rel=preload\r\n\r\n" +
                   http_response(200, b"final"))
    gw = gateways([up.addr])
    with gw.client() as c:
        c.request("GET", "/api/hints")
        resp, interims = c.read_final()
        assert resp.status == 200 and resp.body == b"final", resp
        assert all(r.status == 103 for r in interims), interims
        assert c.get("/api/next").status == 200


def test_ordinary_http_client(gw, upstream):
    """A stock client library, keep-alive session and all, just works."""
    import requests

    with requests.Session() as s:
        s.trust_env = False  # never route loopback tests through a proxy
        for i in range(10):
            r = s.get(gw.url + "/api/lib/%d" % i, timeout=5)
            assert r.status_code == 200
            assert r.json()["target"] == "/api/lib/%d" % i
        r = s.post(gw.url + "/api/lib", json={"k": "v"}, timeout=5)
        assert r.status_code == 200
        assert r.json()["body"] == '{"k": "v"}'
        r = s.get(gw.url + "/nope", timeout=5)
        assert r.status_code == 404
        assert r.headers["content-type"].startswith(
            "application/problem+json")
    assert upstream.connections <= 2
