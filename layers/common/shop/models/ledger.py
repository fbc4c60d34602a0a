"""The balance's ledger: one entry per committed charge and per paid order."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from shop.models.base import ResponseModel, example


class Entry(ResponseModel):
    entry_id: str
    type: Literal["CHARGE", "PAYMENT"]
    amount: int
    order_id: str | None = None
    at: datetime


class EntryPage(ResponseModel):
    model_config = example(
        {
            "items": [
                {
                    "entryId": "0193a4f3d2e1c0b9a8f7e6d5c4b",
                    "type": "PAYMENT",
                    "amount": 160_200,
                    "orderId": "0193a4f3d2e1c0b9a8f7e6d5c4b",
                    "at": "2026-11-24T09:30:00+09:00",
                },
                {
                    "entryId": "0193a4e1b0c9d8e7f6a5b4c3d2e",
                    "type": "CHARGE",
                    "amount": 200_000,
                    "orderId": None,
                    "at": "2026-11-23T18:05:12+09:00",
                },
            ],
            "nextCursor": "0193a4e1b0c90193a4e1b0c9d8e7f6a5b4c3d2e",
        }
    )

    items: list[Entry]
    next_cursor: str | None
