"""The plan's steps in a real headless Chromium, by the accounts who take them, with a screenshot of
each page: the county records a failed and then a passed asset check and includes the household;
the county's announcement; the village tells the household and records what it found against the
ledger; the county marks it corrected; the city records a supervision finding and the county
reports the task list's monthly progress and the rectification."""

from __future__ import annotations

from pathlib import Path

from screening.store import open_store
from tests.screening_helpers import (
    VILLAGE_A,
    Clock,
    alert,
    china,
    household,
    phone_login,
    serve_queue,
    to_county,
)

PASSWORD = "plan-steps-pass-1"
SCREENS = Path("var/test/screens")


def test_the_plan_steps_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415

    db_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    clock = Clock(china(2022, 7, 1))
    store = open_store(db_url, clock)
    store.ledger.upsert([household(1)])
    store.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD, "遇龙村 干部")
    store.accounts.add("xian", "county", VILLAGE_A[:6], PASSWORD, "阳朔县 审定")
    store.accounts.add("shi", "operator", "4503", PASSWORD, "市专项行动办公室")
    store.clues.upsert_alerts([alert(1)])
    cid = alert(1).alert_id
    to_county(store, clock, cid, "include", category="边缘易致贫户")  # through the notice: 6 July
    store.db.close()
    env = {"DIXIAN_SCREENING_DB": db_url, "DIXIAN_CLOCK_DATE": "2022-07-08"}
    proc, base = serve_queue(["--local", str(tmp_path / "local")], env, tmp_path / "web.log")
    SCREENS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser, page = phone_login(p, base, "xian", PASSWORD)
            page.goto(f"{base}/counties/{VILLAGE_A[:6]}/asset-check")
            expect(page.locator("main")).to_contain_text("待登记")
            page.goto(f"{base}/clues/{cid}")
            # the inclusion waits for the asset check
            page.select_option("#decision-county_decide", "approve")
            page.click("#form-county_decide button")
            expect(page.locator(".error")).to_contain_text("纳入监测前须登记财产检索结果")
            page.select_option("#asset-result-in", "failed")
            page.fill("#asset-reason", "家庭成员名下有经营性车辆")
            page.fill("#asset-found", "货车1辆")
            page.click("#form-asset-check button")
            expect(page.locator("#asset-result")).to_contain_text("未通过")
            page.screenshot(path=str(SCREENS / "asset-check-failed.png"), full_page=True)
            page.select_option("#asset-result-in", "passed")  # the vehicle was sold: checked again
            page.click("#form-asset-check button")
            expect(page.locator("#asset-result")).to_contain_text("县级登记：通过")
            page.select_option("#decision-county_decide", "approve")
            page.click("#form-county_decide button")
            expect(page.locator("#state")).to_have_text("已办结")
            page.goto(f"{base}/counties/{VILLAGE_A[:6]}/announcement?from=2022-07-01&to=2022-07-31")
            expect(page.locator("main")).to_contain_text("纳入监测对象（边缘易致贫户）")
            page.screenshot(path=str(SCREENS / "announcement.png"), full_page=True)
            browser.close()

            browser, page = phone_login(p, base, "cun-a", PASSWORD)
            page.goto(f"{base}/clues/{cid}")
            page.select_option("#method", "visit")
            page.click("#form-notify button")
            expect(page.locator("#notified")).to_contain_text("入户告知")
            page.select_option("#corr-field", "members")
            page.fill("#corr-recorded", "3人")
            page.fill("#corr-found", "4人（新生儿未登记）")
            page.fill("#corr-evidence", "出生医学证明")
            page.click("#form-correction button")
            expect(page.locator("#correction-1")).to_contain_text("待县级更正")
            page.screenshot(path=str(SCREENS / "clue-notified-correction.png"), full_page=True)
            browser.close()

            browser, page = phone_login(p, base, "shi", PASSWORD)
            page.goto(f"{base}/rectifications")
            page.select_option("#rect-county", VILLAGE_A[:6])
            page.select_option("#rect-source", "unannounced")
            page.fill("#rect-finding", "监测对象帮扶计划未在10天内制定")
            page.fill("#rect-owner", "阳朔县乡村振兴局")
            page.fill("#rect-deadline", "2022-07-20")
            page.click("#form-rectification button")
            expect(page.locator("#rectifications")).to_contain_text("监测对象帮扶计划未在10天内制定")
            browser.close()

            browser, page = phone_login(p, base, "xian", PASSWORD)
            page.goto(f"{base}/counties/{VILLAGE_A[:6]}/corrections")
            expect(page.locator("main")).to_contain_text("其中待更正 1 条")
            page.goto(f"{base}/clues/{cid}")
            page.click("#correction-1 button")
            expect(page.locator("#correction-1")).to_contain_text("已更正")
            page.goto(f"{base}/tasks")
            row = page.locator("#task-23")
            row.locator("input[name=month]").fill("2022-07")
            row.locator("select[name=status]").select_option("on_track")
            row.locator("input[name=progress]").fill("部门预警线索按期推送到村")
            row.locator("button").click()
            expect(page.locator("#task-23")).to_contain_text(
                "阳朔县：按计划推进（2022-07）部门预警线索按期推送到村"
            )
            expect(page.locator("#task-4")).to_contain_text("逾期")  # ended 30 April, never reported done
            page.screenshot(path=str(SCREENS / "tasks.png"), full_page=True)
            page.goto(f"{base}/rectifications")
            page.fill("#rectifications input[name=result]", "已逐户制定帮扶计划")
            page.click("#rectifications button")
            expect(page.locator("#rectifications")).to_contain_text(
                "已完成（2022-07-08）：已逐户制定帮扶计划"
            )
            page.screenshot(path=str(SCREENS / "rectifications.png"), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_an_online_visit_a_home_visit_and_a_sites_coverage_in_chromium(tmp_path: Path) -> None:
    """The village officer visits by phone (the epidemic allows it), the queue and the clue flag it
    until the home visit is recorded; the city reads a campaign's coverage per relocation site."""
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415

    from dixian.contract.vocabulary import Role  # noqa: PLC0415
    from screening.auth import Actor  # noqa: PLC0415
    from screening.campaigns import create_campaign  # noqa: PLC0415

    site = "450321101299"
    db_url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = open_store(db_url, Clock(china(2022, 7, 1)))
    store.areas.load({VILLAGE_A[:9]: "白沙镇", VILLAGE_A: "遇龙村", site: "白沙易地扶贫搬迁安置点"})
    store.ledger.upsert([household(1), household(2, village=site)])
    store.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD, "遇龙村 干部")
    store.accounts.add("shi", "operator", "4503", PASSWORD, "市专项行动办公室")
    store.clues.upsert_alerts([alert(1)])
    c = create_campaign(
        store, Actor("shi", "", Role.OPERATOR, "4503"), "集中排查", ["450321"], china(2022, 7, 1).date(),
        china(2022, 7, 31).date(), ["ordinary"],
    )  # fmt: skip
    store.db.close()
    cid = alert(1).alert_id
    env = {"DIXIAN_SCREENING_DB": db_url, "DIXIAN_CLOCK_DATE": "2022-07-03"}
    proc, base = serve_queue(["--local", str(tmp_path / "local")], env, tmp_path / "web.log")
    SCREENS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser, page = phone_login(p, base, "cun-a", PASSWORD)
            page.goto(f"{base}/clues/{cid}")
            page.select_option("#visit_mode", "phone")
            page.fill("#team1", "蒋建国")
            page.fill("#team2", "覃秀英")
            page.fill("#note-visit", "疫情防控期间电话核实，户主住院")
            page.click("#form-visit button")
            expect(page.locator("#online-pending")).to_contain_text("电话走访（线上），待补充入户核实")
            page.goto(base + "/")
            expect(page.locator("ul.queue")).to_contain_text("线上走访待入户")
            page.goto(f"{base}/clues/{cid}")
            page.fill("#ip-team1", "蒋建国")
            page.fill("#ip-team2", "覃秀英")
            page.fill("#ip-note", "入户核实：户主已出院，家庭支出骤增")
            page.click("#form-in-person button")
            expect(page.locator("#visit-mode")).to_contain_text("已补充入户核实")
            expect(page.locator("#online-pending")).to_have_count(0)
            page.screenshot(path=str(SCREENS / "online-then-home-visit.png"), full_page=True)
            browser.close()
            browser, page = phone_login(p, base, "shi", PASSWORD)
            page.goto(f"{base}/campaigns/{c.campaign_id}?level=site")
            expect(page.locator("main")).to_contain_text("白沙易地扶贫搬迁安置点")
            page.screenshot(path=str(SCREENS / "campaign-by-site.png"), full_page=True)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
