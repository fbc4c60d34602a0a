"""One OpenAPI document for the whole API, merged by Powertools' `OpenAPIMerge` from every route
function's resolver.

Each resolver describes its own routes: tags, summaries, descriptions, parameters (the
`Idempotency-Key` header included), bodies and answers with their models' examples, security
(`shop.api.openapi`: the bearer scheme, and the gateway's own 401 and 403). The template says which
functions serve routes (`make openapi` loads each one's module, as Lambda would, with a region and
dummy credentials of its own); Powertools merges their documents, refusing a route described twice.

What a resolver cannot say is a short named step after the merge, each with its reason:
`answer_invalid_input_with_400`, `drop_unused_schemas`, `parameters_are_never_null`,
`integer_bounds_as_integers`; `check_every_route_is_described` makes sure no function was left out.

    python -m local_runtime.openapi [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

from local_runtime import aws_env, template
from local_runtime.handler_loader import code_dir, handler_name
from shop.api.openapi import DESCRIPTION, TITLE

OPENAPI_VERSION = "3.1.0"
SCHEMAS = "#/components/schemas/"


def api_version() -> str:
    """The project's version, from pyproject.toml."""
    with (template.ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def route_functions() -> list[str]:
    """Logical ids of the template's functions that serve HTTP API routes, in template order."""
    return [
        logical_id
        for logical_id, resource in template.resources("AWS::Serverless::Function").items()
        if any(event.get("Type") == "HttpApi" for event in resource["Properties"].get("Events", {}).values())
    ]


def template_routes() -> set[tuple[str, str]]:
    """Every `(path, method)` the template routes, method in lower case (as OpenAPI spells it)."""
    routes = set()
    for logical_id in route_functions():
        events = template.resources("AWS::Serverless::Function")[logical_id]["Properties"]["Events"]
        for event in events.values():
            if event.get("Type") == "HttpApi":
                routes.add((str(event["Properties"]["Path"]), str(event["Properties"]["Method"]).lower()))
    return routes


def public_routes() -> set[tuple[str, str]]:
    """The `(path, method)` routes that opt out of the API's authorizer (`Auth: {Authorizer: NONE}`)."""
    routes = set()
    for logical_id in route_functions():
        events = template.resources("AWS::Serverless::Function")[logical_id]["Properties"]["Events"]
        for event in events.values():
            properties = event["Properties"]
            if event.get("Type") == "HttpApi" and properties.get("Auth", {}).get("Authorizer") == "NONE":
                routes.add((str(properties["Path"]), str(properties["Method"]).lower()))
    return routes


def handler_file(logical_id: str) -> Path:
    """The file of a function's handler module."""
    module_file, _ = handler_name(logical_id).rsplit(".", 1)
    return code_dir(logical_id) / f"{module_file.replace('.', '/')}.py"


def operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Every operation of the document."""
    return [operation for item in document.get("paths", {}).values() for operation in item.values()]


def merged() -> dict[str, Any]:
    """The route functions' documents, merged by Powertools (as JSON data). Each function's file is
    added by name: Powertools' discovery recognises a resolver only where a file calls
    `APIGatewayHttpResolver(...)` itself, and the functions call `create_app()`."""
    merge = OpenAPIMerge(
        title=TITLE,
        version=api_version(),
        openapi_version=OPENAPI_VERSION,
        description=DESCRIPTION,
        on_conflict="error",
    )
    for logical_id in route_functions():
        merge.add_file(handler_file(logical_id))
    with warnings.catch_warnings():
        # Powertools warns, and leaves the function out, when a module fails to import: fail instead.
        warnings.filterwarnings("error", message="Failed to load")
        return json.loads(merge.get_openapi_json_schema())  # type: ignore[no-any-return]


def check_every_route_is_described(document: dict[str, Any]) -> None:
    """The document describes the template's routes, no more, no less: a route function whose
    resolver does not declare a route of its own would otherwise go unnoticed."""
    described = {(path, method) for path, item in document.get("paths", {}).items() for method in item}
    if described != template_routes():
        raise ValueError(
            f"the document and the template disagree: only described {sorted(described - template_routes())}, "
            f"only routed {sorted(template_routes() - described)}"
        )


def answer_invalid_input_with_400(document: dict[str, Any]) -> None:
    """Powertools declares `422 HTTPValidationError` on every validated route, but the shop's
    resolver answers input that fails validation with `400 INVALID_REQUEST` (`shop.api.errors`), which
    each route declares; no route can take Powertools' 422 back. Drop it (a 422 a route declares
    itself, IDEMPOTENCY_KEY_REUSED, stays)."""
    for operation in operations(document):
        responses = operation.get("responses", {})
        if SCHEMAS + "HTTPValidationError" in json.dumps(responses.get("422", {})):
            del responses["422"]


def drop_unused_schemas(document: dict[str, Any]) -> None:
    """Keep only the component schemas the paths reach: Powertools puts its validation errors'
    schemas (`HTTPValidationError`, `ValidationError`, `ResponseValidationError`) in every
    function's document, used or not."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    reached: set[str] = set()
    pending = [ref.removeprefix(SCHEMAS) for ref in _references(document["paths"])]
    while pending:
        name = pending.pop()
        if name not in reached and name in schemas:
            reached.add(name)
            pending.extend(ref.removeprefix(SCHEMAS) for ref in _references(schemas[name]))
    document["components"]["schemas"] = {name: schema for name, schema in schemas.items() if name in reached}


def parameters_are_never_null(document: dict[str, Any]) -> None:
    """An optional query or header parameter (`str | None` in its function) is described by its
    value's schema alone: a query string or a header holds text, never a JSON null; leaving it out
    sends none. (Powertools writes the Python type, `anyOf: [..., {"type": "null"}]`.)"""
    for operation in operations(document):
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            choices = schema.get("anyOf")
            if not isinstance(choices, list):
                continue
            kept = [choice for choice in choices if choice != {"type": "null"}]
            if len(kept) == 1 and len(kept) < len(choices):
                del schema["anyOf"]
                schema.update(kept[0])


_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def integer_bounds_as_integers(value: Any) -> None:
    """Write the bounds of integers as integers: Powertools' document model holds every bound as a
    float (`maximum: 100.0`), which an integer's `maximum` should not be."""
    if isinstance(value, dict):
        if value.get("type") == "integer":
            for key in _BOUNDS:
                bound = value.get(key)
                if isinstance(bound, float) and bound.is_integer():
                    value[key] = int(bound)
        for item in value.values():
            integer_bounds_as_integers(item)
    elif isinstance(value, list):
        for item in value:
            integer_bounds_as_integers(item)


def _references(value: Any) -> set[str]:
    """The component schemas referenced anywhere in a JSON value."""
    if isinstance(value, dict):
        found = {value["$ref"]} if str(value.get("$ref", "")).startswith(SCHEMAS) else set()
        for item in value.values():
            found |= _references(item)
        return found
    if isinstance(value, list):
        return set().union(*map(_references, value)) if value else set()
    return set()


def build() -> dict[str, Any]:
    """The whole API's OpenAPI document."""
    document = merged()
    check_every_route_is_described(document)
    answer_invalid_input_with_400(document)
    drop_unused_schemas(document)
    parameters_are_never_null(document)
    integer_bounds_as_integers(document)
    return document


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_runtime.openapi", description="Print the whole API's OpenAPI document as JSON."
    )
    parser.add_argument("--out", help="write the document to this file instead of standard output")
    args = parser.parse_args(argv)
    aws_env.for_emulators()  # the functions' modules make their clients at import: a region and dummy credentials
    text = json.dumps(build(), indent=2) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            file.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
