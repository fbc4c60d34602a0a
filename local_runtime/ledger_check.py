"""The ledger's invariant, checked on a DynamoDB endpoint: for every user, the CHARGE entries
minus the PAYMENT entries equal the balance, and every paid order has its PAYMENT entry.

    python -m local_runtime.ledger_check [--endpoint http://127.0.0.1:PORT]

Without --endpoint it checks the DynamoDB Local of the running `make run`. Exit status 1 when
the invariant does not hold (each difference is listed), 2 when there is nothing to check.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import boto3

from local_runtime.run import REGION, RUNNING_ENDPOINT


@dataclass(frozen=True)
class Report:
    users: int
    entries: int
    orders: int
    differences: list[str]

    @property
    def holds(self) -> bool:
        return not self.differences


def _items(client: Any, table: str, projection: str, names: dict[str, str]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(
        TableName=table, ProjectionExpression=projection, ExpressionAttributeNames=names, ConsistentRead=True
    ):
        items += page.get("Items", [])
    return items


def check(
    client: Any,
    balances_table: str = "BalancesTable",
    ledger_table: str = "LedgerTable",
    orders_table: str = "OrdersTable",
) -> Report:
    """Read every balance, entry and order (consistently) and compare."""
    balances = {
        item["userId"]["S"]: int(item.get("balance", {"N": "0"})["N"])
        for item in _items(client, balances_table, "#u, #b", {"#u": "userId", "#b": "balance"})
    }
    sums: dict[str, int] = defaultdict(int)
    payments: set[str] = set()
    entries = _items(
        client, ledger_table, "#u, #t, #a, #o", {"#u": "userId", "#t": "type", "#a": "amount", "#o": "orderId"}
    )
    for entry in entries:
        amount = int(entry["amount"]["N"])
        sums[entry["userId"]["S"]] += amount if entry["type"]["S"] == "CHARGE" else -amount
        if "orderId" in entry:
            payments.add(entry["orderId"]["S"])
    orders = _items(client, orders_table, "#o, #u", {"#o": "orderId", "#u": "userId"})
    differences = [
        f"user {user}: balance {balances.get(user, 0):,}, charges minus payments {sums.get(user, 0):,}"
        for user in sorted(set(balances) | set(sums))
        if balances.get(user, 0) != sums.get(user, 0)
    ]
    differences += [
        f"order {order['orderId']['S']} of user {order['userId']['S']} has no PAYMENT entry"
        for order in orders
        if order["orderId"]["S"] not in payments
    ]
    return Report(
        users=len(set(balances) | set(sums)), entries=len(entries), orders=len(orders), differences=differences
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_runtime.ledger_check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint", help="DynamoDB endpoint (default: the running `make run`'s DynamoDB Local)")
    args = parser.parse_args(argv)
    endpoint = args.endpoint
    if not endpoint:
        if not RUNNING_ENDPOINT.exists():
            print("no running `make run` found: start it, or pass --endpoint http://127.0.0.1:PORT", file=sys.stderr)
            return 2
        endpoint = RUNNING_ENDPOINT.read_text().strip()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")  # DynamoDB Local takes any credentials
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION)
    report = check(client)
    for difference in report.differences:
        print(f"DIFFERENCE {difference}")
    verdict = "holds" if report.holds else "DOES NOT HOLD"
    counts = f"{report.users} users, {report.entries} entries, {report.orders} orders"
    print(f"ledger invariant {verdict} on {endpoint}: {counts}")
    return 0 if report.holds else 1


if __name__ == "__main__":
    sys.exit(main())
