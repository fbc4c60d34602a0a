"""One error module: every refusal answered with the contract's status and code from one table,
signals never answered, and a lost answer from DynamoDB leaving the repositories as
OutcomeUnknown."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from shop import errors
from shop.api import errors as api_errors
from shop.api.http import create_app
from shop.repositories import dynamodb
from shop.repositories.balances import BalanceRepository
from shop.repositories.products import ProductRepository
from tests.support.lambda_events import LambdaContext, http_event


def domain_errors(base: type[Exception]) -> list[type[Exception]]:
    return [
        kind
        for _, kind in inspect.getmembers(errors, inspect.isclass)
        if issubclass(kind, base) and kind is not base and kind.__module__ == errors.__name__
    ]


def a(kind: type[Exception]) -> Exception:
    """An instance of `kind`, its arguments made up from their names."""
    arguments = {
        name: 3 if parameter.annotation in ("int", int) else f"the-{name}"
        for name, parameter in inspect.signature(kind.__init__).parameters.items()
        if name != "self" and parameter.default is inspect.Parameter.empty
    }
    return kind(**arguments)


def test_every_domain_error_is_a_refusal_or_a_signal_never_both() -> None:
    refusals, signals = set(domain_errors(errors.Refusal)), set(domain_errors(errors.Signal))
    assert refusals and signals
    assert not refusals & signals
    assert not issubclass(errors.Signal, errors.Refusal) and not issubclass(errors.Refusal, errors.Signal)


@pytest.mark.parametrize("kind", domain_errors(errors.Refusal), ids=lambda kind: kind.__name__)
def test_every_refusal_has_the_contract_s_status_and_code(kind: type[errors.Refusal]) -> None:
    found = api_errors.refusal(a(kind))  # type: ignore[arg-type]
    assert found is not None, f"{kind.__name__} is in no row of REFUSALS"
    status, code = found
    assert status >= 400 and code.isupper()


@pytest.mark.parametrize(("kind", "row"), list(api_errors.REFUSALS.items()), ids=lambda v: getattr(v, "__name__", ""))
def test_each_refusal_is_answered_through_the_resolver_with_its_row(
    kind: type[errors.Refusal], row: tuple[HTTPStatus, str]
) -> None:
    app = create_app()
    refusal = a(kind)

    @app.get("/refuse")
    def refuse() -> dict[str, Any]:
        raise refusal

    answer = app.resolve(http_event("GET", "/refuse"), LambdaContext())
    assert answer["statusCode"] == row[0]
    assert json.loads(answer["body"]) == {"code": row[1], "message": str(refusal)}


@pytest.mark.parametrize("kind", domain_errors(errors.Signal), ids=lambda kind: kind.__name__)
def test_a_signal_that_escapes_is_a_500_without_its_message(kind: type[errors.Signal]) -> None:
    app = create_app()
    signal = a(kind)

    @app.get("/escape")
    def escape() -> dict[str, Any]:
        raise signal

    answer = app.resolve(http_event("GET", "/escape"), LambdaContext())
    assert (answer["statusCode"], json.loads(answer["body"])["code"]) == (500, "INTERNAL_ERROR")


def test_the_api_layer_imports_no_repository() -> None:
    from pathlib import Path

    for module in Path(api_errors.__file__).parent.glob("*.py"):
        assert "shop.repositories" not in module.read_text().replace("from shop.repositories.idempotency", ""), module


@pytest.fixture
def lost_answers(aws: Any) -> Iterator[list[str]]:
    """Every DynamoDB call of the shop's resource gets no answer (a read timeout); yields the
    operations that were sent."""
    sent: list[str] = []

    def lose(model: Any = None, **kwargs: Any) -> None:
        sent.append(str(kwargs.get("event_name", "")))
        raise ReadTimeoutError(endpoint_url="http://dynamodb")

    events = dynamodb.resource().meta.client.meta.events
    events.register("request-created.dynamodb", lose)
    yield sent
    events.unregister("request-created.dynamodb", lose)


def test_a_read_whose_answer_was_lost_is_outcome_unknown_from_the_repository(lost_answers: list[str]) -> None:
    with pytest.raises(errors.OutcomeUnknown) as unknown:
        BalanceRepository().get("u1")
    assert isinstance(unknown.value.__cause__, ReadTimeoutError)
    assert lost_answers


def test_a_write_whose_answer_was_lost_is_outcome_unknown_from_the_repository(aws: Any) -> None:
    def refuse_to_connect(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="http://dynamodb")

    events = dynamodb.single_attempt_resource().meta.client.meta.events
    events.register("request-created.dynamodb.UpdateItem", refuse_to_connect)
    try:
        with pytest.raises(errors.OutcomeUnknown):
            ProductRepository().restock("p-1", 1)
    finally:
        events.unregister("request-created.dynamodb.UpdateItem", refuse_to_connect)
