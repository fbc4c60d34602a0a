"""Identity over HTTP through the local runtime: SAM's gateway runs the template's Lambda authorizer
before any route function, as API Gateway does.

A refusal by the gateway has API Gateway's body (`{"message": ...}`); an answer of a route function
always has the contract's (`{"code", "message"}`): the body tells who answered, and the database
tells that nothing changed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer

from local_runtime import issuer
from shop.auth.tokens import LOCAL_CLIENT_ID, LOCAL_ISSUER, LOCAL_KEY_ID
from tests.e2e.conftest import Answer, Client, fresh_id

PROTECTED = [
    ("GET", "/users/user-1/balance", None),
    ("POST", "/users/user-1/balance/charge", {"amount": 1_000}),
    ("GET", "/users/user-1/coupons", None),
    ("POST", "/coupons/c-welcome/issue", {"userId": "user-1"}),
    ("POST", "/orders", {"userId": "user-1", "items": [{"productId": "p-mouse", "quantity": 1}]}),
    ("POST", "/products", {"name": "Lamp", "price": 1, "stock": 1}),
    ("POST", "/products/p-mouse/stock", {"quantity": 1}),
    (
        "POST",
        "/coupons",
        {"name": "X", "discount": {"type": "PERCENT", "rate": 100}, "totalQuantity": 5, "validDays": 1},
    ),
    ("GET", "/coupons/c-welcome", None),
]
IDS = [f"{method} {path}" for method, path, _ in PROTECTED]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unsigned(alg: str, claims: dict[str, Any]) -> str:
    return f"{_b64(json.dumps({'alg': alg, 'kid': LOCAL_KEY_ID}).encode())}.{_b64(json.dumps(claims).encode())}"


def _claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": LOCAL_ISSUER,
        "client_id": LOCAL_CLIENT_ID,
        "token_use": "access",
        "sub": "user-1",
        "cognito:groups": ["admin"],
        "iat": now,
        "exp": now + 600,
    }
    return {**claims, **changes}


def bad_tokens(tmp: Path) -> dict[str, str]:
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.import_key(issuer.private_key_pem())
    public_pem = RSAKey.import_key(key.as_dict(private=False)).as_pem()
    hs256_input = _unsigned("HS256", _claims())
    hs256 = hmac.new(public_pem, hs256_input.encode(), hashlib.sha256).digest()

    def signed(**changes: Any) -> str:
        return jwt.encode({"alg": "RS256", "kid": LOCAL_KEY_ID}, _claims(**changes), key, algorithms=["RS256"])

    return {
        "garbage": "garbage",
        "expired": issuer.issue("user-1", admin=True, now=time.time() - 7200),
        "another key": issuer.issue("user-1", admin=True, path=tmp / "other-key.pem"),
        "alg none": _unsigned("none", _claims()) + ".",
        "HS256 with the public key": f"{hs256_input}.{_b64(hs256)}",
        "another issuer": signed(iss="https://cognito-idp.us-east-1.amazonaws.com/elsewhere"),
        "another client": signed(client_id="another-client"),
        "no sub": signed(sub=None),
    }


def _balance(dynamodb_client: Any, user: str) -> int:
    item = dynamodb_client.get_item(TableName="BalancesTable", Key={"userId": {"S": user}}, ConsistentRead=True)
    return int(TypeDeserializer().deserialize(item["Item"]["balance"])) if "Item" in item else 0


def _by_gateway(answer: Answer) -> bool:
    return isinstance(answer.body, dict) and set(answer.body) == {"message"}


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=IDS)
def test_no_token_is_401_from_the_gateway(api: Client, method: str, path: str, body: Any) -> None:
    answer = api.call(method, path, body)
    assert answer.status == 401, answer
    assert _by_gateway(answer), answer


def test_no_token_charges_nothing(api: Client, dynamodb_client: Any) -> None:
    before = _balance(dynamodb_client, "user-1")
    assert api.post("/users/user-1/balance/charge", {"amount": 1_000}).status == 401
    assert api.call("POST", "/users/user-1/balance/charge", {"amount": 1}, {"Authorization": ""}).status == 401
    assert _balance(dynamodb_client, "user-1") == before


def test_a_token_that_fails_verification_is_refused_before_the_function_runs(
    api: Client, dynamodb_client: Any, tmp_path: Path
) -> None:
    before = _balance(dynamodb_client, "user-1")
    for name, token in bad_tokens(tmp_path).items():
        for scheme in ("Bearer", "bearer"):
            headers = {"Authorization": f"{scheme} {token}"}
            answer = api.call("POST", "/users/user-1/balance/charge", {"amount": 1_000}, headers)
            assert answer.status in (401, 403), (name, answer)
            assert _by_gateway(answer), (name, answer)
        answer = api.call("POST", "/products", {"name": "X", "price": 0, "stock": 1}, headers)
        assert (answer.status, _by_gateway(answer)) == (403, True), (name, answer)
    assert _balance(dynamodb_client, "user-1") == before
    for scheme in ("Basic dXNlcjpwYXNz", "Token abc", issuer.issue("user-1")):  # not a bearer token
        answer = api.call("GET", "/users/user-1/balance", None, {"Authorization": scheme})
        assert answer.status in (401, 403) and _by_gateway(answer), answer


def test_another_users_balance_is_403_forbidden(api: Client) -> None:
    answer = api.as_user("user-2").get("/users/user-1/balance")
    assert (answer.status, answer.body["code"]) == (403, "FORBIDDEN")
    assert api.as_user("user-1").get("/users/user-1/balance").status == 200
    answer = api.as_user("e2e-admin", admin=True).get("/users/user-1/balance")
    assert (answer.status, answer.body["userId"]) == (200, "user-1")


def test_nobody_charges_or_spends_for_another_user(api: Client, dynamodb_client: Any) -> None:
    victim = fresh_id("victim")
    api.as_user(victim).ok("POST", f"/users/{victim}/balance/charge", {"amount": 50_000})
    for thief in (api.as_user("user-2"), api.as_user("e2e-admin", admin=True)):
        answer = thief.post(f"/users/{victim}/balance/charge", {"amount": 1_000})
        assert (answer.status, answer.body["code"]) == (403, "FORBIDDEN")
        order = {"userId": victim, "items": [{"productId": "p-mouse", "quantity": 1}]}
        answer = thief.post("/orders", order)
        assert (answer.status, answer.body["code"]) == (403, "FORBIDDEN")
        answer = thief.post("/coupons/c-welcome/issue", {"userId": victim})
        assert (answer.status, answer.body["code"]) == (403, "FORBIDDEN")
    assert _balance(dynamodb_client, victim) == 50_000
    assert api.as_user(victim).get(f"/users/{victim}/coupons").body == {"items": []}


def test_the_caller_is_the_user_when_the_body_leaves_it_out(api: Client) -> None:
    user = fresh_id("omitter")
    me = api.as_user(user)
    me.ok("POST", f"/users/{user}/balance/charge", {"amount": 100_000})
    issued = me.ok("POST", "/coupons/c-welcome/issue", {})
    assert issued["userId"] == user
    order = me.ok(
        "POST",
        "/orders",
        {"items": [{"productId": "p-mouse", "quantity": 1}], "issuedCouponId": issued["issuedCouponId"]},
    )
    assert (order["userId"], order["issuedCouponId"]) == (user, issued["issuedCouponId"])


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED[5:], ids=IDS[5:])
def test_catalogue_administration_is_403_for_a_user_and_served_for_an_admin(
    api: Client, method: str, path: str, body: Any
) -> None:
    answer = api.as_user("user-1").call(method, path, body)
    assert (answer.status, answer.body["code"]) == (403, "FORBIDDEN")
    answer = api.as_user("e2e-admin", admin=True).call(method, path, body)
    assert answer.status in (200, 201), answer


@pytest.mark.parametrize("path", ["/products", "/products/p-mouse", "/products/popular"])
def test_the_catalogue_and_the_ranking_are_public(api: Client, path: str) -> None:
    assert api.get(path).status == 200
    assert api.call("GET", path, None, {"Authorization": "Bearer garbage"}).status == 200
