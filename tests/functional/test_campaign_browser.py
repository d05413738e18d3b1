"""A campaign visit in a real headless Chromium (phone-sized): the officer fills the monitoring-object
form, proposes risk elimination, and the item enters the review path; the steps reach the local
conclusions topic of the embedded deployment."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

from connectors.sinks import read_local
from dixian.config import Settings
from dixian.contract.alerts import Conclusion
from dixian.contract.vocabulary import Role
from dixian.topics import Topics
from screening.auth import Actor
from screening.campaigns import create_campaign, item_id
from screening.store import open_store
from tests.screening_helpers import VILLAGE_A, chromium, household, serve_queue, ui_conclude_and_review

PASSWORD = "campaign-pass-1"


def test_officer_completes_a_campaign_visit_for_a_monitoring_object(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415

    db_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    # the store's clock is the server's (the campaign's step must not be dated after the visit, or the
    # outbox, which publishes oldest first, would put the visit first when it publishes both at once)
    store = open_store(db_url, Settings(clock_date=date(2022, 9, 5)).now)
    store.ledger.upsert(
        [
            household(7, kind="脱贫户", monitoring_category="脱贫不稳定户", monitoring_status="监测中"),
            household(8),
        ]
    )
    store.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD, "白沙村 干部")
    c = create_campaign(
        store,
        Actor("city", "", Role.OPERATOR, "4503"),
        "2022年集中排查",
        ["4503"],
        date(2022, 9, 1),
        date(2022, 9, 30),
        ["monitored"],
    )
    assert c.items == 1  # household 8 is an ordinary household, not in this campaign
    item = item_id(c.campaign_id, household(7).household_id)
    store.db.close()
    local = tmp_path / "local"
    env = {"DIXIAN_SCREENING_DB": db_url, "DIXIAN_CLOCK_DATE": "2022-09-05"}
    proc, base = serve_queue(["--local", str(local)], env, tmp_path / "web.log")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), headless=True, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
            page.goto(base + "/login")
            page.fill("#username", "cun-a")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            expect(page.locator("ul.queue")).to_contain_text("集中排查")
            page.click(f"a[href='/clues/{item}']")
            expect(page.locator("#source")).to_have_text("集中排查")
            expect(page.locator("#form-visit")).to_contain_text("监测对象：核实登记信息")
            page.click("#form-visit button")  # nothing filled in: refused, named question
            expect(page.locator(".error")).to_contain_text("走访表未填写：系统登记信息准确")
            page.check("#q-record_correct input[value=yes]")
            page.check("#q-assistance_received input[value=产业帮扶]")
            page.check("#q-assistance_received input[value=公益岗位]")
            page.fill("#q-income_pc_estimate input", "13200")
            page.check("#q-income_stable_6_months input[value=yes]")
            page.select_option("#q-elimination_assessment select", "可以标注风险消除")
            page.fill("#note-visit", "户主在扶贫车间务工，收入稳定")
            page.click("#form-visit button")
            expect(page.locator("#state")).to_have_text("已走访，待结论")
            expect(page.locator("main")).to_contain_text("产业帮扶、公益岗位")
            ui_conclude_and_review(page, "eliminate", "收入连续6个月以上稳定超过监测线", "公示中")
            page.screenshot(path=str(tmp_path / "campaign-visit.png"), full_page=True)
            Path("var/test/screens").mkdir(parents=True, exist_ok=True)
            page.screenshot(path="var/test/screens/campaign-visit-phone.png", full_page=True)
            browser.close()
        out = local / f"{Topics(Settings()).conclusions}.jsonl"
        deadline = time.monotonic() + 20
        while True:
            steps = [Conclusion.model_validate_json(v) for _, v in read_local(out)] if out.exists() else []
            if len(steps) >= 4:
                break
            assert time.monotonic() < deadline, steps
            time.sleep(0.2)
        assert [(s.step, s.proposal) for s in steps] == [
            ("open", None),  # the campaign's item, recorded as a step (the store is rebuilt from them)
            ("visit", None),
            ("conclude", "eliminate"),
            ("village_review", None),
        ]
    finally:
        proc.terminate()
        proc.wait(timeout=20)
