"""Rules-only throughput and memory: the full shipped catalogue in durable_rules, one core.

    python bench/rules_bench.py [--evaluations 1000000] [--reloads 50]

Facts come from a simulated Guilin month (every department), each evaluated with its household
context; `evaluate` includes building the fact and resolving parameters by region and date.
Memory is the process RSS before, after the evaluations, and after the hot reloads.
"""

from __future__ import annotations

import argparse
import copy
import gc
import tempfile
import time
from pathlib import Path

import orjson
from machine import rss_mib

from connectors.ingest import build_event
from connectors.mapping import load_mapping
from connectors.readers import open_source
from dixian.contract import Dept, parse_event
from dixian.simulate import simulate
from rules.catalogue import load_catalogue
from rules.live import LiveCatalogue
from streams.core import HouseholdState, apply_event, context_for


def sample_inputs(n_households: int) -> list[tuple[object, object, object]]:
    tmp = Path(tempfile.mkdtemp(prefix="dixian-rules-bench-"))
    manifest = simulate(tmp, households=n_households, month="2022-06", seed=5, malformed=0.0)
    inputs = []
    states: dict[str, HouseholdState] = {}
    for feed in manifest["feeds"]:
        dept = Dept(feed["dept"])
        mapping = load_mapping(dept.value)
        for row in open_source(tmp / feed["file"]).rows():
            assert row.values is not None
            accepted = build_event(mapping, dept, row.values)
            event = parse_event(orjson.loads(accepted.body), dept=dept)
            state, _ = apply_event(states.get(event.household_id), event)
            states[event.household_id] = state
            household, member = context_for(state, event)
            inputs.append((event, household, member))
    return inputs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--evaluations", type=int, default=1_000_000)
    ap.add_argument("--reloads", type=int, default=50)
    args = ap.parse_args()
    inputs = sample_inputs(20_000)
    live = LiveCatalogue()
    print(
        f"catalogue {live.version}: {len(live.catalogue.active)} active rules; {len(inputs)} distinct inputs"
    )
    gc.collect()
    rss0 = rss_mib()
    hits = 0
    t0 = time.perf_counter()
    for i in range(args.evaluations):
        event, household, member = inputs[i % len(inputs)]
        hits += len(live.evaluate(event, household, member))  # type: ignore[arg-type]
    elapsed = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_mib()
    print(
        f"{args.evaluations:,} evaluations in {elapsed:.1f}s: {args.evaluations / elapsed:,.0f} facts/s "
        f"({hits:,} rule hits); RSS {rss0:.0f} → {rss1:.0f} MiB ({rss1 - rss0:+.1f})"
    )
    # hot reloads: alternate two real catalogue versions (a rule paused / active), each fully validated
    base = load_catalogue().as_data()
    variants = []
    for paused in (True, False):
        data = copy.deepcopy(base)
        del data["version"]
        data["rules"][0]["state"] = "paused" if paused else "active"
        variants.append(orjson.dumps(data))
    t0 = time.perf_counter()
    for i in range(args.reloads):
        offer = live.offer(variants[i % 2])
        assert offer.accepted, offer.reason
        for j in range(2000):  # keep evaluating between reloads, as a worker does
            event, household, member = inputs[j]
            live.evaluate(event, household, member)  # type: ignore[arg-type]
    reload_s = (time.perf_counter() - t0) / args.reloads
    gc.collect()
    rss2 = rss_mib()
    print(
        f"{args.reloads} hot reloads (each: validate + run all examples + swap, then 2,000 evaluations): "
        f"{reload_s * 1000:.0f} ms each; RSS {rss1:.0f} → {rss2:.0f} MiB ({rss2 - rss1:+.1f}); "
        f"total growth since start of evaluations {rss2 - rss0:+.1f} MiB"
    )


if __name__ == "__main__":
    main()
