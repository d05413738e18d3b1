"""Every question the reports ask of the store, in one place, and what each figure means.

The report modules (``monthly``, ``quarterly``, ``national``) hold no SQL: they call these functions
and compute their figures from the rows. Each figure a report states has its definition in
``FIGURES`` (numerator, denominator, and the month it is attributed to); the reports print them in
their notes and in their 指标口径 sheet, so a reader can check any number against its source.

Dates: clues count in the month of their clue date (the day the first risk item opened the
household's case), risk items in the month of their item date, decisions in the month the county
decided (its step's time), deliveries in the reporting month they were ingested for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from screening.store import Store

Row = dict[str, Any]


@dataclass(frozen=True)
class Figure:
    label: str
    numerator: str
    denominator: str  # "" for a count
    month: str  # which month a record counts in

    def line(self) -> str:
        text = f"{self.label}：{self.numerator}"
        if self.denominator:
            text += f" ÷ {self.denominator}"
        return f"{text}；计入月份：{self.month}。"


FIGURES: dict[str, Figure] = {
    f.label: f
    for f in (
        Figure(
            "部门数据接收行数",
            "各部门本月报送批次读到的行数之和（含未完成的批次已读部分）",
            "",
            "批次的报送月份",
        ),
        Figure(
            "入库变动数据",
            "各部门本月批次中通过校验、首次发布的行（同一批次重跑时计一次）",
            "",
            "批次的报送月份",
        ),
        Figure("拒收行数", "各部门本月批次中未通过校验、进入死信的行", "", "批次的报送月份"),
        Figure(
            "重复", "部门两次报送的同一条数据（同一批次内重复，或已由另一批次发布）", "", "批次的报送月份"
        ),
        Figure(
            "质量得分",
            "100 − 拒收行数/接收行数×拒收权重 − 冲突行数/接收行数×冲突权重 − 迟报行数/入库行数×迟报权重",
            "",
            "批次的报送月份；未报送记0分",
        ),
        Figure("预警线索(户)", "线索日期在本月、来源为部门预警的户线索", "", "线索日期"),
        Figure("预警风险项", "风险项日期在本月的部门预警风险项（每个规则命中窗口一项）", "", "风险项日期"),
        Figure("规则命中", "本月部门预警风险项的命中次数之和（含被抑制的重复命中）", "", "风险项日期"),
        Figure(
            "命中率",
            "规则命中次数",
            "本月入库的、该规则监听的事件类型的变动数据条数（评估次数）",
            "风险项日期 / 批次的报送月份",
        ),
        Figure("农户申请与干部排查", "线索日期在本月、来源为农户申请或干部排查的户线索", "", "线索日期"),
        Figure("线索纳入监测", "本月线索中县级审定为纳入监测的户", "", "线索日期"),
        Figure(
            "15天办结率",
            "本月线索中15天内完成县级审定的户",
            "本月线索中已审定或15天期限已过的户（已到认定期限）",
            "线索日期",
        ),
        Figure("监测对象(户)", "最新农户名单中状态为监测中的户", "", "不分月（现状）"),
        Figure("风险已消除(户)", "最新农户名单中状态为风险已消除的户", "", "不分月（现状）"),
        Figure("本月新识别", "县级审定为纳入监测的决定", "", "县级审定之日"),
        Figure("问题数据(条)", "按问题规则检查台账得到的问题户次", "", "月末的台账"),
        Figure("走访率", "集中排查中已走访的户", "集中排查的应走访户", "排查活动的时间与本月相交"),
        Figure(
            "重点任务逾期",
            "时限已过、责任单位未报“已完成”的任务与单位",
            "",
            "按报表判断日（月末或今天）",
        ),
        Figure(
            "收入增速",
            "有上年收入的户，今年人均纯收入（按人口加权）",
            "同一批户的上年人均纯收入（按人口加权），减1",
            "最新农户名单（不分月）",
        ),
        Figure("整改超期", "超过整改期限仍未完成的督查暗访整改事项", "", "按报表判断日；发现日期在本月末前"),
    )
}


def _area(county: str | None, column: str = "county_code") -> tuple[str, list[Any]]:
    return (f" AND {column} = ?", [county]) if county else ("", [])


# ---- deliveries (the feed-runs topic, as the store keeps it) ---------------------------------------
def feed_totals(store: Store, month: str) -> list[Row]:
    """Per department: rows read, accepted, duplicates, rejected, late, conflicts, deliveries and
    deliveries not completed, of the month's runs."""
    rows = store.db.query(
        "SELECT dept, SUM(rows_read) AS rows_read, SUM(accepted) AS accepted, SUM(duplicates) AS duplicates,"
        " SUM(rejected) AS rejected, SUM(late) AS late, SUM(ownership_conflicts) AS ownership_conflicts,"
        " COUNT(*) AS runs, SUM(CASE WHEN status <> 'complete' THEN 1 ELSE 0 END) AS incomplete"
        " FROM feed_runs WHERE month = ? GROUP BY dept ORDER BY dept",
        (month,),
    )
    # PostgreSQL sums BIGINTs as NUMERIC (Decimal): counts are ints
    return [{k: v if k == "dept" else int(v or 0) for k, v in r.items()} for r in rows]


def feed_counts(store: Store, month: str, kind: str) -> list[Row]:
    """Per department and name: rejected rows by reason (``kind='rejected'``) or accepted events by
    event type (``kind='event_type'``) of the month's runs."""
    rows = store.db.query(
        "SELECT r.dept, k.name, SUM(k.n) AS n FROM feed_run_counts k JOIN feed_runs r ON r.run_id = k.run_id"
        " WHERE r.month = ? AND k.kind = ? GROUP BY r.dept, k.name ORDER BY r.dept, k.name",
        (month, kind),
    )
    return [r | {"n": int(r["n"])} for r in rows]


# ---- clues and risk items ------------------------------------------------------------------------
def clues(store: Store, start: date, end: date, county: str | None) -> list[Row]:
    """Household clues with a clue date in [start, end)."""
    area, params = _area(county)
    return store.db.query(
        "SELECT clue_id, village_code, township_code, county_code, rule_id, rule_version, catalogue_version,"
        " department, title, hits, state, proposal, outcome, clue_date, visit_by, decide_by, visited_on,"
        " decided_at, source, campaign_id FROM clues WHERE clue_date >= ? AND clue_date < ?"
        + area
        + " ORDER BY clue_id",
        [start.isoformat(), end.isoformat(), *params],
    )


def warning_items(store: Store, start: date, end: date, county: str | None) -> list[Row]:
    """Department warnings as risk items (one per alert, that is per rule hit window) with an item
    date in [start, end), with the workflow of the household clue each one joined."""
    area, params = _area(county, "c.county_code")
    return store.db.query(
        "SELECT i.item_id, i.rule_id, i.rule_version, i.catalogue_version, i.department, i.title, i.hits,"
        " c.state, c.outcome, c.county_code FROM risk_items i JOIN clues c ON c.clue_id = i.clue_id"
        " WHERE i.source = 'department_warning' AND i.item_date >= ? AND i.item_date < ?"
        + area
        + " ORDER BY i.item_id",
        [start.isoformat(), end.isoformat(), *params],
    )


def items_by_source(store: Store, start: date, end: date, county: str | None) -> list[Row]:
    """Per household clue and source: the clue (its workflow) and how many items of that source
    joined it with an item date in [start, end)."""
    area, params = _area(county, "c.county_code")
    return store.db.query(
        "SELECT i.source AS item_source, COUNT(*) AS n, c.clue_id, c.source, c.state, c.proposal, c.outcome"
        " FROM risk_items i JOIN clues c ON c.clue_id = i.clue_id"
        " WHERE i.item_date >= ? AND i.item_date < ?"
        + area
        + " GROUP BY c.clue_id, i.source ORDER BY c.clue_id",
        [start.isoformat(), end.isoformat(), *params],
    )


def warning_totals(store: Store, start: date, end: date, county: str | None) -> Row:
    """Department warning items with an item date in [start, end) and their hits."""
    area, params = _area(county, "c.county_code")
    r = store.db.one(
        "SELECT COUNT(*) AS alerts, COALESCE(SUM(i.hits), 0) AS hits FROM risk_items i"
        " JOIN clues c ON c.clue_id = i.clue_id"
        " WHERE i.source = 'department_warning' AND i.item_date >= ? AND i.item_date < ?" + area,
        [start.isoformat(), end.isoformat(), *params],
    )
    return r or {"alerts": 0, "hits": 0}


def risk_labels(store: Store, clue_ids: list[str]) -> list[Row]:
    """The risk labels of these clues' items, oldest first."""
    return store.db.query_in(
        "SELECT clue_id, risk_label FROM risk_items WHERE clue_id", clue_ids, " ORDER BY item_date, item_id"
    )


# ---- campaigns -------------------------------------------------------------------------------------
def campaigns(store: Store, start: date, end: date, county: str | None, as_of: date) -> list[Row]:
    """Campaigns whose period meets [start, end): their visits, findings, and visits overdue on
    ``as_of``."""
    area, params = _area(county, "c.county_code")
    return store.db.query(
        "SELECT k.campaign_id, k.name, k.period_from, k.period_to, COUNT(c.clue_id) AS total,"
        " SUM(CASE WHEN c.state <> 'new' THEN 1 ELSE 0 END) AS visited,"
        " SUM(CASE WHEN c.proposal = 'no_risk' THEN 1 ELSE 0 END) AS no_risk,"
        " SUM(CASE WHEN c.proposal IS NOT NULL AND c.proposal <> 'no_risk' THEN 1 ELSE 0 END) AS proposals,"
        " SUM(CASE WHEN c.state = 'new' AND c.visit_by < ? THEN 1 ELSE 0 END) AS overdue"
        " FROM campaigns k JOIN clues c ON c.campaign_id = k.campaign_id"
        " WHERE k.period_from < ? AND k.period_to >= ?"
        + area
        + " GROUP BY k.campaign_id, k.name, k.period_from, k.period_to ORDER BY k.period_from, k.campaign_id",
        [as_of.isoformat(), end.isoformat(), start.isoformat(), *params],
    )


# ---- the ledger and the county's decisions --------------------------------------------------------
def monitored_households(store: Store, county: str | None) -> list[Row]:
    """Households of the ledger in monitoring (监测中, 风险已消除) by county, township, category, status."""
    area, params = _area(county)
    return store.db.query(
        "SELECT county_code, township_code, category, status, COUNT(*) AS households, SUM(persons) AS persons"
        " FROM households WHERE status <> '未纳入'"
        + area
        + " GROUP BY county_code, township_code, category, status"
        " ORDER BY county_code, township_code, category, status",
        params,
    )


def households_per_county(store: Store) -> dict[str, int]:
    return {
        r["county_code"]: int(r["n"])
        for r in store.db.query("SELECT county_code, COUNT(*) AS n FROM households GROUP BY county_code")
    }


def decisions_by_area(store: Store, start: date, end: date, county: str | None) -> list[Row]:
    """County decisions taken in [start, end) per county, township, village and outcome."""
    area, params = _area(county, "c.county_code")
    return store.db.query(
        "SELECT c.county_code, c.township_code, c.village_code, s.outcome, COUNT(*) AS n FROM steps s"
        " JOIN clues c ON c.clue_id = s.clue_id WHERE s.step = 'county_decide' AND s.at >= ? AND s.at < ?"
        + area
        + " GROUP BY c.county_code, c.township_code, c.village_code, s.outcome"
        " ORDER BY c.county_code, c.township_code, c.village_code, s.outcome",
        [start.isoformat(), end.isoformat(), *params],
    )


def decisions_per_county(store: Store, start: date, end: date, outcome: str) -> dict[str, int]:
    """County decisions with this outcome taken in [start, end), per county."""
    return {
        r["county_code"]: int(r["n"])
        for r in store.db.query(
            "SELECT c.county_code, COUNT(*) AS n FROM steps s JOIN clues c ON c.clue_id = s.clue_id"
            " WHERE s.step = 'county_decide' AND s.outcome = ? AND s.at >= ? AND s.at < ?"
            " GROUP BY c.county_code",
            (outcome, start.isoformat(), end.isoformat()),
        )
    }


def decided_before(store: Store, end: date, county: str | None) -> list[Row]:
    """Inclusions and eliminations decided before ``end``, per household in time order."""
    area, params = _area(county, "c.county_code")
    return store.db.query(
        "SELECT c.household_id, c.village_code, c.county_code, s.outcome, s.at FROM steps s"
        " JOIN clues c ON c.clue_id = s.clue_id WHERE s.step = 'county_decide' AND s.at < ?"
        + area
        + " AND s.outcome IN ('included', 'eliminated') ORDER BY c.household_id, s.at",
        [end.isoformat(), *params],
    )


def decisions_to_export(
    store: Store, start: date, end: date, outcomes: list[str], county: str | None
) -> list[Row]:
    """County decisions with these outcomes taken in [start, end), with the household's ledger row."""
    area, params = _area(county, "c.county_code")
    return store.db.query(
        "SELECT c.clue_id, c.household_id, c.village_code, c.township_code, c.county_code, c.clue_date,"
        " c.category AS clue_category, s.outcome, s.category, s.at, h.head_name, h.persons, h.household_type,"
        " h.category AS ledger_category"
        " FROM steps s JOIN clues c ON c.clue_id = s.clue_id"
        " LEFT JOIN households h ON h.household_id = c.household_id"
        " WHERE s.step = 'county_decide' AND s.at >= ? AND s.at < ? AND s.outcome IN ("
        + ", ".join("?" * len(outcomes))
        + ")"
        + area
        + " ORDER BY c.county_code, c.village_code, c.household_id, s.at",
        [start.isoformat(), end.isoformat(), *outcomes, *params],
    )


def ledger_check(store: Store, where: str, county: str | None) -> list[Row]:
    """Households matching one data-quality check's condition (``reports/checks.yaml``)."""
    area, params = _area(county)
    return store.db.query(
        f"SELECT household_id, village_code, county_code FROM households WHERE ({where}){area}"
        " ORDER BY village_code, household_id",
        params,
    )


def plans_with_measures(store: Store, end: date, included_before: date, county: str | None) -> list[Row]:
    """Plans of households included before ``included_before``: their measures recorded before
    ``end``, and of those the development measures not stopped before ``end``."""
    area, params = _area(county, "p.county_code")
    return store.db.query(
        "SELECT p.household_id, p.village_code, p.county_code,"
        " (SELECT COUNT(*) FROM measures m WHERE m.clue_id = p.clue_id AND m.recorded_at < ?) AS measures,"
        " (SELECT COUNT(*) FROM measures m WHERE m.clue_id = p.clue_id AND m.recorded_at < ?"
        # a development measure stopped before the month's end no longer counts (as on the plan page)
        " AND m.development = 1 AND NOT (m.status = 'stopped' AND m.closed_on < ?)) AS development"
        " FROM plans p WHERE p.included_on < ?" + area + " ORDER BY p.household_id",
        [end.isoformat(), end.isoformat(), end.isoformat(), included_before.isoformat(), *params],
    )


# ---- supervision (督查暗访 → 整改) -----------------------------------------------------------------
def rectification_counts(store: Store, end: date, as_of: date, county: str | None) -> list[Row]:
    """Per county, the rectification items found before ``end``: all, still open on ``as_of``, open
    past their deadline on ``as_of``, and done."""
    area, params = _area(county)
    rows = store.db.query(
        "SELECT county_code, COUNT(*) AS found,"
        " SUM(CASE WHEN status = 'open' OR closed_on > ? THEN 1 ELSE 0 END) AS still_open,"
        " SUM(CASE WHEN (status = 'open' OR closed_on > ?) AND deadline < ? THEN 1 ELSE 0 END) AS overdue,"
        " SUM(CASE WHEN status = 'done' AND closed_on <= ? THEN 1 ELSE 0 END) AS done"
        " FROM rectifications WHERE found_on < ?" + area + " GROUP BY county_code ORDER BY county_code",
        [
            as_of.isoformat(),
            as_of.isoformat(),
            as_of.isoformat(),
            as_of.isoformat(),
            end.isoformat(),
            *params,
        ],
    )
    return [{k: v if k == "county_code" else int(v or 0) for k, v in r.items()} for r in rows]


# ---- income (the plan's income indicators) --------------------------------------------------------
def income_by_county(store: Store, county: str | None) -> list[Row]:
    """Per county and household type (脱贫户 / 一般农户), over the ledger's households, weighted by
    persons: persons, per-capita income sum; over those with a composition, the four parts' sums; over
    those with last year's income, this and last year's sums."""
    area, params = _area(county)
    rows = store.db.query(
        "SELECT county_code, household_type, COUNT(*) AS households, SUM(persons) AS persons,"
        " SUM(income_pc * persons) AS income,"
        " SUM(CASE WHEN wage_pc IS NOT NULL THEN persons ELSE 0 END) AS parts_persons,"
        " SUM(CASE WHEN wage_pc IS NOT NULL THEN income_pc * persons ELSE 0 END) AS parts_income,"
        " SUM(wage_pc * persons) AS wage, SUM(business_pc * persons) AS business,"
        " SUM(property_pc * persons) AS property, SUM(transfer_pc * persons) AS transfer,"
        " SUM(CASE WHEN prev_income_pc IS NOT NULL THEN persons ELSE 0 END) AS growth_persons,"
        " SUM(CASE WHEN prev_income_pc IS NOT NULL THEN income_pc * persons ELSE 0 END) AS growth_now,"
        " SUM(prev_income_pc * persons) AS growth_prev"
        " FROM households WHERE 1 = 1" + area + " GROUP BY county_code, household_type"
        " ORDER BY county_code, household_type",
        params,
    )
    return [
        {k: v if k in ("county_code", "household_type") else float(v or 0) for k, v in r.items()}
        for r in rows
    ]
