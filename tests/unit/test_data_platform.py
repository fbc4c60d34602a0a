"""Sending an order to the data platform: with the shop's credential, and only a 2xx answer to the
POST is a delivery (a 401 or 403 is a refused credential, a failure like the others)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from shop.errors import CredentialRefused, CredentialUnavailable, DataPlatformUnavailable
from shop.models.order import Order
from shop.models.product import Product
from shop.services.data_platform import DataPlatformService
from tests.support.orders import paid_order

ORDER = paid_order(
    [(Product(product_id="p", name="P", price=100, stock=5), 2)],
    at=datetime.fromisoformat("2026-11-24T09:30:00+09:00"),
)


class Given:
    """A credential that gives `values` in turn and counts the refusals it is told of."""

    def __init__(self, *values: str) -> None:
        self.values = list(values)
        self.refusals = 0

    def value(self) -> str:
        if not self.values:
            raise CredentialUnavailable("no value")
        return self.values[0] if len(self.values) == 1 else self.values.pop(0)

    def refused(self) -> None:
        self.refusals += 1


class Platform:
    """A data platform on 127.0.0.1 that answers POSTs with `status` (and `location`)."""

    def __init__(self, status: int, location: str | None = None) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        self.authorizations: list[str | None] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                platform.requests.append((method, self.path, self.rfile.read(length)))
                platform.authorizations.append(self.headers.get("Authorization"))
                code = status if method == "POST" else 200
                self.send_response(code)
                if location and method == "POST":
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                self._answer("POST")

            def do_GET(self) -> None:
                self._answer("GET")

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/orders"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def platform(request: pytest.FixtureRequest) -> Iterator[Platform]:
    status, location = request.param
    server = Platform(status, location)
    yield server
    server.stop()


@pytest.mark.parametrize("platform", [(200, None), (201, None), (204, None)], indirect=True)
def test_a_2xx_answer_is_a_delivery(platform: Platform) -> None:
    DataPlatformService(platform.url, Given("s3cr3t")).send(ORDER)
    [(method, path, body)] = platform.requests
    assert (method, path) == ("POST", "/orders")
    assert Order.model_validate_json(body) == ORDER
    assert platform.authorizations == ["Bearer s3cr3t"]


@pytest.mark.parametrize("platform", [(201, None)], indirect=True)
def test_each_delivery_carries_the_credential_of_the_moment(platform: Platform) -> None:
    service = DataPlatformService(platform.url, Given("before", "after"))
    service.send(ORDER)
    service.send(ORDER)
    assert platform.authorizations == ["Bearer before", "Bearer after"]


@pytest.mark.parametrize("platform", [(401, None), (403, None)], indirect=True)
def test_a_refused_credential_is_a_failed_delivery_and_is_read_again(platform: Platform) -> None:
    credential = Given("stale")
    with pytest.raises(CredentialRefused, match="refused the credential") as refused:
        DataPlatformService(platform.url, credential).send(ORDER)
    assert isinstance(refused.value, DataPlatformUnavailable)  # the forwarder reports it; the queue retries
    assert credential.refusals == 1
    assert platform.authorizations == ["Bearer stale"]


@pytest.mark.parametrize("platform", [(201, None)], indirect=True)
def test_without_a_credential_nothing_is_sent(platform: Platform) -> None:
    with pytest.raises(DataPlatformUnavailable, match="no credential"):
        DataPlatformService(platform.url, Given()).send(ORDER)
    assert platform.requests == []


@pytest.mark.parametrize(
    "platform", [(301, "/elsewhere"), (302, "/elsewhere"), (307, "/elsewhere"), (500, None)], indirect=True
)
def test_a_redirect_or_an_error_is_not_a_delivery(platform: Platform) -> None:
    with pytest.raises(DataPlatformUnavailable, match="answered"):
        DataPlatformService(platform.url, Given("s3cr3t")).send(ORDER)
    assert [method for method, _, _ in platform.requests] == ["POST"]


def test_a_url_that_is_not_http_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="http"):
        DataPlatformService("file:///etc/passwd", Given("s3cr3t"))
