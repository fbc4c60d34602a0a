"""The real SAM CLI in Docker: every sample event through SAM's local Lambda runtime, the contract
through `make sam-api`, and `make invoke` once (`local_runtime.sam_local`, what the targets run).

One `scripts/lambda-image.sh ensure`, one `sam build`, one DynamoDB Local with the sample data and
one local data platform serve the sample events. These go, one at a time, through one
`sam local start-lambda --warm-containers EAGER` (a warm container per function, invoked with a boto3
Lambda client): a `sam local invoke` each would start a SAM CLI and a container per event. The
`sam local invoke` path itself is tested by `make invoke`, which runs it for real. `make invoke` and
`make sam-api` run as a newcomer runs them: PATH and a fresh HOME, no AWS configuration
(`tests.support.newcomer`). Without a Docker engine the tests are skipped with one line; with
CI=true that is a failure.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local_runtime import issuer, ports, sam_local, seed
from tests.support import newcomer
from tests.support.auth import bearer
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


@pytest.fixture(scope="module")
def sam_lambda(sam_backends: sam_local.Backends) -> Iterator[sam_local.SamLambda]:
    """`sam local start-lambda --warm-containers EAGER` on a free port, on the backends; stopped (and
    its containers removed) after this file."""
    with sam_local.SamLambda(sam_backends, port=ports.free_port()) as service:
        yield service


@pytest.fixture(scope="session")
def tables(sam_backends: sam_local.Backends) -> Tables:
    return Tables(sam_backends.dynamodb.endpoint)


@dataclass
class Run:
    """One sample event, about to go through SAM's local Lambda runtime."""

    name: str
    backends: sam_local.Backends
    tables: Tables
    service: sam_local.SamLambda

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
        raw = self.service.invoke(function, self.path, logs=logs.append)
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
    assert stored["totalQuantity"] == run.tables.remaining(answer.body["couponId"]) == run.request["totalQuantity"]


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


@check("balance_inquiry_another_user.json")
def _another_users_balance(run: Run) -> None:
    answer = run.invoke()
    assert (answer.status, answer.body["code"]) == (403, "FORBIDDEN"), answer.why()


@check("balance_charge_another_user.json")
def _charge_for_another_user(run: Run) -> None:
    user = _user(run)
    before = run.tables.balance(user)
    answer = run.invoke()
    assert (answer.status, answer.body["code"]) == (403, "FORBIDDEN"), answer.why()
    assert run.tables.balance(user) == before


@check("catalogue_admin_create_product_not_admin.json")
def _create_product_not_admin(run: Run) -> None:
    answer = run.invoke()
    assert (answer.status, answer.body["code"]) == (403, "FORBIDDEN"), answer.why()


@check("order_placement_no_caller.json")
def _order_without_caller(run: Run) -> None:
    user = run.request["userId"]
    before = run.tables.balance(user)
    answer = run.invoke()
    assert (answer.status, answer.body["code"]) == (401, "UNAUTHORIZED"), answer.why()
    assert run.tables.balance(user) == before


@check("authorizer_unsigned_token.json")
def _authorizer_refuses(run: Run) -> None:
    answer = run.invoke()
    assert answer.raw == {"isAuthorized": False}, answer.why()


@check("user_coupons.json")
def _user_coupons(run: Run) -> None:
    user = _user(run)
    answer = run.invoke()
    assert answer.status == 200, answer.why()
    stored = {item["issuedCouponId"] for item in run.tables.query("IssuedCouponsTable", "userId", user)}
    assert {coupon["issuedCouponId"] for coupon in answer.body["items"]} == stored


@check("ledger_reconciliation.json")
def _reconcile(run: Run) -> None:
    users = run.tables.resource.Table("BalancesTable").scan(Select="COUNT", ConsistentRead=True)["Count"]
    answer = run.invoke()
    assert isinstance(answer.raw, dict), answer.why()
    # every change above went through the functions, so the money adds up
    assert (answer.raw["findings"], answer.raw["unsettled"]) == (0, 0), answer.why()
    assert answer.raw["users"] >= users > 0, answer.why()
    records = [json.loads(line) for line in answer.logs if line.startswith("{") and '"_aws"' in line]
    counts = [record.get("LedgerMismatch") for record in records]  # EMF: a number, or a list of them
    assert [sum(c) if isinstance(c, list) else c for c in counts] == [0], answer.why()


@check("pre_traffic_hook.json")
def _pre_traffic_hook(run: Run) -> None:
    """Not invoked here: the hook invokes Lambda versions and reports to CodeDeploy, which exist only
    in AWS (tests/unit/test_pre_traffic_hook.py runs it on moto and botocore's Stubber). What is
    checked is that the sample is the event CodeDeploy sends a hook."""
    assert set(run.event) == {"DeploymentId", "LifecycleEventHookExecutionId"}
    assert run.event["DeploymentId"].startswith("d-")


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
def test_sample_event_through_sam_local(
    event_name: str, sam_backends: sam_local.Backends, tables: Tables, sam_lambda: sam_local.SamLambda
) -> None:
    """The event, as its function's Lambda payload, through `sam local start-lambda`'s warm container
    of that function; its check reads the answer, the tables, the data platform or the logs."""
    if event_name not in CHECKS:
        pytest.fail(f"events/{event_name} has no check in {Path(__file__).name}", pytrace=False)
    CHECKS[event_name](Run(event_name, sam_backends, tables, sam_lambda))


# ------------------------------------------------------------------------------ start-api smoke run


def test_make_invoke_needs_no_aws_configuration(sam_engine: sam_local.Engine, tmp_path: Path) -> None:
    """`make invoke` as a newcomer runs it: no AWS_* variable, no ~/.aws (seeding DynamoDB Local
    once died there with NoRegionError). The one real `sam local invoke` of this file."""
    result = newcomer.make(
        "invoke", "FUNCTION=BalanceInquiryFunction", "EVENT=events/balance_inquiry.json", home=tmp_path / "home"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "NoRegionError" not in result.stderr
    answer = json.loads(result.stdout[result.stdout.index("{") :])
    assert answer["statusCode"] == 200, answer
    assert json.loads(answer["body"]) == {"userId": "user-1", "balance": seed.BALANCES["user-1"]}


@dataclass
class SamApi:
    url: str
    tables: Tables


def _wait_for_sam_api(process: Any, url: str, log_path: Path, timeout: float = 300) -> str:
    """The DynamoDB Local endpoint `make sam-api` reports, once its API answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        output = log_path.read_text(errors="replace")
        endpoint = re.search(r"DynamoDB Local: (http://127\.0\.0\.1:\d+)", output)
        if endpoint:
            try:
                status, _ = http(url, "GET", "/products/nope", timeout=10)
            except OSError:
                status = 0
            if status == 404:
                return endpoint.group(1)
        time.sleep(1)
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
    pytest.fail(f"make sam-api did not serve on {url}; last output:\n{tail}", pytrace=False)


@pytest.fixture(scope="module")
def sam_api(sam_engine: sam_local.Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SamApi]:
    """`make sam-api` on a free port, run as a newcomer runs it; its URL and its tables."""
    folder = tmp_path_factory.mktemp("sam-api")
    port = ports.free_port()
    log_path = folder / "make-sam-api.log"
    with log_path.open("wb") as log:
        process = newcomer.start_make("sam-api", f"PORT={port}", home=folder / "home", output=log)
        try:
            endpoint = _wait_for_sam_api(process, f"http://127.0.0.1:{port}", log_path)
            yield SamApi(f"http://127.0.0.1:{port}", Tables(endpoint))
        finally:
            newcomer.stop(process, timeout=90)
    assert "NoRegionError" not in log_path.read_text(errors="replace")


SMOKE_USER = "sam-api-smoke-user"
AS_USER = bearer(SMOKE_USER)
AS_ADMIN = bearer("sam-api-smoke-admin", admin=True)


def test_contract_through_make_sam_api(sam_api: SamApi) -> None:
    """Charge, a missing product, a coupon, an order and its refusals, over HTTP through SAM's gateway
    and one container per function; the database shows each effect, and a refusal changes nothing."""
    url, tables = sam_api.url, sam_api.tables
    status, body = http(url, "POST", f"/users/{SMOKE_USER}/balance/charge", {"amount": 30_000}, headers=AS_USER)
    assert (status, body) == (200, {"userId": SMOKE_USER, "balance": 30_000})
    assert tables.balance(SMOKE_USER) == 30_000

    status, body = http(url, "GET", "/products/nope")
    assert status == 404 and body["code"] == "PRODUCT_NOT_FOUND", body

    status, product = http(
        url, "POST", "/products", {"name": "Smoke lamp", "price": 12_000, "stock": 3}, headers=AS_ADMIN
    )
    assert status == 201, product
    product_id = product["productId"]

    status, coupon = http(url, "POST", "/coupons/c-welcome/issue", {}, headers=AS_USER)
    assert status == 201 and coupon["couponId"] == "c-welcome" and coupon["status"] == "AVAILABLE", coupon

    order = {
        "userId": SMOKE_USER,
        "items": [{"productId": product_id, "quantity": 2}],
        "issuedCouponId": coupon["issuedCouponId"],
    }
    status, placed = http(url, "POST", "/orders", order, headers=AS_USER)
    assert status == 201, placed
    assert (placed["totalAmount"], placed["discountAmount"], placed["paidAmount"]) == (24_000, 5_000, 19_000)
    assert tables.balance(SMOKE_USER) == 11_000 and tables.stock(product_id) == 1
    assert tables.item("OrdersTable", orderId=placed["orderId"]) is not None

    beyond_stock = {"userId": SMOKE_USER, "items": [{"productId": product_id, "quantity": 2}]}
    status, body = http(url, "POST", "/orders", beyond_stock, headers=AS_USER)
    assert status == 409 and body["code"] == "OUT_OF_STOCK", body

    beyond_balance = {"userId": SMOKE_USER, "items": [{"productId": product_id, "quantity": 1}]}
    status, body = http(url, "POST", "/orders", beyond_balance, headers=AS_USER)
    assert status == 409 and body["code"] == "INSUFFICIENT_BALANCE", body

    assert tables.balance(SMOKE_USER) == 11_000 and tables.stock(product_id) == 1
    status, body = http(url, "GET", f"/users/{SMOKE_USER}/balance", headers=AS_USER)
    assert (status, body) == (200, {"userId": SMOKE_USER, "balance": 11_000})


def test_identity_through_make_sam_api(sam_api: SamApi, tmp_path: Path) -> None:
    """The template's Lambda authorizer, in its own container, before every protected route: no
    token 401, a bad token refused by the gateway (its body, not a function's), nothing charged;
    another user's balance 403; catalogue administration 403 for a user, served for an admin."""
    url, tables = sam_api.url, sam_api.tables
    user = "sam-api-identity-user"
    charge = f"/users/{user}/balance/charge"
    status, body = http(url, "POST", charge, {"amount": 1_000})
    assert (status, body) == (401, {"message": "Unauthorized"})
    expired = issuer.issue(user, now=0, ttl=60)
    other_key = issuer.issue(user, path=tmp_path / "other-key.pem")
    for token in ("garbage", expired, other_key):
        status, body = http(url, "POST", charge, {"amount": 1_000}, headers={"Authorization": f"Bearer {token}"})
        assert status in (401, 403) and set(body) == {"message"}, body
    assert tables.balance(user) == 0

    status, body = http(url, "POST", charge, {"amount": 1_000}, headers=bearer(user))
    assert (status, body) == (200, {"userId": user, "balance": 1_000})
    status, body = http(url, "GET", f"/users/{user}/balance", headers=bearer("someone-else"))
    assert (status, body["code"]) == (403, "FORBIDDEN")
    status, body = http(url, "GET", f"/users/{user}/balance", headers=AS_ADMIN)
    assert (status, body) == (200, {"userId": user, "balance": 1_000})

    status, body = http(url, "GET", "/coupons/c-welcome", headers=bearer(user))
    assert (status, body["code"]) == (403, "FORBIDDEN")
    status, body = http(url, "GET", "/coupons/c-welcome", headers=AS_ADMIN)
    assert status == 200 and body["couponId"] == "c-welcome", body
    assert http(url, "GET", "/products/popular")[0] == 200
