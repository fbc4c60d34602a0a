"""Fixtures of the tests that run the template's functions with no database: the functions with
placeholder endpoints (`functions`), and `stub`, which swaps a function's code for a stub run in
its own worker processes."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_runtime.functions import LocalFunction, LocalLambda, stacks
from tests.support.placeholder_endpoints import PARAMETERS


@pytest.fixture(scope="module")
def stack_list() -> list[Any]:
    return stacks(PARAMETERS)


@pytest.fixture(scope="module")
def functions(stack_list: list[Any]) -> Iterator[LocalLambda]:
    functions = LocalLambda(stack_list)
    yield functions
    functions.stop()


@pytest.fixture
def stub(functions: LocalLambda, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """`stub(name, source)`: the function `name` runs `source` (an app.py defining `handler`) instead
    of its own code, in its own worker processes, with its own environment."""
    stubbed: list[LocalFunction] = []

    def make(name: str, source: str, **changes: Any) -> LocalFunction:
        code = tmp_path / name
        code.mkdir()
        (code / "app.py").write_text(textwrap.dedent(source))
        function = dataclasses.replace(functions[name], code_dir=code, handler="app.handler", **changes)
        monkeypatch.setitem(functions.functions, name, function)
        stubbed.append(function)
        return function

    yield make
    for function in stubbed:
        function.stop()
