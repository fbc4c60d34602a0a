"""Hostile input (bodies, paths, headers) through the gateway: a short 400 INVALID_REQUEST, never a
500, and the money does not move. The same cases, route by route, are in
tests/unit/test_http_edges.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from remote.users import TestUser
from shop.api.body import MAX_BODY_BYTES
from shop.models.errors import MAX_MESSAGE
from tests.remote.conftest import NewUser
from tests.support.http import Client


def post_raw(api_url: str, path: str, raw: str | bytes, user: TestUser) -> requests.Response:
    headers = {"Content-Type": "application/json", **user.headers}
    return requests.post(api_url + path, data=raw, headers=headers, timeout=60)


def assert_invalid(response: requests.Response, names: str) -> None:
    assert response.status_code == 400, response.text[:500]
    assert len(response.content) < 1_000, "the answer does not echo the request"
    body = response.json()
    assert body["code"] == "INVALID_REQUEST"
    assert len(body["message"]) <= MAX_MESSAGE
    assert names in body["message"], body["message"]


HOSTILE_CHARGES = {
    "a number of 5,001 digits": ('{"amount": ' + "9" * 5001 + "}", "amount"),
    "nested 100,000 deep": ("[" * 100_000 + "]" * 100_000, "body"),
    "nested 20,000 deep, within the size limit": ('{"amount": ' + "[" * 20_000 + "]" * 20_000 + "}", "body"),
    "a body of 1 MB": ('{"amount": 5, "pad": "' + "x" * 1_000_000 + '"}', "body"),
    "20,000 unknown fields": (json.dumps({"amount": 5, **{f"f{n}": n for n in range(20_000)}}), "body"),
    "3,000 unknown fields within the size limit": (
        json.dumps({"amount": 5, **{f"f{n}": n for n in range(3_000)}}),
        "more",
    ),
    "NaN": ('{"amount": NaN}', "NaN"),
    "a field twice": ('{"amount": 5, "amount": 6}', "amount"),
    "a lone surrogate": ('{"amount": 5, "note": "\\ud800"}', "body"),
}


@pytest.mark.parametrize(("raw", "names"), HOSTILE_CHARGES.values(), ids=HOSTILE_CHARGES.keys())
def test_a_hostile_charge_is_a_short_400_and_moves_no_money(
    me: Client, user: TestUser, api_url: str, raw: str, names: str
) -> None:
    assert_invalid(post_raw(api_url, f"/users/{user.user_id}/balance/charge", raw, user), names)
    assert me.ok("GET", f"/users/{user.user_id}/balance")["balance"] == 0


def test_the_size_limit_is_the_documented_one(api_url: str, user: TestUser) -> None:
    assert MAX_BODY_BYTES == 64 * 1024
    at_limit = '{"amount": 7' + " " * (MAX_BODY_BYTES - 13) + "}"
    assert len(at_limit) == MAX_BODY_BYTES
    answer = post_raw(api_url, f"/users/{user.user_id}/balance/charge", at_limit, user)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["balance"] == 7
    over = at_limit[:-1] + " }"
    assert_invalid(post_raw(api_url, f"/users/{user.user_id}/balance/charge", over, user), "body")


@pytest.mark.parametrize("raw", ["7.0", "7e0", "0.7e1"])
def test_an_integer_with_a_zero_fraction_is_charged(api_url: str, user: TestUser, raw: str) -> None:
    answer = post_raw(api_url, f"/users/{user.user_id}/balance/charge", f'{{"amount": {raw}}}', user)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"userId": user.user_id, "balance": 7}


@pytest.mark.parametrize("raw", ['"7"', "7.5", "true"])
def test_a_string_a_fraction_or_a_boolean_is_not_an_integer(me: Client, user: TestUser, api_url: str, raw: str) -> None:
    path = f"/users/{user.user_id}/balance/charge"
    assert_invalid(post_raw(api_url, path, f'{{"amount": {raw}}}', user), "amount")
    assert me.ok("GET", f"/users/{user.user_id}/balance")["balance"] == 0


@pytest.fixture(scope="module")
def caller(new_user: NewUser) -> TestUser:
    """The user who sends the requests with hostile paths."""
    return new_user("hostile")


# (method, path with {} for the id, parameter, body, admin)
ID_ROUTES = [
    ("GET", "/users/{}/balance", "userId", None, False),
    ("POST", "/users/{}/balance/charge", "userId", {"amount": 5}, False),
    ("GET", "/users/{}/coupons", "userId", None, False),
    ("GET", "/products/{}", "productId", None, False),
    ("POST", "/products/{}/stock", "productId", {"quantity": 1}, True),
    ("GET", "/coupons/{}", "couponId", None, True),
    ("POST", "/coupons/{}/issue", "couponId", {}, False),
]
# As sent on the wire (percent-encoded where a URL needs it).
BAD_IDS = {
    "dot": "a.b",
    "65 chars": "a" * 65,
    "encoded space": "a%20b",
    "unicode": "%EC%9C%A0%EC%A0%80",
    "emoji": "%F0%9F%98%80",
    "quote": "a%22b",
    "backslash": "a%5Cb",
    "encoded question mark": "a%3Fb",
    "encoded hash": "a%23b",
    "newline": "a%0Ab",
    "nul": "a%00b",
    "percent": "a%25b",
}


@pytest.mark.parametrize("wire", BAD_IDS.values(), ids=BAD_IDS.keys())
@pytest.mark.parametrize(
    ("method", "path", "name", "body", "admin"), ID_ROUTES, ids=[f"{m} {p}" for m, p, *_ in ID_ROUTES]
)
def test_an_id_outside_the_pattern_is_400_whatever_it_holds(
    api_url: str,
    caller: TestUser,
    admin_user: TestUser,
    method: str,
    path: str,
    name: str,
    body: Any,
    admin: bool,
    wire: str,
) -> None:
    headers = (admin_user if admin else caller).headers
    answer = requests.request(method, api_url + path.format(wire), json=body, headers=headers, timeout=60)
    assert_invalid(answer, f"path.{name}")


@pytest.mark.parametrize("wire", ["a%2Fb", ""], ids=["encoded slash", "empty"])
@pytest.mark.parametrize(
    ("method", "path", "name", "body", "admin"), ID_ROUTES, ids=[f"{m} {p}" for m, p, *_ in ID_ROUTES]
)
def test_a_path_no_route_matches_is_answered_by_the_gateway(
    api_url: str,
    caller: TestUser,
    admin_user: TestUser,
    method: str,
    path: str,
    name: str,
    body: Any,
    admin: bool,
    wire: str,
) -> None:
    """`/users//balance` and `/users/a%2Fb/balance` (decoded to `a/b`) match no route of the
    template: the gateway answers them itself, before any function (AWS: 404 "Not Found"; SAM's
    local gateway: 403 "Missing Authentication Token"). A function given such an event anyway
    answers 400 (tests/unit/test_http_edges.py)."""
    headers = (admin_user if admin else caller).headers
    answer = requests.request(method, api_url + path.format(wire), json=body, headers=headers, timeout=60)
    assert answer.status_code in (400, 403, 404), answer.text
    assert "message" in answer.json()


@pytest.mark.parametrize("cursor", ["0", "zzz", "A" * 64])
def test_any_cursor_of_the_documented_pattern_answers_a_page(api: Client, cursor: str) -> None:
    page = api.ok("GET", f"/products?limit=3&cursor={cursor}")
    assert len(page["items"]) <= 3
    assert page["nextCursor"] is None or isinstance(page["nextCursor"], str)


@pytest.mark.parametrize("cursor", ["a.b", "A" * 65, "%EC%9C%A0"])
def test_a_cursor_outside_the_pattern_is_400(api_url: str, cursor: str) -> None:
    assert_invalid(requests.get(f"{api_url}/products?cursor={cursor}", timeout=60), "cursor")
