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
    assert set(order["required"]) == {"userId", "items"}


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
    Powertools' 422 HTTPValidationError."""
    for key, op in operations(document).items():
        assert "422" not in op["responses"], key
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


def run_command(*args: str) -> subprocess.CompletedProcess[str]:
    root = template.ROOT
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "layers" / "common"), str(root)])}
    return subprocess.run(
        [sys.executable, "-m", "local_runtime.openapi", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_command_prints_and_writes_the_document(tmp_path: Path, document: dict[str, Any]) -> None:
    printed = run_command()
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == document
    out = tmp_path / "openapi.json"
    written = run_command("--out", str(out))
    assert written.returncode == 0, written.stderr
    assert written.stdout == ""
    assert json.loads(out.read_text()) == document
