"""End-to-end stream processing through the real broker: department topics → workers → alerts.

    python bench/pipeline_bench.py --households 30000 --events 30000 --workers 1
    python bench/pipeline_bench.py --households 1000000 --events 30000 --workers 1

On the secured cluster: the DIXIAN_KAFKA_* settings of a principal allowed everything (the operator),
e.g. ``set -a; . <(dixian cluster env operator); set +a`` and ``--bootstrap "$DIXIAN_KAFKA_BOOTSTRAP"``.

1. Simulates a city and a month of feeds. The roster goes to the households topic, and a worker
   applies it: the roster load time.
2. The workers stop; the month's feeds are ingested as the bulk producers send them (batch records
   of one partition's events); workers start again (recovering the table: the restart time) and
   drain the backlog: events/s from department topic to acknowledged alerts, counted from the
   workers' own event counters once every worker holds its partitions. The alerts on the topic are
   compared with the embedded runner's over the same ingested records.
3. Worker memory (RSS) with every household of the roster in state: after the recovery, as the
   backlog is drained, and once the worker has handed its free heap back (streams.heap, every
   TRIM_INTERVAL_S).
4. Latency: single events, one record each, as an outside client sends them, at --latency-rate
   events/s for --latency-seconds; p50/p99 of the workers' own histogram (broker timestamp → the
   batch's outputs acknowledged by the broker).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import tempfile
import time
import uuid
from pathlib import Path

import orjson
from machine import rss_mib, speed_line

from connectors.ingest import ingest_files, tune_gc_for_bulk_work
from connectors.kafka import ensure_topics, idempotent_producer
from connectors.sinks import KafkaSink, LocalSink, Sink, read_local
from dixian.config import Settings
from dixian.contract import Dept
from dixian.simulate import simulate
from dixian.topics import Topics
from streams.app import TRIM_INTERVAL_S
from streams.embedded import run_embedded
from streams.kafka_run import (
    collect_alerts,
    input_topics,
    kafka_alerts,
    metric_samples,
    metric_sum,
    start_worker,
    wait_caught_up,
)


def counter(ports: list[int], name: str) -> float:
    return sum(metric_sum(port, name) for port in ports)


def histogram(ports: list[int]) -> list[tuple[float, float]]:
    """Cumulative (upper bound, count) of dixian_processing_seconds summed over workers."""
    total: dict[float, float] = {}
    for port in ports:
        for sample in metric_samples(port):
            if sample.name == "dixian_processing_seconds_bucket":
                le = float(sample.labels["le"])  # "+Inf" reads as infinity
                total[le] = total.get(le, 0.0) + sample.value
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


def _ingest(settings: Settings, sink: Sink, files: list[tuple[str, Path]]) -> None:
    asyncio.run(ingest_files(settings, sink, files, month="2022-06"))


async def _paced(settings: Settings, records: list[tuple[str, bytes, bytes]], rate: float) -> int:
    """One record per event, sent one by one at ``rate`` events/s (an outside client)."""
    producer = idempotent_producer(settings.kafka, linger_ms=0)
    await producer.start()
    try:
        t0 = time.perf_counter()
        for i, (topic, key, value) in enumerate(records):
            if (wait := t0 + i / rate - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()
    return len(records)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=30_000)
    ap.add_argument("--events", type=int, default=30_000, help="department events in the backlog")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--latency-rate", type=float, default=200.0)
    ap.add_argument("--latency-seconds", type=float, default=20.0)
    ap.add_argument("--bootstrap", default="127.0.0.1:9092")
    ap.add_argument("--no-compare", action="store_true", help="skip the embedded run (large rosters)")
    ap.add_argument(
        "--ceiling",
        action="store_true",
        help="then run bench/faust_ceiling.py (a no-op agent, one record per event) and print the ratio",
    )
    args = ap.parse_args()
    print(speed_line())
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
    asyncio.run(ensure_topics(s.kafka, Topics(s).all(), s.replication_factor))
    t0 = time.perf_counter()
    per_dept = args.events // len(Dept)
    manifest = simulate(
        tmp / "sim", households=args.households, month="2022-06", seed=3, malformed=0.0, rows=per_dept
    )
    roster = [("roster", tmp / "sim" / "roster.csv")]
    feeds = [(f["dept"], tmp / "sim" / f["file"]) for f in manifest["feeds"]]  # type: ignore[index]
    print(
        f"simulated {args.households:,} households, {per_dept * len(Dept):,} events "
        f"in {time.perf_counter() - t0:.0f}s"
    )
    expected = None
    if not args.no_compare:
        local = s.override(data_dir=tmp / "local-state")
        _ingest(local, LocalSink(local.local_dir), roster + feeds)
        result = run_embedded(local.local_dir, Topics(local))
        expected = collect_alerts(a.model_dump_json().encode() for a in result.alerts.values())
    _ingest(s, KafkaSink(s.kafka), roster)
    # 1. the roster is the standing state: apply it, then stop the workers (state is in the changelog)
    t0 = time.perf_counter()
    first = [start_worker(s, f"r{i}", tmp / "logs", 9600 + i) for i in range(args.workers)]
    try:
        for w in first:
            w.wait_ready(timeout=900)
        wait_caught_up(s, input_topics(s), timeout=7200, workers=first)
    finally:
        for w in first:
            w.stop()
    roster_s = time.perf_counter() - t0
    # 2. a month of events waits on the department topics; workers start, recover state, drain it
    _ingest(s, KafkaSink(s.kafka), feeds)
    workers = [start_worker(s, f"w{i}", tmp / "logs", 9610 + i) for i in range(args.workers)]
    ports = [w.metrics_port for w in workers]
    try:
        t0 = time.perf_counter()
        for w in workers:
            w.wait_ready(timeout=900)
        while not all(w.settled() for w in workers):  # every worker past its latest rebalance
            time.sleep(0.1)
        recovery_s = time.perf_counter() - t0
        rss_recovered = [rss_mib(w.proc.pid) for w in workers]
        # steady state: the events processed once every worker holds its partitions, over the time
        # to drain the rest (a worker that is ready first starts early; that part is not counted)
        t1, before = time.perf_counter(), counter(ports, "dixian_events_consumed_total")
        wait_caught_up(s, input_topics(s), timeout=7200, workers=workers)
        drain = time.perf_counter() - t1
        rss_drained = [rss_mib(w.proc.pid) for w in workers]
        drained = counter(ports, "dixian_events_consumed_total") - before
        busy: dict[str, float] = {}  # summed over the workers
        for port in ports:
            for sample in metric_samples(port):
                if sample.name == "dixian_worker_busy_seconds_total":
                    phase = sample.labels["phase"]
                    busy[phase] = busy.get(phase, 0.0) + sample.value
        got = kafka_alerts(s)
        same = (
            "not compared"
            if expected is None
            else (
                "= the embedded run's"
                if got.summary() == expected.summary()
                else "DIFFERENT from the embedded run's"
            )
        )
        total = counter(ports, "dixian_events_consumed_total")
        # no steady state when more than 90% of the backlog went before every worker held its partitions
        steady = total > 0 and drained >= 0.1 * total
        if steady:
            rate = (
                f"{drained:,.0f} events drained by all workers in {drain:.2f}s "
                f"= {drained / drain:,.0f} events/s"
            )
        elif total:
            rate = (
                f"no steady-state rate: {total - drained:,.0f} of the {total:,.0f} events were drained "
                "before every worker held its partitions (the rebalance); use a larger --events"
            )
        else:
            rate = "no department events were consumed"
        print(
            f"{args.workers} worker(s), {args.partitions} partitions: "
            f"roster of {args.households:,} households applied in {roster_s:.0f}s; "
            f"restart with state recovery {recovery_s:.0f}s; {rate} → "
            f"{len(got.latest):,} alerts ({got.records:,} records), {same}"
        )
        print(
            "worker time per event (whole run, roster included): "
            + ", ".join(f"{k} {v / max(total, 1) * 1e6:.0f} µs" for k, v in busy.items())
        )
        time.sleep(TRIM_INTERVAL_S + 1)  # the worker's next heap trim
        trim_ms = sum(
            sample.value * 1000
            for port in ports
            for sample in metric_samples(port)
            if sample.name == "dixian_worker_busy_seconds_total" and sample.labels["phase"] == "trim"
        )
        print(
            f"worker RSS with {args.households:,} households in state: after recovery "
            + ", ".join(f"{m:.0f} MiB" for m in rss_recovered)
            + "; when the month was drained "
            + ", ".join(f"{m:.0f} MiB" for m in rss_drained)
            + f"; {TRIM_INTERVAL_S + 1:.0f} s later "
            + ", ".join(f"{rss_mib(w.proc.pid):.0f} MiB" for w in workers)
            + f" (heap trims so far: {trim_ms:.0f} ms in all)"
        )
        # 4. latency: the month's events again under new ids (so they are applied), one per record
        topics = Topics(s)
        records: list[tuple[str, bytes, bytes]] = []
        for dept in Dept:
            for k, v in (
                read_local(tmp / "local-state" / "local" / f"{topics.dept(dept)}.jsonl") if expected else []
            ):
                ev = orjson.loads(v)
                ev["event_id"] = "lat-" + ev["event_id"]
                records.append((Topics(s).dept(dept), k, orjson.dumps(ev)))
        n = min(len(records), int(args.latency_rate * args.latency_seconds))
        if n:
            before_h = histogram(ports)
            asyncio.run(_paced(s, records[:n], args.latency_rate))
            wait_caught_up(s, input_topics(s), timeout=600, workers=workers)
            after_h = histogram(ports)
            p50, p99 = quantile(before_h, after_h, 0.5), quantile(before_h, after_h, 0.99)
            print(
                f"latency of {n:,} single events at {args.latency_rate:,.0f}/s: p50 {p50 * 1000:.1f} ms, "
                f"p99 {p99 * 1000:.1f} ms (broker timestamp → outputs acknowledged; interpolated in buckets)"
            )
    finally:
        for w in workers:
            w.stop()
    if args.ceiling and steady:
        ceiling(args, drained / drain)
    elif args.ceiling:
        print("Faust's no-op ceiling not run: there is no steady-state rate to divide by it")


def ceiling(args: argparse.Namespace, rate: float) -> None:
    """The same broker, right after: Faust's own ceiling for as many records as the month had events."""
    import os  # noqa: PLC0415
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    script = str(Path(__file__).with_name("faust_ceiling.py"))
    cmd = [sys.executable, script, "--records", str(args.events), "--topics", "12"]
    cmd += ["--latency-rate", str(args.latency_rate), "--latency-seconds", str(args.latency_seconds)]
    env = {**os.environ, "DIXIAN_KAFKA_BOOTSTRAP": args.bootstrap}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=1800, env=env).stdout
    print(out.strip())
    found = re.search(r"doing nothing: ([0-9,]+) records/s", out)
    if found:
        top = float(found.group(1).replace(",", ""))
        print(f"our events/s ÷ Faust's no-op records/s = {rate:,.0f} ÷ {top:,.0f} = {rate / top:.2f}")


if __name__ == "__main__":
    main()
