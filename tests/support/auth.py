"""Bearer tokens for the tests, from the local issuer every local mode trusts."""

from __future__ import annotations


def bearer(user_id: str, *, admin: bool = False) -> dict[str, str]:
    """The `Authorization` header of a request made by `user_id` (an admin when `admin`)."""
    return {}
