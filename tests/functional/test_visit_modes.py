"""Visit modes (#19): a visit is recorded as 入户, 电话 or 微信 with its screening team of two; an online
visit, which the plan allows where an epidemic prevents home visits, stays flagged until an in-person
visit follows; campaign coverage can be read by team."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from screening.campaigns import coverage, create_campaign, item_id
from screening.refusal import NotFound, Refusal
from screening.store import Store
from screening.workflow import Request
from tests.screening_helpers import (
    CITY,
    OFFICER_A,
    OFFICER_B,
    ORDINARY_FORM,
    TOWNSHIP_A,
    Clock,
    alert,
    china,
    household,
    stores_of,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock(china(2022, 7, 1))
    for store in stores_of(request.param, tmp_path, clock):
        store.ledger.upsert([household(n) for n in range(1, 5)])
        yield store, clock


def test_an_online_visit_is_flagged_until_an_in_person_visit_follows(world: tuple[Store, Clock]) -> None:
    store, clock = world
    store.clues.upsert_alerts([alert(1)])
    cid = alert(1).alert_id
    with pytest.raises(Refusal, match="note_required"):  # online: say why no home visit
        store.clues.act(OFFICER_A, cid, Request("visit", visit_mode="phone"))
    with pytest.raises(Refusal, match="bad_visit_mode"):
        store.clues.act(OFFICER_A, cid, Request("visit", note="电话联系", visit_mode="letter"))
    with pytest.raises(Refusal, match="bad_team"):
        store.clues.act(OFFICER_A, cid, Request("visit", note="见到户主", team=("张三",)))
    with pytest.raises(Refusal, match="bad_team"):
        store.clues.act(OFFICER_A, cid, Request("visit", note="见到户主", team=("张三", "张三")))
    store.clues.act(
        OFFICER_A,
        cid,
        Request("visit", note="疫情防控期间电话核实", visit_mode="phone", team=("张三", "李四")),
    )
    c = store.clues.get(OFFICER_A, cid)
    assert (c["visit_mode"], c["visit_team"], c["online_pending"]) == ("phone", "张三、李四", 1)
    # the workflow goes on meanwhile; the flag stays
    store.clues.act(OFFICER_A, cid, Request("conclude", proposal="no_risk", note="电话核实无风险"))
    assert store.clues.get(OFFICER_A, cid)["online_pending"] == 1
    with pytest.raises(NotFound):  # another village: as if there were no such clue
        store.clues.in_person(OFFICER_B, cid, date(2022, 7, 3), "入户")
    with pytest.raises(Refusal, match="wrong_role"):
        store.clues.in_person(TOWNSHIP_A, cid, date(2022, 7, 3), "入户")
    clock.advance(days=3)
    with pytest.raises(Refusal, match="visit_in_future"):
        store.clues.in_person(OFFICER_A, cid, date(2022, 7, 9), "入户核实")
    store.clues.in_person(
        OFFICER_A, cid, date(2022, 7, 4), "入户核实，情况属实，电话13812345678", ("张三", "王五")
    )
    c = store.clues.get(OFFICER_A, cid)
    assert (c["online_pending"], c["in_person_on"], c["visit_team"], c["state"]) == (
        0,
        "2022-07-04",
        "张三、王五",
        "proposed",
    )
    step = store.clues.steps(cid)[-1]
    assert step["step"] == "in_person_visit"
    assert "13812345678" not in step["note"]  # masked like every note
    with pytest.raises(Refusal, match="not_online"):  # once is enough
        store.clues.in_person(OFFICER_A, cid, date(2022, 7, 4), "再次入户")


def test_a_home_visit_needs_no_follow_up(world: tuple[Store, Clock]) -> None:
    store, _ = world
    store.clues.upsert_alerts([alert(2)])
    store.clues.act(OFFICER_A, alert(2).alert_id, Request("visit", note="见到户主"))
    c = store.clues.get(OFFICER_A, alert(2).alert_id)
    assert (c["visit_mode"], c["online_pending"], c["visit_team"]) == ("home", 0, None)
    with pytest.raises(Refusal, match="not_online"):
        store.clues.in_person(OFFICER_A, alert(2).alert_id, date(2022, 7, 1), "入户")


def test_campaign_coverage_by_screening_team(world: tuple[Store, Clock]) -> None:
    store, _ = world
    c = create_campaign(store, CITY, "排查", ["4503"], date(2022, 7, 1), date(2022, 7, 31), ["ordinary"])
    teams = {1: ("张三", "李四"), 2: ("张三", "李四"), 3: ("王五", "赵六")}
    for n, team in teams.items():
        store.clues.act(
            OFFICER_A,
            item_id(c.campaign_id, household(n).household_id),
            Request("visit", form=ORDINARY_FORM, team=team),
        )
    rows = coverage(store, CITY, c.campaign_id, "team")
    assert [(r["code"], r["name"], r["total"], r["visited"]) for r in rows] == [
        ("张三、李四", "", 2, 2),
        ("王五、赵六", "", 1, 1),
        (None, "（未登记工作组）", 1, 0),
    ]
