"""The API docs page alone (`local_runtime.docs`): the page and its assets come from this machine,
the document is the API's, and "Try it out" requests reach the API as they were sent."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest

from local_runtime import openapi, ports
from local_runtime.docs import DocsServer
from tests.support.stub_server import serving


class _Echo(BaseHTTPRequestHandler):
    """Stands in for the API: answers what it was asked, 404 under /missing."""

    seen: list[dict[str, Any]] = []

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = {
            "method": self.command,
            "path": self.path,
            "body": self.rfile.read(length).decode() if length else None,
            "authorization": self.headers.get("Authorization"),
            "contentType": self.headers.get("Content-Type"),
        }
        self.seen.append(request)
        data = json.dumps(request).encode()
        self.send_response(404 if self.path.startswith("/missing") else 201 if self.command == "POST" else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _answer


@pytest.fixture(scope="module")
def docs() -> Iterator[str]:
    with serving(_Echo) as api:
        server = DocsServer(api, port=0).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.stop()


def get(url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def test_the_page_loads_swagger_ui_from_this_server_only(docs: str) -> None:
    status, content_type, page = get(f"{docs}/docs")
    assert (status, content_type) == (200, "text/html; charset=utf-8")
    html = page.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "the page loads something from elsewhere"
    assets = re.findall(r"""(?:src|href)="(/static/[^"]+)\"""", html)
    assert "/static/swagger-ui-bundle.js" in assets and "/static/swagger-ui.css" in assets
    for asset in assets:
        status, _, body = get(docs + asset)
        assert status == 200 and len(body) > 1000, asset
    assert '"/openapi.json"' in html


def test_the_document_describes_every_route_of_the_template_and_points_at_this_server(docs: str) -> None:
    status, content_type, body = get(f"{docs}/openapi.json")
    assert (status, content_type) == (200, "application/json")
    document = json.loads(body)
    described = {(path, method) for path, operations in document["paths"].items() for method in operations}
    assert described == openapi.template_routes()
    assert [server["url"] for server in document["servers"]] == ["/api"]


def test_try_it_out_requests_reach_the_api_as_sent(docs: str) -> None:
    body = json.dumps({"amount": 5}).encode()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer t"}
    status, content_type, answer = get(f"{docs}/api/users/u1/balance/charge?x=1", body, headers)
    assert (status, content_type) == (201, "application/json")
    assert json.loads(answer) == {
        "method": "POST",
        "path": "/users/u1/balance/charge?x=1",
        "body": '{"amount": 5}',
        "authorization": "Bearer t",
        "contentType": "application/json",
    }
    status, _, answer = get(f"{docs}/api/missing")
    assert status == 404 and json.loads(answer)["path"] == "/missing"  # the API's answer, passed on


def test_anything_else_is_not_found(docs: str) -> None:
    for path in ("/nope", "/static/../run.py", "/static/LICENSE", "/api"):
        status, _, body = get(docs + path)
        assert (status, json.loads(body)) == (404, {"message": "Not Found"}), path


def test_an_api_that_does_not_answer_is_a_502() -> None:
    server = DocsServer(f"http://127.0.0.1:{ports.free_port()}", port=0).start(prepare=False)
    try:
        status, _, body = get(f"http://127.0.0.1:{server.server_address[1]}/api/products")
    finally:
        server.stop()
    assert status == 502 and "did not answer" in json.loads(body)["message"]
