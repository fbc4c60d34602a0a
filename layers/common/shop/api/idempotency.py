"""Idempotency keys on the routes that change money or stock: Powertools Idempotency, wired once.

A request with an `Idempotency-Key` header (1 to 255 printable ASCII characters) is answered at
most once per caller and key within 24 hours: the first answer (status and body, refusals
included) is stored and replayed with `Idempotent-Replayed: true`; the same key with another
body or path is `422 IDEMPOTENCY_KEY_REUSED`; while the first is still running,
`409 IDEMPOTENCY_IN_PROGRESS`. A 5xx answer (`503 OUTCOME_UNKNOWN`, a fault) is never stored: the
record is deleted, and the same request sent again runs again, where the ids derived from the key
(`request_key`) find whatever the first run applied.

Powertools Idempotency (and its persistence layer) is imported by `once` when a request sends a
key, not with this module: a request without one, most of them, does not pay for its import in
the cold start (`bench/coldstart.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import WithJsonSchema

from shop.api import errors
from shop.api.identity import caller_of
from shop.errors import AnswerNotKept, IdempotencyInProgress, IdempotencyKeyReused, InvalidRequest, OutcomeUnknown

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


def header_of(event: APIGatewayProxyEventV2) -> str | None:
    """The request's Idempotency-Key header as sent (header names are case-insensitive)."""
    found = event.headers.get(HEADER)
    return None if found is None else str(found)


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
    key = header_of(app.current_event)
    if key is None or not _KEY.fullmatch(key):
        return None
    return f"{scope_of(app.current_event.raw_event)}\x00{key}"


def kept(response: Response[Any]) -> dict[str, Any]:
    """An answer as the idempotency record keeps it (its body as the route's validation left it:
    JSON values)."""
    return {
        "status": int(response.status_code),
        "contentType": response.content_type,
        "headers": dict(response.headers),
        "body": response.body,
    }


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    return {**response, "headers": {**response["headers"], REPLAYED_HEADER: "true"}}


def once(app: APIGatewayHttpResolver, answer: Callable[[], Response[Any]]) -> Response[Any]:
    """The answer to the request `app` is resolving, at most once per caller and Idempotency-Key:
    `answer()` the first time (kept unless it is a 5xx), the kept answer after."""
    key = header_of(app.current_event)
    if key is None:
        return answer()
    if not _KEY.fullmatch(key):
        return errors.answer(InvalidRequest(INVALID_KEY))
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
        lambda_context=app.lambda_context,
    )
    answered: list[Response[Any]] = []

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="request", persistence_store=persistence_layer(), config=config, key_prefix="request"
    )
    def first_answer(request: dict[str, Any]) -> dict[str, Any]:
        response = answer()
        answered.append(response)
        if int(response.status_code) >= 500:
            raise AnswerNotKept(response)
        return kept(response)

    event = app.current_event.raw_event
    http = (event.get("requestContext") or {}).get("http") or {}
    request = {
        "scope": scope_of(event),
        "key": key,
        "method": http.get("method", ""),
        "path": event.get("rawPath", ""),
        "body": event.get("body") or "",
    }
    try:
        stored = first_answer(request=request)
    except AnswerNotKept as not_kept:
        return not_kept.response  # type: ignore[no-any-return]
    except IdempotencyValidationError:
        return errors.answer(IdempotencyKeyReused(HEADER))
    except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError):
        return errors.answer(IdempotencyInProgress(HEADER))
    except IdempotencyPersistenceLayerError:
        if answered:  # the request ran; only its record could not be kept (or let go)
            return answered[-1]
        return errors.answer(OutcomeUnknown("the database did not answer in time; retry with the same key"))
    return Response(
        status_code=stored["status"],
        content_type=stored["contentType"],
        headers=stored["headers"],
        body=stored["body"],
    )


def middleware(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """The resolver's middleware that answers a request with an Idempotency-Key at most once (its
    refusals included: each is answered here, as the resolver would, to be kept)."""

    def answer() -> Response[Any]:
        try:
            return next_middleware(app)
        except Exception as error:
            return errors.answer(error)

    return once(app, answer)
