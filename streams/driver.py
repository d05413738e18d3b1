"""The one driver of the pure core. The Faust agent, the embedded runner and the backtest are its
hosts: each reads records from somewhere, hands them to ``Driver.process`` in batches, and applies
the ``Effects`` it returns (household states to write, alerts to publish, dead letters, records to
forward to their partition, metric increments). A fix here fixes all three.

Per batch, each household's state is read once (through the host's ``load``) and written once.

Partitions: a host that reads partitioned topics passes each record's partition. A record (or an
event of a batch record) whose household belongs to another partition — a producer that did not
use the Java client's murmur2 partitioner, such as librdkafka's default — never touches state here:
it is forwarded to its own partition, where the worker that owns the household processes it.

The roster first: while a partition's roster is still being read (``roster_ready`` false), an event
of a household that has no roster record yet is held in its state and processed when the record
arrives; the host releases what is left once the partition's roster has been read (``release``).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from dixian.contract import Dept, DeptEvent, Problem
from dixian.contract.deadletter import DeadLetter
from dixian.contract.deadlines import Deadlines
from dixian.contract.partitioning import partition_of
from dixian.contract.wire import (
    Accepted,
    batch_value,
    decode_conclusion,
    decode_events,
    decode_household,
    refusal,
)
from dixian.topics import Topics
from rules.live import LiveCatalogue
from streams.alerting import AlertDoc
from streams.core import (
    HouseholdState,
    KeptAlert,
    apply_conclusion,
    apply_roster,
    hold,
    judged_by,
    process_event,
    released,
    touched_by,
    waiting,
)

log = logging.getLogger("dixian.streams")
Channel = Dept | Literal["roster", "conclusions"]
# (metric, labels): the worker's Prometheus metrics by attribute name of ``PipelineMetrics``
MetricKey = tuple[str, tuple[str, ...]]
Load = Callable[[bytes], HouseholdState | None]


@dataclass(frozen=True, slots=True)
class InputRecord:
    """One record of an input topic, as every host reads it (``partition`` None: not partitioned)."""

    topic: str
    key: bytes | None
    value: bytes
    partition: int | None = None


@dataclass(frozen=True, slots=True)
class Forward:
    """A record to produce again, on the partition of its household."""

    topic: str
    partition: int
    key: bytes
    value: bytes


@dataclass
class Effects:
    """What a batch of records changes."""

    states: dict[bytes, HouseholdState] = field(default_factory=dict)  # household key → new state
    # new revisions and re-sends, in order; ``alert_record`` gives each as its record on the alerts topic
    published: list[KeptAlert] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    forwards: list[Forward] = field(default_factory=list)
    counts: Counter[MetricKey] = field(default_factory=Counter)

    @property
    def alerts(self) -> list[AlertDoc]:
        return [k.doc() for k in self.published]


def alert_record(alert: KeptAlert) -> tuple[bytes, bytes]:
    """An alert as its record on the alerts topic: keyed by village, the document's JSON (the same
    bytes the household's state keeps, serialised once)."""
    return alert.doc()["village_code"].encode(), alert.raw()


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


def _held_overflow(event: DeptEvent) -> DeadLetter:
    problem = Problem(
        "household_id",
        "roster_wait_overflow",
        "该户在农户名单中尚无记录且等待的部门数据过多，请先导入农户名单，再重新报送这些数据",
        "too many events wait for this household's roster record; load the roster, then send them again",
    )
    return refusal(event.dept.value, [problem], event.model_dump_json().encode()).letter


def _always(_: int) -> bool:
    return True


class Driver:
    def __init__(
        self, topics: Topics, live: LiveCatalogue, deadlines: Deadlines, *, partitions: int | None = None
    ) -> None:
        self.live = live
        self.deadlines = deadlines
        self.partitions = partitions
        self.channels: dict[str, Channel] = {topics.dept(d): d for d in Dept}
        self.channels[topics.households] = "roster"
        self.channels[topics.conclusions] = "conclusions"

    def partition(self, key: bytes) -> int | None:
        # not cached: a month's events are of different households, and a cache of every household
        # would hold ~150 bytes each (150 MB a million)
        return None if self.partitions is None else partition_of(key, self.partitions)

    def process(
        self, records: Iterable[InputRecord], load: Load, roster_ready: Callable[[int], bool] = _always
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
                self._department(record, channel, batch, roster_ready)
        return self._counted(batch)

    def release(self, keys: Iterable[bytes], load: Load) -> Effects:
        """Process the held events of these households as unknown households: their partition's
        roster has been read and holds no record for them."""
        batch = _Batch(load)
        for key in keys:
            state = batch.load(key)
            if state is None or not state.held:
                continue
            state, events = released(state)
            batch.store(key, state)
            for event in events:
                batch.effects.counts["events_released", (event.dept.value,)] += 1
                self._apply(event, key, batch)
        return self._counted(batch)

    def _counted(self, batch: _Batch) -> Effects:
        """The batch's effects, with the events it applied counted (per department, and as rule
        evaluations of the catalogue in force: it does not change during a batch)."""
        counts = batch.effects.counts
        for dept, n in batch.applied.items():
            counts["events_applied", (dept,)] += n
            counts["evaluations", (self.live.version,)] += n
        return batch.effects

    # ---- department events --------------------------------------------------------------------------
    def _department(
        self, record: InputRecord, dept: Dept, batch: _Batch, roster_ready: Callable[[int], bool]
    ) -> None:
        out = batch.effects
        elsewhere: dict[int, list[DeptEvent]] = {}
        decoded_events = decode_events(record.value, dept)
        out.counts["events_consumed", (dept.value,)] += len(decoded_events)
        for decoded in decoded_events:
            if not isinstance(decoded, Accepted):
                batch.refuse(decoded.letter)
                continue
            event = decoded.value
            key = event.household_id.encode()
            target = self.partition(key)
            if record.partition is not None and target is not None and target != record.partition:
                elsewhere.setdefault(target, []).append(event)
                continue
            state = batch.load(key)
            if (state is not None and state.held) or (
                (state is None or state.profile is None)
                and record.partition is not None
                and not roster_ready(record.partition)
            ):
                if waiting(state, event.event_id):
                    out.counts["redeliveries", (dept.value,)] += 1  # counted, not kept twice
                    continue
                kept = hold(state, event)
                if kept is None:
                    batch.refuse(_held_overflow(event))
                else:
                    batch.store(key, kept)
                    out.counts["events_held", (dept.value,)] += 1
                continue
            self._apply(event, key, batch)
        for target, events in elsewhere.items():
            out.counts["events_forwarded", (dept.value,)] += len(events)
            value = batch_value([e.model_dump_json().encode() for e in events])
            out.forwards.append(Forward(record.topic, target, events[0].household_id.encode(), value))

    def _apply(self, event: DeptEvent, key: bytes, batch: _Batch) -> None:
        out = batch.effects
        dept = event.dept.value
        try:
            outcome = process_event(batch.load(key), event, self.live, self.deadlines)
        except Exception as exc:
            log.exception("processing a %s record failed; sent to the dead-letter topic", dept)
            batch.refuse(processing_error(dept, event.model_dump_json().encode(), exc))
            return
        if not outcome.applied:
            out.counts["redeliveries", (dept,)] += 1
            # its first sending may have been lost in a crash: send the current revisions again
            out.published.extend(touched_by(outcome.state, event.event_id, *judged_by(outcome.state, event)))
            return
        batch.applied[dept] = batch.applied.get(dept, 0) + 1  # counted at the end of the batch
        for hit in outcome.hits:
            out.counts["rule_hits", (hit.rule_id, str(hit.version))] += 1
        for alert in outcome.published:
            out.published.append(alert)
            doc = alert.doc()
            name = "alerts_emitted" if doc["revision"] == 1 else "alerts_suppressed"
            out.counts[name, (doc["rule_id"],)] += 1
        batch.store(key, outcome.state)

    # ---- the roster and conclusions ----------------------------------------------------------------
    def _misplaced(self, record: InputRecord, household_id: str, batch: _Batch) -> bool:
        """Whether a roster or conclusion record belongs to another partition (then forwarded)."""
        key = household_id.encode()
        target = self.partition(key)
        if record.partition is None or target is None or target == record.partition:
            return False
        batch.effects.counts["events_forwarded", (self.channels[record.topic],)] += 1
        batch.effects.forwards.append(Forward(record.topic, target, key, record.value))
        return True

    def _roster(self, record: InputRecord, batch: _Batch) -> None:
        decoded = decode_household(record.value)
        if not isinstance(decoded, Accepted):
            batch.refuse(decoded.letter)
            return
        if self._misplaced(record, decoded.value.household_id, batch):
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
        if state.held:  # the events that waited for this record, in the order they came
            state, events = released(state)
            batch.store(key, state)
            for event in events:
                batch.effects.counts["events_released", (event.dept.value,)] += 1
                self._apply(event, key, batch)

    def _conclusion(self, record: InputRecord, batch: _Batch) -> None:
        decoded = decode_conclusion(record.value)
        if not isinstance(decoded, Accepted):
            batch.refuse(decoded.letter)
            return
        c = decoded.value
        if self._misplaced(record, c.household_id, batch):
            return
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

    __slots__ = ("_load", "_seen", "applied", "effects")

    def __init__(self, load: Load) -> None:
        self._load = load
        self._seen: dict[bytes, HouseholdState | None] = {}
        self.effects = Effects()
        self.applied: dict[str, int] = {}  # department → events applied

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
