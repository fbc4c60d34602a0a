"""`make e2e-remote API_URL=<url>` as a person runs it (PATH and a fresh HOME, no AWS
configuration), against the session's running local runtime: a selection of the remote suite runs
and passes."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import newcomer


def test_make_e2e_remote_runs_the_remote_suite_against_a_running_api(api_url: str, tmp_path: Path) -> None:
    done = newcomer.make(
        "e2e-remote",
        f"API_URL={api_url}",
        "ARGS=-q -p no:cacheprovider -k 'test_balance or test_identity'",
        home=tmp_path,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    summary = re.search(r"(\d+) passed", done.stdout.splitlines()[-1])
    assert summary and int(summary.group(1)) >= 15, output[-1500:]
    assert "failed" not in done.stdout.splitlines()[-1] and "error" not in done.stdout.splitlines()[-1]


def test_make_e2e_remote_without_a_url_or_a_stage_says_how_to_call_it(tmp_path: Path) -> None:
    done = newcomer.make("e2e-remote", home=tmp_path, timeout=60)
    assert done.returncode == 2
    assert "usage: make e2e-remote API_URL=<url> [STAGE=dev]" in done.stderr
