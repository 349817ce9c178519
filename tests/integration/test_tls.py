"""TLS termination, SNI, client certificates and certificate-bound tokens.

Every certificate is made here with the openssl command: a CA, server
chains (ECDSA P-256 and RSA) for two sets of names, client certificates
(SPIFFE URI, DNS name, CN only, expired, revoked, from another CA) and a
CRL. Clients are Python's ssl module over real loopback sockets.
"""

import base64
import hashlib
import os
import shutil
import socket
import ssl
import subprocess
import time

import pytest

from harness import LOOPBACK, Reader, Response, build_request, wait_for

CA_CNF = """[ca]
default_ca = CA_default
[CA_default]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}/newcerts
serial = {dir}/serial
crlnumber = {dir}/crlnumber
default_md = sha256
policy = policy_any
unique_subject = no
default_crl_days = 30
[policy_any]
commonName = supplied
"""


class Certs:
    """A small PKI in a directory, driven through `openssl`."""

    def __init__(self, root):
        self.root = str(root)

    def path(self, name):
        return os.path.join(self.root, name)

    def run(self, *args):
        subprocess.run(["openssl"] + list(args), check=True,
                       capture_output=True, cwd=self.root)

    def key(self, name, kind="ec"):
        if kind == "ec":
            self.run("genpkey", "-algorithm", "EC", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-out", name + ".key")
        else:
            self.run("genpkey", "-algorithm", "RSA", "-pkeyopt",
                     "rsa_keygen_bits:%s" % kind, "-out", name + ".key")
        return self.path(name + ".key")

    def make_ca(self, name):
        d = self.path(name + ".d")
        os.makedirs(os.path.join(d, "newcerts"))
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "serial"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(d, "crlnumber"), "w") as f:
            f.write("1000\n")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write(CA_CNF.format(dir=d))
        self.key(name)
        self.run("req", "-x509", "-new", "-key", name + ".key", "-days",
                 "30", "-subj", "/CN=" + name, "-out", name + ".pem")
        return self.path(name + ".pem")

    def issue(self, ca, name, cn, san=None, kind="ec", start=None, end=None,
              days=30, server=False):
        """A certificate signed by CA ca; returns (cert, key) paths."""
        self.key(name, kind)
        self.run("req", "-new", "-key", name + ".key", "-subj", "/CN=" + cn,
                 "-out", name + ".csr")
        ext = ["[v3]", "basicConstraints = CA:FALSE",
               "extendedKeyUsage = %s" % ("serverAuth" if server
                                          else "clientAuth")]
        if san:
            ext.append("subjectAltName = " + san)
        with open(self.path(name + ".ext"), "w") as f:
            f.write("\n".join(ext) + "\n")
        args = ["ca", "-batch", "-config", self.path(ca + ".d/ca.cnf"),
                "-cert", ca + ".pem", "-keyfile", ca + ".key", "-in",
                name + ".csr", "-out", name + ".pem", "-extfile",
                name + ".ext", "-extensions", "v3", "-notext"]
        if start:
            args += ["-startdate", start, "-enddate", end]
        else:
            args += ["-days", str(days)]
        self.run(*args)
        return self.path(name + ".pem"), self.path(name + ".key")

    def revoke(self, ca, name):
        self.run("ca", "-config", self.path(ca + ".d/ca.cnf"), "-cert",
                 ca + ".pem", "-keyfile", ca + ".key", "-revoke",
                 name + ".pem")

    def crl(self, ca):
        self.run("ca", "-gencrl", "-config", self.path(ca + ".d/ca.cnf"),
                 "-cert", ca + ".pem", "-keyfile", ca + ".key", "-out",
                 ca + ".crl")
        return self.path(ca + ".crl")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    c = Certs(tmp_path_factory.mktemp("pki"))
    c.make_ca("ca")
    c.make_ca("otherca")
    names = "DNS:localhost,DNS:api.test,IP:127.0.0.1"
    c.issue("ca", "srv_ec", "api.test", names, server=True)
    c.issue("ca", "srv_rsa", "api.test", names, kind="2048", server=True)
    c.issue("ca", "srv_other", "other.test", "DNS:other.test,DNS:*.wild.test",
            server=True)
    c.issue("ca", "cli_spiffe", "svc-a",
            "URI:spiffe://example.org/ns/prod/sa/svc-a,DNS:svc-a.test")
    c.issue("ca", "cli_dns", "ignored-cn", "DNS:svc-b.test")
    c.issue("ca", "cli_cn", "svc-c")
    c.issue("ca", "cli_expired", "old", start="20200101000000Z",
            end="20200201000000Z")
    c.issue("ca", "cli_revoked", "revoked")
    c.revoke("ca", "cli_revoked")
    c.crl("ca")
    c.issue("otherca", "cli_foreign", "intruder")
    return c


def tls_listen(port, pki, **tls):
    """A listener entry of server.listen with TLS."""
    conf = {"certificates": [
        {"cert": pki.path("srv_ec.pem"), "key": pki.path("srv_ec.key")},
        {"cert": pki.path("srv_rsa.pem"), "key": pki.path("srv_rsa.key")},
        {"cert": pki.path("srv_other.pem"), "key": pki.path("srv_other.key")},
    ]}
    conf.update(tls)
    return [{"address": "%s:%d" % (LOOPBACK, port), "tls": conf}]


def start_tls(gateways, upstream, pki, routes=None, extra=None, **tls):
    gw = gateways([upstream.addr], start=False, routes=routes,
                  **(extra or {}))
    cfg = gw.config
    cfg["server"]["listen"] = tls_listen(gw.port, pki, **tls)
    gw.write_config(cfg)
    gw.start()
    return gw


def client_ctx(pki, cert=None, version=None, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(pki.path("ca.pem"))
    ctx.set_alpn_protocols(["http/1.1"])
    if version is not None:
        ctx.minimum_version = ctx.maximum_version = version
    if ciphers:
        ctx.set_ciphers(ciphers)
    if cert:
        ctx.load_cert_chain(pki.path(cert + ".pem"), pki.path(cert + ".key"))
    return ctx


class TLSClient:
    """One TLS connection that sends requests and reads responses."""

    def __init__(self, port, ctx, name="localhost", session=None):
        raw = socket.create_connection((LOOPBACK, port), timeout=5)
        self.sock = ctx.wrap_socket(raw, server_hostname=name,
                                    session=session)
        self.reader = Reader(self.sock)

    def get(self, target, headers=None, timeout=5):
        if isinstance(headers, dict):
            headers = list(headers.items())
        self.sock.sendall(build_request("GET", target, headers))
        deadline = time.monotonic() + timeout
        head = self.reader.read_until(b"\r\n\r\n", deadline)
        resp = Response(head, b"")
        n = int(resp.header("content-length") or 0)
        resp.body = self.reader.read_exact(n, deadline)
        return resp

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def tls_get(gw, pki, target="/api/x", cert=None, name="localhost",
            headers=None, **kw):
    with TLSClient(gw.port, client_ctx(pki, cert, **kw), name) as c:
        return c.get(target, headers)


def refused(gw, ctx, name="localhost"):
    """True when the handshake (or the first exchange) fails."""
    try:
        with TLSClient(gw.port, ctx, name) as c:
            c.get("/api/x", timeout=3)
    except (ssl.SSLError, OSError, ConnectionError, EOFError) as e:
        return e
    except Exception as e:  # the harness' own ConnectionClosed
        return e
    return None


def recv_or_reset(s):
    """What the gateway sends before it closes; a reset counts as a close."""
    try:
        return s.recv(100)
    except ConnectionResetError:
        return b""


def tls_reasons(gw):
    return [e.get("reason") for e in gw.access_entries()
            if e.get("stage") == "tls"]


def wait_tls_reason(gw, reason):
    wait_for(lambda: reason in tls_reasons(gw), 5,
             what="access-log record %s" % reason)


def peer_cert(sock):
    from cryptography import x509
    return x509.load_der_x509_certificate(sock.getpeercert(binary_form=True))


# -- termination -------------------------------------------------------------


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2,
                                     ssl.TLSVersion.TLSv1_3])
def test_keepalive_requests_over_tls(gateways, upstream, pki, version):
    gw = start_tls(gateways, upstream, pki)
    with TLSClient(gw.port, client_ctx(pki, version=version)) as c:
        for i in range(5):
            r = c.get("/api/k%d" % i)
            assert r.status == 200
        assert c.sock.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2",
                                    ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
        assert c.sock.selected_alpn_protocol() == "http/1.1"
    assert r.header("strict-transport-security") == "max-age=31536000"
    assert upstream.count() == 5
    assert upstream.last().target == "/api/k4"


def test_plain_listener_has_no_hsts(gw):
    assert gw.get("/api/x").header("strict-transport-security") is None


def test_hsts_settings(gateways, upstream, pki):
    gw = start_tls(gateways, upstream, pki, hsts_max_age="1d",
                   hsts_subdomains=True)
    r = tls_get(gw, pki)
    assert r.header("strict-transport-security") == \
        "max-age=86400; includeSubDomains"


def test_sni_chooses_certificate_and_key_type(gateways, upstream, pki):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    gw = start_tls(gateways, upstream, pki)
    ctx = client_ctx(pki, version=ssl.TLSVersion.TLSv1_2,
                     ciphers="ECDHE-RSA-AES128-GCM-SHA256")
    with TLSClient(gw.port, ctx, "api.test") as c:
        assert isinstance(peer_cert(c.sock).public_key(), rsa.RSAPublicKey)
        assert c.get("/api/x").status == 200
    ctx = client_ctx(pki, version=ssl.TLSVersion.TLSv1_2,
                     ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
    with TLSClient(gw.port, ctx, "api.test") as c:
        assert isinstance(peer_cert(c.sock).public_key(),
                          ec.EllipticCurvePublicKey)
    for name in ("other.test", "x.wild.test"):
        with TLSClient(gw.port, client_ctx(pki), name) as c:
            assert "other.test" in str(peer_cert(c.sock).subject)
            assert c.get("/api/x").status == 200


def test_unknown_sni_default_or_refused(gateways, upstream, pki):
    gw = start_tls(gateways, upstream, pki)
    ctx = client_ctx(pki)
    ctx.check_hostname = False
    with TLSClient(gw.port, ctx, "nobody.test") as c:
        assert "api.test" in str(peer_cert(c.sock).subject)
    strict = start_tls(gateways, upstream, pki, strict_sni=True)
    assert refused(strict, ctx, "nobody.test") is not None
    assert refused(strict, ctx, "a.b.wild.test") is not None
    wait_tls_reason(strict, "tls.unknown_sni")
    assert tls_get(strict, pki, name="api.test").status == 200


def test_handshake_failures_logged_never_fatal(gateways, upstream, pki):
    gw = start_tls(gateways, upstream, pki, handshake_timeout="300ms",
                   min_version="1.3")
    # Plain HTTP on the TLS port.
    with socket.create_connection((LOOPBACK, gw.port), timeout=3) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        recv_or_reset(s)
    wait_tls_reason(gw, "tls.http_on_tls")
    # TLS 1.2 against a TLS 1.3-only listener.
    assert refused(gw, client_ctx(pki, version=ssl.TLSVersion.TLSv1_2))
    wait_tls_reason(gw, "tls.protocol_version")
    # Garbage that looks like a record, then a silent client.
    with socket.create_connection((LOOPBACK, gw.port), timeout=3) as s:
        s.sendall(b"\x16\x03\x01\x00\x05hello" + os.urandom(64))
        recv_or_reset(s)
    with socket.create_connection((LOOPBACK, gw.port), timeout=3) as s:
        t0 = time.monotonic()
        assert s.recv(100) == b""
        assert time.monotonic() - t0 < 2.5
    wait_tls_reason(gw, "tls.handshake_timeout")
    assert "tls.handshake_failed" in tls_reasons(gw)
    assert gw.alive()
    assert tls_get(gw, pki).status == 200


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2,
                                     ssl.TLSVersion.TLSv1_3])
def test_session_resumption(gateways, upstream, pki, version):
    gw = start_tls(gateways, upstream, pki)
    ctx = client_ctx(pki, version=version)
    with TLSClient(gw.port, ctx) as c:
        assert c.get("/api/x").status == 200
        session = c.sock.session
    with TLSClient(gw.port, ctx, session=session) as c:
        assert c.get("/api/x").status == 200
        assert c.sock.session_reused


def test_no_tickets_no_resumption(gateways, upstream, pki):
    gw = start_tls(gateways, upstream, pki, session_tickets=False)
    ctx = client_ctx(pki, version=ssl.TLSVersion.TLSv1_2)
    with TLSClient(gw.port, ctx) as c:
        assert c.get("/api/x").status == 200
        session = c.sock.session
    with TLSClient(gw.port, ctx, session=session) as c:
        assert c.get("/api/x").status == 200
        assert not c.sock.session_reused


def test_bad_tls_settings_refused_at_check(gateways, upstream, pki,
                                           apiward_bin, tmp_path):
    gw = gateways([upstream.addr], start=False)
    cfg = gw.config
    bad = {
        "missing_key": {"certificates": [{"cert": pki.path("srv_ec.pem"),
                                          "key": "/nonexistent.key"}]},
        "mismatch": {"certificates": [{"cert": pki.path("srv_ec.pem"),
                                       "key": pki.path("srv_rsa.key")}]},
        "no_ca": {"certificates": [{"cert": pki.path("srv_ec.pem"),
                                    "key": pki.path("srv_ec.key")}],
                  "client_certificate": "required"},
        "ciphers": {"certificates": [{"cert": pki.path("srv_ec.pem"),
                                      "key": pki.path("srv_ec.key")}],
                    "ciphers": "NOPE"},
    }
    for name, tls in bad.items():
        cfg["server"]["listen"] = [{"address": "%s:%d" % (LOOPBACK, gw.port),
                                    "tls": tls}]
        gw.write_config(cfg)
        p = subprocess.run([apiward_bin, "check", "-c", gw.config_path],
                           capture_output=True, text=True)
        assert p.returncode != 0, name
        assert "server.listen[0].tls" in p.stderr, (name, p.stderr)


# -- client certificates -----------------------------------------------------

MTLS_ROUTES = [
    {"name": "mtls", "path": "/mtls", "prefix": True, "upstream": "demo",
     "auth": {"methods": ["mtls"]},
     "authz": {"authenticated": True}},
    {"name": "api", "path": "/api", "prefix": True, "upstream": "demo"},
]


def mtls_gateway(gateways, upstream, pki, mode, routes=None, **tls):
    return start_tls(gateways, upstream, pki, routes=routes or MTLS_ROUTES,
                     client_certificate=mode, client_ca=pki.path("ca.pem"),
                     crl=pki.path("ca.crl"), **tls)


@pytest.mark.parametrize("cert,identity", [
    ("cli_spiffe", "spiffe://example.org/ns/prod/sa/svc-a"),
    ("cli_dns", "svc-b.test"),
    ("cli_cn", "svc-c"),
])
def test_client_identity_forwarded(gateways, upstream, pki, cert, identity):
    gw = mtls_gateway(gateways, upstream, pki, "required")
    r = tls_get(gw, pki, "/mtls/x", cert=cert,
                headers={"X-Auth-Subject": "forged", "X-Auth-Method": "jwt"})
    assert r.status == 200
    got = upstream.last()
    assert got.headers("x-auth-subject") == [identity]
    assert got.headers("x-auth-method") == ["mtls"]
    entries = gw.wait_access_entries(1)
    e = [x for x in entries if x.get("route") == "mtls"][-1]
    assert e["user"] == identity and e["auth"] == "mtls"
    der = open(pki.path(cert + ".pem")).read()
    from cryptography import x509
    fp = hashlib.sha256(x509.load_pem_x509_certificate(der.encode())
                        .public_bytes(_der())).hexdigest()
    assert e["credential"] == fp[:12]


def _der():
    from cryptography.hazmat.primitives.serialization import Encoding
    return Encoding.DER


@pytest.mark.parametrize("cert,reason", [
    (None, "tls.no_client_cert"),
    ("cli_expired", "tls.cert_expired"),
    ("cli_revoked", "tls.cert_revoked"),
    ("cli_foreign", "tls.unknown_ca"),
])
def test_required_refuses_bad_clients(gateways, upstream, pki, cert, reason):
    gw = mtls_gateway(gateways, upstream, pki, "required")
    assert refused(gw, client_ctx(pki, cert)) is not None
    wait_tls_reason(gw, reason)
    assert upstream.count() == 0
    assert tls_get(gw, pki, "/mtls/x", cert="cli_cn").status == 200


def test_optional_client_certificate(gateways, upstream, pki):
    gw = mtls_gateway(gateways, upstream, pki, "optional")
    # No certificate: the handshake succeeds, the mtls route refuses.
    r = tls_get(gw, pki, "/mtls/x")
    assert r.status == 401
    assert r.json()["type"].endswith("auth.missing_credentials")
    assert tls_get(gw, pki, "/api/x").status == 200
    assert tls_get(gw, pki, "/mtls/x", cert="cli_dns").status == 200
    # A certificate that is sent must still verify.
    assert refused(gw, client_ctx(pki, "cli_foreign")) is not None
    wait_tls_reason(gw, "tls.unknown_ca")


def test_mtls_route_on_plain_listener_refuses(gateways, upstream):
    gw = gateways([upstream.addr], routes=MTLS_ROUTES)
    r = gw.get("/mtls/x")
    assert r.status == 401
    assert upstream.count() == 0


# -- certificate-bound tokens (RFC 8705) ------------------------------------

ISS = "https://issuer.tls.test"
AUD = "tls-api"


def thumbprint(pki, cert):
    from cryptography import x509
    pem = open(pki.path(cert + ".pem"), "rb").read()
    der = x509.load_pem_x509_certificate(pem).public_bytes(_der())
    digest = hashlib.sha256(der).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.fixture
def bound_env(gateways, upstream, pki, tmp_path):
    from idp import SigningKey, jwks
    import json
    key = SigningKey("ES256", "k1")
    path = str(tmp_path / "jwks.json")
    with open(path, "w") as f:
        json.dump(jwks(key), f)
    routes = [
        {"name": "tok", "path": "/tok", "prefix": True, "upstream": "demo",
         "auth": {"methods": ["jwt"]}, "authz": {"authenticated": True}},
        {"name": "bound", "path": "/bound", "prefix": True,
         "upstream": "demo",
         "auth": {"methods": ["jwt", "mtls"], "require_cert_binding": True},
         "authz": {"authenticated": True}},
        {"name": "svc", "path": "/svc", "prefix": True, "upstream": "demo",
         "auth": {"methods": ["jwt", "mtls"]},
         "authz": {"rules": [{"id": "services", "methods": ["mtls"]}]}},
    ]
    ident = {"issuers": {"t": {"issuer": ISS, "audiences": [AUD],
                               "keys": {"file": path}}}}
    gw = mtls_gateway(gateways, upstream, pki, "optional", routes=routes,
                      extra={"identity": ident})
    return gw, key


def bearer(key, **extra):
    from idp import claims
    return {"Authorization": "Bearer " + key.token(claims(ISS, AUD, **extra))}


def test_bound_token_accepted_with_its_certificate(bound_env, pki):
    gw, key = bound_env
    h = bearer(key, cnf={"x5t#S256": thumbprint(pki, "cli_spiffe")})
    assert tls_get(gw, pki, "/tok/x", cert="cli_spiffe", headers=h).status \
        == 200
    assert tls_get(gw, pki, "/bound/x", cert="cli_spiffe",
                   headers=h).status == 200


def test_bound_token_refused_elsewhere(bound_env, pki):
    gw, key = bound_env
    h = bearer(key, cnf={"x5t#S256": thumbprint(pki, "cli_spiffe")})
    for cert in ("cli_dns", None):
        r = tls_get(gw, pki, "/tok/x", cert=cert, headers=h)
        assert r.status == 401
        assert r.json()["type"].endswith("auth.cert_binding_mismatch")
    # A malformed thumbprint binds to nothing.
    r = tls_get(gw, pki, "/tok/x", cert="cli_spiffe",
                headers=bearer(key, cnf={"x5t#S256": "not-a-thumbprint"}))
    assert r.status == 401


def test_binding_required_by_route(bound_env, pki):
    gw, key = bound_env
    plain = bearer(key)
    assert tls_get(gw, pki, "/tok/x", cert="cli_spiffe",
                   headers=plain).status == 200
    r = tls_get(gw, pki, "/bound/x", cert="cli_spiffe", headers=plain)
    assert r.status == 401
    assert r.json()["type"].endswith("auth.cert_binding_required")
    # Without a token the certificate alone is the caller.
    r = tls_get(gw, pki, "/bound/x", cert="cli_spiffe")
    assert r.status == 200


# -- lifecycle ----------------------------------------------------------------


def test_sighup_rotates_certificate_open_connection_kept(gateways, upstream,
                                                         pki):
    pki.issue("ca", "srv_next", "api.test", "DNS:localhost,DNS:api.test",
              server=True)
    gw = start_tls(gateways, upstream, pki)
    ctx = client_ctx(pki)
    with TLSClient(gw.port, ctx) as old:
        assert old.get("/api/1").status == 200
        first = peer_cert(old.sock).serial_number
        cfg = gw.config
        cfg["server"]["listen"][0]["tls"]["certificates"] = [
            {"cert": pki.path("srv_next.pem"),
             "key": pki.path("srv_next.key")}]
        gw.reload(cfg)

        def rotated():
            with TLSClient(gw.port, ctx) as c:
                return peer_cert(c.sock).serial_number != first
        wait_for(rotated, 5, what="the new certificate after SIGHUP")
        # The connection opened before the reload still serves requests.
        assert old.get("/api/2").status == 200
        assert peer_cert(old.sock).serial_number == first


def test_broken_certificate_reload_keeps_serving(gateways, upstream, pki):
    gw = start_tls(gateways, upstream, pki)
    before = gw.stderr()
    cfg = gw.config
    cfg["server"]["listen"][0]["tls"]["certificates"] = [
        {"cert": pki.path("srv_ec.pem"), "key": pki.path("srv_rsa.key")}]
    gw.reload(cfg)
    wait_for(lambda: "does not match" in gw.stderr()[len(before):], 5,
             what="the reload refusal")
    assert tls_get(gw, pki).status == 200


def test_expiry_warnings_in_log_and_check(gateways, upstream, pki,
                                          apiward_bin):
    pki.issue("ca", "srv_soon", "api.test", "DNS:localhost", days=5,
              server=True)
    pki.issue("ca", "srv_month", "other.test", "DNS:other.test", days=20,
              server=True)
    pki.run("ecparam", "-name", "secp224r1", "-genkey", "-noout", "-out",
            "weak224.key")
    pki.run("req", "-x509", "-new", "-key", "weak224.key", "-days", "90",
            "-subj", "/CN=weak.test", "-addext",
            "subjectAltName=DNS:weak.test", "-out", "weak224.pem")
    gw = gateways([upstream.addr], start=False)
    cfg = gw.config
    cfg["server"]["listen"] = [{"address": "%s:%d" % (LOOPBACK, gw.port),
                                "tls": {"certificates": [
        {"cert": pki.path(n + ".pem"), "key": pki.path(n + ".key")}
        for n in ("srv_soon", "srv_month", "weak224")]}}]
    gw.write_config(cfg)
    p = subprocess.run([apiward_bin, "check", "-c", gw.config_path],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "error: certificate %s: expires soon" % pki.path("srv_soon.pem") \
        in p.stderr
    assert "warning: certificate %s: expires soon" % \
        pki.path("srv_month.pem") in p.stderr
    assert "warning: certificate %s: weak key, bits: 224" % \
        pki.path("weak224.pem") in p.stderr
    gw.start()
    err = gw.stderr()
    assert "[error] main: certificate %s: expires soon" % \
        pki.path("srv_soon.pem") in err or \
        "certificate %s: expires soon" % pki.path("srv_soon.pem") in err
    assert "weak key" not in err


# -- upstream TLS -------------------------------------------------------------

from harness import Upstream  # noqa: E402


class TLSUpstream(Upstream):
    """The harness' origin server behind TLS, with optional client
    certificates; records what each handshake showed."""

    def __init__(self, pki, cert="srv_ec", require_client=False, **kw):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pki.path(cert + ".pem"),
                                 pki.path(cert + ".key"))
        if require_client:
            self.ctx.verify_mode = ssl.CERT_REQUIRED
            self.ctx.load_verify_locations(pki.path("ca.pem"))
        self.handshakes = []
        super().__init__(**kw)

    def _serve(self, sock, peer, conn_id):
        try:
            sock.settimeout(5)
            tls = self.ctx.wrap_socket(sock, server_side=True)
            tls.settimeout(None)
        except (ssl.SSLError, OSError) as e:
            self.handshakes.append({"error": repr(e)})
            sock.close()
            return
        cert = tls.getpeercert()
        self.handshakes.append({"resumed": tls.session_reused,
                                "client": cert.get("subjectAltName")
                                if cert else None})
        super()._serve(tls, peer, conn_id)


def tls_upstream_gateway(gateways, up, pki, **tls):
    conf = {"ca": pki.path("ca.pem"), "server_name": "api.test"}
    conf.update(tls)
    # One worker: pools and kept sessions are per worker.
    return gateways([up.addr], upstream={"tls": conf},
                    server={"workers": 1})


def test_upstream_tls_with_client_certificate(gateways, pki):
    up = TLSUpstream(pki, require_client=True, name="tlsup")
    try:
        gw = tls_upstream_gateway(gateways, up, pki,
                                  cert=pki.path("cli_spiffe.pem"),
                                  key=pki.path("cli_spiffe.key"))
        for i in range(3):
            assert gw.get("/api/u%d" % i).status == 200
        assert up.last().target == "/api/u2"
        sans = up.handshakes[0]["client"]
        assert ("URI", "spiffe://example.org/ns/prod/sa/svc-a") in sans
        # Keep-alive: one handshake served every request.
        assert len(up.handshakes) == 1
    finally:
        up.stop()


def test_upstream_tls_sessions_resumed(gateways, pki):
    up = TLSUpstream(pki, name="tlsup")
    try:
        conf = {"ca": pki.path("ca.pem"), "server_name": "api.test"}
        gw = gateways([up.addr], upstream={"tls": conf, "keepalive": 0},
                      server={"workers": 1})
        for i in range(3):
            assert gw.get("/api/r%d" % i).status == 200
        wait_for(lambda: len(up.handshakes) >= 3, 3, what="3 handshakes")
        assert not up.handshakes[0]["resumed"]
        assert any(h["resumed"] for h in up.handshakes[1:]), up.handshakes
    finally:
        up.stop()


@pytest.mark.parametrize("case", ["wrong_name", "wrong_ca", "no_client"])
def test_upstream_tls_refusals(gateways, pki, case):
    up = TLSUpstream(pki, require_client=(case == "no_client"),
                     name="tlsup")
    try:
        tls = {"wrong_name": {"server_name": "evil.test"},
               "wrong_ca": {"ca": pki.path("otherca.pem")},
               "no_client": {}}[case]
        gw = tls_upstream_gateway(gateways, up, pki, **tls)
        r = gw.get("/api/x")
        assert r.status == 502
        assert up.count() == 0
        wait_for(lambda: "TLS handshake failed" in gw.stderr(), 3,
                 what="the handshake failure in the log")
    finally:
        up.stop()


def test_backend_hsts_replaced_on_tls(gateways, upstreams, pki):
    from harness import http_response

    def handler(req, ctx):
        return http_response(200, b"ok", headers=[
            ("Strict-Transport-Security", "max-age=1")])
    up = upstreams(handler, name="hsts")
    gw = start_tls(gateways, up, pki)
    r = tls_get(gw, pki)
    assert r.headers("strict-transport-security") == ["max-age=31536000"]
    off = start_tls(gateways, up, pki, hsts_max_age="0s")
    r = tls_get(off, pki)
    assert r.headers("strict-transport-security") == ["max-age=1"]


def test_certificate_file_change_reloads_without_signal(gateways, upstream,
                                                        pki):
    pki.issue("ca", "srv_live", "api.test", "DNS:localhost,DNS:api.test",
              server=True)
    pki.issue("ca", "srv_live2", "api.test", "DNS:localhost,DNS:api.test",
              server=True)
    live = [pki.path("live.pem"), pki.path("live.key")]
    shutil.copy(pki.path("srv_live.pem"), live[0])
    shutil.copy(pki.path("srv_live.key"), live[1])
    gw = gateways([upstream.addr], start=False)
    cfg = gw.config
    cfg["server"]["listen"] = [{"address": "%s:%d" % (LOOPBACK, gw.port),
                                "tls": {"certificates": [
                                    {"cert": live[0], "key": live[1]}]}}]
    gw.write_config(cfg)
    gw.start()
    ctx = client_ctx(pki)
    with TLSClient(gw.port, ctx) as old:
        assert old.get("/api/1").status == 200
        first = peer_cert(old.sock).serial_number
        # Replace both files the way a certificate agent does.
        for src, dst in (("srv_live2.key", live[1]), ("srv_live2.pem",
                                                      live[0])):
            shutil.copy(pki.path(src), dst + ".new")
            os.replace(dst + ".new", dst)

        def rotated():
            with TLSClient(gw.port, ctx) as c:
                return peer_cert(c.sock).serial_number != first
        wait_for(rotated, 15, what="the new certificate without SIGHUP")
        assert old.get("/api/2").status == 200
    assert "certificate files changed; reloading" in gw.stderr()


def test_policy_selects_mtls_principals(bound_env, pki):
    gw, key = bound_env
    assert tls_get(gw, pki, "/svc/x", cert="cli_dns").status == 200
    # A token, when present, is the principal: not a service.
    r = tls_get(gw, pki, "/svc/x", cert="cli_dns", headers=bearer(key))
    assert r.status == 403
