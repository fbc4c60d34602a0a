"""Idempotency keys on the routes that change money or stock: Powertools Idempotency, wired once.

A request with an `Idempotency-Key` header (1 to 255 printable ASCII characters) is answered at
most once per caller and key within 24 hours: the first answer (status and body, refusals
included) is stored and replayed with `Idempotent-Replayed: true`; the same key with another
body or path is `422 IDEMPOTENCY_KEY_REUSED`; while the first is still running,
`409 IDEMPOTENCY_IN_PROGRESS`. A 5xx answer (`503 OUTCOME_UNKNOWN`, a fault) is never stored: the
record is deleted, and the same request sent again runs again, where the ids derived from the key
(`request_key`) find whatever the first run applied.

Powertools Idempotency (and its persistence layer) is imported by `resolve` when a request sends a
key, not with this module: a request without one, most of them, does not pay for its import in
the cold start (`bench/coldstart.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import WithJsonSchema

from shop.api import errors
from shop.api.identity import caller_of

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
EXPIRES_AFTER_SECONDS = 24 * 60 * 60
_KEY = re.compile(r"[\x20-\x7e]{1,255}")
INVALID_KEY = f"{HEADER}: must be 1 to 255 printable ASCII characters"

IdempotencyKey = Annotated[
    Annotated[
        str,
        WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[!-~]([ -~]*[!-~])?$"}),
    ]
    | None,
    Header(
        alias=HEADER,
        description=f"Makes the request safe to send again: the same `{HEADER}` and body within 24 hours answer "
        f"the first answer (with `{REPLAYED_HEADER}: true`) and change nothing more; the same key with another "
        "body is `422 IDEMPOTENCY_KEY_REUSED`, and while the first request runs, `409 IDEMPOTENCY_IN_PROGRESS`. "
        "Scoped to the caller. 1 to 255 printable ASCII characters (no spaces at either end: HTTP drops them), "
        "else `400 INVALID_REQUEST`.",
    ),
]
"""The Idempotency-Key header, as a route that takes it declares it. `resolve` checks the key before
the resolver runs and refuses one outside `_KEY` with its own message, so the resolver takes any
text here and its validation changes no answer. The document asks for no spaces around the key:
HTTP drops them from a header value, and a key of spaces alone would arrive empty."""


def header_of(event: Mapping[str, Any]) -> str | None:
    """The request's Idempotency-Key header as sent (header names are case-insensitive)."""
    headers = event.get("headers") or {}
    return next((str(value) for name, value in headers.items() if str(name).lower() == HEADER.lower()), None)


def scope_of(event: Mapping[str, Any]) -> str:
    """Whose keys these are: the verified caller; without one, the user the request names."""
    caller = caller_of(event)
    if caller is not None:
        return caller.user_id
    user_id = (event.get("pathParameters") or {}).get("userId")
    if user_id is None:
        try:
            body = json.loads(event.get("body") or "")
        except (ValueError, RecursionError):
            body = None
        user_id = body.get("userId") if isinstance(body, dict) else None
    return user_id if isinstance(user_id, str) else ""


def request_key(app: APIGatewayHttpResolver) -> str | None:
    """The key of the request `app` is resolving, scoped to its caller, from which services derive
    the ids of the changes it asks for; None for a request without a (valid) key."""
    event = app.current_event.raw_event
    key = header_of(event)
    if key is None or not _KEY.fullmatch(key):
        return None
    return f"{scope_of(event)}\x00{key}"


class _NotStored(Exception):
    """An answer that must not be kept as the request's outcome (a 5xx)."""

    def __init__(self, response: dict[str, Any]) -> None:
        super().__init__(response.get("statusCode"))
        self.response = response


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    if isinstance(response, dict):
        return {**response, "headers": {**(response.get("headers") or {}), REPLAYED_HEADER: "true"}}
    return response


def resolve(app: APIGatewayHttpResolver, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Resolve `event` with `app`, at most once per caller and Idempotency-Key."""
    key = header_of(event)
    if key is None:
        return app.resolve(event, context)
    if not _KEY.fullmatch(key):
        return errors.raw_answer(HTTPStatus.BAD_REQUEST, "INVALID_REQUEST", INVALID_KEY)
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyInconsistentStateError,
        IdempotencyPersistenceLayerError,
        IdempotencyValidationError,
    )

    from shop.repositories.idempotency import persistence_layer

    config = IdempotencyConfig(
        event_key_jmespath="[scope, key]",
        payload_validation_jmespath="[method, path, body]",
        raise_on_no_idempotency_key=False,
        expires_after_seconds=EXPIRES_AFTER_SECONDS,
        response_hook=_replayed,
        lambda_context=context,
    )
    answered: list[dict[str, Any]] = []

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request", persistence_store=persistence_layer(), config=config, key_prefix="request"
    )
    def first_answer(request: dict[str, Any]) -> dict[str, Any]:
        response = app.resolve(event, context)
        answered.append(response)
        if int(response.get("statusCode", 500)) >= 500:
            raise _NotStored(response)
        return response

    http = (event.get("requestContext") or {}).get("http") or {}
    request = {
        "scope": scope_of(event),
        "key": key,
        "method": http.get("method", ""),
        "path": event.get("rawPath", ""),
        "body": event.get("body") or "",
    }
    try:
        return first_answer(request=request)  # type: ignore[no-any-return]
    except _NotStored as not_stored:
        return not_stored.response
    except IdempotencyValidationError:
        return errors.raw_answer(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            f"{HEADER} was used with another request body or path",
        )
    except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError):
        return errors.raw_answer(
            HTTPStatus.CONFLICT,
            "IDEMPOTENCY_IN_PROGRESS",
            f"a request with this {HEADER} is still running; retry shortly",
            headers={"Retry-After": "1"},
        )
    except IdempotencyPersistenceLayerError:
        if answered:  # the request ran; only its record could not be kept (or let go)
            return answered[-1]
        return errors.raw_answer(
            HTTPStatus.SERVICE_UNAVAILABLE,
            "OUTCOME_UNKNOWN",
            "the database did not answer in time; retry with the same key",
            headers={"Retry-After": str(errors.RETRY_AFTER_SECONDS)},
        )
