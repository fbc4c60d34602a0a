"""The SAM CLI internals the local runtime drives. They are not a public API: if an upgrade of
aws-sam-cli changes them, these tests fail first and say what moved.

Pinned: aws-sam-cli==1.170.0 in requirements-dev.txt. No database and no server needed: the
gateway is driven through Flask's test client, with functions whose code is swapped for stubs
(each still run in its own worker process, as every function is).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import textwrap
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from local_runtime import template
from local_runtime.api import LocalApi
from local_runtime.functions import FunctionError, LocalFunction, LocalLambda, stacks
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
def functions(stack_list: list[Any]) -> Iterator[LocalLambda]:
    functions = LocalLambda(stack_list)
    yield functions
    functions.stop()


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


def test_sam_reads_every_function_route_and_environment(stack_list: list[Any], functions: LocalLambda) -> None:
    declared = set(template.resources("AWS::Serverless::Function"))
    assert set(functions.functions) == declared

    forwarder = functions["DataPlatformForwarderFunction"].variables
    counter = functions["SalesCounterFunction"].variables
    assert forwarder["DATA_PLATFORM_URL"] == PARAMETERS["DataPlatformUrl"]
    assert "DATA_PLATFORM_URL" not in counter  # not declared for it
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


def test_start_warms_one_instance_of_every_function(stack_list: list[Any]) -> None:
    functions = LocalLambda(stack_list)
    try:
        assert all(function.instances == 0 for function in functions.functions.values())
        functions.start()
        assert {name: function.instances for name, function in functions.functions.items()} == dict.fromkeys(
            functions.functions, 1
        )
    finally:
        functions.stop()
    assert all(function.instances == 0 for function in functions.functions.values())


@pytest.fixture
def stub(functions: LocalLambda, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """`stub(name, source)`: the function `name` runs `source` (an app.py defining `handler`) instead
    of its own code, in its own worker processes, with its own environment."""
    stubbed: list[LocalFunction] = []

    def make(name: str, source: str, **changes: Any) -> LocalFunction:
        code = tmp_path / name
        code.mkdir()
        (code / "app.py").write_text(textwrap.dedent(source))
        function = dataclasses.replace(functions[name], code_dir=code, handler="app.handler", **changes)
        monkeypatch.setitem(functions.functions, name, function)
        stubbed.append(function)
        return function

    yield make
    for function in stubbed:
        function.stop()


def _gateway(functions: LocalLambda, stack_list: list[Any]) -> Any:
    api = LocalApi(functions, stack_list, port=0)
    api.server.server_close()  # only the Flask app is used
    return api.service._app.test_client()


def test_the_gateway_sends_a_payload_2_event_and_maps_the_answer(
    functions: LocalLambda, stack_list: list[Any], stub: Any
) -> None:
    stub(
        "BalanceChargeFunction",
        """
        import json

        def handler(event, context):
            seen = {
                "event": event,
                "function_name": context.function_name,
                "remaining": context.get_remaining_time_in_millis(),
            }
            return {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": json.dumps(seen)}
        """,
    )
    client = _gateway(functions, stack_list)

    response = client.post(
        "/users/u-1/balance/charge?x=1", json={"amount": 5}, headers={"X-Test": "yes", **bearer("u-1")}
    )
    again = client.post("/users/u-1/balance/charge", json={"amount": 5}, headers=bearer("u-1"))

    assert response.status_code == 201
    seen = response.get_json()
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
    assert seen["function_name"] == "BalanceChargeFunction"
    timeout = template.resources("AWS::Serverless::Function")["BalanceChargeFunction"]["Properties"]["Timeout"]
    assert 0 < seen["remaining"] <= timeout * 1000
    assert event["requestContext"]["authorizer"] == {"lambda": {"sub": "u-1", "admin": False}}
    # Each request its own id (SAM's default argument would give them all the same), answered too.
    other = again.get_json()["event"]["requestContext"]
    assert event["requestContext"]["requestId"] != other["requestId"]
    assert response.headers["Apigw-Requestid"] == event["requestContext"]["requestId"]
    assert other["timeEpoch"] >= event["requestContext"]["timeEpoch"] > 1_700_000_000_000


def test_a_handler_that_raises_is_answered_as_api_gateway_answers_it(
    functions: LocalLambda, stack_list: list[Any], stub: Any
) -> None:
    stub(
        "BalanceInquiryFunction",
        """
        def handler(event, context):
            raise RuntimeError("boom")
        """,
    )
    client = _gateway(functions, stack_list)

    response = client.get("/users/u-1/balance", headers=bearer("u-1"))

    assert response.status_code == 500
    assert response.get_json() == {"message": "Internal Server Error"}
    function = functions["BalanceInquiryFunction"]
    assert function.cold_starts == 1 and function.instances == 1  # a function error keeps its instance


def test_a_function_that_times_out_is_answered_as_api_gateway_answers_it(
    functions: LocalLambda, stack_list: list[Any], stub: Any
) -> None:
    stub(
        "BalanceInquiryFunction",
        """
        import time

        def handler(event, context):
            time.sleep(5)
        """,
        timeout=1,
    )
    client = _gateway(functions, stack_list)

    response = client.get("/users/u-1/balance", headers=bearer("u-1"))

    assert response.status_code == 500
    assert response.get_json() == {"message": "Internal Server Error"}


def test_the_gateway_runs_the_lambda_authorizer_before_the_route(
    functions: LocalLambda, stack_list: list[Any], stub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SAM's gateway reads the HTTP API's Lambda authorizer from the template and invokes it through
    the same runner as the routes (payload 2.0 REQUEST event, simple response): no header is 401
    without invoking anything, a refusal 403 without invoking the route, an allow passes its context."""
    calls: list[str] = []
    authorizer_events: list[dict[str, Any]] = []
    route = """
        import json

        def handler(event, context):
            return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
        """
    stub("BalanceInquiryFunction", route)
    stub("PopularProductsFunction", route)
    invoke = functions.invoke

    def recorded(function_identifier: str, event: str, *args: Any, **kwargs: Any) -> None:
        calls.append("authorizer" if function_identifier == "AuthorizerFunction" else "route")
        if function_identifier == "AuthorizerFunction":
            authorizer_events.append(json.loads(event))
        invoke(function_identifier, event, *args, **kwargs)

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
    response = client.get("/products/popular")  # public: the authorizer is not called
    assert (response.status_code, response.get_json(), calls) == (200, None, ["route"])


def test_each_function_sees_its_own_environment(functions: LocalLambda, stub: Any) -> None:
    import os

    source = """
        import os

        def handler(event, context):
            return [os.environ.get("DATA_PLATFORM_URL"), os.environ["AWS_LAMBDA_FUNCTION_NAME"], os.getpid()]
        """
    forwarder = stub("DataPlatformForwarderFunction", source)
    counter = stub("SalesCounterFunction", source)

    forwarder_url, forwarder_name, forwarder_pid = forwarder({})
    counter_url, counter_name, counter_pid = counter({})

    assert (forwarder_url, forwarder_name) == (PARAMETERS["DataPlatformUrl"], "DataPlatformForwarderFunction")
    assert (counter_url, counter_name) == (None, "SalesCounterFunction")
    assert len({forwarder_pid, counter_pid, os.getpid()}) == 3


SLOW = """
    import os
    import time

    def handler(event, context):
        time.sleep(event.get("sleep", 0))
        if event.get("exit"):
            os._exit(3)
        return os.getpid()
    """


def test_concurrent_invocations_run_in_separate_instances(stub: Any) -> None:
    """Like Lambda: an instance serves one invocation at a time; a busy function gets a new one,
    up to its limit; an idle one is reused."""
    from concurrent.futures import ThreadPoolExecutor

    function = stub("UserCouponsFunction", SLOW, max_instances=3)
    with ThreadPoolExecutor(max_workers=6) as pool:
        first = list(pool.map(function, [{"sleep": 0.5}] * 6))
        second = list(pool.map(function, [{"sleep": 0.5}] * 6))

    assert len(set(first)) == 3  # six at once on three instances: each served two, one after the other
    assert all(first.count(pid) == 2 for pid in set(first))
    assert set(second) == set(first)  # warm
    assert function.cold_starts == 3


def test_a_function_past_its_timeout_is_killed_and_replaced(stub: Any) -> None:
    function = stub("UserCouponsFunction", SLOW, timeout=1)
    (before,) = {function({})}

    with pytest.raises(FunctionError) as failed:
        function({"sleep": 5})

    assert failed.value.payload["errorType"] == "Sandbox.Timedout"
    assert failed.value.payload["errorMessage"].endswith("Task timed out after 1.00 seconds")
    after = function({})
    assert after != before and function.cold_starts == 2 and function.instances == 1


def test_a_crashed_instance_is_replaced(stub: Any) -> None:
    function = stub("UserCouponsFunction", SLOW)
    before = function({})

    with pytest.raises(FunctionError) as failed:
        function({"exit": True})

    assert failed.value.payload["errorType"] == "Runtime.ExitError"
    assert "exit status 3" in failed.value.payload["errorMessage"]
    assert function({}) != before
    assert function.cold_starts == 2 and function.instances == 1
