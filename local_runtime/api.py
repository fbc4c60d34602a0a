"""The template's HTTP API on this machine, answering as an AWS HTTP API (payload format 2.0).

`Gateway` is the API Gateway part: it matches a request to a route of the template, calls the
route's Lambda authorizer (payload 2.0 REQUEST event, simple response, its answer cached per
identity source for the authorizer's `ReauthorizeEvery` seconds), sends the route's function a
payload 2.0 event, and maps the function's answer back. `LocalApi` serves it with waitress (a WSGI
app: each request answered in a thread of waitress's pool, each function instance a process).

As an AWS HTTP API:
- a path no route matches exactly, or a method the route does not have (HEAD included):
  `404 {"message":"Not Found"}`, before any authorizer or function (`/products/`, `//orders`);
- no identity source: `401 {"message":"Unauthorized"}`; refused: `403 {"message":"Forbidden"}`;
- each request has its own `requestContext.requestId`, in the authorizer's event and the route's,
  also answered as the `Apigw-Requestid` header;
- a body that is not UTF-8 reaches the function base64-encoded (`isBase64Encoded: true`);
- a function that fails, times out or answers what API Gateway cannot read:
  `500 {"message":"Internal Server Error"}`;
- a path over 8 KB: `414`, a body over 10 MB: `413`, in JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote_to_bytes

from local_runtime import template
from local_runtime.template import AuthorizerDefinition, RouteDefinition

LOG = logging.getLogger("local_runtime.api")
DRAIN_SECONDS = 30.0  # a stop lets the requests under way finish for this long
MAX_PATH_BYTES = 8 * 1024
MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
INVOCATION_THREADS = 64  # requests answered at once; more wait for a thread
_UNSAFE_HEADER_VALUE = re.compile(r"[^\t\x20-\x7e\x80-\xff]")  # what an HTTP/1.1 header cannot carry


@dataclass
class Request:
    method: str
    path: str  # percent-decoded
    query: str
    headers: list[tuple[str, str]]  # names in lower case, in the order sent
    body: bytes
    source_ip: str


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


def message(status: HTTPStatus, **extra: str) -> Answer:
    """API Gateway's own answer: `{"message": <the status phrase>}` in JSON."""
    body = json.dumps({"message": status.phrase}).encode()
    return Answer(int(status), [("content-type", "application/json"), *extra.items()], body)


class Function(Protocol):
    def invoke_json(self, event: bytes) -> tuple[bool, bytes]: ...


class Functions(Protocol):
    def __getitem__(self, logical_id: str) -> Function: ...


def path_parameters(route: RouteDefinition, segments: list[str]) -> dict[str, str] | None:
    """The path parameters when the request path's segments match the route's, else None."""
    own = route.path.strip("/").split("/")
    if len(own) != len(segments):
        return None
    parameters = {}
    for mine, theirs in zip(own, segments, strict=True):
        if mine.startswith("{") and mine.endswith("}"):
            parameters[mine[1:-1]] = theirs
        elif mine != theirs:
            return None
    return parameters


class Gateway:
    """API Gateway's part of a request: route, authorize, build the event, map the answer."""

    def __init__(
        self, functions: Functions, routes: list[RouteDefinition], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.functions = functions
        self.routes = routes
        self.clock = clock
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[float, dict[str, Any]]] = {}
        self._cache_lock = threading.Lock()

    def answer(self, request: Request) -> Answer:
        request_id = str(uuid.uuid4())
        answer = self._answer(request, request_id)
        answer.headers.append(("apigw-requestid", request_id))
        return answer

    def route(self, method: str, path: str) -> tuple[RouteDefinition, dict[str, str]] | None:
        """The route `method path` is served by, with its path parameters; a literal segment is
        preferred to a parameter (`/products/popular` over `/products/{productId}`)."""
        segments = path[1:].split("/") if path.startswith("/") else []
        if not segments or "" in segments:
            return None
        found = [
            (r, p)
            for r in self.routes
            if r.method in (method, "ANY") and (p := path_parameters(r, segments)) is not None
        ]
        return max(found, key=lambda found: [not s.startswith("{") for s in found[0].path.split("/")], default=None)

    def _answer(self, request: Request, request_id: str) -> Answer:
        if len(request.path.encode()) > MAX_PATH_BYTES:
            return message(HTTPStatus.REQUEST_URI_TOO_LONG)
        if len(request.body) > MAX_BODY_BYTES:
            return message(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        matched = self.route(request.method, request.path)
        if matched is None:
            return message(HTTPStatus.NOT_FOUND)
        route, parameters = matched
        event = self.event(request, route, parameters, request_id)
        if route.authorizer is not None:
            authorized = self._authorize(route.authorizer, request, event)
            if isinstance(authorized, Answer):
                return authorized
            event["requestContext"]["authorizer"] = {"lambda": authorized.get("context") or {}}
        ok, payload = self.functions[route.function].invoke_json(json.dumps(event).encode())
        if not ok:
            LOG.error("%s failed on %s %s: %s", route.function, request.method, request.path, payload[:500])
            return message(HTTPStatus.INTERNAL_SERVER_ERROR)
        try:
            return self.mapped(json.loads(payload))
        except (ValueError, TypeError, binascii.Error) as error:
            LOG.error("%s answered what API Gateway cannot map: %s", route.function, error)
            return message(HTTPStatus.INTERNAL_SERVER_ERROR)

    def _authorize(
        self, authorizer: AuthorizerDefinition, request: Request, event: dict[str, Any]
    ) -> dict[str, Any] | Answer:
        """The authorizer's simple response, or the gateway's answer when it refuses or fails."""
        headers = dict(event["headers"])
        identity = tuple(headers.get(name, "") for name in authorizer.identity_headers)
        if not all(identity):
            return message(HTTPStatus.UNAUTHORIZED)
        key, now = (authorizer.name, identity), self.clock()
        with self._cache_lock:
            until, response = self._cache.get(key, (0.0, {}))
        if now >= until:
            auth_event = {**event, "type": "REQUEST", "routeArn": _route_arn(event), "identitySource": list(identity)}
            ok, payload = self.functions[authorizer.function].invoke_json(json.dumps(auth_event).encode())
            answered = json.loads(payload) if ok else None
            if not isinstance(answered, dict) or not isinstance(answered.get("isAuthorized"), bool):
                LOG.error("the authorizer %s failed: %s", authorizer.name, payload[:500])
                return message(HTTPStatus.INTERNAL_SERVER_ERROR)
            response = answered
            if authorizer.cache_seconds:
                with self._cache_lock:
                    if len(self._cache) > 100_000:
                        self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                    self._cache[key] = (now + authorizer.cache_seconds, response)
        return response if response["isAuthorized"] else message(HTTPStatus.FORBIDDEN)

    @staticmethod
    def event(request: Request, route: RouteDefinition, parameters: dict[str, str], request_id: str) -> dict[str, Any]:
        """The payload 2.0 event API Gateway sends the route's function."""
        headers: dict[str, str] = {}
        for name, value in request.headers:
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
        query: dict[str, str] = {}
        for name, value in parse_qsl(request.query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        try:
            body, encoded = request.body.decode(), False
        except UnicodeDecodeError:
            body, encoded = base64.b64encode(request.body).decode(), True
        now = time.time()
        host = headers.get("host", "localhost")
        return {
            "version": "2.0",
            "routeKey": route.key,
            "rawPath": request.path,
            "rawQueryString": request.query,
            **({"cookies": cookies} if cookies else {}),
            "headers": headers,
            "queryStringParameters": query or None,
            "pathParameters": parameters or None,
            "stageVariables": None,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "1234567890",
                "domainName": host,
                "domainPrefix": host.split(".")[0],
                "http": {
                    "method": request.method,
                    "path": request.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": request.source_ip,
                    "userAgent": headers.get("user-agent", ""),
                },
                "requestId": request_id,
                "routeKey": route.key,
                "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                "timeEpoch": int(now * 1000),
            },
            "body": body if request.body else None,
            "isBase64Encoded": encoded,
        }

    @staticmethod
    def mapped(result: Any) -> Answer:
        """The HTTP answer API Gateway makes of a function's payload 2.0 result: a `statusCode`
        with its headers, cookies and body; any other JSON value is the body of a 200."""
        if not isinstance(result, dict) or "statusCode" not in result:
            return Answer(200, [("content-type", "application/json")], json.dumps(result).encode())
        status = result["statusCode"]
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"statusCode {status!r}")
        headers = [(str(k).lower(), str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name).lower(), str(value)) for value in values)
        headers.extend(("set-cookie", str(cookie)) for cookie in result.get("cookies") or ())
        headers = [(k, v) for k, v in headers if not _UNSAFE_HEADER_VALUE.search(k + v)]
        if not any(name == "content-type" for name, _ in headers):
            headers.append(("content-type", "application/json"))
        body = result.get("body") or ""
        if not isinstance(body, str):
            raise TypeError("body is not a string")
        data = base64.b64decode(body, validate=True) if result.get("isBase64Encoded") else body.encode()
        return Answer(status, headers, data)


def _route_arn(event: Mapping[str, Any]) -> str:
    context = event["requestContext"]
    method, path = event["routeKey"].split(" ", 1)
    return f"arn:aws:execute-api:us-east-1:{context['accountId']}:{context['apiId']}/$default/{method}{path}"


class InFlight:
    """How many requests are being answered, so that a stop can let them finish."""

    def __init__(self) -> None:
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


class WsgiApp:
    """The gateway as a WSGI application (the server reads the body whole, chunked or not)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.in_flight = InFlight()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        with self.in_flight:
            # The path as sent: PATH_INFO has leading slashes merged (`//orders` would be `/orders`).
            target = (environ.get("REQUEST_URI") or environ["PATH_INFO"]).encode("latin-1")  # WSGI: bytes as latin-1
            headers = [(k[5:].lower().replace("_", "-"), v) for k, v in environ.items() if k.startswith("HTTP_")]
            headers += [
                (k.lower().replace("_", "-"), environ[k]) for k in ("CONTENT_TYPE", "CONTENT_LENGTH") if environ.get(k)
            ]
            request = Request(
                method=environ["REQUEST_METHOD"],
                path=unquote_to_bytes(target.split(b"?", 1)[0].split(b"#", 1)[0]).decode("utf-8", "replace"),
                query=environ.get("QUERY_STRING", ""),
                headers=headers,
                body=environ["wsgi.input"].read(),
                source_ip=environ.get("REMOTE_ADDR", ""),
            )
            try:
                answer = self.gateway.answer(request)
            except Exception:
                LOG.exception("the gateway failed on %s %s", request.method, request.path)
                answer = message(HTTPStatus.INTERNAL_SERVER_ERROR)
        answer.headers.append(("content-length", str(len(answer.body))))
        start_response(f"{answer.status} {HTTPStatus(answer.status).phrase}", answer.headers)
        return [answer.body]


class LocalApi:
    """The HTTP API of the template on http://host:port, served by waitress in a background thread."""

    def __init__(self, functions: Functions, *, host: str = "127.0.0.1", port: int = 3000) -> None:
        import waitress

        routes = template.http_routes()
        if not routes:
            raise ValueError("template.yaml declares no HttpApi route")
        self.gateway = Gateway(functions, routes)
        self.app = WsgiApp(self.gateway)
        self.connections: dict[int, Any] = {}  # waitress's socket map: the listener and each connection
        self.server = waitress.create_server(
            self.app,
            map=self.connections,
            host=host,
            port=port,
            threads=INVOCATION_THREADS,
            connection_limit=1000,
            channel_timeout=60,
            asyncore_use_poll=True,  # a socket closed by `stop` is skipped, not an error
            ident="",
        )
        self.host, self.port = host, int(self.server.effective_port)
        # waitress warns of every request that waits for one of its threads: normal under load here.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def routes(self) -> list[tuple[str, str, str]]:
        """(method, path, function) of every route, sorted by path."""
        return [(route.method, route.path, route.function) for route in self.gateway.routes]

    def start(self) -> LocalApi:
        self._thread = threading.Thread(target=self.server.run, daemon=True, name="local-api")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Take no new connection, let the requests under way finish (within `DRAIN_SECONDS`, so that
        the functions are not stopped under them), then close every connection."""
        from waitress import wasyncore

        self.server.del_channel()  # stop listening
        self.server.socket.close()
        if not self.app.in_flight.wait_idle(DRAIN_SECONDS):
            LOG.warning("requests still under way after %ss; stopping anyway", DRAIN_SECONDS)
        self.server.task_dispatcher.shutdown(timeout=1)
        wasyncore.close_all(self.connections)
        self.server.close()
        if self._thread is not None:
            self._thread.join(5)
