"""A JWK Set server on loopback for test_keystore.c.

Run with Debian's /usr/bin/python3 (python3-cryptography). Keys are
EC P-256, generated afresh by each process, named k1, k2, ...

    jwks_server.py [--port N] [--issuer ISS]
        Serve until killed. Prints "PORT <n>" on stdout once listening.
    jwks_server.py --write-jwks PATH COUNT
        Write a JWK Set of COUNT fresh keys (kids f1, f2, ...) and exit.

Endpoints:
    GET  /jwks                                the set, as the mode says
    GET  /.well-known/openid-configuration    {"issuer", "jwks_uri"}
    GET  /redir/N                             302 to /redir/N-1, then /jwks
    GET  /stats                               "jwks=N discovery=M"
    POST /ctl?mode=M&cc=C&delay=S&issuer=I&disco=D
        mode: ok | fail (500) | slow (answer after delay s) |
              hang (sleep 60 s) | big (2 MiB, Content-Length) |
              bigchunked (2 MiB, chunked) | badjson | nokeys |
              unusable (only keys apiward must skip)
        cc: the Cache-Control value; empty for none
        disco: ok | nouri (the document lacks jwks_uri)
    POST /rotate                              add a key; answers its kid
    POST /reset                               zero the counters
"""

import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography.hazmat.primitives.asymmetric import ec


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_jwk(kid):
    nums = ec.generate_private_key(ec.SECP256R1()).public_key() \
        .public_numbers()
    return {"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
            "x": b64(nums.x.to_bytes(32, "big")),
            "y": b64(nums.y.to_bytes(32, "big"))}


class State:
    def __init__(self, issuer):
        self.lock = threading.Lock()
        self.keys = [new_jwk("k1")]
        self.next_kid = 2
        self.mode = "ok"
        self.cc = "max-age=300"
        self.delay = 0.0
        self.issuer = issuer
        self.disco = "ok"
        self.counts = {"jwks": 0, "discovery": 0}


STATE = None
BIG = b" " * (2 << 20)
UNUSABLE = {"keys": [
    {"kty": "oct", "kid": "secret", "k": b64(b"s" * 32)},
    {"kty": "EC", "crv": "P-256", "kid": "off-curve",
     "x": b64(b"\x01" * 32), "y": b64(b"\x02" * 32)},
]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def handle(self):
        # A client that hangs up on purpose (a body over the bound, a
        # timeout) is not an error worth a traceback.
        try:
            super().handle()
        except OSError:
            pass

    def answer(self, status, body, ctype="application/json", cc=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if cc:
            self.send_header("Cache-Control", cc)
        self.end_headers()
        self.wfile.write(body)

    def chunked(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        step = 64 << 10
        try:
            for i in range(0, len(body), step):
                part = body[i:i + step]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/jwks":
            self.serve_jwks()
        elif path == "/.well-known/openid-configuration":
            self.serve_discovery()
        elif path.startswith("/redir/"):
            n = int(path[len("/redir/"):])
            self.send_response(302)
            self.send_header("Location",
                             "/jwks" if n == 0 else "/redir/%d" % (n - 1))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/stats":
            with STATE.lock:
                text = "jwks=%d discovery=%d" % (
                    STATE.counts["jwks"], STATE.counts["discovery"])
            self.answer(200, text.encode(), "text/plain")
        else:
            self.answer(404, b"{}")

    def serve_jwks(self):
        with STATE.lock:
            STATE.counts["jwks"] += 1
            mode, cc, delay = STATE.mode, STATE.cc, STATE.delay
            doc = {"keys": list(STATE.keys)}
        if mode == "slow":
            time.sleep(delay)
        if mode == "hang":
            time.sleep(60)
            return
        if mode == "fail":
            self.answer(500, b'{"error": "down for a test"}')
        elif mode == "big":
            self.answer(200, BIG)
        elif mode == "bigchunked":
            self.chunked(BIG)
        elif mode == "badjson":
            self.answer(200, b'{"keys": [', cc=cc)
        elif mode == "nokeys":
            self.answer(200, b'{"keys": []}', cc=cc)
        elif mode == "unusable":
            self.answer(200, json.dumps(UNUSABLE).encode(), cc=cc)
        else:
            self.answer(200, json.dumps(doc).encode(), cc=cc)

    def serve_discovery(self):
        port = self.server.server_address[1]
        with STATE.lock:
            STATE.counts["discovery"] += 1
            doc = {"issuer": STATE.issuer}
            if STATE.disco != "nouri":
                doc["jwks_uri"] = "http://127.0.0.1:%d/jwks" % port
        self.answer(200, json.dumps(doc).encode())

    def do_POST(self):
        url = urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        if url.path == "/ctl":
            self.control(parse_qs(url.query, keep_blank_values=True))
            self.answer(200, b"ok", "text/plain")
        elif url.path == "/rotate":
            with STATE.lock:
                kid = "k%d" % STATE.next_kid
                STATE.next_kid += 1
                STATE.keys = [new_jwk(kid)] + STATE.keys[:1]
            self.answer(200, kid.encode(), "text/plain")
        elif url.path == "/reset":
            with STATE.lock:
                STATE.counts = {"jwks": 0, "discovery": 0}
            self.answer(200, b"ok", "text/plain")
        else:
            self.answer(404, b"{}")

    def control(self, q):
        with STATE.lock:
            if "mode" in q:
                STATE.mode = q["mode"][0]
            if "cc" in q:
                STATE.cc = q["cc"][0]
            if "delay" in q:
                STATE.delay = float(q["delay"][0])
            if "issuer" in q:
                STATE.issuer = q["issuer"][0]
            if "disco" in q:
                STATE.disco = q["disco"][0]


def write_jwks(path, count):
    keys = [new_jwk("f%d" % (i + 1)) for i in range(count)]
    with open(path, "w") as f:
        json.dump({"keys": keys}, f)


def main(argv):
    global STATE
    if len(argv) == 4 and argv[1] == "--write-jwks":
        write_jwks(argv[2], int(argv[3]))
        return
    port, issuer = 0, "https://issuer.test/"
    i = 1
    while i < len(argv):
        if argv[i] == "--port":
            port = int(argv[i + 1])
        elif argv[i] == "--issuer":
            issuer = argv[i + 1]
        i += 2
    STATE = State(issuer)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
