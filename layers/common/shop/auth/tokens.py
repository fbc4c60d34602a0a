"""Verifying a bearer token: an RS256 JWT from a trusted issuer, its signature, times and audience.

The shop accepts Cognito **access** tokens (`token_use: access`): they are the ones meant for an
API, and they name the app client they were issued to in `client_id` (an ID token names it in
`aud` and is meant for the client itself, so it is refused). A token is accepted only if:

- it is a compact JWS signed with RS256 by one of the issuer's keys (by `kid`): `alg: none`,
  HS256 (whatever the secret, the public key included) and every other algorithm are refused;
- `iss` is the issuer, `client_id` the app client, `token_use` is `access`;
- `exp` is in the future (and `nbf`, `iat` if present are not), `sub` is a user id
  (`[A-Za-z0-9_-]{1,64}`, as every id of the API).

`cognito:groups` containing `admin` makes the caller an admin.

Deployed, the issuer is the stack's Cognito user pool and its keys its JWKS (fetched once per
container, again only for a `kid` it does not know). In the local modes only, a development key
(`make token`) stands in for the pool: see `shop.auth.authorizer`.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from shop.errors import TokenRefused
from shop.ids import ID_PATTERN

ALGORITHMS = ["RS256"]
ADMIN_GROUP = "admin"
MAX_TOKEN_LENGTH = 8192
SUBJECT = re.compile(ID_PATTERN)  # matched whole (fullmatch): "$" alone also matches before a final newline
CLOCK_SKEW_SECONDS = 30  # leeway on nbf / iat only; exp is held exactly

LOCAL_ISSUER = "https://shop.local/issuer"
LOCAL_CLIENT_ID = "shop-local"
LOCAL_KEY_ID = "shop-local-1"

JWKS_FETCH_TIMEOUT_SECONDS = 3.0
JWKS_REFRESH_SECONDS = 60.0  # at most one fetch a minute for an unknown kid or after a failure


@dataclass(frozen=True)
class Verified:
    sub: str
    admin: bool
    expires_at: int


def fetch_json(url: str, timeout: float = JWKS_FETCH_TIMEOUT_SECONDS) -> Any:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"not an http(s) URL: {url}")
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (checked above)
        return json.loads(response.read())


class StaticKeys:
    """Keys known in advance (the local development key)."""

    def __init__(self, keys: KeySet) -> None:
        self._keys = keys

    def keys(self, kid: str | None) -> KeySet:
        return self._keys


@dataclass
class JwksKeys:
    """An issuer's JSON Web Key Set, fetched on first use and kept for the container's life; fetched
    again (at most once per `refresh_seconds`) when a token names a `kid` it does not hold."""

    url: str
    fetch: Callable[[str], Any] = fetch_json
    clock: Callable[[], float] = time.monotonic
    refresh_seconds: float = JWKS_REFRESH_SECONDS
    fetches: int = 0
    _keys: KeySet | None = field(default=None, repr=False)
    _fetched_at: float | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def keys(self, kid: str | None) -> KeySet:
        with self._lock:
            if self._keys is not None and any(key.kid == kid for key in self._keys.keys):
                return self._keys
            if self._fetched_at is None or self.clock() - self._fetched_at >= self.refresh_seconds:
                self._fetched_at = self.clock()
                self.fetches += 1
                try:
                    self._keys = KeySet.import_key_set(self.fetch(self.url))
                except Exception as error:  # the issuer unreachable or answering nonsense: refuse for now
                    raise TokenRefused(f"the issuer's keys could not be read: {type(error).__name__}") from error
            if self._keys is None:
                raise TokenRefused("the issuer's keys could not be read recently")
            return self._keys


def public_key_from_parameter(value: str) -> KeySet:
    """The local development public key, as the template parameter carries it: the DER
    SubjectPublicKeyInfo in base64url (see `local_runtime.issuer`)."""
    der = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    body = base64.encodebytes(der).decode()
    pem = f"-----BEGIN PUBLIC KEY-----\n{body}-----END PUBLIC KEY-----\n"
    key = RSAKey.import_key(pem, {"kid": LOCAL_KEY_ID, "alg": "RS256", "use": "sig"})
    if key.is_private:
        raise ValueError("the local token key parameter must be a public key")
    return KeySet([key])


@dataclass
class TokenVerifier:
    issuer: str
    client_id: str
    key_source: StaticKeys | JwksKeys
    clock: Callable[[], float] = time.time

    def verify(self, token: str) -> Verified:
        """The token's caller; TokenRefused if anything about it is not as trusted tokens are."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise TokenRefused("not a token of a plausible size")
        if token.count(".") != 2:
            raise TokenRefused("not a compact JWS")
        try:
            header = _header(token)
            kid = header.get("kid")
            if header.get("alg") not in ALGORITHMS:
                raise TokenRefused(f"algorithm {str(header.get('alg'))[:16]!r} is not accepted")
            decoded = jwt.decode(token, self.key_source.keys(kid if isinstance(kid, str) else None), ALGORITHMS)
        except TokenRefused:
            raise
        except (JoseError, ValueError, TypeError, KeyError) as error:
            raise TokenRefused(f"signature or format: {type(error).__name__}") from error
        return self._claims(decoded.claims)

    def _claims(self, claims: Mapping[str, Any]) -> Verified:
        now = int(self.clock())
        registry = jwt.JWTClaimsRegistry(
            now=now,
            leeway=CLOCK_SKEW_SECONDS,
            iss={"essential": True, "value": self.issuer},
            sub={"essential": True},
            exp={"essential": True},
            client_id={"essential": True, "value": self.client_id},
            token_use={"essential": True, "value": "access"},
        )
        try:
            registry.validate(dict(claims))
        except (JoseError, ValueError, TypeError) as error:
            raise TokenRefused(f"claims: {type(error).__name__}: {str(error)[:120]}") from error
        expires_at = claims["exp"]
        if not isinstance(expires_at, int) or isinstance(expires_at, bool) or expires_at <= now:
            raise TokenRefused("claims: expired")  # exp is held exactly, without the leeway
        sub = claims["sub"]
        if not isinstance(sub, str) or not SUBJECT.fullmatch(sub):
            raise TokenRefused("claims: sub is not a user id")
        groups = claims.get("cognito:groups", [])
        if not isinstance(groups, list):
            raise TokenRefused("claims: cognito:groups is not a list")
        return Verified(sub=sub, admin=ADMIN_GROUP in groups, expires_at=expires_at)


def _header(token: str) -> dict[str, Any]:
    encoded = token.split(".", 1)[0]
    header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    if not isinstance(header, dict):
        raise ValueError("the header is not an object")
    return header
