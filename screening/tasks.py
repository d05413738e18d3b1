"""The plan's task list (附件1 重点任务清单), its monthly progress reports (月调度), the supervision
groups (附件2 分组安排) and the rectification items their findings become (督查暗访 → 整改).

The tasks and groups are data (``screening/plan/*.yaml``). Each task names the city units and the
counties responsible; each responsible unit reports the task's progress once a month while it runs
(the city office for the city units, each county for itself): 已完成, 按计划推进 or 滞后, with what
was done. A month's report is due by ``REPORT_DAY`` of the month after it (the plan says "monthly"
and sets no day: this is ours). A task is *overdue* once its period has ended and a unit has not
reported it done; a unit is *unreported* for a month that ended while the task ran when its report
is past due. Findings of supervision and unannounced visits become rectification items for a county
(finding, owner, deadline), open until the county reports what it did; an open item past its
deadline is overdue. The city page (``/tasks``, ``/rectifications``) and the monthly report carry them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

from dixian.contract.vocabulary import Labelled, Role
from dixian.geo import COUNTIES, KEY_COUNTIES, county_name
from dixian.privacy import mask_free_text
from screening.auth import Actor
from screening.refusal import NotFound, Refusal

if TYPE_CHECKING:
    from screening.store import Store

REPORT_DAY = 5  # a month's progress report is due by the 5th of the next month
CITY = "city"  # the unit code of the city units (reported by the city office)
MAX_TEXT = 500


class Progress(Labelled):
    DONE = "done", "已完成"
    ON_TRACK = "on_track", "按计划推进"
    BEHIND = "behind", "滞后"


class FindingSource(Labelled):
    SUPERVISION = "supervision", "督查"
    UNANNOUNCED = "unannounced", "暗访"
    REVIEW = "review", "评估检查"


@dataclass(frozen=True)
class Task:
    id: int
    section: str
    title: str
    measures: str
    city_units: str
    counties: frozenset[str]
    start: date
    end: date
    monthly: bool = False
    note: str = ""

    @property
    def units(self) -> list[str]:
        """The responsible units: the city (when the plan names city units), then counties."""
        return ([CITY] if self.city_units else []) + sorted(self.counties)

    def months(self, until: date) -> list[str]:
        """The months of the task's period that have ended by ``until``."""
        out, m = [], self.start.replace(day=1)
        while m <= self.end and _next_month(m) <= until:
            out.append(m.strftime("%Y-%m"))
            m = _next_month(m)
        return out


@dataclass(frozen=True)
class Group:
    name: str
    county_code: str
    leader: str
    members: tuple[str, ...]


def _next_month(d: date) -> date:
    return (d.replace(day=28) + timedelta(days=4)).replace(day=1)


def _counties(value: Any) -> frozenset[str]:
    if value == "all":
        return frozenset(COUNTIES)
    if value == "key":
        return KEY_COUNTIES
    if value == "none":
        return frozenset()
    codes = frozenset(str(c) for c in value)
    unknown = sorted(codes - set(COUNTIES))
    if unknown:
        raise ValueError(f"tasks.yaml: unknown county codes {unknown}")
    return codes


def _yaml(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((resources.files("screening") / "plan" / name).read_text("utf-8"))
    return data


@cache
def tasks() -> tuple[Task, ...]:
    return tuple(
        Task(
            id=int(t["id"]),
            section=t["section"],
            title=t["title"],
            measures=t.get("measures", ""),
            city_units=t.get("city_units", ""),
            counties=_counties(t["counties"]),
            start=date.fromisoformat(str(t["from"])),
            end=date.fromisoformat(str(t["to"])),
            monthly=bool(t.get("monthly", False)),
            note=t.get("note", ""),
        )
        for t in _yaml("tasks.yaml")["tasks"]
    )


@cache
def groups() -> tuple[Group, ...]:
    out = tuple(
        Group(g["name"], str(g["county_code"]), g["leader"], tuple(g["members"]))
        for g in _yaml("groups.yaml")["groups"]
    )
    unknown = sorted({g.county_code for g in out} - set(COUNTIES))
    if unknown:
        raise ValueError(f"groups.yaml: unknown county codes {unknown}")
    return out


def task(task_id: int) -> Task:
    found = next((t for t in tasks() if t.id == task_id), None)
    if found is None:
        raise NotFound(f"重点任务清单中没有第 {task_id} 项")
    return found


def group_of(county: str) -> Group | None:
    return next((g for g in groups() if g.county_code == county), None)


def unit_name(unit: str) -> str:
    return "市直责任单位" if unit == CITY else county_name(unit)


def _unit_of(actor: Actor) -> str:
    """Who the actor reports for: the city office (operator) for the city units, a county for itself."""
    if actor.role == Role.OPERATOR:
        return CITY
    if actor.role == Role.COUNTY:
        return actor.scope
    raise Refusal("wrong_role", "重点任务进展由县级账号或市专项行动办公室（运维账号）报送")


# ---- monthly progress (月调度) ----------------------------------------------------------------------
def report_progress(store: Store, actor: Actor, task_id: int, month: str, status: str, progress: str) -> None:
    """A responsible unit's report of a task for one month (a later report of the month replaces it)."""
    unit = _unit_of(actor)
    t = task(task_id)
    if unit not in t.units:
        raise Refusal("not_responsible", f"{unit_name(unit)}不是第 {task_id} 项任务的责任单位")
    try:
        how = Progress(status)
    except ValueError:
        raise Refusal("bad_status", f"进展应为：{'、'.join(p.zh for p in Progress)}") from None
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise Refusal("bad_month", f"月份格式不对：{month}（应为 YYYY-MM）") from None
    today = store.today()
    if not (t.start.replace(day=1) <= first <= t.end) or first > today:
        raise Refusal(
            "bad_month", f"第 {task_id} 项任务的时限为 {t.start} 至 {t.end}；{month} 不在其中或尚未到来"
        )
    text = progress.strip()
    if not text:
        raise Refusal("progress_required", "请填写本月工作进展")
    if len(text) > MAX_TEXT:
        raise Refusal("too_long", f"进展不超过 {MAX_TEXT} 字")
    now = store.now().isoformat(timespec="seconds")
    with store.db.transaction():
        store.db.execute(
            "INSERT INTO task_reports (task_id, month, unit, status, progress, reported_by, reported_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (task_id, month, unit) DO UPDATE SET"
            " status = excluded.status, progress = excluded.progress, reported_by = excluded.reported_by,"
            " reported_at = excluded.reported_at",
            (task_id, month, unit, how.value, mask_free_text(text), actor.username, now),
        )


def _due(month: str) -> date:
    return _next_month(date.fromisoformat(f"{month}-01")).replace(day=REPORT_DAY)


def board(store: Store, today: date, county: str | None = None) -> list[dict[str, Any]]:
    """Every task with, per responsible unit (only ``county``'s when given), its latest report, the
    months it has not reported though due, and whether the task is overdue for it."""
    reports: dict[tuple[int, str], list[dict[str, Any]]] = {}
    # as it stood on ``today``: a closed month's sheet does not change with later reports
    later = (today + timedelta(days=1)).isoformat()
    for r in store.db.query(
        "SELECT * FROM task_reports WHERE reported_at < ? ORDER BY task_id, unit, month", (later,)
    ):
        reports.setdefault((int(r["task_id"]), r["unit"]), []).append(r)
    out = []
    for t in tasks():
        units = [u for u in t.units if county is None or u == county]
        if not units:
            continue
        rows = []
        for u in units:
            got = reports.get((t.id, u), [])
            by_month = {r["month"]: r for r in got}
            done = any(r["status"] == Progress.DONE for r in got)
            missing = (
                [m for m in t.months(today) if m not in by_month and _due(m) < today] if not done else []
            )
            latest = got[-1] if got else None
            rows.append(
                {
                    "unit": u,
                    "unit_name": unit_name(u),
                    "status": latest["status"] if latest else None,
                    "month": latest["month"] if latest else None,
                    "progress": latest["progress"] if latest else "",
                    "done": done,
                    "unreported": missing,
                    "overdue": today > t.end and not done,
                }
            )
        out.append(
            {
                "task": t,
                "units": rows,
                "overdue": [r["unit_name"] for r in rows if r["overdue"]],
                "unreported": [r["unit_name"] for r in rows if r["unreported"]],
                "done": sum(1 for r in rows if r["done"]),
            }
        )
    return out


# ---- rectification items (整改) --------------------------------------------------------------------
def _text(value: str, label: str) -> str:
    value = value.strip()
    if not value:
        raise Refusal("field_required", f"请填写{label}")
    if len(value) > MAX_TEXT:
        raise Refusal("too_long", f"{label}不超过 {MAX_TEXT} 字")
    return mask_free_text(value)


def add_rectification(
    store: Store,
    actor: Actor,
    county: str,
    source: str,
    found_on: date,
    finding: str,
    owner: str,
    deadline: date,
) -> str:
    """A supervision or unannounced-visit finding as a rectification item of ``county`` (city office)."""
    if actor.role != Role.OPERATOR:
        raise Refusal("wrong_role", "督查暗访发现的问题由市专项行动办公室（运维账号）登记")
    if county not in COUNTIES:
        raise Refusal("bad_county", f"没有这个县（市、区）：{county}")
    actor.check_area(county)
    try:
        kind = FindingSource(source)
    except ValueError:
        raise Refusal("bad_source", f"问题来源应为：{'、'.join(s.zh for s in FindingSource)}") from None
    today = store.today()
    if found_on > today:
        raise Refusal("bad_date", "发现日期不能晚于今天")
    if deadline < found_on:
        raise Refusal("bad_date", "整改期限应在发现日期之后")
    what, who = _text(finding, "发现的问题"), _text(owner, "整改责任单位或责任人")
    group = group_of(county)
    for _ in range(20):  # the county's next number; another office taking it meanwhile: the next
        with store.db.transaction():
            n = store.db.one("SELECT COUNT(*) AS n FROM rectifications WHERE county_code = ?", (county,))
            rect_id = f"zg-{county}-{int(n['n'] if n else 0) + 1:04d}"
            if store.db.execute(
                "INSERT INTO rectifications (rect_id, county_code, group_name, source, found_on, finding,"
                " owner, deadline, status, created_by, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?) ON CONFLICT (rect_id) DO NOTHING",
                (
                    rect_id, county, group.name if group else "", kind.value, found_on.isoformat(), what, who,
                    deadline.isoformat(), actor.username, store.now().isoformat(timespec="seconds"),
                ),
            ):  # fmt: skip
                return rect_id
    raise Refusal("concurrent_change", "整改事项编号冲突，请稍后再试")


def close_rectification(store: Store, actor: Actor, rect_id: str, result: str, closed_on: date) -> None:
    """The county reports what it did about an item (or the city office for it)."""
    if actor.role not in (Role.COUNTY, Role.OPERATOR):
        raise Refusal("wrong_role", "整改情况由县级账号报送")
    with store.db.transaction():
        row = store.db.one("SELECT * FROM rectifications WHERE rect_id = ?", (rect_id,))
        if row is None or not row["county_code"].startswith(actor.scope):
            raise NotFound("没有这项整改事项")  # another county's item is answered as an unknown one
        if row["status"] == "done":
            raise Refusal("already_done", f"已于 {row['closed_on']} 报送整改完成")
        if not date.fromisoformat(row["found_on"]) <= closed_on <= store.today():
            raise Refusal("bad_date", f"完成日期应在发现日期（{row['found_on']}）之后、今天之前")
        store.db.execute(
            "UPDATE rectifications SET status = 'done', result = ?, closed_on = ?, closed_by = ?"
            " WHERE rect_id = ?",
            (_text(result, "整改情况"), closed_on.isoformat(), actor.username, rect_id),
        )


def rectifications(
    store: Store, actor: Actor, today: date, status: str | None = None
) -> list[dict[str, Any]]:
    """The items in the actor's area (open first, oldest deadline first), each flagged when overdue."""
    if actor.role not in (Role.COUNTY, Role.OPERATOR):
        raise Refusal("wrong_role", "整改事项由县级和市级账号查看")
    if status not in (None, "open", "done"):
        raise Refusal("bad_status", "状态应为 open（整改中）或 done（已完成）")
    where, params = "county_code LIKE ?", [actor.scope + "%"]
    if status:
        where += " AND status = ?"
        params.append(status)
    rows = store.db.query(
        f"SELECT * FROM rectifications WHERE {where}"
        " ORDER BY CASE WHEN status = 'open' THEN 0 ELSE 1 END, deadline, rect_id",
        params,
    )
    return [
        r
        | {
            "county": county_name(r["county_code"]),
            "source_zh": FindingSource(r["source"]).zh,
            "overdue": r["status"] == "open" and date.fromisoformat(r["deadline"]) < today,
        }
        for r in rows
    ]
