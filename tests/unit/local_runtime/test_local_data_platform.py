"""The local data platform takes an order only with the credential it expects, and can be told to
expect another one (a secret rotated on one side only)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local_runtime.data_platform import DataPlatformServer

ORDER = {"orderId": "o-1", "paidAmount": 1000}


@pytest.fixture
def server() -> Iterator[DataPlatformServer]:
    platform = DataPlatformServer(port=0, credential="the-credential").start()
    yield platform
    platform.stop()


def deliver(server: DataPlatformServer, authorization: str | None) -> requests.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return requests.post(server.orders_url, json=ORDER, headers=headers, timeout=5)


def listing(server: DataPlatformServer) -> Any:
    return requests.get(server.orders_url, timeout=5).json()


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer another", "Bearer the-credential ", "the-credential", "Basic the-credential", "Bearer "],
)
def test_a_delivery_without_the_credential_is_refused_401_with_a_json_body(
    server: DataPlatformServer, authorization: str | None
) -> None:
    answer = deliver(server, authorization)

    assert answer.status_code == 401
    assert answer.json()["code"] == "UNAUTHORIZED"
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert listing(server)["count"] == 0
    assert listing(server)["refused"] == 1


def test_a_delivery_with_the_credential_is_taken(server: DataPlatformServer) -> None:
    assert deliver(server, "Bearer the-credential").status_code == 201
    assert [item["orderId"] for item in listing(server)["items"]] == ["o-1"]


def test_told_to_expect_another_credential_it_refuses_the_first_until_told_back(server: DataPlatformServer) -> None:
    told = requests.post(f"{server.url}/credential", json={"expect": "rotated"}, timeout=5)
    assert told.status_code == 200
    assert "rotated" not in told.text  # it never echoes a credential

    assert deliver(server, "Bearer the-credential").status_code == 401
    assert deliver(server, "Bearer rotated").status_code == 201

    assert requests.delete(f"{server.url}/credential", timeout=5).status_code == 200
    assert deliver(server, "Bearer rotated").status_code == 401
    assert deliver(server, "Bearer the-credential").status_code == 200  # the same order again: a repeat


def test_without_a_credential_given_each_server_makes_its_own() -> None:
    first, second = DataPlatformServer(port=0), DataPlatformServer(port=0)
    try:
        assert first.credential != second.credential
        assert len(first.credential) >= 32
    finally:
        first.server_close()
        second.server_close()
