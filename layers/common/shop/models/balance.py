"""Balance: how much a user can spend, in won."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shop.models.base import RequestModel, ResponseModel, example

BALANCE_LIMIT = 10_000_000
"""No balance may pass this many won."""

MAX_CHARGE = 1_000_000
"""The most one charge may add."""


class ChargeRequest(RequestModel):
    model_config = example({"amount": 50_000})

    amount: Annotated[int, Field(ge=1, le=MAX_CHARGE, description="Won to add, 1..1,000,000")]


class Balance(ResponseModel):
    model_config = example({"userId": "u-1001", "balance": 150_000})

    user_id: str
    balance: int
