"""Assistance plans (帮扶计划): due within 10 days of inclusion; measures from the national groups;
flags for a late plan and for a household monitored over a month without a development measure."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dixian.contract.vocabulary import ClueState, MonitoringStatus, Role, Step
from dixian.privacy import mask_free_text
from screening.auth import Actor
from screening.forms import measure_group
from screening.refusal import NotFound, Refusal
from screening.store import Store

DEVELOPMENT_WITHIN_DAYS = 30


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
    if not 2 <= len(description.strip()) <= 300:
        raise Refusal("description_required", "请填写帮扶措施内容（2–300字）")
    description = mask_free_text(description.strip())
    if end_on is not None and end_on < start_on:
        raise Refusal("bad_period", "措施结束日期早于开始日期")
    with store.db.transaction():
        plan = store.db.one("SELECT * FROM plans WHERE clue_id = ?", (clue_id,))
        unknown = "该线索没有帮扶计划：只有经县级审定纳入监测的农户才制定帮扶计划"
        if plan is None:
            raise NotFound(unknown)
        actor.check_record(plan["village_code"], unknown)
        row = store.db.one("SELECT COALESCE(MAX(seq), 0) AS n FROM measures WHERE clue_id = ?", (clue_id,))
        seq = int(row["n"]) + 1 if row else 1
        store.db.execute(
            "INSERT INTO measures (clue_id, seq, measure_group, development, description, start_on, end_on,"
            " recorded_by, recorded_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                clue_id,
                seq,
                g.id,
                int(g.development),
                description.strip(),
                start_on.isoformat(),
                end_on.isoformat() if end_on else None,
                actor.username,
                store.now().isoformat(timespec="seconds"),
            ),
        )
        store.clues.record_step(
            actor, clue_id, Step.PLAN_MEASURE, f"{g.label}：{description.strip()}", ClueState.CLOSED
        )
    return seq


def plan_status(plan: dict[str, Any], measures: list[dict[str, Any]], today: date) -> dict[str, Any]:
    due = date.fromisoformat(plan["due_by"])
    included = date.fromisoformat(plan["included_on"])
    development = sum(1 for m in measures if m["development"])
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
        label = f"已落实 {len(measures)} 项措施" + ("（计划晚于10天）" if late else "")
    return plan | {
        "measures": len(measures),
        "development": development,
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
    as much as those included here. Flagged; the plan is made on the household's next clue."""
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
            "late": True,
            "no_development": False,
            "no_plan": True,
            "label": "监测对象尚无帮扶计划（名单中的监测对象，请制定帮扶计划）",
        }
        for r in rows
    ]
