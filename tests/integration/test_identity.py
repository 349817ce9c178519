"""Identity end to end: JWTs from a real OpenID/JWKS server process, API
keys from `apiward key new`, and the command line.

Every refusal is checked four ways: the status, the problem's reason
code, the WWW-Authenticate challenge (RFC 6750), and the reason in the
access-log record of the same request. Tokens are minted by PyJWT; the
key server is idp.py running as its own process on loopback.
"""

import base64
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import GatewayPool
from harness import Upstream, assert_problem, free_port, wait_for
from idp import IdP, SigningKey, claims, jwks

ISS = "https://idp.test/"
ISS_HS = "https://hs.test/"
AUD = "api"
PEPPER = "integration-test-pepper-0123456789abcdefghij\n"

# The key kinds the discovery issuer serves, and the kinds PyJWT signs.
PUBLIC_KINDS = ("RS256", "PS256", "ES256", "ES384", "ES512", "Ed25519",
                "Ed448")


def run(binary, *args, timeout=10):
    return subprocess.run([binary] + list(args), capture_output=True,
                          text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def new_api_key(binary, pepper, consumer, *extra):
    """Run `apiward key new`; return (key, keys-file line)."""
    p = run(binary, "key", "new", "--consumer", consumer, "--pepper-file",
            pepper, *extra)
    assert p.returncode == 0, p.stderr
    lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
    key = next(ln for ln in lines if ln.startswith("aw_"))
    line = lines[lines.index(next(ln for ln in lines
                                  if ln.startswith("Line to append"))) + 1]
    assert key not in p.stderr and key.split("_", 2)[2] not in line
    return key, line


def routes():
    return [
        {"name": "jwt", "path": "/jwt", "prefix": True, "upstream": "demo",
         "auth": {"methods": ["jwt"]}},
        {"name": "keep", "path": "/keep", "prefix": True, "upstream": "demo",
         "auth": {"methods": ["jwt"], "authorization": "keep",
                  "forward": {"claims": "X-Auth-Claims"}}},
        {"name": "key", "path": "/key", "prefix": True, "upstream": "demo",
         "auth": {"methods": ["api_key"]}},
        {"name": "qkey", "path": "/qkey", "prefix": True, "upstream": "demo",
         "auth": {"methods": ["api_key"], "api_key": {"query": "api_key"}}},
        {"name": "open", "path": "/open", "prefix": True,
         "upstream": "demo"},
    ]


def identity(idp, workdir, refresh=None, keys=None):
    """The identity section: the IdP by discovery, an HS256 issuer from a
    file, and the API keys in workdir."""
    return {
        "max_token": "4k",
        "issuers": {
            "idp": {"issuer": ISS, "audiences": [AUD, "second"],
                    "keys": keys or {"discovery": idp.discovery_url},
                    "refresh": refresh or {"min": "1s", "max": "1h",
                                           "unknown_kid": "2s",
                                           "timeout": "2s"}},
            "hs": {"issuer": ISS_HS, "audiences": [AUD],
                   "algorithms": ["HS256"],
                   "keys": {"file": os.path.join(workdir, "hs.json")}},
        },
        "api_keys": {"file": os.path.join(workdir, "api-keys"),
                     "pepper_file": os.path.join(workdir, "pepper"),
                     "revoked": []},
    }


class Env:
    """An IdP, an echo upstream and a gateway, with the requests refused
    so far (request id -> reason) for the access-log check."""

    def __init__(self, binary, workdir):
        self.binary = binary
        self.workdir = str(workdir)
        self.keys = {kind: SigningKey(kind, "k-" + kind.lower())
                     for kind in PUBLIC_KINDS}
        self.hs = SigningKey("HS256", "hs-1")
        self.idp = IdP(ISS, workdir).start()
        self.idp.set_keys(*self.keys.values())
        self.up = Upstream(name="echo")
        self.refused = {}
        self.secrets = []
        with open(os.path.join(self.workdir, "hs.json"), "w") as f:
            json.dump(jwks(self.hs), f)
        pepper = os.path.join(self.workdir, "pepper")
        with open(pepper, "w") as f:
            f.write(PEPPER)
        os.chmod(pepper, 0o600)
        self.api = {}
        lines = []
        for name, extra in (("good", ()), ("revoked", ()),
                            ("expired", ()),
                            ("future", ("--not-before", "2099-01-01"))):
            key, line = new_api_key(binary, pepper, "c-" + name, *extra)
            if name == "expired":
                # key new refuses a past expiry; the file takes one.
                fields = line.split()
                line = " ".join(fields[:3] + ["2020-01-01T00:00:00Z",
                                              "2021-01-01T00:00:00Z"])
            self.api[name] = key
            lines.append(line)
        with open(os.path.join(self.workdir, "api-keys"), "w") as f:
            f.write("# made by apiward key new\n" + "\n".join(lines) + "\n")
        self.secrets += list(self.api.values())

    def config(self, pool, port, ready_timeout=10, **kw):
        """Start a gateway. It listens once every key set was fetched or
        its first fetches gave up, hence the longer wait when the IdP
        cannot answer."""
        ident = identity(self.idp, self.workdir, **kw)
        ident["api_keys"]["revoked"] = [self.api["revoked"].split("_")[1]]
        gw = pool([self.up.addr], routes=routes(), identity=ident,
                  port=port, start=False)
        return gw.start(ready_timeout)

    def token(self, kind="ES256", **kw):
        headers = kw.pop("headers", None)
        tok = self.keys[kind].token(claims(ISS, AUD, **kw), headers)
        self.secrets.append(tok)
        return tok

    def stop(self):
        self.up.stop()
        self.idp.stop()


@pytest.fixture(scope="module")
def env_module(apiward_bin, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("identity")
    env = Env(apiward_bin, workdir)
    pool = GatewayPool(apiward_bin, workdir)
    env.gw = env.config(pool, free_port())
    yield env
    env.stop()
    pool.finish()


@pytest.fixture
def env(env_module):
    assert env_module.gw.alive(), env_module.gw.stderr()[-3000:]
    env_module.up.reset()
    return env_module


def bearer(token):
    return [("Authorization", "Bearer " + token)]


def seen(resp):
    """The request the echo upstream received, as (name, value) pairs."""
    assert resp.status == 200, resp
    return [tuple(h) for h in json.loads(resp.body)["headers"]]


def seen_value(resp, name):
    vals = [v for n, v in seen(resp) if n.lower() == name.lower()]
    return vals[0] if len(vals) == 1 else vals or None


def refused(env, resp, status, reason, error="invalid_token"):
    """Check a refusal and remember it for the access-log check."""
    doc = assert_problem(resp, status, reason)
    if status == 401:
        challenge = resp.header("www-authenticate")
        assert challenge is not None, resp
        assert challenge.startswith("Bearer "), challenge
        assert 'realm="apiward"' in challenge
        attr = re.search(r'error="([^"]*)"', challenge)
        assert (attr.group(1) if attr else None) == error, challenge
    env.refused[resp.header("x-request-id")] = reason
    assert env.up.count() == 0, "a refused request reached the upstream"
    return doc


# ---------------------------------------------------------------------------
# Valid tokens, every algorithm, and what the backend sees.

@pytest.mark.parametrize("kind", PUBLIC_KINDS)
def test_valid_token_each_algorithm(env, kind):
    tok = env.token(kind, scope="read write", roles=["admin", "ops"])
    resp = env.gw.get("/jwt/x", bearer(tok))
    assert seen_value(resp, "X-Auth-Subject") == "alice"
    assert seen_value(resp, "X-Auth-Issuer") == "idp"
    assert seen_value(resp, "X-Auth-Method") == "jwt"
    assert seen_value(resp, "X-Auth-Scopes") == "read write"
    assert seen_value(resp, "X-Auth-Roles") == "admin,ops"
    assert seen_value(resp, "Authorization") is None


def test_hs256_from_key_file(env):
    tok = env.hs.token(claims(ISS_HS, AUD))
    env.secrets.append(tok)
    resp = env.gw.get("/jwt/x", bearer(tok))
    assert seen_value(resp, "X-Auth-Issuer") == "hs"


def test_second_audience_in_array(env):
    tok = env.token(aud=["elsewhere", "second"])
    assert env.gw.get("/jwt", bearer(tok)).status == 200


def test_client_identity_headers_are_stripped(env):
    tok = env.token()
    forged = [("X-Auth-Subject", "mallory"), ("X-Auth-Roles", "root"),
              ("x-auth-issuer", "corp"), ("X-Auth-Consumer", "someone"),
              ("X-Auth-Claims", "e30")]
    resp = env.gw.get("/jwt", bearer(tok) + forged)
    names = [n.lower() for n, _ in seen(resp)]
    assert seen_value(resp, "X-Auth-Subject") == "alice"
    assert seen_value(resp, "X-Auth-Roles") is None  # the token has none
    assert seen_value(resp, "X-Auth-Issuer") == "idp"
    assert "x-auth-consumer" not in names
    # The default names go on every route, X-Auth-Claims included, even
    # where the route does not send it (forward.claims is off here).
    assert "x-auth-claims" not in names
    resp = env.gw.get("/open", forged)
    assert resp.status == 200
    assert not [n for n, _ in seen(resp) if n.lower().startswith("x-auth-")]
    resp = env.gw.get("/keep", bearer(tok) + forged)
    assert seen_value(resp, "X-Auth-Claims") == tok.split(".")[1]
    assert seen_value(resp, "X-Auth-Subject") == "alice"


def test_authorization_kept_per_route_and_claims_forwarded(env):
    tok = env.token()
    resp = env.gw.get("/keep", bearer(tok) + [("X-Auth-Claims", "e30")])
    assert seen_value(resp, "Authorization") == "Bearer " + tok
    payload = seen_value(resp, "X-Auth-Claims")
    assert payload == tok.split(".")[1]
    doc = json.loads(base64.urlsafe_b64decode(payload + "=="))
    assert doc["sub"] == "alice"


def test_missing_credentials(env):
    resp = env.gw.get("/jwt")
    refused(env, resp, 401, "auth.missing_credentials", error=None)
    resp = env.gw.get("/jwt", [("Authorization", "Basic YTpi")])
    refused(env, resp, 401, "auth.missing_credentials", error=None)


def test_open_route_needs_nothing(env):
    assert env.gw.get("/open").status == 200


# ---------------------------------------------------------------------------
# Claims.

CLAIM_CASES = {
    "expired": (dict(exp=int(time.time()) - 120), "auth.token_expired"),
    "nbf_future": (dict(nbf=int(time.time()) + 600),
                   "auth.token_not_yet_valid"),
    "iat_future": (dict(iat=int(time.time()) + 600),
                   "auth.token_issued_in_future"),
    "wrong_iss": (dict(iss="https://evil.test/"), "auth.wrong_issuer"),
    "wrong_aud": (dict(aud="other"), "auth.wrong_audience"),
    "wrong_aud_array": (dict(aud=["other", "more"]), "auth.wrong_audience"),
    "missing_exp": (dict(exp=None), "auth.missing_claim"),
    "missing_aud": (dict(aud=None), "auth.missing_claim"),
    "exp_string": (dict(exp=str(int(time.time()) + 600)),
                   "auth.bad_claim_type"),
    "sub_number": (dict(sub=42), "auth.bad_claim_type"),
}


@pytest.mark.parametrize("case", sorted(CLAIM_CASES))
def test_claim_refused(env, case):
    extra, reason = CLAIM_CASES[case]
    if case == "exp_string":
        # PyJWT refuses to encode a non-numeric exp; sign the payload
        # as a general JWS, which it signs as given.
        import jwt
        body = json.dumps(claims(ISS, AUD, **extra)).encode()
        k = env.keys["ES256"]
        tok = jwt.api_jws.encode(body, k.key, algorithm="ES256",
                                 headers={"kid": k.kid, "typ": "JWT"})
    else:
        tok = env.token(**extra)
    refused(env, env.gw.get("/jwt", bearer(tok)), 401, reason)


def test_leeway_accepts_small_skew(env):
    now = int(time.time())
    tok = env.token(iat=now + 10, nbf=now + 10, exp=now - 10)
    assert env.gw.get("/jwt", bearer(tok)).status == 200


# ---------------------------------------------------------------------------
# Header and shape attacks.

def b64j(doc):
    return base64.urlsafe_b64encode(json.dumps(doc).encode()) \
        .rstrip(b"=").decode()


def test_alg_none_refused(env):
    tok = b64j({"alg": "none", "typ": "JWT"}) + "." + \
        b64j(claims(ISS, AUD)) + "."
    refused(env, env.gw.get("/jwt", bearer(tok)), 401,
            ["auth.alg_not_allowed", "auth.malformed_token"])
    tok2 = tok + b64j({"x": 1})
    refused(env, env.gw.get("/jwt", bearer(tok2)), 401,
            "auth.alg_not_allowed")


def test_hs256_with_rsa_public_key_refused(env):
    """The classic confusion: HMAC keyed with the RSA public key bytes."""
    import hashlib
    import hmac
    rsa = env.keys["RS256"]
    head = b64j({"alg": "HS256", "typ": "JWT", "kid": rsa.kid})
    body = b64j(claims(ISS, AUD))
    for secret in (rsa.public_pem(), json.dumps(rsa.jwk).encode()):
        mac = hmac.new(secret, (head + "." + body).encode(),
                       hashlib.sha256).digest()
        tok = head + "." + body + "." + \
            base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
        refused(env, env.gw.get("/jwt", bearer(tok)), 401,
                ["auth.alg_not_allowed", "auth.key_alg_mismatch"])


def test_token_of_hs_issuer_signed_as_rs_refused(env):
    # The HS issuer lists HS256 only: an RS256 token claiming it fails.
    tok = env.keys["RS256"].token(claims(ISS_HS, AUD))
    refused(env, env.gw.get("/jwt", bearer(tok)), 401,
            "auth.alg_not_allowed")


def test_wrong_signature(env):
    tok = env.keys["ES256"].token(claims(ISS, AUD))
    other = SigningKey("ES256", env.keys["ES256"].kid)
    forged = other.token(claims(ISS, AUD, sub="admin"))
    mixed = tok.split(".")[0] + "." + forged.split(".")[1] + "." + \
        tok.split(".")[2]
    for t in (forged, mixed):
        refused(env, env.gw.get("/jwt", bearer(t)), 401,
                "auth.bad_signature")


def test_crit_header_refused(env):
    tok = env.token(headers={"crit": ["exp"], "exp": 1})
    refused(env, env.gw.get("/jwt", bearer(tok)), 401,
            "auth.crit_unsupported")


def test_jku_x5u_jwk_headers_ignored(env):
    attacker = SigningKey("ES256", "evil")
    hdr = {"jku": "http://127.0.0.1:9/jwks", "x5u": "http://127.0.0.1:9/c",
           "jwk": attacker.jwk}
    tok = attacker.token(claims(ISS, AUD), headers=hdr)
    refused(env, env.gw.get("/jwt", bearer(tok)), 401, "auth.unknown_key")
    # The same headers on a genuine token change nothing either.
    good = env.token(headers=hdr)
    assert env.gw.get("/jwt", bearer(good)).status == 200


def test_unknown_kid_refused_after_refetch(env):
    stranger = SigningKey("ES256", "nobody-knows")
    tok = stranger.token(claims(ISS, AUD))
    refused(env, env.gw.get("/jwt", bearer(tok), timeout=10), 401,
            "auth.unknown_key")


def test_token_too_large(env):
    tok = env.token(pad="x" * 5000)
    resp = env.gw.get("/jwt", bearer(tok))
    if resp.status == 431:
        assert_problem(resp, 431)
        env.refused[resp.header("x-request-id")] = problem_reason(resp)
    else:
        refused(env, resp, 401, "auth.token_too_large")


def problem_reason(resp):
    return json.loads(resp.body)["type"].rsplit(":", 1)[-1]


SHAPES = {
    "two_segments": lambda t: ".".join(t.split(".")[:2]),
    "four_segments": lambda t: t + ".AAAA",
    "padding": lambda t: t.split(".")[0] + "==." + ".".join(
        t.split(".")[1:]),
    "bad_alphabet": lambda t: t.replace("-", "+").replace("_", "/")
    if ("-" in t or "_" in t) else "+" + t,
    "empty_signature": lambda t: t.rsplit(".", 1)[0] + ".",
    "header_not_object": lambda t: b64j([1]) + "." + t.split(".", 1)[1],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_malformed_shapes(env, shape):
    tok = SHAPES[shape](env.token())
    resp = env.gw.get("/jwt", bearer(tok))
    if resp.header("www-authenticate") and "invalid_request" in \
            resp.header("www-authenticate"):
        refused(env, resp, 401, "auth.malformed_request",
                error="invalid_request")
    else:
        refused(env, resp, 401, ["auth.malformed_token",
                                 "auth.bad_signature"])


def test_two_authorization_fields(env):
    tok = env.token()
    resp = env.gw.get("/jwt", bearer(tok) + bearer(tok))
    refused(env, resp, 401, "auth.malformed_request", error="invalid_request")


# ---------------------------------------------------------------------------
# API keys.

def test_api_key_valid_in_header(env):
    resp = env.gw.get("/key/x", [("X-API-Key", env.api["good"])])
    assert seen_value(resp, "X-Auth-Method") == "api_key"
    assert seen_value(resp, "X-Auth-Consumer") == "c-good"
    assert seen_value(resp, "X-Auth-Subject") == "c-good"
    # The key itself stays at the gateway.
    assert seen_value(resp, "X-API-Key") is None


def test_api_key_valid_in_query(env):
    resp = env.gw.get("/qkey/x?api_key=" + env.api["good"] + "&a=1")
    assert seen_value(resp, "X-Auth-Consumer") == "c-good"
    # The key parameter is not passed on; the others are, in order.
    assert json.loads(resp.body)["target"] == "/qkey/x?a=1"
    resp = env.gw.get("/qkey/x?b=2&api_key=" + env.api["good"])
    assert json.loads(resp.body)["target"] == "/qkey/x?b=2"


def test_api_key_in_wrong_place(env):
    # The header route ignores the query and the query route the header.
    resp = env.gw.get("/key/x?api_key=" + env.api["good"])
    refused(env, resp, 401, "auth.missing_credentials", error=None)
    resp = env.gw.get("/qkey/x", [("X-API-Key", env.api["good"])])
    refused(env, resp, 401, "auth.missing_credentials", error=None)


def flip_secret(key):
    """The same id with another, well-formed secret."""
    prefix, kid, secret = key.split("_", 2)
    c = "A" if secret[0] != "A" else "B"
    return "%s_%s_%s" % (prefix, kid, c + secret[1:])


API_KEY_CASES = {
    "wrong_secret": (lambda a: flip_secret(a["good"]), "auth.bad_api_key"),
    "unknown_id": (lambda a: "aw_zzzzzzzzzzzz_" + a["good"].split("_", 2)[2],
                   "auth.bad_api_key"),
    "malformed": (lambda a: "aw_short", "auth.bad_api_key"),
    "revoked": (lambda a: a["revoked"], "auth.key_revoked"),
    "expired": (lambda a: a["expired"], "auth.key_expired"),
    "not_yet_valid": (lambda a: a["future"], "auth.key_not_yet_valid"),
    "revoked_wrong_secret": (lambda a: flip_secret(a["revoked"]),
                             "auth.bad_api_key"),
}


@pytest.mark.parametrize("case", sorted(API_KEY_CASES))
def test_api_key_refused(env, case):
    make, reason = API_KEY_CASES[case]
    key = make(env.api)
    env.secrets.append(key)
    resp = env.gw.get("/key", [("X-API-Key", key)])
    # An API key is not a bearer token: the challenge names no RFC 6750
    # error for it.
    refused(env, resp, 401, reason, error=None)


def test_two_api_keys_refused(env):
    resp = env.gw.get("/key", [("X-API-Key", env.api["good"]),
                               ("X-API-Key", env.api["good"])])
    refused(env, resp, 401, "auth.malformed_request", error="invalid_request")


# ---------------------------------------------------------------------------
# Reload, then the log of everything above.

def test_sighup_reload_keeps_keys(env):
    before = env.idp.stats()
    tok = env.token("RS256")
    env.gw.signal(signal.SIGHUP)
    wait_for(lambda: "generation 2" in env.gw.stderr()
             or "reload" in env.gw.stderr().lower(), 5, what="reload")
    for _ in range(5):
        assert env.gw.get("/jwt", bearer(tok), timeout=10).status == 200
        assert env.gw.get("/key", [("X-API-Key", env.api["good"])]) \
            .status == 200
    # A reload may refetch, but it never loses the keys in between.
    assert env.idp.stats()["jwks"] >= before["jwks"]


def test_zz_access_log_has_reasons_and_no_secrets(env):
    gw = env.gw
    ids = set(env.refused)

    def all_logged():
        return ids <= {e.get("request_id") for e in gw.access_entries()}

    # Records reach the file within a drain interval; stopping the
    # gateway flushes whatever is left.
    try:
        wait_for(all_logged, 5, what="every refusal in the access log")
    except AssertionError:
        gw.stop()
    entries = gw.access_entries()
    by_id = {e.get("request_id"): e for e in entries}
    for rid, reason in env.refused.items():
        assert rid in by_id, "no access-log record for %s" % rid
        want = reason if isinstance(reason, str) else None
        got = by_id[rid].get("reason")
        if want is not None:
            assert got == want, (rid, got, want)
        else:
            assert got in reason, (rid, got, reason)
    with open(gw.access_log_path) as f:
        log = f.read()
    text = log + gw.stderr() + gw.stdout()
    for secret in env.secrets:
        assert secret not in text, "a credential reached the logs"
        for part in secret.split(".")[1:2] + secret.split("_", 2)[2:3]:
            if len(part) >= 20:
                assert part not in text, "part of a credential was logged"
    assert PEPPER.strip() not in text
    jwt_ok = [e for e in entries if e.get("auth") == "jwt"]
    assert jwt_ok and all(re.fullmatch(r"[0-9a-f]{12}", e["credential"])
                          for e in jwt_ok)


# ---------------------------------------------------------------------------
# Key server behaviour over time: each test has its own IdP and gateway.

@pytest.fixture
def fresh(apiward_bin, tmp_path, gateways):
    env = Env(apiward_bin, tmp_path)
    env.pool = gateways
    yield env
    env.stop()


def test_rotation_new_kid_accepted_without_restart(fresh):
    gw = fresh.config(fresh.pool, free_port())
    assert gw.get("/jwt", bearer(fresh.token("ES256")), timeout=10) \
        .status == 200
    new = SigningKey("ES384", "rotated-1")
    fresh.idp.set_keys(new, *fresh.keys.values())
    tok = new.token(claims(ISS, AUD))
    resp = gw.get("/jwt", bearer(tok), timeout=10)
    assert resp.status == 200, resp
    # The old keys leave the set: once refetched, they are not trusted.
    fresh.idp.set_keys(new)
    time.sleep(2.2)
    stale = SigningKey("ES256", "stale-kid").token(claims(ISS, AUD))
    gw.get("/jwt", bearer(stale), timeout=10)
    resp = gw.get("/jwt", bearer(fresh.token("ES256")), timeout=10)
    assert resp.status == 401, resp


def test_unknown_kid_refetch_is_rate_limited(fresh):
    gw = fresh.config(fresh.pool, free_port())
    assert gw.get("/jwt", bearer(fresh.token()), timeout=10).status == 200
    start = fresh.idp.stats()["jwks"]
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 4.0:
        stranger = SigningKey("ES256", "hammer-%d" % n)
        resp = gw.get("/jwt", bearer(stranger.token(claims(ISS, AUD))),
                      timeout=10)
        assert resp.status == 401, resp
        n += 1
    fetched = fresh.idp.stats()["jwks"] - start
    elapsed = time.monotonic() - t0
    # unknown_kid is 2s: about one fetch per interval, never one per kid.
    assert n >= 10, "too few requests to tell (%d)" % n
    assert fetched <= elapsed / 2.0 + 2, (fetched, n, elapsed)


def test_idp_down_after_start_cached_keys_work(fresh):
    gw = fresh.config(fresh.pool, free_port())
    tok = fresh.token("PS256")
    assert gw.get("/jwt", bearer(tok), timeout=10).status == 200
    fresh.idp.set_mode("fail")
    time.sleep(1.5)
    assert gw.get("/jwt", bearer(fresh.token("Ed25519")),
                  timeout=10).status == 200
    fresh.idp.stop()
    time.sleep(1.5)
    for kind in ("PS256", "ES512", "Ed448"):
        resp = gw.get("/jwt", bearer(fresh.token(kind)), timeout=10)
        assert resp.status == 200, resp


def test_idp_down_at_start_is_503(fresh):
    fresh.idp.stop()
    gw = fresh.config(fresh.pool, free_port(), ready_timeout=40)
    resp = gw.get("/jwt", bearer(fresh.token()), timeout=15)
    refused(fresh, resp, 503, "auth.keys_unavailable")
    # Nothing else of the gateway is affected.
    assert gw.get("/open").status == 200
    fresh.up.reset()
    entries = gw.wait_access_entries(2)
    assert any(e.get("reason") == "auth.keys_unavailable" for e in entries)


def test_idp_failing_at_start_is_503(fresh):
    fresh.idp.set_mode("fail")
    gw = fresh.config(fresh.pool, free_port(), ready_timeout=40)
    resp = gw.get("/jwt", bearer(fresh.token()), timeout=15)
    refused(fresh, resp, 503, "auth.keys_unavailable")


def test_discovery_issuer_mismatch_is_503(fresh):
    fresh.idp.configure(issuer="https://someone-else.test/")
    gw = fresh.config(fresh.pool, free_port(), ready_timeout=40)
    resp = gw.get("/jwt", bearer(fresh.token()), timeout=15)
    refused(fresh, resp, 503, "auth.keys_unavailable")
    assert fresh.idp.stats()["jwks"] == 0, "keys fetched from a mismatch"


def test_jwks_url_with_cache_control(fresh):
    fresh.idp.configure(cc="max-age=1")
    gw = fresh.config(fresh.pool, free_port(),
                      keys={"url": fresh.idp.jwks_url})
    assert gw.get("/jwt", bearer(fresh.token()), timeout=10).status == 200
    start = fresh.idp.stats()["jwks"]
    time.sleep(3.5)
    # max-age=1 with refresh.min 1s: refreshed about every second.
    assert fresh.idp.stats()["jwks"] - start >= 2


# ---------------------------------------------------------------------------
# The command line.

def test_proxy_with_jwks_file(apiward_bin, tmp_path, gateways, upstream):
    key = SigningKey("RS256", "cli-1")
    path = tmp_path / "cli-jwks.json"
    path.write_text(json.dumps(jwks(key)))
    port = free_port()
    gw = gateways(args=["proxy", "--listen", "127.0.0.1:%d" % port,
                        "--to", "http://" + upstream.addr,
                        "--jwks", str(path), "--issuer", ISS,
                        "--audience", "one", "--audience", AUD],
                  port=port)
    assert_problem(gw.get("/anything"), 401, "auth.missing_credentials")
    tok = key.token(claims(ISS, AUD))
    resp = gw.get("/anything", bearer(tok))
    assert seen_value(resp, "X-Auth-Issuer") == "proxy"
    assert seen_value(resp, "Authorization") is None
    resp = gw.get("/x", bearer(key.token(claims(ISS, "three"))))
    assert_problem(resp, 401, "auth.wrong_audience")


def test_proxy_with_jwks_url(apiward_bin, tmp_path, gateways, upstream):
    key = SigningKey("ES256", "cli-2")
    idp = IdP(ISS, tmp_path).start()
    try:
        idp.set_keys(key)
        port = free_port()
        gw = gateways(args=["proxy", "--listen", "127.0.0.1:%d" % port,
                            "--to", "http://" + upstream.addr,
                            "--jwks", idp.jwks_url, "--issuer", ISS,
                            "--audience", AUD], port=port)
        resp = gw.get("/", bearer(key.token(claims(ISS, AUD))), timeout=10)
        assert seen_value(resp, "X-Auth-Subject") == "alice"
    finally:
        idp.stop()


@pytest.mark.parametrize("args,code,text", [
    (["--jwks", "x.json"], 2, "go together"),
    (["--jwks", "/nonexistent.json", "--issuer", ISS, "--audience", AUD],
     1, "--jwks"),
    (["--jwks", "http://example.com/jwks", "--issuer", ISS, "--audience",
      AUD], 1, "keys.url"),
    (["--jwks", "JWKS", "--issuer", ISS, "--audience", ""], 1,
     "audiences"),
])
def test_proxy_jwt_option_errors(apiward_bin, tmp_path, args, code, text):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(jwks(SigningKey("ES256", "e"))))
    args = [str(good) if a == "JWKS" else a for a in args]
    p = run(apiward_bin, "proxy", "--to", "http://127.0.0.1:9", *args)
    assert p.returncode == code, (p.returncode, p.stderr)
    assert text in p.stderr, p.stderr


def test_key_new_usage_and_help(apiward_bin):
    assert "key new" in run(apiward_bin, "--help").stdout
    p = run(apiward_bin, "key", "new", "--consumer", "x")
    assert p.returncode == 2 and "pepper" in p.stderr
