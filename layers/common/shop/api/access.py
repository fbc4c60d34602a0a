"""Whose data a request may read or change, from the verified caller (`shop.api.identity`)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from shop.api import idempotency
from shop.api.identity import Caller, caller_of
from shop.errors import Forbidden


def caller(app: APIGatewayHttpResolver) -> Caller | None:
    """The verified caller of the request being resolved."""
    return caller_of(app.current_event.raw_event)


def require_reader(app: APIGatewayHttpResolver, user_id: str) -> None:
    """Forbidden unless the caller is `user_id` or an admin (a request no authorizer spoke for
    is left to the gateway)."""
    who = caller(app)
    if who is not None and not who.is_admin and who.user_id != user_id:
        raise Forbidden(f"the caller may not read the data of user {user_id}")


def owner_filter(app: APIGatewayHttpResolver) -> str | None:
    """The only user whose records the caller may read; None for an admin (any user's)."""
    who = caller(app)
    return None if who is None or who.is_admin else who.user_id


def request_key(app: APIGatewayHttpResolver) -> str | None:
    """The Idempotency-Key of the request being resolved, scoped to its caller."""
    return idempotency.request_key(app.current_event.raw_event)
