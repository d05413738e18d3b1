"""Corrections for the national system (账实不符): visit answers that contradict the ledger become
correction items (field, recorded value, value found, evidence, status); the village enters others
it found; each county gets its list to enter into the national monitoring system (page, XLSX, API)
and records when an item was corrected there."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from aiohttp.test_utils import TestClient

from screening.campaigns import create_campaign, item_id
from screening.corrections import add_correction, county_list, from_answers, mark_corrected, of_clue
from screening.rebuild import rebuild
from screening.refusal import Refusal
from screening.store import Store
from screening.workflow import Request
from tests.screening_helpers import (
    CITY,
    COUNTY_A,
    MONITORED_FORM,
    OFFICER_A,
    ORDINARY_FORM,
    VILLAGE_A,
    Clock,
    alert,
    china,
    household,
    open_test_store,
    stores_of,
)

PASSWORD = "corrections-pass-1"


def test_visit_answers_that_contradict_the_ledger_are_findings() -> None:
    ledger = {"persons": 4, "income_pc": 9000}
    found = from_answers({"persons_confirmed": False, "income_pc_estimate": 15000}, ledger, "新添一子")
    assert [(f.field.value, f.recorded, f.found) for f in found] == [
        ("members", "4人", "走访核实与名单不一致（人数、身份或劳动能力）"),
        ("income", "9000元", "15000元（走访估算）"),
    ]
    assert found[0].evidence == "走访记录：新添一子"
    # an estimate near the record is no contradiction; an answer that the record is wrong is one
    assert from_answers({"persons_confirmed": True, "income_pc_estimate": 9500}, ledger, "") == []
    other = from_answers({"record_correct": False, "corrections": "户主身份证号登记有误"}, ledger, "")
    assert [(f.field.value, f.found) for f in other] == [("other", "户主身份证号登记有误")]
    assert from_answers({"persons_confirmed": False}, None, "") == []  # not in the ledger: nothing to correct


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock(china(2022, 9, 1))
    for s in stores_of(request.param, tmp_path, clock):
        s.ledger.upsert(
            [
                household(1),  # per-capita income 9000 in the ledger
                household(3, kind="脱贫户", monitoring_category="脱贫不稳定户", monitoring_status="监测中"),
            ]
        )
        yield s, clock


def test_a_campaign_visit_gives_the_countys_correction_list(world: tuple[Store, Clock]) -> None:
    store, clock = world
    c = create_campaign(
        store, CITY, "排查", ["4503"], date(2022, 9, 1), date(2022, 9, 30), ["ordinary", "monitored"]
    )
    ordinary = item_id(c.campaign_id, household(1).household_id)
    monitored = item_id(c.campaign_id, household(3).household_id)
    store.clues.act(
        OFFICER_A,
        ordinary,
        Request("visit", note="家中新添一子", form=ORDINARY_FORM | {"persons_confirmed": "no"}),
    )
    store.clues.act(
        OFFICER_A,
        monitored,
        Request(
            "visit",
            form=MONITORED_FORM
            | {
                "record_correct": "no",
                "corrections": "户主身份证号 450321199001011234 登记有误",
                "income_pc_estimate": "9500",
            },
        ),
    )
    items = county_list(store, COUNTY_A, VILLAGE_A[:6])
    assert sorted((r["household_id"][-1], r["field"], r["origin"], r["status"]) for r in items) == [
        ("1", "income", "visit", "open"),  # 15000 estimated against 9000 recorded
        ("1", "members", "visit", "open"),
        ("3", "other", "visit", "open"),
    ]
    other = next(r for r in items if r["field"] == "other")
    assert "450321199001011234" not in other["found"]  # an ID number is kept masked
    # the village adds what else it found; the county records the correction
    add_correction(store, OFFICER_A, ordinary, "category", "一般农户", "脱贫户", "2016年建档立卡识别材料")
    with pytest.raises(Refusal, match="field_required"):
        add_correction(store, OFFICER_A, ordinary, "income", "9000元", "", "测算表")
    with pytest.raises(Refusal, match="wrong_role"):
        add_correction(store, COUNTY_A, ordinary, "income", "9000元", "1万", "测算表")
    with pytest.raises(Refusal, match="wrong_role"):
        mark_corrected(store, OFFICER_A, ordinary, 1, date(2022, 9, 1))
    clock.advance(days=3)
    mark_corrected(store, COUNTY_A, ordinary, 1, date(2022, 9, 3))
    with pytest.raises(Refusal, match="already_corrected"):
        mark_corrected(store, COUNTY_A, ordinary, 1, date(2022, 9, 3))
    with pytest.raises(Refusal, match="no_such_item"):
        mark_corrected(store, COUNTY_A, ordinary, 9, date(2022, 9, 3))
    assert [(r["seq"], r["status"]) for r in of_clue(store, ordinary)] == [
        (1, "corrected"),
        (2, "open"),
        (3, "open"),
    ]
    assert len(county_list(store, COUNTY_A, VILLAGE_A[:6], "open")) == 3
    # published with the case: a store rebuilt from the steps holds the same items
    pending = store.clues.pending_conclusions(limit=10_000)
    assert {c.case["clue"]["clue_id"] for c in pending if c.case and c.case.get("corrections")} == {
        ordinary,
        monitored,
    }


def test_the_correction_items_survive_a_rebuild(world: tuple[Store, Clock], tmp_path: Path) -> None:
    store, _ = world
    c = create_campaign(store, CITY, "排查", ["4503"], date(2022, 9, 1), date(2022, 9, 30), ["ordinary"])
    cid = item_id(c.campaign_id, household(1).household_id)
    store.clues.act(OFFICER_A, cid, Request("visit", form=ORDINARY_FORM | {"persons_confirmed": "no"}))
    add_correction(store, OFFICER_A, cid, "members", "4人", "5人", "出生医学证明")
    mark_corrected(store, COUNTY_A, cid, 3, date(2022, 9, 1))
    before = of_clue(store, cid)
    steps = store.clues.pending_conclusions(limit=10_000)
    fresh = open_test_store(f"sqlite:///{tmp_path / 'rebuilt.sqlite'}", Clock(china(2022, 9, 1)))
    rebuild(fresh, iter([(0, household(1))]), ((1, s) for s in steps), iter([]))
    assert of_clue(fresh, cid) == before
    fresh.db.close()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    clock = Clock(china(2022, 7, 1))
    s = open_test_store(f"sqlite:///{tmp_path / 'q.sqlite'}", clock)
    s.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD)
    s.accounts.add("xian", "county", VILLAGE_A[:6], PASSWORD)
    s.ledger.upsert([household(1)])
    s.clues.upsert_alerts([alert(1)])
    s.clues.act(OFFICER_A, alert(1).alert_id, Request("visit", note="见到户主"))
    return s


def _csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]


@pytest.mark.asyncio
async def test_the_pages_and_the_api_carry_the_list(client: TestClient, store: Store) -> None:  # type: ignore[type-arg]
    cid = alert(1).alert_id
    await client.post("/login", data={"username": "cun-a", "password": PASSWORD, "next": "/"})
    page = await (await client.get(f"/clues/{cid}")).text()
    r = await client.post(
        f"/clues/{cid}/corrections",
        data={
            "csrf": _csrf(page),
            "field": "members",
            "recorded": "3人",
            "found": "4人",
            "evidence": "户口簿",
        },
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    page = await (await client.get(f"/clues/{cid}")).text()
    assert "待县级更正" in page
    await client.post("/logout", data={"csrf": _csrf(page)})
    await client.post("/login", data={"username": "xian", "password": PASSWORD, "next": "/"})
    listing = await (await client.get(f"/counties/{VILLAGE_A[:6]}/corrections")).text()
    assert "其中待更正 1 条" in listing
    assert "户口簿" in listing
    page = await (await client.get(f"/clues/{cid}")).text()
    r = await client.post(
        f"/clues/{cid}/corrections/1",
        data={"csrf": _csrf(page), "corrected_on": "2022-07-01"},
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    book = openpyxl.load_workbook(
        io.BytesIO(await (await client.get(f"/counties/{VILLAGE_A[:6]}/corrections?format=xlsx")).read())
    )
    rows = list(book.active.iter_rows(values_only=True))
    header = rows[1]
    assert (rows[2][header.index("更正内容")], rows[2][header.index("状态")]) == (
        "家庭成员",
        "已在全国系统更正",
    )
    token = (
        await (await client.post("/api/v1/login", json={"username": "xian", "password": PASSWORD})).json()
    )["token"]
    headers = {"Authorization": f"Bearer {token}"}
    got = await (
        await client.get(f"/api/v1/counties/{VILLAGE_A[:6]}/corrections?status=corrected", headers=headers)
    ).json()
    assert [(r["field"], r["corrected_on"]) for r in got["corrections"]] == [("members", "2022-07-01")]
    r = await client.post(
        f"/api/v1/clues/{cid}/corrections/1", json={"corrected_on": "2022-07-01"}, headers=headers
    )
    assert r.status == 409
    assert (await r.json())["error"] == "already_corrected"
