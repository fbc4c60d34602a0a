"""Balance inquiry, charge and history."""

from __future__ import annotations

import time

from aws_lambda_powertools.metrics import MetricUnit

from shop import clock
from shop.errors import AlreadyApplied
from shop.identity import Caller
from shop.ids import derived_id, new_id
from shop.models.balance import BALANCE_LIMIT, Balance
from shop.models.ledger import Entry, EntryPage
from shop.observability import metrics
from shop.repositories.balances import BalanceRepository
from shop.repositories.ledger import LedgerRepository
from shop.retry import Sleep


class BalanceService:
    """`now` tells the time, `sleep` makes the pauses between attempts (both given to the default
    repositories)."""

    def __init__(
        self,
        balances: BalanceRepository | None = None,
        ledger: LedgerRepository | None = None,
        *,
        now: clock.Clock = clock.now,
        sleep: Sleep = time.sleep,
    ) -> None:
        self._balances = balances or BalanceRepository(now=now, sleep=sleep)
        self._ledger = ledger or LedgerRepository()
        self._now = now

    def balance(self, caller: Caller, user_id: str) -> Balance:
        """The user's balance: the caller's own, or any user's for an admin."""
        caller.reads(user_id)
        return Balance(user_id=user_id, balance=self._balances.get(user_id))

    def charge(self, caller: Caller, user_id: str, amount: int, request_key: str | None = None) -> Balance:
        """Add `amount` to the caller's own balance and record its CHARGE entry, at once; refused
        (BalanceLimitExceeded) if the balance would pass the limit.

        With a `request_key` (the caller's idempotency key) the entry's id is derived from it, so
        the same request sent again finds its charge applied and answers the balance it made."""
        user_id = caller.acts_for(user_id)
        entry_id = derived_id("charge", user_id, request_key) if request_key else new_id()
        entry = Entry(entry_id=entry_id, type="CHARGE", amount=amount, at=self._now())
        try:
            balance = self._balances.charge(
                user_id, amount, BALANCE_LIMIT, lambda after: self._ledger.record(user_id, entry, after)
            )
        except AlreadyApplied as applied:  # applied by an earlier attempt, counted there
            recorded = (applied.item or {}).get("balanceAfter")
            balance = int(recorded) if recorded is not None else self._balances.get(user_id)
            return Balance(user_id=user_id, balance=balance)
        metrics.add_metric(name="BalanceCharged", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="ChargedAmount", unit=MetricUnit.Count, value=amount)
        return Balance(user_id=user_id, balance=balance)

    def history(self, caller: Caller, user_id: str, limit: int, cursor: str | None) -> EntryPage:
        """One page of the user's ledger, newest first: the caller's own, or any user's for an admin."""
        caller.reads(user_id)
        return self._ledger.page(user_id, limit, cursor)
