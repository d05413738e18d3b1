"""Rule evaluation with durable_rules, driven through its C API.

Why not ``durable.lang`` / ``durable.engine.Host`` (facts measured on durable_rules 2.0.28):
- ``post()`` fires at most one rule per event: we ``assert_fact`` then ``retract_fact``, and run
  every action the engine schedules for that fact, so every matching rule fires;
- the Host starts background dispatcher threads and can never unregister a ruleset: we call the C
  module ourselves, single-threaded, and ``delete_ruleset`` the previous catalogue version after a
  switch, so memory stays bounded across hot reloads;
- facts are identified by content unless they carry an ``id``: every fact gets a fresh id and is
  retracted after evaluation, so nothing accumulates and distinct facts never collide;
- one state context (no session per household: at most 1,024 may live); household state is kept
  outside the engine, in the stream processor's tables;
- ``delete_ruleset`` leaves the session state behind (~0.4 MiB per catalogue version once a fact
  was asserted, measured). ``delete_state`` would free it but is unsafe: durable_rules'
  ``deleteStateNode`` frees the beta and connector state before walking the message index with
  ``deleteMessage`` (use after free; seen as intermittent SIGSEGV/SIGABRT here). So workers create
  exactly one ruleset per catalogue version (see ``rules.live``) and the residue stays bounded by
  the number of versions published while a worker runs.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

import durable_rules_engine as dre
import orjson

from dixian.contract import EventBase
from rules.catalogue import Catalogue, CompiledRule
from rules.compile import compile_rule
from rules.conditions import Ref, params_used, walk
from rules.facts import FactPlan, HouseholdContext, MemberContext, context_values, fact_key

_NOT_HANDLED = 1  # durable: no rule matched the fact
_OBSERVED = 2
_NO_ACTION = 3


class EngineError(RuntimeError):
    """durable_rules refused a ruleset or a fact."""


def _number(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EngineError(f"a fact value is not a finite number: {value!r}")
        text = repr(value)
        # durable_rules' JSON parser rejects exponents (1e-05, 1e+16): write plain decimals.
        return format(Decimal(text), "f") if "e" in text or "E" in text else text
    return json.dumps(value, ensure_ascii=False)


def fact_json(fact: dict[str, Any]) -> str:
    """The fact as JSON that durable_rules accepts (a flat object). orjson, except where it would
    write what durable_rules refuses: an exponent (|x| < 1e-4 or ≥ 1e16; durable_rules rejects
    exponents) or a non-finite float (orjson writes null)."""
    plain = True
    for v in fact.values():
        if type(v) is float and (math.isnan(v) or (v != 0.0 and not 1e-4 <= abs(v) < 1e16)):
            plain = False
            break
    if plain:
        return orjson.dumps(fact).decode()
    return "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_number(v)}" for k, v in fact.items()) + "}"


class RuleHit(NamedTuple):
    rule_id: str
    version: int
    parameters: dict[str, float]  # the parameter values the decision used
    evidence: dict[str, Any]  # the fact values the condition looked at, by path


@dataclass(frozen=True)
class _RuleInfo:
    rule: CompiledRule
    params: tuple[str, ...]
    evidence: tuple[tuple[str, str], ...]  # (path, fact key)


def _info(r: CompiledRule) -> _RuleInfo:
    paths: list[str] = []
    for c in walk(r.condition):
        paths.append(c.path)
        if isinstance(c.value, Ref):
            paths.append(c.value.path)
            if isinstance(c.value.times, str):
                paths.append(c.value.times)
    unique = [p for p in dict.fromkeys(paths) if not p.startswith("param.")]
    return _RuleInfo(r, tuple(sorted(params_used(r.condition))), tuple((p, fact_key(p)) for p in unique))


def _delete(handle: int) -> None:
    dre.delete_ruleset(handle)


class RuleEngine:
    """The active rules of one catalogue version, compiled into one durable_rules ruleset."""

    _names = itertools.count()

    def __init__(self, catalogue: Catalogue, *, states: tuple[str, ...] = ("active",)) -> None:
        self.states = states
        self._handle: int | None = None
        self.event_types: frozenset[str] = frozenset()
        self._ids = itertools.count(1)
        self.catalogue = catalogue
        self._rules: dict[str, _RuleInfo] = {}
        self._plans: dict[str, FactPlan] = {}
        self._install(catalogue)

    def _install(self, catalogue: Catalogue) -> None:
        active = [r for r in catalogue.rules if r.rule.state in self.states]
        definition = {r.id: compile_rule(r.rule.event_types, r.condition) for r in active}
        handle = None
        if definition:
            name = f"dixian-{catalogue.version}-{next(self._names)}"
            try:
                handle = dre.create_ruleset(name, json.dumps(definition, ensure_ascii=False))
            except Exception as exc:  # the C module raises plain Exceptions
                raise EngineError(f"durable_rules refused catalogue {catalogue.version}: {exc}") from exc
        old = self._handle
        self._handle = handle
        self.catalogue = catalogue
        self._rules = {r.id: _info(r) for r in active}
        self.event_types = frozenset(t for r in active for t in r.rule.event_types)
        # per event type, the fact keys that the rules listening to it read: facts carry only these
        rules_of = {
            t: tuple(i for i in self._rules.values() if t in i.rule.rule.event_types)
            for t in self.event_types
        }
        self._plans = {
            t: FactPlan.of(
                t,
                frozenset(
                    {key for info in infos for _, key in info.evidence}
                    | {"p_" + p for info in infos for p in info.params}
                ),
            )
            for t, infos in rules_of.items()
        }
        if old is not None:
            _delete(old)

    def swap(self, catalogue: Catalogue) -> None:
        """Switch to another catalogue version atomically: the new ruleset is built first; if that
        fails the old one stays in force and the error is raised."""
        self._install(catalogue)

    def close(self) -> None:
        if self._handle is not None:
            _delete(self._handle)
            self._handle = None

    def listens_to(self, event_type: str) -> bool:
        """Whether any rule in force can match this event type (every rule names its event types)."""
        return event_type in self.event_types

    def plan(self, event_type: str) -> FactPlan | None:
        """What the facts of this event type hold (None: no rule in force listens to it)."""
        return self._plans.get(event_type)

    def fire(self, fact: dict[str, Any]) -> list[str]:
        """The ids of every active rule whose condition the fact meets."""
        handle = self._handle
        if handle is None:
            return []
        fact_id = next(self._ids)
        fact["id"] = fact_id
        text = fact_json(fact)
        fired: list[str] = []
        try:
            result = dre.assert_fact(handle, text)
            if result[0] not in (_NOT_HANDLED, _OBSERVED, _NO_ACTION):
                state_handle = result[1]
                action = dre.start_action_for_state(handle, state_handle)
                if action:
                    state, message = action
                    while message:
                        fired.append(next(iter(orjson.loads(message))))
                        dre.update_state(handle, state)
                        message = dre.complete_and_start_action(handle, state_handle)
        finally:
            dre.retract_fact(handle, f'{{"id":{fact_id}}}')  # facts are identified by their id
        return fired

    def evaluate(
        self,
        event: EventBase,
        household: HouseholdContext | Mapping[str, Any],
        member: MemberContext | Mapping[str, Any] | None,
        *,
        region: str | None = None,
        on: date | None = None,
    ) -> list[RuleHit]:
        """Every rule hit for one event in its household's context (parameters by region and date).
        The context is a ``HouseholdContext`` (and ``MemberContext``), or the values of it that the
        event type's ``plan`` names."""
        plan = self._plans.get(event.event_type_name)
        if plan is None:
            return []
        if not isinstance(household, Mapping):
            household = context_values(household, plan.household)
        if member is not None and not isinstance(member, Mapping):
            member = context_values(member, plan.member)
        return self.evaluate_planned(plan, event, household, member, region=region, on=on)

    def evaluate_planned(
        self,
        plan: FactPlan,
        event: EventBase,
        household: Mapping[str, Any],
        member: Mapping[str, Any] | None,
        *,
        region: str | None = None,
        on: date | None = None,
    ) -> list[RuleHit]:
        """``evaluate`` with the event type's ``plan`` (from ``plan``) and the context values it
        names, as the stream processor computes them: nothing looked up or converted again."""
        params = self.catalogue.params.resolve(region or event.village_code, on or event.occurred_at)
        fact = plan.fact(event, household, member, params)
        hits = []
        for rule_id in self.fire(fact):
            info = self._rules[rule_id]
            hits.append(
                RuleHit(  # positional: rule_id, version, parameters, evidence (keywords cost 2x)
                    rule_id,
                    info.rule.rule.version,
                    {p: params[p] for p in info.params if p in params},
                    {path: fact.get(key) for path, key in info.evidence},
                )
            )
        if len(hits) > 1:
            hits.sort(key=lambda h: h.rule_id)
        return hits
