"""The chat page in headless Chromium (Debian's, installed by scripts/ensure_chromium.sh): type a question, watch a
streamed answer appear, with the safety notice on screen."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from meditron.serve.config import ServeConfig
from meditron.serve.server import serve_in_thread
from tests.testing import requires_module

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [
    pytest.mark.slow,
    requires_module("playwright", "(pip install playwright; no `playwright install` needed)"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is absent (run scripts/ensure_chromium.sh as root)"),
]


def test_chat_page_streams_an_answer(tiny_model: Path):
    from playwright.sync_api import sync_playwright

    cfg = ServeConfig(model=str(tiny_model), port=0, api_key="page-key", max_new_tokens=40)
    with serve_in_thread(cfg) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(url + "/")
            assert "Not for clinical use" in page.inner_text("#notice")
            page.wait_for_function("document.getElementById('model').textContent.includes('tiny-meditron')")
            page.fill("#apikey", "page-key")
            page.fill("#prompt", "What is the first-line treatment for anaphylaxis?")
            page.click("#send")
            page.wait_for_selector(".msg.user")
            answer = page.locator(".msg.assistant").last
            page.wait_for_function(
                "() => { const m = [...document.querySelectorAll('.msg.assistant')].pop();"
                " return m && m.dataset.state && m.dataset.state !== 'streaming'; }", timeout=60_000)
            assert answer.get_attribute("data-state") == "done", answer.inner_text()
            assert int(answer.get_attribute("data-chunks")) >= 2  # arrived in several streamed pieces
            assert len(answer.inner_text()) > 0
            assert page.inner_text(".msg.user") == "What is the first-line treatment for anaphylaxis?"
            # a wrong key is shown as an error in the page, not swallowed
            page.fill("#apikey", "wrong")
            page.fill("#prompt", "Second question")
            page.click("#send")
            page.wait_for_selector(".msg.assistant.error", timeout=30_000)
            assert "Incorrect API key" in page.locator(".msg.assistant.error").inner_text()
        finally:
            browser.close()
