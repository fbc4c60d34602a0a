"""What a function printed to stdout, read back: Powertools' metrics (CloudWatch's embedded metric
format) and its JSON log lines."""

from __future__ import annotations

import json
from typing import Any


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """Every line of `stdout` that is a JSON object."""
    found = []
    for line in stdout.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            found.append(value)
    return found


def metrics(stdout: str) -> list[dict[str, Any]]:
    """Each metric of each EMF document printed: namespace, dimensions, name, unit and values."""
    found = []
    for document in json_lines(stdout):
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            dimensions = {name: document[name] for group in directive["Dimensions"] for name in group}
            for metric in directive["Metrics"]:
                found.append(
                    {
                        "namespace": directive["Namespace"],
                        "dimensions": dimensions,
                        "name": metric["Name"],
                        "unit": metric["Unit"],
                        "values": _as_list(document[metric["Name"]]),
                    }
                )
    return found


def metric_values(stdout: str, name: str) -> list[Any]:
    """The values of metric `name` in every EMF document printed, in order."""
    return [value for metric in metrics(stdout) if metric["name"] == name for value in metric["values"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
