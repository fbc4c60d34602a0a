"""The HTTP API's Lambda authorizer: payload 2.0, simple responses.

API Gateway calls it with the request's `Authorization` header (the identity source; a request
without it is answered `401` by API Gateway without calling anything) and caches the answer by that
header for `ReauthorizeEvery` seconds. It answers `{"isAuthorized": true, "context": {"sub",
"admin"}}` for a token `shop.auth.tokens` verifies, `{"isAuthorized": false}` (API Gateway: `403`)
for anything else; it never raises for a bad token. The route functions read the context with
`shop.api.identity.caller_of`.

Which issuer it trusts comes from the environment the template gives it:
- deployed: `TOKEN_ISSUER` (the Cognito user pool's issuer URL; its keys from
  `<issuer>/.well-known/jwks.json`) and `TOKEN_CLIENT_ID` (the app client);
- in the local modes only: `LOCAL_TOKEN_PUBLIC_KEY`, the development key of `make token`. It is
  trusted only where SAM CLI runs the function (`AWS_SAM_LOCAL=true`: `sam local` and `make run`),
  never in Lambda, whatever the stack's parameters say.

A verified token is also remembered in the container, until the sooner of its expiry and
`CACHE_SECONDS`, so a warm container verifies each token once (API Gateway's own cache does the
same in AWS; SAM's local gateway has none).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.data_classes.api_gateway_authorizer_event import (
    APIGatewayAuthorizerEventV2,
    APIGatewayAuthorizerResponseV2,
)

from shop.auth.tokens import (
    LOCAL_CLIENT_ID,
    LOCAL_ISSUER,
    JwksKeys,
    StaticKeys,
    TokenVerifier,
    Verified,
    public_key_from_parameter,
)
from shop.errors import TokenRefused

CACHE_SECONDS = 300
CACHE_ENTRIES = 10_000
BEARER = "bearer "

DENY = APIGatewayAuthorizerResponseV2(authorize=False)


def verifier_from(environ: Mapping[str, str]) -> TokenVerifier:
    """The verifier the function's environment describes (see the module's docstring)."""
    local_key = environ.get("LOCAL_TOKEN_PUBLIC_KEY", "")
    if local_key and environ.get("AWS_SAM_LOCAL") == "true":
        return TokenVerifier(LOCAL_ISSUER, LOCAL_CLIENT_ID, StaticKeys(public_key_from_parameter(local_key)))
    issuer = environ.get("TOKEN_ISSUER", "").rstrip("/")
    return TokenVerifier(issuer, environ.get("TOKEN_CLIENT_ID", ""), JwksKeys(f"{issuer}/.well-known/jwks.json"))


def bearer_token(event: Mapping[str, Any]) -> str | None:
    """The token of `Authorization: Bearer <token>`: from the identity source API Gateway passes,
    else from the headers (a direct invocation)."""
    request = APIGatewayAuthorizerEventV2(dict(event))
    sources = request.get("identitySource")
    value: Any = sources[0] if isinstance(sources, list) and sources else None
    if value is None and isinstance(request.get("headers"), Mapping):
        value = request.headers.get("authorization")
    if not isinstance(value, str) or value[: len(BEARER)].lower() != BEARER:
        return None
    token = value[len(BEARER) :].strip()
    return token or None


@dataclass
class Authorizer:
    verifier: TokenVerifier
    clock: Callable[[], float] = time.time
    cache_seconds: int = CACHE_SECONDS
    cache_entries: int = CACHE_ENTRIES
    verifications: int = 0
    _cache: OrderedDict[str, tuple[Verified, float]] = field(default_factory=OrderedDict, repr=False)

    def caller(self, token: str) -> Verified:
        """The token's caller, verified now or remembered from an earlier verification."""
        now = self.clock()
        remembered = self._cache.get(token)
        if remembered is not None:
            verified, until = remembered
            if now < until:
                return verified
            del self._cache[token]
        self.verifications += 1
        verified = self.verifier.verify(token)
        self._cache[token] = (verified, min(float(verified.expires_at), now + self.cache_seconds))
        while len(self._cache) > self.cache_entries:
            self._cache.popitem(last=False)
        return verified

    def __call__(self, event: Mapping[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The simple response for the request, and why it was refused (None when authorized)."""
        token = bearer_token(event)
        if token is None:
            return DENY.asdict(), "no bearer token"
        try:
            verified = self.caller(token)
        except TokenRefused as error:
            return DENY.asdict(), str(error)
        allow = APIGatewayAuthorizerResponseV2(authorize=True, context={"sub": verified.sub, "admin": verified.admin})
        return allow.asdict(), None


def from_environment() -> Authorizer:
    return Authorizer(verifier_from(os.environ))
