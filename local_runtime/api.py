"""The template's HTTP API, served by SAM CLI's own local API Gateway, each function instance a process.

`sam local start-api` builds the routes from the template (`ApiProvider`), turns each request
into a payload 2.0 event and maps the function's answer back (`LocalApigwService`), and runs the
function in a Docker container (`LocalLambdaRunner`). Here the same gateway calls
`LocalLambda.invoke` instead of a container. These are SAM CLI internals: the version is
pinned in requirements-dev.txt and `tests/integration/test_sam_internals.py` checks them.

Where SAM's emulation differs from an AWS HTTP API, `HttpApiGateway` answers as AWS does:
- a route or method the API does not have (HEAD included): `404 {"message":"Not Found"}`
  (SAM: 403 Missing Authentication Token, and 502 for HEAD);
- a body that is not UTF-8 reaches the function base64-encoded, `isBase64Encoded: true` (SAM: 502);
- each request has its own `requestContext.requestId` (the logs' correlation id; also answered as
  the `Apigw-Requestid` header) and time (SAM computes both once, when it is imported);
- a function that fails, times out or answers what API Gateway cannot read:
  `500 {"message":"Internal Server Error"}`;
- a request the HTTP server cannot read (a 100 KB path): its 4xx with a JSON body, not HTML.
"""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
import time
import uuid
from http import HTTPStatus
from typing import Any

from flask import Response, g, request
from samcli.local.apigw import local_apigw_service
from samcli.local.apigw.event_constructor import construct_v2_event_http
from samcli.local.apigw.path_converter import PathConverter
from samcli.local.apigw.route import Route
from werkzeug.serving import WSGIRequestHandler

from local_runtime import template
from local_runtime.functions import LocalLambda

LOG = logging.getLogger("local_runtime.api")
DRAIN_SECONDS = 30.0


class _NoTelemetry:
    """SAM's gateway records a telemetry event per request (and sends them in batches when SAM's
    telemetry is on). Nothing leaves this machine: the local runtime records none."""

    @staticmethod
    def track_event(*_: Any, **__: Any) -> None:
        return None


def _json_response(status: HTTPStatus, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=int(status), mimetype="application/json")


_SAM_FAILURE = {"message": "Internal server error"}


class HttpApiGateway(local_apigw_service.LocalApigwService):  # type: ignore[misc]
    """SAM's local gateway, answering as an AWS HTTP API where SAM's emulation differs."""

    def _construct_error_handling(self) -> None:
        self._app.register_error_handler(404, self._not_found)
        self._app.register_error_handler(405, self._not_found)
        self._app.register_error_handler(500, self._internal_error)

    @staticmethod
    def _not_found(*_: Any) -> Response:
        return _json_response(HTTPStatus.NOT_FOUND, "Not Found")

    @staticmethod
    def _internal_error(error: Any = None) -> Response:
        LOG.error("the gateway failed on %s %s: %s", request.method, request.path, error)
        return _json_response(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal Server Error")

    def _generate_lambda_event(self, flask_request: Any, route: Route, method: str, endpoint: str) -> dict[str, Any]:
        try:
            event: dict[str, Any] = super()._generate_lambda_event(flask_request, route, method, endpoint)
        except UnicodeDecodeError:
            if route.event_type != Route.HTTP or route.payload_format_version not in (None, "2.0"):
                raise
            # Not UTF-8: the body goes base64-encoded, as API Gateway sends a binary body.
            event = construct_v2_event_http(
                flask_request=flask_request,
                port=self.port,
                binary_types=["*/*"],
                stage_name=self.api.stage_name,
                stage_variables=self.api.stage_variables,
                route_key=self._v2_route_key(
                    method, PathConverter.convert_path_to_api_gateway(endpoint), route.is_default_route
                ),
            )
        context = event.setdefault("requestContext", {})
        now = time.time()
        # One id per request: the authorizer's event and the route's event are built apart.
        if "request_id" not in g:
            g.request_id = str(uuid.uuid4())
        context["requestId"] = g.request_id
        context["timeEpoch"] = int(now * 1000)
        context["time"] = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now))
        return event

    def _request_handler(self, **kwargs: Any) -> Response:
        try:
            self._get_current_route(request)
        except KeyError:  # a method the path does not have (HEAD, which Flask adds to GET)
            return self._not_found()
        response: Response = super()._request_handler(**kwargs)
        if response.status_code in (500, 502) and response.get_json(silent=True) == _SAM_FAILURE:
            response = _json_response(HTTPStatus.INTERNAL_SERVER_ERROR, "Internal Server Error")
        if "request_id" in g:
            response.headers["Apigw-Requestid"] = g.request_id
        return response


MAX_KEPT_BODY_BYTES = 10 * 1024 * 1024
"""API Gateway's payload limit: a request with a larger body is served on a connection closed after it."""


def _body_length(headers: Any) -> int | None:
    """The length of a request's body as its headers declare it (0 for none), or None when it is
    chunked, unreadable or larger than `MAX_KEPT_BODY_BYTES`."""
    if headers.get("Transfer-Encoding") is not None:
        return None
    declared = headers.get("Content-Length")
    if declared is None:
        return 0
    try:
        length = int(declared)
    except ValueError:
        return None
    return length if 0 <= length <= MAX_KEPT_BODY_BYTES else None


class InFlight:
    """How many requests a server is answering, so that a stop can let them finish."""

    def __init__(self) -> None:
        self.closing = False
        self._count = 0
        self._idle = threading.Condition()

    def __enter__(self) -> None:
        with self._idle:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._idle:
            self._count -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, answering a request it cannot read with a JSON body, sending
    each answer at once (the headers and the body are two writes: with Nagle's algorithm the body
    would wait for the client to acknowledge the headers), and keeping HTTP/1.1 connections open
    between requests, as API Gateway does. werkzeug closes every connection, since it cannot tell
    where a body the application left unread ends; here a body of a declared length is read whole
    before the application runs, so the next request starts where it ends."""

    disable_nagle_algorithm = True
    _keep_alive = False
    in_flight: InFlight  # set on the class LocalApi makes for its server

    def run_wsgi(self) -> None:
        if self.in_flight.closing:  # stopping: a request on an open connection finds it closed
            self.close_connection = True
            return
        with self.in_flight:
            self._serve()
        if self.in_flight.closing:
            self.close_connection = True

    def _serve(self) -> None:
        length = _body_length(self.headers)
        if length is None or self.request_version != "HTTP/1.1" or self.close_connection:
            super().run_wsgi()
            return
        connection = self.rfile
        self.rfile = io.BytesIO(connection.read(length) if length else b"")
        self._keep_alive = True
        try:
            super().run_wsgi()
        finally:
            self.rfile = connection
            self._keep_alive = False

    def send_header(self, keyword: str, value: str) -> None:
        if self._keep_alive and keyword.lower() == "connection" and value.lower() == "close":
            return  # the request was read whole: the connection can carry the next one
        super().send_header(keyword, value)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = message or "Error"
        body = json.dumps({"message": phrase}).encode()
        self.log_error("code %d, message %s", code, message or phrase)
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD" and code >= 200 and code not in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED):
            self.wfile.write(body)


class LocalApi:
    """The HTTP API of the template on http://host:port, in a background thread."""

    def __init__(self, functions: LocalLambda, stack_list: list[Any], *, host: str = "127.0.0.1", port: int = 3000):
        from samcli.lib.providers.api_provider import ApiProvider
        from samcli.lib.utils.stream_writer import StreamWriter
        from werkzeug.serving import make_server

        local_apigw_service.EventTracker = _NoTelemetry
        self.api = ApiProvider(stack_list, cwd=str(template.ROOT)).api
        if not self.api.routes:
            raise ValueError("template.yaml declares no API route")
        self.service = HttpApiGateway(
            api=self.api,
            lambda_runner=functions,
            port=port,
            host=host,
            stderr=StreamWriter(sys.stderr, auto_flush=True),
        )
        self.service.create()
        # The server `sam local start-api` runs (werkzeug, a thread per request), made here so that
        # it can run in a thread and be shut down.
        self.in_flight = InFlight()
        handler = type("RequestHandler", (_RequestHandler,), {"in_flight": self.in_flight})
        self.server = make_server(host, port, self.service._app, threaded=True, request_handler=handler)
        self.host, self.port = host, int(self.server.server_port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def routes(self) -> list[tuple[str, str, str]]:
        """(method, path, function) of every route, sorted by path."""
        return sorted(
            ((method, route.path, route.function_name) for route in self.api.routes for method in route.methods),
            key=lambda r: (r[1], r[0]),
        )

    def start(self) -> LocalApi:
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="local-api")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Take no new connection, let the requests under way finish (within `DRAIN_SECONDS`, so that
        the functions are not stopped under them), then close."""
        self.in_flight.closing = True
        self.server.shutdown()
        if not self.in_flight.wait_idle(DRAIN_SECONDS):
            LOG.warning("requests still under way after %ss; stopping anyway", DRAIN_SECONDS)
        self.server.server_close()
