"""The template's functions on this machine, each instance in its own process, as Lambda runs them.

Lambda runs a function in execution environments that each serve one invocation at a time: the
function's module, the layer, its environment variables, Logger, Metrics and resolver live in that
environment. Here an environment is a process (`local_runtime.worker`) started with the function's
resolved environment as its real `os.environ`. An idle instance is reused (warm); a new one starts
when all are busy, up to `max_instances` per function (then the invocation waits for one). An
invocation that runs past the function's `Timeout` is killed and fails as Lambda reports it; an
instance that crashed or was killed is replaced, never reused.

(`local_runtime.handler_loader` imports a handler into this process instead, for unit tests on moto.)
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from local_runtime import template
from local_runtime.aws_env import DUMMY_CREDENTIALS, REGION
from local_runtime.worker import error_document, recv_frame, send_frame

LOG = logging.getLogger("local_runtime.functions")


# ---------------------------------------------------------------------------------------------
# Function instances: one process each.
# ---------------------------------------------------------------------------------------------

# Each instance is a Python process (about 64 MB) and each start a cold import (about 1 s of CPU):
# the default follows the machine, at least 8.
DEFAULT_MAX_INSTANCES = max(8, 2 * (os.cpu_count() or 1))
# Lambda gives the init phase 10 s; a loaded machine can take longer to import a handler.
INIT_TIMEOUT_SECONDS = 60.0
_STOP_GRACE_SECONDS = 2.0


class FunctionError(Exception):
    """An invocation failed: `payload` is what Lambda reports as the invocation's error."""

    def __init__(self, logical_id: str, error: BaseException | Mapping[str, Any]) -> None:
        payload = error_document(error) if isinstance(error, BaseException) else dict(error)
        super().__init__(f"{logical_id}: {payload.get('errorType')}: {payload.get('errorMessage')}")
        self.error = error if isinstance(error, BaseException) else None
        self.payload = payload


class _Lost(Exception):
    """The instance can serve no more: it timed out, crashed, or failed to start."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload["errorMessage"])
        self.payload = payload


_OUTPUT_LOCK = threading.Lock()


def write_log_line(line: str) -> None:
    """Write one line of a function's output to this process's stderr, whole."""
    with _OUTPUT_LOCK:
        sys.stderr.write(line if line.endswith("\n") else line + "\n")
        sys.stderr.flush()


class _Instance:
    """One execution environment: a worker process and the channel to it."""

    def __init__(self, function: LocalFunction) -> None:
        self.function = function
        ours, theirs = socket.socketpair()
        self.sock = ours
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "local_runtime.worker",
                    "--fd",
                    str(theirs.fileno()),
                    "--function",
                    function.logical_id,
                    "--handler",
                    function.handler,
                ],
                env=function.process_environment(),
                cwd=function.code_dir,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(theirs.fileno(),),
                # Its own session: a Ctrl-C in the terminal reaches `make run`, which stops its
                # instances, not each instance on its own (as Lambda's are not the caller's children).
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        assert self.process.stdout is not None
        threading.Thread(
            target=self._forward,
            args=(self.process.stdout, function.log),
            daemon=True,
            name=f"{function.logical_id}-log",
        ).start()
        self.sock.settimeout(INIT_TIMEOUT_SECONDS)
        try:
            ready = recv_frame(self.sock)
        except (TimeoutError, OSError) as error:
            self.kill()
            raise _Lost(_runtime_error(f"Init failed: {error}", "Runtime.InitError")) from error
        answer: dict[str, Any] = json.loads(ready) if ready else {}
        if not answer.get("ready"):
            self.kill()
            failure = answer.get("error")
            raise _Lost(
                failure if isinstance(failure, dict) else _runtime_error(self._exit_message(), "Runtime.ExitError")
            )

    @staticmethod
    def _forward(stream: IO[bytes], log: Callable[[str], None]) -> None:
        for line in iter(stream.readline, b""):
            log(line.decode("utf-8", "replace"))
        stream.close()

    def invoke(self, request_id: str, event: bytes, timeout: float) -> tuple[bool, bytes, dict[str, int]]:
        header = json.dumps({"requestId": request_id, "deadlineMs": int((time.time() + timeout) * 1000)})
        try:
            self.sock.settimeout(timeout)
            send_frame(self.sock, header.encode(), event)
            meta = recv_frame(self.sock)
            payload = recv_frame(self.sock) if meta is not None else None
        except TimeoutError as error:
            self.kill()
            message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
            self.function.log(f"[{self.function.logical_id} {request_id[:8]}] {_now()} {message}")
            raise _Lost(_runtime_error(message, "Sandbox.Timedout")) from error
        except OSError:
            meta = payload = None
        if meta is None or payload is None:
            self.kill()
            message = f"RequestId: {request_id} Error: {self._exit_message()}"
            self.function.log(f"[{self.function.logical_id} {request_id[:8]}] {message}")
            raise _Lost(_runtime_error(message, "Runtime.ExitError"))
        answer = json.loads(meta)
        return bool(answer["ok"]), payload, dict(answer.get("calls") or {})

    def _exit_message(self) -> str:
        try:
            code = self.process.wait(timeout=_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            return "Runtime exited without providing a reason"
        if code < 0:
            return f"Runtime exited with error: signal {-code}"
        return f"Runtime exited with error: exit status {code}"

    def end_process(self) -> None:
        if self.process.poll() is None:
            self.process.kill()

    def kill(self) -> None:
        self.sock.close()
        self.end_process()
        self.process.wait()

    def stop(self) -> None:
        """Close the channel (the worker ends on its own); kill it if it does not."""
        self.sock.close()
        try:
            self.process.wait(timeout=_STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _runtime_error(message: str, error_type: str) -> dict[str, Any]:
    return {"errorType": error_type, "errorMessage": message}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@dataclass
class LocalFunction:
    """One function of the template and its instances (processes)."""

    logical_id: str
    code_dir: Path
    handler: str
    timeout: int
    memory: int
    variables: dict[str, str]  # the environment the template gives it, resolved as `sam local` does
    region: str
    layers: list[Path] = field(default_factory=list)
    max_instances: int = DEFAULT_MAX_INSTANCES
    log: Callable[[str], None] = write_log_line
    _idle: list[_Instance] = field(default_factory=list, init=False, repr=False)
    _instances: set[_Instance] = field(default_factory=set, init=False, repr=False)
    _available: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    _starting: int = field(default=0, init=False, repr=False)
    _stopped: bool = field(default=False, init=False, repr=False)
    cold_starts: int = field(default=0, init=False)  # instances started
    calls: Counter[str] = field(default_factory=Counter, init=False)  # AWS calls of every invocation

    @property
    def instances(self) -> int:
        """How many instances are running (busy or idle)."""
        with self._available:
            return len(self._instances) + self._starting

    def process_environment(self) -> dict[str, str]:
        """The instance's whole environment: the template's variables and what Lambda adds."""
        paths = [str(self.code_dir), *map(str, self.layers), str(template.ROOT)]
        return {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
            **self.variables,
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "PYTHONPATH": os.pathsep.join(paths),
            "PYTHONUNBUFFERED": "1",
        }

    def _acquire(self) -> _Instance:
        with self._available:
            while True:
                if self._stopped:
                    raise _Lost(_runtime_error("the function was stopped", "Runtime.Stopped"))
                if self._idle:
                    return self._idle.pop()
                if len(self._instances) + self._starting < self.max_instances:
                    self._starting += 1
                    self.cold_starts += 1
                    break
                self._available.wait()
        try:
            instance = _Instance(self)
        except BaseException as error:
            with self._available:
                self._starting -= 1
                self._available.notify()
            if isinstance(error, _Lost):
                LOG.error("%s: an instance failed to start: %s", self.logical_id, error)
            raise
        with self._available:
            self._starting -= 1
            stopped = self._stopped
            if not stopped:
                self._instances.add(instance)
            self._available.notify()
        if stopped:
            instance.stop()
            raise _Lost(_runtime_error("the function was stopped", "Runtime.Stopped"))
        return instance

    def _release(self, instance: _Instance, alive: bool) -> None:
        with self._available:
            if alive and not self._stopped:
                self._idle.append(instance)
            else:
                self._instances.discard(instance)
            self._available.notify()
        if alive and self._stopped:
            instance.stop()

    def warm(self) -> None:
        """Start one instance (if none is running) and keep it idle."""
        with self._available:
            if self._instances or self._starting:
                return
        self._release(self._acquire(), alive=True)

    def invoke_json(self, event: bytes) -> tuple[bool, bytes]:
        """Invoke with a JSON event: (True, the result as JSON) or (False, Lambda's error document)."""
        request_id = str(uuid.uuid4())
        try:
            instance = self._acquire()
        except _Lost as lost:
            return False, json.dumps(lost.payload).encode()
        alive = False
        try:
            ok, payload, calls = instance.invoke(request_id, event, float(self.timeout))
            alive = True
        except _Lost as lost:
            return False, json.dumps(lost.payload).encode()
        finally:
            self._release(instance, alive)
        if calls:
            with self._available:
                self.calls.update(calls)
        return ok, payload

    def __call__(self, event: Any) -> Any:
        """Invoke with `event`; its result, or FunctionError with Lambda's error document."""
        ok, payload = self.invoke_json(json.dumps(event).encode())
        if not ok:
            raise FunctionError(self.logical_id, json.loads(payload))
        return json.loads(payload)

    def stop(self) -> None:
        with self._available:
            self._stopped = True
            idle, self._idle = self._idle, []
            busy = [instance for instance in self._instances if instance not in idle]
            self._instances.clear()
            self._available.notify_all()
        for instance in idle:
            instance.sock.close()  # every idle instance starts ending now, not after the one before
        for instance in idle:
            instance.stop()
        for instance in busy:
            instance.end_process()  # its invocation sees the channel close, and fails


def stacks(parameter_overrides: Mapping[str, str], region: str = REGION) -> list[Any]:
    """The template's stacks as `sam local` reads them, with these parameter values."""
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    found, _ = SamLocalStackProvider.get_stacks(
        str(template.TEMPLATE),
        parameter_overrides=dict(parameter_overrides),
        global_parameter_overrides={"AWS::Region": region},
    )
    return list(found)


class LocalLambda:
    """Every function of the template, each instance in its own process: `functions[name]` is one
    function (the gateway calls its `invoke_json`, the event sources call it with an event)."""

    def __init__(
        self,
        stack_list: list[Any],
        *,
        region: str = REGION,
        max_instances: int = DEFAULT_MAX_INSTANCES,
        log: Callable[[str], None] = write_log_line,
    ) -> None:
        from samcli.lib.providers.sam_function_provider import SamFunctionProvider
        from samcli.local.lambdafn.env_vars import EnvironmentVariables

        credentials = {"region": region, **DUMMY_CREDENTIALS}
        sam_functions = list(SamFunctionProvider(stack_list).get_all())
        self.functions: dict[str, LocalFunction] = {}
        for function in sam_functions:
            declared = (function.environment or {}).get("Variables") or {}
            variables = EnvironmentVariables(
                function.name,
                function.memory,
                function.timeout,
                function.handler,
                function.logging_config,
                variables=declared,
                shell_env_values={},  # the template and its parameters decide, not this shell
                override_values={},
                aws_creds=credentials,
            ).resolve()
            self.functions[function.name] = LocalFunction(
                logical_id=function.name,
                code_dir=Path(template.ROOT, function.codeuri).resolve(),
                handler=function.handler,
                timeout=int(function.timeout or 3),
                memory=int(function.memory or 128),
                variables=dict(variables),
                region=region,
                layers=[Path(template.ROOT, layer.codeuri).resolve() for layer in function.layers],
                max_instances=max_instances,
                log=log,
            )
        self.sam_functions = {function.name: function for function in sam_functions}

    def __getitem__(self, logical_id: str) -> LocalFunction:
        return self.functions[logical_id]

    def start(self) -> LocalLambda:
        """Start one instance of every function (in parallel), so that the first calls run warm."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(LocalFunction.warm, self.functions.values()))
        return self

    def stop(self) -> None:
        """Stop every function's instances, the functions side by side (each instance has a grace
        period to end on its own)."""
        with ThreadPoolExecutor(max_workers=max(1, len(self.functions))) as pool:
            list(pool.map(lambda function: function.stop(), self.functions.values()))

    def calls(self, *logical_ids: str) -> Counter[str]:
        """The AWS API calls every invocation so far made, by `service.Operation outcome`: of the
        functions named, or of all of them."""
        total: Counter[str] = Counter()
        for function in (self.functions[name] for name in logical_ids) if logical_ids else self.functions.values():
            with function._available:
                total.update(function.calls)
        return total
