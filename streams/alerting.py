"""Rule hits become alerts: suppression windows, the alert documents the workers publish, and the
compound rules' pairs of facts. Pure, like ``streams.core``.

An alert is kept and published as its JSON document (the ``Alert`` model's JSON form, in the model's
field order): it is built, updated and serialised without a round trip through the model. A property
test holds every document the core builds against ``Alert``.

Order independence: windows are fixed periods, an update's content is taken from the latest hit by
event time, deadlines from the earliest report, and triggering events are kept in event-time order;
a compound rule's alert is recomputed from the pairs of facts in its window. So the same events give
the same alerts in any arrival order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from dixian.contract.alerts import Alert
from dixian.contract.deadlines import Deadlines
from dixian.contract.events import DeptEvent
from dixian.contract.ids import county_of, mask_resident_id, township_of
from dixian.contract.vocabulary import DisasterSubtype
from rules.catalogue import CompiledRule
from rules.engine import RuleHit

AlertDoc = dict[str, Any]  # an alert as published: Alert.model_dump(mode="json")
WINDOW_EPOCH = date(2021, 1, 1)  # suppression windows are consecutive N-day periods from here
TRIGGERS_KEPT = 10


_WINDOWS: dict[tuple[date, int], tuple[date, date]] = {}
_DEADLINES: dict[tuple[date, int, int], tuple[str, str]] = {}
_CACHED = 4096  # distinct days (and window lengths) in use: a month's events span a few hundred


def window_of(on: date, days: int) -> tuple[date, date]:
    """The suppression window containing ``on``: fixed periods, so the same hits give the same
    alert whatever order they are processed in (two departments' topics interleave arbitrarily)."""
    window = _WINDOWS.get((on, days))
    if window is None:  # most hits of a month fall on a few hundred days: computed once each
        start = WINDOW_EPOCH + timedelta(days=((on - WINDOW_EPOCH).days // days) * days)
        window = (start, start + timedelta(days=days))
        if len(_WINDOWS) >= _CACHED:
            _WINDOWS.clear()
        _WINDOWS[on, days] = window
    return window


def _deadlines(reported: date, deadlines: Deadlines) -> tuple[str, str]:
    """The visit and decision deadlines (ISO dates) of a clue reported on ``reported``."""
    key = (reported, deadlines.visit_days, deadlines.decide_days)
    found = _DEADLINES.get(key)
    if found is None:
        found = (
            (reported + timedelta(days=deadlines.visit_days)).isoformat(),
            (reported + timedelta(days=deadlines.decide_days)).isoformat(),
        )
        if len(_DEADLINES) >= _CACHED:
            _DEADLINES.clear()
        _DEADLINES[key] = found
    return found


class Trigger(NamedTuple):
    """An event as an alert names it (member ID masked)."""

    event_id: str
    event_type: str
    dept: str
    occurred_at: date
    reported_at: datetime
    member_id: str | None

    @staticmethod
    def of(event: DeptEvent) -> Trigger:
        return Trigger(
            event.event_id,
            event.event_type_name,
            event.dept.value,
            event.occurred_at,
            event.reported_at,
            event.member_id,
        )

    def doc(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "dept": self.dept,
            "occurred_at": self.occurred_at.isoformat(),
            "reported_at": self.reported_at.isoformat(),
            "member_masked": mask_resident_id(self.member_id) if self.member_id else None,
        }


def _order(t: Mapping[str, Any]) -> tuple[str, str]:
    return (t["occurred_at"], t["event_id"])  # ISO dates order as text


def _disaster_label(event: DeptEvent) -> str:
    subtype = DisasterSubtype(getattr(event, "disaster_type", DisasterSubtype.OTHER))
    return f"因自然灾害({subtype.zh})"


@dataclass(frozen=True, slots=True)
class _RuleFields:
    """What every alert of a rule says about the rule, read once per rule (the alert is built for
    most hits: attribute and enum lookups add up)."""

    rule_id: str
    version: int
    department: str
    title: str
    explanation: str
    risk_type: str | None
    label: str | None  # None: it depends on the event (the disaster's subtype)
    note: str  # said after the label, in brackets ("" for none)
    guarantee: str | None
    severity: str
    suppression_days: int


_RULE_FIELDS: dict[int, tuple[CompiledRule, _RuleFields]] = {}


def _fields_of(rule: CompiledRule) -> _RuleFields:
    # by identity, keeping the rule alive with its entry, so an id is never reused while cached;
    # bounded by the catalogue versions a worker takes (each a few dozen rules)
    cached = _RULE_FIELDS.get(id(rule))
    if cached is not None and cached[0] is rule:
        return cached[1]
    r = rule.rule
    fields = _RuleFields(
        r.id,
        r.version,
        r.department.value,
        r.title,
        r.explanation,
        r.risk_type,
        None if r.risk_subtype == "event.disaster_type" else r.label,
        f"({r.note})" if r.note else "",
        r.guarantee.value if r.guarantee else None,
        r.severity.value,
        r.suppression_days,
    )
    if len(_RULE_FIELDS) > 4096:
        _RULE_FIELDS.clear()
    _RULE_FIELDS[id(rule)] = (rule, fields)
    return fields


class Hit(NamedTuple):
    """One hit of a rule, ready to become or update an alert."""

    rule: CompiledRule
    on: date  # the event-time date that places it in a window
    triggers: tuple[Trigger, ...]
    reported: date  # the clue's day: deadlines run from it
    evidence: dict[str, Any]
    parameters: dict[str, float]


def new_alert(
    hit: Hit,
    event: DeptEvent,
    catalogue_version: str,
    deadlines: Deadlines,
    placed: tuple[str, date, date] | None = None,
) -> AlertDoc:
    """The first revision of an alert (``placed``: its id and window, when the caller has them)."""
    f = _fields_of(hit.rule)
    if placed is None:
        start, end = window_of(hit.on, f.suppression_days)
        placed = (Alert.make_id(event.household_id, f.rule_id, start, deadlines.id_key), start, end)
    alert_id, start, end = placed
    village = event.village_code
    visit_by, decide_by = _deadlines(hit.reported, deadlines)
    triggers = hit.triggers
    return {
        "alert_id": alert_id,
        "revision": 1,
        "household_id": event.household_id,
        "village_code": village,
        "township_code": township_of(village),
        "county_code": county_of(village),
        "rule_id": f.rule_id,
        "rule_version": f.version,
        "catalogue_version": catalogue_version,
        "department": f.department,
        "title": f.title,
        "explanation": f.explanation,
        "risk_type": f.risk_type,
        "risk_label": (_disaster_label(event) if f.label is None else f.label) + f.note,
        "guarantee": f.guarantee,
        "severity": f.severity,
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "hits": 1,
        "triggering_events": (
            [triggers[0].doc()]
            if len(triggers) == 1
            else sorted((t.doc() for t in triggers), key=_order)[-TRIGGERS_KEPT:]
        ),
        "evidence": hit.evidence,
        "parameters": hit.parameters,
        "visit_by": visit_by,
        "decide_by": decide_by,
    }


def updated_alert(
    doc: AlertDoc, hit: Hit, catalogue_version: str, deadlines: Deadlines, *, count: int = 1
) -> AlertDoc:
    """``doc`` after ``count`` more hits. The content (evidence, parameters, versions) is the latest
    hit's by event time, the deadlines run from the earliest report, the triggering events are the
    latest ``TRIGGERS_KEPT`` by event time: none of it depends on the order the hits came in."""
    triggers = {t["event_id"]: t for t in doc["triggering_events"]}
    fresh = [t.doc() for t in hit.triggers if t.event_id not in triggers]
    latest = max(doc["triggering_events"], key=_order, default=None)
    newer = bool(fresh) and (latest is None or max(map(_order, fresh)) > _order(latest))
    triggers.update((t["event_id"], t) for t in fresh)
    out = dict(doc)
    out["revision"] = doc["revision"] + count
    out["hits"] = doc["hits"] + count
    out["triggering_events"] = sorted(triggers.values(), key=_order)[-TRIGGERS_KEPT:]
    visit_by, decide_by = _deadlines(hit.reported, deadlines)
    out["visit_by"] = min(doc["visit_by"], visit_by)
    out["decide_by"] = min(doc["decide_by"], decide_by)
    if newer:
        out["evidence"] = hit.evidence
        out["parameters"] = hit.parameters
        out["rule_version"] = hit.rule.rule.version
        out["catalogue_version"] = catalogue_version
    return out


def single_hit(rule: CompiledRule, hit: RuleHit, event: DeptEvent) -> Hit:
    return Hit(
        rule, event.occurred_at, (Trigger.of(event),), event.reported_at.date(), hit.evidence, hit.parameters
    )


# ---- compound rules ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Pair:
    """Two facts a compound rule pairs; ``on`` is the later date (an undated fact counts as before)."""

    on: date
    reported: date  # the day both were known to the departments: the later report
    triggers: tuple[Trigger, ...]
    members: tuple[str, ...]  # the ill member of the pair (evidence counts distinct members)
    job_losses: tuple[str, ...]  # the job-loss event of the pair


def pairs_by_window(rule: CompiledRule, pairs: Iterable[Pair]) -> dict[date, list[Pair]]:
    days = rule.rule.suppression_days
    out: dict[date, list[Pair]] = {}
    for p in pairs:
        out.setdefault(window_of(p.on, days)[0], []).append(p)
    return out


def compound_alert(
    rule: CompiledRule,
    hit: RuleHit,
    in_window: list[Pair],
    event: DeptEvent,
    catalogue_version: str,
    deadlines: Deadlines,
) -> AlertDoc:
    """The alert of one window's pairs, recomputed from all of them: one hit (and one revision) per
    pair, evidence counting the window's facts, deadlines from the earliest pair's report — not
    from whichever record happened to complete a pair."""
    doc = new_alert(_compound_hit(rule, hit, in_window), event, catalogue_version, deadlines)
    doc["revision"] = doc["hits"] = len(in_window)
    return doc


def _compound_hit(rule: CompiledRule, hit: RuleHit, in_window: list[Pair]) -> Hit:
    latest = max(in_window, key=lambda p: (p.on, max(t.event_id for t in p.triggers)))
    triggers = {t.event_id: t for p in in_window for t in p.triggers}
    evidence = dict(hit.evidence)
    if "household.ill_members" in evidence:
        evidence["household.ill_members"] = len({m for p in in_window for m in p.members})
    if "household.job_losses_12m" in evidence:
        evidence["household.job_losses_12m"] = len({j for p in in_window for j in p.job_losses})
    return Hit(
        rule,
        latest.on,
        tuple(triggers.values()),
        min(p.reported for p in in_window),
        evidence,
        hit.parameters,
    )
