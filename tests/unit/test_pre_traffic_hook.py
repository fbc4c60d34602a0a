"""The pre-traffic hook: it invokes the new versions with real requests, checks their answers as the
contract says, and reports Succeeded or Failed to CodeDeploy (botocore's Stubber stands in for
Lambda and CodeDeploy; the real handlers on moto answer where a test says so)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from local_runtime.handler_loader import load_handler
from shop.deployments import FunctionVersions, LifecycleEvent, LifecycleHooks
from shop.services.smoke_test import PreTrafficSmokeTest, Targets
from tests.support.lambda_events import LambdaContext

PRODUCTS_VERSION = "arn:aws:lambda:us-east-1:123456789012:function:shop-ProductInquiry:7"
BALANCE_VERSION = "arn:aws:lambda:us-east-1:123456789012:function:shop-BalanceInquiry:4"
USER = "pre-traffic-smoke-test"
TARGETS = Targets(product_inquiry=PRODUCTS_VERSION, balance_inquiry=BALANCE_VERSION, user_id=USER)
EVENT = LifecycleEvent.model_validate({"DeploymentId": "d-ABC123", "LifecycleEventHookExecutionId": "exec-1"})

PRODUCT_PAGE = {"items": [{"productId": "p-1", "name": "Keyboard", "price": 30000, "stock": 4}], "nextCursor": None}
BALANCE = {"userId": USER, "balance": 0}
PRICE_AS_TEXT = {"items": [{"productId": "p-1", "name": "K", "price": "30000", "stock": 4}], "nextCursor": None}


def http_answer(status: int, body: Any) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def payload(document: Any) -> StreamingBody:
    raw = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


@pytest.fixture
def lambda_stub() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture
def codedeploy_stub() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("codedeploy", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def expect_report(stubber: Stubber, status: str) -> None:
    stubber.add_response(
        "put_lifecycle_event_hook_execution_status",
        {"lifecycleEventHookExecutionId": "exec-1"},
        {"deploymentId": "d-ABC123", "lifecycleEventHookExecutionId": "exec-1", "status": status},
    )


def expect_invoke(stubber: Stubber, version: str, answer: Any, function_error: str | None = None) -> None:
    response: dict[str, Any] = {"StatusCode": 200, "Payload": payload(answer)}
    if function_error:
        response["FunctionError"] = function_error
    stubber.add_response(
        "invoke", response, {"FunctionName": version, "InvocationType": "RequestResponse", "Payload": ANY}
    )


def run(lambda_client: Any, codedeploy_client: Any) -> bool:
    smoke_test = PreTrafficSmokeTest(FunctionVersions(lambda_client), LifecycleHooks(codedeploy_client))
    return smoke_test.run(EVENT, TARGETS)


def test_answers_as_the_contract_says_succeed(lambda_stub: Any, codedeploy_stub: Any) -> None:
    (lambda_client, lambdas), (codedeploy_client, codedeploy) = lambda_stub, codedeploy_stub
    expect_invoke(lambdas, PRODUCTS_VERSION, http_answer(200, PRODUCT_PAGE))
    expect_invoke(lambdas, BALANCE_VERSION, http_answer(200, BALANCE))
    expect_report(codedeploy, "Succeeded")
    assert run(lambda_client, codedeploy_client) is True


@pytest.mark.parametrize(
    ("products", "balance", "function_error"),
    [
        pytest.param(http_answer(200, PRODUCT_PAGE), http_answer(500, {"code": "INTERNAL_ERROR"}), None, id="a 500"),
        pytest.param(http_answer(503, {"code": "OUTCOME_UNKNOWN"}), http_answer(200, BALANCE), None, id="a 503"),
        pytest.param(http_answer(200, {"items": []}), http_answer(200, BALANCE), None, id="no nextCursor"),
        pytest.param(
            http_answer(200, PRICE_AS_TEXT),
            http_answer(200, BALANCE),
            None,
            id="a price as text",
        ),
        pytest.param(
            http_answer(200, PRODUCT_PAGE), http_answer(200, {**BALANCE, "userId": "u-2"}), None, id="another user"
        ),
        pytest.param(http_answer(200, PRODUCT_PAGE), http_answer(200, {**BALANCE, "balance": True}), None, id="a bool"),
        pytest.param(http_answer(200, PRODUCT_PAGE), http_answer(200, {"balance": 0}), None, id="no userId"),
        pytest.param(http_answer(200, PRODUCT_PAGE), {"message": "hello"}, None, id="not an HTTP answer"),
        pytest.param(
            http_answer(200, PRODUCT_PAGE),
            {"errorMessage": "Task timed out after 10.01 seconds", "errorType": "Sandbox.Timedout"},
            "Unhandled",
            id="a timeout",
        ),
    ],
)
def test_a_wrong_answer_fails_the_deployment(
    lambda_stub: Any, codedeploy_stub: Any, products: Any, balance: Any, function_error: str | None
) -> None:
    (lambda_client, lambdas), (codedeploy_client, codedeploy) = lambda_stub, codedeploy_stub
    expect_invoke(lambdas, PRODUCTS_VERSION, products)
    expect_invoke(lambdas, BALANCE_VERSION, balance, function_error)
    expect_report(codedeploy, "Failed")
    assert run(lambda_client, codedeploy_client) is False


def test_a_version_it_may_not_invoke_fails_the_deployment(lambda_stub: Any, codedeploy_stub: Any) -> None:
    (lambda_client, lambdas), (codedeploy_client, codedeploy) = lambda_stub, codedeploy_stub
    lambdas.add_client_error("invoke", service_error_code="AccessDeniedException", http_status_code=403)
    expect_invoke(lambdas, BALANCE_VERSION, http_answer(200, BALANCE))
    expect_report(codedeploy, "Failed")
    assert run(lambda_client, codedeploy_client) is False


REAL_FUNCTIONS = {PRODUCTS_VERSION: "ProductInquiryFunction", BALANCE_VERSION: "BalanceInquiryFunction"}


class HandlersAsVersions:
    """A Lambda client whose `invoke` runs the real handler of the version's function in-process."""

    def __init__(self, functions: dict[str, str]) -> None:
        self.functions = functions
        self.events: list[dict[str, Any]] = []

    def invoke(self, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        event = json.loads(Payload)
        self.events.append(event)
        answer = load_handler(self.functions[FunctionName])(event, LambdaContext())
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(answer).encode())}


def test_the_real_functions_pass_and_are_sent_what_api_gateway_sends(seeded: None, codedeploy_stub: Any) -> None:
    codedeploy_client, codedeploy = codedeploy_stub
    versions = HandlersAsVersions(REAL_FUNCTIONS)
    expect_report(codedeploy, "Succeeded")
    smoke_test = PreTrafficSmokeTest(FunctionVersions(versions), LifecycleHooks(codedeploy_client))
    assert smoke_test.problems(TARGETS) == {"GET /products": [], "GET /users/{userId}/balance": []}
    assert smoke_test.run(EVENT, TARGETS) is True
    products, balance = versions.events[:2]
    assert (products["version"], products["routeKey"], products["rawPath"]) == ("2.0", "GET /products", "/products")
    assert "authorizer" not in products["requestContext"]  # a public route
    assert balance["routeKey"] == balance["requestContext"]["routeKey"] == "GET /users/{userId}/balance"
    assert balance["pathParameters"] == {"userId": USER}
    assert balance["requestContext"]["authorizer"] == {"lambda": {"sub": USER, "admin": False}}


def test_a_refusal_from_the_real_balance_function_is_a_problem(seeded: None, codedeploy_stub: Any) -> None:
    """A caller the real function refuses (not an id): its 4xx is not the contract's 200."""
    codedeploy_client, _ = codedeploy_stub
    versions = HandlersAsVersions(REAL_FUNCTIONS)
    smoke_test = PreTrafficSmokeTest(FunctionVersions(versions), LifecycleHooks(codedeploy_client))
    problems = smoke_test.problems(Targets(PRODUCTS_VERSION, BALANCE_VERSION, user_id="not/an/id"))
    assert problems["GET /products"] == []
    (problem,) = problems["GET /users/{userId}/balance"]
    assert problem.startswith("status 401, not 200")


def test_the_handler_reads_codedeploys_event_and_the_versions_from_its_environment(
    monkeypatch: pytest.MonkeyPatch, lambda_stub: Any, codedeploy_stub: Any
) -> None:
    (lambda_client, lambdas), (codedeploy_client, codedeploy) = lambda_stub, codedeploy_stub
    monkeypatch.setenv("PRODUCT_INQUIRY_VERSION", PRODUCTS_VERSION)
    monkeypatch.setenv("BALANCE_INQUIRY_VERSION", BALANCE_VERSION)
    monkeypatch.setenv("SMOKE_TEST_USER_ID", USER)
    handler = load_handler("PreTrafficHookFunction")
    module = __import__("sys").modules[handler.__module__]
    monkeypatch.setattr(
        module, "smoke_test", PreTrafficSmokeTest(FunctionVersions(lambda_client), LifecycleHooks(codedeploy_client))
    )
    expect_invoke(lambdas, PRODUCTS_VERSION, http_answer(200, PRODUCT_PAGE))
    expect_invoke(lambdas, BALANCE_VERSION, http_answer(500, {"code": "INTERNAL_ERROR"}))
    expect_report(codedeploy, "Failed")
    event = {"DeploymentId": "d-ABC123", "LifecycleEventHookExecutionId": "exec-1"}
    assert handler(event, LambdaContext()) == {"status": "Failed"}
    with pytest.raises(ValueError):
        handler({"DeploymentId": "d-ABC123"}, LambdaContext())  # no execution id: nothing to report to
