"""A load run: `python -m load [--url URL] [--users N] [--duration SECONDS] [--issuers N]
[--stage STAGE] [--out DIR]` (`make load`).

1. Its users come from the local issuer (no stage) or the stage's Cognito user pool; its admin
   creates its products and coupon campaigns through the API (`load.setup`).
2. Locust runs headless in a process of its own (`load.locustfile`, the `load.shape` stages) and
   writes its HTML report (`report.html`: charts of the rate, the response times' percentiles and
   the users over time) and its CSVs (`stats_*.csv`) under the output directory.
3. The summary per route (`load.summary`) is printed and written to `summary.json` with the
   invariants' checks (`load.invariants`); the run's users are deleted.

The exit status is 0 when every invariant holds, 1 when one fails, 2 when the run could not be made.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

from load import invariants, setup, shape
from load.api import Api, ApiError
from load.plan import PLAN_ENV
from load.summary import summarize
from load.users import DEFAULT_URL, NoStageUsers, target

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
DEFAULT_OUT = ROOT / ".local" / "load"
ISSUERS_PER_SHOPPER = 3
LOCUST_GRACE_SECONDS = 120
"""How long past its duration the Locust process may take to stop before it is ended."""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m load", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", default=None, help=f"the API's base URL (default {DEFAULT_URL}, a make run; with --stage, its ApiUrl)"
    )
    parser.add_argument("--users", type=int, default=10, help="shoppers for the whole run (default 10)")
    parser.add_argument("--duration", type=float, default=60, help="seconds (default 60)")
    parser.add_argument(
        "--issuers", type=int, default=None, help=f"flash-sale issuers (default {ISSUERS_PER_SHOPPER} per shopper)"
    )
    parser.add_argument("--stage", default=None, help="a deployed stage: the run's users come from its user pool")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="report, CSVs and summary (default .local/load)")
    args = parser.parse_args(argv)
    if args.issuers is None:
        args.issuers = ISSUERS_PER_SHOPPER * args.users
    try:
        shape.stages(args.users, args.issuers, args.duration)
    except ValueError as error:
        parser.error(str(error))
    return args


def run_locust(url: str, plan_file: Path, out: Path, duration: float) -> None:
    """Locust, headless, with the run's plan: the HTML report, the CSVs and its own output
    (`locust.log`) under `out`."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "--locustfile",
        str(LOCUSTFILE),
        "--headless",
        "--host",
        url,
        "--html",
        str(out / "report.html"),
        "--csv",
        str(out / "stats"),
        "--only-summary",
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "WARNING",
    ]
    environment = {
        **os.environ,
        PLAN_ENV: str(plan_file),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "common"), str(ROOT)]),
    }
    log = out / "locust.log"
    with log.open("wb") as output:
        done = subprocess.run(  # noqa: S603 (this interpreter, Locust, the project's locustfile)
            command,
            env=environment,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=duration + LOCUST_GRACE_SECONDS,
            check=False,
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"Locust ended with status {done.returncode}; the end of {log}:\n{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for previous in [*out.glob("stats_*.csv"), out / "report.html", out / "summary.json", out / "locust.log"]:
        previous.unlink(missing_ok=True)  # a failed run leaves nothing of an earlier one to be read as its own
    plan_file = out / "plan.json"
    run_id = setup.new_run_id()
    started = time.monotonic()
    try:
        loaded = target(args.url, args.stage, run_id)
    except NoStageUsers as error:
        print(f"load: {error}", file=sys.stderr)
        return 2
    api, users = Api(loaded.url), loaded.users
    try:
        print(f"==> {run_id}: {args.users} shoppers, {args.issuers} issuers, {args.duration:g} s on {api.base_url}")
        admin = users.create(f"{run_id}-admin", admin=True)
        plan = setup.set_up(
            api, users, admin, run_id, shoppers=args.users, issuers=args.issuers, duration=args.duration
        )
        plan.write(plan_file)
        run_locust(api.base_url, plan_file, out, args.duration)
        summary = summarize(out / "stats")
        checks = invariants.check(api, admin, plan, summary)
    except requests.ConnectionError:
        print(
            f"load: nothing answers at {api.base_url}: start `make run`, or give the API's URL (URL=)", file=sys.stderr
        )
        return 2
    except (ApiError, OSError, RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"load: the run failed: {error}", file=sys.stderr)
        return 2
    finally:
        plan_file.unlink(missing_ok=True)
        users.delete_all()

    result: dict[str, Any] = {
        "runId": run_id,
        "target": api.base_url,
        "stage": args.stage,
        "shoppers": args.users,
        "issuers": args.issuers,
        "durationSeconds": args.duration,
        "elapsedSeconds": round(time.monotonic() - started, 1),
        "flashCampaignId": plan.flash_campaign_id,
        "summary": summary.to_json(),
        "invariants": [{"name": c.name, "holds": c.holds, "detail": c.detail} for c in checks],
    }
    (out / "summary.json").write_text(json.dumps(result, indent=2) + "\n")
    print(summary.render())
    for item in checks:
        print(f"{'ok  ' if item.holds else 'FAIL'} {item.name}: {item.detail}")
    print(f"==> report: {out / 'report.html'}; summary: {out / 'summary.json'}")
    return 0 if all(item.holds for item in checks) else 1
