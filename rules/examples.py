"""Running the examples every rule carries, through the engine and through the reference evaluator."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from rules.catalogue import Catalogue, CompiledRule, example_event
from rules.engine import RuleEngine
from rules.facts import HouseholdContext, MemberContext, build_fact
from rules.reference import holds
from rules.schema import Example


def context_from(values: dict[str, Any]) -> HouseholdContext:
    """A household context from an example's few fields, deriving the rest consistently."""
    v = dict(values)
    size = int(v.get("size", HouseholdContext().size))
    if "income_total" not in v and "income_pc" in v:
        v["income_total"] = float(v["income_pc"]) * size
    if "monitored" not in v and "status" in v:
        v["monitored"] = v["status"] == "监测中"
    if "low_income" not in v:
        v["low_income"] = bool(v.get("dibao") or v.get("tekun") or v.get("monitored"))
    known = {f.name for f in fields(HouseholdContext)}
    return HouseholdContext(**{k: val for k, val in v.items() if k in known})


@dataclass(frozen=True)
class ExampleResult:
    rule: CompiledRule
    example: Example
    engine_fired: bool
    reference_fired: bool

    @property
    def ok(self) -> bool:
        return self.engine_fired == self.example.fires == self.reference_fired


def example_fact(
    rule: CompiledRule, ex: Example, catalogue: Catalogue, fact_id: int
) -> tuple[Any, dict[str, Any]]:
    event = example_event(rule.rule, ex)
    member = MemberContext(**ex.member) if event.member_level else None
    params = catalogue.params.resolve(ex.region, date.fromisoformat(ex.date))
    return event, build_fact(event, context_from(ex.household), member, params, fact_id)


def run_examples(catalogue: Catalogue, *, through_engine: bool = True) -> list[ExampleResult]:
    """Every example of every rule (paused and retired rules too: their examples must stay true).

    ``through_engine=False`` checks them with the reference evaluator only (engine_fired mirrors
    it): a running worker does that, as each durable_rules ruleset it creates costs memory that
    durable_rules cannot safely give back; `dixian rules publish` has run them through both."""
    engine = RuleEngine(catalogue, states=("active", "paused", "retired")) if through_engine else None
    try:
        out = []
        for rule in catalogue.rules:
            for i, ex in enumerate(rule.rule.examples):
                _, fact = example_fact(rule, ex, catalogue, i)
                ref = fact["event_type"] in rule.rule.event_types and holds(rule.condition, fact)
                fired = rule.id in engine.fire(dict(fact)) if engine else ref
                out.append(ExampleResult(rule, ex, fired, ref))
        return out
    finally:
        if engine:
            engine.close()
