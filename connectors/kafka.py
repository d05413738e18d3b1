"""Kafka plumbing: explicit topic creation and an idempotent producer.

Topics are created by the project, never by the broker (auto-creation is off), so a wrong
name fails loudly and every keyed topic has the configured partition count.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from dixian.kafka_access import KafkaTarget, access
from dixian.topics import TopicSpec


class TopicMismatchError(RuntimeError):
    """An existing topic has a different partition count than configured."""


async def ensure_topics(kafka: KafkaTarget, specs: Iterable[TopicSpec], replication: int = 1) -> list[str]:
    """Create the missing topics; refuse existing ones whose partition count differs.

    Returns the names that were created.
    """
    # Replicated: an acknowledged write (acks=all) is on two brokers at least, so one may fail.
    durable = {"min.insync.replicas": str(min(2, replication - 1))} if replication > 1 else {}
    admin = AIOKafkaAdminClient(**access(kafka).options(), client_id="dixian-admin")
    # start() inside the try: a client whose start failed half-way is closed too (its sockets)
    try:
        await admin.start()
        wanted = {s.name: s for s in specs}
        existing = set(await admin.list_topics())
        missing = [s for n, s in wanted.items() if n not in existing]
        if missing:
            # A concurrent creator may win the race: the check below still verifies the counts.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(s.name, s.partitions, replication, topic_configs=s.config() | durable)
                        for s in missing
                    ]
                )
        present = [n for n in wanted if n in existing]
        if present:
            for desc in await admin.describe_topics(present):
                name = desc["topic"]
                have = len(desc["partitions"])
                if have != wanted[name].partitions:
                    raise TopicMismatchError(
                        f"topic {name} has {have} partitions, configuration says "
                        f"{wanted[name].partitions}; partition counts are fixed at creation: "
                        "use a new topic prefix or restore the setting"
                    )
        if missing:
            await _wait_until_led(admin, {s.name: s.partitions for s in missing})
        return [s.name for s in missing]
    finally:
        await admin.close()


async def _wait_until_led(admin: AIOKafkaAdminClient, wanted: dict[str, int], timeout: float = 30) -> None:
    """Until every new topic shows all its partitions with a leader: a consumer that subscribes
    earlier can get an empty assignment on a freshly started broker and then never consume."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        ready = {
            d["topic"]
            for d in await admin.describe_topics(list(wanted))
            if len(d["partitions"]) == wanted[d["topic"]] and all(p["leader"] >= 0 for p in d["partitions"])
        }
        if ready == set(wanted):
            return
        if loop.time() > deadline:
            raise TimeoutError(f"topics without leaders after {timeout}s: {sorted(set(wanted) - ready)}")
        await asyncio.sleep(0.2)


async def list_topics(kafka: KafkaTarget) -> list[str]:
    admin = AIOKafkaAdminClient(**access(kafka).options(), client_id="dixian-admin")
    try:
        await admin.start()
        return sorted(t for t in await admin.list_topics() if not t.startswith("__"))
    finally:
        await admin.close()


def idempotent_producer(kafka: KafkaTarget, **kwargs: object) -> AIOKafkaProducer:
    """A producer that never duplicates on retry (acks=all + idempotence) and batches well."""
    opts: dict[str, object] = {
        **access(kafka).options(),
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 20,
        "max_batch_size": 256 * 1024,
        "compression_type": None,
        "client_id": "dixian-producer",
    }
    opts.update(kwargs)
    return AIOKafkaProducer(**opts)


def broker_reachable(kafka: KafkaTarget, timeout: float = 2.0) -> bool:
    """Whether the first bootstrap address accepts a TCP connection."""
    import socket  # noqa: PLC0415

    host, _, port = access(kafka).bootstrap.split(",", maxsplit=1)[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def crecords_loaded() -> bool:
    """Whether aiokafka's C extension is in use (pure Python is ~6x slower)."""
    try:
        import aiokafka.record._crecords  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


async def _partitions(admin: AIOKafkaAdminClient, topics: list[str]) -> list[TopicPartition]:
    return [
        TopicPartition(d["topic"], p["partition"])
        for d in await admin.describe_topics(topics)
        for p in d["partitions"]
    ]


async def end_offsets(kafka: KafkaTarget, topics: list[str]) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(**access(kafka).options(), client_id="dixian-admin")
    try:
        await admin.start()
        parts = await _partitions(admin, topics)
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(**access(kafka).options(), enable_auto_commit=False)
    try:
        await consumer.start()
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


async def group_lag(kafka: KafkaTarget, group: str, topics: list[str]) -> int:
    """Records of ``topics`` that consumer group ``group`` has not committed yet."""
    ends = await end_offsets(kafka, topics)
    admin = AIOKafkaAdminClient(**access(kafka).options(), client_id="dixian-admin")
    try:
        await admin.start()
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(max(0, end - (committed[tp].offset if tp in committed else 0)) for tp, end in ends.items())


async def commit_group_at(kafka: KafkaTarget, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit ``offsets`` for consumer group ``group`` (no member of it running): its consumers then
    start there. For handing records over that were processed elsewhere."""
    consumer = AIOKafkaConsumer(**access(kafka).options(), group_id=group, enable_auto_commit=False)
    try:
        await consumer.start()
        consumer.assign(list(offsets))
        await consumer.commit(dict(offsets))
    finally:
        await consumer.stop()


async def read_topic_timed(
    kafka: KafkaTarget, topic: str
) -> tuple[list[tuple[int, bytes | None, bytes | None]], dict[TopicPartition, int]]:
    """Every record of a topic as (broker timestamp in ms, key, value), from the beginning to the end
    offsets it has now, and those end offsets (no consumer group); each partition in offset order. A
    partition is done when the consumer's position reaches its end, which also holds when compaction
    removed the last offsets before it. (Reset policy ``earliest``: see
    ``streams.store.load_changelog`` for what aiokafka's default does to ``seek_to_beginning``.)"""
    ends = await end_offsets(kafka, [topic])
    consumer = AIOKafkaConsumer(
        **access(kafka).options(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    out: list[tuple[int, bytes | None, bytes | None]] = []
    try:
        await consumer.start()
        parts = list(ends)
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        remaining = {tp for tp, end in ends.items() if end > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=10_000)
            for tp, msgs in batch.items():
                out.extend((m.timestamp, m.key, m.value) for m in msgs if m.offset < ends[tp])
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return out, ends


async def read_topic_to_end(
    kafka: KafkaTarget, topic: str
) -> tuple[list[tuple[bytes | None, bytes | None]], dict[TopicPartition, int]]:
    """Every record of a topic as (key, value) and the end offsets it was read to (``read_topic_timed``)."""
    records, ends = await read_topic_timed(kafka, topic)
    return [(k, v) for _, k, v in records], ends


async def read_topic(kafka: KafkaTarget, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    """Every record of a topic, from the beginning to the end it has now (no consumer group)."""
    return (await read_topic_to_end(kafka, topic))[0]
