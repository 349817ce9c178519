#!/usr/bin/python3
"""Detection and false-positive rates of inspecting gateways, measured
through the gateways themselves.

Every line of two sets of corpora is sent through each gateway named on
the command line, in every place of a request where its class belongs,
and each answer's status is counted: 403 is a refusal by the inspection,
any other 4xx but 404 a refusal by an earlier layer (the HTTP parser,
the body reader), counted as refused too and shown apart; everything
else passed.

The sets:

- tuning: tests/unit/inspect_corpus, the corpora apiward's detectors
  were written against (<class>-attack.txt, <class>-benign.txt);
- independent: bench/inspect_corpus, written apart from the detectors:
  attacks in the style of public cheat sheets (<class>-attack.txt) and
  ordinary API traffic (<kind>-benign.txt).

A line is a value percent-escaped where a byte cannot be written
plainly, as the unit tests read it: it is percent-decoded once here,
and that value is what the application should receive. It is then
encoded for its place: percent-encoded as a query parameter's value
(`GET /small?id=..&q=VALUE&..`), a JSON string in a POST body
(`{"tenant":..,"note":VALUE,..}`), for the classes where it belongs a
User-Agent field, a path segment (traversal) or a parameter and member
name (NoSQL operators). Values that cannot be carried in a place
(invalid UTF-8 in JSON, control bytes in a header field) are left out
of it and counted as not sendable. SSRF values (and benign URLs) go in
the parameter `url` and the member `/url`, which the apiward
configuration names as URLs; the rest in `q` and `/note`.

Only the Python standard library is used.

usage: inspect_rates.py [--markdown FILE] [--json FILE] [--diff FILE]
                        NAME=HOST:PORT ...
"""

import argparse
import json
import os
import re
import socket
import sys
import urllib.parse

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
SETS = (("tuning", os.path.join(REPO, "tests", "unit", "inspect_corpus")),
        ("independent", os.path.join(BENCH_DIR, "inspect_corpus")))
HOST = "api.example.com"
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 "
              "Firefox/128.0")
# Where each group's values are sent besides a query parameter's value
# and a JSON string value.
EXTRA_PLACES = {
    "nosql": ("query name", "json name"),
    "traversal": ("path",),
    "sqli": ("user-agent",),
    "xss": ("user-agent",),
    "template": ("user-agent",),
    "cmdi": ("user-agent",),
}
# Groups whose values are URLs, sent where the gateway expects URLs.
URL_GROUPS = ("ssrf", "urls")
PLACES = ("query", "json", "query name", "json name", "path", "user-agent")


def read_lines(path):
    with open(path, "rb") as f:
        return [ln.rstrip(b"\r\n") for ln in f if ln.strip(b"\r\n")]


def load_sets():
    """[(set, group, kind, [values])]; kind is attack or benign, each
    value the bytes the application should receive."""
    found = []
    for name, folder in SETS:
        if not os.path.isdir(folder):
            continue
        for fname in sorted(os.listdir(folder)):
            m = re.fullmatch(r"([a-z0-9_]+)-(attack|benign)\.txt", fname)
            if not m:
                continue
            values = [urllib.parse.unquote_to_bytes(ln)
                      for ln in read_lines(os.path.join(folder, fname))]
            found.append((name, m.group(1), m.group(2), values))
    return found


def query(params):
    return "&".join(f"{urllib.parse.quote_from_bytes(k, safe='')}="
                    f"{urllib.parse.quote_from_bytes(v, safe='')}"
                    for k, v in params)


def json_text(value):
    """value as a JSON string, or None when it is not UTF-8."""
    try:
        return json.dumps(value.decode("utf-8"), ensure_ascii=False)
    except UnicodeDecodeError:
        return None


def header_safe(value):
    return value == value.strip() and value and not any(
        b < 0x20 and b != 0x09 or b == 0x7f for b in value)


def request(place, group, value):
    """The request bytes carrying value in place, or None when value
    cannot be carried there."""
    param = b"url" if group in URL_GROUPS else b"q"
    head = {"Host": HOST, "User-Agent": USER_AGENT,
            "Accept": "application/json", "Accept-Language": "en-US"}
    method, body = "GET", None
    if place == "query":
        target = "/small?" + query([(b"id", b"1842"), (b"sort", b"-created"),
                                    (param, value), (b"page", b"2")])
    elif place == "query name":
        target = "/small?" + query([(b"id", b"1842"), (value, b"1")])
    elif place == "path":
        target = "/small/" + urllib.parse.quote_from_bytes(value, safe="/")
    elif place == "user-agent":
        if not header_safe(value):
            return None
        target = "/small?id=1842"
        head["User-Agent"] = value.decode("latin-1")
    else:
        text = json_text(value)
        if text is None:
            return None
        if place == "json":
            member = json.dumps(param.decode())
            doc = (f'{{"tenant":"acme","id":1842,{member}:{text},'
                   f'"tags":["a","b"]}}')
        else:
            doc = f'{{"tenant":"acme","id":1842,{text}:"x"}}'
        method, target, body = "POST", "/echo", doc.encode()
        head["Content-Type"] = "application/json"
        head["Content-Length"] = str(len(body))
    lines = [f"{method} {target} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in head.items()]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return raw + (body or b"")


class Client:
    """One keep-alive connection to a gateway, reopened when the gateway
    closes it; answers are read by Content-Length or chunks."""

    def __init__(self, host, port):
        self.addr = (host, port)
        self.sock = None
        self.buf = b""

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buf = None, b""

    def recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        self.buf += data

    def read_until(self, sep):
        while sep not in self.buf:
            self.recv()
        head, self.buf = self.buf.split(sep, 1)
        return head

    def read_n(self, n):
        while len(self.buf) < n:
            self.recv()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def exchange(self, raw):
        """(status, head, body) of one request; retried once on a fresh
        connection when a kept-alive one was closed under it."""
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self.sock = socket.create_connection(self.addr, timeout=10)
            try:
                self.sock.sendall(raw)
                return self.response()
            except (ConnectionError, socket.timeout, OSError):
                self.close()
                if fresh or attempt:
                    raise
        raise ConnectionError("unreachable")

    def response(self):
        head = self.read_until(b"\r\n\r\n").decode("latin-1")
        status = int(head.split(" ", 2)[1])
        fields = {}
        for line in head.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            fields[k.strip().lower()] = v.strip()
        if "chunked" in fields.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size = int(self.read_until(b"\r\n").split(b";")[0], 16)
                body += self.read_n(size + 2)[:size]
                if size == 0:
                    break
        else:
            body = self.read_n(int(fields.get("content-length", "0")))
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, fields, body


def verdict(status):
    """403, "4xx" (refused before inspection) or "pass"."""
    if status == 403:
        return "403"
    if 400 <= status < 500 and status != 404:
        return "4xx"
    return "pass"


def reason_of(fields, body):
    """The problem type's reason and location of an apiward refusal, or
    the empty string."""
    if "json" not in fields.get("content-type", ""):
        return ""
    try:
        doc = json.loads(body)
    except ValueError:
        return ""
    reason = str(doc.get("type", "")).rpartition(":")[2]
    where = doc.get("location") or doc.get("pointer") or ""
    return f"{reason} {where}".strip()


def run_gateway(name, addr, sets):
    """[(set, group, kind, place, value, verdict, reason)] for one
    gateway; None for a value its place cannot carry."""
    host, _, port = addr.rpartition(":")
    client = Client(host or "127.0.0.1", int(port))
    out = []
    for set_name, group, kind, values in sets:
        places = ("query", "json") + EXTRA_PLACES.get(group, ())
        for place in places:
            for value in values:
                raw = request(place, group, value)
                if raw is None:
                    out.append((set_name, group, kind, place, value, None,
                                ""))
                    continue
                status, fields, body = client.exchange(raw)
                out.append((set_name, group, kind, place, value,
                            verdict(status), reason_of(fields, body)))
    client.close()
    return out


def tally(rows):
    """{"n", "refused", "early", "unsendable"} over rows."""
    t = {"n": 0, "refused": 0, "early": 0, "unsendable": 0}
    for r in rows:
        if r[5] is None:
            t["unsendable"] += 1
            continue
        t["n"] += 1
        t["refused"] += r[5] != "pass"
        t["early"] += r[5] == "4xx"
    return t


def cell(t):
    if t["n"] == 0:
        return "-"
    text = f"{t['refused']}/{t['n']} ({100.0 * t['refused'] / t['n']:.1f} %)"
    if t["early"]:
        text += f", {t['early']} before inspection"
    if t["unsendable"]:
        text += f"; {t['unsendable']} not sendable"
    return text


def rate(t):
    return 100.0 * t["refused"] / t["n"] if t["n"] else None


def set_table(results, names, set_name, kind):
    """Markdown table of one set's attacks or benign values: a row per
    group, then a row per place and the total."""
    what = "detected" if kind == "attack" else "refused (false positives)"
    head = "| " + ("class" if kind == "attack" else "group") + " | " + \
        " | ".join(f"{n} {what}" for n in names) + " |"
    lines = [head, "|" + "---|" * (len(names) + 1)]
    pick = {n: [r for r in results[n] if r[0] == set_name and r[2] == kind]
            for n in names}
    groups = sorted({r[1] for n in names for r in pick[n]})
    for g in groups:
        lines.append(f"| {g} | " + " | ".join(
            cell(tally([r for r in pick[n] if r[1] == g])) for n in names)
            + " |")
    for p in PLACES:
        if any(r[3] == p for n in names for r in pick[n]):
            lines.append(f"| *{p}* | " + " | ".join(
                cell(tally([r for r in pick[n] if r[3] == p]))
                for n in names) + " |")
    lines.append("| **total** | " + " | ".join(
        cell(tally(pick[n])) for n in names) + " |")
    return "\n".join(lines)


def escape(value, limit=90):
    """value as a Markdown code span: non-ASCII and control bytes
    escaped as Python would, cut at limit characters."""
    text = value.decode("utf-8", "backslashreplace")
    text = text.encode("unicode_escape").decode("ascii")
    if len(text) > limit:
        text = text[:limit] + "..."
    return "`` " + text.replace("|", "\\|") + " ``"


def differences(results, ours, theirs):
    """Markdown lists: attacks theirs refused and ours passed; benign
    values ours refused (with the reason), and which theirs passed."""
    a = {r[:5]: r for r in results[ours]}
    b = {r[:5]: r for r in results[theirs]}
    missed, flagged, extra = [], [], []
    for key, r in a.items():
        o = b.get(key)
        if r[5] is None or o is None or o[5] is None:
            continue
        if r[2] == "attack" and r[5] == "pass" and o[5] != "pass":
            missed.append(r)
        elif r[2] == "benign" and r[5] != "pass":
            flagged.append((r, o[5]))
        elif r[2] == "attack" and r[5] != "pass" and o[5] == "pass":
            extra.append(r)
    out = [f"### Attacks {theirs} refused and {ours} passed "
           f"({len(missed)})", ""]
    out += [f"- {r[0]} {r[1]}, {r[3]}: {escape(r[4])}" for r in missed]
    out += ["", f"### Benign values {ours} refused ({len(flagged)})", ""]
    out += [f"- {r[0]} {r[1]}, {r[3]}: {escape(r[4])} ({r[6] or r[5]}; "
            f"{theirs}: {'passed' if v == 'pass' else 'refused too'})"
            for r, v in flagged]
    out += ["", f"### Attacks {ours} refused and {theirs} passed "
            f"({len(extra)})", ""]
    out += [f"- {r[0]} {r[1]}, {r[3]}: {escape(r[4])}" for r in extra]
    return "\n".join(out) + "\n"


def summary(results, names):
    """One line per gateway and set: detection and false positives."""
    lines = []
    for set_name, _ in SETS:
        for n in names:
            att = tally([r for r in results[n] if r[0] == set_name
                         and r[2] == "attack"])
            ben = tally([r for r in results[n] if r[0] == set_name
                         and r[2] == "benign"])
            if att["n"] or ben["n"]:
                lines.append(f"{set_name:11} {n:16} detection "
                             f"{cell(att):28} false positives {cell(ben)}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--markdown", help="write the tables here")
    ap.add_argument("--json", help="write every verdict here")
    ap.add_argument("--diff", help="write the differences of the first "
                    "two gateways here")
    ap.add_argument("gateways", nargs="+", metavar="NAME=HOST:PORT")
    args = ap.parse_args()
    gateways = [g.split("=", 1) for g in args.gateways]
    if any(len(g) != 2 for g in gateways):
        sys.exit("inspect_rates: gateways are NAME=HOST:PORT")
    sets = load_sets()
    results, names = {}, []
    for name, addr in gateways:
        try:
            results[name] = run_gateway(name, addr, sets)
            names.append(name)
        except (OSError, ValueError, IndexError) as e:
            print(f"inspect_rates: {name} at {addr}: {e}; left out",
                  file=sys.stderr)
    if not names:
        sys.exit("inspect_rates: no gateway answered")
    parts = []
    for set_name, folder in SETS:
        if not any(r[0] == set_name for r in results[names[0]]):
            continue
        rel = os.path.relpath(folder, REPO)
        for kind in ("attack", "benign"):
            title = "attacks" if kind == "attack" else "benign values"
            parts += [f"#### {set_name} set ({rel}), {title}", "",
                      set_table(results, names, set_name, kind), ""]
    text = "\n".join(parts)
    print(summary(results, names))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    else:
        print("\n" + text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({n: [[r[0], r[1], r[2], r[3],
                            r[4].decode("utf-8", "backslashreplace"), r[5],
                            r[6]] for r in results[n]] for n in names},
                      f, indent=0)
    if args.diff and len(names) >= 2:
        with open(args.diff, "w") as f:
            f.write(differences(results, names[0], names[1]))


if __name__ == "__main__":
    main()
