"""Bodies API Gateway sends base64-encoded (`isBase64Encoded: true`, as it sends a body that is not
UTF-8 text): decoded when they are UTF-8 text, refused with 400 INVALID_REQUEST when not, and a
refusal changes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.support.lambda_events import LambdaContext, http_event
from tests.unit.conftest import Api


def charge(api: Api, raw: bytes) -> tuple[int, Any]:
    event = http_event(
        "POST",
        "/users/user-1/balance/charge",
        raw_body=base64.b64encode(raw).decode(),
        headers={"Content-Type": "application/json"},
        caller="user-1",
    )
    event["pathParameters"] = {"userId": "user-1"}
    event["isBase64Encoded"] = True
    answer = api.handler("BalanceChargeFunction")(event, LambdaContext())
    return answer["statusCode"], json.loads(answer["body"])


def test_a_base64_encoded_json_body_is_decoded(api: Api, seeded: None) -> None:
    status, body = charge(api, b'{"amount": 700}')
    assert (status, body) == (200, {"userId": "user-1", "balance": 1_000_700})


@pytest.mark.parametrize(
    "raw", [b'\xff\xfe{"amount": 700}', b'{"amount": 7\xe9}', b"\x80"], ids=["bom", "latin-1", "lone byte"]
)
def test_a_body_that_is_not_utf8_is_refused(api: Api, seeded: None, raw: bytes) -> None:
    status, body = charge(api, raw)

    assert status == 400
    assert body == {"code": "INVALID_REQUEST", "message": "body: must be UTF-8 text"}
    balance = api.call("BalanceInquiryFunction", "GET", "/users/user-1/balance", caller="user-1")
    assert balance == (200, {"userId": "user-1", "balance": 1_000_000})  # unchanged


def test_a_body_flagged_base64_that_is_not_base64_is_refused(api: Api, seeded: None) -> None:
    event = http_event("POST", "/users/user-1/balance/charge", raw_body="not base64!", caller="user-1")
    event["pathParameters"] = {"userId": "user-1"}
    event["isBase64Encoded"] = True
    answer = api.handler("BalanceChargeFunction")(event, LambdaContext())
    assert (answer["statusCode"], json.loads(answer["body"])["code"]) == (400, "INVALID_REQUEST")
