"""What every route function's resolver says about the API in the OpenAPI document (`make openapi`):
its title, the use cases that tag its operations, the bearer token API Gateway's authorizer checks,
and the refusals the gateway answers itself.

The title, the tags and the security scheme are plain data, not Powertools' OpenAPI models:
Powertools validates them into its models when it makes a document, and importing those models
would add about 100 ms to every cold start (`bench/coldstart.py`) for a document no request reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from shop.models.errors import ErrorBody

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.models import SecurityScheme, Tag
    from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

TITLE = "Shop API"
DESCRIPTION = (
    "The shop's HTTP API: balances, the catalogue, coupons, orders and the popular products. "
    "JSON in, JSON out; money is an integer number of won (KRW); every refusal is "
    '`{"code": "UPPER_SNAKE", "message": "..."}` and changes nothing.'
)

BALANCE = "Balance"
PRODUCTS = "Products"
POPULAR_PRODUCTS = "Popular products"
ORDERS = "Orders"
COUPONS = "Coupons"
CATALOGUE_ADMINISTRATION = "Catalogue administration"

TAGS: list[dict[str, str]] = [
    {"name": BALANCE, "description": "A user's balance in won: read it, charge it, and its ledger."},
    {"name": PRODUCTS, "description": "The catalogue, public: no token needed."},
    {"name": POPULAR_PRODUCTS, "description": "The top sellers of the last days, public: no token needed."},
    {"name": ORDERS, "description": "Order and pay at once, then read the paid orders."},
    {"name": COUPONS, "description": "Coupons of a campaign, first come, first served, and the coupons a user holds."},
    {"name": CATALOGUE_ADMINISTRATION, "description": "Products, restocks and coupon campaigns: admins only."},
]
"""The use cases, in the order the document lists them."""

BEARER_SCHEME = "bearerAuth"
SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    BEARER_SCHEME: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token of the user pool, checked by API Gateway's authorizer before any "
        "function runs (locally: `make -s token USER=<id> [ADMIN=1]`).",
    }
}

BEARER: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
"""The security of an operation behind the authorizer (a public operation declares none)."""


GATEWAY_REFUSAL: dict[str, Any] = {
    "title": "GatewayRefusal",
    "description": "API Gateway's own refusal, answered before any function runs: `Unauthorized` without a bearer "
    "token, `Forbidden` for a token the authorizer refused.",
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}},
    "examples": [{"message": "Unauthorized"}],
}
"""The body of API Gateway's 401 and 403, as a schema: a model class would cost every cold start
its creation (about 2 ms of CPU) for the document alone."""


def _caller_refused(description: str) -> OpenAPIResponse:
    """A refusal of the caller, by API Gateway (`GATEWAY_REFUSAL`) or by the function (its error
    body, in the document of every function whose routes declare their refusals)."""
    either = {"anyOf": [{"$ref": f"#/components/schemas/{ErrorBody.__name__}"}, GATEWAY_REFUSAL]}
    return {"description": description, "content": {"application/json": {"schema": either}}}


CALLER_REFUSALS: dict[int, OpenAPIResponse] = {
    401: _caller_refused("Unauthorized: no bearer token (API Gateway), or no verified caller"),
    403: _caller_refused("Forbidden: a token the authorizer refused (API Gateway), or not the caller's to ask"),
}
"""The answers of an operation behind the authorizer to a caller it does not serve."""


def configure(app: APIGatewayHttpResolver) -> None:
    """Give a route function's resolver what every function's document says alike."""
    app.configure_openapi(
        title=TITLE,
        description=DESCRIPTION,
        tags=cast("list[Tag | str]", TAGS),
        security_schemes=cast("dict[str, SecurityScheme]", SECURITY_SCHEMES),
    )
