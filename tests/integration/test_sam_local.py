"""The real SAM CLI in Docker: every sample event through `sam local invoke`, and the contract through
`sam local start-api` (`local_runtime.sam_local`, what `make invoke` and `make sam-api` run).

One `scripts/lambda-image.sh ensure`, one `sam build`, one DynamoDB Local with the sample data and
one local data platform serve the whole module. Without a Docker engine the tests are skipped with
one line; with CI=true that is a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_runtime import ports, sam_local
from tests.support.sam_local import Answer, Tables, http, require_engine

pytestmark = pytest.mark.docker

EVENTS_DIR = sam_local.ROOT / "events"
EVENT_FILES = sorted(path.name for path in EVENTS_DIR.glob("*.json"))


# ---------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def sam_engine() -> sam_local.Engine:
    return require_engine()


@pytest.fixture(scope="session")
def sam_backends(sam_engine: sam_local.Engine) -> Iterator[sam_local.Backends]:
    """`sam build` (cached) while DynamoDB Local starts with the tables and the sample data, and the
    local data platform on the Docker bridge address."""
    backends = sam_local.prepare(progress=lambda _: None)
    try:
        yield backends
    finally:
        backends.stop()


@pytest.fixture(scope="session")
def tables(sam_backends: sam_local.Backends) -> Tables:
    return Tables(sam_backends.dynamodb.endpoint)


@dataclass
class Run:
    """One sample event, about to go through `sam local invoke`."""

    name: str
    backends: sam_local.Backends
    tables: Tables

    @property
    def path(self) -> Path:
        return EVENTS_DIR / self.name

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.path.read_text())  # type: ignore[no-any-return]

    @property
    def request(self) -> Any:
        """The JSON body of an HTTP event."""
        return json.loads(self.event.get("body") or "null")

    def invoke(self) -> Answer:
        function = sam_local.function_for_event(self.name)
        assert function is not None
        logs: list[str] = []
        raw = sam_local.invoke(function, self.path, self.backends, logs=logs.append)
        return Answer(raw, logs)


# ------------------------------------------------------------------------- what each event must do

CHECKS: dict[str, Callable[[Run], None]] = {}


def check(event_name: str) -> Callable[[Callable[[Run], None]], Callable[[Run], None]]:
    def register(function: Callable[[Run], None]) -> Callable[[Run], None]:
        CHECKS[event_name] = function
        return function

    return register


def _user(run: Run) -> str:
    return str(run.event["pathParameters"]["userId"])


@check("balance_charge.json")
def _balance_charge(run: Run) -> None:
    user, amount = _user(run), run.request["amount"]
    before = run.tables.balance(user)
    answer = run.invoke()
    assert answer.status == 200, answer.why()
    assert answer.body == {"userId": user, "balance": before + amount}
    assert run.tables.balance(user) == before + amount


@check("balance_history.json")
def _balance_history(run: Run) -> None:
    user = _user(run)
    answer = run.invoke()
    assert answer.status == 200, answer.why()
    stored = run.tables.query("LedgerTable", "userId", user)
    assert {entry["entryId"] for entry in answer.body["items"]} == {entry["entryId"] for entry in stored}
    signed = [e["amount"] if e["type"] == "CHARGE" else -e["amount"] for e in answer.body["items"]]
    assert sum(signed) == run.tables.balance(user)


@check("balance_inquiry.json")
def _balance_inquiry(run: Run) -> None:
    user = _user(run)
    before = run.tables.balance(user)
    answer = run.invoke()
    assert answer.status == 200, answer.why()
    assert answer.body == {"userId": user, "balance": before}
    assert run.tables.balance(user) == before


@check("catalogue_admin_create_coupon.json")
def _create_coupon(run: Run) -> None:
    answer = run.invoke()
    assert answer.status == 201, answer.why()
    stored = run.tables.item("CouponsTable", couponId=answer.body["couponId"])
    assert stored is not None, "the new coupon campaign is not in CouponsTable"
    assert stored["name"] == run.request["name"]
    assert stored["discount"] == run.request["discount"]
    assert stored["totalQuantity"] == stored["remainingQuantity"] == run.request["totalQuantity"]


@check("catalogue_admin_create_product.json")
def _create_product(run: Run) -> None:
    answer = run.invoke()
    assert answer.status == 201, answer.why()
    stored = run.tables.item("ProductsTable", productId=answer.body["productId"])
    assert stored == {"productId": answer.body["productId"], **run.request}


@check("catalogue_admin_get_coupon.json")
def _get_coupon(run: Run) -> None:
    coupon_id = run.event["pathParameters"]["couponId"]
    answer = run.invoke()
    assert answer.status == 200, answer.why()
    assert answer.body["couponId"] == coupon_id
    assert answer.body["remainingQuantity"] == run.tables.remaining(coupon_id)


@check("catalogue_admin_restock.json")
def _restock(run: Run) -> None:
    product_id, quantity = run.event["pathParameters"]["productId"], run.request["quantity"]
    before = run.tables.stock(product_id)
    answer = run.invoke()
    assert answer.status == 200, answer.why()
    assert answer.body["stock"] == before + quantity
    assert run.tables.stock(product_id) == before + quantity


@check("coupon_issue.json")
def _issue_coupon(run: Run) -> None:
    coupon_id, user = run.event["pathParameters"]["couponId"], run.request["userId"]
    remaining = run.tables.remaining(coupon_id)
    answer = run.invoke()
    assert answer.status == 201, answer.why()
    assert answer.body["couponId"] == coupon_id and answer.body["userId"] == user
    assert answer.body["status"] == "AVAILABLE"
    stored = run.tables.item("IssuedCouponsTable", userId=user, issuedCouponId=answer.body["issuedCouponId"])
    assert stored is not None and stored["couponId"] == coupon_id, "no issued coupon in IssuedCouponsTable"
    assert run.tables.remaining(coupon_id) == remaining - 1


@check("data_platform_forwarder.json")
def _forward(run: Run) -> None:
    (record,) = run.event["Records"]
    image = json.loads(record["body"])["detail"]["dynamodb"]["NewImage"]
    order_id = image["orderId"]["S"]
    answer = run.invoke()
    assert answer.raw == {"batchItemFailures": []}, answer.why()
    received = run.backends.data_platform.store.orders
    assert order_id in received, "the local data platform did not receive the order"
    assert received[order_id]["paidAmount"] == int(image["paidAmount"]["N"])


@check("order_inquiry_get.json")
def _get_order(run: Run) -> None:
    order_id = run.event["pathParameters"]["orderId"]
    stored = run.tables.item("OrdersTable", orderId=order_id)
    answer = run.invoke()
    if stored is None:
        assert (answer.status, answer.body["code"]) == (404, "ORDER_NOT_FOUND"), answer.why()
    else:
        assert (answer.status, answer.body["orderId"]) == (200, order_id), answer.why()


@check("order_inquiry_list.json")
def _list_orders(run: Run) -> None:
    user = _user(run)
    answer = run.invoke()
    assert answer.status == 200, answer.why()
    for order in answer.body["items"]:
        stored = run.tables.item("OrdersTable", orderId=order["orderId"])
        assert stored is not None and stored["userId"] == user


@check("order_placement.json")
def _place_order(run: Run) -> None:
    user, lines = run.request["userId"], run.request["items"]
    balance = run.tables.balance(user)
    stocks = {line["productId"]: run.tables.stock(line["productId"]) for line in lines}
    answer = run.invoke()
    assert answer.status == 201, answer.why()
    order = answer.body
    assert order["status"] == "PAID" and order["userId"] == user
    assert order["paidAmount"] == order["totalAmount"] - order["discountAmount"]
    assert run.tables.balance(user) == balance - order["paidAmount"]
    for line in lines:
        assert run.tables.stock(line["productId"]) == stocks[line["productId"]] - line["quantity"]
    stored = run.tables.item("OrdersTable", orderId=order["orderId"])
    assert stored is not None, "no order item in OrdersTable"
    assert stored["paidAmount"] == order["paidAmount"] and stored["userId"] == user


@check("popular_products.json")
def _popular(run: Run) -> None:
    answer = run.invoke()
    assert answer.status == 200, answer.why()
    assert isinstance(answer.body["items"], list) and answer.body["from"] <= answer.body["to"]


@check("product_inquiry_get.json")
def _get_product(run: Run) -> None:
    product_id = run.event["pathParameters"]["productId"]
    answer = run.invoke()
    assert answer.status == 200, answer.why()
    assert answer.body == run.tables.item("ProductsTable", productId=product_id)


@check("product_inquiry_list.json")
def _list_products(run: Run) -> None:
    limit = int(run.event["queryStringParameters"]["limit"])
    answer = run.invoke()
    assert answer.status == 200, answer.why()
    assert len(answer.body["items"]) == limit
    assert answer.body["nextCursor"]
    for product in answer.body["items"]:
        assert run.tables.item("ProductsTable", productId=product["productId"]) == product


@check("sales_counter.json")
def _count_sales(run: Run) -> None:
    image = run.event["detail"]["dynamodb"]["NewImage"]
    order_id, day = image["orderId"]["S"], image["createdAt"]["S"][:10]
    lines = {line["M"]["productId"]["S"]: int(line["M"]["quantity"]["N"]) for line in image["items"]["L"]}
    answer = run.invoke()
    assert answer.raw == {"orderId": order_id, "status": "COUNTED"}, answer.why()
    for product_id, units in lines.items():
        count = run.tables.item("SalesTable", pk=f"DAY#{day}", sk=f"PRODUCT#{product_id}")
        assert count is not None and count["units"] == units, f"no day count of {product_id} for {day}: {count}"
    assert run.tables.item("SalesTable", pk=f"ORDER#{order_id}", sk="COUNTED") is not None


@check("user_coupons.json")
def _user_coupons(run: Run) -> None:
    user = _user(run)
    answer = run.invoke()
    assert answer.status == 200, answer.why()
    stored = {item["issuedCouponId"] for item in run.tables.query("IssuedCouponsTable", "userId", user)}
    assert {coupon["issuedCouponId"] for coupon in answer.body["items"]} == stored


# ------------------------------------------------------------------------------------------- tests


def test_every_event_and_every_function_is_mapped() -> None:
    """Each file in events/ belongs to a function of the template and has a check here, and each
    function of the template has at least one sample event."""
    assert EVENT_FILES, "no sample events in events/"
    mapped = {name: sam_local.function_for_event(name) for name in EVENT_FILES}
    assert not [name for name, function in mapped.items() if function is None], (
        f"events not matching any functions/<use_case>/ of the template: {mapped}"
    )
    without_event = set(sam_local.functions()) - set(mapped.values())
    assert not without_event, f"functions with no sample event in events/: {sorted(without_event)}"
    assert not set(EVENT_FILES) - set(CHECKS), f"events with no check in this file: {set(EVENT_FILES) - set(CHECKS)}"
    assert not set(CHECKS) - set(EVENT_FILES), f"checks for missing events: {set(CHECKS) - set(EVENT_FILES)}"


@pytest.mark.parametrize("event_name", EVENT_FILES)
def test_sample_event_through_sam_local_invoke(
    event_name: str, sam_backends: sam_local.Backends, tables: Tables
) -> None:
    if event_name not in CHECKS:
        pytest.fail(f"events/{event_name} has no check in {Path(__file__).name}", pytrace=False)
    CHECKS[event_name](Run(event_name, sam_backends, tables))


# ------------------------------------------------------------------------------ start-api smoke run


@pytest.fixture(scope="module")
def sam_api(sam_backends: sam_local.Backends, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`sam local start-api --warm-containers EAGER` on a free port; its base URL."""
    log_path = tmp_path_factory.mktemp("sam-api") / "start-api.log"
    with log_path.open("wb") as log:
        api = sam_local.SamApi(sam_backends, port=ports.free_port(), output=log)
        try:
            api.start().wait_ready()
        except BaseException:
            api.stop()
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
            pytest.fail(f"sam local start-api did not come up; last output:\n{tail}", pytrace=False)
        try:
            yield api.url
        finally:
            api.stop()


SMOKE_USER = "sam-api-smoke-user"


def test_contract_through_sam_local_start_api(sam_api: str, tables: Tables) -> None:
    """Charge, a missing product, a coupon, an order and its refusals, over HTTP through SAM's gateway
    and one container per function; the database shows each effect, and a refusal changes nothing."""
    status, body = http(sam_api, "POST", f"/users/{SMOKE_USER}/balance/charge", {"amount": 30_000})
    assert (status, body) == (200, {"userId": SMOKE_USER, "balance": 30_000})
    assert tables.balance(SMOKE_USER) == 30_000

    status, body = http(sam_api, "GET", "/products/nope")
    assert status == 404 and body["code"] == "PRODUCT_NOT_FOUND", body

    status, product = http(sam_api, "POST", "/products", {"name": "Smoke lamp", "price": 12_000, "stock": 3})
    assert status == 201, product
    product_id = product["productId"]

    status, coupon = http(sam_api, "POST", "/coupons/c-welcome/issue", {"userId": SMOKE_USER})
    assert status == 201 and coupon["couponId"] == "c-welcome" and coupon["status"] == "AVAILABLE", coupon

    order = {
        "userId": SMOKE_USER,
        "items": [{"productId": product_id, "quantity": 2}],
        "issuedCouponId": coupon["issuedCouponId"],
    }
    status, placed = http(sam_api, "POST", "/orders", order)
    assert status == 201, placed
    assert (placed["totalAmount"], placed["discountAmount"], placed["paidAmount"]) == (24_000, 5_000, 19_000)
    assert tables.balance(SMOKE_USER) == 11_000 and tables.stock(product_id) == 1
    assert tables.item("OrdersTable", orderId=placed["orderId"]) is not None

    beyond_stock = {"userId": SMOKE_USER, "items": [{"productId": product_id, "quantity": 2}]}
    status, body = http(sam_api, "POST", "/orders", beyond_stock)
    assert status == 409 and body["code"] == "OUT_OF_STOCK", body

    beyond_balance = {"userId": SMOKE_USER, "items": [{"productId": product_id, "quantity": 1}]}
    status, body = http(sam_api, "POST", "/orders", beyond_balance)
    assert status == 409 and body["code"] == "INSUFFICIENT_BALANCE", body

    assert tables.balance(SMOKE_USER) == 11_000 and tables.stock(product_id) == 1
    status, body = http(sam_api, "GET", f"/users/{SMOKE_USER}/balance")
    assert (status, body) == (200, {"userId": SMOKE_USER, "balance": 11_000})
