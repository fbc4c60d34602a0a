"""The load test (`make load`): Locust drives a mix of the shop's flows and a flash-sale spike
against any URL of the API, with the run's own users, products and coupon campaigns, made through
the API; then a summary per route and the invariants the API lets a client check.

- `plan`: what a run made for itself (users and their tokens, products, campaigns) and its shape;
- `setup`: makes that through the API, as the run's admin;
- `shape`: the stages of the load (steady shoppers, a spike of flash-sale issuers, back);
- `locustfile`: the Locust users (shoppers and issuers) and the load shape;
- `summary`: requests, rate, percentiles and 5xx per route, read from Locust's CSVs;
- `invariants`: coupons never issued above quantity, balances equal to their history, no 5xx;
- `run`: the whole run (`python -m load`).
"""
