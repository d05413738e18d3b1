"""The stream processor's pure core on one core, no Kafka: what each record costs before Faust.

    python bench/core_bench.py [--households 30000] [--events 30000]

A simulated city's roster becomes table values (``encode_state``); a month of department events
(shuffled) then goes through what the worker does per record: decode and validate the record, read
the household's state from its table value, apply the event, evaluate the rules in force through
durable_rules, build the alerts, encode the new state and each alert. Prints events/s, µs per event
and the mean table value size.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

from connectors.ingest import Ingester, build_event
from connectors.mapping import load_mapping
from connectors.readers import open_source
from connectors.sinks import LocalSink, read_local
from dixian.config import Settings
from dixian.contract import Dept
from dixian.contract.wire import Accepted, decode_event, decode_household
from dixian.simulate import simulate
from dixian.topics import Topics
from rules.live import LiveCatalogue
from streams.core import apply_roster, decode_state, encode_state, process_event


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--households", type=int, default=30_000)
    ap.add_argument("--events", type=int, default=30_000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dixian-core-bench-"))
    manifest = simulate(
        tmp, households=args.households, month="2022-06", seed=3, malformed=0.0, rows=args.events // len(Dept)
    )
    settings = Settings(data_dir=tmp / "data")

    async def roster() -> None:
        sink = LocalSink(tmp / "local")
        await sink.start()
        await Ingester(settings, sink).ingest_roster(tmp / str(manifest["roster"]), month="2022-06")
        await sink.stop()

    asyncio.run(roster())
    table: dict[bytes, bytes] = {}
    for _, raw in read_local(tmp / "local" / f"{Topics(settings).households}.jsonl"):
        household = decode_household(raw)
        assert isinstance(household, Accepted)
        table[household.value.household_id.encode()] = encode_state(apply_roster(None, household.value))
    records: list[tuple[Dept, bytes]] = []
    for feed in manifest["feeds"]:  # type: ignore[attr-defined]
        dept = Dept(feed["dept"])
        mapping = load_mapping(dept.value)
        for row in open_source(tmp / feed["file"]).rows():
            assert row.values is not None
            records.append((dept, build_event(mapping, dept, row.values).body))
    random.Random(1).shuffle(records)
    size = sum(map(len, table.values())) / len(table)
    live = LiveCatalogue()
    alerts = 0
    t0 = time.perf_counter()
    for dept, raw in records:
        decoded = decode_event(raw, dept)
        assert isinstance(decoded, Accepted)
        event = decoded.value
        key = event.household_id.encode()
        stored = table.get(key)
        outcome = process_event(decode_state(event.household_id, stored) if stored else None, event, live)
        for alert in outcome.alerts:
            alert.model_dump_json()
        alerts += len(outcome.alerts)
        table[key] = encode_state(outcome.state)
    elapsed = time.perf_counter() - t0
    live.close()
    print(
        f"{len(records):,} events over {args.households:,} households: "
        f"{len(records) / elapsed:,.0f} events/s, "
        f"{elapsed / len(records) * 1e6:.0f} µs per event ({alerts:,} alert records); "
        f"mean roster-only table value {size:.0f} bytes"
    )


if __name__ == "__main__":
    main()
