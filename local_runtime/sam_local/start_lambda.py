"""`sam local start-lambda --warm-containers EAGER` on the backends, as a child process; functions
invoked through its Lambda API with boto3, one at a time, each with its log lines."""

from __future__ import annotations

import io
import json
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local_runtime import aws_env
from local_runtime.sam_local.backends import Backends
from local_runtime.sam_local.sam_cli import (
    BUILT_TEMPLATE,
    REGION,
    SamLocalError,
    last_lines,
)
from local_runtime.sam_local.service import SamService

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

INVOKE_TIMEOUT_SECONDS = 300
# An invocation's output ends with the runtime's REPORT line (SAM relays the container's output
# apart from the answer, waiting a second at most for it) and then SAM's access log line of the
# request; until both are out, an invocation's lines are still coming.
REPORT_LINE = "REPORT RequestId:"
LOGS_TIMEOUT_SECONDS = 15


def access_line(logical_id: str) -> str:
    return f"POST /2015-03-31/functions/{logical_id}/invocations"


class SamOutput:
    """SAM's output lines, kept in order (with the containers' logs), shown to a sink if given."""

    def __init__(self, sink: Callable[[str], None] | None = None) -> None:
        self.sink = sink
        self.lines: list[str] = []
        self.changed = threading.Condition()

    def pump(self, stream: io.TextIOBase) -> None:
        for raw in stream:
            line = raw.rstrip("\n")
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
            if self.sink is not None:
                self.sink(line)

    def mark(self) -> int:
        with self.changed:
            return len(self.lines)

    def since(self, mark: int, *, until: tuple[str, ...], timeout: float) -> list[str]:
        """The lines from `mark` on, once each text of `until` is in one of them (or `timeout` passed)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not all(any(text in line for line in self.lines[mark:]) for text in until):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.changed.wait(left)
            return self.lines[mark:]


class SamLambda(SamService):
    """`sam local start-lambda --warm-containers EAGER` on the backends, as a child process: one
    container per function, started before it serves and reused by every invocation."""

    subcommand = "start-lambda"

    def __init__(
        self,
        backends: Backends,
        *,
        port: int = 3001,
        host: str = "127.0.0.1",
        built_template: Path = BUILT_TEMPLATE,
        output: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(backends, port=port, host=host, built_template=built_template)
        self.output = SamOutput(output)  # output: each of SAM's lines is also shown there
        self._client: LambdaClient | None = None
        self._one_at_a_time = threading.Lock()

    def start(self) -> SamLambda:
        self._spawn(subprocess.PIPE)
        self._pump(self.output.pump, name="sam-lambda-output")
        return self

    def _why_it_exited(self) -> str:
        return f": {last_lines(self.output.lines, 3)}"

    def client(self) -> LambdaClient:
        """A Lambda client on this service: dummy credentials, no retry (an invocation runs once)."""
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "lambda",
                endpoint_url=self.url,
                region_name=REGION,
                aws_access_key_id=aws_env.DUMMY_CREDENTIALS["key"],
                aws_secret_access_key=aws_env.DUMMY_CREDENTIALS["secret"],
                config=Config(
                    connect_timeout=5, read_timeout=INVOKE_TIMEOUT_SECONDS, retries={"total_max_attempts": 1}
                ),
            )
        return self._client

    def invoke(self, logical_id: str, event_path: Path | str, *, logs: Callable[[str], None] | None = None) -> Any:
        """Invoke `logical_id` with the event file's JSON; the function's answer (JSON). The lines SAM
        printed for this invocation (the container's logs through the runtime's REPORT line, and
        SAM's access log line) go to `logs`. Invocations run one at a time, so those lines are this
        invocation's only."""
        with self._one_at_a_time:
            if self.process is None or self.process.poll() is not None:
                raise SamLocalError(f"sam local start-lambda is not running: {last_lines(self.output.lines, 3)}")
            mark = self.output.mark()
            response = self.client().invoke(FunctionName=logical_id, Payload=Path(event_path).read_bytes())
            payload = response["Payload"].read().decode(errors="replace")
            ends = (REPORT_LINE, access_line(logical_id))
            lines = self.output.since(mark, until=ends, timeout=LOGS_TIMEOUT_SECONDS)
        if logs is not None:
            for line in lines:
                logs(line)
        try:
            return json.loads(payload) if payload.strip() else None
        except ValueError as error:
            raise SamLocalError(f"{logical_id} answered no JSON: {payload[:200]!r}") from error
