"""Balance inquiry and charge."""

from __future__ import annotations

from shop.identity import Caller
from shop.models.balance import BALANCE_LIMIT, Balance
from shop.repositories.balances import BalanceRepository


class BalanceService:
    def __init__(self, balances: BalanceRepository | None = None) -> None:
        self._balances = balances or BalanceRepository()

    def balance(self, caller: Caller, user_id: str) -> Balance:
        """The user's balance: the caller's own, or any user's for an admin."""
        caller.reads(user_id)
        return Balance(user_id=user_id, balance=self._balances.get(user_id))

    def charge(self, caller: Caller, user_id: str, amount: int) -> Balance:
        """Add `amount` to the caller's own balance; refused (BalanceLimitExceeded) if the balance
        would pass the limit."""
        user_id = caller.acts_for(user_id)
        return Balance(user_id=user_id, balance=self._balances.add(user_id, amount, BALANCE_LIMIT))
