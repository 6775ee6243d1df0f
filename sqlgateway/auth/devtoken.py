"""A local signing key and token minter, to try SQLGATEWAY_AUTH=oauth without an identity
provider (`sqlgateway dev-token`).

`ensure_dev_keys` makes, once, an EC P-256 private key (PEM, mode 0600) and the matching
public key set `jwks.json` in a directory, and reuses them afterwards; point the gateway at
them with `dev_environment`. `mint_token` signs ES256 access tokens with that key, shaped like
a provider's (RFC 9068: `typ: at+jwt`, `kid`, iss, aud, sub, iat, exp, jti). The issuer is
under `.invalid` (RFC 2606), so these settings cannot be mistaken for a real provider's.
Anyone who can read the key file can mint tokens: it is for local trials, not deployments.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from sqlgateway.settings import default_state_dir

DEV_ISSUER = "https://sqlgateway.dev.invalid/"
DEV_AUDIENCE = "sqlgateway-dev"
DEV_ALGORITHM = "ES256"
PRIVATE_KEY_FILE = "dev-signing-key.pem"
JWKS_FILE = "jwks.json"


def default_dev_dir() -> Path:
    """Where the CLI keeps the dev key unless told otherwise (the user data directory)."""
    return default_state_dir() / "dev-oauth"


def ensure_dev_keys(directory: Path) -> Path:
    """The path of `directory/jwks.json`, creating the key pair on first use."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    document = {"keys": [public_jwk(_signing_key(directory))]}
    jwks_path = directory / JWKS_FILE
    if not jwks_path.exists() or json.loads(jwks_path.read_text()) != document:
        partial = jwks_path.with_suffix(".tmp")
        partial.write_text(json.dumps(document, indent=2) + "\n")
        partial.replace(jwks_path)  # readers never see half a file
    return jwks_path


def mint_token(
    directory: Path,
    *,
    subject: str,
    issuer: str = DEV_ISSUER,
    audience: str = DEV_AUDIENCE,
    claims: Mapping[str, Any] | None = None,
    lifetime_s: int = 3_600,
) -> str:
    """An ES256 access token for `subject`, signed with the dev key of `directory` (made if
    missing). `claims` are added (e.g. `scope`, `email`); the registered claims made from the
    arguments win over them. A negative `lifetime_s` mints an already expired token."""
    if not subject:
        raise ValueError("a token needs a subject")
    ensure_dev_keys(directory)
    key = _signing_key(directory)
    now = int(time.time())
    payload = {
        **(claims or {}),
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        "iat": now,
        "exp": now + lifetime_s,
        "jti": secrets.token_urlsafe(12),
    }
    headers = {"kid": public_jwk(key)["kid"], "typ": "at+jwt"}
    return jwt.encode(payload, key, algorithm=DEV_ALGORITHM, headers=headers)


def dev_environment(jwks_path: Path) -> dict[str, str]:
    """The settings that make a gateway accept tokens from `mint_token`."""
    return {
        "SQLGATEWAY_AUTH": "oauth",
        "SQLGATEWAY_OAUTH_ISSUER": DEV_ISSUER,
        "SQLGATEWAY_OAUTH_AUDIENCE": DEV_AUDIENCE,
        "SQLGATEWAY_OAUTH_JWKS_URL": jwks_path.resolve().as_uri(),
        "SQLGATEWAY_OAUTH_ALGORITHMS": DEV_ALGORITHM,
    }


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The public half of `key` as a JWK, its `kid` the RFC 7638 thumbprint (so the same
    key always gets the same kid)."""
    jwk = {
        name: str(value)
        for name, value in ECAlgorithm.to_jwk(key.public_key(), as_dict=True).items()
        if name in ("kty", "crv", "x", "y")
    }
    canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=")
    return {**jwk, "kid": thumbprint.decode(), "alg": DEV_ALGORITHM, "use": "sig"}


def _signing_key(directory: Path) -> ec.EllipticCurvePrivateKey:
    """The key in `directory`, created (mode 0600, never overwritten) if there is none."""
    path = directory / PRIVATE_KEY_FILE
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"{path} is not an EC P-256 private key") from None
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    with os.fdopen(descriptor, "wb") as file:
        file.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return key
