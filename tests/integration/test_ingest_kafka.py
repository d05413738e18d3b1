"""A 100k-row department feed with 5% malformed rows, ingested into the real broker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from connectors.ingest import Ingester, IngestSummary
from connectors.kafka import end_offsets, read_topic
from connectors.sinks import KafkaSink
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.wire import decode_events
from dixian.simulate import build_city, generate_feed
from dixian.topics import Topics

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def _topic_count(bootstrap: str, topic: str) -> int:
    """Records in a topic (nothing is deleted from these fresh topics: end offsets count them)."""
    return sum((await end_offsets(bootstrap, [topic])).values())


async def _event_count(bootstrap: str, topic: str, dept: Dept) -> int:
    """Events on a department topic: its records carry batches of events (a JSON array each)."""
    return sum(len(decode_events(v or b"", dept)) for _, v in await read_topic(bootstrap, topic))


async def _ingest(settings: Settings, path: Path) -> IngestSummary:
    sink = KafkaSink(settings.kafka_bootstrap)
    await sink.start()
    ing = Ingester(settings, sink)
    try:
        return await ing.ingest_file("medical_insurance", path, month="2022-06")
    finally:
        ing.close()
        await sink.stop()


async def _sample_dead_letters(bootstrap: str, topic: str, n: int) -> list[dict[str, object]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    out: list[dict[str, object]] = []
    try:
        while len(out) < n:
            batch = await consumer.getmany(timeout_ms=2000, max_records=n)
            if not batch:
                break
            out.extend(orjson.loads(m.value) for msgs in batch.values() for m in msgs)
    finally:
        await consumer.stop()
    return out[:n]


def test_100k_feed_with_5_percent_malformed_reconciles_with_topics(
    settings: Settings, tmp_path: Path
) -> None:
    city = build_city(12_000, seed=11)
    feed = generate_feed(
        Dept.MEDICAL_INSURANCE, city, "2022-06", tmp_path, seed=11, malformed=0.05, rows=100_000
    )
    assert feed.rows >= 100_000
    assert set(feed.malformed) == {
        "bad_id",
        "bad_village",
        "wrong_type",
        "bad_date",
        "unknown_value",
        "missing_columns",
        "encoding",
    }
    topics = Topics(settings)
    summary = asyncio.run(_ingest(settings, tmp_path / feed.file))
    assert summary.reconciles
    assert summary.rows_read == feed.rows
    assert summary.rejected_total == sum(feed.malformed.values())
    assert summary.duplicates == feed.duplicates
    assert summary.accepted == feed.valid_unique
    dept_topic = topics.dept(Dept.MEDICAL_INSURANCE)
    dept_count = asyncio.run(_event_count(settings.kafka_bootstrap, dept_topic, Dept.MEDICAL_INSURANCE))
    assert asyncio.run(_topic_count(settings.kafka_bootstrap, dept_topic)) < dept_count / 100  # batched
    dead_count = asyncio.run(_topic_count(settings.kafka_bootstrap, topics.dead_letter))
    assert dept_count == summary.accepted
    assert dead_count == summary.rejected_total
    assert dept_count + dead_count + summary.duplicates == feed.rows

    # every dead letter names file, line, field and a reason in both languages
    for letter in asyncio.run(_sample_dead_letters(settings.kafka_bootstrap, topics.dead_letter, 200)):
        assert letter["file"] == feed.file
        assert isinstance(letter["row"], int)
        assert letter["row"] >= 2
        assert letter["field"]
        assert letter["reason_zh"]
        assert letter["reason_en"]

    # the same file again publishes nothing
    again = asyncio.run(_ingest(settings, tmp_path / feed.file))
    assert again.accepted == 0
    assert again.duplicates == feed.valid_unique + feed.duplicates
    dept_after = asyncio.run(_event_count(settings.kafka_bootstrap, dept_topic, Dept.MEDICAL_INSURANCE))
    assert dept_after == dept_count
