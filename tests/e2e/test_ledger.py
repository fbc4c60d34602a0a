"""`make ledger-check` on the runtime's data (the ledger and order routes and idempotency keys over
HTTP are in tests/remote)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from local_runtime.ledger_check import check
from local_runtime.template import ROOT
from tests.e2e.conftest import fresh_id


def test_ledger_check_holds_on_the_runtimes_data(dynamodb_client: Any, dynamodb_local_endpoint: str) -> None:
    report = check(dynamodb_client)
    assert report.holds, report.differences
    assert report.users > 0 and report.entries > 0
    run = subprocess.run(
        [sys.executable, "-m", "local_runtime.ledger_check", "--endpoint", dynamodb_local_endpoint],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ledger invariant holds" in run.stdout


def test_ledger_check_finds_a_balance_changed_past_the_ledger(dynamodb_client: Any) -> None:
    user = fresh_id("u")
    dynamodb_client.put_item(TableName="BalancesTable", Item={"userId": {"S": user}, "balance": {"N": "5"}})
    try:
        report = check(dynamodb_client)
        assert not report.holds
        assert any(user in difference for difference in report.differences)
    finally:
        dynamodb_client.delete_item(TableName="BalancesTable", Key={"userId": {"S": user}})
