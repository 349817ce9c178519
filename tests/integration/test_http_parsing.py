"""Strict HTTP/1.1 parsing at the edge.

Every malformed or ambiguous head must be refused with a problem+json
naming the reason, the connection must then be closed (the framing can no
longer be trusted), and nothing may reach the upstream. The requests carry
no body bytes so that closing the connection cannot reset a response the
client has not read yet.
"""

import select
import time

import pytest

from harness import assert_problem, build_request

HOST = b"Host: gw.test\r\n"


def head(start, *fields, host=True):
    """A request head from a start line and raw field lines."""
    out = start.encode("latin-1") + b"\r\n"
    if host:
        out += HOST
    for f in fields:
        out += f if isinstance(f, bytes) else f.encode("latin-1")
    return out + b"\r\n"


MANY_HEADERS = ["X-H%d: v\r\n" % i for i in range(150)]

CASES = [
    ("cl_and_te", head("POST /api/x HTTP/1.1", "Content-Length: 5\r\n",
                       "Transfer-Encoding: chunked\r\n"),
     400, "http.ambiguous_length"),
    ("te_and_cl", head("POST /api/x HTTP/1.1",
                       "Transfer-Encoding: chunked\r\n",
                       "Content-Length: 5\r\n"),
     400, "http.ambiguous_length"),
    ("cl_not_a_number", head("POST /api/x HTTP/1.1",
                             "Content-Length: abc\r\n"),
     400, "http.bad_content_length"),
    ("cl_plus_sign", head("POST /api/x HTTP/1.1", "Content-Length: +5\r\n"),
     400, "http.bad_content_length"),
    ("cl_negative", head("POST /api/x HTTP/1.1", "Content-Length: -1\r\n"),
     400, "http.bad_content_length"),
    ("cl_list_differs", head("POST /api/x HTTP/1.1",
                             "Content-Length: 5, 6\r\n"),
     400, ["http.bad_content_length", "http.ambiguous_length"]),
    ("cl_repeated_differs", head("POST /api/x HTTP/1.1",
                                 "Content-Length: 5\r\n",
                                 "Content-Length: 6\r\n"),
     400, ["http.bad_content_length", "http.ambiguous_length"]),
    ("cl_overflow", head("POST /api/x HTTP/1.1",
                         "Content-Length: 99999999999999999999999\r\n"),
     (400, 413), ["http.bad_content_length", "http.body_too_large"]),
    ("te_unknown_coding", head("POST /api/x HTTP/1.1",
                               "Transfer-Encoding: gzip\r\n"),
     (400, 501), "http.bad_transfer_encoding"),
    ("te_chunked_not_last", head("POST /api/x HTTP/1.1",
                                 "Transfer-Encoding: chunked, gzip\r\n"),
     (400, 501), "http.bad_transfer_encoding"),
    ("te_chunked_twice", head("POST /api/x HTTP/1.1",
                              "Transfer-Encoding: chunked, chunked\r\n"),
     400, "http.bad_transfer_encoding"),
    ("te_lookalike", head("POST /api/x HTTP/1.1",
                          "Transfer-Encoding: xchunked\r\n"),
     (400, 501), "http.bad_transfer_encoding"),
    ("te_in_http10", head("POST /api/x HTTP/1.0",
                          "Transfer-Encoding: chunked\r\n"),
     400, "http.bad_transfer_encoding"),
    ("space_before_colon", head("POST /api/x HTTP/1.1",
                                "Transfer-Encoding : chunked\r\n"),
     400, "http.bad_field_name"),
    ("obs_fold", head("GET /api/x HTTP/1.1", "X-A: a\r\n", " b\r\n"),
     400, "http.obs_fold"),
    ("name_with_space", head("GET /api/x HTTP/1.1", "Bad Name: x\r\n"),
     400, "http.bad_field_name"),
    ("name_empty", head("GET /api/x HTTP/1.1", ": x\r\n"),
     400, "http.bad_field_name"),
    ("name_separator", head("GET /api/x HTTP/1.1", "X(A): x\r\n"),
     400, "http.bad_field_name"),
    ("value_nul", head("GET /api/x HTTP/1.1", b"X-A: a\x00b\r\n"),
     400, "http.bad_field_value"),
    ("value_bare_cr", head("GET /api/x HTTP/1.1", b"X-A: a\rb\r\n"),
     400, ["http.bad_field_value", "http.bare_cr"]),
    ("value_ctl", head("GET /api/x HTTP/1.1", b"X-A: a\x01b\r\n"),
     400, "http.bad_field_value"),
    ("bare_lf_everywhere", b"GET /api/x HTTP/1.1\nHost: gw.test\n\n",
     400, "http.bare_lf"),
    ("bare_lf_one_field", head("GET /api/x HTTP/1.1", "X-A: a\nX-B: b\r\n"),
     400, "http.bare_lf"),
    ("missing_host", head("GET /api/x HTTP/1.1", host=False),
     400, "http.missing_host"),
    ("duplicate_host", head("GET /api/x HTTP/1.1", "Host: other.test\r\n"),
     400, "http.duplicate_host"),
    ("host_with_space", head("GET /api/x HTTP/1.1", "Host: a b\r\n",
                             host=False),
     400, ["http.bad_host", "http.bad_field_value"]),
    ("host_with_slash", head("GET /api/x HTTP/1.1", "Host: a/b\r\n",
                             host=False),
     400, ["http.bad_host", "http.bad_field_value"]),
    ("method_not_token", head("G(T /api/x HTTP/1.1"),
     400, ["http.bad_request_line", "http.bad_method"]),
    ("double_space_request_line", head("GET  /api/x HTTP/1.1"),
     400, ["http.bad_request_line", "http.bad_target"]),
    ("lowercase_version", head("GET /api/x http/1.1"),
     400, ["http.bad_request_line", "http.bad_version"]),
    ("relative_target", head("GET api/x HTTP/1.1"), 400, "http.bad_target"),
    ("asterisk_target_with_get", head("GET * HTTP/1.1"),
     400, "http.bad_target"),
    ("fragment", head("GET /api/x#frag HTTP/1.1"), 400, "http.fragment"),
    ("http_2_0", head("GET /api/x HTTP/2.0"),
     505, "http.version_not_supported"),
    ("http_3_0", head("GET /api/x HTTP/3.0"),
     505, "http.version_not_supported"),
    ("too_many_headers", head("GET /api/x HTTP/1.1", *MANY_HEADERS),
     431, "http.too_many_headers"),
    ("head_too_large", head("GET /api/x HTTP/1.1",
                            "X-Big: " + "a" * 20000 + "\r\n"),
     431, "http.head_too_large"),
    ("target_too_long", head("GET /api/" + "x" * 9000 + " HTTP/1.1"),
     414, None),
    ("body_over_global_limit", head("POST /files/x HTTP/1.1",
                                    "Content-Length: 2000000\r\n"),
     413, "http.body_too_large"),
    ("body_over_route_limit", head("POST /api/x HTTP/1.1",
                                   "Content-Length: 70000\r\n"),
     413, "http.body_too_large"),
]


@pytest.mark.parametrize("raw,status,reason", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_malformed_head_is_refused_and_closed(shared, raw, status, reason):
    with shared.gw.client() as c:
        c.send(raw)
        resp = c.read_response()
        assert_problem(resp, status, reason)
        assert c.wait_closed(3), \
            "connection left open after %d %r" % (resp.status, resp.body)
    assert shared.up.count() == 0, "a refused request reached the upstream"


def test_valid_request_passes(shared):
    """The gateway used above does forward well-formed requests."""
    resp = shared.gw.get("/api/ok")
    assert resp.status == 200, resp
    assert shared.up.last().target == "/api/ok"


@pytest.mark.parametrize("body", [
    b"zz\r\nhello\r\n0\r\n\r\n",
    b"-5\r\nhello\r\n0\r\n\r\n",
    b"0x5\r\nhello\r\n0\r\n\r\n",
    b"5\nhello\r\n0\r\n\r\n",
    b"5\r\nhelloXX0\r\n\r\n",
    b"5;=x\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\r\n0\r\nBad Trailer: x\r\n\r\n",
    b"fffffffffffffffffffff\r\nhello\r\n0\r\n\r\n",
], ids=["not_hex", "negative", "0x_prefix", "bare_lf", "no_crlf_after_data",
        "bad_extension", "bad_trailer", "size_overflow"])
def test_bad_chunked_body_is_refused(shared, body):
    raw = head("POST /api/x HTTP/1.1", "Transfer-Encoding: chunked\r\n")
    with shared.gw.client() as c:
        c.send(raw + body)
        resp = c.read_response()
        assert_problem(resp, (400, 413), "http.*")
        assert c.wait_closed(3), "connection left open after a bad chunk"
    for req in shared.up.requests:
        assert req.body != b"hello", "a malformed body was forwarded whole"


def test_chunked_body_over_route_limit(shared):
    """The decoded size of a chunked body counts against max_body."""
    raw = head("POST /api/x HTTP/1.1", "Transfer-Encoding: chunked\r\n")
    chunk = b"%x\r\n" % 40000 + b"a" * 40000 + b"\r\n"
    with shared.gw.client() as c:
        c.send(raw + chunk + chunk)
        resp = c.read_response()
        assert_problem(resp, 413, "http.body_too_large")
        assert c.wait_closed(3)
    for req in shared.up.requests:
        assert len(req.body) <= 65536, "upstream got an over-limit body"


def test_http10_request_is_forwarded_as_http11(shared):
    resp = shared.gw.send(build_request("GET", "/api/old",
                                        version="HTTP/1.0"))
    assert resp.status == 200, resp
    req = shared.up.last()
    assert req.version == "HTTP/1.1"
    assert req.target == "/api/old"


def test_slow_head_times_out(gateways, upstream):
    """A head dribbled in one byte at a time (slowloris) gets 408."""
    gw = gateways([upstream.addr], timeouts={"header": "1s"})
    with gw.client() as c:
        c.send(b"GET /api/x HTTP/1.1\r\n")
        t0 = time.monotonic()
        while time.monotonic() - t0 < 4:
            try:
                c.sock.send(b"X")
                ready, _, _ = select.select([c.sock], [], [], 0.2)
            except OSError:
                break
            if ready:
                break
        elapsed = time.monotonic() - t0
        assert elapsed < 2.5, \
            "nothing after %.1fs of a dribbled head, limit is 1s" % elapsed
        resp = c.read_response()
        assert_problem(resp, 408, "http.head_timeout")
        assert c.wait_closed(3), "connection left open after 408"
    assert upstream.count() == 0
