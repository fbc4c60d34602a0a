"""The API docs page of `make run`, loaded in headless Chromium (Debian's package; `make e2e`
installs it): once its scripts ran, Swagger UI lists every route of the template."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from local_runtime import openapi
from local_runtime.run import LocalRuntime
from tests.support.sam_local import on_ci


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "Chromium is not installed (make e2e installs it with apt-get)"
        if on_ci():
            pytest.fail(f"CI=true, so this is a failure: {message}", pytrace=False)
        pytest.skip(message)
    return found


def rendered_dom(url: str, profile: Path) -> str:
    """The page's DOM after its scripts ran (Chromium's --dump-dom, with time for the document to load)."""
    result = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_swagger_ui_lists_every_route(local_runtime: LocalRuntime, tmp_path: Path) -> None:
    assert local_runtime.docs is not None, "the runtime serves no docs page"
    dom = rendered_dom(local_runtime.docs.url, tmp_path / "profile")

    assert 'class="swagger-ui' in dom, dom[:2000]
    shown = {
        (html.unescape(path), method.lower())
        for method, path in re.findall(
            r'opblock-summary-method">(\w+)</span>.*?data-path="([^"]+)"', dom, flags=re.DOTALL
        )
    }
    assert shown == openapi.template_routes()
    assert "Shop API" in dom
