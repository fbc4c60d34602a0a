"""Who is calling: the caller the authorizer verified, read from the request in one place.

The authorizer (a Lambda authorizer, HTTP API payload 2.0 with simple responses) puts the verified
token's subject and admin flag in its context; API Gateway hands that context to the function as
`requestContext.authorizer.lambda`: `{"sub": "<user id>", "admin": true|false}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Caller:
    user_id: str
    is_admin: bool = False


def caller_of(event: Mapping[str, Any]) -> Caller | None:
    """The verified caller of a payload 2.0 event, or None when no authorizer spoke for it."""
    context = ((event.get("requestContext") or {}).get("authorizer") or {}).get("lambda") or {}
    sub = context.get("sub")
    if not isinstance(sub, str) or not sub:
        return None
    admin = context.get("admin")
    return Caller(user_id=sub, is_admin=admin is True or admin == "true")
