"""Domain errors, every one of them, under two bases.

- `Refusal`: the request is answered with the contract's status and code; `shop.api.errors`
  maps each kind to them, in one table.
- `Signal`: passes between the layers and is caught by the one it is meant for (a service, a
  function); never answered as it is.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """Base of every refusal the shop gives: its message is the answer's `message`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Signal(Exception):
    """Base of the errors between layers, never answered as they are."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


# Refusals: each one is in `shop.api.errors.REFUSALS`.


class InvalidRequest(Refusal):
    """The request cannot be read as one: its message names what is wrong (`body: ...`,
    `path.userId: ...`)."""


class BodyRefused(InvalidRequest):
    """A body that cannot be read as a request: too large, not text, not JSON."""


class InvalidCursor(Refusal):
    def __init__(self) -> None:
        super().__init__("cursor is not one this API returned")


class Unauthenticated(Refusal):
    """No verified caller: the request did not come through the authorizer."""

    def __init__(self) -> None:
        super().__init__("this route needs a verified caller (Authorization: Bearer <token>)")


class Forbidden(Refusal):
    """The caller may not do this: another user's data, or administration without the admin group."""

    def __init__(self, message: str = "the caller may not act for this user") -> None:
        super().__init__(message)


class BalanceLimitExceeded(Refusal):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the balance would pass the limit of {limit:,} won")


class ProductNotFound(Refusal):
    def __init__(self, product_id: str) -> None:
        super().__init__(f"product {product_id} does not exist")
        self.product_id = product_id


class OutOfStock(Refusal):
    def __init__(self, product_id: str) -> None:
        super().__init__(f"product {product_id} does not have enough stock")
        self.product_id = product_id


class InsufficientBalance(Refusal):
    def __init__(self) -> None:
        super().__init__("the balance does not cover the amount to pay")


class InvalidCoupon(Refusal):
    def __init__(self, issued_coupon_id: str) -> None:
        super().__init__(f"coupon {issued_coupon_id} cannot be used: not found, not the caller's, used or expired")


class CouponNotFound(Refusal):
    def __init__(self, coupon_id: str) -> None:
        super().__init__(f"coupon {coupon_id} does not exist")


class CouponSoldOut(Refusal):
    def __init__(self, coupon_id: str) -> None:
        super().__init__(f"coupon {coupon_id} is sold out")


class CouponAlreadyIssued(Refusal):
    def __init__(self, coupon_id: str) -> None:
        super().__init__(f"coupon {coupon_id} was already issued to this user")


class ConcurrentUpdate(Refusal):
    """The database kept refusing the change because of concurrent changes to the same items."""

    def __init__(self) -> None:
        super().__init__("too many concurrent changes to the same items; retry shortly")


class OrderNotFound(Refusal):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} does not exist")


class OutcomeUnknown(Refusal):
    """The database did not answer (a timeout, a connection lost): the change may have been
    applied. The repositories raise it for any call whose answer was lost; the client may retry
    (with the same Idempotency-Key to learn the real outcome)."""

    def __init__(self, message: str = "the database did not answer in time; the change may have been applied") -> None:
        super().__init__(message)


class IdempotencyKeyReused(Refusal):
    def __init__(self, header: str) -> None:
        super().__init__(f"{header} was used with another request body or path")


class IdempotencyInProgress(Refusal):
    def __init__(self, header: str) -> None:
        super().__init__(f"a request with this {header} is still running; retry shortly")


# Signals.


class AlreadyApplied(Signal):
    """The change carries an id that is already recorded: an earlier attempt of the same request
    was applied. `item` is the recorded item, when the database returned it."""

    def __init__(self, item: dict[str, Any] | None = None) -> None:
        super().__init__("already applied")
        self.item = item


class PriceChanged(Signal):
    """A product's price changed after the order was priced: price it again."""

    def __init__(self, product_id: str) -> None:
        super().__init__(f"the price of product {product_id} changed")
        self.product_id = product_id


class BalanceChanged(Signal):
    """The balance changed between its read and the charge's write: read it again."""

    def __init__(self) -> None:
        super().__init__("the balance changed since it was read")


class ShardSoldOut(Signal):
    """The coupon shard the transaction took from was empty; others may still hold coupons, unless
    the shard was marked as belonging to a sold-out campaign (`campaign_sold_out`)."""

    def __init__(self, coupon_id: str, shard: int, *, campaign_sold_out: bool = False) -> None:
        super().__init__(f"shard {shard} of coupon {coupon_id} is empty")
        self.coupon_id = coupon_id
        self.shard = shard
        self.campaign_sold_out = campaign_sold_out


class AlreadyCounted(Signal):
    """The order's units were counted already (its event was delivered again)."""

    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} was already counted")


class TokenRefused(Signal):
    """The token is not one the shop trusts; the message says why (never the token). The
    authorizer answers it as a denial."""


class DataPlatformUnavailable(Signal):
    """The data platform did not take the order; the forwarder reports the record and the queue
    delivers it again."""


class CredentialRefused(DataPlatformUnavailable):
    """The data platform answered 401 or 403: it does not take the credential sent (the secret is
    wrong, or was rotated on one side only). Retried like any failed delivery, never dropped."""


class CredentialUnavailable(Signal):
    """No credential to send: the secret could not be read, or its value is not a bearer token.
    The delivery fails and is retried; the data platform is never called without it."""


class NotAnOrderCompleted(Signal, ValueError):
    """An event (or a queued record's body) that is not an OrderCompleted event: no retry will
    fix it."""


class AnswerNotKept(Signal):
    """An answer that must not be kept as its request's outcome (a 5xx): the idempotency record
    is let go, and `response` is answered as it is."""

    def __init__(self, response: Any) -> None:
        super().__init__("answer not kept")
        self.response = response


class ReconciliationIncomplete(Signal):
    """The run's time ran out before every record was read: nothing can be concluded. The
    scheduled function fails (its Errors alarm) rather than report a partial count."""

    def __init__(self, stage: str, read: int) -> None:
        super().__init__(f"time ran out while reading the {stage} ({read:,} records read)")
        self.stage = stage
        self.read = read


class Unsettled(Signal):
    """The user's ledger grew under every attempt to confirm their difference."""
