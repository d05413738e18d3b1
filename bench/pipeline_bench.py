"""End-to-end stream processing through the real broker: department topics → workers → alerts.

    python bench/pipeline_bench.py --households 100000 --events 60000 --workers 1
    python bench/pipeline_bench.py --households 100000 --events 60000 --workers 2

1. Simulates a city and a month of feeds, ingests the roster and the events into fresh topics.
2. Starts the workers on that backlog and times the drain: events/s from department topic to
   alerts topic, with every rule evaluated and every alert acknowledged.
3. Latency: produces events at half the measured rate for --latency-seconds and reads p50/p99 of
   the workers' own histogram (broker timestamp → end of processing, incl. alert acknowledgement).
4. Worker memory (RSS) with all households of the roster in state.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import orjson

from connectors.ingest import Ingester, tune_gc_for_bulk_work
from connectors.kafka import ensure_topics, group_lag, read_topic
from connectors.sinks import KafkaSink
from dixian.config import Settings
from dixian.contract import Dept
from dixian.simulate import simulate
from dixian.topics import Topics
from streams.kafka_run import input_topics, kafka_alerts, start_worker, wait_caught_up


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def histogram(ports: list[int]) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) of dixian_processing_seconds summed over workers."""
    total: dict[float, float] = {}
    for port in ports:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        for m in re.finditer(r'dixian_processing_seconds_bucket\{le="([^"]+)"\} ([0-9.e+]+)', text):
            le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
            total[le] = total.get(le, 0.0) + float(m.group(2))
    return sorted(total.items())


def quantile(before: list[tuple[float, float]], after: list[tuple[float, float]], q: float) -> float:
    b = dict(before)
    buckets = [(le, c - b.get(le, 0.0)) for le, c in after]
    n = buckets[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if c >= q * n:
            if le == float("inf"):
                return prev_le
            frac = (q * n - prev_c) / max(c - prev_c, 1e-9)
            return prev_le + frac * (le - prev_le)  # linear inside the bucket
        prev_le, prev_c = le, c
    return prev_le


async def _ingest(settings: Settings, sim: Path, manifest: dict[str, object], roster: bool) -> None:
    sink = KafkaSink(settings.kafka_bootstrap)
    await sink.start()
    ing = Ingester(settings, sink)
    try:
        if roster:
            await ing.ingest_file("roster", sim / "roster.csv", month="2022-06")
        else:
            for feed in manifest["feeds"]:  # type: ignore[attr-defined]
                await ing.ingest_file(feed["dept"], sim / feed["file"], month="2022-06")
    finally:
        ing.close()
        await sink.stop()


async def _paced(
    settings: Settings, records: list[tuple[str, bytes, bytes]], rate: float, seconds: float
) -> int:
    sink = KafkaSink(settings.kafka_bootstrap)
    await sink.start()
    sent = 0
    t0 = time.perf_counter()
    try:
        while time.perf_counter() - t0 < seconds and sent < len(records):
            due = int((time.perf_counter() - t0) * rate)
            batch = records[sent:due]
            by_topic: dict[str, list[tuple[bytes, bytes]]] = {}
            for topic, k, v in batch:
                by_topic.setdefault(topic, []).append((k, v))
            for topic, recs in by_topic.items():
                await sink.send(topic, recs)
            await sink.flush()
            sent = max(sent, due)
            await asyncio.sleep(0.005)
    finally:
        await sink.stop()
    return sent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=60_000, help="department events in the backlog")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--latency-seconds", type=float, default=20.0)
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    args = ap.parse_args()
    tune_gc_for_bulk_work()
    run = uuid.uuid4().hex[:6]
    tmp = Path(tempfile.mkdtemp(prefix="dixian-pipe-bench-"))
    s = Settings(
        kafka_bootstrap=args.bootstrap,
        topic_prefix=f"pb{run}.",
        worker_id=f"pb-{run}",
        partitions=args.partitions,
        data_dir=tmp / "data",
    )
    asyncio.run(ensure_topics(s.kafka_bootstrap, Topics(s).all()))
    t0 = time.perf_counter()
    per_dept = args.events // len(Dept)
    manifest = simulate(
        tmp / "sim", households=args.households, month="2022-06", seed=3, malformed=0.0, rows=per_dept
    )
    print(
        f"simulated {args.households:,} households, {per_dept * len(Dept):,} events in "
        f"{time.perf_counter() - t0:.0f}s"
    )
    asyncio.run(_ingest(s, tmp / "sim", manifest, roster=True))
    # 1. the roster is the standing state: apply it, then stop the workers (state is in the changelog)
    t0 = time.perf_counter()
    first = [start_worker(s, f"r{i}", tmp / "logs", 9600 + i) for i in range(args.workers)]
    try:
        for w in first:
            w.wait_ready(timeout=600)
        wait_caught_up(s, input_topics(s), timeout=3600, workers=first)
    finally:
        for w in first:
            w.stop()
    roster_s = time.perf_counter() - t0
    # 2. a month of events waits on the department topics; workers start, recover state, drain it
    asyncio.run(_ingest(s, tmp / "sim", manifest, roster=False))
    workers = [start_worker(s, f"w{i}", tmp / "logs", 9610 + i) for i in range(args.workers)]
    try:
        t0 = time.perf_counter()
        for w in workers:
            w.wait_ready(timeout=600)
        while not all(w.settled() for w in workers):  # every worker past its latest rebalance
            time.sleep(0.1)
        recovery_s = time.perf_counter() - t0
        # steady state: the backlog left once every worker holds its partitions, over the time to
        # drain it (a worker that is ready first starts early; that part is not counted)
        t1 = time.perf_counter()
        backlog = asyncio.run(group_lag(s.kafka_bootstrap, s.worker_id, input_topics(s)))
        wait_caught_up(s, input_topics(s), timeout=3600, workers=workers)
        drain = time.perf_counter() - t1
        n_events = sum(f["valid_unique"] + f["duplicates"] for f in manifest["feeds"])  # type: ignore[index]
        rate = backlog / drain
        alerts = kafka_alerts(s)
        mem = [rss_mib(w.proc.pid) for w in workers]
        print(
            f"{args.workers} worker(s), {args.partitions} partitions: roster of {args.households:,} "
            f"households applied in {roster_s:.0f}s; restart with state recovery {recovery_s:.0f}s; "
            f"{n_events:,} events, of which {backlog:,} drained by all workers in {drain:.1f}s = "
            f"{rate:,.0f} events/s → "
            f"{len(alerts.latest):,} alerts"
        )
        print(
            f"worker RSS with {args.households:,} households in state: "
            + ", ".join(f"{m:.0f} MiB" for m in mem)
        )
        # latency at half the sustainable rate: the same month's events again, under new ids so
        # that they are applied (not skipped as redeliveries)
        topics = Topics(s)
        records: list[tuple[str, bytes, bytes]] = []
        for dept in Dept:
            for k, v in asyncio.run(read_topic(s.kafka_bootstrap, topics.dept(dept))):
                if k is None or v is None:
                    continue
                ev = orjson.loads(v)
                ev["event_id"] = "lat-" + ev["event_id"]
                records.append((topics.dept(dept), k, orjson.dumps(ev)))
        target = rate / 2
        before = histogram([w.metrics_port for w in workers])
        sent = asyncio.run(_paced(s, records, target, args.latency_seconds))
        wait_caught_up(s, input_topics(s), timeout=600, workers=workers)
        after = histogram([w.metrics_port for w in workers])
        p50, p99 = quantile(before, after, 0.5), quantile(before, after, 0.99)
        print(
            f"latency at {target:,.0f} events/s (half of sustainable) over {sent:,} events: "
            f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (broker timestamp → processed, "
            "interpolated in histogram buckets)"
        )
    finally:
        for w in workers:
            w.stop()


if __name__ == "__main__":
    main()
