"""The pure core of the stream processor: household state, how events, roster records and screening
conclusions change it, the rule context it yields, and the alerts its hits become. No Faust, no
Kafka, no clock: driven by ``streams.driver`` for every host, it gives the same state from the same
input.

Order independence. Records of one household arrive on several topics in an order no worker
controls, so the rule context of an event depends only on the roster (applied first: see
``hold``), screening conclusions, and the event's own department's history (one topic, one
partition: its order is kept). The one rule over two departments (a job loss and a serious illness)
is a compound rule, counted per pair of facts and dated by the later one (``streams.alerting``).
Facts are kept ``KEPT_DAYS`` before the household's newest event, so a record that comes in late
within that span finds what it would have found on time. The other way round, a settlement dated
before others of its household that were judged already judges them again (``judged_again``), for
the rules over the 12-month out-of-pocket totals, which it changes: so the order of one department's
records does not change which households are flagged either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import orjson

from dixian.contract import DEPT_EVENT_ADAPTER, Dept, DeptEvent, Household
from dixian.contract.alerts import Alert, Conclusion
from dixian.contract.deadlines import Deadlines
from dixian.contract.events import (
    DisabilityCertified,
    DisabilityGradeChanged,
    JobLost,
    MedicalSettlement,
    SeriousIllnessDiagnosed,
)
from dixian.contract.vocabulary import MonitoringStatus, Outcome
from rules.catalogue import CompiledRule
from rules.conditions import Ref, walk
from rules.engine import RuleHit
from rules.facts import FactPlan, HouseholdContext, MemberContext, age_on
from rules.live import LiveCatalogue
from streams.alerting import (
    AlertDoc,
    Pair,
    Trigger,
    compound_alert,
    new_alert,
    pairs_by_window,
    single_hit,
    updated_alert,
    window_of,
)

RECENT_EVENTS_KEPT = 50
ROLLING_DAYS = 365
KEPT_DAYS = 2 * ROLLING_DAYS  # facts older than this before the newest event are forgotten
HELD_LIMIT = 200  # department events of one household waiting for its roster record
DEFAULT_DEADLINES = Deadlines()


# A roster member as the state keeps it: flags (an int, so the table value stays small and decodes
# straight from JSON).
CAN_WORK, DISABLED, ILL = 1, 2, 4


def member_flags(can_work: bool, disabled: bool, ill: bool) -> int:
    return can_work * CAN_WORK | disabled * DISABLED | ill * ILL


class HouseholdProfile(NamedTuple):
    """The roster's view of a household (national monitoring system export). A named tuple, as the
    state is (see ``HouseholdState``)."""

    type: str
    income_pc: float
    category: str = ""
    status: str = MonitoringStatus.NOT_MONITORED.value
    dibao: bool = False
    tekun: bool = False
    risk_types: tuple[str, ...] = ()
    members: Mapping[str, int] = {}  # resident ID → flags (never changed in place)

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
            members={m.member_id: member_flags(m.can_work, m.disabled, m.seriously_ill) for m in h.members},
        )


class MedicalCost(NamedTuple):
    """A medical settlement as the state keeps it: its out-of-pocket cost for the 12-month totals,
    and what judging it again needs (``judged_again``)."""

    on: date
    member_id: str | None
    fen: int  # out-of-pocket cost in fen (amounts are kept to the fen: exact)
    event_id: str
    # the settlement's other fields: visit, total cost in fen, serious illness, reported at (ISO);
    # None in a state written before format 4 (such a settlement is not judged again)
    rest: tuple[str, int, bool, str] | None = None
    fired: tuple[str, ...] = ()  # the rules over the totals that hit at this settlement

    @property
    def out_of_pocket(self) -> Decimal:
        return Decimal(self.fen) / 100


class Fact(NamedTuple):
    """A dated fact of the household that a compound rule pairs (a job loss, a diagnosis)."""

    on: date
    reported: datetime
    event_id: str
    member_id: str | None

    def trigger(self, event_type: str, dept: str) -> Trigger:
        return Trigger(self.event_id, event_type, dept, self.on, self.reported, self.member_id)


class KeptAlert:
    """One alert a household keeps: its id and window end (what the core looks at on every event),
    and its published document, as JSON text and/or parsed, each made from the other on first use.
    Most events of a household touch none of its alerts, so most states never parse them."""

    __slots__ = ("_doc", "_raw", "alert_id", "window_end")

    def __init__(self, alert_id: str, window_end: str, raw: bytes | None, doc: AlertDoc | None) -> None:
        self.alert_id = alert_id
        self.window_end = window_end  # ISO date: dates order as text
        self._raw = raw
        self._doc = doc

    @classmethod
    def of(cls, doc: AlertDoc) -> KeptAlert:
        return cls(doc["alert_id"], doc["window_end"], None, doc)

    def doc(self) -> AlertDoc:
        if self._doc is None:
            assert self._raw is not None
            self._doc = orjson.loads(self._raw)
        return self._doc

    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = orjson.dumps(self._doc)
        return self._raw


class KeptAlerts:
    """The alerts a household keeps, in the order they were first kept (immutable). Decoded from
    the table as an index (id and window end of each) and the documents' JSON texts; the entries
    are made only when an event's hits or a redelivery ask for them."""

    __slots__ = ("_entries", "_index", "_raws")

    def __init__(
        self,
        entries: tuple[KeptAlert, ...] = (),
        *,
        index: list[list[str]] | None = None,
        raws: list[bytes] | None = None,
    ) -> None:
        self._entries: tuple[KeptAlert, ...] | None = entries if index is None else None
        self._index = index
        self._raws = raws

    @classmethod
    def of(cls, docs: Iterable[AlertDoc]) -> KeptAlerts:
        return cls(tuple(KeptAlert.of(d) for d in docs))

    @property
    def entries(self) -> tuple[KeptAlert, ...]:
        if self._entries is None:
            index, raws = self._index or [], self._raws or []
            self._entries = tuple(KeptAlert(i, end, r, None) for (i, end), r in zip(index, raws, strict=True))
        return self._entries

    def encoded(self) -> tuple[list[list[str]], list[bytes]]:
        """The index and the documents' JSON texts, as the table keeps them."""
        if self._entries is None:
            return self._index or [], self._raws or []
        return [[a.alert_id, a.window_end] for a in self._entries], [a.raw() for a in self._entries]

    def docs(self) -> tuple[AlertDoc, ...]:
        return tuple(e.doc() for e in self.entries)

    def recent(self, horizon: str) -> dict[str, KeptAlert]:
        """The alerts whose window ends after ``horizon`` (an ISO date), by id."""
        return {e.alert_id: e for e in self.entries if e.window_end > horizon}

    def __len__(self) -> int:
        return len(self._entries) if self._entries is not None else len(self._index or ())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeptAlerts) and self.docs() == other.docs()

    def __hash__(self) -> int:
        return hash(tuple(e.alert_id for e in self.entries))

    def __repr__(self) -> str:
        return f"KeptAlerts({[e.alert_id for e in self.entries]!r})"


NO_ALERTS = KeptAlerts()


class HouseholdState(NamedTuple):
    """What the stream processor remembers about one household between events.

    Stored in the worker's table as the compact encoding of ``encode_state`` (a JSON array, no
    field names: a roster-only household is ~170 bytes). Alerts stay in their published JSON form
    (``alerts``), read only when a hit or a redelivery needs them.

    A named tuple (immutable): a state is decoded and built anew on every event, and a tuple is
    made from its field values in 0.2 µs, a frozen dataclass in 1.8–5.6 µs."""

    household_id: str
    village_code: str
    profile: HouseholdProfile | None = None
    events_seen: int = 0
    last_event_at: date | None = None
    # event ids already applied: makes redelivery after a crash a no-op (at-least-once input).
    recent_event_ids: tuple[str, ...] = ()
    medical_costs: tuple[MedicalCost, ...] = ()
    job_losses: tuple[Fact, ...] = ()  # 人社 job losses
    diagnoses: tuple[Fact, ...] = ()  # 卫健 serious-illness diagnoses
    disabled_members: tuple[str, ...] = ()  # from 残联 certificates
    # screening decisions override the roster's monitoring status until the next roster export
    status_override: str | None = None
    category_override: str | None = None
    conclusions_seen: tuple[str, ...] = ()
    # the latest revision of each alert whose suppression window is recent, as published
    alerts: KeptAlerts = NO_ALERTS
    # department events that came before the household's roster record (see ``hold``):
    # (department, event id, the event as JSON)
    held: tuple[tuple[str, str, str], ...] = ()

    @property
    def alert_docs(self) -> tuple[AlertDoc, ...]:
        return self.alerts.docs()

    def out_of_pocket_12m(self, as_of: date, member_id: str | None = None) -> float:
        since = as_of - timedelta(days=ROLLING_DAYS)
        fen = sum(
            c.fen
            for c in self.medical_costs
            if since < c.on <= as_of and (member_id is None or c.member_id == member_id)
        )
        return fen / 100

    def ill_members(self) -> set[str]:
        roster = {m for m, f in self.profile.members.items() if f & ILL} if self.profile else set()
        return roster | {d.member_id for d in self.diagnoses if d.member_id}


_STATE_FIELDS = HouseholdState._fields
# positional order of ``_built``; decode_state and apply_event rely on it
assert _STATE_FIELDS == (
    "household_id",
    "village_code",
    "profile",
    "events_seen",
    "last_event_at",
    "recent_event_ids",
    "medical_costs",
    "job_losses",
    "diagnoses",
    "disabled_members",
    "status_override",
    "category_override",
    "conclusions_seen",
    "alerts",
    "held",
), _STATE_FIELDS
_new_tuple = tuple.__new__


def _built(values: Iterable[Any]) -> HouseholdState:
    """A state from its field values in field order (all of them), without keyword handling."""
    state = _new_tuple(HouseholdState, values)
    if len(state) != len(_STATE_FIELDS):
        raise ValueError(f"a household state has {len(_STATE_FIELDS)} fields, not {len(state)}")
    return state


# ---- the table encoding ------------------------------------------------------------------------------
STATE_FORMAT = 4  # the first element of every encoded state; bump when the layout changes
_HEAD_END = b"\n"  # after the head, each kept alert's JSON on its own line (orjson never writes one)


class StateFormatError(ValueError):
    """A table value this code cannot read (another format version, or corrupt)."""


def _facts(facts: tuple[Fact, ...]) -> list[list[Any]]:
    return [[f.on, f.reported, f.event_id, f.member_id] for f in facts]


def encode_state(s: HouseholdState) -> bytes:
    """The table value of a household: a JSON array in field order, without the household id
    (the table key), where the kept alerts are only their ids and window ends; then each alert's
    JSON document on a line of its own, so that a state can be read without parsing them."""
    p = s.profile
    index, raws = s.alerts.encoded()
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
            p.members,
        ]
    )
    row = [
        STATE_FORMAT,
        s.village_code,
        profile,
        s.events_seen,
        s.last_event_at,
        s.recent_event_ids,
        [[c.on, c.member_id, c.fen, c.event_id, c.rest, c.fired] for c in s.medical_costs]
        if s.medical_costs
        else [],
        _facts(s.job_losses) if s.job_losses else [],
        _facts(s.diagnoses) if s.diagnoses else [],
        s.disabled_members,
        s.status_override,
        s.category_override,
        s.conclusions_seen,
        index,
        s.held,
    ]
    head = orjson.dumps(row)
    if not raws:
        # Copied: orjson returns its bytes in a 4 KiB allocation whatever their length (measured
        # with tracemalloc, orjson 3.13), and the table keeps every value: 1M households would
        # hold 4 GB. (``join`` below makes a copy of its own.)
        return bytes(memoryview(head))
    return _HEAD_END.join([head, *raws])


def holds_events(raw: bytes) -> bool:
    """Whether an encoded state holds department events (see ``hold``), without decoding it: the
    head ends with the held events."""
    head = raw.split(_HEAD_END, 1)[0]
    return bool(head) and not head.endswith(b",[]]")


_day = date.fromisoformat
_moment = datetime.fromisoformat


def _read_facts(rows: list[list[Any]]) -> tuple[Fact, ...]:
    return tuple(Fact(_day(on), _moment(rep), e, m) for on, rep, e, m in rows)


def _kept(index: list[list[str]], raws: list[bytes]) -> KeptAlerts:
    if not index and not raws:
        return NO_ALERTS
    if len(index) != len(raws):
        raise ValueError(f"{len(index)} alerts indexed, {len(raws)} kept")
    return KeptAlerts(index=index, raws=raws)


def _cost(row: list[Any]) -> MedicalCost:
    """A kept settlement from its table form (formats 2 and 3: its first four values only)."""
    on, member, fen, event_id, *more = row
    rest = more[0] if more else None
    fired = more[1] if len(more) > 1 else ()
    return MedicalCost(
        _day(on), member, fen, event_id, tuple(rest) if rest else None, tuple(fired) if fired else ()
    )


def decode_state(household_id: str, raw: bytes) -> HouseholdState:
    """A table value back as the state (format 4; format 3, whose settlements lack what judging them
    again needs; or format 2, whose alerts were whole documents inside the array)."""
    try:
        head, *raws = raw.split(_HEAD_END)
        row = orjson.loads(head)
        if not isinstance(row, list) or not row or row[0] not in (2, 3, STATE_FORMAT):
            raise StateFormatError(
                f"not a household state of format {STATE_FORMAT}: rebuild the state (replay the roster)"
            )
        (
            _,
            village,
            p,
            seen,
            last,
            recent,
            costs,
            jobs,
            diagnoses,
            disabled,
            status,
            category,
            concl,
            docs,
            held,
        ) = row
        profile = (
            None
            if p is None
            else HouseholdProfile(
                p[0],  # type
                p[3],  # income_pc
                p[1],  # category
                p[2],  # status
                bool(p[4] & 1),  # dibao
                bool(p[4] & 2),  # tekun
                tuple(p[5]),  # risk_types
                p[6],  # members
            )
        )
        return _built(
            (
                household_id,
                village,
                profile,
                seen,
                _day(last) if last else None,
                tuple(recent),
                tuple(_cost(c) for c in costs) if costs else (),
                _read_facts(jobs) if jobs else (),
                _read_facts(diagnoses) if diagnoses else (),
                tuple(disabled),
                status,
                category,
                tuple(concl),
                _kept(docs, raws) if row[0] >= 3 else KeptAlerts.of(docs),
                tuple((d, e, j) for d, e, j in held) if held else (),
            )
        )
    except StateFormatError:
        raise
    except (orjson.JSONDecodeError, ValueError, TypeError, IndexError, KeyError) as exc:
        raise StateFormatError(f"unreadable household state for {household_id}: {exc}") from exc


# ---- the roster, events and conclusions ---------------------------------------------------------------
def _add(items: tuple[str, ...], item: str | None) -> tuple[str, ...]:
    return items if item is None or item in items else (*items, item)


def apply_roster(state: HouseholdState | None, household: Household) -> HouseholdState:
    profile = HouseholdProfile.from_household(household)
    if state is None:
        return HouseholdState(
            household_id=household.household_id, village_code=household.village_code, profile=profile
        )
    # a fresh export from the national system supersedes earlier screening decisions
    return state._replace(
        profile=profile,
        village_code=household.village_code,
        status_override=None,
        category_override=None,
    )


def waiting(state: HouseholdState | None, event_id: str) -> bool:
    """Whether this event already waits in the household's state (see ``hold``): a redelivery."""
    return state is not None and any(event_id == e for _, e, _ in state.held)


def hold(state: HouseholdState | None, event: DeptEvent) -> HouseholdState | None:
    """Keep a department event (not ``waiting`` yet) of a household that has no roster record yet,
    while the roster's partition is still being read (a worker started on a backlog reads all topics
    at once): it is processed when the household's record arrives, or as an unknown household once
    the partition's roster has been read. None when the household already holds ``HELD_LIMIT``
    events."""
    if state is None:
        state = HouseholdState(household_id=event.household_id, village_code=event.village_code)
    if len(state.held) >= HELD_LIMIT:
        return None
    held = (event.dept.value, event.event_id, event.model_dump_json())
    return state._replace(held=(*state.held, held))


def released(state: HouseholdState) -> tuple[HouseholdState, list[DeptEvent]]:
    """The state without its held events, and those events in the order they came."""
    events = [DEPT_EVENT_ADAPTER.validate_json(j) for _, _, j in state.held]
    return state._replace(held=()), events


# positions in ``_STATE_FIELDS`` of what an event changes (``apply_event`` builds the new state by position)
_VILLAGE, _SEEN, _LAST, _RECENT, _COSTS, _JOBS, _DIAGNOSES, _DISABLED, _ALERTS = (
    _STATE_FIELDS.index(n)
    for n in (
        "village_code",
        "events_seen",
        "last_event_at",
        "recent_event_ids",
        "medical_costs",
        "job_losses",
        "diagnoses",
        "disabled_members",
        "alerts",
    )
)
_KEPT_SPAN = timedelta(days=KEPT_DAYS)
_FACT_EVENTS = (JobLost, SeriousIllnessDiagnosed)
_DISABILITY_EVENTS = (DisabilityCertified, DisabilityGradeChanged)


def apply_event(state: HouseholdState | None, event: DeptEvent) -> tuple[HouseholdState, bool]:
    """The state after ``event``; the flag is False when the event was already applied (a redelivery)."""
    if state is None:
        state = HouseholdState(household_id=event.household_id, village_code=event.village_code)
    event_id = event.event_id
    recent = state.recent_event_ids
    if event_id in recent:
        return state, False
    occurred = event.occurred_at
    last = state.last_event_at
    newest = occurred if last is None or occurred > last else last
    values: list[Any] = list(state)  # built by position: this runs for every event
    values[_VILLAGE] = event.village_code
    values[_SEEN] = state.events_seen + 1
    values[_LAST] = newest
    values[_RECENT] = (*recent, event_id)[-RECENT_EVENTS_KEPT:]
    if isinstance(event, MedicalSettlement):
        horizon = newest - _KEPT_SPAN
        total = int(event.total_cost * 100)
        rest = (event.visit, total, event.serious_illness, event.reported_at.isoformat())
        cost = MedicalCost(occurred, event.member_id, int(event.out_of_pocket * 100), event_id, rest)
        values[_COSTS] = (*(c for c in state.medical_costs if c.on > horizon), cost)
    elif isinstance(event, _FACT_EVENTS):
        horizon = newest - _KEPT_SPAN
        fact = Fact(occurred, event.reported_at, event_id, event.member_id)
        at, facts = (_JOBS, state.job_losses) if isinstance(event, JobLost) else (_DIAGNOSES, state.diagnoses)
        values[at] = (*(f for f in facts if f.on > horizon), fact)
    elif isinstance(event, _DISABILITY_EVENTS):
        values[_DISABLED] = _add(state.disabled_members, event.member_id)
    return _built(values), True


def _status(s: HouseholdState) -> str:
    return s.status_override or (s.profile.status if s.profile else MonitoringStatus.NOT_MONITORED.value)


def _members(s: HouseholdState) -> Mapping[str, int]:
    return s.profile.members if s.profile else {}


def _size(s: HouseholdState) -> int:
    return max(1, len(_members(s)))


def _disabled(s: HouseholdState) -> int:
    return len({m for m, f in _members(s).items() if f & DISABLED} | set(s.disabled_members))


def _job_losses_12m(s: HouseholdState, e: DeptEvent) -> int:
    # no upper bound: the compound rule pairs a job loss with a later illness too
    since = e.occurred_at - timedelta(days=ROLLING_DAYS)
    return sum(1 for f in s.job_losses if since < f.on)


# Each value of the rule context (``rules.facts.HouseholdContext`` / ``MemberContext``), computed from
# the state: the worker computes only the values the rules of the event's type read (their plan).
# 低保/特困 are as the roster records them: a 民政 grant arrives on another topic, in any order.
HOUSEHOLD_VALUES: dict[str, Callable[[HouseholdState, DeptEvent], Any]] = {
    "type": lambda s, e: s.profile.type if s.profile else "未知",
    "category": lambda s, e: s.category_override or (s.profile.category if s.profile else ""),
    "status": lambda s, e: _status(s),
    "monitored": lambda s, e: _status(s) == MonitoringStatus.MONITORED.value,
    "size": lambda s, e: _size(s),
    "workers": lambda s, e: sum(1 for f in s.profile.members.values() if f & CAN_WORK) if s.profile else 1,
    "income_pc": lambda s, e: s.profile.income_pc if s.profile else None,
    "income_total": lambda s, e: s.profile.income_pc * _size(s) if s.profile else None,
    "dibao": lambda s, e: s.profile.dibao if s.profile else False,
    "tekun": lambda s, e: s.profile.tekun if s.profile else False,
    "low_income": lambda s, e: (
        bool(s.profile and (s.profile.dibao or s.profile.tekun))
        or _status(s) == MonitoringStatus.MONITORED.value
    ),
    "ill_members": lambda s, e: len(s.ill_members()),
    "disabled_members": lambda s, e: _disabled(s),
    "oop_12m": lambda s, e: s.out_of_pocket_12m(e.occurred_at),
    "job_losses_12m": _job_losses_12m,
    "risk_count": lambda s, e: len(s.profile.risk_types) if s.profile else 0,
}
MEMBER_VALUES: dict[str, Callable[[HouseholdState, DeptEvent], Any]] = {
    "age": lambda s, e: age_on(e.member_id or "", e.occurred_at),
    "can_work": lambda s, e: bool(_members(s).get(e.member_id or "", CAN_WORK) & CAN_WORK),
    "in_roster": lambda s, e: (e.member_id or "") in _members(s),
    "oop_12m": lambda s, e: s.out_of_pocket_12m(e.occurred_at, e.member_id),
}


def context_for(state: HouseholdState, event: DeptEvent) -> tuple[HouseholdContext, MemberContext | None]:
    """The whole rule context of ``event`` in a state that already includes it."""
    household = HouseholdContext(**{n: f(state, event) for n, f in HOUSEHOLD_VALUES.items()})
    if event.member_id is None:
        return household, None
    return household, MemberContext(**{n: f(state, event) for n, f in MEMBER_VALUES.items()})


def planned_context(
    state: HouseholdState, event: DeptEvent, plan: FactPlan
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Only the context values that the rules of the event's type read."""
    household = {n: HOUSEHOLD_VALUES[n](state, event) for n in plan.household}
    if event.member_id is None:
        return household, None
    return household, {n: MEMBER_VALUES[n](state, event) for n in plan.member}


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
    return state._replace(**update), True


# ---- rules and alerts ---------------------------------------------------------------------------------
class EventOutcome(NamedTuple):
    state: HouseholdState
    applied: bool
    hits: tuple[RuleHit, ...] = ()
    # new alerts and updated revisions, to publish: as the state keeps them, so the JSON the state's
    # encoding makes of each is the record published (one serialisation per revision)
    published: tuple[KeptAlert, ...] = ()
    suppressed: int = 0  # hits that updated an open alert instead of opening one

    @property
    def alerts(self) -> tuple[AlertDoc, ...]:
        return tuple(k.doc() for k in self.published)


def _pairs(state: HouseholdState, within_days: int) -> list[Pair]:
    """Every (job loss, serious illness) pair of the household no more than ``within_days`` apart.
    An illness the roster records is undated: it pairs with every job loss, dated by the loss."""
    roster_ill = sorted(m for m, f in state.profile.members.items() if f & ILL) if state.profile else []
    out: list[Pair] = []
    for j in state.job_losses:
        job = j.trigger("employment.job_lost", "hrss")
        for m in roster_ill:
            out.append(Pair(j.on, j.reported.date(), (job,), (m,), (j.event_id,)))
        for d in state.diagnoses:
            if abs((j.on - d.on).days) < within_days:
                illness = d.trigger("health.serious_illness", "health")
                reported = max(j.reported, d.reported).date()
                out.append(
                    Pair(max(j.on, d.on), reported, (job, illness), (d.member_id or "",), (j.event_id,))
                )
    return out


def _compound_alerts(
    rule: CompiledRule,
    hit: RuleHit,
    state: HouseholdState,
    event: DeptEvent,
    kept: Mapping[str, KeptAlert],
    live: LiveCatalogue,
    deadlines: Deadlines,
) -> list[AlertDoc]:
    """The compound rule's alerts that gained pairs: each window's alert recomputed from its pairs."""
    assert rule.rule.compound is not None
    out = []
    for _, in_window in sorted(pairs_by_window(rule, _pairs(state, rule.rule.compound.within_days)).items()):
        doc = compound_alert(rule, hit, in_window, event, live.version, deadlines)
        known = kept.get(doc["alert_id"])
        if known is None or known.doc()["hits"] < doc["hits"]:
            out.append(doc)
    return out


_TOTALS = frozenset({"household.oop_12m", "member.oop_12m"})
_OVER_TOTALS: dict[str, frozenset[str]] = {}  # catalogue version → the rules that read a 12-month total


def over_totals(live: LiveCatalogue) -> frozenset[str]:
    """The active rules whose condition reads a 12-month out-of-pocket total (the ones a settlement
    dated before others can change the outcome of at those others)."""
    found = _OVER_TOTALS.get(live.version)
    if found is None:
        found = frozenset(
            r.id
            for r in live.catalogue.active
            for c in walk(r.condition)
            if c.path in _TOTALS or (isinstance(c.value, Ref) and c.value.path in _TOTALS)
        )
        if len(_OVER_TOTALS) >= 64:
            _OVER_TOTALS.clear()
        _OVER_TOTALS[live.version] = found
    return found


def _settlement(state: HouseholdState, cost: MedicalCost) -> MedicalSettlement:
    """A kept settlement as the event it was (``cost.rest`` present), to judge it again."""
    assert cost.rest is not None
    visit, total_fen, serious, reported = cost.rest
    return MedicalSettlement.model_construct(
        event_id=cost.event_id,
        dept=Dept.MEDICAL_INSURANCE,
        household_id=state.household_id,
        member_id=cost.member_id,
        village_code=state.village_code,
        occurred_at=cost.on,
        reported_at=datetime.fromisoformat(reported),
        schema_version=1,
        source_ref=None,
        visit="inpatient" if visit == "inpatient" else "outpatient",
        total_cost=Decimal(total_fen) / 100,
        out_of_pocket=Decimal(cost.fen) / 100,
        serious_illness=serious,
    )


def _later_settlements(state: HouseholdState, event: MedicalSettlement) -> list[MedicalCost]:
    """The household's other kept settlements whose 12-month totals count ``event``: dated on or
    after it, less than a year after."""
    until = event.occurred_at + timedelta(days=ROLLING_DAYS)
    return [
        c for c in state.medical_costs if c.event_id != event.event_id and event.occurred_at <= c.on < until
    ]


def judged_again(
    state: HouseholdState, event: MedicalSettlement, live: LiveCatalogue, plan: FactPlan
) -> list[tuple[MedicalSettlement, list[RuleHit]]]:
    """The household's other settlements whose 12-month totals now count ``event`` (dated on or
    after it, less than a year after), judged again in ``state``: the new hits of the rules over the
    totals at each, those that had not hit there before. Such a settlement was judged without
    ``event`` when it came first, so without this the order of one department's records would
    change which households are flagged (bench/README, session 23)."""
    rules = over_totals(live)
    if not rules:
        return []
    out = []
    for cost in _later_settlements(state, event):
        if cost.rest is None:
            continue
        again = _settlement(state, cost)
        household, member = planned_context(state, again, plan)
        hits = [
            h
            for h in live.evaluate_planned(plan, again, household, member)
            if h.rule_id in rules and h.rule_id not in cost.fired
        ]
        if hits:
            out.append((again, hits))
    return out


def _with_fired(state: HouseholdState, fired: Mapping[str, Iterable[str]]) -> HouseholdState:
    """The state with these settlements' new hits of rules over the totals recorded."""
    costs = tuple(
        c._replace(fired=tuple(sorted({*c.fired, *fired[c.event_id]}))) if c.event_id in fired else c
        for c in state.medical_costs
    )
    return state._replace(medical_costs=costs)


def process_event(
    state: HouseholdState | None,
    event: DeptEvent,
    live: LiveCatalogue,
    deadlines: Deadlines = DEFAULT_DEADLINES,
) -> EventOutcome:
    """Apply an event, evaluate the catalogue in force, and turn hits into alerts. A settlement also
    judges again the household's later settlements whose 12-month totals it changes."""
    new_state, applied = apply_event(state, event)
    if not applied:
        return EventOutcome(new_state, False)
    plan = live.plan(event.event_type_name)
    if plan is None:  # no rule in force can match: skip the context
        return EventOutcome(new_state, True)
    household, member = planned_context(new_state, event, plan)
    hits = tuple(live.evaluate_planned(plan, event, household, member))
    judged: list[tuple[DeptEvent, Iterable[RuleHit]]] = [(event, hits)] if hits else []
    if isinstance(event, MedicalSettlement):
        judged += judged_again(new_state, event, live, plan)
    if not judged:
        return EventOutcome(new_state, True)
    published: list[KeptAlert] = []
    suppressed = 0
    horizon = (event.occurred_at - timedelta(days=ROLLING_DAYS)).isoformat()  # ISO dates sort as text
    kept = new_state.alerts.recent(horizon)  # settlements judged again are later: their horizon too
    totals = over_totals(live) if isinstance(event, MedicalSettlement) else frozenset()
    fired: dict[str, list[str]] = {}
    all_hits: list[RuleHit] = []
    for judged_event, its_hits in judged:
        for hit in its_hits:
            all_hits.append(hit)
            if hit.rule_id in totals:
                fired.setdefault(judged_event.event_id, []).append(hit.rule_id)
            for doc in _alerts_of(hit, judged_event, new_state, kept, live, deadlines):
                suppressed += doc["revision"] > 1
                kept[doc["alert_id"]] = entry = KeptAlert.of(doc)
                published.append(entry)
    if fired:
        new_state = _with_fired(new_state, fired)
    values = list(new_state)
    values[_ALERTS] = KeptAlerts(tuple(kept.values()))
    new_state = _built(values)
    return EventOutcome(new_state, True, tuple(all_hits), tuple(published), suppressed)


def _alerts_of(
    hit: RuleHit,
    event: DeptEvent,
    state: HouseholdState,
    kept: Mapping[str, KeptAlert],
    live: LiveCatalogue,
    deadlines: Deadlines,
) -> list[AlertDoc]:
    """The new alerts and new revisions that one hit at ``event`` makes."""
    rule = live.catalogue.get(hit.rule_id)
    assert rule is not None
    if rule.rule.compound is not None:
        return _compound_alerts(rule, hit, state, event, kept, live, deadlines)
    one = single_hit(rule, hit, event)
    start, end = window_of(one.on, rule.rule.suppression_days)
    alert_id = Alert.make_id(event.household_id, rule.id, start, deadlines.id_key)
    known = kept.get(alert_id)
    if known is None:
        return [new_alert(one, event, live.version, deadlines, (alert_id, start, end))]
    return [updated_alert(known.doc(), one, live.version, deadlines)]


def touched_by(state: HouseholdState, event_id: str, *judged: str) -> list[KeptAlert]:
    """The current revision of every alert an (already applied) event contributed to, or one of the
    settlements it judged again (``judged_by``) did: what a redelivered event re-sends, in case its
    first sending was lost in a crash."""
    ids = {event_id, *judged}
    return [
        e for e in state.alerts.entries if any(t["event_id"] in ids for t in e.doc()["triggering_events"])
    ]


def judged_by(state: HouseholdState, event: DeptEvent) -> tuple[str, ...]:
    """The kept settlements that a settlement judges again when it arrives (``judged_again``): the
    alerts that judging made name them, not it."""
    if not isinstance(event, MedicalSettlement):
        return ()
    return tuple(c.event_id for c in _later_settlements(state, event))
