"""A function's handler imported into this process, as unit tests run it on moto (and as the API
document is read from the functions' resolvers): the template says where its code is and which
handler it names. `local_runtime.functions` runs the functions in processes of their own instead."""

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
    """Import the function's handler module into this process, under a name of its own
    (`fn_<LogicalId>_app`)."""
    module_file, _ = handler_name(logical_id).rsplit(".", 1)
    path = code_dir(logical_id) / f"{module_file.replace('.', '/')}.py"
    return import_file(f"fn_{logical_id}_{module_file}", path)


def load_handler(logical_id: str) -> Callable[[dict[str, Any], Any], Any]:
    """The function's handler, imported into this process (unit tests run it so, on moto)."""
    _, function = handler_name(logical_id).rsplit(".", 1)
    return getattr(load_module(logical_id), function)  # type: ignore[no-any-return]
