"""The Dagster UI over a real run: the sft_dataset page in headless chromium shows the row
count and the funnel. Saves the screenshot the README shows (docs/ui_sft_dataset.png)."""

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
CHROMIUM = "/usr/bin/chromium"
SCREENSHOT = REPO / "docs" / "ui_sft_dataset.png"


@pytest.mark.e2e
@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} not found: apt-get install chromium")
@pytest.mark.timeout(1500)
def test_sft_dataset_page_shows_row_count_and_funnel(scripted_pipeline) -> None:  # type: ignore[no-untyped-def]
    import datasets
    from playwright.sync_api import sync_playwright

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
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/assets/sft_dataset", wait_until="networkidle")
            skip = page.get_by_role("button", name="Skip")  # the first-visit newsletter dialog
            if skip.count():
                skip.first.click()
            page.get_by_text("Row count").first.wait_for(timeout=60_000)
            page.get_by_text("funnel_chart").first.wait_for(timeout=60_000)
            body = page.inner_text("body")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=False)
            browser.close()
    finally:
        web.terminate()
        web.wait(20)
        log.close()
    assert re.search(rf"Row count\s+{rows}\b", body), body[:1500]
    # The funnel table, from crawled pages down to this asset's own split stage.
    for stage in ("pages", "qa_pool", "validity", "sft_split"):
        assert re.search(rf"^\s*{stage}\b", body, re.M), stage
    assert SCREENSHOT.stat().st_size > 10_000
