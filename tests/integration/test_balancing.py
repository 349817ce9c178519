"""Upstream pools: round robin, ejection of dead servers, retries, and
what a client sees when no server is left. These run with one worker so
that every request sees the same pool and failure counters."""

import time

from harness import ConnectionClosed, assert_problem, free_port


def test_round_robin_uses_both_servers(gateways, upstreams):
    a = upstreams(name="a")
    b = upstreams(name="b")
    gw = gateways([a.addr, b.addr], server={"workers": 1})
    seen = []
    with gw.client() as c:
        for i in range(20):
            resp = c.get("/api/rr/%d" % i)
            assert resp.status == 200, resp
            seen.append(resp.json()["upstream"])
    assert seen.count("a") >= 6 and seen.count("b") >= 6, seen


def test_dead_server_is_ejected_without_failed_gets(gateways, upstreams):
    a = upstreams(name="a")
    b = upstreams(name="b")
    gw = gateways([a.addr, b.addr], server={"workers": 1},
                  upstream={"max_fails": 3, "fail_timeout": "10s",
                            "retry_idempotent": True})
    with gw.client() as c:
        for i in range(4):
            assert c.get("/api/warm/%d" % i).status == 200
    assert b.count() >= 1, "b got no traffic before it died"

    b.stop()
    failed = []
    for i in range(30):
        try:
            with gw.client() as c:
                resp = c.get("/api/after/%d" % i, timeout=3)
        except (OSError, ConnectionClosed) as e:
            failed.append("GET %d: %r" % (i, e))
            continue
        if resp.status != 200 or resp.json()["upstream"] != "a":
            failed.append("GET %d: %r" % (i, resp))
    assert not failed, "%d of 30 GETs failed after b died: %r" \
        % (len(failed), failed[:4])

    # b comes back on the same port inside fail_timeout: still ejected.
    b2 = upstreams(name="b2", port=b.port)
    for i in range(10):
        assert gw.get("/api/ejected/%d" % i).status == 200
    assert b2.connections == 0, \
        "ejected server got %d connections within fail_timeout" \
        % b2.connections


def test_no_healthy_server_is_503(gateways):
    dead = "127.0.0.1:%d" % free_port()
    gw = gateways([dead], server={"workers": 1},
                  upstream={"max_fails": 3, "fail_timeout": "30s",
                            "retry_idempotent": False})
    first = gw.get("/api/x")
    assert_problem(first, 502, "upstream.unavailable")
    statuses = [first.status]
    for _ in range(7):
        resp = gw.get("/api/x")
        statuses.append(resp.status)
        if resp.status == 503:
            assert_problem(resp, 503, "upstream.no_healthy_server")
            break
    assert statuses[-1] == 503, "never 503 after max_fails: %r" % statuses
    again = gw.get("/api/x")
    assert_problem(again, 503, "upstream.no_healthy_server")


def test_ejected_server_returns_after_fail_timeout(gateways, upstreams):
    port = free_port()
    gw = gateways(["127.0.0.1:%d" % port], server={"workers": 1},
                  upstream={"max_fails": 1, "fail_timeout": "1s",
                            "retry_idempotent": False})
    resp = gw.get("/api/x")
    assert resp.status in (502, 503), resp
    up = upstreams(name="back", port=port)
    t0 = time.monotonic()
    status = None
    while time.monotonic() - t0 < 4:
        status = gw.get("/api/x").status
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200, "server not used again 4s after fail_timeout 1s"
    assert up.count() >= 1
