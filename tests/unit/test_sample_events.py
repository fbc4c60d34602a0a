"""Every sample event in `events/` runs on its function, on moto with the seed data, and does what
it says: the status and the change in the database are checked."""

from __future__ import annotations

import inspect
import json
import re
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from botocore.stub import Stubber

from local_runtime import template
from local_runtime.handler_loader import load_handler
from local_runtime.seed import BALANCES, COUPONS, PRODUCTS
from shop.deployments import FunctionVersions, LifecycleHooks
from shop.identity import Caller
from shop.models.order import PlaceOrder
from shop.repositories.balances import BalanceRepository
from shop.repositories.coupons import CouponRepository
from shop.repositories.orders import OrderRepository
from shop.repositories.products import ProductRepository
from shop.repositories.sales import SalesRepository
from shop.services.orders import OrderService
from shop.services.smoke_test import PreTrafficSmokeTest
from tests.support import emf
from tests.support.data_platform import *  # noqa: F403 (its fixtures)
from tests.support.data_platform import DataPlatform
from tests.support.lambda_events import EVENTS, LambdaContext, sample
from tests.support.orders import paid_order
from tests.unit.conftest import Api
from tests.unit.test_pre_traffic_hook import BALANCE_VERSION, PRODUCTS_VERSION, REAL_FUNCTIONS, HandlersAsVersions

EVENT_FILES = sorted(path.name for path in EVENTS.glob("*.json"))
SEED_PRODUCTS = {p.product_id: p for p in PRODUCTS}
SEED_COUPONS = {c.coupon_id: c for c in COUPONS}


def functions() -> dict[str, dict[str, Any]]:
    return template.resources("AWS::Serverless::Function")


def function_of(event_file: str) -> str:
    """The function a sample event is for: the one whose code folder (`functions/<use_case>/`)
    names the file (`<use_case>.json` or `<use_case>_<variant>.json`)."""
    stem = Path(event_file).stem
    matches = [
        logical_id
        for logical_id, resource in functions().items()
        for use_case in [Path(str(resource["Properties"]["CodeUri"])).name]
        if stem == use_case or stem.startswith(f"{use_case}_")
    ]
    assert len(matches) == 1, f"{event_file} matches functions {matches}"
    return matches[0]


def test_every_sample_event_has_a_function_and_every_function_a_sample_event() -> None:
    assert EVENT_FILES, "no sample events"
    covered = {function_of(name) for name in EVENT_FILES}
    assert covered == set(functions()), f"functions without a sample event: {set(functions()) - covered}"


def test_every_sample_event_has_a_check() -> None:
    assert set(CHECKS) == set(EVENT_FILES)


@pytest.mark.parametrize("event_file", EVENT_FILES)
def test_sample_event_matches_its_functions_trigger(event_file: str) -> None:
    """An HTTP sample carries one of the function's routes; a bus sample matches its rule."""
    event = sample(event_file)
    triggers = list(functions()[function_of(event_file)]["Properties"].get("Events", {}).values())
    if event.get("type") == "REQUEST":  # a Lambda authorizer's event: the function is the API's authorizer
        (api,) = template.resources("AWS::Serverless::HttpApi").values()
        authorizers = api["Properties"]["Auth"]["Authorizers"]
        # its alias `live` (tests/integration/test_deploy_template.py)
        alias_arn = {"Fn::Sub": f"${{{function_of(event_file)}.Arn}}:live"}
        assert alias_arn in [a["FunctionArn"] for a in authorizers.values()]
        assert event["version"] == "2.0"
        assert event["identitySource"] == [event["headers"]["authorization"]]
    elif "LifecycleEventHookExecutionId" in event:  # CodeDeploy's: the function is a deployment's hook
        hooked = [
            f["Properties"].get("DeploymentPreference", {}).get("Hooks", {}).get("PreTraffic")
            for f in functions().values()
        ]
        assert {"Ref": function_of(event_file)} in hooked
        assert set(event) == {"DeploymentId", "LifecycleEventHookExecutionId"}
    elif "routeKey" in event:
        routes = {f"{t['Properties']['Method']} {t['Properties']['Path']}" for t in triggers if t["Type"] == "HttpApi"}
        assert event["routeKey"] in routes
        assert event["requestContext"]["routeKey"] == event["routeKey"]
        assert event["requestContext"]["http"]["method"] == event["routeKey"].split()[0]
        assert event["rawPath"] == event["requestContext"]["http"]["path"]
    elif "Records" in event:  # an SQS batch: each body is an event the rule targeting the queue puts there
        (queue,) = [t["Properties"]["Queue"]["Fn::GetAtt"][0] for t in triggers if t["Type"] == "SQS"]
        (rule,) = [
            r["Properties"]["EventPattern"]
            for r in template.resources("AWS::Events::Rule").values()
            if {"Fn::GetAtt": [queue, "Arn"]} in [target["Arn"] for target in r["Properties"]["Targets"]]
        ]
        for record in event["Records"]:
            assert (record["eventSource"], record["eventSourceARN"].rsplit(":", 1)[1]) == ("aws:sqs", queue)
            body = json.loads(record["body"])
            assert body["source"] in rule["source"]
            assert body["detail-type"] in rule["detail-type"]
    elif "scheduleArn" in event:  # EventBridge Scheduler's: the schedule's Input, its context attributes filled in
        (schedule,) = [t["Properties"] for t in triggers if t["Type"] == "ScheduleV2"]
        declared = json.loads(schedule["Input"])
        assert set(event) == set(declared)
        assert all(re.fullmatch(r"<aws\.scheduler\.[a-z-]+>", value) for value in declared.values())
        assert all(isinstance(value, str) and not value.startswith("<") for value in event.values())
    else:
        (rule,) = [t["Properties"]["Pattern"] for t in triggers if t["Type"] == "EventBridgeRule"]
        assert event["source"] in rule["source"]
        assert event["detail-type"] in rule["detail-type"]


# ---------------------------------------------------------------- running them


def invoke(api: Api, event_file: str) -> Any:
    return api.handler(function_of(event_file))(sample(event_file), LambdaContext())


def answer(response: dict[str, Any]) -> tuple[int, Any]:
    assert response["headers"]["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


def check_balance_charge(api: Api) -> None:
    status, body = answer(invoke(api, "balance_charge.json"))
    assert status == 200
    assert body == {"userId": "user-1", "balance": BALANCES["user-1"] + 5_000}
    assert BalanceRepository().get("user-1") == BALANCES["user-1"] + 5_000
    assert BalanceRepository().get("user-2") == BALANCES["user-2"]


def check_balance_history(api: Api) -> None:
    status, body = answer(invoke(api, "balance_history.json"))
    assert status == 200
    assert [(e["type"], e["amount"]) for e in body["items"]] == [("CHARGE", BALANCES["user-1"])]
    assert body["nextCursor"] is None


def check_order_inquiry_list(api: Api) -> None:
    OrderService().place(
        Caller("user-1"),
        PlaceOrder.model_validate({"userId": "user-1", "items": [{"productId": "p-mouse", "quantity": 1}]}),
    )
    status, body = answer(invoke(api, "order_inquiry_list.json"))
    assert status == 200
    assert [(o["userId"], o["items"][0]["productId"]) for o in body["items"]] == [("user-1", "p-mouse")]


def check_order_inquiry_get(api: Api) -> None:
    assert answer(invoke(api, "order_inquiry_get.json"))[0] == 404
    OrderRepository().place(
        paid_order([(SEED_PRODUCTS["p-mouse"], 1)], order_id="o-1", user_id="user-1"), SEED_PRODUCTS, None
    )
    status, body = answer(invoke(api, "order_inquiry_get.json"))
    assert (status, body["orderId"], body["userId"]) == (200, "o-1", "user-1")


def check_balance_inquiry(api: Api) -> None:
    assert answer(invoke(api, "balance_inquiry.json")) == (200, {"userId": "user-1", "balance": BALANCES["user-1"]})
    assert BalanceRepository().get("user-1") == BALANCES["user-1"]


def check_create_coupon(api: Api) -> None:
    status, body = answer(invoke(api, "catalogue_admin_create_coupon.json"))
    assert status == 201
    coupon_id = body.pop("couponId")
    assert coupon_id not in SEED_COUPONS
    assert body == {
        "name": "Winter sale",
        "discount": {"type": "PERCENT", "rate": 15},
        "totalQuantity": 500,
        "remainingQuantity": 500,
        "validDays": 14,
    }
    stored = CouponRepository().get(coupon_id)
    assert stored is not None
    assert stored.model_dump(by_alias=True, exclude={"coupon_id"}) == body
    read = api.call("CatalogueAdminFunction", "GET", f"/coupons/{coupon_id}", caller="admin", admin=True)
    assert read == (200, {"couponId": coupon_id, **body})


def check_create_product(api: Api) -> None:
    status, body = answer(invoke(api, "catalogue_admin_create_product.json"))
    assert status == 201
    product_id = body["productId"]
    assert product_id not in SEED_PRODUCTS
    assert body == {"productId": product_id, "name": "USB-C hub", "price": 39_000, "stock": 100}
    assert api.call("ProductInquiryFunction", "GET", f"/products/{product_id}") == (200, body)


def check_get_coupon(api: Api) -> None:
    welcome = SEED_COUPONS["c-welcome"].model_dump(by_alias=True, mode="json")
    assert answer(invoke(api, "catalogue_admin_get_coupon.json")) == (200, welcome)


def check_restock(api: Api) -> None:
    before = SEED_PRODUCTS["p-mouse"].stock
    status, body = answer(invoke(api, "catalogue_admin_restock.json"))
    assert status == 200
    assert body["productId"] == "p-mouse"
    assert body["stock"] == before + 10
    stored = ProductRepository().get("p-mouse")
    assert stored is not None
    assert stored.stock == before + 10
    assert stored.price == SEED_PRODUCTS["p-mouse"].price


def check_coupon_issue(api: Api) -> None:
    status, body = answer(invoke(api, "coupon_issue.json"))
    assert status == 201
    assert (body["couponId"], body["userId"], body["status"]) == ("c-welcome", "user-2", "AVAILABLE")
    assert body["discount"] == {"type": "FIXED", "amount": 5_000}
    held = CouponRepository().issued_to("user-2")
    assert [c.issued_coupon_id for c in held] == [body["issuedCouponId"]]
    campaign = CouponRepository().get("c-welcome")
    assert campaign is not None
    assert campaign.remaining_quantity == SEED_COUPONS["c-welcome"].remaining_quantity - 1
    assert CouponRepository().issued_to("user-1") == []


def check_order_placement(api: Api, aws: Any) -> None:
    keyboard, mouse = SEED_PRODUCTS["p-keyboard"], SEED_PRODUCTS["p-mouse"]
    status, body = answer(invoke(api, "order_placement.json"))
    assert status == 201
    total = keyboard.price * 1 + mouse.price * 2
    assert (body["userId"], body["status"], body["totalAmount"], body["discountAmount"], body["paidAmount"]) == (
        "user-1",
        "PAID",
        total,
        0,
        total,
    )
    stock = ProductRepository().get_many(["p-keyboard", "p-mouse", "p-monitor"])
    assert stock["p-keyboard"].stock == keyboard.stock - 1
    assert stock["p-mouse"].stock == mouse.stock - 2
    assert stock["p-monitor"].stock == SEED_PRODUCTS["p-monitor"].stock
    assert BalanceRepository().get("user-1") == BALANCES["user-1"] - total
    record = aws.get_item(TableName="OrdersTable", Key={"orderId": {"S": body["orderId"]}}, ConsistentRead=True)
    assert record["Item"]["paidAmount"] == {"N": str(total)}


def check_popular_products(api: Api) -> None:
    status, body = answer(invoke(api, "popular_products.json"))
    assert status == 200
    assert body["items"] == []  # the seed sold nothing
    today_in_seoul = datetime.now(ZoneInfo("Asia/Seoul")).date()
    assert body["to"] == today_in_seoul.isoformat()
    assert body["from"] == (today_in_seoul - timedelta(days=2)).isoformat()


def check_product_get(api: Api) -> None:
    keyboard = SEED_PRODUCTS["p-keyboard"].model_dump(by_alias=True)
    assert answer(invoke(api, "product_inquiry_get.json")) == (200, keyboard)


def check_product_list(api: Api) -> None:
    status, body = answer(invoke(api, "product_inquiry_list.json"))
    assert status == 200
    assert len(body["items"]) == 2  # limit=2
    for item in body["items"]:
        assert item == SEED_PRODUCTS[item["productId"]].model_dump(by_alias=True)
    assert isinstance(body["nextCursor"], str)  # seven products: there is a next page


def check_sales_counter(api: Api) -> None:
    event = sample("sales_counter.json")
    order_id = event["detail"]["dynamodb"]["NewImage"]["orderId"]["S"]
    assert invoke(api, "sales_counter.json") == {"orderId": order_id, "status": "COUNTED"}
    per_product, total = SalesRepository().day(date(2026, 11, 24))  # 09:30 in Seoul on the 24th
    assert [(s.product_id, s.sold_quantity, s.price) for s in per_product] == [("p-keyboard", 1, 89_000)]
    assert total == 1


def check_ledger_reconciliation(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    answer = invoke(api, "ledger_reconciliation.json")
    assert answer == {"users": len(BALANCES), "entries": len(BALANCES), "orders": 0, "findings": 0, "unsettled": 0}
    printed = capsys.readouterr().out
    assert emf.metric_values(printed, "LedgerMismatch") == [0]
    assert emf.metric_values(printed, "LedgerUsersChecked") == [len(BALANCES)]


def check_another_users_balance(api: Api) -> None:
    event = sample("balance_inquiry_another_user.json")
    assert event["requestContext"]["authorizer"]["lambda"] == {"sub": "user-2", "admin": False}
    status, body = answer(invoke(api, "balance_inquiry_another_user.json"))
    assert (status, body["code"]) == (403, "FORBIDDEN")
    assert str(BALANCES["user-1"]) not in json.dumps(body)


def check_charge_for_another_user(api: Api) -> None:
    status, body = answer(invoke(api, "balance_charge_another_user.json"))
    assert (status, body["code"]) == (403, "FORBIDDEN")
    assert BalanceRepository().get("user-1") == BALANCES["user-1"]
    assert BalanceRepository().get("user-2") == BALANCES["user-2"]


def check_create_product_not_admin(api: Api) -> None:
    before = ProductRepository().page(100, None)
    status, body = answer(invoke(api, "catalogue_admin_create_product_not_admin.json"))
    assert (status, body["code"]) == (403, "FORBIDDEN")
    assert ProductRepository().page(100, None) == before


def check_order_without_caller(api: Api, aws: Any) -> None:
    status, body = answer(invoke(api, "order_placement_no_caller.json"))
    assert (status, body["code"]) == (401, "UNAUTHORIZED")
    assert aws.scan(TableName="OrdersTable")["Items"] == []
    assert BalanceRepository().get("user-1") == BALANCES["user-1"]


def check_authorizer_refuses_an_unsigned_token(api: Api) -> None:
    event = sample("authorizer_unsigned_token.json")
    assert event["identitySource"][0].endswith(".")  # alg none: no signature at all
    assert invoke(api, "authorizer_unsigned_token.json") == {"isAuthorized": False}


def check_user_coupons(api: Api) -> None:
    assert answer(invoke(api, "user_coupons.json")) == (200, {"items": []})


def check_forwarder(
    api: Api, data_platform: DataPlatform, data_platform_credential: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATA_PLATFORM_URL", data_platform.url)
    handler = load_handler("DataPlatformForwarderFunction")  # reads the URL and the secret's ARN when loaded
    event = sample("data_platform_forwarder.json")
    image = json.loads(event["Records"][0]["body"])["detail"]["dynamodb"]["NewImage"]
    assert handler(event, LambdaContext()) == {"batchItemFailures": []}
    ((path, headers, body),) = data_platform.received
    assert path == "/orders"
    assert headers["Content-Type"] == "application/json"
    assert headers["Idempotency-Key"] == image["orderId"]["S"]
    assert headers["Authorization"] == f"Bearer {data_platform_credential}"  # the secret's value
    assert body["orderId"] == image["orderId"]["S"]
    assert body["paidAmount"] == int(image["paidAmount"]["N"])
    assert body["items"] == [
        {"productId": "p-keyboard", "name": "Mechanical keyboard", "unitPrice": 89_000, "quantity": 1}
    ]
    assert body["createdAt"] == "2026-11-24T09:30:00+09:00"


def check_pre_traffic_hook(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The new versions (here the handlers, on the seed data) pass: CodeDeploy is told Succeeded
    for the sample's deployment and execution."""
    event = sample("pre_traffic_hook.json")
    monkeypatch.setenv("PRODUCT_INQUIRY_VERSION", PRODUCTS_VERSION)
    monkeypatch.setenv("BALANCE_INQUIRY_VERSION", BALANCE_VERSION)
    monkeypatch.setenv("SMOKE_TEST_USER_ID", "user-1")
    codedeploy = boto3.client("codedeploy", region_name="us-east-1")
    handler = load_handler("PreTrafficHookFunction")
    smoke_test = PreTrafficSmokeTest(FunctionVersions(HandlersAsVersions(REAL_FUNCTIONS)), LifecycleHooks(codedeploy))
    monkeypatch.setattr(sys.modules[handler.__module__], "smoke_test", smoke_test)
    with Stubber(codedeploy) as stubber:
        stubber.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"]},
            {
                "deploymentId": event["DeploymentId"],
                "lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"],
                "status": "Succeeded",
            },
        )
        assert handler(event, LambdaContext()) == {"status": "Succeeded"}
        stubber.assert_no_pending_responses()


CHECKS: dict[str, Callable[..., None]] = {
    "pre_traffic_hook.json": check_pre_traffic_hook,
    "authorizer_unsigned_token.json": check_authorizer_refuses_an_unsigned_token,
    "balance_charge_another_user.json": check_charge_for_another_user,
    "balance_inquiry_another_user.json": check_another_users_balance,
    "catalogue_admin_create_product_not_admin.json": check_create_product_not_admin,
    "order_placement_no_caller.json": check_order_without_caller,
    "balance_charge.json": check_balance_charge,
    "balance_history.json": check_balance_history,
    "balance_inquiry.json": check_balance_inquiry,
    "catalogue_admin_create_coupon.json": check_create_coupon,
    "catalogue_admin_create_product.json": check_create_product,
    "catalogue_admin_get_coupon.json": check_get_coupon,
    "catalogue_admin_restock.json": check_restock,
    "coupon_issue.json": check_coupon_issue,
    "data_platform_forwarder.json": check_forwarder,
    "order_inquiry_get.json": check_order_inquiry_get,
    "order_inquiry_list.json": check_order_inquiry_list,
    "order_placement.json": check_order_placement,
    "popular_products.json": check_popular_products,
    "product_inquiry_get.json": check_product_get,
    "product_inquiry_list.json": check_product_list,
    "sales_counter.json": check_sales_counter,
    "ledger_reconciliation.json": check_ledger_reconciliation,
    "user_coupons.json": check_user_coupons,
}


@pytest.mark.parametrize("event_file", EVENT_FILES)
def test_sample_event(event_file: str, seeded: None, request: pytest.FixtureRequest) -> None:
    """Run the sample on the seed data and check its answer and its effect (each check asks for
    the fixtures it needs by name)."""
    check = CHECKS[event_file]
    check(**{name: request.getfixturevalue(name) for name in inspect.signature(check).parameters})
