"""What must hold after a run, as a client can check it through the API (an admin reads every
user's data): no campaign issued more coupons than its quantity (and the run's users hold exactly
the coupons it counts as issued), every user's balance equals its history's CHARGE amounts minus
its PAYMENT amounts, and no request got a 5xx."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from load.api import Api
from load.plan import Plan
from load.summary import Summary
from remote.users import TestUser

STABLE_READ_TRIES = 5
"""A request Locust gave up on at the end may still land: read again until two reads agree."""


@dataclass(frozen=True)
class Check:
    name: str
    holds: bool
    detail: str


def coupons_within_quantity(campaigns: Sequence[Mapping[str, Any]], holders: Mapping[str, int]) -> Check:
    """Each campaign (`GET /coupons/{couponId}`): 0 <= remaining <= total, and the coupons it counts
    as issued (total - remaining) are the ones the run's users hold (`holders` by couponId)."""
    wrong = []
    for campaign in campaigns:
        total, remaining = int(campaign["totalQuantity"]), int(campaign["remainingQuantity"])
        issued, held = total - remaining, holders.get(campaign["couponId"], 0)
        if not 0 <= remaining <= total or held != issued or held > total:
            wrong.append(f"{campaign['couponId']}: {issued} of {total} issued, {held} held")
    issued_in_all = ", ".join(
        f"{campaign['couponId']} {int(campaign['totalQuantity']) - int(campaign['remainingQuantity'])}"
        f"/{campaign['totalQuantity']}"
        for campaign in campaigns
    )
    return Check(
        "coupons issued never above the campaign's quantity",
        not wrong,
        "; ".join(wrong) if wrong else f"issued/quantity: {issued_in_all}",
    )


def history_sum(entries: Sequence[Mapping[str, Any]]) -> int:
    """CHARGE amounts minus PAYMENT amounts."""
    return sum(int(e["amount"]) if e["type"] == "CHARGE" else -int(e["amount"]) for e in entries)


def balances_equal_history(ledgers: Mapping[str, tuple[int, Sequence[Mapping[str, Any]]]]) -> Check:
    """Each user's (balance, history entries): the balance equals the history's sum."""
    wrong = [
        f"{user_id}: balance {balance}, history {history_sum(entries)}"
        for user_id, (balance, entries) in ledgers.items()
        if history_sum(entries) != balance
    ]
    entries = sum(len(entries) for _, entries in ledgers.values())
    return Check(
        "every balance equals its history's sum",
        not wrong,
        "; ".join(wrong[:10]) if wrong else f"{len(ledgers)} users, {entries} history entries",
    )


def no_server_errors(summary: Summary) -> Check:
    by_route = {route: stats.server_errors for route, stats in summary.routes.items() if stats.server_errors}
    return Check(
        "no 5xx",
        summary.server_errors == 0,
        f"{summary.server_errors} 5xx" + (f": {by_route}" if by_route else ""),
    )


def _ledger(api: Api, admin: TestUser, user: TestUser) -> tuple[int, list[Any]]:
    """A user's balance and history, read until the balance is the same before and after the history."""
    path = f"/users/{user.user_id}/balance"
    balance = int(api.call("GET", path, admin)["balance"])
    for _ in range(STABLE_READ_TRIES):
        entries = api.pages(f"{path}/history", admin)
        after = int(api.call("GET", path, admin)["balance"])
        if after == balance:
            break
        balance = after
    return balance, entries


def _coupons(api: Api, admin: TestUser, plan: Plan) -> tuple[list[Any], Counter[str]]:
    """The run's campaigns and how many of each its users hold, read until the campaigns are the
    same before and after the users' coupons."""

    def campaigns() -> list[Any]:
        return [api.call("GET", f"/coupons/{coupon_id}", admin) for coupon_id in plan.campaign_ids]

    before = campaigns()
    for _ in range(STABLE_READ_TRIES):
        holders: Counter[str] = Counter()
        for user in plan.users:
            holders.update(
                coupon["couponId"] for coupon in api.call("GET", f"/users/{user.user_id}/coupons", admin)["items"]
            )
        after = campaigns()
        if after == before:
            break
        before = after
    return before, holders


def check(api: Api, admin: TestUser, plan: Plan, summary: Summary) -> list[Check]:
    """The invariants after a run, read through the API as the run's admin."""
    campaigns, holders = _coupons(api, admin, plan)
    ledgers = {user.user_id: _ledger(api, admin, user) for user in plan.users}
    return [coupons_within_quantity(campaigns, holders), balances_equal_history(ledgers), no_server_errors(summary)]
