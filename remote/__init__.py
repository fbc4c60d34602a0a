"""Tooling that speaks to a running shop over HTTP only: its test users and their tokens, for the
remote suite (`make e2e-remote`), `make token STAGE=`, and the load test (`make load`)."""
