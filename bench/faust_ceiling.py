"""The ceiling Faust itself puts on a worker: an agent that does nothing with its records.

    python bench/faust_ceiling.py --records 200000 [--latency-rate 1000 --latency-seconds 10]

1. Produces ``--records`` small records (300 bytes, keyed) to ``--topics`` fresh topics of 4
   partitions each (the worker reads 12: ten departments, the roster and the conclusions).
2. Starts a Faust worker process whose agent consumes them the way the dixian worker does
   (``take_events(500, within=0.005)``, at-least-once, same consumer settings) and does nothing else;
   prints events/s from the first batch to the last record, and the worker's CPU seconds.
3. Produces ``--latency-rate`` records/s for ``--latency-seconds`` and prints p50/p99 of broker
   timestamp → handed to the agent.

Whatever the pipeline does per record comes on top of these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

BOOTSTRAP = os.environ.get("DIXIAN_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
VALUE = b'{"x":"' + b"1" * 290 + b'"}'


async def _produce(topics: list[str], n: int, rate: float | None = None) -> None:
    from aiokafka import AIOKafkaProducer  # noqa: PLC0415

    producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, linger_ms=5 if rate else 20)
    await producer.start()
    try:
        t0 = time.perf_counter()
        for i in range(n):
            if rate is not None:
                due = t0 + i / rate
                if (wait := due - time.perf_counter()) > 0:
                    await asyncio.sleep(wait)
            await producer.send(topics[i % len(topics)], key=str(i).encode(), value=VALUE)
        await producer.flush()
    finally:
        await producer.stop()


def _result(line: str) -> None:
    """Straight to file descriptor 1: Faust's worker redirects ``sys.stdout`` into its logger."""
    os.write(1, f"RESULT {line}\n".encode())


def worker(topics: list[str], records: int, latency_records: int) -> None:
    # the Faust the dixian worker runs: faust-streaming with the project's fixes for records that
    # stock Faust never hands to the agent after an assignment (streams/faust_fixes.py); with stock
    # faust.App this run waited for ever on records it had lost
    from streams.faust_fixes import App, worker_runtime  # noqa: PLC0415

    worker_runtime()  # as the dixian worker runs

    app = App(
        f"ceiling-{topics[0]}",
        broker=f"kafka://{BOOTSTRAP}",
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="faust-ceiling-"),
        topic_partitions=4,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        stream_wait_empty=True,
        table_standby_replicas=0,
        web_enabled=False,
        loghandlers=[],
    )
    source = app.topic(*topics, key_serializer="raw", value_serializer="raw")
    seen = {"n": 0}
    started: dict[str, float] = {}
    delays: list[float] = []

    @app.agent(source, concurrency=1)
    async def nothing(stream: Any) -> None:
        async for batch in stream.take_events(500, within=0.005):
            if not started:
                started["wall"], started["cpu"] = time.perf_counter(), time.process_time()
            seen["n"] += len(batch)
            if seen["n"] > records:
                now = time.time()
                delays.extend(now - e.message.timestamp for e in batch)
            if seen["n"] >= records and "drained" not in started:  # >=: a redelivered record counts again
                started["drained"] = 1.0
                wall = time.perf_counter() - started["wall"]
                cpu = time.process_time() - started["cpu"]
                _result(f"drain {records / wall:.0f} {cpu / wall:.2f}")
            if seen["n"] >= records + latency_records:
                delays.sort()
                p50, p99 = delays[len(delays) // 2], delays[int(len(delays) * 0.99)]
                _result(f"latency {p50 * 1000:.1f} {p99 * 1000:.1f}")
                os._exit(0)

    # info, as the dixian worker logs: at warn or above Faust turns its console spinner on, which
    # sets the root logger to DEBUG and makes every record slower
    sys.argv = [sys.argv[0], "worker", "-l", "info", "--without-web"]
    app.main()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--latency-rate", type=float, default=1000.0)
    ap.add_argument("--latency-seconds", type=float, default=10.0)
    ap.add_argument(
        "--topics",
        type=int,
        default=12,
        help="spread the records over this many topics (the worker reads 12)",
    )
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker[0].split(","), int(args.worker[1]), int(args.worker[2]))
        return
    from connectors.kafka import ensure_topics  # noqa: PLC0415
    from dixian.topics import TopicSpec  # noqa: PLC0415

    run = uuid.uuid4().hex[:6]
    topics = [f"ceiling-{run}-{i}" for i in range(args.topics)]
    # created as the project creates its topics, and waited for until every partition has a leader
    # (producing at once to a fresh topic was answered NotLeaderForPartition)
    asyncio.run(ensure_topics(BOOTSTRAP, [TopicSpec(t, 4) for t in topics]))
    asyncio.run(_produce(topics, args.records))
    # what is on the topics, not what was asked: a send the broker refused for good is not there
    from connectors.kafka import end_offsets  # noqa: PLC0415

    on_topics = sum(asyncio.run(end_offsets(BOOTSTRAP, topics)).values())
    if on_topics != args.records:
        lost = args.records - on_topics
        print(f"{lost:,} of {args.records:,} records were not written; measuring {on_topics:,}")
    args.records = on_topics
    latency_records = int(args.latency_rate * args.latency_seconds)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--worker", ",".join(topics), str(args.records), str(latency_records)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "RESULT drain" in line:
            rate, cpu = line.split("RESULT drain")[1].split()
            print(f"Faust agent doing nothing: {float(rate):,.0f} records/s, worker CPU {cpu} cores")
            asyncio.run(_produce(topics, latency_records, rate=args.latency_rate))
        elif "RESULT latency" in line:
            p50, p99 = line.split("RESULT latency")[1].split()
            print(f"latency at {args.latency_rate:,.0f} records/s: p50 {p50} ms, p99 {p99} ms")
    proc.wait()


if __name__ == "__main__":
    main()
