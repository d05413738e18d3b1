"""The county's decisions made public and told to each household (县级审定公告, 入户告知).

The announcement lists the households a county decided on in a period — householder, household size,
township and village, the decision (纳入监测对象 with its category, 风险消除, 回退) and its date — and
nothing private: no household number, ID, phone, bank account or reason. Each decided household is
then told by its village (date, by whom, how); a decision not told within ``NOTIFY_DAYS`` is flagged."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from dixian.contract.deadlines import NOTIFY_DAYS
from dixian.contract.vocabulary import ClueState, NotifyMethod, Outcome, Role, Step
from dixian.privacy import mask_free_text
from screening.auth import Actor
from screening.refusal import Refusal
from screening.store import Store

ANNOUNCED = (Outcome.INCLUDED, Outcome.ELIMINATED, Outcome.ROLLED_BACK)


def _decision(outcome: str, category: str | None) -> str:
    zh = Outcome(outcome).zh
    return f"{zh}（{category}）" if outcome == Outcome.INCLUDED and category else zh


def announcement(
    store: Store, actor: Actor, county_code: str, period_from: date, period_to: date
) -> list[dict[str, Any]]:
    """The county's announced decisions in ``[period_from, period_to]``, by township and village."""
    actor.check_area(county_code)
    if period_to < period_from:
        raise Refusal("bad_period", "公告结束日期早于开始日期")
    marks = ",".join("?" * len(ANNOUNCED))
    rows = store.db.query(
        "SELECT c.village_code, c.township_code, c.outcome, c.category, c.decided_at, h.head_name, h.persons"
        " FROM clues c LEFT JOIN households h ON h.household_id = c.household_id"
        f" WHERE c.county_code = ? AND c.outcome IN ({marks}) AND c.decided_at >= ? AND c.decided_at < ?"
        " ORDER BY c.township_code, c.village_code, c.decided_at, c.clue_id",
        [
            county_code,
            *(o.value for o in ANNOUNCED),
            period_from.isoformat(),
            (period_to + timedelta(days=1)).isoformat(),
        ],
    )
    return [
        {
            "township": store.areas.name(r["township_code"]) or r["township_code"],
            "village": store.areas.name(r["village_code"]) or r["village_code"],
            "head_name": r["head_name"] or "（名单未载户主姓名）",
            "persons": r["persons"] or "",
            "decision": _decision(r["outcome"], r["category"]),
            "decided_on": r["decided_at"][:10],
        }
        for r in rows
    ]


def notify(store: Store, actor: Actor, clue_id: str, notified_on: date, method: str, note: str = "") -> None:
    """Record that the household was told of the county's decision on its clue (village accounts)."""
    if actor.role != Role.VILLAGE:
        raise Refusal("wrong_role", "入户告知由村级账号登记")
    try:
        how = NotifyMethod(method)
    except ValueError:
        raise Refusal("bad_method", f"告知方式应为：{'、'.join(m.zh for m in NotifyMethod)}") from None
    with store.db.transaction():
        row = store.clues.row_in_scope(actor, clue_id)
        if row["state"] != ClueState.CLOSED or row["outcome"] is None or row["decided_at"] is None:
            raise Refusal("not_decided", "县级审定后才能登记入户告知")
        if row["notified_on"]:
            raise Refusal("already_notified", f"已于 {row['notified_on']} 登记告知")
        decided = date.fromisoformat(row["decided_at"][:10])
        if not decided <= notified_on <= store.today():
            raise Refusal("bad_date", f"告知日期应在审定日期（{decided}）之后、今天之前")
        text = f"{how.zh}：{mask_free_text(note.strip())}" if note.strip() else how.zh
        cols = {
            "notified_on": notified_on.isoformat(),
            "notified_by": actor.username,
            "notify_method": how.value,
        }
        store.clues.append_step(actor, row, cols, Step.NOTIFY, row["state"], text)


def unnotified(store: Store, actor: Actor) -> list[dict[str, Any]]:
    """Decided households in the actor's area not told yet, the longest waiting first; flagged
    ``late`` after ``NOTIFY_DAYS``."""
    today = store.today()
    rows = store.db.query(
        "SELECT c.clue_id, c.household_id, c.village_code, c.outcome, c.category, c.decided_at, h.head_name"
        " FROM clues c LEFT JOIN households h ON h.household_id = c.household_id"
        " WHERE c.village_code LIKE ? AND c.state = ? AND c.outcome IS NOT NULL AND c.decided_at IS NOT NULL"
        " AND c.notified_on IS NULL ORDER BY c.decided_at, c.clue_id",
        (actor.scope + "%", ClueState.CLOSED.value),
    )
    out = []
    for r in rows:
        waiting = (today - date.fromisoformat(r["decided_at"][:10])).days
        out.append(
            {
                "clue_id": r["clue_id"],
                "household_id": r["household_id"],
                "village_code": r["village_code"],
                "head_name": r["head_name"] or "",
                "decision": _decision(r["outcome"], r["category"]),
                "decided_on": r["decided_at"][:10],
                "waiting_days": waiting,
                "late": waiting > NOTIFY_DAYS,
            }
        )
    return out
