"""`make run` runs every function with tracing off: the runtime passes TracingDisabled=true, and
each instance's environment, as the worker process gets it, says so."""

from __future__ import annotations

from local_runtime import template
from local_runtime.run import LocalRuntime


def test_every_function_instance_runs_with_tracing_off(local_runtime: LocalRuntime) -> None:
    functions = local_runtime.functions.functions
    assert set(functions) == set(template.resources("AWS::Serverless::Function"))
    for name, function in functions.items():
        assert function.process_environment()["POWERTOOLS_TRACE_DISABLED"] == "true", name
