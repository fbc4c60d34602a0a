"""What a run did, per route and in all, read from Locust's CSVs (`<prefix>_stats.csv`,
`<prefix>_failures.csv`, `<prefix>_exceptions.csv`, `<prefix>_stats_history.csv`): requests,
rate, p50/p95/p99 in milliseconds, failures, and the 5xx among them (a 5xx is always a failure:
see `load.routes`); and the busiest second of the run (its rate, and how many users ran then)."""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from load.routes import status_of_failure

AGGREGATED = "Aggregated"


@dataclass(frozen=True)
class RouteStats:
    """One route's numbers (or the run's, as `Aggregated`); percentiles None without a request."""

    route: str
    requests: int
    failures: int
    rate: float
    p50: float | None
    p95: float | None
    p99: float | None
    server_errors: int = 0


@dataclass(frozen=True)
class FailureKind:
    route: str
    error: str
    occurrences: int
    status: int | None


@dataclass(frozen=True)
class Peak:
    """The highest rate between two of Locust's one-second samples, and the users running then."""

    rate: float
    users: int


@dataclass(frozen=True)
class Summary:
    total: RouteStats
    routes: dict[str, RouteStats]
    failures: list[FailureKind] = field(default_factory=list)
    exceptions: int = 0
    peak: Peak | None = None

    @property
    def server_errors(self) -> int:
        return self.total.server_errors

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.total.requests,
            "failures": self.total.failures,
            "rate": self.total.rate,
            "p50": self.total.p50,
            "p95": self.total.p95,
            "p99": self.total.p99,
            "serverErrors": self.server_errors,
            "exceptions": self.exceptions,
            "peakRate": self.peak.rate if self.peak else None,
            "peakUsers": self.peak.users if self.peak else None,
            "routes": {route: asdict(stats) for route, stats in self.routes.items()},
            "failureKinds": [asdict(kind) for kind in self.failures],
        }

    def render(self) -> str:
        """The summary as a table for a terminal."""
        width = max([len(route) for route in self.routes] + [len(AGGREGATED)])
        header = f"{'route':<{width}}  {'requests':>8}  {'req/s':>7}  " + "  ".join(
            f"{column:>7}" for column in ("p50 ms", "p95 ms", "p99 ms", "fail", "5xx")
        )
        lines = [header, "-" * len(header)]
        for stats in [*(self.routes[route] for route in sorted(self.routes)), self.total]:
            lines.append(
                f"{stats.route:<{width}}  {stats.requests:>8}  {stats.rate:>7.1f}  {_ms(stats.p50):>7}  "
                f"{_ms(stats.p95):>7}  {_ms(stats.p99):>7}  {stats.failures:>7}  {stats.server_errors:>7}"
            )
        for kind in self.failures:
            lines.append(f"failure: {kind.route}: {kind.error} x{kind.occurrences}")
        if self.peak:
            lines.append(f"busiest second: {self.peak.rate:g} requests/s with {self.peak.users} users")
        if self.exceptions:
            lines.append(f"exceptions in the load's own code: {self.exceptions} (see the report)")
        return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _number(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None  # Locust writes N/A for a route without a request


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def peak(history_csv: str) -> Peak | None:
    """The busiest second in Locust's history (a row a second, with the total count so far); its
    own `Requests/s` column is a moving average over ten seconds, which flattens a spike."""
    samples = [
        (int(row["Timestamp"]), int(row["Total Request Count"]), int(row["User Count"]))
        for row in _rows(history_csv)
        if row["Name"] == AGGREGATED and not row["Type"]
    ]
    rates = [
        Peak(round((count - previous_count) / (at - previous_at), 1), users)
        for (previous_at, previous_count, _), (at, count, users) in itertools.pairwise(samples)
        if at > previous_at
    ]
    return max(rates, key=lambda sample: sample.rate, default=None)


def read(stats_csv: str, failures_csv: str, exceptions_csv: str = "", history_csv: str = "") -> Summary:
    """The summary of a run from the texts of Locust's stats, failures, exceptions and history CSVs."""
    failures = [
        FailureKind(
            route=f"{row['Method']} {row['Name']}",
            error=row["Error"],
            occurrences=int(row["Occurrences"]),
            status=status_of_failure(row["Error"]),
        )
        for row in _rows(failures_csv)
    ]
    server_errors: dict[str, int] = {}
    for kind in failures:
        if kind.status is not None and kind.status >= 500:
            server_errors[kind.route] = server_errors.get(kind.route, 0) + kind.occurrences

    routes: dict[str, RouteStats] = {}
    total: RouteStats | None = None
    for row in _rows(stats_csv):
        aggregated = row["Name"] == AGGREGATED and not row["Type"]
        route = AGGREGATED if aggregated else f"{row['Type']} {row['Name']}"
        stats = RouteStats(
            route=route,
            requests=int(row["Request Count"]),
            failures=int(row["Failure Count"]),
            rate=float(row["Requests/s"]),
            p50=_number(row["50%"]),
            p95=_number(row["95%"]),
            p99=_number(row["99%"]),
            server_errors=sum(server_errors.values()) if aggregated else server_errors.get(route, 0),
        )
        if aggregated:
            total = stats
        else:
            routes[route] = stats
    if total is None:
        raise ValueError("Locust's stats CSV has no Aggregated row: did the run start?")
    exceptions = sum(int(row["Count"]) for row in _rows(exceptions_csv))
    return Summary(total=total, routes=routes, failures=failures, exceptions=exceptions, peak=peak(history_csv))


def summarize(prefix: Path) -> Summary:
    """The summary of the run whose CSVs Locust wrote with `--csv <prefix>`."""

    def text(suffix: str) -> str:
        path = prefix.with_name(f"{prefix.name}_{suffix}.csv")
        return path.read_text() if path.exists() else ""

    return read(text("stats"), text("failures"), text("exceptions"), text("stats_history"))
