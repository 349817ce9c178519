"""Building blocks for apiward's integration tests.

Everything here talks to real processes over real loopback sockets:

- Upstream: an origin server on raw sockets and threads. It records every
  request exactly as the gateway sent it (raw head, parsed fields, body and
  how the body was framed), counts accepted connections, and lets a test
  decide byte by byte what goes back: slow answers, chunked answers,
  garbage, a connection closed half way.
- Gateway: one apiward process started from a YAML file in a temporary
  directory, with its output captured to files. Stopping it checks that it
  exited cleanly and that no sanitizer complained.
- RawClient: a client that sends exact bytes, because the malformed
  requests these tests need cannot be produced by an HTTP library.

Nothing here ever connects to an address outside 127.0.0.0/8.
"""

import hashlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import weakref

import yaml

LOOPBACK = "127.0.0.1"

# Headers that must never cross a proxy (RFC 9110 section 7.6.1), plus the
# proxy-only ones that apiward also drops.
HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "te",
              "transfer-encoding", "upgrade", "proxy-authorization",
              "proxy-authenticate", "trailer")

TOKEN_RE = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
TRACEPARENT_RE = re.compile(
    r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def wait_for(predicate, timeout, interval=0.02, what="condition"):
    """Poll predicate until it returns a true value or timeout passes.

    Returns the value; raises AssertionError naming what on timeout, so
    that no test can hang on a condition that never comes.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


def free_port():
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    The port is released before returning, so another process could take
    it first; Gateway.wait_ready checks that the listener it finds is the
    gateway's own, which turns that rare race into a clear error.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# Parsing helpers shared by the upstream server and the raw client.

class ConnectionClosed(Exception):
    """The peer closed the connection before a complete message arrived."""


class Reader:
    """Buffered reads from a socket with an overall deadline per call.

    A reset from the peer is treated as end of stream: on Linux the bytes
    that arrived before the reset can still be read, and the tests care
    about those bytes and about the fact that the stream ended.
    """

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self, deadline):
        if self.eof:
            raise ConnectionClosed("peer closed")
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("read deadline passed")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            raise ConnectionClosed("peer closed")
        self.buf += data

    def read_until(self, marker, deadline, limit=1 << 20):
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                out = self.buf[:i + len(marker)]
                self.buf = self.buf[i + len(marker):]
                return out
            if len(self.buf) > limit:
                raise AssertionError("no %r within %d bytes" % (marker, limit))
            self._fill(deadline)

    def read_exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out = self.buf[:n]
        self.buf = self.buf[n:]
        return out

    def read_to_eof(self, deadline):
        try:
            while True:
                self._fill(deadline)
        except ConnectionClosed:
            pass
        out = self.buf
        self.buf = b""
        return out


def parse_head(raw):
    """Split a raw head into its start line and (name, value) fields."""
    text = raw.decode("latin-1")
    lines = text[:-4].split("\r\n")
    fields = []
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise AssertionError("malformed field line %r in head %r"
                                 % (line, text))
        fields.append((name, value.strip(" \t")))
    return lines[0], fields


def find_header(fields, name):
    name = name.lower()
    for n, v in fields:
        if n.lower() == name:
            return v
    return None


def all_headers(fields, name):
    name = name.lower()
    return [v for n, v in fields if n.lower() == name]


def read_chunked(reader, deadline):
    """Read a chunked body; return (decoded payload, raw bytes on the wire)."""
    payload = b""
    raw = b""
    while True:
        line = reader.read_until(b"\r\n", deadline)
        raw += line
        size = int(line.split(b";")[0].strip(), 16)
        if size == 0:
            break
        data = reader.read_exact(size + 2, deadline)
        raw += data
        if data[-2:] != b"\r\n":
            raise AssertionError("chunk not followed by CRLF: %r" % data[-2:])
        payload += data[:-2]
    while True:
        line = reader.read_until(b"\r\n", deadline)
        raw += line
        if line == b"\r\n":
            return payload, raw


# ---------------------------------------------------------------------------
# The upstream (origin) server.

class Received:
    """One request as the upstream server saw it on the wire."""

    def __init__(self, conn_id, peer, head, body, framing, body_raw):
        self.conn_id = conn_id
        self.peer = peer
        self.head = head            # raw bytes up to and including CRLFCRLF
        self.body = body            # decoded payload
        self.body_raw = body_raw    # payload bytes as framed on the wire
        self.framing = framing      # "none", "length" or "chunked"
        start, self.fields = parse_head(head)
        parts = start.split(" ")
        if len(parts) != 3:
            raise AssertionError("malformed request line %r" % start)
        self.method, self.target, self.version = parts
        self.time = time.monotonic()

    @property
    def path(self):
        return self.target.split("?", 1)[0]

    def header(self, name):
        return find_header(self.fields, name)

    def headers(self, name):
        return all_headers(self.fields, name)

    def names(self):
        return [n.lower() for n, _ in self.fields]


class Ctx:
    """What a handler gets besides the request: the socket and its server."""

    def __init__(self, upstream, sock, conn_id):
        self.upstream = upstream
        self.sock = sock
        self.conn_id = conn_id
        self.close_after = False

    def send(self, data):
        self.sock.sendall(data)

    def sleep(self, seconds):
        """Sleep, but wake early when the server is being stopped."""
        self.upstream.stopping.wait(seconds)

    def close(self):
        self.close_after = True


def http_response(status=200, body=b"", headers=None, reason="X",
                  content_length=True):
    """Build a complete HTTP/1.1 response with a Content-Length."""
    if isinstance(body, str):
        body = body.encode()
    lines = ["HTTP/1.1 %d %s" % (status, reason)]
    for name, value in (headers or []):
        lines.append("%s: %s" % (name, value))
    if content_length:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def echo_body(req, upstream):
    """The JSON document the echo handler answers with."""
    doc = {
        "upstream": upstream.name,
        "conn": req.conn_id,
        "method": req.method,
        "target": req.target,
        "version": req.version,
        "headers": [[n, v] for n, v in req.fields],
        "framing": req.framing,
        "body_len": len(req.body),
        "body_sha256": hashlib.sha256(req.body).hexdigest(),
    }
    if len(req.body) <= 65536:
        doc["body"] = req.body.decode("latin-1")
    return json.dumps(doc).encode()


def echo_handler(req, ctx):
    """Answer 200 with a JSON description of what was received."""
    body = echo_body(req, ctx.upstream)
    headers = [("Content-Type", "application/json")]
    if req.method == "HEAD":
        head = http_response(200, body, headers)
        return head[:len(head) - len(body)]
    return http_response(200, body, headers)


class Upstream:
    """A threaded HTTP/1.1 origin server with full control over the bytes.

    handler(req, ctx) is called for every request; it returns the bytes to
    send (or None after sending them itself through ctx.send) and may call
    ctx.close() to close the connection afterwards. Requests are recorded
    in self.requests in arrival order; self.connections counts accepted
    connections.
    """

    def __init__(self, handler=None, name="up", port=0, send_continue=True):
        self.name = name
        self.handler = handler or echo_handler
        self.send_continue = send_continue
        self.requests = []
        self.connections = 0
        self.errors = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.socks = set()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((LOOPBACK, port))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.addr = "%s:%d" % (LOOPBACK, self.port)
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)
        self.thread.start()

    def __repr__(self):
        return "Upstream(%s @ %s)" % (self.name, self.addr)

    def reset(self):
        with self.lock:
            self.requests = []
            self.connections = 0

    def count(self):
        with self.lock:
            return len(self.requests)

    def last(self):
        with self.lock:
            assert self.requests, "%s received no request" % self.name
            return self.requests[-1]

    def wait_requests(self, n, timeout=5):
        wait_for(lambda: self.count() >= n, timeout,
                 what="%d request(s) at %s" % (n, self.name))
        return self.requests[n - 1]

    def _accept_loop(self):
        listener = self.listener
        while not self.stopping.is_set():
            try:
                ready, _, _ = select.select([listener], [], [], 0.1)
                if not ready:
                    continue
                sock, peer = listener.accept()
            except (OSError, ValueError):
                return
            with self.lock:
                self.connections += 1
                conn_id = self.connections
                self.socks.add(sock)
            threading.Thread(target=self._serve, args=(sock, peer, conn_id),
                             daemon=True).start()

    def _serve(self, sock, peer, conn_id):
        reader = Reader(sock)
        ctx = Ctx(self, sock, conn_id)
        try:
            while not self.stopping.is_set():
                req = self._read_request(reader, sock, conn_id, peer)
                if req is None:
                    return
                with self.lock:
                    self.requests.append(req)
                out = self.handler(req, ctx)
                if out:
                    sock.sendall(out)
                conn = (req.header("connection") or "").lower()
                if ctx.close_after or "close" in conn:
                    return
        except (ConnectionClosed, OSError):
            pass
        except Exception as e:  # recorded so a test can see handler bugs
            self.errors.append(repr(e))
        finally:
            self._close(sock)

    def _read_request(self, reader, sock, conn_id, peer):
        deadline = time.monotonic() + 120
        try:
            head = reader.read_until(b"\r\n\r\n", deadline)
        except ConnectionClosed:
            return None
        _, fields = parse_head(head)
        te = find_header(fields, "transfer-encoding")
        cl = find_header(fields, "content-length")
        expect = (find_header(fields, "expect") or "").lower()
        framing = "chunked" if te else ("length" if cl is not None
                                        else "none")
        if framing != "none" and expect == "100-continue" \
                and self.send_continue:
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if framing == "chunked":
            body, raw = read_chunked(reader, deadline)
        elif framing == "length":
            body = raw = reader.read_exact(int(cl), deadline)
        else:
            body = raw = b""
        return Received(conn_id, peer, head, body, framing, raw)

    def _close(self, sock):
        with self.lock:
            self.socks.discard(sock)
        try:
            sock.close()
        except OSError:
            pass

    def drop_connections(self):
        """Close every open connection (the listener stays open)."""
        with self.lock:
            socks = list(self.socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stop(self):
        """Stop listening and close every connection: a dead server."""
        self.stopping.set()
        try:
            self.listener.close()
        except OSError:
            pass
        self.drop_connections()
        self.thread.join(2)


# ---------------------------------------------------------------------------
# The raw client.

class Response:
    """One response as read by RawClient."""

    def __init__(self, head, body, body_raw=b""):
        self.head = head
        self.body = body
        self.body_raw = body_raw
        start, self.fields = parse_head(head)
        parts = start.split(" ", 2)
        self.version = parts[0]
        self.status = int(parts[1])
        self.reason = parts[2] if len(parts) > 2 else ""

    def header(self, name):
        return find_header(self.fields, name)

    def headers(self, name):
        return all_headers(self.fields, name)

    def json(self):
        return json.loads(self.body)

    def wants_close(self):
        return "close" in (self.header("connection") or "").lower()

    def __repr__(self):
        return "<Response %d %r body=%r>" % (self.status, self.fields,
                                            self.body[:300])


_clients = weakref.WeakSet()


def close_all_clients():
    """Close every RawClient still open (used before stopping a gateway)."""
    for c in list(_clients):
        c.close()


def build_request(method, target, headers=None, body=None,
                  version="HTTP/1.1", host="gw.test"):
    """Serialise a request; Host and Content-Length are added if missing."""
    if isinstance(body, str):
        body = body.encode()
    fields = list(headers or [])
    names = [n.lower() for n, _ in fields]
    if host is not None and "host" not in names:
        fields.insert(0, ("Host", host))
    if body is not None and "content-length" not in names \
            and "transfer-encoding" not in names:
        fields.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, target, version)
    head += "".join("%s: %s\r\n" % f for f in fields) + "\r\n"
    return head.encode("latin-1") + (body or b"")


class RawClient:
    """A TCP client that sends exact bytes and reads HTTP/1.1 responses."""

    def __init__(self, port, source=None, timeout=5):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        self.sock.connect((LOOPBACK, port))
        self.reader = Reader(self.sock)
        self.closed = False
        _clients.add(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, target, headers=None, body=None, **kw):
        self.send(build_request(method, target, headers, body, **kw))

    def read_response(self, timeout=5, head_request=False):
        """Read one response, interim (1xx) ones included."""
        deadline = time.monotonic() + timeout
        head = self.reader.read_until(b"\r\n\r\n", deadline)
        resp = Response(head, b"")
        status = resp.status
        te = (resp.header("transfer-encoding") or "").lower()
        cl = resp.header("content-length")
        if head_request or status < 200 or status in (204, 304):
            return resp
        if te:
            assert te == "chunked", "unexpected Transfer-Encoding %r" % te
            resp.body, resp.body_raw = read_chunked(self.reader, deadline)
        elif cl is not None:
            resp.body = self.reader.read_exact(int(cl), deadline)
        else:
            resp.body = self.reader.read_to_eof(deadline)
        return resp

    def read_final(self, timeout=5, head_request=False):
        """Read responses until a final one; return (final, interims)."""
        interims = []
        deadline = time.monotonic() + timeout
        while True:
            left = max(0.01, deadline - time.monotonic())
            resp = self.read_response(left, head_request)
            if resp.status >= 200:
                return resp, interims
            interims.append(resp)

    def get(self, target, headers=None, timeout=5):
        self.request("GET", target, headers)
        return self.read_response(timeout)

    def wait_closed(self, timeout=3):
        """True when the peer closes (EOF or reset) within timeout.

        Bytes that arrive meanwhile are kept in self.leftover.
        """
        deadline = time.monotonic() + timeout
        try:
            self.leftover = self.reader.read_to_eof(deadline)
        except socket.timeout:
            return False
        return self.reader.eof

    def pending(self, timeout=0.2):
        """Bytes already buffered or arriving within timeout (b"" if none)."""
        data = self.reader.buf
        self.reader.buf = b""
        self.sock.settimeout(timeout)
        try:
            more = self.sock.recv(65536)
            data += more
        except (socket.timeout, ConnectionResetError):
            pass
        return data

    def close(self):
        if not self.closed:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------
# Problem details.

def problem_code_matches(ptype, expected):
    """True when a problem "type" names one of the expected reason codes.

    expected is a code, or a list of codes; a code ending in "*" matches
    any code with that prefix. The type must end with the code, after a
    separator or nothing: "https://.../problems/http.fragment" and
    "http.fragment" both name http.fragment.
    """
    if isinstance(expected, str):
        expected = [expected]
    for code in expected:
        if code.endswith("*"):
            pat = re.escape(code[:-1]) + r"[a-z0-9_.]*"
        else:
            pat = re.escape(code)
        if re.search(r"(^|[/:#])" + pat + r"$", ptype):
            return True
    return False


def assert_problem(resp, status, reason=None):
    """Check that resp is an RFC 9457 problem with this status and code.

    Returns the parsed document.
    """
    if isinstance(status, int):
        status = (status,)
    assert resp.status in status, \
        "expected status %s, got %r" % (status, resp)
    ctype = (resp.header("content-type") or "").split(";")[0].strip()
    assert ctype.lower() == "application/problem+json", \
        "expected application/problem+json, got %r in %r" % (ctype, resp)
    doc = json.loads(resp.body)
    for key in ("type", "title", "status", "detail"):
        assert key in doc, "problem lacks %r: %r" % (key, doc)
    assert doc["status"] == resp.status, doc
    if reason is not None:
        assert problem_code_matches(doc["type"], reason), \
            "problem type %r does not name %r" % (doc["type"], reason)
    return doc


def problem_code(resp):
    """The reason code at the end of a problem's type URI."""
    ptype = resp.json()["type"]
    return re.split(r"[/:#]", ptype)[-1]


# ---------------------------------------------------------------------------
# Configuration.

def deep_merge(base, extra):
    """Merge extra into a copy of base; dicts merge, other values replace."""
    out = dict(base)
    for key, value in (extra or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def default_routes(upstream="demo"):
    return [
        {"name": "users", "methods": ["GET"], "path": "/users/{id}",
         "upstream": upstream},
        {"name": "files", "path": "/files/{rest*}", "upstream": upstream},
        {"name": "api", "path": "/api", "prefix": True,
         "upstream": upstream, "max_body": "64k", "read_timeout": "5s"},
    ]


def with_authz(routes):
    """Routes as given, each without an authz section made public.

    Every route must say who may call it; the tests of other stages are
    not about authorization, so their routes are open unless they say
    otherwise.
    """
    return [r if "authz" in r else dict(r, authz={"public": True})
            for r in routes]


def make_config(port, servers, workdir, routes=None, upstream=None,
                **overrides):
    """A complete apiward configuration as a dict.

    servers lists "host:port" strings of upstream "demo". overrides are
    merged section by section (for example timeouts={"header": "1s"}).
    drain_timeout is short so that a test that leaves a connection open
    costs seconds, not the default ten, at teardown.
    """
    up = {"servers": list(servers), "balance": "round_robin",
          "connect_timeout": "2s", "read_timeout": "30s",
          "write_timeout": "30s", "keepalive": 64,
          "keepalive_timeout": "60s", "max_fails": 3,
          "fail_timeout": "10s", "retry_idempotent": True}
    up = deep_merge(up, upstream)
    cfg = {
        "server": {"listen": ["%s:%d" % (LOOPBACK, port)], "workers": 2,
                   "drain_timeout": "3s", "keepalive_requests": 10000,
                   "max_connections": 10000},
        "limits": {"max_head": "16k", "max_headers": 100,
                   "max_target": "8k", "max_body": "1m"},
        "timeouts": {"header": "10s", "body": "30s", "idle": "60s",
                     "send": "30s"},
        "normalization": {"slashes": "merge", "reject_encoded_slash": True,
                          "reject_encoded_dot": True,
                          "reject_backslash": True, "reject_nul": True,
                          "reject_invalid_utf8": True,
                          "reject_dot_segments": False},
        "trusted_proxies": ["127.0.0.2/32"],
        "security_headers": {"X-Content-Type-Options": "nosniff"},
        "access_log": {"path": os.path.join(str(workdir), "access.log"),
                       "buffer": "256k"},
        "log": {"level": "info"},
        "upstreams": {"demo": up},
        "routes": with_authz(routes if routes is not None
                             else default_routes()),
    }
    extra_upstreams = overrides.pop("upstreams", None)
    cfg = deep_merge(cfg, overrides)
    if extra_upstreams:
        cfg["upstreams"] = deep_merge(cfg["upstreams"], extra_upstreams)
    return cfg


def dump_config(cfg):
    return yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False)


# ---------------------------------------------------------------------------
# The gateway process.

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer",
                   "UndefinedBehaviorSanitizer", "runtime error:")


def listening_inodes(port):
    """Socket inodes listening on 127.0.0.1/0.0.0.0:port (IPv4 only)."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            local, state, inode = parts[1], parts[3], parts[9]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                inodes.add(inode)
    return inodes


def process_socket_inodes(pid):
    out = set()
    fd_dir = "/proc/%d/fd" % pid
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return out
    for name in names:
        try:
            target = os.readlink(os.path.join(fd_dir, name))
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


class Gateway:
    """One apiward process and the files around it."""

    def __init__(self, binary, workdir, port, config=None, args=None,
                 name="gw"):
        self.binary = binary
        self.workdir = str(workdir)
        self.port = port
        self.name = name
        self.config_path = os.path.join(self.workdir, name + ".yaml")
        self.stdout_path = os.path.join(self.workdir, name + ".stdout")
        self.stderr_path = os.path.join(self.workdir, name + ".stderr")
        self.access_log_path = os.path.join(self.workdir, "access.log")
        self.config = config
        if config is not None:
            self.write_config(config)
        self.args = args or ["run", "-c", self.config_path]
        self.proc = None
        self.returncode = None
        self.stop_duration = None

    def write_config(self, config):
        """Write config (a dict or YAML text) atomically to config_path.

        Routes of a dict without an authz section are made public
        (with_authz); YAML text is written as it is.
        """
        if isinstance(config, dict) and isinstance(config.get("routes"), list):
            config = dict(config, routes=with_authz(config["routes"]))
        text = config if isinstance(config, str) else dump_config(config)
        if not isinstance(config, str):
            self.config = config
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config_path)

    def start(self, ready_timeout=10):
        out = open(self.stdout_path, "ab")
        err = open(self.stderr_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
        self.proc = subprocess.Popen([self.binary] + self.args, stdout=out,
                                     stderr=err, stdin=subprocess.DEVNULL,
                                     cwd=self.workdir, env=env)
        out.close()
        err.close()
        self.wait_ready(ready_timeout)
        return self

    def wait_ready(self, timeout):
        """Wait until this process (not another one) listens on the port."""
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise AssertionError("apiward exited with %d before "
                                     "listening; stderr:\n%s"
                                     % (rc, self.stderr()[-3000:]))
            listening = listening_inodes(self.port)
            ours = process_socket_inodes(self.proc.pid)
            if listening & ours:
                foreign = listening - ours
                assert not foreign, ("another process also listens on "
                                     "port %d" % self.port)
                return
            if time.monotonic() >= deadline:
                self.proc.kill()
                self.proc.wait(5)
                raise AssertionError("apiward did not listen on %d within "
                                     "%.0fs; stderr:\n%s"
                                     % (self.port, timeout,
                                        self.stderr()[-3000:]))
            time.sleep(0.02)

    @property
    def url(self):
        return "http://%s:%d" % (LOOPBACK, self.port)

    def client(self, **kw):
        return RawClient(self.port, **kw)

    def get(self, target, headers=None, timeout=5):
        """One GET on a new connection."""
        with RawClient(self.port) as c:
            return c.get(target, headers, timeout)

    def send(self, data, timeout=5, head_request=False):
        """Send raw bytes on a new connection and read one final response."""
        with RawClient(self.port) as c:
            c.send(data)
            return c.read_final(timeout, head_request)[0]

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stdout(self):
        try:
            with open(self.stdout_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def reload(self, config):
        self.write_config(config)
        self.signal(signal.SIGHUP)

    def stop(self, timeout=None):
        """SIGTERM the process and wait; returns its exit status."""
        if self.proc is None:
            return None
        if self.returncode is None:
            if self.proc.poll() is None:
                t0 = time.monotonic()
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout or 15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
                    self.returncode = "hung"
                    return self.returncode
                self.stop_duration = time.monotonic() - t0
            self.returncode = self.proc.returncode
        return self.returncode

    def sanitizer_reports(self):
        text = self.stderr() + self.stdout()
        return [m for m in SANITIZER_MARKS if m in text]

    def assert_clean_exit(self):
        rc = self.stop()
        marks = self.sanitizer_reports()
        assert rc == 0 and not marks, (
            "apiward %s: exit status %r (expected 0 after SIGTERM), "
            "sanitizer marks %r; stderr tail:\n%s"
            % (self.name, rc, marks, self.stderr()[-4000:]))

    # -- access log ---------------------------------------------------------

    def access_entries(self):
        """Every access-log line parsed as JSON (a list of dicts)."""
        try:
            with open(self.access_log_path, "rb") as f:
                lines = f.read().decode("utf-8").splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    raise AssertionError("access-log line is not JSON: %r"
                                         % line)
        return out

    def wait_access_entries(self, n, timeout=3):
        """At least n access-log entries.

        The log is buffered per worker; a flush is awaited for timeout
        seconds, after which the gateway is stopped, because stopping must
        flush. The caller must have finished its requests.
        """
        try:
            wait_for(lambda: len(self.access_entries()) >= n, timeout,
                     what="%d access-log entries" % n)
        except AssertionError:
            close_all_clients()
            self.stop()
        entries = self.access_entries()
        assert len(entries) >= n, ("expected %d access-log entries, found "
                                   "%d: %r" % (n, len(entries), entries))
        return entries
