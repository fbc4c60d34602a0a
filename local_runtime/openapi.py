"""One OpenAPI document for the whole API, merged from every route function's resolver.

Each route function (a function of `template.yaml` with `HttpApi` events) is loaded the way
Lambda loads it, and its Powertools resolver describes its own routes; the paths and components
are merged into one document titled "Shop API".

Powertools declares a `422 HTTPValidationError` answer on every validated route, but the shop's
resolver answers a request that fails validation with `400 {"code": "INVALID_REQUEST", ...}`
(`shop.api.errors`): the merged document says so instead.

    python -m local_runtime.openapi [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Sequence
from typing import Any

from local_runtime import template
from local_runtime.handler_loader import load_module

TITLE = "Shop API"
OPENAPI_VERSION = "3.1.0"
ERROR_BODY_REF = "#/components/schemas/ErrorBody"
BEARER_SCHEME = "bearerAuth"


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


def _declare_bearer_tokens(document: dict[str, Any]) -> None:
    """Every route but the public ones needs `Authorization: Bearer <JWT>`; API Gateway answers
    `401` without one and `403` for a token the authorizer refuses."""
    document["components"]["securitySchemes"] = {
        BEARER_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token of the user pool (locally: `make -s token USER=<id> [ADMIN=1]`).",
        }
    }
    public = public_routes()
    # API Gateway's own refusal body, before any function runs.
    gateway = {
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string"}},
    }
    descriptions = {
        "401": "Unauthorized: no bearer token (API Gateway), or no verified caller",
        "403": "Forbidden: a token the authorizer refused (API Gateway), or not the caller's",
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (path, method) in public:
                operation["security"] = []
                continue
            operation["security"] = [{BEARER_SCHEME: []}]
            responses = operation.setdefault("responses", {})
            for status, description in descriptions.items():
                content = responses.get(status, {}).get("content", {}).get("application/json", {})
                function_body = content.get("schema")
                schema = {"anyOf": [function_body, gateway]} if function_body else gateway
                responses[status] = {"description": description, "content": {"application/json": {"schema": schema}}}


def function_document(logical_id: str, version: str) -> dict[str, Any]:
    """The OpenAPI document one route function's resolver describes, as plain JSON data."""
    module = load_module(logical_id)
    schema = module.app.get_openapi_schema(title=TITLE, version=version, openapi_version=OPENAPI_VERSION)
    document: dict[str, Any] = json.loads(schema.model_dump_json(by_alias=True, exclude_none=True))
    if getattr(module.lambda_handler, "idempotent", False):
        for operations in document.get("paths", {}).values():
            for operation in operations.values():
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY_PARAMETER)
    return document


IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Makes the request safe to send again: the same key and body within 24 hours answer the "
    "first answer (with `Idempotent-Replayed: true`) and change nothing more. 1 to 255 printable ASCII "
    "characters (HTTP drops spaces around a header value, so the document asks for none there).",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[!-~]([ -~]*[!-~])?$"},
}


def merge(documents: Sequence[dict[str, Any]], version: str) -> dict[str, Any]:
    """Merge the paths and components of several documents; a route described twice, or two
    different components with one name, is an error (the merged document would lie)."""
    merged: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": TITLE, "version": version},
        "paths": {},
        "components": {},
    }
    for document in documents:
        for path, operations in document.get("paths", {}).items():
            target = merged["paths"].setdefault(path, {})
            for method, operation in operations.items():
                if method in target:
                    raise ValueError(f"{method.upper()} {path} is described by two functions")
                target[method] = operation
        for section, entries in document.get("components", {}).items():
            target = merged["components"].setdefault(section, {})
            for name, entry in entries.items():
                if name in target and target[name] != entry:
                    raise ValueError(f"two different components named {section}/{name}")
                target[name] = entry
    return merged


def _answer_validation_with_400(document: dict[str, Any]) -> None:
    """Replace Powertools' `422 HTTPValidationError` with the `400 ErrorBody` the API answers, on
    the operations that take input to validate (the others cannot refuse one)."""
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            if "HTTPValidationError" not in json.dumps(responses.get("422", {})):
                continue  # none, or a 422 the route answers itself (IDEMPOTENCY_KEY_REUSED)
            del responses["422"]
            if operation.get("parameters") or operation.get("requestBody"):
                responses.setdefault(
                    "400",
                    {
                        "description": "Bad Request",
                        "content": {"application/json": {"schema": {"$ref": ERROR_BODY_REF}}},
                    },
                )


_BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _integer_bounds(value: Any) -> None:
    """Write the bounds of integers as integers: Powertools' document model holds every bound as a
    float (`maximum: 100.0`), which an integer's `maximum` should not be."""
    if isinstance(value, dict):
        if value.get("type") == "integer":
            for key in _BOUNDS:
                bound = value.get(key)
                if isinstance(bound, float) and bound.is_integer():
                    value[key] = int(bound)
        for item in value.values():
            _integer_bounds(item)
    elif isinstance(value, list):
        for item in value:
            _integer_bounds(item)


def _query_parameters_are_never_null(document: dict[str, Any]) -> None:
    """An optional query parameter (`str | None` in its function) is described by its value's
    schema alone: a query string holds text, never a JSON null; leaving it out sends none."""
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                choices = schema.get("anyOf")
                if parameter.get("in") != "query" or not isinstance(choices, list):
                    continue
                kept = [choice for choice in choices if choice != {"type": "null"}]
                if len(kept) == 1 and len(kept) < len(choices):
                    del schema["anyOf"]
                    schema.update(kept[0])


def _references(value: Any) -> set[str]:
    """The `$ref`s anywhere in a JSON value."""
    if isinstance(value, dict):
        found = {value["$ref"]} if isinstance(value.get("$ref"), str) else set()
        for item in value.values():
            found |= _references(item)
        return found
    if isinstance(value, list):
        return set().union(*map(_references, value)) if value else set()
    return set()


def _drop_unreferenced_schemas(document: dict[str, Any]) -> None:
    """Keep only the component schemas the paths reach (directly or through other schemas)."""
    schemas: dict[str, Any] = document["components"].get("schemas", {})
    prefix = "#/components/schemas/"
    reached: set[str] = set()
    pending = [ref[len(prefix) :] for ref in _references(document["paths"]) if ref.startswith(prefix)]
    while pending:
        name = pending.pop()
        if name in reached or name not in schemas:
            continue
        reached.add(name)
        pending.extend(ref[len(prefix) :] for ref in _references(schemas[name]) if ref.startswith(prefix))
    document["components"]["schemas"] = {name: schemas[name] for name in sorted(reached)}


def _error_body_schema() -> dict[str, Any]:
    from shop.models.errors import ErrorBody

    return ErrorBody.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")


def build() -> dict[str, Any]:
    """The whole API's OpenAPI document."""
    version = api_version()
    document = merge([function_document(logical_id, version) for logical_id in route_functions()], version)
    _answer_validation_with_400(document)
    _declare_bearer_tokens(document)
    _query_parameters_are_never_null(document)
    schemas = document["components"].setdefault("schemas", {})
    if ERROR_BODY_REF in _references(document["paths"]) and "ErrorBody" not in schemas:
        schemas["ErrorBody"] = _error_body_schema()
    _drop_unreferenced_schemas(document)
    _integer_bounds(document)
    document["paths"] = dict(sorted(document["paths"].items()))
    return document


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_runtime.openapi", description="Print the whole API's OpenAPI document as JSON."
    )
    parser.add_argument("--out", help="write the document to this file instead of standard output")
    args = parser.parse_args(argv)
    text = json.dumps(build(), indent=2) + "\n"
    if args.out:
        with open(args.out, "w", encoding="utf-8") as file:
            file.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
