"""Every way a clue arrives and what follows inclusion, on SQLite and PostgreSQL: campaigns,
applications and cadre findings, visit forms, assistance plans, deadlines on a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dixian.contract.vocabulary import ClueState, Role
from screening.campaigns import coverage, create_campaign, item_id, lookback
from screening.plans import MeasureChange, add_measure, plan_for, plans, update_measure
from screening.refusal import NotFound, Refusal, ScopeError
from screening.store import Store
from screening.workflow import Request
from tests.screening_helpers import (
    CITY,
    COUNTY_A,
    MONITORED_FORM,
    OFFICER_A,
    OFFICER_B,
    ORDINARY_FORM,
    TOWNSHIP_A,
    VILLAGE_A,
    VILLAGE_B,
    VILLAGE_C,
    Clock,
    alert,
    asset_passed,
    china,
    household,
    include,
    open_test_store,
    store_url,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, Clock]]:
    clock = Clock(china(2022, 9, 1))
    for url in store_url(request.param, tmp_path):
        store = open_test_store(url, clock)
        store.ledger.upsert(
            [
                household(1),  # ordinary
                household(2, kind="脱贫户"),  # formerly poor, not monitored
                household(3, kind="脱贫户", monitoring_category="脱贫不稳定户", monitoring_status="监测中"),
                household(4, monitoring_category="边缘易致贫户", monitoring_status="风险已消除"),
                household(5, village=VILLAGE_B),
                household(
                    6, village=VILLAGE_C, monitoring_category="突发严重困难户", monitoring_status="监测中"
                ),
            ]
        )
        yield store, clock
        store.db.close()


def test_campaign_creates_one_item_per_household_in_scope(world: tuple[Store, Clock]) -> None:
    store, _ = world
    c = create_campaign(
        store,
        CITY,
        "2022年集中排查",
        ["4503"],
        date(2022, 9, 1),
        date(2022, 9, 30),
        ["ordinary", "formerly_poor", "monitored"],
    )
    assert c.items == 6
    again = create_campaign(
        store,
        CITY,
        "2022年集中排查",
        ["4503"],
        date(2022, 9, 1),
        date(2022, 9, 30),
        ["monitored", "ordinary", "formerly_poor"],
    )
    assert again.campaign_id == c.campaign_id
    assert again.items == 6
    only = create_campaign(
        store,
        COUNTY_A,
        "阳朔监测对象回头看",
        [VILLAGE_A[:6]],
        date(2022, 9, 1),
        date(2022, 9, 15),
        ["monitored"],
    )
    assert only.items == 2  # households 3 and 4 (monitored or eliminated) of county A
    kinds = {
        r["household_id"][-1]: r["household_kind"]
        for r in store.db.query(
            "SELECT household_id, household_kind FROM clues WHERE campaign_id = ?", (c.campaign_id,)
        )
    }
    assert kinds == {
        "1": "ordinary",
        "2": "formerly_poor",
        "3": "monitored",
        "4": "monitored",
        "5": "ordinary",
        "6": "monitored",
    }
    with pytest.raises(ScopeError):
        create_campaign(
            store, COUNTY_A, "越界", ["450323"], date(2022, 9, 1), date(2022, 9, 30), ["ordinary"]
        )
    with pytest.raises(Refusal, match="wrong_role"):
        create_campaign(store, OFFICER_A, "村里", ["4503"], date(2022, 9, 1), date(2022, 9, 30), ["ordinary"])


def test_visits_move_coverage_and_counties_add_up(world: tuple[Store, Clock]) -> None:
    store, clock = world
    c = create_campaign(
        store,
        CITY,
        "排查",
        ["4503"],
        date(2022, 9, 1),
        date(2022, 9, 30),
        ["ordinary", "formerly_poor", "monitored"],
    )
    item = item_id(c.campaign_id, household(1).household_id)
    with pytest.raises(Refusal, match="form_incomplete"):
        store.clues.act(OFFICER_A, item, Request("visit", form={"persons_confirmed": "yes"}))
    store.clues.act(OFFICER_A, item, Request("visit", form=ORDINARY_FORM))
    store.clues.act(OFFICER_A, item, Request("conclude", proposal="no_risk"))  # the form is the reason
    assert store.clues.get(OFFICER_A, item).state == ClueState.CLOSED
    by_village = coverage(store, CITY, c.campaign_id, "village")
    by_county = coverage(store, CITY, c.campaign_id, "county")
    for key in ("total", "visited", "concluded", "overdue"):
        assert sum(r[key] for r in by_county) == sum(r[key] for r in by_village)
    a = next(r for r in by_village if r["code"] == VILLAGE_A)
    assert (a["total"], a["visited"], a["concluded"]) == (4, 1, 1)
    assert coverage(store, OFFICER_A, c.campaign_id, "village") == [a]  # an officer sees only the village
    clock.at = china(2022, 10, 1)
    assert sum(r["overdue"] for r in coverage(store, CITY, c.campaign_id, "county")) == 5


def test_monitored_household_visit_proposes_elimination_into_review(world: tuple[Store, Clock]) -> None:
    store, _ = world
    c = create_campaign(store, CITY, "排查", ["4503"], date(2022, 9, 1), date(2022, 9, 30), ["monitored"])
    item = item_id(c.campaign_id, household(3).household_id)
    with pytest.raises(Refusal, match="form_invalid"):
        store.clues.act(
            OFFICER_A, item, Request("visit", form=MONITORED_FORM | {"elimination_assessment": "随便"})
        )
    store.clues.act(OFFICER_A, item, Request("visit", form=MONITORED_FORM))
    store.clues.act(OFFICER_A, item, Request("conclude", proposal="eliminate", note="收入稳定超过监测线"))
    store.clues.act(OFFICER_A, item, Request("village_review", decision="approve"))
    clue = store.clues.get(OFFICER_A, item)
    assert clue.state == ClueState.NOTICE
    assert clue["source"] == "campaign"
    assert '"elimination_assessment": "可以标注风险消除"' in clue["form_json"]


def test_application_clue_runs_the_15_day_clock(world: tuple[Store, Clock]) -> None:
    store, clock = world
    hid = household(1).household_id
    with pytest.raises(NotFound, match="不在农户名单中"):  # as if the household did not exist
        store.clues.create(OFFICER_B, hid, "application", "因病申请")
    cid, created = store.clues.create(
        OFFICER_A, hid, "application", "户主住院，申请纳入监测", authorisation_signed=True
    )
    assert created
    assert store.clues.create(OFFICER_A, hid, "application", "重复提交")[0:2] == (cid, False)
    clue = store.clues.get(OFFICER_A, cid)
    assert (clue["visit_by"], clue["decide_by"], clue["authorisation_signed"]) == (
        "2022-09-06",
        "2022-09-16",
        1,
    )
    assert [s["step"] for s in store.clues.steps(cid)] == ["open"]
    assert store.clues.pending_conclusions()[0].step == "open"
    clock.at = china(2022, 9, 16, 23)
    assert not store.clues.get(OFFICER_A, cid).deadline.decide_overdue  # the 15th day counts to its end
    clock.at = china(2022, 9, 17, 0)
    assert store.clues.get(OFFICER_A, cid).deadline.decide_overdue
    cadre, _ = store.clues.create(OFFICER_A, household(2).household_id, "cadre", "入户发现房屋漏雨")
    assert store.clues.get(OFFICER_A, cadre)["source"] == "cadre"


def _plan(store: Store, clue_id: str) -> dict[str, Any]:
    """The clue's plan as the plan list shows it (the list also flags roster objects without one)."""
    return next(p for p in plans(store, OFFICER_A) if p["clue_id"] == clue_id)


def test_inclusion_opens_a_plan_due_in_10_days_with_flags(world: tuple[Store, Clock]) -> None:
    store, clock = world
    store.clues.upsert_alerts([alert(1)])
    cid = alert(1).alert_id
    store.clues.act(OFFICER_A, cid, Request("visit", note="见到户主"))
    store.clues.act(OFFICER_A, cid, Request("conclude", proposal="include", category="边缘易致贫户"))
    store.clues.act(OFFICER_A, cid, Request("village_review", decision="approve"))
    clock.advance(days=5)
    store.clues.act(OFFICER_A, cid, Request("notice_end", decision="approve"))
    store.clues.act(TOWNSHIP_A, cid, Request("township_review", decision="approve"))
    asset_passed(store, cid)
    store.clues.act(COUNTY_A, cid, Request("county_decide", decision="approve"))
    got = plan_for(store, OFFICER_A, cid)
    assert got is not None
    plan, measures = got
    assert (plan["included_on"], plan["due_by"], measures) == ("2022-09-06", "2022-09-16", [])
    clock.at = china(2022, 9, 16, 22)
    assert not _plan(store, cid)["late"]
    clock.at = china(2022, 9, 17, 8)
    assert _plan(store, cid)["late"]
    assert "超期 1 天" in _plan(store, cid)["label"]
    add_measure(store, OFFICER_A, cid, "health", "落实大病专项救治", date(2022, 9, 17))
    with pytest.raises(Refusal, match="unknown_measure"):
        add_measure(store, OFFICER_A, cid, "magic", "x" * 5, date(2022, 9, 17))
    clock.at = china(2022, 10, 7)
    p = _plan(store, cid)
    assert (p["measures"], p["development"], p["no_development"], p["late"]) == (1, 0, True, True)
    add_measure(
        store, OFFICER_A, cid, "employment", "安排到县城扶贫车间务工", date(2022, 10, 8), date(2023, 10, 7)
    )
    assert _plan(store, cid)["no_development"] is False
    assert [s["step"] for s in store.clues.steps(cid)][-2:] == ["plan_measure", "plan_measure"]
    with pytest.raises(NotFound, match="没有帮扶计划"):  # as if there were no plan
        add_measure(store, OFFICER_B, cid, "employment", "越界登记", date(2022, 10, 8))


def test_a_measure_is_updated_while_it_runs_and_closed_with_its_result(world: tuple[Store, Clock]) -> None:
    store, clock = world
    store.clues.upsert_alerts([alert(1)])
    cid = alert(1).alert_id
    include(store, clock, cid)
    seq = add_measure(
        store, OFFICER_A, cid, "employment", "推荐到扶贫车间务工", date(2022, 9, 7), date(2022, 12, 31)
    )
    clock.advance(days=20)
    # while it runs: a new planned end and wording; an update that changes nothing is refused
    assert (
        update_measure(store, OFFICER_A, cid, seq, MeasureChange("active", end_on=date(2023, 3, 31)))
        == "active"
    )
    with pytest.raises(Refusal, match="nothing_changed"):
        update_measure(store, OFFICER_A, cid, seq, MeasureChange("active", end_on=date(2023, 3, 31)))
    with pytest.raises(Refusal, match="bad_period"):
        update_measure(store, OFFICER_A, cid, seq, MeasureChange("active", end_on=date(2022, 8, 1)))
    # closing needs a result; a phone number in it is masked before storage
    with pytest.raises(Refusal, match="result_required"):
        update_measure(store, OFFICER_A, cid, seq, MeasureChange("done"))
    with pytest.raises(Refusal, match="bad_period"):  # not in the future
        update_measure(
            store, OFFICER_A, cid, seq, MeasureChange("done", result="已稳定就业", closed_on=date(2030, 1, 1))
        )
    with pytest.raises(Refusal, match="bad_status"):
        update_measure(store, OFFICER_A, cid, seq, MeasureChange("finished", result="已稳定就业"))
    with pytest.raises(NotFound, match="没有帮扶计划"):  # another village: as if there were no plan
        update_measure(store, OFFICER_B, cid, seq, MeasureChange("done", result="越界结项"))
    with pytest.raises(NotFound, match="没有第 9 项"):
        update_measure(store, OFFICER_A, cid, 9, MeasureChange("done", result="已稳定就业"))
    status = update_measure(
        store,
        OFFICER_A,
        cid,
        seq,
        MeasureChange("done", result="已在车间稳定务工3个月，月工资2800元，联系13812345678"),
    )
    assert status == "done"
    got = plan_for(store, OFFICER_A, cid)
    assert got is not None
    plan, (m,) = got
    assert (m["status"], m["closed_on"], m["end_on"], m["updated_by"]) == (
        "done",
        "2022-09-26",
        "2023-03-31",
        "cun-a",
    )
    assert "13812345678" not in m["result"]
    assert "月工资2800元" in m["result"]
    assert (plan["done"], plan["active"], plan["development"]) == (1, 0, 1)
    assert "已完成 1 项" in plan["label"]
    # a closed measure is final
    with pytest.raises(Refusal, match="measure_closed"):
        update_measure(store, OFFICER_A, cid, seq, MeasureChange("stopped", result="改为终止"))
    # a stopped development measure no longer counts as one
    seq2 = add_measure(store, OFFICER_A, cid, "industry", "发展养蜂", date(2022, 9, 26))
    update_measure(store, OFFICER_A, cid, seq2, MeasureChange("stopped", result="户主外出务工，无人照管蜂箱"))
    got = plan_for(store, OFFICER_A, cid)
    assert got is not None
    assert (got[0]["development"], got[0]["done"]) == (1, 1)
    steps = store.clues.steps(cid)
    assert [s["step"] for s in steps][-4:] == [
        "measure_update",
        "measure_close",
        "plan_measure",
        "measure_close",
    ]
    assert "已完成" in steps[-3]["note"]
    assert "13812345678" not in steps[-3]["note"]


def test_lookback_lists_returned_and_contradicted_items(world: tuple[Store, Clock]) -> None:
    store, clock = world
    c = create_campaign(
        store, CITY, "排查", ["4503"], date(2022, 9, 1), date(2022, 9, 30), ["ordinary", "monitored"]
    )
    store.clues.act(
        OFFICER_A, item_id(c.campaign_id, household(1).household_id), Request("visit", form=ORDINARY_FORM)
    )
    store.clues.act(
        OFFICER_A, item_id(c.campaign_id, household(1).household_id), Request("conclude", proposal="no_risk")
    )
    item3 = item_id(c.campaign_id, household(3).household_id)
    store.clues.act(OFFICER_A, item3, Request("visit", form=MONITORED_FORM))
    store.clues.act(OFFICER_A, item3, Request("conclude", proposal="eliminate", note="收入稳定"))
    store.clues.act(OFFICER_A, item3, Request("village_review", decision="return", note="收入证明不全"))
    clock.advance(days=10)
    store.clues.upsert_alerts(
        [alert(1, reported=date(2022, 9, 8))]
    )  # medical costs after the "no risk" visit
    rows = lookback(store, CITY, c.campaign_id)
    assert [(r["household_id"][-1], r["reason"]) for r in rows] == [
        ("1", "排查结论为无风险，之后部门数据发出预警"),
        ("3", "结论被退回重新核实"),
    ]


def test_campaigns_are_listed_and_opened_only_within_scope(world: tuple[Store, Clock]) -> None:
    from screening.auth import Actor  # noqa: PLC0415
    from screening.campaigns import campaigns, get_campaign  # noqa: PLC0415

    store, _ = world
    c = create_campaign(
        store, COUNTY_A, "县内排查", [VILLAGE_A[:6]], date(2022, 9, 1), date(2022, 9, 30), ["ordinary"]
    )
    other_county = Actor("cun-c", "村干部C", Role.VILLAGE, VILLAGE_C)
    assert [x.campaign_id for x in campaigns(store, OFFICER_A)] == [c.campaign_id]
    assert [x.campaign_id for x in campaigns(store, CITY)] == [c.campaign_id]
    assert campaigns(store, other_county) == []
    with pytest.raises(NotFound) as hidden:
        coverage(store, other_county, c.campaign_id, "village")
    with pytest.raises(NotFound) as unknown:
        get_campaign(store, "cmp-000000000000", other_county)
    assert hidden.value.zh.replace(c.campaign_id, "") == unknown.value.zh.replace("cmp-000000000000", "")
