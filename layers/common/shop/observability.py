"""Logger and Metrics, one of each per container (service and namespace from the environment), and
`identify`, which names what an invocation is about in its log records and its trace."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics

from shop import tracing

logger = Logger()
metrics = Metrics()

EMPTY_METRICS = "No application metrics to publish"


def quiet_empty_metrics() -> None:
    """A route that records no metric (every read) is the norm, not a fault. Powertools says so
    through `warnings`, which Python writes as two plain-text lines naming a file: the only lines
    of the functions' logs that were not JSON. Those warnings are dropped."""
    warnings.filterwarnings("ignore", message=EMPTY_METRICS, category=UserWarning)


quiet_empty_metrics()


def identify(**ids: str | None) -> dict[str, str]:
    """Add the ids this invocation is about (`order_id`, `campaign_id`; a None is left out) to its
    every later log record, and annotate its trace with them (`shop.tracing`). The keys last until
    the next invocation: the entry points clear the logger's keys as each one starts."""
    given = {key: value for key, value in ids.items() if value is not None}
    logger.append_keys(**given)
    tracing.annotate(given)
    return given
