"""Monthly report and quarterly bulletin from a store and feed counters whose contents are known."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from dixian.contract.feedruns import FeedRun
from reports.monthly import Sources, monthly_report
from reports.quarterly import quarterly_report
from reports.render import html_page, workbook_bytes
from screening.store import Store
from screening.workflow import Request
from tests.screening_helpers import (
    CITY,
    COUNTY_A,
    OFFICER_A,
    ORDINARY_FORM,
    TOWNSHIP_A,
    VILLAGE_A,
    VILLAGE_B,
    VILLAGE_C,
    Clock,
    alert,
    asset_passed,
    china,
    decide_case,
    household,
    open_test_store,
    store_url,
)


def _feed(
    store: Store,
    run: str,
    dept: str,
    month: str,
    rows: int,
    rejected: int,
    late: int = 0,
    types: dict[str, int] | None = None,
    duplicates: int = 1,
) -> None:
    """A delivery's facts, as the sink stores them from the feed-runs topic."""
    at = datetime.fromisoformat(f"{month}-28T10:00:00+08:00")
    store.feeds.upsert(
        [
            FeedRun(
                run_id=f"run-{run}-{dept}",
                dept=dept,
                month=month,
                source="file",
                file=f"{run}.csv",
                encoding="utf-8",
                status="complete",
                started_at=at,
                updated_at=at,
                rows_read=rows,
                accepted=rows - rejected - duplicates,
                duplicates=duplicates,
                rejected=rejected,
                late=late,
                rejections={"resident_id_checksum": rejected} if rejected else {},
                event_types=types or {},
            )
        ]
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Sources, Clock, Store]]:
    """The same store contents on SQLite and on the real PostgreSQL: reports must read both alike."""
    clock = Clock(china(2022, 6, 30, 20))
    for url in store_url(request.param, tmp_path):
        store = open_test_store(url, clock)
        yield _fill(store, clock, tmp_path), clock, store
        store.db.close()


def _fill(store: Store, clock: Clock, tmp_path: Path) -> Sources:
    store.ledger.upsert(
        [
            household(1),  # ordinary, fine
            household(2, monitoring_category="边缘易致贫户", monitoring_status="监测中", risk_types=["因残"]),
            household(3, kind="脱贫户", per_capita_income="3500"),  # under 4,000
            household(
                4,
                village=VILLAGE_C,
                monitoring_category="突发严重困难户",
                monitoring_status="风险已消除",
                housing_safe=False,
                per_capita_income="9000",
            ),
        ]
    )
    store.clues.upsert_alerts(
        [alert(1), alert(2), alert(3), alert(4, village=VILLAGE_C), alert(5, reported=date(2022, 5, 20))]
    )
    _feed(store, "r1", "medical_insurance", "2022-06", 100, 4, late=2)
    _feed(store, "r2", "water", "2022-06", 50, 0)
    _feed(store, "r0", "medical_insurance", "2022-05", 80, 8)
    _feed(store, "r9", "roster", "2022-06", 1000, 0)  # the roster's rows are not events the rules evaluate
    # one clue all the way to inclusion within the month, one excluded
    cid1, cid2 = alert(1).alert_id, alert(2).alert_id
    clock.at = china(2022, 7, 1)
    store.clues.act(OFFICER_A, cid1, Request("visit", note="见到户主"))
    store.clues.act(OFFICER_A, cid1, Request("conclude", proposal="include", category="边缘易致贫户"))
    store.clues.act(OFFICER_A, cid1, Request("village_review", decision="approve"))
    store.clues.act(OFFICER_A, cid2, Request("visit", note="见到户主"))
    store.clues.act(OFFICER_A, cid2, Request("conclude", proposal="no_risk", note="医保报销后负担可承受"))
    store.clues.act(OFFICER_A, cid2, Request("village_review", decision="approve"))
    clock.at = china(2022, 7, 6)
    store.clues.act(OFFICER_A, cid1, Request("notice_end", decision="approve"))
    for cid in (cid1, cid2):
        store.clues.act(TOWNSHIP_A, cid, Request("township_review", decision="approve"))
    asset_passed(store, cid1)
    for cid in (cid1, cid2):
        store.clues.act(COUNTY_A, cid, Request("county_decide", decision="approve"))
    return Sources(store)


def test_monthly_figures_reconcile_with_their_sources(world: tuple[Sources, Clock, Store]) -> None:
    src, _, store = world
    r = monthly_report(src, "2022-06", date(2022, 8, 1))
    assert r.closed
    feeds = r.table("部门数据报送")
    mi = next(x for x in feeds.rows if x["dept"] == "医保局")
    assert (mi["rows_read"], mi["accepted"], mi["rejected"], mi["duplicates"], mi["late"]) == (
        100,
        95,
        4,
        1,
        2,
    )
    assert mi["score"] == pytest.approx(100 - 4 - 50 * 2 / 95, abs=0.05)
    assert next(x for x in feeds.rows if x["dept"] == "教育局")["delivered"] == "未报送"
    assert r.table("拒收原因").total("count") == 4
    # June's clues: four of the five (the fifth was reported in May)
    county = r.table("核查处置-县")
    assert county.total("received") == 4
    a = next(x for x in county.rows if x["code"] == VILLAGE_A[:6])
    assert (a["included"], a["excluded"], a["decided_in_15"], a["open"]) == (1, 1, 2, 1)
    key = r.table("重点帮扶县").rows  # 龙胜, 资源, 全州 on their own lines (no clues here), and their total
    assert [x["name"] for x in key] == ["全州县", "龙胜各族自治县", "资源县", "合计"]
    assert key[-1]["received"] == sum(x["received"] for x in key[:-1]) == 0
    # townships and villages are named from the area table where it names them, else left blank
    store.areas.load({VILLAGE_A[:9]: "白沙镇", VILLAGE_A: "遇龙村"})
    named = monthly_report(src, "2022-06", date(2022, 8, 1))
    towns = {x["code"]: x["name"] for x in named.table("核查处置-乡镇").rows}
    assert (towns[VILLAGE_A[:9]], towns[VILLAGE_C[:9]]) == ("白沙镇", "")
    assert {x["code"]: x["name"] for x in named.table("核查处置-村").rows}[VILLAGE_A] == "遇龙村"
    monitored = {x["code"]: x["name"] for x in named.table("监测对象-乡镇").rows}
    assert monitored[VILLAGE_A[:9]] == "白沙镇"
    assert r.table("预警规则").total("alerts") == 4
    june = r.table("命中率趋势").rows[-1]
    assert (june["month"], june["accepted"], june["alerts"]) == ("2022-06", 95 + 49, 4)
    assert {x["evaluations"] for x in r.table("预警规则").rows} <= {0, 95, 49, 95 + 49}
    assert r.table("部门反馈").total("included") == 1
    mom = {x["item"]: x for x in r.table("环比").rows}
    assert (mom["部门数据接收行数"]["this"], mom["部门数据接收行数"]["prev"]) == (150, 80)
    problems = {(p["household_id"][-1], p["check"]) for p in r.table("问题数据清单").rows}
    assert problems == {
        ("2", "DQ-DISABLED-WITHOUT-MEMBER"),
        ("3", "DQ-INCOME-UNDER-4000"),
        ("4", "DQ-ELIMINATED-UNSAFE-HOUSING"),
    }
    july = monthly_report(src, "2022-07", date(2022, 8, 1))
    monitored = july.table("监测对象-县")
    assert monitored.total("new_included") == 1  # the county decision was taken in July
    assert monitored.total("边缘易致贫户_h") == 2  # household 2, and household 1 by the July inclusion
    assert monitored.total("eliminated_h") == 1
    store.db.close()


def test_a_rules_hit_rate_is_over_the_events_it_listens_to(world: tuple[Sources, Clock, Store]) -> None:
    """HH-INCOME-UNDER-LINE listens to eight event types of several departments: its denominator is
    their accepted events (it was once its own department's rows only: a 111% hit rate)."""
    src, _, store = world
    feeds = [
        ("j1", "medical_insurance", {"medical.settlement": 50}),
        (
            "j2",
            "hrss",
            {"employment.job_lost": 40, "employment.reemployed": 30},
        ),  # reemployed: not listened to
        ("j3", "civil_affairs", {"assistance.granted": 10}),
    ]
    for run, dept, types in feeds:
        _feed(store, run, dept, "2022-07", sum(types.values()), 0, types=types, duplicates=0)
    store.clues.upsert_alerts(
        [alert(n, rule="HH-INCOME-UNDER-LINE", hits=5, reported=date(2022, 7, 20)) for n in range(10, 22)]
    )
    rows = {x["rule_id"]: x for x in monthly_report(src, "2022-07", date(2022, 8, 20)).table("预警规则").rows}
    income = rows["HH-INCOME-UNDER-LINE"]
    assert (income["hits"], income["evaluations"], income["hit_rate"]) == (60, 50 + 40 + 10, 60.0)
    assert all(r["hit_rate"] is None or r["hit_rate"] <= 100 for r in rows.values())


def test_closed_month_workbook_is_byte_identical_and_open_month_says_so(
    world: tuple[Sources, Clock, Store],
) -> None:
    from datetime import datetime  # noqa: PLC0415

    src, _, _ = world
    stamp = datetime(2022, 6, 30, 23, 59, 59)
    first = workbook_bytes(monthly_report(src, "2022-06", date(2022, 8, 1)), stamp)
    second = workbook_bytes(monthly_report(src, "2022-06", date(2022, 9, 15)), stamp)
    assert first == second
    wb = openpyxl.load_workbook(io.BytesIO(first))
    assert wb.sheetnames[:3] == ["封面", "环比", "部门数据报送"]
    assert wb["封面"]["B4"].value == "已结束（可复现）"
    open_month = monthly_report(src, "2022-06", date(2022, 6, 20))
    assert not open_month.closed
    assert "本期线索仍在办理中" in html_page(open_month)
    # the day after the month: its clues are still being worked, overdue is judged today, not on the
    # day its last clues' 15 days end (which showed every clue not yet visited as overdue)
    after = monthly_report(src, "2022-06", date(2022, 7, 1))
    assert not after.closed
    assert "超期按 2022-07-01 判断（今天）。" in after.notes
    c = next(x for x in after.table("核查处置-县").rows if x["code"] == VILLAGE_C[:6])
    assert (c["visit_overdue"], c["due"], c["on_time_pct"]) == (0, 0, None)  # nothing due: no data, not 0%


def test_html_has_readable_chinese_charts(world: tuple[Sources, Clock, Store]) -> None:
    src, _, _ = world
    page = html_page(monthly_report(src, "2022-06", date(2022, 8, 1)))
    assert page.count("<svg") == 5
    assert "<text" in page or "<tspan" in page  # text stays text: the browser draws it in a CJK font
    assert "各县预警线索与15天内认定" in page
    assert "未能检查的问题规则" in page


def test_quarterly_bulletin_ranks_counties_and_lists(world: tuple[Sources, Clock, Store]) -> None:
    """Only a county with enough clues due is ranked; one with none is 无数据 and on no list (it was
    once re-weighted to a perfect score and put on the red list); the lists are bounded."""
    src, clock, store = world
    quanzhou = "450324101201"
    worked = [alert(n, reported=date(2022, 7, 5)) for n in range(20, 26)]  # county A: decided in time
    ignored = [alert(n, village=quanzhou, reported=date(2022, 7, 5)) for n in range(30, 35)]  # never worked
    store.ledger.upsert(
        [household(n) for n in range(20, 26)] + [household(n, village=quanzhou) for n in range(30, 35)]
    )
    store.ledger.upsert(
        [household(n, village=VILLAGE_B) for n in range(1000, 2000)]
    )  # clean: good data quality
    store.clues.upsert_alerts(worked + ignored)
    clock.at = china(2022, 7, 8)
    for a in worked:
        decide_case(store, clock, a.alert_id, "no_risk", note="核实后无返贫风险")
    r = quarterly_report(src, "2022Q3", date(2022, 10, 20))
    ranking = {x["code"]: x for x in r.table("县区排名").rows}
    a, q, c = ranking[VILLAGE_A[:6]], ranking[quanzhou[:6]], ranking[VILLAGE_C[:6]]
    assert (a["rank"], a["timeliness"], a["list"]) == (1, 100.0, "红榜")
    assert (q["rank"], q["timeliness"], q["list"]) == (2, 0.0, "黑榜")
    # county C has only June's clues: nothing due in the quarter, so not ranked and on no list
    assert (c["rank"], c["score"], c["list"], c["due"]) == ("无数据", None, "", 0)
    assert [x["code"] for x in r.table("红榜").rows] == [VILLAGE_A[:6]]
    assert [x["code"] for x in r.table("黑榜").rows] == [quanzhou[:6]]
    assert "不少于5条" in r.table("县区排名").note
    # 全州 is one of the plan's key assistance counties: its own table, marked in the ranking
    assert [(x["name"], x["rank"], x["key"]) for x in r.table("重点帮扶县").rows] == [("全州县", 2, "是")]
    assert a["key"] == ""
    # two counties ranked; C is shown but not counted
    assert r.headline[0] == ("参评县（市、区）", 2, None)


def test_sources_campaigns_and_plan_checks_in_the_report(world: tuple[Sources, Clock, Store]) -> None:
    from screening.campaigns import create_campaign, item_id  # noqa: PLC0415
    from screening.plans import MeasureChange, add_measure, update_measure  # noqa: PLC0415

    src, clock, store = world
    clock.at = china(2022, 8, 2)
    store.clues.create(OFFICER_A, household(3).household_id, "application", "户主住院，申请纳入")
    # household 1 is a monitoring object since its inclusion in July: the only ordinary one is new
    store.ledger.upsert([household(6)])
    c = create_campaign(
        store,
        CITY,
        "8月排查",
        ["4503"],
        date(2022, 8, 1),
        date(2022, 8, 31),
        ["ordinary"],
    )
    item = item_id(c.campaign_id, household(6).household_id)
    store.clues.act(
        OFFICER_A,
        item,
        Request("visit", form=ORDINARY_FORM),
    )
    store.clues.act(OFFICER_A, item, Request("conclude", proposal="no_risk"))
    r = monthly_report(src, "2022-08", date(2022, 9, 20))
    sources = {x["source"]: x for x in r.table("线索来源").rows}
    assert (sources["农户申请"]["received"], sources["集中排查"]["received"]) == (1, 1)
    assert sources["集中排查"]["identification"] == 0
    # the application joined household 3's open clue of June: one household, one clue, no new clue in August
    assert r.table("核查处置-县").total("received") == 0
    camp = r.table("集中排查").rows
    assert [(x["total"], x["visited"], x["no_risk"]) for x in camp] == [(1, 1, 1)]
    # the inclusion of 2022-07-06 has had no measure for over a month by the end of August
    flagged = {(p["household_id"][-1], p["check"]) for p in r.table("问题数据清单").rows}
    assert ("1", "DQ-NO-MEASURE-AFTER-MONTH") in flagged
    add_measure(store, OFFICER_A, alert(1).alert_id, "health", "大病救治", date(2022, 8, 3))
    flagged = {
        (p["household_id"][-1], p["check"])
        for p in monthly_report(src, "2022-08", date(2022, 9, 20)).table("问题数据清单").rows
    }
    assert ("1", "DQ-NO-DEVELOPMENT-MEASURE") in flagged
    assert ("1", "DQ-NO-MEASURE-AFTER-MONTH") not in flagged
    # a development measure counts while it runs, and no longer once stopped before the month's end
    seq = add_measure(store, OFFICER_A, alert(1).alert_id, "industry", "发展养蜂", date(2022, 8, 3))

    def checks() -> set[str]:
        rows = monthly_report(src, "2022-08", date(2022, 9, 20)).table("问题数据清单").rows
        return {p["check"] for p in rows if p["household_id"][-1] == "1"}

    assert "DQ-NO-DEVELOPMENT-MEASURE" not in checks()
    clock.at = china(2022, 8, 20)
    update_measure(
        store, OFFICER_A, alert(1).alert_id, seq, MeasureChange("stopped", result="蜂群病死，户主外出务工")
    )
    assert "DQ-NO-DEVELOPMENT-MEASURE" in checks()


def test_the_national_export_lists_the_months_county_decisions(
    world: tuple[Sources, Clock, Store], tmp_path: Path
) -> None:
    from reports.national import national_export, write_national  # noqa: PLC0415

    _, _, store = world
    export = national_export(store, "2022-07")
    # household 1 was included in July; household 2's exclusion is not the national system's business
    assert [(r["household_id"], r["action"], r["category"], r["risk_types"]) for r in export.rows] == [
        (household(1).household_id, "识别纳入", "边缘易致贫户", "因病")
    ]
    assert national_export(store, "2022-06").rows == []
    assert national_export(store, "2022-07", county="450999").rows == []
    xlsx, csv_path = write_national(export, tmp_path / "out")
    lines = csv_path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("县级代码,县（市、区）,乡镇代码,行政村代码,户编号,户主姓名")
    assert len(lines) == 2
    assert xlsx.stat().st_size > 0
