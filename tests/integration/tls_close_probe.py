"""Run by ``test_cluster`` in a process of its own, on the interpreter and event loop a worker runs
on (``streams.faust_fixes.worker_runtime``): read a topic of the TLS cluster to its end with the
household table's store's own loader (a fresh consumer, stopped at the end), as it does on every
rebalance, several times; print how long each read took (JSON). Settings come from ``DIXIAN_*``
(the operator principal: it may create the probe's topic)."""

from __future__ import annotations

import asyncio
import json
import time

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from dixian.config import Settings
from streams.faust_fixes import worker_runtime
from streams.store import load_changelog

TOPIC = "probe.tls-close"
PARTITIONS = 4
RECORDS = 40_000
STOPS = 15


async def fill(options: dict[str, object]) -> None:
    admin = AIOKafkaAdminClient(**options)  # type: ignore[arg-type]
    try:
        await admin.start()
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 3)])
    except TopicAlreadyExistsError:
        return
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**options, acks=-1)  # type: ignore[arg-type]
    try:
        await producer.start()
        for i in range(RECORDS):
            await producer.send(TOPIC, b"x" * 300, key=str(4503000000000000 + i).encode())
        await producer.flush()
    finally:
        await producer.stop()


async def load_times(options: dict[str, object]) -> list[float]:
    """How long the store's own changelog read (``streams.store.load_changelog``: a fresh consumer,
    read to the end, stopped) takes, ``STOPS`` times; reading the records takes well under a second."""
    out: list[float] = []
    for _ in range(STOPS):
        started = time.perf_counter()
        applied, _ = await load_changelog(
            options, {TopicPartition(TOPIC, p): 0 for p in range(PARTITIONS)}, {}, {}
        )
        out.append(round(time.perf_counter() - started, 2))
        if applied != RECORDS:
            raise SystemExit(f"read {applied} of {RECORDS} records")
    return out


async def main() -> list[float]:
    options = Settings().kafka.options()
    await fill(options)
    return await load_times(options)


if __name__ == "__main__":
    worker_runtime()
    print(json.dumps(asyncio.run(main())))
