"""Routing and target normalisation: what reaches the upstream, and what
never does.

The default routes are:
  users  GET  /users/{id}
  files  any  /files/{rest*}
  api    any  /api (prefix)
"""

import pytest

from harness import assert_problem, build_request


@pytest.mark.parametrize("path", ["/nope", "/", "/users", "/users/1/extra",
                                  "/apix", "/apis/x", "/filesx/a"])
def test_undocumented_path_is_404_and_not_forwarded(shared, path):
    resp = shared.gw.get(path)
    assert_problem(resp, 404, "route.not_found")
    assert shared.up.count() == 0, \
        "%s reached the upstream as %s" % (path, shared.up.last().target)


@pytest.mark.parametrize("path", ["/api", "/api/", "/api/a/b", "/files/",
                                  "/files/a/b/c", "/users/7"])
def test_documented_paths_are_forwarded(shared, path):
    resp = shared.gw.get(path)
    assert resp.status == 200, resp
    assert shared.up.last().target == path


def test_wrong_method_is_405_with_allow(shared):
    with shared.gw.client() as c:
        c.request("DELETE", "/users/1")
        resp = c.read_response()
    assert_problem(resp, 405, "route.method_not_allowed")
    allow = [m.strip() for m in (resp.header("allow") or "").split(",")]
    assert "GET" in allow, "Allow header is %r" % resp.header("allow")
    assert "DELETE" not in allow
    assert shared.up.count() == 0


def test_error_on_keepalive_connection_keeps_framing(shared):
    """A refused request with a body must not desynchronise the connection:
    the body is consumed (or the connection closed), never parsed as the
    next request."""
    with shared.gw.client() as c:
        c.send(build_request("POST", "/nope", body="GET /api/smuggled "
                             "HTTP/1.1\r\nHost: x\r\n\r\n") +
               build_request("GET", "/api/next"))
        first = c.read_response()
        assert_problem(first, 404, "route.not_found")
        if first.wants_close():
            assert c.wait_closed(3)
        else:
            second = c.read_response()
            assert second.status == 200, second
    targets = [r.target for r in shared.up.requests]
    assert "/api/smuggled" not in targets, "request body parsed as a request"


NORMALISED = [
    ("/users/%34%32", "/users/42"),
    ("/api//x/./y/../z", "/api/x/z"),
    ("//api///x", "/api/x"),
    ("/api/../users/7", "/users/7"),
    ("/api/%7e%41", "/api/~A"),
    ("/api/%c3%a9", "/api/%C3%A9"),
    ("/users/5?a=%2F&b=1", "/users/5?a=%2F&b=1"),
]


@pytest.mark.parametrize("sent,forwarded", NORMALISED)
def test_target_is_normalised_once(shared, sent, forwarded):
    resp = shared.gw.get(sent)
    assert resp.status == 200, resp
    got = shared.up.last().target
    assert got == forwarded, "sent %s, upstream got %s" % (sent, got)


REFUSED = [
    ("/api/%2e%2e/secret", "http.path_*"),
    ("/api/%2E%2E/secret", "http.path_*"),
    ("/api/%2e/x", "http.path_*"),
    ("/files/a%2Fb", "http.path_encoded_slash"),
    ("/files/a%2fb", "http.path_encoded_slash"),
    ("/files/a%5Cb", "http.path_*"),
    ("/api/a\\b", ["http.path_backslash", "http.bad_target"]),
    ("/api/a%00b", "http.path_*"),
    ("/api/%ff", "http.path_*"),
    ("/api/%c3", "http.path_*"),
    ("/../etc/passwd", "http.path_traversal"),
    ("/api/../../etc/passwd", "http.path_traversal"),
    ("/api/%zz", ["http.path_*", "http.bad_target"]),
]


@pytest.mark.parametrize("sent,reason", REFUSED)
def test_dangerous_target_is_refused(shared, sent, reason):
    resp = shared.gw.get(sent)
    assert_problem(resp, 400, reason)
    assert shared.up.count() == 0, \
        "%s reached the upstream as %s" % (sent, shared.up.last().target)
