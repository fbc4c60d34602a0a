"""The published OpenAPI document describes every route of the template, as the contract says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openapi_spec_validator import validate

from local_runtime import openapi, template
from tests.support import newcomer

SCHEMAS = "#/components/schemas/"

# The request body model of each route that takes one (from the handlers' signatures).
REQUEST_MODELS = {
    ("/users/{userId}/balance/charge", "post"): "ChargeRequest",
    ("/orders", "post"): "PlaceOrder",
    ("/coupons/{couponId}/issue", "post"): "IssueCouponRequest",
    ("/products", "post"): "NewProduct",
    ("/products/{productId}/stock", "post"): "Restock",
    ("/coupons", "post"): "NewCoupon",
}

# The contract's `201` answers (API.md): everything that creates something.
CREATED = {("/coupons/{couponId}/issue", "post"), ("/orders", "post"), ("/products", "post"), ("/coupons", "post")}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi.build()


def operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(path, method): op for path, ops in document["paths"].items() for method, op in ops.items()}


def test_title_and_version(document: dict[str, Any]) -> None:
    assert document["info"]["title"] == "Shop API"
    assert document["info"]["version"] == openapi.api_version() != ""


def test_every_template_route_and_only_those(document: dict[str, Any]) -> None:
    declared = set()
    for resource in template.resources("AWS::Serverless::Function").values():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "HttpApi":
                declared.add((event["Properties"]["Path"], event["Properties"]["Method"].lower()))
    assert len(declared) == 15  # the template's routes, counted by hand
    assert set(operations(document)) == declared == openapi.template_routes()


def test_path_parameters_are_declared_with_the_id_pattern(document: dict[str, Any]) -> None:
    for (path, method), op in operations(document).items():
        names = set(re.findall(r"{(\w+)}", path))
        params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "path"}
        assert set(params) == names, f"{method} {path}"
        for param in params.values():
            assert param["required"] is True
            assert param["schema"]["pattern"] == r"^[A-Za-z0-9_-]{1,64}$"


def test_request_bodies_reference_the_models(document: dict[str, Any]) -> None:
    ops = operations(document)
    for key, op in ops.items():
        if key in REQUEST_MODELS:
            body = op["requestBody"]
            assert body["required"] is True
            assert body["content"]["application/json"]["schema"] == {"$ref": SCHEMAS + REQUEST_MODELS[key]}
            assert REQUEST_MODELS[key] in document["components"]["schemas"]
        else:
            assert "requestBody" not in op, key


def test_request_models_are_strict_in_the_document(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    charge = schemas["ChargeRequest"]
    assert charge["additionalProperties"] is False
    assert charge["required"] == ["amount"]
    assert charge["properties"]["amount"]["type"] == "integer"
    assert (charge["properties"]["amount"]["minimum"], charge["properties"]["amount"]["maximum"]) == (1, 1_000_000)
    order = schemas["PlaceOrder"]
    assert set(order["properties"]) == {"userId", "items", "issuedCouponId"}
    assert set(order["required"]) == {"items"}  # userId: the caller when left out
    issue = schemas["IssueCouponRequest"]
    assert set(issue["properties"]) == {"userId"}
    assert "required" not in issue or issue["required"] == []


PUBLIC = {("/products", "get"), ("/products/{productId}", "get"), ("/products/popular", "get")}


def test_the_bearer_scheme_is_declared_on_every_route_but_the_public_ones(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": document["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert openapi.public_routes() == PUBLIC
    for key, op in operations(document).items():
        if key in PUBLIC:
            assert op["security"] == [], key
            assert not {"401", "403"} & set(op["responses"]), key
        else:
            assert op["security"] == [{"bearerAuth": []}], key
            assert {"401", "403"} <= set(op["responses"]), key


def test_created_routes_declare_201_and_not_200(document: dict[str, Any]) -> None:
    for key, op in operations(document).items():
        success = {code for code in op["responses"] if code.startswith("2")}
        assert success == ({"201"} if key in CREATED else {"200"}), key


def test_success_answers_reference_their_models(document: dict[str, Any]) -> None:
    expected = {
        ("/users/{userId}/balance", "get"): "Balance",
        ("/users/{userId}/balance/charge", "post"): "Balance",
        ("/products", "get"): "ProductPage",
        ("/products/{productId}", "get"): "Product",
        ("/products/popular", "get"): "PopularProducts",
        ("/orders", "post"): "Order",
        ("/users/{userId}/coupons", "get"): "IssuedCouponList",
        ("/coupons/{couponId}/issue", "post"): "IssuedCoupon",
        ("/products", "post"): "Product",
        ("/products/{productId}/stock", "post"): "Product",
        ("/coupons", "post"): "Coupon",
        ("/coupons/{couponId}", "get"): "Coupon",
        ("/users/{userId}/balance/history", "get"): "EntryPage",
        ("/users/{userId}/orders", "get"): "OrderPage",
        ("/orders/{orderId}", "get"): "Order",
    }
    ops = operations(document)
    assert set(expected) == set(ops)
    for key, model in expected.items():
        (success,) = (answer for code, answer in ops[key]["responses"].items() if code.startswith("2"))
        assert success["content"]["application/json"]["schema"] == {"$ref": SCHEMAS + model}, key
    popular = document["components"]["schemas"]["PopularProducts"]
    assert set(popular["properties"]) == {"items", "from", "to"}


def test_refusals_are_400_error_bodies_never_422(document: dict[str, Any]) -> None:
    """The API answers invalid input with 400 INVALID_REQUEST, so the document must not promise
    Powertools' 422 HTTPValidationError (a 422 is IDEMPOTENCY_KEY_REUSED, an error body)."""
    for key, op in operations(document).items():
        if "422" in op["responses"]:
            assert key in CHANGES, key
            assert op["responses"]["422"]["content"]["application/json"]["schema"] == {"$ref": SCHEMAS + "ErrorBody"}
        if op.get("parameters") or op.get("requestBody"):
            bad = op["responses"]["400"]
            assert bad["content"]["application/json"]["schema"] == {"$ref": SCHEMAS + "ErrorBody"}, key
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error = document["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"code", "message"}


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = set(re.findall(r'"\$ref": "([^"]+)"', json.dumps(document)))
    assert refs
    for ref in refs:
        assert ref.startswith(SCHEMAS)
        assert ref[len(SCHEMAS) :] in document["components"]["schemas"], ref


def test_document_is_valid_openapi(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.")
    validate(document)


def test_merge_refuses_a_route_described_twice() -> None:
    one = {"paths": {"/a": {"get": {"responses": {}}}}, "components": {}}
    with pytest.raises(ValueError, match="GET /a"):
        openapi.merge([one, one], "1")


def test_merge_refuses_two_different_components_with_one_name() -> None:
    first = {"paths": {}, "components": {"schemas": {"Thing": {"type": "string"}}}}
    second = {"paths": {}, "components": {"schemas": {"Thing": {"type": "integer"}}}}
    assert openapi.merge([first, first], "1")["components"]["schemas"] == {"Thing": {"type": "string"}}
    with pytest.raises(ValueError, match="Thing"):
        openapi.merge([first, second], "1")


def run_command(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m local_runtime.openapi` as `make openapi` runs it, in a newcomer's environment."""
    root = template.ROOT
    pythonpath = os.pathsep.join([str(root / "layers" / "common"), str(root)])  # what the Makefile exports
    return newcomer.run(
        [sys.executable, "-m", "local_runtime.openapi", *args], home, timeout=120, PYTHONPATH=pythonpath
    )


def test_command_prints_and_writes_the_document(tmp_path: Path, document: dict[str, Any]) -> None:
    printed = run_command(tmp_path / "home")
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == document
    out = tmp_path / "openapi.json"
    written = run_command(tmp_path / "home", "--out", str(out))
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert json.loads(out.read_text()) == document


# ---------------------------------------------------------------- the document and the models agree

# Every status each route answers (API.md, and 400 for any input outside the document).
STATUSES = {
    ("/users/{userId}/balance", "get"): {"200", "400"},
    ("/users/{userId}/balance/charge", "post"): {"200", "400", "409", "422", "503"},
    ("/products", "get"): {"200", "400"},
    ("/products/{productId}", "get"): {"200", "400", "404"},
    ("/products/popular", "get"): {"200"},
    ("/orders", "post"): {"201", "400", "404", "409", "422", "503"},
    ("/users/{userId}/coupons", "get"): {"200", "400"},
    ("/coupons/{couponId}/issue", "post"): {"201", "400", "404", "409", "422", "503"},
    ("/products", "post"): {"201", "400"},
    ("/products/{productId}/stock", "post"): {"200", "400", "404"},
    ("/coupons", "post"): {"201", "400"},
    ("/coupons/{couponId}", "get"): {"200", "400", "404"},
    ("/users/{userId}/balance/history", "get"): {"200", "400", "403"},
    ("/users/{userId}/orders", "get"): {"200", "400", "403"},
    ("/orders/{orderId}", "get"): {"200", "400", "404"},
}
# A 5xx the API answers on purpose: 503 OUTCOME_UNKNOWN, where a change's outcome can be unknown.
CHANGES = {
    ("/users/{userId}/balance/charge", "post"),
    ("/orders", "post"),
    ("/coupons/{couponId}/issue", "post"),
}


def test_every_status_a_route_answers_is_documented_with_its_body(document: dict[str, Any]) -> None:
    ops = operations(document)
    for key, statuses in STATUSES.items():
        assert set(ops[key]["responses"]) >= statuses, key
        for status in statuses - {"200", "201"}:
            schema = ops[key]["responses"][status]["content"]["application/json"]["schema"]
            if status != "403":  # may also be API Gateway's own refusal
                assert schema == {"$ref": SCHEMAS + "ErrorBody"}, (key, status)
        server_errors = {code for code in ops[key]["responses"] if code.startswith("5")}
        assert server_errors == ({"503"} if key in CHANGES else set()), key


def test_the_idempotent_posts_document_their_key(document: dict[str, Any]) -> None:
    for path, method in CHANGES:
        names = [p["name"] for p in document["paths"][path][method].get("parameters", [])]
        assert "Idempotency-Key" in names, (path, method)
    untouched = document["paths"]["/users/{userId}/balance"]["get"].get("parameters", [])
    assert "Idempotency-Key" not in [p["name"] for p in untouched]


def test_the_error_body_is_short_in_the_document(document: dict[str, Any]) -> None:
    from shop.models.errors import MAX_MESSAGE

    error = document["components"]["schemas"]["ErrorBody"]
    assert error["properties"]["message"]["maxLength"] == MAX_MESSAGE <= 500
    assert error["properties"]["code"]["pattern"] == "^[A-Z][A-Z0-9_]*$"


def _schemas_in(value: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(value, dict):
        if value.get("type") is not None or "properties" in value:
            found.append(value)
        for item in value.values():
            found += _schemas_in(item)
    elif isinstance(value, list):
        for item in value:
            found += _schemas_in(item)
    return found


def test_every_integer_bound_is_an_integer(document: dict[str, Any]) -> None:
    integers = [s for s in _schemas_in(document) if s.get("type") == "integer"]
    assert len(integers) > 10
    for schema in integers:
        for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "default"):
            if key in schema:
                assert type(schema[key]) is int, schema


def request_model_classes() -> dict[str, type]:
    from shop.models.balance import ChargeRequest
    from shop.models.coupon import FixedDiscount, IssueCouponRequest, NewCoupon, PercentDiscount
    from shop.models.order import OrderLine, PlaceOrder
    from shop.models.product import NewProduct, Restock

    models = [
        ChargeRequest,
        PlaceOrder,
        OrderLine,
        IssueCouponRequest,
        NewProduct,
        Restock,
        NewCoupon,
        FixedDiscount,
        PercentDiscount,
    ]
    return {model.__name__: model for model in models}


def _bounds(metadata: list[Any]) -> tuple[Any, Any]:
    low = next((m.ge for m in metadata if hasattr(m, "ge")), None)
    high = next((m.le for m in metadata if hasattr(m, "le")), None)
    return low, high


def test_request_schemas_say_what_the_models_check(document: dict[str, Any]) -> None:
    """Each request model, nested ones included: no other fields, the same required fields, and
    each integer field an `integer` with the model's bounds."""
    schemas = document["components"]["schemas"]
    for name, model in request_model_classes().items():
        schema = schemas[name]
        fields = {field.alias or key: field for key, field in model.model_fields.items()}  # type: ignore[attr-defined]
        assert schema["additionalProperties"] is False, name
        assert set(schema["properties"]) == set(fields), name
        assert set(schema.get("required", [])) == {alias for alias, f in fields.items() if f.is_required()}, name
        for alias, field in fields.items():
            if field.annotation is int:
                prop = schema["properties"][alias]
                assert prop["type"] == "integer", (name, alias)
                low, high = _bounds(field.metadata)
                assert (prop.get("minimum"), prop.get("maximum")) == (low, high), (name, alias)
                assert low is not None
                assert high is not None, f"{name}.{alias} has no upper bound"


def test_the_catalogue_query_is_described_as_the_api_reads_it(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in operations(document)[("/products", "get")]["parameters"]}
    assert set(params) == {"limit", "cursor"}
    limit, cursor = params["limit"], params["cursor"]
    assert (limit["in"], limit["required"]) == ("query", False)
    assert limit["schema"]["type"] == "integer"
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"], limit["schema"]["default"]) == (1, 100, 20)
    assert (cursor["in"], cursor["required"]) == ("query", False)
    assert cursor["schema"]["type"] == "string"
    assert cursor["schema"]["pattern"] == r"^[A-Za-z0-9_-]{1,64}$"
    assert "anyOf" not in cursor["schema"], "a query string is never null"
