"""`make ledger-check ENDPOINT=...` aimed at something that is not DynamoDB Local (the API's URL, a
closed port) says so in one line and exits 2, instead of a traceback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from local_runtime import ledger_check
from tests.support.stub_server import serving


class _NotDynamoDB(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"message":"Not Found"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def not_dynamodb() -> Iterator[str]:
    with serving(_NotDynamoDB) as url:
        yield url


def _closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_an_endpoint_that_is_not_dynamodb_local_is_named_in_one_line(
    not_dynamodb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ledger_check.main(["--endpoint", not_dynamodb]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"cannot read the ledger at {not_dynamodb} ")
    assert "Traceback" not in error and error.count("\n") == 1


def test_a_closed_port_is_named_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    endpoint = _closed_port()
    assert ledger_check.main(["--endpoint", endpoint]) == 2
    assert capsys.readouterr().err.startswith(f"cannot read the ledger at {endpoint} ")
