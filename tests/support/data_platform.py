"""A local data platform for the forwarder's unit tests: an HTTP server on 127.0.0.1 that records
the POSTs it gets and answers as told; and the forwarder's credential in moto's Secrets Manager.

Its fixtures, `data_platform` and `data_platform_credential`, come with
`from tests.support.data_platform import *  # noqa: F403`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

__all__ = ["data_platform", "data_platform_credential"]  # the fixtures; DataPlatform by name


class DataPlatform:
    """An HTTP server on 127.0.0.1 that records the POSTs it gets and answers `status`."""

    def __init__(self) -> None:
        self.status = 202
        self.refused: set[str] = set()  # orderIds answered 500 whatever `status` says
        self.received: list[tuple[str, dict[str, str], Any]] = []
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                platform.received.append((self.path, dict(self.headers), body))
                self.send_response(500 if body.get("orderId") in platform.refused else platform.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/orders"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def data_platform() -> Iterator[DataPlatform]:
    platform = DataPlatform()
    yield platform
    platform.close()


@pytest.fixture
def data_platform_credential(aws: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The secret DataPlatformCredential in moto's Secrets Manager, its ARN in the forwarder's
    environment as the template gives it; yields its value."""
    value = "credential-of-the-unit-tests"
    arn = boto3.client("secretsmanager").create_secret(Name="data-platform-credential", SecretString=value)["ARN"]
    monkeypatch.setenv("DATA_PLATFORM_CREDENTIAL_SECRET_ARN", arn)
    parameters.clear_caches()  # Powertools' provider is made again inside moto
    yield value
    parameters.clear_caches()
