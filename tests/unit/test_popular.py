"""Popular products: the ranking rule, the sales counter (OrderCompleted) and GET /products/popular."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from shop import clock
from shop.models.popular import ProductSales
from shop.repositories import dynamodb
from shop.repositories.sales import SalesRepository
from shop.services.popular import PopularProductsService, SalesCountingService, rank
from tests.support.clock import SetClock
from tests.support.lambda_events import LambdaContext, sample
from tests.unit.conftest import Api

SEOUL = clock.SEOUL
POPULAR = "PopularProductsFunction"
COUNTER = "SalesCounterFunction"

CATALOGUE = {
    "p-kiwi": ("Kiwi", 3_000),
    "p-fig": ("Fig", 4_000),
    "p-date": ("Date", 10_000),
    "p-lime": ("Lime", 1_500),
    "p-plum": ("Plum", 2_500),
    "p-apple": ("Apple", 2_000),
    "p-pear": ("Pear", 3_500),
    "p-old": ("Old stock", 1_000),
    "p-new": ("New stock", 1_000),
}


def sales(product_id: str, units: int, name: str | None = None, price: int | None = None) -> ProductSales:
    default_name, default_price = CATALOGUE.get(product_id, (product_id.upper(), 100))
    return ProductSales(
        product_id=product_id,
        name=name or default_name,
        price=default_price if price is None else price,
        sold_quantity=units,
    )


# ---------------------------------------------------------------- rank, the rule itself


def test_rank_merges_the_days_of_a_product() -> None:
    ranked = rank([[sales("p-a", 2)], [sales("p-b", 4), sales("p-a", 3)], [sales("p-a", 1)]])
    assert [(s.product_id, s.sold_quantity) for s in ranked] == [("p-a", 6), ("p-b", 4)]


def test_rank_breaks_ties_by_product_id_whatever_the_order_seen() -> None:
    ranked = rank([[sales("p-c", 3), sales("p-b", 1)], [sales("p-a", 3), sales("p-b", 2)]])
    assert [s.product_id for s in ranked] == ["p-a", "p-b", "p-c"]
    assert {s.sold_quantity for s in ranked} == {3}


def test_rank_keeps_the_top_five_only() -> None:
    day = [sales(f"p-{n}", units) for n, units in enumerate([1, 7, 3, 9, 2, 8, 5])]
    ranked = rank([day])
    assert [(s.product_id, s.sold_quantity) for s in ranked] == [
        ("p-3", 9),
        ("p-5", 8),
        ("p-1", 7),
        ("p-6", 5),
        ("p-2", 3),
    ]


def test_rank_a_sixth_product_tied_with_the_fifth_is_left_out_by_id() -> None:
    day = [sales(pid, 1) for pid in ["p-f", "p-e", "p-d", "p-c", "p-b", "p-a"]]
    assert [s.product_id for s in rank([day])] == ["p-a", "p-b", "p-c", "p-d", "p-e"]


def test_rank_takes_the_latest_name_and_price() -> None:
    oldest = [sales("p-a", 1, name="Old name", price=100), sales("p-b", 1, name="B then", price=5)]
    middle = [sales("p-a", 1, name="Mid name", price=150)]
    latest = [sales("p-a", 1, name="New name", price=200)]
    ranked = {s.product_id: s for s in rank([oldest, middle, latest])}
    assert (ranked["p-a"].name, ranked["p-a"].price, ranked["p-a"].sold_quantity) == ("New name", 200, 3)
    # a product not sold on the latest day keeps what its latest sale said
    assert (ranked["p-b"].name, ranked["p-b"].price) == ("B then", 5)


def test_rank_of_nothing_sold_is_empty() -> None:
    assert rank([[], [], []]) == []


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def set_now(api: Api, monkeypatch: pytest.MonkeyPatch) -> Callable[[datetime], None]:
    """Move the clock the ranking's and the sales counter's services tell the time by (the
    counter, a function without routes, is given its service as its module's `service`)."""
    now = SetClock()
    api.serve(POPULAR, PopularProductsService(now=now))
    monkeypatch.setattr(api.module(COUNTER), "service", SalesCountingService(now=now))
    return now.set


def order_completed(
    order_id: str, lines: list[tuple[str, int]], created_at: datetime, prices: dict[str, int] | None = None
) -> dict[str, Any]:
    """An OrderCompleted event like `events/sales_counter.json`, carrying another order."""
    event = copy.deepcopy(sample("sales_counter.json"))
    items = [
        {
            "productId": pid,
            "name": CATALOGUE[pid][0],
            "unitPrice": (prices or {}).get(pid, CATALOGUE[pid][1]),
            "quantity": quantity,
        }
        for pid, quantity in lines
    ]
    total = sum(item["unitPrice"] * item["quantity"] for item in items)
    order = {
        "orderId": order_id,
        "userId": "user-1",
        "items": items,
        "totalAmount": total,
        "discountAmount": 0,
        "paidAmount": total,
        "status": "PAID",
        "createdAt": created_at.isoformat(),
    }
    serializer = TypeSerializer()
    image = {key: serializer.serialize(value) for key, value in order.items()}
    event["id"] = f"event-{order_id}"
    event["detail"]["dynamodb"]["Keys"] = {"orderId": {"S": order_id}}
    event["detail"]["dynamodb"]["NewImage"] = image
    return event


def deliver(api: Api, event: dict[str, Any]) -> dict[str, Any]:
    return api.handler(COUNTER)(event, LambdaContext())  # type: ignore[return-value]


def seoul(*args: int) -> datetime:
    return datetime(*args, tzinfo=SEOUL)  # type: ignore[misc]


def day_counts(day: date) -> tuple[dict[str, int], int]:
    per_product, total = SalesRepository().day(day)
    return {s.product_id: s.sold_quantity for s in per_product}, total


@pytest.fixture
def dynamodb_calls(aws: Any) -> Iterator[list[str]]:
    """The names of the DynamoDB operations the shop's clients make (after the fixture starts)."""
    calls: list[str] = []
    recording = [False]

    def record(model: Any, **_: Any) -> None:
        if recording[0]:
            calls.append(model.name)

    emitters = [dynamodb.resource().meta.client.meta.events, dynamodb.client().meta.events]
    for emitter in emitters:
        emitter.register("before-call.dynamodb", record)
    recording[0] = True
    yield calls
    for emitter in emitters:
        emitter.unregister("before-call.dynamodb", record)


# ---------------------------------------------------------------- the sales counter


def test_counter_counts_units_per_product_per_seoul_day(api: Api, set_now: Callable[[datetime], None]) -> None:
    set_now(seoul(2026, 11, 24, 12, 0))
    answers = [
        deliver(api, order_completed("o-1", [("p-kiwi", 2), ("p-fig", 1)], seoul(2026, 11, 24, 9, 0))),
        # 15:30 UTC on the 23rd is 00:30 on the 24th in Seoul: counted on the 24th
        deliver(api, order_completed("o-2", [("p-kiwi", 3)], datetime.fromisoformat("2026-11-23T15:30:00+00:00"))),
        # one second before midnight in Seoul: still the 23rd
        deliver(api, order_completed("o-3", [("p-fig", 4)], seoul(2026, 11, 23, 23, 59, 59))),
    ]
    assert answers == [
        {"orderId": "o-1", "status": "COUNTED"},
        {"orderId": "o-2", "status": "COUNTED"},
        {"orderId": "o-3", "status": "COUNTED"},
    ]
    assert day_counts(date(2026, 11, 24)) == ({"p-kiwi": 5, "p-fig": 1}, 6)
    assert day_counts(date(2026, 11, 23)) == ({"p-fig": 4}, 4)
    assert day_counts(date(2026, 11, 22)) == ({}, 0)


def test_the_same_order_delivered_twice_counts_once(api: Api, set_now: Callable[[datetime], None]) -> None:
    set_now(seoul(2026, 11, 24, 12, 0))
    event = order_completed("o-twice", [("p-kiwi", 2), ("p-fig", 3)], seoul(2026, 11, 24, 10, 0))
    first = deliver(api, event)
    again = deliver(api, copy.deepcopy(event))
    # the pipe may also put the same record on the bus again, as a new event
    redelivered = copy.deepcopy(event)
    redelivered["id"] = "another-event-id"
    third = deliver(api, redelivered)
    assert first == again == third == {"orderId": "o-twice", "status": "COUNTED"}
    assert day_counts(date(2026, 11, 24)) == ({"p-kiwi": 2, "p-fig": 3}, 5)
    status, body = api.call(POPULAR, "GET", "/products/popular")
    assert status == 200
    assert [(i["productId"], i["soldQuantity"]) for i in body["items"]] == [("p-fig", 3), ("p-kiwi", 2)]


def test_counter_refuses_an_event_that_is_not_an_order_completed(api: Api) -> None:
    event = order_completed("o-x", [("p-kiwi", 1)], seoul(2026, 11, 24, 10, 0))
    event["detail-type"] = "SomethingElse"
    with pytest.raises(ValueError):  # pydantic's ValidationError: the delivery fails, nothing counted
        deliver(api, event)
    assert day_counts(date(2026, 11, 24)) == ({}, 0)


# ---------------------------------------------------------------- GET /products/popular

# Units sold (hand-computed): pear 7; fig 5, kiwi 5; apple 3, date 3, lime 3, plum 3.
# Top 5: pear, then fig before kiwi (id order, though kiwi sold first), then apple and date
# (lime and plum tie with them but come after by id).
THREE_DAYS = [
    ("o-22", [("p-kiwi", 1), ("p-fig", 5), ("p-date", 2)], seoul(2026, 11, 22, 10, 0), {}),
    ("o-23a", [("p-kiwi", 4), ("p-lime", 3), ("p-plum", 1)], seoul(2026, 11, 23, 20, 0), {}),
    ("o-23b", [("p-apple", 3)], seoul(2026, 11, 23, 21, 0), {}),
    # date now costs 12,000: the ranking shows the latest price
    ("o-24", [("p-date", 1), ("p-plum", 2), ("p-pear", 7)], seoul(2026, 11, 24, 0, 10), {"p-date": 12_000}),
]
TODAY = seoul(2026, 11, 24, 0, 30)  # still the 23rd in UTC
EXPECTED_THREE_DAYS = [
    {"rank": 1, "productId": "p-pear", "name": "Pear", "price": 3_500, "soldQuantity": 7},
    {"rank": 2, "productId": "p-fig", "name": "Fig", "price": 4_000, "soldQuantity": 5},
    {"rank": 3, "productId": "p-kiwi", "name": "Kiwi", "price": 3_000, "soldQuantity": 5},
    {"rank": 4, "productId": "p-apple", "name": "Apple", "price": 2_000, "soldQuantity": 3},
    {"rank": 5, "productId": "p-date", "name": "Date", "price": 12_000, "soldQuantity": 3},
]


def count_three_days(api: Api, set_now: Callable[[datetime], None]) -> None:
    """Count each order at the time it completed."""
    for order_id, lines, created_at, prices in THREE_DAYS:
        set_now(created_at)
        deliver(api, order_completed(order_id, lines, created_at, prices))


def test_popular_answers_the_contract_shape_and_order(api: Api, set_now: Callable[[datetime], None]) -> None:
    count_three_days(api, set_now)
    set_now(TODAY)
    status, body = api.call(POPULAR, "GET", "/products/popular")
    assert status == 200
    assert set(body) == {"items", "from", "to"}
    # three business days ending today in Asia/Seoul (UTC would say the 23rd)
    assert (body["from"], body["to"]) == ("2026-11-22", "2026-11-24")
    assert body["items"] == EXPECTED_THREE_DAYS


def test_popular_with_nothing_sold_is_an_empty_ranking(api: Api, set_now: Callable[[datetime], None]) -> None:
    set_now(seoul(2026, 1, 2, 8, 0))
    assert api.call(POPULAR, "GET", "/products/popular") == (
        200,
        {"items": [], "from": "2025-12-31", "to": "2026-01-02"},
    )


def test_sales_older_than_the_window_are_excluded(api: Api, set_now: Callable[[datetime], None]) -> None:
    set_now(seoul(2026, 11, 21, 12, 0))
    deliver(api, order_completed("o-old", [("p-old", 9)], seoul(2026, 11, 21, 12, 0)))
    set_now(seoul(2026, 11, 22, 12, 0))
    deliver(api, order_completed("o-new", [("p-new", 1)], seoul(2026, 11, 22, 12, 0)))

    def ranking() -> tuple[str, str, list[tuple[str, int]]]:
        status, body = api.call(POPULAR, "GET", "/products/popular")
        assert status == 200
        return body["from"], body["to"], [(i["productId"], i["soldQuantity"]) for i in body["items"]]

    set_now(seoul(2026, 11, 23, 23, 59, 59))  # the 21st is the window's first day
    assert ranking() == ("2026-11-21", "2026-11-23", [("p-old", 9), ("p-new", 1)])
    set_now(seoul(2026, 11, 24, 0, 0, 0))  # a second later it has left the window (no ranking kept today)
    assert ranking() == ("2026-11-22", "2026-11-24", [("p-new", 1)])
    deliver(api, order_completed("o-today", [("p-new", 1)], seoul(2026, 11, 24, 0, 0, 0)))  # keeps today's ranking
    assert ranking() == ("2026-11-22", "2026-11-24", [("p-new", 2)])
    set_now(seoul(2026, 11, 26, 9, 0))
    assert ranking() == ("2026-11-24", "2026-11-26", [("p-new", 1)])
    set_now(seoul(2026, 11, 27, 9, 0))
    assert ranking() == ("2026-11-25", "2026-11-27", [])


def test_without_todays_ranking_the_read_falls_back_to_the_daily_counts(
    api: Api, set_now: Callable[[datetime], None], dynamodb_calls: list[str], aws: Any
) -> None:
    count_three_days(api, set_now)
    set_now(TODAY)
    assert SalesRepository().ranking(date(2026, 11, 24)) is not None
    dynamodb_calls.clear()
    kept = api.call(POPULAR, "GET", "/products/popular")
    assert dynamodb_calls == ["GetItem"]

    aws.delete_item(TableName="SalesTable", Key={"pk": {"S": "RANKING"}, "sk": {"S": "2026-11-24"}})
    assert SalesRepository().ranking(date(2026, 11, 24)) is None
    dynamodb_calls.clear()
    computed = api.call(POPULAR, "GET", "/products/popular")
    assert dynamodb_calls.count("Query") >= 3  # one query per day of the window: the fallback ran
    assert computed == kept == (200, {"items": EXPECTED_THREE_DAYS, "from": "2026-11-22", "to": "2026-11-24"})


def test_a_day_without_sales_yet_answers_from_the_previous_days(api: Api, set_now: Callable[[datetime], None]) -> None:
    """The first read of a day, before any sale was counted that day (no ranking kept for it)."""
    for order_id, lines, created_at, prices in THREE_DAYS[:3]:
        set_now(created_at)
        deliver(api, order_completed(order_id, lines, created_at, prices))
    set_now(TODAY)
    status, body = api.call(POPULAR, "GET", "/products/popular")
    assert status == 200
    # 22nd + 23rd only: fig 5, kiwi 5, apple 3, lime 3, date 2 (plum 1 is sixth)
    assert [(i["rank"], i["productId"], i["soldQuantity"]) for i in body["items"]] == [
        (1, "p-fig", 5),
        (2, "p-kiwi", 5),
        (3, "p-apple", 3),
        (4, "p-lime", 3),
        (5, "p-date", 2),
    ]


@pytest.mark.parametrize("orders", [10, 200])
def test_reading_the_ranking_costs_one_get_item_however_many_orders(
    orders: int, api: Api, set_now: Callable[[datetime], None], dynamodb_calls: list[str]
) -> None:
    set_now(TODAY)
    products = sorted(CATALOGUE)
    for n in range(orders):
        lines = [(products[n % len(products)], 1 + n % 3), (products[(n + 3) % len(products)], 1)]
        deliver(api, order_completed(f"o-{n:04d}", lines, TODAY))
    dynamodb_calls.clear()
    status, body = api.call(POPULAR, "GET", "/products/popular")
    assert status == 200
    assert len(body["items"]) == 5
    assert sum(i["soldQuantity"] for i in body["items"]) > 0
    assert dynamodb_calls == ["GetItem"]  # the same for 10 and for 200 orders


def test_sales_counting_writes_no_item_every_count_would_share() -> None:
    """Concurrent counts conflict on any item they all update: each count touches only its order's
    marker and its products' day counts."""
    from datetime import datetime

    from shop.models.product import Product
    from shop.repositories.sales import SalesRepository
    from tests.support.orders import paid_order

    order = paid_order(
        [(Product(product_id="p-1", name="P", price=10, stock=5), 2)],
        at=datetime.fromisoformat("2026-11-24T09:30:00+09:00"),
    )

    class Recording:
        items: list[dict[str, Any]] = []

        def transact_write_items(self, TransactItems: list[dict[str, Any]], **_: Any) -> None:
            self.items = TransactItems

    transaction = Recording()
    SalesRepository("SalesTable", client=transaction).count(order, order.created_at.date())
    items = transaction.items
    keys = [(next(iter(item.values())).get("Key") or next(iter(item.values()))["Item"]) for item in items]
    assert [(key["pk"]["S"], key["sk"]["S"]) for key in keys] == [
        ("ORDER#o-1", "COUNTED"),
        ("DAY#2026-11-24", "PRODUCT#p-1"),
    ]
