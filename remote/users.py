"""Test users and their bearer tokens, wherever the API runs.

- `LocalIssuerUsers`: a `make run` (or any local mode) trusts the local issuer (`make token`); a
  user's id is the name given.
- On a stage the tokens come from the stage's Cognito user pool (`CognitoUsers`); a user's id is
  the `sub` Cognito gives it.

Either way a caller names its users and gets back `TestUser`s; `delete_all()` removes what the run
made (nothing, for the local issuer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from shop.auth.tokens import SUBJECT

LOCAL_TOKEN_TTL_SECONDS = 6 * 3600


def trusts_the_local_issuer(url: str) -> bool:
    """Whether the API at `url` can be a local mode, the only kind that trusts the local issuer's
    tokens: one on this machine (a deployed stage trusts its user pool's alone)."""
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


@dataclass(frozen=True)
class TestUser:
    """A user of the API as a client sees it: the id the API knows it by, and its access token."""

    __test__ = False  # not a pytest test class

    user_id: str
    token: str = field(repr=False)
    admin: bool = False

    @property
    def headers(self) -> dict[str, str]:
        """The `Authorization` header of a request this user makes."""
        return {"Authorization": f"Bearer {self.token}"}


class UserSource(Protocol):
    """Where a run's users come from."""

    def create(self, name: str, *, admin: bool = False) -> TestUser:
        """A new user named `name` (an id: `[A-Za-z0-9_-]{1,64}`), in the admin group when `admin`."""
        ...

    def delete_all(self) -> None:
        """Remove every user this source created."""
        ...


class LocalIssuerUsers:
    """Users of a local mode: tokens of the local issuer, the user id is the name."""

    def __init__(self, ttl: int = LOCAL_TOKEN_TTL_SECONDS) -> None:
        self._ttl = ttl

    def create(self, name: str, *, admin: bool = False) -> TestUser:
        from local_runtime.issuer import issue

        if not SUBJECT.fullmatch(name):
            raise ValueError(f"a user's name must be an id ([A-Za-z0-9_-]{{1,64}}), not {name[:80]!r}")
        return TestUser(name, issue(name, admin=admin, ttl=self._ttl), admin)

    def delete_all(self) -> None:
        """Nothing to remove: the local issuer keeps no users."""
