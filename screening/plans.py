"""Assistance plans (帮扶计划): due within 10 days of inclusion; measures from the national groups;
flags for a late plan and for a household monitored over a month without a development measure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from dixian.contract.vocabulary import ClueState, MeasureStatus, MonitoringStatus, Role, Step
from dixian.privacy import mask_free_text
from screening.auth import Actor
from screening.forms import measure_group
from screening.refusal import NotFound, Refusal
from screening.store import Store

DEVELOPMENT_WITHIN_DAYS = 30


_NO_PLAN = "该线索没有帮扶计划：只有经县级审定纳入监测的农户才制定帮扶计划"


def _text(value: str, label: str, code: str) -> str:
    text = value.strip()
    if not 2 <= len(text) <= 300:
        raise Refusal(code, f"请填写{label}（2–300字）")
    return mask_free_text(text)


def _plan_of(store: Store, actor: Actor, clue_id: str) -> dict[str, Any]:
    """The clue's plan if the (village) actor may write it; an unknown plan and one outside the scope
    answer alike."""
    if actor.role != Role.VILLAGE:
        raise Refusal("wrong_role", "帮扶措施由村级账号登记")
    plan = store.db.one("SELECT * FROM plans WHERE clue_id = ?", (clue_id,))
    if plan is None:
        raise NotFound(_NO_PLAN)
    actor.check_record(plan["village_code"], _NO_PLAN)
    return plan


def add_measure(
    store: Store,
    actor: Actor,
    clue_id: str,
    group: str,
    description: str,
    start_on: date,
    end_on: date | None = None,
) -> int:
    """Record a measure of the household's plan; published like every step. Returns its number."""
    g = measure_group(group)
    if actor.role != Role.VILLAGE:
        raise Refusal("wrong_role", "帮扶措施由村级账号登记")
    description = _text(description, "帮扶措施内容", "description_required")
    if end_on is not None and end_on < start_on:
        raise Refusal("bad_period", "措施结束日期早于开始日期")
    with store.db.transaction():
        _plan_of(store, actor, clue_id)
        row = store.db.one("SELECT COALESCE(MAX(seq), 0) AS n FROM measures WHERE clue_id = ?", (clue_id,))
        seq = int(row["n"]) + 1 if row else 1
        store.db.execute(
            "INSERT INTO measures (clue_id, seq, measure_group, development, description, start_on, end_on,"
            " recorded_by, recorded_at, status) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                clue_id,
                seq,
                g.id,
                int(g.development),
                description,
                start_on.isoformat(),
                end_on.isoformat() if end_on else None,
                actor.username,
                store.now().isoformat(timespec="seconds"),
                MeasureStatus.ACTIVE.value,
            ),
        )
        store.clues.record_step(
            actor, clue_id, Step.PLAN_MEASURE, f"{g.label}：{description}", ClueState.CLOSED
        )
    return seq


@dataclass(frozen=True)
class MeasureChange:
    """What the village officer changes on a running measure: ``status`` active keeps it running
    (with a new description and/or planned end); done or stopped closes it with its ``result``."""

    status: str
    description: str | None = None
    end_on: date | None = None
    result: str = ""
    closed_on: date | None = None


def update_measure(store: Store, actor: Actor, clue_id: str, seq: int, change: MeasureChange) -> str:
    """Update a running measure or close it with its result; published like every step. A closed
    measure is final (a new measure is added instead). Returns the new status."""
    try:
        status = MeasureStatus(change.status)
    except ValueError:
        raise Refusal("bad_status", f"措施状态应为：{'、'.join(s.zh for s in MeasureStatus)}") from None
    with store.db.transaction():
        _plan_of(store, actor, clue_id)
        m = store.db.one("SELECT * FROM measures WHERE clue_id = ? AND seq = ?", (clue_id, seq))
        if m is None:
            raise NotFound(f"该帮扶计划没有第 {seq} 项措施")
        if m["status"] != MeasureStatus.ACTIVE:
            raise Refusal(
                "measure_closed",
                f"第 {seq} 项措施已{MeasureStatus(m['status']).zh}，不能再修改；如需继续帮扶请登记新措施",
            )
        start_on = date.fromisoformat(m["start_on"])
        label = measure_group(m["measure_group"]).label
        now = store.now().isoformat(timespec="seconds")
        if status == MeasureStatus.ACTIVE:
            description = (
                _text(change.description, "帮扶措施内容", "description_required")
                if change.description is not None
                else m["description"]
            )
            end_on = change.end_on.isoformat() if change.end_on else m["end_on"]
            if end_on is not None and date.fromisoformat(end_on) < start_on:
                raise Refusal("bad_period", "措施结束日期早于开始日期")
            if (description, end_on) == (m["description"], m["end_on"]):
                raise Refusal("nothing_changed", "没有修改任何内容：请修改措施内容或计划结束日期")
            store.db.execute(
                "UPDATE measures SET description = ?, end_on = ?, updated_by = ?, updated_at = ?"
                " WHERE clue_id = ? AND seq = ?",
                (description, end_on, actor.username, now, clue_id, seq),
            )
            until = f"，计划至 {end_on}" if end_on else ""
            note, step = f"第 {seq} 项 {label}：{description}{until}", Step.MEASURE_UPDATE
        else:
            result = _text(change.result, "帮扶成效或终止原因", "result_required")
            closed_on = change.closed_on or store.today()
            if closed_on < start_on or closed_on > store.today():
                raise Refusal("bad_period", f"结项日期应在措施开始（{start_on}）之后、今天之前")
            store.db.execute(
                "UPDATE measures SET status = ?, result = ?, closed_on = ?, updated_by = ?, updated_at = ?"
                " WHERE clue_id = ? AND seq = ?",
                (status.value, result, closed_on.isoformat(), actor.username, now, clue_id, seq),
            )
            note, step = f"第 {seq} 项 {label}{status.zh}（{closed_on}）：{result}", Step.MEASURE_CLOSE
        store.clues.record_step(actor, clue_id, step, note, ClueState.CLOSED)
    return status.value


def plan_status(plan: dict[str, Any], measures: list[dict[str, Any]], today: date) -> dict[str, Any]:
    due = date.fromisoformat(plan["due_by"])
    included = date.fromisoformat(plan["included_on"])
    # a stopped measure no longer counts as the household's development measure
    development = sum(1 for m in measures if m["development"] and m["status"] != MeasureStatus.STOPPED)
    done = sum(1 for m in measures if m["status"] == MeasureStatus.DONE)
    active = sum(1 for m in measures if m["status"] == MeasureStatus.ACTIVE)
    first = min((date.fromisoformat(m["recorded_at"][:10]) for m in measures), default=None)
    late = (first is None and today > due) or (first is not None and first > due)
    no_dev = development == 0 and today > included + timedelta(days=DEVELOPMENT_WITHIN_DAYS)
    if not measures:
        label = (
            f"帮扶计划已超期 {(today - due).days} 天"
            if today > due
            else f"帮扶计划剩 {(due - today).days} 天"
        )
    else:
        label = f"已落实 {len(measures)} 项措施：实施中 {active} 项，已完成 {done} 项" + (
            "（计划晚于10天）" if late else ""
        )
    return plan | {
        "measures": len(measures),
        "development": development,
        "active": active,
        "done": done,
        "late": late,
        "no_development": no_dev,
        "label": label,
    }


def plan_for(store: Store, actor: Actor, clue_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    plan = store.db.one("SELECT * FROM plans WHERE clue_id = ?", (clue_id,))
    if plan is None or not actor.covers(plan["village_code"]):
        return None
    measures = store.db.query("SELECT * FROM measures WHERE clue_id = ? ORDER BY seq", (clue_id,))
    return plan_status(plan, measures, store.today()), measures


def plans(store: Store, actor: Actor) -> list[dict[str, Any]]:
    """Plans in the actor's area, flagged ones first."""
    rows = store.db.query(
        "SELECT * FROM plans WHERE village_code LIKE ? ORDER BY due_by, clue_id", (actor.scope + "%",)
    )
    measures: dict[str, list[dict[str, Any]]] = {}
    for m in store.db.query(
        "SELECT m.* FROM measures m JOIN plans p ON p.clue_id = m.clue_id WHERE p.village_code LIKE ?",
        (actor.scope + "%",),
    ):
        measures.setdefault(m["clue_id"], []).append(m)
    today = store.today()
    out = [plan_status(p, measures.get(p["clue_id"], []), today) for p in rows]
    out += unplanned(store, actor)
    return sorted(out, key=lambda p: (not (p["late"] or p["no_development"]), p["due_by"], p["household_id"]))


def unplanned(store: Store, actor: Actor) -> list[dict[str, Any]]:
    """Monitoring objects of the ledger in the actor's area with no assistance plan: those that came
    in with the roster (identified before this system, or in the national system directly) need one
    as much as those included here. Flagged; the plan opens when the county decides the household's
    next case (an officer's clue or a campaign visit) as 已是监测对象."""
    rows = store.db.query(
        "SELECT h.household_id, h.village_code, h.category, h.updated_at FROM households h"
        " WHERE h.village_code LIKE ? AND h.status = ?"
        " AND NOT EXISTS (SELECT 1 FROM plans p WHERE p.household_id = h.household_id)"
        " ORDER BY h.village_code, h.household_id",
        (actor.scope + "%", MonitoringStatus.MONITORED.value),
    )
    return [
        {
            "clue_id": None,
            "household_id": r["household_id"],
            "village_code": r["village_code"],
            "county_code": r["village_code"][:6],
            "category": r["category"],
            "included_on": None,
            "due_by": "",
            "measures": 0,
            "development": 0,
            "active": 0,
            "done": 0,
            "late": True,
            "no_development": False,
            "no_plan": True,
            "label": (
                "名单中的监测对象尚无帮扶计划：请登记一条线索（或在集中排查中走访），"
                "县级审定“已是监测对象”后即建立帮扶计划"
            ),
        }
        for r in rows
    ]
