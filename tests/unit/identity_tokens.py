"""Mint the tokens and key sets test_identity.c authenticates.

Run by test_identity.c with Debian's /usr/bin/python3 (python3-jwt and
python3-cryptography) as: identity_tokens.py OUTDIR NOW. Keys are made
afresh on every run. Written into OUTDIR:

  public.json   JWK Set: EC P-256 key "k1", RSA key "k2"
  secret.json   JWK Set: one HS256 secret "s1"
  pepper        the API key pepper (mode 0600)
  api-keys      a keys file of two keys, "goodkey1" and "revoked1"
  tokens.txt    one "NAME TOKEN" line per token, and the API keys as
                key_good, key_wrong (a wrong secret), key_revoked

NOW is the unix time the C test passes to identity_authenticate; every
time claim is relative to it, so the test clock decides what is valid.

identity_tokens.py --serve OUTDIR serves OUTDIR/public.json on loopback
instead, for the remote key source tests. It prints "PORT n" once it
listens. GET /jwks answers the set without "k1" until POST /rotate, and
the whole set afterwards, as an issuer that rotates a key in would.
"""

import base64
import hashlib
import hmac
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISS = "https://idp.example.com/"
AUD = "orders-api"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n):
    return b64(n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big"))


def ec_jwk(key, kid):
    nums = key.public_key().public_numbers()
    return {"kty": "EC", "kid": kid, "crv": "P-256",
            "x": b64(nums.x.to_bytes(32, "big")),
            "y": b64(nums.y.to_bytes(32, "big"))}


def rsa_jwk(key, kid):
    nums = key.public_key().public_numbers()
    return {"kty": "RSA", "kid": kid, "n": uint(nums.n), "e": uint(nums.e)}


def pem(key):
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def api_keys(out):
    """Write a pepper and a keys file; return the keys, as presented."""
    pepper = b64(os.urandom(32)).encode()
    path = os.path.join(out, "pepper")
    with open(path, "wb") as f:
        f.write(pepper + b"\n")
    os.chmod(path, 0o600)
    keys, lines = {}, []
    for name, key_id in (("key_good", "goodkey1"), ("key_revoked",
                                                    "revoked1")):
        secret = b64(os.urandom(32))
        mac = hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()
        lines.append("%s billing %s - -\n" % (key_id, mac))
        keys[name] = "aw_%s_%s" % (key_id, secret)
    keys["key_wrong"] = "aw_goodkey1_" + b64(os.urandom(32))
    with open(os.path.join(out, "api-keys"), "w") as f:
        f.writelines(lines)
    return keys


def main():
    out, now = sys.argv[1], int(sys.argv[2])
    k1 = ec.generate_private_key(ec.SECP256R1())
    k2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rogue = ec.generate_private_key(ec.SECP256R1())
    secret = os.urandom(32)

    with open(os.path.join(out, "public.json"), "w") as f:
        json.dump({"keys": [ec_jwk(k1, "k1"), rsa_jwk(k2, "k2")]}, f)
    with open(os.path.join(out, "secret.json"), "w") as f:
        json.dump({"keys": [{"kty": "oct", "kid": "s1", "alg": "HS256",
                             "k": b64(secret)}]}, f)

    base = {"iss": ISS, "aud": AUD, "sub": "alice", "iat": now,
            "nbf": now, "exp": now + 3600, "scope": "orders:read  orders:write",
            "roles": ["admin", "ops"], "tenant": "acme",
            "realm_access": {"roles": ["viewer"]},
            "https://example.com/groups": ["blue"]}

    def claims(**changes):
        c = dict(base)
        for name, value in changes.items():
            if value is None:
                c.pop(name, None)
            else:
                c[name] = value
        return c

    def es(c, kid="k1", key=None, headers=None):
        h = {"kid": kid} if kid else {}
        h.update(headers or {})
        return jwt.encode(c, pem(key or k1), algorithm="ES256", headers=h)

    tokens = {
        "good_es": es(claims()),
        "good_rs": jwt.encode(claims(), pem(k2), algorithm="RS256",
                              headers={"kid": "k2"}),
        "good_nokid": es(claims(), kid=None),
        "good_hs": jwt.encode(claims(), secret, algorithm="HS256",
                              headers={"kid": "s1"}),
        "expired": es(claims(exp=now - 100)),
        "expired_frac": es(claims(exp=now - 29.5)),
        "not_yet": es(claims(nbf=now + 1000)),
        "iat_future": es(claims(iat=now + 1000)),
        "long_life": es(claims(exp=now + 48 * 3600)),
        "long_no_iat": es(claims(iat=None, exp=now + 48 * 3600)),
        "wrong_iss": es(claims(iss="https://evil.example/")),
        "no_iss": es(claims(iss=None)),
        "wrong_aud": es(claims(aud="other-api")),
        "aud_array": es(claims(aud=["x", AUD])),
        "aud_bad_type": es(claims(aud=[AUD, 7])),
        "no_aud": es(claims(aud=None)),
        "no_exp": es(claims(exp=None)),
        "exp_string": es(claims(exp=str(now + 3600))),
        "sub_number": es(claims(sub=42)),
        "bad_sig": es(claims(), key=rogue),
        "unknown_kid": es(claims(), kid="zz", key=rogue),
        "typ_at": es(claims(), headers={"typ": "application/at+jwt"}),
        "scp_array": es(claims(scope=None, scp=["a", "b"])),
        "scope_array": es(claims(scope=["a"])),
        "roles_bad": es(claims(roles=["admin", 1])),
        "roles_one": es(claims(roles="solo")),
        "tenant_other": es(claims(tenant="other")),
        "tenant_array": es(claims(tenant=["x", "acme"])),
        "tenant_absent": es(claims(tenant=None)),
        "alg_none": jwt.encode(claims(), None, algorithm="none"),
    }
    tokens.update(api_keys(out))
    with open(os.path.join(out, "tokens.txt"), "w") as f:
        for name, token in tokens.items():
            f.write("%s %s\n" % (name, token))


def serve(out):
    with open(os.path.join(out, "public.json")) as f:
        full = json.load(f)
    early = {"keys": [k for k in full["keys"] if k["kid"] != "k1"]}
    state = {"set": early}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def answer(self, body):
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            with lock:
                self.answer(state["set"])

        def do_POST(self):
            with lock:
                state["set"] = full
            self.answer({"rotated": True})

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if sys.argv[1] == "--serve":
    serve(sys.argv[2])
else:
    main()
