"""Reading partitions from their beginning with a fresh consumer: the table's bulk recovery and
``read_topic_to_end``. With aiokafka's default reset policy (``latest``), one of two freshly
assigned partitions was reset to its end after ``seek_to_beginning`` and read as empty — a worker
taking over then lost the state of every household of that partition."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition

from connectors.kafka import ensure_topics, read_topic_to_end
from dixian.topics import TopicSpec
from streams.store import load_changelog

pytestmark = pytest.mark.integration

PARTITIONS = 2
PER_PARTITION = 2000


async def _fill(bootstrap: str, topic: str) -> dict[bytes, bytes]:
    await ensure_topics(bootstrap, [TopicSpec(topic, PARTITIONS, compacted=True)])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=1024 * 1024, linger_ms=50)
    await producer.start()
    want: dict[bytes, bytes] = {}
    try:
        for p in range(PARTITIONS):
            for i in range(PER_PARTITION):
                key, value = f"{p}-{i:05d}".encode(), (f"[{p},{i}," + "x" * 1500 + "]").encode()
                want[key] = value
                await producer.send(topic, key=key, value=value, partition=p)
        await producer.flush()
    finally:
        await producer.stop()
    return want


def test_every_partition_is_read_from_its_beginning(bootstrap: str) -> None:
    topic = f"load-{uuid.uuid4().hex[:8]}"
    want = asyncio.run(_fill(bootstrap, topic))
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    for _ in range(3):
        data: dict[bytes, bytes] = {}
        where: dict[bytes, int] = {}
        applied, last = asyncio.run(
            load_changelog({"bootstrap_servers": bootstrap}, dict.fromkeys(tps, 0), data, where)
        )
        assert applied == len(want)
        assert data == want
        assert last == dict.fromkeys(tps, PER_PARTITION - 1)
        assert {where[k] for k in want} == set(range(PARTITIONS))
        records, ends = asyncio.run(read_topic_to_end(bootstrap, topic))
        assert len(records) == len(want)
        assert ends == dict.fromkeys(tps, PER_PARTITION)


def test_a_start_offset_reads_only_what_follows(bootstrap: str) -> None:
    topic = f"load-{uuid.uuid4().hex[:8]}"
    asyncio.run(_fill(bootstrap, topic))
    tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    data: dict[bytes, bytes] = {}
    applied, last = asyncio.run(
        load_changelog({"bootstrap_servers": bootstrap}, {tps[0]: 1500, tps[1]: PER_PARTITION}, data, {})
    )
    assert applied == PER_PARTITION - 1500
    assert set(data) == {f"0-{i:05d}".encode() for i in range(1500, PER_PARTITION)}
    assert last == {tps[0]: PER_PARTITION - 1}
