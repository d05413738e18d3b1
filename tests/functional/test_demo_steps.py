"""The demo takes each step of the plan once, so a newcomer sees every one in the queue and the
report: counted here from the demo's store."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from dixian.config import Settings
from dixian.demo import run_demo
from screening.store import open_store


def test_the_demo_walks_every_step_of_the_plan(tmp_path: Path) -> None:
    result = run_demo(
        Settings(data_dir=tmp_path),
        households=1500,
        month="2022-06",
        seed=3,
        malformed=0.02,
        console=Console(quiet=True),
    )
    walked = [what for what, _ in result.queue.walked]
    assert len(walked) == 8, walked
    store = open_store(result.queue.store_url)
    try:

        def n(sql: str) -> int:
            row = store.db.one(sql)
            return int(row["n"]) if row else 0

        assert (
            n("SELECT COUNT(*) AS n FROM clues WHERE outcome = 'included' AND asset_result = 'passed'") == 1
        )
        assert (
            n("SELECT COUNT(*) AS n FROM clues WHERE outcome = 'not_included' AND asset_result = 'failed'")
            == 1
        )
        assert n("SELECT COUNT(*) AS n FROM clues WHERE notified_on IS NOT NULL") == 1
        assert (
            n("SELECT COUNT(*) AS n FROM clues WHERE visit_mode = 'phone' AND in_person_on IS NOT NULL") == 1
        )
        assert n("SELECT COUNT(*) AS n FROM corrections WHERE status = 'corrected'") == 1
        assert n("SELECT COUNT(*) AS n FROM task_reports") == 2
        assert n("SELECT COUNT(*) AS n FROM rectifications") == 1
        assert n("SELECT COUNT(*) AS n FROM areas WHERE kind = 'site'") >= 10
        assert n("SELECT COUNT(*) AS n FROM accounts WHERE username = 'demo-site'") == 1
        assert (
            n("SELECT COUNT(*) AS n FROM feed_runs WHERE dept = 'agriculture' AND status = 'complete'") == 1
        )
        assert n("SELECT COUNT(*) AS n FROM risk_items WHERE rule_id LIKE 'AG-%'") > 0
    finally:
        store.db.close()
    html = result.queue.report_html.read_text("utf-8")
    for sheet in ("重点任务调度", "督查整改", "农户收入", "重点帮扶县", "指标口径"):
        assert sheet in html
