"""Balance inquiry and charge."""

from __future__ import annotations

from shop.models.balance import BALANCE_LIMIT, Balance
from shop.repositories.balances import BalanceRepository


class BalanceService:
    def __init__(self, balances: BalanceRepository | None = None) -> None:
        self._balances = balances or BalanceRepository()

    def balance(self, user_id: str) -> Balance:
        return Balance(user_id=user_id, balance=self._balances.get(user_id))

    def charge(self, user_id: str, amount: int) -> Balance:
        """Add `amount`; refused (BalanceLimitExceeded) if the balance would pass the limit."""
        return Balance(user_id=user_id, balance=self._balances.add(user_id, amount, BALANCE_LIMIT))
