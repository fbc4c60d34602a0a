"""The balance's ledger: one entry per committed charge and per paid order."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shop.models.base import ResponseModel


class Entry(ResponseModel):
    entry_id: str
    type: Literal["CHARGE", "PAYMENT"]
    amount: int
    order_id: str | None = None
    at: datetime


class EntryPage(ResponseModel):
    items: list[Entry]
    next_cursor: str | None
