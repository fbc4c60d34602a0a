"""The SAM CLI internals the local runtime drives. They are not a public API: if an upgrade of
aws-sam-cli changes them, these tests fail first and say what moved.

Pinned: aws-sam-cli==1.170.0 in requirements-dev.txt. No database and no server needed: the
gateway is driven through Flask's test client, with handlers swapped for stubs.
"""

from __future__ import annotations

import inspect
import json
from importlib.metadata import version
from typing import Any

import pytest

from local_runtime import template
from local_runtime.api import LocalApi
from local_runtime.functions import InProcessLambda, stacks
from local_runtime.issuer import public_key_parameter
from tests.support.auth import bearer

PINNED = "1.170.0"
PARAMETERS = {
    "DynamoDbEndpointUrl": "http://127.0.0.1:1",
    "DataPlatformUrl": "http://127.0.0.1:2/orders",
    "LocalTokenPublicKey": public_key_parameter(),
}


@pytest.fixture(scope="module")
def stack_list() -> list[Any]:
    return stacks(PARAMETERS)


@pytest.fixture(scope="module")
def functions(stack_list: list[Any]) -> InProcessLambda:
    return InProcessLambda(stack_list)


def test_the_pinned_sam_cli_is_installed() -> None:
    assert version("aws-sam-cli") == PINNED, "the local runtime was checked against aws-sam-cli " + PINNED


def test_the_internal_signatures_are_the_ones_the_runtime_calls() -> None:
    from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
    from samcli.lib.providers.api_provider import ApiProvider
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
    from samcli.local.apigw import local_apigw_service
    from samcli.local.lambdafn.env_vars import EnvironmentVariables

    def params(function: Any) -> list[str]:
        return list(inspect.signature(function).parameters)

    assert params(SamLocalStackProvider.get_stacks)[:4] == [
        "template_file",
        "stack_path",
        "name",
        "parameter_overrides",
    ]
    assert "global_parameter_overrides" in params(SamLocalStackProvider.get_stacks)
    assert params(SamFunctionProvider.__init__)[1] == "stacks"
    assert params(ApiProvider.__init__)[1:3] == ["stacks", "cwd"]
    assert params(local_apigw_service.LocalApigwService.__init__)[1:7] == [
        "api",
        "lambda_runner",
        "static_dir",
        "port",
        "host",
        "stderr",
    ]
    assert hasattr(local_apigw_service, "EventTracker"), "the gateway's telemetry hook moved (api.py stubs it)"
    # The runner interface the gateway calls: invoke(name, event, tenant_id=, stdout=, stderr=), is_debugging().
    runner = params(LocalLambdaRunner.invoke)
    assert runner[1:3] == ["function_identifier", "event"] and {"tenant_id", "stdout", "stderr"} <= set(runner)
    assert "self.lambda_runner.invoke(" in inspect.getsource(local_apigw_service.LocalApigwService)
    assert params(EnvironmentVariables.__init__)[1:6] == [
        "function_name",
        "function_memory",
        "function_timeout",
        "function_handler",
        "function_logging_config",
    ]


def test_sam_reads_every_function_route_and_environment(stack_list: list[Any], functions: InProcessLambda) -> None:
    declared = set(template.resources("AWS::Serverless::Function"))
    assert set(functions.functions) == declared

    forwarder = functions["DataPlatformForwarderFunction"].variables
    counter = functions["SalesCounterFunction"].variables
    assert forwarder["DATA_PLATFORM_URL"] == PARAMETERS["DataPlatformUrl"]
    assert counter["DATA_PLATFORM_URL"] is None  # not declared for it: hidden
    for variables in (forwarder, counter):
        assert variables["DYNAMODB_ENDPOINT_URL"] == PARAMETERS["DynamoDbEndpointUrl"]
        assert variables["ORDERS_TABLE"] == "OrdersTable"  # a !Ref to a table: its logical id, as sam local
        assert variables["AWS_LAMBDA_FUNCTION_NAME"] in {"DataPlatformForwarderFunction", "SalesCounterFunction"}
    assert functions["SalesCounterFunction"].timeout == 30
    assert functions["BalanceInquiryFunction"].timeout == 10

    api = LocalApi(functions, stack_list, port=0)
    try:
        routes = {(method, path) for method, path, _ in api.routes()}
    finally:
        api.server.server_close()
    expected = {
        (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
        for f in template.resources("AWS::Serverless::Function").values()
        for e in f["Properties"].get("Events", {}).values()
        if e["Type"] == "HttpApi"
    }
    assert routes == expected


def stub(monkeypatch: pytest.MonkeyPatch, function: Any, handler: Any) -> None:
    """Make every instance of `function` run `handler` instead of its app.py."""
    monkeypatch.setattr(function, "_idle", [])
    monkeypatch.setattr(function, "_load", lambda instance: handler)


def _gateway(functions: InProcessLambda, stack_list: list[Any]) -> Any:
    api = LocalApi(functions, stack_list, port=0)
    api.server.server_close()  # only the Flask app is used
    return api.service._app.test_client()


def test_the_gateway_sends_a_payload_2_event_and_maps_the_answer(
    functions: InProcessLambda, stack_list: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.update(event=event, context=context)
        return {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": json.dumps({"ok": True})}

    stub(monkeypatch, functions["BalanceChargeFunction"], handler)
    client = _gateway(functions, stack_list)

    response = client.post(
        "/users/u-1/balance/charge?x=1", json={"amount": 5}, headers={"X-Test": "yes", **bearer("u-1")}
    )

    assert response.status_code == 201
    assert response.get_json() == {"ok": True}
    event = seen["event"]
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /users/{userId}/balance/charge"
    assert event["rawPath"] == "/users/u-1/balance/charge"
    assert event["pathParameters"] == {"userId": "u-1"}
    assert event["queryStringParameters"] == {"x": "1"}
    # SAM keeps header names as sent (API Gateway lowercases them); Powertools reads them either way.
    assert {k.lower(): v for k, v in event["headers"].items()}["x-test"] == "yes"
    assert json.loads(event["body"]) == {"amount": 5}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert seen["context"].function_name == "BalanceChargeFunction"
    timeout = template.resources("AWS::Serverless::Function")["BalanceChargeFunction"]["Properties"]["Timeout"]
    assert 0 < seen["context"].get_remaining_time_in_millis() <= timeout * 1000
    assert event["requestContext"]["authorizer"] == {"lambda": {"sub": "u-1", "admin": False}}


def test_a_handler_that_raises_is_answered_as_api_gateway_answers_it(
    functions: InProcessLambda, stack_list: list[Any], monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    stub(monkeypatch, functions["BalanceInquiryFunction"], handler)
    client = _gateway(functions, stack_list)

    response = client.get("/users/u-1/balance", headers=bearer("u-1"))

    assert response.status_code == 500
    assert response.get_json() == {"message": "Internal server error"}
    assert any(
        "RuntimeError: boom" in record.getMessage() and "Traceback" in record.getMessage() for record in caplog.records
    )


def test_the_gateway_runs_the_lambda_authorizer_before_the_route(
    functions: InProcessLambda, stack_list: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SAM's gateway reads the HTTP API's Lambda authorizer from the template and invokes it through
    the same runner as the routes (payload 2.0 REQUEST event, simple response): no header is 401
    without invoking anything, a refusal 403 without invoking the route, an allow passes its context."""
    calls: list[str] = []
    authorizer_events: list[dict[str, Any]] = []

    def route(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append("route")
        return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}

    invoke = functions.invoke

    def recorded(function_identifier: str, event: str, *args: Any, **kwargs: Any) -> None:
        if function_identifier == "AuthorizerFunction":
            calls.append("authorizer")
            authorizer_events.append(json.loads(event))
        invoke(function_identifier, event, *args, **kwargs)

    stub(monkeypatch, functions["BalanceInquiryFunction"], route)
    monkeypatch.setattr(functions, "invoke", recorded)
    client = _gateway(functions, stack_list)

    response = client.get("/users/u-1/balance")
    assert (response.status_code, response.get_json(), calls) == (401, {"message": "Unauthorized"}, [])

    response = client.get("/users/u-1/balance", headers={"Authorization": "Bearer garbage"})
    assert (response.status_code, calls) == (403, ["authorizer"])
    event = authorizer_events[-1]
    assert (event["version"], event["type"], event["identitySource"]) == ("2.0", "REQUEST", ["Bearer garbage"])
    assert event["routeKey"] == "GET /users/{userId}/balance"

    calls.clear()
    response = client.get("/users/u-1/balance", headers=bearer("u-1", admin=True))
    assert (response.status_code, calls) == (200, ["authorizer", "route"])
    assert response.get_json() == {"lambda": {"sub": "u-1", "admin": True}}

    calls.clear()
    stub(monkeypatch, functions["PopularProductsFunction"], route)
    response = client.get("/products/popular")  # public: the authorizer is not called
    assert (response.status_code, response.get_json(), calls) == (200, None, ["route"])


def test_each_invocation_sees_its_own_environment(functions: InProcessLambda, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    seen: dict[str, Any] = {}
    monkeypatch.setenv("DATA_PLATFORM_URL", "http://127.0.0.1:9/process-wide")

    def read(name: str) -> Any:
        def handler(event: Any, context: Any) -> None:
            seen[name] = (os.environ.get("DATA_PLATFORM_URL"), os.environ["AWS_LAMBDA_FUNCTION_NAME"])

        return handler

    stub(monkeypatch, functions["DataPlatformForwarderFunction"], read("forwarder"))
    stub(monkeypatch, functions["SalesCounterFunction"], read("counter"))
    functions["DataPlatformForwarderFunction"]({})
    functions["SalesCounterFunction"]({})

    assert seen["forwarder"] == (PARAMETERS["DataPlatformUrl"], "DataPlatformForwarderFunction")
    assert seen["counter"] == (None, "SalesCounterFunction")
    assert os.environ["DATA_PLATFORM_URL"] == "http://127.0.0.1:9/process-wide"  # outside: the process's own


def test_concurrent_invocations_run_in_separate_instances(
    functions: InProcessLambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like Lambda: an instance serves one invocation at a time; a busy function gets a new one."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    function = functions["UserCouponsFunction"]
    loaded: list[int] = []
    busy: set[int] = set()
    overlaps: list[int] = []
    lock = threading.Lock()

    def load(instance: int) -> Any:
        loaded.append(instance)

        def handler(event: Any, context: Any) -> None:
            with lock:
                if instance in busy:
                    overlaps.append(instance)
                busy.add(instance)
            time.sleep(0.05)
            with lock:
                busy.discard(instance)

        return handler

    monkeypatch.setattr(function, "_idle", [])
    monkeypatch.setattr(function, "_instances", 0)
    monkeypatch.setattr(function, "_load", load)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(function, [{}] * 4))
        list(pool.map(function, [{}] * 4))

    assert overlaps == []
    assert sorted(loaded) == [1, 2, 3, 4]  # the second wave ran warm on the same four


def test_concurrent_resolutions_each_see_their_own_event(functions: InProcessLambda) -> None:
    """Powertools keeps the event being resolved on a class; in-process, each thread has its own."""
    import threading

    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    both_set = threading.Barrier(2)
    seen: dict[str, Any] = {}

    def resolve(name: str) -> None:
        BaseRouter.current_event = name  # type: ignore[assignment]
        both_set.wait(timeout=5)
        seen[name] = BaseRouter.current_event

    threads = [threading.Thread(target=resolve, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {"first": "first", "second": "second"}
