"""Into the store: the alerts, household roster and feed-runs topics; out of it: the workflow steps.

Kafka in: one consumer group, no auto-commit; each ``getmany`` batch is written in one transaction and
only then are its offsets committed. A crash between the two replays the batch, and the upserts make
the replay a no-op, so a restarted sink leaves exactly one row per alert. Refused records go to the
dead-letter topic (after which their offsets are committed too), so nothing is lost silently.

Kafka out (outbox): steps are written with the clue change in one transaction, then published keyed
by household id and marked published after the broker acknowledged them; a step published twice has
the same conclusion id, which the stream processor applies once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from connectors.kafka import read_topic_timed
from connectors.sinks import (
    KafkaSink,
    Sink,
    append_local_letters,
    local_head,
    read_local,
    read_local_from,
    replace_local_letters,
    resume_at,
)
from dixian.config import Settings
from dixian.contract import Household
from dixian.contract.alerts import Alert
from dixian.contract.deadletter import DeadLetter
from dixian.contract.feedruns import FeedRun
from dixian.contract.wire import (
    Accepted,
    Decoded,
    decode_alert,
    decode_conclusion,
    decode_feed_run,
    decode_household,
)
from dixian.topics import Topics
from screening.clues import OPENING_CLUES
from screening.rebuild import RebuildStats, rebuild
from screening.store import Store

log = logging.getLogger("dixian.screening")
T = TypeVar("T")


@dataclass
class SinkStats:
    alerts: int = 0  # records read from the alerts topic
    inserted: int = 0  # new household clues
    joined: int = 0  # alerts that joined their household's open clue
    updated: int = 0
    unchanged: int = 0
    households: int = 0
    feed_runs: int = 0  # deliveries' facts that changed the store
    dead_letters: int = 0
    batches: int = 0
    letters: list[DeadLetter] = field(default_factory=list, repr=False)

    def line(self) -> str:
        return (
            f"alerts read {self.alerts}: new clues {self.inserted}, joined open clues {self.joined},"
            f" updated {self.updated}, "
            f"replayed/older {self.unchanged}; households {self.households}; dead letters {self.dead_letters}"
        )


def _apply(
    store: Store,
    topics: Topics,
    records: list[tuple[str, bytes]],
    stats: SinkStats,
    position: tuple[str, int, str] | None = None,
) -> None:
    alerts: list[Alert] = []
    households: list[Household] = []
    runs: list[FeedRun] = []
    for topic, raw in records:
        if topic == topics.feed_runs:
            got_r = decode_feed_run(raw)
            if isinstance(got_r, Accepted):
                runs.append(got_r.value)
            else:
                stats.letters.append(got_r.letter)
        elif topic == topics.alerts:
            stats.alerts += 1
            got_a = decode_alert(raw)
            if isinstance(got_a, Accepted):
                alerts.append(got_a.value)
            else:
                stats.letters.append(got_a.letter)
        else:
            got_h = decode_household(raw)
            if isinstance(got_h, Accepted):
                households.append(got_h.value)
            else:
                stats.letters.append(got_h.letter)
    with store.db.transaction():
        store.db.serialise(OPENING_CLUES)  # first: before the transaction locks any row
        stats.households += store.ledger.upsert(households)
        counts = store.clues.upsert_alerts(alerts)
        stats.feed_runs += store.feeds.upsert(runs)
        if position is not None:  # the local file read this far, in the same transaction
            store.db.execute(
                "INSERT INTO local_positions (topic, position, head) VALUES (?, ?, ?) ON CONFLICT (topic)"
                " DO UPDATE SET position = excluded.position, head = excluded.head",
                position,
            )
    stats.inserted += counts.inserted
    stats.joined += counts.joined
    stats.updated += counts.updated
    stats.unchanged += counts.unchanged
    stats.batches += 1


def _local_position(store: Store, topic: str, path: Path) -> int:
    row = store.db.one("SELECT position, head FROM local_positions WHERE topic = ?", (topic,))
    return resume_at(path, int(row["position"]) if row else None, row["head"] if row else None)


def sync_local(store: Store, local_dir: Path, topics: Topics) -> SinkStats:
    """Embedded default: load what the local topic files (households, then alerts, then the
    deliveries' facts) gained since the last load into the store; each file's position is kept in
    the store with the rows it produced."""
    stats = SinkStats()
    alerts_from = 0
    for topic in (topics.households, topics.alerts, topics.feed_runs):
        path = local_dir / f"{topic}.jsonl"
        start = _local_position(store, topic, path)
        if topic == topics.alerts:
            alerts_from = start
        batch: list[tuple[str, bytes]] = []
        pos = start
        for pos, _, raw in read_local_from(path, start):
            batch.append((topic, raw))
            if len(batch) >= 2000:  # fingerprinted once a line was read (a new file starts empty)
                _apply(store, topics, batch, stats, (topic, pos, local_head(path)))
                batch = []
        _apply(store, topics, batch, stats, (topic, pos, local_head(path)) if pos > start else None)
    stats.dead_letters = len(stats.letters)
    # Refused alert records go to the local dead-letter file with their reason; refused roster
    # records are the very ones the stream stage already put there (same decoding), so only counted.
    alert_letters = [x for x in stats.letters if x.dept in ("alerts", "feed_runs")]
    if alerts_from == 0:  # the alerts were read from their start: their letters replace earlier ones
        replace_local_letters(local_dir, topics.dead_letter, alert_letters, {"alerts", "feed_runs"})
    elif alert_letters:
        append_local_letters(local_dir, topics.dead_letter, alert_letters)
    return stats


def sink_group(settings: Settings) -> str:
    """The consumer group of the queue's sink."""
    return f"{settings.worker_id}-screening-store"


class RosterFirst(ConsumerRebalanceListener):  # type: ignore[misc]
    """On every assignment the alert partitions wait until the roster partitions are read to the end
    they had then: each alert's household is in the ledger before the alert is applied, so what the
    store records of it (``monitored_risk``) does not depend on which topic the consumer fetched
    first, and a rebuild from the topics (roster first) gives the same store. The sink runs as one
    process (one writer of the store), so it is assigned every partition of both topics."""

    def __init__(self, consumer: AIOKafkaConsumer, roster_topic: str) -> None:
        self.consumer = consumer
        self.roster_topic = roster_topic
        self.waiting: dict[TopicPartition, int] = {}
        self.held: list[TopicPartition] = []

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        assigned = list(assigned)
        roster = [tp for tp in assigned if tp.topic == self.roster_topic]
        ends = await self.consumer.end_offsets(roster) if roster else {}
        self.waiting = {tp: end for tp, end in ends.items() if end > 0}
        self.held = [tp for tp in assigned if tp.topic != self.roster_topic] if self.waiting else []
        if self.held:
            self.consumer.pause(*self.held)

    def hold_back(self, got: dict[TopicPartition, list[Any]]) -> dict[TopicPartition, list[Any]]:
        """While the roster is being read, alert records fetched before the pause took hold (the
        fetcher may run between the assignment and this listener) are not applied: their partitions
        are sought back to them, to be fetched again once the roster is read."""
        if not self.waiting:
            return got
        kept = {}
        for tp, msgs in got.items():
            if tp.topic == self.roster_topic:
                kept[tp] = msgs
            elif msgs:
                self.consumer.seek(tp, msgs[0].offset)
        return kept

    async def release_when_read(self) -> None:
        if not self.waiting:
            return
        for tp, end in list(self.waiting.items()):
            if tp not in self.consumer.assignment() or await self.consumer.position(tp) >= end:
                del self.waiting[tp]
        if not self.waiting and self.held:
            self.consumer.resume(*[tp for tp in self.held if tp in self.consumer.assignment()])
            self.held = []


async def run_kafka_sink(
    settings: Settings,
    store: Store,
    *,
    until_caught_up: bool = False,
    stop: asyncio.Event | None = None,
    on_batch: Callable[[SinkStats], None] | None = None,
) -> SinkStats:
    """Consume alerts and households into the store until ``stop`` is set (or, with
    ``until_caught_up``, until every assigned partition is at its end offset)."""
    topics = Topics(settings)
    consumer = AIOKafkaConsumer(
        **settings.kafka.options(),
        group_id=sink_group(settings),
        client_id="dixian-screening-store",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=2000,
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        heartbeat_interval_ms=int(max(1.0, settings.session_timeout_s / 3) * 1000),
    )
    roster_first = RosterFirst(consumer, topics.households)
    consumer.subscribe([topics.alerts, topics.households, topics.feed_runs], listener=roster_first)
    dead = KafkaSink(settings.kafka)
    stats = SinkStats()
    stop = stop or asyncio.Event()
    await consumer.start()
    await dead.start()
    try:
        idle_since: float | None = None
        while not stop.is_set():
            got = await consumer.getmany(timeout_ms=500, max_records=2000)
            got = roster_first.hold_back(got)
            records = [(tp.topic, m.value) for tp, msgs in got.items() for m in msgs if m.value is not None]
            if records:
                idle_since = None
                before = len(stats.letters)
                _apply(store, topics, records, stats)
                fresh = stats.letters[before:]
                if fresh:
                    await dead.send(
                        topics.dead_letter,
                        [(d.dept.encode(), d.model_dump_json().encode()) for d in fresh],
                    )
                    await dead.flush()
                    stats.dead_letters += len(fresh)
                    for d in fresh:
                        log.warning("refused a %s record: %s (%s)", d.dept, d.reason_en, d.field)
                    stats.letters.clear()
                await consumer.commit()  # only after the write (and dead letters) are durable
                await roster_first.release_when_read()
                if on_batch:
                    on_batch(stats)
                continue
            await roster_first.release_when_read()
            if until_caught_up:
                assigned = consumer.assignment()
                if assigned:
                    ends = await consumer.end_offsets(list(assigned))
                    at_end = True
                    for tp in assigned:
                        at_end = at_end and await consumer.position(tp) >= ends[tp]
                    idle_since = idle_since or time.monotonic()
                    if at_end and time.monotonic() - idle_since > 0.5:
                        break
    finally:
        await dead.stop()
        await consumer.stop()
    return stats


async def publish_pending(store: Store, sink: Sink, topics: Topics, limit: int = 500) -> int:
    """Publish the steps not yet published (oldest first); returns how many went out."""
    total = 0
    while True:
        pending = store.clues.pending_conclusions(limit)
        if not pending:
            return total
        await sink.send(
            topics.conclusions, [(c.household_id.encode(), c.model_dump_json().encode()) for c in pending]
        )
        await sink.flush()  # acknowledged by the broker (or written to the local file) ...
        store.clues.mark_published(c.conclusion_id for c in pending)  # ... before they count as published
        total += len(pending)
        if len(pending) < limit:
            return total


Timed = list[tuple[int, bytes | None, bytes | None]]


def _rebuild(store: Store, roster: Timed, steps: Timed, alerts: Timed, runs: Timed) -> RebuildStats:
    """Decode the four topics' records and rebuild; records that do not decode were dead-lettered
    when they first arrived and are counted again here, not applied."""
    refused = 0

    def accepted(records: Timed, decode: Callable[[bytes], Decoded[T]]) -> Iterator[tuple[int, T]]:
        nonlocal refused
        for at, _, raw in records:
            if raw is None:  # a tombstone
                continue
            got = decode(raw)
            if isinstance(got, Accepted):
                yield at, got.value
            else:
                refused += 1

    stats = rebuild(
        store,
        accepted(roster, decode_household),
        accepted(steps, decode_conclusion),
        (a for _, a in accepted(alerts, decode_alert)),
    )
    stats.feed_runs = store.feeds.upsert(r for _, r in accepted(runs, decode_feed_run))
    stats.refused = refused
    return stats


async def rebuild_from_kafka(settings: Settings, store: Store) -> RebuildStats:
    """Rebuild an empty store from the roster, conclusions, alerts and feed-runs topics
    (``screening.rebuild``)."""
    topics = Topics(settings)
    roster, _ = await read_topic_timed(settings.kafka, topics.households)
    steps, _ = await read_topic_timed(settings.kafka, topics.conclusions)
    alerts, _ = await read_topic_timed(settings.kafka, topics.alerts)
    runs, _ = await read_topic_timed(settings.kafka, topics.feed_runs)
    return _rebuild(store, roster, steps, alerts, runs)


def rebuild_from_local(store: Store, local_dir: Path, topics: Topics) -> RebuildStats:
    """The embedded default's rebuild from its local topic files (no broker times: the roster first)."""

    def records(topic: str, at: int) -> Timed:
        return [(at, k, v) for k, v in read_local(local_dir / f"{topic}.jsonl")]

    return _rebuild(
        store,
        records(topics.households, 0),
        records(topics.conclusions, 1),
        records(topics.alerts, 2),
        records(topics.feed_runs, 3),
    )
