"""Loading a function's handler the way Lambda does: by file, each `app.py` kept apart."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from local_runtime import template


def code_dir(logical_id: str) -> Path:
    props = template.resources("AWS::Serverless::Function")[logical_id]["Properties"]
    return template.ROOT / props["CodeUri"]


def handler_name(logical_id: str) -> str:
    doc = template.load()
    props = doc["Resources"][logical_id]["Properties"]
    return str(props.get("Handler") or doc.get("Globals", {}).get("Function", {}).get("Handler"))


def load_module(logical_id: str) -> ModuleType:
    """Import the function's handler module under a name of its own (`fn_<LogicalId>_app`)."""
    module_file, _ = handler_name(logical_id).rsplit(".", 1)
    path = code_dir(logical_id) / f"{module_file.replace('.', '/')}.py"
    name = f"fn_{logical_id}_{module_file}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_handler(logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
    _, function = handler_name(logical_id).rsplit(".", 1)
    return getattr(load_module(logical_id), function)  # type: ignore[no-any-return]
