"""The stream engine as a tester tries it: a worker started on a backlog whose department records
came before the roster, records on the wrong partition from an outside producer, a worker killed in
its first second of consumption, the broker killed mid-stream and kept down for 20 s. Each run must
end with exactly the embedded runner's alert set: ids, revisions and hits of every rule."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from connectors.kafka import end_offsets, ensure_topics, read_topic
from connectors.sinks import KafkaSink, read_local
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.partitioning import partition_of
from dixian.topics import Topics
from streams.kafka_run import collect_alerts, input_topics, kafka_alerts, start_worker, wait_caught_up
from tests.integration.brokers import OwnBroker
from tests.integration.month import Month, free_port, free_ports, ingest, metric, same

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_department_records_before_the_roster_give_the_roster_first_alerts(
    settings: Settings, workers: Any, month: Month
) -> None:
    """A fresh deployment's backlog: the month's feeds were published before the roster."""
    ingest(settings, KafkaSink(settings.kafka_bootstrap), month.feeds)
    ingest(settings, KafkaSink(settings.kafka_bootstrap), month.roster)
    w = workers("backlog")
    wait_caught_up(settings, input_topics(settings), timeout=300, workers=[w])
    same(kafka_alerts(settings), month.expected)
    assert metric(w.metrics_port, "dixian_events_held_total") > 0  # the holding was exercised
    assert metric(w.metrics_port, "dixian_households_holding_events") == 0


def test_records_on_the_wrong_partition_are_forwarded_and_give_the_same_alerts(
    settings: Settings, workers: Any, month: Month
) -> None:
    """A department producing with librdkafka's default partitioner (CRC32, not murmur2), one event
    per record, as confluent-kafka or kcat send them."""
    from confluent_kafka import Producer  # noqa: PLC0415

    ingest(settings, KafkaSink(settings.kafka_bootstrap), month.roster)
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": True})
    misplaced = 0
    for d in Dept:
        for key, value in read_local(month.local_dir / f"{month.topics.dept(d)}.jsonl"):
            producer.produce(Topics(settings).dept(d), key=key, value=value)
            misplaced += 1
        producer.flush()
    assert producer.flush(30) == 0
    w = workers("forwarding")
    wait_caught_up(settings, input_topics(settings), timeout=300, workers=[w])
    same(kafka_alerts(settings), month.expected)
    assert metric(w.metrics_port, "dixian_events_forwarded_total") > 0
    # no household's state was written on a partition its key does not belong to
    changelog = f"{settings.worker_id}-household_state-changelog"

    async def records() -> list[Any]:
        from aiokafka import AIOKafkaConsumer  # noqa: PLC0415

        ends = await end_offsets(settings.kafka_bootstrap, [changelog])
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        await consumer.start()
        out: list[Any] = []
        try:
            consumer.assign(list(ends))
            await consumer.seek_to_beginning(*ends)
            remaining = {tp for tp, end in ends.items() if end > 0}
            while remaining:
                batch = await consumer.getmany(*remaining, timeout_ms=1000)
                for msgs in batch.values():
                    out.extend(msgs)
                remaining = {tp for tp in remaining if await consumer.position(tp) < ends[tp]}
        finally:
            await consumer.stop()
        return out

    for m in asyncio.run(records()):
        assert m.partition == partition_of(m.key, settings.partitions), m.key


def test_a_worker_killed_in_its_first_second_loses_and_skips_nothing(
    settings: Settings, workers: Any, month: Month
) -> None:
    """Two workers share the partitions of a group that never committed anything; the month arrives
    and one is SIGKILLed within the first second of consuming it, while partitions with records
    still have no committed offset. Its replacement takes over.

    Worker a commits by time only once a minute (and, as every worker, after each 1,000 records
    acknowledged: about once during its half of the 3,000 roster records), so partitions it has
    consumed are still uncommitted when it dies, however fast the broker acknowledges its outputs."""
    a = workers("a", commit_interval_s=60)
    workers("b")
    ingest(settings, KafkaSink(settings.kafka_bootstrap), month.roster + month.feeds)
    deadline = time.monotonic() + 120
    while not _consumed(a):
        assert time.monotonic() < deadline, "worker a consumed nothing"
        time.sleep(0.01)
    a.kill()
    uncommitted = asyncio.run(_uncommitted_partitions(settings))
    assert uncommitted > 0, "the kill came too late: every partition already had a commit"
    workers("a2")
    wait_caught_up(settings, input_topics(settings), timeout=300)
    same(kafka_alerts(settings), month.expected)


def _consumed(w: Any) -> bool:
    try:
        return (
            metric(w.metrics_port, "dixian_events_consumed_total")
            + metric(w.metrics_port, "dixian_roster_records_total")
            > 0
        )
    except OSError:  # its metrics server is not up yet
        return False


async def _uncommitted_partitions(settings: Settings) -> int:
    ends = await end_offsets(settings.kafka_bootstrap, input_topics(settings))
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(settings.worker_id)
    finally:
        await admin.close()
    return sum(1 for tp, end in ends.items() if end > 0 and tp not in committed)


@pytest.mark.parametrize("down_for", [0.0, 20.0], ids=["restarted", "down-20s"])
def test_the_broker_killed_mid_stream_loses_no_alert(tmp_path: Path, month: Month, down_for: float) -> None:
    """The broker is SIGKILLed while the worker processes the month (outputs of a batch unacknowledged),
    then started again at once or after 20 s; the worker carries on."""
    broker = OwnBroker(tmp_path / "kafka", *free_ports())
    broker.start()
    worker = None
    try:
        settings = Settings(
            kafka_bootstrap=broker.bootstrap,
            topic_prefix="fault.",
            worker_id="dixian-fault",
            partitions=4,
            data_dir=tmp_path / "data",
        )
        asyncio.run(ensure_topics(settings.kafka_bootstrap, Topics(settings).all()))
        worker = start_worker(settings, "w", tmp_path / "logs", free_port())
        worker.wait_ready(timeout=180)
        ingest(settings, KafkaSink(settings.kafka_bootstrap), month.roster + month.feeds)
        deadline = time.monotonic() + 120
        while metric(worker.metrics_port, "dixian_alerts_emitted_total") < 50:
            assert time.monotonic() < deadline, "the worker emitted no alerts"
            time.sleep(0.05)
        broker.kill()
        time.sleep(down_for)
        broker.start()
        wait_caught_up(settings, input_topics(settings), timeout=300, workers=[worker])
        alerts = asyncio.run(read_topic(settings.kafka_bootstrap, Topics(settings).alerts))
        same(collect_alerts(v for _, v in alerts), month.expected)
    finally:
        if worker is not None:
            worker.stop()
        broker.stop()
