"""A page to look at the API: its OpenAPI document and Swagger UI, served offline beside `make run`.

    GET  /docs            Swagger UI (its assets from the pinned PyPI package `swagger-ui-py`, no CDN)
    GET  /openapi.json    the document `make openapi` writes, with this server's /api as its server
    ANY  /api/<path>      the request, passed on to the API (so "Try it out" stays on one origin:
                          the API, like API Gateway without a CORS configuration, sends no CORS headers)

The document is generated once, in a child process (`python -m local_runtime.openapi`), so the
route functions are loaded there and not in the process that runs them; the page starts making it
at once, and a stop kills a child still at work.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local_runtime import template

LOG = logging.getLogger("local_runtime.docs")

API_PREFIX = "/api"
PROXY_TIMEOUT_SECONDS = 60
GENERATE_TIMEOUT_SECONDS = 120
PASSED_HEADERS = ("Content-Type", "Accept", "Authorization", "Idempotency-Key")
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".html": "text/html"}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="/static/swagger-ui.css">
  <link rel="icon" type="image/png" href="/static/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/static/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({{
      url: "/openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      docExpansion: "list",
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout"
    }});
  </script>
</body>
</html>
"""


def assets_dir() -> Path:
    """Swagger UI's distribution files, as the package `swagger-ui-py` ships them."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the package swagger-ui-py is not installed: run `make venv`")
    return Path(spec.origin).parent / "static"


class _Document:
    """The document, made once by `python -m local_runtime.openapi` in a child process of its own
    session (a Ctrl-C in the terminal reaches the runtime, which stops it), then kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._text: bytes | None = None
        self._process: subprocess.Popen[str] | None = None
        self._stopped = False

    def text(self) -> bytes:
        with self._lock:
            if self._text is None:
                document = self._generate()
                document["servers"] = [
                    {"url": API_PREFIX, "description": "the local API (make run), through this page"}
                ]
                self._text = json.dumps(document, indent=2).encode()
            return self._text

    def _generate(self) -> dict[str, Any]:
        if self._stopped:
            raise RuntimeError("the docs page is stopped")
        root = template.ROOT
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "layers" / "common"), str(root)])}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local_runtime.openapi"],
            cwd=root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            out, err = self._process.communicate(timeout=GENERATE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            raise RuntimeError(f"python -m local_runtime.openapi took over {GENERATE_TIMEOUT_SECONDS}s") from None
        finally:
            returncode, self._process = self._process.returncode, None
        if returncode != 0:
            raise RuntimeError(f"python -m local_runtime.openapi failed: {err.strip()[-500:] or returncode}")
        return json.loads(out)  # type: ignore[no-any-return]

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """Stop making the document (a child still at work is killed)."""
        self._stopped = True
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()


class _Handler(BaseHTTPRequestHandler):
    server: DocsServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        LOG.debug("%s - %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, body: Any) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def do_GET(self) -> None:
        path = self._path()
        if path.startswith(API_PREFIX + "/"):
            self._proxy()
        elif path in ("/", "/docs/"):
            self._send(302, b"", "text/plain", {"Location": "/docs"})
        elif path == "/docs":
            self._send(200, PAGE.format(title="Shop API").encode(), "text/html; charset=utf-8")
        elif path == "/openapi.json":
            try:
                self._send(200, self.server.document.text(), "application/json")
            except (RuntimeError, OSError, ValueError) as error:
                LOG.error("the OpenAPI document could not be made: %s", error)
                self._json(500, {"message": f"the OpenAPI document could not be made: {error}"})
        elif path.startswith("/static/") and path[len("/static/") :] in self.server.assets:
            file = self.server.assets[path[len("/static/") :]]
            self._send(200, file.read_bytes(), CONTENT_TYPES.get(file.suffix, "application/octet-stream"))
        else:
            self._json(404, {"message": "Not Found"})

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        self._api_only()

    def do_PUT(self) -> None:
        self._api_only()

    def do_PATCH(self) -> None:
        self._api_only()

    def do_DELETE(self) -> None:
        self._api_only()

    def _api_only(self) -> None:
        if self._path().startswith(API_PREFIX + "/"):
            self._proxy()
        else:
            self._json(404, {"message": "Not Found"})

    def _proxy(self) -> None:
        """Pass the request on to the API and its answer back, as they are."""
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {name: self.headers[name] for name in PASSED_HEADERS if self.headers.get(name)}
        url = self.server.api_url + self.path[len(API_PREFIX) :]
        request = urllib.request.Request(url, data=body, method=self.command, headers=headers)  # noqa: S310 (local API)
        try:
            with urllib.request.urlopen(request, timeout=PROXY_TIMEOUT_SECONDS) as response:  # noqa: S310 (local API)
                status, content_type, answer = response.status, response.headers.get("Content-Type"), response.read()
        except urllib.error.HTTPError as error:
            status, content_type, answer = error.code, error.headers.get("Content-Type"), error.read()
        except (urllib.error.URLError, OSError) as error:
            self._json(502, {"message": f"the API on {self.server.api_url} did not answer: {error}"})
            return
        self._send(status, answer, content_type or "application/octet-stream")


class DocsServer(ThreadingHTTPServer):
    """The page on http://host:port/docs, for the API on `api_url`."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, api_url: str, host: str = "127.0.0.1", port: int = 3002) -> None:
        super().__init__((host, port), _Handler)
        self.api_url = api_url.rstrip("/")
        self.document = _Document()
        directory = assets_dir()
        self.assets = {
            file.name: file for file in directory.iterdir() if file.name.startswith(("swagger-ui", "favicon"))
        }
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/docs"

    def start(self, *, prepare: bool = True) -> DocsServer:
        """Serve in a thread; with `prepare`, make the document now rather than on the first request."""
        self._thread = threading.Thread(target=self.serve_forever, daemon=True, name="docs")
        self._thread.start()
        if prepare:
            threading.Thread(target=self._prepare, daemon=True, name="docs-openapi").start()
        return self

    def _prepare(self) -> None:
        try:
            self.document.text()
        except (RuntimeError, OSError, ValueError) as error:
            if not self.document.stopped:
                LOG.error("the OpenAPI document could not be made: %s", error)

    def stop(self) -> None:
        self.document.stop()
        self.shutdown()
        self.server_close()
