"""The catalogue in force in a running worker, and switching it without a restart.

A worker offers every record of the control topic here. A valid catalogue whose examples all pass
replaces the engine between two events (the caller is single-threaded, so the switch is atomic); an
invalid one is refused with the reason and the old version stays in force. Each accepted version
costs one durable_rules ruleset (see ``rules.engine`` on why its memory is not all returned).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from dixian.contract import EventBase
from rules.catalogue import Catalogue, catalogue_from_data, load_catalogue
from rules.engine import EngineError, RuleEngine, RuleHit
from rules.examples import run_examples
from rules.facts import FactPlan, HouseholdContext, MemberContext
from rules.loader import LoadError


@dataclass(frozen=True)
class Offer:
    accepted: bool
    version: str | None
    reason: str = ""


class LiveCatalogue:
    def __init__(self, catalogue: Catalogue | None = None) -> None:
        self.catalogue = catalogue or load_catalogue()
        self.engine = RuleEngine(self.catalogue)
        self.rejected: list[Offer] = []

    @property
    def version(self) -> str:
        return self.catalogue.version

    def offer(self, raw: bytes) -> Offer:
        """A published catalogue (``Catalogue.as_data`` as JSON). Never raises for bad input."""
        try:
            data: Any = orjson.loads(raw)
            candidate = catalogue_from_data(data)
        except orjson.JSONDecodeError as exc:
            return self._refuse(None, f"not JSON: {exc}")
        except LoadError as exc:
            return self._refuse(
                data.get("version") if isinstance(data, dict) else None,
                "; ".join(str(e) for e in exc.errors[:5]),
            )
        if candidate.version == self.catalogue.version:
            return Offer(True, candidate.version, "already in force")
        failed = [r for r in run_examples(candidate, through_engine=False) if not r.ok]
        if failed:
            names = ", ".join(f"{r.rule.id}:{r.example.name}" for r in failed[:5])
            return self._refuse(candidate.version, f"{len(failed)} example(s) fail: {names}")
        try:
            self.engine.swap(candidate)
        except EngineError as exc:
            return self._refuse(candidate.version, str(exc))
        self.catalogue = candidate
        return Offer(True, candidate.version)

    def _refuse(self, version: str | None, reason: str) -> Offer:
        offer = Offer(False, version, reason)
        self.rejected = [*self.rejected[-9:], offer]
        return offer

    def listens_to(self, event_type: str) -> bool:
        return self.engine.listens_to(event_type)

    def plan(self, event_type: str) -> FactPlan | None:
        return self.engine.plan(event_type)

    def evaluate(
        self,
        event: EventBase,
        household: HouseholdContext | Mapping[str, Any],
        member: MemberContext | Mapping[str, Any] | None,
        *,
        on: date | None = None,
    ) -> list[RuleHit]:
        return self.engine.evaluate(event, household, member, on=on)

    def evaluate_planned(
        self, plan: FactPlan, event: EventBase, household: Mapping[str, Any], member: Mapping[str, Any] | None
    ) -> list[RuleHit]:
        """``evaluate`` with the event type's ``plan`` and the context values it names."""
        return self.engine.evaluate_planned(plan, event, household, member)

    def close(self) -> None:
        self.engine.close()
