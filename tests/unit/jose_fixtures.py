"""Mint JOSE test fixtures with an implementation independent of apiward.

Run by test_jose.c with Debian's /usr/bin/python3 (python3-jwt and
python3-cryptography). Keys are generated afresh on every run, tokens are
signed with PyJWT or, for the deliberately broken ones, by hand with
cryptography, and JWKs are written from cryptography's key numbers.

Output on stdout, one JSON document:
  {"sets": {name: JWK Set}, "tokens": [{"name", "set", "token",
   "expect"}], "keys": [{"name", "jwk", "expect"}]}
"expect" is "ok" or the reason code apiward must give.
"""

import base64
import hashlib
import hmac
import json
import sys

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)

CLAIMS = {"sub": "alice", "iss": "https://issuer.example", "n": 1}
FIXED = {}


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n):
    return b64(n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big"))


def rsa_jwk(key, kid, **extra):
    nums = key.public_key().public_numbers()
    return dict({"kty": "RSA", "kid": kid, "n": uint(nums.n),
                 "e": uint(nums.e)}, **extra)


def ec_jwk(key, kid, **extra):
    nums = key.public_key().public_numbers()
    size = (key.curve.key_size + 7) // 8
    crv = {"secp256r1": "P-256", "secp384r1": "P-384",
           "secp521r1": "P-521"}[key.curve.name]
    return dict({"kty": "EC", "kid": kid, "crv": crv,
                 "x": b64(nums.x.to_bytes(size, "big")),
                 "y": b64(nums.y.to_bytes(size, "big"))}, **extra)


def okp_jwk(key, kid, crv):
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return {"kty": "OKP", "kid": kid, "crv": crv, "x": b64(raw)}


def compact(header, payload, signer):
    """Sign raw header and payload bytes with signer(signing_input)."""
    head = b64(header if isinstance(header, bytes) else
               json.dumps(header).encode())
    body = b64(payload if isinstance(payload, bytes) else
               json.dumps(payload).encode())
    signing_input = (head + "." + body).encode()
    return head + "." + body + "." + b64(signer(signing_input))


def ecdsa_raw(key, hash_alg, size):
    def sign(data):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hash_alg)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    return sign


def main():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_short = rsa.generate_private_key(public_exponent=65537,
                                         key_size=1024)
    ec256 = ec.generate_private_key(ec.SECP256R1())
    ec384 = ec.generate_private_key(ec.SECP384R1())
    ec521 = ec.generate_private_key(ec.SECP521R1())
    attacker = ec.generate_private_key(ec.SECP256R1())
    ed = ed25519.Ed25519PrivateKey.generate()
    ed4 = ed448.Ed448PrivateKey.generate()
    hs256 = bytes(range(32))
    hs512 = bytes(range(100, 164))
    hs_short = bytes(16)

    sets = {
        "pub": {"keys": [
            rsa_jwk(rsa_key, "rsa", use="sig"),
            rsa_jwk(rsa_key, "rsa-ps256", alg="PS256"),
            rsa_jwk(rsa_short, "rsa-short"),
            ec_jwk(ec256, "ec256", key_ops=["verify"]),
            ec_jwk(ec384, "ec384"),
            ec_jwk(ec521, "ec521", alg="ES512"),
            okp_jwk(ed, "ed25519", "Ed25519"),
            okp_jwk(ed4, "ed448", "Ed448"),
        ]},
        "hs": {"keys": [
            {"kty": "oct", "kid": "hs256", "alg": "HS256", "k": b64(hs256)},
            {"kty": "oct", "kid": "hs512", "k": b64(hs512)},
            {"kty": "oct", "kid": "hs-short", "k": b64(hs_short)},
        ]},
    }
    tokens = []

    def add(name, token, expect, set_name="pub"):
        tokens.append({"name": name, "set": set_name, "token": token,
                       "expect": expect})

    def pyjwt(alg, key, kid, **headers):
        hdr = dict(headers)
        if kid is not None:
            hdr["kid"] = kid
        return jwt.encode(CLAIMS, key, algorithm=alg, headers=hdr)

    # Tokens that must verify, one per algorithm.
    for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"):
        add("valid " + alg, pyjwt(alg, rsa_key, "rsa"), "ok")
    add("valid ES256", pyjwt("ES256", ec256, "ec256"), "ok")
    add("valid ES384", pyjwt("ES384", ec384, "ec384"), "ok")
    add("valid ES512", pyjwt("ES512", ec521, "ec521"), "ok")
    add("valid EdDSA Ed25519", pyjwt("EdDSA", ed, "ed25519"), "ok")
    add("valid EdDSA Ed448", pyjwt("EdDSA", ed4, "ed448"), "ok")
    add("valid PS256 on alg-bound key", pyjwt("PS256", rsa_key, "rsa-ps256"),
        "ok")
    add("valid ES256 without kid", pyjwt("ES256", ec256, None), "ok")
    add("valid EdDSA without kid", pyjwt("EdDSA", ed4, None), "ok")
    add("valid HS256", pyjwt("HS256", hs256, "hs256"), "ok", "hs")
    add("valid HS384 on alg-free key", pyjwt("HS384", hs512, "hs512"), "ok",
        "hs")
    add("valid HS512", pyjwt("HS512", hs512, "hs512"), "ok", "hs")
    add("valid HS512 without kid", pyjwt("HS512", hs512, None), "ok", "hs")

    # The key decides the algorithm.
    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)
    confuse = compact({"alg": "HS256", "kid": "rsa"}, CLAIMS,
                      lambda d: hmac.new(pem, d, hashlib.sha256).digest())
    add("HS256 signed with the RSA public key as secret", confuse,
        "auth.key_alg_mismatch")
    add("HS256 with a public key, no kid",
        compact({"alg": "HS256"}, CLAIMS,
                lambda d: hmac.new(pem, d, hashlib.sha256).digest()),
        "auth.unknown_key")
    add("PS384 on a PS256-only key", pyjwt("PS384", rsa_key, "rsa-ps256"),
        "auth.key_alg_mismatch")
    add("ES256 header, P-384 key",
        compact({"alg": "ES256", "kid": "ec384"}, CLAIMS,
                ecdsa_raw(ec384, hashes.SHA256(), 48)),
        "auth.key_alg_mismatch")
    add("ES384 header, P-256 kid", pyjwt("ES384", ec384, "ec256"),
        "auth.key_alg_mismatch")
    add("RS256 with an EC kid", pyjwt("RS256", rsa_key, "ec256"),
        "auth.key_alg_mismatch")
    add("EdDSA Ed25519 signature, Ed448 key", pyjwt("EdDSA", ed, "ed448"),
        "auth.bad_signature")
    add("RS256 with the short key", pyjwt("RS256", rsa_short, "rsa-short"),
        "auth.unknown_key")
    add("HS384 on the HS256-only key", pyjwt("HS384", hs256, "hs256"),
        "auth.key_alg_mismatch", "hs")
    add("HS256 with the skipped short secret",
        pyjwt("HS256", hs_short + bytes(16), "hs-short"),
        "auth.unknown_key", "hs")
    add("RS256 against the secret set", pyjwt("RS256", rsa_key, "rsa"),
        "auth.unknown_key", "hs")
    add("unknown kid", pyjwt("ES256", ec256, "nobody"), "auth.unknown_key")

    # Signatures that do not verify.
    good = pyjwt("ES256", ec256, "ec256")
    head, body, sig = good.split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"),
                               int.from_bytes(raw[32:], "big"))
    add("ES256 with a DER signature", head + "." + body + "." + b64(der),
        "auth.bad_signature")
    n256 = int("ffffffff00000000ffffffffffffffff"
               "bce6faada7179e84f3b9cac2fc632551", 16)
    add("ES256 with s = n", head + "." + body + "." +
        b64(raw[:32] + n256.to_bytes(32, "big")), "auth.bad_signature")
    # Malleable, and JWS does not forbid it: n - s verifies as well (see
    # docs/known-limitations.md); this pins the behaviour.
    add("ES256 with n - s", head + "." + body + "." +
        b64(raw[:32] + (n256 - int.from_bytes(raw[32:], "big")).to_bytes(
            32, "big")), "ok")
    add("ES256 with r = 0", head + "." + body + "." +
        b64(bytes(32) + raw[32:]), "auth.bad_signature")
    add("ES256 truncated", head + "." + body + "." + b64(raw[:63]),
        "auth.bad_signature")
    other = pyjwt("ES256", ec256, "ec256").split(".")[1]
    tampered = b64(json.dumps(dict(CLAIMS, sub="mallory")).encode())
    assert other == body
    add("ES256 with a modified payload", head + "." + tampered + "." + sig,
        "auth.bad_signature")
    rs = pyjwt("RS256", rsa_key, "rsa").split(".")
    rsig = base64.urlsafe_b64decode(rs[2] + "==")
    add("RS256 with a leading zero byte", rs[0] + "." + rs[1] + "." +
        b64(b"\0" + rsig), "auth.bad_signature")
    add("RS256 signed by RS512", rs[0] + "." + rs[1] + "." +
        pyjwt("RS512", rsa_key, "rsa").split(".")[2], "auth.bad_signature")
    hs = pyjwt("HS256", hs256, "hs256").split(".")
    mac = base64.urlsafe_b64decode(hs[2] + "==")
    add("HS256 truncated MAC", hs[0] + "." + hs[1] + "." + b64(mac[:16]),
        "auth.bad_signature", "hs")
    add("HS256 wrong secret", pyjwt("HS256", bytes(32), "hs256"),
        "auth.bad_signature", "hs")

    # Headers that point at other keys are never trusted.
    evil_jwk = ec_jwk(attacker, "ec256")
    add("embedded jwk header", pyjwt("ES256", attacker, "ec256",
                                     jwk=evil_jwk), "auth.bad_signature")
    add("jku header", pyjwt("ES256", attacker, "ec256",
                            jku="https://evil.example/jwks"),
        "auth.bad_signature")
    add("x5u header", pyjwt("ES256", attacker, None,
                            x5u="https://evil.example/cert"),
        "auth.bad_signature")

    # Algorithms that are refused whatever the key.
    es = ecdsa_raw(ec256, hashes.SHA256(), 32)
    for alg in ("none", "None", "NONE", "es256", "ES256K", "HS1", "RS1",
                "ES256 ", ""):
        add("alg " + repr(alg), compact({"alg": alg, "kid": "ec256"},
                                        CLAIMS, es), "auth.alg_not_allowed")
    none = b64(json.dumps({"alg": "none"}).encode()) + "." + body + "."
    add("alg none, empty signature", none, "auth.alg_not_allowed")
    add("alg missing", compact({"kid": "ec256"}, CLAIMS, es),
        "auth.malformed_token")
    add("alg not a string", compact({"alg": ["ES256"]}, CLAIMS, es),
        "auth.malformed_token")
    add("crit", pyjwt("ES256", ec256, "ec256", crit=["exp"]),
        "auth.crit_unsupported")
    add("crit empty", pyjwt("ES256", ec256, "ec256", crit=[]),
        "auth.crit_unsupported")
    add("b64 false with crit",
        compact({"alg": "ES256", "kid": "ec256", "b64": False,
                 "crit": ["b64"]}, CLAIMS, es), "auth.crit_unsupported")
    add("b64 false", compact({"alg": "ES256", "kid": "ec256", "b64": False},
                             CLAIMS, es), "auth.crit_unsupported")
    add("b64 true", compact({"alg": "ES256", "kid": "ec256", "b64": True},
                            CLAIMS, es), "ok")
    add("kid a number", compact({"alg": "ES256", "kid": 7}, CLAIMS, es),
        "auth.malformed_token")
    add("duplicate alg member",
        compact(b'{"alg":"ES256","kid":"ec256","alg":"none"}', CLAIMS, es),
        "auth.malformed_token")
    add("duplicate kid member",
        compact(b'{"alg":"ES256","kid":"ec256","kid":"rsa"}', CLAIMS, es),
        "auth.malformed_token")
    add("header not an object", compact(b'["ES256"]', CLAIMS, es),
        "auth.malformed_token")
    add("header invalid UTF-8",
        compact(b'{"alg":"ES256","kid":"ec\xff256"}', CLAIMS, es),
        "auth.malformed_token")
    add("header with trailing bytes",
        compact(b'{"alg":"ES256","kid":"ec256"}x', CLAIMS, es),
        "auth.malformed_token")
    add("header with a BOM",
        compact(b'\xef\xbb\xbf{"alg":"ES256","kid":"ec256"}', CLAIMS, es),
        "auth.malformed_token")
    add("payload not an object",
        compact({"alg": "ES256", "kid": "ec256"}, b"[1,2]", es),
        "auth.malformed_token")
    add("payload not JSON",
        compact({"alg": "ES256", "kid": "ec256"}, b"foo", es),
        "auth.malformed_token")
    add("payload empty", compact({"alg": "ES256", "kid": "ec256"}, b"", es),
        "auth.malformed_token")
    add("payload duplicate claim",
        compact({"alg": "ES256", "kid": "ec256"},
                b'{"sub":"alice","sub":"root"}', es), "auth.malformed_token")

    # The compact serialization, exactly.
    add("padding on the signature", good + "=", "auth.malformed_token")
    add("padding on the header", head + "==." + body + "." + sig,
        "auth.malformed_token")
    add("four segments", good + ".e30", "auth.malformed_token")
    add("two segments", head + "." + body, "auth.malformed_token")
    add("five segments (JWE shape)", good + ".." , "auth.malformed_token")
    add("empty signature", head + "." + body + ".", "auth.malformed_token")
    add("empty header", "." + body + "." + sig, "auth.malformed_token")
    add("leading space", " " + good, "auth.malformed_token")
    add("trailing newline", good + "\n", "auth.malformed_token")
    add("space inside", head + ". " + body + "." + sig,
        "auth.malformed_token")
    add("standard base64 alphabet", head + "." + body + "." + "+" + sig[1:],
        "auth.malformed_token")
    alphabet = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_")
    last = alphabet.index(sig[-1])
    assert len(sig) % 4 == 2 and last & 0xF == 0
    add("nonzero unused bits", head + "." + body + "." + sig[:-1] +
        alphabet[last | 1], "auth.malformed_token")
    add("JSON serialization", json.dumps({"payload": body, "signatures": [
        {"protected": head, "signature": sig}]}), "auth.malformed_token")

    # Keys apiward must refuse at import, with the reason.
    keys = []

    def bad(name, jwk, expect):
        keys.append({"name": name, "jwk": jwk, "expect": expect})

    priv = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key))
    bad("RSA private key", dict(priv, kid="p"), "jwk.private_key")
    ecpriv = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec256))
    bad("EC private key", ecpriv, "jwk.private_key")
    bad("RSA 1024", rsa_jwk(rsa_short, "s"), "jwk.weak_key")
    bad("RSA e=1", dict(rsa_jwk(rsa_key, "e"), e="AQ"), "jwk.weak_key")
    bad("RSA e=65536", dict(rsa_jwk(rsa_key, "e"), e=uint(65536)),
        "jwk.weak_key")
    nums = ec256.public_key().public_numbers()
    bad("EC point off the curve",
        dict(ec_jwk(ec256, "x"), y=b64(((nums.y + 1) % 2**256).to_bytes(
            32, "big"))), "jwk.bad_key")
    bad("EC short coordinate",
        dict(ec_jwk(ec256, "x"), x=b64(nums.x.to_bytes(32, "big")[1:])),
        "jwk.bad_key")
    bad("EC P-384 labelled P-256",
        dict(ec_jwk(ec384, "x"), crv="P-256"), "jwk.bad_key")
    bad("EC secp256k1", dict(ec_jwk(ec256, "x"), crv="secp256k1"),
        "jwk.unsupported_crv")
    bad("EC alg RS256", ec_jwk(ec256, "x", alg="RS256"), "jwk.alg_mismatch")
    bad("EC P-256 alg ES384", ec_jwk(ec256, "x", alg="ES384"),
        "jwk.alg_mismatch")
    bad("OKP X25519", dict(okp_jwk(ed, "x", "X25519")),
        "jwk.unsupported_crv")
    bad("OKP Ed448 with an Ed25519 key", okp_jwk(ed, "x", "Ed448"),
        "jwk.bad_key")
    bad("oct 16 bytes", {"kty": "oct", "k": b64(hs_short)}, "jwk.weak_key")
    bad("oct 48 bytes for HS512",
        {"kty": "oct", "alg": "HS512", "k": b64(bytes(48))}, "jwk.weak_key")
    bad("oct empty", {"kty": "oct", "k": ""}, "jwk.weak_key")
    bad("oct for AES", {"kty": "oct", "alg": "A256GCM", "k": b64(hs256)},
        "jwk.unsupported_alg")
    bad("alg none", rsa_jwk(rsa_key, "x", alg="none"),
        "jwk.unsupported_alg")
    bad("use enc", rsa_jwk(rsa_key, "x", use="enc"), "jwk.not_for_signing")
    bad("key_ops sign", ec_jwk(ec256, "x", key_ops=["sign"]),
        "jwk.not_for_signing")
    bad("key_ops repeated", ec_jwk(ec256, "x", key_ops=["verify", "verify"]),
        "jwk.malformed")
    bad("kty lower case", dict(rsa_jwk(rsa_key, "x"), kty="rsa"),
        "jwk.unsupported_kty")
    bad("n with padding", dict(rsa_jwk(rsa_key, "x"),
                               n=rsa_jwk(rsa_key, "x")["n"] + "=="),
        "jwk.malformed")
    bad("kid a number", dict(ec_jwk(ec256, "x"), kid=1), "jwk.malformed")

    json.dump({"sets": sets, "tokens": tokens, "keys": keys}, sys.stdout)


if __name__ == "__main__":
    main()
