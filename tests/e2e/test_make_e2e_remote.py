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


def test_make_e2e_remote_on_a_deployed_url_without_its_stage_says_to_add_it(tmp_path: Path) -> None:
    """Without STAGE the tokens are the local issuer's, which a deployed stage refuses: every test
    would fail on a 401. It stops before any request, saying what is missing."""
    url = "https://abc123.execute-api.ap-northeast-2.amazonaws.com"
    done = newcomer.make("e2e-remote", f"API_URL={url}", home=tmp_path, timeout=120)
    assert done.returncode == 2, (done.stdout + done.stderr)[-2000:]
    assert f"API_URL={url} is not on this machine" in done.stdout + done.stderr
    assert "add STAGE=<stage>" in done.stdout + done.stderr
