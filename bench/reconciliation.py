"""The daily reconciliation's cost per run (`shop.services.reconciliation`, as
LedgerReconciliationFunction runs it: 4 parallel scan segments), in read capacity per user.

Each user is given the records a customer of a few weeks leaves: a balance, `CHARGES` CHARGE
entries and `ORDERS` one-line orders, each with its PAYMENT entry, written as the repositories
write them (the ledger's item from `LedgerRepository.record`, the order's from `order_item`).
The run is metered on DynamoDB Local's ConsumedCapacity (ReturnConsumedCapacity=TOTAL on every
scan, query and read), for two numbers of users (the RCU per user must not depend on it), then
once more with one planted difference: what confirming a finding costs.

    python -m bench.reconciliation     # this section alone, on a DynamoDB Local of its own
"""

from __future__ import annotations

import contextvars
import time
from datetime import timedelta
from typing import Any

USERS = (200, 2_000)
CHARGES = 3
ORDERS = 2
SEGMENTS = 4


def _put_all(client: Any, table: str, items: list[dict[str, Any]]) -> None:
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        while requests:
            answer = client.batch_write_item(RequestItems={table: requests})
            requests = answer.get("UnprocessedItems", {}).get(table, [])


def populate(client: Any, users: int, prefix: str) -> dict[str, int]:
    """`users` users with their balances, entries and orders, each user's money adding up."""
    from bench.scenarios import counted_order, product
    from shop import clock
    from shop.models.ledger import Entry
    from shop.repositories import dynamodb
    from shop.repositories.ledger import LedgerRepository
    from shop.repositories.orders import order_item

    ledger = LedgerRepository("LedgerTable")
    item = product(1)
    now = clock.now()
    balances, entries, orders = [], [], []
    for index in range(users):
        user = f"{prefix}-{index:06}"
        balance = 0
        for charge in range(CHARGES):
            entry = Entry(
                entry_id=f"{user}-c{charge}", type="CHARGE", amount=50_000, at=now + timedelta(seconds=charge)
            )
            entries.append(ledger.record(user, entry, balance + 50_000)["Put"]["Item"])
            balance += 50_000
        for number in range(ORDERS):
            order = counted_order([item]).model_copy(update={"order_id": f"{user}-o{number}", "user_id": user})
            orders.append(dynamodb.to_attribute_values(order_item(order)))
            entry = Entry(
                entry_id=order.order_id, type="PAYMENT", amount=order.paid_amount, order_id=order.order_id, at=now
            )
            entries.append(ledger.record(user, entry)["Put"]["Item"])
            balance -= order.paid_amount
        balances.append(
            dynamodb.to_attribute_values({"userId": user, "balance": balance, "updatedAt": clock.isoformat(now)})
        )
    _put_all(client, "BalancesTable", balances)
    _put_all(client, "LedgerTable", entries)
    _put_all(client, "OrdersTable", orders)
    return {"users": users, "entries": len(entries), "orders": len(orders)}


def outside_an_invocation(run: Any) -> Any:
    """`run()` with no invocation's time budget: the earlier sections call handlers in this
    process, and the budget the last one started (its test context's few seconds) would still
    hold in this thread's context."""
    return contextvars.Context().run(run)


def measure(meter: Any, probe: Any, truncate: Any) -> dict[str, Any]:
    """The reconciliation's RCU per run and per user, for each of USERS, and with one finding."""
    from shop.repositories.reconciliation import MoneyRecords
    from shop.services.reconciliation import ReconciliationService

    service = ReconciliationService(MoneyRecords(segments=SEGMENTS))
    rows = []
    for users in USERS:
        truncate()
        populate(probe, users, "r")
        with meter.measure() as tally:
            started = time.perf_counter()
            found = outside_an_invocation(service.run)
            seconds = time.perf_counter() - started
        assert found.holds and found.users == users, found.differences[:5]
        rows.append(
            {
                "users": users,
                "entries": found.entries,
                "orders": found.orders,
                "rcu": round(tally.rcu, 1),
                "rcu_per_user": round(tally.rcu / users, 4),
                "calls": dict(tally.calls),
                "noisy_seconds": round(seconds, 2),
            }
        )
    # One planted difference on the last population: the confirming reads' cost.
    probe.update_item(
        TableName="BalancesTable",
        Key={"userId": {"S": "r-000007"}},
        UpdateExpression="ADD balance :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    with meter.measure() as tally:
        found = outside_an_invocation(service.run)
    assert found.findings == 1, found.differences
    clean = rows[-1]
    return {
        "segments": SEGMENTS,
        "charges_per_user": CHARGES,
        "orders_per_user": ORDERS,
        "runs": rows,
        "ratio_rcu_per_user_largest_vs_smallest": round(rows[-1]["rcu_per_user"] / rows[0]["rcu_per_user"], 3),
        "one_finding": {
            "users": clean["users"],
            "rcu": round(tally.rcu, 1),
            "rcu_more_than_clean": round(tally.rcu - clean["rcu"], 1),
            "calls": dict(tally.calls),
        },
    }


def report(result: dict[str, Any], table: Any) -> None:
    print(
        f"\n9. The daily reconciliation (LedgerReconciliationFunction): RCU per run, {result['segments']} scan "
        f"segments; each user: a balance, {result['charges_per_user']} charges, {result['orders_per_user']} paid orders"
    )
    print(
        table(
            ["users", "entries", "orders", "RCU", "RCU/user", "calls", "s (noisy)"],
            [
                [
                    r["users"],
                    r["entries"],
                    r["orders"],
                    r["rcu"],
                    r["rcu_per_user"],
                    ", ".join(f"{k} x{v}" for k, v in r["calls"].items()),
                    r["noisy_seconds"],
                ]
                for r in result["runs"]
            ],
        )
    )
    one = result["one_finding"]
    print(
        f"   RCU per user, {result['runs'][-1]['users']:,} users / {result['runs'][0]['users']:,}: "
        f"{result['ratio_rcu_per_user_largest_vs_smallest']} (expected about 1.0)"
    )
    print(
        f"   with one planted difference ({one['users']:,} users): {one['rcu']} RCU, "
        f"{one['rcu_more_than_clean']} more to confirm it ({', '.join(f'{k} x{v}' for k, v in one['calls'].items())})"
    )


def main() -> None:
    """This section alone (`python -m bench.reconciliation`), on a DynamoDB Local of its own."""
    import os

    from bench.__main__ import ENVIRONMENT, quiet_metrics, table

    os.environ.update(ENVIRONMENT)
    from bench.store import bench_store

    quiet_metrics()
    with bench_store() as store:
        report(measure(store.meter, store.probe, store.truncate), table)


if __name__ == "__main__":
    main()
