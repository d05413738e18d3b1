"""Faust wiring: department topics, roster and conclusions → household state → rules → alerts.

Thin by design: the agent decodes, calls ``streams.core``, emits. One agent reads every input keyed
by household id (``dept.*``, ``households``, ``screening.conclusions``), so one table holds each
household's state, co-partitioned with all of them.

At-least-once without loss or duplicates (an outbox in the state): an event's alerts are sent and
its household's new state, which holds those alerts, is written; Faust flushes the producer before it
commits offsets. After a crash, a redelivered event whose state was written is recognised as applied
and re-sends the current revision of every alert it touched (they may not have reached the broker);
one whose state was not written is processed again and yields the same alert ids and revisions.
Downstream keeps the highest revision per alert id, so a repeated record changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from connectors.kafka import read_topic_to_end
from dixian.config import Settings
from dixian.contract import Dept, Problem
from dixian.contract.alerts import Alert
from dixian.contract.deadletter import DeadLetter
from dixian.contract.events import now_china
from dixian.topics import Topics
from rules.live import LiveCatalogue
from streams.core import (
    Deadlines,
    HouseholdState,
    apply_conclusion,
    apply_roster,
    decode_state,
    encode_state,
    intake,
    intake_conclusion,
    intake_roster,
    process_event,
    touched_by,
)
from streams.metrics import PipelineMetrics

HOUSEHOLD_TABLE = "household_state"
AGENT = "household_events"
log = logging.getLogger("dixian.streams")


def processing_error(channel: str, value: bytes, exc: Exception) -> DeadLetter:
    return DeadLetter.from_problems(
        [
            Problem(
                "(record)",
                "processing_error",
                "处理该记录时程序出错（已记录日志），请联系运维人员",
                f"processing failed: {type(exc).__name__}: {exc}"[:500],
            )
        ],
        source="stream",
        dept=channel,
        raw=value.decode("utf-8", "replace"),
        at=now_china(),
    )


class Batch:
    """What one take_events batch changes: household states (read from the table once, written
    back once) and metric increments (applied once per label set)."""

    __slots__ = ("_counts", "_dirty", "_states", "_table")

    def __init__(self, table: Any) -> None:
        self._table = table
        self._states: dict[bytes, HouseholdState | None] = {}
        self._dirty: dict[bytes, HouseholdState] = {}
        self._counts: Counter[tuple[Any, tuple[str, ...]]] = Counter()

    def load(self, key: bytes) -> HouseholdState | None:
        if key in self._states:
            return self._states[key]
        raw = self._table.get(key)
        state = decode_state(key.decode(), raw) if raw else None
        self._states[key] = state
        return state

    def store(self, key: bytes, state: HouseholdState) -> None:
        self._states[key] = state
        self._dirty[key] = state

    def count(self, metric: Any, *labels: str) -> None:
        self._counts[(metric, labels)] += 1

    def flush(self) -> None:
        for key, state in self._dirty.items():
            self._table[key] = encode_state(state)
        for (metric, labels), n in self._counts.items():
            (metric.labels(*labels) if labels else metric).inc(n)
        self._dirty.clear()
        self._counts.clear()


async def read_published_catalogue(bootstrap: str, topic: str, offer: Callable[[bytes], None]) -> int:
    """Offer every record of the compacted control topic, from its beginning to the end it has now
    (no consumer group: every worker reads all of it); the end offset, where following resumes."""
    records, ends = await read_topic_to_end(bootstrap, topic)
    for _, value in records:
        if value is not None:
            offer(value)
    return ends.get(TopicPartition(topic, 0), 0)


def create_app(settings: Settings, registry: CollectorRegistry | None = None) -> faust.App:
    topics = Topics(settings)
    deadlines = Deadlines(visit_days=settings.visit_days)
    faust_dir = settings.data_dir / "faust"  # not <app id>-data in the working directory
    faust_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.worker_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        datadir=str(faust_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        web_enabled=settings.web_port != 0,
        web_port=settings.web_port or 6066,
        web_in_thread=False,
        broker_commit_every=1000,
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.session_timeout_s / 3),
        broker_commit_interval=1.0,
        stream_wait_empty=False,
        loghandlers=[],
    )
    metrics = PipelineMetrics(registry or CollectorRegistry())
    live = LiveCatalogue()
    metrics.catalogue.info({"version": live.version, "source": live.catalogue.source})

    def offer_catalogue(raw: bytes) -> None:
        offer = live.offer(raw)
        if offer.accepted:
            metrics.catalogue.info({"version": live.version, "source": live.catalogue.source})
            log.info("rule catalogue %s in force (%s)", live.version, offer.reason or "switched")
        else:
            metrics.catalogue_rejected.inc()
            log.error(
                "published catalogue %s refused, keeping %s: %s", offer.version, live.version, offer.reason
            )

    # The published catalogue, not the shipped one, decides from the first event on: the control
    # topic is read to its end before the Faust app exists. (Not in the agent: records Faust hands to
    # an agent that has not started iterating its stream yet are lost — measured, see bench/README.)
    control_end = asyncio.run(
        read_published_catalogue(settings.kafka_bootstrap, topics.rules_control, offer_catalogue)
    )
    app.dixian_metrics = metrics  # type: ignore[attr-defined]
    app.dixian_live = live  # type: ignore[attr-defined]

    dept_by_topic = {topics.dept(d): d for d in Dept}
    inputs = app.topic(
        *dept_by_topic, topics.households, topics.conclusions, key_serializer="raw", value_serializer="raw"
    )
    dead_letter_topic = app.topic(topics.dead_letter, key_serializer="raw", value_serializer="raw")
    # use_partitioner: a write goes to the partition of its key (the household id, hashed as every
    # producer of the input topics hashes it), not to that of "the current event": batches are safe.
    table = app.Table(
        HOUSEHOLD_TABLE,
        default=None,
        partitions=settings.partitions,
        key_type=bytes,
        value_type=bytes,
        use_partitioner=True,
    )
    processed: dict[tuple[str, int], int] = {}

    async def send_dead_letter(letter: DeadLetter, batch: Batch) -> None:
        batch.count(metrics.dead_letters, letter.dept, letter.code)
        await dead_letter_topic.send(key=letter.dept.encode(), value=letter.model_dump_json().encode())

    async def failed(channel: str, value: bytes, exc: Exception, batch: Batch) -> None:
        """A record the core could not process (a bug) becomes a dead letter with the error: if the
        exception escaped, Faust would restart the agent past the record and it would be lost
        without a trace."""
        log.exception("processing a %s record failed; sent to the dead-letter topic", channel)
        await send_dead_letter(processing_error(channel, value, exc), batch)

    async def publish(alert: Alert) -> None:
        # Straight to the producer: Faust's Topic.send adds a future message and sensor callbacks
        # per record. Delivery is as with Topic.send: Faust flushes this producer before it
        # commits the offsets of the batch.
        await app.producer.send(
            topics.alerts, alert.village_code.encode(), alert.model_dump_json().encode(), None, None, None
        )

    async def on_department_record(msg: Any, value: bytes, dept: Dept, batch: Batch) -> None:
        batch.count(metrics.events_consumed, dept.value)
        result = intake(value, dept)
        if result.value is None:
            assert result.dead_letter is not None
            await send_dead_letter(result.dead_letter, batch)
            return
        event = result.value
        key = event.household_id.encode()
        if msg.key != key:
            # The table writes to the record's partition: a record keyed by anything but its
            # household would put that household's state on the wrong partition.
            await send_dead_letter(
                DeadLetter.from_problems(
                    [
                        Problem(
                            "(key)",
                            "key_mismatch",
                            "记录键与户编号不一致",
                            f"record key {msg.key!r} is not the household id",
                        )
                    ],
                    source="stream",
                    dept=dept.value,
                    raw=value.decode("utf-8", "replace"),
                    at=now_china(),
                ),
                batch,
            )
            return
        try:
            outcome = process_event(batch.load(key), event, live, deadlines)
        except Exception as exc:  # a bug in the core: see failed()
            await failed(dept.value, value, exc, batch)
            return
        if not outcome.applied:
            batch.count(metrics.redeliveries, dept.value)
            for alert in touched_by(outcome.state, event.event_id):
                await publish(alert)
            return
        batch.count(metrics.events_applied, dept.value)
        batch.count(metrics.evaluations, live.version)
        for hit in outcome.hits:
            batch.count(metrics.rule_hits, hit.rule_id, str(hit.version))
        for a in outcome.alerts:
            await publish(a)
            batch.count(metrics.alerts_emitted if a.revision == 1 else metrics.alerts_suppressed, a.rule_id)
        batch.store(key, outcome.state)

    async def on_roster(value: bytes, batch: Batch) -> None:
        result = intake_roster(value)
        if result.value is None:
            assert result.dead_letter is not None
            await send_dead_letter(result.dead_letter, batch)
            return
        key = result.value.household_id.encode()
        try:
            state = apply_roster(batch.load(key), result.value)
        except Exception as exc:  # a bug in the core: see failed()
            await failed("roster", value, exc, batch)
            return
        batch.store(key, state)
        batch.count(metrics.roster_records)

    async def on_conclusion(value: bytes, batch: Batch) -> None:
        result = intake_conclusion(value)
        if result.value is None:
            assert result.dead_letter is not None
            await send_dead_letter(result.dead_letter, batch)
            return
        c = result.value
        key = c.household_id.encode()
        try:
            state, applied = apply_conclusion(batch.load(key), c)
        except Exception as exc:  # a bug in the core: see failed()
            await failed("conclusions", value, exc, batch)
            return
        if applied:
            batch.store(key, state)
            batch.count(metrics.conclusions, c.outcome or c.step)

    @app.agent(inputs, name=AGENT, concurrency=1)
    async def household_events(stream: Any) -> None:
        # Batches of up to 500 records or 5 ms amortise Faust's per-iteration cost. Records are
        # handled one by one, in partition order; each household's state is read once and written
        # once per batch (one changelog record), after the batch's alerts were handed to the
        # producer. Faust acknowledges the batch's records only after this body, and flushes the
        # producer before it commits their offsets.
        async for records in stream.take_events(500, within=0.005):
            batch = Batch(table)
            for record in records:
                msg = record.message
                value = record.value
                if msg.topic in dept_by_topic:
                    await on_department_record(msg, value, dept_by_topic[msg.topic], batch)
                elif msg.topic == topics.households:
                    await on_roster(value, batch)
                else:
                    await on_conclusion(value, batch)
                processed[(msg.topic, msg.partition)] = msg.offset
            batch.flush()
            now = time.time()
            for record in records:
                # Faust gives the broker timestamp in seconds (its aiokafka driver divides by 1000)
                metrics.latency.observe(max(0.0, now - record.message.timestamp))

    @app.task  # type: ignore[untyped-decorator]
    async def follow_catalogue() -> None:
        """Catalogues published after the worker started (see ``read_published_catalogue``)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False)
        tp = TopicPartition(topics.rules_control, 0)
        await consumer.start()
        try:
            consumer.assign([tp])
            consumer.seek(tp, control_end)
            while True:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for msg in batch.get(tp, []):
                    if msg.value is not None:
                        offer_catalogue(msg.value)
        finally:
            await consumer.stop()

    @app.timer(interval=5.0)  # type: ignore[untyped-decorator]
    async def report_lag_and_size() -> None:
        metrics.households.set(len(table))
        lag: dict[str, int] = {}
        for tp in app.consumer.assignment():
            if tp.topic not in dept_by_topic and tp.topic not in (topics.households, topics.conclusions):
                continue
            high = app.consumer.highwater(tp)
            if high is None:
                continue
            done = processed.get((tp.topic, tp.partition), -1)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - done - 1)
        for topic, n in lag.items():
            metrics.lag.labels(topic).set(n)

    return app
