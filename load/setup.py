"""A run's own data, made through the API before the load starts: its admin, shoppers and
flash-sale issuers (from a `UserSource`), and, created by its admin, its products and coupon
campaigns, all named after the run. Nothing assumes the local seed."""

from __future__ import annotations

import secrets
import time

from load.api import Api
from load.plan import Plan
from remote.users import TestUser, UserSource

PRICES = (1_000, 2_500, 5_000, 12_000, 30_000)
"""The run's products' prices: a shopper's charges pay for many orders."""
STOCK = 1_000_000
"""Enough that a run of any length rarely sells a product out (OUT_OF_STOCK is an answer all the same)."""
ORDER_CAMPAIGNS = 3
"""Coupon campaigns a shopper takes one coupon of each, and orders with."""
ORDER_DISCOUNT = {"type": "FIXED", "amount": 1_000}
FLASH_DISCOUNT = {"type": "PERCENT", "rate": 10}


def new_run_id() -> str:
    """`load-<UTC time>-<random>`: short enough for the ids of the run's users (`<run id>-s12`)."""
    return f"load-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"


def flash_quantity(issuers: int) -> int:
    """The flash-sale campaign's quantity: half the crowd gets a coupon, the rest find it sold out."""
    return max(1, issuers // 2)


def set_up(
    api: Api, users: UserSource, admin: TestUser, run_id: str, *, shoppers: int, issuers: int, duration: float
) -> Plan:
    """Create the run's products and campaigns as `admin`, and its shoppers and issuers."""
    product_ids = [
        api.call("POST", "/products", admin, {"name": f"{run_id} product {n}", "price": price, "stock": STOCK})[
            "productId"
        ]
        for n, price in enumerate(PRICES, start=1)
    ]

    def campaign(name: str, discount: dict[str, object], quantity: int) -> str:
        body = {"name": f"{run_id} {name}", "discount": discount, "totalQuantity": quantity, "validDays": 1}
        return str(api.call("POST", "/coupons", admin, body)["couponId"])

    order_campaign_ids = [
        campaign(f"order coupon {n}", ORDER_DISCOUNT, shoppers) for n in range(1, ORDER_CAMPAIGNS + 1)
    ]
    flash_campaign_id = campaign("flash sale", FLASH_DISCOUNT, flash_quantity(issuers))
    return Plan(
        run_id=run_id,
        shoppers=[users.create(f"{run_id}-s{n}") for n in range(1, shoppers + 1)],
        issuers=[users.create(f"{run_id}-i{n}") for n in range(1, issuers + 1)],
        product_ids=[str(product_id) for product_id in product_ids],
        order_campaign_ids=order_campaign_ids,
        flash_campaign_id=flash_campaign_id,
        duration=duration,
    )
