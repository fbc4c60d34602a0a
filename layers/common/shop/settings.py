"""The function's environment, as the template declares it."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    dynamodb_endpoint_url: str = Field(default="", alias="DYNAMODB_ENDPOINT_URL")
    balances_table: str = Field(default="BalancesTable", alias="BALANCES_TABLE")
    products_table: str = Field(default="ProductsTable", alias="PRODUCTS_TABLE")
    coupons_table: str = Field(default="CouponsTable", alias="COUPONS_TABLE")
    issued_coupons_table: str = Field(default="IssuedCouponsTable", alias="ISSUED_COUPONS_TABLE")
    orders_table: str = Field(default="OrdersTable", alias="ORDERS_TABLE")
    sales_table: str = Field(default="SalesTable", alias="SALES_TABLE")
    ledger_table: str = Field(default="LedgerTable", alias="LEDGER_TABLE")
    idempotency_table: str = Field(default="IdempotencyTable", alias="IDEMPOTENCY_TABLE")
    data_platform_url: str = Field(default="", alias="DATA_PLATFORM_URL")
    reconciliation_segments: int = Field(default=1, ge=1, le=64, alias="RECONCILIATION_SEGMENTS")


_VARIABLES = tuple(str(field.alias) for field in Settings.model_fields.values())


def settings() -> Settings:
    """The settings the environment holds now. A function's process has one environment for its
    life; tests change it between cases (another endpoint, another data platform). Only the
    variables are read on each call: the settings of the same values are made once."""
    return _settings(tuple(os.environ.get(name) for name in _VARIABLES))


@lru_cache(maxsize=32)
def _settings(values: tuple[str | None, ...]) -> Settings:
    return Settings.model_validate(
        {name: value for name, value in zip(_VARIABLES, values, strict=True) if value is not None}
    )
