"""The pure core of the stream processor: household state, how events, roster records and screening
conclusions change it, the rule context it yields, and the alerts its hits become. No Faust, no
Kafka, no clock: driven by ``streams.driver`` for every host, it gives the same state from the same
input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import orjson

from dixian.contract import DeptEvent, Household
from dixian.contract.alerts import Alert, Conclusion, TriggeringEvent
from dixian.contract.deadlines import Deadlines
from dixian.contract.events import (
    AssistanceEnded,
    AssistanceGranted,
    DisabilityCertified,
    DisabilityGradeChanged,
    JobLost,
    MedicalSettlement,
    SeriousIllnessDiagnosed,
)
from dixian.contract.ids import county_of, mask_resident_id, township_of
from dixian.contract.vocabulary import DisasterSubtype, MonitoringStatus, Outcome
from rules.engine import RuleHit
from rules.facts import HouseholdContext, MemberContext, age_on
from rules.live import LiveCatalogue

RECENT_EVENTS_KEPT = 50
ROLLING_DAYS = 365


@dataclass(frozen=True, slots=True)
class MemberProfile:
    can_work: bool = True
    disabled: bool = False
    ill: bool = False

    def flags(self) -> int:
        return self.can_work | self.disabled << 1 | self.ill << 2

    @staticmethod
    def from_flags(flags: int) -> MemberProfile:
        return _MEMBER_BY_FLAGS[flags & 7]


_MEMBER_BY_FLAGS = tuple(MemberProfile(bool(f & 1), bool(f & 2), bool(f & 4)) for f in range(8))


@dataclass(frozen=True, slots=True)
class HouseholdProfile:
    """The roster's view of a household (national monitoring system export)."""

    type: str
    income_pc: float
    category: str = ""
    status: str = MonitoringStatus.NOT_MONITORED.value
    dibao: bool = False
    tekun: bool = False
    risk_types: tuple[str, ...] = ()
    members: Mapping[str, MemberProfile] = field(default_factory=dict)

    @classmethod
    def from_household(cls, h: Household) -> HouseholdProfile:
        return cls(
            type=h.household_type.value,
            category=h.monitoring_category.value if h.monitoring_category else "",
            status=h.monitoring_status.value,
            income_pc=float(h.per_capita_income),
            dibao=h.dibao,
            tekun=h.tekun,
            risk_types=tuple(h.risk_types),
            members={
                m.member_id: MemberProfile.from_flags(m.can_work | m.disabled << 1 | m.seriously_ill << 2)
                for m in h.members
            },
        )


@dataclass(frozen=True, slots=True)
class MedicalCost:
    on: date
    member_id: str | None
    out_of_pocket: Decimal
    event_id: str


@dataclass(frozen=True, slots=True)
class HouseholdState:
    """What the stream processor remembers about one household between events.

    Stored in the worker's table as the compact encoding of ``encode_state`` (a JSON array, no
    field names: a roster-only household is ~170 bytes). Alerts stay in their published JSON form
    (``alert_docs``) and are turned into ``Alert`` objects only when a hit or a redelivery needs
    them, so the common event — one that raises nothing — never pays for them."""

    household_id: str
    village_code: str
    profile: HouseholdProfile | None = None
    events_seen: int = 0
    last_event_at: date | None = None
    # event ids already applied: makes redelivery after a crash a no-op (at-least-once input).
    recent_event_ids: tuple[str, ...] = ()
    medical_costs: tuple[MedicalCost, ...] = ()  # rolling 12 months
    job_losses: tuple[date, ...] = ()  # rolling 12 months
    ill_members: tuple[str, ...] = ()  # from 卫健 serious-illness events
    disabled_members: tuple[str, ...] = ()  # from 残联 certificates
    assistance: tuple[str, ...] = ()  # kinds currently granted by 民政 (dibao, tekun, temporary)
    # screening decisions override the roster's monitoring status until the next roster export
    status_override: str | None = None
    category_override: str | None = None
    conclusions_seen: tuple[str, ...] = ()
    # the latest revision of each alert whose suppression window is recent, as published (JSON)
    alert_docs: tuple[dict[str, Any], ...] = ()

    def out_of_pocket_12m(self, as_of: date, member_id: str | None = None) -> Decimal:
        since = as_of - timedelta(days=ROLLING_DAYS)
        return sum(
            (
                c.out_of_pocket
                for c in self.medical_costs
                if since < c.on <= as_of and (member_id is None or c.member_id == member_id)
            ),
            Decimal(0),
        )


STATE_FORMAT = 1  # the first element of every encoded state; bump when the layout changes


class StateFormatError(ValueError):
    """A table value this code cannot read (another format version, or corrupt)."""


def encode_state(s: HouseholdState) -> bytes:
    """The table value of a household: a JSON array in field order, without the household id
    (the table key)."""
    p = s.profile
    profile = (
        None
        if p is None
        else [
            p.type,
            p.category,
            p.status,
            p.income_pc,
            p.dibao | p.tekun << 1,
            p.risk_types,
            [[m, mp.flags()] for m, mp in p.members.items()],
        ]
    )
    row = [
        STATE_FORMAT,
        s.village_code,
        profile,
        s.events_seen,
        s.last_event_at,
        s.recent_event_ids,
        [[c.on, c.member_id, str(c.out_of_pocket), c.event_id] for c in s.medical_costs],
        s.job_losses,
        s.ill_members,
        s.disabled_members,
        s.assistance,
        s.status_override,
        s.category_override,
        s.conclusions_seen,
        s.alert_docs,
    ]
    # Copied: orjson returns its bytes in a 4 KiB allocation whatever their length (measured with
    # tracemalloc, orjson 3.13), and the table keeps every value: 1M households would hold 4 GB.
    return bytes(memoryview(orjson.dumps(row)))


_day = date.fromisoformat


def decode_state(household_id: str, raw: bytes) -> HouseholdState:
    try:
        row = orjson.loads(raw)
        if not isinstance(row, list) or not row or row[0] != STATE_FORMAT:
            raise StateFormatError(f"not a household state of format {STATE_FORMAT}")
        (
            _,
            village,
            p,
            seen,
            last,
            recent,
            costs,
            jobs,
            ill,
            disabled,
            assist,
            status,
            category,
            concl,
            docs,
        ) = row
        profile = (
            None
            if p is None
            else HouseholdProfile(
                type=p[0],
                category=p[1],
                status=p[2],
                income_pc=p[3],
                dibao=bool(p[4] & 1),
                tekun=bool(p[4] & 2),
                risk_types=tuple(p[5]),
                members={m: MemberProfile.from_flags(f) for m, f in p[6]},
            )
        )
        return HouseholdState(
            household_id=household_id,
            village_code=village,
            profile=profile,
            events_seen=seen,
            last_event_at=_day(last) if last else None,
            recent_event_ids=tuple(recent),
            medical_costs=tuple(MedicalCost(_day(on), m, Decimal(v), e) for on, m, v, e in costs),
            job_losses=tuple(_day(d) for d in jobs),
            ill_members=tuple(ill),
            disabled_members=tuple(disabled),
            assistance=tuple(assist),
            status_override=status,
            category_override=category,
            conclusions_seen=tuple(concl),
            alert_docs=tuple(docs),
        )
    except StateFormatError:
        raise
    except (orjson.JSONDecodeError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise StateFormatError(f"unreadable household state for {household_id}: {exc}") from exc


def _add(items: tuple[str, ...], item: str | None) -> tuple[str, ...]:
    return items if item is None or item in items else (*items, item)


def apply_roster(state: HouseholdState | None, household: Household) -> HouseholdState:
    profile = HouseholdProfile.from_household(household)
    if state is None:
        return HouseholdState(
            household_id=household.household_id, village_code=household.village_code, profile=profile
        )
    # a fresh export from the national system supersedes earlier screening decisions
    return replace(
        state,
        profile=profile,
        village_code=household.village_code,
        status_override=None,
        category_override=None,
    )


def apply_event(state: HouseholdState | None, event: DeptEvent) -> tuple[HouseholdState, bool]:
    """The state after ``event``; the flag is False when the event was already applied (a redelivery)."""
    if state is None:
        state = HouseholdState(household_id=event.household_id, village_code=event.village_code)
    if event.event_id in state.recent_event_ids:
        return state, False
    horizon = event.occurred_at - timedelta(days=ROLLING_DAYS)
    update: dict[str, Any] = {
        "village_code": event.village_code,
        "events_seen": state.events_seen + 1,
        "last_event_at": event.occurred_at
        if state.last_event_at is None
        else max(state.last_event_at, event.occurred_at),
        "recent_event_ids": (*state.recent_event_ids, event.event_id)[-RECENT_EVENTS_KEPT:],
    }
    if isinstance(event, MedicalSettlement):
        update["medical_costs"] = (
            *(c for c in state.medical_costs if c.on > horizon),
            MedicalCost(
                on=event.occurred_at,
                member_id=event.member_id,
                out_of_pocket=event.out_of_pocket,
                event_id=event.event_id,
            ),
        )
    elif isinstance(event, JobLost):
        update["job_losses"] = (*(d for d in state.job_losses if d > horizon), event.occurred_at)
    elif isinstance(event, SeriousIllnessDiagnosed):
        update["ill_members"] = _add(state.ill_members, event.member_id)
    elif isinstance(event, DisabilityCertified | DisabilityGradeChanged):
        update["disabled_members"] = _add(state.disabled_members, event.member_id)
    elif isinstance(event, AssistanceGranted):
        update["assistance"] = _add(state.assistance, event.kind)
    elif isinstance(event, AssistanceEnded):
        update["assistance"] = tuple(k for k in state.assistance if k != event.kind)
    return replace(state, **update), True


def context_for(state: HouseholdState, event: DeptEvent) -> tuple[HouseholdContext, MemberContext | None]:
    """The rule context of ``event`` in a state that already includes it."""
    p = state.profile
    on = event.occurred_at
    members = p.members if p else {}
    ill = {m for m, mp in members.items() if mp.ill} | set(state.ill_members)
    disabled = {m for m, mp in members.items() if mp.disabled} | set(state.disabled_members)
    size = max(1, len(members))
    status = state.status_override or (p.status if p else MonitoringStatus.NOT_MONITORED.value)
    monitored = status == MonitoringStatus.MONITORED.value
    dibao = (p.dibao if p else False) or "dibao" in state.assistance
    tekun = (p.tekun if p else False) or "tekun" in state.assistance
    since = on - timedelta(days=ROLLING_DAYS)
    household = HouseholdContext(
        type=p.type if p else "未知",
        category=state.category_override or (p.category if p else ""),
        status=status,
        monitored=monitored,
        size=size,
        workers=sum(1 for mp in members.values() if mp.can_work) if p else 1,
        income_pc=p.income_pc if p else None,
        income_total=p.income_pc * size if p else None,
        dibao=dibao,
        tekun=tekun,
        low_income=dibao or tekun or monitored,
        ill_members=len(ill),
        disabled_members=len(disabled),
        oop_12m=float(state.out_of_pocket_12m(on)),
        # no upper bound: a job loss reported after this event still counts, so compound rules do
        # not depend on which department's record is processed first
        job_losses_12m=sum(1 for d in state.job_losses if since < d),
        risk_count=len(p.risk_types) if p else 0,
    )
    member = None
    if event.member_id is not None:
        mp = members.get(event.member_id)
        member = MemberContext(
            age=age_on(event.member_id, on),
            can_work=mp.can_work if mp else True,
            in_roster=mp is not None,
            oop_12m=float(state.out_of_pocket_12m(on, event.member_id)),
        )
    return household, member


# ---- screening conclusions ----------------------------------------------------------------------------
_STATUS_AFTER = {
    Outcome.INCLUDED: MonitoringStatus.MONITORED.value,
    Outcome.ALREADY_MONITORED: MonitoringStatus.MONITORED.value,
    Outcome.ROLLED_BACK: MonitoringStatus.MONITORED.value,
    Outcome.ELIMINATED: MonitoringStatus.RISK_ELIMINATED.value,
}


def apply_conclusion(state: HouseholdState | None, c: Conclusion) -> tuple[HouseholdState, bool]:
    """A county decision changes the household's monitoring status, and so later rule outcomes."""
    if state is None:
        state = HouseholdState(household_id=c.household_id, village_code=c.village_code)
    if c.conclusion_id in state.conclusions_seen:
        return state, False
    update: dict[str, Any] = {
        "conclusions_seen": (*state.conclusions_seen, c.conclusion_id)[-RECENT_EVENTS_KEPT:]
    }
    status = _STATUS_AFTER.get(c.outcome) if c.outcome else None
    if status is not None:
        update["status_override"] = status
    if c.category is not None and c.outcome is not None:
        update["category_override"] = c.category
    return replace(state, **update), True


# ---- alerts -------------------------------------------------------------------------------------------
DEFAULT_DEADLINES = Deadlines()


@dataclass(frozen=True)
class EventOutcome:
    state: HouseholdState
    applied: bool
    hits: tuple[RuleHit, ...] = ()
    alerts: tuple[Alert, ...] = ()  # new alerts and updated revisions, to publish
    suppressed: int = 0  # hits that updated an open alert instead of opening one


def _triggering(event: DeptEvent) -> TriggeringEvent:
    return TriggeringEvent(
        event_id=event.event_id,
        event_type=event.event_type_name,
        dept=event.dept.value,
        occurred_at=event.occurred_at,
        reported_at=event.reported_at,
        member_masked=mask_resident_id(event.member_id) if event.member_id else None,
    )


WINDOW_EPOCH = date(2021, 1, 1)  # suppression windows are consecutive N-day periods from here


def window_of(on: date, days: int) -> tuple[date, date]:
    """The suppression window containing ``on``: fixed periods, so the same hits give the same
    alert whatever order they are processed in (two departments' topics interleave arbitrarily)."""
    start = WINDOW_EPOCH + timedelta(days=((on - WINDOW_EPOCH).days // days) * days)
    return start, start + timedelta(days=days)


def _order(t: TriggeringEvent) -> tuple[date, str]:
    return (t.occurred_at, t.event_id)


def _alert_for(
    hit: RuleHit,
    event: DeptEvent,
    open_docs: Mapping[str, dict[str, Any]],
    live: LiveCatalogue,
    deadlines: Deadlines,
) -> tuple[Alert, bool]:
    """The new alert for ``hit``, or the open alert it updates (flag True when suppressed).

    An update's content does not depend on arrival order either: evidence and parameters are
    those of the latest event by event time, deadlines run from the earliest report, and the
    triggering events are kept in event-time order."""
    compiled = live.catalogue.get(hit.rule_id)
    assert compiled is not None
    rule = compiled.rule
    start, end = window_of(event.occurred_at, rule.suppression_days)
    alert_id = Alert.make_id(event.household_id, rule.id, start)
    doc = open_docs.get(alert_id)
    open_alert = Alert.model_validate(doc) if doc is not None else None
    trig = _triggering(event)
    clue_day = event.reported_at.date()
    visit_by = clue_day + timedelta(days=deadlines.visit_days)
    decide_by = clue_day + timedelta(days=deadlines.decide_days)
    if open_alert is not None:
        latest = max(open_alert.triggering_events, key=_order)
        newer = _order(trig) > _order(latest)
        update: dict[str, Any] = {
            "revision": open_alert.revision + 1,
            "hits": open_alert.hits + 1,
            "triggering_events": tuple(sorted((*open_alert.triggering_events, trig), key=_order)[-10:]),
            "visit_by": min(open_alert.visit_by, visit_by),
            "decide_by": min(open_alert.decide_by, decide_by),
        }
        if newer:
            update.update(
                evidence=hit.evidence,
                parameters=hit.parameters,
                rule_version=hit.version,
                catalogue_version=live.version,
            )
        return open_alert.model_copy(update=update), True
    label = rule.label
    if rule.risk_subtype == "event.disaster_type":
        subtype = DisasterSubtype(getattr(event, "disaster_type", DisasterSubtype.OTHER))
        label = f"因自然灾害({subtype.zh})"
    return Alert(
        alert_id=alert_id,
        revision=1,
        household_id=event.household_id,
        village_code=event.village_code,
        township_code=township_of(event.village_code),
        county_code=county_of(event.village_code),
        rule_id=rule.id,
        rule_version=hit.version,
        catalogue_version=live.version,
        department=rule.department.value,
        title=rule.title,
        explanation=rule.explanation,
        risk_type=rule.risk_type,
        risk_label=label + (f"({rule.note})" if rule.note else ""),
        guarantee=rule.guarantee,
        severity=rule.severity,
        window_start=start,
        window_end=end,
        hits=1,
        triggering_events=(trig,),
        evidence=hit.evidence,
        parameters=hit.parameters,
        visit_by=visit_by,
        decide_by=decide_by,
    ), False


def process_event(
    state: HouseholdState | None,
    event: DeptEvent,
    live: LiveCatalogue,
    deadlines: Deadlines = DEFAULT_DEADLINES,
) -> EventOutcome:
    """Apply an event, evaluate the catalogue in force, and turn hits into alerts."""
    new_state, applied = apply_event(state, event)
    if not applied:
        return EventOutcome(new_state, False)
    if not live.listens_to(event.event_type_name):  # no rule in force can match: skip the context
        return EventOutcome(new_state, True)
    household, member = context_for(new_state, event)
    hits = tuple(live.evaluate(event, household, member))
    if not hits:
        return EventOutcome(new_state, True)
    alerts: list[Alert] = []
    suppressed = 0
    horizon = (event.occurred_at - timedelta(days=ROLLING_DAYS)).isoformat()  # ISO dates sort as text
    kept = {d["alert_id"]: d for d in new_state.alert_docs if d["window_end"] > horizon}
    for hit in hits:
        alert, was_open = _alert_for(hit, event, kept, live, deadlines)
        suppressed += was_open
        kept[alert.alert_id] = alert.model_dump(mode="json")
        alerts.append(alert)
    return EventOutcome(
        replace(new_state, alert_docs=tuple(kept.values())), True, hits, tuple(alerts), suppressed
    )


def touched_by(state: HouseholdState, event_id: str) -> list[Alert]:
    """The current revision of every alert an (already applied) event contributed to: what a
    redelivered event re-sends, in case its first sending was lost in a crash."""
    return [
        Alert.model_validate(d)
        for d in state.alert_docs
        if any(t["event_id"] == event_id for t in d["triggering_events"])
    ]
