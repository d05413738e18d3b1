"""The monthly cross-department report (月度调度): feeds, early warning, screening, monitoring objects,
data quality and department feedback, by county → township → village, from the stored data.

Sources: the store, through ``reports.queries`` (the only place the reports ask it anything): the
deliveries' facts (rows received per department and month, from the feed-runs topic, whichever
machine ingested), clues, their workflow steps, and the household ledger from the roster. A month
is *closed* once the 15 days of its last clues are over; the same stored data then always gives the
same tables. Each headline figure's definition (``queries.FIGURES``) is printed in the notes.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any

import yaml

from dixian.contract import Dept
from dixian.contract.deadlines import DECIDE_DAYS
from dixian.contract.validate import REASON_ZH
from dixian.contract.vocabulary import ClueSource, ClueState, MonitoringCategory, Outcome, labels
from dixian.geo import KEY_COUNTIES, county_name
from reports import queries
from reports.model import Chart, Report, Table
from reports.queries import FIGURES
from rules.params import default_params
from screening import tasks as plan_tasks
from screening.store import Store

CATEGORIES = tuple(c.value for c in MonitoringCategory)
OUTCOMES = tuple(o.value for o in Outcome)
OUTCOME_ZH = labels(Outcome)
SOURCE_ZH = labels(ClueSource)
DEPARTMENTS = frozenset(d.value for d in Dept)
DEPT_LABEL = {d.value: d.zh for d in Dept} | {"village": "村级台账", "household": "多部门综合"}


def month_bounds(month: str) -> tuple[date, date]:
    y, m = (int(x) for x in month.split("-"))
    start = date(y, m, 1)
    end = date(y + m // 12, m % 12 + 1, 1)
    return start, end


def previous_month(month: str, back: int = 1) -> str:
    y, m = (int(x) for x in month.split("-"))
    n = y * 12 + (m - 1) - back
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def load_yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        resources.files("reports").joinpath(name).read_text(encoding="utf-8")
    )
    return data


@dataclass
class Sources:
    store: Store

    def feeds(self, month: str) -> tuple[list[dict[str, Any]], dict[tuple[str, str], int]]:
        """The month's deliveries per department, and their rejected rows by (department, reason)."""
        rejected = {
            (r["dept"], r["name"]): int(r["n"]) for r in queries.feed_counts(self.store, month, "rejected")
        }
        return queries.feed_totals(self.store, month), rejected

    def event_types(self, month: str) -> dict[str, int]:
        """Accepted events of the month per event type."""
        out: Counter[str] = Counter()
        for r in queries.feed_counts(self.store, month, "event_type"):
            out[r["name"]] += int(r["n"])
        return dict(out)


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


# ---- sections -------------------------------------------------------------------------------------
def feeds_tables(src: Sources, month: str) -> tuple[Table, Table, dict[str, float], dict[str, float]]:
    """The delivery table, rejections by reason, the month's totals and accepted rows per department."""
    params = load_yaml("params.yaml")["feed_score"]
    totals, rejections = src.feeds(month)
    by_dept = {t["dept"]: t for t in totals}
    rows = []
    for d in Dept:
        t = by_dept.get(d.value)
        if t is None:
            rows.append(
                {
                    "dept": d.zh,
                    "rows_read": 0,
                    "accepted": 0,
                    "rejected": 0,
                    "duplicates": 0,
                    "late": 0,
                    "conflicts": 0,
                    "delivered": "未报送",
                    "incomplete": 0,
                    "score": 0.0,
                }
            )
            continue
        n = t["rows_read"] or 0
        score = 100.0
        if n:
            score -= params["rejected_weight"] * t["rejected"] / n
            score -= params["conflict_weight"] * t["ownership_conflicts"] / n
        if t["accepted"]:
            score -= params["late_weight"] * t["late"] / t["accepted"]
        rows.append(
            {
                "dept": d.zh,
                "rows_read": n,
                "accepted": t["accepted"],
                "rejected": t["rejected"],
                "duplicates": t["duplicates"],
                "late": t["late"],
                "conflicts": t["ownership_conflicts"],
                "delivered": f"已报送（{t['runs']}批）"
                + (f"，{t['incomplete']}批未完成" if t["incomplete"] else ""),
                "incomplete": int(t["incomplete"] or 0),
                "score": round(max(0.0, score), 1),
            }
        )
    feeds = Table(
        "部门数据报送",
        f"{month} 各部门数据报送与质量得分",
        [
            ("dept", "部门"),
            ("delivered", "报送情况"),
            ("rows_read", "接收行数"),
            ("accepted", "入库"),
            ("rejected", "拒收"),
            ("duplicates", "重复"),
            ("late", "迟报(>45天)"),
            ("conflicts", "一数一源冲突"),
            ("incomplete", "未完成批次"),
            ("score", "质量得分"),
        ],
        rows,
        note=(
            "得分 = 100 − 拒收率×{rejected_weight} − 冲突率×{conflict_weight} − 迟报率×{late_weight}；"
            "未报送记0分。重复：部门两次报送的同一条数据；同一批次重新导入计为同一批次，不算重复。"
            "未完成批次：导入中断、尚未重新导入完成的批次，其行数为中断前已确认的部分"
        ).format(**params),
    )
    reasons = Table(
        "拒收原因",
        f"{month} 拒收数据按原因",
        [("dept", "部门"), ("code", "原因代码"), ("reason", "原因"), ("count", "行数")],
        [
            {"dept": DEPT_LABEL.get(d, d), "code": c, "reason": REASON_ZH.get(c, c), "count": n}
            for (d, c), n in sorted(rejections.items())
        ],
    )
    received = {
        "rows_read": feeds.total("rows_read"),
        "accepted": feeds.total("accepted"),
        "rejected": feeds.total("rejected"),
    }
    # department events only: the roster's rows are not evaluated by the rules
    accepted = {d.value: float(by_dept[d.value]["accepted"] or 0) for d in Dept if d.value in by_dept}
    return feeds, reasons, received, accepted


def _clues(src: Sources, start: date, end: date, county: str | None) -> list[dict[str, Any]]:
    return queries.clues(src.store, start, end, county)


def _warning_items(src: Sources, start: date, end: date, county: str | None) -> list[dict[str, Any]]:
    return queries.warning_items(src.store, start, end, county)


def is_identification(c: dict[str, Any]) -> bool:
    """A clue on the identification path (15 days): every clue except campaign visits that found no
    risk or have not concluded yet (those are counted as campaign coverage)."""
    return c["source"] != "campaign" or c["proposal"] not in (None, "no_risk")


def sources_table(items: list[dict[str, Any]], month: str) -> Table:
    """By channel: the households whose clue it fed in the month (a household fed by two channels is
    counted under each), and its risk items."""
    acc: dict[str, Counter[str]] = defaultdict(Counter)
    for c in items:
        k = acc[c["item_source"]]
        k["received"] += 1
        k["items"] += int(c["n"])
        if is_identification(c):
            k["identification"] += 1
        if c["state"] == ClueState.CLOSED.value:
            k["closed"] += 1
        if c["outcome"]:
            k[c["outcome"]] += 1
    rows = [
        {
            "source": SOURCE_ZH.get(src, src),
            "received": k["received"],
            "items": k["items"],
            "identification": k["identification"],
            "closed": k["closed"],
            **{o: k[o] for o in OUTCOMES},
        }
        for src, k in sorted(
            acc.items(), key=lambda kv: list(SOURCE_ZH).index(kv[0]) if kv[0] in SOURCE_ZH else 9
        )
    ]
    return Table(
        "线索来源",
        f"{month} 线索按发现渠道",
        [
            ("source", "渠道"),
            ("received", "线索(户)"),
            ("items", "风险项"),
            ("identification", "进入识别程序"),
            ("closed", "已办结"),
            *((o, OUTCOME_ZH[o]) for o in OUTCOMES),
        ],
        rows,
        note="集中排查的入户任务中，结论为无风险或尚未出结论的不进入识别程序，另见“集中排查”表。",
    )


def campaigns_table(src: Sources, start: date, end: date, county: str | None, as_of: date) -> Table:
    rows = queries.campaigns(src.store, start, end, county, as_of)
    out = [
        r
        | {
            "period": f"{r['period_from']} 至 {r['period_to']}",
            "coverage_pct": _pct(int(r["visited"] or 0), int(r["total"])),
        }
        for r in rows
    ]
    return Table(
        "集中排查",
        "本月进行中的集中排查",
        [
            ("name", "排查活动"),
            ("period", "时间"),
            ("total", "应走访户"),
            ("visited", "已走访"),
            ("no_risk", "无风险"),
            ("proposals", "提出识别/消除/回退"),
            ("overdue", "逾期未走访"),
            ("coverage_pct", "走访率(%)"),
        ],
        out,
    )


def rule_denominators(
    rule_ids: set[str], by_type: dict[str, int], by_dept: dict[str, float], departments: dict[str, str]
) -> dict[str, float]:
    """Per rule, the events it could have fired on: the month's accepted events of the event types
    it listens to (the shipped catalogue's definition). A rule the catalogue does not know, or a month
    whose feeds were counted before per-type counts existed, falls back to its department's accepted
    rows."""
    from rules.catalogue import load_catalogue  # noqa: PLC0415

    listens = {r.id: r.rule.event_types for r in load_catalogue().rules}
    out = {}
    for rule_id in rule_ids:
        types = listens.get(rule_id)
        if types and by_type:
            out[rule_id] = float(sum(by_type.get(t, 0) for t in types))
        else:
            out[rule_id] = by_dept.get(departments.get(rule_id, ""), 0.0)
    return out


def rules_table(clues: list[dict[str, Any]], evaluations: dict[str, float], month: str) -> Table:
    """Hits per rule; ``evaluations`` is each rule's denominator (``rule_denominators``)."""
    by_rule: dict[str, dict[str, Any]] = {}
    for c in clues:
        r = by_rule.setdefault(
            c["rule_id"],
            {
                "rule_id": c["rule_id"],
                "title": c["title"],
                "dept": DEPT_LABEL.get(c["department"], c["department"]),
                "versions": set(),
                "catalogues": set(),
                "alerts": 0,
                "hits": 0,
                "_dept": c["department"],
            },
        )
        r["versions"].add(int(c["rule_version"]))
        r["catalogues"].add(c["catalogue_version"])
        r["alerts"] += 1
        r["hits"] += int(c["hits"])
    rows = []
    for r in sorted(by_rule.values(), key=lambda x: (-x["alerts"], x["rule_id"])):
        r.pop("_dept")
        ev = evaluations.get(r["rule_id"], 0.0)
        r["versions"] = "、".join(f"v{v}" for v in sorted(r["versions"]))
        r["catalogues"] = "、".join(sorted(r["catalogues"]))
        r["suppressed"] = r["hits"] - r["alerts"]
        r["evaluations"] = int(ev)
        r["hit_rate"] = _pct(r["hits"], ev)
        rows.append(r)
    return Table(
        "预警规则",
        f"{month} 预警规则命中情况（按规则）",
        [
            ("rule_id", "规则编号"),
            ("title", "规则"),
            ("dept", "数据来源"),
            ("versions", "规则版本"),
            ("catalogues", "规则库版本"),
            ("evaluations", "评估次数"),
            ("hits", "命中次数"),
            ("alerts", "风险项(预警)"),
            ("suppressed", "抑制的重复命中"),
            ("hit_rate", "命中率(%)"),
        ],
        rows,
        note=(
            "评估次数：本月入库的、该规则监听的事件类型的变动数据条数（规则可能命中的数据）；"
            "命中率 = 命中次数 ÷ 评估次数；评估次数为 0 时命中率为无数据。"
        ),
    )


def _area_rows(
    clues: list[dict[str, Any]], level: str, today: date, names: dict[str, str]
) -> list[dict[str, Any]]:
    acc: dict[str, Counter[str]] = defaultdict(Counter)
    for c in clues:
        key = c[level]
        k = acc[key]
        k["received"] += 1
        visit_by, decide_by = date.fromisoformat(c["visit_by"]), date.fromisoformat(c["decide_by"])
        visited = date.fromisoformat(c["visited_on"]) if c["visited_on"] else None
        decided = date.fromisoformat(c["decided_at"][:10]) if c["decided_at"] else None
        if visited and visited <= visit_by:
            k["visited_on_time"] += 1
        if (visited and visited > visit_by) or (not visited and today > visit_by):
            k["visit_overdue"] += 1
        if decided and decided <= decide_by:
            k["decided_in_15"] += 1
        if (decided and decided > decide_by) or (not decided and today > decide_by):
            k["decide_overdue"] += 1
        if decided or today > decide_by:  # due: decided, or its 15 days are over
            k["due"] += 1
        if c["state"] != ClueState.CLOSED.value:
            k["open"] += 1
        if c["outcome"]:
            k[c["outcome"]] += 1
    rows = []
    for key in sorted(acc):
        k = acc[key]
        row: dict[str, Any] = {"code": key, "name": names.get(key, "")}
        for f in (
            "received",
            "visited_on_time",
            "visit_overdue",
            "decided_in_15",
            "decide_overdue",
            "due",
            "open",
            *OUTCOMES,
        ):
            row[f] = k[f]
        # of the clues due (decided, or past their 15 days): none due yet is no data, not 0%
        row["on_time_pct"] = _pct(k["decided_in_15"], k["due"])
        rows.append(row)
    return rows


SCREENING_COLUMNS = [
    ("code", "代码"),
    ("name", "名称"),
    ("received", "收到线索"),
    ("visited_on_time", "按时走访"),
    ("visit_overdue", "走访超期"),
    ("decided_in_15", "15天内认定"),
    ("decide_overdue", "认定超期"),
    ("due", "已到认定期限"),
    ("open", "在办"),
    *((o, OUTCOME_ZH[o]) for o in OUTCOMES),
    ("on_time_pct", "15天办结率(%)"),
]


def screening_tables(
    clues: list[dict[str, Any]], month: str, today: date, areas: dict[str, str] | None = None
) -> list[Table]:
    """By county, township and village; ``areas`` names townships and villages (the store's area
    table), counties are named by the geography."""
    counties = {c["county_code"]: county_name(c["county_code"]) for c in clues}
    out = []
    for level, sheet, label, names in (
        ("county_code", "核查处置-县", "县（市、区）", counties),
        ("township_code", "核查处置-乡镇", "乡镇", areas or {}),
        ("village_code", "核查处置-村", "行政村", areas or {}),
    ):
        out.append(
            Table(
                sheet,
                f"{month} 预警线索核查处置（按{label}）",
                SCREENING_COLUMNS,
                _area_rows(clues, level, today, names),
                note=(
                    f"超期按 {today} 判断。已到认定期限 = 已认定，或15天期限已过；"
                    "15天办结率 = 15天内认定 ÷ 已到认定期限（尚无到期线索时为无数据）。"
                ),
            )
        )
    return out


KEY_COLUMNS = [
    ("name", "重点帮扶县"),
    ("received", "收到线索"),
    ("visit_overdue", "走访超期"),
    ("decided_in_15", "15天内认定"),
    ("open", "在办"),
    ("included", "纳入监测对象"),
    ("monitored_h", "监测中(户)"),
    ("eliminated_h", "风险已消除(户)"),
    ("new_included", "本月新识别"),
]


def key_counties_table(
    screening_rows: list[dict[str, Any]], monitoring_rows: list[dict[str, Any]], month: str
) -> Table:
    """The plan's key assistance counties (重点帮扶县: 龙胜, 资源, 全州) on their own lines, with their
    total: what the city office follows first."""
    by_code: dict[str, dict[str, Any]] = {
        c: {"code": c, "name": county_name(c)} for c in sorted(KEY_COUNTIES)
    }
    for r in screening_rows:
        if r["code"] in by_code:
            by_code[r["code"]] |= {
                k: r[k] for k in ("received", "visit_overdue", "decided_in_15", "open", "included")
            }
    for r in monitoring_rows:
        if r["code"] in by_code:
            by_code[r["code"]] |= {k: r[k] for k in ("monitored_h", "eliminated_h", "new_included")}
    rows = [{k: r.get(k, 0) for k, _ in KEY_COLUMNS} | {"code": r["code"]} for r in by_code.values()]
    total = {k: sum(r[k] for r in rows) for k, _ in KEY_COLUMNS[1:]} | {"name": "合计", "code": ""}
    return Table(
        "重点帮扶县",
        f"{month} 重点帮扶县（龙胜、资源、全州）",
        KEY_COLUMNS,
        [*rows, total],
        note="重点帮扶县见实施方案；各列口径同“核查处置-县”和“监测对象-县”。",
    )


def monitoring_tables(src: Sources, month: str, county: str | None) -> tuple[list[Table], dict[str, float]]:
    rows = queries.monitored_households(src.store, county)
    start, end = month_bounds(month)
    decisions = queries.decisions_by_area(src.store, start, end, county)
    tables = []
    headline: dict[str, float] = {}
    for level, sheet, label in (
        ("county_code", "监测对象-县", "县（市、区）"),
        ("township_code", "监测对象-乡镇", "乡镇"),
    ):
        acc: dict[str, Counter[str]] = defaultdict(Counter)
        for r in rows:
            k = acc[r[level]]
            if r["status"] == "监测中":
                k[f"{r['category']}_h"] += int(r["households"])
                k[f"{r['category']}_p"] += int(r["persons"] or 0)
                k["monitored_h"] += int(r["households"])
                k["monitored_p"] += int(r["persons"] or 0)
            else:
                k["eliminated_h"] += int(r["households"])
        for d in decisions:
            acc[d[level]][f"new_{d['outcome']}"] += int(d["n"])
        out_rows = []
        for key in sorted(acc):
            k = acc[key]
            name = county_name(key) if level == "county_code" else src.store.areas.name(key)
            row: dict[str, Any] = {"code": key, "name": name}
            for cat in CATEGORIES:
                row[f"{cat}_h"], row[f"{cat}_p"] = k[f"{cat}_h"], k[f"{cat}_p"]
            row |= {
                "monitored_h": k["monitored_h"],
                "monitored_p": k["monitored_p"],
                "eliminated_h": k["eliminated_h"],
                "new_included": k["new_included"],
                "new_eliminated": k["new_eliminated"],
                "new_rolled_back": k["new_rolled_back"],
                "elimination_rate": _pct(k["eliminated_h"], k["eliminated_h"] + k["monitored_h"]),
            }
            out_rows.append(row)
        cols = [("code", "代码"), ("name", "名称")]
        for cat in CATEGORIES:
            cols += [(f"{cat}_h", f"{cat}(户)"), (f"{cat}_p", f"{cat}(人)")]
        cols += [
            ("monitored_h", "监测中(户)"),
            ("monitored_p", "监测中(人)"),
            ("eliminated_h", "风险已消除(户)"),
            ("new_included", "本月新识别"),
            ("new_eliminated", "本月风险消除"),
            ("new_rolled_back", "本月回退"),
            ("elimination_rate", "风险消除率(%)"),
        ]
        t = Table(
            sheet,
            f"{month} 监测对象（按{label}）",
            cols,
            out_rows,
            note="户数、人数取自最新一次农户名单；本月新识别、风险消除取自县级审定记录。",
        )
        tables.append(t)
        if level == "county_code":
            headline = {
                k: t.total(k)
                for k in ("monitored_h", "monitored_p", "eliminated_h", "new_included", "new_eliminated")
            }
    return tables, headline


def feedback_table(clues: list[dict[str, Any]], month: str) -> Table:
    acc: dict[str, Counter[str]] = defaultdict(Counter)
    for c in clues:
        k = acc[c["department"]]
        k["warnings"] += 1
        if c["state"] == ClueState.CLOSED.value:
            k["decided"] += 1
        if c["outcome"] in ("included", "already_monitored", "rolled_back"):
            k["monitored"] += 1
        if c["outcome"] == "included":
            k["included"] += 1
    rows = [
        {
            "dept": DEPT_LABEL.get(d, d),
            "warnings": k["warnings"],
            "decided": k["decided"],
            "included": k["included"],
            "monitored": k["monitored"],
            "share": _pct(k["included"], k["decided"]),
        }
        for d, k in sorted(acc.items())
    ]
    return Table(
        "部门反馈",
        f"{month} 部门预警反馈（预警转化为纳入监测）",
        [
            ("dept", "部门"),
            ("warnings", "推送预警"),
            ("decided", "已审定"),
            ("included", "新纳入监测"),
            ("monitored", "纳入或记录风险"),
            ("share", "已审定中纳入比例(%)"),
        ],
        rows,
    )


def quality_tables(src: Sources, month: str, county: str | None) -> tuple[Table, Table, list[str]]:
    spec = load_yaml("checks.yaml")
    _, end = month_bounds(month)
    line = default_params().value("monitoring_income_line", county or "4503", end - timedelta(days=1))
    income_line = line.value if line else 6000.0
    problems: list[dict[str, Any]] = []
    for chk in spec["checks"]:
        where = chk["where"].replace("{income_line}", repr(float(income_line)))
        for r in queries.ledger_check(src.store, where, county):
            problems.append(
                r | {"check": chk["id"], "title": chk["title"], "fix": chk["fix"], "dept": chk["department"]}
            )
    checks_by_id = {c["id"]: c for c in spec["decision_checks"]}

    def flag(row: dict[str, Any], check_id: str) -> None:
        chk = checks_by_id[check_id]
        problems.append(
            {k: row[k] for k in ("household_id", "village_code", "county_code")}
            | {"check": chk["id"], "title": chk["title"], "fix": chk["fix"], "dept": chk["department"]}
        )

    # eliminated within two months of inclusion
    decided = queries.decided_before(src.store, end, county)
    included_on: dict[str, date] = {}
    for d in decided:
        on = date.fromisoformat(d["at"][:10])
        if d["outcome"] == "included":
            included_on[d["household_id"]] = on
        elif d["household_id"] in included_on and (on - included_on[d["household_id"]]).days < 61:
            flag(d, "DQ-ELIMINATED-WITHIN-2-MONTHS")
    # included more than a month before the month's end: a measure, and a development-type one
    for p in queries.plans_with_measures(src.store, end, end - timedelta(days=31), county):
        if not p["measures"]:
            flag(p, "DQ-NO-MEASURE-AFTER-MONTH")
        elif not p["development"]:
            flag(p, "DQ-NO-DEVELOPMENT-MEASURE")
    problems.sort(key=lambda p: (p["village_code"], p["household_id"], p["check"]))
    listing = Table(
        "问题数据清单",
        f"{month} 问题数据清单（按村，户编号、问题、整改要求）",
        [
            ("village_code", "行政村"),
            ("household_id", "户编号"),
            ("check", "规则"),
            ("title", "问题"),
            ("fix", "整改要求"),
        ],
        problems,
        note=f"监测收入线按 {income_line:.0f} 元计（rules/params/thresholds.yaml）。",
    )
    per_check = Counter((p["county_code"], p["check"]) for p in problems)
    titles = {c["id"]: c["title"] for c in [*spec["checks"], *spec["decision_checks"]]}
    depts = {c["id"]: c["department"] for c in [*spec["checks"], *spec["decision_checks"]]}
    summary = Table(
        "问题数据汇总",
        f"{month} 问题数据按县和规则",
        [
            ("county", "县（市、区）"),
            ("check", "规则"),
            ("title", "问题"),
            ("dept", "责任部门"),
            ("count", "户数"),
        ],
        [
            {
                "county": county_name(c),
                "check": k,
                "title": titles[k],
                "dept": DEPT_LABEL.get(depts[k], depts[k]),
                "count": n,
            }
            for (c, k), n in sorted(per_check.items())
        ],
    )
    return listing, summary, list(spec["not_checked"])


def trend(src: Sources, month: str, county: str | None, months: int = 6) -> Table:
    rows = []
    for back in range(months - 1, -1, -1):
        m = previous_month(month, back)
        start, end = month_bounds(m)
        r = queries.warning_totals(src.store, start, end, county)
        totals, _ = src.feeds(m)
        accepted = sum(t["accepted"] or 0 for t in totals if t["dept"] in DEPARTMENTS)
        alerts, hits = int(r["alerts"]), int(r["hits"])
        rows.append(
            {
                "month": m,
                "accepted": accepted,
                "hits": hits,
                "alerts": alerts,
                "hit_rate": _pct(hits, accepted),
            }
        )
    return Table(
        "命中率趋势",
        f"近{months}个月预警命中率",
        [
            ("month", "月份"),
            ("accepted", "入库变动数据"),
            ("hits", "规则命中"),
            ("alerts", "风险项(预警)"),
            ("hit_rate", "命中率(%)"),
        ],
        rows,
    )


def income_table(src: Sources, month: str, county: str | None) -> Table:
    """The plan's income indicators by county: formerly poor households' per-capita income and its
    growth against all households', and the income composition, where the roster carries them."""
    acc: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    for r in queries.income_by_county(src.store, county):
        for group in ("all", "poor" if r["household_type"] == "脱贫户" else "other"):
            k = acc[r["county_code"]][group]
            for key, value in r.items():
                if key not in ("county_code", "household_type"):
                    k[key] += value

    def growth(k: Counter[str]) -> float | None:
        return _pct(k["growth_now"] - k["growth_prev"], k["growth_prev"])

    def share(k: Counter[str], part: str) -> float | None:
        return _pct(k[part], k["parts_income"])

    rows = []
    for code in sorted(acc):
        poor, every = acc[code]["poor"], acc[code]["all"]
        g_poor, g_all = growth(poor), growth(every)
        rows.append(
            {
                "code": code,
                "name": county_name(code),
                "poor_persons": int(poor["persons"]),
                "poor_income": round(poor["income"] / poor["persons"]) if poor["persons"] else None,
                "all_income": round(every["income"] / every["persons"]) if every["persons"] else None,
                "poor_growth": g_poor,
                "all_growth": g_all,
                "gap": round(g_poor - g_all, 1) if g_poor is not None and g_all is not None else None,
                **{f"{p}_share": share(every, p) for p in ("wage", "business", "property", "transfer")},
                "data": "有"
                if every["growth_persons"] and every["parts_persons"]
                else ("部分" if every["growth_persons"] or every["parts_persons"] else "无"),
            }
        )
    return Table(
        "收入",
        f"{month} 农户收入（按县，名单中的户，按人口加权）",
        [
            ("name", "县（市、区）"),
            ("poor_persons", "脱贫人口"),
            ("poor_income", "脱贫人口人均纯收入(元)"),
            ("all_income", "全部农户人均纯收入(元)"),
            ("poor_growth", "脱贫人口收入增速(%)"),
            ("all_growth", "全部农户收入增速(%)"),
            ("gap", "增速差(百分点)"),
            ("wage_share", "工资性收入占比(%)"),
            ("business_share", "经营净收入占比(%)"),
            ("property_share", "财产净收入占比(%)"),
            ("transfer_share", "转移净收入占比(%)"),
            ("data", "收入数据"),
        ],
        rows,
        note=(
            "增速 = 有上年收入的户今年人均纯收入 ÷ 上年人均纯收入 − 1（按人口加权）；占比为有收入构成的户。"
            "名单未提供上年收入或收入构成的，显示为无数据。方案要求脱贫人口收入增速高于全部农户。"
        ),
    )


def tasks_table(src: Sources, month: str, as_of: date, county: str | None) -> Table:
    """The plan's task list as it stands on ``as_of``: per task begun by the month's end, how many of
    its responsible units reported it done, which are overdue, which did not report a month due."""
    _, end = month_bounds(month)
    rows = []
    for r in plan_tasks.board(src.store, as_of, county):
        t = r["task"]
        if t.start >= end:
            continue
        rows.append(
            {
                "id": t.id,
                "title": t.title,
                "period": f"{t.start} 至 {t.end}",
                "units": len(r["units"]),
                "done": r["done"],
                "overdue": "、".join(r["overdue"]),
                "unreported": "、".join(r["unreported"]),
            }
        )
    return Table(
        "重点任务调度",
        f"{month} 专项行动重点任务清单调度情况",
        [
            ("id", "序号"),
            ("title", "工作内容"),
            ("period", "完成时限"),
            ("units", "责任单位数"),
            ("done", "已完成单位"),
            ("overdue", "逾期未完成"),
            ("unreported", "未按时报送进展"),
        ],
        rows,
        note=(
            f"按 {as_of} 判断。责任单位每月报送进展，上月进展于本月{plan_tasks.REPORT_DAY}日前报送；"
            "时限已过而未报“已完成”的为逾期。市直责任单位的进展由市专项行动办公室汇总报送。"
        ),
    )


def rectifications_table(src: Sources, month: str, as_of: date, county: str | None) -> Table:
    _, end = month_bounds(month)
    rows = [
        r | {"name": county_name(r["county_code"])}
        for r in queries.rectification_counts(src.store, end, as_of, county)
    ]
    return Table(
        "督查整改",
        f"{month} 督查暗访发现问题整改情况（按县）",
        [
            ("name", "县（市、区）"),
            ("found", "发现问题"),
            ("done", "已整改"),
            ("still_open", "整改中"),
            ("overdue", "超期未整改"),
        ],
        rows,
        note=f"截至 {as_of}；发现日期在本月末之前的事项。",
    )


def definitions_table() -> Table:
    """The figures' definitions (``queries.FIGURES``) as a sheet of their own."""
    return Table(
        "指标口径",
        "指标口径（分子、分母与计入月份）",
        [("label", "指标"), ("numerator", "分子（或计数）"), ("denominator", "分母"), ("month", "计入月份")],
        [
            {
                "label": f.label,
                "numerator": f.numerator,
                "denominator": f.denominator or "—",
                "month": f.month,
            }
            for f in FIGURES.values()
        ],
    )


# ---- the report ------------------------------------------------------------------------------------
REPORT_STEPS = 10  # the sections ``monthly_report`` announces through ``step``


def monthly_report(
    src: Sources,
    month: str,
    today: date,
    county: str | None = None,
    step: Callable[[str], None] | None = None,
) -> Report:
    """The month's report; ``step`` is told as each of its ``REPORT_STEPS`` sections starts."""
    say = step or (lambda _: None)
    start, end = month_bounds(month)
    # closed (reproducible) once the 15 days of the month's last clues are over; until then the
    # clues are still being worked, and overdue is judged today
    settled = end + timedelta(days=DECIDE_DAYS)
    closed = today >= settled
    judged = min(today, end - timedelta(days=1))
    as_of = settled if closed else today
    say("部门数据 / feeds")
    feeds, reasons, received, evaluations = feeds_tables(src, month)
    say("线索 / clues")
    clues = _clues(src, start, end, county)
    warnings = [c for c in clues if c["source"] == "department_warning"]
    identification = [c for c in clues if is_identification(c)]
    say("预警规则 / rules")
    items = _warning_items(src, start, end, county)
    denominators = rule_denominators(
        {i["rule_id"] for i in items},
        src.event_types(month),
        evaluations,
        {i["rule_id"]: i["department"] for i in items},
    )
    rules = rules_table(items, denominators, month)
    say("核查处置 / screening")
    screening = screening_tables(identification, month, as_of, src.store.areas.names())
    say("线索来源 / sources")
    sources_t = sources_table(queries.items_by_source(src.store, start, end, county), month)
    say("集中排查 / campaigns")
    campaigns_t = campaigns_table(src, start, end, county, as_of)
    say("监测对象 / monitoring objects")
    monitoring, mon_head = monitoring_tables(src, month, county)
    feedback = feedback_table(items, month)
    say("问题数据 / data quality")
    problems, problem_summary, not_checked = quality_tables(src, month, county)
    income_t = income_table(src, month, county)
    tasks_t = tasks_table(src, month, as_of, county)
    rect_t = rectifications_table(src, month, as_of, county)
    say("趋势 / trend")
    trend_table = trend(src, month, county)
    say("环比 / month over month")

    prev = previous_month(month)
    p_start, p_end = month_bounds(prev)
    prev_all = _clues(src, p_start, p_end, county)
    prev_clues = [c for c in prev_all if c["source"] == "department_warning"]
    prev_items = _warning_items(src, p_start, p_end, county)
    _, _, prev_received, _ = feeds_tables(src, prev)
    prev_outcomes = Counter(c["outcome"] for c in prev_all)
    outcomes = Counter(c["outcome"] for c in clues)
    headline: list[tuple[str, Any, Any]] = [
        ("部门数据接收行数", int(received["rows_read"]), int(prev_received["rows_read"])),
        ("入库变动数据", int(received["accepted"]), int(prev_received["accepted"])),
        ("拒收行数", int(received["rejected"]), int(prev_received["rejected"])),
        ("预警线索(户)", len(warnings), len(prev_clues)),
        ("预警风险项", len(items), len(prev_items)),
        ("规则命中", sum(int(i["hits"]) for i in items), sum(int(i["hits"]) for i in prev_items)),
        (
            "农户申请与干部排查",
            sum(c["source"] in ("application", "cadre") for c in clues),
            sum(c["source"] in ("application", "cadre") for c in prev_all),
        ),
        ("线索纳入监测", outcomes["included"], prev_outcomes["included"]),
        ("监测对象(户)", int(mon_head.get("monitored_h", 0)), None),
        ("监测对象(人)", int(mon_head.get("monitored_p", 0)), None),
        ("风险已消除(户)", int(mon_head.get("eliminated_h", 0)), None),
        ("问题数据(条)", len(problems.rows), None),
        ("重点任务逾期(项)", sum(1 for r in tasks_t.rows if r["overdue"]), None),
        ("整改超期(项)", int(rect_t.total("overdue")), None),
    ]
    mom = Table(
        "环比",
        f"{month} 与 {prev} 环比",
        [("item", "指标"), ("this", month), ("prev", prev), ("delta", "增减"), ("pct", "增减(%)")],
        [
            {
                "item": k,
                "this": v,
                "prev": p if p is not None else "—",
                "delta": (v - p) if p is not None else "—",
                "pct": _pct(v - p, p) if p else "—",
            }
            for k, v, p in headline
        ],
        note="监测对象为最新名单的现状，不作环比。",
    )
    county_rows = screening[0].rows
    charts = [
        Chart(
            "各县预警线索与15天内认定",
            "stacked",
            [r["name"] or r["code"] for r in county_rows],
            {
                "15天内认定": [r["decided_in_15"] for r in county_rows],
                "其余线索": [r["received"] - r["decided_in_15"] for r in county_rows],
            },
            "条",
        ),
        Chart(
            "各部门数据入库与拒收",
            "stacked",
            feeds.column("dept"),
            {
                "入库": feeds.column("accepted"),
                "拒收": feeds.column("rejected"),
                "重复": feeds.column("duplicates"),
            },
            "行",
        ),
        Chart(
            "近6个月预警命中率",
            "line",
            trend_table.column("month"),
            {"命中率": list(trend_table.column("hit_rate"))},  # a month without data is a gap, not 0%
            "%",
            percent=True,
        ),
        Chart("各部门数据质量得分", "barh", feeds.column("dept"), {"得分": feeds.column("score")}, "分"),
        Chart(
            "线索审定结果",
            "bar",
            [OUTCOME_ZH[o] for o in OUTCOMES],
            {"户": [outcomes[o] for o in OUTCOMES]},
            "户",
        ),
    ]
    scope = county_name(county) if county else "桂林市"
    notes = [
        f"数据截至 {judged}；"
        + (
            "本月已结束，月末线索的15天期限已届满，报表可复现。"
            if closed
            else "本月线索仍在办理中（月末线索的15天期限未满），数字仍会变化。"
        ),
        f"超期按 {as_of} 判断" + ("（月末线索的15天期限届满之日）。" if closed else "（今天）。"),
        "部门数据报送按全市统计（报送不分县）。" if county else "",
        "部门数据报送取自各批次的报送记录（无论在哪台机器导入，含接口推送）。",
        "未能检查的问题规则（台账缺少相应字段）：" + "；".join(not_checked),
        "指标口径：",
        *(FIGURES[k].line() for k in FIGURES),
    ]
    return Report(
        title=f"{scope}防返贫动态监测月报（{month}）",
        period=month,
        scope=scope,
        closed=closed,
        generated_for=judged.isoformat(),
        headline=headline,
        tables=[
            mom,
            feeds,
            reasons,
            rules,
            trend_table,
            sources_t,
            *screening,
            campaigns_t,
            *monitoring,
            income_t,
            *([key_counties_table(screening[0].rows, monitoring[0].rows, month)] if county is None else []),
            feedback,
            problem_summary,
            problems,
            tasks_t,
            rect_t,
            definitions_table(),
        ],
        charts=charts,
        notes=[n for n in notes if n],
    )
