"""The stream engine as a tester tries it: a worker started on a backlog whose department records
came before the roster, records on the wrong partition from an outside producer, a worker killed in
its first second of consumption, the broker killed mid-stream and kept down for 20 s. Each run must
end with exactly the embedded runner's alert set: ids, revisions and hits of every rule."""

from __future__ import annotations

import asyncio
import re
import socket
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from connectors.ingest import ingest_files
from connectors.kafka import end_offsets, ensure_topics, read_topic
from connectors.sinks import KafkaSink, LocalSink, Sink, read_local
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.partitioning import partition_of
from dixian.simulate import simulate
from dixian.topics import Topics
from streams.embedded import run_embedded
from streams.kafka_run import (
    AlertSet,
    collect_alerts,
    input_topics,
    kafka_alerts,
    start_worker,
    wait_caught_up,
)
from tests.integration.brokers import OwnBroker

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_ports() -> tuple[int, int]:
    """Two distinct free ports (the kernel may hand out the same one twice in a row)."""
    while (ports := (_free_port(), _free_port()))[0] == ports[1]:
        pass
    return ports


class Month:
    """A simulated month: its files, and the alerts the embedded runner makes of them."""

    def __init__(self, root: Path) -> None:
        manifest = simulate(root / "sim", households=3000, month="2022-06", seed=47, malformed=0.01, rows=600)
        self.roster = [("roster", root / "sim" / "roster.csv")]
        self.feeds = [(f["dept"], root / "sim" / f["file"]) for f in manifest["feeds"]]  # type: ignore[index]
        local = Settings(data_dir=root / "local-state")
        _ingest(local, LocalSink(local.local_dir), self.roster + self.feeds)
        self.local_dir = local.local_dir
        self.topics = Topics(local)
        result = run_embedded(local.local_dir, self.topics)
        self.expected = collect_alerts(a.model_dump_json().encode() for a in result.alerts.values())
        assert len(self.expected.latest) > 500
        rules = {a.rule_id for a in self.expected.latest.values()}
        assert "HH-JOBLOSS-WITH-ILLNESS" in rules  # the compound rule is part of the comparison


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Month:
    return Month(tmp_path_factory.mktemp("month"))


def _ingest(settings: Settings, sink: Sink, files: list[tuple[str, Path]]) -> None:
    asyncio.run(ingest_files(settings, sink, files, month="2022-06"))


def _same(got: AlertSet, want: AlertSet) -> None:
    g, w = got.summary(), want.summary()
    missing = sorted(set(w) - set(g))
    extra = sorted(set(g) - set(w))
    changed = sorted(k for k in set(g) & set(w) if g[k] != w[k])
    detail = [("missing", w[k]) for k in missing[:10]] + [("extra", g[k]) for k in extra[:10]]
    detail += [("changed", w[k], g[k]) for k in changed[:10]]
    assert (len(missing), len(extra), len(changed)) == (0, 0, 0), detail


def _metric(port: int, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M))


def test_department_records_before_the_roster_give_the_roster_first_alerts(
    settings: Settings, workers: Any, month: Month
) -> None:
    """A fresh deployment's backlog: the month's feeds were published before the roster."""
    _ingest(settings, KafkaSink(settings.kafka_bootstrap), month.feeds)
    _ingest(settings, KafkaSink(settings.kafka_bootstrap), month.roster)
    w = workers("backlog")
    wait_caught_up(settings, input_topics(settings), timeout=300, workers=[w])
    _same(kafka_alerts(settings), month.expected)
    assert _metric(w.metrics_port, "dixian_events_held_total") > 0  # the holding was exercised
    assert _metric(w.metrics_port, "dixian_households_holding_events") == 0


def test_records_on_the_wrong_partition_are_forwarded_and_give_the_same_alerts(
    settings: Settings, workers: Any, month: Month
) -> None:
    """A department producing with librdkafka's default partitioner (CRC32, not murmur2), one event
    per record, as confluent-kafka or kcat send them."""
    from confluent_kafka import Producer  # noqa: PLC0415

    _ingest(settings, KafkaSink(settings.kafka_bootstrap), month.roster)
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
    _same(kafka_alerts(settings), month.expected)
    assert _metric(w.metrics_port, "dixian_events_forwarded_total") > 0
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
    still have no committed offset. Its replacement takes over."""
    a = workers("a")
    workers("b")
    _ingest(settings, KafkaSink(settings.kafka_bootstrap), month.roster + month.feeds)
    deadline = time.monotonic() + 120
    while not _consumed(a):
        assert time.monotonic() < deadline, "worker a consumed nothing"
        time.sleep(0.01)
    a.kill()
    uncommitted = asyncio.run(_uncommitted_partitions(settings))
    assert uncommitted > 0, "the kill came too late: every partition already had a commit"
    workers("a2")
    wait_caught_up(settings, input_topics(settings), timeout=300)
    _same(kafka_alerts(settings), month.expected)


def _consumed(w: Any) -> bool:
    try:
        return (
            _metric(w.metrics_port, "dixian_events_consumed_total")
            + _metric(w.metrics_port, "dixian_roster_records_total")
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
    broker = OwnBroker(tmp_path / "kafka", *_free_ports())
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
        worker = start_worker(settings, "w", tmp_path / "logs", _free_port())
        worker.wait_ready(timeout=180)
        _ingest(settings, KafkaSink(settings.kafka_bootstrap), month.roster + month.feeds)
        deadline = time.monotonic() + 120
        while _metric(worker.metrics_port, "dixian_alerts_emitted_total") < 50:
            assert time.monotonic() < deadline, "the worker emitted no alerts"
            time.sleep(0.05)
        broker.kill()
        time.sleep(down_for)
        broker.start()
        wait_caught_up(settings, input_topics(settings), timeout=300, workers=[worker])
        alerts = asyncio.run(read_topic(settings.kafka_bootstrap, Topics(settings).alerts))
        _same(collect_alerts(v for _, v in alerts), month.expected)
    finally:
        if worker is not None:
            worker.stop()
        broker.stop()
