"""`make load`'s run, short (20 s, a few users), on the session's local runtime: the invariants
hold, every route of the mix answered without a 5xx, the flash-sale campaign sold out and not
beyond; and Locust's HTML report, opened in headless Chromium, draws its charts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from load import routes
from load.run import main
from tests.e2e.test_docs_page import rendered_dom

DURATION_SECONDS = 20
SHOPPERS = 3
ISSUERS = 9

# After the page's scripts ran: how many pixels each chart's canvas painted.
COUNT_PAINTED_PIXELS = """
<script>
window.addEventListener("load", () => setTimeout(() => {
  const painted = [...document.querySelectorAll("canvas")].map((canvas) => {
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let alpha = 3; alpha < pixels.length; alpha += 4) if (pixels[alpha]) count += 1;
    return count;
  });
  document.body.setAttribute("data-painted-pixels", painted.join(","));
}, 5000));
</script>
"""


@pytest.fixture(scope="module")
def load_run(api_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, dict[str, Any]]:
    """One run: its exit status, its output directory and its summary.json."""
    out = tmp_path_factory.mktemp("load")
    status = main(
        [
            "--url",
            api_url,
            "--users",
            str(SHOPPERS),
            "--issuers",
            str(ISSUERS),
            "--duration",
            str(DURATION_SECONDS),
            "--out",
            str(out),
        ]
    )
    return status, out, json.loads((out / "summary.json").read_text())


def test_a_short_run_keeps_the_invariants_and_calls_every_route_without_a_5xx(
    load_run: tuple[int, Path, dict[str, Any]],
) -> None:
    status, out, result = load_run
    print(f"the load run took {result['elapsedSeconds']} s")
    summary = result["summary"]

    assert [(check["name"], check["holds"]) for check in result["invariants"]] == [
        ("coupons issued never above the campaign's quantity", True),
        ("every balance equals its history's sum", True),
        ("no 5xx", True),
    ], result["invariants"]
    assert status == 0
    assert set(summary["routes"]) == routes.MIX
    assert all(stats["requests"] > 0 and stats["p99"] is not None for stats in summary["routes"].values()), summary
    assert summary["serverErrors"] == 0
    assert summary["peakRate"] > 0 and summary["peakUsers"] >= SHOPPERS, summary
    assert (summary["failures"], summary["exceptions"]) == (0, 0), summary["failureKinds"]
    assert summary["requests"] == sum(stats["requests"] for stats in summary["routes"].values())
    coupons = result["invariants"][0]["detail"]
    assert f"{result['flashCampaignId']} {ISSUERS // 2}/{ISSUERS // 2}" in coupons, "the flash sale did not sell out"
    assert not (out / "plan.json").exists(), "the tokens were left on disk"
    assert {"report.html", "stats_stats.csv", "stats_failures.csv", "stats_stats_history.csv"} <= {
        path.name for path in out.iterdir()
    }


def test_the_report_draws_its_charts_in_headless_chromium(
    load_run: tuple[int, Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, out, _ = load_run
    report = out / "report.html"
    page = tmp_path / "report.html"
    html, _, end = report.read_text().rpartition("</body>")  # its scripts hold the string too
    page.write_text(html + COUNT_PAINTED_PIXELS + "</body>" + end)

    dom = rendered_dom(page.as_uri(), tmp_path / "profile")

    assert "Locust Test Report" in dom
    for route in routes.MIX:
        assert re.search(rf">{re.escape(route.split(' ', 1)[1])}<", dom), f"the report lists no {route}"
    charts = re.findall(r'_echarts_instance_="[^"]+"', dom)
    assert len(charts) == 3, "no charts of the rate, the response times and the users"
    painted = re.search(r'data-painted-pixels="([\d,]*)"', dom)
    assert painted, "the charts' pixels were never counted"
    counts = [int(count) for count in painted.group(1).split(",") if count]
    assert len(counts) == len(charts) and all(count > 2_000 for count in counts), counts
