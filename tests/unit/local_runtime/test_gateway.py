"""The local API Gateway alone (`local_runtime.api.Gateway`), with functions that answer from a
script: routing by the template, the Lambda authorizer and its cache, the payload 2.0 event and
the mapping of the function's answer, as an AWS HTTP API does them."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from local_runtime import template
from local_runtime.api import Gateway, Request

NOT_FOUND = {"message": "Not Found"}
ALLOW = {"isAuthorized": True, "context": {"sub": "u-1", "admin": False}}


class Scripted:
    """A function that records each event and answers with `answer(event)`: (ok, result)."""

    def __init__(self, answer: Callable[[dict[str, Any]], tuple[bool, Any]]) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def invoke_json(self, event: bytes) -> tuple[bool, bytes]:
        self.events.append(json.loads(event))
        ok, result = self.answer(self.events[-1])
        return ok, json.dumps(result).encode()


class Functions(dict[str, Scripted]):
    """Every function of the template, each answering 200 with its name, the authorizer allowing."""

    def __init__(self) -> None:
        super().__init__()
        for name in template.resources("AWS::Serverless::Function"):
            self[name] = Scripted(lambda _, name=name: (True, {"statusCode": 200, "body": name}))
        self["AuthorizerFunction"] = Scripted(lambda _: (True, ALLOW))

    def invoked(self) -> list[str]:
        return [name for name, function in self.items() for _ in function.events]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def functions() -> Functions:
    return Functions()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gateway(functions: Functions, clock: Clock) -> Gateway:
    return Gateway(functions, template.http_routes(), clock=clock)


def request(method: str, path: str, body: bytes = b"", query: str = "", **headers: str) -> Request:
    return Request(method, path, query, [(k.lower().replace("_", "-"), v) for k, v in headers.items()], body, "1.2.3.4")


def answered(gateway: Gateway, *args: Any, **headers: str) -> tuple[int, dict[str, str], Any]:
    answer = gateway.answer(request(*args, **headers))
    try:
        body = json.loads(answer.body)
    except ValueError:
        body = answer.body.decode()
    return answer.status, dict(answer.headers), body


def test_the_routes_are_the_template_s_http_api_events() -> None:
    routes = template.http_routes()
    declared = {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"], name)
        for name, function in template.resources("AWS::Serverless::Function").items()
        for event in function["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }
    assert {(r.method, r.path, r.function) for r in routes} == declared
    public = {r.path for r in routes if r.authorizer is None}
    assert public == {"/products", "/products/{productId}", "/products/popular"}
    (authorizer,) = {r.authorizer for r in routes if r.authorizer is not None}
    assert authorizer.function == "AuthorizerFunction"
    assert authorizer.identity_headers == ("authorization",)
    assert authorizer.cache_seconds == 300  # the template's ReauthorizeEvery


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users/u//balance"),
        ("GET", "/products//"),
        ("GET", "//products"),
        ("POST", "//orders"),
        ("GET", "/products/"),
        ("POST", "/users/u/balance/charge/"),
        ("HEAD", "/products"),
        ("DELETE", "/products"),
        ("GET", "/users/u/balance/charge"),
        ("GET", "/"),
    ],
)
def test_a_path_no_route_matches_exactly_is_404_from_the_gateway_before_any_function(
    gateway: Gateway, functions: Functions, method: str, path: str
) -> None:
    status, headers, body = answered(gateway, method, path, Authorization="Bearer t")
    assert (status, body, headers["content-type"]) == (404, NOT_FOUND, "application/json")
    assert functions.invoked() == []


def test_a_literal_segment_wins_over_a_parameter(gateway: Gateway, functions: Functions) -> None:
    assert answered(gateway, "GET", "/products/popular")[2] == "PopularProductsFunction"
    assert answered(gateway, "GET", "/products/p-1")[2] == "ProductInquiryFunction"
    assert functions["ProductInquiryFunction"].events[0]["pathParameters"] == {"productId": "p-1"}


def test_the_route_s_event_is_payload_2_0_and_shares_its_request_id_with_the_authorizer_s(
    gateway: Gateway, functions: Functions
) -> None:
    status, headers, _ = answered(
        gateway,
        "POST",
        "/users/u-1/balance/charge",
        b'{"amount": 5}',
        "x=1&x=2&y=",
        Authorization="Bearer t",
        Content_Type="application/json",
        Cookie="a=1; b=2",
    )
    (event,) = functions["BalanceChargeFunction"].events
    (auth,) = functions["AuthorizerFunction"].events

    assert status == 200
    assert (event["version"], event["routeKey"], event["rawPath"]) == (
        "2.0",
        "POST /users/{userId}/balance/charge",
        "/users/u-1/balance/charge",
    )
    assert event["pathParameters"] == {"userId": "u-1"}
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["rawQueryString"] == "x=1&x=2&y="
    assert event["headers"]["content-type"] == "application/json"
    assert event["cookies"] == ["a=1", "b=2"] and "cookie" not in event["headers"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"amount": 5}', False)
    assert event["requestContext"]["http"] == {
        "method": "POST",
        "path": "/users/u-1/balance/charge",
        "protocol": "HTTP/1.1",
        "sourceIp": "1.2.3.4",
        "userAgent": "",
    }
    assert event["requestContext"]["authorizer"] == {"lambda": ALLOW["context"]}
    assert (auth["type"], auth["identitySource"], auth["routeKey"]) == ("REQUEST", ["Bearer t"], event["routeKey"])
    assert auth["requestContext"]["requestId"] == event["requestContext"]["requestId"] == headers["apigw-requestid"]

    answered(gateway, "POST", "/users/u-1/balance/charge", Authorization="Bearer t")
    second = functions["BalanceChargeFunction"].events[1]["requestContext"]
    assert second["requestId"] != event["requestContext"]["requestId"]
    assert second["timeEpoch"] >= event["requestContext"]["timeEpoch"] > 1_700_000_000_000


def test_a_body_that_is_not_utf8_reaches_the_function_base64_encoded(gateway: Gateway, functions: Functions) -> None:
    answered(gateway, "POST", "/users/u-1/balance/charge", b"\xff\xfe", Authorization="Bearer t")
    (event,) = functions["BalanceChargeFunction"].events
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\xfe"


def test_no_identity_source_is_401_and_a_refusal_403_neither_reaching_the_route(
    gateway: Gateway, functions: Functions
) -> None:
    functions["AuthorizerFunction"].answer = lambda _: (True, {"isAuthorized": False})

    assert answered(gateway, "GET", "/users/u-1/balance")[::2] == (401, {"message": "Unauthorized"})
    assert functions.invoked() == []
    assert answered(gateway, "GET", "/users/u-1/balance", Authorization="Bearer x")[::2] == (
        403,
        {"message": "Forbidden"},
    )
    assert functions.invoked() == ["AuthorizerFunction"]


def test_a_public_route_runs_no_authorizer(gateway: Gateway, functions: Functions) -> None:
    assert answered(gateway, "GET", "/products", Authorization="Bearer x")[0] == 200
    assert functions.invoked() == ["ProductInquiryFunction"]
    assert "authorizer" not in functions["ProductInquiryFunction"].events[0]["requestContext"]


def test_the_authorizer_s_answer_is_kept_per_identity_source_for_reauthorize_every_seconds(
    gateway: Gateway, functions: Functions, clock: Clock
) -> None:
    authorizer = functions["AuthorizerFunction"]
    for _ in range(3):
        answered(gateway, "GET", "/users/u-1/balance", Authorization="Bearer one")
    answered(gateway, "GET", "/users/u-1/coupons", Authorization="Bearer one")  # any route of the authorizer
    assert len(authorizer.events) == 1

    answered(gateway, "GET", "/users/u-1/balance", Authorization="Bearer two")
    assert len(authorizer.events) == 2

    # A refusal is kept too; an expired token first answered allowed stays allowed until the answer ages out.
    authorizer.answer = lambda _: (True, {"isAuthorized": False})
    clock.now += 299
    assert answered(gateway, "GET", "/users/u-1/balance", Authorization="Bearer one")[0] == 200
    clock.now += 1
    assert answered(gateway, "GET", "/users/u-1/balance", Authorization="Bearer one")[0] == 403
    assert answered(gateway, "GET", "/users/u-1/balance", Authorization="Bearer one")[0] == 403
    assert len(authorizer.events) == 3


def test_without_reauthorize_every_each_request_is_authorized(functions: Functions) -> None:
    doc = json.loads(json.dumps(template.load()))
    del doc["Resources"]["ShopHttpApi"]["Properties"]["Auth"]["Authorizers"]["TokenAuthorizer"]["Identity"][
        "ReauthorizeEvery"
    ]
    gateway = Gateway(functions, template.http_routes(doc))
    for _ in range(3):
        answered(gateway, "GET", "/users/u-1/balance", Authorization="Bearer one")
    assert len(functions["AuthorizerFunction"].events) == 3


@pytest.mark.parametrize(
    "failure",
    [(False, {"errorType": "Sandbox.Timedout"}), (True, {"allow": True}), (True, "yes")],
    ids=["failed", "no isAuthorized", "not an object"],
)
def test_an_authorizer_that_fails_is_500_and_its_failure_is_not_kept(
    gateway: Gateway, functions: Functions, failure: tuple[bool, Any]
) -> None:
    functions["AuthorizerFunction"].answer = lambda _: failure
    for _ in range(2):
        status, _, body = answered(gateway, "GET", "/users/u-1/balance", Authorization="Bearer x")
        assert (status, body) == (500, {"message": "Internal Server Error"})
    assert functions.invoked() == ["AuthorizerFunction", "AuthorizerFunction"]


@pytest.mark.parametrize(
    ("result", "status", "headers", "body"),
    [
        (
            {"statusCode": 201, "headers": {"X-A": "1"}, "body": '{"a": 1}'},
            201,
            [("x-a", "1"), ("content-type", "application/json")],
            b'{"a": 1}',
        ),
        (
            {
                "statusCode": 200,
                "headers": {"Content-Type": "text/plain"},
                "multiValueHeaders": {"X-M": ["1", "2"]},
                "cookies": ["a=1", "b=2; Secure"],
                "body": "hi",
            },
            200,
            [
                ("content-type", "text/plain"),
                ("x-m", "1"),
                ("x-m", "2"),
                ("set-cookie", "a=1"),
                ("set-cookie", "b=2; Secure"),
            ],
            b"hi",
        ),
        (
            {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "AAE=", "isBase64Encoded": True},
            200,
            [("content-type", "image/png")],
            b"\x00\x01",
        ),
        ({"statusCode": 204}, 204, [("content-type", "application/json")], b""),
        ({"userId": "u-1"}, 200, [("content-type", "application/json")], b'{"userId": "u-1"}'),
        ([1, 2], 200, [("content-type", "application/json")], b"[1, 2]"),
        (None, 200, [("content-type", "application/json")], b"null"),
    ],
    ids=["headers", "multi-value headers and cookies", "base64", "no body", "bare object", "bare list", "null"],
)
def test_the_function_s_answer_is_mapped_as_api_gateway_maps_payload_2_0(
    gateway: Gateway, functions: Functions, result: Any, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    functions["ProductInquiryFunction"].answer = lambda _: (True, result)
    answer = gateway.answer(request("GET", "/products"))
    assert (answer.status, answer.headers[:-1], answer.body) == (status, headers, body)
    assert answer.headers[-1][0] == "apigw-requestid"


@pytest.mark.parametrize(
    "answer",
    [
        (False, {"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out after 3.00 seconds"}),
        (False, {"errorType": "RuntimeError", "errorMessage": "boom"}),
        (True, {"statusCode": "200"}),
        (True, {"statusCode": 200, "body": {"not": "a string"}}),
        (True, {"statusCode": 200, "body": "!!", "isBase64Encoded": True}),
    ],
    ids=["timed out", "raised", "status not a number", "body not a string", "bad base64"],
)
def test_a_function_that_fails_or_answers_what_api_gateway_cannot_read_is_500(
    gateway: Gateway, functions: Functions, answer: tuple[bool, Any]
) -> None:
    functions["ProductInquiryFunction"].answer = lambda _: answer
    assert answered(gateway, "GET", "/products")[::2] == (500, {"message": "Internal Server Error"})


def test_a_path_over_8_kb_is_414_in_json_before_any_function(gateway: Gateway, functions: Functions) -> None:
    status, _, body = answered(gateway, "GET", "/products/" + "a" * 100_000)
    assert (status, body) == (414, {"message": "Request-URI Too Long"})
    assert functions.invoked() == []


def test_a_header_http_cannot_carry_is_left_out_of_the_answer(gateway: Gateway, functions: Functions) -> None:
    headers = {"X-Split": "a\r\nSet-Cookie: b=1", "X-Hangul": "유저", "X-Ok": "é fine"}
    functions["ProductInquiryFunction"].answer = lambda _: (True, {"statusCode": 200, "headers": headers})
    answer = gateway.answer(request("GET", "/products"))
    assert [name for name, _ in answer.headers] == ["x-ok", "content-type", "apigw-requestid"]
