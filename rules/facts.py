"""The fact a rule sees: one flat mapping built from an event, its household's context and the
parameters in force for the household's region on the event's date.

Keys (what rule conditions may name, as ``event.x`` / ``household.x`` / ``member.x`` / ``param.x``)::

    event_type, id                      the event type; a unique fact id (engine bookkeeping)
    e_<field>                           the event's own fields (amounts as numbers)
    hh_<field>                          HouseholdContext below
    m_<field>                           MemberContext below (absent for household-level events)
    p_<name>                            parameters (rules/params)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any, Literal, get_args, get_origin

from dixian.contract import MODEL_BY_TYPE, EventBase

FieldKind = Literal["number", "bool", "string"]


@dataclass(frozen=True, slots=True)
class HouseholdContext:
    """What the stream processor knows about a household when one of its events arrives."""

    type: str = "一般农户"  # 脱贫户 / 一般农户 / 未知 (not in the roster yet)
    category: str = ""  # 脱贫不稳定户 / 边缘易致贫户 / 突发严重困难户 / ""
    status: str = "未纳入"  # 未纳入 / 监测中 / 风险已消除
    monitored: bool = False  # status == 监测中
    size: int = 3
    workers: int = 2  # members able to work
    income_pc: float | None = 12000.0  # annual per-capita net income (yuan); None = not known
    income_total: float | None = 36000.0
    dibao: bool = False
    tekun: bool = False
    low_income: bool = False  # 低保, 特困 or under monitoring
    ill_members: int = 0  # seriously ill members (roster + health events)
    disabled_members: int = 0
    oop_12m: float = 0.0  # out-of-pocket medical cost of the household, 12 months incl. this event
    job_losses_12m: int = 0  # job losses in the household in the 12 months before this event, or after it
    risk_count: int = 0  # risk types recorded for the household


@dataclass(frozen=True, slots=True)
class MemberContext:
    """The member an event concerns (member-level events only)."""

    age: int = 40  # on the event's date, from the resident ID's birth date
    can_work: bool = True
    in_roster: bool = True
    oop_12m: float = 0.0  # this member's out-of-pocket medical cost, 12 months incl. this event


def _kind(annotation: Any) -> tuple[FieldKind, tuple[Any, ...]]:
    """The comparison kind of a field and, for Literal fields, its allowed values."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Literal:
        return "string", args
    if annotation is bool:
        return "bool", ()
    if annotation in (int, float, Decimal):
        return "number", ()
    if args:  # Annotated[...] or X | None
        non_none = [a for a in args if a is not type(None)]
        if get_origin(annotation) is not None and non_none:
            return _kind(non_none[0])
    return "string", ()


def _context_schema() -> dict[str, tuple[FieldKind, tuple[Any, ...]]]:
    out: dict[str, tuple[FieldKind, tuple[Any, ...]]] = {}
    for prefix, cls in (("household", HouseholdContext), ("member", MemberContext)):
        for f in fields(cls):
            base = str(f.type).removesuffix(" | None")
            kind: FieldKind = "bool" if base == "bool" else "number" if base in ("int", "float") else "string"
            out[f"{prefix}.{f.name}"] = (kind, ())
    return out


CONTEXT_SCHEMA = _context_schema()
_ENVELOPE_SKIP = {"event_id", "dept", "schema_version", "reported_at", "source_ref", "event_type"}


def event_schema(event_type: str) -> dict[str, tuple[FieldKind, tuple[Any, ...]]]:
    """``event.<field>`` → (kind, allowed values) for one event type."""
    model = MODEL_BY_TYPE[event_type]
    out: dict[str, tuple[FieldKind, tuple[Any, ...]]] = {}
    for name, info in model.model_fields.items():
        if name in _ENVELOPE_SKIP:
            continue
        out[f"event.{name}"] = _kind(info.annotation)
    return out


def fact_key(path: str) -> str:
    """``event.out_of_pocket`` → ``e_out_of_pocket`` (the flat key in the fact)."""
    ns, _, name = path.partition(".")
    return {"event": "e_", "household": "hh_", "member": "m_", "param": "p_"}[ns] + name


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


@dataclass(frozen=True, slots=True)
class _Shape:
    """(attribute, fact key) pairs to copy into a fact, for one event class and key set."""

    event_type: str
    event: tuple[tuple[str, str], ...]
    household: tuple[tuple[str, str], ...]
    member: tuple[tuple[str, str], ...]


_SHAPES: dict[tuple[type[EventBase], frozenset[str] | None], _Shape] = {}


def _shape(cls: type[EventBase], keys: frozenset[str] | None) -> _Shape:
    shape = _SHAPES.get((cls, keys))
    if shape is None:

        def wanted(key: str) -> bool:
            return keys is None or key in keys

        shape = _SHAPES[(cls, keys)] = _Shape(
            cls.model_fields["event_type"].default,
            tuple((n, "e_" + n) for n in cls.model_fields if n not in _ENVELOPE_SKIP and wanted("e_" + n)),
            tuple((f.name, "hh_" + f.name) for f in fields(HouseholdContext) if wanted("hh_" + f.name)),
            tuple((f.name, "m_" + f.name) for f in fields(MemberContext) if wanted("m_" + f.name)),
        )
    return shape


@dataclass(frozen=True, slots=True)
class FactPlan:
    """What the facts of one event type must hold for the rules that listen to it: which event
    fields, which household and member context values, which parameters. A fact holds only these
    (a comparison on an absent key is false either way), and a stream processor computes only the
    context values named here."""

    event_type: str
    event: tuple[tuple[str, str], ...]  # (field, fact key)
    household: tuple[str, ...]  # HouseholdContext field names
    member: tuple[str, ...]  # MemberContext field names
    params: tuple[str, ...]

    @staticmethod
    def of(event_type: str, keys: frozenset[str]) -> FactPlan:
        cls = MODEL_BY_TYPE[event_type]
        return FactPlan(
            event_type,
            tuple((n, "e_" + n) for n in cls.model_fields if n not in _ENVELOPE_SKIP and "e_" + n in keys),
            tuple(f.name for f in fields(HouseholdContext) if "hh_" + f.name in keys),
            tuple(f.name for f in fields(MemberContext) if "m_" + f.name in keys),
            tuple(sorted(k.removeprefix("p_") for k in keys if k.startswith("p_"))),
        )

    def fact(
        self,
        event: EventBase,
        household: Mapping[str, Any],
        member: Mapping[str, Any] | None,
        params: Mapping[str, float],
    ) -> dict[str, Any]:
        """The fact (without its id): an unknown context value (None) stays absent."""
        fact: dict[str, Any] = {"event_type": self.event_type}
        for name, key in self.event:
            value = getattr(event, name)
            if value is not None:
                fact[key] = _plain(value)
        for name in self.household:
            value = household[name]
            if value is not None:
                fact["hh_" + name] = value
        if member is not None:
            for name in self.member:
                fact["m_" + name] = member[name]
        for name in self.params:
            value = params.get(name)
            if value is not None:
                fact["p_" + name] = value
        return fact


def context_values(context: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The named fields of a ``HouseholdContext`` or ``MemberContext``, as a plan reads them."""
    return {n: getattr(context, n) for n in names}


def build_fact(
    event: EventBase,
    household: HouseholdContext,
    member: MemberContext | None,
    params: dict[str, float],
    fact_id: int,
    keys: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The fact for one event; with ``keys``, only those keys (the ones the rules in force read:
    a comparison on an absent key is false either way, so the outcome is the same)."""
    shape = _shape(type(event), keys)
    fact: dict[str, Any] = {"id": fact_id, "event_type": shape.event_type}
    for name, key in shape.event:
        value = getattr(event, name)
        if value is not None:
            fact[key] = _plain(value)
    for name, key in shape.household:
        value = getattr(household, name)
        if value is not None:  # unknown stays absent, and a comparison on it is false
            fact[key] = value
    if member is not None:
        for name, key in shape.member:
            fact[key] = getattr(member, name)
    for name, value in params.items():
        key = "p_" + name
        if keys is None or key in keys:
            fact[key] = value
    return fact


def age_on(resident_id: str, on: date) -> int:
    born = date(int(resident_id[6:10]), int(resident_id[10:12]), int(resident_id[12:14]))
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
