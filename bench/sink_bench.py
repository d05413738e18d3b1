"""The queue's store sink: alert records → household clues in the alert store (SQLite or PostgreSQL).

    python bench/sink_bench.py [--households 50000] [--events 200000] [--db sqlite|postgresql://…]

PostgreSQL: ``bash deploy/postgres/pg.sh start`` prints the URL of a local test server; the bench
creates a database of its own on that server and drops it at the end.

1. Simulates a city and a month of feeds (the stress month of bench/pipeline_bench.py by default) and
   runs the embedded pipeline over them, which writes the month's alert records (not timed).
2. Loads the roster into the store's household ledger, in batches of 2,000 records: the roster load.
3. Applies the alert records as ``dixian screening sink`` does, in batches of 2,000 (its ``getmany``
   bound), each in one transaction: alerts/s, and each batch's time (p50/p99).
4. Reference, in the same run and on the same database: the same records written as one row each,
   key and JSON, into a scratch table, one ``executemany`` and one transaction per batch. That is what
   the database costs for one row per alert; the sink's time is quoted as a ratio to it.
5. Checks that every alert record is counted once (new clue, joined clue, updated, or repeated), and
   prints the process's RSS before and after the sink's part (the month's records are held
   throughout, so the difference is what the sink's writing added).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from machine import rss_mib, speed_line

from connectors.ingest import ingest_files
from connectors.sinks import LocalSink, read_local
from dixian.config import Settings
from dixian.contract import Dept
from dixian.simulate import simulate
from dixian.topics import Topics
from screening.sink import SinkStats, _apply
from screening.store import Store, open_store
from streams.embedded import run_embedded

BATCH = 2000  # the Kafka sink's getmany(max_records=2000)


@contextmanager
def database(db: str, tmp: Path) -> Iterator[str]:
    """A fresh store URL: a SQLite file under ``tmp``, or a database of its own on the PostgreSQL
    server of ``db``, dropped afterwards."""
    if db == "sqlite":
        yield f"sqlite:///{tmp / 'store.sqlite'}"
        return
    name = f"sinkbench_{uuid.uuid4().hex[:8]}"
    base, _, _ = db.rpartition("/")
    with psycopg.connect(db, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(db, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def month_records(households: int, events: int, tmp: Path) -> tuple[Topics, list[bytes], list[bytes]]:
    """The roster records and the alert records of a simulated month, as the embedded run writes them."""
    settings = Settings(data_dir=tmp / "data")
    per_dept = events // len(Dept)
    manifest = simulate(
        tmp / "sim", households=households, month="2022-06", seed=3, malformed=0.0, rows=per_dept
    )
    files = [("roster", tmp / "sim" / "roster.csv")]
    files += [(f["dept"], tmp / "sim" / f["file"]) for f in manifest["feeds"]]  # type: ignore[index]
    asyncio.run(ingest_files(settings, LocalSink(settings.local_dir), files, month="2022-06"))
    topics = Topics(settings)
    run_embedded(settings.local_dir, topics)
    roster = [v for _, v in read_local(settings.local_dir / f"{topics.households}.jsonl")]
    alerts = [v for _, v in read_local(settings.local_dir / f"{topics.alerts}.jsonl")]
    return topics, roster, alerts


def timed_batches(records: list[bytes], apply: Callable[[list[bytes]], None]) -> tuple[float, list[float]]:
    """Total seconds and each batch's seconds."""
    each: list[float] = []
    for i in range(0, len(records), BATCH):
        t0 = time.perf_counter()
        apply(records[i : i + BATCH])
        each.append(time.perf_counter() - t0)
    return sum(each), each


def reference(store: Store, records: list[bytes]) -> tuple[float, list[float]]:
    store.db.execute("CREATE TABLE bench_rows (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
    keys = iter(range(len(records)))

    def write(batch: list[bytes]) -> None:
        with store.db.transaction():
            store.db.executemany(
                "INSERT INTO bench_rows (k, v) VALUES (?, ?)", [(str(next(keys)), r.decode()) for r in batch]
            )

    return timed_batches(records, write)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=50_000)
    ap.add_argument("--events", type=int, default=200_000, help="department events in the month")
    ap.add_argument("--db", default="sqlite", help="sqlite (a fresh file) or a PostgreSQL server's URL")
    args = ap.parse_args()
    print(speed_line())
    tmp = Path(tempfile.mkdtemp(prefix="dixian-sink-bench-"))
    t0 = time.perf_counter()
    topics, roster, alerts = month_records(args.households, args.events, tmp)
    print(
        f"month: {len(roster):,} roster records, {len(alerts):,} alert records "
        f"(simulated and run embedded in {time.perf_counter() - t0:.0f}s, not timed)"
    )
    with database(args.db, tmp) as url:
        store = open_store(url)
        stats = SinkStats()

        def apply(topic: str) -> Callable[[list[bytes]], None]:
            return lambda batch: _apply(store, topics, [(topic, r) for r in batch], stats)

        rss_before = rss_mib()
        roster_s, _ = timed_batches(roster, apply(topics.households))
        print(f"roster: {len(roster):,} households in {roster_s:.1f}s ({len(roster) / roster_s:,.0f}/s)")
        sink_s, each = timed_batches(alerts, apply(topics.alerts))
        rss_after = rss_mib()
        ref_s, ref_each = reference(store, alerts)
        store.db.close()
    counted = (
        stats.inserted
        + stats.joined
        + stats.updated
        + stats.unchanged
        + sum(1 for x in stats.letters if x.dept == "alerts")
    )
    p50, p99 = quantile(each, 0.5) * 1000, quantile(each, 0.99) * 1000
    print(
        f"{store.db.dialect}: {len(alerts):,} alerts in {sink_s:.1f}s = "
        f"{len(alerts) / sink_s:,.0f} alerts/s; batch of {BATCH:,}: p50 {p50:,.0f} ms, p99 {p99:,.0f} ms"
    )
    print(
        f"reference (one row per alert, one executemany per batch): {ref_s:.1f}s = "
        f"{len(alerts) / ref_s:,.0f} rows/s, batch p50 {statistics.median(ref_each) * 1000:,.0f} ms; "
        f"sink ÷ reference: {sink_s / ref_s:.1f}x the time"
    )
    print(f"  {stats.line()}")
    print(
        f"  every record counted once: {'yes' if counted == len(alerts) else f'NO ({counted:,} counted)'}; "
        f"RSS {rss_before:,.0f} MiB before the roster and {rss_after:,.0f} MiB after the alerts"
    )


if __name__ == "__main__":
    main()
