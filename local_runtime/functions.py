"""Loading a function's handler the way Lambda does: by file, each `app.py` kept apart."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local_runtime import template

LOG = logging.getLogger("local_runtime.functions")


def code_dir(logical_id: str) -> Path:
    props = template.resources("AWS::Serverless::Function")[logical_id]["Properties"]
    return template.ROOT / str(props["CodeUri"])


def handler_name(logical_id: str) -> str:
    doc = template.load()
    props = doc["Resources"][logical_id]["Properties"]
    return str(props.get("Handler") or doc.get("Globals", {}).get("Function", {}).get("Handler"))


def import_file(name: str, path: Path) -> ModuleType:
    """Import the Python file at `path` as a module named `name`, apart from any other."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no Python module at {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_module(logical_id: str) -> ModuleType:
    """Import the function's handler module under a name of its own (`fn_<LogicalId>_app`)."""
    module_file, _ = handler_name(logical_id).rsplit(".", 1)
    path = code_dir(logical_id) / f"{module_file.replace('.', '/')}.py"
    return import_file(f"fn_{logical_id}_{module_file}", path)


def load_handler(logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
    _, function = handler_name(logical_id).rsplit(".", 1)
    return getattr(load_module(logical_id), function)  # type: ignore[no-any-return]


# ---------------------------------------------------------------------------------------------
# Running functions in this process, each with the environment the template gives it.
# ---------------------------------------------------------------------------------------------

_INVOCATION_ENV: ContextVar[Mapping[str, str | None] | None] = ContextVar("invocation_env", default=None)


class InvocationEnviron(os._Environ):  # type: ignore[type-arg]
    """`os.environ` that, inside an invocation, shows that function's environment on top of the
    process's (a `None` hides a variable). Outside an invocation it is the plain environment.

    The overlay lives in a context variable, so concurrent invocations of different functions
    (one thread each) see each their own environment without a lock."""

    def __getitem__(self, key: str) -> str:
        overlay = _INVOCATION_ENV.get()
        if overlay is not None and key in overlay:
            value = overlay[key]
            if value is None:
                raise KeyError(key)
            return value
        return super().__getitem__(key)  # type: ignore[no-any-return]

    def __setitem__(self, key: str, value: str) -> None:
        overlay = _INVOCATION_ENV.get()
        if overlay is not None:  # a function's own change stays its own (for this invocation)
            overlay[key] = value  # type: ignore[index]
        else:
            super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        overlay = _INVOCATION_ENV.get()
        if overlay is not None:
            if key not in self:
                raise KeyError(key)
            overlay[key] = None  # type: ignore[index]
        else:
            super().__delitem__(key)

    def __iter__(self) -> Iterator[str]:
        overlay = _INVOCATION_ENV.get()
        if overlay is None:
            yield from super().__iter__()
            return
        for key in super().__iter__():
            if key not in overlay:
                yield key
        for key, value in list(overlay.items()):
            if value is not None:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __contains__(self, key: object) -> bool:
        try:
            self[key]  # type: ignore[index]
        except KeyError:
            return False
        return True


def install_environ() -> None:
    """Make `os.environ` invocation-aware (once; it keeps sharing the process's variables)."""
    if isinstance(os.environ, InvocationEnviron):
        return
    base: Any = os.environ
    parts = (base._data, base.encodekey, base.decodekey, base.encodevalue, base.decodevalue)
    os.environ = InvocationEnviron(*parts)  # noqa: B003 (the same variables, seen per invocation)


class _PerThread:
    """A value each thread sees on its own (read and written on a class or on its instances)."""

    _values = threading.local()

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        try:
            return getattr(self._values, self.name)
        except AttributeError:
            raise AttributeError(self.name) from None

    def __set__(self, instance: object, value: Any) -> None:
        setattr(self._values, self.name, value)


def isolate_concurrent_resolutions() -> None:
    """Give each thread its own event and context in Powertools' HTTP resolvers.

    Powertools keeps the event being resolved on the class `BaseRouter` (`BaseRouter.current_event
    = ...`): one per process, which is right in Lambda, where a process serves one invocation at a
    time, and wrong here, where one process serves concurrent invocations (a request would be
    answered with another's body). Class and instance reads and writes of those two attributes
    go to the running thread's own values instead: a data descriptor in the class for instances,
    and one in its metaclass for `BaseRouter.current_event` itself."""
    from abc import ABCMeta

    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    class PerThreadRouterMeta(ABCMeta):
        current_event = _PerThread("current_event")
        lambda_context = _PerThread("lambda_context")

    if type(BaseRouter).__name__ == PerThreadRouterMeta.__name__:
        return
    for name in ("current_event", "lambda_context"):
        setattr(BaseRouter, name, _PerThread(name))
    BaseRouter.__class__ = PerThreadRouterMeta  # type: ignore[method-assign,assignment]


@contextmanager
def environment(variables: Mapping[str, str | None]) -> Iterator[None]:
    """Run the body with `variables` as this thread's view of the environment."""
    install_environ()
    token = _INVOCATION_ENV.set(dict(variables))
    try:
        yield
    finally:
        _INVOCATION_ENV.reset(token)


@dataclass
class LambdaContext:
    """The context object Lambda's Python runtime hands a handler."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class FunctionError(Exception):
    """A handler raised: what Lambda reports as the invocation's error."""

    def __init__(self, logical_id: str, error: BaseException) -> None:
        super().__init__(f"{logical_id}: {type(error).__name__}: {error}")
        self.error = error
        self.payload = {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "stackTrace": traceback.format_exception(error)[1:],
        }


DUMMY_CREDENTIALS = {"key": "local", "secret": "local", "sessiontoken": "local"}
ACCOUNT_ID = "123456789012"


MAX_INSTANCES_PER_FUNCTION = 200


@dataclass
class LocalFunction:
    """One function of the template. Like Lambda, it runs each invocation in an instance that serves
    one invocation at a time (a handler module and its resolver are not made for concurrent use):
    an idle instance is reused (warm), or a new one is loaded by file (a cold start)."""

    logical_id: str
    code_dir: Path
    handler: str
    timeout: int
    memory: int
    variables: dict[str, str]
    region: str
    max_instances: int = MAX_INSTANCES_PER_FUNCTION
    _idle: list[Callable[[Any, Any], Any]] = field(default_factory=list, repr=False)
    _instances: int = field(default=0, repr=False)
    _available: threading.Condition = field(default_factory=threading.Condition, repr=False)

    @property
    def instances(self) -> int:
        """How many instances were started (cold starts)."""
        return self._instances

    def _load(self, instance: int) -> Callable[[Any, Any], Any]:
        module_file, function = self.handler.rsplit(".", 1)
        path = self.code_dir / f"{module_file.replace('.', '/')}.py"
        module = import_file(f"fn_{self.logical_id}_{module_file.replace('.', '_')}_{instance}", path)
        return getattr(module, function)  # type: ignore[no-any-return]

    @contextmanager
    def _instance(self) -> Iterator[Callable[[Any, Any], Any]]:
        with self._available:
            while not self._idle and self._instances >= self.max_instances:
                self._available.wait()
            handler = self._idle.pop() if self._idle else None
            if handler is None:
                self._instances += 1
                number = self._instances
        if handler is None:
            try:
                handler = self._load(number)
            except BaseException:
                with self._available:
                    self._instances -= 1
                    self._available.notify()
                raise
        try:
            yield handler
        finally:
            with self._available:
                self._idle.append(handler)
                self._available.notify()

    def context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.logical_id,
            memory_limit_in_mb=self.memory,
            invoked_function_arn=f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.logical_id}",
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{self.logical_id}",
            log_stream_name=f"{time.strftime('%Y/%m/%d')}/[$LATEST]local",
            deadline=time.monotonic() + self.timeout,
        )

    def __call__(self, event: Any) -> Any:
        """Invoke the handler with `event` in this function's environment; raise FunctionError if
        it raises (after logging the trace, as Lambda logs it)."""
        started = time.monotonic()
        with environment(self.variables):
            try:
                with self._instance() as handler:
                    return handler(event, self.context())
            except Exception as error:
                LOG.error("%s raised:\n%s", self.logical_id, "".join(traceback.format_exception(error)).rstrip())
                raise FunctionError(self.logical_id, error) from error
            finally:
                elapsed = time.monotonic() - started
                if elapsed > self.timeout:
                    LOG.warning("%s ran %.1fs, past its timeout of %ss", self.logical_id, elapsed, self.timeout)


def stacks(parameter_overrides: Mapping[str, str], region: str = "us-east-1") -> list[Any]:
    """The template's stacks as `sam local` reads them, with these parameter values."""
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    found, _ = SamLocalStackProvider.get_stacks(
        str(template.TEMPLATE),
        parameter_overrides=dict(parameter_overrides),
        global_parameter_overrides={"AWS::Region": region},
    )
    return list(found)


class InProcessLambda:
    """Every function of the template, run in this process. Its `invoke` is the interface SAM
    CLI's local API Gateway calls on its Lambda runner (the Docker one in `sam local start-api`)."""

    def __init__(self, stack_list: list[Any], *, region: str = "us-east-1") -> None:
        from samcli.lib.providers.sam_function_provider import SamFunctionProvider
        from samcli.local.lambdafn.env_vars import EnvironmentVariables

        isolate_concurrent_resolutions()
        credentials = {"region": region, **DUMMY_CREDENTIALS}
        sam_functions = list(SamFunctionProvider(stack_list).get_all())
        resolved: dict[str, tuple[Any, dict[str, str]]] = {}
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
            resolved[function.name] = (function, variables)
        every_name = {name for _, variables in resolved.values() for name in variables}
        self.functions: dict[str, LocalFunction] = {}
        for name, (function, variables) in resolved.items():
            for layer in function.layers:
                _add_layer_path(Path(template.ROOT, layer.codeuri))
            env: dict[str, str] = dict(variables)
            env["LAMBDA_TASK_ROOT"] = str(Path(template.ROOT, function.codeuri))
            # Variables another function declares but this one does not are not this one's.
            hidden = dict.fromkeys(every_name - env.keys())
            self.functions[name] = LocalFunction(
                logical_id=name,
                code_dir=Path(template.ROOT, function.codeuri),
                handler=function.handler,
                timeout=int(function.timeout or 3),
                memory=int(function.memory or 128),
                variables={**hidden, **env},  # type: ignore[dict-item]
                region=region,
            )
        self.sam_functions = {function.name: function for function in sam_functions}

    def __getitem__(self, logical_id: str) -> LocalFunction:
        return self.functions[logical_id]

    # ---- the runner interface of samcli.commands.local.lib.local_lambda.LocalLambdaRunner
    def is_debugging(self) -> bool:
        return False

    def invoke(
        self,
        function_identifier: str,
        event: str,
        tenant_id: str | None = None,
        stdout: Any = None,
        stderr: Any = None,
        **_: Any,
    ) -> None:
        """Invoke a function with a JSON event; write its JSON result (or Lambda's error document,
        which SAM's gateway answers with a 500 as API Gateway does) to `stdout`."""
        from samcli.local.lambdafn.exceptions import FunctionNotFound

        function = self.functions.get(function_identifier)
        if function is None:
            raise FunctionNotFound(f"Unable to find a Function with name '{function_identifier}'")
        try:
            result = function(json.loads(event))
            output = json.dumps(result)
        except FunctionError as error:
            output = json.dumps(error.payload)
        except (TypeError, ValueError) as error:  # a result Lambda could not serialise either
            LOG.error("%s returned a result that is not JSON: %s", function_identifier, error)
            output = json.dumps(FunctionError(function_identifier, error).payload)
        if stdout is not None:
            stdout.write_str(output)
            stdout.flush()


def _add_layer_path(layer_dir: Path) -> None:
    """A layer's code importable as it is from /opt/python in Lambda."""
    path = str(layer_dir.resolve())
    if path not in sys.path:
        sys.path.insert(0, path)
