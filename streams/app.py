"""Faust wiring: department topics, roster and conclusions → household state → rules → alerts.

Thin by design: a host of the one driver (``streams.driver``). One agent reads every input keyed by
household id (``dept.*``, ``households``, ``screening.conclusions``), so one table holds each
household's state, co-partitioned with all of them.

Per chunk of records (a ``take_events`` batch cut into chunks of at most ``CHUNK_BYTES`` of input):
the driver returns the chunk's effects; the household states go into the table's store, and every
record the chunk produces — alerts, the table's changelog records, dead letters, records forwarded
to their partition — is handed to the producer at once in per-partition batches. The agent goes on
with the next chunk while a second task waits, chunk after chunk in order, until the broker has
acknowledged all of a chunk's outputs (a failed send is sent again); only then are the chunk's records
acknowledged to Faust, which commits them. At most ``MAX_IN_FLIGHT`` chunks wait at once. Faust's own
flush-before-commit only logs a failed send, so it is not relied on.

At-least-once without loss or duplicates (an outbox in the state): the state holds the alerts it
published. After a crash, a redelivered event whose state was written is recognised as applied and
re-sends the current revision of every alert it touched; one whose state was not written is
processed again and yields the same alert ids and revisions. Consumers keep the highest revision.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, NoReturn, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from faust.auth import SASLCredentials
from prometheus_client import CollectorRegistry

from connectors.kafka import idempotent_producer, read_topic_to_end
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.partitioning import partition_of
from dixian.kafka_access import KafkaAccess, KafkaTarget
from dixian.topics import HOUSEHOLD_TABLE, Topics
from rules.live import LiveCatalogue
from streams.core import HouseholdState, decode_state, encode_state, holds_events
from streams.driver import Driver, Effects, InputRecord, alert_record
from streams.faust_fixes import App
from streams.heap import HeapTrimmer, malloc_trim
from streams.metrics import PipelineMetrics
from streams.store import register as register_store

AGENT = "household_events"
BATCH_RECORDS = 500  # records per take_events batch ...
CHUNK_BYTES = 2 * 1024 * 1024  # ... processed in chunks of this much input (a record may hold 500 events)
BATCH_WITHIN_S = 0.005
STREAM_BUFFER = 256
CLOCK_MARGIN_S = 5.0  # how far the broker's clock (LogAppendTime, see dixian.topics) may run ahead
MAX_IN_FLIGHT = 8  # chunks whose outputs may wait for the broker's acknowledgement at once
TRIM_INTERVAL_S = 1.0  # how often free heap memory goes back to the system (streams.heap)
log = logging.getLogger("dixian.streams")
T = TypeVar("T")
Output = dict[tuple[str, int], list[tuple[bytes | None, bytes]]]


async def read_published_catalogue(kafka: KafkaAccess, topic: str, offer: Callable[[bytes], None]) -> int:
    """Offer every record of the compacted control topic, from its beginning to the end it has now
    (no consumer group: every worker reads all of it); the end offset, where following resumes."""
    records, ends = await read_topic_to_end(kafka, topic)
    for _, value in records:
        if value is not None:
            offer(value)
    return ends.get(TopicPartition(topic, 0), 0)


def faust_credentials(kafka: KafkaAccess) -> SASLCredentials | None:
    """Faust's form of the process's TLS + SCRAM credentials (None for a plaintext broker)."""
    if not kafka.secured:
        return None
    return SASLCredentials(
        username=kafka.username,
        password=kafka.password,
        ssl_context=kafka.ssl_context(),
        mechanism=kafka.mechanism,
    )


def faust_app(settings: Settings) -> App:
    faust_dir = settings.faust_dir  # not <app id>-data in the working directory
    faust_dir.mkdir(parents=True, exist_ok=True)
    return App(
        settings.worker_id,
        broker=[f"kafka://{b.strip()}" for b in settings.kafka_bootstrap.split(",")],
        broker_credentials=faust_credentials(settings.kafka),
        # every record, the changelog's included, is acknowledged by all in-sync replicas
        producer_acks=-1,
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
        broker_commit_interval=settings.commit_interval_s,
        # a revoke waits until the batch in hand is done: no write to a household another worker owns
        stream_wait_empty=True,
        # a standby replica of an in-memory table is pure cost: a new owner reads the changelog anyway
        table_standby_replicas=0,
        # records buffered ahead of the agent: a department record holds up to 500 events (256 KiB),
        # so Faust's default of 4096 could hold a whole backlog in memory
        stream_buffer_maxsize=STREAM_BUFFER,
        loghandlers=[],
    )


def unfinished(exc: BaseException) -> NoReturn:
    """A batch that did not finish (an error outside the core, which turns its own failures into
    dead letters, or the worker stopped mid-batch) must not be acknowledged: Faust would ack the
    batch as the agent's stream closes and commit it, though its outputs may not all have reached
    the broker. Leave at once instead; its records are delivered again to the next owner."""
    log.critical("a batch did not finish (%r): exiting without committing it", exc)
    logging.shutdown()
    os._exit(70)


async def _answered(ask: Callable[[], Awaitable[T]], what: str) -> T:
    """``ask()`` again until the broker answers (it may be away for a while)."""
    delay = 0.5
    while True:
        try:
            return await ask()
        except (KafkaError, OSError) as exc:
            log.warning("%s not readable (%s); asking again in %.1fs", what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def release_values(events: list[Any]) -> None:
    """Drop a processed chunk's record values: the records wait for their outputs' acknowledgement
    (up to ``MAX_IN_FLIGHT`` chunks of ``CHUNK_BYTES``), and only their offsets and timestamps are
    needed for that."""
    for e in events:
        e.value = None
        e.message.value = None


def chunked(events: list[Any]) -> list[list[Any]]:
    """A take_events batch in chunks of at most ``CHUNK_BYTES`` of record values (at least one
    record each): roster records are small and go in one chunk, batch records of departments a few
    at a time, so what one chunk holds in memory stays bounded."""
    chunks: list[list[Any]] = [[]]
    size = 0
    for e in events:
        n = len(e.value) if e.value else 0
        if chunks[-1] and size + n > CHUNK_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(e)
        size += n
    return chunks


Sent = list[tuple[tuple[str, int], list[tuple[bytes | None, bytes]], "asyncio.Future[Any]"]]


class Outbox:
    """The worker's own idempotent producer. ``send`` hands a batch's records over in per-partition
    producer batches at once; ``settle`` waits until the broker acknowledged all of them, sending a
    failed partition's records again (the broker away, a timeout) until it does. Sending again is
    safe: alerts repeat with the same revision, forwarded events are recognised by their event id, and
    a changelog partition is sent again with the *current* value of each of its keys (``latest``), so
    a later batch's state of a household is never overwritten by an earlier one."""

    def __init__(self, kafka: KafkaTarget, metrics: PipelineMetrics) -> None:
        self.kafka = kafka
        self.metrics = metrics
        self._producer: AIOKafkaProducer | None = None

    async def _ready(self) -> AIOKafkaProducer:
        if self._producer is None:
            # No linger: ``send`` hands a chunk's batches over whole, so waiting for more records
            # only delays them (live latency at 200 events/s: bench/README, sessions 21-22).
            producer = idempotent_producer(self.kafka, linger_ms=0, client_id="dixian-worker")
            await producer.start()
            self._producer = producer
        return self._producer

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def send(self, output: Output) -> Sent:
        producer = await self._ready()
        sent: Sent = []
        for where, records in output.items():
            batch = producer.create_batch()
            held: list[tuple[bytes | None, bytes]] = []
            for key, value in records:
                if batch.append(key=key, value=value, timestamp=None) is None:
                    sent.append((where, held, await producer.send_batch(batch, where[0], partition=where[1])))
                    batch, held = producer.create_batch(), []
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        raise ValueError(f"a record of {len(value)} bytes exceeds the producer's batch size")
                held.append((key, value))
            sent.append((where, held, await producer.send_batch(batch, where[0], partition=where[1])))
        return sent

    async def settle(
        self, sent: Sent, changelog: str = "", latest: Callable[[bytes], bytes | None] | None = None
    ) -> None:
        delay = 0.1
        while sent:
            results = await asyncio.gather(*(f for _, _, f in sent), return_exceptions=True)
            failed = [
                (w, recs)
                for (w, recs, _), r in zip(sent, results, strict=True)
                if isinstance(r, BaseException)
            ]
            if not failed:
                return
            errors = {type(r).__name__ for r in results if isinstance(r, BaseException)}
            log.warning(
                "%d output batches not acknowledged (%s); sending them again in %.1fs",
                len(failed),
                ", ".join(sorted(errors)),
                delay,
            )
            self.metrics.send_retries.inc(len(failed))
            if any(not isinstance(r, KafkaError) for r in results if isinstance(r, BaseException)):
                await self.stop()  # an unexpected failure: start over with a new producer
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
            again: Output = {}
            for where, records in failed:
                if where[0] == changelog and latest is not None:
                    current = [(k, v) for k, _ in records if k is not None and (v := latest(k)) is not None]
                    again.setdefault(where, []).extend(current)
                else:
                    again.setdefault(where, []).extend(records)
            sent = await self.send(again)

    async def deliver(self, output: Output) -> None:
        """``send`` then ``settle``."""
        await self.settle(await self.send(output))


class EndOffsets:
    """The end offsets of roster partitions, asked on a connection of the worker's own. Not through
    Faust's consumer: the broker answers a connection's requests in order, so there the question
    waits behind the consumer's pending long-poll fetch (4.3 ms median and 15 ms p99 on every chunk of
    live records, of ~20 ms from broker to acknowledged outputs at 200 events/s)."""

    def __init__(self, kafka: KafkaAccess) -> None:
        self.kafka = kafka
        self._client: AIOKafkaConsumer | None = None  # no group, no assignment: it never fetches

    async def __call__(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        if self._client is None:
            client = AIOKafkaConsumer(
                **self.kafka.options(), enable_auto_commit=False, client_id="dixian-worker-ends"
            )
            await client.start()
            self._client = client
        ends: dict[TopicPartition, int] = await self._client.end_offsets(list(tps))
        return ends

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.stop()
            self._client = None


class RosterGate:
    """Whether an assigned partition's roster has been read: every record of the households topic
    partition that the consumer knows of (its end offset from the latest fetch, or the end offset
    asked for at assignment) has been processed. Until then an event of a household without a roster
    record is held (see ``streams.driver``): a worker on a backlog reads all topics at once, and the
    roster's partition can lag behind a department's."""

    def __init__(self, topic: str, highwater: Callable[[TopicPartition], int | None]) -> None:
        self.topic = topic
        self._highwater = highwater
        self.done: dict[int, int] = {}  # partition → last roster offset processed (or committed − 1)
        self.ends: dict[int, int] = {}  # partition → end offset asked for at assignment
        self.asked_at: dict[int, float] = {}  # partition → when its end was last asked (time.time())
        self.known: frozenset[TopicPartition] = frozenset()

    def ready(self, partition: int) -> bool:
        done = self.done.get(partition)
        if done is None:
            return False  # not (yet) assigned here
        try:
            high = self._highwater(TopicPartition(self.topic, partition))
        except AssertionError:  # revoked since
            return False
        end = max(high or 0, self.ends.get(partition, 0))
        return done >= end - 1

    def seen(self, partition: int, offset: int) -> None:
        if offset > self.done.get(partition, -1):
            self.done[partition] = offset

    def to_confirm(self, written: Mapping[int, float]) -> list[TopicPartition]:
        """The roster partitions whose end must be asked again before a chunk's events of households
        without a roster record can be judged as unknown households.

        ``written``: per partition, the newest timestamp (seconds) of the chunk's department records.
        A partition that looks read does so by the highwater of the roster partition's latest fetch,
        which can be older than those records; a roster record written before them must not be
        overtaken. It is in the log by the time they were written, so an end asked at least
        ``CLOCK_MARGIN_S`` after that covers it: on a backlog one question answers for the whole
        drain; live records would ask once per chunk, so they are held instead (``ready_for``)."""
        return [
            TopicPartition(self.topic, p)
            for p, newest in sorted(written.items())
            if self.ready(p) and newest + CLOCK_MARGIN_S > self.asked_at.get(p, float("-inf"))
        ]

    def ready_for(self, written: Mapping[int, float]) -> Callable[[int], bool]:
        """Whether a partition's roster counts as read for a chunk whose department records were
        written at ``written`` (see ``to_confirm``). A partition whose end would have to be asked
        again counts as not read: an event of a household without a roster record there is held,
        and the question is asked after the chunk, only when something was held
        (``Worker._release_ready``). The events of every other household, nearly all of a live
        chunk, never wait for a broker round trip."""
        stale = frozenset(tp.partition for tp in self.to_confirm(written))
        return lambda partition: partition not in stale and self.ready(partition)

    def confirm(self, ends: Mapping[TopicPartition, int], asked_at: float) -> None:
        """The ends the broker gave for a question sent at ``asked_at`` (wall-clock seconds)."""
        for tp, end in ends.items():
            if tp.partition not in self.done:
                continue  # revoked meanwhile
            if end > self.ends.get(tp.partition, 0):
                self.ends[tp.partition] = end
            self.asked_at[tp.partition] = max(asked_at, self.asked_at.get(tp.partition, asked_at))


class Worker:
    """One stream worker: the Faust app, its household table, the agent that drives the core, the
    task that follows published catalogues, and the timers that report lag and table size and hand
    free heap memory back to the system."""

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
            read_published_catalogue(settings.kafka, self.topics.rules_control, self.offer)
        )
        self.driver = Driver(self.topics, self.live, settings.deadlines(), partitions=settings.partitions)
        self.app = faust_app(settings)
        self.inputs = [*self.driver.channels]
        self.departments = frozenset(t for t, c in self.driver.channels.items() if isinstance(c, Dept))
        topic = self.app.topic(*self.inputs, key_serializer="raw", value_serializer="raw")
        # use_partitioner: the household id's murmur2 partition, as every producer of the inputs uses
        self.table = self.app.Table(
            HOUSEHOLD_TABLE,
            default=None,
            partitions=settings.partitions,
            key_type=bytes,
            value_type=bytes,
            use_partitioner=True,
            store=register_store(),  # Faust's memory store, recovered in bulk
        )
        self.outbox = Outbox(settings.kafka, self.metrics)
        self.ends = EndOffsets(settings.kafka)
        # a lambda: the consumer is made when the app starts, not now
        self.roster = RosterGate(self.topics.households, lambda tp: self.app.consumer.highwater(tp))  # noqa: PLW0108
        self.holding: dict[int, set[bytes]] = {}  # partition → households with held events
        self.processed: dict[tuple[str, int], int] = {}  # last offset processed per input partition
        self._lock = asyncio.Lock()  # one batch at a time changes the table: the agent's or the timer's
        self._sent: Sent = []  # outputs sent since the last hand-over
        self._settling: asyncio.Queue[tuple[list[Any], Sent]] = asyncio.Queue(MAX_IN_FLIGHT)
        self._acker: asyncio.Future[None] | None = None
        self.app.agent(topic, name=AGENT, concurrency=1)(self.consume)
        self.app.task(self.follow_catalogue)
        self.app.timer(interval=5.0)(self.report_lag_and_size)
        self.heap = HeapTrimmer(malloc_trim())
        self.app.timer(interval=TRIM_INTERVAL_S)(self.return_free_memory)
        self.app.on_before_shutdown.connect(self._on_shutdown)

    async def _on_shutdown(self, app: Any, /, *_: Any, signal: Any, **__: Any) -> None:
        # batches not settled yet stay unacknowledged: Faust does not commit them, the next owner
        # processes them again
        if self._acker is not None:
            self._acker.cancel()
        await self.outbox.stop()
        await self.ends.stop()

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
        consumer = AIOKafkaConsumer(**self.settings.kafka.options(), enable_auto_commit=False)
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

    # ---- the table ------------------------------------------------------------------------------
    @property
    def _store(self) -> Any:
        return self.table.data  # the table's store (streams.store): .data (the mapping), ._key_partition

    def _load(self, key: bytes) -> HouseholdState | None:
        raw = self._store.data.get(key)
        return decode_state(key.decode(), raw) if raw else None

    # ---- the agent ------------------------------------------------------------------------------
    async def consume(self, stream: Any) -> None:
        # Each chunk's records stay unacknowledged (an extra reference on each message) until the
        # broker has acknowledged every output the chunk produced; that happens in ``_acknowledge``,
        # chunk after chunk in order, while the agent goes on with the next ones. Handing over per
        # chunk, not per batch, bounds what waits for the broker (a batch of 500 batch records can be
        # a whole backlog) and acknowledges records sooner.
        async for events in stream.take_events(BATCH_RECORDS, within=BATCH_WITHIN_S):
            for e in events:
                e.message.incref()
            async with self._lock:
                chunks = chunked(events)
                try:
                    for chunk in chunks[:-1]:
                        await self._batch(chunk)
                        release_values(chunk)
                        await self._hand_over(chunk)  # stopped here, the rest would be left half done
                    await self._batch(chunks[-1])
                    release_values(chunks[-1])
                except BaseException as exc:
                    unfinished(exc)
                await self._hand_over(chunks[-1])

    async def _hand_over(self, events: list[Any]) -> None:
        """Queue the outputs sent since the last hand-over, with the records they came from."""
        sent, self._sent = self._sent, []
        if self._acker is None:
            self._acker = asyncio.ensure_future(self._acknowledge())
        waited = time.perf_counter()
        await self._settling.put((events, sent))  # waits while MAX_IN_FLIGHT batches are unsettled
        self.metrics.busy.labels("backpressure").inc(time.perf_counter() - waited)

    async def _acknowledge(self) -> None:
        """Settle each chunk's outputs, then acknowledge its records to Faust (which commits them)."""
        changelog: str = self.table.changelog_topic_name  # type: ignore[attr-defined]
        try:
            while True:
                events, sent = await self._settling.get()
                await self.outbox.settle(sent, changelog, self._store.data.get)
                now = time.time()
                for e in events:
                    e.ack()
                    # Faust gives the broker timestamp in seconds (its aiokafka driver divides by 1000)
                    self.metrics.latency.observe(max(0.0, now - e.message.timestamp))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            unfinished(exc)

    async def _batch(self, events: list[Any]) -> None:
        await self._assignment_changed()
        written: dict[int, float] = {}
        for e in events:
            m = e.message
            if m.topic in self.departments and m.timestamp > written.get(m.partition, float("-inf")):
                written[m.partition] = m.timestamp
        records = [InputRecord(e.message.topic, e.message.key, e.value, e.message.partition) for e in events]
        started = time.perf_counter()
        effects = self.driver.process(records, self._load, self.roster.ready_for(written))
        self.metrics.busy.labels("core").inc(time.perf_counter() - started)
        for e in events:
            m = e.message
            self.processed[(m.topic, m.partition)] = m.offset
            if m.topic == self.roster.topic:
                self.roster.seen(m.partition, m.offset)
        await self._emit(effects)
        await self._release_ready()

    async def _assignment_changed(self) -> None:
        """On a new assignment: where each new roster partition is already read to (the group's
        committed offset), and which households of the new partitions hold events (a worker that held
        them may have died)."""
        assigned = frozenset(tp for tp in self.app.consumer.assignment() if tp.topic == self.roster.topic)
        if assigned == self.roster.known:
            return
        new = assigned - self.roster.known
        self.roster.known = assigned
        mine = {tp.partition for tp in assigned}
        self.roster.done = {p: o for p, o in self.roster.done.items() if p in mine}
        self.roster.ends = {p: e for p, e in self.roster.ends.items() if p in mine}
        self.holding = {p: keys for p, keys in self.holding.items() if p in mine}
        if not new:
            self._count_holding()
            return
        ends = await _answered(lambda: self.ends(new), "end offsets of the roster")
        committed = await self._committed(new)
        for tp in new:
            self.roster.ends[tp.partition] = ends.get(tp, 0)
            self.roster.done[tp.partition] = committed.get(tp, 0) - 1
        partitions = {tp.partition for tp in new}
        n = self.settings.partitions
        for key, raw in list(self._store.data.items()):
            if holds_events(raw) and (p := partition_of(key, n)) in partitions:
                self.holding.setdefault(p, set()).add(key)
        self._count_holding()
        log.info(
            "roster partitions taken: %s; read: %s",
            sorted(partitions),
            sorted(p for p in partitions if self.roster.ready(p)),
        )

    async def _committed(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The group's committed offsets of these partitions (absent: never committed). Not the
        consumer's position: the fetcher reads ahead of what the agent has processed. Asked again
        until the broker answers."""

        async def ask() -> dict[TopicPartition, int]:
            admin = AIOKafkaAdminClient(**self.settings.kafka.options(), client_id="dixian-worker")
            try:
                await admin.start()
                offsets = await admin.list_consumer_group_offsets(
                    self.settings.worker_id, partitions=list(tps)
                )
            finally:
                await admin.close()
            return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}

        return await _answered(ask, "committed offsets")

    async def _roster_committed(self) -> None:
        """A partition whose roster the group has committed to its end is read, even if its last
        record did not pass through this worker (it may have been processed before a rebalance)."""
        waiting = [TopicPartition(self.roster.topic, p) for p in self.holding if not self.roster.ready(p)]
        if not waiting:
            return
        committed = await self._committed(waiting)
        async with self._lock:
            for tp in waiting:
                if tp.partition in self.roster.done:
                    self.roster.seen(tp.partition, committed.get(tp, 0) - 1)
            await self._release_ready()
            if self._sent:
                await self._hand_over([])

    async def _confirm_roster_ends(self, written: Mapping[int, float]) -> None:
        confirm = self.roster.to_confirm(written)
        if confirm:
            asked_at = time.time()
            ends = await _answered(lambda: self.ends(confirm), "end offsets of the roster")
            self.roster.confirm(ends, asked_at)

    async def _release_ready(self) -> None:
        await self._confirm_roster_ends({p: time.time() for p, keys in self.holding.items() if keys})
        for partition in [p for p, keys in self.holding.items() if keys and self.roster.ready(p)]:
            await self._release(partition)

    async def _release(self, partition: int) -> None:
        keys = self.holding.pop(partition, set())
        if keys:
            log.info(
                "partition %d: roster read; %d households without a record processed", partition, len(keys)
            )
            await self._emit(self.driver.release(sorted(keys), self._load))

    def _count_holding(self) -> None:
        """The gauge of households holding events, kept current with ``holding`` (not on the 5 s
        timer: a stale figure after the roster arrived would say events are still waiting)."""
        self.metrics.held.set(sum(len(keys) for keys in self.holding.values()))

    async def _emit(self, effects: Effects) -> None:
        started = time.perf_counter()
        n = self.settings.partitions
        output: Output = {}
        changelog: str = self.table.changelog_topic_name  # type: ignore[attr-defined]
        store = self._store
        for key, state in effects.states.items():
            value = encode_state(state)
            p = partition_of(key, n)
            store.data[key] = value
            store._key_partition[key] = p
            output.setdefault((changelog, p), []).append((key, value))
            if state.held:
                self.holding.setdefault(p, set()).add(key)
            elif p in self.holding:
                self.holding[p].discard(key)
        if effects.states:
            self.heap.written()
        self._count_holding()
        alerts = self.topics.alerts
        for alert in effects.published:
            village, value = alert_record(alert)
            output.setdefault((alerts, partition_of(village, n)), []).append((village, value))
        letters = self.topics.dead_letter
        for letter in effects.dead_letters:
            dept = letter.dept.encode()
            output.setdefault((letters, partition_of(dept, n)), []).append(
                (dept, letter.model_dump_json().encode())
            )
        for f in effects.forwards:
            output.setdefault((f.topic, f.partition), []).append((f.key, f.value))
        encoded = time.perf_counter()
        self.metrics.busy.labels("encode").inc(encoded - started)
        if output:
            self._sent.extend(await self.outbox.send(output))
        self.metrics.busy.labels("send").inc(time.perf_counter() - encoded)
        for (name, labels), count in effects.counts.items():
            metric = getattr(self.metrics, name)
            (metric.labels(*labels) if labels else metric).inc(count)

    # ---- memory, lag and size -------------------------------------------------------------------
    async def return_free_memory(self) -> None:
        took = self.heap.trim(len(self._store.data))  # synchronous: no batch runs meanwhile
        if took is not None:
            self.metrics.busy.labels("trim").inc(took)

    async def report_lag_and_size(self) -> None:
        try:
            await self._roster_committed()
        except (KafkaError, OSError) as exc:  # the broker away: next time (a timer must not crash the app)
            log.warning("roster progress not checked: %s", exc)
        self.metrics.households.set(len(self._store.data))
        lag: dict[str, int] = {}
        for tp in self.app.consumer.assignment():
            if tp.topic not in self.driver.channels:
                continue
            try:
                high = self.app.consumer.highwater(tp)
            except AssertionError:  # revoked by a rebalance since assignment() was read
                continue
            if high is None:
                continue
            done = self.processed.get((tp.topic, tp.partition), -1)
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, high - done - 1)
        for topic, count in lag.items():
            self.metrics.lag.labels(topic).set(count)
