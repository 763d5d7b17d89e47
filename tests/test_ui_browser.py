"""The Dagster UI over a real run: the sft_dataset page in headless chromium shows the row
count and the funnel. The screenshot goes to the test's temp dir; with SEEKFORGE_REFRESH_DOCS=1
it replaces the one the README shows (docs/ui_sft_dataset.png), so a plain test run never
modifies a tracked file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from distill.llm.local_server import free_port

REPO = Path(__file__).resolve().parents[1]
DOCS_SCREENSHOT = REPO / "docs" / "ui_sft_dataset.png"


def refresh_docs() -> bool:
    return os.environ.get("SEEKFORGE_REFRESH_DOCS", "").strip().lower() not in ("", "0", "false", "no", "off")


@pytest.mark.e2e
@pytest.mark.browser
@pytest.mark.timeout(1500)
def test_sft_dataset_page_shows_row_count_and_funnel(chromium, scripted_pipeline, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import datasets
    from playwright.sync_api import sync_playwright

    screenshot = DOCS_SCREENSHOT if refresh_docs() else tmp_path / DOCS_SCREENSHOT.name
    rows = len(datasets.load_from_disk(str(scripted_pipeline.data / "datasets" / "sft" / "tokenized")))
    port = free_port()
    log = open(scripted_pipeline.home / "webserver.log", "wb")
    web = subprocess.Popen([str(Path(sys.executable).parent / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
                            "-m", "pipelines.definitions"], cwd=REPO, env=scripted_pipeline.env, stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert web.poll() is None, (scripted_pipeline.home / "webserver.log").read_text()[-2000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/assets/sft_dataset", wait_until="networkidle")
            skip = page.get_by_role("button", name="Skip")  # the first-visit newsletter dialog
            if skip.count():
                skip.first.click()
            page.get_by_text("Row count").first.wait_for(timeout=60_000)
            page.get_by_text("funnel_chart").first.wait_for(timeout=60_000)
            body = page.inner_text("body")
            page.screenshot(path=str(screenshot), full_page=False)
            browser.close()
    finally:
        web.terminate()
        web.wait(20)
        log.close()
    assert re.search(rf"Row count\s+{rows}\b", body), body[:1500]
    # The funnel table, from crawled pages down to this asset's own split stage.
    for stage in ("pages", "qa_pool", "validity", "sft_split"):
        assert re.search(rf"^\s*{stage}\b", body, re.M), stage
    assert screenshot.stat().st_size > 10_000
