"""The resolver every route function uses, and its Lambda entry point."""

from __future__ import annotations

import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shop import budget, tracing
from shop.api import body, errors, idempotency
from shop.api.identity import caller_of
from shop.errors import BodyRefused, Forbidden, Unauthenticated
from shop.ids import ID_PATTERN, SEQUENCE_CURSOR_PATTERN
from shop.observability import identify, logger, metrics

UserId = Annotated[str, Path(pattern=ID_PATTERN, description="User id")]
ProductId = Annotated[str, Path(pattern=ID_PATTERN, description="Product id")]
CouponId = Annotated[str, Path(pattern=ID_PATTERN, description="Coupon campaign id")]
OrderId = Annotated[str, Path(pattern=ID_PATTERN, description="Order id")]

Limit = Annotated[int, Query(ge=1, le=100, description="Items per page, 1..100")]
Cursor = Annotated[
    str | None,
    Query(
        pattern=ID_PATTERN,
        description="Where the page starts: a `nextCursor` an earlier page answered. Opaque; any value of this "
        "pattern is a position (one the API did not answer starts after where that key would be).",
    ),
]

PageCursor = Annotated[
    str | None,
    Query(
        pattern=SEQUENCE_CURSOR_PATTERN,
        description="Where a page of newest-first items starts: a `nextCursor` an earlier page answered. Opaque; any "
        "value of this pattern is a position (one the API did not answer starts after where that key would be).",
    ),
]

BAD_REQUEST, NOT_FOUND, CONFLICT = HTTPStatus.BAD_REQUEST, HTTPStatus.NOT_FOUND, HTTPStatus.CONFLICT
UNAUTHORIZED, FORBIDDEN = HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN
UNPROCESSABLE, UNAVAILABLE = HTTPStatus.UNPROCESSABLE_ENTITY, HTTPStatus.SERVICE_UNAVAILABLE
refusals = errors.documented


def create_app() -> APIGatewayHttpResolver:
    """A resolver that validates requests and responses with the shop's models and answers
    every refusal as the contract says."""
    app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=body.json_object)
    errors.register(app)
    return app


def json_request(event: dict[str, Any]) -> dict[str, Any] | None:
    """The event with its body's media type spelled as the resolver expects (`application/json`,
    whatever the case), or None when the body declares another media type: form or multipart
    bodies would otherwise be parsed as fields."""
    headers = event.get("headers") or {}
    declared = next((key for key in headers if str(key).lower() == "content-type"), None)
    if declared is None or not event.get("body"):
        return event
    media_type, _, parameters = str(headers[declared]).partition(";")
    if media_type.strip().lower() != "application/json":
        return None
    normalised = {k: v for k, v in headers.items() if k != declared}
    normalised["content-type"] = "application/json" + (f";{parameters}" if parameters else "")
    return {**event, "headers": normalised}


Access = Literal["public", "user", "admin"]


def refused_caller(event: dict[str, Any], access: Access) -> dict[str, Any] | None:
    """The refusal of a request its function's routes may not serve, before its body is read: 401
    without a verified caller (the function invoked past the authorizer), 403 for a non-admin on an
    admin function. None: the request may go on (the services apply the ownership rules)."""
    if access == "public":
        return None
    found = caller_of(event)
    try:
        if found is None:
            raise Unauthenticated()
        if access == "admin":
            found.administers()
    except (Unauthenticated, Forbidden) as error:
        return errors.refused_answer(error)
    return None


IDS_IN_PATH = {"orderId": "order_id", "couponId": "campaign_id"}
"""The path parameters an operator searches logs and traces by, and the key each is logged under."""


def request_id(event: dict[str, Any]) -> str | None:
    """The HTTP API's id of the request (`requestContext.requestId`): the logs' correlation id, the
    access log's `requestId`, answered to the client as `Apigw-Requestid`."""
    context = event.get("requestContext")
    found = context.get("requestId") if isinstance(context, dict) else None
    return found if isinstance(found, str) else None


def ids_in_path(event: dict[str, Any]) -> dict[str, str]:
    """The order and campaign ids the path names, by their log keys (call it once the path's ids
    are known to match the id pattern)."""
    parameters = event.get("pathParameters")
    if not isinstance(parameters, dict):
        return {}
    return {key: str(parameters[name]) for name, key in IDS_IN_PATH.items() if parameters.get(name) is not None}


REQUEST_MESSAGE = "request"
"""The message of a request's line (the saved queries of template.yaml filter on it)."""


def log_request(event: dict[str, Any], status: int, started: float) -> None:
    """The request's one line in its function's log: route, status and latency (the correlation id,
    and the ids it was about, come with every record of the request)."""
    logger.info(
        REQUEST_MESSAGE,
        extra={
            "route": event.get("routeKey") or event.get("rawPath"),
            "status": status,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )


def entry_point(
    app: APIGatewayHttpResolver, *, access: Access = "user", idempotent: bool = False
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of a route function: every record it logs carries the request's id
    as correlation id, and it logs one line per request (`log_request`); it flushes the metrics it
    recorded and traces the invocation (`shop.tracing`, annotated with the request id and the ids
    in the path). `access` says who may call its routes: anyone ("public"), a verified caller
    ("user", the default), or an admin ("admin"). A body too large to be a request, or bytes that
    are not text, are refused before the resolver reads them. It starts the invocation's time
    budget (`shop.budget`). An `idempotent` function answers a request with an Idempotency-Key at
    most once per caller and key (`shop.api.idempotency`)."""

    def answer(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        refused = refused_caller(event, access)
        if refused is not None:
            return refused
        outside = errors.ids_outside_the_pattern(event)
        if outside:
            return errors.invalid_request(outside)
        identify(**ids_in_path(event))
        if body.body_size(event) > body.MAX_BODY_BYTES:
            return errors.invalid_request(f"body: larger than {body.MAX_BODY_BYTES:,} bytes")
        try:
            request = json_request(body.decoded(event))
        except BodyRefused as error:
            return errors.invalid_request(error.message)
        if request is None:
            return errors.unsupported_media_type()
        if idempotent:
            return idempotency.resolve(app, request, context)
        return app.resolve(request, context)

    @tracing.traced
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
    @metrics.log_metrics
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        started = time.perf_counter()
        budget.start(context)
        found = request_id(event)
        tracing.annotate({"request_id": found})
        if found is not None:  # on the metrics' line too, when the request records one
            metrics.add_metadata(key="correlation_id", value=found)
        try:
            response = answer(event, context)
        except Exception:
            log_request(event, int(HTTPStatus.INTERNAL_SERVER_ERROR), started)
            raise
        log_request(event, int(response.get("statusCode", HTTPStatus.INTERNAL_SERVER_ERROR)), started)
        return response

    handler.idempotent = idempotent  # type: ignore[attr-defined]  # read by the OpenAPI document
    return handler
