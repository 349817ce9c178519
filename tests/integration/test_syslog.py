"""Security events to a real syslog receiver: Debian's rsyslog, started
by the tests on loopback, over TCP (octet-counting framing), TLS (its
openssl driver, with a certificate from a CA made here) and UDP, as
JSON and as CEF, and through an outage of the receiver.

rsyslog parses each message as RFC 5424 and writes its fields with a
template; the test reads them back, so framing, header and message are
judged by a real syslog implementation.
"""
import json
import os
import shutil
import socket
import subprocess
import time

import pytest

from harness import free_port, wait_for

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

pytestmark = pytest.mark.skipif(not os.path.exists(RSYSLOGD),
                                reason="rsyslog is not installed")

TEMPLATE = ("%pri%|%app-name%|%procid%|%msgid%|%hostname%|"
            "%timereported:::date-rfc3339%|%msg%\\n")


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Rsyslog:
    """rsyslogd in the foreground, writing what it receives to out.log."""

    def __init__(self, workdir, tcp_port=None, udp_port=None, tls=None):
        self.dir = os.path.join(str(workdir), "rsyslog")
        os.makedirs(self.dir, exist_ok=True)
        self.out = os.path.join(self.dir, "out.log")
        self.tcp_port = tcp_port or free_port()
        self.udp_port = udp_port or free_udp_port()
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        with open(self.conf, "w") as f:
            if tls is None:
                f.write('global(workDirectory="%s")\n' % self.dir)
                f.write('module(load="imtcp")\n')
            else:
                f.write('global(workDirectory="%s" '
                        'DefaultNetstreamDriver="ossl" '
                        'DefaultNetstreamDriverCAFile="%s" '
                        'DefaultNetstreamDriverCertFile="%s" '
                        'DefaultNetstreamDriverKeyFile="%s")\n'
                        % ((self.dir,) + tls))
                f.write('module(load="imtcp" StreamDriver.Name="ossl" '
                        'StreamDriver.Mode="1" '
                        'StreamDriver.AuthMode="anon")\n')
            f.write('module(load="imudp")\n')
            f.write('template(name="t" type="string" string="%s")\n'
                    % TEMPLATE)
            f.write('ruleset(name="r") { action(type="omfile" file="%s" '
                    'template="t") }\n' % self.out)
            f.write('input(type="imtcp" address="127.0.0.1" port="%d" '
                    'ruleset="r")\n' % self.tcp_port)
            f.write('input(type="imudp" address="127.0.0.1" port="%d" '
                    'ruleset="r")\n' % self.udp_port)
        self.proc = None

    def start(self):
        log = open(os.path.join(self.dir, "rsyslogd.log"), "ab")
        self.proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", self.conf, "-i",
             os.path.join(self.dir, "pid")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.tcp_port),
                                         timeout=1).close()
                return True
            except OSError:
                return False
        wait_for(up, 10, what="rsyslogd listening")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def records(self):
        """Each message as a dict of the template's fields."""
        try:
            with open(self.out) as f:
                lines = [x.rstrip("\n") for x in f if x.strip()]
        except OSError:
            return []
        out = []
        for line in lines:
            parts = line.split("|", 6)
            out.append(dict(zip(("pri", "app", "procid", "msgid", "host",
                                 "time", "msg"), parts)))
        return out

    def wait(self, n, timeout=10):
        wait_for(lambda: len(self.records()) >= n, timeout,
                 what="%d syslog messages" % n)
        return self.records()


@pytest.fixture
def rsyslog(tmp_path):
    r = Rsyslog(tmp_path).start()
    yield r
    r.stop()


AMBIGUOUS = (b"POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")


def gateway(gateways, upstream, tmp_path, port, transport, fmt):
    return gateways([upstream.addr],
                    events={"file": str(tmp_path / "events.log"),
                            "syslog": {"address": "127.0.0.1:%d" % port,
                                       "transport": transport,
                                       "format": fmt,
                                       "facility": "auth"}})


def test_tcp_json_framing_and_fields(gateways, upstream, rsyslog, tmp_path):
    gw = gateway(gateways, upstream, tmp_path, rsyslog.tcp_port, "tcp",
                 "json")
    for _ in range(40):
        assert gw.send(AMBIGUOUS).status == 400
    recs = rsyslog.wait(40)
    assert len(recs) == 40
    for r in recs:
        assert r["app"] == "apiward"
        assert r["procid"] == str(gw.proc.pid)
        assert r["msgid"] == "http.ambiguous_request"
        # auth (4) * 8 + err (3): severity 7 of 10 is an error.
        assert r["pri"] == "35"
        ev = json.loads(r["msg"])
        assert ev["event"]["reason"] == "http.ambiguous_length"
        assert ev["source"]["ip"] == "127.0.0.1"
    # The same events went to the file, unchanged by the second sink.
    with open(str(tmp_path / "events.log")) as f:
        assert sum(1 for x in f if "http.ambiguous_request" in x) == 40


def test_udp_cef(gateways, upstream, rsyslog, tmp_path):
    gw = gateway(gateways, upstream, tmp_path, rsyslog.udp_port, "udp",
                 "cef")
    assert gw.send(AMBIGUOUS).status == 400
    r = rsyslog.wait(1)[0]
    assert r["msgid"] == "http.ambiguous_request"
    head = r["msg"].split("|")
    assert head[:7] == ["CEF:0", "apiward", "apiward", head[3],
                        "http.ambiguous_request", "http.ambiguous_length",
                        "7"]
    ext = head[7]
    assert "src=127.0.0.1" in ext and "act=denied" in ext
    assert "cat=intrusion_detection" in ext


def test_receiver_outage_buffers_and_reconnects(gateways, upstream,
                                                tmp_path):
    r = Rsyslog(tmp_path)              # not started yet
    gw = gateway(gateways, upstream, tmp_path, r.tcp_port, "tcp", "json")
    for _ in range(5):
        assert gw.send(AMBIGUOUS).status == 400
    time.sleep(0.5)
    r.start()
    try:
        recs = r.wait(5, timeout=40)
        assert all(x["msgid"] == "http.ambiguous_request" for x in recs)
        # The receiver goes away and comes back: the gateway reconnects.
        r.stop()
        time.sleep(0.3)
        r.start()
        for _ in range(3):
            assert gw.send(AMBIGUOUS).status == 400
        wait_for(lambda: len(r.records()) >= 7, 40,
                 what="events after the receiver came back")
        assert "unreachable" in gw.stderr()
    finally:
        r.stop()


def make_pki(d):
    """A CA and a receiver certificate for 127.0.0.1 and syslog.test."""
    def run(*args):
        subprocess.run(["openssl"] + list(args), check=True,
                       capture_output=True, cwd=d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("req", "-x509", *ec, "-days", "5", "-subj", "/CN=test-ca",
        "-keyout", "ca.key", "-out", "ca.pem")
    run("req", *ec, "-subj", "/CN=syslog", "-keyout", "srv.key", "-out",
        "srv.csr")
    with open(os.path.join(d, "ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:syslog.test\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey",
        "ca.key", "-CAcreateserial", "-days", "5", "-extfile", "ext",
        "-out", "srv.pem")
    return tuple(os.path.join(d, n) for n in ("ca.pem", "srv.pem",
                                              "srv.key"))


def tls_gateway(gateways, upstream, tmp_path, port, ca, **more):
    syslog = {"address": "127.0.0.1:%d" % port, "transport": "tls",
              "ca": ca}
    syslog.update(more)
    return gateways([upstream.addr],
                    events={"file": str(tmp_path / "events.log"),
                            "syslog": syslog})


@pytest.mark.parametrize("name", [None, "syslog.test"])
def test_tls(gateways, upstream, tmp_path, name):
    ca, cert, key = make_pki(str(tmp_path))
    r = Rsyslog(tmp_path, tls=(ca, cert, key)).start()
    try:
        more = {"server_name": name} if name else {}
        gw = tls_gateway(gateways, upstream, tmp_path, r.tcp_port, ca,
                         **more)
        for _ in range(3):
            assert gw.send(AMBIGUOUS).status == 400
        recs = r.wait(3)
        assert [x["msgid"] for x in recs] == ["http.ambiguous_request"] * 3
        assert json.loads(recs[0]["msg"])["event"]["reason"] == \
            "http.ambiguous_length"
    finally:
        r.stop()


def test_tls_receiver_must_prove_its_name(gateways, upstream, tmp_path):
    ca, cert, key = make_pki(str(tmp_path))
    r = Rsyslog(tmp_path, tls=(ca, cert, key)).start()
    try:
        gw = tls_gateway(gateways, upstream, tmp_path, r.tcp_port, ca,
                         server_name="other.test")
        assert gw.send(AMBIGUOUS).status == 400
        wait_for(lambda: "unreachable" in gw.stderr(), 5,
                 what="the refused receiver in the log")
        time.sleep(0.5)
        assert r.records() == []
    finally:
        r.stop()
