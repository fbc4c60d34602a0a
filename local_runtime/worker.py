"""One function instance, as a Lambda execution environment: `python -m local_runtime.worker`.

The parent (`local_runtime.functions`) starts one such process per instance of a function, with
the function's resolved environment as this process's real `os.environ`, its code directory and
layers on `PYTHONPATH`. The process imports the handler once (the init phase), then serves one
invocation at a time, as Lambda does, until the parent closes the channel or kills it, or ends.

The channel is a socket given as file descriptor `--fd` (stdout and stderr are the function's own
logs). Each message is a frame: a 4-byte big-endian length, then that many bytes.

- worker -> parent, once: `{"ready": true}` or `{"ready": false, "error": <Lambda's error document>}`;
- parent -> worker, per invocation: a JSON header `{"requestId", "deadlineMs"}`, then the event (JSON);
- worker -> parent, per invocation: a JSON header `{"ok": bool, "calls": {...}}`, then the result
  (JSON) or Lambda's error document.

`calls` counts the AWS API calls the invocation made by `service.Operation outcome` (`OK`, the error
code, and for a cancelled transaction each cancellation reason; for a call that got no answer, the
exception's name, e.g. `ReadTimeoutError`), as a trace would show them.

Every line the function writes to stdout or stderr reaches the parent whole, prefixed with the
function's name and the request id being served (`[CouponIssueFunction 1a2b3c4d] ...`).
"""

from __future__ import annotations

import argparse
import importlib
import io
import json
import os
import socket
import struct
import sys
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from typing import Any

from local_runtime.lifeline import exit_with_parent

_LENGTH = struct.Struct(">I")


def send_frame(sock: socket.socket, *payloads: bytes) -> None:
    """Send each payload as a frame, all in one write."""
    sock.sendall(b"".join(_LENGTH.pack(len(payload)) + payload for payload in payloads))


def recv_frame(sock: socket.socket) -> bytes | None:
    """The next frame's payload, or None when the other end closed the channel."""
    header = _recv_exactly(sock, _LENGTH.size)
    if header is None:
        return None
    (length,) = _LENGTH.unpack(header)
    payload = _recv_exactly(sock, length)
    if payload is None:
        raise ConnectionError("the channel closed inside a frame")
    return payload


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    chunks, missing = [], size
    while missing:
        chunk = sock.recv(min(missing, 1 << 20))
        if not chunk:
            if missing == size:
                return None
            raise ConnectionError("the channel closed inside a frame")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def error_document(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """What Lambda's Python runtime reports for an exception."""
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_exception(error)[1:],
    }


class _LinePrefixer(io.TextIOBase):
    """A text stream writing each complete line, prefixed, with one write to a file descriptor."""

    def __init__(self, fd: int, prefix: _Prefix) -> None:
        self._fd, self._prefix, self._pending = fd, prefix, ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            lines = (self._pending + text).split("\n")
            self._pending = lines.pop()
            if lines:
                prefix = self._prefix.text
                out = "".join(f"{prefix} {line}\n" for line in lines)
                os.write(self._fd, out.encode("utf-8", "backslashreplace"))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                line, self._pending = self._pending, ""
                os.write(self._fd, f"{self._prefix.text} {line}\n".encode("utf-8", "backslashreplace"))

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd


@dataclass
class _Prefix:
    function: str
    request_id: str = "init"

    @property
    def text(self) -> str:
        return f"[{self.function} {self.request_id[:8]}]"


@dataclass
class LambdaContext:
    """The context object Lambda's Python runtime hands a handler."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_ms: int
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


class _CallTrace:
    """The AWS API calls of the current invocation, counted by botocore's after-call event."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def install(self) -> None:
        try:
            import boto3
        except ImportError:
            return
        boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        boto3.DEFAULT_SESSION.events.register("after-call", self._after_call)
        boto3.DEFAULT_SESSION.events.register("after-call-error", self._after_call_error)

    def _after_call(self, http_response: Any = None, parsed: Any = None, model: Any = None, **_: Any) -> None:
        if model is None or not isinstance(parsed, dict):
            return
        name = f"{model.service_model.endpoint_prefix}.{model.name}"
        error = parsed.get("Error", {}).get("Code")
        if not error:
            self.calls[f"{name} OK"] += 1
            return
        self.calls[f"{name} {error}"] += 1
        for code in {reason.get("Code") for reason in parsed.get("CancellationReasons", [])} - {None, "None"}:
            self.calls[f"{name} {error}:{code}"] += 1

    def _after_call_error(self, event_name: str = "", exception: BaseException | None = None, **_: Any) -> None:
        """A call that got no answer (a timeout, a connection lost): `after-call-error.<service>.<Operation>`."""
        call = event_name.partition(".")[2]
        if call and exception is not None:
            self.calls[f"{call} {type(exception).__name__}"] += 1

    def take(self) -> dict[str, int]:
        calls, self.calls = dict(self.calls), Counter()
        return calls


def _load_handler(handler: str) -> Any:
    module_name, _, function = handler.rpartition(".")
    module = importlib.import_module(module_name.replace("/", "."))
    return getattr(module, function)


def serve(sock: socket.socket, function: str, handler_name: str) -> int:
    prefix = _Prefix(function)
    sys.stdout = _LinePrefixer(1, prefix)
    sys.stderr = _LinePrefixer(2, prefix)
    trace = _CallTrace()
    region = os.environ.get("AWS_REGION", "us-east-1")
    arn = f"arn:aws:lambda:{region}:123456789012:function:{function}"
    memory = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") or 128)
    try:
        trace.install()
        handler = _load_handler(handler_name)
    except Exception as error:  # the init phase failed: Lambda reports it on the invocation
        traceback.print_exc()
        sys.stderr.flush()
        send_frame(
            sock, json.dumps({"ready": False, "error": error_document(error, "Runtime.ImportModuleError")}).encode()
        )
        return 1
    trace.take()
    send_frame(sock, b'{"ready": true}')
    while True:
        header = recv_frame(sock)
        if header is None:
            return 0
        event_bytes = recv_frame(sock)
        if event_bytes is None:
            return 0
        request = json.loads(header)
        prefix.request_id = request["requestId"]
        context = LambdaContext(
            function_name=function,
            memory_limit_in_mb=memory,
            invoked_function_arn=arn,
            aws_request_id=request["requestId"],
            log_group_name=f"/aws/lambda/{function}",
            log_stream_name=f"{time.strftime('%Y/%m/%d')}/[$LATEST]{os.getpid()}",
            deadline_ms=int(request["deadlineMs"]),
        )
        ok, payload = _run(handler, event_bytes, context)
        send_frame(sock, json.dumps({"ok": ok, "calls": trace.take()}).encode(), payload)
        prefix.request_id = "idle"


def _run(handler: Any, event: bytes, context: LambdaContext) -> tuple[bool, bytes]:
    """Invoke the handler: (True, its result as JSON), or (False, Lambda's error document)."""
    try:
        try:
            result = handler(json.loads(event), context)
        except Exception as error:
            traceback.print_exc()
            return False, json.dumps(error_document(error)).encode()
        try:
            return True, json.dumps(result).encode()
        except (TypeError, ValueError) as error:
            print(f"Unable to marshal response: {error}", file=sys.stderr)
            return False, json.dumps(error_document(error, "Runtime.MarshalError")).encode()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_runtime.worker")
    parser.add_argument("--fd", type=int, required=True, help="the channel's file descriptor")
    parser.add_argument("--function", required=True, help="the function's logical id")
    parser.add_argument("--handler", required=True, help="module.function, as the template's Handler")
    args = parser.parse_args(argv)
    # An execution environment does not outlive its runtime, even one killed with SIGKILL (whose
    # closed channel this process would notice only after the invocation it is serving).
    exit_with_parent()
    sock = socket.socket(fileno=args.fd)
    # The function sees its code and its layers, not this project's tree.
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:] = [path for path in sys.path if os.path.abspath(path or ".") != root]
    try:
        return serve(sock, args.function, args.handler)
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
