"""The local token issuer: development tokens that every local mode trusts and nothing deployed does.

    python -m local_runtime.issuer --user user-1 [--admin] [--ttl 3600]   (make token USER=user-1 ...)

prints one access token, shaped as the Cognito user pool's (`iss`, `client_id`, `token_use`,
`sub`, `cognito:groups`, `exp`), signed RS256 with a development key pair. The key pair is made on
first use under `.local/` (git-ignored, private key readable by its owner only). The local modes
(`make run`, `make sam-api`, `make invoke`) pass the public key to the authorizer through the
template parameter `LocalTokenPublicKey` (`public_key_parameter()`); the authorizer trusts it only
under SAM CLI's local runtime.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from local_runtime import template

KEY_FILE = template.ROOT / ".local" / "token-signing-key.pem"
DEFAULT_TTL_SECONDS = 3600
MAX_TTL_SECONDS = 30 * 24 * 3600


def _create(path: Path) -> None:
    """Write a new private key to `path`, unless one is there already (several processes may race
    to create it: exactly one file wins, and every process reads that one)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    try:
        os.link(partial, path)  # fails if another process won the race
    except FileExistsError:
        pass
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def private_key_pem(path: Path = KEY_FILE) -> bytes:
    """The development private key (PEM), made on first use."""
    if not path.exists():
        _create(path)
    return path.read_bytes()


def public_key_parameter(path: Path = KEY_FILE) -> str:
    """The development public key as the template parameter `LocalTokenPublicKey` takes it: the DER
    SubjectPublicKeyInfo in base64url, without padding (safe in `--parameter-overrides`)."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_key_pem(path), password=None)
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(der).decode().rstrip("=")


def issue(
    user_id: str,
    *,
    admin: bool = False,
    ttl: int = DEFAULT_TTL_SECONDS,
    now: float | None = None,
    path: Path = KEY_FILE,
) -> str:
    """A development access token for `user_id` (a member of the admin group when `admin`),
    valid for `ttl` seconds."""
    from joserfc import jwt

    from shop.auth.tokens import ADMIN_GROUP, LOCAL_CLIENT_ID, LOCAL_ISSUER, LOCAL_KEY_ID

    issued_at = int(time.time() if now is None else now)
    claims = {
        "iss": LOCAL_ISSUER,
        "client_id": LOCAL_CLIENT_ID,
        "token_use": "access",
        "sub": user_id,
        "username": user_id,
        "cognito:groups": [ADMIN_GROUP] if admin else [],
        "iat": issued_at,
        "exp": issued_at + ttl,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(
        {"alg": "RS256", "kid": LOCAL_KEY_ID, "typ": "JWT"}, claims, _signing_key(path), algorithms=["RS256"]
    )


@functools.cache
def _signing_key(path: Path) -> Any:
    """The private key at `path`, read once per process (tokens are signed by the thousand in
    `make bench`)."""
    from joserfc.jwk import RSAKey

    return RSAKey.import_key(private_key_pem(path))


def main(argv: Sequence[str] | None = None) -> int:
    from shop.auth.tokens import SUBJECT

    parser = argparse.ArgumentParser(prog="python -m local_runtime.issuer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--user", required=True, help="the token's subject: the caller's user id")
    parser.add_argument("--admin", action="store_true", help="a member of the admin group")
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="seconds of validity (3600)")
    args = parser.parse_args(argv)
    if not SUBJECT.fullmatch(args.user):
        print(f"ERROR: USER must be an id ([A-Za-z0-9_-]{{1,64}}), not {args.user[:80]!r}", file=sys.stderr)
        return 2
    if not 1 <= args.ttl <= MAX_TTL_SECONDS:
        print(f"ERROR: TTL must be 1..{MAX_TTL_SECONDS} seconds", file=sys.stderr)
        return 2
    print(issue(args.user, admin=args.admin, ttl=args.ttl))
    return 0


if __name__ == "__main__":
    sys.exit(main())
