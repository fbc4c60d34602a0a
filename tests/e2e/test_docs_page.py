"""The API docs page of `make run`, loaded in headless Chromium (Debian's package; `make e2e`
installs it): once its scripts ran, Swagger UI lists every route of the template under its use
case with its summary, and an operation opened by its link shows its example body and answer."""

from __future__ import annotations

import html
import json
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

    document = openapi.build()
    tags = [html.unescape(tag) for tag in re.findall(r'class="opblock-tag"[^>]*data-tag="([^"]+)"', dom)]
    assert tags == [tag["name"] for tag in document["tags"]]
    summaries = {html.unescape(text) for text in re.findall(r'opblock-summary-description">([^<]+)<', dom)}
    assert summaries == {op["summary"] for item in document["paths"].values() for op in item.values()}


def text_of(dom: str) -> str:
    """The page's text, without its markup."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom)))


def words(text: str) -> str:
    return re.sub(r"[^0-9A-Za-z]+", " ", text).strip()


def test_an_operation_opened_by_its_link_shows_its_example_body_and_answer(
    local_runtime: LocalRuntime, tmp_path: Path
) -> None:
    assert local_runtime.docs is not None, "the runtime serves no docs page"
    document = openapi.build()
    charge = document["paths"]["/users/{userId}/balance/charge"]["post"]
    link = f"{local_runtime.docs.url}#/{charge['tags'][0]}/{charge['operationId']}"
    page = text_of(rendered_dom(link, tmp_path / "profile"))

    schemas = document["components"]["schemas"]
    assert words(charge["description"]) in words(page)
    for example in (schemas["ChargeRequest"]["examples"][0], schemas["Balance"]["examples"][0]):
        for name, value in example.items():
            assert f'"{name}" : {json.dumps(value)}' in page, (name, page[:3000])
