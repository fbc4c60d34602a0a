"""The template's functions on this machine (`local_runtime.functions`), each instance a process:
each sees the environment the template gives it, an instance serves one invocation at a time, a
busy function starts another, one past its timeout or crashed is replaced. No database needed:
functions whose code is swapped for stubs run in their own worker processes."""

from __future__ import annotations

from typing import Any

import pytest

from local_runtime import template
from local_runtime.functions import FunctionError, LocalLambda
from tests.support.placeholder_endpoints import PARAMETERS


def test_every_function_gets_the_environment_the_template_gives_it(functions: LocalLambda) -> None:
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
