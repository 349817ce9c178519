"""Reload on SIGHUP and graceful drain on SIGTERM."""

import copy
import re
import signal
import socket
import threading
import time

import pytest

from harness import (ConnectionClosed, RawClient, http_response, wait_for)


def with_v2_route(config):
    cfg = copy.deepcopy(config)
    cfg["routes"].append({"name": "v2", "path": "/v2", "prefix": True,
                          "upstream": "demo"})
    return cfg


def test_reload_applies_new_route(gateways, upstream):
    gw = gateways([upstream.addr])
    assert gw.get("/v2/x").status == 404
    gw.reload(with_v2_route(gw.config))
    wait_for(lambda: gw.get("/v2/x").status == 200, 5,
             what="the new route after SIGHUP")
    assert upstream.last().target == "/v2/x"
    assert gw.get("/api/x").status == 200


BROKEN = {
    "yaml_syntax": "server: {listen: [\"127.0.0.1:1\"\nroutes: [\n",
    "unknown_upstream": None,  # built from the running config below
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_reload_keeps_old_config(gateways, upstream, kind):
    gw = gateways([upstream.addr])
    good = gw.config
    before = gw.stderr()
    if kind == "unknown_upstream":
        bad = copy.deepcopy(good)
        bad["routes"].append({"name": "v2", "path": "/v2", "prefix": True,
                              "upstream": "missing"})
        gw.reload(bad)
    else:
        gw.reload(BROKEN[kind])
    where = re.compile(re.escape(gw.config_path) + r":\d+:\d+: \S")
    wait_for(lambda: where.search(gw.stderr()[len(before):]), 3,
             what="a FILE:LINE:COL diagnostic about the broken file")
    time.sleep(0.2)
    assert gw.alive(), "gateway died on a broken reload"
    assert gw.get("/api/x").status == 200
    assert gw.get("/v2/x").status == 404
    # A good file afterwards is still picked up.
    gw.reload(with_v2_route(good))
    wait_for(lambda: gw.get("/v2/x").status == 200, 5,
             what="the new route after a good SIGHUP")


def test_in_flight_request_survives_reload(gateways, upstreams):
    """A request finishes on the configuration it started with, even when
    a reload removes its route meanwhile."""
    def handler(req, ctx):
        if req.path == "/v2/slow":
            ctx.sleep(1)
        return http_response(200, req.path)

    up = upstreams(handler)
    gw = gateways([up.addr])
    without = gw.config
    gw.reload(with_v2_route(without))
    wait_for(lambda: gw.get("/v2/x").status == 200, 5,
             what="the v2 route after SIGHUP")
    with gw.client() as c:
        c.request("GET", "/v2/slow")
        wait_for(lambda: up.last().path == "/v2/slow", 3,
                 what="the slow request at the upstream")
        gw.reload(without)
        wait_for(lambda: gw.get("/v2/x").status == 404, 5,
                 what="the v2 route to disappear")
        resp = c.read_response(timeout=5)
    assert resp.status == 200 and resp.body == b"/v2/slow", resp


def test_reload_under_load_fails_nothing(gateways, upstream):
    gw = gateways([upstream.addr])
    stop = threading.Event()
    results = {"ok": 0, "failed": []}
    lock = threading.Lock()

    def record(ok, what=None):
        with lock:
            if ok:
                results["ok"] += 1
            else:
                results["failed"].append(what)

    def keepalive_loop():
        c = None
        i = 0
        while not stop.is_set():
            i += 1
            try:
                if c is None:
                    c = RawClient(gw.port)
                resp = c.get("/api/load/%d" % i)
                record(resp.status == 200, resp)
                if resp.wants_close():
                    c.close()
                    c = None
            except (OSError, ConnectionClosed) as e:
                record(False, "keep-alive request %d: %r" % (i, e))
                c = None
        if c:
            c.close()

    def fresh_loop():
        i = 0
        while not stop.is_set():
            i += 1
            try:
                resp = gw.get("/api/fresh/%d" % i)
                record(resp.status == 200, resp)
            except (OSError, ConnectionClosed) as e:
                record(False, "fresh request %d: %r" % (i, e))

    threads = [threading.Thread(target=keepalive_loop),
               threading.Thread(target=keepalive_loop),
               threading.Thread(target=fresh_loop)]
    for t in threads:
        t.start()
    configs = [with_v2_route(gw.config), gw.config]
    try:
        for n in range(6):
            time.sleep(0.45)
            gw.reload(configs[n % 2])
        time.sleep(0.4)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert gw.alive()
    assert not results["failed"], "%d requests failed during reloads: %r" \
        % (len(results["failed"]), results["failed"][:5])
    assert results["ok"] > 50, "only %d requests in 3s" % results["ok"]


def test_sigterm_drains_in_flight_request(gateways, upstreams):
    def handler(req, ctx):
        if req.path == "/api/slow":
            ctx.sleep(1.5)
            return http_response(200, b"slow done")
        return http_response(200, b"quick")

    up = upstreams(handler)
    gw = gateways([up.addr], server={"drain_timeout": "10s"})
    idle = gw.client()
    assert idle.get("/api/quick").status == 200
    slow = gw.client()
    slow.request("GET", "/api/slow")
    wait_for(lambda: any(r.path == "/api/slow" for r in up.requests), 3,
             what="the slow request at the upstream")

    t0 = time.monotonic()
    gw.signal(signal.SIGTERM)
    time.sleep(0.3)
    refused = False
    try:
        with socket.create_connection(("127.0.0.1", gw.port), 1) as s:
            s.settimeout(1)
            s.sendall(b"GET /api/quick HTTP/1.1\r\nHost: x\r\n\r\n")
            refused = s.recv(100) == b""
    except (ConnectionRefusedError, ConnectionResetError):
        refused = True
    except socket.timeout:
        refused = False
    assert refused, "a new connection was served after SIGTERM"

    resp = slow.read_response(timeout=5)
    assert resp.status == 200 and resp.body == b"slow done", resp
    slow.close()
    assert idle.wait_closed(5), "idle keep-alive connection kept open"

    try:
        rc = gw.proc.wait(8)
    except Exception:
        rc = None
    elapsed = time.monotonic() - t0
    assert rc == 0, "exit status %r after SIGTERM" % rc
    assert elapsed < 5, "exit took %.1fs (drain_timeout 10s)" % elapsed
