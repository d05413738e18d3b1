"""Run by ``test_cluster`` in a process of its own, on the interpreter and event loop a worker runs
on (``streams.faust_fixes.worker_runtime``): read a topic of the TLS cluster to its end with a fresh
consumer and stop it, as the household table's store does on every rebalance, several times; print
how long each stop took (JSON). Settings come from ``DIXIAN_*`` (the operator principal: it may
create the probe's topic)."""

from __future__ import annotations

import asyncio
import json
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from dixian.config import Settings
from streams.faust_fixes import worker_runtime

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


async def stop_times(options: dict[str, object]) -> list[float]:
    tps = [TopicPartition(TOPIC, p) for p in range(PARTITIONS)]
    out: list[float] = []
    for _ in range(STOPS):
        consumer = AIOKafkaConsumer(**options, enable_auto_commit=False)  # type: ignore[arg-type]
        await consumer.start()
        consumer.assign(tps)
        todo = dict(await consumer.end_offsets(tps))
        for tp in tps:
            consumer.seek(tp, 0)
        while todo:
            await consumer.getmany(*todo, timeout_ms=1000, max_records=None)
            for tp in list(todo):
                if await consumer.position(tp) >= todo[tp]:
                    del todo[tp]
        started = time.perf_counter()
        await consumer.stop()
        out.append(round(time.perf_counter() - started, 2))
    return out


async def main() -> list[float]:
    options = Settings().kafka.options()
    await fill(options)
    return await stop_times(options)


if __name__ == "__main__":
    worker_runtime()
    print(json.dumps(asyncio.run(main())))
