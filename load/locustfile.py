"""The Locust side of a run (`python -m load` starts it; its plan comes from `LOAD_PLAN`).

- `Shopper`: the seed's flows, weighted as a shop's traffic is (reads first): browse the products
  and open one, the popular list, the balance, the coupons held, a charge, an order without and
  with a coupon (taken from one of the run's campaigns first).
- `FlashSaleIssuer`: presses "get the coupon" on the flash-sale campaign, again and again.
- `FlashSale`: the load shape of `load.shape` (steady shoppers, the issuers' spike, back).

Each request is named by its route's template, so the statistics group by route; an answer is a
success or a failure as `load.routes` says.
"""

from __future__ import annotations

import itertools
import os
import random
from pathlib import Path
from typing import Any

from locust import HttpUser, LoadTestShape, User, between, task

from load import routes, shape
from load.plan import PLAN_ENV, Plan
from remote.users import TestUser

PLAN = Plan.read(Path(os.environ[PLAN_ENV]))
STAGES = shape.stages(len(PLAN.shoppers), len(PLAN.issuers), PLAN.duration)
FIRST_CHARGE = 300_000
CHARGES = (10_000, 50_000, 100_000)

_shoppers = itertools.count()
_issuers = itertools.count()


class ShopUser(HttpUser):
    """A user of the API with one of the run's users' tokens."""

    abstract = True
    user: TestUser

    def call(self, route: str, path: str, body: Any = None) -> Any:
        """Call `route` (its template names the request) at `path`; the answer's body when 2xx."""
        method, template = routes.method_and_path(route)
        with self.client.request(
            method, path, name=template, json=body, headers=self.user.headers, catch_response=True
        ) as response:
            try:
                payload = response.json()
            except ValueError:
                payload = None
            code = payload.get("code") if isinstance(payload, dict) else None
            failure = routes.failure(route, response.status_code, code)
            if failure is None:
                response.success()
            else:
                response.failure(failure)
            return payload if 200 <= response.status_code < 300 else None


class Shopper(ShopUser):
    wait_time = between(0.2, 1.0)

    def on_start(self) -> None:
        self.user = PLAN.shoppers[next(_shoppers) % len(PLAN.shoppers)]
        self.campaigns = list(PLAN.order_campaign_ids)
        self.call(routes.CHARGE, f"/users/{self.user.user_id}/balance/charge", {"amount": FIRST_CHARGE})

    def _lines(self) -> list[dict[str, Any]]:
        products = random.sample(PLAN.product_ids, k=random.randint(1, 2))
        return [{"productId": product_id, "quantity": random.randint(1, 2)} for product_id in products]

    @task(10)
    def browse_products(self) -> None:
        self.call(routes.PRODUCTS, "/products?limit=20")
        self.call(routes.PRODUCT, f"/products/{random.choice(PLAN.product_ids)}")

    @task(4)
    def popular(self) -> None:
        self.call(routes.POPULAR, "/products/popular")

    @task(6)
    def balance(self) -> None:
        self.call(routes.BALANCE, f"/users/{self.user.user_id}/balance")

    @task(3)
    def my_coupons(self) -> None:
        self.call(routes.COUPONS, f"/users/{self.user.user_id}/coupons")

    @task(2)
    def charge(self) -> None:
        self.call(routes.CHARGE, f"/users/{self.user.user_id}/balance/charge", {"amount": random.choice(CHARGES)})

    @task(3)
    def order(self) -> None:
        self.call(routes.ORDER, "/orders", {"items": self._lines()})

    @task(1)
    def order_with_coupon(self) -> None:
        """Take a coupon of the next campaign and order with it (without one once all are taken)."""
        if not self.campaigns:
            self.order()
            return
        issued = self.call(routes.ISSUE, f"/coupons/{self.campaigns.pop(0)}/issue", {})
        body: dict[str, Any] = {"items": self._lines()}
        if issued is not None:
            body["issuedCouponId"] = issued["issuedCouponId"]
        self.call(routes.ORDER, "/orders", body)


class FlashSaleIssuer(ShopUser):
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        self.user = PLAN.issuers[next(_issuers) % len(PLAN.issuers)]

    @task
    def issue(self) -> None:
        self.call(routes.ISSUE, f"/coupons/{PLAN.flash_campaign_id}/issue", {})


class FlashSale(LoadTestShape):
    """Shoppers throughout; the issuers join for the flash sale's stage.

    A tick names the classes of the users Locust adds to reach its count; those running stay, and
    to come down to a smaller count Locust stops the users it started last: the issuers."""

    def tick(self) -> tuple[int, float, list[type[User]]] | None:
        run_time: float = self.get_run_time()  # type: ignore[no-untyped-call]  # unannotated in Locust
        stage = shape.stage_at(STAGES, run_time)
        if stage is None:
            return None
        classes: list[type[User]] = [FlashSaleIssuer] if stage.issuers else [Shopper]
        return stage.users, stage.spawn_rate, classes
