"""The local HTTP API (`local_runtime.api.LocalApi`) over HTTP, with the template's authorizer and
route functions whose code is swapped for stubs (each run in its own worker processes): the
payload 2.0 event and answer, the authorizer before the route, failures as API Gateway answers
them, a quiet log for what is normal, and a stop that lets requests under way finish."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local_runtime import template
from local_runtime.api import LocalApi
from local_runtime.functions import LocalLambda
from tests.support.auth import bearer

ECHO = """
    import json
    import time

    def handler(event, context):
        time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", 0)))
        seen = {
            "event": event,
            "function_name": context.function_name,
            "remaining": context.get_remaining_time_in_millis(),
        }
        return {"statusCode": 201, "headers": {"Content-Type": "application/json"}, "body": json.dumps(seen)}
    """


@pytest.fixture
def api(functions: LocalLambda) -> Iterator[LocalApi]:
    api = LocalApi(functions, port=0).start()
    yield api
    api.stop()


def record_invocations(functions: LocalLambda, monkeypatch: pytest.MonkeyPatch, *names: str) -> list[str]:
    """The invocations of these functions from now on, in order."""
    calls: list[str] = []
    for name in names:
        function = functions[name]
        invoke = function.invoke_json

        def recorded(event: bytes, name: str = name, invoke: Any = invoke) -> tuple[bool, bytes]:
            calls.append(name)
            return invoke(event)  # type: ignore[no-any-return]

        monkeypatch.setattr(function, "invoke_json", recorded)
    return calls


def test_the_routes_are_those_of_the_template(api: LocalApi) -> None:
    expected = {
        (e["Properties"]["Method"].upper(), e["Properties"]["Path"], name)
        for name, f in template.resources("AWS::Serverless::Function").items()
        for e in f["Properties"].get("Events", {}).values()
        if e["Type"] == "HttpApi"
    }
    assert set(api.routes()) == expected


def test_the_route_gets_a_payload_2_event_and_its_answer_is_mapped(api: LocalApi, stub: Any) -> None:
    stub("BalanceChargeFunction", ECHO)
    session = requests.Session()

    response = session.post(
        f"{api.url}/users/u-1/balance/charge?x=1", json={"amount": 5}, headers={"X-Test": "yes", **bearer("u-1")}
    )
    again = session.post(f"{api.url}/users/u-1/balance/charge", json={"amount": 5}, headers=bearer("u-1"))

    assert response.status_code == 201
    seen = response.json()
    event = seen["event"]
    assert (event["version"], event["routeKey"]) == ("2.0", "POST /users/{userId}/balance/charge")
    assert (event["rawPath"], event["pathParameters"]) == ("/users/u-1/balance/charge", {"userId": "u-1"})
    assert (event["queryStringParameters"], event["headers"]["x-test"]) == ({"x": "1"}, "yes")
    assert json.loads(event["body"]) == {"amount": 5}
    assert seen["function_name"] == "BalanceChargeFunction"
    timeout = template.resources("AWS::Serverless::Function")["BalanceChargeFunction"]["Properties"]["Timeout"]
    assert 0 < seen["remaining"] <= timeout * 1000
    assert event["requestContext"]["authorizer"] == {"lambda": {"sub": "u-1", "admin": False}}
    other = again.json()["event"]["requestContext"]
    assert event["requestContext"]["requestId"] != other["requestId"]
    assert response.headers["Apigw-Requestid"] == event["requestContext"]["requestId"]


def test_a_handler_that_raises_is_500_and_keeps_its_instance(api: LocalApi, stub: Any) -> None:
    function = stub("BalanceInquiryFunction", "def handler(event, context):\n    raise RuntimeError('boom')\n")

    response = requests.get(f"{api.url}/users/u-1/balance", headers=bearer("u-1"), timeout=30)

    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert function.cold_starts == 1 and function.instances == 1


def test_a_function_that_times_out_is_500(api: LocalApi, stub: Any) -> None:
    stub("BalanceInquiryFunction", "import time\n\ndef handler(event, context):\n    time.sleep(5)\n", timeout=1)

    response = requests.get(f"{api.url}/users/u-1/balance", headers=bearer("u-1"), timeout=30)

    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})


def test_the_authorizer_runs_before_the_route_and_a_refusal_is_not_an_error(
    api: LocalApi,
    functions: LocalLambda,
    stub: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    route = """
        import json

        def handler(event, context):
            return {"statusCode": 200, "body": json.dumps(event["requestContext"].get("authorizer"))}
        """
    stub("BalanceInquiryFunction", route)
    stub("PopularProductsFunction", route)
    invoked = record_invocations(
        functions, monkeypatch, "AuthorizerFunction", "BalanceInquiryFunction", "PopularProductsFunction"
    )
    url = f"{api.url}/users/u-1/balance"
    caplog.set_level(logging.INFO)

    response = requests.get(url, timeout=30)
    assert (response.status_code, response.json(), invoked) == (401, {"message": "Unauthorized"}, [])

    for _ in range(2):  # the refusal is kept for the identity source: the authorizer runs once
        response = requests.get(url, headers={"Authorization": "Bearer garbage"}, timeout=30)
        assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert invoked == ["AuthorizerFunction"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "a refused token is not an error"

    invoked.clear()
    response = requests.get(url, headers=bearer("u-1", admin=True), timeout=30)
    assert (response.status_code, response.json()) == (200, {"lambda": {"sub": "u-1", "admin": True}})
    assert invoked == ["AuthorizerFunction", "BalanceInquiryFunction"]

    invoked.clear()
    response = requests.get(f"{api.url}/products/popular", timeout=30)  # public: no authorizer
    assert (response.status_code, invoked) == (200, ["PopularProductsFunction"])


def test_a_client_that_drops_halfway_through_its_request_leaves_no_noise(
    api: LocalApi, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for partial in (b"GET /products HTT", b"GET /products HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{"):
        with socket.create_connection((api.host, api.port)) as client:
            client.sendall(partial)
            time.sleep(0.2)
    assert requests.get(f"{api.url}/nope", timeout=30).status_code == 404  # still serving
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "Bad request" not in capfd.readouterr().err


def test_a_stop_lets_the_request_under_way_finish_and_takes_no_new_one(functions: LocalLambda, stub: Any) -> None:
    stub("BalanceChargeFunction", ECHO)
    api = LocalApi(functions, port=0).start()
    answers: list[int] = []
    slow = threading.Thread(
        target=lambda: answers.append(
            requests.post(
                f"{api.url}/users/u-1/balance/charge?sleep=1.5", headers=bearer("u-1"), timeout=30
            ).status_code
        )
    )
    slow.start()
    time.sleep(0.7)  # under way in the function

    api.stop()
    slow.join()

    assert answers == [201]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{api.url}/products", timeout=5)
