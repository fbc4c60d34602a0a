"""The money's reconciliation: for every user, the CHARGE entries minus the PAYMENT entries equal
the balance, and every order has its PAYMENT entry.

One implementation for the scheduled check in AWS (`functions/ledger_reconciliation`) and for
`make ledger-check` (`local_runtime.ledger_check`).

How a run goes: three scans (balances, ledger, orders; eventually consistent, paged, in parallel
segments when the records are built so) suggest the differences; each is then confirmed by
consistent reads of that one user or order before it is reported, so that a charge or an order
committed while the scans ran (the shop does not stop for them) is never taken for drift.
Memory: one sum per user and one id per PAYMENT entry, held until the orders are read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from aws_lambda_powertools.metrics import MetricUnit

from shop import budget
from shop.errors import ReconciliationIncomplete, Unsettled
from shop.models.reconciliation import BalanceMismatch, Reconciliation, UnpaidOrder
from shop.observability import logger, metrics
from shop.repositories.reconciliation import LedgerLine, MoneyRecords

CONFIRM_ATTEMPTS = 3
"""Times a user's difference is read again while their money keeps moving under the reads."""

STOP_SECONDS = 5.0
"""A run stops when less than this is left of its time budget (`shop.budget`)."""


def signed(line: LedgerLine) -> int:
    """What an entry does to the balance: a CHARGE adds its amount, a PAYMENT takes it away."""
    if line.type == "CHARGE":
        return line.amount
    if line.type == "PAYMENT":
        return -line.amount
    raise ValueError(f"entry {line.entry_id} of user {line.user_id}: unknown type {line.type!r}")


def ledger_sum(lines: Iterable[LedgerLine]) -> int:
    return sum(signed(line) for line in lines)


class ReconciliationService:
    def __init__(self, records: MoneyRecords | None = None) -> None:
        self._records = records or MoneyRecords()

    def run(self) -> Reconciliation:
        """Read every balance, entry and order, and report what does not add up (confirmed)."""
        balances: dict[str, int] = {}
        for count, (user_id, balance) in enumerate(self._records.balances(), start=1):
            _in_time("balances", count)
            balances[user_id] = balance
        sums: dict[str, int] = defaultdict(int)
        paid: set[str] = set()
        entries = 0
        for entries, line in enumerate(self._records.entries(), start=1):
            _in_time("ledger entries", entries)
            sums[line.user_id] += signed(line)
            if line.type == "PAYMENT" and line.order_id is not None:
                paid.add(line.order_id)
        users = set(balances) | set(sums)
        suspects = sorted(user for user in users if balances.get(user, 0) != sums.get(user, 0))
        del balances, sums
        unpaid_suspects = []
        orders = 0
        for orders, order in enumerate(self._records.orders(), start=1):
            _in_time("orders", orders)
            if order.order_id not in paid:
                unpaid_suspects.append(order)
        del paid

        mismatches: list[BalanceMismatch] = []
        unsettled: list[str] = []
        for user_id in suspects:
            _in_time("confirmations", len(mismatches) + len(unsettled))
            try:
                mismatch = self._confirmed_mismatch(user_id)
            except Unsettled:
                unsettled.append(user_id)
                continue
            if mismatch is not None:
                mismatches.append(mismatch)
        unpaid = [
            UnpaidOrder(order_id=order.order_id, user_id=order.user_id)
            for order in unpaid_suspects
            if not self._records.has_payment(order.user_id, order.order_id)
        ]
        return Reconciliation(
            users=len(users),
            entries=entries,
            orders=orders,
            mismatches=mismatches,
            unpaid_orders=unpaid,
            unsettled_users=unsettled,
        )

    def _confirmed_mismatch(self, user_id: str) -> BalanceMismatch | None:
        """The user's difference read again consistently: the ledger, the balance, the ledger
        again. The ledger only grows, and every balance change writes an entry in the same
        transaction, so an unchanged ledger on both sides means the balance read between them
        belongs with it. A ledger that grew is read again, at most CONFIRM_ATTEMPTS times."""
        for _ in range(CONFIRM_ATTEMPTS):
            before = self._records.entries_of(user_id)
            balance = self._records.balance(user_id)
            after = self._records.entries_of(user_id)
            if {line.entry_id for line in before} != {line.entry_id for line in after}:
                continue
            total = ledger_sum(after)
            return None if balance == total else BalanceMismatch(user_id=user_id, balance=balance, ledger_sum=total)
        raise Unsettled(user_id)

    @staticmethod
    def publish(reconciliation: Reconciliation) -> None:
        """Log each finding (ids and amounts only) and record the run's metrics: `LedgerMismatch`
        (the findings, 0 when the money adds up) and `LedgerUsersChecked`."""
        for mismatch in reconciliation.mismatches:
            logger.error(
                "LEDGER MISMATCH: the balance is not the user's charges minus payments",
                extra={"user_id": mismatch.user_id, "balance": mismatch.balance, "ledger_sum": mismatch.ledger_sum},
            )
        for order in reconciliation.unpaid_orders:
            logger.error(
                "LEDGER MISMATCH: an order has no PAYMENT entry",
                extra={"user_id": order.user_id, "order_id": order.order_id},
            )
        for user_id in reconciliation.unsettled_users:
            logger.warning(
                "user's ledger kept growing while a difference was confirmed; the next run checks again",
                extra={"user_id": user_id},
            )
        logger.info(
            "ledger reconciled",
            extra={
                "users": reconciliation.users,
                "entries": reconciliation.entries,
                "orders": reconciliation.orders,
                "findings": reconciliation.findings,
                "unsettled": len(reconciliation.unsettled_users),
            },
        )
        metrics.add_metric(name="LedgerMismatch", unit=MetricUnit.Count, value=reconciliation.findings)
        metrics.add_metric(name="LedgerUsersChecked", unit=MetricUnit.Count, value=reconciliation.users)


def _in_time(stage: str, read: int) -> None:
    if budget.remaining() < STOP_SECONDS:
        raise ReconciliationIncomplete(stage, read)
