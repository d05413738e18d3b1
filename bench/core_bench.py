"""The stream processor's pure core on one core, no Kafka: what each event costs before Faust.

    python bench/core_bench.py [--households 30000] [--events 30000] [--profile] [--floor]
                               [--order shuffled|dates] [--compare]

A simulated city's roster becomes table values through the driver; a month of department events
(shuffled, then packed per partition into batch records of up to 500 events, as the bulk producers
send them) then goes through what the worker does per batch: ``Driver.process`` (decode and validate
the batch, read each household's state from its table value, apply the event, evaluate the rules in
force through durable_rules, build the alerts), then encoding each new state and each alert as the
worker hands them to the producer; the garbage collector is set as the worker sets it. Prints
events/s, µs per event, and the table values before and after the month.

``--floor`` also times, on the same month, only the calls into the libraries the project must use,
each over everything that month asks of it: pydantic validating every batch record from its JSON,
durable_rules evaluating every fact the rules were given (assert, actions, retract), orjson reading
and writing the JSON head of every household state read and written and writing every alert
document, and aiokafka's record-batch
builder appending every output record (new states and alerts). Their sum is what one event costs
on one core before any line of the project's own code runs.

``--compare`` also runs the embedded runner over the same month and compares the alerts: this bench
feeds each department's records in another order than the files (``--order``), which shows what
the order of one department's records of a household changes (README, Stream processing: Alerts).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import random
import shutil
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from machine import speed_line

from connectors.ingest import Ingester
from connectors.sinks import LocalSink, batch_records, read_local
from dixian.cli.worker import calm_garbage_collector
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.deadlines import Deadlines
from dixian.contract.wire import decode_events
from dixian.simulate import simulate
from dixian.topics import Topics
from rules.live import LiveCatalogue
from streams.core import decode_state, encode_state
from streams.driver import Driver, InputRecord, alert_record
from streams.embedded import run_embedded
from streams.kafka_run import collect_alerts

PARTITIONS = 4


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=30_000)
    ap.add_argument("--events", type=int, default=30_000)
    ap.add_argument("--profile", action="store_true", help="print the 25 costliest functions")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes over the month (median quoted)")
    ap.add_argument("--floor", action="store_true", help="also time the required libraries' calls alone")
    ap.add_argument(
        "--order",
        choices=["shuffled", "dates"],
        default="shuffled",
        help="shuffled (default): each department's events, then all batch records, in a random order; "
        "dates: each department's events in the order of their dates, the batch records of a partition "
        "in that order",
    )
    ap.add_argument(
        "--compare",
        action="store_true",
        help="also compare the month's alerts with the embedded runner's (each department's records in "
        "the order of its file)",
    )
    args = ap.parse_args()
    print(speed_line())
    tmp = Path(tempfile.mkdtemp(prefix="dixian-core-bench-"))
    manifest = simulate(
        tmp, households=args.households, month="2022-06", seed=3, malformed=0.0, rows=args.events // len(Dept)
    )
    settings = Settings(data_dir=tmp / "data")
    topics = Topics(settings)

    async def ingest() -> None:
        sink = LocalSink(settings.local_dir)
        await sink.start()
        ingester = Ingester(settings, sink)
        await ingester.ingest_roster(tmp / str(manifest["roster"]), month="2022-06")
        for feed in manifest["feeds"]:  # type: ignore[attr-defined]
            await ingester.ingest_file(feed["dept"], tmp / feed["file"], month="2022-06")
        ingester.close()
        await sink.stop()

    asyncio.run(ingest())
    live = LiveCatalogue()
    driver = Driver(topics, live, Deadlines(), partitions=PARTITIONS)
    table: dict[bytes, bytes] = {}

    def load(key: bytes) -> object:
        raw = table.get(key)
        return decode_state(key.decode(), raw) if raw else None

    roster = [
        InputRecord(topics.households, k, v, None)
        for k, v in read_local(settings.local_dir / "households.jsonl")
    ]
    for key, state in driver.process(roster, load).states.items():  # type: ignore[arg-type]
        table[key] = encode_state(state)
    size = sum(map(len, table.values())) / len(table)
    events = [(d, k, v) for d in Dept for k, v in read_local(settings.local_dir / f"{topics.dept(d)}.jsonl")]
    if args.order == "dates":  # each department's records in the order of their dates
        events.sort(key=_date_order)
    else:
        random.Random(1).shuffle(events)
    records: list[InputRecord] = []
    for d in Dept:
        packed = batch_records([(k, v) for dept, k, v in events if dept == d], PARTITIONS)
        records += [InputRecord(topics.dept(d), k, v, p) for p, recs in packed.items() for k, v in recs]
    if args.order == "shuffled":  # the departments' batch records interleaved, and out of order
        random.Random(2).shuffle(records)
    n_events = len(events)
    standing = dict(table)  # the roster's states: every pass starts from them
    alerts = 0

    def run(keep: list[bytes] | None = None) -> None:
        nonlocal alerts
        alerts = 0
        for i in range(0, len(records), 20):  # ~20 batch records per take_events batch
            effects = driver.process(records[i : i + 20], load)  # type: ignore[arg-type]
            for key, state in effects.states.items():
                table[key] = encode_state(state)
            for alert in effects.published:
                _, value = alert_record(alert)
                if keep is not None:
                    keep.append(value)
            alerts += len(effects.published)

    calm_garbage_collector()  # as the worker does before it starts
    passes: list[float] = []
    for _ in range(1 if args.profile else args.repeat):
        table.clear()
        table.update(standing)
        t0 = time.perf_counter()
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(run)
        else:
            run()
        passes.append(time.perf_counter() - t0)
    elapsed = statistics.median(passes)
    published: list[bytes] = []
    if args.compare:  # one more pass, untimed, keeping what it publishes
        table.clear()
        table.update(standing)
        run(published)
    live.close()
    print(
        f"{n_events:,} events in {len(records):,} batch records over {args.households:,} households: "
        f"{n_events / elapsed:,.0f} events/s, {elapsed / n_events * 1e6:.1f} µs per event "
        f"(median of {len(passes)} passes; fastest {min(passes) / n_events * 1e6:.1f} µs); "
        f"{alerts:,} alert records; mean roster-only table value {size:.0f} bytes"
    )
    after = sum(map(len, table.values()))
    kept = sum(v.count(b"\n") for v in table.values())  # one line per kept alert (streams.core)
    print(
        f"after the month: {after / 1e6:,.1f} MB of table values, {after / len(table):,.0f} bytes per "
        f"household, {kept:,} kept alerts"
    )
    if args.profile:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    if args.floor:
        floor(topics, records, standing, n_events, elapsed / n_events)
    if args.compare:
        table.clear()
        compare(settings, topics, published)
    shutil.rmtree(tmp, ignore_errors=True)


def _date_order(record: tuple[Dept, bytes, bytes]) -> tuple[str, str]:
    event = orjson.loads(record[2])
    return event["occurred_at"], event["event_id"]


def compare(settings: Settings, topics: Topics, published: list[bytes]) -> None:
    """The month's alerts in this bench's order (``--order``) against the embedded runner's, which
    reads each department's records in the order of its file: the simulated rows are dated at random
    within the month (2% of them 60-120 days earlier), so the files are not in date order. Alerts are
    compared by id, revision and hits."""
    ours = collect_alerts(published).summary()
    embedded = run_embedded(settings.local_dir, topics)
    theirs = collect_alerts(a.model_dump_json().encode() for a in embedded.alerts.values()).summary()
    only_ours = [i for i in ours if i not in theirs]
    only_theirs = [i for i in theirs if i not in ours]
    different = [i for i in ours if i in theirs and ours[i] != theirs[i]]
    rules = Counter(ours[i][1] for i in only_ours + different) + Counter(theirs[i][1] for i in only_theirs)
    print(
        f"against the embedded runner's order: {len(ours):,} alerts here, {len(theirs):,} there; "
        f"{len(only_ours):,} only here, {len(only_theirs):,} only there, {len(different):,} with another "
        f"revision or hit count; by rule: {dict(rules.most_common()) or 'none'}"
    )


def _timed(work: Callable[[], object], repeat: int = 3) -> float:
    """The median seconds of ``work()`` over ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def floor(
    topics: Topics, records: list[InputRecord], standing: dict[bytes, bytes], n: int, core: float
) -> None:
    """The month's calls into pydantic, durable_rules, orjson and aiokafka, each timed alone."""
    live = LiveCatalogue()
    engine = live.engine
    facts: list[dict[str, Any]] = []
    fire = engine.fire

    def capture(fact: dict[str, Any]) -> list[str]:
        facts.append(dict(fact))
        return fire(fact)

    engine.fire = capture  # type: ignore[method-assign]
    driver = Driver(topics, live, Deadlines(), partitions=PARTITIONS)
    table = dict(standing)
    read: list[bytes] = []
    written: list[bytes] = []
    outputs: list[bytes] = []
    docs: list[Any] = []

    def load(key: bytes) -> object:
        raw = table.get(key)
        if raw:
            read.append(raw)
        return decode_state(key.decode(), raw) if raw else None

    for i in range(0, len(records), 20):  # one pass to collect what the libraries are asked
        effects = driver.process(records[i : i + 20], load)  # type: ignore[arg-type]
        for key, state in effects.states.items():
            table[key] = value = encode_state(state)
            written.append(value)
            outputs.append(value)
        outputs.extend(alert_record(a)[1] for a in effects.published)
        docs.extend(a.doc() for a in effects.published)
    engine.fire = fire  # type: ignore[method-assign]
    depts = [(r.value, driver.channels[r.topic]) for r in records]

    def validate() -> None:
        for value, dept in depts:
            decode_events(value, dept)  # type: ignore[arg-type]

    def evaluate() -> None:
        for fact in facts:
            fire(dict(fact))

    heads_read = [raw.split(b"\n", 1)[0] for raw in read]
    heads_written = [orjson.loads(raw.split(b"\n", 1)[0]) for raw in written]

    def codec() -> None:
        for head in heads_read:
            orjson.loads(head)
        for row in heads_written:
            orjson.dumps(row)
        for doc in docs:
            orjson.dumps(doc)

    def append() -> None:
        batch = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 256 * 1024)
        for value in outputs:
            if batch.append(0, timestamp=None, key=b"450321101201001", value=value, headers=[]) is None:
                batch.build()
                batch = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 256 * 1024)
                batch.append(0, timestamp=None, key=b"450321101201001", value=value, headers=[])
        batch.build()

    parts = {
        "pydantic (decode_events: every batch record validated from its JSON)": _timed(validate),
        f"durable_rules ({len(facts):,} facts: assert, actions, retract)": _timed(evaluate),
        f"orjson ({len(read):,} state heads read, {len(written):,} written, {len(docs):,} alerts written)": (
            _timed(codec)
        ),
        f"aiokafka (append {len(outputs):,} output records to batches)": _timed(append),
    }
    live.close()
    total = sum(parts.values()) / n
    print("the required libraries alone, per event of the month (median of 3):")
    for name, seconds in parts.items():
        print(f"  {seconds / n * 1e6:6.1f} µs  {name}")
    print(
        f"  {total * 1e6:6.1f} µs  in all: {1 / total:,.0f} events/s at most on one core for these calls "
        f"alone; the core above, {core * 1e6:.1f} µs, is {core / total:.1f}x that"
    )


if __name__ == "__main__":
    main()
