"""Each function's policy allows the DynamoDB actions and tables its code uses, and no write on a
table it never writes.

What the code uses is recorded while its handler runs (`tests/support/dynamodb_calls.py`): the
scenario below drives every route and the sales counter through the paths that reach DynamoDB
(idempotent replays, a sold-out campaign, a refused order, an empty ranking then a counted one),
and whatever other unit tests ran before in this process adds to it. What the template allows is
read from the CloudFormation template SAM makes of it (the policy templates expanded to their
action lists and table ARNs).

What this cannot see: a call made only on a path no test takes (the layer's retries and the
unknown-outcome paths send the same calls again, so they need nothing more); calls to other
services (the hook's Lambda and CodeDeploy calls are checked in test_deploy_template.py); and
finer grain than a table: a function that writes a table is allowed every write SAM's
DynamoDBCrudPolicy grants on it (DeleteItem, BatchWriteItem), not only the ones it makes.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_runtime import template
from local_runtime.seed import seed
from local_runtime.tables import create_tables
from shop.repositories import dynamodb
from tests.support import dynamodb_calls
from tests.support.cloudformation import Stack
from tests.support.dynamodb_calls import Call
from tests.support.lambda_events import LambdaContext, sample
from tests.unit.conftest import Api

# Managed policies SAM attaches (logs; the SQS event source's reads; X-Ray's trace writes with
# Tracing: Active): no DynamoDB in them.
MANAGED_WITHOUT_DYNAMODB = ("AWSLambdaBasicExecutionRole", "AWSLambdaSQSQueueExecutionRole", "AWSXrayWriteOnlyAccess")
ADMIN = {"caller": "ops", "admin": True}


def functions() -> list[str]:
    return sorted(template.resources("AWS::Serverless::Function"))


# ---------------------------------------------------------------------------------------- allowed


def _resource_pattern(resource: Any) -> str | None:
    """A DynamoDB resource of a policy as `<table logical id>[/index/...]`, or None if not one."""
    if isinstance(resource, str):
        return resource if resource == "*" else None
    if "Fn::GetAtt" in resource and resource["Fn::GetAtt"][1] == "Arn":
        return str(resource["Fn::GetAtt"][0])
    if "Fn::Sub" in resource:
        text, variables = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], list) else (resource["Fn::Sub"], {})
        for name, value in variables.items():
            text = text.replace(f"${{{name}}}", value["Ref"] if isinstance(value, dict) and "Ref" in value else "?")
        for table in template.resources("AWS::DynamoDB::Table"):
            text = text.replace(f"${{{table}.Arn}}", f"arn:aws:dynamodb:r:a:table/{table}")
            text = text.replace(f"${{{table}}}", table)
        return text.split(":table/", 1)[1] if ":table/" in text else None
    raise AssertionError(f"a policy resource this test cannot read: {resource}")


def allowed(stack: Stack, function: str) -> list[tuple[str, str]]:
    """(action pattern, resource pattern) pairs the function's role allows on DynamoDB."""
    role = stack.properties(f"{function}Role")
    for arn in role.get("ManagedPolicyArns", []):
        assert str(arn).endswith(MANAGED_WITHOUT_DYNAMODB), f"{function}: managed policy {arn}"
    pairs = []
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            assert statement["Effect"] == "Allow", statement
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            for action in actions:
                if not fnmatch.fnmatch("dynamodb:GetItem", action) and not action.startswith("dynamodb:"):
                    continue
                for resource in resources:
                    pattern = _resource_pattern(resource)
                    if pattern is not None:
                        pairs.append((action, pattern))
    return pairs


def is_allowed(pairs: list[tuple[str, str]], call: Call) -> bool:
    target = call.table if call.index is None else f"{call.table}/index/{call.index}"
    return any(fnmatch.fnmatchcase(call.action, a) and fnmatch.fnmatchcase(target, r) for a, r in pairs)


def written_tables(pairs: list[tuple[str, str]]) -> set[str]:
    """The tables (patterns) on which the policy allows a write."""
    return {
        resource.split("/", 1)[0]
        for action, resource in pairs
        if any(fnmatch.fnmatchcase(write, action) for write in dynamodb_calls.WRITES)
    }


# ---------------------------------------------------------------------------------------- used


def _order_completed(aws: Any, order_id: str) -> dict[str, Any]:
    """The OrderCompleted event the pipe makes of the stored order (its stream image)."""
    image = aws.get_item(TableName="OrdersTable", Key={"orderId": {"S": order_id}})["Item"]
    event = json.loads(json.dumps(sample("sales_counter.json")))
    event["id"] = f"event-{order_id}"
    event["detail"]["dynamodb"]["Keys"] = {"orderId": {"S": order_id}}
    event["detail"]["dynamodb"]["NewImage"] = image
    return event


def exercise_every_function(api: Api, aws: Any) -> None:
    """Every route of every function, through the paths that reach DynamoDB."""

    def ok(status: int, body: Any, expected: int) -> Any:
        assert status == expected, body
        return body

    def key(name: str) -> dict[str, str]:
        return {"Idempotency-Key": f"least-privilege-{name}"}

    # the catalogue
    product = ok(
        *api.call("CatalogueAdminFunction", "POST", "/products", {"name": "Lamp", "price": 1000, "stock": 1}, **ADMIN),
        201,
    )
    ok(
        *api.call(
            "CatalogueAdminFunction", "POST", f"/products/{product['productId']}/stock", {"quantity": 2}, **ADMIN
        ),
        200,
    )
    coupon = {"name": "One only", "discount": {"type": "FIXED", "amount": 100}, "totalQuantity": 1, "validDays": 1}
    campaign = ok(*api.call("CatalogueAdminFunction", "POST", "/coupons", coupon, **ADMIN), 201)
    ok(*api.call("CatalogueAdminFunction", "GET", f"/coupons/{campaign['couponId']}", **ADMIN), 200)
    ok(*api.call("ProductInquiryFunction", "GET", "/products"), 200)
    ok(*api.call("ProductInquiryFunction", "GET", f"/products/{product['productId']}"), 200)
    # money
    ok(
        *api.call("BalanceChargeFunction", "POST", "/users/user-1/balance/charge", {"amount": 1000}, caller="user-1"),
        200,
    )
    for _ in range(2):  # the second a replay
        ok(
            *api.call(
                "BalanceChargeFunction",
                "POST",
                "/users/user-1/balance/charge",
                {"amount": 5},
                caller="user-1",
                headers=key("charge"),
            ),
            200,
        )
    ok(*api.call("BalanceInquiryFunction", "GET", "/users/user-1/balance", caller="user-1"), 200)
    ok(
        *api.call(
            "BalanceHistoryFunction", "GET", "/users/user-1/balance/history", caller="user-1", query={"limit": "1"}
        ),
        200,
    )
    # coupons: one issued (and replayed), then the campaign sold out
    path = f"/coupons/{campaign['couponId']}/issue"
    for _ in range(2):
        issued = ok(*api.call("CouponIssueFunction", "POST", path, {}, caller="user-1", headers=key("issue")), 201)
    ok(*api.call("CouponIssueFunction", "POST", path, {}, caller="user-2"), 409)
    ok(*api.call("UserCouponsFunction", "GET", "/users/user-1/coupons", caller="user-1"), 200)
    # orders: one with the coupon (and replayed), one refused for want of stock
    order_body = {
        "items": [{"productId": product["productId"], "quantity": 1}],
        "issuedCouponId": issued["issuedCouponId"],
    }
    for _ in range(2):
        order = ok(
            *api.call("OrderPlacementFunction", "POST", "/orders", order_body, caller="user-1", headers=key("order")),
            201,
        )
    ok(
        *api.call(
            "OrderPlacementFunction",
            "POST",
            "/orders",
            {"items": [{"productId": product["productId"], "quantity": 99}]},
            caller="user-2",
        ),
        409,
    )
    ok(*api.call("OrderInquiryFunction", "GET", "/users/user-1/orders", caller="user-1", query={"limit": "1"}), 200)
    ok(*api.call("OrderInquiryFunction", "GET", f"/orders/{order['orderId']}", caller="user-1"), 200)
    # the ranking: none counted yet, then the order counted (twice: a redelivery)
    ok(*api.call("PopularProductsFunction", "GET", "/products/popular"), 200)
    for _ in range(2):
        api.handler("SalesCounterFunction")(_order_completed(aws, order["orderId"]), LambdaContext())
    ok(*api.call("PopularProductsFunction", "GET", "/products/popular"), 200)
    # the daily reconciliation of the money moved above
    api.handler("LedgerReconciliationFunction")(sample("ledger_reconciliation.json"), LambdaContext())


@pytest.fixture(scope="module")
def stack() -> Stack:
    return Stack("prod")


@pytest.fixture(scope="module")
def used() -> Iterator[dict[str, set[Call]]]:
    """What every function was recorded calling: the scenario once, and whatever ran before."""
    with mock_aws():
        dynamodb.reset_clients()
        dynamodb_calls.install()
        client = boto3.client("dynamodb")
        create_tables(client)
        seed()
        exercise_every_function(Api(), client)
        yield {function: set(calls) for function, calls in dynamodb_calls.RECORDED.items()}
    dynamodb.reset_clients()


# ---------------------------------------------------------------------------------------- checks


def test_the_recorder_sees_a_transactions_items_and_an_index(used: dict[str, set[Call]]) -> None:
    """The recording itself (else the checks below would pass on nothing)."""
    charge = used["BalanceChargeFunction"]
    assert Call("dynamodb:UpdateItem", "BalancesTable", operation="TransactWriteItems") in charge
    assert Call("dynamodb:PutItem", "LedgerTable", operation="TransactWriteItems") in charge
    assert Call("dynamodb:PutItem", "IdempotencyTable", operation="PutItem") in charge
    assert Call("dynamodb:Query", "LedgerTable", "byTime", "Query") in used["BalanceHistoryFunction"]


@pytest.mark.parametrize("function", functions())
def test_every_action_a_function_calls_is_allowed(stack: Stack, used: dict[str, set[Call]], function: str) -> None:
    pairs = allowed(stack, function)
    denied = sorted(call for call in used.get(function, set()) if not is_allowed(pairs, call))
    assert not denied, f"{function} calls what its policy does not allow: {denied}"


@pytest.mark.parametrize("function", functions())
def test_no_function_may_write_a_table_it_never_writes(stack: Stack, used: dict[str, set[Call]], function: str) -> None:
    calls = used.get(function, set())
    writes = {call.table for call in calls if call.writes}
    extra = sorted(
        t for t in written_tables(allowed(stack, function)) if not any(fnmatch.fnmatchcase(w, t) for w in writes)
    )
    assert not extra, f"{function} may write {extra}, which it never writes"
    assert "*" not in {r for _, r in allowed(stack, function)}, f"{function}: DynamoDB on every table"


@pytest.mark.parametrize("function", functions())
def test_a_function_allowed_a_table_was_seen_using_it(stack: Stack, used: dict[str, set[Call]], function: str) -> None:
    """So that the checks above ran on what the function does: a table in its policy that no
    recorded call touched is either unused (take it out) or a path the scenario misses (add it)."""
    touched = {call.table for call in used.get(function, set())}
    tables = {resource.split("/", 1)[0] for _, resource in allowed(stack, function)}
    assert tables <= touched, f"{function} is allowed {sorted(tables - touched)} but was never seen using it"
