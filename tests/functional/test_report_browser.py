"""The demo month's report in a real headless Chromium: every chart loads and is drawn."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from rich.console import Console

from dixian.config import Settings
from dixian.demo import run_demo
from reports.monthly import Sources, monthly_report
from reports.render import html_page
from screening.store import open_store
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
        nodata = page.eval_on_selector_all("figure.nodata", "fs => fs.map(f => f.textContent)")
        assert len(sizes) + len(nodata) == 5
        assert nodata == ["线索审定结果：均为0，未绘制"]  # the demo's clues are not decided yet
        assert all(width > 300 for width, _ in sizes)
        assert all(re.search(r"[\u4e00-\u9fff]", labels) for _, labels in sizes)
        main = page.inner_text("main")
        # the plan's sheets: key assistance counties, income growth, the task list, supervision
        for title in (
            "部门数据报送",
            "重点帮扶县",
            "农户收入",
            "重点任务清单调度情况",
            "督查暗访发现问题整改情况",
        ):
            assert title in main, title
        assert "AG-PROJECT-FAILED" in main  # the agriculture bureau's feed raised its clues
        # no axis below 0: no tick or label of any chart is a negative number
        texts = page.eval_on_selector_all("figure svg text", "ts => ts.map(t => t.textContent.trim())")
        assert texts
        assert not [t for t in texts if re.fullmatch(r"[−-]\d[\d.,]*%?", t)]
        Path("var/test/screens").mkdir(parents=True, exist_ok=True)
        page.screenshot(path="var/test/screens/demo-report.png", full_page=True)
        browser.close()


def test_a_month_without_data_draws_no_empty_chart(tmp_path: Path) -> None:
    """A month with no deliveries and no clues: every chart would be an empty frame (once with a
    negative axis); the page names each one as 无数据 instead."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    store = open_store(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    report = monthly_report(Sources(store), "2022-06", date(2022, 8, 1))
    store.db.close()
    html = tmp_path / "empty.html"
    html.write_text(html_page(report), encoding="utf-8")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.goto(html.as_uri())
        assert page.eval_on_selector_all("figure svg", "s => s.length") == 0
        captions = page.eval_on_selector_all("figure.nodata", "fs => fs.map(f => f.textContent)")
        # the quality scores are 0 for departments that did not deliver: drawn as nothing, said so
        assert len(captions) == len(report.charts)
        assert all("未绘制" in c for c in captions)
        assert any("无数据" in c for c in captions)
        Path("var/test/screens").mkdir(parents=True, exist_ok=True)
        page.screenshot(path="var/test/screens/empty-month-report.png", full_page=True)
        browser.close()
