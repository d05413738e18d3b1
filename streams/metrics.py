"""Prometheus metrics of a worker. The registry is a parameter; no household or person in any label."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from dixian.contract import Dept


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.events_consumed = Counter(
            "dixian_events_consumed_total", "Records read from department topics", ["dept"], registry=registry
        )
        self.events_applied = Counter(
            "dixian_events_applied_total",
            "Valid events applied to household state",
            ["dept"],
            registry=registry,
        )
        self.redeliveries = Counter(
            "dixian_events_redelivered_total",
            "Events already applied (redelivered after a restart) and skipped",
            ["dept"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "dixian_dead_letters_total",
            "Records refused, by reason code",
            ["dept", "code"],
            registry=registry,
        )
        self.evaluations = Counter(
            "dixian_rule_evaluations_total",
            "Events evaluated against the catalogue",
            ["catalogue"],
            registry=registry,
        )
        self.rule_hits = Counter(
            "dixian_rule_hits_total", "Rule hits", ["rule", "version"], registry=registry
        )
        self.alerts_emitted = Counter(
            "dixian_alerts_emitted_total", "New alerts published", ["rule"], registry=registry
        )
        self.alerts_suppressed = Counter(
            "dixian_alerts_suppressed_total",
            "Hits inside an open alert's window (alert updated)",
            ["rule"],
            registry=registry,
        )
        self.events_held = Counter(
            "dixian_events_held_total",
            "Events of households with no roster record yet, held while the roster is being read",
            ["dept"],
            registry=registry,
        )
        self.events_released = Counter(
            "dixian_events_released_total",
            "Held events processed (their roster record came, or the roster was read without one)",
            ["dept"],
            registry=registry,
        )
        self.held = Gauge(
            "dixian_households_holding_events",
            "Households whose events wait for the roster to be read",
            registry=registry,
        )
        self.events_forwarded = Counter(
            "dixian_events_forwarded_total",
            "Records (or events of batch records) on the wrong partition for their household, forwarded",
            ["dept"],
            registry=registry,
        )
        self.send_retries = Counter(
            "dixian_output_send_retries_total",
            "Output partitions not acknowledged by the broker and sent again (the batch waits)",
            registry=registry,
        )
        self.roster_records = Counter(
            "dixian_roster_records_total", "Household roster records applied", registry=registry
        )
        self.conclusions = Counter(
            "dixian_conclusions_applied_total",
            "Screening steps applied to household state (county decisions by outcome, other steps by step)",
            ["outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "dixian_processing_seconds",
            "Time from a record's broker timestamp to the end of its processing (outputs acknowledged)",
            buckets=(
                0.001,
                0.0025,
                0.005,
                0.0075,
                0.01,
                0.015,
                0.02,
                0.025,
                0.03,
                0.04,
                0.05,
                0.075,
                0.1,
                0.25,
                0.5,
                1,
                2.5,
                5,
                10,
            ),
            registry=registry,
        )
        self.busy = Counter(
            "dixian_worker_busy_seconds_total",
            "Time the agent spent per phase: core (decode, state, rules, alerts), encode (the"
            " outputs), send (handing them to the producer: it waits while a partition's previous"
            " batch is still queued, and other tasks run meanwhile), backpressure (waiting for the"
            " broker to acknowledge earlier chunks), trim (handing free heap memory back to the system)",
            ["phase"],
            registry=registry,
        )
        self.lag = Gauge(
            "dixian_consumer_lag",
            "Records not yet processed, per input topic (assigned partitions)",
            ["topic"],
            registry=registry,
        )
        self.households = Gauge(
            "dixian_households_in_state", "Households held in this worker's state tables", registry=registry
        )
        self.catalogue = Info("dixian_catalogue", "Rule catalogue version in force", registry=registry)
        self.catalogue_rejected = Counter(
            "dixian_catalogue_rejected_total",
            "Published catalogues refused by this worker",
            registry=registry,
        )
        # every department's series exists from the start (at 0): a panel or an alert on a rate
        # shows 0 for a department that sent nothing, not "no data"
        for counter in (
            self.events_consumed,
            self.events_applied,
            self.redeliveries,
            self.events_held,
            self.events_released,
            self.events_forwarded,
        ):
            for dept in Dept:
                counter.labels(dept.value)
