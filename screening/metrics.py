"""Prometheus metrics of the village queue, served at ``/metrics`` by the web server.

Queue figures are read from the store at scrape time (so every web server of a deployment reports the
same numbers); labels are counties, states and steps — never a household or a person.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from dixian.contract.vocabulary import ClueState
from screening.store import Store


class QueueCollector(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        today = self.store.today().isoformat()
        by_state = GaugeMetricFamily(
            "dixian_screening_clues",
            "Clues in the village queues by county and workflow state",
            labels=["county", "state"],
        )
        for r in self.store.db.query(
            "SELECT county_code, state, COUNT(*) AS n FROM clues GROUP BY county_code, state"
        ):
            by_state.add_metric([r["county_code"], r["state"]], int(r["n"]))
        yield by_state
        overdue = GaugeMetricFamily(
            "dixian_screening_overdue",
            "Open clues past a deadline (visit: not visited by the visit deadline; decision: past 15 days)",
            labels=["county", "deadline"],
        )
        for r in self.store.db.query(
            "SELECT county_code, SUM(CASE WHEN state = ? AND visit_by < ? THEN 1 ELSE 0 END) AS v,"
            " SUM(CASE WHEN decide_by < ? THEN 1 ELSE 0 END) AS d"
            " FROM clues WHERE state <> ? GROUP BY county_code",
            (ClueState.NEW.value, today, today, ClueState.CLOSED.value),
        ):
            overdue.add_metric([r["county_code"], "visit"], int(r["v"] or 0))
            overdue.add_metric([r["county_code"], "decision"], int(r["d"] or 0))
        yield overdue
        pending = self.store.db.one("SELECT COUNT(*) AS n FROM steps WHERE published = 0")
        yield GaugeMetricFamily(
            "dixian_screening_steps_unpublished",
            "Workflow steps recorded but not yet acknowledged by Kafka (should stay near 0)",
            value=int(pending["n"]) if pending else 0,
        )


class QueueMetrics:
    def __init__(self, store: Store, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.registry.register(QueueCollector(store))
        self.steps = Counter(
            "dixian_screening_steps_total",
            "Workflow steps taken on this server",
            ["step", "role"],
            registry=self.registry,
        )
        self.refused = Counter(
            "dixian_screening_refusals_total",
            "Requests refused (workflow order, role, missing reason, scope)",
            ["code"],
            registry=self.registry,
        )
        self.published = Counter(
            "dixian_screening_steps_published_total",
            "Steps published to screening.conclusions",
            registry=self.registry,
        )
