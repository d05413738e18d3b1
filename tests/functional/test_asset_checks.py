"""Asset-check results (财产检索): the county records each proposed household's result (passed, or
failed with the reason and the assets found); the result shows on the village's and township's
pages of the clue; the county's inclusion needs a passed result unless the household is already 低保
or 特困 (their earlier result is reused), as the plan says."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from aiohttp.test_utils import TestClient

from screening.assets import record_asset_check
from screening.refusal import Refusal
from screening.store import Store
from screening.workflow import Request
from tests.screening_helpers import (
    COUNTY_A,
    OFFICER_A,
    TOWNSHIP_A,
    VILLAGE_A,
    Clock,
    alert,
    china,
    household,
    open_test_store,
    stores_of,
    to_county,
)

PASSWORD = "asset-check-pass-1"


def _to_county(store: Store, clock: Clock, cid: str) -> None:
    to_county(store, clock, cid, "include", category="边缘易致贫户")


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock(china(2022, 7, 1))
    for s in stores_of(request.param, tmp_path, clock):
        s.ledger.upsert([household(1), household(2, dibao=True)])
        s.clues.upsert_alerts([alert(1), alert(2)])
        yield s, clock


def test_an_inclusion_waits_for_a_passed_asset_check(world: tuple[Store, Clock]) -> None:
    store, clock = world
    cid = alert(1).alert_id
    _to_county(store, clock, cid)
    approve = Request("county_decide", decision="approve")
    with pytest.raises(Refusal, match="asset_check_missing") as missing:
        store.clues.act(COUNTY_A, cid, approve)
    assert "财产检索" in missing.value.zh
    # the village does not record it; a failed result needs its reason and the assets found
    with pytest.raises(Refusal, match="wrong_role"):
        record_asset_check(store, OFFICER_A, cid, "passed", date(2022, 7, 6))
    with pytest.raises(Refusal, match="reason_required"):
        record_asset_check(store, COUNTY_A, cid, "failed", date(2022, 7, 6))
    with pytest.raises(Refusal, match="bad_date"):
        record_asset_check(store, COUNTY_A, cid, "passed", date(2022, 8, 1))  # after today
    record_asset_check(
        store,
        COUNTY_A,
        cid,
        "failed",
        date(2022, 7, 6),
        reason="家庭成员名下有经营性车辆",
        found="货车1辆（桂C·…）",
    )
    with pytest.raises(Refusal, match="asset_check_failed"):
        store.clues.act(COUNTY_A, cid, approve)
    # the village and the township see the result on the clue
    for actor in (OFFICER_A, TOWNSHIP_A):
        c = store.clues.get(actor, cid)
        assert (c["asset_result"], c["asset_checked_on"], c["asset_reason"]) == (
            "failed",
            "2022-07-06",
            "家庭成员名下有经营性车辆",
        )
    # corrected before the decision (the vehicle was sold): passed, and the inclusion goes through
    record_asset_check(store, COUNTY_A, cid, "passed", date(2022, 7, 6))
    c = store.clues.get(OFFICER_A, cid)
    assert (c["asset_result"], c["asset_reason"], c["asset_found"]) == ("passed", None, None)
    store.clues.act(COUNTY_A, cid, approve)
    assert store.clues.get(OFFICER_A, cid)["outcome"] == "included"
    with pytest.raises(Refusal, match="not_proposed"):  # decided: the result is part of the record
        record_asset_check(store, COUNTY_A, cid, "failed", date(2022, 7, 6), reason="x", found="y")
    steps = [
        s["step"] for s in store.db.query("SELECT step FROM steps WHERE clue_id = ? ORDER BY seq", (cid,))
    ]
    assert steps.count("asset_check") == 2  # each recorded result is a published step


def test_dibao_households_reuse_their_earlier_check(world: tuple[Store, Clock]) -> None:
    store, clock = world
    cid = alert(2).alert_id
    _to_county(store, clock, cid)
    assert cid not in {r["clue_id"] for r in store.clues.asset_check(COUNTY_A, VILLAGE_A[:6])}
    store.clues.act(COUNTY_A, cid, Request("county_decide", decision="approve"))
    assert store.clues.get(OFFICER_A, cid)["outcome"] == "included"


def test_a_failed_check_ends_in_not_included(world: tuple[Store, Clock]) -> None:
    store, clock = world
    cid = alert(1).alert_id
    _to_county(store, clock, cid)
    record_asset_check(
        store, COUNTY_A, cid, "failed", date(2022, 7, 6), reason="有商品房两套", found="房产2处"
    )
    store.clues.act(COUNTY_A, cid, Request("county_decide", decision="reject", note="财产检索未通过"))
    assert store.clues.get(OFFICER_A, cid)["outcome"] == "not_included"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    clock = Clock(china(2022, 7, 1))
    s = open_test_store(f"sqlite:///{tmp_path / 'q.sqlite'}", clock)
    s.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD)
    s.accounts.add("xian", "county", VILLAGE_A[:6], PASSWORD)
    s.ledger.upsert([household(1)])
    s.clues.upsert_alerts([alert(1)])
    _to_county(s, clock, alert(1).alert_id)
    return s


@pytest.mark.asyncio
async def test_the_county_records_the_result_on_the_page_and_by_api(client: TestClient, store: Store) -> None:  # type: ignore[type-arg]
    cid = alert(1).alert_id
    r = await client.post("/login", data={"username": "xian", "password": PASSWORD, "next": "/"})
    assert r.status == 200
    listing = await (await client.get(f"/counties/{VILLAGE_A[:6]}/asset-check")).text()
    assert "待登记" in listing
    page = await (await client.get(f"/clues/{cid}")).text()
    assert "尚未登记财产检索结果" in page
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)  # type: ignore[union-attr]
    r = await client.post(
        f"/clues/{cid}/asset-check", data={"csrf": csrf, "result": "failed", "checked_on": "2022-07-06"}
    )
    assert "检索未通过时须填写原因" in await r.text()  # refused on the page, nothing recorded
    r = await client.post(
        f"/clues/{cid}/asset-check",
        data={
            "csrf": csrf,
            "result": "failed",
            "checked_on": "2022-07-06",
            "reason": "名下有车辆",
            "found": "轿车1辆",
        },
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    page = await (await client.get(f"/clues/{cid}")).text()
    assert "2022-07-06 县级登记：未通过（名下有车辆；查到：轿车1辆）" in page
    book = openpyxl.load_workbook(
        io.BytesIO(await (await client.get(f"/counties/{VILLAGE_A[:6]}/asset-check?format=xlsx")).read())
    )
    rows = list(book.active.iter_rows(values_only=True))
    header = rows[1]
    assert rows[2][header.index("检索结果")] == "未通过"
    assert rows[2][header.index("查到的财产")] == "轿车1辆"
    # the API: the same record, answered with the clue
    token = (
        await (await client.post("/api/v1/login", json={"username": "xian", "password": PASSWORD})).json()
    )["token"]
    headers = {"Authorization": f"Bearer {token}"}
    r = await client.post(
        f"/api/v1/clues/{cid}/asset-check",
        json={"result": "passed", "checked_on": "2022-07-06"},
        headers=headers,
    )
    assert r.status == 200, await r.text()
    assert (await r.json())["asset_result"] == "passed"
    r = await client.post(f"/api/v1/clues/{cid}/asset-check", json={"result": "maybe"}, headers=headers)
    assert r.status == 400
    # the village officer sees the result, and has no form to change it
    await client.post("/logout", data={"csrf": csrf})
    await client.post("/login", data={"username": "cun-a", "password": PASSWORD, "next": "/"})
    page = await (await client.get(f"/clues/{cid}")).text()
    assert "县级登记：通过" in page
    assert 'id="form-asset-check"' not in page


def test_a_returned_proposal_needs_a_new_check(world: tuple[Store, Clock]) -> None:
    store, clock = world
    cid = alert(1).alert_id
    _to_county(store, clock, cid)
    record_asset_check(store, COUNTY_A, cid, "passed", date(2022, 7, 6))
    store.clues.act(COUNTY_A, cid, Request("county_decide", decision="return", note="收入核算有误，重新核实"))
    assert store.clues.get(OFFICER_A, cid)["asset_result"] is None
