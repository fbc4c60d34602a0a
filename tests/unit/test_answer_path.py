"""One answer path: every answer, the early refusals included, comes out of the resolver; the
admission is its first middleware and wins over the resolver's own validation."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel

from shop.api.body import MAX_BODY_BYTES
from shop.api.http import UserId, create_app, entry_point
from tests.support.lambda_events import LambdaContext, http_event


class Amount(BaseModel):
    amount: int


def function(access: Any = "user") -> tuple[Any, list[str]]:
    """A route function whose resolver records what reached it: `outer`, a middleware added before
    the entry point's, sees every exception the resolver answers; `route`, the route itself."""
    app: APIGatewayHttpResolver = create_app()
    seen: list[str] = []

    def outer(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        try:
            return next_middleware(app)
        except Exception as error:
            seen.append(type(error).__name__)
            raise

    app.use(middlewares=[outer])

    @app.post("/users/<userId>/amount")
    def post(userId: UserId, request: Annotated[Amount, Body()]) -> dict[str, Any]:
        seen.append("route")
        return {"userId": userId, "amount": request.amount}

    return entry_point(app, access=access), seen


def call(handler: Any, body: Any = None, **kwargs: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    event = http_event("POST", "/users/u1/amount", body, **kwargs)
    event["pathParameters"] = {"userId": "u1"}
    answer = handler(event, LambdaContext())
    return answer["statusCode"], json.loads(answer["body"]), answer


def test_an_admitted_request_reaches_its_route() -> None:
    handler, seen = function()
    status, body, _ = call(handler, {"amount": 5}, caller="u1")
    assert (status, body, seen) == (200, {"userId": "u1", "amount": 5}, ["route"])


@pytest.mark.parametrize(
    ("kwargs", "status", "refusal"),
    [
        ({}, 401, "Unauthenticated"),
        ({"raw_body": '{"amount": 5}' + " " * MAX_BODY_BYTES, "caller": "u1"}, 400, "BodyRefused"),
    ],
    ids=["no caller", "too large"],
)
def test_an_early_refusal_is_raised_inside_the_resolver_and_answered_by_it(
    kwargs: dict[str, Any], status: int, refusal: str
) -> None:
    handler, seen = function()
    answered, body, answer = call(handler, {"amount": 5} if "raw_body" not in kwargs else None, **kwargs)
    assert (answered, seen) == (status, [refusal]), "the admission refused it, from inside the resolver"
    assert "cookies" in answer, "the answer was built by the resolver (payload 2.0 answers carry cookies)"
    assert body["code"] == {401: "UNAUTHORIZED", 400: "INVALID_REQUEST"}[status]


def test_an_admin_function_refuses_a_user_with_403_through_the_resolver() -> None:
    handler, seen = function(access="admin")
    status, body, _ = call(handler, {"amount": 5}, caller="u1")
    assert (status, body["code"], seen) == (403, "FORBIDDEN", ["Forbidden"])


def test_the_admission_wins_over_the_resolver_s_own_validation() -> None:
    """Powertools validates a request before any middleware runs; the answer is still the
    admission's: 401 for a body validation would refuse, the size for an oversized valid body."""
    handler, seen = function()
    status, body, _ = call(handler, {"amount": "not a number"})
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    status, body, _ = call(handler, {"amount": "not a number"}, caller="u1")
    assert (status, body["code"]) == (400, "INVALID_REQUEST") and body["message"].startswith("body.amount")
    assert "route" not in seen


def test_a_path_id_outside_the_pattern_is_refused_even_where_the_route_pattern_let_it_through() -> None:
    handler, seen = function()
    event = http_event("POST", "/users/u1\n/amount", {"amount": 5}, caller="u1")
    event["pathParameters"] = {"userId": "u1\n"}
    answer = handler(event, LambdaContext())
    assert (answer["statusCode"], json.loads(answer["body"])["code"]) == (400, "INVALID_REQUEST")
    assert "route" not in seen


def test_a_base64_body_that_is_not_utf8_is_refused_by_the_admission() -> None:
    handler, seen = function()
    event = http_event("POST", "/users/u1/amount", caller="u1", headers={"content-type": "application/json"})
    event.update(pathParameters={"userId": "u1"}, body=base64.b64encode(b"\xff\xfe{}").decode(), isBase64Encoded=True)
    answer = handler(event, LambdaContext())
    assert json.loads(answer["body"]) == {"code": "INVALID_REQUEST", "message": "body: not UTF-8 text"}
    assert "route" not in seen
