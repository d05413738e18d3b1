"""The pure core of the stream processor, shared by the Faust agents and the embedded runner.

Household state is a small typed record kept per household id; ``apply_event`` is the only way
it changes, so both runners produce the same state from the same events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from dixian.contract import ContractError, Dept, DeptEvent, Problem, parse_event
from dixian.contract.deadletter import DeadLetter
from dixian.contract.events import MedicalSettlement, now_china

RECENT_EVENTS_KEPT = 20
ROLLING_DAYS = 365


class MedicalCost(BaseModel):
    model_config = ConfigDict(frozen=True)
    on: date
    out_of_pocket: Decimal
    event_id: str


class HouseholdState(BaseModel):
    """What the stream processor remembers about one household between events."""

    model_config = ConfigDict(frozen=True)

    household_id: str
    village_code: str
    events_seen: int = 0
    last_event_at: date | None = None
    # event ids already applied: makes redelivery after a crash a no-op (at-least-once input).
    recent_event_ids: tuple[str, ...] = ()
    medical_costs: tuple[MedicalCost, ...] = Field(default=(), description="rolling 12 months")

    def out_of_pocket_12m(self, as_of: date) -> Decimal:
        since = as_of - timedelta(days=ROLLING_DAYS)
        return sum((c.out_of_pocket for c in self.medical_costs if since < c.on <= as_of), Decimal(0))


def apply_event(state: HouseholdState | None, event: DeptEvent) -> tuple[HouseholdState, bool]:
    """The state after ``event``; the flag is False when the event was already applied (a redelivery)."""
    if state is None:
        state = HouseholdState(household_id=event.household_id, village_code=event.village_code)
    if event.event_id in state.recent_event_ids:
        return state, False
    costs = state.medical_costs
    if isinstance(event, MedicalSettlement):
        horizon = event.occurred_at - timedelta(days=ROLLING_DAYS)
        costs = (
            *tuple(c for c in costs if c.on > horizon),
            MedicalCost(on=event.occurred_at, out_of_pocket=event.out_of_pocket, event_id=event.event_id),
        )
    last = state.last_event_at
    return (
        state.model_copy(
            update={
                "village_code": event.village_code,
                "events_seen": state.events_seen + 1,
                "last_event_at": event.occurred_at if last is None else max(last, event.occurred_at),
                "recent_event_ids": (*state.recent_event_ids, event.event_id)[-RECENT_EVENTS_KEPT:],
                "medical_costs": costs,
            }
        ),
        True,
    )


@dataclass(frozen=True, slots=True)
class Intake:
    """The outcome of reading one record off a department topic: an event or a dead letter."""

    event: DeptEvent | None
    dead_letter: DeadLetter | None


def intake(raw: bytes, dept: Dept) -> Intake:
    """Decode and validate a record from ``dept.<dept>``: records are re-validated on the stream
    because any producer with access can write to a department topic."""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        problems = [Problem("(record)", "not_json", "不是有效的JSON", f"not valid JSON: {exc}")]
    else:
        if not isinstance(data, Mapping):
            problems = [Problem("(record)", "not_object", "记录不是JSON对象", "record is not a JSON object")]
        else:
            try:
                return Intake(parse_event(data, dept=dept), None)
            except ContractError as exc:
                problems = exc.problems
    text = raw.decode("utf-8", errors="replace")
    letter = DeadLetter.from_problems(problems, source="stream", dept=dept.value, raw=text, at=now_china())
    return Intake(None, letter)
