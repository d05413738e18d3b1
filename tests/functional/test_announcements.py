"""County announcement and household notification (县级审定公告, 入户告知): the county's decisions of
a period as a printable announcement with no private data; each decided household told by its
village (date, by whom, how), flagged when not told within the plan's week."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from screening.announcements import announcement, notify, unnotified
from screening.refusal import Refusal
from screening.store import Store
from tests.screening_helpers import (
    CITY,
    COUNTY_A,
    OFFICER_A,
    TOWNSHIP_A,
    VILLAGE_A,
    Clock,
    alert,
    china,
    decide_case,
    household,
    open_test_store,
    stores_of,
)

PASSWORD = "announce-pass-1"


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock(china(2022, 7, 1))
    for s in stores_of(request.param, tmp_path, clock):
        s.ledger.upsert([household(n) for n in range(1, 4)])
        s.areas.load({VILLAGE_A[:9]: "白沙镇", VILLAGE_A: "遇龙村"})
        s.clues.upsert_alerts([alert(1), alert(2)])
        yield s, clock


def test_the_announcement_lists_the_periods_decisions_without_private_data(
    world: tuple[Store, Clock],
) -> None:
    store, clock = world
    decide_case(store, clock, alert(1).alert_id, "include", category="边缘易致贫户")
    decide_case(store, clock, alert(2).alert_id, "no_risk", note="核实无风险")  # 排除: not announced
    rows = announcement(store, COUNTY_A, VILLAGE_A[:6], date(2022, 7, 1), date(2022, 7, 31))
    hid = household(1).household_id
    assert rows == [
        {
            "township": "白沙镇",
            "village": "遇龙村",
            "head_name": household(1).head_name or "（名单未载户主姓名）",
            "persons": 1,
            "decision": "纳入监测对象（边缘易致贫户）",
            "decided_on": "2022-07-06",
        }
    ]
    assert hid not in repr(rows)
    assert announcement(store, COUNTY_A, VILLAGE_A[:6], date(2022, 8, 1), date(2022, 8, 31)) == []
    with pytest.raises(Refusal, match="bad_period"):
        announcement(store, COUNTY_A, VILLAGE_A[:6], date(2022, 8, 1), date(2022, 7, 1))
    with pytest.raises(Exception, match="无权访问"):
        announcement(store, OFFICER_A, VILLAGE_A[:6], date(2022, 7, 1), date(2022, 7, 31))


def test_each_decided_household_is_told_and_an_untold_one_is_flagged(world: tuple[Store, Clock]) -> None:
    store, clock = world
    cid = alert(1).alert_id
    with pytest.raises(Refusal, match="not_decided"):
        notify(store, OFFICER_A, cid, date(2022, 7, 1), "visit")
    decide_case(store, clock, cid, "include", category="边缘易致贫户")  # decided on 2022-07-06
    waiting = unnotified(store, OFFICER_A)
    assert [(r["clue_id"], r["late"]) for r in waiting] == [(cid, False)]
    clock.advance(days=8)
    assert unnotified(store, OFFICER_A)[0]["late"] is True  # more than a week
    assert unnotified(store, CITY)[0]["clue_id"] == cid
    with pytest.raises(Refusal, match="wrong_role"):
        notify(store, TOWNSHIP_A, cid, date(2022, 7, 7), "visit")
    with pytest.raises(Refusal, match="bad_method"):
        notify(store, OFFICER_A, cid, date(2022, 7, 7), "pigeon")
    with pytest.raises(Refusal, match="bad_date"):
        notify(store, OFFICER_A, cid, date(2022, 7, 5), "visit")  # before the decision
    notify(store, OFFICER_A, cid, date(2022, 7, 7), "visit", "户主本人签收告知书，电话13812345678")
    c = store.clues.get(OFFICER_A, cid)
    assert (c["notified_on"], c["notified_by"], c["notify_method"]) == ("2022-07-07", "cun-a", "visit")
    assert unnotified(store, OFFICER_A) == []
    step = store.clues.steps(cid)[-1]
    assert step["step"] == "notify"
    assert "13812345678" not in step["note"]
    with pytest.raises(Refusal, match="already_notified"):
        notify(store, OFFICER_A, cid, date(2022, 7, 8), "phone")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    clock = Clock(china(2022, 7, 1))
    s = open_test_store(f"sqlite:///{tmp_path / 'q.sqlite'}", clock)
    s.accounts.add("cun-a", "village", VILLAGE_A, PASSWORD)
    s.accounts.add("xian", "county", VILLAGE_A[:6], PASSWORD)
    s.ledger.upsert([household(1)])
    s.clues.upsert_alerts([alert(1)])
    decide_case(s, clock, alert(1).alert_id, "include", category="边缘易致贫户")
    return s


@pytest.mark.asyncio
async def test_the_pages_announce_and_record_the_notification(client: TestClient, store: Store) -> None:  # type: ignore[type-arg]
    import re  # noqa: PLC0415

    r = await client.post("/login", data={"username": "xian", "password": PASSWORD, "next": "/"})
    assert r.status == 200
    url = f"/counties/{VILLAGE_A[:6]}/announcement"
    page = await (await client.get(f"{url}?from=2022-07-01&to=2022-07-31")).text()
    assert "阳朔县防返贫监测对象识别（风险消除）审定公告" in page
    assert "纳入监测对象（边缘易致贫户）" in page
    assert household(1).household_id not in page
    r = await client.get(f"{url}?from=July")
    assert r.status == 400
    await client.post("/logout", data={"csrf": re.search(r'name="csrf" value="([0-9a-f]+)"', page).group(1)})  # type: ignore[union-attr]
    r = await client.post("/login", data={"username": "cun-a", "password": PASSWORD, "next": "/"})
    clue = await (await client.get(f"/clues/{alert(1).alert_id}")).text()
    assert "审定结果尚未告知农户" in clue
    waiting = await (await client.get("/notifications")).text()
    assert "纳入监测对象（边缘易致贫户）" in waiting
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', clue).group(1)  # type: ignore[union-attr]
    r = await client.post(
        f"/clues/{alert(1).alert_id}/notification",
        data={"csrf": csrf, "notified_on": "2022-07-06", "method": "phone"},
        allow_redirects=False,
    )
    assert r.status == 303, await r.text()
    clue = await (await client.get(f"/clues/{alert(1).alert_id}")).text()
    assert "2022-07-06 由 cun-a 电话告知" in clue
    assert "没有待告知的审定结果" in await (await client.get("/notifications")).text()
