"""Bearer tokens for the tests, from the local issuer every local mode trusts."""

from __future__ import annotations

from functools import lru_cache

from local_runtime.issuer import issue


@lru_cache(maxsize=4096)
def _token(user_id: str, admin: bool) -> str:
    return issue(user_id, admin=admin, ttl=6 * 3600)


def bearer(user_id: str, *, admin: bool = False) -> dict[str, str]:
    """The `Authorization` header of a request made by `user_id` (an admin when `admin`): a token
    of the local issuer, valid for the test session (one per user, so the authorizer's memory of
    verified tokens serves it as API Gateway's cache would)."""
    return {"Authorization": f"Bearer {_token(user_id, admin)}"}
