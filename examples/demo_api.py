#!/usr/bin/python3
"""A small demo API to put behind apiward (standard library only).

    python3 examples/demo_api.py [PORT]        # default 9000

Endpoints, all JSON:
    GET  /health        {"status": "ok"}
    GET  /users         the list of users
    GET  /users/{id}    one user, or 404
    GET  /me            who the gateway says is calling: the X-Auth-*
                        fields it received, and whether an
                        Authorization field reached it
    POST /users         stores the JSON object sent and answers it with
                        a new "id" (201)

It also has GET /admin/debug, an internal endpoint that is in no
documentation and dumps the server's state. It stands for the kind of
endpoint a backend forgets about: the quickstart configuration keeps it
closed at the gateway.
"""

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 64 * 1024


class Store:
    """Users kept in memory, safe to use from the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.users = {1: {"id": 1, "name": "Ada"},
                      2: {"id": 2, "name": "Grace"}}
        self.next_id = 3

    def list(self):
        with self.lock:
            return list(self.users.values())

    def get(self, user_id):
        with self.lock:
            return self.users.get(user_id)

    def add(self, fields):
        with self.lock:
            user = dict(fields, id=self.next_id)
            self.users[self.next_id] = user
            self.next_id += 1
            return user


STORE = Store()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer has a length
    server_version = "demo-api/1.0"

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def not_found(self):
        self.send_json(404, {"error": "not found", "path": self.path})

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/health":
            self.send_json(200, {"status": "ok"})
        elif path == "/users":
            self.send_json(200, STORE.list())
        elif path.startswith("/users/"):
            tail = path[len("/users/"):]
            user = STORE.get(int(tail)) if tail.isdigit() else None
            if user is None:
                self.not_found()
            else:
                self.send_json(200, user)
        elif path == "/me":
            seen = {k: v for k, v in self.headers.items()
                    if k.lower().startswith("x-auth-")}
            self.send_json(200, {"identity": seen,
                                 "authorization_forwarded":
                                     "Authorization" in self.headers})
        elif path == "/admin/debug":
            # Deliberately careless: this must never be reachable.
            self.send_json(200, {"users": STORE.list(),
                                 "debug_token": "demo-only-not-a-secret",
                                 "threads": threading.active_count()})
        else:
            self.not_found()

    do_HEAD = do_GET

    def do_POST(self):
        length = self.headers.get("Content-Length", "")
        if self.path.split("?", 1)[0] != "/users":
            self.close_connection = True  # the body was not read
            self.not_found()
            return
        if not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True
            self.send_json(411 if not length.isdigit() else 413,
                           {"error": "a JSON body of at most %d bytes, "
                                     "with Content-Length" % MAX_BODY})
            return
        try:
            fields = json.loads(self.rfile.read(int(length)))
        except ValueError:
            self.send_json(400, {"error": "the body is not JSON"})
            return
        if not isinstance(fields, dict):
            self.send_json(400, {"error": "the body must be an object"})
            return
        self.send_json(201, STORE.add(fields))

    def log_message(self, fmt, *args):
        sys.stderr.write("demo-api: %s\n" % (fmt % args))


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("demo API on http://127.0.0.1:%d" % port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
