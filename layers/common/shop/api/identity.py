"""Who is calling: the caller the authorizer verified, read from the request in one place.

The authorizer (a Lambda authorizer, HTTP API payload 2.0 with simple responses: `shop.auth`) puts
the verified token's subject and admin flag in its context; API Gateway hands that context to the
function as `requestContext.authorizer.lambda`: `{"sub": "<user id>", "admin": true|false}`; a
subject that is not an id, matched whole, is no caller.
A route that needs a caller takes it with `caller(app)`; a request without one (the function
invoked past the authorizer) is refused with 401, never served as somebody.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from shop.errors import Unauthenticated
from shop.identity import Caller
from shop.ids import ID_PATTERN

__all__ = ["Caller", "caller", "caller_of"]


def caller_of(event: Mapping[str, Any]) -> Caller | None:
    """The verified caller of a payload 2.0 event, or None when no authorizer spoke for it."""
    request_context = event.get("requestContext")
    authorizer = request_context.get("authorizer") if isinstance(request_context, Mapping) else None
    context = authorizer.get("lambda") if isinstance(authorizer, Mapping) else None
    if not isinstance(context, Mapping):
        return None
    sub = context.get("sub")
    if not isinstance(sub, str) or not re.fullmatch(ID_PATTERN, sub):
        return None
    admin = context.get("admin")
    return Caller(user_id=sub, is_admin=admin is True or admin == "true")


def caller(app: APIGatewayHttpResolver) -> Caller:
    """The caller of the request `app` is resolving; Unauthenticated (401) when there is none."""
    found = caller_of(app.current_event.raw_event)
    if found is None:
        raise Unauthenticated()
    return found
