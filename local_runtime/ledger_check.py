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
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from local_runtime import template
from local_runtime.run import REGION, RUNNING_ENDPOINT

if TYPE_CHECKING:
    from shop.models.reconciliation import Reconciliation


def check(
    client: Any,
    balances_table: str = "BalancesTable",
    ledger_table: str = "LedgerTable",
    orders_table: str = "OrdersTable",
) -> Reconciliation:
    """Read every balance, entry and order through `client`, compare, and confirm each difference
    (the layer's `ReconciliationService`, as the scheduled LedgerReconciliationFunction does)."""
    layer = str(template.ROOT / "layers" / "common")
    if layer not in sys.path:  # run as `python -m local_runtime.ledger_check` without make's PYTHONPATH
        sys.path.insert(0, layer)
    from shop.repositories.reconciliation import MoneyRecords
    from shop.services.reconciliation import ReconciliationService

    records = MoneyRecords(client, balances_table=balances_table, ledger_table=ledger_table, orders_table=orders_table)
    return ReconciliationService(records).run()


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
    # A local endpoint either answers or is not there: one retry, not a minute of backoff.
    retry_once = Config(connect_timeout=5, retries={"mode": "standard", "total_max_attempts": 2})
    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION, config=retry_once)
    try:
        report = check(client)
    except (BotoCoreError, ClientError) as error:
        print(
            f"cannot read the ledger at {endpoint} (is it DynamoDB Local with the shop's tables?): {error}",
            file=sys.stderr,
        )
        return 2
    for difference in report.differences:
        print(f"DIFFERENCE {difference}")
    for user in report.unsettled_users:
        print(f"UNSETTLED user {user}: their ledger grew under every read; check again")
    verdict = "holds" if report.holds else "DOES NOT HOLD"
    counts = f"{report.users} users, {report.entries} entries, {report.orders} orders"
    print(f"ledger invariant {verdict} on {endpoint}: {counts}")
    return 0 if report.holds else 1


if __name__ == "__main__":
    sys.exit(main())
