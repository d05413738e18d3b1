"""Faust wiring: department topics, roster and conclusions → household state → rules → alerts.

Thin by design: a host of the one driver (``streams.driver``). One agent reads every input keyed by
household id (``dept.*``, ``households``, ``screening.conclusions``), so one table holds each
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
from collections.abc import Callable
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry

from connectors.kafka import read_topic_to_end
from dixian.config import Settings
from dixian.contract.deadlines import Deadlines
from dixian.topics import Topics
from rules.live import LiveCatalogue
from streams.core import HouseholdState, decode_state, encode_state
from streams.driver import Driver, Effects, InputRecord
from streams.metrics import PipelineMetrics

HOUSEHOLD_TABLE = "household_state"
AGENT = "household_events"
log = logging.getLogger("dixian.streams")


async def read_published_catalogue(bootstrap: str, topic: str, offer: Callable[[bytes], None]) -> int:
    """Offer every record of the compacted control topic, from its beginning to the end it has now
    (no consumer group: every worker reads all of it); the end offset, where following resumes."""
    records, ends = await read_topic_to_end(bootstrap, topic)
    for _, value in records:
        if value is not None:
            offer(value)
    return ends.get(TopicPartition(topic, 0), 0)


def faust_app(settings: Settings) -> faust.App:
    faust_dir = settings.faust_dir  # not <app id>-data in the working directory
    faust_dir.mkdir(parents=True, exist_ok=True)
    return faust.App(
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


class Worker:
    """One stream worker: the Faust app, its household table, the agent that drives the core, the
    task that follows published catalogues, and the timer that reports lag and table size."""

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.topics = Topics(settings)
        self.metrics = PipelineMetrics(registry or CollectorRegistry())
        self.live = LiveCatalogue()
        self._catalogue_in_force()
        # The published catalogue, not the shipped one, decides from the first event on: the control
        # topic is read to its end before the Faust app exists. (Not in the agent: records Faust hands
        # to an agent that has not started iterating its stream yet are lost — see bench/README.)
        self.control_end = asyncio.run(
            read_published_catalogue(settings.kafka_bootstrap, self.topics.rules_control, self.offer)
        )
        self.driver = Driver(
            self.topics, self.live, Deadlines(visit_days=settings.visit_days), check_keys=True
        )
        self.app = faust_app(settings)
        self.inputs = [*self.driver.channels]
        topic = self.app.topic(*self.inputs, key_serializer="raw", value_serializer="raw")
        self.dead_letter_topic = self.app.topic(
            self.topics.dead_letter, key_serializer="raw", value_serializer="raw"
        )
        # use_partitioner: a write goes to the partition of its key (the household id, hashed as every
        # producer of the input topics hashes it), not to that of "the current event": batches are safe.
        self.table = self.app.Table(
            HOUSEHOLD_TABLE,
            default=None,
            partitions=settings.partitions,
            key_type=bytes,
            value_type=bytes,
            use_partitioner=True,
        )
        self.processed: dict[tuple[str, int], int] = {}  # last offset processed per input partition
        self.app.agent(topic, name=AGENT, concurrency=1)(self.consume)
        self.app.task(self.follow_catalogue)
        self.app.timer(interval=5.0)(self.report_lag_and_size)

    # ---- the rule catalogue ---------------------------------------------------------------------
    def _catalogue_in_force(self) -> None:
        self.metrics.catalogue.info({"version": self.live.version, "source": self.live.catalogue.source})

    def offer(self, raw: bytes) -> None:
        offer = self.live.offer(raw)
        if offer.accepted:
            self._catalogue_in_force()
            log.info("rule catalogue %s in force (%s)", self.live.version, offer.reason or "switched")
        else:
            self.metrics.catalogue_rejected.inc()
            log.error(
                "published catalogue %s refused, keeping %s: %s",
                offer.version,
                self.live.version,
                offer.reason,
            )

    async def follow_catalogue(self) -> None:
        """Catalogues published after the worker started (see ``read_published_catalogue``)."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False)
        tp = TopicPartition(self.topics.rules_control, 0)
        await consumer.start()
        try:
            consumer.assign([tp])
            consumer.seek(tp, self.control_end)
            while True:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for msg in batch.get(tp, []):
                    if msg.value is not None:
                        self.offer(msg.value)
        finally:
            await consumer.stop()

    # ---- the agent ------------------------------------------------------------------------------
    def _load(self, key: bytes) -> HouseholdState | None:
        raw = self.table.get(key)
        return decode_state(key.decode(), raw) if raw else None

    async def consume(self, stream: Any) -> None:
        # Batches of up to 500 records or 5 ms amortise Faust's per-iteration cost. Records are
        # handled in partition order; each household's state is read once and written once per
        # batch (one changelog record), after the batch's alerts were handed to the producer. Faust
        # acknowledges the batch's records only after this body, and flushes the producer before it
        # commits their offsets.
        async for events in stream.take_events(500, within=0.005):
            records = [InputRecord(e.message.topic, e.message.key, e.value) for e in events]
            effects = self.driver.process(records, self._load)
            await self._emit(effects)
            for e in events:
                self.processed[(e.message.topic, e.message.partition)] = e.message.offset
            now = time.time()
            for e in events:
                # Faust gives the broker timestamp in seconds (its aiokafka driver divides by 1000)
                self.metrics.latency.observe(max(0.0, now - e.message.timestamp))

    async def _emit(self, effects: Effects) -> None:
        # Straight to the producer: Faust's Topic.send adds a future message and sensor callbacks
        # per record. Delivery is as with Topic.send: Faust flushes this producer before it commits
        # the offsets of the batch.
        producer = self.app.producer
        for alert in effects.alerts:
            key, value = alert.village_code.encode(), alert.model_dump_json().encode()
            await producer.send(self.topics.alerts, key, value, None, None, None)
        for letter in effects.dead_letters:
            await self.dead_letter_topic.send(
                key=letter.dept.encode(), value=letter.model_dump_json().encode()
            )
        for key, state in effects.states.items():
            self.table[key] = encode_state(state)
        for (name, labels), n in effects.counts.items():
            metric = getattr(self.metrics, name)
            (metric.labels(*labels) if labels else metric).inc(n)

    # ---- lag and size ---------------------------------------------------------------------------
    async def report_lag_and_size(self) -> None:
        self.metrics.households.set(len(self.table))
        lag: dict[str, int] = {}
        for tp in self.app.consumer.assignment():
            if tp.topic not in self.driver.channels:
                continue
            high = self.app.consumer.highwater(tp)
            if high is None:
                continue
            done = self.processed.get((tp.topic, tp.partition), -1)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - done - 1)
        for topic, n in lag.items():
            self.metrics.lag.labels(topic).set(n)
