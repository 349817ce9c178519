#!/usr/bin/python3
"""Print a token for the quickstart, signed with the DEMO key.

    python3 examples/mint_token.py [--sub NAME] [--scope "a b"]
                                   [--roles r1,r2] [--ttl SECONDS]

The token is an ES256 JWT from issuer "https://demo-idp.apiward.test/"
for audience "demo-api", signed with examples/demo-signing-key.pem,
whose public half is examples/demo-jwks.json. That key is published:
anyone can mint these tokens, so no real gateway may trust it.

Needs PyJWT and cryptography (Debian: python3-jwt python3-cryptography).
"""

import argparse
import os
import time

import jwt

HERE = os.path.dirname(os.path.abspath(__file__))
ISSUER = "https://demo-idp.apiward.test/"
AUDIENCE = "demo-api"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sub", default="alice")
    ap.add_argument("--scope", default="users:read users:write")
    ap.add_argument("--roles", default="reader")
    ap.add_argument("--ttl", type=int, default=3600,
                    help="seconds until the token expires")
    args = ap.parse_args()
    with open(os.path.join(HERE, "demo-signing-key.pem"), "rb") as f:
        key = f.read()
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": args.sub,
              "iat": now, "exp": now + args.ttl, "scope": args.scope,
              "roles": [r for r in args.roles.split(",") if r]}
    print(jwt.encode(claims, key, algorithm="ES256",
                     headers={"kid": "demo-1"}))


if __name__ == "__main__":
    main()
