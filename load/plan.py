"""What a load run made for itself and how it runs: handed from the run (`load.run`) to the Locust
process (`load.locustfile`) in a JSON file that only its owner can read (it holds tokens)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from remote.users import TestUser

PLAN_ENV = "LOAD_PLAN"
"""The environment variable that tells the Locust process where the plan is."""


@dataclass(frozen=True)
class Plan:
    """The run's id, its users (shoppers for the whole run, issuers for the flash sale), the
    products and coupon campaigns its admin created, and its duration in seconds. The admin's
    token stays with the run: the load itself never calls as an admin."""

    run_id: str
    shoppers: list[TestUser]
    issuers: list[TestUser]
    product_ids: list[str]
    order_campaign_ids: list[str]
    flash_campaign_id: str
    duration: float

    @property
    def users(self) -> list[TestUser]:
        """Every user the load runs as."""
        return [*self.shoppers, *self.issuers]

    @property
    def campaign_ids(self) -> list[str]:
        return [*self.order_campaign_ids, self.flash_campaign_id]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        def users(items: list[dict[str, Any]]) -> list[TestUser]:
            return [TestUser(**item) for item in items]

        return cls(
            run_id=data["run_id"],
            shoppers=users(data["shoppers"]),
            issuers=users(data["issuers"]),
            product_ids=list(data["product_ids"]),
            order_campaign_ids=list(data["order_campaign_ids"]),
            flash_campaign_id=data["flash_campaign_id"],
            duration=float(data["duration"]),
        )

    def write(self, path: Path) -> None:
        """Write the plan to `path`, readable by its owner only."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            json.dump(self.to_json(), file)

    @classmethod
    def read(cls, path: Path) -> Plan:
        return cls.from_json(json.loads(path.read_text()))
