"""The published OpenAPI document (Powertools' merge of the route functions' resolvers) describes
every route of the template, as the contract says, and reads as documentation."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from local_runtime import openapi, template
from shop.api.idempotency import _KEY
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
    scheme = document["components"]["securitySchemes"]["bearerAuth"]
    assert {key: scheme[key] for key in ("type", "scheme", "bearerFormat")} == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert "make -s token" in scheme["description"]
    assert "security" not in document, "no requirement for every operation: the public ones need none"
    assert openapi.public_routes() == PUBLIC
    for key, op in operations(document).items():
        if key in PUBLIC:
            assert "security" not in op, key
            assert not {"401", "403"} & set(op["responses"]), key
        else:
            assert op["security"] == [{"bearerAuth": []}], key
            assert {"401", "403"} <= set(op["responses"]), key


def test_the_gateway_s_own_refusals_are_documented_beside_the_function_s(document: dict[str, Any]) -> None:
    """API Gateway answers 401 without a token and 403 for a refused one with `{"message": ...}`,
    before any function runs; the function answers its error body."""
    assert "GatewayRefusal" not in document["components"]["schemas"], "a schema of the operation, not a model"
    for key, op in operations(document).items():
        for status in ("401", "403"):
            if key not in PUBLIC:
                answer = op["responses"][status]
                assert "API Gateway" in answer["description"], (key, status)
                function, gateway = answer["content"]["application/json"]["schema"]["anyOf"]
                assert function == {"$ref": SCHEMAS + "ErrorBody"}, (key, status)
                assert (gateway["required"], gateway["properties"]) == (["message"], {"message": {"type": "string"}})
                assert not list(Draft202012Validator(gateway).iter_errors({"message": "Unauthorized"}))


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


def idempotent_routes() -> set[tuple[str, str]]:
    """The routes of the functions whose entry point answers a key at most once."""
    found = set()
    for logical_id in openapi.route_functions():
        if "entry_point(app, idempotent=True)" in openapi.handler_file(logical_id).read_text():
            events = template.resources("AWS::Serverless::Function")[logical_id]["Properties"]["Events"]
            found |= {(e["Properties"]["Path"], e["Properties"]["Method"].lower()) for e in events.values()}
    return found


def key_parameters(op: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in op.get("parameters", []) if p["name"].lower() == "idempotency-key"]


def test_the_idempotency_key_is_a_parameter_of_exactly_the_idempotent_posts(document: dict[str, Any]) -> None:
    assert idempotent_routes() == CHANGES
    for key, op in operations(document).items():
        parameters = key_parameters(op)
        if key not in CHANGES:
            assert parameters == [], key
            continue
        (parameter,) = parameters
        assert (parameter["in"], parameter["required"]) == ("header", False), key
        assert {k: parameter["schema"][k] for k in ("type", "minLength", "maxLength")} == {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
        }
        assert "422 IDEMPOTENCY_KEY_REUSED" in parameter["description"]


def test_a_key_the_document_allows_is_a_key_the_function_takes(document: dict[str, Any]) -> None:
    """The document asks for no spaces around the key (HTTP drops them), so it allows less than
    the function takes (`shop.api.idempotency`), never more."""
    (parameter,) = key_parameters(operations(document)[("/orders", "post")])
    pattern = re.compile(parameter["schema"]["pattern"])
    for key in ["k", "~ !" + "x" * 252, "a b", "x" * 255, " k", "k ", " ", "", "caf\u00e9", "tab\there", "x" * 256]:
        allowed = bool(pattern.search(key)) and 1 <= len(key) <= 255
        if allowed:
            assert _KEY.fullmatch(key), key
        assert allowed == (key == key.strip(" ") and bool(_KEY.fullmatch(key))), key


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


# ---------------------------------------------------------------- the document reads as documentation

# The use case each operation is listed under.
USE_CASES = {
    ("/users/{userId}/balance", "get"): "Balance",
    ("/users/{userId}/balance/charge", "post"): "Balance",
    ("/users/{userId}/balance/history", "get"): "Balance",
    ("/products", "get"): "Products",
    ("/products/{productId}", "get"): "Products",
    ("/products/popular", "get"): "Popular products",
    ("/orders", "post"): "Orders",
    ("/users/{userId}/orders", "get"): "Orders",
    ("/orders/{orderId}", "get"): "Orders",
    ("/coupons/{couponId}/issue", "post"): "Coupons",
    ("/users/{userId}/coupons", "get"): "Coupons",
    ("/products", "post"): "Catalogue administration",
    ("/products/{productId}/stock", "post"): "Catalogue administration",
    ("/coupons", "post"): "Catalogue administration",
    ("/coupons/{couponId}", "get"): "Catalogue administration",
}


def test_every_operation_is_under_the_tag_of_its_use_case(document: dict[str, Any]) -> None:
    assert {key: op.get("tags") for key, op in operations(document).items()} == {
        key: [tag] for key, tag in USE_CASES.items()
    }
    tags = document["tags"]
    assert [tag["name"] for tag in tags] == list(dict.fromkeys(USE_CASES.values()))
    assert all(len(tag["description"]) > 20 for tag in tags), tags


def test_every_operation_has_a_summary_in_words_and_a_description(document: dict[str, Any]) -> None:
    summaries = []
    for (path, method), op in operations(document).items():
        summary = op["summary"]
        assert summary != f"{method.upper()} {path}" and "/" not in summary, summary
        assert re.fullmatch(r"[A-Z][a-z]+( [A-Za-z']+)+", summary), summary
        summaries.append(summary)
        assert len(op["description"]) > 60, (path, method)
    assert len(set(summaries)) == len(summaries)
    assert "description" in document["info"]


def test_descriptions_name_the_refusals_the_contract_gives(document: dict[str, Any]) -> None:
    ops = operations(document)
    for key, codes in {
        ("/users/{userId}/balance/charge", "post"): ["BALANCE_LIMIT_EXCEEDED", "OUTCOME_UNKNOWN"],
        ("/orders", "post"): ["PRODUCT_NOT_FOUND", "OUT_OF_STOCK", "INSUFFICIENT_BALANCE", "INVALID_COUPON"],
        ("/coupons/{couponId}/issue", "post"): ["COUPON_NOT_FOUND", "COUPON_SOLD_OUT", "COUPON_ALREADY_ISSUED"],
        ("/products/{productId}", "get"): ["PRODUCT_NOT_FOUND"],
        ("/orders/{orderId}", "get"): ["ORDER_NOT_FOUND"],
        ("/coupons/{couponId}", "get"): ["COUPON_NOT_FOUND"],
    }.items():
        for code in codes:
            assert code in ops[key]["description"], (key, code)


def validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of `schema`, its references resolved in the document."""
    registry: Registry[Any] = Registry().with_resource("urn:document", DRAFT202012.create_resource(document))
    root = {"$ref": "urn:document" + schema["$ref"]} if "$ref" in schema else schema
    return Draft202012Validator(root, registry=registry)


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    return document["components"]["schemas"][schema["$ref"].removeprefix(SCHEMAS)] if "$ref" in schema else schema


def test_every_operation_shows_an_example_body_and_answer_valid_for_their_schemas(document: dict[str, Any]) -> None:
    checked = 0
    for key, op in operations(document).items():
        shown = []
        if "requestBody" in op:
            shown.append(op["requestBody"]["content"]["application/json"]["schema"])
        (success,) = (answer for code, answer in op["responses"].items() if code.startswith("2"))
        shown.append(success["content"]["application/json"]["schema"])
        for schema in shown:
            examples = resolved(document, schema).get("examples")
            assert examples, (key, schema)
            for example in examples:
                errors = list(validator(document, schema).iter_errors(example))
                assert not errors, (key, [error.message for error in errors])
                checked += 1
    assert checked == 15 + len(REQUEST_MODELS)


def test_the_request_examples_are_taken_by_the_models_too(document: dict[str, Any]) -> None:
    """An example body the API would refuse would teach a client the wrong thing."""
    for name, model in request_model_classes().items():
        for example in document["components"]["schemas"][name].get("examples", []):
            model.model_validate(example)  # type: ignore[attr-defined]


def test_an_invalid_example_would_be_seen(document: dict[str, Any]) -> None:
    schema = {"$ref": SCHEMAS + "ChargeRequest"}
    assert list(validator(document, schema).iter_errors({"amount": 0}))
    assert list(validator(document, {"$ref": SCHEMAS + "Order"}).iter_errors({"orderId": "o"}))
