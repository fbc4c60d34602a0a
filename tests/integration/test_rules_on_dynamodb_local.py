"""The rules the database enforces, on Amazon's DynamoDB Local (which refuses things moto lets pass),
and raced by many threads at once: the counts must be exact, and the calls must have overlapped
(many in flight at once; for the charges, which read the balance and write it on condition that it
has not changed, transactions refused because another charge changed it in between)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from shop import clock
from shop.errors import (
    AlreadyApplied,
    AlreadyCounted,
    BalanceLimitExceeded,
    CouponAlreadyIssued,
    CouponNotFound,
    CouponSoldOut,
    InsufficientBalance,
    InvalidCoupon,
    OutOfStock,
    PriceChanged,
    ProductNotFound,
    Refusal,
    ShardSoldOut,
)
from shop.identity import Caller
from shop.ids import issued_coupon_id
from shop.models.balance import BALANCE_LIMIT
from shop.models.coupon import Coupon, FixedDiscount, IssuedCoupon
from shop.models.ledger import Entry
from shop.models.order import PlaceOrder
from shop.models.product import Product
from shop.repositories import dynamodb
from shop.repositories.balances import BalanceRepository
from shop.repositories.coupons import CouponRepository
from shop.repositories.ledger import LedgerRepository
from shop.repositories.orders import OrderRepository
from shop.repositories.products import ProductRepository
from shop.repositories.sales import SalesRepository
from shop.services.balance import BalanceService
from shop.services.coupons import CouponService
from shop.services.orders import OrderService
from tests.support.orders import paid_order


class Raced(Counter[str]):
    """The outcomes of a race by name, and the most calls that were running at once."""

    most_in_flight: int = 0


def race(calls: list[Any], workers: int = 16) -> Raced:
    """Run the calls at once; count each outcome by the name of the error (or "ok")."""
    moments: list[tuple[float, int]] = []
    lock = threading.Lock()

    def outcome(call: Any) -> str:
        started = time.monotonic()
        try:
            call()
        except Refusal as error:
            return type(error).__name__
        finally:
            with lock:
                moments.extend([(started, 1), (time.monotonic(), -1)])
        return "ok"

    with ThreadPoolExecutor(max_workers=workers) as pool:
        raced = Raced(pool.map(outcome, calls))
    in_flight = 0
    for _, change in sorted(moments):  # an end before a start at the same moment
        in_flight += change
        raced.most_in_flight = max(raced.most_in_flight, in_flight)
    return raced


@pytest.fixture
def transactions(local_db: Any) -> Counter[str]:
    """The layer's TransactWriteItems during the test, by outcome: `Committed`, `Cancelled:<reason>`
    for each reason of a cancelled one, or the error code (botocore's after-call event)."""
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def count(parsed: dict[str, Any], **_: Any) -> None:
        error = parsed.get("Error") or {}
        if not error:
            outcomes = ["Committed"]
        elif error.get("Code") == "TransactionCanceledException":
            reasons = [reason.get("Code") for reason in parsed.get("CancellationReasons") or []]
            outcomes = [f"Cancelled:{code}" for code in reasons if code not in (None, "None")]
        else:
            outcomes = [str(error.get("Code"))]
        with lock:
            seen.update(outcomes)

    dynamodb.client().meta.events.register("after-call.dynamodb.TransactWriteItems", count)
    return seen


STALE_READS = "Cancelled:ConditionalCheckFailed"
"""Transactions refused on a condition the read before them said would hold: another call changed
the item in between (one call at a time, each reads what the last one wrote)."""


def campaign(coupon_id: str, quantity: int, shards: int = 1) -> None:
    CouponRepository().create(
        Coupon(
            coupon_id=coupon_id,
            name="Race",
            discount=FixedDiscount(type="FIXED", amount=100),
            total_quantity=quantity,
            remaining_quantity=quantity,
            valid_days=1,
        ),
        shards,
    )


def test_charges_raced_on_one_balance_stop_exactly_at_the_cap(transactions: Counter[str]) -> None:
    service = BalanceService()
    answered: list[int] = []
    outcomes = race(
        [lambda: answered.append(service.charge(Caller("racer"), "racer", 1_000_000).balance) for _ in range(30)]
    )
    assert outcomes == Counter({"ok": 10, "BalanceLimitExceeded": 20})
    assert outcomes.most_in_flight >= 8, outcomes.most_in_flight
    assert transactions[STALE_READS] > 0, transactions  # a balance changed between a charge's read and write
    assert sorted(answered) == [n * 1_000_000 for n in range(1, 11)]  # each the balance it made
    assert BalanceRepository().get("racer") == BALANCE_LIMIT
    entries = LedgerRepository().page("racer", 100, None).items
    assert [entry.amount for entry in entries] == [1_000_000] * 10


def test_a_charge_transaction_sent_twice_applies_once(local_db: Any) -> None:
    """The same transaction (same token, same entry) sent again, as after a lost answer: DynamoDB
    Local either answers it from the token or refuses the entry that exists; the money moves once."""
    repository, ledger = BalanceRepository(), LedgerRepository()
    entry = Entry(entry_id="e-1", type="CHARGE", amount=700, at=clock.now())
    items = [
        {
            "Update": {
                "TableName": "BalancesTable",
                "Key": {"userId": {"S": "twice"}},
                "UpdateExpression": "ADD balance :amount",
                "ExpressionAttributeValues": {":amount": {"N": "700"}},
            }
        },
        ledger.record("twice", entry),
    ]
    local_db.transact_write_items(TransactItems=items, ClientRequestToken="same-token")
    with contextlib.suppress(local_db.exceptions.TransactionCanceledException):
        local_db.transact_write_items(TransactItems=items, ClientRequestToken="same-token")
    with pytest.raises(AlreadyApplied):
        repository.charge("twice", 700, BALANCE_LIMIT, lambda after: ledger.record("twice", entry, after))
    assert repository.get("twice") == 700
    assert [e.entry_id for e in ledger.page("twice", 10, None).items] == ["e-1"]


def test_a_charge_past_the_cap_is_refused_by_the_condition(local_db: Any) -> None:
    BalanceService().charge(Caller("u"), "u", BALANCE_LIMIT - 5)
    with pytest.raises(BalanceLimitExceeded):
        BalanceService().charge(Caller("u"), "u", 6)
    assert BalanceService().charge(Caller("u"), "u", 5).balance == BALANCE_LIMIT


def test_coupons_raced_by_many_users_are_issued_exactly_as_many_as_there_are(local_db: Any) -> None:
    campaign("hot", 25)
    service = CouponService()
    outcomes = race([lambda n=n: service.issue(Caller(f"user-{n}"), "hot") for n in range(120)])
    assert outcomes == Counter({"ok": 25, "CouponSoldOut": 95})
    assert outcomes.most_in_flight >= 8, outcomes.most_in_flight
    coupon = CouponRepository().get("hot")
    assert coupon is not None and coupon.remaining_quantity == 0
    holders = [n for n in range(120) if CouponRepository().issued_to(f"user-{n}")]
    assert len(holders) == 25


def test_one_user_racing_for_one_campaign_gets_one_coupon(local_db: Any) -> None:
    campaign("once", 10)
    service = CouponService()
    outcomes = race([lambda: service.issue(Caller("greedy"), "once") for _ in range(20)])
    assert outcomes == Counter({"ok": 1, "CouponAlreadyIssued": 19})
    assert outcomes.most_in_flight >= 8, outcomes.most_in_flight
    coupon = CouponRepository().get("once")
    assert coupon is not None and coupon.remaining_quantity == 9


def issued(coupon_id: str, user_id: str) -> IssuedCoupon:
    now = clock.now()
    return IssuedCoupon(
        issued_coupon_id=issued_coupon_id(coupon_id, user_id),
        coupon_id=coupon_id,
        user_id=user_id,
        name="Race",
        discount=FixedDiscount(type="FIXED", amount=100),
        status="AVAILABLE",
        issued_at=now,
        expires_at=now + timedelta(days=1),
    )


def test_the_issue_transaction_names_what_failed(local_db: Any) -> None:
    repository = CouponRepository()
    with pytest.raises(CouponNotFound):
        repository.issue(issued("missing", "u"))
    campaign("one", 1)
    repository.issue(issued("one", "u"))
    with pytest.raises(CouponAlreadyIssued):
        repository.issue(issued("one", "u"))
    with pytest.raises(ShardSoldOut):  # the shard's signal: the service answers COUPON_SOLD_OUT
        repository.issue(issued("one", "v"))
    with pytest.raises(CouponSoldOut):
        CouponService().issue(Caller("v"), "one", "v")


def one_unit(user_id: str, product_id: str, issued_coupon_id: str | None = None) -> PlaceOrder:
    body: dict[str, Any] = {"userId": user_id, "items": [{"productId": product_id, "quantity": 1}]}
    if issued_coupon_id:
        body["issuedCouponId"] = issued_coupon_id
    return PlaceOrder.model_validate(body)


def test_buyers_raced_on_one_product_buy_exactly_the_stock(local_db: Any) -> None:
    ProductRepository().create(Product(product_id="hot", name="Hot", price=100, stock=20))
    for n in range(60):
        BalanceService().charge(Caller(f"buyer-{n}"), f"buyer-{n}", 1_000)
    service = OrderService()
    orders = [one_unit(f"buyer-{n}", "hot") for n in range(60)]
    outcomes = race([lambda o=o: service.place(Caller(str(o.user_id)), o) for o in orders])
    assert outcomes == Counter({"ok": 20, "OutOfStock": 40})
    assert outcomes.most_in_flight >= 8, outcomes.most_in_flight
    product = ProductRepository().get("hot")
    assert product is not None and product.stock == 0
    assert local_db.scan(TableName="OrdersTable", Select="COUNT")["Count"] == 20
    spent = sum(1_000 - BalanceRepository().get(f"buyer-{n}") for n in range(60))
    assert spent == 20 * 100


def test_orders_raced_on_one_balance_spend_it_exactly(local_db: Any) -> None:
    ProductRepository().create(Product(product_id="item", name="Item", price=300, stock=1_000))
    BalanceService().charge(Caller("spender"), "spender", 1_000)
    service = OrderService()
    order = one_unit("spender", "item")
    outcomes = race([lambda: service.place(Caller("spender"), order) for _ in range(20)])
    assert outcomes == Counter({"ok": 3, "InsufficientBalance": 17})
    assert outcomes.most_in_flight >= 8, outcomes.most_in_flight
    assert BalanceRepository().get("spender") == 100
    product = ProductRepository().get("item")
    assert product is not None and product.stock == 997


def test_one_coupon_raced_by_its_owner_is_used_once(local_db: Any) -> None:
    ProductRepository().create(Product(product_id="item", name="Item", price=300, stock=1_000))
    BalanceService().charge(Caller("owner"), "owner", 100_000)
    campaign("c", 5)
    coupon = CouponService().issue(Caller("owner"), "c")
    service = OrderService()
    order = one_unit("owner", "item", coupon.issued_coupon_id)
    outcomes = race([lambda: service.place(Caller("owner"), order) for _ in range(10)])
    assert outcomes == Counter({"ok": 1, "InvalidCoupon": 9})
    assert outcomes.most_in_flight >= 5, outcomes.most_in_flight
    assert BalanceRepository().get("owner") == 100_000 - 200


def place(lines: list[tuple[Product, int]], user_id: str = "payer", coupon: IssuedCoupon | None = None) -> None:
    OrderRepository().place(
        paid_order(lines, order_id=f"o-{user_id}", user_id=user_id, coupon=coupon),
        {p.product_id: p for p, _ in lines},
        coupon,
    )


def test_the_order_transaction_names_the_condition_that_failed(local_db: Any) -> None:
    pen = Product(product_id="pen", name="Pen", price=100, stock=5)
    ink = Product(product_id="ink", name="Ink", price=50, stock=1)
    ProductRepository().create(pen)
    ProductRepository().create(ink)
    BalanceService().charge(Caller("payer"), "payer", 1_000)

    with pytest.raises(OutOfStock) as refused:
        place([(pen, 1), (ink.model_copy(update={"stock": 9}), 2)])
    assert refused.value.product_id == "ink"
    with pytest.raises(ProductNotFound):
        place([(Product(product_id="ghost", name="G", price=1, stock=1), 1)])
    with pytest.raises(PriceChanged):
        place([(pen.model_copy(update={"price": 90}), 1)])
    with pytest.raises(InsufficientBalance):
        place([(pen, 5)], user_id="poor")
    with pytest.raises(InvalidCoupon):
        place([(pen, 1)], coupon=issued("nothing", "payer"))

    assert BalanceRepository().get("payer") == 1_000
    assert [ProductRepository().get(p).stock for p in ("pen", "ink")] == [5, 1]  # type: ignore[union-attr]
    assert local_db.scan(TableName="OrdersTable", Select="COUNT")["Count"] == 0


def test_an_order_is_counted_once_however_often_it_is_delivered(local_db: Any) -> None:
    pen = Product(product_id="pen", name="Pen", price=100, stock=5)
    order = paid_order([(pen, 3)], order_id="o-counted", user_id="counted")
    day = clock.business_day(order.created_at)
    sales = SalesRepository()
    sales.count(order, day)
    with pytest.raises(AlreadyCounted):
        sales.count(order, day)
    counts, total = sales.day(day)
    assert [(s.product_id, s.sold_quantity) for s in counts] == [("pen", 3)]
    assert total == 3
