"""Sample data: a small catalogue, two coupon campaigns and two users with money."""

from __future__ import annotations

from shop.identity import Caller
from shop.models.coupon import Coupon, FixedDiscount, PercentDiscount
from shop.models.product import Product
from shop.repositories.balances import BalanceRepository
from shop.repositories.coupons import CouponRepository
from shop.repositories.products import ProductRepository
from shop.services.balance import BalanceService

PRODUCTS = [
    Product(product_id="p-keyboard", name="Mechanical keyboard", price=89_000, stock=100),
    Product(product_id="p-mouse", name="Wireless mouse", price=35_000, stock=200),
    Product(product_id="p-monitor", name="27-inch monitor", price=329_000, stock=30),
    Product(product_id="p-headset", name="Noise-cancelling headset", price=159_000, stock=50),
    Product(product_id="p-webcam", name="4K webcam", price=99_000, stock=40),
    Product(product_id="p-stand", name="Laptop stand", price=29_000, stock=150),
    Product(product_id="p-hub", name="USB-C hub", price=39_000, stock=80),
]

COUPONS = [
    Coupon(
        coupon_id="c-welcome",
        name="Welcome 5,000 won off",
        discount=FixedDiscount(type="FIXED", amount=5_000),
        total_quantity=1_000,
        remaining_quantity=1_000,
        valid_days=30,
    ),
    Coupon(
        coupon_id="c-flash",
        name="Flash sale 10% off",
        discount=PercentDiscount(type="PERCENT", rate=10),
        total_quantity=50,
        remaining_quantity=50,
        valid_days=7,
    ),
]

BALANCES = {"user-1": 1_000_000, "user-2": 500_000}


def seed_at(endpoint: str, region: str = "us-east-1") -> None:
    """Put the sample data on the DynamoDB at `endpoint`, through the layer's repositories, in a
    process of its own (as a function runs): the template's table names, local credentials."""
    import os
    import subprocess
    import sys

    from local_runtime.aws_env import DUMMY_CREDENTIALS
    from local_runtime.template import ROOT

    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)]),
        "DYNAMODB_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["key"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["secret"],
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    done = subprocess.run(
        [sys.executable, "-m", "local_runtime.seed"], env=environment, cwd=ROOT, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"seeding {endpoint} failed:\n{done.stderr.strip()}")


def seed() -> None:
    """Put the sample data (once: products and coupons that exist are left as they are)."""
    products, coupons, balances = ProductRepository(), CouponRepository(), BalanceRepository()
    for product in PRODUCTS:
        if products.get(product.product_id) is None:
            products.create(product)
    for coupon in COUPONS:
        if coupons.get(coupon.coupon_id) is None:
            coupons.create(coupon)
    for user_id, amount in BALANCES.items():
        if balances.get(user_id) == 0:
            BalanceService(balances).charge(Caller(user_id), user_id, amount)


if __name__ == "__main__":
    seed()
