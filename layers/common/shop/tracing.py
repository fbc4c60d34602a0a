"""X-Ray traces: Powertools' Tracer where tracing is on (in Lambda), nothing at all where it is off.

The template turns tracing on for every function (`Tracing: Active`); the local modes (`make run`,
`make sam-api`, `make invoke`) and the tests turn it off with `POWERTOOLS_TRACE_DISABLED=true`.
Off costs nothing: the X-Ray SDK is not even imported (Powertools' `Tracer(disabled=True)` still
imports it), and the handler is not wrapped. On, only botocore is patched (each DynamoDB call a
subsegment): `patch_all` would import every library the SDK knows how to patch.

What an operator searches traces by is annotated (`annotate`): the request id (the logs'
correlation id, the access log's `requestId`), the order id and the coupon campaign id. No user id
or other personal data: those stay in the logs, which keep them for the stage's retention only.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

Handler = TypeVar("Handler", bound=Callable[..., Any])

ANNOTATIONS = ("request_id", "order_id", "campaign_id")
"""The annotation keys (X-Ray keys are letters, digits and underscores), searchable as
`annotation.order_id = "..."` in the X-Ray console or `aws xray get-trace-summaries`."""

_TRUE = {"1", "true", "yes", "on"}


class Annotates(Protocol):
    """What `annotate` needs of a tracer: Powertools' Tracer, or a fake in tests."""

    def put_annotation(self, key: str, value: str) -> None: ...


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this process traces: in Lambda (`LAMBDA_TASK_ROOT`), not under SAM CLI
    (`AWS_SAM_LOCAL`), and not turned off (`POWERTOOLS_TRACE_DISABLED`), as Powertools decides."""
    if environ.get("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in _TRUE:
        return False
    return bool(environ.get("LAMBDA_TASK_ROOT")) and not environ.get("AWS_SAM_LOCAL")


PATCHED = ("botocore",)


_TRACER: dict[str, Any] = {}


def tracer() -> Any:
    """Powertools' Tracer (one per container) with botocore patched, or None where tracing is
    off. The X-Ray SDK is imported here, and only here."""
    if "tracer" not in _TRACER:
        _TRACER["tracer"] = _powertools_tracer() if enabled() else None
    return _TRACER["tracer"]


def _powertools_tracer() -> Any:
    from aws_lambda_powertools import Tracer

    built = Tracer(auto_patch=False)
    built.patch(list(PATCHED))
    return built


def use(found: Annotates | None) -> None:
    """Make `found` the container's tracer from now on (tests give a fake that records what is
    annotated); None: tracing off."""
    _TRACER["tracer"] = found


def traced(handler: Handler) -> Handler:
    """The Lambda handler with a subsegment of its own (its errors recorded, not its answer), or
    the handler itself where tracing is off."""
    if not enabled():
        return handler
    return tracer().capture_lambda_handler(handler, capture_response=False)  # type: ignore[no-any-return]


def annotate(ids: Mapping[str, str | None], to: Annotates | None = None) -> dict[str, str]:
    """Annotate the current trace segment with the ids among `ANNOTATIONS` that are given (a
    None is left out); `to` defaults to the container's tracer (nothing where tracing is off).
    Answers what was annotated."""
    given = {key: str(value) for key, value in ids.items() if key in ANNOTATIONS and value is not None}
    target = to if to is not None else tracer()
    if target is not None:
        for key, value in given.items():
            target.put_annotation(key, value)
    return given


@contextlib.contextmanager
def subsegment(name: str) -> Iterator[None]:
    """A subsegment of the current trace for one part of an invocation (a record of a batch, whose
    ids `annotate` then puts on it rather than on the whole invocation); nothing where tracing is
    off."""
    if not enabled():
        yield
        return
    with tracer().provider.in_subsegment(name=name):
        yield
