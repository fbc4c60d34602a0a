"""The measurements: each calls the layer's services in-process against DynamoDB Local."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import itemsize
from bench.meter import Meter, Tally
from shop import clock
from shop.errors import ConcurrentUpdate, CouponSoldOut
from shop.identity import Caller
from shop.ids import issued_coupon_id, new_id
from shop.models.balance import BALANCE_LIMIT
from shop.models.coupon import Coupon, PercentDiscount
from shop.models.order import Order, OrderItem, PlaceOrder
from shop.models.product import Product
from shop.repositories.coupons import CouponRepository
from shop.repositories.products import ProductRepository
from shop.repositories.sales import SalesRepository
from shop.services.balance import BalanceService
from shop.services.catalogue import CatalogueService
from shop.services.coupons import CouponService, KnownCampaigns
from shop.services.orders import OrderService
from shop.services.popular import PopularProductsService, SalesCountingService

BIG_STOCK = 1_000_000_000
EVENTS = Path(__file__).resolve().parent.parent / "events"


# ---------------------------------------------------------------- data


def product(index: int, price: int = 12_900, prefix: str = "p") -> Product:
    """A catalogue product with a realistic name length."""
    return Product(
        product_id=f"{prefix}-{index:05d}",
        name=f"Wireless ergonomic mouse, model {index:05d}",
        price=price,
        stock=BIG_STOCK,
    )


def create_products(count: int, price: int = 12_900, prefix: str = "p") -> list[Product]:
    products = [product(i, price, prefix) for i in range(count)]
    repository = ProductRepository()
    for item in products:
        repository.create(item)
    return products


def fund(user_id: str, amount: int = BALANCE_LIMIT) -> None:
    BalanceService().charge(Caller(user_id), user_id, amount)


def campaign(coupon_id: str, quantity: int, shards: int = 1) -> Coupon:
    coupon = Coupon(
        coupon_id=coupon_id,
        name="Flash sale 10% off",
        discount=PercentDiscount(type="PERCENT", rate=10),
        total_quantity=quantity,
        remaining_quantity=quantity,
        valid_days=7,
    )
    CouponRepository().create(coupon, shards)
    return coupon


def order_request(user_id: str, products: list[Product], coupon: str | None = None) -> PlaceOrder:
    """The request body the API would validate."""
    body: dict[str, Any] = {"userId": user_id, "items": [{"productId": p.product_id, "quantity": 1} for p in products]}
    if coupon is not None:
        body["issuedCouponId"] = coupon
    return PlaceOrder.model_validate(body)


def counted_order(products: list[Product], quantity: int = 1) -> Order:
    """A paid order as the sales counter receives it (not placed: only its counting is measured)."""
    items = [OrderItem(product_id=p.product_id, name=p.name, unit_price=p.price, quantity=quantity) for p in products]
    total = sum(item.amount for item in items)
    return Order(
        order_id=new_id(),
        user_id="user-sales",
        items=items,
        total_amount=total,
        discount_amount=0,
        paid_amount=total,
        status="PAID",
        created_at=clock.now(),
    )


def cost_row(name: str, tally: Tally, note: str = "") -> dict[str, Any]:
    return {
        "use_case": name,
        "rcu": tally.rcu,
        "wcu_single": tally.wcu,
        "wcu_transaction": tally.transaction_wcu,
        "wcu_total": tally.total_wcu,
        "calls": tally.summary(),
        "note": note,
        "detail": tally.as_dict(),
    }


# ---------------------------------------------------------------- 1. cost per use case


def costs(meter: Meter) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def measure(name: str, action: Callable[[], object], note: str = "") -> None:
        with meter.measure() as tally:
            action()
        rows.append(cost_row(name, tally, note))

    products = create_products(60)
    user = "user-cost"
    fund(user)
    balances, catalogue, coupons, orders = BalanceService(), CatalogueService(), CouponService(), OrderService()

    measure("balance inquiry", lambda: balances.balance(Caller(user), user), "GetItem, consistent")
    measure(
        "balance charge",
        lambda: balances.charge(Caller("user-charge"), "user-charge", 50_000),
        "conditional UpdateItem",
    )
    measure("product get", lambda: catalogue.product(products[0].product_id), "GetItem, consistent")
    measure("product page (20)", lambda: catalogue.page(20, None), "Scan Limit 20, eventually consistent")

    for lines in (1, 5, 50):
        measure(
            f"order, {lines} line(s)", lambda n=lines: orders.place(Caller(user), order_request(user, products[:n]))
        )
    for lines in (1, 5, 50):
        coupon_id = f"c-order-{lines}"
        campaign(coupon_id, 10)
        coupons.issue(Caller(user), coupon_id)
        request = order_request(user, products[:lines], issued_coupon_id(coupon_id, user))
        measure(f"order, {lines} line(s) + coupon", lambda r=request: orders.place(Caller(user), r))

    campaign("c-issue", 1_000)
    instance = CouponService(known=KnownCampaigns())
    measure(
        "coupon issue, instance new to the campaign",
        lambda: instance.issue(Caller("user-cold"), "c-issue"),
        "GetItem shard 0, eventually consistent, + transaction",
    )
    measure("coupon issue", lambda: instance.issue(Caller("user-issue"), "c-issue"), "transaction only")
    campaign("c-gone", 1)
    coupons.issue(Caller("user-first"), "c-gone")

    def sold_out(service: CouponService, user: str) -> Callable[[], None]:
        def ask() -> None:
            try:
                service.issue(Caller(user), "c-gone")
            except CouponSoldOut:
                return
            raise AssertionError("the campaign should be sold out")

        return ask

    measure(
        "coupon issue, sold out, instance new to it",
        sold_out(CouponService(known=KnownCampaigns()), "user-late"),
        "one read, no write",
    )
    measure("coupon issue, sold out, first seen", sold_out(coupons, "user-later"), "transaction refused")
    measure("coupon issue, sold out, known", sold_out(coupons, "user-latest"), "no call")
    campaign("c-sharded", 10_000, 100)
    warm = CouponService(known=KnownCampaigns())
    warm.issue(Caller("user-warm"), "c-sharded")  # the instance learns the campaign
    measure(
        "coupon issue, 100 shards",
        lambda: warm.issue(Caller("user-sharded"), "c-sharded"),
        "transaction on a shard not seen empty",
    )
    measure("campaign read, 100 shards", lambda: coupons.coupon("c-sharded"), "GetItem + BatchGetItem: the sum")
    campaign("c-drained", 100, 100)
    drainer = CouponService(known=KnownCampaigns())
    for index in range(100):
        drainer.issue(Caller(f"user-drain-{index}"), "c-drained")
    last = CouponService(known=KnownCampaigns())  # a new instance: no shard is marked yet

    def drained(service: CouponService, user: str) -> Callable[[], None]:
        def ask() -> None:
            try:
                service.issue(Caller(user), "c-drained")
            except CouponSoldOut:
                return
            raise AssertionError("the campaign should be sold out")

        return ask

    measure(
        "coupon issue, 100 shards, all empty",
        drained(last, "user-first-late"),
        "shard 0 read, a refused transaction, walk read, sold-out mark",
    )
    measure(
        "coupon issue, 100 shards, sold out, instance new to it",
        drained(CouponService(known=KnownCampaigns()), "user-later"),
        "marked: one read, no write",
    )
    measure("coupon issue, 100 shards, sold out, known", drained(last, "user-latest"), "no call")
    for index in range(4):
        campaign(f"c-held-{index}", 10)
        coupons.issue(Caller("user-holder"), f"c-held-{index}")
    measure(
        "user coupons (4 held)", lambda: coupons.issued_to(Caller("user-holder"), "user-holder"), "Query, consistent"
    )

    counting = SalesCountingService()
    for index in range(5):
        counting.count(counted_order(products[index : index + 3]))
    measure("popular products", lambda: PopularProductsService().popular(), "GetItem RANKING/<today>")
    measure(
        "sales counting, 1-line order",
        lambda: counting.count(counted_order(products[:1])),
        "transaction + 3 day queries + ranking put",
    )
    measure("sales counting, 5-line order", lambda: counting.count(counted_order(products[:5])))
    return rows


# ---------------------------------------------------------------- 2. popular read vs orders


def popular_growth(meter: Meter, truncate: Callable[[], None]) -> dict[str, Any]:
    truncate()
    catalogue = [product(i) for i in range(20)]
    counting, popular = SalesCountingService(), PopularProductsService()

    def count(orders: int, start: int) -> None:
        for n in range(start, start + orders):
            lines = [catalogue[(n * 7 + k) % len(catalogue)] for k in range(1 + n % 3)]
            counting.count(counted_order(lines, quantity=1 + n % 4))

    count(10, 0)
    with meter.measure() as after_10:
        popular.popular()
    with meter.measure() as count_at_10:
        count(1, 10)
    started = time.monotonic()
    count(989, 11)
    counting_seconds = time.monotonic() - started
    with meter.measure() as after_1000:
        popular.popular()
    with meter.measure() as count_at_1000:
        count(1, 1000)

    # The fallback: no ranking kept for today, so the window's daily counts are read.
    truncate()
    sales = SalesRepository()
    today = clock.business_day(clock.now())
    fallback: list[dict[str, Any]] = []
    sold = 0
    for distinct in (0, 10, 100, 1_000):
        while sold < distinct:
            batch = [product(i, prefix="f") for i in range(sold, min(distinct, sold + 50))]
            sales.count(counted_order(batch), today)  # counts only: keeps no ranking
            sold += len(batch)
        with meter.measure() as tally:
            popular.popular()
        fallback.append({"distinct_products_sold": distinct, "rcu": tally.rcu, "calls": tally.summary()})
    return {
        "rcu_after_10_orders": after_10.rcu,
        "rcu_after_1000_orders": after_1000.rcu,
        "ratio_1000_vs_10": after_1000.rcu / after_10.rcu,
        "calls": after_1000.summary(),
        "counting_one_order_after_10": {"rcu": count_at_10.rcu, "wcu": count_at_10.total_wcu},
        "counting_one_order_after_1000": {"rcu": count_at_1000.rcu, "wcu": count_at_1000.total_wcu},
        "counting_cost_ratio_1000_vs_10": (count_at_1000.rcu + count_at_1000.total_wcu)
        / (count_at_10.rcu + count_at_10.total_wcu),
        "seconds_to_count_989_orders_noisy": round(counting_seconds, 1),
        "fallback": fallback,
    }


# ---------------------------------------------------------------- 3. hot coupon


def hot_coupon(
    meter: Meter, truncate: Callable[[], None], *, workers: int | None, requests: int = 200, quantity: int = 50
) -> dict[str, Any]:
    """`requests` users ask for one of `quantity` coupons of one campaign: all at once (one thread
    each, released together) when `workers` is None, else through `workers` threads in turn. Each
    thread is a function instance, with what it learns of the campaign its own (as Lambda runs
    concurrent requests in instances of their own)."""
    truncate()
    campaign("c-hot", quantity)
    instance = threading.local()
    barrier = threading.Barrier(requests) if workers is None else None
    outcomes: Counter[str] = Counter()
    transactions_per_request: Counter[int] = Counter()
    lock = threading.Lock()

    def request(index: int) -> None:
        if barrier is not None:
            barrier.wait()
        if not hasattr(instance, "service"):
            instance.service = CouponService(known=KnownCampaigns())
        before = meter.thread_transactions()
        try:
            instance.service.issue(Caller(f"user-{index:04d}"), "c-hot")
            outcome = "issued"
        except CouponSoldOut:
            outcome = "sold out (no write)" if meter.thread_transactions() == before else "sold out (transaction)"
        except ConcurrentUpdate:
            outcome = "409 CONCURRENT_UPDATE"
        except Exception as error:  # counted, not hidden
            outcome = f"error: {type(error).__name__}"
        sent = meter.thread_transactions() - before
        with lock:
            outcomes[outcome] += 1
            transactions_per_request[sent] += 1

    with meter.measure(size_transactions=False) as tally:
        if workers is None:
            threads = [threading.Thread(target=request, args=(i,)) for i in range(requests)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(request, range(requests)))

    remaining = CouponRepository().get("c-hot")
    issued = outcomes["issued"]
    transactions = tally.calls["TransactWriteItems"]
    sold_out = outcomes["sold out (no write)"] + outcomes["sold out (transaction)"]
    conflicts = tally.cancellation_reasons.get("TransactionConflict", 0)
    return {
        "mode": "burst: one thread per request, released together" if workers is None else f"{workers} workers",
        "requests": requests,
        "coupons": quantity,
        "outcomes": dict(outcomes),
        "remaining_after": remaining.remaining_quantity if remaining else None,
        "oversold": issued > quantity,
        "transactions_sent": transactions,
        "http_requests_transact": tally.http_requests["TransactWriteItems"],
        "transactions_per_coupon_issued": transactions / issued if issued else None,
        "write_requests_per_coupon_issued": tally.http_requests["TransactWriteItems"] / issued if issued else None,
        "sold_out_answered_without_write": outcomes["sold out (no write)"],
        "share_of_sold_out_without_write": outcomes["sold out (no write)"] / sold_out if sold_out else None,
        "transaction_conflicts": conflicts,
        "retries_by_layer": sum(max(0, sent - 1) * n for sent, n in transactions_per_request.items()),
        "transactions_per_request_histogram": {str(k): v for k, v in sorted(transactions_per_request.items())},
        "errors": dict(tally.errors),
        "cancellation_reasons": dict(tally.cancellation_reasons),
        "reads": tally.calls["GetItem"],
    }


# ---------------------------------------------------------------- 4. throughput ratio


def throughput(meter: Meter, truncate: Callable[[], None], threads: int = 8, seconds: float = 2.0) -> dict[str, Any]:
    truncate()
    products = create_products(threads, price=100, prefix="t")
    users = [f"user-t{i}" for i in range(threads)]
    for user in users:
        fund(user)
    orders, balances = OrderService(), BalanceService()
    requests = [order_request(users[i], [products[i]]) for i in range(threads)]

    def run(action: Callable[[int], object]) -> tuple[float, Tally]:
        done = [0] * threads
        errors: list[BaseException] = []
        start = threading.Barrier(threads + 1)
        deadline = [0.0]

        def worker(index: int) -> None:
            start.wait()
            try:
                while time.monotonic() < deadline[0]:
                    action(index)
                    done[index] += 1
            except BaseException as error:
                errors.append(error)

        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for w in workers:
            w.start()
        with meter.measure(size_transactions=False) as tally:
            began = time.monotonic()
            deadline[0] = began + seconds
            start.wait()
            for w in workers:
                w.join()
            elapsed = time.monotonic() - began
        if errors:
            raise errors[0]
        return sum(done) / elapsed, tally

    for i in range(threads):  # warm up both paths (connections, imports)
        orders.place(Caller(users[i]), requests[i])
        balances.balance(Caller(users[i]), users[i])
    balance_rps, balance_tally = run(lambda i: balances.balance(Caller(users[i]), users[i]))
    order_rps, order_tally = run(lambda i: orders.place(Caller(users[i]), requests[i]))
    return {
        "threads": threads,
        "seconds_each": seconds,
        "ratio_order_vs_balance": order_rps / balance_rps,
        "dynamodb_calls_per_order": sum(order_tally.calls.values()) / max(1, order_tally.calls["TransactWriteItems"]),
        "order_errors": dict(order_tally.errors),
        "noisy_absolute_rps": {"order_placement": round(order_rps, 1), "balance_inquiry": round(balance_rps, 1)},
        "balance_calls": dict(balance_tally.calls),
    }


# ---------------------------------------------------------------- 5. the POSTs, with and without a key


@dataclass
class BenchContext:
    """The Lambda context a handler reads (Powertools' logger, the time budget)."""

    function_name: str = "bench"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def _event(
    sample: str, path: str, body: dict[str, Any], key: str | None, path_parameters: dict[str, str], caller: str
) -> Any:
    event = json.loads((EVENTS / sample).read_text())
    event["requestContext"]["authorizer"] = {"lambda": {"sub": caller, "admin": False}}
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = path_parameters
    event["body"] = json.dumps(body)
    if key is not None:
        event["headers"] = {**event["headers"], "idempotency-key": key}
    return event


def posts(meter: Meter) -> dict[str, Any]:
    """Each POST through its function's handler (the idempotency layer included), without a key, with
    a new key, and the same request replayed; and what the ledger adds to the writes."""
    from local_runtime.handler_loader import load_handler

    charge, order, issue = (
        load_handler(name) for name in ("BalanceChargeFunction", "OrderPlacementFunction", "CouponIssueFunction")
    )
    products = create_products(3, prefix="p-post")
    buyer = "user-post"
    fund(buyer, BALANCE_LIMIT // 2)
    for index in range(3):
        campaign(f"c-post-{index}", 10)
    rows: list[dict[str, Any]] = []
    tallies: dict[str, Tally] = {}

    def measure(name: str, handler: Any, event: Any, status: int) -> None:
        # the handler prints its metrics (one EMF record) to stdout, as in Lambda: not the bench's output
        with meter.measure() as tally, contextlib.redirect_stdout(io.StringIO()):
            answer = handler(event, BenchContext())
        assert answer["statusCode"] == status, (name, answer)
        tallies[name] = tally
        rows.append(cost_row(name, tally))

    def charge_event(key: str | None) -> Any:
        path = f"/users/{buyer}/balance/charge"
        return _event("balance_charge.json", path, {"amount": 1_000}, key, {"userId": buyer}, buyer)

    def order_event(key: str | None) -> Any:
        body = {"userId": buyer, "items": [{"productId": products[0].product_id, "quantity": 1}]}
        return _event("order_placement.json", "/orders", body, key, {}, buyer)

    def issue_event(key: str | None, index: int) -> Any:
        path = f"/coupons/c-post-{index}/issue"
        return _event("coupon_issue.json", path, {"userId": buyer}, key, {"couponId": f"c-post-{index}"}, buyer)

    for what, handler, make, status in (
        ("charge", charge, lambda key, n: charge_event(key), 200),
        ("order, 1 line", order, lambda key, n: order_event(key), 201),
        ("coupon issue", issue, issue_event, 201),
    ):
        measure(f"POST {what}, no key", handler, make(None, 0), status)
        key = new_id()
        measure(f"POST {what}, new key", handler, make(key, 1), status)
        measure(f"POST {what}, same key again (replay)", handler, make(key, 1), status)

    def entry_wcu(name: str) -> tuple[int, int]:
        """The bytes and computed WCU of the ledger entry, the last item of the transaction."""
        (transaction,) = tallies[name].transactions
        size = transaction.sizes[-1][1]
        return size, itemsize.transactional_write_units(size)

    charge_entry, payment_entry = entry_wcu("POST charge, no key"), entry_wcu("POST order, 1 line, no key")
    (order_transaction,) = tallies["POST order, 1 line, no key"].transactions
    order_size = order_transaction.sizes[-2][1]
    ledger = {
        "charge_entry_bytes": charge_entry[0],
        "charge_entry_tx_wcu": charge_entry[1],
        "payment_entry_bytes": payment_entry[0],
        "payment_entry_tx_wcu": payment_entry[1],
        "ledger_index_wcu_per_entry": itemsize.write_units(charge_entry[0]),
        "orders_index_wcu_per_order": itemsize.write_units(order_size),
    }
    return {"rows": rows, "ledger": ledger}
