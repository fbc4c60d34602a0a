"""Order and payment: one atomic change of stock, balance, coupon and the order record."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_runtime import template
from shop import clock
from shop.errors import ConcurrentUpdate, InsufficientBalance, InvalidCoupon, OutOfStock, PriceChanged, ProductNotFound
from shop.models.product import Product
from shop.repositories import dynamodb
from shop.repositories.orders import OrderRepository
from shop.repositories.products import ProductRepository
from shop.services.orders import OrderService
from tests.support.orders import paid_order

ORDER = "OrderPlacementFunction"
ADMIN = "CatalogueAdminFunction"
CHARGE = "BalanceChargeFunction"
ISSUE = "CouponIssueFunction"


@pytest.fixture
def shop(api: Any) -> Any:
    """Two products and a user with 100,000 won."""
    for product_id, price, stock in (("pen", 1_500, 10), ("book", 33_333, 3)):
        ProductRepository().create(Product(product_id=product_id, name=product_id.title(), price=price, stock=stock))
    api.call(CHARGE, "POST", "/users/buyer/balance/charge", {"amount": 100_000}, caller="buyer")
    return api


def snapshot(aws: Any) -> dict[str, list[Any]]:
    """Every item of every table, to prove a refusal changed nothing."""
    return {
        name: sorted(repr(sorted(item.items())) for item in aws.scan(TableName=name)["Items"])
        for name in template.table_definitions()
    }


def stock(product_id: str) -> int:
    product = ProductRepository().get(product_id)
    assert product is not None
    return product.stock


def balance(api: Any, user_id: str = "buyer") -> int:
    return int(api.call("BalanceInquiryFunction", "GET", f"/users/{user_id}/balance", caller=user_id)[1]["balance"])


def coupon_for(api: Any, user_id: str, discount: dict[str, Any], valid_days: int = 7) -> str:
    body = {"name": "Deal", "discount": discount, "totalQuantity": 10, "validDays": valid_days}
    coupon_id = api.call(ADMIN, "POST", "/coupons", body, caller="admin", admin=True)[1]["couponId"]
    status, issued = api.call(ISSUE, "POST", f"/coupons/{coupon_id}/issue", {"userId": user_id}, caller=user_id)
    assert status == 201, issued
    return str(issued["issuedCouponId"])


def order(api: Any, items: list[tuple[str, int]], user_id: str = "buyer", coupon: str | None = None) -> Any:
    body: dict[str, Any] = {"userId": user_id, "items": [{"productId": p, "quantity": q} for p, q in items]}
    if coupon is not None:
        body["issuedCouponId"] = coupon
    return api.call(ORDER, "POST", "/orders", body, caller=user_id)


def test_an_order_is_paid_and_spends_stock_and_balance(shop: Any, aws: Any) -> None:
    status, placed = order(shop, [("pen", 2), ("book", 1)])
    assert status == 201, placed
    assert placed == {
        "orderId": placed["orderId"],
        "userId": "buyer",
        "items": [
            {"productId": "pen", "name": "Pen", "unitPrice": 1_500, "quantity": 2},
            {"productId": "book", "name": "Book", "unitPrice": 33_333, "quantity": 1},
        ],
        "totalAmount": 36_333,
        "discountAmount": 0,
        "paidAmount": 36_333,
        "issuedCouponId": None,
        "status": "PAID",
        "createdAt": placed["createdAt"],
    }
    assert datetime.fromisoformat(placed["createdAt"]).utcoffset() == timedelta(hours=9)
    assert (stock("pen"), stock("book"), balance(shop)) == (8, 2, 100_000 - 36_333)
    stored = aws.get_item(TableName="OrdersTable", Key={"orderId": {"S": placed["orderId"]}})["Item"]
    stored_order = dynamodb.from_attribute_values(stored)
    assert stored_order.pop("seq").endswith(f"#{placed['orderId']}")
    assert stored_order == {k: v for k, v in placed.items() if v is not None}


def test_a_fixed_coupon_takes_its_amount_off(shop: Any) -> None:
    coupon = coupon_for(shop, "buyer", {"type": "FIXED", "amount": 1_000})
    status, placed = order(shop, [("pen", 2)], coupon=coupon)
    assert status == 201, placed
    assert (placed["totalAmount"], placed["discountAmount"], placed["paidAmount"]) == (3_000, 1_000, 2_000)
    assert placed["issuedCouponId"] == coupon
    assert balance(shop) == 98_000


def test_a_percent_coupon_rounds_the_discount_down_to_the_won(shop: Any) -> None:
    coupon = coupon_for(shop, "buyer", {"type": "PERCENT", "rate": 10})
    status, placed = order(shop, [("book", 1)], coupon=coupon)
    assert status == 201, placed
    assert (placed["totalAmount"], placed["discountAmount"], placed["paidAmount"]) == (33_333, 3_333, 30_000)


def test_a_discount_above_the_total_pays_nothing_and_needs_no_balance(shop: Any) -> None:
    coupon = coupon_for(shop, "broke", {"type": "FIXED", "amount": 50_000})
    status, placed = order(shop, [("pen", 1)], user_id="broke", coupon=coupon)
    assert status == 201, placed
    assert (placed["discountAmount"], placed["paidAmount"]) == (1_500, 0)
    assert balance(shop, "broke") == 0
    assert stock("pen") == 9


def test_a_full_percent_coupon_pays_nothing(shop: Any) -> None:
    coupon = coupon_for(shop, "buyer", {"type": "PERCENT", "rate": 100})
    placed = order(shop, [("book", 3)], coupon=coupon)[1]
    assert (placed["totalAmount"], placed["paidAmount"]) == (99_999, 0)
    assert balance(shop) == 100_000


def test_the_whole_stock_can_be_bought(shop: Any) -> None:
    assert order(shop, [("book", 3)])[0] == 201
    assert stock("book") == 0


def test_an_unknown_product_is_404_and_changes_nothing(shop: Any, aws: Any) -> None:
    before = snapshot(aws)
    status, body = order(shop, [("pen", 1), ("ghost", 1)])
    assert (status, body["code"]) == (404, "PRODUCT_NOT_FOUND")
    assert "ghost" in body["message"]
    assert snapshot(aws) == before


def test_too_little_stock_is_refused_naming_the_product_and_changes_nothing(shop: Any, aws: Any) -> None:
    coupon = coupon_for(shop, "buyer", {"type": "FIXED", "amount": 1_000})
    before = snapshot(aws)
    status, body = order(shop, [("pen", 1), ("book", 4)], coupon=coupon)
    assert (status, body["code"]) == (409, "OUT_OF_STOCK")
    assert "book" in body["message"]
    assert snapshot(aws) == before


def test_too_little_balance_is_refused_and_changes_nothing(shop: Any, aws: Any) -> None:
    coupon = coupon_for(shop, "buyer", {"type": "FIXED", "amount": 1_000})
    order(shop, [("book", 2)])
    before = snapshot(aws)
    status, body = order(shop, [("book", 1), ("pen", 1)], coupon=coupon)
    assert (status, body["code"]) == (409, "INSUFFICIENT_BALANCE")
    assert snapshot(aws) == before


def test_a_user_never_charged_cannot_pay(shop: Any, aws: Any) -> None:
    before = snapshot(aws)
    status, body = order(shop, [("pen", 1)], user_id="newcomer")
    assert (status, body["code"]) == (409, "INSUFFICIENT_BALANCE")
    assert snapshot(aws) == before


def test_an_unknown_coupon_is_invalid(shop: Any, aws: Any) -> None:
    before = snapshot(aws)
    status, body = order(shop, [("pen", 1)], coupon="no-such-coupon")
    assert (status, body["code"]) == (409, "INVALID_COUPON")
    assert snapshot(aws) == before


def test_another_users_coupon_is_invalid(shop: Any, aws: Any) -> None:
    coupon = coupon_for(shop, "someone-else", {"type": "FIXED", "amount": 1_000})
    before = snapshot(aws)
    status, body = order(shop, [("pen", 1)], coupon=coupon)
    assert (status, body["code"]) == (409, "INVALID_COUPON")
    assert snapshot(aws) == before


def test_a_used_coupon_is_invalid(shop: Any, aws: Any) -> None:
    coupon = coupon_for(shop, "buyer", {"type": "FIXED", "amount": 1_000})
    assert order(shop, [("pen", 1)], coupon=coupon)[0] == 201
    before = snapshot(aws)
    status, body = order(shop, [("pen", 1)], coupon=coupon)
    assert (status, body["code"]) == (409, "INVALID_COUPON")
    assert snapshot(aws) == before


def test_an_expired_coupon_is_invalid(shop: Any, aws: Any) -> None:
    coupon = coupon_for(shop, "buyer", {"type": "FIXED", "amount": 1_000}, valid_days=1)
    later = clock.now() + timedelta(days=1)
    shop.serve(ORDER, OrderService(now=lambda: later))
    before = snapshot(aws)
    status, body = order(shop, [("pen", 1)], coupon=coupon)
    assert (status, body["code"]) == (409, "INVALID_COUPON")
    assert snapshot(aws) == before


@pytest.mark.parametrize(
    "body",
    [
        {"userId": "buyer", "items": []},
        {"userId": "buyer", "items": [{"productId": f"p{n}", "quantity": 1} for n in range(51)]},
        {"userId": "buyer", "items": [{"productId": "pen", "quantity": 1}, {"productId": "pen", "quantity": 2}]},
        {"userId": "buyer", "items": [{"productId": "pen", "quantity": 0}]},
        {"userId": "buyer", "items": [{"productId": "pen", "quantity": "1"}]},
        {"userId": "buyer", "items": [{"productId": "pen", "quantity": 1.5}]},
        {"userId": "buyer", "items": [{"productId": "pen", "quantity": 1, "price": 1}]},
        {"userId": "buyer", "items": [{"productId": "pen"}]},
        {"userId": "buyer", "items": [{"productId": "p.n", "quantity": 1}]},
        {"userId": "buyer", "items": [{"productId": "pen", "quantity": 1}], "issuedCouponId": ""},
        {"userId": "buyer", "items": [{"productId": "pen", "quantity": 1}], "totalAmount": 0},
        {"userId": "buyer", "items": {"productId": "pen", "quantity": 1}},
    ],
)
def test_an_invalid_order_is_refused_and_changes_nothing(shop: Any, aws: Any, body: dict[str, Any]) -> None:
    before = snapshot(aws)
    status, answer = shop.call(ORDER, "POST", "/orders", body, caller="buyer")
    assert (status, answer["code"]) == (400, "INVALID_REQUEST"), answer
    assert snapshot(aws) == before


def test_fifty_lines_are_allowed(api: Any) -> None:
    for n in range(50):
        ProductRepository().create(Product(product_id=f"p{n}", name=f"P{n}", price=10, stock=1))
    api.call(CHARGE, "POST", "/users/buyer/balance/charge", {"amount": 500}, caller="buyer")
    status, placed = order(api, [(f"p{n}", 1) for n in range(50)])
    assert status == 201, placed
    assert placed["paidAmount"] == 500
    assert balance(api) == 0


# The transaction itself decides, whatever the reads before it saw.


def priced(product_id: str, price: int, stock: int) -> Product:
    return Product(product_id=product_id, name=product_id, price=price, stock=stock)


def place_directly(shop: Any, lines: list[tuple[Product, int]], user_id: str = "buyer", coupon: Any = None) -> None:
    placed = paid_order(lines, order_id="direct", user_id=user_id, coupon=coupon)
    OrderRepository().place(placed, {p.product_id: p for p, _ in lines}, coupon)


def test_the_transaction_refuses_stock_that_went_in_the_meantime_naming_the_product(shop: Any, aws: Any) -> None:
    read = [priced("pen", 1_500, 10), priced("book", 33_333, 3)]  # as the order read them: 2 books fit
    shop.call(CHARGE, "POST", "/users/other/balance/charge", {"amount": 100_000}, caller="other")
    assert order(shop, [("book", 2)], user_id="other")[0] == 201  # then another buyer took 2 of the 3
    assert balance(shop) >= 1_500 + 2 * 33_333  # the buyer can pay: only the stock refuses
    before = snapshot(aws)
    with pytest.raises(OutOfStock) as refused:
        place_directly(shop, [(read[0], 1), (read[1], 2)])
    assert refused.value.product_id == "book"
    assert snapshot(aws) == before


def test_the_transaction_refuses_a_product_deleted_in_the_meantime(shop: Any) -> None:
    with pytest.raises(ProductNotFound):
        place_directly(shop, [(priced("gone", 10, 10), 1)])


def test_the_transaction_refuses_a_balance_spent_in_the_meantime(shop: Any, aws: Any) -> None:
    before = snapshot(aws)
    with pytest.raises(InsufficientBalance):
        place_directly(shop, [(priced("pen", 1_500, 10), 1)], user_id="newcomer")
    assert snapshot(aws) == before


def test_the_transaction_refuses_a_coupon_used_in_the_meantime(shop: Any) -> None:
    from shop.repositories.coupons import CouponRepository

    coupon_id = coupon_for(shop, "buyer", {"type": "FIXED", "amount": 1_000})
    coupon = CouponRepository().get_issued("buyer", coupon_id)
    assert order(shop, [("pen", 1)], coupon=coupon_id)[0] == 201
    with pytest.raises(InvalidCoupon):
        place_directly(shop, [(priced("pen", 1_500, 10), 1)], coupon=coupon)


def test_the_transaction_refuses_a_price_changed_in_the_meantime(shop: Any) -> None:
    with pytest.raises(PriceChanged):
        place_directly(shop, [(priced("pen", 1_000, 10), 1)])
    assert stock("pen") == 10


class StaleOnce(ProductRepository):
    """Its first read shows every price 500 lower than it is (a price raised since)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[list[str]] = []

    def get_many(self, product_ids: list[str]) -> dict[str, Product]:
        found = super().get_many(product_ids)
        self.reads.append(product_ids)
        if len(self.reads) == 1:
            return {pid: p.model_copy(update={"price": p.price - 500}) for pid, p in found.items()}
        return found


def test_an_order_priced_before_a_price_change_is_priced_again(shop: Any) -> None:
    products = StaleOnce()
    reads = products.reads
    shop.serve(ORDER, OrderService(products=products))
    status, placed = order(shop, [("pen", 2)])
    assert status == 201, placed
    assert len(reads) == 2
    assert placed["paidAmount"] == 3_000
    assert balance(shop) == 97_000


# Conflicts with concurrent transactions are retried, a bounded number of times.


class ConflictingClient:
    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts
        self.calls = 0

    def transact_write_items(self, **_: Any) -> None:
        self.calls += 1
        if self.calls <= self.conflicts:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )


def test_a_transaction_conflict_is_retried_then_succeeds() -> None:
    fake = ConflictingClient(conflicts=3)
    pauses: list[float] = []
    dynamodb.transact_write([{}, {}], lambda reasons: AssertionError(reasons), client=fake, sleep=pauses.append)
    assert fake.calls == 4
    assert len(pauses) == 3
    assert all(0 <= pause <= 0.5 for pause in pauses)


def test_endless_conflicts_give_up_with_concurrent_update() -> None:
    fake = ConflictingClient(conflicts=10**6)
    with pytest.raises(ConcurrentUpdate):
        dynamodb.transact_write([{}, {}], lambda reasons: AssertionError(reasons), client=fake, sleep=lambda _: None)
    assert fake.calls == dynamodb.MAX_ATTEMPTS


def test_endless_conflicts_are_answered_409_concurrent_update(shop: Any) -> None:
    fake = ConflictingClient(conflicts=10**6)
    shop.serve(ORDER, OrderService(orders=OrderRepository(client=fake, sleep=lambda _: None)))
    status, body = order(shop, [("pen", 1)])
    assert (status, body["code"]) == (409, "CONCURRENT_UPDATE")
    assert stock("pen") == 10


def test_the_transaction_refuses_a_coupon_expired_in_the_meantime(shop: Any, aws: Any) -> None:
    from shop.repositories.coupons import CouponRepository

    coupon_id = coupon_for(shop, "buyer", {"type": "FIXED", "amount": 1_000}, valid_days=1)
    coupon = CouponRepository().get_issued("buyer", coupon_id)
    assert coupon is not None
    before = snapshot(aws)
    with pytest.raises(InvalidCoupon):
        OrderRepository().place(
            paid_order([(priced("pen", 1_500, 10), 1)], user_id="buyer", coupon=coupon, at=coupon.expires_at),
            {"pen": priced("pen", 1_500, 10)},
            coupon,
        )
    assert snapshot(aws) == before


class RecordingClient:
    """Answers each call with the next of `answers` (an error code, or None for success) and
    records the ClientRequestToken each call carried."""

    def __init__(self, answers: list[str | None]) -> None:
        self.answers = answers
        self.tokens: list[str] = []

    def transact_write_items(self, **call: Any) -> None:
        self.tokens.append(call["ClientRequestToken"])
        code = self.answers.pop(0)
        if code == "conflict":
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )
        if code is not None:
            raise ClientError({"Error": {"Code": code, "Message": code}}, "TransactWriteItems")


def test_a_transaction_whose_outcome_is_unknown_is_retried_with_the_same_token() -> None:
    fake = RecordingClient(["TransactionInProgressException", None])
    dynamodb.transact_write([{}], lambda reasons: AssertionError(reasons), client=fake, sleep=lambda _: None)
    assert len(fake.tokens) == 2
    assert fake.tokens[0] == fake.tokens[1]


def test_a_cancelled_transaction_is_retried_as_a_new_request() -> None:
    fake = RecordingClient(["conflict", "conflict", None])
    dynamodb.transact_write([{}], lambda reasons: AssertionError(reasons), client=fake, sleep=lambda _: None)
    assert len(set(fake.tokens)) == 3


def test_another_failure_of_a_transaction_is_not_retried() -> None:
    fake = RecordingClient(["ValidationException"])
    with pytest.raises(ClientError):
        dynamodb.transact_write([{}], lambda reasons: AssertionError(reasons), client=fake, sleep=lambda _: None)
    assert len(fake.tokens) == 1
