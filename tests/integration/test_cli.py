"""The command line: version, help, check, and the one-line proxy mode."""

import re
import subprocess

import pytest

from harness import (assert_problem, build_request, dump_config, free_port,
                     make_config)


def run(binary, *args, timeout=10):
    return subprocess.run([binary] + list(args), capture_output=True,
                          text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_version(apiward_bin):
    p = run(apiward_bin, "--version")
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert re.search(r"\d+\.\d+\.\d+", out), "no version in %r" % out


def test_help(apiward_bin):
    p = run(apiward_bin, "--help")
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    for word in ("run", "check", "proxy"):
        assert word in out, "help does not mention %r" % word


def test_unknown_command_fails(apiward_bin):
    p = run(apiward_bin, "frobnicate")
    assert p.returncode != 0


def test_check_accepts_good_config(apiward_bin, tmp_path):
    path = tmp_path / "good.yaml"
    path.write_text(dump_config(make_config(free_port(), ["127.0.0.1:9"],
                                            tmp_path)))
    p = run(apiward_bin, "check", "-c", str(path))
    assert p.returncode == 0, p.stdout + p.stderr


BAD = {
    "yaml_syntax": ("server:\n"
                    "  listen: [\"127.0.0.1:8080\"\n"
                    "upstreams: {}\n", (2, 3, 4)),
    "bad_duration": ("server:\n"
                     "  listen: [\"127.0.0.1:8080\"]\n"
                     "  drain_timeout: tenseconds\n"
                     "upstreams:\n"
                     "  demo: {servers: [\"127.0.0.1:9\"]}\n"
                     "routes:\n"
                     "  - {name: r, path: /x, upstream: demo,\n"
                     "     authz: {public: true}}\n", (3,)),
    "unknown_upstream": ("server:\n"
                         "  listen: [\"127.0.0.1:8080\"]\n"
                         "upstreams:\n"
                         "  demo:\n"
                         "    servers: [\"127.0.0.1:9\"]\n"
                         "routes:\n"
                         "  - name: r1\n"
                         "    path: /x\n"
                         "    upstream: nope\n", (7, 8, 9)),
}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_check_reports_position(apiward_bin, tmp_path, kind):
    text, lines = BAD[kind]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    p = run(apiward_bin, "check", "-c", str(path))
    out = p.stdout + p.stderr
    assert p.returncode != 0, "check accepted a bad file: %r" % out
    m = re.search(re.escape(str(path)) + r":(\d+):(\d+): \S", out)
    assert m, "no FILE:LINE:COL: message in %r" % out
    assert int(m.group(1)) in lines, \
        "error reported at line %s, expected one of %r: %r" \
        % (m.group(1), lines, out)


def test_run_with_missing_config_fails(apiward_bin, tmp_path):
    p = run(apiward_bin, "run", "-c", str(tmp_path / "absent.yaml"))
    assert p.returncode != 0


def test_proxy_mode(gateways, upstream):
    port = free_port()
    gw = gateways(args=["proxy", "--listen", "127.0.0.1:%d" % port,
                        "--to", "http://%s" % upstream.addr], port=port)
    resp = gw.get("/anything/at/all?x=1")
    assert resp.status == 200, resp
    req = upstream.last()
    assert req.target == "/anything/at/all?x=1"
    assert req.header("x-forwarded-for") == "127.0.0.1"

    # Safe defaults: strict framing and path normalisation are on.
    bad = gw.send(b"POST /x HTTP/1.1\r\nHost: gw.test\r\n"
                  b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n")
    assert_problem(bad, 400, "http.ambiguous_length")
    assert_problem(gw.get("/a/%2e%2e/b"), 400, "http.path_*")
    assert_problem(gw.get("/a/x%2Fy"), 400, "http.path_encoded_slash")
    resp = gw.send(build_request("GET", "/a//b/./c"))
    assert resp.status == 200
    assert upstream.last().target == "/a/b/c"
    assert upstream.count() == 2


def test_check_reports_every_problem(apiward_bin, tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text("server:\n"
                    "  listen: [\"127.0.0.1:8080\"]\n"
                    "  drain_timeout: tenseconds\n"
                    "upstreams:\n"
                    "  demo:\n"
                    "    servers: [\"127.0.0.1:9\"]\n"
                    "routes:\n"
                    "  - name: r1\n"
                    "    path: /x\n"
                    "    upstream: nope\n")
    p = run(apiward_bin, "check", "-c", str(path))
    out = p.stdout + p.stderr
    assert p.returncode != 0
    lines = {int(m) for m in re.findall(re.escape(str(path)) + r":(\d+):\d+: ",
                                        out)}
    assert 3 in lines and lines & {8, 9, 10}, \
        "expected problems at line 3 and in the route: %r" % out
