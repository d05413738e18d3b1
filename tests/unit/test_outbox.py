"""The worker's outbox: a batch returns only when the broker acknowledged every output record; a
partition whose producer batch failed is sent again (and only that one)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from prometheus_client import CollectorRegistry

from streams.app import Outbox
from streams.metrics import PipelineMetrics


class _Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes]] = []

    def append(self, *, key: bytes | None, value: bytes, timestamp: None) -> object:
        self.records.append((key, value))
        return object()


class _FlakyProducer:
    """Fails every batch for one partition the first ``failures`` times it is sent."""

    def __init__(self, failing: tuple[str, int], failures: int) -> None:
        self.failing, self.failures = failing, failures
        self.sent: list[tuple[str, int, list[tuple[bytes | None, bytes]]]] = []

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.sent.append((topic, partition, batch.records))
        if (topic, partition) == self.failing and self.failures > 0:
            self.failures -= 1
            fut.set_exception(KafkaTimeoutError())
        else:
            fut.set_result(None)
        return fut


@pytest.mark.asyncio
async def test_unacknowledged_partitions_are_sent_again_until_acknowledged() -> None:
    metrics = PipelineMetrics(CollectorRegistry())
    outbox = Outbox("unused:9092", metrics)
    producer = _FlakyProducer(("alerts", 1), failures=2)
    outbox._producer = producer  # type: ignore[assignment]
    output = {("alerts", 0): [(b"a", b"1")], ("alerts", 1): [(b"b", b"2"), (b"c", b"3")]}
    await asyncio.wait_for(outbox.deliver(output), timeout=10)
    sends = [(t, p) for t, p, _ in producer.sent]
    assert sends.count(("alerts", 0)) == 1  # acknowledged the first time: not sent again
    assert sends.count(("alerts", 1)) == 3  # failed twice, then acknowledged
    assert producer.sent[-1][2] == [(b"b", b"2"), (b"c", b"3")]  # the same records, in order
    assert metrics.send_retries._value.get() == 2
