"""The pre-traffic smoke test: before CodeDeploy shifts any traffic to new versions, each is sent a
real request, built as API Gateway builds it (payload 2.0), and its answer is checked against the
contract (../shared/API.md): the status and the body's shape. Read-only requests only: a product
page (public) and a balance read (with the authorizer's context of a smoke-test user, who is never
charged, so the answer is a balance of 0 or whatever that user holds)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shop.deployments import Answer, FunctionVersions, LifecycleEvent, LifecycleHooks
from shop.observability import logger

Check = Callable[[Answer], list[str]]


@dataclass(frozen=True)
class Targets:
    """The versions under test (qualified ARNs) and the user the balance is read for."""

    product_inquiry: str
    balance_inquiry: str
    user_id: str


@dataclass(frozen=True)
class Probe:
    name: str
    version_arn: str
    event: dict[str, Any]
    check: Check


def http_request(
    method: str,
    route_key: str,
    path: str,
    *,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    caller: str | None = None,
) -> dict[str, Any]:
    """A payload 2.0 event as API Gateway's HTTP API sends it to a route's integration; with the
    Lambda authorizer's context (`{"sub", "admin"}`) when `caller` is given."""
    now = time.time()
    query = query or {}
    context: dict[str, Any] = {
        "accountId": "anonymous",
        "apiId": "pre-traffic-hook",
        "domainName": "pre-traffic-hook.local",
        "domainPrefix": "pre-traffic-hook",
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "shop-pre-traffic-hook",
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": route_key,
        "stage": "$default",
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }
    if caller is not None:
        context["authorizer"] = {"lambda": {"sub": caller, "admin": False}}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "headers": {"accept": "application/json", "user-agent": "shop-pre-traffic-hook"},
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if path_parameters:
        event["pathParameters"] = path_parameters
    if query:
        event["queryStringParameters"] = query
    return event


def _http_answer(answer: Answer, status: int) -> tuple[Any, list[str]]:
    """The body of an HTTP answer of `status`, or what is wrong with the answer."""
    if answer.function_error is not None:
        return None, [f"the function failed ({answer.function_error}): {str(answer.payload)[:300]}"]
    if not isinstance(answer.payload, dict) or not isinstance(answer.payload.get("statusCode"), int):
        return None, [f"not an HTTP answer: {str(answer.payload)[:300]}"]
    if answer.payload["statusCode"] != status:
        return None, [f"status {answer.payload['statusCode']}, not {status}: {str(answer.payload.get('body'))[:300]}"]
    try:
        return json.loads(answer.payload.get("body") or ""), []
    except ValueError:
        return None, [f"the body is not JSON: {str(answer.payload.get('body'))[:300]}"]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


PRODUCT_FIELDS = {"productId": str, "name": str, "price": int, "stock": int}


def product_page_problems(answer: Answer) -> list[str]:
    """`GET /products`: `200 {"items": [Product], "nextCursor": str or null}`, a Product being
    `{"productId", "name", "price", "stock"}` (integers for the numbers)."""
    body, problems = _http_answer(answer, 200)
    if problems:
        return problems
    if not isinstance(body, dict) or set(body) != {"items", "nextCursor"}:
        return [f"not a product page: {str(body)[:300]}"]
    if not isinstance(body["items"], list):
        problems.append("items is not a list")
    if body["nextCursor"] is not None and not isinstance(body["nextCursor"], str):
        problems.append("nextCursor is neither a string nor null")
    for item in body["items"] if isinstance(body["items"], list) else []:
        if not isinstance(item, dict) or set(item) != set(PRODUCT_FIELDS):
            problems.append(f"not a Product: {str(item)[:300]}")
            continue
        for name, kind in PRODUCT_FIELDS.items():
            if not (_is_int(item[name]) if kind is int else isinstance(item[name], kind)):
                problems.append(f"{name} of {item.get('productId')} is not a {kind.__name__}")
    return problems


def balance_problems(user_id: str) -> Check:
    """`GET /users/{userId}/balance`: `200 {"userId", "balance"}`, the caller's id and an integer
    balance of 0 or more."""

    def check(answer: Answer) -> list[str]:
        body, problems = _http_answer(answer, 200)
        if problems:
            return problems
        if not isinstance(body, dict) or set(body) != {"userId", "balance"}:
            return [f"not a balance: {str(body)[:300]}"]
        if body["userId"] != user_id:
            problems.append(f"the balance of {body['userId']!r}, not of {user_id!r}")
        if not _is_int(body["balance"]) or body["balance"] < 0:
            problems.append(f"balance {body['balance']!r} is not an integer of 0 or more")
        return problems

    return check


def probes(targets: Targets) -> list[Probe]:
    user = targets.user_id
    return [
        Probe(
            name="GET /products",
            version_arn=targets.product_inquiry,
            event=http_request("GET", "GET /products", "/products", query={"limit": "5"}),
            check=product_page_problems,
        ),
        Probe(
            name="GET /users/{userId}/balance",
            version_arn=targets.balance_inquiry,
            event=http_request(
                "GET",
                "GET /users/{userId}/balance",
                f"/users/{user}/balance",
                path_parameters={"userId": user},
                caller=user,
            ),
            check=balance_problems(user),
        ),
    ]


class PreTrafficSmokeTest:
    def __init__(self, versions: FunctionVersions | None = None, hooks: LifecycleHooks | None = None) -> None:
        self._versions = versions or FunctionVersions()
        self._hooks = hooks or LifecycleHooks()

    def problems(self, targets: Targets) -> dict[str, list[str]]:
        """Each probe's problems (none: the version answered as the contract says)."""
        found: dict[str, list[str]] = {}
        for probe in probes(targets):
            try:
                found[probe.name] = probe.check(self._versions.invoke(probe.version_arn, probe.event))
            except Exception as error:  # an invocation that could not be made fails the test too
                found[probe.name] = [f"could not invoke {probe.version_arn}: {error}"]
        return found

    def run(self, event: LifecycleEvent, targets: Targets) -> bool:
        """Probe the versions and report the verdict to CodeDeploy: Failed rolls the deployment back."""
        found = self.problems(targets)
        passed = not any(found.values())
        for name, problems in found.items():
            if problems:
                logger.error("smoke test failed", extra={"probe": name, "problems": problems})
            else:
                logger.info("smoke test passed", extra={"probe": name})
        self._hooks.report(event, "Succeeded" if passed else "Failed")
        return passed
