"""The demo month's report in a real headless Chromium: every chart loads and is drawn."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from dixian.config import Settings
from dixian.demo import run_demo
from tests.screening_helpers import chromium


def test_demo_report_opens_in_chromium_with_every_chart(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    result = run_demo(
        Settings(data_dir=tmp_path),
        households=800,
        month="2022-06",
        seed=3,
        malformed=0.02,
        console=Console(quiet=True),
    )
    html = result.queue.report_html
    assert html.exists()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.goto(html.as_uri())
        assert page.title() == "桂林市防返贫动态监测月报（2022-06）"
        # the charts are inline SVG whose text the browser draws: each is laid out, and its Chinese
        # labels are text the page renders (not pictures of text)
        sizes = page.eval_on_selector_all(
            "figure svg",
            "svgs => svgs.map(s => [s.getBoundingClientRect().width,"
            " Array.from(s.querySelectorAll('text')).map(t => t.textContent).join(' ')])",
        )
        assert len(sizes) == 5
        assert all(width > 300 for width, _ in sizes)
        assert all(re.search(r"[\u4e00-\u9fff]", labels) for _, labels in sizes)
        assert "部门数据报送" in page.inner_text("main")
        Path("var/test/screens").mkdir(parents=True, exist_ok=True)
        page.screenshot(path="var/test/screens/demo-report.png", full_page=True)
        browser.close()
