"""The officer's page in a real headless Chromium (Debian's), on a phone-sized screen, with a clue
produced by a real worker from a department event on the real broker:

roster + housing event → Faust worker → alerts topic → store sink → web page → officer visits and
concludes → village review → the steps appear on screening.conclusions → the township reviewer
approves → the worker has consumed every step.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from connectors.kafka import read_topic
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.alerts import Conclusion
from dixian.topics import Topics
from screening.sink import run_kafka_sink
from screening.store import open_store
from streams.kafka_run import input_topics, kafka_alerts, wait_caught_up
from tests.integration.test_pipeline_kafka import _event, _household, _send
from tests.screening_helpers import chromium, serve_queue, ui_conclude_and_review

pytestmark = [pytest.mark.integration, pytest.mark.slow]
H1 = "4503281012010001"
VILLAGE, TOWNSHIP = H1[:12], H1[:9]
PASSWORD = "browser-pass-1"
SCREENS = Path("var/test/screens")


@pytest.fixture
def web_server(settings: Settings, tmp_path: Path) -> Iterator[tuple[str, str]]:
    db_url = f"sqlite:///{tmp_path / 'screening.sqlite'}"
    store = open_store(db_url)
    store.accounts.add("cun-baisha", "village", VILLAGE, PASSWORD, "白沙村 李干部")
    store.accounts.add("zhen-baisha", "township", TOWNSHIP, PASSWORD, "白沙镇 审核")
    store.db.close()
    env = {
        "DIXIAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "DIXIAN_TOPIC_PREFIX": settings.topic_prefix,
        "DIXIAN_SCREENING_DB": db_url,
        "DIXIAN_CLOCK_DATE": "2022-06-04",
    }
    proc, base = serve_queue([], env, tmp_path / "web.log")
    yield base, db_url
    proc.terminate()
    proc.wait(timeout=20)


def test_officer_works_a_pipeline_clue_in_chromium(
    settings: Settings, workers, web_server, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415

    topics = Topics(settings)
    base, db_url = web_server
    workers("a")
    asyncio.run(_send(settings, topics.households, [(H1, _household(H1))]))
    asyncio.run(
        _send(
            settings,
            topics.dept(Dept.HOUSING),
            [(H1, _event(H1, 1, "housing.dwelling_rated", Dept.HOUSING, "2022-06-03", grade="D"))],
        )
    )
    wait_caught_up(settings, input_topics(settings))
    produced = kafka_alerts(settings).latest
    assert len(produced) == 1
    (clue_id,) = produced
    store = open_store(db_url)
    stats = asyncio.run(run_kafka_sink(settings, store, until_caught_up=True))
    assert stats.inserted == 1

    SCREENS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")  # a phone
        page.goto(base + "/")
        expect(page).to_have_url(f"{base}/login?next=/")
        page.fill("#username", "cun-baisha")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("ul.queue li")).to_have_count(1)
        expect(page.locator("ul.queue")).to_contain_text("走访剩 4 天")
        page.screenshot(path=str(SCREENS / "queue-phone.png"), full_page=True)
        page.click(f"a[href='/clues/{clue_id}']")
        expect(page.locator("#state")).to_have_text("待走访")
        expect(page.locator("main")).to_contain_text("住房")
        # an exclusion without a reason is refused, in Chinese, and changes nothing
        page.fill("#note-visit", "入户核实：房屋经鉴定为D级，户主已签署财产检索授权书")
        page.click("#form-visit button")
        expect(page.locator(".flash")).to_contain_text("登记入户走访")
        expect(page.locator("#state")).to_have_text("已走访，待结论")
        page.select_option("#proposal", "already_monitored")
        page.click("#form-conclude button")
        expect(page.locator(".error")).to_contain_text("必须填写说明")
        expect(page.locator("#state")).to_have_text("已走访，待结论")
        ui_conclude_and_review(
            page, "already_monitored", "已纳入危房改造计划，记录新增住房安全风险", "待乡镇审核"
        )
        page.screenshot(path=str(SCREENS / "clue-phone.png"), full_page=True)
        page.click("header button")  # log out

        # the officer's steps are on the conclusions topic
        wanted = {f"{clue_id}#{i}" for i in (1, 2, 3)}
        deadline = time.monotonic() + 30
        while True:
            got = {c.conclusion_id for c in conclusions_on_topic(settings)}
            if wanted <= got:
                break
            assert time.monotonic() < deadline, f"conclusions on the topic: {sorted(got)}"
            time.sleep(0.3)

        page.fill("#username", "zhen-baisha")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        expect(page.locator("ul.queue li")).to_have_count(1)
        page.click(f"a[href='/clues/{clue_id}']")
        page.select_option("#decision-township_review", "approve")
        page.fill("#note-township_review", "同意")
        page.click("#form-township_review button")
        expect(page.locator("#state")).to_have_text("待县级审定")
        browser.close()

    final = store.clues.get(store_actor_for_checks(), clue_id)
    assert [s["step"] for s in store.clues.steps(clue_id)] == [
        "visit",
        "conclude",
        "village_review",
        "township_review",
    ]
    assert final["proposal"] == "already_monitored"
    # every step went out, and the stream processor consumed them all
    deadline = time.monotonic() + 30
    while store.clues.pending_conclusions():
        assert time.monotonic() < deadline, "steps left unpublished"
        time.sleep(0.3)
    wait_caught_up(settings, [topics.conclusions])
    assert sorted(c.conclusion_id for c in conclusions_on_topic(settings)) == [
        f"{clue_id}#{i}" for i in (1, 2, 3, 4)
    ]


def conclusions_on_topic(settings: Settings) -> list[Conclusion]:
    """Read in a thread of its own: Playwright's sync API runs an event loop in this one."""

    def read() -> list[Conclusion]:
        records = asyncio.run(read_topic(settings.kafka_bootstrap, Topics(settings).conclusions))
        return [Conclusion.model_validate_json(v or b"") for _, v in records]

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(read).result()


def store_actor_for_checks():  # type: ignore[no-untyped-def]
    from dixian.contract.vocabulary import Role  # noqa: PLC0415
    from screening.auth import Actor  # noqa: PLC0415

    return Actor("test", "test", Role.OPERATOR, "4503")


def test_one_household_with_three_risks_is_one_visit_one_conclusion_one_notice_line(tmp_path: Path) -> None:
    """A household whose medical bill, job loss and dwelling each raised an alert (three rules, three
    departments): the officer sees one clue with three risk items, visits once, concludes once, and
    the village's public notice shows one line for it."""
    from playwright.sync_api import expect, sync_playwright  # noqa: PLC0415

    from tests.screening_helpers import VILLAGE_A, alert, household, phone_login  # noqa: PLC0415

    db_url = f"sqlite:///{tmp_path / 'screening.sqlite'}"
    store = open_store(db_url)
    store.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD, "白沙村 李干部")
    head = household(1).members[0].model_copy(update={"name": "李建国"})
    store.ledger.upsert([household(1).model_copy(update={"members": (head,)})])
    medical = alert(1)
    job = alert(1, rule="HR-JOB-LOSS", risk_label="因失业", severity="medium").model_copy(
        update={"department": "hrss", "title": "家庭劳动力失业"}
    )
    dwelling = alert(1, rule="HOUSING-UNSAFE", risk_label="住房安全", severity="high").model_copy(
        update={"department": "housing", "title": "住房鉴定为危房"}
    )
    assert store.clues.upsert_alerts([medical, job, dwelling]).inserted == 1
    store.db.close()
    proc, base = serve_queue(
        [], {"DIXIAN_SCREENING_DB": db_url, "DIXIAN_CLOCK_DATE": "2022-07-01"}, tmp_path / "web.log"
    )
    SCREENS.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as p:
            browser, page = phone_login(p, base, "cun-a", PASSWORD)
            expect(page.locator("ul.queue li")).to_have_count(1)
            expect(page.locator("ul.queue")).to_contain_text("3 项风险")
            page.click("ul.queue li a")
            expect(page.locator("#items tr")).to_have_count(4)  # a header and three items
            page.fill("#note-visit", "入户核实：户主住院、儿子失业、房屋开裂，已签署财产检索授权书")
            page.click("#form-visit button")
            expect(page.locator("#state")).to_have_text("已走访，待结论")
            page.select_option("#category", "突发严重困难户")
            ui_conclude_and_review(page, "include", "三项风险叠加，拟纳入", "公示中")
            page.screenshot(path=str(SCREENS / "household-clue-phone.png"), full_page=True)
            page.goto(f"{base}/villages/{VILLAGE_A}/notice")
            rows = page.locator("table tr")
            expect(rows).to_have_count(2)  # a header and one household
            expect(rows.nth(1)).to_contain_text("李建国")  # the householder, as a real notice names him
            expect(rows.nth(1)).not_to_contain_text(household(1).household_id)
            expect(rows.nth(1)).to_contain_text("家庭生活困难")  # the one neutral wording for 因病
            expect(rows.nth(1)).not_to_contain_text("因病")
            expect(rows.nth(1)).not_to_contain_text("健康")
            expect(rows.nth(1)).to_contain_text("因失业")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
