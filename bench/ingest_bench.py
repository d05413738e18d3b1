"""Ingest throughput: rows/s from a department CSV file into the real Kafka broker.

    python bench/ingest_bench.py --rows 100000 --malformed 0.05 [--bootstrap 127.0.0.1:9092]

Generates a medical-insurance feed with the simulator, ingests it into fresh topics (own prefix)
with the idempotent producer (acks=all), and prints rows/s, the reconciliation and peak memory.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
import uuid
from pathlib import Path

from connectors.ingest import Ingester, tune_gc_for_bulk_work
from connectors.kafka import crecords_loaded, ensure_topics
from connectors.sinks import KafkaSink
from dixian.config import Settings
from dixian.contract import Dept
from dixian.simulate import build_city, generate_feed
from dixian.topics import Topics


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--malformed", type=float, default=0.05)
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--dept", default="medical_insurance", choices=[d.value for d in Dept])
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dixian-bench-"))
    settings = Settings(
        kafka_bootstrap=args.bootstrap, topic_prefix=f"bench{uuid.uuid4().hex[:6]}.", data_dir=tmp / "data"
    )
    await ensure_topics(settings.kafka_bootstrap, Topics(settings).all())
    city = build_city(max(1000, args.rows // 10), seed=1)
    t0 = time.perf_counter()
    feed = generate_feed(
        Dept(args.dept), city, "2022-06", tmp, seed=1, malformed=args.malformed, rows=args.rows
    )
    print(f"generated {feed.rows} rows in {time.perf_counter() - t0:.1f}s → {tmp / feed.file}")
    tune_gc_for_bulk_work()  # as `dixian ingest` does
    sink = KafkaSink(settings.kafka_bootstrap)
    await sink.start()
    ingester = Ingester(settings, sink)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    summary = await ingester.ingest_file(args.dept, tmp / feed.file, month="2022-06")
    elapsed = time.perf_counter() - t0
    ingester.close()
    await sink.stop()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"aiokafka C extension: {crecords_loaded()}")
    print(
        f"rows read {summary.rows_read}: accepted {summary.accepted}, rejected {summary.rejected_total}, "
        f"duplicates {summary.duplicates}; reconciles={summary.reconciles}"
    )
    print(
        f"ingest: {elapsed:.2f}s, {summary.rows_read / elapsed:,.0f} rows/s "
        f"(into Kafka, acks=all, idempotent); peak RSS {rss1 / 1024:.0f} MiB "
        f"(before ingest {rss0 / 1024:.0f})"
    )


if __name__ == "__main__":
    asyncio.run(main())
