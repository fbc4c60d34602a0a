"""Creating the template's tables on an endpoint (DynamoDB Local or moto)."""

from __future__ import annotations

from typing import Any

from local_runtime import template


def create_tables(client: Any, *, recreate: bool = False) -> list[str]:
    """Create every table `template.yaml` declares, exactly as declared; return their names.

    Tables that exist are kept as they are (or dropped first, with `recreate`)."""
    existing = set(client.list_tables()["TableNames"])
    ttl = template.ttl_attributes()
    names = []
    for name, definition in template.table_definitions().items():
        names.append(name)
        if name in existing:
            if not recreate:
                continue
            client.delete_table(TableName=name)
            client.get_waiter("table_not_exists").wait(TableName=name)
        client.create_table(**definition)
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        if name in ttl:
            client.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl[name]}
            )
    return names


def truncate_tables(client: Any) -> None:
    """Delete every item of every template table (faster than recreating them)."""
    for name, definition in template.table_definitions().items():
        keys = [k["AttributeName"] for k in definition["KeySchema"]]
        paginator = client.get_paginator("scan")
        for page in paginator.paginate(
            TableName=name,
            ProjectionExpression=", ".join(f"#k{i}" for i in range(len(keys))),
            ExpressionAttributeNames={f"#k{i}": k for i, k in enumerate(keys)},
        ):
            items = page.get("Items", [])
            for start in range(0, len(items), 25):
                client.batch_write_item(
                    RequestItems={name: [{"DeleteRequest": {"Key": item}} for item in items[start : start + 25]]}
                )
