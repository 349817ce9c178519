"""Limits and bans shared by several gateways through a real Redis.

Each test starts its own redis-server on a free loopback port (no
persistence) and gateways whose redis section points at it. Clients
send as fast as they can for a few seconds; what counts is how many
requests the upstream was let through, against what the shared limit
allows over the same time.
"""
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from harness import RawClient, assert_problem, free_port, wait_for

REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="needs redis-server")

RATE = 100
BURST = 5


class Redis:
    """One redis-server process on a fixed port; stop and start again."""

    def __init__(self, workdir, password=None):
        self.port = free_port()
        self.workdir = workdir
        self.password = password
        self.proc = None

    def start(self):
        args = [REDIS, "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", self.workdir]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for(self.ping, 5, what="redis-server answering PING")

    def command(self, *words):
        """One command (after AUTH when a password is set); the raw reply."""
        def resp(ws):
            out = b"*%d\r\n" % len(ws)
            for w in ws:
                w = w.encode() if isinstance(w, str) else w
                out += b"$%d\r\n%s\r\n" % (len(w), w)
            return out
        with socket.create_connection(("127.0.0.1", self.port), 1) as s:
            if self.password:
                s.sendall(resp(["AUTH", self.password]))
                assert s.recv(64).startswith(b"+OK")
            s.sendall(resp(list(words)))
            time.sleep(0.05)
            return s.recv(65536)

    def ping(self):
        try:
            return self.command("PING").startswith(b"+PONG")
        except (OSError, AssertionError):
            return False

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture
def redis(tmp_path):
    r = Redis(str(tmp_path))
    r.start()
    yield r
    r.stop()


def fleet_gateway(gateways, upstream, redis, name, fleet_size=2,
                  redis_extra=None, **extra):
    routes = [
        {"name": "shared", "path": "/shared", "upstream": "demo",
         "limits": ["fleet_wide"]},
        {"name": "open", "path": "/open", "upstream": "demo"},
    ]
    rate_limits = {"fleet_wide": {"key": ["route"], "rate": "%d/s" % RATE,
                                  "burst": BURST}}
    return gateways([upstream.addr], routes=routes, rate_limits=rate_limits,
                    name=name,
                    redis=dict({"address": "127.0.0.1:%d" % redis.port,
                                "fleet_size": fleet_size,
                                "command_timeout": "200ms",
                                "backoff_max": "500ms"},
                               **(redis_extra or {})),
                    **extra)


def hammer(gws, seconds, per_gateway=3):
    """Send GET /shared on keep-alive connections to each gateway until
    seconds have passed; returns (elapsed seconds, statuses)."""
    statuses = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def run(gw):
        mine = []
        cli = RawClient(gw.port)
        try:
            while time.monotonic() < stop_at:
                cli.request("GET", "/shared")
                r = cli.read_response()
                mine.append(r.status)
                if r.wants_close():
                    cli.close()
                    cli = RawClient(gw.port)
        finally:
            cli.close()
        with lock:
            statuses.extend(mine)

    threads = [threading.Thread(target=run, args=(gw,))
               for gw in gws for _ in range(per_gateway)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - start, statuses


def wait_log(gw, text, timeout=10):
    wait_for(lambda: text in gw.stderr(), timeout, what=repr(text))


def test_two_gateways_share_one_limit(gateways, upstream, redis):
    a = fleet_gateway(gateways, upstream, redis, "fleet_a")
    b = fleet_gateway(gateways, upstream, redis, "fleet_b")
    # Each worker connects on its first request; let them all be ready.
    hammer([a, b], 1.0)
    time.sleep(1.5)        # the shared state is full again
    elapsed, got = hammer([a, b], 10.0)
    admitted = got.count(200)
    print("shared limit: %d admitted of %d in %.2f s (%.1f/s)"
          % (admitted, len(got), elapsed, admitted / elapsed))
    assert set(got) <= {200, 429}
    expected = RATE * elapsed
    assert abs(admitted - expected) <= 0.02 * expected + BURST, \
        (admitted, elapsed)
    assert "fall back" not in a.stderr() + b.stderr()


def test_redis_outage_falls_back_and_recovers(gateways, upstream, redis):
    gw = fleet_gateway(gateways, upstream, redis, "fleet_one")
    hammer([gw], 1.0)
    time.sleep(1.5)
    # Shared: this gateway alone may use the whole limit.
    elapsed, got = hammer([gw], 3.0)
    assert set(got) <= {200, 429}
    assert got.count(200) >= 0.9 * RATE * elapsed

    redis.kill()
    elapsed, got = hammer([gw], 3.0)
    assert set(got) <= {200, 429}, "only refusals by the limit"
    # The fallback is this gateway's share: half the limit (fleet of 2),
    # from a state that starts full.
    share = RATE / 2
    assert got.count(200) <= share * elapsed + BURST + 0.02 * share * elapsed
    assert got.count(200) >= 0.8 * share * elapsed
    assert gw.stderr().count("fall back to this gateway's share") == 1

    redis.start()
    wait_log(gw, "answers again")
    time.sleep(1.0)
    hammer([gw], 0.5)      # every worker is back on its connection
    time.sleep(1.5)
    elapsed, got = hammer([gw], 3.0)
    assert set(got) <= {200, 429}
    assert got.count(200) >= 0.9 * RATE * elapsed
    assert gw.alive()


def test_a_ban_on_one_gateway_holds_on_the_other(gateways, upstream, redis):
    abuse = {"client_errors": {"threshold": 5, "window": "1m"},
             "ban": {"duration": "1m", "max": "10m", "factor": 2}}
    a = fleet_gateway(gateways, upstream, redis, "ban_a", abuse=abuse)
    b = fleet_gateway(gateways, upstream, redis, "ban_b", abuse=abuse)
    # A worker connects on its first request: reach them all, then wait.
    for gw in (a, b):
        assert all(gw.get("/open").status == 200 for _ in range(8))
    time.sleep(1.0)
    got = [a.get("/nothing/%d" % i).status for i in range(6)]
    assert got == [404] * 6
    assert_problem(a.get("/open"), 429, "abuse.banned")
    # b never saw a 4xx from this client: the ban comes from Redis.
    r = b.get("/open")
    assert_problem(r, 429, "abuse.banned")
    assert 0 < int(r.header("Retry-After")) <= 60


def test_password_from_a_file(gateways, upstream, tmp_path):
    r = Redis(str(tmp_path), password="s3cret-fleet")
    r.start()
    try:
        pw = tmp_path / "redis-password"
        pw.write_text("s3cret-fleet\n")
        os.chmod(str(pw), 0o600)
        gw = fleet_gateway(gateways, upstream, r, "with_password",
                           redis_extra={"password_file": str(pw)})
        hammer([gw], 0.5)
        time.sleep(1.0)
        elapsed, got = hammer([gw], 2.0)
        assert got.count(200) >= 0.9 * RATE * elapsed
        assert b"apiward:rate:" in r.command("KEYS", "*")
        assert "s3cret" not in gw.stderr()
    finally:
        r.stop()


def test_wrong_password_falls_back(gateways, upstream, tmp_path):
    r = Redis(str(tmp_path), password="right")
    r.start()
    try:
        pw = tmp_path / "redis-password"
        pw.write_text("wrong\n")
        gw = fleet_gateway(gateways, upstream, r, "bad_password",
                           redis_extra={"password_file": str(pw)})
        elapsed, got = hammer([gw], 2.0)
        assert set(got) <= {200, 429}
        assert got.count(200) <= RATE / 2 * elapsed + BURST + 5
        wait_log(gw, "refused the password")
        assert "wrong" not in gw.stderr()
    finally:
        r.stop()


def test_script_flushed_is_loaded_again(gateways, upstream, redis):
    gw = fleet_gateway(gateways, upstream, redis, "flushed")
    hammer([gw], 0.5)
    time.sleep(1.0)
    assert redis.command("SCRIPT", "FLUSH").startswith(b"+OK")
    time.sleep(0.2)
    elapsed, got = hammer([gw], 2.0)
    # Shared, not the fallback's half: NOSCRIPT was answered by EVAL.
    assert got.count(200) >= 0.9 * RATE * elapsed
    assert "fall back" not in gw.stderr()


def test_a_stalled_redis_times_out_to_the_fallback(gateways, upstream,
                                                  redis):
    gw = fleet_gateway(gateways, upstream, redis, "stalled")
    hammer([gw], 0.5)
    time.sleep(1.0)
    os.kill(redis.proc.pid, signal.SIGSTOP)
    try:
        elapsed, got = hammer([gw], 2.0)
    finally:
        os.kill(redis.proc.pid, signal.SIGCONT)
    assert set(got) <= {200, 429}, "only refusals by the limit"
    assert got.count(200) <= RATE / 2 * elapsed + BURST + 5
    assert "did not answer a decision in time" in gw.stderr()
    wait_log(gw, "answers again")


def test_a_ban_lifted_on_one_gateway_is_lifted_on_both(gateways, upstream,
                                                       redis, tmp_path):
    from test_admin import Env, port_open, write_token
    import json

    abuse = {"client_errors": {"threshold": 5, "window": "1m"},
             "ban": {"duration": "1m", "max": "10m", "factor": 2}}
    token_file = tmp_path / "admin.token"
    write_token(str(token_file))
    envs = []
    for name in ("lift_a", "lift_b"):
        port = free_port()
        gw = fleet_gateway(gateways, upstream, redis, name, abuse=abuse,
                           admin={"listen": "127.0.0.1:%d" % port,
                                  "token_file": str(token_file)},
                           events={"file": str(tmp_path / (name + ".ev"))})
        wait_for(lambda: port_open(port), 5, what="the admin listener")
        envs.append(Env(gw, upstream, port, str(tmp_path / (name + ".ev"))))
    a, b = envs
    for env in envs:
        assert all(env.gw.get("/open").status == 200 for _ in range(8))
    time.sleep(1.0)
    assert [a.gw.get("/nothing/%d" % i).status for i in range(6)] == \
        [404] * 6
    for env in envs:
        assert_problem(env.gw.get("/open"), 429, "abuse.banned")

    def listing(env):
        status, _, body = env.admin("GET", "/bans")
        assert status == 200, body
        return json.loads(body)

    # a gave the ban and knows its subject; b sees it in Redis, by id.
    (mine,) = listing(a)["bans"]
    assert mine["subject"] == "ip:127.0.0.1" and mine["shared"]
    assert listing(a)["fleet"] == {"reachable": True, "bans": [],
                                   "truncated": False}
    seen = listing(b)
    assert seen["bans"] == [] and seen["fleet"]["reachable"]
    (theirs,) = seen["fleet"]["bans"]
    assert theirs["id"] == mine["id"] and theirs["subject"] is None
    assert 0 < theirs["seconds_left"] <= 60

    # Lifted on b, by id: Redis forgets it, and both gateways admit.
    status, _, body = b.admin("DELETE", "/bans/" + mine["id"])
    assert status == 200, body
    assert json.loads(body)["fleet"] is True
    assert json.loads(body)["gateway"] == 0
    for env in envs:
        assert env.gw.get("/open").status == 200
    assert listing(b)["fleet"]["bans"] == []
    # a learnt from Redis's answer that the ban is over: its local copy
    # is gone too, so it does not come back while Redis is away.
    assert listing(a)["bans"] == []
    status, _, body = b.admin("DELETE", "/bans/" + mine["id"])
    assert status == 404
    b.wait_events(lambda e: e["event"].get("action") == "abuse.ban_lifted",
                  "the lift's event on b")

    # Redis away: a decides alone, and the client still passes; a lift
    # cannot be made good and says so.
    redis.kill()
    assert a.gw.get("/open").status == 200
    status, _, body = a.admin("DELETE", "/bans/" + mine["id"])
    assert status == 503
    assert "admin.fleet_unavailable" in body
    assert listing(a)["fleet"]["reachable"] is False
