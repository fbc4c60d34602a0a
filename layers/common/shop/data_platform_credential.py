"""The credential the forwarder presents to the data platform, as `Authorization: Bearer <value>`.

Where it comes from is the function's environment, as the template gives it:
- deployed: the Secrets Manager secret `DataPlatformCredential`, whose ARN is
  `DATA_PLATFORM_CREDENTIAL_SECRET_ARN`. It is read with Powertools' parameters utility and kept
  for `SECRET_MAX_AGE_SECONDS`, so a value put with `aws secretsmanager put-secret-value` is sent
  within that time; a value the data platform refuses is read again on the next delivery.
- in the local modes only: `LOCAL_DATA_PLATFORM_TOKEN`, the token `make run` and `sam local` give
  both the forwarder and the local data platform. It is trusted only where SAM CLI runs the
  function (`AWS_SAM_LOCAL=true`), never in Lambda, whatever the stack's parameters say (as the
  authorizer trusts its local key).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from aws_lambda_powertools.utilities import parameters

from shop.errors import CredentialUnavailable

SECRET_MAX_AGE_SECONDS = 300
"""How long a container keeps the secret's value: a rotated credential is sent within 5 minutes
(at once after the data platform refused the old one), for one GetSecretValue per container
every 5 minutes at most."""

_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""RFC 6750's b64token: nothing that could end or split the header (no space, no line break)."""


class Credential(Protocol):
    def value(self) -> str:
        """The credential to send now; raises `CredentialUnavailable`."""
        ...

    def refused(self) -> None:
        """The data platform refused the value last given: do not send it again unread."""
        ...


def _checked(value: object, where: str) -> str:
    if not isinstance(value, str) or not _BEARER_TOKEN.fullmatch(value):
        raise CredentialUnavailable(
            f"{where} is not a bearer token (letters, digits and -._~+/, then = only; no spaces or line breaks)"
        )
    return value


@dataclass
class SecretCredential:
    """The value of a Secrets Manager secret, cached for `max_age` seconds by Powertools."""

    secret_id: str
    max_age: int = SECRET_MAX_AGE_SECONDS
    _stale: bool = False

    def value(self) -> str:
        if not self.secret_id:
            raise CredentialUnavailable("DATA_PLATFORM_CREDENTIAL_SECRET_ARN is not set")
        try:
            value = parameters.get_secret(self.secret_id, max_age=self.max_age, force_fetch=self._stale)
        except parameters.GetParameterError as error:
            raise CredentialUnavailable(f"the secret {self.secret_id} could not be read: {error}") from error
        self._stale = False
        return _checked(value, f"the value of the secret {self.secret_id}")

    def refused(self) -> None:
        self._stale = True


@dataclass(frozen=True)
class LocalCredential:
    """The local modes' token, given directly."""

    token: str

    def value(self) -> str:
        return _checked(self.token, "LOCAL_DATA_PLATFORM_TOKEN")

    def refused(self) -> None:
        return None


def credential_from(environ: Mapping[str, str]) -> Credential:
    """The credential the function's environment describes (see the module's docstring)."""
    local_token = environ.get("LOCAL_DATA_PLATFORM_TOKEN", "")
    if local_token and environ.get("AWS_SAM_LOCAL") == "true":
        return LocalCredential(local_token)
    return SecretCredential(environ.get("DATA_PLATFORM_CREDENTIAL_SECRET_ARN", ""))
