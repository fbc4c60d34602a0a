"""The template's HTTP API, served by SAM CLI's own local API Gateway with the functions run in-process.

`sam local start-api` builds the routes from the template (`ApiProvider`), turns each request
into a payload 2.0 event and maps the function's answer back (`LocalApigwService`), and runs the
function in a Docker container (`LocalLambdaRunner`). Here the same gateway calls
`InProcessLambda.invoke` instead of a container. These are SAM CLI internals: the version is
pinned in requirements-dev.txt and `tests/integration/test_sam_internals.py` checks them.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from local_runtime import template
from local_runtime.functions import InProcessLambda

LOG = logging.getLogger("local_runtime.api")


class _NoTelemetry:
    """SAM's gateway records a telemetry event per request (and sends them in batches when SAM's
    telemetry is on). Nothing leaves this machine: the local runtime records none."""

    @staticmethod
    def track_event(*_: Any, **__: Any) -> None:
        return None


class LocalApi:
    """The HTTP API of the template on http://host:port, in a background thread."""

    def __init__(self, functions: InProcessLambda, stack_list: list[Any], *, host: str = "127.0.0.1", port: int = 3000):
        from samcli.lib.providers.api_provider import ApiProvider
        from samcli.lib.utils.stream_writer import StreamWriter
        from samcli.local.apigw import local_apigw_service
        from werkzeug.serving import make_server

        local_apigw_service.EventTracker = _NoTelemetry
        self.api = ApiProvider(stack_list, cwd=str(template.ROOT)).api
        if not self.api.routes:
            raise ValueError("template.yaml declares no API route")
        self.service = local_apigw_service.LocalApigwService(
            api=self.api,
            lambda_runner=functions,
            port=port,
            host=host,
            stderr=StreamWriter(sys.stderr, auto_flush=True),
        )
        self.service.create()
        # The server `sam local start-api` runs (werkzeug, a thread per request), made here so that
        # it can run in a thread and be shut down.
        self.server = make_server(host, port, self.service._app, threaded=True)
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
        self.server.shutdown()
        self.server.server_close()
