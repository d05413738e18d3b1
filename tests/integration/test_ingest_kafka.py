"""A 100k-row department feed with 5% malformed rows, ingested into the real broker."""

from __future__ import annotations

import asyncio
from datetime import date
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
from reports.monthly import Sources, monthly_report
from screening.sink import run_kafka_sink
from tests.screening_helpers import Clock, china, open_test_store

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

    # the same file again is the same delivery: recognised, nothing published again
    again = asyncio.run(_ingest(settings, tmp_path / feed.file))
    assert again.already_ingested
    assert (again.run_id, again.accepted, again.duplicates) == (
        summary.run_id,
        feed.valid_unique,
        feed.duplicates,
    )
    dept_after = asyncio.run(_event_count(settings.kafka_bootstrap, dept_topic, Dept.MEDICAL_INSURANCE))
    assert dept_after == dept_count

    # the delivery's facts are on the feed-runs topic, keyed by run id, the last one complete ...
    facts = [
        orjson.loads(v or b"") for k, v in asyncio.run(read_topic(settings.kafka_bootstrap, topics.feed_runs))
    ]
    assert {f["run_id"] for f in facts} == {summary.run_id}
    assert facts[0]["status"] == "running"
    last = facts[-1]
    assert (last["status"], last["rows_read"], last["accepted"], last["rejected"]) == (
        "complete",
        feed.rows,
        feed.valid_unique,
        sum(feed.malformed.values()),
    )
    # ... and the queue's sink stores them, so a report made on another machine states the delivery
    store = open_test_store(f"sqlite:///{tmp_path / 'elsewhere.sqlite'}", Clock(china(2022, 8, 1)))
    asyncio.run(run_kafka_sink(settings, store, until_caught_up=True))
    row = next(
        r
        for r in monthly_report(Sources(store), "2022-06", date(2022, 8, 1)).table("部门数据报送").rows
        if r["dept"] == Dept.MEDICAL_INSURANCE.zh
    )
    assert (row["rows_read"], row["accepted"], row["duplicates"], row["rejected"]) == (
        feed.rows,
        feed.valid_unique,
        feed.duplicates,
        sum(feed.malformed.values()),
    )
    assert row["delivered"] == "已报送（1批）"
    store.db.close()
