"""The admin API, metrics, security events of authentication and
ambiguous requests, and systemd notifications, end to end.

A real gateway with its admin listener on loopback, PyJWT tokens
against a file JWKS, a real upstream. Metrics are read with a strict
parser of the Prometheus text format 0.0.4 and, when Debian's
prometheus package is installed, with `promtool check metrics` too.
Every token and key the module uses is looked for in every stream the
gateway writes (events, access log, diagnostics, metrics, /config): none
may appear.
"""
import hashlib
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest

from harness import free_port, wait_for
from idp import SigningKey, b64u, claims, jwks

ISS = "https://idp.test/"
AUD = "api"
ADMIN_TOKEN = "adm1n-t0ken-for-the-admin-suite-7f3a9c"


@pytest.fixture(scope="module")
def signer():
    return SigningKey("ES256", "admin-1")


@pytest.fixture(scope="module")
def forger():
    return SigningKey("ES256", "admin-1")     # same kid, another key


def routes():
    return [
        {"name": "open", "path": "/open/{rest*}", "upstream": "demo"},
        {"name": "jwt", "path": "/jwt", "prefix": True, "upstream": "demo",
         "auth": {"methods": ["jwt"]},
         "authz": {"authenticated": True}},
    ]


def write_token(path, text=ADMIN_TOKEN, mode=0o600):
    with open(path, "w") as f:
        f.write(text + "\n")
    os.chmod(path, mode)


class Env:
    def __init__(self, gw, up, admin_port, events_path):
        self.gw = gw
        self.up = up
        self.admin_port = admin_port
        self.events_path = events_path

    def admin(self, method, path, token=ADMIN_TOKEN, body=None,
              headers=None):
        """One exchange with the admin listener: (status, headers, body)."""
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: admin"]
        if token is not None:
            lines.append("Authorization: Bearer " + token)
        for name, value in headers or []:
            lines.append("%s: %s" % (name, value))
        data = b"" if body is None else body.encode()
        if body is not None:
            lines.append("Content-Type: application/json")
            lines.append("Content-Length: %d" % len(data))
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + data
        with socket.create_connection(("127.0.0.1", self.admin_port),
                                      timeout=10) as s:
            s.sendall(raw)
            got = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                got += chunk
        head, _, payload = got.partition(b"\r\n\r\n")
        head_lines = head.decode("latin-1").split("\r\n")
        status = int(head_lines[0].split(" ")[1])
        fields = {}
        for line in head_lines[1:]:
            name, _, value = line.partition(":")
            fields[name.strip().lower()] = value.strip()
        assert int(fields["content-length"]) == len(payload)
        return status, fields, payload.decode("utf-8")

    def metrics(self):
        status, fields, text = self.admin("GET", "/metrics")
        assert status == 200
        assert fields["content-type"].startswith("text/plain; version=0.0.4")
        return text

    def events(self):
        try:
            with open(self.events_path) as f:
                return [json.loads(x) for x in f if x.strip()]
        except OSError:
            return []

    def wait_events(self, pred, what):
        wait_for(lambda: [e for e in self.events() if pred(e)], 3,
                 what=what)
        return [e for e in self.events() if pred(e)]


def start_env(gateways, upstream, signer, tmp_path, tls=None, events=None,
              api_keys=None, **extra):
    """A gateway with the admin listener; tls: the listener's tls
    section, when it should serve TLS; events: more keys of the events
    section; api_keys: the identity's api_keys section, which also adds
    the route /key taking API keys."""
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps(jwks(signer)))
    token_file = tmp_path / "admin.token"
    write_token(str(token_file))
    events_more, events = events, tmp_path / "events.log"
    admin_port = free_port()
    ident = {"issuers": {"idp": {"issuer": ISS, "audiences": [AUD],
                                 "keys": {"file": str(keys)}}}}
    rts = routes()
    if api_keys is not None:
        ident["api_keys"] = api_keys
        rts.append({"name": "key", "path": "/key", "prefix": True,
                    "upstream": "demo", "auth": {"methods": ["api_key"]}})
    gw = gateways([upstream.addr], routes=rts, identity=ident,
                  events=dict(events_more or {}, file=str(events)),
                  admin={"listen": "127.0.0.1:%d" % admin_port,
                         "token_file": str(token_file), "timeout": "2s"},
                  start=tls is None, **extra)
    if tls is not None:
        cfg = gw.config
        cfg["server"]["listen"] = [{"address": "127.0.0.1:%d" % gw.port,
                                    "tls": tls}]
        gw.write_config(cfg)
        gw.start()
    wait_for(lambda: port_open(admin_port), 5, what="the admin listener")
    return Env(gw, upstream, admin_port, str(events))


def read_all(s):
    """Everything the admin listener sends before it closes."""
    got = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return got.decode()
        got += chunk


def port_open(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def env(gateways, upstream, signer, tmp_path):
    return start_env(gateways, upstream, signer, tmp_path)


def problem_type(body):
    return json.loads(body)["type"]


ENDPOINTS = [("GET", "/health"), ("GET", "/ready"), ("GET", "/metrics"),
             ("GET", "/config"), ("POST", "/reload"),
             ("DELETE", "/introspection/" + "0" * 64),
             ("POST", "/introspection/evict"),
             ("POST", "/api-keys/abcdefgh/revoke"), ("GET", "/bans"),
             ("DELETE", "/bans/ip:127.0.0.1")]


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_every_endpoint_needs_the_token(env, method, path):
    for token in (None, "", ADMIN_TOKEN + "x", ADMIN_TOKEN[:-1],
                  "Basic " + ADMIN_TOKEN):
        status, fields, body = env.admin(method, path, token=token)
        assert status == 401, (token, body)
        assert problem_type(body) == "urn:apiward:problem:admin.unauthorized"
        assert fields["content-type"] == "application/problem+json"
        assert fields["www-authenticate"].startswith("Bearer")
    ev = env.wait_events(lambda e: e["event"].get("action") ==
                         "admin.unauthorized", "admin refusals")
    assert ev[0]["event"]["category"] == ["authentication"]
    assert ev[0]["source"]["ip"] == "127.0.0.1"
    assert ev[0]["url"]["path"] == path
    assert ADMIN_TOKEN not in json.dumps(env.events())


def test_health_ready_config(env, tmp_path):
    status, fields, body = env.admin("GET", "/health")
    assert status == 200 and json.loads(body)["status"] == "ok"
    assert fields["content-type"] == "application/json"
    assert fields["cache-control"] == "no-store"
    status, _, body = env.admin("GET", "/ready")
    assert status == 200 and json.loads(body) == {"ready": True}
    status, _, body = env.admin("GET", "/config")
    assert status == 200
    cfg = json.loads(body)
    assert cfg["version"] and cfg["generation"] >= 1
    assert re.fullmatch(r"[0-9a-f]{16}", cfg["hash"])
    assert [r["name"] for r in cfg["routes"]] == ["open", "jwt"]
    assert cfg["issuers"] == ["idp"]
    assert ADMIN_TOKEN not in body


def test_unknown_endpoint_wrong_method_bad_request(env):
    status, _, body = env.admin("GET", "/nothing")
    assert status == 404
    assert problem_type(body) == "urn:apiward:problem:admin.not_found"
    status, _, body = env.admin("GET", "/reload")
    assert status == 405
    assert problem_type(body) == \
        "urn:apiward:problem:admin.method_not_allowed"
    status, _, body = env.admin("GET", "/health?x=1")
    assert status == 400
    # The strict parser guards the admin listener too.
    with socket.create_connection(("127.0.0.1", env.admin_port)) as s:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        answer = read_all(s)
    assert answer.startswith("HTTP/1.1 400")
    assert "urn:apiward:problem:http.ambiguous_length" in answer


def test_slow_client_is_cut_off(env):
    with socket.create_connection(("127.0.0.1", env.admin_port)) as s:
        s.sendall(b"GET /health HTTP/1.1\r\n")
        s.settimeout(5)
        t0 = time.monotonic()
        answer = read_all(s)
        assert time.monotonic() - t0 < 4.5
    assert answer.startswith("HTTP/1.1 408")
    # The listener serves the next client.
    assert env.admin("GET", "/health")[0] == 200


def test_reload(env):
    gen = json.loads(env.admin("GET", "/config")[2])["generation"]
    cfg = dict(env.gw.config)
    cfg["routes"] = cfg["routes"] + [{"name": "v2", "path": "/v2",
                                      "upstream": "demo",
                                      "authz": {"public": True}}]
    env.gw.write_config(cfg)
    status, _, body = env.admin("POST", "/reload")
    assert status == 200, body
    assert json.loads(body)["generation"] == gen + 1
    wait_for(lambda: env.gw.get("/v2").status == 200, 5, what="new route")
    with open(env.gw.config_path, "w") as f:
        f.write("routes: [\n")
    status, _, body = env.admin("POST", "/reload")
    assert status == 500
    assert problem_type(body) == "urn:apiward:problem:admin.reload_failed"
    assert env.gw.get("/v2").status == 200
    ok = env.wait_events(lambda e: e["event"].get("action") ==
                         "config.reload", "reload events")
    outcomes = sorted(e["event"]["outcome"] for e in ok)
    wait_for(lambda: len([e for e in env.events()
                          if e["event"].get("action") == "config.reload"])
             >= 2, 3, what="two reload events")
    outcomes = sorted(e["event"]["outcome"] for e in env.events()
                      if e["event"].get("action") == "config.reload")
    assert outcomes == ["failure", "success"]


def test_introspection_eviction(env):
    digest = hashlib.sha256(b"some-opaque-token").hexdigest()
    status, _, body = env.admin("DELETE", "/introspection/" + digest)
    assert status == 200 and json.loads(body) == {"evicted": True}
    status, _, body = env.admin("DELETE", "/introspection/xyz")
    assert status == 404
    status, _, body = env.admin("POST", "/introspection/evict",
                                body=json.dumps({"token": "opaque"}))
    assert status == 200
    status, _, body = env.admin("POST", "/introspection/evict",
                                body="{\"token\": 5}")
    assert status == 400
    assert problem_type(body) == "urn:apiward:problem:admin.bad_body"
    status, _, body = env.admin("POST", "/introspection/evict", body="{")
    assert status == 400


# -- the Prometheus text format, read strictly ------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"^(%s)(\{(%s(?:,%s)*)?\})? (\S+)$" % (NAME, LABEL,
                                                            LABEL))


def parse_labels(text):
    out = {}
    for m in re.finditer(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                         text or ""):
        out[m.group(1)] = m.group(2)
    return out


def parse_metrics(text):
    """{family: {"type": t, "samples": [(name, labels, value)]}}.

    Fails on anything the 0.0.4 text format does not allow, or that it
    allows but we never mean to write: a sample before its TYPE, a
    family declared twice or split, a series twice, a histogram whose
    buckets fall or whose +Inf differs from _count.
    """
    assert text.endswith("\n")
    fams, current, seen = {}, None, set()
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in fams, "family declared twice: " + name
            assert kind in ("counter", "gauge", "histogram")
            fams[name] = {"type": kind, "samples": []}
            current = name
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels, value = m.group(1), parse_labels(m.group(3)), \
            m.group(4)
        base = re.sub(r"_(bucket|sum|count)$", "", name) \
            if fams.get(current, {}).get("type") == "histogram" else name
        assert base == current, "sample %s outside its family" % name
        v = float(value)
        assert not math.isnan(v)
        key = (name, tuple(sorted(labels.items())))
        assert key not in seen, "series twice: %r" % (key,)
        seen.add(key)
        fams[current]["samples"].append((name, labels, v))
    for fam, d in fams.items():
        if d["type"] == "counter":
            assert fam.endswith("_total")
            assert all(v >= 0 for _, _, v in d["samples"])
        if d["type"] == "histogram":
            check_histogram(fam, d["samples"])
    return fams


def check_histogram(fam, samples):
    series = {}
    for name, labels, v in samples:
        rest = tuple(sorted((k, x) for k, x in labels.items() if k != "le"))
        series.setdefault(rest, []).append((name, labels.get("le"), v))
    for rest, items in series.items():
        buckets = [(float(le), v) for n, le, v in items
                   if n == fam + "_bucket"]
        assert buckets == sorted(buckets), "buckets out of order"
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), "cumulative counts fall"
        assert buckets[-1][0] == math.inf
        count = [v for n, _, v in items if n == fam + "_count"]
        assert count == [buckets[-1][1]]
        assert len([1 for n, _, _ in items if n == fam + "_sum"]) == 1


def value(fams, fam, name=None, **labels):
    for n, ls, v in fams[fam]["samples"]:
        if n == (name or fam) and all(ls.get(k) == x
                                      for k, x in labels.items()):
            return v
    return None


def promtool_check(text):
    promtool = shutil.which("promtool")
    if promtool is None:
        return
    p = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                       capture_output=True, timeout=30)
    # promtool exits 1 for lint advice too; the format itself must parse.
    out = (p.stdout + p.stderr).decode()
    assert "error while linting" not in out and "parse" not in out.lower(), \
        out


def test_metrics_count_requests_and_refusals(env, signer, forger):
    for _ in range(3):
        assert env.gw.get("/open/a").status == 200
    assert env.gw.get("/nowhere").status == 404
    assert env.gw.get("/jwt").status == 401
    bad = forger.token(claims(ISS, AUD))
    assert env.gw.get("/jwt", [("Authorization", "Bearer " + bad)]) \
        .status == 401
    good = signer.token(claims(ISS, AUD))
    assert env.gw.get("/jwt", [("Authorization", "Bearer " + good)]) \
        .status == 200
    text = env.metrics()
    fams = parse_metrics(text)
    promtool_check(text)
    assert value(fams, "apiward_requests_total", route="open",
                 code="2xx") == 3
    assert value(fams, "apiward_requests_total", route="jwt",
                 code="4xx") == 2
    assert value(fams, "apiward_requests_total", route="",
                 code="4xx") == 1
    assert value(fams, "apiward_refusals_total", stage="authenticate",
                 reason="auth.missing_credentials") == 1
    assert value(fams, "apiward_refusals_total", stage="authenticate",
                 reason="auth.bad_signature") == 1
    assert value(fams, "apiward_refusals_total", stage="route",
                 reason="route.not_found") == 1
    assert value(fams, "apiward_request_duration_seconds",
                 "apiward_request_duration_seconds_count", route="open") == 3
    assert value(fams, "apiward_keyset_keys", issuer="idp") == 1
    assert value(fams, "apiward_keyset_age_seconds", issuer="idp") >= 0
    assert value(fams, "apiward_events_dropped_total") == 0
    assert value(fams, "apiward_ready") == 1
    # Backend gauges are sampled at most once a second per worker.
    time.sleep(1.1)
    for _ in range(4):
        env.gw.get("/open/b")
    fams = parse_metrics(env.metrics())
    assert value(fams, "apiward_upstream_ejected_workers",
                 backend=env.up.addr) == 0
    assert value(fams, "apiward_upstream_active_connections",
                 backend=env.up.addr) == 0


def test_security_events(env, signer, forger):
    bad = forger.token(claims(ISS, AUD, sub="mallory"))
    assert env.gw.get("/jwt/x", [("Authorization", "Bearer " + bad)]) \
        .status == 401
    ev = env.wait_events(lambda e: e["event"].get("reason") ==
                         "auth.bad_signature", "a bad-signature event")[0]
    assert ev["event"]["action"] == "authentication.failed"
    assert ev["event"]["category"] == ["authentication"]
    assert ev["event"]["outcome"] == "failure"
    assert ev["source"]["ip"] == "127.0.0.1"
    assert ev["url"]["path"] == "/jwt/x"
    want = hashlib.sha256(bad.encode()).hexdigest()[:12]
    assert ev["apiward"]["credential_id"] == want
    resp = env.gw.send(b"POST /open/x HTTP/1.1\r\nHost: a\r\n"
                       b"Content-Length: 3\r\nTransfer-Encoding: chunked"
                       b"\r\n\r\n0\r\n\r\n")
    assert resp.status == 400
    ev = env.wait_events(lambda e: e["event"].get("reason") ==
                         "http.ambiguous_length", "a smuggling event")[0]
    assert ev["event"]["action"] == "http.ambiguous_request"
    assert env.up.requests == [] or all(
        r.target != "/open/x" for r in env.up.requests)


def test_no_token_or_key_anywhere(env, signer, forger, tmp_path):
    tokens = [signer.token(claims(ISS, AUD, sub="u%d" % i)) for i in range(3)]
    tokens.append(forger.token(claims(ISS, AUD)))
    for t in tokens:
        env.gw.get("/jwt/a", [("Authorization", "Bearer " + t)])
        env.gw.get("/jwt/a?access_token=" + t)
    env.admin("POST", "/introspection/evict",
              body=json.dumps({"token": tokens[0]}))
    env.admin("GET", "/health", token=tokens[1])
    metrics = env.metrics()
    config = env.admin("GET", "/config")[2]
    env.wait_events(lambda e: True, "some event")
    env.gw.stop()
    streams = {"metrics": metrics, "config": config,
               "stderr": env.gw.stderr(), "stdout": env.gw.stdout()}
    for name in ("events.log",):
        with open(str(tmp_path / name)) as f:
            streams[name] = f.read()
    with open(env.gw.access_log_path) as f:
        streams["access log"] = f.read()
    secrets = tokens + [ADMIN_TOKEN]
    # Signature and payload segments on their own are secrets too.
    secrets += [t.split(".")[2] for t in tokens]
    secrets += [t.split(".")[1] for t in tokens]
    for k in (signer, forger):
        d = k.key.private_numbers().private_value.to_bytes(32, "big")
        secrets.append(b64u(d))
    for name, text in streams.items():
        for s in secrets:
            assert s not in text, "a secret reached the %s" % name
    assert streams["events.log"].count("authentication.failed") >= 4


def test_bad_token_file_stops_the_start(gateways, upstream, tmp_path):
    token_file = tmp_path / "loose.token"
    write_token(str(token_file), mode=0o644)
    with pytest.raises(AssertionError, match="exited"):
        gateways([upstream.addr],
                 admin={"listen": "127.0.0.1:%d" % free_port(),
                        "token_file": str(token_file)})


def test_systemd_notifications(gateways, upstream, signer, tmp_path,
                               monkeypatch):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    env = start_env(gateways, upstream, signer, tmp_path)
    assert sock.recv(4096) == b"READY=1"
    env.gw.signal(signal.SIGHUP)
    msg = sock.recv(4096).decode()
    assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", msg), msg
    assert sock.recv(4096) == b"READY=1"
    env.gw.stop()
    assert sock.recv(4096) == b"STOPPING=1"
    sock.close()


def test_certificate_expiry_metric(gateways, upstream, signer, tmp_path):
    cert, key = str(tmp_path / "srv.pem"), str(tmp_path / "srv.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "10",
                    "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    env = start_env(gateways, upstream, signer, tmp_path,
                    tls={"certificates": [{"cert": cert, "key": key}]})
    fams = parse_metrics(env.metrics())
    left = value(fams, "apiward_tls_certificate_expiry_seconds",
                 certificate=cert,
                 listener="127.0.0.1:%d" % env.gw.port)
    assert 9 * 86400 < left <= 10 * 86400


def get_from(gw, source, target, headers):
    """One GET from the loopback address source (127.0.0.x)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.bind((source, 0))
        s.connect(("127.0.0.1", gw.port))
        head = "GET %s HTTP/1.1\r\nHost: api\r\nConnection: close\r\n" % target
        head += "".join("%s: %s\r\n" % h for h in headers) + "\r\n"
        s.sendall(head.encode())
        return read_all(s).split(" ", 2)[1]


def test_suspicious_token_use(gateways, upstream, signer, tmp_path):
    env = start_env(gateways, upstream, signer, tmp_path,
                    events={"token_addresses": 3, "expired_replays": 3,
                            "token_window": "1m"})
    shared = signer.token(claims(ISS, AUD, sub="carol"))
    auth = [("Authorization", "Bearer " + shared)]
    for src in ("127.0.0.2", "127.0.0.3", "127.0.0.2"):
        assert get_from(env.gw, src, "/jwt/a", auth) == "200"
    assert not [e for e in env.events()
                if e["event"].get("action") == "token.many_addresses"]
    assert get_from(env.gw, "127.0.0.4", "/jwt/a", auth) == "200"
    ev = env.wait_events(lambda e: e["event"].get("action") ==
                         "token.many_addresses", "a sharing alert")
    assert len(ev) == 1
    assert ev[0]["user"]["name"] == "carol"
    assert ev[0]["source"]["ip"] == "127.0.0.4"
    want = hashlib.sha256(shared.encode()).hexdigest()[:12]
    assert ev[0]["apiward"]["credential_id"] == want
    now = int(time.time())
    old = signer.token(claims(ISS, AUD, iat=now - 7200, exp=now - 3600))
    for _ in range(3):
        assert env.gw.get("/jwt/a", [("Authorization", "Bearer " + old)]) \
            .status == 401
    ev = env.wait_events(lambda e: e["event"].get("action") ==
                         "token.expired_replay", "a replay alert")
    assert len(ev) == 1
    assert ev[0]["apiward"]["credential_id"] == \
        hashlib.sha256(old.encode()).hexdigest()[:12]
    for text in (json.dumps(env.events()), env.gw.stderr()):
        assert shared not in text and old not in text


def new_api_key(binary, pepper, consumer):
    """Run `apiward key new`; return (key, keys-file line)."""
    p = subprocess.run([binary, "key", "new", "--consumer", consumer,
                        "--pepper-file", pepper], capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
    key = next(ln for ln in lines if ln.startswith("aw_"))
    at = next(i for i, ln in enumerate(lines)
              if ln.startswith("Line to append"))
    return key, lines[at + 1]


def test_api_key_revocation(gateways, upstream, signer, tmp_path,
                            apiward_bin):
    pepper = tmp_path / "pepper"
    pepper.write_text("p" * 32)
    os.chmod(pepper, 0o600)
    keys = [new_api_key(apiward_bin, str(pepper), "c-" + n)
            for n in ("one", "two")]
    keyfile = tmp_path / "api-keys"
    keyfile.write_text("\n".join(line for _, line in keys) + "\n")
    env = start_env(gateways, upstream, signer, tmp_path,
                    api_keys={"file": str(keyfile),
                              "pepper_file": str(pepper)})
    for key, _ in keys:
        assert env.gw.get("/key/x", [("X-API-Key", key)]).status == 200
    kid = keys[0][0].split("_")[1]
    status, _, body = env.admin("POST", "/api-keys/%s/revoke" % kid)
    assert status == 200, body
    resp = env.gw.get("/key/x", [("X-API-Key", keys[0][0])])
    assert resp.status == 401
    assert problem_type(resp.body) == \
        "urn:apiward:problem:auth.key_revoked"
    assert env.gw.get("/key/x", [("X-API-Key", keys[1][0])]) \
        .status == 200
    # The runtime set outlives a reload.
    status, _, body = env.admin("POST", "/reload")
    assert status == 200, body
    resp = env.gw.get("/key/x", [("X-API-Key", keys[0][0])])
    assert resp.status == 401
    for bad in ("/api-keys/UPPER!/revoke", "/api-keys/abcdefgh",
                "/api-keys//revoke"):
        status, _, body = env.admin("POST", bad)
        assert status == 404, bad
        assert problem_type(body) == "urn:apiward:problem:admin.not_found"
    assert keys[0][0] not in open(env.events_path).read()
