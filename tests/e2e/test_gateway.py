"""The gateway over HTTP answers as an AWS HTTP API, never with a 5xx of its own; each request has
its own id; the functions' output reaches the terminal one whole line per record, naming its
function and its invocation."""

from __future__ import annotations

import http.client
import json
import re
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.conftest import Client, fresh_id, race

NOT_FOUND = {"message": "Not Found"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("POST", "/nope/deeper"),
        ("DELETE", "/products"),
        ("PUT", "/users/user-1/balance"),
        ("PATCH", "/coupons/c-welcome"),
        ("OPTIONS", "/products"),
        ("GET", "/users/user-1/balance/charge"),
    ],
)
def test_a_route_or_method_the_api_does_not_have_is_404_not_found(api_url: str, method: str, path: str) -> None:
    response = requests.request(method, api_url + path, timeout=30)
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert response.headers["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/users/user-1//balance"),
        ("GET", "/products//"),
        ("GET", "//products"),
        ("POST", "//orders"),
        ("GET", "/products/"),
        ("POST", "/users/user-1/balance/charge/"),
    ],
)
def test_a_path_that_matches_no_route_exactly_is_404_from_the_gateway_before_the_authorizer(
    api_url: str, method: str, path: str
) -> None:
    """No redirect to a cleaned path, no route served under an empty or trailing segment: with a
    token the authorizer would refuse (403) and a body the function would refuse (400), the
    gateway's own 404 shows that neither ran."""
    response = requests.request(
        method,
        api_url + path,
        data=b"{",
        headers={"Authorization": "Bearer refused"},
        timeout=30,
        allow_redirects=False,
    )
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", ["/products", "/users/user-1/balance", "/nope"])
def test_head_is_a_method_the_api_does_not_have(api_url: str, path: str) -> None:
    response = requests.head(api_url + path, timeout=30)
    assert response.status_code == 404
    assert response.content == b""
    assert int(response.headers["Content-Length"]) == len(json.dumps(NOT_FOUND))


def test_a_body_that_is_not_utf8_reaches_the_function_and_is_refused(api: Client, api_url: str) -> None:
    user = fresh_id("bytes")
    api.as_user(user).ok("POST", f"/users/{user}/balance/charge", {"amount": 500})

    response = requests.post(
        f"{api_url}/users/{user}/balance/charge",
        data=b'{"amount": \xff\xfe 700}',
        headers={"Content-Type": "application/json", **api.as_user(user).headers},
        timeout=30,
    )

    assert response.status_code == 400
    assert response.json() == {"code": "INVALID_REQUEST", "message": "body: not UTF-8 text"}
    assert api.as_user(user).get(f"/users/{user}/balance").body["balance"] == 500


def test_a_100_kb_path_is_a_4xx_in_json(api_url: str) -> None:
    response = requests.get(f"{api_url}/products/{'a' * 100_000}", timeout=30)
    assert 400 <= response.status_code < 500
    assert response.headers["Content-Type"] == "application/json"
    assert isinstance(response.json()["message"], str)
    assert requests.get(f"{api_url}/products", timeout=30).status_code == 200  # and the API still serves


def test_each_request_has_its_own_request_id(api: Client, api_url: str) -> None:
    session = requests.Session()
    ids = [session.get(f"{api_url}/products/p-mouse", timeout=30).headers["Apigw-Requestid"] for _ in range(10)]
    assert len(set(ids)) == 10
    assert all(uuid.UUID(request_id) for request_id in ids)


LINE = re.compile(r"^\[(?P<function>\w+) (?P<request>[0-9a-f]{8}|init|idle)\] (?P<text>.*)$")


def test_function_output_is_one_whole_line_per_record_naming_function_and_request(api: Client, capfd: Any) -> None:
    coupon = api.as_user("admin", admin=True).ok(
        "POST",
        "/coupons",
        {"name": "Log lines", "discount": {"type": "FIXED", "amount": 10}, "totalQuantity": 1000, "validDays": 1},
    )
    path = f"/coupons/{coupon['couponId']}/issue"
    capfd.readouterr()
    users = [fresh_id("logger") for _ in range(64)]

    codes, _ = race([lambda user=user: api.as_user(user).post(path, {"userId": user}) for user in users], clients=16)
    assert codes == {"201": 64}

    issued: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 10
    out = ""
    while len(issued) < 64 and time.monotonic() < deadline:
        time.sleep(0.2)
        captured = capfd.readouterr()
        out += captured.err + captured.out
        for line in out.splitlines():
            match = LINE.match(line)
            if not match or not match["text"].startswith("{"):
                continue
            record = json.loads(match["text"])  # one JSON record, whole, on its line
            if "CouponsIssued" in record:
                assert match["function"] == "CouponIssueFunction"
                issued[match["request"]] = record
    assert len(issued) == 64  # one metrics record per invocation, each under its own request id


def _connection(api_url: str) -> http.client.HTTPConnection:
    address = urlsplit(api_url)
    return http.client.HTTPConnection(str(address.hostname), address.port, timeout=30)


def _exchange(
    connection: http.client.HTTPConnection, method: str, path: str, body: bytes | None = None, **headers: str
) -> http.client.HTTPResponse:
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    return response


def test_a_connection_carries_one_request_after_another_as_api_gateway_keeps_it_open(api_url: str) -> None:
    connection = _connection(api_url)
    try:
        answers = [_exchange(connection, "GET", "/products") for _ in range(3)]
        sockets = {id(connection.sock)}
    finally:
        connection.close()
    assert [answer.status for answer in answers] == [200, 200, 200]
    assert all(answer.getheader("Connection") is None and not answer.will_close for answer in answers)
    assert len(sockets) == 1


def test_a_body_the_function_never_reads_is_not_taken_for_the_next_request(api_url: str) -> None:
    # A route the API does not have: the gateway answers 404 without reading the body, which holds
    # what would be a request of its own if the connection were read from where the answer ends.
    smuggled = b"GET /products HTTP/1.1\r\nHost: x\r\n\r\n"
    connection = _connection(api_url)
    try:
        first = _exchange(connection, "POST", "/nope", smuggled, **{"Content-Type": "text/plain"})
        second = _exchange(connection, "GET", "/nope/again")
    finally:
        connection.close()
    assert (first.status, second.status) == (404, 404)
    assert not first.will_close and not second.will_close


def test_a_chunked_body_is_read_whole_and_the_connection_carries_the_next_request(api_url: str) -> None:
    # The chunks hold what would be a request of its own (answered 200) if the body were not read whole.
    smuggled = [b"GET /products HTTP/1.1\r\n", b"Host: x\r\n\r\n"]
    connection = _connection(api_url)
    try:
        connection.request("POST", "/nope", body=iter(smuggled), encode_chunked=True)
        first = connection.getresponse()
        first.read()
        second = _exchange(connection, "GET", "/nope/again")
    finally:
        connection.close()
    assert (first.status, second.status) == (404, 404)
    assert not first.will_close and not second.will_close
