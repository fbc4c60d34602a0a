"""The bench's own DynamoDB Local: the template's tables on it, the layer's clients pointed at it
and metered (`bench.meter`), for as long as a `with` block runs. `python -m bench` and
`python -m bench.reconciliation` measure on it alike."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.meter import Meter


@dataclass
class BenchStore:
    endpoint: str
    probe: Any
    """A low-level client of its own, outside the meter: to set up and to read back."""
    meter: Meter

    def truncate(self) -> None:
        """Empty every table, between measurements."""
        from local_runtime.tables import truncate_tables

        truncate_tables(self.probe)


@contextmanager
def bench_store() -> Iterator[BenchStore]:
    """A DynamoDB Local on a free port with the template's tables; the layer's clients use it (and
    are metered) until the block ends, then it stops."""
    import boto3

    from local_runtime import dynamodb_local, template
    from local_runtime.tables import create_tables
    from shop.repositories import dynamodb

    server = dynamodb_local.start(progress=lambda message: print(message, file=sys.stderr))
    try:
        os.environ["DYNAMODB_ENDPOINT_URL"] = server.endpoint
        dynamodb.reset_clients()
        probe = boto3.client("dynamodb", endpoint_url=server.endpoint)
        create_tables(probe)
        keys = {
            name: [key["AttributeName"] for key in definition["KeySchema"]]
            for name, definition in template.table_definitions().items()
        }
        meter = Meter(probe, keys)
        meter.instrument(dynamodb.client())
        meter.instrument(dynamodb.resource().meta.client)
        meter.instrument(dynamodb.single_attempt_resource().meta.client)
        meter.instrument(dynamodb.reading_client())
        yield BenchStore(server.endpoint, probe, meter)
    finally:
        server.stop()
        dynamodb.reset_clients()
