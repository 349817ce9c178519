"""The access log: one JSON object per request, and the same reason code
as the problem the client received."""

import os
import signal

from harness import (assert_problem, echo_handler, free_port, problem_code,
                     wait_for)

# "route" is required only where a route matched.
REQUIRED = ("time", "request_id", "client", "method", "path", "status",
            "bytes", "duration_ms", "upstream_ms")


def slow_echo(req, ctx):
    ctx.sleep(0.2)
    return echo_handler(req, ctx)


def by_status(entries, status):
    found = [e for e in entries if e.get("status") == status]
    assert len(found) == 1, "expected one entry with status %d in %r" \
        % (status, entries)
    return found[0]


def test_access_log_records_each_request(gateways, upstreams):
    up = upstreams(slow_echo)
    gw = gateways([up.addr])
    ok = gw.get("/users/%34%32")
    assert ok.status == 200, ok
    missing = gw.get("/nope")
    assert_problem(missing, 404, "route.not_found")
    bad = gw.send(b"POST /api/x HTTP/1.1\r\nHost: gw.test\r\n"
                  b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert_problem(bad, 400, "http.ambiguous_length")
    wrong = gw.send(b"DELETE /users/1 HTTP/1.1\r\nHost: gw.test\r\n\r\n")
    assert_problem(wrong, 405, "route.method_not_allowed")

    entries = gw.wait_access_entries(4)
    counts = {}
    for e in entries:
        key = (e.get("status"), e.get("path"))
        counts[key] = counts.get(key, 0) + 1
    assert len(entries) == 4, \
        "4 requests gave %d entries: %r" % (len(entries), counts)
    for e in entries:
        missing_keys = [k for k in REQUIRED if k not in e]
        assert not missing_keys, "entry lacks %r: %r" % (missing_keys, e)
        assert str(e["client"]).startswith("127.0.0.1"), e
        assert isinstance(e["status"], int), e
        assert isinstance(e["bytes"], int), e
        assert isinstance(e["duration_ms"], (int, float)), e
        assert e["time"], e

    e = by_status(entries, 200)
    assert e["method"] == "GET"
    assert e["route"] == "users"
    assert e["path"] == "/users/42", "path not normalised in log: %r" % e
    assert not e.get("reason"), "success logged with reason %r" % e
    assert e["request_id"] == up.last().header("x-request-id"), \
        "request_id differs from the forwarded X-Request-Id"
    assert e["bytes"] >= len(ok.body)
    assert e["upstream_ms"] >= 150, "upstream took 200ms: %r" % e
    assert e["duration_ms"] >= e["upstream_ms"], e

    for resp, status in ((missing, 404), (bad, 400), (wrong, 405)):
        e = by_status(entries, status)
        assert e.get("reason") == problem_code(resp), \
            "log reason %r, problem type %r" % (e.get("reason"),
                                                resp.json()["type"])
        assert e["request_id"], e


def test_upstream_failure_reason_is_logged(gateways):
    dead = "127.0.0.1:%d" % free_port()
    gw = gateways([dead], upstream={"max_fails": 0})
    resp = gw.get("/api/x")
    assert_problem(resp, 502, "upstream.unavailable")
    entries = gw.wait_access_entries(1)
    assert entries[-1].get("reason") == "upstream.unavailable", entries
    assert entries[-1].get("status") == 502
    assert entries[-1].get("route") == "api"


def test_sigusr1_reopens_access_log(gw):
    assert gw.get("/api/one").status == 200
    gw.wait_access_entries(1)
    assert gw.alive(), "gateway stopped while waiting for the log flush"
    rotated = gw.access_log_path + ".1"
    os.rename(gw.access_log_path, rotated)
    gw.signal(signal.SIGUSR1)
    wait_for(lambda: os.path.exists(gw.access_log_path), 3,
             what="a new access log after SIGUSR1")
    assert gw.get("/api/two").status == 200
    entries = gw.wait_access_entries(1)
    assert [e["path"] for e in entries] == ["/api/two"], entries


def test_access_log_off_writes_nothing(gateways, upstream, tmp_path):
    gw = gateways([upstream.addr], access_log={"path": "off"})
    assert gw.get("/api/x").status == 200
    gw.stop()
    assert not os.path.exists(gw.access_log_path)
    assert '"request_id"' not in gw.stdout()
