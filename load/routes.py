"""The routes the load calls, named by their template (`GET /products/{productId}`) so Locust's
statistics group by route, and the answers each may give in a healthy run.

A refusal the contract gives for a reason the load can cause (a sold-out campaign, a balance at its
cap, a coupon two of the run's users raced for) is an answer, not a failure. Anything else, a 5xx
above all, is a failure named `HTTP <status> <code>`."""

from __future__ import annotations

import re

PRODUCTS = "GET /products"
PRODUCT = "GET /products/{productId}"
POPULAR = "GET /products/popular"
BALANCE = "GET /users/{userId}/balance"
CHARGE = "POST /users/{userId}/balance/charge"
ORDER = "POST /orders"
ISSUE = "POST /coupons/{couponId}/issue"
COUPONS = "GET /users/{userId}/coupons"

MIX = frozenset({PRODUCTS, PRODUCT, POPULAR, BALANCE, CHARGE, ORDER, ISSUE, COUPONS})
"""Every route a run calls."""

EXPECTED_REFUSALS: dict[str, frozenset[str]] = {
    CHARGE: frozenset({"409 BALANCE_LIMIT_EXCEEDED"}),
    ORDER: frozenset({"409 INSUFFICIENT_BALANCE", "409 OUT_OF_STOCK", "409 INVALID_COUPON"}),
    ISSUE: frozenset({"409 COUPON_SOLD_OUT", "409 COUPON_ALREADY_ISSUED"}),
}

_FAILURE = re.compile(r"\bHTTP (\d{3})\b")


def method_and_path(route: str) -> tuple[str, str]:
    """`GET /products/{productId}` -> (`GET`, `/products/{productId}`): Locust's method and name."""
    method, _, path = route.partition(" ")
    return method, path


def failure(route: str, status: int, code: str | None) -> str | None:
    """Why an answer is a failure of the run (`HTTP 503 OUTCOME_UNKNOWN`), or None when it is one
    the route may give: a success, or a refusal the load can cause."""
    if 200 <= status < 300:
        return None
    answer = f"{status} {code}" if code else str(status)
    if answer in EXPECTED_REFUSALS.get(route, frozenset()):
        return None
    return f"HTTP {answer}"


def status_of_failure(message: str) -> int | None:
    """The HTTP status a failure's message names (None: no answer, e.g. a connection error)."""
    found = _FAILURE.search(message)
    return int(found.group(1)) if found else None
