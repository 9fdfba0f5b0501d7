"""Independent check of ScaiKey access tokens with PyJWT.

Usage: verify_jwt.py TOKEN JWKS_URL ISSUER AUDIENCE
Fetches the JWKS, picks the key by kid, verifies signature, exp, nbf, iat,
iss and aud, and prints {"header": ..., "claims": ...} as JSON.
"""
import json
import sys

import jwt

token, jwks_url, issuer, audience = sys.argv[1:5]
client = jwt.PyJWKClient(jwks_url)
key = client.get_signing_key_from_jwt(token)
header = jwt.get_unverified_header(token)
claims = jwt.decode(
    token,
    key.key,
    algorithms=["RS256", "ES256", "EdDSA"],
    issuer=issuer,
    audience=audience,
    options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
)
print(json.dumps({"header": header, "claims": claims}))
