"""A token issuer for the identity tests: signing keys, tokens, and a
JWKS/OpenID server that runs as a separate process on loopback.

Run as a script, this file is the server:

    /usr/bin/python3 idp.py ISSUER

It prints "PORT <n>" once it listens on 127.0.0.1 and serves:

    GET  /.well-known/openid-configuration   {"issuer", "jwks_uri"}
    GET  /jwks                               the current JWK Set, with
                                             Cache-Control as set
    GET  /admin/stats                        {"jwks": n, "discovery": m}
    POST /admin/keys                         body: the JWK Set to serve
    POST /admin/mode?m=ok|fail               fail: /jwks and discovery
                                             answer 500
    POST /admin/config?cc=V&issuer=I         Cache-Control value, and the
                                             issuer the discovery
                                             document names

Imported, it gives the tests the IdP class (which starts that process and
talks to its admin endpoints) and SigningKey (a private key of each kind
PyJWT signs with, its public JWK, and a token minting helper). Tokens are
always minted by PyJWT with cryptography; nothing here hand-signs.
"""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PYTHON = "/usr/bin/python3"
LOOPBACK = "127.0.0.1"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------------------
# Keys and tokens (imported side).

class SigningKey:
    """A private key, its public JWK and its PyJWT algorithm.

    kind is one of RS256, PS256, ES256, ES384, ES512, Ed25519, Ed448,
    HS256. For HS256 the "public" JWK is the oct secret itself, which
    only a key file may hold.
    """

    def __init__(self, kind, kid):
        from cryptography.hazmat.primitives.asymmetric import (ec, ed448,
                                                               ed25519, rsa)
        self.kind = kind
        self.kid = kid
        self.alg = {"Ed25519": "EdDSA", "Ed448": "EdDSA"}.get(kind, kind)
        if kind in ("RS256", "PS256"):
            self.key = rsa.generate_private_key(65537, 2048)
        elif kind.startswith("ES"):
            curve = {"ES256": ec.SECP256R1, "ES384": ec.SECP384R1,
                     "ES512": ec.SECP521R1}[kind]
            self.key = ec.generate_private_key(curve())
        elif kind == "Ed25519":
            self.key = ed25519.Ed25519PrivateKey.generate()
        elif kind == "Ed448":
            self.key = ed448.Ed448PrivateKey.generate()
        elif kind == "HS256":
            self.key = os.urandom(32)
        else:
            raise ValueError(kind)

    @property
    def jwk(self):
        """The public JWK (the secret for HS256), with kid and use."""
        from cryptography.hazmat.primitives import serialization
        out = {"kid": self.kid, "use": "sig"}
        if self.kind == "HS256":
            out.update(kty="oct", k=b64u(self.key), alg="HS256")
        elif self.kind in ("RS256", "PS256"):
            n = self.key.public_key().public_numbers()
            out.update(kty="RSA", n=b64u(n.n.to_bytes(256, "big")),
                       e=b64u(n.e.to_bytes(3, "big")))
        elif self.kind.startswith("ES"):
            n = self.key.public_key().public_numbers()
            size = (self.key.curve.key_size + 7) // 8
            crv = {256: "P-256", 384: "P-384", 521: "P-521"}[
                self.key.curve.key_size]
            out.update(kty="EC", crv=crv, x=b64u(n.x.to_bytes(size, "big")),
                       y=b64u(n.y.to_bytes(size, "big")))
        else:
            raw = self.key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            out.update(kty="OKP", crv=self.kind, x=b64u(raw))
        return out

    def public_pem(self):
        from cryptography.hazmat.primitives import serialization
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)

    def token(self, claims, headers=None, kid=True, alg=None):
        """A compact JWS of claims signed with this key by PyJWT."""
        import jwt
        hdr = dict(headers or {})
        if kid:
            hdr.setdefault("kid", self.kid)
        return jwt.encode(claims, self.key, algorithm=alg or self.alg,
                          headers=hdr)


def claims(issuer, audience, **extra):
    """Registered claims valid for an hour, with extra merged in; an extra
    value of None removes the claim."""
    now = int(time.time())
    out = {"iss": issuer, "aud": audience, "sub": "alice", "iat": now,
           "exp": now + 3600}
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


def jwks(*keys):
    return {"keys": [k.jwk for k in keys]}


class IdP:
    """The server process, driven through its admin endpoints."""

    def __init__(self, issuer, workdir):
        self.issuer = issuer
        self.log_path = os.path.join(str(workdir), "idp.log")
        self.proc = None
        self.port = None

    def start(self, timeout=10):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [PYTHON, os.path.abspath(__file__), self.issuer],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        line = self._read_port_line(timeout)
        if not line.startswith(b"PORT "):
            self.stop()
            raise AssertionError("idp did not start: %r" % line)
        self.port = int(line.split()[1])
        return self

    def _read_port_line(self, timeout):
        out = []
        reader = threading.Thread(
            target=lambda: out.append(self.proc.stdout.readline()),
            daemon=True)
        reader.start()
        reader.join(timeout)
        return out[0] if out else b""

    @property
    def url(self):
        return "http://%s:%d" % (LOOPBACK, self.port)

    @property
    def jwks_url(self):
        return self.url + "/jwks"

    @property
    def discovery_url(self):
        return self.url + "/.well-known/openid-configuration"

    def _call(self, method, path, body=None):
        req = urllib.request.Request(self.url + path, data=body,
                                     method=method)
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read() or b"null")

    def set_keys(self, *keys):
        self._call("POST", "/admin/keys", json.dumps(jwks(*keys)).encode())

    def set_mode(self, mode):
        self._call("POST", "/admin/mode?m=" + mode, b"")

    def configure(self, cc=None, issuer=None):
        q = []
        if cc is not None:
            q.append("cc=" + urllib.request.quote(cc))
        if issuer is not None:
            q.append("issuer=" + urllib.request.quote(issuer, safe=""))
        self._call("POST", "/admin/config?" + "&".join(q), b"")

    def stats(self):
        return self._call("GET", "/admin/stats")

    def stop(self):
        """Kill the process: from now on nothing listens on its port."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()


# ---------------------------------------------------------------------------
# The server (script side).

class State:
    def __init__(self, issuer):
        self.lock = threading.Lock()
        self.issuer = issuer
        self.jwks = {"keys": []}
        self.mode = "ok"
        self.cc = "max-age=300"
        self.counts = {"jwks": 0, "discovery": 0}


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status, doc, cc=None):
            data = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if cc:
                self.send_header("Cache-Control", cc)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            path = urlsplit(self.path).path
            with state.lock:
                if path in ("/jwks", "/.well-known/openid-configuration"):
                    state.counts["jwks" if path == "/jwks"
                                 else "discovery"] += 1
                mode, cc = state.mode, state.cc
                doc = state.jwks if path == "/jwks" else {
                    "issuer": state.issuer,
                    "jwks_uri": "http://%s:%d/jwks"
                                % (LOOPBACK, self.server.server_port)}
                stats = dict(state.counts)
            if path == "/admin/stats":
                self.reply(200, stats)
            elif path not in ("/jwks", "/.well-known/openid-configuration"):
                self.reply(404, {"error": "not found"})
            elif mode == "fail":
                self.reply(500, {"error": "failing on purpose"})
            else:
                self.reply(200, doc, cc)

        def do_POST(self):
            url = urlsplit(self.path)
            q = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with state.lock:
                if url.path == "/admin/keys":
                    state.jwks = json.loads(body)
                elif url.path == "/admin/mode":
                    state.mode = q["m"]
                elif url.path == "/admin/config":
                    state.cc = q.get("cc", state.cc)
                    state.issuer = q.get("issuer", state.issuer)
                else:
                    self.reply(404, {"error": "not found"})
                    return
            self.reply(200, {"ok": True})

        def log_message(self, fmt, *args):
            sys.stderr.write("idp: %s\n" % (fmt % args))

    return Handler


def main():
    state = State(sys.argv[1])
    server = ThreadingHTTPServer((LOOPBACK, 0), make_handler(state))
    server.daemon_threads = True
    sys.stdout.write("PORT %d\n" % server.server_port)
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
