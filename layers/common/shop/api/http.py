"""The resolver every route function uses, and its Lambda entry point."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.typing import LambdaContext

from shop import budget, tracing
from shop.api import body, errors, idempotency, openapi
from shop.api.identity import caller_of
from shop.errors import BodyRefused, Forbidden, InvalidRequest, Refusal, Unauthenticated
from shop.ids import ID_PATTERN, SEQUENCE_CURSOR_PATTERN
from shop.models.errors import shorten
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
    openapi.configure(app)
    return app


def is_json(media_type: object) -> bool:
    """Whether a Content-Type names JSON (media types are case-insensitive)."""
    return str(media_type).partition(";")[0].strip().lower() == "application/json"


def readable(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the resolver reads it: a base64 body that is UTF-8 text decoded, and a JSON
    body's media type spelled `application/json` whatever its case (the resolver's validation
    reads a body only so spelled). Anything else is left as sent, for `Admission` to refuse."""
    headers = dict(APIGatewayProxyEventV2(event).headers)  # its names in lower case
    declared = headers.get("content-type")
    if declared is not None and is_json(declared):
        _, _, parameters = str(declared).partition(";")
        headers["content-type"] = "application/json" + (f";{parameters}" if parameters else "")
        event = {**event, "headers": headers}
    try:
        return body.decoded(event)
    except BodyRefused:
        return event


Access = Literal["public", "user", "admin"]


def ids_outside_the_pattern(event: Mapping[str, Any]) -> str | None:
    """What is wrong with a request whose route API Gateway matched (it names the route in
    `routeKey` and gives the path parameters) with a path parameter that is not an id, matched
    whole. Every path parameter is an id, so this is a 400, whatever the resolver's routes make of
    the path: their patterns match none of some such paths (a slash, a symbol, nothing at all: an
    unknown route to it) and let others through cut short (their "$" matches before a trailing
    newline)."""
    route_key = event.get("routeKey")
    parameters = event.get("pathParameters")
    if not isinstance(route_key, str) or route_key == "$default" or not isinstance(parameters, dict):
        return None
    outside = [
        f"path.{shorten(str(name), 40)}: String should match pattern '{ID_PATTERN}'"
        for name, value in sorted(parameters.items())
        if not isinstance(value, str) or not re.fullmatch(ID_PATTERN, value)
    ]
    return "; ".join(outside) or None


@dataclass(frozen=True)
class Admission:
    """What a request must be before its function reads it, in this order: from a caller its
    routes may serve (401 without a verified caller, the function invoked past the authorizer; 403
    for a non-admin on an admin function; the services apply the ownership rules), with ids in
    its path, a body of at most MAX_BODY_BYTES, text, and JSON if it declares a media type.

    It is the first of the resolver's middlewares. Powertools runs its request validation before
    any middleware, so the answer to an error (`answer`) asks the admission first: a request it
    refuses gets that refusal, whatever validation found."""

    access: Access

    def refusal(self, request: APIGatewayProxyEventV2) -> Refusal | None:
        """The request's refusal, None when it is admitted. The ids in its path, once known to be
        ids, are named in every record it logs (`identify`)."""
        event = request.raw_event
        if self.access != "public":
            found = caller_of(event)
            try:
                if found is None:
                    raise Unauthenticated()
                if self.access == "admin":
                    found.administers()
            except (Unauthenticated, Forbidden) as refused:
                return refused
        outside = ids_outside_the_pattern(event)
        if outside:
            return InvalidRequest(outside)
        identify(**ids_in_path(event))
        if body.body_size(event) > body.MAX_BODY_BYTES:
            return BodyRefused(f"body: larger than {body.MAX_BODY_BYTES:,} bytes")
        try:
            body.decoded(event)
        except BodyRefused as refused:
            return refused
        declared = request.headers.get("content-type")
        if declared is not None and event.get("body") and not is_json(declared):
            return BodyRefused(errors.NOT_JSON)  # form or multipart bodies would be read as fields
        return None

    def middleware(self, app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        refused = self.refusal(app.current_event)
        if refused is not None:
            raise refused
        return next_middleware(app)


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
    in the path). It starts the invocation's time budget (`shop.budget`).

    Every answer comes out of the resolver. `access` says who may call its routes: anyone
    ("public"), a verified caller ("user", the default), or an admin ("admin"); the request is
    admitted (`Admission`) by the resolver's first middleware. An `idempotent` function answers a
    request with an Idempotency-Key at most once per caller and key (`shop.api.idempotency`, its
    second middleware)."""
    admission = Admission(access)

    def admit(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        # A function, not the bound method: the resolver inspects a middleware's signature (type
        # hints, dependencies) once and keeps the result on the callable, which a bound method
        # cannot hold, so `admission.middleware` itself was inspected again on every request.
        return admission.middleware(app, next_middleware)

    app.use(middlewares=[admit, *([idempotency.middleware] if idempotent else [])])

    def answer(error: Exception) -> Response[Any]:
        refused = admission.refusal(app.current_event)
        if refused is not None:
            return errors.answer(refused)
        if idempotent and isinstance(error, REQUEST_UNREAD):
            # refused by validation, which runs before the middlewares: kept and replayed all the same
            return idempotency.once(app, lambda: errors.answer(error))
        return errors.answer(error)

    app.exception_handler(Exception)(answer)

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
            response = app.resolve(readable(event), context)
        except Exception:
            log_request(event, int(HTTPStatus.INTERNAL_SERVER_ERROR), started)
            raise
        log_request(event, int(response.get("statusCode", HTTPStatus.INTERNAL_SERVER_ERROR)), started)
        return response

    return handler


REQUEST_UNREAD = (RequestValidationError, RequestUnsupportedContentType)
"""What the resolver's request validation raises for a request it cannot read."""
