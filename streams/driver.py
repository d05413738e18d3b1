"""The one driver of the pure core. The Faust agent, the embedded runner and the backtest are its
hosts: each reads records from somewhere, hands them to ``Driver.process`` in batches, and applies
the ``Effects`` it returns (household states to write, alerts to publish, dead letters, metric
increments). A fix here fixes all three.

Per batch, each household's state is read once (through the host's ``load``) and written once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from dixian.contract import Dept, Problem
from dixian.contract.alerts import Alert
from dixian.contract.deadletter import DeadLetter
from dixian.contract.deadlines import Deadlines
from dixian.contract.wire import (
    Accepted,
    decode_conclusion,
    decode_event,
    decode_household,
    refusal,
)
from dixian.topics import Topics
from rules.live import LiveCatalogue
from streams.core import HouseholdState, apply_conclusion, apply_roster, process_event, touched_by

log = logging.getLogger("dixian.streams")
Channel = Dept | Literal["roster", "conclusions"]
# (metric, labels): the worker's Prometheus metrics by attribute name of ``PipelineMetrics``
MetricKey = tuple[str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One record of an input topic, as every host reads it."""

    topic: str
    key: bytes | None
    value: bytes


@dataclass
class Effects:
    """What a batch of records changes."""

    states: dict[bytes, HouseholdState] = field(default_factory=dict)  # household key → new state
    alerts: list[Alert] = field(default_factory=list)  # new revisions and re-sends, in order
    dead_letters: list[DeadLetter] = field(default_factory=list)
    counts: Counter[MetricKey] = field(default_factory=Counter)


def processing_error(channel: str, value: bytes, exc: Exception) -> DeadLetter:
    """A record the core failed on (a bug). As a dead letter it keeps the record and the error; an
    escaping exception would make Faust restart the agent past the record, losing it silently."""
    problem = Problem(
        "(record)",
        "processing_error",
        "处理该记录时程序出错（已记录日志），请联系运维人员",
        f"processing failed: {type(exc).__name__}: {exc}"[:500],
    )
    return refusal(channel, [problem], value).letter


class Driver:
    def __init__(
        self, topics: Topics, live: LiveCatalogue, deadlines: Deadlines, *, check_keys: bool = False
    ) -> None:
        self.live = live
        self.deadlines = deadlines
        self.check_keys = check_keys  # partitioned hosts: a record's key must be its household
        self.channels: dict[str, Channel] = {topics.dept(d): d for d in Dept}
        self.channels[topics.households] = "roster"
        self.channels[topics.conclusions] = "conclusions"

    def process(
        self, records: Iterable[InputRecord], load: Callable[[bytes], HouseholdState | None]
    ) -> Effects:
        """Apply ``records`` in order; ``load`` reads a household's stored state (None: unknown)."""
        batch = _Batch(load)
        for record in records:
            channel = self.channels.get(record.topic)
            if channel is None:
                raise ValueError(f"not an input topic of the stream processor: {record.topic}")
            if channel == "roster":
                self._roster(record, batch)
            elif channel == "conclusions":
                self._conclusion(record, batch)
            else:
                self._event(record, channel, batch)
        return batch.effects

    def _event(self, record: InputRecord, dept: Dept, batch: _Batch) -> None:
        out = batch.effects
        out.counts["events_consumed", (dept.value,)] += 1
        decoded = decode_event(record.value, dept)
        if not isinstance(decoded, Accepted):
            batch.refuse(decoded.letter)
            return
        event = decoded.value
        key = event.household_id.encode()
        if self.check_keys and record.key != key:
            # The table writes to the record's partition: a record keyed by anything but its
            # household would put that household's state on the wrong partition.
            problem = Problem(
                "(key)",
                "key_mismatch",
                "记录键与户编号不一致",
                f"record key {record.key!r} is not the household id",
            )
            batch.refuse(refusal(dept.value, [problem], record.value).letter)
            return
        try:
            outcome = process_event(batch.load(key), event, self.live, self.deadlines)
        except Exception as exc:
            log.exception("processing a %s record failed; sent to the dead-letter topic", dept.value)
            batch.refuse(processing_error(dept.value, record.value, exc))
            return
        if not outcome.applied:
            out.counts["redeliveries", (dept.value,)] += 1
            # its first sending may have been lost in a crash: send the current revisions again
            out.alerts.extend(touched_by(outcome.state, event.event_id))
            return
        out.counts["events_applied", (dept.value,)] += 1
        out.counts["evaluations", (self.live.version,)] += 1
        for hit in outcome.hits:
            out.counts["rule_hits", (hit.rule_id, str(hit.version))] += 1
        for alert in outcome.alerts:
            out.alerts.append(alert)
            name = "alerts_emitted" if alert.revision == 1 else "alerts_suppressed"
            out.counts[name, (alert.rule_id,)] += 1
        batch.store(key, outcome.state)

    def _roster(self, record: InputRecord, batch: _Batch) -> None:
        decoded = decode_household(record.value)
        if not isinstance(decoded, Accepted):
            batch.refuse(decoded.letter)
            return
        key = decoded.value.household_id.encode()
        try:
            state = apply_roster(batch.load(key), decoded.value)
        except Exception as exc:
            log.exception("processing a roster record failed; sent to the dead-letter topic")
            batch.refuse(processing_error("roster", record.value, exc))
            return
        batch.store(key, state)
        batch.effects.counts["roster_records", ()] += 1

    def _conclusion(self, record: InputRecord, batch: _Batch) -> None:
        decoded = decode_conclusion(record.value)
        if not isinstance(decoded, Accepted):
            batch.refuse(decoded.letter)
            return
        c = decoded.value
        key = c.household_id.encode()
        try:
            state, applied = apply_conclusion(batch.load(key), c)
        except Exception as exc:
            log.exception("processing a conclusion record failed; sent to the dead-letter topic")
            batch.refuse(processing_error("conclusions", record.value, exc))
            return
        if applied:
            batch.store(key, state)
            batch.effects.counts["conclusions", (c.outcome or c.step,)] += 1


class _Batch:
    """The states a batch has read or written, so each household is loaded once."""

    __slots__ = ("_load", "_seen", "effects")

    def __init__(self, load: Callable[[bytes], HouseholdState | None]) -> None:
        self._load = load
        self._seen: dict[bytes, HouseholdState | None] = {}
        self.effects = Effects()

    def load(self, key: bytes) -> HouseholdState | None:
        if key not in self._seen:
            self._seen[key] = self._load(key)
        return self._seen[key]

    def store(self, key: bytes, state: HouseholdState) -> None:
        self._seen[key] = state
        self.effects.states[key] = state

    def refuse(self, letter: DeadLetter) -> None:
        self.effects.dead_letters.append(letter)
        self.effects.counts["dead_letters", (letter.dept, letter.code)] += 1
