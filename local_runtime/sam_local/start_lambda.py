"""`sam local start-lambda --warm-containers EAGER` on the backends, as a child process; functions
invoked through its Lambda API with boto3, one at a time, each with its log lines."""

from __future__ import annotations

import io
import json
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local_runtime import aws_env
from local_runtime.ports import port_is_free
from local_runtime.sam_local.backends import Backends
from local_runtime.sam_local.child_process import stop_process
from local_runtime.sam_local.engine import remove_containers
from local_runtime.sam_local.sam_cli import (
    BUILT_TEMPLATE,
    REGION,
    ROOT,
    SamLocalError,
    last_lines,
    sam_environment,
    sam_executable,
)

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

START_LAMBDA_TIMEOUT_SECONDS = 240
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


class SamLambda:
    """`sam local start-lambda --warm-containers EAGER` on the backends, as a child process: one
    container per function, started before it serves and reused by every invocation."""

    def __init__(
        self,
        backends: Backends,
        *,
        port: int = 3001,
        host: str = "127.0.0.1",
        built_template: Path = BUILT_TEMPLATE,
        output: Callable[[str], None] | None = None,
    ) -> None:
        self.backends = backends
        self.port = port
        self.host = host
        self.built_template = built_template
        self.output = SamOutput(output)  # output: each of SAM's lines is also shown there
        self.process: subprocess.Popen[bytes] | None = None
        self.pump_lines: threading.Thread | None = None
        self._client: LambdaClient | None = None
        self._one_at_a_time = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def command(self) -> list[str]:
        return [
            sam_executable(),
            "local",
            "start-lambda",
            "--template-file",
            str(self.built_template),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--warm-containers",
            "EAGER",
            *self.backends.sam_options(),
        ]

    def start(self) -> SamLambda:
        if not port_is_free(self.port, self.host):
            raise SamLocalError(f"port {self.port} is in use: free it or choose another one")
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=sam_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop SAM with SIGTERM
        )
        assert self.process.stdout is not None
        stream = io.TextIOWrapper(self.process.stdout, errors="replace")
        self.pump_lines = threading.Thread(
            target=self.output.pump, args=(stream,), daemon=True, name="sam-lambda-output"
        )
        self.pump_lines.start()
        return self

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/", timeout=2):  # noqa: S310 (local)
                return True
        except urllib.error.HTTPError:
            return True  # any HTTP answer: the Lambda service is serving
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float = START_LAMBDA_TIMEOUT_SECONDS) -> SamLambda:
        """Wait until the Lambda service answers (with EAGER it first starts a container per function)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SamLocalError(
                    f"sam local start-lambda exited with status {self.process.returncode} before serving:"
                    f" {last_lines(self.output.lines, 3)}"
                )
            if self.answers():
                return self
            time.sleep(0.5)
        raise SamLocalError(f"sam local start-lambda did not answer on {self.url} within {timeout:.0f}s")

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

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            stop_process(process)
        if self.pump_lines is not None:
            self.pump_lines.join(timeout=5)
        remove_containers(self.backends.dynamodb_url)

    def __enter__(self) -> SamLambda:
        return self.start().wait_ready() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()
