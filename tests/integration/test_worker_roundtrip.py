"""The first real worker: a separate `dixian worker` process against the real broker."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from connectors.kafka import crecords_loaded
from dixian.config import Settings
from dixian.contract import Dept
from dixian.topics import Topics
from streams.core import decode_state
from tests.helpers import HOUSEHOLD, settlement

pytestmark = pytest.mark.integration


def test_aiokafka_c_extension_is_loaded() -> None:
    assert crecords_loaded(), "aiokafka.record._crecords did not import: pure Python is ~6x slower"


def test_topics_created_with_configured_partitions(settings: Settings) -> None:
    async def describe() -> dict[str, int]:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            names = [s.name for s in Topics(settings).all()]
            return {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(names)}
        finally:
            await admin.close()

    counts = asyncio.run(describe())
    topics = Topics(settings)
    assert counts[topics.dept(Dept.WATER)] == 4
    assert counts[topics.alerts] == 4
    assert counts[topics.rules_control] == 1
    assert len(counts) == len(Topics(settings).all())


async def _produce(settings: Settings, records: list[tuple[str, bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for topic, key, value in records:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topics: list[str], want: int, timeout: float = 45) -> list[Any]:
    consumer = AIOKafkaConsumer(
        *topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    got: list[Any] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(got) < want and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for msgs in batch.values():
                got.extend(msgs)
    finally:
        await consumer.stop()
    return got


def test_worker_process_turns_department_records_into_state_and_dead_letters(
    settings: Settings, workers: Callable[[str], Any]
) -> None:
    topics = Topics(settings)
    worker = workers("w1")
    good = settlement()
    wrong_owner = settlement(event_id="medi-0000000002", event_type="housing.dwelling_rated")
    asyncio.run(
        _produce(
            settings,
            [
                (topics.dept(Dept.MEDICAL_INSURANCE), HOUSEHOLD.encode(), orjson.dumps(good)),
                (topics.dept(Dept.MEDICAL_INSURANCE), HOUSEHOLD.encode(), orjson.dumps(good)),  # redelivery
                (topics.dept(Dept.MEDICAL_INSURANCE), HOUSEHOLD.encode(), b"{not json"),
                (topics.dept(Dept.MEDICAL_INSURANCE), HOUSEHOLD.encode(), orjson.dumps(wrong_owner)),
            ],
        )
    )
    changelog = f"{settings.worker_id}-household_state-changelog"
    dead = asyncio.run(_consume(settings.kafka_bootstrap, [topics.dead_letter], want=2))
    codes = sorted(orjson.loads(m.value)["code"] for m in dead)
    assert codes == ["not_json", "ownership_conflict"]
    # The household has no roster record and the records are live: its event waits in its state while
    # the roster's end is asked after the chunk, then is processed as an unknown household's.
    # (The redelivery, if it came in a chunk of its own, waits the same way and adds two more states.)
    states = asyncio.run(_consume(settings.kafka_bootstrap, [changelog], want=2))
    assert {m.key for m in states} == {HOUSEHOLD.encode()}
    waiting = decode_state(HOUSEHOLD, states[0].value)
    assert (waiting.events_seen, [e for _, e, _ in waiting.held]) == (0, [good["event_id"]])
    state = decode_state(HOUSEHOLD, states[1].value)
    assert (state.events_seen, state.held) == (1, ())
    assert state.medical_costs[0].out_of_pocket == Decimal("8200.00")

    # Counted once the events are processed: a redelivery that waited for the roster's end is counted
    # after the question, possibly after the changelog states above were read.
    wanted = (
        'dixian_events_consumed_total{dept="medical_insurance"} 4.0',
        'dixian_events_redelivered_total{dept="medical_insurance"} 1.0',
    )
    url = f"http://127.0.0.1:{worker.metrics_port}/metrics"
    deadline = time.monotonic() + 30
    while True:
        metrics = urllib.request.urlopen(url, timeout=5).read().decode()
        if all(w in metrics for w in wanted) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for w in wanted:
        assert w in metrics
    assert HOUSEHOLD not in metrics  # no household in any label
