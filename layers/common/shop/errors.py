"""Domain errors: plain exceptions raised by services and repositories.

`shop.api.errors` maps each one to the contract's status and code, in one place.
"""

from __future__ import annotations

from typing import Any


class ShopError(Exception):
    """Base of every refusal the shop gives."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BalanceLimitExceeded(ShopError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"the balance would pass the limit of {limit:,} won")


class ProductNotFound(ShopError):
    def __init__(self, product_id: str) -> None:
        super().__init__(f"product {product_id} does not exist")
        self.product_id = product_id


class OutOfStock(ShopError):
    def __init__(self, product_id: str) -> None:
        super().__init__(f"product {product_id} does not have enough stock")
        self.product_id = product_id


class InsufficientBalance(ShopError):
    def __init__(self) -> None:
        super().__init__("the balance does not cover the amount to pay")


class InvalidCoupon(ShopError):
    def __init__(self, issued_coupon_id: str) -> None:
        super().__init__(f"coupon {issued_coupon_id} cannot be used: not found, not the caller's, used or expired")


class CouponNotFound(ShopError):
    def __init__(self, coupon_id: str) -> None:
        super().__init__(f"coupon {coupon_id} does not exist")


class CouponSoldOut(ShopError):
    def __init__(self, coupon_id: str) -> None:
        super().__init__(f"coupon {coupon_id} is sold out")


class CouponAlreadyIssued(ShopError):
    def __init__(self, coupon_id: str) -> None:
        super().__init__(f"coupon {coupon_id} was already issued to this user")


class ConcurrentUpdate(ShopError):
    """The database kept refusing the change because of concurrent changes to the same items."""

    def __init__(self) -> None:
        super().__init__("too many concurrent changes to the same items; retry shortly")


class OrderNotFound(ShopError):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"order {order_id} does not exist")


class InvalidCursor(ShopError):
    def __init__(self) -> None:
        super().__init__("cursor is not one this API returned")


class Unauthenticated(ShopError):
    """No verified caller: the request did not come through the authorizer."""

    def __init__(self) -> None:
        super().__init__("this route needs a verified caller (Authorization: Bearer <token>)")


class Forbidden(ShopError):
    """The caller may not do this: another user's data, or administration without the admin group."""

    def __init__(self, message: str = "the caller may not act for this user") -> None:
        super().__init__(message)


# Signals between layers: not refusals, so they do not share ShopError.


class OutcomeUnknown(Exception):
    """The database did not answer in time, and the function's time budget ran out before it
    could tell whether the change was applied."""

    def __init__(self, message: str = "the database did not answer in time; the change may have been applied") -> None:
        super().__init__(message)
        self.message = message


class AlreadyApplied(Exception):
    """The change carries an id that is already recorded: an earlier attempt of the same request
    was applied. `item` is the recorded item, when the database returned it."""

    def __init__(self, item: dict[str, Any] | None = None) -> None:
        super().__init__("already applied")
        self.item = item
